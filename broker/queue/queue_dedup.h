/* broker/queue/queue_dedup.h: queue-level message deduplication, as the
 * rabbitmq-message-deduplication plugin's x-message-deduplication queue argument: a message
 * whose x-deduplication-header value is already held by the queue (ready or unacked) is not
 * enqueued; the value is forgotten once that message leaves for good (acked, rejected,
 * dead-lettered, expired, dropped, purged). Whatever the queue's kind. */
#ifndef BROKER_QUEUE_QUEUE_DEDUP_H
#define BROKER_QUEUE_QUEUE_DEDUP_H

#include "broker/queue/queue_type.h"

struct queue;
struct message;

/* When q was declared with x-message-deduplication = true, gives it its set of values
 * (q->dedup). 0, or -1 out of memory. */
int queue_dedup_init(struct queue *q);
void queue_dedup_free(struct queue *q);
/* queue_push for a deduplicating queue: a duplicate is dropped (and reported pushed: the
 * publish was routed, as the plugin confirms it), anything else pushed to the kind. */
enum queue_push_result queue_dedup_push(struct queue *q, struct message *m);
/* m left the queue for good. */
void queue_dedup_forget(struct queue *q, const struct message *m);
/* Every ready message was dropped (purge): only unacked ones keep their values. */
void queue_dedup_purged(struct queue *q);

#endif
