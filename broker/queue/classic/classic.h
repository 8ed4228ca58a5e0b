/* broker/queue/classic/classic.h: the classic kind of queue (and, for now, the quorum kind,
 * which shares its storage and delivery): the queue_type implementations queue_type.c lists. */
#ifndef BROKER_QUEUE_CLASSIC_CLASSIC_H
#define BROKER_QUEUE_CLASSIC_CLASSIC_H

#include "broker/queue/queue_type.h"

extern const struct queue_type queue_type_classic;
extern const struct queue_type queue_type_quorum;

#endif
