/* broker/net/conn_events.c: the events of connections and channels (core/event.h) with the fields
 * RabbitMQ 3.10's event exchange shows: user.authentication.success/failure at login,
 * connection.created once the vhost is open, channel.created/closed, connection.closed when
 * the connection stops being usable. Identities RabbitMQ gives as Erlang pids are written in
 * that form, "<warren@host.CONN.CHANNEL>", and addresses as Erlang tuples ("{127,0,0,1}"). */
#include "broker/net/conn_events.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "amqp/table.h"
#include "broker/auth/auth.h"
#include "broker/core/event.h"
#include "broker/core/time.h"
#include "broker/net/channel.h"
#include "broker/net/conn.h"
#include "broker/vhost/vhost.h"

static void conn_events_pid(const struct conn *c, uint16_t channel, char *out, size_t cap)
{
	snprintf(out, cap, "<%s.%llu.%u.0>", broker_node_name(c->broker), (unsigned long long)c->id,
		 (unsigned)channel);
}

/* "127.0.0.1" as Erlang prints the tuple {127,0,0,1}; other addresses as they are. */
static void conn_events_addr(const char *host, char *out, size_t cap)
{
	struct in_addr a;
	if (inet_pton(AF_INET, host, &a) == 1) {
		const uint8_t *o = (const uint8_t *)&a;
		snprintf(out, cap, "{%u,%u,%u,%u}", o[0], o[1], o[2], o[3]);
	} else {
		snprintf(out, cap, "%s", host);
	}
}

/* The port this connection reached (its own end of the socket). */
static uint16_t conn_events_port(const struct conn *c)
{
	return c->broker->port;
}

static struct amqp_table conn_events_client_props(const struct conn *c)
{
	return (struct amqp_table){ (const uint8_t *)c->client_props, c->client_props_len };
}

/* The connection_name client property, which the management API shows as
 * user_provided_name. */
static struct amqp_str conn_events_provided_name(const struct conn *c)
{
	struct amqp_value v;
	if (c->client_props &&
	    amqp_table_get(conn_events_client_props(c), "connection_name", &v) && v.type == 'S')
		return v.v.str;
	return (struct amqp_str){ 0 };
}

void conn_event_auth(struct conn *c, const char *user, const char *mechanism, const char *error)
{
	char peer[80];
	if (!event_wanted(c->broker))
		return;
	conn_events_addr(c->peer_host, peer, sizeof peer);
	if (!error) {
		EVENT_EMIT(c->broker, "user.authentication.success", EV_CSTR("name", user),
			   EV_CSTR("auth_mechanism", mechanism), EV_CSTR("connection_name", c->name),
			   EV_CSTR("connection_type", "network"), EV_CSTR("host", peer),
			   EV_CSTR("peer_host", peer), EV_INT("peer_port", c->peer_port),
			   EV_CSTR("protocol", "{0,9,1}"), EV_BOOL("ssl", c->tls));
		return;
	}
	char text[400];
	snprintf(text, sizeof text, "user '%s' - %s", user, error);
	EVENT_EMIT(c->broker, "user.authentication.failure", EV_CSTR("name", user),
		   EV_CSTR("auth_mechanism", mechanism), EV_CSTR("connection_name", c->name),
		   EV_CSTR("connection_type", "network"), EV_CSTR("host", peer),
		   EV_CSTR("peer_host", peer), EV_INT("peer_port", c->peer_port),
		   EV_CSTR("protocol", "{0,9,1}"), EV_BOOL("ssl", c->tls),
		   EV_CHARS("error", text));
}

void conn_event_created(struct conn *c)
{
	char peer[80], pid[360];
	if (!event_wanted(c->broker))
		return;
	conn_events_addr(c->peer_host, peer, sizeof peer);
	conn_events_pid(c, 0, pid, sizeof pid);
	struct amqp_str provided = conn_events_provided_name(c);
	struct amqp_table cp = conn_events_client_props(c);
	const char *actor = c->user ? c->user->name : "";
	EVENT_EMIT(c->broker, "connection.created", EV_CSTR("name", c->name),
		   EV_CSTR("vhost", c->vhost ? c->vhost->name : "/"), EV_CSTR("user", actor),
		   EV_CSTR("user_who_performed_action", actor),
		   EV_CSTR("auth_mechanism", c->tls_cn[0] ? "EXTERNAL" : "PLAIN"),
		   EV_INT("channel_max", c->channel_max), EV_INT("frame_max", c->frame_max),
		   EV_INT("timeout", c->heartbeat), EV_TERMS("client_properties", cp),
		   EV_INT("connected_at", time_wall_ms() - (time_now_ms() - c->opened_ms)), EV_CSTR("host", peer),
		   EV_INT("port", conn_events_port(c)), EV_CSTR("peer_host", peer),
		   EV_INT("peer_port", c->peer_port), EV_CSTR("node", broker_node_name(c->broker)),
		   EV_CSTR("pid", pid), EV_CSTR("protocol", "{0,9,1}"), EV_BOOL("ssl", c->tls),
		   EV_CSTR("ssl_cipher", ""), EV_CSTR("ssl_hash", ""),
		   EV_CSTR("ssl_key_exchange", ""), EV_CSTR("ssl_protocol", ""),
		   EV_CSTR("peer_cert_issuer", ""), EV_CSTR("peer_cert_subject", ""),
		   EV_CSTR("peer_cert_validity", ""), EV_CSTR("type", "network"),
		   EV_ASTR("user_provided_name", provided));
}

void conn_event_closed(struct conn *c)
{
	char pid[360];
	/* RabbitMQ reports every connection that got as far as authenticating (a refused login
	 * included), not bare TCP connections. */
	if (!c->client_props || !event_wanted(c->broker))
		return;
	conn_events_pid(c, 0, pid, sizeof pid);
	struct amqp_str provided = conn_events_provided_name(c);
	if (provided.len) {
		EVENT_EMIT(c->broker, "connection.closed", EV_CSTR("name", c->name),
			   EV_CSTR("node", broker_node_name(c->broker)), EV_CSTR("pid", pid),
			   EV_TERMS("client_properties", conn_events_client_props(c)),
			   EV_ASTR("user_provided_name", provided));
		return;
	}
	EVENT_EMIT(c->broker, "connection.closed", EV_CSTR("name", c->name),
		   EV_CSTR("node", broker_node_name(c->broker)), EV_CSTR("pid", pid),
		   EV_TERMS("client_properties", conn_events_client_props(c)));
}

void channel_event_created(struct channel *ch)
{
	char pid[360], cpid[360], name[200];
	struct conn *c = ch->conn;
	if (!event_wanted(c->broker))
		return;
	conn_events_pid(c, ch->id, pid, sizeof pid);
	conn_events_pid(c, 0, cpid, sizeof cpid);
	snprintf(name, sizeof name, "%s (%u)", c->name, (unsigned)ch->id);
	const char *user = c->user ? c->user->name : "";
	EVENT_EMIT(c->broker, "channel.created", EV_CSTR("name", name), EV_INT("number", ch->id),
		   EV_CSTR("connection", cpid), EV_CSTR("pid", pid), EV_CSTR("user", user),
		   EV_CSTR("vhost", c->vhost ? c->vhost->name : "/"),
		   EV_CSTR("user_who_performed_action", user));
}

void channel_event_closed(struct channel *ch)
{
	char pid[360];
	struct conn *c = ch->conn;
	if (!event_wanted(c->broker))
		return;
	conn_events_pid(c, ch->id, pid, sizeof pid);
	EVENT_EMIT(c->broker, "channel.closed", EV_CSTR("pid", pid),
		   EV_CSTR("user_who_performed_action", c->user ? c->user->name : ""));
}
