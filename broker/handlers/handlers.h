/* broker/handlers/handlers.h: the AMQP method handlers, one file per class (connection,
 * channel, exchange, queue, basic, tx, confirm). net/ reaches them only through handlers_amqp,
 * the table server_new installs in struct broker (net/handler.h); the entry points below are
 * for the handler files themselves and their tests. */
#ifndef BROKER_HANDLERS_HANDLERS_H
#define BROKER_HANDLERS_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amqp/wire.h"
#include "broker/net/handler.h"

struct channel;
struct conn;
struct message;
struct queue;
struct amqp_method;
struct amqp_content_header;

/* Direct reply-to: the pseudo-queue a requester consumes from, and the prefix of the routing
 * keys (tokens) replies are published with. */
#define REPLY_TO_QUEUE "amq.rabbitmq.reply-to"
#define REPLY_TO_PREFIX REPLY_TO_QUEUE "."

/* The name of the vhost a channel works in, for replies' texts. */
const char *vname(const struct channel *ch);

/* The table net/ calls (handlers.c). */
extern const struct handler handlers_amqp;

/* connection.c: the handshake (connection.start after the protocol header, start-ok with SASL,
 * tune-ok, open) and the connection class afterwards (close, close-ok, blocked, update-secret). */
int handle_connection_start(struct conn *c);
int handle_connection(struct conn *c, const struct amqp_method *m);

/* channel.c: channel.open on a free number (channel_max counts open channels, the user's
 * max-channels limit), and flow and close on an open channel. */
int handle_channel_open(struct conn *c, uint16_t id);
int handle_channel(struct channel *ch, const struct amqp_method *m);

int handle_exchange(struct channel *ch, const struct amqp_method *m);
int handle_queue(struct channel *ch, const struct amqp_method *m);
/* Queue by name for the queue and basic handlers ("" = the channel's last declared queue).
 * NULL after a channel error, or with *missing_ok set when given and the queue is absent. */
struct queue *handle_queue_lookup(struct channel *ch, struct amqp_str name, bool *missing_ok);

int handle_basic(struct channel *ch, const struct amqp_method *m);
int handle_basic_content_start(struct channel *ch, const struct amqp_method *m);
int handle_basic_content_header(struct channel *ch, const struct amqp_content_header *h);
int handle_basic_content_body(struct channel *ch, const uint8_t *p, size_t len, bool complete);
/* How a publish ended, for a caller that goes on (tx.commit): handled (routed, held, returned
 * or dropped as RabbitMQ drops an unroutable message), the channel closed (404 no exchange),
 * or the connection failed. */
enum handle_route_result {
	HANDLE_ROUTE_DONE = 0,
	HANDLE_ROUTE_CHANNEL_CLOSED = 1,
	HANDLE_ROUTE_CONN_FAILED = -1,
};
/* Routes a complete publish and confirms it (seq > 0) once stored; takes the caller's
 * reference on msg, whatever the result (_take). */
enum handle_route_result handle_basic_route_take(struct channel *ch, struct message *msg,
						 bool mandatory, uint64_t seq);

int handle_tx(struct channel *ch, const struct amqp_method *m);
int handle_confirm(struct channel *ch, const struct amqp_method *m);

#endif
