/* broker/vhost/vhost.h: a virtual host: its exchanges (with the predeclared amq.* ones and the
 * default exchange), its queues, and its metadata (description, tags, default queue type) as
 * the management API and definitions show them. */
#ifndef BROKER_VHOST_H
#define BROKER_VHOST_H

#include "amqp/wire.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/auth/limits.h"
#include "broker/core/list.h"
#include "broker/core/strmap.h"

struct broker;
struct exchange;
struct queue;

struct vhost {
	struct broker *broker;
	char *name;
	struct strmap exchanges; /* name -> struct exchange; includes "" */
	struct strmap queues;    /* name -> struct queue */
	struct exchange *default_exchange;
	struct list policies;          /* struct policy, highest priority first */
	struct list operator_policies;
	struct queue *cache_queue; /* default-exchange lookup cache, valid for cache_gen */
	uint64_t cache_gen;
	struct limit limits[LIMITS_VHOST_COUNT]; /* enum limits_vhost */
	/* Metadata: shown, exported and kept, never used to route */
	char *description;        /* "" when unset */
	char **tags;
	size_t tag_count;
	char *default_queue_type; /* a queue kind's name (queue_type_find); NULL when unset */
};

struct vhost *vhost_new(struct broker *b, const char *name);
void vhost_free(struct vhost *v);
/* Replaces the description and tags, and sets the default queue type when the vhost has none
 * (as RabbitMQ 3.10, a vhost's default queue type does not change once set; NULL: none given).
 * 0, or -1 out of memory with v unchanged. */
int vhost_set_metadata(struct vhost *v, const char *description, const char *const *tags,
		       size_t tag_count, const char *default_queue_type);
struct exchange *vhost_exchange_find(const struct vhost *v, struct amqp_str name);
struct queue *vhost_queue_find(const struct vhost *v, struct amqp_str name);

/* Whether one more queue would pass v's max-queues; *limit receives it for the error text. */
bool vhost_queue_limit_reached(const struct vhost *v, int64_t *limit);

#endif
