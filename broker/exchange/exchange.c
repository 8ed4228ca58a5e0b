/* broker/exchange/exchange.c: the part of exchanges common to every type: creation, bindings in both
 * directions, auto-delete, and routing with exchange-to-exchange bindings, alternate exchanges,
 * deduplication (a queue reached by several paths gets one copy) and a cycle guard. */
#include "broker/exchange/exchange.h"

#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"
#include "broker/core/broker.h"
#include "broker/core/config.h"
#include "broker/core/event.h"
#include "broker/exchange/deadletter.h"
#include "broker/queue/message.h"
#include "broker/vhost/policy.h"
#include "broker/queue/queue.h"
#include "broker/vhost/vhost.h"

#define ROUTE_MAX_DEPTH 64


static const struct exchange_type *const exchange_type_list[] = {
	&exchange_type_direct, &exchange_type_fanout, &exchange_type_headers,
	&exchange_type_topic, &exchange_type_consistent_hash, &exchange_type_dedup,
};

const struct exchange_type *const *exchange_types(size_t *count)
{
	*count = sizeof exchange_type_list / sizeof exchange_type_list[0];
	return exchange_type_list;
}

const struct exchange_type *exchange_type_find(struct amqp_str name)
{
	for (size_t i = 0; i < sizeof exchange_type_list / sizeof exchange_type_list[0]; i++)
		if (amqp_str_eq_c(name, exchange_type_list[i]->name))
			return exchange_type_list[i];
	return NULL;
}

int exchange_type_validate(const struct exchange_type *type, struct amqp_table args, char *err,
			   size_t errlen)
{
	return type->validate ? type->validate(args, err, errlen) : 0;
}

static int exchange_copy_table(struct amqp_table *dst, struct amqp_table src)
{
	struct amqp_str s;
	if (amqp_str_dup(&s, (struct amqp_str){ src.ptr, src.len }) != 0)
		return -1;
	*dst = (struct amqp_table){ s.ptr, s.len };
	return 0;
}

struct exchange *exchange_new(struct vhost *v, struct amqp_str name,
			      const struct exchange_type *type, bool durable, bool auto_delete,
			      bool internal, struct amqp_table args)
{
	struct exchange *x = calloc(1, sizeof *x);
	struct amqp_value ae;
	if (!x)
		return NULL;
	x->vhost = v;
	x->serial = ++v->broker->exchange_serial;
	x->type = type;
	x->durable = durable;
	x->auto_delete = auto_delete;
	x->internal = internal;
	list_init(&x->bindings);
	list_init(&x->bound_here);
	if (amqp_str_dup(&x->name, name) != 0 || exchange_copy_table(&x->args, args) != 0)
		goto fail;
	if (amqp_table_get(x->args, "alternate-exchange", &ae) && ae.type == 'S' &&
	    amqp_str_dup(&x->alternate, ae.v.str) != 0)
		goto fail;
	if (type->init && type->init(x) != 0)
		goto fail;
	if (strmap_put(&v->exchanges, name.ptr, name.len, x) != 0) {
		if (type->destroy)
			type->destroy(x);
		goto fail;
	}
	if (!x->alternate.len)
		exchange_apply_policy(x);
	if (durable)
		broker_definitions_dirty(v->broker);
	EVENT_EMIT(v->broker, "exchange.created", EV_ASTR("name", x->name),
		   EV_CSTR("vhost", v->name), EV_CSTR("type", type->name), EV_BOOL("durable", durable),
		   EV_BOOL("auto_delete", auto_delete), EV_BOOL("internal", internal),
		   EV_TERMS("arguments", x->args), EV_CSTR("policy", ""), EV_ACTOR());
	return x;
fail:
	free((void *)x->name.ptr);
	free((void *)x->args.ptr);
	free((void *)x->alternate.ptr);
	free(x);
	return NULL;
}

static void binding_free(struct binding *b)
{
	free((void *)b->key.ptr);
	free((void *)b->args.ptr);
	free(b);
}

/* Detaches b from both lists and the type's index, without the auto-delete rule. */
/* A binding is durable (stored) when its source and destination both are. */
static void binding_changed(const struct binding *b)
{
	bool dest_durable = b->dest_q ? b->dest_q->store_id != 0 : b->dest_x->durable;
	if (b->source->durable && dest_durable)
		broker_definitions_dirty(b->source->vhost->broker);
}

/* binding.created / binding.deleted, with the fields RabbitMQ's event exchange shows. */
static void binding_event(const struct binding *b, const char *key)
{
	struct amqp_str dest = b->dest_q ? b->dest_q->name : b->dest_x->name;
	EVENT_EMIT(b->source->vhost->broker, key, EV_ASTR("source_name", b->source->name),
		   EV_CSTR("source_kind", "exchange"), EV_ASTR("destination_name", dest),
		   EV_CSTR("destination_kind", b->dest_q ? "queue" : "exchange"),
		   EV_ASTR("routing_key", b->key), EV_TERMS("arguments", b->args),
		   EV_CSTR("vhost", b->source->vhost->name), EV_ACTOR());
}

static void exchange_binding_detach(struct binding *b)
{
	struct exchange *x = b->source;
	binding_changed(b);
	if (x->type->unbind)
		x->type->unbind(x, b);
	list_remove(&b->source_link);
	list_remove(&b->dest_link);
	x->binding_count--;
	binding_event(b, "binding.deleted");
}

static void exchange_check_auto_delete(struct exchange *x)
{
	if (x->auto_delete && x->binding_count == 0 && !x->is_default)
		exchange_delete(x);
}

void exchange_binding_remove(struct binding *b)
{
	struct exchange *x = b->source;
	exchange_binding_detach(b);
	binding_free(b);
	exchange_check_auto_delete(x);
}

void exchange_unbind_queue(struct queue *q)
{
	while (!list_is_empty(&q->bindings))
		exchange_binding_remove(list_entry(q->bindings.next, struct binding, dest_link));
}

const struct queue_hooks exchange_queue_hooks = {
	.dead_letter = deadletter,
	.unbind_all = exchange_unbind_queue,
};

void exchange_delete(struct exchange *x)
{
	struct list *pos, *tmp;
	list_for_each_safe(pos, tmp, &x->bindings)
	{
		struct binding *b = list_entry(pos, struct binding, source_link);
		exchange_binding_detach(b);
		binding_free(b);
	}
	/* e2e bindings towards x: their sources may auto-delete in turn. */
	while (!list_is_empty(&x->bound_here)) {
		struct binding *b = list_entry(x->bound_here.next, struct binding, dest_link);
		exchange_binding_remove(b);
	}
	strmap_del(&x->vhost->exchanges, x->name.ptr, x->name.len);
	x->vhost->broker->topology_gen++;
	if (x->durable)
		broker_definitions_dirty(x->vhost->broker);
	EVENT_EMIT(x->vhost->broker, "exchange.deleted", EV_ASTR("name", x->name),
		   EV_CSTR("vhost", x->vhost->name), EV_ACTOR());
	exchange_delay_free(x);
	if (x->type->destroy)
		x->type->destroy(x);
	free((void *)x->name.ptr);
	free((void *)x->args.ptr);
	free((void *)x->alternate.ptr);
	free(x);
}

bool exchange_is_system(const struct exchange *x)
{
	return x->name.len >= 4 && memcmp(x->name.ptr, "amq.", 4) == 0;
}

static bool binding_args_equal(struct amqp_table a, struct amqp_table b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static struct binding *exchange_binding_find(struct exchange *src, struct queue *dq,
					     struct exchange *dx, struct amqp_str key,
					     struct amqp_table args)
{
	struct list *pos;
	list_for_each(pos, &src->bindings)
	{
		struct binding *b = list_entry(pos, struct binding, source_link);
		if (b->dest_q == dq && b->dest_x == dx && amqp_str_eq(b->key, key) &&
		    binding_args_equal(b->args, args))
			return b;
	}
	return NULL;
}

bool exchange_has_binding(struct exchange *src, struct queue *dq, struct exchange *dx,
			  struct amqp_str key, struct amqp_table args)
{
	return exchange_binding_find(src, dq, dx, key, args) != NULL;
}

int exchange_bind(struct exchange *src, struct queue *dq, struct exchange *dx, struct amqp_str key,
		  struct amqp_table args, char *err, size_t errlen)
{
	if (exchange_binding_find(src, dq, dx, key, args))
		return 1;
	struct binding *b = calloc(1, sizeof *b);
	if (!b)
		return -1;
	b->source = src;
	b->dest_q = dq;
	b->dest_x = dx;
	if (amqp_str_dup(&b->key, key) != 0 || exchange_copy_table(&b->args, args) != 0) {
		binding_free(b);
		return -1;
	}
	if (src->type->bind) {
		int rc = src->type->bind(src, b, err, errlen);
		if (rc != 0) {
			binding_free(b);
			return rc > 0 ? -2 : -1;
		}
	}
	list_append(&src->bindings, &b->source_link);
	list_append(dq ? &dq->bindings : &dx->bound_here, &b->dest_link);
	src->binding_count++;
	binding_changed(b);
	binding_event(b, "binding.created");
	return 0;
}

int exchange_unbind(struct exchange *src, struct queue *dq, struct exchange *dx,
		    struct amqp_str key, struct amqp_table args)
{
	struct binding *b = exchange_binding_find(src, dq, dx, key, args);
	if (!b)
		return 1;
	exchange_binding_remove(b);
	return 0;
}

void route_set_init(struct route_set *set, struct broker *b)
{
	memset(set, 0, sizeof *set);
	set->broker = b;
	set->epoch = ++b->route_epoch;
	set->x_epoch = ++b->route_epoch;
}

void route_set_next_key(struct route_set *set)
{
	set->x_epoch = ++set->broker->route_epoch;
}

void route_set_free(struct route_set *set)
{
	free(set->queues);
	set->queues = NULL;
	set->count = set->cap = 0;
}

/* true when q is new to the set. */
static bool route_set_add(struct route_set *set, struct queue *q)
{
	set->routed_somewhere = true;
	if (q->deleted || q->route_epoch == set->epoch)
		return false;
	q->route_epoch = set->epoch;
	if (set->count == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 8;
		struct queue **qs = realloc(set->queues, cap * sizeof *qs);
		if (!qs) {
			set->oom = true;
			return false;
		}
		set->queues = qs;
		set->cap = cap;
	}
	set->queues[set->count++] = q;
	return true;
}

static void exchange_route_depth(struct exchange *x, struct amqp_str rk, struct amqp_table headers,
				 struct route_set *set, int depth);

void exchange_route_to(struct route_set *set, struct binding *b, struct amqp_str rk,
		       struct amqp_table headers)
{
	if (b->dest_q) {
		/* Counted once per message and queue (the management API's outgoing/incoming):
		 * a second binding to a queue already in the set adds nothing. */
		if (route_set_add(set, b->dest_q))
			b->routed++;
		return;
	}
	set->routed_somewhere = true;
	exchange_route_depth(b->dest_x, rk, headers, set, 1);
}

static void exchange_route_depth(struct exchange *x, struct amqp_str rk, struct amqp_table headers,
				 struct route_set *set, int depth)
{
	/* Visiting an exchange twice in one routing adds nothing: this is the cycle guard. */
	if (x->route_epoch == set->x_epoch || depth > ROUTE_MAX_DEPTH)
		return;
	x->route_epoch = set->x_epoch;
	/* As RabbitMQ counts them: publishes to x, and the queues they reached through x's
	 * bindings, exchange-to-exchange and alternate routes included; an exchange reached
	 * that way counts nothing. */
	if (depth == 0)
		x->publish_in++;
	size_t before = set->count;
	bool routed_before = set->routed_somewhere;
	set->routed_somewhere = false;
	if (x->is_default) {
		struct vhost *v = x->vhost;
		struct queue *q;
		/* One-entry cache: a publisher usually sends to one queue over and over. */
		if (v->cache_queue && v->cache_gen == v->broker->topology_gen &&
		    amqp_str_eq(v->cache_queue->name, rk)) {
			q = v->cache_queue;
		} else {
			q = vhost_queue_find(v, rk);
			v->cache_queue = q;
			v->cache_gen = v->broker->topology_gen;
		}
		if (q && route_set_add(set, q))
			q->stat_default_routed++;
	} else {
		x->type->route(x, rk, headers, set);
	}
	if (!set->routed_somewhere && x->alternate.len) {
		struct exchange *ae = vhost_exchange_find(x->vhost, x->alternate);
		if (ae)
			exchange_route_depth(ae, rk, headers, set, depth + 1);
	}
	if (depth == 0)
		x->publish_out += set->count - before;
	set->routed_somewhere = set->routed_somewhere || routed_before;
}

void exchange_route(struct exchange *x, struct amqp_str rk, struct amqp_table headers,
		    struct route_set *set)
{
	exchange_route_depth(x, rk, headers, set, 0);
}

/* Rewrites m's properties without the BCC header (never delivered). */
static int exchange_drop_bcc(struct message *m, const struct amqp_basic_props *in)
{
	static const char *const skip[] = { "BCC", NULL };
	struct amqp_basic_props p = *in;
	struct amqp_buf hb, out;
	int rc = -1;

	amqp_buf_init(&hb);
	amqp_buf_init(&out);
	amqp_buf_put_entries_except(&hb, in->headers, skip);
	p.headers = (struct amqp_table){ hb.data, (uint32_t)hb.len };
	amqp_props_encode(&p, &out);
	if (!hb.oom && !out.oom)
		rc = message_set_props(m, out.data, out.len);
	amqp_buf_free(&hb);
	amqp_buf_free(&out);
	return rc;
}

void exchange_publish(struct exchange *x, struct message *m,
		      bool (*accept)(struct queue *q, void *arg), void *arg,
		      struct publish_result *r)
{
	static const char *const cc_keys[] = { "CC", "BCC" };
	struct amqp_basic_props p;
	struct amqp_table headers = { 0 };
	struct amqp_value bcc;
	struct route_set set;

	memset(r, 0, sizeof *r);
	route_set_init(&set, x->vhost->broker);
	set.msg = m;
	/* Most messages carry no headers: then nothing needs decoding. */
	if (m->has_headers && amqp_props_decode(&p, m->props, m->props_len) == 0 &&
	    (p.flags & AMQP_PROP_HEADERS))
		headers = p.headers;
	exchange_route(x, m->routing_key, headers, &set);
	/* Sender-selected distribution: CC and BCC add routing keys on the same exchange. */
	for (int k = 0; k < 2 && headers.len; k++) {
		struct amqp_value arr, item;
		struct amqp_table_iter it;
		if (!amqp_table_get(headers, cc_keys[k], &arr) || arr.type != 'A')
			continue;
		amqp_array_iter_init(&it, arr.v.table);
		while (amqp_array_next(&it, &item) == 1) {
			if (item.type != 'S')
				continue;
			route_set_next_key(&set);
			exchange_route(x, item.v.str, headers, &set);
		}
	}
	/* The message is in no queue yet, so its properties may still change. */
	if (headers.len && set.count && amqp_table_get(headers, "BCC", &bcc) &&
	    exchange_drop_bcc(m, &p) != 0)
		set.oom = true;
	r->oom = set.oom;
	for (size_t i = 0; i < set.count && !r->oom; i++) {
		struct queue *q = set.queues[i];
		if (q->deleted || (accept && !accept(q, arg)))
			continue;
		switch (queue_push(q, m)) {
		case QUEUE_PUSHED:
			r->routed++;
			if (!r->flow && queue_flow_wanted(q))
				r->flow = q;
			break;
		case QUEUE_REJECTED:
			r->rejected++;
			break;
		default:
			r->oom = true;
			break;
		}
	}
	route_set_free(&set);
}

void exchange_apply_policy(struct exchange *x)
{
	struct amqp_value ae;
	const struct policy *p;
	const char *name = NULL;
	size_t len = 0;

	if (amqp_table_get(x->args, "alternate-exchange", &ae) && ae.type == 'S')
		return; /* the argument wins; set at declare */
	p = policy_match(x->vhost, (const char *)x->name.ptr, x->name.len, false, false);
	if (p && p->def.alternate_exchange) {
		name = p->def.alternate_exchange;
		len = strlen(name);
	}
	free((void *)x->alternate.ptr);
	x->alternate = (struct amqp_str){ 0 };
	if (name)
		amqp_str_dup(&x->alternate, (struct amqp_str){ (const uint8_t *)name, (uint32_t)len });
}

int exchange_predeclare(struct vhost *v)
{
	static const struct {
		const char *name;
		const struct exchange_type *type;
		bool internal;
	} predeclared[] = {
		{ "", &exchange_type_direct, false },
		{ "amq.direct", &exchange_type_direct, false },
		{ "amq.fanout", &exchange_type_fanout, false },
		{ "amq.topic", &exchange_type_topic, false },
		{ "amq.headers", &exchange_type_headers, false },
		{ "amq.match", &exchange_type_headers, false },
		{ "amq.rabbitmq.trace", &exchange_type_topic, true },
		/* rabbitmq_event_exchange, always enabled: in the default vhost only */
		{ EXCHANGE_EVENT_NAME, &exchange_type_topic, true },
	};
	const char *dv = v->broker->cfg->default_vhost ? v->broker->cfg->default_vhost : "/";
	for (size_t i = 0; i < sizeof predeclared / sizeof predeclared[0]; i++) {
		if (strcmp(predeclared[i].name, EXCHANGE_EVENT_NAME) == 0 && strcmp(v->name, dv) != 0)
			continue;
		struct exchange *x = exchange_new(v, amqp_str_c(predeclared[i].name),
						  predeclared[i].type, true, false,
						  predeclared[i].internal, (struct amqp_table){ 0 });
		if (!x)
			return -1;
		if (i == 0) {
			x->is_default = true;
			v->default_exchange = x;
		}
	}
	return 0;
}
