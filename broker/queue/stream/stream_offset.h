/* broker/queue/stream/stream_offset.h: the values streams read from arguments: x-max-age and
 * interval offsets ("7D", "12h", "30s"), and a consumer's x-stream-offset. */
#ifndef BROKER_QUEUE_STREAM_STREAM_OFFSET_H
#define BROKER_QUEUE_STREAM_STREAM_OFFSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amqp/table.h"

/* A duration in RabbitMQ's form: a positive integer and one unit of Y M D h m s (a year is
 * 365 days, a month 30). Milliseconds, or -1 when s is not one. */
int64_t stream_duration_ms(struct amqp_str s);

enum stream_offset_kind {
	STREAM_OFFSET_NEXT,      /* only messages published from now on (the default) */
	STREAM_OFFSET_FIRST,     /* the oldest kept message */
	STREAM_OFFSET_LAST,      /* the start of the newest chunk */
	STREAM_OFFSET_ABSOLUTE,  /* value: an offset (negative means first) */
	STREAM_OFFSET_TIMESTAMP, /* value: ms since the epoch; the first chunk at or after it */
};

struct stream_offset {
	enum stream_offset_kind kind;
	int64_t value;
};

/* Reads x-stream-offset from a consumer's arguments (absent: next). An interval ("10m") becomes
 * a timestamp that far before now_ms. 0, or -1 with the reason (RabbitMQ's "invalid arg"
 * layout ends with it) in err. */
int stream_offset_parse(struct amqp_table args, uint64_t now_ms, struct stream_offset *out,
			char *err, size_t errlen);

/* The same from text (the management API, warrenctl): first, last, next, an offset (negative:
 * first), an interval such as 10m, or @<seconds since the epoch>. */
int stream_offset_from_text(const char *text, uint64_t now_ms, struct stream_offset *out,
			    char *err, size_t errlen);

#endif
