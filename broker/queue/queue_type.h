/* broker/queue/queue_type.h: what a kind of queue is. Every queue has a name, arguments,
 * consumers, bindings and a dispatch loop (queue.c); how its messages are kept, delivered and
 * settled is its kind's, behind this interface, the way RabbitMQ's rabbit_queue_type separates
 * classic, quorum and stream queues. x-queue-type (or the vhost's default queue type) picks the
 * kind at declare; nothing outside a kind's own files asks which kind a queue is. */
#ifndef BROKER_QUEUE_QUEUE_TYPE_H
#define BROKER_QUEUE_QUEUE_TYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amqp/table.h"
#include "amqp/wire.h"

struct queue;
struct queue_limits;
struct message;
struct consumer;

/* A ready message as a queue hands it out (and takes it back). */
struct qentry {
	struct message *msg;
	uint64_t seq;            /* publish order within its queue */
	uint64_t expires_at;     /* time_now_ms() deadline, 0 = never */
	uint32_t delivery_count; /* deliveries so far */
	bool redelivered;
};

/* A declare, as the kind's validation sees it. */
struct queue_declare {
	struct amqp_str name;
	const char *vhost;
	bool durable, exclusive, auto_delete;
	struct amqp_table args;
};

/* What becomes of a delivered message. */
enum queue_settle {
	QUEUE_SETTLE_ACK,     /* consumed: gone for good */
	QUEUE_SETTLE_REQUEUE, /* back in the queue, redelivered */
	QUEUE_SETTLE_REJECT,  /* rejected without requeue: dead-lettered, gone */
};

enum queue_push_result { QUEUE_PUSHED = 0, QUEUE_REJECTED = 1, QUEUE_PUSH_OOM = -1 };

/* A basic.consume, as the kind sees it. */
struct queue_consume {
	struct amqp_table args; /* the consumer's arguments (x-stream-offset, ...) */
	const char *vhost;
	bool no_ack;
	uint16_t prefetch;      /* the channel's per-consumer prefetch (0: none) */
	uint16_t prefetch_global; /* the channel-wide prefetch (0: none) */
};

/* Operations a kind may refuse (queue_type.refuse). */
enum queue_op {
	QUEUE_OP_GET,   /* basic.get */
	QUEUE_OP_PURGE, /* queue.purge */
	QUEUE_OP_NACK,  /* basic.nack or basic.reject of one of its deliveries */
	QUEUE_OP_RECOVER, /* basic.recover (requeue) of a channel holding one of its deliveries */
};

/* A header a delivery carries for its kind (x-delivery-count, x-stream-offset). */
struct queue_header {
	const char *name; /* NULL: none */
	int64_t value;    /* sent as a long */
};

/* A kind's own fields for the management API: a flat list of name and number or string. */
struct queue_info_field {
	const char *name;
	bool is_str;
	int64_t num;
	const char *str; /* borrowed */
};
#define QUEUE_INFO_MAX 8

struct queue_type {
	const char *name; /* as x-queue-type and the management API name it */
	/* The kind is RabbitMQ's replicated kind: the management API shows its leader, members
	 * and online nodes (on one node: this node). */
	bool replicated;
	/* Declare rules this kind adds to the common argument checks (queue_args_validate):
	 * properties and arguments it refuses, in RabbitMQ's words. 0, or -1 with the
	 * PRECONDITION_FAILED text in err. */
	int (*validate)(const struct queue_declare *d, char *err, size_t errlen);
	/* Private state (q->priv): 0 or -1 out of memory. destroy frees it (last unref). */
	int (*init)(struct queue *q);
	void (*destroy)(struct queue *q);
	/* New settings (declare, a policy change) before they replace q->lim: 0, or -1 out of
	 * memory (q->lim stays as it was). */
	int (*apply)(struct queue *q, const struct queue_limits *l);
	/* A published (or recovered, b->recovering) message; +1 ref when kept. */
	enum queue_push_result (*push)(struct queue *q, struct message *m);
	/* The next message for consumer c (NULL: basic.get or the management API), expired
	 * ones dead-lettered on the way. The caller receives the entry's ref. */
	bool (*take)(struct queue *q, struct consumer *c, struct qentry *out);
	/* After a run of takes: re-arm what follows the head (TTL timers). */
	void (*taken)(struct queue *q);
	/* Puts a taken entry back untouched: it was never delivered. Consumes its ref. */
	void (*untake)(struct queue *q, const struct qentry *e);
	/* The fate of a delivered message (seq and delivery_count as taken). Consumes the
	 * caller's ref on m. */
	void (*settle)(struct queue *q, struct message *m, uint64_t seq, uint32_t delivery_count,
		       enum queue_settle how);
	/* Drops the ready messages; returns how many. */
	uint32_t (*purge)(struct queue *q);
	/* The queue is being deleted: drop everything it holds, the stored messages of its
	 * unacked deliveries included. Returns the ready messages dropped. */
	uint32_t (*drop)(struct queue *q);
	/* Expires messages at the head (the TTL timer, a policy change). */
	void (*expire)(struct queue *q);
	/* The broker is short of memory: move what can go to disk. Returns messages moved. */
	uint64_t (*page_out)(struct queue *q);
	/* Heap bytes the kind's bookkeeping takes beyond the messages (management API). */
	size_t (*memory)(const struct queue *q);

	/* Optional operations: NULL means what every kind does by default. */

	/* A new consumer c of q (already counted among its consumers): the kind checks what it
	 * requires of it and reads its own arguments, keeping its state in c->kind_state.
	 * 0, or RabbitMQ's reply code (a 4xx closes the channel, a 5xx the connection) with the
	 * text after "CODE_NAME - " in err. NULL: every consumer is welcome. */
	int (*consume)(struct queue *q, struct consumer *c, const struct queue_consume *req,
		       char *err, size_t errlen);
	/* c is going away (cancel, channel closed, queue deleted): frees c->kind_state. */
	void (*consumer_gone)(struct queue *q, struct consumer *c);
	/* Delivers to the consumers while they can take messages. NULL: queue.c's round-robin
	 * over take(), where each message goes to one consumer. */
	void (*dispatch)(struct queue *q);
	/* Whether the kind refuses op on q: 0, or RabbitMQ's reply code and text, as consume.
	 * NULL: nothing is refused. */
	int (*refuse)(const struct queue *q, enum queue_op op, char *err, size_t errlen);
	/* The header a delivery of e (its delivery_count-th; get: by basic.get) carries. NULL:
	 * x-delivery-count (deliveries before this one) when the queue has a delivery limit. */
	struct queue_header (*header)(const struct queue *q, const struct qentry *e,
				      uint32_t delivery_count, bool get);
	/* Fields the management API shows for this kind; returns how many (<= QUEUE_INFO_MAX).
	 * NULL: none. */
	size_t (*info)(const struct queue *q, struct queue_info_field *out);
	/* What the management API reports as messages (ready and unacked, or stored for a
	 * stream). NULL: ready + unacked. */
	uint64_t (*message_count)(const struct queue *q);
	/* The consumer's position for the management API (a stream consumer's offset); -1 none. */
	int64_t (*consumer_offset)(const struct queue *q, const struct consumer *c);
};

/* A new queue's kind and its declare rules, after the arguments every kind shares have passed
 * queue_args_validate: the kind x-queue-type (or the vhost's default) names, then the kind's
 * own checks. The kind, or NULL with the PRECONDITION_FAILED text in err. */
const struct queue_type *queue_type_check(const struct queue_declare *d, const char *vhost_default,
					  char *err, size_t errlen);
/* The kind x-queue-type names ("classic", "quorum", "stream"), or NULL. */
const struct queue_type *queue_type_find(struct amqp_str name);
/* The kind a declare asks for: x-queue-type, else the vhost's default queue type (NULL: none),
 * else classic. NULL when the name is not a kind Warren has. */
const struct queue_type *queue_type_of(struct amqp_table args, const char *vhost_default);

#endif
