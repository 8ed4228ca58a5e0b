/* broker/queue/consumer.h: a basic.consume subscription: whose (its channel, opaque here), which
 * queue, its prefetch and priority. Lives in its queue's consumer list and its channel's tag map.
 * A queue reaches the one who consumes only through the consumer's ops, which the channel
 * installs (net/channel.c): queue/ knows consumers, never channels or connections. */
#ifndef BROKER_CONSUMER_H
#define BROKER_CONSUMER_H

#include <stdbool.h>
#include <stdint.h>

#include "amqp/table.h"
#include "amqp/wire.h"
#include "broker/core/list.h"

struct channel;
struct queue;
struct qentry;
struct consumer;

/* What a queue may ask of a consumer's owner. */
struct consumer_ops {
	/* Whether the owner can take one more delivery now: channel-wide prefetch, flow,
	 * back-pressure, a connection that is closing. (The consumer's own prefetch and single
	 * active consumer are the queue's to check.) */
	bool (*can_take)(const struct consumer *c);
	/* Delivers e->msg as the delivery_count-th delivery. Unless the consumer is no-ack, the
	 * queue's reference moves to the owner, which settles it later (queue_requeue, ...).
	 * 0, or -1 when the owner failed: it takes nothing more. */
	int (*deliver)(struct consumer *c, struct queue *q, const struct qentry *e,
		       uint32_t delivery_count);
	/* The queue is going away: the owner tells its client (basic.cancel) and frees c. */
	void (*cancelled)(struct consumer *c);
};

struct consumer {
	const struct consumer_ops *ops;
	struct channel *ch;  /* the owner; never dereferenced by queue/ */
	struct queue *q;
	struct amqp_str tag; /* owned, NUL-terminated */
	bool no_ack, exclusive;
	uint16_t prefetch;   /* per-consumer limit, 0 = unlimited */
	uint32_t unacked;
	int32_t priority;    /* x-priority */
	uint64_t seq;        /* registration order (single active consumer) */
	void *kind_state;    /* the queue kind's per-consumer state (a stream reader's place) */
	struct amqp_table args; /* the consume arguments, owned (management API) */
	struct list queue_link;
	struct list channel_link; /* in the owner's list; the owner links it */
};

/* A consumer of q owned by ch, reached through ops. The caller links channel_link into its
 * own list. NULL out of memory. */
struct consumer *consumer_new(const struct consumer_ops *ops, struct channel *ch, struct queue *q,
			      struct amqp_str tag, bool no_ack, bool exclusive, uint16_t prefetch,
			      int32_t priority);
/* Keeps a copy of the consume arguments (c->args). 0 or -1 out of memory. */
int consumer_set_args(struct consumer *c, struct amqp_table args);
/* Detaches from queue and owner, requeues nothing (the owner does that), frees. */
void consumer_free(struct consumer *c);
/* Whether it may receive one more message now (its prefetch, single active consumer, and what
 * its owner says). */
bool consumer_can_take(const struct consumer *c);

#endif
