/* broker/net/deliver.c: delivery frames. Small deliveries are assembled in one stack buffer and
 * appended with one evbuffer_add; large bodies leave by reference (libevent 2.1 spends a whole
 * chain per reference, libevent#1198, so small ones are cheaper to copy). */
#include "broker/net/deliver.h"

#include <event2/buffer.h>
#include <string.h>

#include "amqp/frame.h"
#include "amqp/methods_gen.h"
#include "amqp/props.h"
#include "amqp/reply_codes.h"
#include "amqp/wire.h"
#include "broker/net/channel.h"
#include "broker/net/conn.h"
#include "broker/queue/message.h"

#define DELIVER_COPY_MAX 2048
#define DELIVER_STACK 4096

static void deliver_on_body_sent(const void *data, size_t len, void *arg)
{
	(void)data, (void)len;
	message_unref(arg);
}

/* Appends method frame (already encoded into buf at offset 7 with length mlen), content header
 * and body frames. */
static int deliver_frames(struct channel *ch, uint8_t *buf, size_t mlen, struct message *m,
			  const uint8_t *props, size_t props_len)
{
	struct conn *c = ch->conn;
	struct evbuffer *out = conn_output(c);
	uint32_t body_max = c->frame_max - AMQP_FRAME_OVERHEAD;
	size_t n = 0;

	amqp_frame_header_encode(buf, AMQP_FRAME_METHOD, ch->id, (uint32_t)mlen);
	n = AMQP_FRAME_HEADER_SIZE + mlen;
	buf[n++] = AMQP_FRAME_END;

	size_t hlen = AMQP_CONTENT_HEADER_FIXED + props_len;
	bool small = m->body_len <= DELIVER_COPY_MAX &&
		     n + hlen + m->body_len + 2 * AMQP_FRAME_OVERHEAD <= DELIVER_STACK;
	if (n + AMQP_FRAME_OVERHEAD + hlen > DELIVER_STACK) {
		/* Big property lists: flush the method frame and write the header piecewise. */
		uint8_t head[AMQP_FRAME_HEADER_SIZE + AMQP_CONTENT_HEADER_FIXED];
		if (evbuffer_add(out, buf, n) != 0)
			return -1;
		amqp_frame_header_encode(head, AMQP_FRAME_HEADER, ch->id, (uint32_t)hlen);
		amqp_put_u16(head + 7, 60);
		amqp_put_u16(head + 9, 0);
		amqp_put_u64(head + 11, m->body_len);
		static const uint8_t end = AMQP_FRAME_END;
		if (evbuffer_add(out, head, sizeof head) != 0 ||
		    evbuffer_add(out, props, props_len) != 0 || evbuffer_add(out, &end, 1) != 0)
			return -1;
		n = 0;
	} else {
		amqp_frame_header_encode(buf + n, AMQP_FRAME_HEADER, ch->id, (uint32_t)hlen);
		n += AMQP_FRAME_HEADER_SIZE;
		amqp_put_u16(buf + n, 60);
		amqp_put_u16(buf + n + 2, 0);
		amqp_put_u64(buf + n + 4, m->body_len);
		n += AMQP_CONTENT_HEADER_FIXED;
		memcpy(buf + n, props, props_len);
		n += props_len;
		buf[n++] = AMQP_FRAME_END;
	}
	if (small) {
		if (m->body_len) {
			amqp_frame_header_encode(buf + n, AMQP_FRAME_BODY, ch->id,
						 (uint32_t)m->body_len);
			n += AMQP_FRAME_HEADER_SIZE;
			memcpy(buf + n, m->body, m->body_len);
			n += m->body_len;
			buf[n++] = AMQP_FRAME_END;
		}
		if (evbuffer_add(out, buf, n) != 0)
			return -1;
	} else {
		if (n && evbuffer_add(out, buf, n) != 0)
			return -1;
		for (uint64_t off = 0; off < m->body_len;) {
			uint64_t left = m->body_len - off;
			uint32_t chunk = left > body_max ? body_max : (uint32_t)left;
			uint8_t fh[AMQP_FRAME_HEADER_SIZE];
			static const uint8_t end = AMQP_FRAME_END;
			amqp_frame_header_encode(fh, AMQP_FRAME_BODY, ch->id, chunk);
			if (evbuffer_add(out, fh, sizeof fh) != 0)
				return -1;
			if (chunk < DELIVER_COPY_MAX) {
				if (evbuffer_add(out, m->body + off, chunk) != 0)
					return -1;
			} else if (evbuffer_add_reference(out, m->body + off, chunk,
							  deliver_on_body_sent,
							  message_ref(m)) != 0) {
				message_unref(m);
				return -1;
			}
			if (evbuffer_add(out, &end, 1) != 0)
				return -1;
			off += chunk;
		}
	}
	c->send_oct += n + m->body_len;
	conn_note_output(c);
	return 0;
}

static int deliver_method_props(struct channel *ch, const struct amqp_method *method,
				struct message *m, const uint8_t *props, size_t props_len)
{
	uint8_t buf[DELIVER_STACK];
	ssize_t mlen = amqp_method_encode(method, buf + AMQP_FRAME_HEADER_SIZE,
					  sizeof buf - AMQP_FRAME_OVERHEAD);
	if (mlen < 0 || deliver_frames(ch, buf, (size_t)mlen, m, props, props_len) != 0)
		return conn_fail(ch->conn, AMQP_INTERNAL_ERROR, 0,
				 "out of memory writing a delivery");
	return 0;
}

static int deliver_method(struct channel *ch, const struct amqp_method *method, struct message *m)
{
	return deliver_method_props(ch, method, m, m->props, m->props_len);
}

/* The message's properties with one header set (a long): x-delivery-count as quorum queues
 * deliver, x-stream-offset as streams do. */
static int deliver_with_header(struct channel *ch, const struct amqp_method *method,
			       struct message *m, const char *name, int64_t value)
{
	const char *const skip[] = { name, NULL };
	struct amqp_basic_props p;
	struct amqp_buf hb, out;
	int rc;

	if (amqp_props_decode(&p, m->props, m->props_len) != 0)
		return deliver_method(ch, method, m);
	amqp_buf_init(&hb);
	amqp_buf_init(&out);
	if (p.flags & AMQP_PROP_HEADERS)
		amqp_buf_put_entries_except(&hb, p.headers, skip);
	amqp_buf_put_shortstr(&hb, amqp_str_c(name));
	amqp_buf_put_value_long(&hb, value);
	p.headers = (struct amqp_table){ hb.data, (uint32_t)hb.len };
	p.flags |= AMQP_PROP_HEADERS;
	amqp_props_encode(&p, &out);
	if (hb.oom || out.oom)
		rc = conn_fail(ch->conn, AMQP_INTERNAL_ERROR, 0, "out of memory writing a delivery");
	else
		rc = deliver_method_props(ch, method, m, out.data, out.len);
	amqp_buf_free(&hb);
	amqp_buf_free(&out);
	return rc;
}

int deliver_basic_deliver(struct channel *ch, struct amqp_str ctag, uint64_t tag, bool redelivered,
			  struct message *m, const char *header, int64_t value)
{
	struct amqp_method method = { .id = AMQP_BASIC_DELIVER };
	method.u.basic_deliver.consumer_tag = ctag;
	method.u.basic_deliver.delivery_tag = tag;
	method.u.basic_deliver.redelivered = redelivered;
	method.u.basic_deliver.exchange = m->exchange;
	method.u.basic_deliver.routing_key = m->routing_key;
	if (header)
		return deliver_with_header(ch, &method, m, header, value);
	return deliver_method(ch, &method, m);
}

int deliver_get_ok(struct channel *ch, uint64_t tag, bool redelivered, uint32_t message_count,
		   struct message *m, const char *header, int64_t value)
{
	struct amqp_method method = { .id = AMQP_BASIC_GET_OK };
	method.u.basic_get_ok.delivery_tag = tag;
	method.u.basic_get_ok.redelivered = redelivered;
	method.u.basic_get_ok.exchange = m->exchange;
	method.u.basic_get_ok.routing_key = m->routing_key;
	method.u.basic_get_ok.message_count = message_count;
	if (header)
		return deliver_with_header(ch, &method, m, header, value);
	return deliver_method(ch, &method, m);
}

int deliver_return(struct channel *ch, uint16_t code, const char *text, struct message *m)
{
	struct amqp_method method = { .id = AMQP_BASIC_RETURN };
	method.u.basic_return.reply_code = code;
	method.u.basic_return.reply_text = amqp_str_c(text);
	method.u.basic_return.exchange = m->exchange;
	method.u.basic_return.routing_key = m->routing_key;
	return deliver_method(ch, &method, m);
}
