/* broker/exchange_delayed.c: x-delayed-message exchanges, as the
 * rabbitmq-delayed-message-exchange plugin behaves: a message with a positive integer x-delay
 * header is held for that many milliseconds, then routed by the exchange's x-delayed-type.
 * Held messages sit in one binary min-heap per exchange with one timer for the earliest, never
 * a timer per message. They are transient: the held set does not survive a restart. */
#include <stdlib.h>

#include "amqp/props.h"
#include "broker/broker.h"
#include "broker/exchange.h"
#include "broker/message.h"
#include "broker/vhost.h"

struct delay_item {
	uint64_t due, seq;
	struct message *msg;
};

struct exchange_delay {
	struct exchange *x;
	struct delay_item *items;
	size_t count, cap;
	uint64_t next_seq;
	struct broker_timer timer;
};

static bool item_before(const struct delay_item *a, const struct delay_item *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_up(struct exchange_delay *d, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!item_before(&d->items[i], &d->items[parent]))
			break;
		struct delay_item t = d->items[i];
		d->items[i] = d->items[parent];
		d->items[parent] = t;
		i = parent;
	}
}

static void heap_down(struct exchange_delay *d, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < d->count && item_before(&d->items[l], &d->items[m]))
			m = l;
		if (r < d->count && item_before(&d->items[r], &d->items[m]))
			m = r;
		if (m == i)
			break;
		struct delay_item t = d->items[i];
		d->items[i] = d->items[m];
		d->items[m] = t;
		i = m;
	}
}

static void delay_on_timer(struct broker_timer *t)
{
	struct exchange_delay *d = (struct exchange_delay *)((char *)t -
							     offsetof(struct exchange_delay, timer));
	uint64_t now = broker_now_ms();
	while (d->count && d->items[0].due <= now) {
		struct message *m = d->items[0].msg;
		d->items[0] = d->items[--d->count];
		heap_down(d, 0);
		struct publish_result r;
		exchange_publish(d->x, m, NULL, NULL, &r);
		message_unref(m);
	}
	if (d->count)
		broker_timer_set(d->x->vhost->broker, &d->timer, d->items[0].due);
}

bool exchange_delay(struct exchange *x, struct message *m)
{
	struct amqp_basic_props p;
	struct amqp_value v;
	int64_t ms;
	if (!m->has_headers || amqp_props_decode(&p, m->props, m->props_len) != 0 ||
	    !(p.flags & AMQP_PROP_HEADERS) ||
	    !amqp_table_get(p.headers, "x-delay", &v) || !amqp_value_as_int(&v, &ms) || ms <= 0)
		return false;
	struct exchange_delay *d = x->delay;
	if (!d) {
		d = calloc(1, sizeof *d);
		if (!d)
			return false;
		d->x = x;
		d->timer.fn = delay_on_timer;
		x->delay = d;
	}
	if (d->count == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct delay_item *items = realloc(d->items, cap * sizeof *items);
		if (!items)
			return false;
		d->items = items;
		d->cap = cap;
	}
	d->items[d->count] = (struct delay_item){ broker_now_ms() + (uint64_t)ms, d->next_seq++,
						  message_ref(m) };
	heap_up(d, d->count++);
	if (d->items[0].due != d->timer.due_ms)
		broker_timer_set(x->vhost->broker, &d->timer, d->items[0].due);
	return true;
}

void exchange_delay_free(struct exchange *x)
{
	struct exchange_delay *d = x->delay;
	if (!d)
		return;
	for (size_t i = 0; i < d->count; i++)
		message_unref(d->items[i].msg);
	broker_timer_free(&d->timer);
	free(d->items);
	free(d);
	x->delay = NULL;
}

const char *exchange_type_name(const struct exchange *x)
{
	return x->delayed ? "x-delayed-message" : x->type->name;
}
