/* tests/support/fixture.h: the smallest real broker a unit test can drive without sockets
 * to clients or a running event loop: a struct broker from broker_new (defaults from
 * config_init_defaults, a libevent base that never runs), its default vhost "/" and user
 * "guest", and real connections over one end of a socketpair. Queues, exchanges and messages
 * are made with the broker's own public functions. Frames the broker writes to a connection stay
 * in its output buffer, or reach the socketpair when a test runs the deferred tasks (the
 * connection's flush is one); fixture_next_method plays the client and decodes them in order.
 *
 * Nothing here is faked: the one liberty is fixture_conn, which sets the state a completed
 * handshake would leave (state, vhost, user) instead of replaying the handshake. */
#ifndef TESTS_SUPPORT_FIXTURE_H
#define TESTS_SUPPORT_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amqp/methods_gen.h"
#include "amqp/props.h"
#include "amqp/table.h"
#include "broker/core/config.h"
#include "broker/core/log.h"
#include "broker/queue/classic/qdeque.h"

struct broker;
struct conn;
struct exchange;
struct message;
struct queue;
struct user;
struct vhost;

#define FIXTURE_MAX_CONNS 32

struct fixture {
	struct log log;     /* the broker's, errors only */
	struct event_base *base;
	struct config cfg;
	struct broker *b;
	struct vhost *v;    /* "/" */
	struct user *guest; /* the default user */
	int peer_fds[FIXTURE_MAX_CONNS];
	struct conn *conns[FIXTURE_MAX_CONNS];      /* conns[i] talks to peer_fds[i] */
	struct evbuffer *received[FIXTURE_MAX_CONNS]; /* what the client side has not decoded */
	size_t peer_count;
	uint8_t frame[131072]; /* the last frame fixture_next_method took out */
};

/* Logging is lowered to errors so that expected channel errors do not flood the test log. */
struct fixture *fixture_new(void);
/* Frees the broker (its connections, vhosts, queues, exchanges, users) and the base. Channels
 * made with channel_new on a fixture connection are the test's to free first. */
void fixture_free(struct fixture *f);

/* A connection accepted by conn_new, opened in v as u (state CONN_OPEN). */
struct conn *fixture_conn(struct fixture *f, struct vhost *v, struct user *u);
/* Takes the next method frame the broker wrote to c (to its socket, or still in its output
 * buffer): true and *m decoded (borrowing f->frame until the next call), false when no complete
 * frame is there. Other frame types are skipped. */
bool fixture_next_method(struct fixture *f, struct conn *c, uint16_t *channel,
			 struct amqp_method *m);
/* Bytes the broker wrote to c that the client side has not decoded yet. */
size_t fixture_output_len(struct fixture *f, struct conn *c);

/* queue_new in v: non-durable, non-exclusive, not auto-delete. */
struct queue *fixture_queue(struct vhost *v, const char *name, struct amqp_table args);
/* exchange_new in v with the named type ("direct", "fanout", "topic", "headers"). */
struct exchange *fixture_exchange(struct vhost *v, const char *name, const char *type,
				  bool auto_delete, struct amqp_table args);
/* message_new with encoded properties p (NULL: none) and the body text; the caller holds the
 * one ref. */
struct message *fixture_message(struct fixture *f, const char *exchange, const char *routing_key,
				const struct amqp_basic_props *p, const char *body);
/* Pops q's head (queue_get) and returns its message, with the entry's ref now the caller's;
 * NULL when q is empty. e (may be NULL) receives the entry. */
struct message *fixture_pop(struct queue *q, struct qentry *e);

#endif
