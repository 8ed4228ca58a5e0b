/* broker/core/broker.c: the loop services of the root object: deferred tasks that run once per
 * loop turn after its input, one-shot timers, and the per-turn store sync and definitions flush
 * (their work is admin/durable.c's, installed in the deferred tasks' fn). */
#include "broker/core/broker.h"

#include <event2/event.h>
#include <stdio.h>
#include <unistd.h>

#include "broker/core/time.h"
#include "storage/store.h"

static void broker_on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct broker_timer *t = arg;
	t->due_ms = 0;
	t->fn(t);
}

int broker_timer_set(struct broker *b, struct broker_timer *t, uint64_t due_ms)
{
	if (!t->ev) {
		t->ev = event_new(b->base, -1, 0, broker_on_timer, t);
		if (!t->ev)
			return -1;
	}
	if (t->due_ms == due_ms && due_ms)
		return 0;
	uint64_t now = time_now_ms();
	uint64_t wait = due_ms > now ? due_ms - now : 0;
	struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)((wait % 1000) * 1000) };
	t->due_ms = due_ms ? due_ms : 1;
	return event_add(t->ev, &tv);
}

void broker_timer_cancel(struct broker_timer *t)
{
	if (t->ev)
		event_del(t->ev);
	t->due_ms = 0;
}

void broker_timer_free(struct broker_timer *t)
{
	if (t->ev)
		event_free(t->ev);
	t->ev = NULL;
	t->due_ms = 0;
}

static void broker_on_defer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	broker_run_deferred(arg);
}

const char *broker_hostname(struct broker *b)
{
	if (!b->hostname[0] && gethostname(b->hostname, sizeof b->hostname - 1) != 0)
		snprintf(b->hostname, sizeof b->hostname, "localhost");
	return b->hostname;
}

const char *broker_node_name(struct broker *b)
{
	if (!b->node_name[0])
		snprintf(b->node_name, sizeof b->node_name, "warren@%s", broker_hostname(b));
	return b->node_name;
}

void broker_set_node_name(struct broker *b, const char *name)
{
	snprintf(b->node_name, sizeof b->node_name, "%s", name);
}

void broker_defer(struct broker *b, struct deferred *d)
{
	if (d->queued)
		return;
	d->queued = true;
	d->next = NULL;
	if (b->defer_tail)
		b->defer_tail->next = d;
	else
		b->defer_head = d;
	b->defer_tail = d;
	if (b->defer_ev)
		event_active(b->defer_ev, EV_TIMEOUT, 0);
}

void broker_cancel_deferred(struct broker *b, struct deferred *d)
{
	if (!d->queued)
		return;
	struct deferred **pp = &b->defer_head, *prev = NULL;
	for (; *pp; prev = *pp, pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			if (b->defer_tail == d)
				b->defer_tail = prev;
			break;
		}
	d->queued = false;
	d->next = NULL;
}

void broker_run_deferred(struct broker *b)
{
	/* Tasks may defer more tasks (dispatch -> confirm flush); they run in this same pass. */
	for (int rounds = 0; b->defer_head && rounds < 64; rounds++) {
		struct deferred *d = b->defer_head;
		b->defer_head = d->next;
		if (!b->defer_head)
			b->defer_tail = NULL;
		d->queued = false;
		d->next = NULL;
		d->fn(d);
	}
	if (b->defer_head && b->defer_ev)
		event_active(b->defer_ev, EV_TIMEOUT, 0);
}

int broker_loop_init(struct broker *b, struct event_base *base)
{
	b->base = base;
	b->auth_generation = 1; /* a channel's cache starts at 0: never valid */
	strmap_init(&b->vhosts);
	strmap_init(&b->users);
	strmap_init(&b->reply_to);
	list_init(&b->conns);
	list_init(&b->confirm_waiting);
	/* Activated from I/O callbacks, so it runs after the I/O events already active in this
	 * loop turn: one dispatch per batch of input. */
	b->defer_ev = event_new(base, -1, 0, broker_on_defer, b);
	return b->defer_ev ? 0 : -1;
}

void broker_loop_free(struct broker *b)
{
	if (b->defer_ev)
		event_free(b->defer_ev);
	b->defer_ev = NULL;
}

void broker_store_touched(struct broker *b)
{
	if (b->store && !b->recovering)
		broker_defer(b, &b->store_sync_task);
}

/* Not sync_issued + 1: appends made while the pending batch already has a ticket (the one
 * before is still being written) ride along with that ticket, and a later store_sync returns it
 * again; waiting for the next one would leave the last publishes of a burst unconfirmed. */
uint64_t broker_store_next_ticket(const struct broker *b)
{
	return store_next_ticket(b->store);
}

void broker_definitions_dirty(struct broker *b)
{
	if (!b->store || b->recovering)
		return;
	b->defs_dirty = true;
	broker_defer(b, &b->defs_flush);
}
