/* broker/queue/stream/stream_filter.h: stream filtering as RabbitMQ 3.13 has it for AMQP 0-9-1:
 * a publisher tags a message with the x-stream-filter-value header (a string); a consumer asks
 * for values with x-stream-filter (a string or an array of strings), and with
 * x-stream-match-unfiltered for the messages that carry no value too. The log skips chunks
 * whose Bloom filter rules the values out (storage/stream_bloom.h); Warren then drops the other
 * messages of the chunks it reads, so a filtering consumer gets exactly what it asked for. */
#ifndef BROKER_QUEUE_STREAM_STREAM_FILTER_H
#define BROKER_QUEUE_STREAM_STREAM_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amqp/table.h"
#include "storage/stream_bloom.h"

struct stream_filter {
	struct sbloom_want want; /* the hashes, for the log's chunk filters */
	uint64_t *hashes;
	struct amqp_str *values;  /* owned copies */
	size_t count;
	bool match_unfiltered;
};

/* Reads a consumer's x-stream-filter and x-stream-match-unfiltered. *out is NULL when the
 * consumer does not filter (no x-stream-filter; x-stream-match-unfiltered alone means nothing,
 * as in RabbitMQ). 0; -1 with the argument's name in *bad_arg and the reason (RabbitMQ's
 * "{unacceptable_type,...}" form) in err; -2 out of memory. */
int stream_filter_parse(struct amqp_table args, struct stream_filter **out, const char **bad_arg,
			char *err, size_t errlen);
void stream_filter_free(struct stream_filter *f);

/* The x-stream-filter-value a message's property bytes carry (a string header; any other type
 * counts as none, as RabbitMQ reads it): true with *value borrowing from props. */
bool stream_filter_value(const uint8_t *props, size_t props_len, struct amqp_str *value);
/* The hash the log's chunk filter keeps for a message (0: it carries no value). */
uint64_t stream_filter_hash_of(const uint8_t *props, size_t props_len);
/* Whether f wants a message with these properties: its value is one of f's, or it has none
 * and f matches unfiltered messages. fhash: stream_filter_hash_of(props), a cheap first test. */
bool stream_filter_match(const struct stream_filter *f, uint64_t fhash, const uint8_t *props,
			 size_t props_len);

#endif
