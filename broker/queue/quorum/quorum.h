/* broker/queue/quorum/quorum.h: the quorum kind of queue (queue_type.c lists it). */
#ifndef BROKER_QUEUE_QUORUM_QUORUM_H
#define BROKER_QUEUE_QUORUM_QUORUM_H

#include "broker/queue/queue_type.h"

extern const struct queue_type queue_type_quorum;

#endif
