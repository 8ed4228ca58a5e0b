/* Hand-built AMQP 0-9-1 frames: every field is written out here from the spec's grammar
 * (section 4.2 framing, 4.2.5 field types, and the method argument lists), never with amqp/.
 * Allocation failure aborts: these are tests, and a half-built frame would only mislead.
 */
#include "frames.h"

#include <stdlib.h>
#include <string.h>

static void frame_reserve(struct frame *f, size_t extra)
{
	size_t need = f->len + extra;

	if (need <= f->cap)
		return;
	size_t cap = f->cap ? f->cap : 64;
	while (cap < need)
		cap *= 2;
	uint8_t *p = realloc(f->bytes, cap);
	if (!p)
		abort();
	f->bytes = p;
	f->cap = cap;
}

struct frame *frame_new(void)
{
	struct frame *f = calloc(1, sizeof *f);

	if (!f)
		abort();
	return f;
}

void frame_free(struct frame *f)
{
	if (!f)
		return;
	free(f->bytes);
	free(f);
}

struct frame *frame_join(struct frame *dst, struct frame *src)
{
	frame_put_bytes(dst, src->bytes, src->len);
	frame_free(src);
	return dst;
}

void frame_put_bytes(struct frame *f, const void *p, size_t len)
{
	if (len == 0)
		return;
	frame_reserve(f, len);
	memcpy(f->bytes + f->len, p, len);
	f->len += len;
}

void frame_put_u8(struct frame *f, uint8_t v)
{
	frame_put_bytes(f, &v, 1);
}

void frame_put_u16(struct frame *f, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	frame_put_bytes(f, b, sizeof b);
}

void frame_put_u32(struct frame *f, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	frame_put_bytes(f, b, sizeof b);
}

void frame_put_u64(struct frame *f, uint64_t v)
{
	frame_put_u32(f, (uint32_t)(v >> 32));
	frame_put_u32(f, (uint32_t)v);
}

void frame_put_shortstr(struct frame *f, const char *s)
{
	size_t len = strlen(s);

	if (len > 255)
		abort();
	frame_put_u8(f, (uint8_t)len);
	frame_put_bytes(f, s, len);
}

void frame_put_longstr(struct frame *f, const void *p, size_t len)
{
	frame_put_u32(f, (uint32_t)len);
	frame_put_bytes(f, p, len);
}

struct frame *frame_wrap(uint8_t type, uint16_t channel, struct frame *payload, uint8_t end)
{
	struct frame *f = frame_new();

	frame_put_u8(f, type);
	frame_put_u16(f, channel);
	frame_put_u32(f, (uint32_t)payload->len);
	frame_put_bytes(f, payload->bytes, payload->len);
	frame_put_u8(f, end);
	frame_free(payload);
	return f;
}

struct frame *frame_method_payload(uint16_t class_id, uint16_t method_id)
{
	struct frame *p = frame_new();

	frame_put_u16(p, class_id);
	frame_put_u16(p, method_id);
	return p;
}

struct frame *frame_method(uint16_t channel, struct frame *payload)
{
	return frame_wrap(FRAME_METHOD, channel, payload, FRAME_END);
}

struct frame *frame_protocol_header(void)
{
	struct frame *f = frame_new();

	frame_put_bytes(f, "AMQP\x00\x00\x09\x01", 8);
	return f;
}

struct frame *frame_heartbeat(uint16_t channel)
{
	return frame_wrap(FRAME_HEARTBEAT, channel, frame_new(), FRAME_END);
}

static void frame_put_table_bool(struct frame *t, const char *key, bool v)
{
	frame_put_shortstr(t, key);
	frame_put_u8(t, 't');
	frame_put_u8(t, v ? 1 : 0);
}

static void frame_put_table_longstr(struct frame *t, const char *key, const char *v)
{
	frame_put_shortstr(t, key);
	frame_put_u8(t, 'S');
	frame_put_longstr(t, v, strlen(v));
}

struct frame *frame_connection_start_ok(const char *user, const char *password)
{
	struct frame *p = frame_method_payload(10, 11);
	struct frame *caps = frame_new();
	struct frame *props = frame_new();
	struct frame *response = frame_new();

	frame_put_table_bool(caps, "consumer_cancel_notify", true);
	frame_put_table_bool(caps, "authentication_failure_close", true);
	frame_put_table_bool(caps, "basic.nack", true);
	frame_put_table_bool(caps, "publisher_confirms", true);
	frame_put_table_bool(caps, "connection.blocked", true);

	frame_put_table_longstr(props, "product", "warren-protocol-tests");
	frame_put_shortstr(props, "capabilities");
	frame_put_u8(props, 'F');
	frame_put_longstr(props, caps->bytes, caps->len);

	frame_put_longstr(p, props->bytes, props->len);
	frame_put_shortstr(p, "PLAIN");
	/* SASL PLAIN: authzid NUL authcid NUL password. */
	frame_put_u8(response, 0);
	frame_put_bytes(response, user, strlen(user));
	frame_put_u8(response, 0);
	frame_put_bytes(response, password, strlen(password));
	frame_put_longstr(p, response->bytes, response->len);
	frame_put_shortstr(p, "en_US");

	frame_free(caps);
	frame_free(props);
	frame_free(response);
	return frame_method(0, p);
}

struct frame *frame_connection_tune_ok(uint16_t channel_max, uint32_t frame_max, uint16_t heartbeat)
{
	struct frame *p = frame_method_payload(10, 31);

	frame_put_u16(p, channel_max);
	frame_put_u32(p, frame_max);
	frame_put_u16(p, heartbeat);
	return frame_method(0, p);
}

struct frame *frame_connection_open(const char *vhost)
{
	struct frame *p = frame_method_payload(10, 40);

	frame_put_shortstr(p, vhost);
	frame_put_shortstr(p, ""); /* reserved-1 (capabilities) */
	frame_put_u8(p, 0);        /* reserved-2 (insist) */
	return frame_method(0, p);
}

static struct frame *frame_close_payload(uint16_t class_id, uint16_t code, const char *text)
{
	struct frame *p = frame_method_payload(class_id, 40 + (class_id == 10 ? 10 : 0));

	frame_put_u16(p, code);
	frame_put_shortstr(p, text);
	frame_put_u16(p, 0);
	frame_put_u16(p, 0);
	return p;
}

struct frame *frame_connection_close(uint16_t code, const char *text)
{
	return frame_method(0, frame_close_payload(10, code, text));
}

struct frame *frame_connection_close_ok(void)
{
	return frame_method(0, frame_method_payload(10, 51));
}

struct frame *frame_channel_open(uint16_t channel)
{
	struct frame *p = frame_method_payload(20, 10);

	frame_put_shortstr(p, ""); /* reserved-1 (out-of-band) */
	return frame_method(channel, p);
}

struct frame *frame_channel_flow(uint16_t channel, bool active)
{
	struct frame *p = frame_method_payload(20, 20);

	frame_put_u8(p, active ? 1 : 0);
	return frame_method(channel, p);
}

struct frame *frame_channel_close(uint16_t channel, uint16_t code, const char *text)
{
	return frame_method(channel, frame_close_payload(20, code, text));
}

struct frame *frame_channel_close_ok(uint16_t channel)
{
	return frame_method(channel, frame_method_payload(20, 41));
}

struct frame *frame_queue_declare(uint16_t channel, const char *queue, uint8_t flags,
				  struct frame *args)
{
	struct frame *p = frame_method_payload(50, 10);

	frame_put_u16(p, 0); /* reserved-1 (ticket) */
	frame_put_shortstr(p, queue);
	frame_put_u8(p, flags);
	if (args)
		frame_join(p, args);
	else
		frame_put_u32(p, 0);
	return frame_method(channel, p);
}

struct frame *frame_queue_bind(uint16_t channel, const char *queue, const char *exchange,
			       const char *routing_key)
{
	struct frame *p = frame_method_payload(50, 20);

	frame_put_u16(p, 0); /* reserved-1 (ticket) */
	frame_put_shortstr(p, queue);
	frame_put_shortstr(p, exchange);
	frame_put_shortstr(p, routing_key);
	frame_put_u8(p, 0);  /* no-wait */
	frame_put_u32(p, 0); /* arguments */
	return frame_method(channel, p);
}

struct frame *frame_queue_unbind(uint16_t channel, const char *queue, const char *exchange,
				 const char *routing_key)
{
	struct frame *p = frame_method_payload(50, 50);

	frame_put_u16(p, 0); /* reserved-1 (ticket) */
	frame_put_shortstr(p, queue);
	frame_put_shortstr(p, exchange);
	frame_put_shortstr(p, routing_key);
	frame_put_u32(p, 0); /* arguments (queue.unbind has no no-wait bit) */
	return frame_method(channel, p);
}

struct frame *frame_queue_delete(uint16_t channel, const char *queue)
{
	struct frame *p = frame_method_payload(50, 40);

	frame_put_u16(p, 0); /* reserved-1 (ticket) */
	frame_put_shortstr(p, queue);
	frame_put_u8(p, 0); /* if-unused, if-empty, no-wait */
	return frame_method(channel, p);
}

struct frame *frame_exchange_declare(uint16_t channel, const char *exchange, const char *type,
				     uint8_t flags)
{
	struct frame *p = frame_method_payload(40, 10);

	frame_put_u16(p, 0); /* reserved-1 (ticket) */
	frame_put_shortstr(p, exchange);
	frame_put_shortstr(p, type);
	frame_put_u8(p, flags);
	frame_put_u32(p, 0); /* arguments */
	return frame_method(channel, p);
}

struct frame *frame_exchange_delete(uint16_t channel, const char *exchange)
{
	struct frame *p = frame_method_payload(40, 20);

	frame_put_u16(p, 0); /* reserved-1 (ticket) */
	frame_put_shortstr(p, exchange);
	frame_put_u8(p, 0); /* if-unused, no-wait */
	return frame_method(channel, p);
}

static struct frame *frame_exchange_binding(uint16_t channel, uint16_t method_id,
					    const char *destination, const char *source,
					    const char *routing_key)
{
	struct frame *p = frame_method_payload(40, method_id);

	frame_put_u16(p, 0); /* reserved-1 (ticket) */
	frame_put_shortstr(p, destination);
	frame_put_shortstr(p, source);
	frame_put_shortstr(p, routing_key);
	frame_put_u8(p, 0);  /* no-wait */
	frame_put_u32(p, 0); /* arguments */
	return frame_method(channel, p);
}

struct frame *frame_exchange_bind(uint16_t channel, const char *destination, const char *source,
				  const char *routing_key)
{
	return frame_exchange_binding(channel, 30, destination, source, routing_key);
}

struct frame *frame_exchange_unbind(uint16_t channel, const char *destination, const char *source,
				    const char *routing_key)
{
	return frame_exchange_binding(channel, 40, destination, source, routing_key);
}

struct frame *frame_basic_qos(uint16_t channel, uint32_t prefetch_size, uint16_t prefetch_count)
{
	struct frame *p = frame_method_payload(60, 10);

	frame_put_u32(p, prefetch_size);
	frame_put_u16(p, prefetch_count);
	frame_put_u8(p, 0); /* global */
	return frame_method(channel, p);
}

struct frame *frame_basic_consume(uint16_t channel, const char *queue, const char *tag)
{
	struct frame *p = frame_method_payload(60, 20);

	frame_put_u16(p, 0); /* reserved-1 (ticket) */
	frame_put_shortstr(p, queue);
	frame_put_shortstr(p, tag);
	frame_put_u8(p, 0); /* no-local, no-ack, exclusive, no-wait */
	frame_put_u32(p, 0); /* arguments */
	return frame_method(channel, p);
}

struct frame *frame_basic_publish(uint16_t channel, const char *exchange, const char *routing_key,
				  bool mandatory, bool immediate)
{
	struct frame *p = frame_method_payload(60, 40);

	frame_put_u16(p, 0); /* reserved-1 (ticket) */
	frame_put_shortstr(p, exchange);
	frame_put_shortstr(p, routing_key);
	frame_put_u8(p, (uint8_t)((mandatory ? 1 : 0) | (immediate ? 2 : 0)));
	return frame_method(channel, p);
}

struct frame *frame_content_header(uint16_t channel, uint64_t body_size)
{
	struct frame *p = frame_new();

	frame_put_u16(p, 60); /* class basic */
	frame_put_u16(p, 0);  /* weight */
	frame_put_u64(p, body_size);
	frame_put_u16(p, 0); /* property flags: none */
	return frame_wrap(FRAME_HEADER, channel, p, FRAME_END);
}

struct frame *frame_body(uint16_t channel, const void *p, size_t len)
{
	struct frame *b = frame_new();

	frame_put_bytes(b, p, len);
	return frame_wrap(FRAME_BODY, channel, b, FRAME_END);
}

struct frame *frame_publish_message(uint16_t channel, const char *exchange, const char *routing_key,
				    const char *body)
{
	struct frame *f = frame_basic_publish(channel, exchange, routing_key, false, false);

	frame_join(f, frame_content_header(channel, strlen(body)));
	if (body[0] != '\0')
		frame_join(f, frame_body(channel, body, strlen(body)));
	return f;
}

struct frame *frame_basic_get(uint16_t channel, const char *queue, bool no_ack)
{
	struct frame *p = frame_method_payload(60, 70);

	frame_put_u16(p, 0); /* reserved-1 (ticket) */
	frame_put_shortstr(p, queue);
	frame_put_u8(p, no_ack ? 1 : 0);
	return frame_method(channel, p);
}

void frame_reader_init(struct frame_reader *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->failed = false;
}

const uint8_t *frame_reader_skip(struct frame_reader *r, size_t n)
{
	if (r->failed || n > r->len - r->off) {
		r->failed = true;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

uint8_t frame_reader_u8(struct frame_reader *r)
{
	const uint8_t *p = frame_reader_skip(r, 1);

	return p ? p[0] : 0;
}

uint16_t frame_reader_u16(struct frame_reader *r)
{
	const uint8_t *p = frame_reader_skip(r, 2);

	return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

uint32_t frame_reader_u32(struct frame_reader *r)
{
	const uint8_t *p = frame_reader_skip(r, 4);

	return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

uint64_t frame_reader_u64(struct frame_reader *r)
{
	uint64_t hi = frame_reader_u32(r);

	return hi << 32 | frame_reader_u32(r);
}

void frame_reader_shortstr(struct frame_reader *r, char *out, size_t out_len)
{
	uint8_t len = frame_reader_u8(r);
	const uint8_t *p = frame_reader_skip(r, len);
	size_t n = len < out_len - 1 ? len : out_len - 1;

	if (!p)
		n = 0;
	if (n)
		memcpy(out, p, n);
	out[n] = '\0';
}

const uint8_t *frame_reader_longstr(struct frame_reader *r, uint32_t *len)
{
	*len = frame_reader_u32(r);
	const uint8_t *p = frame_reader_skip(r, *len);
	if (!p)
		*len = 0;
	return p;
}

bool frame_reader_field_skip(struct frame_reader *r, uint8_t type)
{
	uint32_t len;

	switch (type) {
	case 't':
	case 'b':
	case 'B':
		frame_reader_skip(r, 1);
		return true;
	case 's':
	case 'u':
		frame_reader_skip(r, 2);
		return true;
	case 'I':
	case 'i':
	case 'f':
		frame_reader_skip(r, 4);
		return true;
	case 'l':
	case 'L':
	case 'd':
	case 'T':
		frame_reader_skip(r, 8);
		return true;
	case 'D':
		frame_reader_skip(r, 5);
		return true;
	case 'S':
	case 'x':
	case 'F':
	case 'A':
		frame_reader_longstr(r, &len);
		return true;
	case 'V':
		return true;
	default:
		return false;
	}
}
