/* broker/queue.c: queue contents and dispatch. Ready messages sit in a ring buffer ordered by
 * publish sequence; a requeued message is put back at its original position. Dispatch is a
 * deferred task: a batch of publishes in one loop turn costs one dispatch pass. */
#include "broker/queue.h"

#include <stdlib.h>
#include <string.h>

#include "broker/channel.h"
#include "broker/conn.h"
#include "broker/consumer.h"
#include "broker/deliver.h"
#include "broker/exchange.h"
#include "broker/message.h"
#include "broker/vhost.h"

static struct qentry *qdeque_at(const struct qdeque *d, size_t i)
{
	return &d->buf[(d->head + i) & (d->cap - 1)];
}

static int qdeque_grow(struct qdeque *d)
{
	size_t cap = d->cap ? d->cap * 2 : 16;
	struct qentry *buf = malloc(cap * sizeof *buf);
	if (!buf)
		return -1;
	for (size_t i = 0; i < d->count; i++)
		buf[i] = *qdeque_at(d, i);
	free(d->buf);
	d->buf = buf;
	d->cap = cap;
	d->head = 0;
	return 0;
}

static int qdeque_push_back(struct qdeque *d, const struct qentry *e)
{
	if (d->count == d->cap && qdeque_grow(d) != 0)
		return -1;
	*qdeque_at(d, d->count) = *e;
	d->count++;
	return 0;
}

/* Inserts keeping seq order. Requeues are usually near the head, so shifting the shorter side
 * keeps this cheap in practice. */
static int qdeque_insert_sorted(struct qdeque *d, const struct qentry *e)
{
	if (d->count == 0 || qdeque_at(d, d->count - 1)->seq < e->seq)
		return qdeque_push_back(d, e);
	if (d->count == d->cap && qdeque_grow(d) != 0)
		return -1;
	size_t lo = 0, hi = d->count;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (qdeque_at(d, mid)->seq < e->seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < d->count - lo) {
		d->head = (d->head - 1) & (d->cap - 1);
		for (size_t i = 0; i < lo; i++)
			*qdeque_at(d, i) = *qdeque_at(d, i + 1);
	} else {
		for (size_t i = d->count; i > lo; i--)
			*qdeque_at(d, i) = *qdeque_at(d, i - 1);
	}
	*qdeque_at(d, lo) = *e;
	d->count++;
	return 0;
}

static bool qdeque_pop_front(struct qdeque *d, struct qentry *out)
{
	if (d->count == 0)
		return false;
	*out = *qdeque_at(d, 0);
	d->head = (d->head + 1) & (d->cap - 1);
	d->count--;
	return true;
}

static void queue_on_dispatch(struct deferred *d)
{
	struct queue *q = (struct queue *)((char *)d - offsetof(struct queue, dispatch));
	queue_dispatch(q);
}

struct queue *queue_new(struct vhost *v, struct amqp_str name, bool durable, bool exclusive,
			bool auto_delete, struct conn *owner, struct amqp_table args)
{
	struct queue *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	q->vhost = v;
	q->broker = v->broker;
	q->durable = durable;
	q->exclusive = exclusive;
	q->auto_delete = auto_delete;
	q->owner = owner;
	q->refs = 1;
	q->dispatch.fn = queue_on_dispatch;
	list_init(&q->consumers);
	list_init(&q->bindings);
	list_init(&q->owner_link);
	uint8_t *n = malloc((size_t)name.len + 1);
	uint8_t *a = malloc((size_t)args.len + 1);
	if (!n || !a)
		goto fail;
	if (name.len)
		memcpy(n, name.ptr, name.len);
	n[name.len] = '\0';
	if (args.len)
		memcpy(a, args.ptr, args.len);
	q->name = (struct amqp_str){ n, name.len };
	q->args = (struct amqp_table){ a, args.len };
	if (strmap_put(&v->queues, name.ptr, name.len, q) != 0)
		goto fail;
	if (owner)
		list_append(&owner->exclusive_queues, &q->owner_link);
	/* Every queue is bound to the default exchange by its name; that binding is implicit
	 * (routing looks the queue up by name), as RabbitMQ's is. */
	v->broker->stats.queues_declared++;
	return q;
fail:
	free(n);
	free(a);
	free(q);
	return NULL;
}

void queue_ref(struct queue *q)
{
	q->refs++;
}

void queue_unref(struct queue *q)
{
	if (--q->refs > 0)
		return;
	free(q->ready.buf);
	free((void *)q->name.ptr);
	free((void *)q->args.ptr);
	free(q);
}

void queue_schedule_dispatch(struct queue *q)
{
	if (!q->deleted && q->ready.count && q->consumer_count)
		broker_defer(q->broker, &q->dispatch);
}

int queue_push(struct queue *q, struct message *m)
{
	struct qentry e = { .msg = m, .seq = q->next_seq++ };
	if (qdeque_push_back(&q->ready, &e) != 0)
		return -1;
	message_ref(m);
	q->ready_bytes += message_size(m);
	q->stat_published++;
	queue_schedule_dispatch(q);
	return 0;
}

void queue_requeue(struct queue *q, struct message *m, uint64_t seq, uint32_t delivery_count)
{
	struct qentry e = { .msg = m, .seq = seq, .delivery_count = delivery_count,
			    .redelivered = true };
	if (q->deleted || qdeque_insert_sorted(&q->ready, &e) != 0) {
		message_unref(m);
		return;
	}
	q->ready_bytes += message_size(m);
	q->stat_redelivered++;
	queue_schedule_dispatch(q);
}

bool queue_pop(struct queue *q, struct qentry *out)
{
	if (!qdeque_pop_front(&q->ready, out))
		return false;
	q->ready_bytes -= message_size(out->msg);
	return true;
}

uint32_t queue_purge(struct queue *q)
{
	uint32_t n = 0;
	struct qentry e;
	while (qdeque_pop_front(&q->ready, &e)) {
		message_unref(e.msg);
		n++;
	}
	q->ready_bytes = 0;
	return n;
}

void queue_settled(struct queue *q)
{
	if (q->unacked_count)
		q->unacked_count--;
}

uint32_t queue_delete(struct queue *q)
{
	if (q->deleted)
		return 0;
	q->deleted = true;
	broker_cancel_deferred(q->broker, &q->dispatch);
	while (!list_is_empty(&q->consumers)) {
		struct consumer *c = list_entry(q->consumers.next, struct consumer, queue_link);
		channel_consumer_cancelled_by_server(c->ch, c);
	}
	while (!list_is_empty(&q->bindings)) {
		struct binding *b = list_entry(q->bindings.next, struct binding, dest_link);
		exchange_binding_remove(b);
	}
	list_remove(&q->owner_link);
	uint32_t n = queue_purge(q);
	strmap_del(&q->vhost->queues, q->name.ptr, q->name.len);
	q->broker->stats.queues_deleted++;
	queue_unref(q);
	return n;
}

void queue_check_auto_delete(struct queue *q)
{
	if (q->auto_delete && q->had_consumer && q->consumer_count == 0 && !q->deleted)
		queue_delete(q);
}

/* Moves c behind the last consumer of its priority: round-robin within a priority. */
static void queue_rotate(struct queue *q, struct consumer *c)
{
	struct list *after = &c->queue_link;
	while (after->next != &q->consumers &&
	       list_entry(after->next, struct consumer, queue_link)->priority == c->priority)
		after = after->next;
	if (after == &c->queue_link)
		return;
	list_remove(&c->queue_link);
	list_insert_before(after->next, &c->queue_link);
}

static struct consumer *queue_pick(struct queue *q)
{
	struct list *pos;
	list_for_each(pos, &q->consumers)
	{
		struct consumer *c = list_entry(pos, struct consumer, queue_link);
		if (consumer_can_take(c))
			return c;
	}
	return NULL;
}

void queue_dispatch(struct queue *q)
{
	struct qentry e;
	struct consumer *c;

	while (q->ready.count && (c = queue_pick(q)) != NULL) {
		queue_pop(q, &e);
		struct channel *ch = c->ch;
		uint32_t dc = e.delivery_count + 1;
		uint64_t tag = channel_track(ch, e.msg, q, c, e.seq, dc, c->no_ack);
		int rc = deliver_basic_deliver(ch, c->tag, tag, e.redelivered, e.msg);
		if (c->no_ack)
			message_unref(e.msg);
		q->stat_delivered++;
		ch->broker->stats.delivered++;
		if (e.redelivered)
			ch->broker->stats.redelivered++;
		if (rc != 0)
			break; /* the connection failed; its channels were released */
		queue_rotate(q, c);
	}
}
