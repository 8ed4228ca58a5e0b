/* broker/queue.h: a queue: ready messages in publish order, its consumers, its bindings.
 * Requeued messages go back to their original position (by publish sequence) as RabbitMQ's
 * classic queues do. Dispatch runs once per loop turn (a deferred task), round-robin over
 * consumers within their prefetch, highest consumer priority first. queue.c never includes
 * libevent. */
#ifndef BROKER_QUEUE_H
#define BROKER_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amqp/table.h"
#include "amqp/wire.h"
#include "broker/broker.h"
#include "broker/list.h"

struct vhost;
struct conn;
struct message;
struct consumer;

struct qentry {
	struct message *msg;
	uint64_t seq;            /* publish order within this queue */
	uint32_t delivery_count; /* deliveries so far */
	bool redelivered;
};

/* Ring buffer of entries ordered by seq. */
struct qdeque {
	struct qentry *buf;
	size_t head, count, cap; /* cap is a power of two */
};

struct queue {
	struct vhost *vhost;
	struct amqp_str name; /* owned, NUL-terminated */
	bool durable, exclusive, auto_delete;
	struct conn *owner;   /* exclusive owner */
	struct list owner_link;
	struct amqp_table args; /* owned */
	struct qdeque ready;
	uint64_t ready_bytes;
	struct list consumers; /* by priority, highest first; round-robin within a priority */
	uint32_t consumer_count;
	uint32_t unacked_count;
	struct list bindings;  /* bindings whose destination is this queue */
	uint64_t next_seq;
	uint64_t route_epoch;   /* dedup mark for struct route_set */
	uint32_t refs;         /* the vhost's + one per unacked delivery */
	bool deleted;
	bool had_consumer;
	bool exclusive_consumer; /* a consumer holds it exclusively */
	struct deferred dispatch;
	struct broker *broker;
	uint64_t stat_published, stat_delivered, stat_acked, stat_redelivered;
};

struct queue *queue_new(struct vhost *v, struct amqp_str name, bool durable, bool exclusive,
			bool auto_delete, struct conn *owner, struct amqp_table args);
/* Adds a message (+1 ref) at the tail and schedules dispatch. 0 or -1 out of memory. */
int queue_push(struct queue *q, struct message *m);
/* Puts a delivered message back at its original position with redelivered set. Drops the
 * message if the queue was deleted. Consumes the caller's ref on the message. */
void queue_requeue(struct queue *q, struct message *m, uint64_t seq, uint32_t delivery_count);
/* Removes the head. false when empty. The caller receives the entry's ref. */
bool queue_pop(struct queue *q, struct qentry *out);
uint32_t queue_purge(struct queue *q);
/* Cancels consumers (basic.cancel to those who asked for it), removes bindings, unregisters
 * from the vhost. Returns the number of ready messages dropped. */
uint32_t queue_delete(struct queue *q);
void queue_ref(struct queue *q);
void queue_unref(struct queue *q);
/* Called when one of its unacked deliveries is settled. */
void queue_settled(struct queue *q);
void queue_schedule_dispatch(struct queue *q);
/* Delivers ready messages to consumers while they can take them. */
void queue_dispatch(struct queue *q);
/* Auto-delete rule: deletes the queue if it is auto-delete, had consumers and has none now. */
void queue_check_auto_delete(struct queue *q);

static inline uint32_t queue_ready_count(const struct queue *q)
{
	return (uint32_t)q->ready.count;
}

#endif
