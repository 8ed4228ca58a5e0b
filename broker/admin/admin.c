/* broker/admin/admin.c: broker operations without a channel (management API, definitions import).
 * The checks mirror handle_queue.c / handle_exchange.c so that a mistake made over HTTP gets the
 * text it would get over AMQP; the caller maps the status to its own error codes. Uses only the
 * broker's public headers. */
#include "broker/admin/admin.h"
#include "broker/admin/parameters.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"
#include "broker/auth/auth.h"
#include "broker/core/broker.h"
#include "broker/core/event.h"
#include "broker/net/conn.h"
#include "broker/exchange/deadletter.h"
#include "broker/exchange/exchange.h"
#include "broker/queue/message.h"
#include "broker/queue/queue.h"
#include "broker/queue/queue_type.h"
#include "broker/queue/queue_args.h"
#include "broker/queue/stream/stream.h"
#include "storage/store.h"
#include "broker/auth/topic_perm.h"
#include "broker/vhost/policy.h"
#include "broker/vhost/vhost.h"
#include "broker/core/log.h"
#include "broker/core/time.h"

static const char *tf(bool b)
{
	return b ? "true" : "false";
}

static bool has_amq_prefix(struct amqp_str s)
{
	return s.len >= 4 && memcmp(s.ptr, "amq.", 4) == 0;
}

struct vhost *admin_vhost_find(struct broker *b, const char *name)
{
	return strmap_get(&b->vhosts, name, strlen(name));
}

struct vhost *admin_vhost_create(struct broker *b, const char *name)
{
	struct vhost *v = vhost_new(b, name);
	if (v && exchange_predeclare(v) != 0) {
		strmap_del(&b->vhosts, name, strlen(name));
		admin_vhost_destroy(v);
		return NULL;
	}
	return v;
}

void admin_vhost_destroy(struct vhost *v)
{
	size_t i;
	struct strmap_entry *e;
	/* Queues first: deleting them removes their bindings from the exchanges. */
	while ((e = strmap_first(&v->queues, &i)) != NULL)
		queue_delete(e->value);
	while ((e = strmap_first(&v->exchanges, &i)) != NULL)
		exchange_delete(e->value);
	vhost_free(v);
}

int admin_vhost_add(struct broker *b, const char *name)
{
	if (admin_vhost_find(b, name))
		return ADMIN_OK;
	if (!admin_vhost_create(b, name))
		return ADMIN_NO_MEMORY;
	EVENT_EMIT(b, "vhost.created", EV_CSTR("name", name), EV_CSTR("description", ""),
		   EV_BOOL("tracing", false), EV_ACTOR());
	return ADMIN_CREATED;
}

static const char *admin_json_str_or_null(json_t *md, json_t *o, const char *key,
					   bool *bad)
{
	json_t *v = json_object_get(md, key);
	if (!v)
		v = json_object_get(o, key);
	if (v && !json_is_string(v) && !json_is_null(v))
		*bad = true;
	return json_string_value(v);
}

/* RabbitMQ splits a tags string at commas and trims spaces: " a , b,," is a, b, "", "". */
static int admin_tags_split(const char *s, struct admin_vhost_meta *m)
{
	size_t n = 1;
	if (!*s)
		return 0;
	for (const char *p = s; *p; p++)
		n += *p == ',';
	m->tags = calloc(n, sizeof *m->tags);
	if (!m->tags)
		return -1;
	for (const char *p = s;; p++) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (len && *p == ' ')
			p++, len--;
		while (len && p[len - 1] == ' ')
			len--;
		if (!(m->tags[m->tag_count] = strndup(p, len)))
			return -1;
		m->tag_count++;
		if (!end)
			return 0;
		p = end;
	}
}

int admin_vhost_meta_parse(json_t *o, struct admin_vhost_meta *m, char *err, size_t errlen)
{
	json_t *md = json_object_get(o, "metadata"), *tags;
	bool bad = false;

	memset(m, 0, sizeof *m);
	if (md && !json_is_object(md) && !json_is_null(md)) {
		snprintf(err, errlen, "'metadata' must be an object");
		return ADMIN_BAD;
	}
	m->description = admin_json_str_or_null(md, o, "description", &bad);
	if (bad) {
		snprintf(err, errlen, "'description' must be a string");
		return ADMIN_BAD;
	}
	m->default_queue_type = admin_json_str_or_null(md, o, "default_queue_type", &bad);
	if (!m->default_queue_type && !bad)
		m->default_queue_type = admin_json_str_or_null(NULL, o, "defaultqueuetype", &bad);
	/* Later RabbitMQs export "undefined" for a vhost without one (rabbitmq-server#10468). */
	if (m->default_queue_type && strcmp(m->default_queue_type, "undefined") == 0)
		m->default_queue_type = NULL;
	if (bad || (m->default_queue_type && !queue_type_find(amqp_str_c(m->default_queue_type)))) {
		snprintf(err, errlen, "invalid_queue_type");
		return ADMIN_BAD;
	}
	if (!(tags = json_object_get(md, "tags")))
		tags = json_object_get(o, "tags");
	if (json_is_string(tags)) {
		if (admin_tags_split(json_string_value(tags), m) != 0)
			goto oom;
	} else if (json_is_array(tags)) {
		size_t i;
		json_t *t;
		m->tags = calloc(json_array_size(tags) + 1, sizeof *m->tags);
		if (!m->tags)
			goto oom;
		json_array_foreach(tags, i, t)
		{
			if (!json_is_string(t)) {
				admin_vhost_meta_free(m);
				snprintf(err, errlen, "'tags' must be a string or an array of "
						      "strings");
				return ADMIN_BAD;
			}
			if (!(m->tags[m->tag_count] = strdup(json_string_value(t))))
				goto oom;
			m->tag_count++;
		}
	} else if (tags && !json_is_null(tags)) {
		snprintf(err, errlen, "'tags' must be a string or an array of strings");
		return ADMIN_BAD;
	}
	return ADMIN_OK;
oom:
	admin_vhost_meta_free(m);
	snprintf(err, errlen, "out of memory");
	return ADMIN_NO_MEMORY;
}

void admin_vhost_meta_free(struct admin_vhost_meta *m)
{
	for (size_t i = 0; m->tags && i < m->tag_count; i++)
		free(m->tags[i]);
	free(m->tags);
	m->tags = NULL;
	m->tag_count = 0;
}

int admin_vhost_put(struct broker *b, const char *name, const struct admin_vhost_meta *m)
{
	int rc = admin_vhost_add(b, name);
	struct vhost *v = admin_vhost_find(b, name);
	if (rc < 0 || !v)
		return ADMIN_NO_MEMORY;
	if (vhost_set_metadata(v, m->description, (const char *const *)m->tags, m->tag_count,
			       m->default_queue_type) != 0)
		return ADMIN_NO_MEMORY;
	return rc;
}

int admin_vhost_delete(struct broker *b, const char *name)
{
	struct vhost *v = admin_vhost_find(b, name);
	struct list *pos, *tmp;
	size_t i;

	if (!v)
		return ADMIN_NOT_FOUND;
	list_for_each_safe(pos, tmp, &b->conns)
	{
		struct conn *c = list_entry(pos, struct conn, link);
		if (c->vhost != v)
			continue;
		conn_force_close(c, "vhost is being deleted");
		c->vhost = NULL; /* its channels are released; nothing may reach the vhost now */
	}
	for (struct strmap_entry *e = strmap_first(&b->users, &i); e;
	     e = strmap_next(&b->users, e, &i)) {
		auth_permission_clear(e->value, name);
		topic_perm_clear(e->value, name, NULL); /* as RabbitMQ: none outlive their vhost */
	}
	parameters_clear_vhost(b, name); /* its shovels stop */
	strmap_del(&b->vhosts, name, strlen(name));
	admin_vhost_destroy(v);
	EVENT_EMIT(b, "vhost.deleted", EV_CSTR("name", name), EV_ACTOR());
	return ADMIN_OK;
}

int admin_user_delete(struct broker *b, const char *name)
{
	struct user *u = strmap_get(&b->users, name, strlen(name));
	struct list *pos, *tmp;

	if (!u)
		return ADMIN_NOT_FOUND;
	list_for_each_safe(pos, tmp, &b->conns)
	{
		struct conn *c = list_entry(pos, struct conn, link);
		if (c->user != u)
			continue;
		conn_force_close(c, "user deleted");
		c->user = NULL;
	}
	EVENT_EMIT(b, "user.deleted", EV_CSTR("name", name), EV_ACTOR());
	auth_user_delete(b, name);
	return ADMIN_OK;
}

int admin_queue_declare(struct vhost *v, struct amqp_str name, bool durable, bool auto_delete,
			struct amqp_table args, char *err, size_t errlen)
{
	struct queue *q = vhost_queue_find(v, name);
	if (q) {
		if (q->exclusive) {
			snprintf(err, errlen,
				 "cannot obtain exclusive access to locked queue '%.*s' in vhost "
				 "'%s'",
				 AMQP_STR_ARGS(name), v->name);
			return ADMIN_LOCKED;
		}
		if (q->durable != durable) {
			snprintf(err, errlen,
				 "inequivalent arg 'durable' for queue '%.*s' in vhost '%s': received "
				 "'%s' but current is '%s'",
				 AMQP_STR_ARGS(name), v->name, tf(durable), tf(q->durable));
			return ADMIN_BAD;
		}
		if (q->auto_delete != auto_delete) {
			snprintf(err, errlen,
				 "inequivalent arg 'auto_delete' for queue '%.*s' in vhost '%s': "
				 "received '%s' but current is '%s'",
				 AMQP_STR_ARGS(name), v->name, tf(auto_delete), tf(q->auto_delete));
			return ADMIN_BAD;
		}
		if (queue_args_equivalent(q->args, args, name, v->name, err, errlen) != 0)
			return ADMIN_BAD;
		return ADMIN_OK;
	}
	if (name.len == 0 || has_amq_prefix(name)) {
		snprintf(err, errlen, "queue name '%.*s' contains reserved prefix 'amq.*'",
			 AMQP_STR_ARGS(name));
		return ADMIN_REFUSED;
	}
	if (name.len > 255) {
		snprintf(err, errlen, "queue name too long");
		return ADMIN_BAD;
	}
	if (queue_args_validate(args, name, v->name, err, errlen) != 0)
		return ADMIN_BAD;
	struct queue_declare d = { name, v->name, durable, false, auto_delete, args };
	if (!queue_type_check(&d, v->default_queue_type, err, errlen))
		return ADMIN_BAD;
	if (!queue_new(v, name, durable, false, auto_delete, NULL, args))
		return ADMIN_NO_MEMORY;
	return ADMIN_CREATED;
}

static struct queue *find_queue(struct vhost *v, struct amqp_str name, char *err, size_t errlen)
{
	struct queue *q = vhost_queue_find(v, name);
	if (!q)
		snprintf(err, errlen, "no queue '%.*s' in vhost '%s'", AMQP_STR_ARGS(name), v->name);
	return q;
}

int admin_queue_delete(struct vhost *v, struct amqp_str name, bool if_unused, bool if_empty,
		       char *err, size_t errlen)
{
	struct queue *q = find_queue(v, name, err, errlen);
	if (!q)
		return ADMIN_NOT_FOUND;
	if (if_unused && q->consumer_count > 0) {
		snprintf(err, errlen, "queue '%.*s' in vhost '%s' in use", AMQP_STR_ARGS(name),
			 v->name);
		return ADMIN_BAD;
	}
	if (if_empty && (queue_ready_count(q) > 0 || q->unacked_count > 0)) {
		snprintf(err, errlen, "queue '%.*s' in vhost '%s' not empty", AMQP_STR_ARGS(name),
			 v->name);
		return ADMIN_BAD;
	}
	queue_delete(q);
	v->broker->stats.queues_deleted++;
	return ADMIN_OK;
}

int admin_queue_purge(struct vhost *v, struct amqp_str name, char *err, size_t errlen)
{
	struct queue *q = find_queue(v, name, err, errlen);
	if (!q)
		return ADMIN_NOT_FOUND;
	if (queue_refuse(q, QUEUE_OP_PURGE, err, errlen) != 0)
		return ADMIN_BAD;
	queue_purge(q);
	return ADMIN_OK;
}

static struct amqp_str default_alias(struct amqp_str name)
{
	return amqp_str_eq_c(name, "amq.default") ? AMQP_STR_LIT("") : name;
}

int admin_exchange_declare(struct vhost *v, struct amqp_str name, struct amqp_str type_name,
			   bool durable, bool auto_delete, bool internal, struct amqp_table args,
			   char *err, size_t errlen)
{
	bool delayed;
	const struct exchange_type *type = exchange_type_declared(type_name, args, &delayed);
	if (!type) {
		if (delayed)
			snprintf(err, errlen, "Invalid argument, 'x-delayed-type' must be an "
					      "existing exchange type");
		else
			snprintf(err, errlen, "unknown exchange type '%.*s'",
				 AMQP_STR_ARGS(type_name));
		return ADMIN_BAD;
	}
	if (name.len == 0 || amqp_str_eq_c(name, "amq.default")) {
		snprintf(err, errlen, "operation not permitted on the default exchange");
		return ADMIN_REFUSED;
	}
	struct exchange *x = vhost_exchange_find(v, name);
	if (!x) {
		if (has_amq_prefix(name)) {
			snprintf(err, errlen, "exchange name '%.*s' contains reserved prefix 'amq.*'",
				 AMQP_STR_ARGS(name));
			return ADMIN_REFUSED;
		}
		if (name.len > 255) {
			snprintf(err, errlen, "exchange name too long");
			return ADMIN_BAD;
		}
		struct amqp_value ae;
		if (amqp_table_get(args, "alternate-exchange", &ae) && ae.type != 'S') {
			snprintf(err, errlen,
				 "invalid type '%s' for arg 'alternate-exchange' in exchange '%.*s' in "
				 "vhost '%s'",
				 amqp_value_type_name(ae.type), AMQP_STR_ARGS(name), v->name);
			return ADMIN_BAD;
		}
		if (exchange_type_validate(type, args, err, errlen) != 0)
			return ADMIN_BAD;
		x = exchange_new(v, name, type, durable, auto_delete, internal, args);
		if (!x)
			return ADMIN_NO_MEMORY;
		x->delayed = delayed;
		return ADMIN_CREATED;
	}
	const char *arg = NULL, *received = NULL, *current = NULL;
	char rbuf[300];
	if (x->type != type || x->delayed != delayed) {
		snprintf(rbuf, sizeof rbuf, "%.*s", AMQP_STR_ARGS(type_name));
		arg = "type", received = rbuf, current = exchange_type_name(x);
	} else if (x->durable != durable) {
		arg = "durable", received = tf(durable), current = tf(x->durable);
	} else if (x->auto_delete != auto_delete) {
		arg = "auto_delete", received = tf(auto_delete), current = tf(x->auto_delete);
	} else if (x->internal != internal) {
		arg = "internal", received = tf(internal), current = tf(x->internal);
	}
	if (arg) {
		snprintf(err, errlen,
			 "inequivalent arg '%s' for exchange '%.*s' in vhost '%s': received '%s' but "
			 "current is '%s'",
			 arg, AMQP_STR_ARGS(name), v->name, received, current);
		return ADMIN_BAD;
	}
	return ADMIN_OK;
}

int admin_exchange_delete(struct vhost *v, struct amqp_str name, bool if_unused, char *err,
			  size_t errlen)
{
	name = default_alias(name);
	if (name.len == 0) {
		snprintf(err, errlen, "operation not permitted on the default exchange");
		return ADMIN_REFUSED;
	}
	struct exchange *x = vhost_exchange_find(v, name);
	if (!x) {
		snprintf(err, errlen, "no exchange '%.*s' in vhost '%s'", AMQP_STR_ARGS(name),
			 v->name);
		return ADMIN_NOT_FOUND;
	}
	if (exchange_is_system(x)) {
		snprintf(err, errlen, "deletion of system exchange '%.*s' in vhost '%s' not allowed",
			 AMQP_STR_ARGS(name), v->name);
		return ADMIN_REFUSED;
	}
	if (if_unused && (x->binding_count > 0 || !list_is_empty(&x->bound_here))) {
		snprintf(err, errlen, "exchange '%.*s' in vhost '%s' in use", AMQP_STR_ARGS(name),
			 v->name);
		return ADMIN_BAD;
	}
	exchange_delete(x);
	return ADMIN_OK;
}

static int bind_lookup(struct vhost *v, struct amqp_str src, bool dest_is_queue,
		       struct amqp_str dest, struct exchange **sx, struct queue **dq,
		       struct exchange **dx, char *err, size_t errlen)
{
	src = default_alias(src);
	if (src.len == 0 || (!dest_is_queue && default_alias(dest).len == 0)) {
		snprintf(err, errlen, "operation not permitted on the default exchange");
		return ADMIN_REFUSED;
	}
	*sx = vhost_exchange_find(v, src);
	if (!*sx) {
		snprintf(err, errlen, "no exchange '%.*s' in vhost '%s'", AMQP_STR_ARGS(src),
			 v->name);
		return ADMIN_NOT_FOUND;
	}
	*dq = NULL;
	*dx = NULL;
	if (dest_is_queue)
		*dq = vhost_queue_find(v, dest);
	else
		*dx = vhost_exchange_find(v, dest);
	if (!*dq && !*dx) {
		snprintf(err, errlen, "no %s '%.*s' in vhost '%s'",
			 dest_is_queue ? "queue" : "exchange", AMQP_STR_ARGS(dest), v->name);
		return ADMIN_NOT_FOUND;
	}
	return ADMIN_OK;
}

int admin_bind(struct vhost *v, struct amqp_str src, bool dest_is_queue, struct amqp_str dest,
	       struct amqp_str key, struct amqp_table args, char *err, size_t errlen)
{
	struct exchange *sx, *dx;
	struct queue *dq;
	int rc = bind_lookup(v, src, dest_is_queue, dest, &sx, &dq, &dx, err, errlen);
	if (rc != ADMIN_OK)
		return rc;
	rc = exchange_bind(sx, dq, dx, key, args, err, errlen);
	if (rc == -2)
		return ADMIN_BAD;
	if (rc < 0)
		return ADMIN_NO_MEMORY;
	return rc == 0 ? ADMIN_CREATED : ADMIN_OK;
}

int admin_unbind(struct vhost *v, struct amqp_str src, bool dest_is_queue, struct amqp_str dest,
		 struct amqp_str key, struct amqp_table args, char *err, size_t errlen)
{
	struct exchange *sx, *dx;
	struct queue *dq;
	int rc = bind_lookup(v, src, dest_is_queue, dest, &sx, &dq, &dx, err, errlen);
	if (rc != ADMIN_OK)
		return rc;
	if (exchange_unbind(sx, dq, dx, key, args) != 0) {
		snprintf(err, errlen, "no binding");
		return ADMIN_NOT_FOUND;
	}
	return ADMIN_OK;
}

int admin_publish(struct vhost *v, struct amqp_str exchange, struct amqp_str rk,
		  const uint8_t *props, size_t props_len, const uint8_t *body, size_t body_len,
		  bool *routed, char *err, size_t errlen)
{
	struct amqp_basic_props p;
	struct amqp_table headers = { 0 };
	struct route_set set;
	int rc = ADMIN_OK;

	*routed = false;
	exchange = default_alias(exchange);
	struct exchange *x = vhost_exchange_find(v, exchange);
	if (!x) {
		snprintf(err, errlen, "no exchange '%.*s' in vhost '%s'", AMQP_STR_ARGS(exchange),
			 v->name);
		return ADMIN_NOT_FOUND;
	}
	if (amqp_props_decode(&p, props, props_len) != 0) {
		snprintf(err, errlen, "invalid properties");
		return ADMIN_BAD;
	}
	if (p.flags & AMQP_PROP_HEADERS)
		headers = p.headers;
	struct message *m = message_new(v->broker, exchange, rk, props, props_len, body_len);
	if (!m)
		return ADMIN_NO_MEMORY;
	if (body_len)
		memcpy(m->body, body, body_len);
	m->persistent = (p.flags & AMQP_PROP_DELIVERY_MODE) && p.delivery_mode == 2;
	m->priority = (p.flags & AMQP_PROP_PRIORITY) ? p.priority : 0;
	m->publish_time_ms = time_now_ms();
	m->expiration_ms = -1;
	if (p.flags & AMQP_PROP_EXPIRATION) {
		int64_t ms = 0;
		bool ok = p.expiration.len > 0 && p.expiration.len < 19;
		for (uint32_t i = 0; ok && i < p.expiration.len; i++) {
			ok = p.expiration.ptr[i] >= '0' && p.expiration.ptr[i] <= '9';
			ms = ms * 10 + (p.expiration.ptr[i] - '0');
		}
		if (!ok) {
			snprintf(err, errlen, "invalid expiration '%.*s'",
				 AMQP_STR_ARGS(p.expiration));
			message_unref(m);
			return ADMIN_BAD;
		}
		m->expiration_ms = ms;
	}
	v->broker->stats.published++;
	route_set_init(&set, v->broker);
	exchange_route(x, rk, headers, &set);
	if (set.oom) {
		rc = ADMIN_NO_MEMORY;
		goto out;
	}
	if (set.count == 0)
		v->broker->stats.dropped_unroutable++;
	for (size_t i = 0; i < set.count; i++)
		if (queue_push(set.queues[i], m) != 0)
			rc = ADMIN_NO_MEMORY;
	*routed = set.count > 0;
out:
	route_set_free(&set);
	message_unref(m);
	return rc;
}

int admin_get(struct vhost *v, struct amqp_str queue, uint32_t count, enum admin_ackmode mode,
	      admin_get_fn fn, void *arg, char *err, size_t errlen)
{
	struct queue *q = find_queue(v, queue, err, errlen);
	struct qentry *taken = NULL, e;
	uint32_t n = 0;
	bool requeue = mode == ADMIN_ACK_REQUEUE_TRUE || mode == ADMIN_REJECT_REQUEUE_TRUE;

	if (!q)
		return ADMIN_NOT_FOUND;
	if (queue_refuse(q, QUEUE_OP_GET, err, errlen) != 0)
		return ADMIN_BAD; /* a stream: read it from an offset (admin_stream_read) */
	if (count > queue_ready_count(q))
		count = queue_ready_count(q);
	if (count == 0)
		return ADMIN_OK;
	taken = calloc(count, sizeof *taken);
	if (!taken)
		return ADMIN_NO_MEMORY;
	/* Take them all first: requeued messages go back to their place at the head, so a
	 * second pop would only see the first one again (RabbitMQ requeues when its temporary
	 * channel closes, after the whole get). */
	while (n < count && queue_get(q, &e)) {
		bool redelivered = e.redelivered || e.delivery_count > 0;
		if (!fn(arg, e.msg, redelivered, queue_ready_count(q))) {
			queue_untake(q, &e); /* no room in the reply: it was never taken */
			break;
		}
		taken[n++] = e;
		q->stat_delivered++;
		v->broker->stats.delivered++;
		v->broker->stats.delivered_get++;
		if (redelivered)
			v->broker->stats.redelivered++; /* queue_requeue counts the queue's */
	}
	for (uint32_t i = 0; i < n; i++) {
		if (mode == ADMIN_ACK_REQUEUE_FALSE || mode == ADMIN_ACK_REQUEUE_TRUE) {
			q->stat_acked++;
			v->broker->stats.acked++;
		}
		/* reject_requeue_false is a basic.reject(requeue=false): dead-lettered (reason
		 * rejected) when the queue has a dead-letter exchange, as a channel's is. */
		queue_settle(q, taken[i].msg, taken[i].seq, taken[i].delivery_count + 1,
			     requeue ? QUEUE_SETTLE_REQUEUE :
			     mode == ADMIN_REJECT_REQUEUE_FALSE ? QUEUE_SETTLE_REJECT : QUEUE_SETTLE_ACK);
	}
	free(taken);
	return ADMIN_OK;
}

/* Where a dead-lettered message goes back to: by default the queue it died in (through the
 * default exchange); with to_original, the exchange and routing keys it was published with
 * before that death (CC keys kept as a CC header by exchange_publish's rules are not needed:
 * every recorded key is routed). Reads x-death[0], the newest death. */
static bool dlq_target(const struct message *m, bool to_original, struct amqp_str *exchange,
		       struct amqp_str *rk, struct amqp_table *keys)
{
	struct amqp_basic_props p;
	struct amqp_value deaths, first, v;
	struct amqp_table_iter it;
	if (!m->has_headers || amqp_props_decode(&p, m->props, m->props_len) != 0 ||
	    !amqp_table_get(p.headers, "x-death", &deaths) || deaths.type != 'A')
		return false;
	amqp_array_iter_init(&it, deaths.v.table);
	if (amqp_array_next(&it, &first) != 1 || first.type != 'F')
		return false;
	*keys = (struct amqp_table){ 0 };
	if (!to_original) {
		if (!amqp_table_get(first.v.table, "queue", &v) || v.type != 'S')
			return false;
		*exchange = (struct amqp_str){ (const uint8_t *)"", 0 };
		*rk = v.v.str;
		return true;
	}
	if (!amqp_table_get(first.v.table, "exchange", &v) || v.type != 'S')
		return false;
	*exchange = v.v.str;
	if (!amqp_table_get(first.v.table, "routing-keys", &v) || v.type != 'A')
		return false;
	*keys = v.v.table;
	amqp_array_iter_init(&it, v.v.table);
	struct amqp_value k;
	if (amqp_array_next(&it, &k) != 1 || k.type != 'S')
		return false;
	*rk = k.v.str;
	return true;
}

int admin_dlq_replay(struct vhost *v, struct amqp_str queue, int64_t limit, bool to_original,
		     const struct user *u, struct admin_dlq_result *res, char *err, size_t errlen)
{
	struct queue *q = find_queue(v, queue, err, errlen);
	memset(res, 0, sizeof *res);
	if (!q)
		return ADMIN_NOT_FOUND;
	/* Only the messages there now: a replayed message that dies again is not taken twice. */
	uint32_t n = queue_ready_count(q);
	if (limit >= 0 && (uint64_t)limit < n)
		n = (uint32_t)limit;
	struct qentry *keep = calloc(n ? n : 1, sizeof *keep);
	size_t kept = 0;
	if (!keep)
		return ADMIN_NO_MEMORY;
	for (uint32_t i = 0; i < n; i++) {
		struct qentry e;
		struct amqp_str xname, rk;
		struct amqp_table keys;
		if (!queue_get(q, &e))
			break;
		struct exchange *x = NULL;
		if (dlq_target(e.msg, to_original, &xname, &rk, &keys))
			x = vhost_exchange_find(v, xname);
		if (x && u && !auth_permitted(u, v->name, AUTH_WRITE, AUTH_RESOURCE_EXCHANGE, xname)) {
			keep[kept++] = e;
			res->refused++;
			continue;
		}
		struct message *nm = x ? message_new(v->broker, x->name, rk, e.msg->props, e.msg->props_len,
						     e.msg->body_len) :
					 NULL;
		if (!nm) {
			keep[kept++] = e;
			res->kept++;
			continue;
		}
		memcpy(nm->body, e.msg->body, e.msg->body_len);
		nm->persistent = e.msg->persistent;
		nm->priority = e.msg->priority;
		/* Route by every recorded key (the first is the message's own). */
		struct publish_result r, total = { 0 };
		exchange_publish(x, nm, NULL, NULL, &r);
		total.routed += r.routed;
		struct amqp_table_iter it;
		struct amqp_value k;
		amqp_array_iter_init(&it, keys);
		if (keys.len && amqp_array_next(&it, &k) == 1)
			while (amqp_array_next(&it, &k) == 1)
				if (k.type == 'S') {
					struct message *cc = message_new(v->broker, x->name, k.v.str, nm->props,
									 nm->props_len, nm->body_len);
					if (!cc)
						continue;
					memcpy(cc->body, nm->body, nm->body_len);
					cc->persistent = nm->persistent;
					exchange_publish(x, cc, NULL, NULL, &r);
					total.routed += r.routed;
					message_unref(cc);
				}
		message_unref(nm);
		if (total.routed == 0) {
			keep[kept++] = e;
			res->unroutable++;
			continue;
		}
		/* Moved: the copy is in its queues, the original leaves this one (same sync). */
		queue_settle(q, e.msg, e.seq, e.delivery_count, QUEUE_SETTLE_ACK);
		res->moved++;
	}
	for (size_t i = 0; i < kept; i++) /* never delivered: back in place, as they were */
		queue_untake(q, &keep[i]);
	free(keep);
	return ADMIN_OK;
}

/* ---- policies ---- */

/* Policies changed in v: every queue and exchange recomputes its settings, and the change is
 * saved. */
static void admin_policies_reapply(struct vhost *v)
{
	size_t i;
	broker_definitions_dirty(v->broker);
	for (struct strmap_entry *e = strmap_first(&v->queues, &i); e;
	     e = strmap_next(&v->queues, e, &i)) {
		struct queue *q = e->value;
		if (queue_apply_policy(q) != 0) /* keeps its previous settings */
			log_error(v->broker->log, "out of memory applying policies to queue '%s' in vhost '%s'",
				  (const char *)q->name.ptr, v->name);
	}
	for (struct strmap_entry *e = strmap_first(&v->exchanges, &i); e;
	     e = strmap_next(&v->exchanges, e, &i))
		exchange_apply_policy(e->value);
}

/* policy.set, with the definition as a table (RabbitMQ's event shows it so). */
static void admin_policy_event(struct vhost *v, const char *name, const char *pattern,
			       const char *apply_to, int priority, const char *definition_json,
			       bool is_operator)
{
	if (!event_wanted(v->broker))
		return;
	struct amqp_buf def;
	char err[128];
	json_error_t jerr;
	json_t *o = json_loads(definition_json, 0, &jerr);
	amqp_buf_init(&def);
	if (o && admin_table_from_json(o, &def, err, sizeof err) == 0 && !def.oom)
		EVENT_EMIT(v->broker, is_operator ? "operator.policy.set" : "policy.set",
			   EV_CSTR("name", name), EV_CSTR("vhost", v->name),
			   EV_CSTR("pattern", pattern), EV_CSTR("apply-to", apply_to),
			   EV_INT("priority", priority),
			   EV_TABLE("definition", ((struct amqp_table){ def.data, (uint32_t)def.len })),
			   EV_ACTOR());
	json_decref(o);
	amqp_buf_free(&def);
}

int admin_policy_set(struct vhost *v, const char *name, const char *pattern,
		     const char *apply_to, int priority, const char *definition_json,
		     bool is_operator, char *err, size_t errlen)
{
	if (policy_set(v, name, pattern, apply_to, priority, definition_json, is_operator, err,
		       errlen) != 0)
		return -1;
	admin_policies_reapply(v);
	admin_policy_event(v, name, pattern, apply_to, priority, definition_json, is_operator);
	return 0;
}

int admin_policy_delete(struct vhost *v, const char *name, bool is_operator)
{
	if (policy_delete(v, name, is_operator) != 0)
		return -1;
	admin_policies_reapply(v);
	EVENT_EMIT(v->broker, is_operator ? "operator.policy.cleared" : "policy.cleared",
		   EV_CSTR("name", name), EV_CSTR("vhost", v->name), EV_ACTOR());
	return 0;
}

struct admin_stream_ctx {
	struct broker *broker;
	admin_stream_fn fn;
	void *arg;
	uint32_t left;
};

static bool admin_stream_one(void *arg, uint64_t offset, uint64_t timestamp_ms,
			     const struct store_message *sm)
{
	struct admin_stream_ctx *ctx = arg;
	struct message *m = message_from_store(ctx->broker, sm, 0);
	if (!m)
		return false;
	bool more = ctx->fn(ctx->arg, m, offset, timestamp_ms);
	message_unref(m);
	return more;
}

int admin_stream_read(struct vhost *v, struct amqp_str queue, const char *from, uint32_t count,
		      admin_stream_fn fn, void *arg, char *err, size_t errlen)
{
	struct queue *q = find_queue(v, queue, err, errlen);
	struct stream_offset so;
	char why[200];
	if (!q)
		return ADMIN_NOT_FOUND;
	if (stream_offset_from_text(from, time_wall_ms(), &so, why, sizeof why) != 0) {
		snprintf(err, errlen, "invalid offset '%s': %s", from, why);
		return ADMIN_BAD;
	}
	struct admin_stream_ctx ctx = { v->broker, fn, arg, count };
	if (stream_read(q, &so, count, admin_stream_one, &ctx) < 0) {
		snprintf(err, errlen, "queue '%.*s' in vhost '%s' is not a stream",
			 AMQP_STR_ARGS(queue), v->name);
		return ADMIN_BAD;
	}
	return ADMIN_OK;
}
