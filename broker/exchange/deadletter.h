/* broker/exchange/deadletter.h: dead-lettering: a message leaving a queue as rejected, expired, maxlen
 * or delivery_limit is republished to the queue's dead-letter exchange with RabbitMQ's x-death
 * bookkeeping and cycle rule. */
#ifndef BROKER_DEADLETTER_H
#define BROKER_DEADLETTER_H

#include "broker/queue/queue.h" /* enum deadletter_reason */

struct message;

const char *deadletter_reason_name(enum deadletter_reason r);
/* Republishes a copy of m (borrowed) from q to q's dead-letter exchange. Without a DLX, or when
 * it does not exist, the message is dropped, as RabbitMQ drops it. Returns the queues the copy
 * reached (0: dropped). */
size_t deadletter(struct queue *q, struct message *m, enum deadletter_reason reason);

#endif
