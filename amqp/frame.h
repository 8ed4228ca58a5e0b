/* amqp/frame.h: the protocol header and the frame envelope (type, channel, size, payload, end octet).
 * Pure: no I/O, no allocation; decoded payloads borrow the caller's bytes. */
#ifndef AMQP_FRAME_H
#define AMQP_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AMQP_PROTOCOL_HEADER "AMQP\x00\x00\x09\x01"
#define AMQP_PROTOCOL_HEADER_SIZE 8
#define AMQP_FRAME_HEADER_SIZE 7
#define AMQP_FRAME_OVERHEAD 8 /* header + end octet */
#define AMQP_FRAME_END 0xCE
#define AMQP_FRAME_MIN_SIZE 4096

enum amqp_frame_type {
	AMQP_FRAME_METHOD = 1,
	AMQP_FRAME_HEADER = 2,
	AMQP_FRAME_BODY = 3,
	AMQP_FRAME_HEARTBEAT = 8,
};

enum amqp_frame_error {
	AMQP_FRAME_ERR_NONE = 0,
	AMQP_FRAME_ERR_TOO_LARGE, /* size > frame_max - 8; detected from the header alone */
	AMQP_FRAME_ERR_BAD_END,   /* end octet is not 0xCE */
	AMQP_FRAME_ERR_BAD_TYPE,  /* type not 1, 2, 3 or 8; detected once the whole frame is in */
};

struct amqp_frame {
	uint8_t type;
	uint16_t channel;
	uint32_t size;
	const uint8_t *payload; /* borrows the input */
};

/* Returns 1 when the 8 bytes are exactly AMQP 0-9-1's header, 0 when fewer than 8 bytes are
 * given and they are a prefix of it, -1 otherwise (the caller writes AMQP_PROTOCOL_HEADER and
 * closes). */
int amqp_protocol_header_check(const uint8_t *p, size_t len);

/* Decodes one frame. Returns bytes used (>0), 0 when more bytes are needed, or -1 with *err set.
 * On -1, f->type, f->channel and f->size hold what the header said (for the error text) and,
 * for BAD_END / BAD_TYPE, f->payload points at the payload. frame_max 0 means "no limit yet"
 * (before tune-ok the spec's minimum, 4096, applies: pass AMQP_FRAME_MIN_SIZE). */
ssize_t amqp_frame_decode(struct amqp_frame *f, const uint8_t *p, size_t len, uint32_t frame_max,
			  enum amqp_frame_error *err);

/* Writes the 7-byte frame header. */
void amqp_frame_header_encode(uint8_t *out, uint8_t type, uint16_t channel, uint32_t size);

/* The 8-byte heartbeat frame. */
extern const uint8_t amqp_heartbeat_frame[AMQP_FRAME_OVERHEAD];

#endif
