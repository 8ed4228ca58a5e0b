/* broker/auth/limits.c: limit names and the checks conn_handshake.c (connections), conn.c
 * (channel.open) and handle_queue.c (queue.declare) make. Counts are taken when asked, by
 * walking the broker's connections: opening a connection or a channel is rare next to
 * publishing, and nothing has to be kept in step when connections die. */
#include "broker/auth/limits.h"

#include <string.h>

#include "broker/auth/auth.h"
#include "broker/core/broker.h"
#include "broker/net/conn.h"
#include "broker/vhost/vhost.h"

static const char *const limits_vhost_names[LIMITS_VHOST_COUNT] = { "max-connections",
								     "max-queues" };
static const char *const limits_user_names[LIMITS_USER_COUNT] = { "max-connections",
								   "max-channels" };

int limits_vhost_index(const char *name)
{
	for (int i = 0; i < LIMITS_VHOST_COUNT; i++)
		if (strcmp(name, limits_vhost_names[i]) == 0)
			return i;
	return -1;
}

int limits_user_index(const char *name)
{
	for (int i = 0; i < LIMITS_USER_COUNT; i++)
		if (strcmp(name, limits_user_names[i]) == 0)
			return i;
	return -1;
}

const char *limits_vhost_name(enum limits_vhost which)
{
	return limits_vhost_names[which];
}

const char *limits_user_name(enum limits_user which)
{
	return limits_user_names[which];
}

static bool limits_reached(const struct limit *l, uint64_t count, int64_t *limit)
{
	*limit = l->value;
	return l->set && l->value >= 0 && count >= (uint64_t)l->value;
}

bool limits_vhost_connections_reached(struct broker *b, const struct vhost *v,
				      const struct conn *self, int64_t *limit)
{
	const struct limit *l = &v->limits[LIMITS_VHOST_MAX_CONNECTIONS];
	uint64_t n = 0;
	struct list *pos;
	if (!l->set || l->value < 0)
		return false;
	list_for_each(pos, &b->conns)
	{
		struct conn *c = list_entry(pos, struct conn, link);
		if (c != self && !c->dead && c->state == CONN_OPEN && c->vhost == v)
			n++;
	}
	return limits_reached(l, n, limit);
}

bool limits_vhost_queues_reached(const struct vhost *v, int64_t *limit)
{
	return limits_reached(&v->limits[LIMITS_VHOST_MAX_QUEUES], v->queues.count, limit);
}

bool limits_user_connections_reached(struct broker *b, const struct user *u,
				     const struct conn *self, int64_t *limit)
{
	const struct limit *l = &u->limits[LIMITS_USER_MAX_CONNECTIONS];
	uint64_t n = 0;
	struct list *pos;
	if (!l->set || l->value < 0)
		return false;
	list_for_each(pos, &b->conns)
	{
		struct conn *c = list_entry(pos, struct conn, link);
		if (c != self && !c->dead && c->state == CONN_OPEN && c->user == u)
			n++;
	}
	return limits_reached(l, n, limit);
}

bool limits_user_channels_reached(struct broker *b, const struct user *u, int64_t *limit)
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
	return limits_reached(l, n, limit);
}
