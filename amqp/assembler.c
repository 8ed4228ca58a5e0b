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

static enum amqp_asm_event assembler_fail(struct amqp_assembler *a, struct amqp_asm_out *out,
					  uint16_t code, uint16_t cls, uint16_t mth,
					  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The connection is about to close; the assembler goes back to its initial state anyway. */
static enum amqp_asm_event assembler_fail(struct amqp_assembler *a, struct amqp_asm_out *out,
					  uint16_t code, uint16_t cls, uint16_t mth,
					  const char *fmt, ...)
{
	va_list ap;

	out->error_code = code;
	out->error_class = cls;
	out->error_method = mth;
	va_start(ap, fmt);
	vsnprintf(out->error_text, sizeof out->error_text, fmt, ap);
	va_end(ap);
	amqp_assembler_init(a);
	return AMQP_ASM_ERROR;
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
		return assembler_fail(a, out, AMQP_NOT_IMPLEMENTED, AMQP_METHOD_CLASS(id),
				      AMQP_METHOD_INDEX(id),
				      "NOT_IMPLEMENTED - unknown class/method %u/%u",
				      AMQP_METHOD_CLASS(id), AMQP_METHOD_INDEX(id));
	case AMQP_DECODE_MALFORMED:
	default:
		if (f->size < 4)
			return assembler_fail(a, out, AMQP_SYNTAX_ERROR, 0, 0,
					      "SYNTAX_ERROR - method frame of %" PRIu32
					      " bytes has no class and method id", f->size);
		id = out->method.id;
		return assembler_fail(a, out, AMQP_SYNTAX_ERROR, AMQP_METHOD_CLASS(id),
				      AMQP_METHOD_INDEX(id),
				      "SYNTAX_ERROR - malformed arguments for method %s",
				      amqp_method_name(id));
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
		return assembler_fail(a, out, AMQP_SYNTAX_ERROR, a->class_id, a->method_id,
				      "SYNTAX_ERROR - content header frame of %" PRIu32
				      " bytes is shorter than the 14-byte minimum", f->size);
	if (h->class_id != a->class_id)
		return assembler_fail(a, out, AMQP_UNEXPECTED_FRAME, a->class_id, a->method_id,
				      "UNEXPECTED_FRAME - expected content header for class %u, "
				      "got one for class %u instead", a->class_id, h->class_id);
	if (amqp_props_decode(&props, h->props, h->props_len) != 0)
		return assembler_fail(a, out, AMQP_SYNTAX_ERROR, a->class_id, a->method_id,
				      "SYNTAX_ERROR - malformed properties in content header "
				      "(%zu property bytes, flags 0x%04x)", h->props_len,
				      h->props_len >= 2 ? (unsigned)amqp_get_u16(h->props) : 0u);
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
		return assembler_fail(a, out, AMQP_FRAME_ERROR, a->class_id, a->method_id,
				      "FRAME_ERROR - content body frame of %" PRIu32
				      " bytes exceeds the %" PRIu64 " bytes left of the declared "
				      "body size %" PRIu64, f->size, remaining, a->body_size);
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
	out->error_code = 0;
	out->error_class = out->error_method = 0;
	out->error_text[0] = '\0';

	switch (a->state) {
	case AMQP_ASM_EXPECT_METHOD:
		if (f->type == AMQP_FRAME_METHOD)
			return assembler_on_method(a, f, out);
		return assembler_fail(a, out, AMQP_UNEXPECTED_FRAME, 0, 0,
				      "UNEXPECTED_FRAME - expected method frame, "
				      "got non method frame instead");
	case AMQP_ASM_EXPECT_HEADER:
		if (f->type == AMQP_FRAME_HEADER)
			return assembler_on_header(a, f, out);
		return assembler_fail(a, out, AMQP_UNEXPECTED_FRAME, a->class_id, a->method_id,
				      "UNEXPECTED_FRAME - expected content header for class %u, "
				      "got non content header frame instead", a->class_id);
	case AMQP_ASM_EXPECT_BODY:
		if (f->type == AMQP_FRAME_BODY)
			return assembler_on_body(a, f, out);
		return assembler_fail(a, out, AMQP_UNEXPECTED_FRAME, a->class_id, a->method_id,
				      "UNEXPECTED_FRAME - expected content body, "
				      "got non content body frame instead");
	}
	return assembler_fail(a, out, AMQP_INTERNAL_ERROR, 0, 0,
			      "INTERNAL_ERROR - assembler in unknown state %d", (int)a->state);
}
