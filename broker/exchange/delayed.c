/* broker/exchange/delayed.c: x-delayed-message exchanges, as the
 * rabbitmq-delayed-message-exchange plugin behaves: a message with a positive integer x-delay
 * header is held for that many milliseconds, then routed by the exchange's x-delayed-type.
 * Held messages sit in one binary min-heap per exchange with one timer for the earliest, never
 * a timer per message.
 *
 * A persistent message held by a durable exchange is also written to the store, enqueued on a
 * pseudo queue id of the exchange (exchange_delay_store_qid), with its absolute due time (wall
 * clock) in front of its property bytes; the publish waits for that record's sync before it is
 * confirmed, like a publish to a durable queue. When it is due it is routed as a new publish
 * (new record for the durable queues it reaches) and its hold is dequeued; deleting the exchange
 * purges the pseudo queue. durable.c hands held records back at start-up
 * (exchange_delay_recover). Everything else is held in memory only. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amqp/props.h"
#include "broker/core/broker.h"
#include "broker/exchange/exchange.h"
#include "broker/core/log.h"
#include "broker/queue/message.h"
#include "broker/vhost/vhost.h"
#include "broker/core/time.h"
#include "storage/store.h"

/* Bytes of due time stored in front of a held message's property bytes. */
#define DELAY_DUE_LEN 8
/* The pseudo queue name hashed into the hold id: this many 0xFE bytes, then the exchange
 * name. Longer than any queue name (a shortstr, at most 255 bytes), so it never names a
 * real queue. */
#define DELAY_QID_PAD 256

struct delay_item {
	uint64_t due, seq;
	uint64_t hold; /* store record of the hold under store_qid, 0 when memory-only */
	struct message *msg;
};

struct exchange_delay {
	struct exchange *x;
	struct delay_item *items;
	size_t count, cap;
	uint64_t next_seq;
	uint64_t store_qid; /* hold id in the store; 0 unless the exchange is durable */
	struct broker_timer timer;
};

/* Wall clock, ms since the epoch: the due time stored on disk must mean the same after a
 * restart, which broker_now_ms (monotonic) does not. */
static uint64_t delay_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t exchange_delay_store_qid(const struct exchange *x)
{
	uint8_t name[DELAY_QID_PAD + 256];
	size_t n = x->name.len < 256 ? x->name.len : 255;
	memset(name, 0xFE, DELAY_QID_PAD);
	memcpy(name + DELAY_QID_PAD, x->name.ptr, n);
	return store_queue_id(x->vhost->name, name, DELAY_QID_PAD + n);
}

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
	uint64_t now = time_now_ms();
	while (d->count && d->items[0].due <= now) {
		struct message *m = d->items[0].msg;
		uint64_t hold = d->items[0].hold;
		d->items[0] = d->items[--d->count];
		heap_down(d, 0);
		/* A new publish: durable queues get a record of their own, with the real
		 * properties; the hold goes after it, so a torn batch duplicates, never loses. */
		struct publish_result r;
		exchange_publish(d->x, m, NULL, NULL, &r);
		message_unref(m);
		struct broker *b = d->x->vhost->broker;
		if (hold && b->store && !b->recovering) {
			store_dequeue(b->store, d->store_qid, hold);
			broker_store_touched(b);
		}
	}
	if (d->count)
		broker_timer_set(d->x->vhost->broker, &d->timer, d->items[0].due);
}

static struct exchange_delay *delay_get(struct exchange *x)
{
	struct exchange_delay *d = x->delay;
	if (!d) {
		d = calloc(1, sizeof *d);
		if (!d)
			return NULL;
		d->x = x;
		d->timer.fn = delay_on_timer;
		if (x->durable)
			d->store_qid = exchange_delay_store_qid(x);
		x->delay = d;
	}
	if (d->count == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct delay_item *items = realloc(d->items, cap * sizeof *items);
		if (!items)
			return NULL;
		d->items = items;
		d->cap = cap;
	}
	return d;
}

static void delay_push(struct exchange_delay *d, struct message *m, uint64_t due, uint64_t hold)
{
	d->items[d->count] = (struct delay_item){ due, d->next_seq++, hold, message_ref(m) };
	heap_up(d, d->count++);
	if (d->items[0].due != d->timer.due_ms)
		broker_timer_set(d->x->vhost->broker, &d->timer, d->items[0].due);
}

/* Writes the hold record: due time, then the properties, under the exchange's hold id.
 * Returns its id, 0 when the store refuses. */
static uint64_t delay_store(struct exchange_delay *d, const struct message *m, uint64_t due_wall)
{
	struct broker *b = d->x->vhost->broker;
	uint8_t *props = malloc(DELAY_DUE_LEN + (size_t)m->props_len);
	if (!props)
		return 0;
	for (int i = 0; i < DELAY_DUE_LEN; i++)
		props[i] = (uint8_t)(due_wall >> (8 * i));
	if (m->props_len)
		memcpy(props + DELAY_DUE_LEN, m->props, m->props_len);
	struct store_message sm = {
		m->exchange.ptr, m->exchange.len, m->routing_key.ptr, m->routing_key.len,
		props, DELAY_DUE_LEN + m->props_len, m->body, m->body_len,
	};
	uint64_t id = store_message_add(b->store, &sm);
	free(props);
	if (!id || store_enqueue(b->store, d->store_qid, id) != 0)
		return 0; /* a record never enqueued is dropped at recovery */
	b->store_appends++; /* the publish's confirm waits for this turn's sync */
	broker_store_touched(b);
	return id;
}

enum exchange_delay_result exchange_delay(struct exchange *x, struct message *m)
{
	struct amqp_basic_props p;
	struct amqp_value v;
	int64_t ms;
	if (!m->has_headers || amqp_props_decode(&p, m->props, m->props_len) != 0 ||
	    !(p.flags & AMQP_PROP_HEADERS) ||
	    !amqp_table_get(p.headers, "x-delay", &v) || !amqp_value_as_int(&v, &ms) || ms <= 0)
		return EXCHANGE_DELAY_NONE;
	struct exchange_delay *d = delay_get(x);
	if (!d)
		return EXCHANGE_DELAY_REFUSED;
	struct broker *b = x->vhost->broker;
	uint64_t hold = 0;
	if (d->store_qid && m->persistent && b->store && !b->recovering) {
		hold = delay_store(d, m, delay_wall_ms() + (uint64_t)ms);
		if (!hold)
			return EXCHANGE_DELAY_REFUSED;
	}
	delay_push(d, m, time_now_ms() + (uint64_t)ms, hold);
	return EXCHANGE_DELAY_HELD;
}

int exchange_delay_recover(struct exchange *x, const struct store_message *sm, uint64_t msg_id)
{
	if (sm->props_len < DELAY_DUE_LEN) {
		log_warn(x->vhost->broker->log, "stored delayed message %llu of exchange '%s' has no due time; skipped",
			 (unsigned long long)msg_id, x->name.ptr);
		return 1;
	}
	uint64_t due_wall = 0;
	for (int i = 0; i < DELAY_DUE_LEN; i++)
		due_wall |= (uint64_t)sm->props[i] << (8 * i);
	struct store_message real = *sm;
	real.props += DELAY_DUE_LEN;
	real.props_len -= DELAY_DUE_LEN;
	struct exchange_delay *d = delay_get(x);
	struct message *m = d ? message_from_store(x->vhost->broker, &real, msg_id) : NULL;
	if (!m)
		return -1;
	m->store_id = 0; /* routed as a new publish when due; the record is the hold */
	/* Wall-clock due time back to the monotonic clock the timers use; past due: now. */
	uint64_t wall = delay_wall_ms(), now = time_now_ms();
	delay_push(d, m, now + (due_wall > wall ? due_wall - wall : 0), msg_id);
	message_unref(m);
	return 0;
}

void exchange_delay_free(struct exchange *x)
{
	struct exchange_delay *d = x->delay;
	if (!d)
		return;
	struct broker *b = x->vhost->broker;
	bool stored = false;
	for (size_t i = 0; i < d->count; i++) {
		stored |= d->items[i].hold != 0;
		message_unref(d->items[i].msg);
	}
	/* Exchange deleted: its held messages must not come back. (At shutdown the broker
	 * sets recovering, so nothing is purged then.) */
	if (stored && d->store_qid && b->store && !b->recovering) {
		store_queue_purge(b->store, d->store_qid);
		broker_store_touched(b);
	}
	broker_timer_free(&d->timer);
	free(d->items);
	free(d);
	x->delay = NULL;
}

const char *exchange_type_name(const struct exchange *x)
{
	return x->delayed ? "x-delayed-message" : x->type->name;
}

const struct exchange_type *exchange_type_declared(struct amqp_str type_name,
						   struct amqp_table args, bool *delayed)
{
	struct amqp_value dt;
	*delayed = amqp_str_eq_c(type_name, "x-delayed-message");
	if (!*delayed)
		return exchange_type_find(type_name);
	/* rabbitmq-delayed-message-exchange: routing by the x-delayed-type argument. */
	if (amqp_table_get(args, "x-delayed-type", &dt) && dt.type == 'S')
		return exchange_type_find(dt.v.str);
	return NULL;
}
