/* broker/queue/classic/classic.h: the classic kind of queue, and what kinds built on its
 * storage and delivery (quorum/) reuse: its queue_type operations and a few knobs. */
#ifndef BROKER_QUEUE_CLASSIC_CLASSIC_H
#define BROKER_QUEUE_CLASSIC_CLASSIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/queue/queue.h"
#include "broker/queue/queue_type.h"

extern const struct queue_type queue_type_classic;

/* What a push does when the queue is over x-max-length or x-max-length-bytes. */
enum classic_overflow {
	CLASSIC_OVERFLOW_DROP_HEAD,  /* keep it, drop (dead-letter) the oldest */
	CLASSIC_OVERFLOW_REJECT,     /* refuse it when it would go over */
	CLASSIC_OVERFLOW_REJECT_DLX, /* refuse it and dead-letter it */
	CLASSIC_OVERFLOW_NONE,       /* no check: the caller decided */
};

/* For kinds built on this one, after classic_init: requeued messages go to the back (new
 * sequence) rather than to their old place; dead_letter (NULL: straight to the dead-letter
 * exchange) receives every message the queue dead-letters, borrowed; ext is the kind's own
 * state (classic_ext), which it frees before classic_destroy. */
void classic_configure(struct queue *q, bool requeue_to_back,
		       bool (*dead_letter)(struct queue *q, struct message *m,
					   enum deadletter_reason why),
		       void *ext);
void *classic_ext(const struct queue *q);
enum queue_push_result classic_push_as(struct queue *q, struct message *m,
				       enum classic_overflow mode);
/* Whether the queue is already past one of its length limits. */
bool classic_over_max(const struct queue *q);

int classic_init(struct queue *q);
void classic_destroy(struct queue *q);
int classic_apply(struct queue *q, const struct queue_limits *l);
bool classic_take(struct queue *q, struct consumer *c, struct qentry *out);
void classic_arm_ttl(struct queue *q);
void classic_untake(struct queue *q, const struct qentry *e);
void classic_settle(struct queue *q, struct message *m, uint64_t seq, uint32_t delivery_count,
		    enum queue_settle how);
uint32_t classic_purge(struct queue *q);
uint32_t classic_drop(struct queue *q);
void classic_expire(struct queue *q);
uint64_t classic_page_out(struct queue *q);
size_t classic_paged_memory(const struct queue *q);

#endif
