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
#include "broker/queue/classic/qdeque.h"
#include "broker/queue/classic/queue_page.h"

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
	 * (exchange/deadletter.c). */
	void (*dead_letter)(struct queue *q, struct message *m, enum deadletter_reason why);
	/* q is being deleted: every binding whose destination it is goes. */
	void (*unbind_all)(struct queue *q);
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

enum queue_push_result { QUEUE_PUSHED = 0, QUEUE_REJECTED = 1, QUEUE_PUSH_OOM = -1 };

/* A queue holds its ready messages in memory up to a window (QUEUE_WINDOW entries or
 * QUEUE_WINDOW_BYTES of bodies, QUEUE_WINDOW_PRESSURE entries while the broker is short of
 * memory); beyond it, messages that are on disk (persistent ones in durable queues), or any
 * message while memory is short, are paged out: the queue keeps a queue_page entry and reads
 * the body back when the message nears the head. Per priority level the loaded entries come
 * first, then the paged ones, in seq order. */
#define QUEUE_WINDOW 2048
#define QUEUE_WINDOW_BYTES (8u << 20)
#define QUEUE_WINDOW_PRESSURE 64

struct queue {
	struct vhost *vhost;
	struct amqp_str name; /* owned, NUL-terminated */
	bool durable, exclusive, auto_delete;
	struct conn *owner;   /* exclusive owner */
	struct list owner_link;
	struct amqp_table args; /* owned */
	struct qdeque *levels;  /* one ring per priority level (1 without x-max-priority) */
	struct qpage_list *paged; /* per level: entries whose bodies are on disk only */
	uint16_t level_count;
	uint32_t mem_count;     /* ready entries loaded in memory */
	uint64_t mem_bytes;     /* their body bytes */
	uint64_t paged_count;   /* ready entries paged out */
	uint64_t page_qid;      /* volatile store queue id for paged messages; 0 until needed */
	bool page_holds;        /* the store may hold messages under page_qid */
	uint64_t nonempty[4];   /* bitmap of non-empty levels */
	uint32_t ready_count;
	uint64_t ready_bytes;
	struct queue_limits lim;
	struct broker_timer ttl_timer;     /* earliest head expiry */
	struct broker_timer expires_timer; /* x-expires: deletes the unused queue */
	struct consumer *sac_active;       /* single active consumer */
	uint64_t next_consumer_seq;
	struct list consumers; /* by priority, highest first; round-robin within a priority */
	uint32_t consumer_count;
	uint32_t unacked_count;
	struct list bindings;  /* bindings whose destination is this queue */
	uint64_t next_seq;
	uint64_t route_epoch;   /* dedup mark for struct route_set */
	uint64_t store_id;      /* store queue id; 0 unless durable, non-exclusive and a store is open */
	uint32_t refs;         /* the vhost's + one per unacked delivery */
	bool deleted;
	bool had_consumer;
	bool exclusive_consumer; /* a consumer holds it exclusively */
	struct deferred dispatch;
	struct broker *broker;
	uint64_t stat_published, stat_delivered, stat_acked, stat_redelivered;
	uint64_t stat_default_routed; /* put here by the default exchange (implicit bindings) */
};

/* A queue registered in v. owner: the exclusive owner (an opaque identity here), which links
 * q->owner_link into its own list. NULL out of memory. */
struct queue *queue_new(struct vhost *v, struct amqp_str name, bool durable, bool exclusive,
			bool auto_delete, struct conn *owner, struct amqp_table args);
/* Adds a message (+1 ref) at the tail, applies TTL and length limits (dropping or
 * dead-lettering the head, or refusing the message under reject-publish) and schedules
 * dispatch. */
enum queue_push_result queue_push(struct queue *q, struct message *m);
/* The message left the queue for good (ack, drop, dead-letter, expiry): on a durable queue a
 * persistent message gets its dequeue record. */
void queue_unstore(struct queue *q, const struct message *m);
/* Recomputes q->lim from arguments and policies; allocates priority levels on first use.
 * 0 or -1 out of memory. */
int queue_apply_policy(struct queue *q);
/* The queue was used (declare, get, consumer change): re-arms x-expires. */
void queue_touch(struct queue *q);
/* Removes expired messages at the heads (dead-lettering them) and re-arms the TTL timer. */
void queue_expire(struct queue *q);
/* Whether a consumer is the one allowed to receive (single active consumer). */
bool queue_consumer_is_active(const struct queue *q, const struct consumer *c);
/* A consumer is going away: picks the next single active consumer. */
void queue_consumer_removed(struct queue *q, struct consumer *c);
/* Puts a delivered message back at its original position with redelivered set. Drops the
 * message if the queue was deleted. Consumes the caller's ref on the message. */
void queue_requeue(struct queue *q, struct message *m, uint64_t seq, uint32_t delivery_count);
/* Puts an entry queue_pop returned back where it was, unchanged (not marked redelivered): the
 * message was never delivered. Consumes the entry's ref. */
void queue_unpop(struct queue *q, const struct qentry *e);
/* Removes the head (highest priority first). false when empty. The caller receives the
 * entry's ref. */
bool queue_pop(struct queue *q, struct qentry *out);
/* Like queue_pop, but skips (dead-letters) expired messages and counts as queue use
 * (basic.get). */
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
/* Auto-delete rule: deletes the queue if it is auto-delete, had consumers and has none now. */
void queue_check_auto_delete(struct queue *q);
/* The broker is short of memory: moves loaded ready messages beyond QUEUE_WINDOW_PRESSURE to
 * disk. Returns how many were paged out. */
uint64_t queue_page_out(struct queue *q);
/* Heap bytes of the paged entries' lists. */
size_t queue_paged_memory(const struct queue *q);

static inline const struct queue_hooks *queue_hook(const struct queue *q)
{
	return q->broker->queue_hooks;
}

/* Hands m (borrowed) to dead-lettering. */
static inline void queue_dead_letter(struct queue *q, struct message *m,
				     enum deadletter_reason why)
{
	queue_hook(q)->dead_letter(q, m, why);
}

static inline uint32_t queue_ready_count(const struct queue *q)
{
	return q->ready_count;
}

#endif
