/* broker/handlers/exchange.c: exchange.declare/delete/bind/unbind. Checks run in RabbitMQ's
 * order (type, default exchange, lookup, reserved name, equivalence) so the same mistake gets
 * the same reply. */
#include "broker/handlers/handlers.h"

#include <stdio.h>
#include <string.h>

#include "amqp/reply_codes.h"
#include "broker/auth/auth.h"
#include "broker/net/channel.h"
#include "broker/net/conn.h"
#include "broker/exchange/exchange.h"
#include "broker/vhost/vhost.h"

static int reply(struct channel *ch, uint32_t id, bool nowait)
{
	if (nowait)
		return 0;
	struct amqp_method ok = { .id = id };
	return channel_send(ch, &ok);
}

static int not_found(struct channel *ch, struct amqp_str name)
{
	return channel_fail(ch, AMQP_NOT_FOUND, "no exchange '%.*s' in vhost '%s'",
			    AMQP_STR_ARGS(name), vname(ch));
}

static int inequivalent(struct channel *ch, struct amqp_str name, const char *arg,
			const char *received, const char *current)
{
	return channel_fail(ch, AMQP_PRECONDITION_FAILED,
			    "inequivalent arg '%s' for exchange '%.*s' in vhost '%s': received '%s' "
			    "but current is '%s'",
			    arg, AMQP_STR_ARGS(name), vname(ch), received, current);
}

static const char *tf(bool b)
{
	return b ? "true" : "false";
}

static int handle_exchange_declare(struct channel *ch, const struct amqp_exchange_declare *m)
{
	struct vhost *v = ch->conn->vhost;
	struct exchange *x;

	if (m->passive) {
		/* rabbit_channel: check_not_default_exchange, then lookup_or_die; no permission
		 * check. nowait changes nothing: a refusal still closes the channel. */
		if (m->exchange.len == 0)
			return channel_fail(ch, AMQP_ACCESS_REFUSED,
					    "operation not permitted on the default exchange");
		x = vhost_exchange_find(v, m->exchange);
		if (!x)
			return not_found(ch, m->exchange);
		return reply(ch, AMQP_EXCHANGE_DECLARE_OK, m->nowait);
	}
	bool delayed;
	const struct exchange_type *type = exchange_type_declared(m->type, m->arguments, &delayed);
	if (delayed && !type)
		return channel_fail(ch, AMQP_PRECONDITION_FAILED,
				    "Invalid argument, 'x-delayed-type' must be an existing "
				    "exchange type");
	if (!type)
		return channel_fail(ch, AMQP_PRECONDITION_FAILED,
				    "unknown exchange type '%.*s'", AMQP_STR_ARGS(m->type));
	if (m->exchange.len == 0)
		return channel_fail(ch, AMQP_ACCESS_REFUSED,
				    "operation not permitted on the default exchange");
	if (channel_check_perm(ch, AUTH_CONFIGURE, AUTH_RESOURCE_EXCHANGE, m->exchange) != 0)
		return 0;
	x = vhost_exchange_find(v, m->exchange);
	if (!x) {
		if (m->exchange.len >= 4 && memcmp(m->exchange.ptr, "amq.", 4) == 0)
			return channel_fail(ch, AMQP_ACCESS_REFUSED,
					    "exchange name '%.*s' contains reserved prefix 'amq.*'",
					    AMQP_STR_ARGS(m->exchange));
		struct amqp_value ae;
		if (amqp_table_get(m->arguments, "alternate-exchange", &ae) && ae.type != 'S')
			return channel_fail(ch, AMQP_PRECONDITION_FAILED,
					    "invalid type '%s' for arg 'alternate-exchange' in exchange "
					    "'%.*s' in vhost '%s'",
					    amqp_value_type_name(ae.type), AMQP_STR_ARGS(m->exchange),
					    vname(ch));
		char err[512];
		if (exchange_type_validate(type, m->arguments, err, sizeof err) != 0)
			return channel_fail(ch, AMQP_PRECONDITION_FAILED, "%s", err);
		x = exchange_new(v, m->exchange, type, m->durable, m->auto_delete, m->internal,
				 m->arguments);
		if (!x)
			return conn_fail(ch->conn, AMQP_INTERNAL_ERROR, AMQP_EXCHANGE_DECLARE,
					 "out of memory declaring an exchange");
		x->delayed = delayed;
		return reply(ch, AMQP_EXCHANGE_DECLARE_OK, m->nowait);
	}
	if (!amqp_str_eq_c(m->type, exchange_type_name(x)) || (delayed && x->type != type)) {
		char received[300];
		snprintf(received, sizeof received, "%.*s", AMQP_STR_ARGS(m->type));
		return inequivalent(ch, m->exchange, "type", received, exchange_type_name(x));
	}
	if (x->durable != m->durable)
		return inequivalent(ch, m->exchange, "durable", tf(m->durable), tf(x->durable));
	if (x->auto_delete != m->auto_delete)
		return inequivalent(ch, m->exchange, "auto_delete", tf(m->auto_delete),
				    tf(x->auto_delete));
	if (x->internal != m->internal)
		return inequivalent(ch, m->exchange, "internal", tf(m->internal), tf(x->internal));
	struct amqp_value ae;
	struct amqp_str received_ae = { 0 };
	if (amqp_table_get(m->arguments, "alternate-exchange", &ae) && ae.type == 'S')
		received_ae = ae.v.str;
	if (!amqp_str_eq(received_ae, x->alternate)) {
		char r[300], c[300];
		snprintf(r, sizeof r, "%.*s", AMQP_STR_ARGS(received_ae));
		snprintf(c, sizeof c, "%.*s", AMQP_STR_ARGS(x->alternate));
		return inequivalent(ch, m->exchange, "alternate-exchange", r, c);
	}
	return reply(ch, AMQP_EXCHANGE_DECLARE_OK, m->nowait);
}

static int handle_exchange_delete(struct channel *ch, const struct amqp_exchange_delete *m)
{
	if (m->exchange.len == 0)
		return channel_fail(ch, AMQP_ACCESS_REFUSED,
				    "operation not permitted on the default exchange");
	if (channel_check_perm(ch, AUTH_CONFIGURE, AUTH_RESOURCE_EXCHANGE, m->exchange) != 0)
		return 0;
	struct exchange *x = vhost_exchange_find(ch->conn->vhost, m->exchange);
	if (x && exchange_is_system(x))
		return channel_fail(ch, AMQP_ACCESS_REFUSED,
				    "deletion of system exchange '%.*s' in vhost '%s' not allowed",
				    AMQP_STR_ARGS(m->exchange), vname(ch));
	if (x) {
		if (m->if_unused && x->binding_count > 0)
			return channel_fail(ch, AMQP_PRECONDITION_FAILED,
					    "exchange '%.*s' in vhost '%s' in use",
					    AMQP_STR_ARGS(m->exchange), vname(ch));
		exchange_delete(x);
	}
	return reply(ch, AMQP_EXCHANGE_DELETE_OK, m->nowait);
}

static int handle_exchange_bind_unbind(struct channel *ch, struct amqp_str dest_name,
				       struct amqp_str src_name, struct amqp_str key,
				       struct amqp_table args, bool nowait, bool bind)
{
	struct vhost *v = ch->conn->vhost;
	/* RabbitMQ's order (rabbit_channel:binding_action): write on the destination (the default
	 * exchange checked as amq.default), neither may be the default exchange, read on the
	 * source. */
	if (channel_check_perm(ch, AUTH_WRITE, AUTH_RESOURCE_EXCHANGE, dest_name) != 0)
		return 0;
	if (dest_name.len == 0 || src_name.len == 0)
		return channel_fail(ch, AMQP_ACCESS_REFUSED,
				    "operation not permitted on the default exchange");
	if (channel_check_perm(ch, AUTH_READ, AUTH_RESOURCE_EXCHANGE, src_name) != 0)
		return 0;
	struct exchange *dx = vhost_exchange_find(v, dest_name);
	struct exchange *sx = vhost_exchange_find(v, src_name);
	/* The source's topic read permission is checked for both, when the source exists, before
	 * anything has to exist. */
	if (sx && channel_check_topic(ch, channel_topic_perm(ch, sx), AUTH_READ, src_name, key) != 0)
		return 0;
	/* exchange.unbind with a missing source, destination or binding is unbind-ok
	 * (rabbit_binding:remove), as clients unbind while cleaning up. */
	if (!bind && (!sx || !dx))
		return reply(ch, AMQP_EXCHANGE_UNBIND_OK, nowait);
	if (!sx)
		return not_found(ch, src_name);
	if (!dx)
		return not_found(ch, dest_name);
	if (bind) {
		char err[256];
		int rc = exchange_bind(sx, NULL, dx, key, args, err, sizeof err);
		if (rc == -2)
			return channel_fail(ch, AMQP_PRECONDITION_FAILED, "%s", err);
		if (rc < 0)
			return conn_fail(ch->conn, AMQP_INTERNAL_ERROR, AMQP_EXCHANGE_BIND,
					 "out of memory binding");
		return reply(ch, AMQP_EXCHANGE_BIND_OK, nowait);
	}
	exchange_unbind(sx, NULL, dx, key, args);
	return reply(ch, AMQP_EXCHANGE_UNBIND_OK, nowait);
}

int handle_exchange(struct channel *ch, const struct amqp_method *m)
{
	switch (m->id) {
	case AMQP_EXCHANGE_DECLARE:
		return handle_exchange_declare(ch, &m->u.exchange_declare);
	case AMQP_EXCHANGE_DELETE:
		return handle_exchange_delete(ch, &m->u.exchange_delete);
	case AMQP_EXCHANGE_BIND: {
		const struct amqp_exchange_bind *b = &m->u.exchange_bind;
		return handle_exchange_bind_unbind(ch, b->destination, b->source, b->routing_key,
						   b->arguments, b->nowait, true);
	}
	case AMQP_EXCHANGE_UNBIND: {
		const struct amqp_exchange_unbind *u = &m->u.exchange_unbind;
		return handle_exchange_bind_unbind(ch, u->destination, u->source, u->routing_key,
						   u->arguments, u->nowait, false);
	}
	default:
		return conn_fail(ch->conn, AMQP_COMMAND_INVALID, m->id, "unimplemented method");
	}
}
