/* broker/handlers/connection.c: connection.* methods: start/start-ok (SASL), tune/tune-ok, open,
 * close both ways, blocked, update-secret. Values and texts follow RabbitMQ 3.10. */
#include "broker/handlers/handlers.h"

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "amqp/frame.h"
#include "amqp/reply_codes.h"
#include "amqp/table.h"
#include "broker/auth/auth.h"
#include "broker/auth/sasl.h"
#include "broker/core/broker.h"
#include "broker/core/config.h"
#include "broker/net/conn.h"
#include "broker/net/conn_events.h"
#include "broker/auth/limits.h"
#include "broker/core/log.h"
#include "broker/net/tls.h"
#include "broker/vhost/vhost.h"
#include "broker/core/time.h"

#ifndef WARREN_VERSION
#define WARREN_VERSION "0.1.0"
#endif

static void handshake_put_str(struct amqp_buf *b, const char *key, const char *value)
{
	amqp_buf_put_shortstr(b, amqp_str_c(key));
	amqp_buf_put_value_longstr(b, amqp_str_c(value));
}

static void handshake_server_properties(struct broker *broker, struct amqp_buf *b)
{
	static const char *const caps[] = {
		"publisher_confirms", "exchange_exchange_bindings", "basic.nack",
		"consumer_cancel_notify", "connection.blocked", "consumer_priorities",
		"authentication_failure_close", "per_consumer_qos", "direct_reply_to",
	};
	const struct config *cfg = broker->cfg;
	char cluster[96];
	/* a cluster's name, as RabbitMQ's; and which node serves (clients reach the leader through
	 * any node) */
	if (cfg->cluster_enabled)
		snprintf(cluster, sizeof cluster, "%s", cfg->cluster_etcd_prefix);
	else
		snprintf(cluster, sizeof cluster, "warren@%s", broker_hostname(broker));

	amqp_buf_put_shortstr(b, AMQP_STR_LIT("capabilities"));
	amqp_buf_put_u8(b, 'F');
	size_t at = amqp_buf_table_begin(b);
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		amqp_buf_put_shortstr(b, amqp_str_c(caps[i]));
		amqp_buf_put_value_bool(b, true);
	}
	amqp_buf_table_end(b, at);
	handshake_put_str(b, "cluster_name", cluster);
	handshake_put_str(b, "copyright", "Copyright (c) the Warren authors.");
	handshake_put_str(b, "information", "Warren, an AMQP 0-9-1 broker compatible with RabbitMQ.");
	if (cfg->cluster_enabled)
		handshake_put_str(b, "node", broker_node_name(broker));
	handshake_put_str(b, "platform", "C11/libevent");
	handshake_put_str(b, "product", "Warren");
	handshake_put_str(b, "version", WARREN_VERSION);
}

int handle_connection_start(struct conn *c)
{
	struct amqp_buf props;
	/* The TLS handshake is over once the protocol header has arrived. */
	if (c->tls)
		tls_peer_cn(bufferevent_openssl_get_ssl(c->bev), c->tls_cn, sizeof c->tls_cn);
	amqp_buf_init(&props);
	handshake_server_properties(c->broker, &props);
	if (props.oom) {
		amqp_buf_free(&props);
		conn_drop(c, "out of memory");
		return -1;
	}
	struct amqp_method m = { .id = AMQP_CONNECTION_START };
	m.u.connection_start.version_major = 0;
	m.u.connection_start.version_minor = 9;
	m.u.connection_start.server_properties = (struct amqp_table){ props.data, (uint32_t)props.len };
	char mechanisms[64];
	struct sasl_login login = { { NULL, 0 }, c->tls_cn };
	sasl_offer(&login, mechanisms, sizeof mechanisms);
	m.u.connection_start.mechanisms = amqp_str_c(mechanisms);
	m.u.connection_start.locales = AMQP_STR_LIT("en_US");
	int rc = conn_send_method(c, 0, &m);
	amqp_buf_free(&props);
	c->state = CONN_AWAIT_START_OK;
	return rc;
}

static bool handshake_capability(struct amqp_table client_props, const char *name)
{
	struct amqp_value caps, v;
	if (!amqp_table_get(client_props, "capabilities", &caps) || caps.type != 'F')
		return false;
	return amqp_table_get(caps.v.table, name, &v) && v.type == 't' && v.v.b;
}

static int handshake_send_refusal(struct conn *c, const char *mechanism)
{
	if (c->cap_auth_failure_close)
		return conn_fail(c, AMQP_ACCESS_REFUSED, 0,
				 "Login was refused using authentication mechanism %s. For details "
				 "see the broker logfile.",
				 mechanism);
	conn_drop(c, "authentication failed");
	return -1;
}

/* A held refusal fires from the connection's own timer (freed with it); the callback says which
 * mechanism the 403 text names. Meanwhile everything the client sends is discarded, so pipelined
 * attempts cannot skip the wait. */
static void handshake_on_held_plain(evutil_socket_t fd, short what, void *c)
{
	(void)fd, (void)what;
	handshake_send_refusal(c, "PLAIN");
}

static void handshake_on_held_amqplain(evutil_socket_t fd, short what, void *c)
{
	(void)fd, (void)what;
	handshake_send_refusal(c, "AMQPLAIN");
}

static void handshake_on_held_external(evutil_socket_t fd, short what, void *c)
{
	(void)fd, (void)what;
	handshake_send_refusal(c, "EXTERNAL");
}

static ssize_t handshake_expect_nothing(struct conn *c, const uint8_t *p, size_t len)
{
	(void)c, (void)p;
	return (ssize_t)len;
}

static int handshake_refuse_login(struct conn *c, struct amqp_str mechanism, const char *user,
				  const char *why)
{
	bool first_delay;
	uint32_t ms = auth_failure_note(c->broker, c->peer_host, time_now_ms(), &first_delay);
	const char *name = amqp_str_eq_c(mechanism, "PLAIN")	? "PLAIN" :
			   amqp_str_eq_c(mechanism, "AMQPLAIN") ? "AMQPLAIN" :
								  "EXTERNAL";
	log_warn(c->broker->log, "login refused for user '%s' from %s: %s", user, c->name, why);
	conn_event_auth(c, user, name, why);
	if (ms == 0)
		return handshake_send_refusal(c, name);
	if (first_delay)
		log_warn(c->broker->log, "repeated login failures from %s: further refusals are delayed",
			 c->peer_host);
	event_callback_fn cb = name[0] == 'P' ? handshake_on_held_plain :
			       name[0] == 'A' ? handshake_on_held_amqplain :
						handshake_on_held_external;
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	event_del(c->timer);
	event_assign(c->timer, c->broker->base, -1, 0, cb, c);
	if (event_add(c->timer, &tv) != 0)
		return handshake_send_refusal(c, name);
	c->expect = handshake_expect_nothing;
	return 0;
}

static int handshake_start_ok(struct conn *c, const struct amqp_connection_start_ok *m)
{
	char user[256];
	struct amqp_table cp = m->client_properties;

	c->cap_auth_failure_close = handshake_capability(cp, "authentication_failure_close");
	c->cap_cancel_notify = handshake_capability(cp, "consumer_cancel_notify");
	c->cap_blocked = handshake_capability(cp, "connection.blocked");
	free(c->client_props);
	c->client_props = malloc(cp.len ? cp.len : 1);
	if (c->client_props) {
		memcpy(c->client_props, cp.ptr, cp.len);
		c->client_props_len = cp.len;
	}
	const char *mech_name = "PLAIN";
	if (c->trusted_user) { /* the broker's own connection (a local shovel) */
		c->user = c->trusted_user;
		goto tune;
	}
	struct sasl_login login = { m->response, c->tls_cn };
	const struct sasl_mechanism *mech = sasl_find(m->mechanism, &login);
	if (!mech) {
		log_warn(c->broker->log, "unsupported authentication mechanism from %s", c->name);
		return conn_fail(c, AMQP_ACCESS_REFUSED, 0,
				 "unsupported authentication mechanism '%.*s'",
				 AMQP_STR_ARGS(m->mechanism));
	}
	const char *why = "invalid credentials";
	struct user *u = mech->authenticate(c->broker, &login, user, sizeof user, &why);
	if (!u)
		return handshake_refuse_login(c, m->mechanism, user, why);
	/* loopback_users: whatever the mechanism, as rabbit_access_control checks it */
	if (strcmp(u->name, "guest") == 0 && !c->peer_loopback &&
	    c->broker->cfg->loopback_users_guest)
		return handshake_refuse_login(c, m->mechanism, user,
					      "user 'guest' can only connect via localhost");
	c->user = u;
	mech_name = mech->name;
tune:
	conn_event_auth(c, c->user->name, mech_name, NULL);
	struct amqp_method t = { .id = AMQP_CONNECTION_TUNE };
	t.u.connection_tune.channel_max = c->broker->cfg->channel_max;
	t.u.connection_tune.frame_max = c->broker->cfg->frame_max;
	t.u.connection_tune.heartbeat = (uint16_t)c->broker->cfg->heartbeat;
	c->state = CONN_AWAIT_TUNE_OK;
	return conn_send_method(c, 0, &t);
}

static int handshake_tune_ok(struct conn *c, const struct amqp_connection_tune_ok *m)
{
	const struct config *cfg = c->broker->cfg;
	/* RabbitMQ's rule: a client value of 0 or above the server's fails when the server has a
	 * limit, and so does one under the protocol minimum. It closes with no close frame. */
	if ((m->frame_max != 0 && m->frame_max < AMQP_FRAME_MIN_SIZE) ||
	    (cfg->frame_max && (m->frame_max == 0 || m->frame_max > cfg->frame_max))) {
		log_warn(c->broker->log, "closing AMQP connection %s: negotiated frame_max = %u is outside the "
			 "allowed range (%u..%u)",
			 c->name, (unsigned)m->frame_max, (unsigned)AMQP_FRAME_MIN_SIZE,
			 (unsigned)cfg->frame_max);
		conn_drop(c, "frame_max negotiation failed");
		return -1;
	}
	if (cfg->channel_max && (m->channel_max == 0 || m->channel_max > cfg->channel_max)) {
		log_warn(c->broker->log, "closing AMQP connection %s: negotiated channel_max = %u is higher than "
			 "the maximum allowed value (%u)",
			 c->name, (unsigned)m->channel_max, (unsigned)cfg->channel_max);
		conn_drop(c, "channel_max negotiation failed");
		return -1;
	}
	/* 0 is "no limit" (RabbitMQ's meaning of frame_max = 0 and channel_max = 0), allowed only
	 * when the server has none either. A frame is still held whole before it is handled, so
	 * "no limit" stops at conn_frame_ceiling. */
	uint32_t ceiling = conn_frame_ceiling(c->broker);
	c->frame_max = m->frame_max ? m->frame_max : cfg->frame_max;
	if (cfg->frame_max == 0 && (c->frame_max == 0 || c->frame_max > ceiling))
		c->frame_max = ceiling;
	c->channel_max = m->channel_max;
	c->heartbeat = m->heartbeat;
	c->state = CONN_AWAIT_OPEN;
	return 0;
}

static int handshake_open(struct conn *c, const struct amqp_connection_open *m)
{
	char name[256];
	snprintf(name, sizeof name, "%.*s", AMQP_STR_ARGS(m->virtual_host));
	struct vhost *v = strmap_get(&c->broker->vhosts, m->virtual_host.ptr, m->virtual_host.len);
	if (!v)
		return conn_fail(c, AMQP_NOT_ALLOWED, AMQP_CONNECTION_OPEN, "vhost %s not found", name);
	int64_t limit;
	if (conn_limits_vhost_connections(c->broker, v, c, &limit))
		return conn_fail(c, AMQP_NOT_ALLOWED, AMQP_CONNECTION_OPEN,
				 "access to vhost '%s' refused for user '%s': connection limit "
				 "(%lld) is reached",
				 name, c->user->name, (long long)limit);
	if (conn_limits_user_connections(c->broker, c->user, c, &limit))
		return conn_fail(c, AMQP_NOT_ALLOWED, AMQP_CONNECTION_OPEN,
				 "connection refused for user '%s': user connection limit (%lld) "
				 "is reached",
				 c->user->name, (long long)limit);
	if (!auth_permission_find(c->user, v->name))
		return conn_fail(c, AMQP_NOT_ALLOWED, AMQP_CONNECTION_OPEN,
				 "access to vhost '%s' refused for user '%s'", name, c->user->name);
	c->vhost = v;
	c->state = CONN_OPEN;
	conn_start_heartbeat(c);
	log_info(c->broker->log, "connection %s: user '%s' authenticated and granted access to vhost '%s'",
		 c->name, c->user->name, v->name);
	conn_event_created(c);
	struct amqp_method ok = { .id = AMQP_CONNECTION_OPEN_OK };
	return conn_send_method(c, 0, &ok);
}

int handle_connection(struct conn *c, const struct amqp_method *m)
{
	switch (m->id) {
	case AMQP_CONNECTION_START_OK:
		if (c->state != CONN_AWAIT_START_OK)
			break;
		return handshake_start_ok(c, &m->u.connection_start_ok);
	case AMQP_CONNECTION_SECURE_OK:
		break;
	case AMQP_CONNECTION_TUNE_OK:
		if (c->state != CONN_AWAIT_TUNE_OK)
			break;
		return handshake_tune_ok(c, &m->u.connection_tune_ok);
	case AMQP_CONNECTION_OPEN:
		if (c->state != CONN_AWAIT_OPEN)
			break;
		return handshake_open(c, &m->u.connection_open);
	case AMQP_CONNECTION_CLOSE: {
		struct amqp_method ok = { .id = AMQP_CONNECTION_CLOSE_OK };
		log_info(c->broker->log, "closing AMQP connection %s (client request: %u)", c->name,
			 (unsigned)m->u.connection_close.reply_code);
		conn_send_method(c, 0, &ok);
		conn_linger(c);
		return -1;
	}
	case AMQP_CONNECTION_CLOSE_OK:
		conn_drop(c, "close-ok");
		return -1;
	case AMQP_CONNECTION_BLOCKED:
	case AMQP_CONNECTION_UNBLOCKED:
		return 0;
	case AMQP_CONNECTION_UPDATE_SECRET: {
		if (c->state != CONN_OPEN)
			break;
		struct amqp_method ok = { .id = AMQP_CONNECTION_UPDATE_SECRET_OK };
		return conn_send_method(c, 0, &ok);
	}
	default:
		break;
	}
	return conn_fail(c, AMQP_COMMAND_INVALID, m->id,
			 "unexpected method %s in connection state %s", amqp_method_name(m->id),
			 c->state == CONN_OPEN ? "running" : "opening");
}
