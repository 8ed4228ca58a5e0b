/* broker/queue/queue_args.h: validation of queue.declare x-arguments and redeclare equivalence,
 * with RabbitMQ 3.10's PRECONDITION_FAILED texts. */
#ifndef BROKER_QUEUE_ARGS_H
#define BROKER_QUEUE_ARGS_H

#include <stddef.h>

#include "amqp/table.h"
#include "amqp/wire.h"

/* 0 when valid; otherwise -1 with the text after "PRECONDITION_FAILED - " in err. */
int queue_args_validate(struct amqp_table args, struct amqp_str queue, const char *vhost, char *err,
			size_t errlen);
/* 0 when `received` is equivalent to `current` for every argument the broker understands
 * (unknown x-arguments are not compared, as RabbitMQ); otherwise -1 with the text. */
int queue_args_equivalent(struct amqp_table current, struct amqp_table received,
			  struct amqp_str queue, const char *vhost, char *err, size_t errlen);

struct queue_declare;
/* The first of keys (in that order) the declare's arguments hold, refused by the kind RabbitMQ
 * calls type_name (rabbit_quorum_queue, ...): -1 with "invalid arg 'K' for queue 'Q' in vhost
 * 'V' of queue type T" in err; 0 when none is there. */
int queue_args_refuse(const struct queue_declare *d, const char *const *keys, size_t n,
		      const char *type_name, char *err, size_t errlen);
/* The declare's properties a replicated kind (quorum, stream) requires: durable, not
 * exclusive, not auto-delete, reported in RabbitMQ's order (exclusive-owner before
 * non-durable). 0, or -1 with the text in err. */
int queue_args_replicated_props(const struct queue_declare *d, char *err, size_t errlen);

#endif
