/* broker/vhost.h: a virtual host: its exchanges (with the predeclared amq.* ones and the
 * default exchange) and its queues. */
#ifndef BROKER_VHOST_H
#define BROKER_VHOST_H

#include "amqp/wire.h"
#include <stdint.h>

#include "broker/limits.h"
#include "broker/list.h"
#include "broker/strmap.h"

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
};

struct vhost *vhost_new(struct broker *b, const char *name);
void vhost_free(struct vhost *v);
struct exchange *vhost_exchange_find(const struct vhost *v, struct amqp_str name);
struct queue *vhost_queue_find(const struct vhost *v, struct amqp_str name);

#endif
