/* broker/net/conn_limits.c: the vhost and user limits that count connections and channels
 * (max-connections, max-channels), checked at connection.open and channel.open. The connection
 * asking is not counted, nor connections still in the handshake or already dropped. */
#include "broker/net/conn.h"

#include "broker/auth/auth.h"
#include "broker/auth/limits.h"
#include "broker/core/broker.h"
#include "broker/vhost/vhost.h"

/* Open connections (not self, not in the handshake, not dropped) of vhost v or of user u. */
static uint64_t conn_limits_count(struct broker *b, const struct vhost *v, const struct user *u,
				  const struct conn *self)
{
	uint64_t n = 0;
	struct list *pos;
	list_for_each(pos, &b->conns)
	{
		struct conn *c = list_entry(pos, struct conn, link);
		if (c != self && !c->dead && c->state == CONN_OPEN && (v ? c->vhost == v :
								    c->user == u))
			n++;
	}
	return n;
}

bool conn_limits_vhost_connections(struct broker *b, const struct vhost *v,
				   const struct conn *self, int64_t *limit)
{
	const struct limit *l = &v->limits[LIMITS_VHOST_MAX_CONNECTIONS];
	if (!l->set || l->value < 0)
		return false;
	return limit_reached(l, conn_limits_count(b, v, NULL, self), limit);
}

bool conn_limits_user_connections(struct broker *b, const struct user *u,
				  const struct conn *self, int64_t *limit)
{
	const struct limit *l = &u->limits[LIMITS_USER_MAX_CONNECTIONS];
	if (!l->set || l->value < 0)
		return false;
	return limit_reached(l, conn_limits_count(b, NULL, u, self), limit);
}

bool conn_limits_user_channels(struct broker *b, const struct user *u, int64_t *limit)
{
	const struct limit *l = &u->limits[LIMITS_USER_MAX_CHANNELS];
	uint64_t n = 0;
	struct list *pos;
	if (!l->set || l->value < 0)
		return false;
	list_for_each(pos, &b->conns)
	{
		struct conn *c = list_entry(pos, struct conn, link);
		if (!c->dead && c->user == u)
			n += c->channel_count;
	}
	return limit_reached(l, n, limit);
}
