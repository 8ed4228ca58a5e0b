/* broker/auth/limits.c: limit names and the checks conn_handshake.c (connections), conn.c
 * (channel.open) and handle_queue.c (queue.declare) make. Counts are taken when asked, by
 * walking the broker's connections: opening a connection or a channel is rare next to
 * publishing, and nothing has to be kept in step when connections die. */
#include "broker/auth/limits.h"

#include <string.h>


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

bool limit_reached(const struct limit *l, uint64_t count, int64_t *limit)
{
	*limit = l->value;
	return l->set && l->value >= 0 && count >= (uint64_t)l->value;
}
