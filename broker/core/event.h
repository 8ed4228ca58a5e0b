/* broker/core/event.h: the broker's events, as RabbitMQ's rabbit_event names them (queue.created,
 * connection.closed, policy.set, ...), for the event exchange (exchange/event.c publishes them
 * to amq.rabbitmq.event). The places where things happen, at every layer, emit with one
 * EVENT_EMIT; the exchange layer installs the sink (b->event_sink) that turns an event into a
 * message. An event costs one test while nobody is bound to the exchange: the fields are not
 * even built (event_wanted).
 *
 * Fields borrow their strings and tables for the duration of the call only. */
#ifndef BROKER_CORE_EVENT_H
#define BROKER_CORE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "amqp/table.h"
#include "amqp/wire.h"
#include "broker/core/broker.h"

enum event_field_type {
	EVENT_STR,   /* longstr */
	EVENT_INT,   /* long */
	EVENT_BOOL,  /* bool */
	EVENT_TERMS, /* a field table, shown as RabbitMQ shows an argument list: an array of
		      * longstr Erlang terms, one per entry ({<<"x-max-length">>,signedint,10}) */
	EVENT_TABLE, /* a field table, kept a table (a policy's definition) */
	EVENT_ACTOR, /* user_who_performed_action: b->event_actor, else "rmq-internal" */
	EVENT_CHARS, /* text sent as RabbitMQ sends an Erlang string: an array of longs */
};

struct event_field {
	const char *key;
	enum event_field_type type;
	const void *p; /* STR bytes, TERMS/TABLE entries */
	size_t len;
	int64_t i;     /* INT, BOOL */
};

static inline const char *event_cstr(const char *s)
{
	return s ? s : "";
}

#define EV_STR(k, s, n) { .key = (k), .type = EVENT_STR, .p = (s), .len = (n) }
#define EV_CSTR(k, s) EV_STR(k, event_cstr(s), strlen(event_cstr(s)))
#define EV_ASTR(k, a) EV_STR(k, (a).ptr, (a).len)
#define EV_INT(k, v) { .key = (k), .type = EVENT_INT, .i = (int64_t)(v) }
#define EV_BOOL(k, v) { .key = (k), .type = EVENT_BOOL, .i = (v) ? 1 : 0 }
#define EV_TERMS(k, t) { .key = (k), .type = EVENT_TERMS, .p = (t).ptr, .len = (t).len }
#define EV_TABLE(k, t) { .key = (k), .type = EVENT_TABLE, .p = (t).ptr, .len = (t).len }
#define EV_CHARS(k, s) { .key = (k), .type = EVENT_CHARS, .p = (s), .len = strlen(s) }
#define EV_ACTOR() { .key = "user_who_performed_action", .type = EVENT_ACTOR }

/* What the exchange layer installs in b->event_sink. */
struct event_sink {
	/* Whether anything would receive an event now (the exchange has bindings). */
	bool (*wanted)(struct broker *b);
	/* Publishes the event (key is its routing key) with these headers. */
	void (*emit)(struct broker *b, const char *key, const struct event_field *f, size_t n);
};

static inline bool event_wanted(struct broker *b)
{
	return b->event_sink && !b->recovering && b->event_sink->wanted(b);
}

/* EVENT_EMIT(b, "queue.deleted", EV_ASTR("name", q->name), EV_CSTR("vhost", v->name),
 * EV_ACTOR()): one statement, nothing evaluated unless someone listens. */
#define EVENT_EMIT(b, key, ...)                                                            \
	do {                                                                               \
		struct broker *event_b_ = (b);                                             \
		if (event_wanted(event_b_)) {                                              \
			const struct event_field event_f_[] = { __VA_ARGS__ };             \
			event_b_->event_sink->emit(event_b_, (key), event_f_,              \
						   sizeof event_f_ / sizeof event_f_[0]); \
		}                                                                          \
	} while (0)

#endif
