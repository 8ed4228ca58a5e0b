/* broker/exchange/event.c: the event exchange, as the rabbitmq_event_exchange plugin (always
 * enabled here): amq.rabbitmq.event, an internal durable topic exchange in the default vhost,
 * receives one message per broker event (core/event.h), with the event's name as routing key
 * (queue.created, connection.closed, ...), an empty body, delivery mode 2, the timestamp
 * property in seconds and the event's fields as headers (plus timestamp_in_ms). Field tables the
 * plugin shows as Erlang terms (queue arguments, client properties) are formatted the same way:
 * an array of longstr "{<<"x-max-length">>,signedint,10}".
 *
 * While the exchange has no binding nothing is built (event_wanted). Events are published at the
 * end of the loop turn, never inside the operation that emitted them (a binding removed while
 * its exchange is being deleted, a queue half-way through deletion). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"
#include "amqp/table.h"
#include "broker/core/broker.h"
#include "broker/core/config.h"
#include "broker/core/event.h"
#include "broker/core/log.h"
#include "broker/core/time.h"
#include "broker/exchange/exchange.h"
#include "broker/queue/message.h"
#include "broker/vhost/vhost.h"

/* Events waiting for the end of the turn; past this many the newest are dropped (a flood of
 * events from one operation, e.g. deleting a vhost with a million bindings, must not take the
 * broker's memory). */
#define EVENT_PENDING_MAX 65536

struct event_exchange {
	struct broker *b;
	struct exchange *x; /* cached lookup, valid while gen == topology_gen */
	uint64_t gen;
	struct message **pending;
	size_t count, cap;
	uint64_t dropped;
	struct deferred flush;
};

static struct exchange *event_exchange_find(struct broker *b)
{
	struct event_exchange *e = b->events;
	/* Deleting an exchange bumps topology_gen; a lookup that found nothing is not kept (the
	 * exchange is created after the first events, while the default vhost is made). */
	if (e->x && e->gen == b->topology_gen)
		return e->x;
	const char *dv = b->cfg->default_vhost ? b->cfg->default_vhost : "/";
	struct vhost *v = strmap_get(&b->vhosts, dv, strlen(dv));
	e->x = v ? vhost_exchange_find(v, amqp_str_c(EXCHANGE_EVENT_NAME)) : NULL;
	e->gen = b->topology_gen;
	return e->x;
}

static bool event_sink_wanted(struct broker *b)
{
	struct exchange *x = event_exchange_find(b);
	return x && x->binding_count > 0 && !b->shutting_down;
}

/* ---- Erlang terms, as ~p prints them ---- */

static void event_term_binary(struct amqp_buf *o, const uint8_t *p, size_t n)
{
	bool printable = n > 0; /* <<>> for the empty binary */
	for (size_t i = 0; i < n && printable; i++)
		printable = p[i] >= 32 && p[i] < 127;
	amqp_buf_put(o, "<<", 2);
	if (printable) {
		amqp_buf_put_u8(o, '"');
		for (size_t i = 0; i < n; i++) {
			if (p[i] == '"' || p[i] == '\\')
				amqp_buf_put_u8(o, '\\');
			amqp_buf_put_u8(o, p[i]);
		}
		amqp_buf_put_u8(o, '"');
	} else {
		for (size_t i = 0; i < n; i++) {
			char num[8];
			int k = snprintf(num, sizeof num, i ? ",%u" : "%u", p[i]);
			amqp_buf_put(o, num, (size_t)k);
		}
	}
	amqp_buf_put(o, ">>", 2);
}

static void event_term_entries(struct amqp_buf *o, struct amqp_table t, bool array, int depth);

/* A value's Erlang form: 10, true, <<"text">>, [{...}] for tables, [{type,value}] for arrays. */
static void event_term_value(struct amqp_buf *o, const struct amqp_value *v, int depth)
{
	char num[64];
	int k = 0;
	int64_t i;
	switch (v->type) {
	case 'S':
	case 'x':
		event_term_binary(o, v->v.str.ptr, v->v.str.len);
		return;
	case 't':
		amqp_buf_put(o, v->v.b ? "true" : "false", v->v.b ? 4 : 5);
		return;
	case 'F':
	case 'A':
		event_term_entries(o, v->v.table, v->type == 'A', depth + 1);
		return;
	case 'V':
		amqp_buf_put(o, "undefined", 9);
		return;
	case 'f':
		k = snprintf(num, sizeof num, "%g", (double)v->v.f);
		break;
	case 'd':
		k = snprintf(num, sizeof num, "%g", v->v.d);
		break;
	case 'D':
		k = snprintf(num, sizeof num, "{%u,%u}", v->v.dec.scale, v->v.dec.value);
		break;
	default:
		if (amqp_value_as_int(v, &i))
			k = snprintf(num, sizeof num, "%lld", (long long)i);
		break;
	}
	amqp_buf_put(o, num, (size_t)(k > 0 ? k : 0));
}

static void event_term_entries(struct amqp_buf *o, struct amqp_table t, bool array, int depth)
{
	struct amqp_table_iter it;
	struct amqp_str key;
	struct amqp_value v;
	bool first = true;
	amqp_buf_put_u8(o, '[');
	if (depth < AMQP_TABLE_MAX_DEPTH) {
		if (array)
			amqp_array_iter_init(&it, t);
		else
			amqp_table_iter_init(&it, t);
		while ((array ? amqp_array_next(&it, &v) : amqp_table_next(&it, &key, &v)) == 1) {
			const char *type = amqp_value_type_name(v.type);
			if (!first)
				amqp_buf_put_u8(o, ',');
			first = false;
			amqp_buf_put_u8(o, '{');
			if (!array) {
				event_term_binary(o, key.ptr, key.len);
				amqp_buf_put_u8(o, ',');
			}
			amqp_buf_put(o, type, strlen(type));
			amqp_buf_put_u8(o, ',');
			event_term_value(o, &v, depth);
			amqp_buf_put_u8(o, '}');
		}
	}
	amqp_buf_put_u8(o, ']');
}

/* The TERMS form: an 'A' value of longstr, one Erlang term per entry. */
static void event_put_terms(struct amqp_buf *h, struct amqp_table t)
{
	struct amqp_table_iter it;
	struct amqp_str key;
	struct amqp_value v;
	struct amqp_buf term;
	amqp_buf_init(&term);
	amqp_buf_put_u8(h, 'A');
	size_t at = amqp_buf_table_begin(h);
	amqp_table_iter_init(&it, t);
	while (amqp_table_next(&it, &key, &v) == 1) {
		const char *type = amqp_value_type_name(v.type);
		amqp_buf_reset(&term);
		amqp_buf_put_u8(&term, '{');
		event_term_binary(&term, key.ptr, key.len);
		amqp_buf_put_u8(&term, ',');
		amqp_buf_put(&term, type, strlen(type));
		amqp_buf_put_u8(&term, ',');
		event_term_value(&term, &v, 1);
		amqp_buf_put_u8(&term, '}');
		if (term.oom)
			h->oom = true;
		amqp_buf_put_value_longstr(h, (struct amqp_str){ term.data, (uint32_t)term.len });
	}
	amqp_buf_table_end(h, at);
	amqp_buf_free(&term);
}

static void event_on_flush(struct deferred *d)
{
	struct event_exchange *e = (struct event_exchange *)((char *)d -
							      offsetof(struct event_exchange, flush));
	struct broker *b = e->b;
	/* Taken first: whatever publishing sets off goes to the next turn's batch. */
	struct message **batch = e->pending;
	size_t n = e->count;
	e->pending = NULL;
	e->count = e->cap = 0;
	for (size_t i = 0; i < n; i++) {
		struct exchange *x = event_exchange_find(b);
		if (x && !b->shutting_down) {
			struct publish_result r;
			exchange_publish(x, batch[i], NULL, NULL, &r);
		}
		message_unref(batch[i]);
	}
	free(batch);
	if (e->dropped) {
		log_warn(b->log, "the event exchange dropped %llu events (more than %d in one loop turn)",
			 (unsigned long long)e->dropped, EVENT_PENDING_MAX);
		e->dropped = 0;
	}
}

static void event_put_field(struct amqp_buf *h, struct broker *b, const struct event_field *f)
{
	amqp_buf_put_shortstr(h, amqp_str_c(f->key));
	switch (f->type) {
	case EVENT_STR:
		amqp_buf_put_value_longstr(h, (struct amqp_str){ f->p, (uint32_t)f->len });
		break;
	case EVENT_INT:
		amqp_buf_put_value_long(h, f->i);
		break;
	case EVENT_BOOL:
		amqp_buf_put_value_bool(h, f->i != 0);
		break;
	case EVENT_TERMS:
		event_put_terms(h, (struct amqp_table){ f->p, (uint32_t)f->len });
		break;
	case EVENT_TABLE:
		amqp_buf_put_u8(h, 'F');
		amqp_buf_put_table(h, (struct amqp_table){ f->p, (uint32_t)f->len });
		break;
	case EVENT_CHARS: {
		amqp_buf_put_u8(h, 'A');
		size_t at = amqp_buf_table_begin(h);
		for (size_t i = 0; i < f->len; i++)
			amqp_buf_put_value_long(h, ((const uint8_t *)f->p)[i]);
		amqp_buf_table_end(h, at);
		break;
	}
	case EVENT_ACTOR:
		amqp_buf_put_value_longstr(h, amqp_str_c(b->event_actor ? b->event_actor :
										 "rmq-internal"));
		break;
	}
}

static void event_sink_emit(struct broker *b, const char *key, const struct event_field *f,
			    size_t n)
{
	struct event_exchange *e = b->events;
	struct amqp_buf h, props;
	struct amqp_basic_props p;
	uint64_t now = time_wall_ms();

	if (e->count >= EVENT_PENDING_MAX) {
		e->dropped++;
		return;
	}
	amqp_buf_init(&h);
	amqp_buf_init(&props);
	for (size_t i = 0; i < n; i++)
		event_put_field(&h, b, &f[i]);
	amqp_buf_put_shortstr(&h, AMQP_STR_LIT("timestamp_in_ms"));
	amqp_buf_put_value_long(&h, (int64_t)now);
	memset(&p, 0, sizeof p);
	p.flags = AMQP_PROP_HEADERS | AMQP_PROP_DELIVERY_MODE | AMQP_PROP_TIMESTAMP;
	p.headers = (struct amqp_table){ h.data, (uint32_t)h.len };
	p.delivery_mode = 2;
	p.timestamp = now / 1000; /* 0-9-1's timestamp is in seconds */
	amqp_props_encode(&p, &props);
	struct message *m = NULL;
	if (!h.oom && !props.oom)
		m = message_new(b, amqp_str_c(EXCHANGE_EVENT_NAME), amqp_str_c(key), props.data,
				props.len, 0);
	amqp_buf_free(&h);
	amqp_buf_free(&props);
	if (!m) {
		e->dropped++;
		return;
	}
	m->persistent = true;
	if (e->count == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		struct message **pending = realloc(e->pending, cap * sizeof *pending);
		if (!pending) {
			message_unref(m);
			e->dropped++;
			return;
		}
		e->pending = pending;
		e->cap = cap;
	}
	e->pending[e->count++] = m;
	broker_defer(b, &e->flush);
}

static const struct event_sink event_exchange_sink = {
	.wanted = event_sink_wanted,
	.emit = event_sink_emit,
};

int exchange_events_install(struct broker *b)
{
	struct event_exchange *e = calloc(1, sizeof *e);
	if (!e)
		return -1;
	e->b = b;
	e->flush.fn = event_on_flush;
	b->events = e;
	b->event_sink = &event_exchange_sink;
	return 0;
}

void exchange_events_free(struct broker *b)
{
	struct event_exchange *e = b->events;
	if (!e)
		return;
	broker_cancel_deferred(b, &e->flush);
	for (size_t i = 0; i < e->count; i++)
		message_unref(e->pending[i]);
	free(e->pending);
	free(e);
	b->events = NULL;
	b->event_sink = NULL;
}
