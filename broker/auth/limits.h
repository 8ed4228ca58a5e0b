/* broker/auth/limits.h: RabbitMQ's vhost limits (max-connections, max-queues) and user limits
 * (max-connections, max-channels), and the counts they are checked against.
 *
 * A limit that is not set is unlimited; a negative value is unlimited too, as in RabbitMQ
 * (`-1` is what rabbitmqctl prints for "no limit"); 0 allows nothing. */
#ifndef BROKER_LIMITS_H
#define BROKER_LIMITS_H

#include <stdbool.h>
#include <stdint.h>


struct limit {
	bool set;
	int64_t value;
};

/* Vhost limits, in the order the management API lists them. */
enum limits_vhost { LIMITS_VHOST_MAX_CONNECTIONS, LIMITS_VHOST_MAX_QUEUES, LIMITS_VHOST_COUNT };
/* User limits. */
enum limits_user { LIMITS_USER_MAX_CONNECTIONS, LIMITS_USER_MAX_CHANNELS, LIMITS_USER_COUNT };

/* "max-connections" etc.; -1 for an unknown name. */
int limits_vhost_index(const char *name);
int limits_user_index(const char *name);
const char *limits_vhost_name(enum limits_vhost which);
const char *limits_user_name(enum limits_user which);

/* Whether count is at l (so one more would pass it); *limit receives l's value for the error
 * text. Unset and negative limits are never reached. */
bool limit_reached(const struct limit *l, uint64_t count, int64_t *limit);

#endif
