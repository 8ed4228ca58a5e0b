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

#endif
