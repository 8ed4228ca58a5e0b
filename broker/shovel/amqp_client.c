/* broker/shovel/amqp_client.c: the client side of AMQP 0-9-1 on the broker's loop
 * (amqp_client.h). One bufferevent per connection (a socket, TLS over one, or a descriptor
 * connected to this broker); frames are decoded and encoded with amqp/; one assembler for
 * channel 1's deliveries, whose body is gathered into a buffer the client reuses.
 *
 * Failures never call the owner from inside the owner's own call (a publish that finds the
 * socket gone): the client marks itself dead and a zero-delay event reports `closed` from a
 * fresh loop callback. A client freed inside one of its callbacks is freed when it returns; a
 * connection freed while open says connection.close and lingers a moment so the frames it was
 * sent (the last publishes, the close) still reach the server. */
#include "broker/shovel/amqp_client.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/assembler.h"
#include "amqp/frame.h"
#include "amqp/props.h"
#include "amqp/table.h"
#include "broker/core/broker.h"
#include "broker/core/log.h"
#include "broker/core/time.h"
#include "broker/shovel/shovel_uri.h"

#define CLIENT_FRAME_MAX 131072u
#define CLIENT_CHANNEL_MAX 2047u
#define CLIENT_DEFAULT_HEARTBEAT 10      /* s, as RabbitMQ's Erlang client */
#define CLIENT_DEFAULT_CONNECT_MS 30000 /* until channel 1 is open */
#define CLIENT_LINGER_MS 2000

enum client_state {
	CLIENT_CONNECTING, /* TCP / TLS */
	CLIENT_START,      /* protocol header sent, waiting for connection.start */
	CLIENT_TUNE,
	CLIENT_OPENING,    /* connection.open sent */
	CLIENT_CHANNEL,    /* channel.open sent */
	CLIENT_OPEN,
	CLIENT_CLOSING,    /* connection.close sent by us */
	CLIENT_DEAD,
};

struct amqp_client {
	struct broker *b;
	struct bufferevent *bev;
	SSL_CTX *ssl_ctx;
	const struct amqp_client_ops *ops;
	void *arg;
	enum client_state state;
	char *user, *password, *vhost, *host, *conn_name, *display;
	bool external, local;
	int32_t want_heartbeat, want_frame_max, want_channel_max;
	uint32_t frame_max;
	uint16_t heartbeat;
	uint64_t connect_deadline, last_rx, last_tx;
	struct event *tick, *notify, *kick;
	struct amqp_assembler as;
	/* the delivery being assembled on channel 1 */
	bool in_delivery;
	uint64_t d_tag;
	bool d_redelivered;
	struct amqp_buf d_meta;      /* exchange, routing key, property bytes */
	uint32_t d_exchange_len, d_rk_len;
	uint8_t *body;
	size_t body_cap, body_len, body_size;
	uint64_t max_body;
	struct amqp_buf out;         /* scratch for encoding */
	uint8_t *scratch;            /* method encoding buffer, CLIENT_FRAME_MAX */
	char why[512];
	bool congested;
	bool paused;
	int in_cb;
	bool free_pending;
};

/* ---- lifetime ---- */

static void client_destroy(struct amqp_client *c);

static void client_enter(struct amqp_client *c)
{
	c->in_cb++;
}

static void client_leave(struct amqp_client *c)
{
	if (--c->in_cb == 0 && c->free_pending)
		client_destroy(c);
}

static void client_on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct amqp_client *c = arg;
	(void)fd, (void)what;
	client_enter(c);
	if (c->ops->closed && !c->free_pending)
		c->ops->closed(c, c->arg, c->why);
	client_leave(c);
}

/* The connection is over: nothing more is sent; the owner hears it from a fresh callback. */
static void client_fail(struct amqp_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void client_fail(struct amqp_client *c, const char *fmt, ...)
{
	bool quiet = c->state == CLIENT_CLOSING; /* the owner asked for it */
	if (c->state == CLIENT_DEAD)
		return;
	c->state = CLIENT_DEAD;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof c->why, fmt, ap);
	va_end(ap);
	if (c->bev)
		bufferevent_disable(c->bev, EV_READ);
	if (c->tick)
		event_del(c->tick);
	if (!quiet && c->notify)
		event_active(c->notify, 0, 0);
}

/* ---- output ---- */

static int client_write(struct amqp_client *c, const void *p, size_t n)
{
	if (c->state == CLIENT_DEAD || !c->bev)
		return -1;
	if (evbuffer_add(bufferevent_get_output(c->bev), p, n) != 0) {
		client_fail(c, "out of memory writing to the connection");
		return -1;
	}
	c->last_tx = time_now_ms();
	if (!c->congested && evbuffer_get_length(bufferevent_get_output(c->bev)) >
				     AMQP_CLIENT_OUTPUT_HIGH)
		c->congested = true;
	return 0;
}

static int client_frame(struct amqp_client *c, uint8_t type, uint16_t channel, const void *p,
			size_t n)
{
	uint8_t head[AMQP_FRAME_HEADER_SIZE];
	static const uint8_t end = AMQP_FRAME_END;
	amqp_frame_header_encode(head, type, channel, (uint32_t)n);
	if (client_write(c, head, sizeof head) != 0 || (n && client_write(c, p, n) != 0))
		return -1;
	return client_write(c, &end, 1);
}

int amqp_client_send(struct amqp_client *c, uint16_t channel, const struct amqp_method *m)
{
	if (c->state == CLIENT_DEAD)
		return -1;
	ssize_t n = amqp_method_encode(m, c->scratch, CLIENT_FRAME_MAX - AMQP_FRAME_OVERHEAD);
	if (n < 0) {
		client_fail(c, "cannot encode %s", amqp_method_name(m->id));
		return -1;
	}
	return client_frame(c, AMQP_FRAME_METHOD, channel, c->scratch, (size_t)n);
}

int amqp_client_publish(struct amqp_client *c, struct amqp_str exchange,
			struct amqp_str routing_key, const uint8_t *props, size_t props_len,
			const uint8_t *body, size_t body_len)
{
	if (c->state != CLIENT_OPEN)
		return -1;
	struct amqp_method m = { .id = AMQP_BASIC_PUBLISH };
	m.u.basic_publish.exchange = exchange;
	m.u.basic_publish.routing_key = routing_key;
	if (amqp_client_send(c, 1, &m) != 0)
		return -1;
	amqp_buf_reset(&c->out);
	amqp_content_header_encode(&c->out, body_len, props, props_len);
	if (c->out.oom || c->out.len > c->frame_max - AMQP_FRAME_OVERHEAD) {
		client_fail(c, "a message's properties do not fit in a frame");
		return -1;
	}
	if (client_frame(c, AMQP_FRAME_HEADER, 1, c->out.data, c->out.len) != 0)
		return -1;
	size_t chunk = c->frame_max - AMQP_FRAME_OVERHEAD;
	for (size_t off = 0; off < body_len; off += chunk) {
		size_t n = body_len - off < chunk ? body_len - off : chunk;
		if (client_frame(c, AMQP_FRAME_BODY, 1, body + off, n) != 0)
			return -1;
	}
	return 0;
}

size_t amqp_client_output_len(const struct amqp_client *c)
{
	return c->bev ? evbuffer_get_length(bufferevent_get_output(c->bev)) : 0;
}

bool amqp_client_is_open(const struct amqp_client *c)
{
	return c->state == CLIENT_OPEN;
}

void amqp_client_pause(struct amqp_client *c, bool paused)
{
	if (c->paused == paused || !c->bev || c->state == CLIENT_DEAD)
		return;
	c->paused = paused;
	if (paused) {
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	bufferevent_enable(c->bev, EV_READ);
	/* frames already read wait in the input buffer: process them from a fresh callback */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)))
		event_active(c->kick, 0, 0);
}

/* ---- the handshake ---- */

static void client_put_str(struct amqp_buf *t, const char *key, const char *val)
{
	amqp_buf_put_shortstr(t, amqp_str_c(key));
	amqp_buf_put_value_longstr(t, amqp_str_c(val));
}

static void client_on_start(struct amqp_client *c, const struct amqp_connection_start *s)
{
	const char *mech = c->external ? "EXTERNAL" : "PLAIN";
	char have[256];
	snprintf(have, sizeof have, " %.*s ", AMQP_STR_ARGS(s->mechanisms));
	char want[32];
	snprintf(want, sizeof want, " %s ", mech);
	if (!strstr(have, want)) {
		client_fail(c, "the server does not offer the %s mechanism (it offers %.*s)", mech,
			    AMQP_STR_ARGS(s->mechanisms));
		return;
	}
	struct amqp_buf props, caps, resp;
	amqp_buf_init(&props);
	amqp_buf_init(&caps);
	amqp_buf_init(&resp);
	client_put_str(&props, "product", "Warren shovel");
	client_put_str(&props, "version", WARREN_VERSION);
	client_put_str(&props, "platform", "C");
	client_put_str(&props, "information", "https://www.rabbitmq.com/shovel.html semantics");
	client_put_str(&props, "connection_name", c->conn_name);
	static const char *const flags[] = { "publisher_confirms", "consumer_cancel_notify",
					     "exchange_exchange_bindings", "basic.nack",
					     "connection.blocked", "authentication_failure_close" };
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		amqp_buf_put_shortstr(&caps, amqp_str_c(flags[i]));
		amqp_buf_put_value_bool(&caps, true);
	}
	amqp_buf_put_shortstr(&props, AMQP_STR_LIT("capabilities"));
	amqp_buf_put_u8(&props, 'F');
	amqp_buf_put_table(&props, (struct amqp_table){ caps.data, (uint32_t)caps.len });
	if (!c->external) {
		amqp_buf_put_u8(&resp, 0);
		amqp_buf_put(&resp, c->user, strlen(c->user));
		amqp_buf_put_u8(&resp, 0);
		amqp_buf_put(&resp, c->password, strlen(c->password));
	}
	struct amqp_method m = { .id = AMQP_CONNECTION_START_OK };
	m.u.connection_start_ok.client_properties = (struct amqp_table){ props.data,
									(uint32_t)props.len };
	m.u.connection_start_ok.mechanism = amqp_str_c(mech);
	m.u.connection_start_ok.response = (struct amqp_str){ resp.data, (uint32_t)resp.len };
	m.u.connection_start_ok.locale = AMQP_STR_LIT("en_US");
	if (props.oom || caps.oom || resp.oom)
		client_fail(c, "out of memory in the handshake");
	else if (amqp_client_send(c, 0, &m) == 0)
		c->state = CLIENT_TUNE;
	amqp_buf_free(&props);
	amqp_buf_free(&caps);
	amqp_buf_free(&resp);
}

/* Both sides' values: 0 is "no limit" (the other wins), else the smaller. */
static uint32_t client_negotiate(uint32_t server, uint32_t client)
{
	if (server == 0)
		return client;
	if (client == 0)
		return server;
	return server < client ? server : client;
}

static void client_on_tune(struct amqp_client *c, const struct amqp_connection_tune *t)
{
	uint32_t fm = c->want_frame_max > 0 ? (uint32_t)c->want_frame_max : CLIENT_FRAME_MAX;
	if (fm > CLIENT_FRAME_MAX)
		fm = CLIENT_FRAME_MAX;
	c->frame_max = client_negotiate(t->frame_max, fm);
	if (c->frame_max < AMQP_FRAME_MIN_SIZE)
		c->frame_max = AMQP_FRAME_MIN_SIZE;
	uint32_t cm = c->want_channel_max > 0 ? (uint32_t)c->want_channel_max : CLIENT_CHANNEL_MAX;
	uint32_t hb = c->want_heartbeat >= 0 ? (uint32_t)c->want_heartbeat :
					       CLIENT_DEFAULT_HEARTBEAT;
	c->heartbeat = (uint16_t)(hb == 0 ? 0 : client_negotiate(t->heartbeat, hb));
	struct amqp_method m = { .id = AMQP_CONNECTION_TUNE_OK };
	m.u.connection_tune_ok.channel_max = (uint16_t)client_negotiate(t->channel_max, cm);
	m.u.connection_tune_ok.frame_max = c->frame_max;
	m.u.connection_tune_ok.heartbeat = c->heartbeat;
	if (amqp_client_send(c, 0, &m) != 0)
		return;
	struct amqp_method o = { .id = AMQP_CONNECTION_OPEN };
	o.u.connection_open.virtual_host = amqp_str_c(c->vhost);
	if (amqp_client_send(c, 0, &o) == 0)
		c->state = CLIENT_OPENING;
}

static void client_on_connection_method(struct amqp_client *c, const struct amqp_method *m)
{
	switch (m->id) {
	case AMQP_CONNECTION_START:
		if (c->state == CLIENT_START)
			client_on_start(c, &m->u.connection_start);
		return;
	case AMQP_CONNECTION_TUNE:
		if (c->state == CLIENT_TUNE)
			client_on_tune(c, &m->u.connection_tune);
		return;
	case AMQP_CONNECTION_OPEN_OK:
		if (c->state == CLIENT_OPENING) {
			struct amqp_method o = { .id = AMQP_CHANNEL_OPEN };
			if (amqp_client_send(c, 1, &o) == 0)
				c->state = CLIENT_CHANNEL;
		}
		return;
	case AMQP_CONNECTION_CLOSE: {
		const struct amqp_connection_close *cl = &m->u.connection_close;
		struct amqp_method ok = { .id = AMQP_CONNECTION_CLOSE_OK };
		amqp_client_send(c, 0, &ok);
		client_fail(c, "%u %.*s", (unsigned)cl->reply_code, AMQP_STR_ARGS(cl->reply_text));
		return;
	}
	case AMQP_CONNECTION_CLOSE_OK:
		client_fail(c, "closed");
		return;
	case AMQP_CONNECTION_BLOCKED:
		log_info(c->b->log, "shovel connection %s: blocked by the server (%.*s)", c->display,
			 AMQP_STR_ARGS(m->u.connection_blocked.reason));
		return;
	case AMQP_CONNECTION_UNBLOCKED:
		return;
	case AMQP_CONNECTION_SECURE:
		client_fail(c, "the server asked for a SASL challenge, which Warren's client does "
			       "not answer");
		return;
	default:
		client_fail(c, "unexpected %s from the server", amqp_method_name(m->id));
	}
}

/* ---- channels ---- */

static void client_delivery_done(struct amqp_client *c)
{
	struct amqp_client_delivery d = {
		.delivery_tag = c->d_tag,
		.redelivered = c->d_redelivered,
		.exchange = { c->d_meta.data, c->d_exchange_len },
		.routing_key = { c->d_meta.data + c->d_exchange_len, c->d_rk_len },
		.props = c->d_meta.data + c->d_exchange_len + c->d_rk_len,
		.props_len = c->d_meta.len - c->d_exchange_len - c->d_rk_len,
		.body = c->body,
		.body_len = c->body_len,
	};
	c->in_delivery = false;
	if (c->ops->delivery)
		c->ops->delivery(c, c->arg, &d);
}

static void client_on_channel_frame(struct amqp_client *c, const struct amqp_frame *f)
{
	struct amqp_asm_out out;
	switch (amqp_assembler_feed(&c->as, f, &out)) {
	case AMQP_ASM_METHOD:
		if (out.method.id == AMQP_CHANNEL_OPEN_OK && c->state == CLIENT_CHANNEL) {
			c->state = CLIENT_OPEN;
			if (c->ops->opened)
				c->ops->opened(c, c->arg);
			return;
		}
		if (out.method.id == AMQP_CHANNEL_CLOSE) {
			const struct amqp_channel_close *cl = &out.method.u.channel_close;
			struct amqp_method ok = { .id = AMQP_CHANNEL_CLOSE_OK };
			amqp_client_send(c, 1, &ok);
			client_fail(c, "%u %.*s", (unsigned)cl->reply_code,
				    AMQP_STR_ARGS(cl->reply_text));
			return;
		}
		if (c->ops->method)
			c->ops->method(c, c->arg, 1, &out.method);
		return;
	case AMQP_ASM_CONTENT_METHOD:
		if (out.method.id != AMQP_BASIC_DELIVER) {
			c->in_delivery = false; /* basic.return, basic.get-ok: content ignored */
			return;
		}
		c->in_delivery = true;
		c->d_tag = out.method.u.basic_deliver.delivery_tag;
		c->d_redelivered = out.method.u.basic_deliver.redelivered;
		amqp_buf_reset(&c->d_meta);
		amqp_buf_put(&c->d_meta, out.method.u.basic_deliver.exchange.ptr,
			     out.method.u.basic_deliver.exchange.len);
		amqp_buf_put(&c->d_meta, out.method.u.basic_deliver.routing_key.ptr,
			     out.method.u.basic_deliver.routing_key.len);
		c->d_exchange_len = out.method.u.basic_deliver.exchange.len;
		c->d_rk_len = out.method.u.basic_deliver.routing_key.len;
		return;
	case AMQP_ASM_HEADER:
		if (!c->in_delivery)
			return;
		if (out.header.body_size > c->max_body) {
			client_fail(c, "a message of %llu bytes is larger than the %llu bytes a "
				       "shovel takes",
				    (unsigned long long)out.header.body_size,
				    (unsigned long long)c->max_body);
			return;
		}
		amqp_buf_put(&c->d_meta, out.header.props, out.header.props_len);
		if (c->d_meta.oom) {
			client_fail(c, "out of memory receiving a message");
			return;
		}
		if (out.header.body_size > c->body_cap) {
			uint8_t *nb = realloc(c->body, (size_t)out.header.body_size);
			if (!nb) {
				client_fail(c, "out of memory receiving a message");
				return;
			}
			c->body = nb;
			c->body_cap = (size_t)out.header.body_size;
		}
		c->body_size = (size_t)out.header.body_size;
		c->body_len = 0;
		if (out.complete)
			client_delivery_done(c);
		return;
	case AMQP_ASM_BODY:
		if (!c->in_delivery)
			return;
		if (out.body_len > c->body_size - c->body_len) {
			client_fail(c, "a body frame overflows its message");
			return;
		}
		memcpy(c->body + c->body_len, out.body, out.body_len);
		c->body_len += out.body_len;
		if (out.complete)
			client_delivery_done(c);
		return;
	default: {
		char text[256];
		client_fail(c, "%u %s", (unsigned)out.error_code,
			    amqp_asm_error_format(&out, text, sizeof text));
	}
	}
}

/* A channel the owner opened besides 1: methods only (passive declares and the like). */
static void client_on_other_channel(struct amqp_client *c, const struct amqp_frame *f)
{
	struct amqp_method m;
	if (f->type != AMQP_FRAME_METHOD)
		return;
	if (amqp_method_decode(&m, f->payload, f->size) != AMQP_DECODE_OK) {
		client_fail(c, "malformed method from the server on channel %u",
			    (unsigned)f->channel);
		return;
	}
	if (m.id == AMQP_CHANNEL_CLOSE) {
		struct amqp_method ok = { .id = AMQP_CHANNEL_CLOSE_OK };
		char text[300];
		snprintf(text, sizeof text, "%.*s", AMQP_STR_ARGS(m.u.channel_close.reply_text));
		amqp_client_send(c, f->channel, &ok);
		if (c->ops->channel_closed)
			c->ops->channel_closed(c, c->arg, f->channel,
					       m.u.channel_close.reply_code, text);
		return;
	}
	if (c->ops->method)
		c->ops->method(c, c->arg, f->channel, &m);
}

static void client_on_frame(struct amqp_client *c, const struct amqp_frame *f)
{
	if (f->type == AMQP_FRAME_HEARTBEAT)
		return;
	if (f->channel == 0) {
		struct amqp_method m;
		if (f->type != AMQP_FRAME_METHOD ||
		    amqp_method_decode(&m, f->payload, f->size) != AMQP_DECODE_OK) {
			client_fail(c, "malformed frame from the server on channel 0");
			return;
		}
		client_on_connection_method(c, &m);
		return;
	}
	if (c->state < CLIENT_CHANNEL) {
		client_fail(c, "a frame on channel %u before the connection was open",
			    (unsigned)f->channel);
		return;
	}
	if (f->channel == 1)
		client_on_channel_frame(c, f);
	else
		client_on_other_channel(c, f);
}

/* ---- libevent callbacks ---- */

static void client_on_read(struct bufferevent *bev, void *arg)
{
	struct amqp_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	client_enter(c);
	c->last_rx = time_now_ms();
	while (c->state != CLIENT_DEAD && !c->free_pending && !c->paused) {
		size_t avail = evbuffer_get_length(in);
		uint8_t head[AMQP_FRAME_HEADER_SIZE];
		if (avail < AMQP_FRAME_HEADER_SIZE)
			break;
		evbuffer_copyout(in, head, sizeof head);
		if (memcmp(head, "AMQP", 4) == 0) {
			client_fail(c, "the server does not speak AMQP 0-9-1 (it answered with its "
				       "protocol header)");
			break;
		}
		uint32_t size = (uint32_t)head[3] << 24 | (uint32_t)head[4] << 16 |
				(uint32_t)head[5] << 8 | head[6];
		if (size > CLIENT_FRAME_MAX) {
			client_fail(c, "a frame of %u bytes from the server is larger than the "
				       "frame_max %u",
				    size, CLIENT_FRAME_MAX);
			break;
		}
		size_t total = (size_t)size + AMQP_FRAME_OVERHEAD;
		if (avail < total)
			break;
		const uint8_t *p = evbuffer_pullup(in, (ssize_t)total);
		struct amqp_frame f;
		enum amqp_frame_error err;
		if (!p || amqp_frame_decode(&f, p, total, CLIENT_FRAME_MAX, &err) <= 0) {
			client_fail(c, "a malformed frame from the server");
			break;
		}
		client_on_frame(c, &f);
		evbuffer_drain(in, total);
	}
	client_leave(c);
}

static void client_on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct amqp_client *c = arg;
	(void)fd, (void)what;
	if (c->bev && !c->paused && c->state != CLIENT_DEAD)
		client_on_read(c->bev, c);
}

static void client_on_write(struct bufferevent *bev, void *arg)
{
	struct amqp_client *c = arg;
	(void)bev;
	if (!c->congested || amqp_client_output_len(c) > AMQP_CLIENT_OUTPUT_LOW)
		return;
	c->congested = false;
	client_enter(c);
	if (c->ops->drained && c->state != CLIENT_DEAD)
		c->ops->drained(c, c->arg);
	client_leave(c);
}

/* RabbitMQ's shovel words for the usual socket errors (human_readable_connection_error). */
static const char *client_errno_text(int e)
{
	switch (e) {
	case ECONNREFUSED:
		return "connection to target host was refused (ECONNREFUSED)";
	case ECONNRESET:
		return "connection to target host was reset by peer (ECONNRESET)";
	case ETIMEDOUT:
		return "connection to target host timed out (ETIMEDOUT)";
	case EHOSTUNREACH:
		return "target host is unreachable (EHOSTUNREACH)";
	case EACCES:
		return "connection to target host failed with EACCES";
	default:
		return NULL;
	}
}

static void client_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct amqp_client *c = arg;
	client_enter(c);
	if (what & BEV_EVENT_CONNECTED) {
		c->state = CLIENT_START;
		client_write(c, AMQP_PROTOCOL_HEADER, AMQP_PROTOCOL_HEADER_SIZE);
	} else if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
		int e = EVUTIL_SOCKET_ERROR();
		unsigned long ssl_err = c->ssl_ctx ? bufferevent_get_openssl_error(bev) : 0;
		int dns = bufferevent_socket_get_dns_error(bev);
		char buf[256];
		if (dns) {
			client_fail(c, "unknown host (failed to resolve hostname): %s",
				    evutil_gai_strerror(dns));
		} else if (ssl_err) {
			ERR_error_string_n(ssl_err, buf, sizeof buf);
			client_fail(c, "TLS: %s", buf);
		} else if ((what & BEV_EVENT_EOF) && c->state > CLIENT_CONNECTING) {
			client_fail(c, c->state < CLIENT_OPEN ?
					       "the server closed the connection during the "
					       "handshake" :
					       "the server closed the connection");
		} else {
			const char *t = client_errno_text(e);
			client_fail(c, "%s", t ? t : evutil_socket_error_to_string(e));
		}
	}
	client_leave(c);
}

static void client_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct amqp_client *c = arg;
	uint64_t now = time_now_ms();
	(void)fd, (void)what;
	client_enter(c);
	if (c->state < CLIENT_OPEN && now > c->connect_deadline) {
		client_fail(c, "connection to target host timed out (the handshake did not end "
			       "within the connection_timeout)");
	} else if (c->state == CLIENT_OPEN && c->heartbeat) {
		uint64_t hb = (uint64_t)c->heartbeat * 1000;
		if (now - c->last_rx > 2 * hb && !c->paused)
			client_fail(c, "missed heartbeats from the server, timeout: %us",
				    (unsigned)c->heartbeat);
		else if (now - c->last_tx >= hb / 2)
			client_frame(c, AMQP_FRAME_HEARTBEAT, 0, NULL, 0);
	}
	client_leave(c);
}

/* ---- creation ---- */

static SSL_CTX *client_ssl_ctx(const struct shovel_uri *u, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		snprintf(err, errlen, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (u->cacertfile) {
		if (SSL_CTX_load_verify_locations(ctx, u->cacertfile, NULL) != 1) {
			snprintf(err, errlen, "cannot load cacertfile %s", u->cacertfile);
			goto fail;
		}
	} else {
		SSL_CTX_set_default_verify_paths(ctx);
	}
	if (u->certfile && SSL_CTX_use_certificate_chain_file(ctx, u->certfile) != 1) {
		snprintf(err, errlen, "cannot load certfile %s", u->certfile);
		goto fail;
	}
	if (u->keyfile && SSL_CTX_use_PrivateKey_file(ctx, u->keyfile, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "cannot load keyfile %s", u->keyfile);
		goto fail;
	}
	SSL_CTX_set_verify(ctx, u->verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static char *client_strdup(const char *s)
{
	return strdup(s ? s : "");
}

struct amqp_client *amqp_client_new(struct broker *b, const struct amqp_client_config *cfg,
				    const struct amqp_client_ops *ops, void *arg, char *err,
				    size_t errlen)
{
	const struct shovel_uri *u = cfg->uri;
	struct amqp_client *c = calloc(1, sizeof *c);
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->b = b;
	c->ops = ops;
	c->arg = arg;
	c->local = u->local;
	c->external = u->auth_external;
	c->want_heartbeat = u->heartbeat;
	c->want_frame_max = u->frame_max;
	c->want_channel_max = u->channel_max;
	c->frame_max = AMQP_FRAME_MIN_SIZE;
	c->max_body = cfg->max_body;
	amqp_assembler_init(&c->as);
	amqp_buf_init(&c->out);
	amqp_buf_init(&c->d_meta);
	c->user = client_strdup(u->user ? u->user : "guest");
	c->password = client_strdup(u->password ? u->password : "guest");
	c->vhost = client_strdup(u->vhost);
	c->host = client_strdup(u->host);
	c->display = client_strdup(u->display);
	c->conn_name = client_strdup(cfg->connection_name);
	c->scratch = malloc(CLIENT_FRAME_MAX);
	c->tick = event_new(b->base, -1, EV_PERSIST, client_on_tick, c);
	c->notify = event_new(b->base, -1, 0, client_on_notify, c);
	c->kick = event_new(b->base, -1, 0, client_on_kick, c);
	uint64_t now = time_now_ms();
	c->last_rx = c->last_tx = now;
	c->connect_deadline = now + (uint64_t)(u->connection_timeout > 0 ? u->connection_timeout :
									    CLIENT_DEFAULT_CONNECT_MS);
	if (!c->user || !c->password || !c->vhost || !c->host || !c->display || !c->conn_name ||
	    !c->scratch || !c->tick || !c->notify || !c->kick) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (cfg->fd >= 0) {
		c->bev = bufferevent_socket_new(b->base, cfg->fd, BEV_OPT_CLOSE_ON_FREE);
	} else if (u->tls) {
		c->ssl_ctx = client_ssl_ctx(u, err, errlen);
		if (!c->ssl_ctx)
			goto fail;
		SSL *ssl = SSL_new(c->ssl_ctx);
		if (!ssl) {
			snprintf(err, errlen, "cannot create a TLS session");
			goto fail;
		}
		const char *sni = u->sni ? u->sni : u->host;
		SSL_set_tlsext_host_name(ssl, sni);
		if (u->verify_peer)
			SSL_set1_host(ssl, u->host);
		c->bev = bufferevent_openssl_socket_new(b->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
							BEV_OPT_CLOSE_ON_FREE);
		if (!c->bev)
			SSL_free(ssl);
	} else {
		c->bev = bufferevent_socket_new(b->base, -1, BEV_OPT_CLOSE_ON_FREE);
	}
	if (!c->bev) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	bufferevent_setcb(c->bev, client_on_read, client_on_write, client_on_event, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, AMQP_CLIENT_OUTPUT_LOW, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	struct timeval second = { 1, 0 };
	event_add(c->tick, &second);
	if (cfg->fd >= 0) {
		c->state = CLIENT_START;
		client_write(c, AMQP_PROTOCOL_HEADER, AMQP_PROTOCOL_HEADER_SIZE);
	} else if (bufferevent_socket_connect_hostname(c->bev, cfg->dns, AF_UNSPEC, u->host,
						       u->port) != 0) {
		/* resolution or the connect call failed at once: reported from the loop */
		client_fail(c, "cannot connect to %s:%u", u->host, (unsigned)u->port);
	}
	return c;
fail:
	c->state = CLIENT_DEAD;
	client_destroy(c);
	return NULL;
}

/* ---- closing ---- */

struct client_linger {
	struct bufferevent *bev;
	struct event *timer;
	SSL_CTX *ssl_ctx;
};

static void client_linger_end(struct client_linger *l)
{
	bufferevent_free(l->bev);
	event_free(l->timer);
	if (l->ssl_ctx)
		SSL_CTX_free(l->ssl_ctx);
	free(l);
}

static void client_linger_on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	client_linger_end(arg);
}

static void client_linger_on_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

static void client_linger_on_write(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		client_linger_end(arg);
}

static void client_linger_on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev, (void)what;
	client_linger_end(arg);
}

/* Hands the bufferevent over to a small closer that flushes it (the last publishes, a
 * connection.close) for up to CLIENT_LINGER_MS, then frees it. */
static bool client_linger(struct amqp_client *c)
{
	struct client_linger *l = calloc(1, sizeof *l);
	if (!l)
		return false;
	l->timer = evtimer_new(c->b->base, client_linger_on_timer, l);
	if (!l->timer) {
		free(l);
		return false;
	}
	l->bev = c->bev;
	l->ssl_ctx = c->ssl_ctx;
	c->bev = NULL;
	c->ssl_ctx = NULL;
	bufferevent_setcb(l->bev, client_linger_on_read, client_linger_on_write,
			  client_linger_on_event, l);
	bufferevent_setwatermark(l->bev, EV_WRITE, 0, 0);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	struct timeval tv = { CLIENT_LINGER_MS / 1000, (CLIENT_LINGER_MS % 1000) * 1000 };
	evtimer_add(l->timer, &tv);
	if (evbuffer_get_length(bufferevent_get_output(l->bev)) == 0)
		bufferevent_trigger(l->bev, EV_WRITE, 0);
	return true;
}

void amqp_client_close(struct amqp_client *c)
{
	if (c->state == CLIENT_DEAD || c->state == CLIENT_CLOSING)
		return;
	if (c->state >= CLIENT_OPENING) {
		struct amqp_method m = { .id = AMQP_CONNECTION_CLOSE };
		m.u.connection_close.reply_code = 200;
		m.u.connection_close.reply_text = AMQP_STR_LIT("Goodbye");
		amqp_client_send(c, 0, &m);
	}
	c->state = CLIENT_CLOSING;
}

static void client_destroy(struct amqp_client *c)
{
	if (c->bev) {
		if (!(c->state != CLIENT_DEAD && client_linger(c))) {
			bufferevent_free(c->bev);
			c->bev = NULL;
		}
	}
	if (c->ssl_ctx)
		SSL_CTX_free(c->ssl_ctx);
	if (c->tick)
		event_free(c->tick);
	if (c->notify)
		event_free(c->notify);
	if (c->kick)
		event_free(c->kick);
	amqp_buf_free(&c->out);
	amqp_buf_free(&c->d_meta);
	free(c->body);
	free(c->scratch);
	free(c->user);
	free(c->password);
	free(c->vhost);
	free(c->host);
	free(c->display);
	free(c->conn_name);
	free(c);
}

void amqp_client_abort(struct amqp_client *c)
{
	if (!c)
		return;
	c->state = CLIENT_DEAD;
	amqp_client_free(c);
}

void amqp_client_free(struct amqp_client *c)
{
	if (!c)
		return;
	amqp_client_close(c); /* a graceful goodbye rides along with the last frames */
	if (c->in_cb) {
		c->free_pending = true;
		return;
	}
	client_destroy(c);
}
