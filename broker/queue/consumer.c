/* broker/queue/consumer.c: consumer records and the "may it take one more?" rule. */
#include "broker/queue/consumer.h"

#include <stdlib.h>
#include <string.h>

#include "broker/core/event.h"
#include "broker/queue/queue.h"
#include "broker/vhost/vhost.h"

struct consumer *consumer_new(const struct consumer_ops *ops, struct channel *ch, struct queue *q,
			      struct amqp_str tag, bool no_ack, bool exclusive, uint16_t prefetch,
			      int32_t priority)
{
	struct consumer *c = calloc(1, sizeof *c);
	if (!c || amqp_str_dup(&c->tag, tag) != 0) {
		free(c);
		return NULL;
	}
	c->ops = ops;
	c->ch = ch;
	c->q = q;
	c->no_ack = no_ack;
	c->exclusive = exclusive;
	c->prefetch = prefetch;
	c->priority = priority;
	c->seq = ++q->next_consumer_seq;
	/* Highest priority first; a newcomer goes behind its equals. */
	struct list *pos;
	list_for_each(pos, &q->consumers)
	{
		if (list_entry(pos, struct consumer, queue_link)->priority < priority)
			break;
	}
	list_insert_before(pos, &c->queue_link);
	list_init(&c->channel_link);
	q->consumer_count++;
	q->had_consumer = true;
	if (exclusive)
		q->exclusive_consumer = true;
	if (q->lim.single_active && !q->sac_active)
		q->sac_active = c;
	broker_timer_cancel(&q->expires_timer);
	EVENT_EMIT(q->broker, "consumer.created", EV_ASTR("consumer_tag", c->tag),
		   EV_BOOL("exclusive", exclusive), EV_BOOL("ack_required", !no_ack),
		   EV_INT("prefetch_count", prefetch), EV_TERMS("arguments", (struct amqp_table){ 0 }),
		   EV_ASTR("queue", q->name), EV_CSTR("vhost", q->vhost->name), EV_ACTOR());
	return c;
}

int consumer_set_args(struct consumer *c, struct amqp_table args)
{
	uint8_t *a = args.len ? malloc(args.len) : NULL;
	if (args.len && !a)
		return -1;
	if (args.len)
		memcpy(a, args.ptr, args.len);
	free((void *)c->args.ptr);
	c->args = (struct amqp_table){ a, args.len };
	return 0;
}

void consumer_free(struct consumer *c)
{
	if (!c)
		return;
	EVENT_EMIT(c->q->broker, "consumer.deleted", EV_ASTR("consumer_tag", c->tag),
		   EV_ASTR("queue", c->q->name), EV_CSTR("vhost", c->q->vhost->name), EV_ACTOR());
	if (c->q->type->consumer_gone)
		c->q->type->consumer_gone(c->q, c);
	queue_consumer_removed(c->q, c);
	list_remove(&c->queue_link);
	list_remove(&c->channel_link);
	c->q->consumer_count--;
	if (c->exclusive)
		c->q->exclusive_consumer = false;
	queue_touch(c->q);
	queue_consumer_gone(c->q);
	free((void *)c->args.ptr);
	amqp_str_free(&c->tag);
	free(c);
}

bool consumer_can_take(const struct consumer *c)
{
	if (c->prefetch && c->unacked >= c->prefetch)
		return false;
	if (c->q->lim.single_active && !queue_consumer_is_active(c->q, c))
		return false;
	return c->ops->can_take(c);
}
