/* broker/auth/limits.h: RabbitMQ's vhost limits (max-connections, max-queues) and user limits
 * (max-connections, max-channels), and the counts they are checked against.
 *
 * A limit that is not set is unlimited; a negative value is unlimited too, as in RabbitMQ
 * (`-1` is what rabbitmqctl prints for "no limit"); 0 allows nothing. */
#ifndef BROKER_LIMITS_H
#define BROKER_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

struct broker;
struct conn;
struct user;
struct vhost;

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

/* Whether one more connection / queue / channel would go beyond the limit; *limit receives
 * the limit's value for the error text. `self` (the connection asking) is not counted. */
bool limits_vhost_connections_reached(struct broker *b, const struct vhost *v,
				      const struct conn *self, int64_t *limit);
bool limits_vhost_queues_reached(const struct vhost *v, int64_t *limit);
bool limits_user_connections_reached(struct broker *b, const struct user *u,
				     const struct conn *self, int64_t *limit);
bool limits_user_channels_reached(struct broker *b, const struct user *u, int64_t *limit);

#endif
