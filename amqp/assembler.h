/* amqp/assembler.h: per-channel content assembly, method -> content header -> body frames.
 * A small state machine that decodes method frames, checks the frame order the spec demands and
 * reports body chunks; it never buffers or copies bodies (the broker appends each chunk into the
 * message it allocated once the header told it the size). */
#ifndef AMQP_ASSEMBLER_H
#define AMQP_ASSEMBLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "methods_gen.h"
#include "props.h"

enum amqp_asm_state {
	AMQP_ASM_EXPECT_METHOD = 0,
	AMQP_ASM_EXPECT_HEADER,
	AMQP_ASM_EXPECT_BODY,
};

enum amqp_asm_event {
	AMQP_ASM_ERROR = -1,
	AMQP_ASM_METHOD = 1,    /* a complete method without content: out->method */
	AMQP_ASM_CONTENT_METHOD, /* a method that carries content (basic.publish): out->method;
				   header and body frames follow */
	AMQP_ASM_HEADER,        /* out->header; out->complete when body_size is 0 */
	AMQP_ASM_BODY,          /* out->body/out->body_len; out->complete on the last chunk */
};

struct amqp_assembler {
	enum amqp_asm_state state;
	uint16_t class_id;      /* of the content method */
	uint16_t method_id;     /* of the content method, for error reports */
	uint64_t body_size;     /* declared by the header */
	uint64_t body_received;
};

struct amqp_asm_out {
	struct amqp_method method;
	struct amqp_content_header header;
	const uint8_t *body;
	size_t body_len;
	bool complete;
	/* On AMQP_ASM_ERROR: what went wrong, the connection-level reply code it calls for (501,
	 * 502, 505, 540), the method to report (0 when none) and the numbers the reply's text names;
	 * amqp_asm_error_format words it as RabbitMQ does. */
	enum amqp_asm_error {
		AMQP_ASM_ERR_NONE,
		AMQP_ASM_ERR_UNKNOWN_METHOD,   /* arg: class, method */
		AMQP_ASM_ERR_SHORT_METHOD,     /* arg: frame size */
		AMQP_ASM_ERR_MALFORMED_METHOD, /* error_method names it */
		AMQP_ASM_ERR_SHORT_HEADER,     /* arg: frame size */
		AMQP_ASM_ERR_HEADER_CLASS,     /* arg: expected class, got class */
		AMQP_ASM_ERR_BAD_PROPERTIES,   /* arg: property bytes, flags */
		AMQP_ASM_ERR_BODY_TOO_LONG,    /* arg: frame size, bytes left, declared size */
		AMQP_ASM_ERR_EXPECTED_METHOD,
		AMQP_ASM_ERR_EXPECTED_HEADER,  /* arg: class */
		AMQP_ASM_ERR_EXPECTED_BODY,
		AMQP_ASM_ERR_STATE,            /* arg: the unknown state */
	} error;
	uint16_t error_code;
	uint32_t error_method;
	uint64_t error_arg[3];
};

void amqp_assembler_init(struct amqp_assembler *a);
/* Feeds one method, header or body frame (heartbeats are the caller's business). The method
 * and header borrow the frame's payload. */
enum amqp_asm_event amqp_assembler_feed(struct amqp_assembler *a, const struct amqp_frame *f,
					struct amqp_asm_out *out);
/* The reply text for out's error as RabbitMQ words it, without the reply code's name (the
 * connection.close adds "UNEXPECTED_FRAME - " and the like). Returns buf. */
const char *amqp_asm_error_format(const struct amqp_asm_out *out, char *buf, size_t cap);

#endif
