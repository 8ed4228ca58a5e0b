/* tests/bench/perf_conn.c: one AMQP connection of warren-perf. The codec in amqp/ does the
 * framing and method encoding; this file owns the socket and two big buffers, so the scenarios
 * can append many messages and write them with one syscall, and parse many frames per read.
 * The handshake and the few RPCs are blocking with deadlines; the hot loops use the
 * non-blocking primitives directly. */
#include "perf.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "amqp/props.h"
#include "amqp/reply_codes.h"
#include "amqp/table.h"

#define PERF_FRAME_MAX 131072u

uint64_t perf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int perf_conn_fail(struct perf_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof c->error, fmt, ap);
	va_end(ap);
	return -1;
}

static int perf_conn_ms_left(uint64_t deadline_ns)
{
	uint64_t now = perf_now_ns();

	if (now >= deadline_ns)
		return 0;
	return (int)((deadline_ns - now) / 1000000u) + 1;
}

int perf_conn_wait(struct perf_conn *c, bool want_write, int timeout_ms)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN | (want_write ? POLLOUT : 0) };
	int n = poll(&p, 1, timeout_ms);

	if (n < 0 && errno != EINTR)
		return perf_conn_fail(c, "poll: %s", strerror(errno));
	return n > 0 ? p.revents : 0;
}

static int perf_conn_connect(struct perf_conn *c, const struct perf_uri *u, uint64_t deadline)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char port[8];
	int rc = -1, one = 1, soerr = 0;
	socklen_t len = sizeof soerr;

	snprintf(port, sizeof port, "%u", u->port);
	int gai = getaddrinfo(u->host, port, &hints, &res);
	if (gai != 0) {
		perf_conn_fail(c, "cannot resolve %s: %s", u->host, gai_strerror(gai));
		goto out;
	}
	c->fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		perf_conn_fail(c, "socket: %s", strerror(errno));
		goto out;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c->fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS) {
		perf_conn_fail(c, "cannot connect to %s:%u: %s", u->host, u->port, strerror(errno));
		goto out;
	}
	struct pollfd p = { .fd = c->fd, .events = POLLOUT };
	if (poll(&p, 1, perf_conn_ms_left(deadline)) <= 0) {
		perf_conn_fail(c, "cannot connect to %s:%u: timed out", u->host, u->port);
		goto out;
	}
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
	if (soerr != 0) {
		perf_conn_fail(c, "cannot connect to %s:%u: %s", u->host, u->port, strerror(soerr));
		goto out;
	}
	rc = 0;
out:
	if (res)
		freeaddrinfo(res);
	return rc;
}

static int perf_conn_reserve(struct perf_conn *c, size_t need)
{
	if (c->out_off > 0 && c->out_off == c->out_len) {
		c->out_off = 0;
		c->out_len = 0;
	}
	if (c->out_cap - c->out_len >= need)
		return 0;
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		if (c->out_cap - c->out_len >= need)
			return 0;
	}
	size_t cap = c->out_cap * 2;
	while (cap - c->out_len < need)
		cap *= 2;
	uint8_t *p = realloc(c->out, cap);
	if (!p)
		return perf_conn_fail(c, "out of memory");
	c->out = p;
	c->out_cap = cap;
	return 0;
}

int perf_conn_put_method(struct perf_conn *c, uint16_t channel, const struct amqp_method *m)
{
	size_t room = 1024;

	for (;;) {
		if (perf_conn_reserve(c, room) != 0)
			return -1;
		uint8_t *p = c->out + c->out_len;
		ssize_t n = amqp_method_encode(m, p + AMQP_FRAME_HEADER_SIZE,
					       room - AMQP_FRAME_OVERHEAD);
		if (n >= 0) {
			amqp_frame_header_encode(p, AMQP_FRAME_METHOD, channel, (uint32_t)n);
			p[AMQP_FRAME_HEADER_SIZE + n] = AMQP_FRAME_END;
			c->out_len += (size_t)n + AMQP_FRAME_OVERHEAD;
			return 0;
		}
		if (room >= PERF_FRAME_MAX)
			return perf_conn_fail(c, "cannot encode %s", amqp_method_name(m->id));
		room *= 8;
	}
}

int perf_conn_write_some(struct perf_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return perf_conn_fail(c, "write: %s", strerror(errno));
		}
		c->out_off += (size_t)n;
	}
	c->out_off = 0;
	c->out_len = 0;
	return 0;
}

ssize_t perf_conn_read_some(struct perf_conn *c)
{
	if (c->in_off == c->in_len) {
		c->in_off = 0;
		c->in_len = 0;
	} else if (c->in_cap - c->in_len < c->in_cap / 2) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	for (;;) {
		ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
		if (n > 0) {
			c->in_len += (size_t)n;
			return n;
		}
		if (n == 0)
			return perf_conn_fail(c, "connection closed by the broker (EOF)");
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno != EINTR)
			return perf_conn_fail(c, "read: %s", strerror(errno));
	}
}

/* connection.close or channel.close from the broker: answer, then report code and text. */
static int perf_conn_closed_by_broker(struct perf_conn *c, const struct amqp_frame *f)
{
	struct amqp_method m, ok = { 0 };
	bool is_conn = f->channel == 0;

	if (amqp_method_decode(&m, f->payload, f->size) != AMQP_DECODE_OK)
		return perf_conn_fail(c, "malformed close from the broker");
	ok.id = is_conn ? AMQP_CONNECTION_CLOSE_OK : AMQP_CHANNEL_CLOSE_OK;
	if (perf_conn_put_method(c, f->channel, &ok) == 0)
		perf_conn_write_some(c);
	const struct amqp_connection_close *cc = &m.u.connection_close;
	const struct amqp_channel_close *ch = &m.u.channel_close;
	if (is_conn) {
		const char *what = amqp_method_name(AMQP_METHOD_ID(cc->class_id, cc->method_id));
		return perf_conn_fail(c, "connection closed by the broker: %u %.*s%s%s",
				      cc->reply_code, AMQP_STR_ARGS(cc->reply_text),
				      what ? " in " : "", what ? what : "");
	}
	const char *what = amqp_method_name(AMQP_METHOD_ID(ch->class_id, ch->method_id));
	return perf_conn_fail(c, "channel %u closed by the broker: %u %.*s%s%s", f->channel,
			      ch->reply_code, AMQP_STR_ARGS(ch->reply_text), what ? " in " : "",
			      what ? what : "");
}

int perf_conn_next_frame(struct perf_conn *c, struct amqp_frame *f)
{
	for (;;) {
		enum amqp_frame_error ferr = AMQP_FRAME_ERR_NONE;
		ssize_t n = amqp_frame_decode(f, c->in + c->in_off, c->in_len - c->in_off,
					      c->frame_max, &ferr);
		if (n == 0)
			return 0;
		if (n < 0)
			return perf_conn_fail(c, "bad frame from the broker (error %d, type %u, "
						 "size %u)", (int)ferr, f->type, f->size);
		c->in_off += (size_t)n;
		if (f->type == AMQP_FRAME_HEARTBEAT)
			continue;
		if (f->type != AMQP_FRAME_METHOD || f->size < 4)
			return 1;
		uint32_t id = amqp_get_u32(f->payload);
		switch (id) {
		case AMQP_CONNECTION_CLOSE:
		case AMQP_CHANNEL_CLOSE:
			return perf_conn_closed_by_broker(c, f);
		case AMQP_CONNECTION_BLOCKED:
			c->blocked = true;
			continue;
		case AMQP_CONNECTION_UNBLOCKED:
			c->blocked = false;
			continue;
		default:
			return 1;
		}
	}
}

static int perf_conn_flush(struct perf_conn *c, uint64_t deadline)
{
	while (c->out_len > c->out_off) {
		if (perf_conn_write_some(c) != 0)
			return -1;
		if (c->out_len == c->out_off)
			break;
		int left = perf_conn_ms_left(deadline);
		if (left == 0)
			return perf_conn_fail(c, "timed out writing to the broker");
		if (perf_conn_wait(c, true, left) < 0)
			return -1;
	}
	return 0;
}

/* Waits for method `id` on `channel`, skipping other frames; bounded by deadline. */
static int perf_conn_expect(struct perf_conn *c, uint16_t channel, uint32_t id,
			    struct amqp_method *m, uint64_t deadline)
{
	struct amqp_frame f;

	for (;;) {
		int got = perf_conn_next_frame(c, &f);
		if (got < 0)
			return -1;
		if (got == 1) {
			if (f.type != AMQP_FRAME_METHOD || f.channel != channel || f.size < 4 ||
			    amqp_get_u32(f.payload) != id)
				continue;
			if (amqp_method_decode(m, f.payload, f.size) != AMQP_DECODE_OK)
				return perf_conn_fail(c, "malformed %s from the broker",
						      amqp_method_name(id));
			return 0;
		}
		int left = perf_conn_ms_left(deadline);
		if (left == 0)
			return perf_conn_fail(c, "timed out waiting for %s", amqp_method_name(id));
		if (perf_conn_wait(c, false, left) < 0 || perf_conn_read_some(c) < 0)
			return -1;
	}
}

int perf_conn_rpc(struct perf_conn *c, const struct amqp_method *req, uint32_t reply_id,
		  struct amqp_method *reply, int timeout_ms)
{
	uint64_t deadline = perf_now_ns() + (uint64_t)timeout_ms * 1000000u;

	if (perf_conn_put_method(c, 1, req) != 0 || perf_conn_flush(c, deadline) != 0)
		return -1;
	return perf_conn_expect(c, 1, reply_id, reply, deadline);
}

static void perf_conn_put_prop(struct amqp_buf *b, const char *key, const char *value)
{
	amqp_buf_put_shortstr(b, amqp_str_c(key));
	amqp_buf_put_value_longstr(b, amqp_str_c(value));
}

static int perf_conn_handshake(struct perf_conn *c, const struct perf_uri *u, uint64_t deadline)
{
	struct amqp_method m, reply;
	struct amqp_buf props, resp;
	int rc = -1;

	amqp_buf_init(&props);
	amqp_buf_init(&resp);
	memcpy(c->out, AMQP_PROTOCOL_HEADER, AMQP_PROTOCOL_HEADER_SIZE);
	c->out_len = AMQP_PROTOCOL_HEADER_SIZE;
	if (perf_conn_flush(c, deadline) != 0 ||
	    perf_conn_expect(c, 0, AMQP_CONNECTION_START, &reply, deadline) != 0)
		goto out;
	struct amqp_str mechs = reply.u.connection_start.mechanisms;
	if (!memmem(mechs.ptr, mechs.len, "PLAIN", 5)) {
		perf_conn_fail(c, "the broker does not offer SASL PLAIN");
		goto out;
	}

	perf_conn_put_prop(&props, "product", "warren-perf");
	perf_conn_put_prop(&props, "platform", "C");
	amqp_buf_put_shortstr(&props, AMQP_STR_LIT("capabilities"));
	amqp_buf_put_u8(&props, 'F');
	size_t at = amqp_buf_table_begin(&props);
	amqp_buf_put_shortstr(&props, AMQP_STR_LIT("connection.blocked"));
	amqp_buf_put_value_bool(&props, true);
	amqp_buf_put_shortstr(&props, AMQP_STR_LIT("publisher_confirms"));
	amqp_buf_put_value_bool(&props, true);
	/* without it RabbitMQ answers a bad password by closing the socket, with no reason */
	amqp_buf_put_shortstr(&props, AMQP_STR_LIT("authentication_failure_close"));
	amqp_buf_put_value_bool(&props, true);
	amqp_buf_table_end(&props, at);
	amqp_buf_put_u8(&resp, 0);
	amqp_buf_put(&resp, u->user, strlen(u->user));
	amqp_buf_put_u8(&resp, 0);
	amqp_buf_put(&resp, u->pass, strlen(u->pass));
	if (props.oom || resp.oom) {
		perf_conn_fail(c, "out of memory");
		goto out;
	}
	memset(&m, 0, sizeof m);
	m.id = AMQP_CONNECTION_START_OK;
	m.u.connection_start_ok.client_properties =
		(struct amqp_table){ props.data, (uint32_t)props.len };
	m.u.connection_start_ok.mechanism = AMQP_STR_LIT("PLAIN");
	m.u.connection_start_ok.response = (struct amqp_str){ resp.data, (uint32_t)resp.len };
	m.u.connection_start_ok.locale = AMQP_STR_LIT("en_US");
	if (perf_conn_put_method(c, 0, &m) != 0 || perf_conn_flush(c, deadline) != 0 ||
	    perf_conn_expect(c, 0, AMQP_CONNECTION_TUNE, &reply, deadline) != 0)
		goto out;

	uint32_t frame_max = reply.u.connection_tune.frame_max;
	if (frame_max == 0 || frame_max > PERF_FRAME_MAX)
		frame_max = PERF_FRAME_MAX;
	uint16_t channel_max = reply.u.connection_tune.channel_max;
	memset(&m, 0, sizeof m);
	m.id = AMQP_CONNECTION_TUNE_OK;
	m.u.connection_tune_ok.channel_max = channel_max ? channel_max : 2047;
	m.u.connection_tune_ok.frame_max = frame_max;
	/* none unless asked for (--heartbeat, ?heartbeat=N): runs are short */
	m.u.connection_tune_ok.heartbeat = u->heartbeat;
	if (perf_conn_put_method(c, 0, &m) != 0)
		goto out;
	c->frame_max = frame_max;
	memset(&m, 0, sizeof m);
	m.id = AMQP_CONNECTION_OPEN;
	m.u.connection_open.virtual_host = amqp_str_c(u->vhost);
	if (perf_conn_put_method(c, 0, &m) != 0 || perf_conn_flush(c, deadline) != 0 ||
	    perf_conn_expect(c, 0, AMQP_CONNECTION_OPEN_OK, &reply, deadline) != 0)
		goto out;
	memset(&m, 0, sizeof m);
	m.id = AMQP_CHANNEL_OPEN;
	if (perf_conn_put_method(c, 1, &m) != 0 || perf_conn_flush(c, deadline) != 0 ||
	    perf_conn_expect(c, 1, AMQP_CHANNEL_OPEN_OK, &reply, deadline) != 0)
		goto out;
	rc = 0;
out:
	amqp_buf_free(&props);
	amqp_buf_free(&resp);
	return rc;
}

int perf_conn_open(struct perf_conn *c, const struct perf_uri *u, size_t out_cap, int timeout_ms)
{
	uint64_t deadline = perf_now_ns() + (uint64_t)timeout_ms * 1000000u;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->frame_max = PERF_FRAME_MAX;
	c->in_cap = PERF_IN_CAP;
	c->out_cap = out_cap < 65536 ? 65536 : out_cap;
	c->in = malloc(c->in_cap);
	c->out = malloc(c->out_cap);
	if (!c->in || !c->out) {
		perf_conn_fail(c, "out of memory");
		goto fail;
	}
	if (perf_conn_connect(c, u, deadline) != 0)
		goto fail;
	if (perf_conn_handshake(c, u, deadline) != 0) {
		char why[sizeof c->error];
		memcpy(why, c->error, sizeof why);
		perf_conn_fail(c, "handshake with %s:%u failed: %s", u->host, u->port, why);
		goto fail;
	}
	return 0;
fail:
	/* leave nothing behind, so a failed open needs no perf_conn_close (it is harmless) */
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->in);
	free(c->out);
	c->in = NULL;
	c->out = NULL;
	return -1;
}

void perf_conn_close(struct perf_conn *c)
{
	if (c->fd >= 0) {
		struct amqp_method m = { .id = AMQP_CHANNEL_CLOSE }, ok;
		uint64_t deadline = perf_now_ns() + 5000000000ull;
		/* channel.close first: RabbitMQ drops publishes still queued inside the broker
		 * when connection.close overtakes them; channel close-ok comes after them all */
		m.u.channel_close.reply_code = AMQP_REPLY_SUCCESS;
		m.u.channel_close.reply_text = AMQP_STR_LIT("bye");
		if (perf_conn_put_method(c, 1, &m) == 0 && perf_conn_flush(c, deadline) == 0 &&
		    perf_conn_expect(c, 1, AMQP_CHANNEL_CLOSE_OK, &ok, deadline) == 0) {
			memset(&m, 0, sizeof m);
			m.id = AMQP_CONNECTION_CLOSE;
			m.u.connection_close.reply_code = AMQP_REPLY_SUCCESS;
			m.u.connection_close.reply_text = AMQP_STR_LIT("bye");
			if (perf_conn_put_method(c, 0, &m) == 0 &&
			    perf_conn_flush(c, deadline) == 0)
				perf_conn_expect(c, 0, AMQP_CONNECTION_CLOSE_OK, &ok, deadline);
		}
		close(c->fd);
		c->fd = -1;
	}
	free(c->in);
	free(c->out);
	c->in = NULL;
	c->out = NULL;
}
