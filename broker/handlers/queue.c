/* broker/handlers/queue.c: queue.declare/bind/unbind/purge/delete, with RabbitMQ's "last
 * declared queue" shorthand for empty names, its exclusive-access (405) rule, and its order of
 * checks, so the same mistake gets the same reply. */
#include "broker/handlers/handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/reply_codes.h"
#include "broker/auth/auth.h"
#include "broker/net/channel.h"
#include "broker/net/conn.h"
#include "broker/exchange/exchange.h"
#include "broker/auth/limits.h"
#include "broker/queue/queue.h"
#include "broker/queue/queue_args.h"
#include "broker/vhost/vhost.h"

static void remember_queue(struct channel *ch, struct amqp_str name)
{
	struct amqp_str copy;
	if (amqp_str_dup(&copy, name) != 0)
		return; /* out of memory: the shorthand keeps naming the queue before */
	amqp_str_free(&ch->last_queue);
	ch->last_queue = copy;
}

static int locked(struct channel *ch, struct queue *q)
{
	return channel_fail(ch, AMQP_RESOURCE_LOCKED,
			    "cannot obtain exclusive access to locked queue '%.*s' in vhost '%s'. It "
			    "could be originally declared on another connection or the exclusive "
			    "property value does not match that of the original declaration.",
			    AMQP_STR_ARGS(q->name), vname(ch));
}

/* Resolves a queue name for bind/unbind/purge/delete/get/consume: "" means the last queue
 * declared on this channel. NULL after a channel error was sent. */
struct queue *handle_queue_lookup(struct channel *ch, struct amqp_str name, bool *missing_ok)
{
	if (name.len == 0) {
		if (!ch->last_queue.ptr) {
			channel_fail(ch, AMQP_NOT_FOUND, "no previously declared queue");
			return NULL;
		}
		name = ch->last_queue;
	}
	struct queue *q = vhost_queue_find(ch->conn->vhost, name);
	if (!q) {
		if (missing_ok) {
			*missing_ok = true;
			return NULL;
		}
		channel_fail(ch, AMQP_NOT_FOUND, "no queue '%.*s' in vhost '%s'", AMQP_STR_ARGS(name),
			     vname(ch));
		return NULL;
	}
	if (q->exclusive && q->owner != ch->conn) {
		locked(ch, q);
		return NULL;
	}
	return q;
}

static int declare_ok(struct channel *ch, struct queue *q, bool nowait)
{
	ch->broker->stats.queue_declares++;
	remember_queue(ch, q->name);
	queue_touch(q); /* a redeclare counts as use for x-expires */
	if (nowait)
		return 0;
	struct amqp_method ok = { .id = AMQP_QUEUE_DECLARE_OK };
	ok.u.queue_declare_ok.queue = q->name;
	ok.u.queue_declare_ok.message_count = queue_ready_count(q);
	ok.u.queue_declare_ok.consumer_count = q->consumer_count;
	return channel_send(ch, &ok);
}

static const char *tf(bool b)
{
	return b ? "true" : "false";
}

static int handle_queue_declare(struct channel *ch, const struct amqp_queue_declare *m)
{
	struct vhost *v = ch->conn->vhost;
	char name_buf[64], err[512];
	struct amqp_str name = m->queue;

	if (m->passive) {
		if (amqp_str_eq_c(name, REPLY_TO_QUEUE)) {
			struct amqp_method ok = { .id = AMQP_QUEUE_DECLARE_OK };
			ok.u.queue_declare_ok.queue = name;
			return m->nowait ? 0 : channel_send(ch, &ok);
		}
		struct queue *q = vhost_queue_find(v, name);
		if (!q)
			return channel_fail(ch, AMQP_NOT_FOUND, "no queue '%.*s' in vhost '%s'",
					    AMQP_STR_ARGS(name), vname(ch));
		if (q->exclusive && q->owner != ch->conn)
			return locked(ch, q);
		return declare_ok(ch, q, m->nowait);
	}
	if (name.len == 0) {
		rng_name(&ch->broker->rng, "amq.gen-", name_buf, sizeof name_buf);
		name = amqp_str_c(name_buf);
	} else if (name.len >= 4 && memcmp(name.ptr, "amq.", 4) == 0) {
		return channel_fail(ch, AMQP_ACCESS_REFUSED,
				    "queue name '%.*s' contains reserved prefix 'amq.*'",
				    AMQP_STR_ARGS(name));
	}
	if (channel_check_perm(ch, AUTH_CONFIGURE, AUTH_RESOURCE_QUEUE, name) != 0)
		return 0;
	struct queue *q = vhost_queue_find(v, name);
	if (q) {
		if ((q->exclusive && q->owner != ch->conn) || q->exclusive != m->exclusive)
			return locked(ch, q);
		if (q->durable != m->durable)
			return channel_fail(ch, AMQP_PRECONDITION_FAILED,
					    "inequivalent arg 'durable' for queue '%.*s' in vhost "
					    "'%s': received '%s' but current is '%s'",
					    AMQP_STR_ARGS(name), vname(ch), tf(m->durable),
					    tf(q->durable));
		if (q->auto_delete != m->auto_delete)
			return channel_fail(ch, AMQP_PRECONDITION_FAILED,
					    "inequivalent arg 'auto_delete' for queue '%.*s' in "
					    "vhost '%s': received '%s' but current is '%s'",
					    AMQP_STR_ARGS(name), vname(ch), tf(m->auto_delete),
					    tf(q->auto_delete));
		if (queue_args_equivalent(q->args, m->arguments, name, vname(ch), err, sizeof err))
			return channel_fail(ch, AMQP_PRECONDITION_FAILED, "%s", err);
		return declare_ok(ch, q, m->nowait);
	}
	if (queue_args_validate(m->arguments, name, vname(ch), err, sizeof err) != 0)
		return channel_fail(ch, AMQP_PRECONDITION_FAILED, "%s", err);
	int64_t limit;
	if (vhost_queue_limit_reached(v, &limit))
		return channel_fail(ch, AMQP_PRECONDITION_FAILED,
				    "cannot declare queue '%.*s': queue limit in vhost '%s' (%lld) is "
				    "reached",
				    AMQP_STR_ARGS(name), vname(ch), (long long)limit);
	struct queue_declare d = { name, vname(ch), m->durable, m->exclusive, m->auto_delete,
				   m->arguments };
	if (!queue_type_check(&d, v->default_queue_type, err, sizeof err))
		return channel_fail(ch, AMQP_PRECONDITION_FAILED, "%s", err);
	q = queue_new(v, name, m->durable, m->exclusive, m->auto_delete,
		      m->exclusive ? ch->conn : NULL, m->arguments);
	if (!q)
		return conn_fail(ch->conn, AMQP_INTERNAL_ERROR, AMQP_QUEUE_DECLARE,
				 "out of memory declaring a queue");
	if (m->exclusive) /* deleted with the connection */
		list_append(&ch->conn->exclusive_queues, &q->owner_link);
	return declare_ok(ch, q, m->nowait);
}

/* queue.bind and queue.unbind, in RabbitMQ 3.10's order (rabbit_channel:binding_action and
 * rabbit_binding): the "" shorthand, write on the queue, not the default exchange, read on the
 * exchange, the topic read permission when the exchange exists; only then do the queue and the
 * exchange have to exist (the exchange is reported first), and then the queue's exclusivity.
 * queue.unbind answers unbind-ok when the queue, the exchange or the binding is missing: client
 * libraries unbind in clean-up paths, after a queue or exchange has gone. */
static int handle_queue_binding(struct channel *ch, struct amqp_str queue, struct amqp_str exchange,
				struct amqp_str key, struct amqp_table args, bool nowait, bool bind)
{
	if (queue.len == 0 && !ch->last_queue.ptr)
		return channel_fail(ch, AMQP_NOT_FOUND, "no previously declared queue");
	queue = channel_queue_name(ch, queue);
	if (channel_check_perm(ch, AUTH_WRITE, AUTH_RESOURCE_QUEUE, queue) != 0)
		return 0;
	if (exchange.len == 0)
		return channel_fail(ch, AMQP_ACCESS_REFUSED,
				    "operation not permitted on the default exchange");
	if (channel_check_perm(ch, AUTH_READ, AUTH_RESOURCE_EXCHANGE, exchange) != 0)
		return 0;
	struct exchange *x = vhost_exchange_find(ch->conn->vhost, exchange);
	if (x && channel_check_topic(ch, channel_topic_perm(ch, x), AUTH_READ, exchange, key) != 0)
		return 0;
	struct queue *q = vhost_queue_find(ch->conn->vhost, queue);
	if (!bind) {
		/* Nothing to remove is success; only an existing binding meets the exclusive
		 * check (rabbit_binding:remove looks the binding up first). */
		if (x && q && exchange_has_binding(x, q, NULL, key, args)) {
			if (q->exclusive && q->owner != ch->conn)
				return locked(ch, q);
			exchange_unbind(x, q, NULL, key, args);
		}
		struct amqp_method ok = { .id = AMQP_QUEUE_UNBIND_OK };
		return channel_send(ch, &ok);
	}
	if (!x)
		return channel_fail(ch, AMQP_NOT_FOUND, "no exchange '%.*s' in vhost '%s'",
				    AMQP_STR_ARGS(exchange), vname(ch));
	if (!q)
		return channel_fail(ch, AMQP_NOT_FOUND, "no queue '%.*s' in vhost '%s'",
				    AMQP_STR_ARGS(queue), vname(ch));
	if (q->exclusive && q->owner != ch->conn)
		return locked(ch, q);
	char err[256];
	int rc = exchange_bind(x, q, NULL, key, args, err, sizeof err);
	if (rc == -2)
		return channel_fail(ch, AMQP_PRECONDITION_FAILED, "%s", err);
	if (rc < 0)
		return conn_fail(ch->conn, AMQP_INTERNAL_ERROR, AMQP_QUEUE_BIND, "out of memory binding");
	if (nowait)
		return 0;
	struct amqp_method ok = { .id = AMQP_QUEUE_BIND_OK };
	return channel_send(ch, &ok);
}

static int handle_queue_bind(struct channel *ch, const struct amqp_queue_bind *m)
{
	return handle_queue_binding(ch, m->queue, m->exchange, m->routing_key, m->arguments,
				    m->nowait, true);
}

static int handle_queue_unbind(struct channel *ch, const struct amqp_queue_unbind *m)
{
	return handle_queue_binding(ch, m->queue, m->exchange, m->routing_key, m->arguments, false,
				    false);
}

static int handle_queue_purge(struct channel *ch, const struct amqp_queue_purge *m)
{
	if (channel_check_perm(ch, AUTH_READ, AUTH_RESOURCE_QUEUE, channel_queue_name(ch, m->queue)))
		return 0;
	struct queue *q = handle_queue_lookup(ch, m->queue, NULL);
	char err[256];
	int code;
	if (!q)
		return 0;
	if ((code = queue_refuse(q, QUEUE_OP_PURGE, err, sizeof err)) != 0)
		return channel_fail(ch, code, "%s", err);
	uint32_t n = queue_purge(q);
	if (m->nowait)
		return 0;
	struct amqp_method ok = { .id = AMQP_QUEUE_PURGE_OK };
	ok.u.queue_purge_ok.message_count = n;
	return channel_send(ch, &ok);
}

static int handle_queue_delete(struct channel *ch, const struct amqp_queue_delete *m)
{
	bool missing = false;
	uint32_t n = 0;
	if (channel_check_perm(ch, AUTH_CONFIGURE, AUTH_RESOURCE_QUEUE, channel_queue_name(ch, m->queue)))
		return 0;
	struct queue *q = handle_queue_lookup(ch, m->queue, &missing);
	if (!q && !missing)
		return 0;
	if (q) {
		if (m->if_unused && q->consumer_count > 0)
			return channel_fail(ch, AMQP_PRECONDITION_FAILED,
					    "queue '%.*s' in vhost '%s' in use", AMQP_STR_ARGS(q->name),
					    vname(ch));
		if (m->if_empty && queue_ready_count(q) > 0)
			return channel_fail(ch, AMQP_PRECONDITION_FAILED,
					    "queue '%.*s' in vhost '%s' not empty",
					    AMQP_STR_ARGS(q->name), vname(ch));
		n = queue_delete(q);
	}
	if (m->nowait)
		return 0;
	struct amqp_method ok = { .id = AMQP_QUEUE_DELETE_OK };
	ok.u.queue_delete_ok.message_count = n;
	return channel_send(ch, &ok);
}

int handle_queue(struct channel *ch, const struct amqp_method *m)
{
	switch (m->id) {
	case AMQP_QUEUE_DECLARE:
		return handle_queue_declare(ch, &m->u.queue_declare);
	case AMQP_QUEUE_BIND:
		return handle_queue_bind(ch, &m->u.queue_bind);
	case AMQP_QUEUE_UNBIND:
		return handle_queue_unbind(ch, &m->u.queue_unbind);
	case AMQP_QUEUE_PURGE:
		return handle_queue_purge(ch, &m->u.queue_purge);
	case AMQP_QUEUE_DELETE:
		return handle_queue_delete(ch, &m->u.queue_delete);
	default:
		return conn_fail(ch->conn, AMQP_COMMAND_INVALID, m->id, "unimplemented method");
	}
}
