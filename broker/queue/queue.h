/* broker/queue/queue.h: a queue: ready messages in publish order, its consumers, its bindings.
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
#include "broker/core/broker.h"
#include "broker/core/list.h"
#include "broker/queue/queue_dedup.h"
#include "broker/queue/queue_type.h"

struct vhost;
struct conn;
struct message;
struct consumer;
struct queue;

enum queue_overflow { QUEUE_DROP_HEAD, QUEUE_REJECT_PUBLISH, QUEUE_REJECT_PUBLISH_DLX };

/* Why a message leaves a queue without being consumed: x-death's reason. */
enum deadletter_reason {
	DEADLETTER_REJECTED,
	DEADLETTER_EXPIRED,
	DEADLETTER_MAXLEN,
	DEADLETTER_DELIVERY_LIMIT,
};

/* What a queue needs from the layer above it, which routes: installed once in struct broker
 * (b->queue_hooks) by the exchange layer, so queue/ never calls routing itself. */
struct queue_hooks {
	/* Republishes a copy of m (borrowed) from q to q's dead-letter exchange, if it has one
	 * (exchange/deadletter.c). Returns the queues the copy reached (0: dropped). */
	size_t (*dead_letter)(struct queue *q, struct message *m, enum deadletter_reason why);
	/* q is being deleted: every binding whose destination it is goes. */
	void (*unbind_all)(struct queue *q);
};

/* A publisher waiting for a queue to drain (publisher flow control, queue_flow_*). The
 * publisher (a connection) embeds it; the queue lists it and calls resume, from inside a
 * dispatch or a delete, when the publisher may go on: resume must only mark and schedule. */
struct queue_flow_wait {
	struct list link;   /* in q->flow_waiters */
	struct queue *q;    /* the queue waited for; NULL when not waiting */
	void (*resume)(struct queue_flow_wait *w);
};

/* Effective settings: queue arguments, then the policy, capped by an operator policy.
 * Recomputed on declare and when policies change (queue_apply_policy), never per message. */
struct queue_limits {
	int64_t message_ttl;      /* ms, -1 = none */
	int64_t expires;          /* ms, -1 = none */
	int64_t max_length;       /* -1 = none */
	int64_t max_length_bytes; /* -1 = none */
	int64_t delivery_limit;   /* -1 = none */
	int64_t consumer_timeout; /* ms, -1 = the broker default */
	enum queue_overflow overflow;
	char *dlx;                /* dead-letter exchange name, NULL = none */
	char *dlrk;               /* dead-letter routing key, NULL = keep the message's */
	uint8_t max_priority;     /* 0 = not a priority queue */
	bool single_active;
};

struct queue {
	struct vhost *vhost;
	struct amqp_str name; /* owned, NUL-terminated */
	bool durable, exclusive, auto_delete;
	struct conn *owner;   /* exclusive owner */
	struct list owner_link;
	struct amqp_table args; /* owned */
	const struct queue_type *type; /* the kind: how messages are kept and delivered */
	void *priv;             /* the kind's state */
	/* Ready messages, kept by the kind: in all, in memory (and their body bytes), on disk. */
	uint32_t ready_count;
	uint64_t ready_bytes;
	uint32_t mem_count;
	uint64_t mem_bytes;
	uint64_t paged_count;
	struct queue_limits lim;
	struct broker_timer expires_timer; /* x-expires: deletes the unused queue */
	struct consumer *sac_active;       /* single active consumer */
	uint64_t next_consumer_seq;
	struct list consumers; /* by priority, highest first; round-robin within a priority */
	uint32_t consumer_count;
	uint32_t unacked_count;
	struct list bindings;  /* bindings whose destination is this queue */
	uint64_t route_epoch;   /* dedup mark for struct route_set */
	uint64_t store_id;      /* store queue id; 0 unless durable, non-exclusive and a store is open */
	uint32_t refs;         /* the vhost's + one per unacked delivery */
	bool deleted;
	bool had_consumer;
	bool exclusive_consumer; /* a consumer holds it exclusively */
	struct deferred dispatch;
	/* Publisher flow control: the lowest ready count since the queue last had consumers to
	 * drain it (growth is counted from here), the publishers waiting, and a check that lets
	 * them go when the consumers stop taking anything (stalled). */
	uint32_t flow_base;
	bool flow_stalled;
	struct list flow_waiters;
	struct broker_timer flow_timer;
	uint64_t flow_delivered_mark; /* stat_delivered when flow_timer was armed */
	struct broker *broker;
	uint64_t stat_published, stat_delivered, stat_acked, stat_redelivered;
	uint64_t stat_default_routed; /* put here by the default exchange (implicit bindings) */
	uint64_t stat_dead_lettered_in; /* dead-lettered messages routed here */
	struct queue_dedup *dedup; /* x-message-deduplication (queue_dedup.c), else NULL */
};

/* A queue registered in v. owner: the exclusive owner (an opaque identity here), which links
 * q->owner_link into its own list. NULL out of memory. */
struct queue *queue_new(struct vhost *v, struct amqp_str name, bool durable, bool exclusive,
			bool auto_delete, struct conn *owner, struct amqp_table args);
/* Adds a message (+1 ref when kept): the kind applies TTL and length limits (dropping or
 * dead-lettering the head, or refusing the message under reject-publish) and dispatch is
 * scheduled. */
enum queue_push_result queue_push(struct queue *q, struct message *m);
/* Recomputes q->lim from arguments and policies (the kind prepares for them first). 0 or -1
 * out of memory. */
int queue_apply_policy(struct queue *q);
/* The queue was used (declare, get, consumer change): re-arms x-expires. */
void queue_touch(struct queue *q);
/* Removes expired messages at the heads (dead-lettering them) and re-arms the TTL timer. */
void queue_expire(struct queue *q);
/* Whether a consumer is the one allowed to receive (single active consumer). */
bool queue_consumer_is_active(const struct queue *q, const struct consumer *c);
/* A consumer is going away: picks the next single active consumer. */
void queue_consumer_removed(struct queue *q, struct consumer *c);
/* A consumer has gone (consumer_count is already down): with none left, publishers waiting
 * for the queue to drain go on. */
void queue_consumer_gone(struct queue *q);
/* The fate of a delivered message (seq and delivery_count as it was taken): acked, requeued
 * (redelivered) or rejected (dead-lettered); once the queue was deleted, a requeue or reject
 * only drops it. Consumes the caller's ref on m. */
void queue_settle(struct queue *q, struct message *m, uint64_t seq, uint32_t delivery_count,
		  enum queue_settle how);
/* queue_settle(..., QUEUE_SETTLE_REQUEUE). */
void queue_requeue(struct queue *q, struct message *m, uint64_t seq, uint32_t delivery_count);
/* Puts an entry queue_get returned back where it was, unchanged (not marked redelivered): the
 * message was never delivered. Consumes the entry's ref. */
void queue_untake(struct queue *q, const struct qentry *e);
/* The next message for basic.get or the management API (expired ones dead-lettered on the
 * way); counts as use of the queue (x-expires). The caller receives the entry's ref. */
bool queue_get(struct queue *q, struct qentry *out);
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
/* A consumer of q was given credit (an ack freed prefetch): delivers now, in the same loop turn,
 * rather than after every other connection's input has been read. */
void queue_credit(struct queue *q);

/* Publisher flow control. After a push: whether q's ready messages have grown by more than
 * queue_flow_threshold over their low point while it has consumers, so that its publishers
 * should wait (queue_flow_wait) until the consumers have taken it back under half of that. A
 * queue without consumers, or whose consumers took nothing for a second while publishers
 * waited (stalled), never asks: the memory and disk alarms cover those. */
bool queue_flow_wanted(struct queue *q);
/* Puts w on q's list; w->resume runs once q has drained, stalled, lost its consumers or is
 * deleted. w must not be waiting already. */
void queue_flow_wait(struct queue *q, struct queue_flow_wait *w);
/* Takes w off its queue's list without resuming it (the publisher went away). */
void queue_flow_cancel(struct queue_flow_wait *w);
/* Auto-delete rule: deletes the queue if it is auto-delete, had consumers and has none now. */
void queue_check_auto_delete(struct queue *q);
/* Whether a consumer could take a message right now (TTL 0 delivers only then). */
bool queue_has_ready_consumer(struct queue *q);
/* The broker is short of memory: the kind moves what it can of its ready messages to disk.
 * Returns how many were paged out. */
uint64_t queue_page_out(struct queue *q);
/* A new consumer c: the kind's rules and arguments (queue_type.consume). 0, or a reply code
 * with its text in err. */
int queue_consume(struct queue *q, struct consumer *c, const struct queue_consume *req,
		  char *err, size_t errlen);
/* Whether q's kind refuses op: 0, or a reply code with its text in err. */
int queue_refuse(const struct queue *q, enum queue_op op, char *err, size_t errlen);
/* The header a delivery of e carries (name NULL: none). */
struct queue_header queue_delivery_header(const struct queue *q, const struct qentry *e,
					  uint32_t delivery_count, bool get);
/* A consumer's position in its queue (a stream reader's next offset), -1 when the kind has
 * none. */
int64_t queue_consumer_offset(const struct queue *q, const struct consumer *c);
/* The kind's own fields for the management API (out has QUEUE_INFO_MAX room). */
size_t queue_info(const struct queue *q, struct queue_info_field *out);
/* Messages as the management API reports them. */
uint64_t queue_message_count(const struct queue *q);
/* Heap bytes of the paged entries' lists. */
size_t queue_paged_memory(const struct queue *q);

static inline const struct queue_hooks *queue_hook(const struct queue *q)
{
	return q->broker->queue_hooks;
}

/* Hands m (borrowed) to dead-lettering: it leaves q for good. Returns the queues the copy
 * reached. */
static inline size_t queue_dead_letter(struct queue *q, struct message *m,
				       enum deadletter_reason why)
{
	if (q->dedup)
		queue_dedup_forget(q, m);
	return queue_hook(q)->dead_letter(q, m, why);
}

static inline uint32_t queue_ready_count(const struct queue *q)
{
	return q->ready_count;
}

#endif
