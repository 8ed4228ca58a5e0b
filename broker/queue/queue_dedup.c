/* broker/queue/queue_dedup.c: queue-level deduplication (queue_dedup.h). The set holds each
 * value (the header's type octet and bytes) of the messages in the queue, ready or unacked, so
 * its size is bounded by the queue's. A value goes in before the kind takes the message, so a
 * message the kind drops at once (TTL 0, overflow) takes it out again through the dead-letter
 * path, as any other message that leaves. */
#include "broker/queue/queue_dedup.h"

#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"
#include "amqp/table.h"
#include "broker/core/strmap.h"
#include "broker/queue/message.h"
#include "broker/queue/queue.h"

#define QUEUE_DEDUP_KEY_MAX 4096

struct queue_dedup {
	struct strmap values; /* key -> the queue (any non-NULL value) */
};

int queue_dedup_init(struct queue *q)
{
	struct amqp_value v;
	if (!amqp_table_get(q->args, "x-message-deduplication", &v) || v.type != 't' || !v.v.b)
		return 0;
	struct queue_dedup *d = calloc(1, sizeof *d);
	if (!d)
		return -1;
	strmap_init(&d->values);
	q->dedup = d;
	return 0;
}

void queue_dedup_free(struct queue *q)
{
	if (!q->dedup)
		return;
	strmap_clear(&q->dedup->values);
	free(q->dedup);
	q->dedup = NULL;
}

/* The message's value as a key, into out; 0 when it has none (not deduplicated). */
static size_t queue_dedup_key(const struct message *m, uint8_t *out, size_t cap)
{
	struct amqp_basic_props p;
	struct amqp_value v;
	struct amqp_buf b;
	size_t n = 0;
	if (!m->has_headers || amqp_props_decode(&p, m->props, m->props_len) != 0 ||
	    !(p.flags & AMQP_PROP_HEADERS) ||
	    !amqp_table_get(p.headers, "x-deduplication-header", &v))
		return 0;
	amqp_buf_init(&b);
	amqp_buf_put_value(&b, &v);
	if (!b.oom && b.len <= cap) {
		memcpy(out, b.data, b.len);
		n = b.len;
	}
	amqp_buf_free(&b);
	return n;
}

enum queue_push_result queue_dedup_push(struct queue *q, struct message *m)
{
	uint8_t key[QUEUE_DEDUP_KEY_MAX + 16];
	size_t n = queue_dedup_key(m, key, sizeof key);
	if (!n)
		return q->type->push(q, m);
	if (strmap_get(&q->dedup->values, key, n))
		return QUEUE_PUSHED; /* a duplicate of a message the queue holds: dropped */
	if (strmap_put(&q->dedup->values, key, n, q) != 0)
		return QUEUE_PUSH_OOM;
	enum queue_push_result r = q->type->push(q, m);
	if (r != QUEUE_PUSHED && q->dedup)
		strmap_del(&q->dedup->values, key, n);
	return r;
}

void queue_dedup_forget(struct queue *q, const struct message *m)
{
	uint8_t key[QUEUE_DEDUP_KEY_MAX + 16];
	size_t n = queue_dedup_key(m, key, sizeof key);
	if (n && q->dedup)
		strmap_del(&q->dedup->values, key, n);
}

void queue_dedup_purged(struct queue *q)
{
	/* The ready messages are gone; which values belong to unacked ones is not known here,
	 * so the set is emptied: an unacked message's value can then be enqueued again before it
	 * is acked, as with the plugin, whose purge flushes the whole cache too. */
	strmap_clear(&q->dedup->values);
	strmap_init(&q->dedup->values);
}
