/* broker/exchange/exchange.h: exchanges, bindings and routing. The part common to every type lives in
 * exchange.c; each type (direct, fanout, topic, headers, x-consistent-hash,
 * x-message-deduplication) implements the small vtable below.
 * Routing fills a deduplicated set of queues, following exchange-to-exchange bindings and
 * alternate exchanges with a cycle guard. */
#ifndef BROKER_EXCHANGE_H
#define BROKER_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amqp/table.h"
#include "amqp/wire.h"
#include "broker/core/list.h"

struct broker;
struct vhost;
struct queue;
struct exchange;
struct message;

struct binding {
	struct exchange *source;
	struct exchange *dest_x; /* exactly one of dest_x, dest_q is set */
	struct queue *dest_q;
	struct amqp_str key;     /* owned copy */
	struct amqp_table args;  /* owned copy */
	int mode;                /* type-private (headers: match mode) */
	uint64_t routed;         /* messages it put into dest_q (management API statistics) */
	struct list source_link; /* in source->bindings */
	struct list dest_link;   /* in dest_x->bound_here or dest_q->bindings */
};

/* What routing collects: each queue once. */
struct route_set {
	struct broker *broker; /* whose route epochs it draws */
	struct queue **queues;
	size_t count, cap;
	uint64_t epoch;   /* marks queues added by this routing (dedup across routing keys) */
	uint64_t x_epoch; /* marks exchanges visited for the current routing key (cycle guard) */
	bool oom;
	bool routed_somewhere;
	/* The message being routed, for types that route by its properties (consistent hash
	 * on a property, deduplication); NULL when routing only a key (tests, the API). */
	const struct message *msg;
};

struct exchange_type {
	const char *name;
	const char *description; /* the management API's exchange_types */
	/* Arguments a new exchange of this type must have right (RabbitMQ's validate/1): 0, or
	 * -1 with the PRECONDITION_FAILED text in err. NULL: any arguments. */
	int (*validate)(struct amqp_table args, char *err, size_t errlen);
	int (*init)(struct exchange *x);
	void (*destroy)(struct exchange *x);
	/* 0, or -1 out of memory. For headers, validates x-match first: 1 with err filled. */
	int (*bind)(struct exchange *x, struct binding *b, char *err, size_t errlen);
	void (*unbind)(struct exchange *x, struct binding *b);
	/* Calls exchange_route_to(set, binding) for every binding matching. */
	void (*route)(struct exchange *x, struct amqp_str rk, struct amqp_table headers,
		      struct route_set *set);
};

struct exchange {
	struct vhost *vhost;
	uint64_t serial; /* unique over the process's life: tells apart exchanges at one address */
	struct amqp_str name; /* owned, NUL-terminated */
	const struct exchange_type *type;
	bool durable, auto_delete, internal, is_default;
	struct amqp_table args; /* owned */
	struct amqp_str alternate; /* alternate-exchange argument (owned), len 0 when none */
	struct list bindings;   /* as source */
	struct list bound_here; /* e2e bindings whose destination is this exchange */
	uint32_t binding_count;
	void *priv;
	bool delayed;                /* x-delayed-message: type is the x-delayed-type */
	struct exchange_delay *delay; /* held messages, allocated on first use */
	uint64_t route_epoch;
	uint64_t publish_in, publish_out;
};

const struct exchange_type *exchange_type_find(struct amqp_str name);
/* Every type a client may declare, in the management API's order; *count receives how many. */
const struct exchange_type *const *exchange_types(size_t *count);
/* type->validate, when the type has one: 0 or -1 with err filled. */
int exchange_type_validate(const struct exchange_type *type, struct amqp_table args, char *err,
			   size_t errlen);
extern const struct exchange_type exchange_type_direct, exchange_type_fanout,
	exchange_type_topic, exchange_type_headers, exchange_type_consistent_hash,
	exchange_type_dedup;

struct exchange *exchange_new(struct vhost *v, struct amqp_str name,
			      const struct exchange_type *type, bool durable, bool auto_delete,
			      bool internal, struct amqp_table args);
/* Declares RabbitMQ's predeclared exchanges in a new vhost: the default exchange "", amq.direct,
 * amq.fanout, amq.topic, amq.headers, amq.match and the internal amq.rabbitmq.trace, and in the
 * default vhost the event exchange amq.rabbitmq.event (exchange/event.c). 0 or -1 out of
 * memory. */
int exchange_predeclare(struct vhost *v);
/* Removes every binding (both directions), unregisters from the vhost and frees. */
void exchange_delete(struct exchange *x);

/* Binds source -> queue or exchange. 0 bound, 1 already bound, -1 out of memory, -2 invalid
 * binding arguments (err holds the PRECONDITION_FAILED text). */
int exchange_bind(struct exchange *src, struct queue *dq, struct exchange *dx, struct amqp_str key,
		  struct amqp_table args, char *err, size_t errlen);
/* Whether this exact binding (key and arguments) exists. */
bool exchange_has_binding(struct exchange *src, struct queue *dq, struct exchange *dx,
			  struct amqp_str key, struct amqp_table args);
/* 0 removed, 1 no such binding. Runs the auto-delete rule for the source. */
int exchange_unbind(struct exchange *src, struct queue *dq, struct exchange *dx,
		    struct amqp_str key, struct amqp_table args);
/* Removes one binding (queue or exchange deletion). Runs the auto-delete rule for the source. */
void exchange_binding_remove(struct binding *b);
/* Removes every binding whose destination is q (q is being deleted). */
void exchange_unbind_queue(struct queue *q);
/* The routing queues need (dead-lettering, unbinding a deleted queue), for b->queue_hooks. */
extern const struct queue_hooks exchange_queue_hooks;

void route_set_init(struct route_set *set, struct broker *b);
void route_set_free(struct route_set *set);
/* Before routing the same message again with another routing key (CC/BCC). */
void route_set_next_key(struct route_set *set);
/* Routes through x into set (e2e bindings and alternate exchanges followed). */
void exchange_route(struct exchange *x, struct amqp_str rk, struct amqp_table headers,
		    struct route_set *set);
/* Used by the types' route functions. */
void exchange_route_to(struct route_set *set, struct binding *b, struct amqp_str rk,
		       struct amqp_table headers);

struct publish_result {
	size_t routed;   /* queues the message went into */
	size_t rejected; /* queues that refused it (reject-publish overflow) */
	bool oom;
	/* A queue it went into that its consumers are not keeping up with (queue_flow_wanted):
	 * the publisher should wait for it (publisher flow control). */
	struct queue *flow;
};

/* Routes m through x with its routing key and any CC/BCC header keys, removes BCC from the
 * properties, and pushes it to every queue found (applying each queue's limits). A queue for
 * which accept() returns false is skipped (dead-letter cycle rule). Borrows m. */
void exchange_publish(struct exchange *x, struct message *m,
		      bool (*accept)(struct queue *q, void *arg), void *arg,
		      struct publish_result *r);
/* x-delayed-message: holds m (+1 ref) until its x-delay header's milliseconds have passed,
 * then publishes it through x. NONE (not held) when the header is absent or not positive.
 * A persistent message held by a durable exchange is written to the store first (the
 * publish's confirm then waits for the sync, through broker->store_appends); REFUSED (not
 * held: nack it) when the store refuses or memory runs out. */
enum exchange_delay_result { EXCHANGE_DELAY_NONE, EXCHANGE_DELAY_HELD, EXCHANGE_DELAY_REFUSED };
enum exchange_delay_result exchange_delay(struct exchange *x, struct message *m);
/* Drops the held messages; a durable exchange's stored holds are purged unless the broker is
 * shutting down (broker->recovering). */
void exchange_delay_free(struct exchange *x);
/* The store queue id under which the durable delayed exchange x keeps its held messages. */
uint64_t exchange_delay_store_qid(const struct exchange *x);
struct store_message;
/* Start-up: a record recovered under x's hold id goes back into x's heap, due at the time
 * stored with it (at once when that has passed). 0, 1 unreadable record (logged, skipped), -1
 * out of memory. */
int exchange_delay_recover(struct exchange *x, const struct store_message *sm, uint64_t msg_id);
/* The type an exchange declared as type_name with args routes by: for "x-delayed-message",
 * the x-delayed-type argument's type (NULL when missing or unknown) and *delayed = true. */
const struct exchange_type *exchange_type_declared(struct amqp_str type_name,
						   struct amqp_table args, bool *delayed);
/* The type name clients declared: "x-delayed-message" for delayed exchanges. */
const char *exchange_type_name(const struct exchange *x);

/* ---- x-message-deduplication (dedup.c) ---- */
/* Whether x keeps its deduplication cache in the store (x-cache-persistence disk, durable). */
bool exchange_dedup_is_persistent(const struct exchange *x);
/* The store queue id under which it does. */
uint64_t exchange_dedup_store_qid(const struct exchange *x);
/* Start-up: a cached value recovered under x's id goes back into its cache, unless it has
 * expired meanwhile. 0 loaded, 1 skipped (expired, repeated or unreadable: its record goes
 * once recovery is over), -1 out of memory. */
int exchange_dedup_recover(struct exchange *x, const struct store_message *sm, uint64_t msg_id);

/* ---- the event exchange (event.c) ---- */
#define EXCHANGE_EVENT_NAME "amq.rabbitmq.event"
/* Installs b->event_sink: events are published to amq.rabbitmq.event in the default vhost
 * while it has bindings. 0 or -1 out of memory. */
int exchange_events_install(struct broker *b);
void exchange_events_free(struct broker *b);

/* alternate-exchange from the arguments or, failing that, the exchange's policy. */
void exchange_apply_policy(struct exchange *x);

/* Exchange-argument equivalence for redeclare (alternate-exchange compared). */
bool exchange_is_system(const struct exchange *x);

#endif
