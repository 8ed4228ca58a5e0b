/* amqp/assembler.c: per-channel content assembly (method -> content header -> body frames).
 * channel.c feeds every non-heartbeat frame of a channel here and acts on the event. Errors are
 * connection errors with RabbitMQ's texts (505 for frame order, 502 for bad arguments or
 * properties, 501 for excess body, 540 for unknown methods); see docs/codec.md. */
#include "assembler.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "reply_codes.h"

void amqp_assembler_init(struct amqp_assembler *a)
{
	memset(a, 0, sizeof *a);
	a->state = AMQP_ASM_EXPECT_METHOD;
}

/* The connection is about to close; the assembler goes back to its initial state anyway. */
static enum amqp_asm_event assembler_fail(struct amqp_assembler *a, struct amqp_asm_out *out,
					  enum amqp_asm_error error, uint16_t code, uint32_t method,
					  uint64_t arg0, uint64_t arg1, uint64_t arg2)
{
	out->error = error;
	out->error_code = code;
	out->error_method = method;
	out->error_arg[0] = arg0;
	out->error_arg[1] = arg1;
	out->error_arg[2] = arg2;
	amqp_assembler_init(a);
	return AMQP_ASM_ERROR;
}

/* The content method being assembled, for error reports. */
static uint32_t assembler_content_method(const struct amqp_assembler *a)
{
	return AMQP_METHOD_ID(a->class_id, a->method_id);
}

const char *amqp_asm_error_format(const struct amqp_asm_out *out, char *buf, size_t cap)
{
	const uint64_t *x = out->error_arg;
	switch (out->error) {
	case AMQP_ASM_ERR_UNKNOWN_METHOD:
		snprintf(buf, cap, "unknown class/method %" PRIu64 "/%" PRIu64, x[0], x[1]);
		break;
	case AMQP_ASM_ERR_SHORT_METHOD:
		snprintf(buf, cap, "method frame of %" PRIu64 " bytes has no class and method id",
			 x[0]);
		break;
	case AMQP_ASM_ERR_MALFORMED_METHOD:
		snprintf(buf, cap, "malformed arguments for method %s",
			 amqp_method_name(out->error_method));
		break;
	case AMQP_ASM_ERR_SHORT_HEADER:
		snprintf(buf, cap, "content header frame of %" PRIu64
			 " bytes is shorter than the 14-byte minimum", x[0]);
		break;
	case AMQP_ASM_ERR_HEADER_CLASS:
		snprintf(buf, cap, "expected content header for class %" PRIu64
			 ", got one for class %" PRIu64 " instead", x[0], x[1]);
		break;
	case AMQP_ASM_ERR_BAD_PROPERTIES:
		snprintf(buf, cap, "malformed properties in content header (%" PRIu64
			 " property bytes, flags 0x%04x)", x[0], (unsigned)x[1]);
		break;
	case AMQP_ASM_ERR_BODY_TOO_LONG:
		snprintf(buf, cap, "content body frame of %" PRIu64 " bytes exceeds the %" PRIu64
			 " bytes left of the declared body size %" PRIu64, x[0], x[1], x[2]);
		break;
	case AMQP_ASM_ERR_EXPECTED_METHOD:
		snprintf(buf, cap, "expected method frame, got non method frame instead");
		break;
	case AMQP_ASM_ERR_EXPECTED_HEADER:
		snprintf(buf, cap, "expected content header for class %" PRIu64
			 ", got non content header frame instead", x[0]);
		break;
	case AMQP_ASM_ERR_EXPECTED_BODY:
		snprintf(buf, cap, "expected content body, got non content body frame instead");
		break;
	case AMQP_ASM_ERR_STATE:
		snprintf(buf, cap, "assembler in unknown state %" PRIu64, x[0]);
		break;
	case AMQP_ASM_ERR_NONE:
	default:
		snprintf(buf, cap, "no error");
		break;
	}
	return buf;
}

static enum amqp_asm_event assembler_on_method(struct amqp_assembler *a,
					       const struct amqp_frame *f,
					       struct amqp_asm_out *out)
{
	uint32_t id;

	switch (amqp_method_decode(&out->method, f->payload, f->size)) {
	case AMQP_DECODE_OK:
		break;
	case AMQP_DECODE_UNKNOWN:
		id = out->method.id;
		return assembler_fail(a, out, AMQP_ASM_ERR_UNKNOWN_METHOD, AMQP_NOT_IMPLEMENTED,
				      id, AMQP_METHOD_CLASS(id), AMQP_METHOD_INDEX(id), 0);
	case AMQP_DECODE_MALFORMED:
	default:
		if (f->size < 4)
			return assembler_fail(a, out, AMQP_ASM_ERR_SHORT_METHOD, AMQP_SYNTAX_ERROR,
					      0, f->size, 0, 0);
		id = out->method.id;
		return assembler_fail(a, out, AMQP_ASM_ERR_MALFORMED_METHOD, AMQP_SYNTAX_ERROR, id,
				      0, 0, 0);
	}
	id = out->method.id;
	if (!amqp_method_has_content(id))
		return AMQP_ASM_METHOD;
	a->state = AMQP_ASM_EXPECT_HEADER;
	a->class_id = AMQP_METHOD_CLASS(id);
	a->method_id = AMQP_METHOD_INDEX(id);
	a->body_size = 0;
	a->body_received = 0;
	return AMQP_ASM_CONTENT_METHOD;
}

static enum amqp_asm_event assembler_on_header(struct amqp_assembler *a,
					       const struct amqp_frame *f,
					       struct amqp_asm_out *out)
{
	struct amqp_basic_props props;
	struct amqp_content_header *h = &out->header;

	if (amqp_content_header_decode(h, f->payload, f->size) != 0)
		return assembler_fail(a, out, AMQP_ASM_ERR_SHORT_HEADER, AMQP_SYNTAX_ERROR,
				      assembler_content_method(a), f->size, 0, 0);
	if (h->class_id != a->class_id)
		return assembler_fail(a, out, AMQP_ASM_ERR_HEADER_CLASS, AMQP_UNEXPECTED_FRAME,
				      assembler_content_method(a), a->class_id, h->class_id, 0);
	if (amqp_props_decode(&props, h->props, h->props_len) != 0)
		return assembler_fail(a, out, AMQP_ASM_ERR_BAD_PROPERTIES, AMQP_SYNTAX_ERROR,
				      assembler_content_method(a), h->props_len,
				      h->props_len >= 2 ? amqp_get_u16(h->props) : 0u, 0);
	a->body_size = h->body_size;
	a->body_received = 0;
	out->complete = h->body_size == 0;
	a->state = out->complete ? AMQP_ASM_EXPECT_METHOD : AMQP_ASM_EXPECT_BODY;
	return AMQP_ASM_HEADER;
}

static enum amqp_asm_event assembler_on_body(struct amqp_assembler *a,
					     const struct amqp_frame *f,
					     struct amqp_asm_out *out)
{
	uint64_t remaining = a->body_size - a->body_received;

	if (f->size > remaining)
		return assembler_fail(a, out, AMQP_ASM_ERR_BODY_TOO_LONG, AMQP_FRAME_ERROR,
				      assembler_content_method(a), f->size, remaining, a->body_size);
	a->body_received += f->size;
	out->body = f->payload;
	out->body_len = f->size;
	out->complete = a->body_received == a->body_size;
	if (out->complete)
		a->state = AMQP_ASM_EXPECT_METHOD;
	return AMQP_ASM_BODY;
}

enum amqp_asm_event amqp_assembler_feed(struct amqp_assembler *a, const struct amqp_frame *f,
					struct amqp_asm_out *out)
{
	out->body = NULL;
	out->body_len = 0;
	out->complete = false;
	out->error = AMQP_ASM_ERR_NONE;
	out->error_code = 0;
	out->error_method = 0;

	switch (a->state) {
	case AMQP_ASM_EXPECT_METHOD:
		if (f->type == AMQP_FRAME_METHOD)
			return assembler_on_method(a, f, out);
		return assembler_fail(a, out, AMQP_ASM_ERR_EXPECTED_METHOD, AMQP_UNEXPECTED_FRAME,
				      0, 0, 0, 0);
	case AMQP_ASM_EXPECT_HEADER:
		if (f->type == AMQP_FRAME_HEADER)
			return assembler_on_header(a, f, out);
		return assembler_fail(a, out, AMQP_ASM_ERR_EXPECTED_HEADER, AMQP_UNEXPECTED_FRAME,
				      assembler_content_method(a), a->class_id, 0, 0);
	case AMQP_ASM_EXPECT_BODY:
		if (f->type == AMQP_FRAME_BODY)
			return assembler_on_body(a, f, out);
		return assembler_fail(a, out, AMQP_ASM_ERR_EXPECTED_BODY, AMQP_UNEXPECTED_FRAME,
				      assembler_content_method(a), 0, 0, 0);
	}
	return assembler_fail(a, out, AMQP_ASM_ERR_STATE, AMQP_INTERNAL_ERROR, 0,
			      (uint64_t)a->state, 0, 0);
}
