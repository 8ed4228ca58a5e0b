/* tests/bench/perf_template.c: one whole message (basic.publish method frame, content header
 * frame, body frames) encoded once with the amqp/ codec, so a publisher only copies it and
 * stamps the send time and sequence number into the first 16 body bytes. */
#include "perf.h"

#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"
#include "amqp/table.h"

int perf_template_build(struct perf_template *t, const struct perf_opts *o, const char *exchange,
			const char *routing_key, uint32_t frame_max)
{
	struct amqp_method m = { .id = AMQP_BASIC_PUBLISH };
	struct amqp_basic_props props = { 0 };
	struct amqp_buf pbuf, hbuf;
	size_t chunk = frame_max - AMQP_FRAME_OVERHEAD;
	size_t frames = o->size == 0 ? 0 : (o->size + chunk - 1) / chunk;
	int rc = -1;

	amqp_buf_init(&pbuf);
	amqp_buf_init(&hbuf);
	if (o->persistent) {
		props.flags = AMQP_PROP_DELIVERY_MODE;
		props.delivery_mode = 2;
	}
	amqp_props_encode(&props, &pbuf);
	amqp_content_header_encode(&hbuf, o->size, pbuf.data, pbuf.len);
	if (pbuf.oom || hbuf.oom)
		goto out;
	m.u.basic_publish.exchange = amqp_str_c(exchange);
	m.u.basic_publish.routing_key = amqp_str_c(routing_key);
	t->len = 1024 + hbuf.len + AMQP_FRAME_OVERHEAD + o->size + frames * AMQP_FRAME_OVERHEAD;
	t->bytes = calloc(1, t->len);
	if (!t->bytes)
		goto out;
	uint8_t *p = t->bytes;
	ssize_t n = amqp_method_encode(&m, p + AMQP_FRAME_HEADER_SIZE, 1024 - AMQP_FRAME_OVERHEAD);
	if (n < 0)
		goto out;
	amqp_frame_header_encode(p, AMQP_FRAME_METHOD, 1, (uint32_t)n);
	p += AMQP_FRAME_HEADER_SIZE + n;
	*p++ = AMQP_FRAME_END;
	amqp_frame_header_encode(p, AMQP_FRAME_HEADER, 1, (uint32_t)hbuf.len);
	memcpy(p + AMQP_FRAME_HEADER_SIZE, hbuf.data, hbuf.len);
	p += AMQP_FRAME_HEADER_SIZE + hbuf.len;
	*p++ = AMQP_FRAME_END;
	t->stamp_at = (size_t)(p - t->bytes) + AMQP_FRAME_HEADER_SIZE;
	for (size_t left = o->size; left > 0;) {
		size_t k = left < chunk ? left : chunk;
		amqp_frame_header_encode(p, AMQP_FRAME_BODY, 1, (uint32_t)k);
		memset(p + AMQP_FRAME_HEADER_SIZE, 'x', k);
		p += AMQP_FRAME_HEADER_SIZE + k;
		*p++ = AMQP_FRAME_END;
		left -= k;
	}
	t->len = (size_t)(p - t->bytes);
	rc = 0;
out:
	amqp_buf_free(&pbuf);
	amqp_buf_free(&hbuf);
	return rc;
}

void perf_template_stamp(uint8_t *msg, const struct perf_template *t, size_t size, uint64_t now_ns,
			 uint64_t seq)
{
	if (size >= PERF_STAMP_LEN) {
		amqp_put_u64(msg + t->stamp_at, now_ns);
		amqp_put_u64(msg + t->stamp_at + 8, seq);
	} else if (size >= 8) {
		amqp_put_u64(msg + t->stamp_at, now_ns);
	}
}
