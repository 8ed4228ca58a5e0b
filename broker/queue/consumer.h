/* broker/queue/consumer.h: a basic.consume subscription: which channel, which queue, its prefetch
 * and priority. Lives in its queue's consumer list and its channel's tag map. */
#ifndef BROKER_CONSUMER_H
#define BROKER_CONSUMER_H

#include <stdbool.h>
#include <stdint.h>

#include "amqp/wire.h"
#include "broker/core/list.h"

struct channel;
struct queue;

struct consumer {
	struct channel *ch;
	struct queue *q;
	struct amqp_str tag; /* owned, NUL-terminated */
	bool no_ack, exclusive;
	uint16_t prefetch;   /* per-consumer limit, 0 = unlimited */
	uint32_t unacked;
	int32_t priority;    /* x-priority */
	uint64_t seq;        /* registration order (single active consumer) */
	struct list queue_link;
	struct list channel_link;
};

struct consumer *consumer_new(struct channel *ch, struct queue *q, struct amqp_str tag,
			      bool no_ack, bool exclusive, uint16_t prefetch, int32_t priority);
/* Detaches from queue and channel, requeues nothing (the channel does that), frees. */
void consumer_free(struct consumer *c);
/* Whether it may receive one more message now (prefetch, channel limits, back-pressure). */
bool consumer_can_take(const struct consumer *c);

#endif
