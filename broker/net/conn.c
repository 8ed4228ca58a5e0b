/* broker/net/conn.c: one client connection. Only this file and its socket half, conn_io.c, read
 * the socket. Each loop turn a connection handles at most CONN_TURN_BYTES of input (what is
 * left waits for the next turn, after the other connections have had theirs), then queue
 * dispatch and confirm flushes run once (deferred tasks) and each connection's output is written
 * in one go at the end of the turn (conn_io_flush). Acks that give
 * consumers credit make their queues dispatch at the end of the connection's batch, not at the
 * end of the turn. Publishers whose queues are not drained fast enough stop being read (flow,
 * conn_flow_hold). A connection is never freed inside its own callback chain:
 * conn_schedule_free frees it from a fresh loop callback. */
#include "broker/net/conn.h"
#include "broker/net/conn_events.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "amqp/frame.h"
#include "amqp/reply_codes.h"
#include "broker/auth/auth.h"
#include "broker/core/broker.h"
#include "broker/net/channel.h"
#include "broker/net/handler.h"
#include "broker/core/config.h"
#include "broker/queue/consumer.h"
#include "broker/auth/limits.h"
#include "broker/core/log.h"
#include "broker/queue/queue.h"
#include "broker/core/time.h"

/* Input one connection may handle per loop turn: a flooding publisher gets through about a
 * thousand small messages, then the other connections (a consumer's acks) have their turn. */
#define CONN_TURN_BYTES (64u << 10)
/* Largest frame read before tune-ok when frame_max = 0 (no limit): the default frame_max, so a
 * client that has not logged in cannot make the broker hold a huge frame. */
#define CONN_FRAME_PRE_TUNE_MAX 131072u
#define CONN_CLOSE_TIMEOUT_MS 3000
#define CONN_HEARTBEAT_MISSES 4 /* ticks of heartbeat/2 without input: two heartbeats */

static void conn_process_input(struct conn *c, struct evbuffer *in, size_t *budget);
static void conn_on_timer(evutil_socket_t fd, short what, void *arg);
static ssize_t conn_expect_frame(struct conn *c, const uint8_t *p, size_t len);
static void conn_on_release(struct deferred *d);
static void conn_on_flow_resume(struct queue_flow_wait *w);
static void conn_flow_end(struct conn *c);

static void conn_timer_arm(struct conn *c, uint64_t ms, bool persist)
{
	if (c->fail_soon) { /* a drop is due on the next loop turn: nothing may postpone it */
		ms = 0;
		persist = false;
	}
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };
	event_del(c->timer);
	event_assign(c->timer, c->broker->base, -1, persist ? EV_PERSIST : 0,
		     conn_on_timer, c);
	event_add(c->timer, &tv);
}

struct conn *conn_new(struct broker *b, int fd, const struct sockaddr *peer, int peerlen,
		      void *ssl_ctx)
{
	(void)peerlen;
	struct conn *c = calloc(1, sizeof *c);
	if (!c) {
		evutil_closesocket(fd);
		return NULL;
	}
	c->broker = b;
	c->id = ++b->next_conn_id;
	c->state = CONN_AWAIT_HEADER;
	c->expect = conn_expect_protocol_header;
	c->frame_max = b->cfg->frame_max ? b->cfg->frame_max : conn_frame_ceiling(b);
	c->channel_max = b->cfg->channel_max;
	c->release_task.fn = conn_on_release;
	c->flow_wait.resume = conn_on_flow_resume;
	list_init(&c->flow_wait.link);
	channel_table_init(&c->channels, rng_u64(&b->rng));
	list_init(&c->channel_list);
	list_init(&c->exclusive_queues);
	c->opened_ms = time_now_ms();

	struct sockaddr_storage local;
	socklen_t llen = sizeof local;
	char lhost[64] = "?";
	uint16_t lport = 0;
	if (peer->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)peer;
		inet_ntop(AF_INET, &sin->sin_addr, c->peer_host, sizeof c->peer_host);
		c->peer_port = ntohs(sin->sin_port);
	} else if (peer->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)peer;
		inet_ntop(AF_INET6, &sin6->sin6_addr, c->peer_host, sizeof c->peer_host);
		c->peer_port = ntohs(sin6->sin6_port);
	}
	c->peer_loopback = auth_addr_is_loopback(peer);
	if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0) {
		if (local.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&local;
			inet_ntop(AF_INET, &sin->sin_addr, lhost, sizeof lhost);
			lport = ntohs(sin->sin_port);
		} else if (local.ss_family == AF_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&local;
			inet_ntop(AF_INET6, &sin6->sin6_addr, lhost, sizeof lhost);
			lport = ntohs(sin6->sin6_port);
		}
	}
	snprintf(c->name, sizeof c->name, "%s:%u -> %s:%u", c->peer_host, (unsigned)c->peer_port,
		 lhost, (unsigned)lport);

	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	evutil_make_socket_nonblocking(fd);
	c->timer = event_new(b->base, -1, 0, conn_on_timer, c);
	if (!c->timer) {
		evutil_closesocket(fd);
		free(c);
		return NULL;
	}
	if (conn_io_open(c, fd, ssl_ctx) != 0) { /* closed fd */
		event_free(c->timer);
		free(c);
		return NULL;
	}
	list_append(&b->conns, &c->link);
	b->conn_count++;
	b->stats.connections_opened++;
	if (b->cfg->handshake_timeout) /* 0: handshake_timeout = infinity */
		conn_timer_arm(c, b->cfg->handshake_timeout, false);
	log_debug(c->broker->log, "accepting AMQP connection %s", c->name);
	return c;
}

static void conn_release_now(struct conn *c);

static void conn_free(struct conn *c)
{
	struct broker *b = c->broker;
	conn_release_now(c);
	list_remove(&c->link);
	b->conn_count--;
	b->stats.connections_closed++;
	event_free(c->timer);
	if (c->input_ev)
		event_free(c->input_ev);
	conn_io_close(c);
	channel_table_free(&c->channels);
	free(c->client_props);
	free(c);
}

static void conn_on_free(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	conn_free(arg);
}

static void conn_schedule_free(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	conn_io_stop(c);
	event_del(c->timer);
	if (c->input_ev)
		event_del(c->input_ev);
	struct timeval zero = { 0, 0 };
	if (event_base_once(c->broker->base, -1, EV_TIMEOUT, conn_on_free, c, &zero) != 0)
		log_error(c->broker->log, "cannot schedule freeing connection %s", c->name);
}

/* Channels, consumers, unacked deliveries (requeued) and exclusive queues go when the
 * connection stops being usable, not when the socket finally closes; but never under a caller:
 * conn_release only schedules it for the end of the loop turn. */
static void conn_release_now(struct conn *c)
{
	if (c->released)
		return;
	c->released = true;
	broker_cancel_deferred(c->broker, &c->release_task);
	conn_flow_end(c); /* before its exclusive queues go: their delete would resume it */
	while (!list_is_empty(&c->channel_list)) {
		struct channel *ch = list_entry(c->channel_list.next, struct channel, conn_link);
		conn_channel_remove(c, ch);
		channel_free(ch);
	}
	while (!list_is_empty(&c->exclusive_queues)) {
		struct queue *q = list_entry(c->exclusive_queues.next, struct queue, owner_link);
		queue_delete(q);
	}
	conn_event_closed(c);
}

static void conn_on_release(struct deferred *d)
{
	conn_release_now((struct conn *)((char *)d - offsetof(struct conn, release_task)));
}

static void conn_release(struct conn *c)
{
	if (!c->released)
		broker_defer(c->broker, &c->release_task);
}

static void conn_close_after_flush(struct conn *c)
{
	c->state = CONN_CLOSED;
	conn_io_reading(c, false);
	if (evbuffer_get_length(c->out) == 0) {
		conn_schedule_free(c);
		return;
	}
	conn_io_output_added(c); /* freed once written: conn_on_written */
	conn_timer_arm(c, CONN_CLOSE_TIMEOUT_MS, false);
}

void conn_linger(struct conn *c)
{
	conn_release(c);
	c->state = CONN_CLOSED;
	c->lingering = true;
	conn_timer_arm(c, CONN_CLOSE_TIMEOUT_MS, false);
}

void conn_drop(struct conn *c, const char *why)
{
	if (c->dead)
		return;
	if (c->state < CONN_CLOSED)
		log_info(c->broker->log, "closing AMQP connection %s: %s", c->name, why);
	conn_release(c);
	conn_close_after_flush(c);
}

void conn_destroy(struct conn *c)
{
	conn_free(c); /* releases what is left */
}

void conn_note_output(struct conn *c)
{
	conn_io_output_added(c);
	if (!c->output_blocked && evbuffer_get_length(c->out) > CONN_OUTPUT_HIGH)
		c->output_blocked = true;
}

void conn_fail_soon(struct conn *c, const char *why)
{
	if (c->dead || c->fail_soon)
		return;
	c->fail_soon = why;
	conn_timer_arm(c, 0, false);
}

int conn_send_method(struct conn *c, uint16_t channel, const struct amqp_method *m)
{
	uint8_t buf[8192];
	ssize_t n = amqp_method_encode(m, buf + AMQP_FRAME_HEADER_SIZE,
				       sizeof buf - AMQP_FRAME_OVERHEAD);
	if (n < 0) {
		log_error(c->broker->log, "cannot encode %s", amqp_method_name(m->id));
		return -1;
	}
	amqp_frame_header_encode(buf, AMQP_FRAME_METHOD, channel, (uint32_t)n);
	buf[AMQP_FRAME_HEADER_SIZE + (size_t)n] = AMQP_FRAME_END;
	size_t total = (size_t)n + AMQP_FRAME_OVERHEAD;
	if (evbuffer_add(conn_output(c), buf, total) != 0) {
		/* A frame is missing from the stream: the client would wait for it forever. */
		conn_fail_soon(c, "out of memory writing");
		return -1;
	}
	c->send_oct += total;
	conn_note_output(c);
	return 0;
}

static void conn_vclose(struct conn *c, int code, uint32_t method,
			const char *fmt, va_list ap)
{
	char text[256];
	int n = snprintf(text, sizeof text, "%s - ", amqp_reply_code_name(code));
	vsnprintf(text + n, sizeof text - (size_t)n, fmt, ap);
	struct amqp_method m = { .id = AMQP_CONNECTION_CLOSE };
	m.u.connection_close.reply_code = (uint16_t)code;
	m.u.connection_close.reply_text = amqp_str_c(text);
	m.u.connection_close.class_id = AMQP_METHOD_CLASS(method);
	m.u.connection_close.method_id = AMQP_METHOD_INDEX(method);
	if (code != AMQP_CONNECTION_FORCED)
		log_warn(c->broker->log, "closing AMQP connection %s: %s", c->name, text);
	else
		log_info(c->broker->log, "closing AMQP connection %s: %s", c->name, text);
	conn_release(c);
	if (conn_send_method(c, 0, &m) != 0) {
		conn_close_after_flush(c);
		return;
	}
	if (c->blocked || conn_in_flow(c)) {
		/* a connection blocked by an alarm or in flow must still be read for its close-ok */
		c->blocked = false;
		conn_flow_end(c);
		if (!c->input_paused)
			conn_io_reading(c, true);
	}
	c->state = CONN_CLOSING;
	c->expect = conn_expect_frame;
	conn_timer_arm(c, CONN_CLOSE_TIMEOUT_MS, false);
}

int conn_fail(struct conn *c, int code, uint32_t method, const char *fmt, ...)
{
	va_list ap;
	if (c->dead || c->state >= CONN_CLOSING)
		return -1;
	va_start(ap, fmt);
	conn_vclose(c, code, method, fmt, ap);
	va_end(ap);
	return -1;
}

void conn_force_close(struct conn *c, const char *text)
{
	if (c->dead || c->state >= CONN_CLOSING)
		return;
	if (c->state != CONN_OPEN) {
		conn_drop(c, text);
		return;
	}
	conn_fail(c, AMQP_CONNECTION_FORCED, 0, "%s", text);
}

void conn_channel_remove(struct conn *c, struct channel *ch)
{
	if (channel_table_remove(&c->channels, ch->id) == ch) {
		list_remove(&ch->conn_link);
		c->channel_count--;
	}
}

int conn_channel_put(struct conn *c, struct channel *ch)
{
	if (channel_table_put(&c->channels, ch->id, ch) != 0)
		return -1;
	list_append(&c->channel_list, &ch->conn_link);
	c->channel_count++;
	return 0;
}

uint32_t conn_frame_ceiling(const struct broker *b)
{
	uint64_t body_max = b->cfg->max_message_size; /* at most 512 MiB */
	if (body_max < CONN_FRAME_PRE_TUNE_MAX)
		body_max = CONN_FRAME_PRE_TUNE_MAX;
	return (uint32_t)body_max + AMQP_FRAME_OVERHEAD;
}

/* Erlang's rendering of a binary, as RabbitMQ puts frame bytes into FRAME_ERROR texts. */
static void conn_format_octets(char *out, size_t cap, const uint8_t *p, size_t len)
{
	bool printable = len > 0;
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (p[i] < 32 || p[i] > 126)
			printable = false;
	n += (size_t)snprintf(out + n, cap - n, printable ? "<<\"" : "<<");
	for (size_t i = 0; i < len && n + 8 < cap; i++) {
		if (printable) {
			if (p[i] == '"' || p[i] == '\\')
				out[n++] = '\\';
			out[n++] = (char)p[i];
		} else {
			n += (size_t)snprintf(out + n, cap - n, i ? ",%u" : "%u", p[i]);
		}
	}
	if (n < cap)
		snprintf(out + n, cap - n, printable ? "\">>" : ">>");
}

static int conn_on_channel_frame(struct conn *c, const struct amqp_frame *f)
{
	struct channel *ch = conn_channel(c, f->channel);
	if (ch)
		return channel_on_frame(ch, f);
	struct amqp_method m;
	if (f->type == AMQP_FRAME_METHOD) {
		enum amqp_decode_status st = amqp_method_decode(&m, f->payload, f->size);
		if (st == AMQP_DECODE_OK && m.id == AMQP_CHANNEL_OPEN)
			return c->broker->handler->channel_open(c, f->channel);
		if (st != AMQP_DECODE_UNKNOWN || f->size >= 4)
			return conn_fail(c, AMQP_CHANNEL_ERROR, m.id, "expected 'channel.open'");
	}
	return conn_fail(c, AMQP_CHANNEL_ERROR, 0, "expected 'channel.open'");
}

static int conn_on_frame(struct conn *c, const struct amqp_frame *f)
{
	if (f->type == AMQP_FRAME_HEARTBEAT) {
		if (f->channel != 0)
			return conn_fail(c, AMQP_UNEXPECTED_FRAME, 0,
					 "type 8, all octets = <<>>");
		return 0;
	}
	if (c->state == CONN_CLOSING) {
		/* Only connection.close-ok (or a crossing close) matters now. */
		struct amqp_method m;
		if (f->channel == 0 && f->type == AMQP_FRAME_METHOD &&
		    amqp_method_decode(&m, f->payload, f->size) == AMQP_DECODE_OK) {
			if (m.id == AMQP_CONNECTION_CLOSE_OK) {
				conn_close_after_flush(c);
				return -1;
			}
			if (m.id == AMQP_CONNECTION_CLOSE) {
				struct amqp_method ok = { .id = AMQP_CONNECTION_CLOSE_OK };
				conn_send_method(c, 0, &ok);
				conn_close_after_flush(c);
				return -1;
			}
		}
		return 0;
	}
	if (f->channel == 0) {
		struct amqp_method m;
		if (f->type != AMQP_FRAME_METHOD)
			return conn_fail(c, AMQP_UNEXPECTED_FRAME, 0,
					 "expected method frame, got non method frame instead");
		enum amqp_decode_status st = amqp_method_decode(&m, f->payload, f->size);
		if (st == AMQP_DECODE_UNKNOWN)
			return conn_fail(c, AMQP_NOT_IMPLEMENTED, m.id, "unknown class/method %u/%u",
					 (unsigned)AMQP_METHOD_CLASS(m.id),
					 (unsigned)AMQP_METHOD_INDEX(m.id));
		if (st != AMQP_DECODE_OK)
			return conn_fail(c, AMQP_SYNTAX_ERROR, m.id, "malformed arguments for method %s",
					 amqp_method_name(m.id));
		if (AMQP_METHOD_CLASS(m.id) != AMQP_CLASS_CONNECTION)
			return conn_fail(c, AMQP_CHANNEL_ERROR, m.id,
					 "unexpected method in connection state %s",
					 c->state == CONN_OPEN ? "running" : "opening");
		return c->broker->handler->connection(c, &m);
	}
	if (c->state != CONN_OPEN)
		return conn_fail(c, AMQP_COMMAND_INVALID, 0,
				 "frame on channel %u before connection.open",
				 (unsigned)f->channel);
	return conn_on_channel_frame(c, f);
}

static ssize_t conn_expect_frame(struct conn *c, const uint8_t *p, size_t len)
{
	struct amqp_frame f;
	enum amqp_frame_error err = AMQP_FRAME_ERR_NONE;
	/* Before tune-ok the negotiated size is unknown: allow the server's maximum. */
	uint32_t max = c->frame_max;
	if (c->state < CONN_AWAIT_OPEN)
		max = c->broker->cfg->frame_max ? c->broker->cfg->frame_max :
						  CONN_FRAME_PRE_TUNE_MAX;
	ssize_t n = amqp_frame_decode(&f, p, len, max, &err);
	if (n == 0) {
		c->need = len < AMQP_FRAME_HEADER_SIZE ?
				  AMQP_FRAME_HEADER_SIZE :
				  (size_t)amqp_get_u32(p + 3) + AMQP_FRAME_OVERHEAD;
		return 0;
	}
	if (n < 0) {
		char octets[160];
		switch (err) {
		case AMQP_FRAME_ERR_TOO_LARGE:
			conn_fail(c, AMQP_FRAME_ERROR, 0,
				  "type %u, all octets = <<>>: {frame_too_large,%u,%u}",
				  (unsigned)f.type, (unsigned)f.size,
				  (unsigned)(max - AMQP_FRAME_OVERHEAD));
			break;
		case AMQP_FRAME_ERR_BAD_END:
			conn_format_octets(octets, sizeof octets, f.payload, f.size);
			conn_fail(c, AMQP_FRAME_ERROR, 0,
				  "type %u, all octets = %s: {invalid_frame_end_marker,%u}",
				  (unsigned)f.type, octets,
				  (unsigned)p[AMQP_FRAME_HEADER_SIZE + f.size]);
			break;
		default:
			conn_format_octets(octets, sizeof octets, f.payload, f.size);
			conn_fail(c, AMQP_FRAME_ERROR, 0, "type %u, all octets = %s: unknown_frame",
				  (unsigned)f.type, octets);
			break;
		}
		conn_close_after_flush(c); /* the byte stream is lost: no close-ok can follow */
		return -1;
	}
	c->recv_oct += (uint64_t)n;
	conn_on_frame(c, &f); /* a failure has already set the state */
	return c->dead || c->state == CONN_CLOSED ? -1 : n;
}

ssize_t conn_expect_protocol_header(struct conn *c, const uint8_t *p, size_t len)
{
	int ok = amqp_protocol_header_check(p, len);
	if (ok == 0) {
		c->need = AMQP_PROTOCOL_HEADER_SIZE;
		return 0;
	}
	if (ok < 0) {
		evbuffer_add(c->out, AMQP_PROTOCOL_HEADER, AMQP_PROTOCOL_HEADER_SIZE);
		conn_drop(c, "bad protocol header");
		return -1;
	}
	c->expect = conn_expect_frame;
	c->recv_oct += AMQP_PROTOCOL_HEADER_SIZE;
	if (c->broker->handler->start(c) != 0)
		return -1;
	return AMQP_PROTOCOL_HEADER_SIZE;
}

/* Whether input may be handled now, and read from the socket. */
static bool conn_may_handle(const struct conn *c)
{
	return !c->dead && c->state != CONN_CLOSED && !c->fail_soon && !c->blocked &&
	       !c->input_paused && !conn_in_flow(c) &&
	       !(c->published && c->broker->alarm_reason);
}

static bool conn_may_read(const struct conn *c)
{
	return conn_may_handle(c) && !c->peer_closed;
}

static void conn_peer_gone(struct conn *c);
static void conn_on_peer_closed(struct conn *c);

static void conn_on_input_ev(evutil_socket_t fd, short what, void *arg);

/* Handles the input already buffered on the next loop turn, after that turn's socket events:
 * a zero timeout fires after the I/O callbacks of the turn it is due in, never in the turn
 * that armed it. */
static void conn_schedule_input(struct conn *c)
{
	static const struct timeval zero = { 0, 0 };
	if (c->dead)
		return;
	if (!c->input_ev) {
		c->input_ev = event_new(c->broker->base, -1, 0, conn_on_input_ev, c);
		if (!c->input_ev) {
			conn_fail_soon(c, "out of memory scheduling input");
			return;
		}
	}
	if (!event_pending(c->input_ev, EV_TIMEOUT, NULL))
		event_add(c->input_ev, &zero);
}

/* Consumers on its channels were given credit by acks in this batch: their queues deliver now,
 * before the next connection's input. */
static void conn_run_credit(struct conn *c)
{
	c->credit_pending = false;
	struct list *cpos;
	list_for_each(cpos, &c->channel_list)
	{
		struct channel *ch = list_entry(cpos, struct channel, conn_link);
		if (!ch->credit)
			continue;
		ch->credit = false;
		struct list *pos, *tmp;
		list_for_each_safe(pos, tmp, &ch->consumer_list)
		{
			struct consumer *cons = list_entry(pos, struct consumer, channel_link);
			if (consumer_can_take(cons))
				queue_credit(cons->q);
		}
		if (c->dead || c->state != CONN_OPEN)
			break;
	}
}

/* One turn's worth of input: what is buffered, then (plain TCP) one read, at most
 * CONN_TURN_BYTES handled in all. Every complete frame read is handled eventually: what the
 * budget leaves waits for the next turn (conn_schedule_input), since the socket may have
 * nothing more to wake the loop with. */
static void conn_run_input(struct conn *c)
{
	struct evbuffer *in = c->in;
	size_t budget = CONN_TURN_BYTES;
	bool eof = false;

	if (c->state == CONN_CLOSED && !c->dead) {
		/* lingering after close-ok: what comes is dropped, EOF ends it */
		if (conn_io_read(c) < 0)
			eof = true;
		evbuffer_drain(in, evbuffer_get_length(in));
		if (eof)
			conn_peer_gone(c);
		return;
	}
	c->in_callback = true;
	conn_process_input(c, in, &budget);
	size_t held = evbuffer_get_length(in);
	/* read unless a turn's worth of complete frames is already buffered */
	if (budget && conn_may_read(c) && (held < CONN_TURN_BYTES || held < c->need)) {
		ssize_t got = conn_io_read(c);
		if (got < 0)
			eof = true;
		else if (got > 0)
			conn_process_input(c, in, &budget);
	}
	if (c->credit_pending && !c->dead)
		conn_run_credit(c);
	size_t left = evbuffer_get_length(in);
	if (c->dead || c->state == CONN_CLOSED)
		evbuffer_drain(in, left);
	else if (c->published && c->broker->alarm_reason)
		conn_block(c, c->broker->alarm_reason);
	else if (budget == 0 && left > 0 && conn_may_handle(c))
		conn_schedule_input(c);
	c->in_callback = false;
	if (eof && !c->dead)
		conn_on_peer_closed(c);
	else if (c->peer_closed && !c->dead && (left == 0 || c->blocked || c->state != CONN_OPEN ||
						(budget > 0 && conn_may_handle(c))))
		conn_peer_gone(c); /* handled all it sent before hanging up that can be */
}

void conn_on_readable(struct conn *c)
{
	conn_run_input(c);
}

static void conn_on_input_ev(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct conn *c = arg;
	if (conn_may_handle(c))
		conn_run_input(c);
	else if (c->peer_closed && c->blocked)
		conn_peer_gone(c);
}

/* True (and reading stops) when the replies waiting for the client pass CONN_INPUT_PAUSE:
 * without it a client that pipelines basic.get and never reads could make the broker copy
 * 100 KiB of properties per 40 bytes it sends. conn_on_write reads again. */
static bool conn_input_should_pause(struct conn *c)
{
	if (c->input_paused)
		return true;
	if (evbuffer_get_length(conn_output(c)) <= CONN_INPUT_PAUSE)
		return false;
	c->input_paused = true;
	conn_io_reading(c, false);
	return true;
}

/* Whether handling input must stop here: the connection is going, or waits for its output
 * or for a queue (flow). A resource alarm does not stop it: the input already read is
 * handled, then reading stops. */
static bool conn_input_stopped(struct conn *c)
{
	return c->dead || c->state == CONN_CLOSED || c->fail_soon || conn_in_flow(c) ||
	       conn_input_should_pause(c);
}

/* Runs the connection's phase over the complete frames in the input buffer until *budget
 * bytes have been handled (the frame that crosses it is finished) or input must stop; what is
 * left stays buffered. */
static void conn_process_input(struct conn *c, struct evbuffer *in, size_t *budget)
{
	while (*budget && !conn_input_stopped(c)) {
		size_t avail = evbuffer_get_length(in);
		if (avail == 0)
			break;
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		const uint8_t *p = v.iov_base;
		size_t len = v.iov_len, used = 0;
		ssize_t r = 1;
		while (used < len && used < *budget && !conn_input_stopped(c)) {
			r = c->expect(c, p + used, len - used);
			if (r <= 0)
				break;
			used += (size_t)r;
		}
		if (used && !c->dead)
			evbuffer_drain(in, used);
		*budget -= used < *budget ? used : *budget;
		if (r < 0 || c->dead || c->state == CONN_CLOSED)
			break;
		if (r == 0 && used == 0) {
			/* The next frame spans buffer chains: make it contiguous if it is all here. */
			if (len >= c->need || c->need > avail)
				break;
			if (!evbuffer_pullup(in, (ssize_t)c->need)) {
				conn_fail(c, AMQP_INTERNAL_ERROR, 0, "out of memory reading");
				break;
			}
		}
	}
}

void conn_block(struct conn *c, const char *reason)
{
	if (c->blocked || c->dead || c->state != CONN_OPEN)
		return;
	c->blocked = true;
	conn_io_reading(c, false);
	if (c->cap_blocked) {
		struct amqp_method m = { .id = AMQP_CONNECTION_BLOCKED };
		m.u.connection_blocked.reason = amqp_str_c(reason);
		conn_send_method(c, 0, &m);
	}
}

void conn_unblock(struct conn *c)
{
	if (!c->blocked || c->dead)
		return;
	c->blocked = false;
	c->hb_misses = 0;
	if (c->state != CONN_OPEN)
		return;
	if (!c->input_paused && !conn_in_flow(c)) {
		conn_io_reading(c, !c->peer_closed);
		conn_schedule_input(c); /* what was read before the block */
	}
	if (c->cap_blocked) {
		struct amqp_method m = { .id = AMQP_CONNECTION_UNBLOCKED };
		conn_send_method(c, 0, &m);
	}
}

/* ---- publisher flow control ---- */

void conn_flow_hold(struct conn *c, struct queue *q)
{
	if (conn_in_flow(c) || c->unacked_count || c->dead || c->state != CONN_OPEN)
		return;
	c->flow_since_ms = time_now_ms();
	conn_io_reading(c, false);
	queue_flow_wait(q, &c->flow_wait);
}

/* Counts the time spent waiting and takes the connection off its queue's list. Reading is
 * its caller's to resume. */
static void conn_flow_end(struct conn *c)
{
	if (!c->flow_since_ms)
		return;
	queue_flow_cancel(&c->flow_wait);
	uint64_t ms = time_now_ms() - c->flow_since_ms;
	c->flow_ms += ms;
	c->broker->stats.flow_ms += ms;
	c->flow_since_ms = 0;
}

uint64_t conn_flow_ms(const struct conn *c)
{
	return c->flow_ms + (c->flow_since_ms ? time_now_ms() - c->flow_since_ms : 0);
}

/* The queue drained (or stalled, lost its consumers, went away). Called from inside that
 * queue's dispatch or delete, so this only marks and schedules: the buffered input is handled
 * on the next loop turn. */
static void conn_on_flow_resume(struct queue_flow_wait *w)
{
	struct conn *c = (struct conn *)((char *)w - offsetof(struct conn, flow_wait));
	conn_flow_end(c);
	if (c->dead || c->state == CONN_CLOSED)
		return;
	if (!c->blocked && !c->input_paused)
		conn_io_reading(c, !c->peer_closed);
	conn_schedule_input(c);
}

void conn_flow_release_for_acks(struct conn *c)
{
	if (!conn_in_flow(c))
		return;
	conn_flow_end(c);
	if (c->dead || c->state == CONN_CLOSED)
		return;
	if (!c->blocked && !c->input_paused)
		conn_io_reading(c, !c->peer_closed);
	conn_schedule_input(c);
}

static void conn_kick_consumers(struct conn *c)
{
	struct list *cpos;
	list_for_each(cpos, &c->channel_list)
	{
		struct channel *ch = list_entry(cpos, struct channel, conn_link);
		struct list *pos;
		list_for_each(pos, &ch->consumer_list)
		{
			struct consumer *cons = list_entry(pos, struct consumer, channel_link);
			queue_schedule_dispatch(cons->q);
		}
	}
}

void conn_on_written(struct conn *c, size_t left)
{
	if (c->state == CONN_CLOSED) {
		if (left == 0 && !c->lingering)
			conn_schedule_free(c);
		return;
	}
	if (c->output_blocked && left <= CONN_OUTPUT_LOW) {
		c->output_blocked = false;
		conn_kick_consumers(c);
	}
	if (c->input_paused && left <= CONN_OUTPUT_LOW) {
		c->input_paused = false;
		if (!c->blocked && !conn_in_flow(c))
			conn_io_reading(c, !c->peer_closed);
		/* Frames already buffered would otherwise wait for more input. */
		conn_run_input(c);
	}
}

/* The client is gone: release and free. */
static void conn_peer_gone(struct conn *c)
{
	if (c->dead)
		return;
	if (c->state != CONN_CLOSED && c->state != CONN_CLOSING)
		log_info(c->broker->log, "client %s closed the connection%s", c->name,
			 c->state == CONN_OPEN ? " abruptly" : "");
	conn_release(c);
	conn_schedule_free(c);
}

/* The client closed its end (EOF). What it sent before is still handled: a publisher that
 * hangs up right after its last publish may find part of it held back by a turn's budget or by
 * flow. Then the connection goes (conn_run_input). */
static void conn_on_peer_closed(struct conn *c)
{
	c->peer_closed = true;
	conn_io_reading(c, false);
	if (!c->dead && c->state == CONN_OPEN && !c->blocked && evbuffer_get_length(c->in) > 0) {
		conn_schedule_input(c);
		return;
	}
	conn_peer_gone(c);
}

void conn_on_io_end(struct conn *c, bool error)
{
	if (error)
		conn_peer_gone(c);
	else
		conn_on_peer_closed(c);
}

static void conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct conn *c = arg;
	if (c->fail_soon && c->state != CONN_CLOSED) {
		conn_drop(c, c->fail_soon);
		return;
	}
	switch (c->state) {
	case CONN_CLOSED:
		conn_schedule_free(c);
		return;
	case CONN_CLOSING:
		conn_close_after_flush(c);
		conn_schedule_free(c);
		return;
	case CONN_OPEN:
		break;
	default:
		log_warn(c->broker->log, "closing AMQP connection %s: handshake timeout", c->name);
		conn_drop(c, "handshake timeout");
		conn_schedule_free(c);
		return;
	}
	/* Heartbeat tick, every heartbeat/2 seconds. */
	if (c->send_oct == c->hb_sent_mark) {
		evbuffer_add(c->out, amqp_heartbeat_frame, sizeof amqp_heartbeat_frame);
		c->send_oct += sizeof amqp_heartbeat_frame;
		conn_note_output(c);
	}
	c->hb_sent_mark = c->send_oct;
	if (c->recv_oct == c->hb_recv_mark && !c->blocked && !c->input_paused &&
	    !conn_in_flow(c)) {
		if (++c->hb_misses >= CONN_HEARTBEAT_MISSES) {
			log_warn(c->broker->log, "closing AMQP connection %s: missed heartbeats from client, "
				 "timeout: %us",
				 c->name, (unsigned)c->heartbeat);
			conn_release(c);
			conn_schedule_free(c);
		}
	} else {
		c->hb_misses = 0;
		c->hb_recv_mark = c->recv_oct;
	}
}

void conn_start_heartbeat(struct conn *c)
{
	if (c->fail_soon)
		return; /* open-ok could not be written: the drop stays armed */
	event_del(c->timer);
	if (c->heartbeat == 0)
		return;
	c->hb_sent_mark = c->send_oct;
	c->hb_recv_mark = c->recv_oct;
	conn_timer_arm(c, (uint64_t)c->heartbeat * 500, true);
}
