/* broker/net/channel.h: a channel: content assembly handed to the method handlers (net/handler.h),
 * delivery tags and the unacked map, prefetch, confirms, transactions, and channel errors. */
#ifndef BROKER_CHANNEL_H
#define BROKER_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amqp/assembler.h"
#include "amqp/frame.h"
#include "broker/core/broker.h"
#include "broker/net/channel_stats.h"
#include "broker/core/list.h"
#include "broker/core/strmap.h"

struct conn;
struct vhost;
struct message;
struct queue;
struct consumer;
struct exchange;
struct topic_perm;

/* One outstanding delivery; msg == NULL marks a settled slot. */
struct unacked {
	struct message *msg;
	struct queue *q;
	struct consumer *consumer; /* NULL for basic.get or once the consumer is gone */
	uint64_t seq;
	uint32_t delivery_count;
	uint32_t delivered_tick; /* broker tick (seconds) at delivery, for consumer timeouts */
};

/* Outstanding deliveries indexed by tag: tags are issued in increasing order, so the slot of
 * tag t is t - base_tag. O(1) lookup, and settled slots at the front are trimmed. */
struct unacked_ring {
	struct unacked *buf;
	size_t head, count, cap; /* count includes settled slots between live ones */
	uint64_t base_tag;       /* tag of buf[head] */
	size_t live;
};

enum channel_state { CHANNEL_OPEN, CHANNEL_CLOSING };

struct tx_op {
	struct tx_op *next;
	enum { TX_PUBLISH, TX_ACK, TX_NACK, TX_REJECT } kind;
	struct message *msg; /* TX_PUBLISH */
	bool mandatory;
	uint64_t tag;
	bool multiple, requeue;
};

struct channel {
	struct conn *conn;
	struct broker *broker;
	struct list conn_link; /* in conn->channel_list */
	uint16_t id;
	enum channel_state state;
	struct amqp_assembler assembler;
	uint32_t method_id; /* of the method being handled, for error replies */

	/* the basic.publish being assembled */
	struct message *pub_msg;
	uint64_t pub_filled; /* its body bytes received so far */
	struct amqp_str pub_exchange, pub_rk; /* copies in pub_names */
	uint8_t pub_names[512];
	bool pub_mandatory;

	uint64_t next_tag;
	struct unacked_ring unacked;
	uint32_t unacked_from_consumers; /* for global prefetch */
	uint16_t prefetch_consumer, prefetch_global;
	struct strmap consumers; /* tag -> struct consumer */
	struct list consumer_list;
	bool credit; /* acks freed prefetch: its consumers' queues dispatch after this batch */

	bool confirm, tx;
	uint64_t publish_seq;   /* confirm sequence numbers */
	uint64_t confirm_sent;  /* every seq up to here has been acked or nacked */
	/* Confirms owed, in seq order, as ranges: each covers (previous upto, upto] and may be
	 * sent once the store has synced `ticket` (0 = at once). Nacks are ranges too. */
	struct confirm_range {
		uint64_t upto, ticket;
		bool nack;
	} *confirms;
	size_t confirm_head, confirm_count, confirm_cap;
	struct deferred confirm_flush;
	struct list confirm_link; /* in broker->confirm_waiting while a range waits for a sync */
	bool confirm_waiting;

	struct tx_op *tx_head, *tx_tail;

	struct amqp_str last_queue; /* owned; for the empty-name shorthand */
	bool flow_active;

	/* exchange of the last publish, valid while the broker's topology_gen is unchanged */
	struct exchange *pub_x;
	uint64_t pub_x_gen;
	/* last exchange this channel was allowed to publish to, valid for auth_generation */
	const void *write_ok_exchange;
	uint64_t write_ok_generation;
	/* topic permission of write_ok_exchange (NULL: none, or not a topic exchange) */
	const struct topic_perm *write_topic;

	struct channel_stats stats; /* publishes per exchange (management API) */

	char *reply_to_token;   /* direct reply-to: set once a reply consumer exists */
	struct consumer *reply_consumer;
};

struct channel *channel_new(struct conn *c, uint16_t id);
/* Releases consumers and requeues unacked deliveries (redelivered), frees. */
void channel_free(struct channel *ch);
/* Releases every resource but keeps the struct (for the CLOSING state). */
void channel_release(struct channel *ch);

/* Handles one non-heartbeat frame on this channel. -1 after a connection error. */
int channel_on_frame(struct channel *ch, const struct amqp_frame *f);

/* Sends channel.close with "<NAME> - <text>" and the current method's ids; the channel then
 * ignores everything until close-ok. Returns 0 (the connection lives on) or -1 if the close
 * could not be written. */
int channel_fail(struct channel *ch, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Checks the user's configure/write/read permission (enum auth_perm) on a queue or exchange
 * (enum auth_resource) by name, the default exchange as "amq.default"; on refusal sends
 * RabbitMQ's 403 and returns -1. */
int channel_check_perm(struct channel *ch, int perm, int kind, struct amqp_str name);
/* A queue name as a method names it: "" means the channel's last declared queue. */
struct amqp_str channel_queue_name(const struct channel *ch, struct amqp_str name);
/* The user's topic permission for x when x is a topic exchange, else NULL (no restriction). */
const struct topic_perm *channel_topic_perm(const struct channel *ch, const struct exchange *x);
/* Checks key against p's write or read expression (perm: AUTH_WRITE or AUTH_READ): 0, or -1
 * after a 403 channel error. p NULL allows everything. */
int channel_check_topic(struct channel *ch, const struct topic_perm *p, int perm,
			struct amqp_str exchange, struct amqp_str key);
/* Encodes and sends a method on this channel. 0 or -1 (connection error raised). */
int channel_send(struct channel *ch, const struct amqp_method *m);

/* Delivery bookkeeping used by deliver.c and queue.c: records an unacked delivery and returns
 * its tag (or the next tag for no-ack deliveries, which are not recorded). */
uint64_t channel_track(struct channel *ch, struct message *m, struct queue *q,
		       struct consumer *cons, uint64_t seq, uint32_t delivery_count, bool no_ack);
/* Requeues every unacked delivery (channel close, recover). */
void channel_requeue_all(struct channel *ch);
/* basic.recover: 0 when every unacked delivery's kind lets it be requeued; else the kind's
 * refusal (a stream's 540) has been sent and its channel_fail result is returned. */
int channel_recover_refused(struct channel *ch);
/* Settles deliveries: ack, or nack/reject with requeue or drop. -1 with channel_fail already
 * sent for an unknown tag. */
int channel_settle(struct channel *ch, uint64_t tag, bool multiple, bool ack, bool requeue);
/* How queues reach a channel's consumers (installed by consumer_new's caller). */
extern const struct consumer_ops channel_consumer_ops;
/* The queue went away: tell the client (basic.cancel) when it asked for that, forget it. */
void channel_consumer_cancelled_by_server(struct channel *ch, struct consumer *cons);
/* basic.cancel from the client, or the channel closing; runs the queue's auto-delete rule. */
void channel_cancel_consumer(struct channel *ch, struct consumer *cons);
/* Ends direct reply-to on this channel (its pseudo-consumer and token). */
void channel_drop_reply_consumer(struct channel *ch);
/* Confirms: one more publish has been handled; ticket > 0 when it must wait for that store
 * sync (persistent message on a durable queue). Confirms leave in seq order, coalesced.
 * 0, or -1 after a connection error (out of memory: the confirm could not be recorded). */
int channel_confirm_ack(struct channel *ch, uint64_t seq, uint64_t ticket);
int channel_confirm_nack(struct channel *ch, uint64_t seq);
/* The store synced (or failed to sync) everything up to ticket. */
void channel_confirms_synced(struct channel *ch, uint64_t ticket, bool ok);
bool channel_can_deliver(const struct channel *ch);
/* Closes the channel (406) when its oldest unacked delivery is older than the consumer
 * timeout of its queue (x-consumer-timeout) or the broker's consumer_timeout. */
void channel_check_timeout(struct channel *ch);

#endif
