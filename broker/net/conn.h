/* broker/net/conn.h: one client connection: bufferevent glue, the read loop (the phase is a
 * function pointer), heartbeats, back-pressure, close and free. */
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

struct broker;
struct bufferevent;
struct event;
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

struct conn {
	struct broker *broker;
	struct bufferevent *bev;
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
	bool published;      /* has sent basic.publish: blocked under a resource alarm */
	bool blocked;        /* not read because of a resource alarm */
	bool input_paused;   /* not read: output above CONN_INPUT_PAUSE */
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

/* Output. Every write goes through the bufferevent's output buffer; the socket write happens
 * once per loop turn. */
struct evbuffer *conn_output(struct conn *c);
int conn_send_method(struct conn *c, uint16_t channel, const struct amqp_method *m);
void conn_note_output(struct conn *c); /* checks the high watermark after writing */

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

/* Resource alarms: stop reading a publishing connection (connection.blocked to clients that
 * announced the capability), and resume. */
void conn_block(struct conn *c, const char *reason);
void conn_unblock(struct conn *c);

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
