/* broker/queue/stream/stream.h: the stream kind of queue (queue_type.c lists it), and reading a
 * stream without a consumer (the management API's and warrenctl's stream read). */
#ifndef BROKER_QUEUE_STREAM_STREAM_H
#define BROKER_QUEUE_STREAM_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/queue/queue_type.h"
#include "broker/queue/stream/stream_offset.h"

struct queue;
struct store_message;

extern const struct queue_type queue_type_stream;

/* Receives one message (borrowed during the call); false stops the read. */
typedef bool (*stream_read_fn)(void *arg, uint64_t offset, uint64_t timestamp_ms,
			       const struct store_message *m);
/* Reads up to count written messages of stream q from where from says, without a consumer.
 * Returns how many were handed to fn, or -1 when q is not a stream. */
int stream_read(struct queue *q, const struct stream_offset *from, size_t count,
		stream_read_fn fn, void *arg);

#endif
