/* broker/net/conn.h: one client connection: the read loop (the phase is a function pointer),
 * heartbeats, back-pressure and flow, close and free (conn.c), and its socket (conn_io.c). */
#ifndef BROKER_CONN_H
#define BROKER_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "amqp/methods_gen.h"
#include "broker/core/broker.h"
#include "broker/core/list.h"
#include "broker/net/channel_table.h"
#include "broker/queue/queue.h"

struct broker;
struct bufferevent;
struct event;
struct evbuffer;
struct channel;
struct vhost;
struct user;
struct amqp_frame;
struct sockaddr;

enum conn_state {
	CONN_AWAIT_HEADER,
	CONN_AWAIT_START_OK,
	CONN_AWAIT_TUNE_OK,
	CONN_AWAIT_OPEN,
	CONN_OPEN,
	CONN_CLOSING, /* we sent connection.close; waiting for close-ok */
	CONN_CLOSED,  /* closing the socket once output is flushed */
};

#define CONN_OUTPUT_HIGH (4u << 20) /* stop delivering above this many buffered bytes */
#define CONN_OUTPUT_LOW (1u << 20)  /* resume below this */
/* Stop reading a connection while more than this waits to be written to it (a client that
 * pipelines requests and never reads the replies); read again below CONN_OUTPUT_LOW. Higher
 * than CONN_OUTPUT_HIGH so that deliveries alone never stop a consumer's acks being read. */
#define CONN_INPUT_PAUSE (16u << 20)
/* Most bytes one read takes from the socket. */
#define CONN_READ_MAX (256u << 10)

struct conn {
	struct broker *broker;
	/* The socket (conn_io.c). Plain TCP: fd with its own buffers and events, reading while
	 * `reading`, EV_WRITE armed only while the socket did not take all of out (`writing`),
	 * out written by flush_task at the end of the turn it was filled in. TLS: bev (a
	 * bufferevent_openssl), in and out being its buffers. */
	int fd;
	struct bufferevent *bev;
	struct evbuffer *in, *out;
	struct event *rev, *wev;
	bool reading, writing;
	bool output_held; /* conn_io_hold_output: nothing written until released */
	struct deferred flush_task;
	struct list link;
	uint64_t id;
	char name[160];  /* "127.0.0.1:50000 -> 127.0.0.1:5672", as the management API names it */
	char peer_host[64];
	uint16_t peer_port;
	bool peer_loopback;
	enum conn_state state;
	ssize_t (*expect)(struct conn *c, const uint8_t *p, size_t len);
	size_t need; /* bytes the current expect() needs contiguous, set when it returns 0 */

	/* Negotiated in tune-ok. frame_max is the largest frame read or written (a negotiated 0,
	 * "no limit", becomes conn_frame_ceiling); channel_max caps how many channels are open at
	 * once, whatever their numbers (0: no cap), as RabbitMQ does. */
	uint32_t frame_max;
	uint16_t channel_max;
	uint16_t heartbeat;
	struct channel_table channels; /* open (and closing) channels by number */
	struct list channel_list;      /* the same channels, in the order they were opened */
	uint32_t channel_count;
	/* Declared body sizes of the messages its channels are still receiving (the broker has
	 * allocated them): at most max_partial_message_bytes_per_connection. */
	uint64_t partial_bytes;

	struct user *user;
	/* Set by the broker for its own connections (a shovel reaching this broker through a
	 * socketpair): the login is this user's, whatever the client sends, as RabbitMQ's direct
	 * connections are trusted. */
	struct user *trusted_user;
	struct vhost *vhost;
	char *client_props; /* copy of the client-properties table bytes (management API) */
	uint32_t client_props_len;
	bool cap_auth_failure_close, cap_cancel_notify, cap_blocked;
	bool tls;
	char tls_cn[128]; /* verified client certificate's CN, for SASL EXTERNAL */

	struct event *timer; /* handshake timeout, heartbeats, close timeout */
	uint64_t last_rx_ms, last_tx_ms, opened_ms;
	uint64_t recv_oct, send_oct;
	uint64_t hb_sent_mark, hb_recv_mark; /* counters at the last heartbeat tick */
	uint32_t hb_misses;

	bool dead;          /* free when the callback chain unwinds */
	bool in_callback;
	bool output_blocked; /* above CONN_OUTPUT_HIGH: no deliveries */
	bool lingering;      /* closed; waiting for the client to hang up */
	bool peer_closed;    /* EOF from the client: what it sent is handled, then it goes */
	bool published;      /* has sent basic.publish: blocked under a resource alarm */
	bool blocked;        /* not read because of a resource alarm */
	bool input_paused;   /* not read: output above CONN_INPUT_PAUSE */
	/* Publisher flow control: not read while flow_wait.q is set (a queue it published to
	 * is not being drained fast enough); flow_ms counts the time spent so. */
	struct queue_flow_wait flow_wait;
	uint64_t flow_since_ms, flow_ms;
	/* Deliveries its client has not settled yet: such a connection is never put in flow,
	 * since the acks that would drain the queue come in on it. */
	uint32_t unacked_count;
	/* An ack gave one of its channels' consumers credit: their queues dispatch when this
	 * batch of input is done, in the same loop turn (channel->credit marks which). */
	bool credit_pending;
	/* Runs input that is already buffered on the next loop turn (a turn's budget ran out, or
	 * reading resumed); created when first needed. */
	struct event *input_ev;
	const char *fail_soon; /* set by conn_fail_soon: not read, dropped on the next loop turn */
	/* Failing or closing a connection only marks it; its channels, consumers and exclusive
	 * queues are released by this deferred task, after every caller that still holds one of
	 * them has returned (or by conn_free, whichever comes first). */
	struct deferred release_task;
	bool released;
	struct list exclusive_queues;
};

/* Takes ownership of fd. ssl_ctx (an SSL_CTX *) makes it a TLS connection. */
struct conn *conn_new(struct broker *b, int fd, const struct sockaddr *peer, int peerlen,
		      void *ssl_ctx);
/* Sends connection.close(code, "<NAME> - text", the class and method of method (an AMQP_*
 * method id, 0 for none)), waits for close-ok (or a
 * timeout) and closes. The connection stops delivering and reading at once; its channels,
 * consumers and exclusive queues stay valid until the end of the loop turn (release_task), so
 * a caller deep in the stack never sees them vanish. Returns -1 so callers can
 * `return conn_fail(...)`. */
int conn_fail(struct conn *c, int code, uint32_t method, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* For failures where even a close frame may not fit (out of memory writing): input stops now,
 * and the socket is closed without a close frame on the next loop turn. */
void conn_fail_soon(struct conn *c, const char *why);
/* After connection.close-ok to the client: the socket stays open until the client hangs up
 * (or a timeout), as RabbitMQ does; input is discarded. */
void conn_linger(struct conn *c);
/* Closes the socket without a close frame (after flushing what is queued). */
void conn_drop(struct conn *c, const char *why);
/* The broker is stopping and its loop will not run again: releases and frees the connection
 * now (conn_drop would leave the freeing to the loop). */
void conn_destroy(struct conn *c);
/* Broker-initiated close (shutdown, management API): 320 CONNECTION_FORCED. */
void conn_force_close(struct conn *c, const char *text);

/* Output. Every write goes into the output buffer and is followed by conn_note_output, which
 * checks the high watermark and has the buffer written at the end of the loop turn. */
static inline struct evbuffer *conn_output(struct conn *c)
{
	return c->out;
}
int conn_send_method(struct conn *c, uint16_t channel, const struct amqp_method *m);
void conn_note_output(struct conn *c);

/* The channel with this number (open or closing), or NULL. */
static inline struct channel *conn_channel(struct conn *c, uint16_t id)
{
	return channel_table_find(&c->channels, id);
}
/* Forgets the channel (the caller frees it). */
void conn_channel_remove(struct conn *c, struct channel *ch);
/* Registers a new channel under ch->id. 0, or -1 out of memory. */
int conn_channel_put(struct conn *c, struct channel *ch);
/* With frame_max = 0 ("no limit") the broker still holds a whole frame in memory before it
 * handles it: frames may then be as large as the largest message body it accepts
 * (max_message_size) plus the frame overhead, and no larger. */
uint32_t conn_frame_ceiling(const struct broker *b);

/* Arms the heartbeat tick (heartbeat/2 s) once tune-ok has set c->heartbeat. */
void conn_start_heartbeat(struct conn *c);

/* Publisher flow control: q, which the connection just published to, wants its publishers to
 * wait. The connection stops handling and reading input until q has drained (or stalled, or
 * lost its consumers, or gone), unless its client holds unacked deliveries. */
void conn_flow_hold(struct conn *c, struct queue *q);
/* Whether it is waiting for a queue now (the management API shows "flow"). */
static inline bool conn_in_flow(const struct conn *c)
{
	return c->flow_wait.q != NULL;
}
/* A delivery its client must settle went out on a connection in flow: it is read again, so
 * that the acks can come in (a connection that publishes and consumes must not wait for a
 * queue that only its own acks would drain). */
void conn_flow_release_for_acks(struct conn *c);
/* Milliseconds spent in flow so far, the current wait included. */
uint64_t conn_flow_ms(const struct conn *c);

/* Resource alarms: stop reading a publishing connection (connection.blocked to clients that
 * announced the capability), and resume. */
void conn_block(struct conn *c, const char *reason);
void conn_unblock(struct conn *c);

/* conn_io.c: the socket. open: 0, or -1 with fd closed. stop: no callback any more (the
 * connection is to be freed); close: frees the buffers and events and closes the socket.
 * reading: whether the socket is read. read: one readv of up to CONN_READ_MAX into c->in:
 * bytes read, 0 when none are waiting (and always for TLS, whose bufferevent reads), -1 at EOF
 * or on an error. output_added: c->out is written at the end of this loop turn. flush: writes
 * c->out now, as far as the socket takes it. hold_output: while held, c->out fills but nothing
 * is written (the cluster holds a reply until what it promises is replicated); releasing
 * writes what waits at the end of the turn. */
int conn_io_open(struct conn *c, int fd, void *ssl_ctx);
void conn_io_stop(struct conn *c);
void conn_io_close(struct conn *c);
void conn_io_reading(struct conn *c, bool on);
ssize_t conn_io_read(struct conn *c);
void conn_io_output_added(struct conn *c);
void conn_io_flush(struct conn *c);
void conn_io_hold_output(struct conn *c, bool hold);
/* conn.c's side, called by conn_io.c: the socket is readable (TLS: input was read); after a
 * write, `left` bytes wait; the client hung up (error: reset, not an orderly EOF). */
void conn_on_readable(struct conn *c);
void conn_on_written(struct conn *c, size_t left);
void conn_on_io_end(struct conn *c, bool error);

/* conn_limits.c: whether one more connection to v, connection of u, or channel of u would pass
 * that limit; *limit receives its value for the error text. self is not counted. */
bool conn_limits_vhost_connections(struct broker *b, const struct vhost *v,
				   const struct conn *self, int64_t *limit);
bool conn_limits_user_connections(struct broker *b, const struct user *u,
				  const struct conn *self, int64_t *limit);
bool conn_limits_user_channels(struct broker *b, const struct user *u, int64_t *limit);

/* Reads the protocol header: then the handler's start (connection.start), or the right header
 * back and a close for a bad one. */
ssize_t conn_expect_protocol_header(struct conn *c, const uint8_t *p, size_t len);

#endif
