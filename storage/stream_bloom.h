/* storage/stream_bloom.h: the Bloom filter a stream keeps per chunk of the filter values
 * (x-stream-filter-value) its messages carry, and the question a filtering reader asks of it:
 * can this chunk hold a message I want? A "no" is certain (the reader skips the chunk without
 * reading its messages); a "yes" may be wrong (false positives, about 1% with 10 distinct values
 * in the default 16 bytes). A filter is a fixed-size bit array (16 to 255 bytes, RabbitMQ's
 * x-stream-filter-size-bytes range) set by three hashes of each value. Pure functions, no
 * allocation. */
#ifndef STORAGE_STREAM_BLOOM_H
#define STORAGE_STREAM_BLOOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SBLOOM_MIN_SIZE 16     /* bytes; the default, as RabbitMQ's */
#define SBLOOM_MAX_SIZE 255

/* What a chunk holds besides its filter bits. */
#define SBLOOM_HAS_VALUES 0x01     /* some message carries a filter value */
#define SBLOOM_HAS_UNFILTERED 0x02 /* some message carries none */

/* The 64-bit hash of a filter value that sbloom_add and sbloom_may_contain take (never 0). */
uint64_t sbloom_hash(const void *value, size_t len);
/* Sets hash h's bits in the size-byte filter bits. */
void sbloom_add(uint8_t *bits, size_t size, uint64_t h);
/* Whether a value with hash h may have been added (false: it certainly was not). */
bool sbloom_may_contain(const uint8_t *bits, size_t size, uint64_t h);

/* A reader's filter: the hashes of the values it wants, and whether it also wants messages
 * without a value. */
struct sbloom_want {
	const uint64_t *hashes;
	size_t count;
	bool match_unfiltered;
};

/* Whether a chunk with these flags and filter bits (size 0: no bits) may hold a message w
 * wants. */
bool sbloom_chunk_may_match(const struct sbloom_want *w, uint8_t flags, const uint8_t *bits,
			    size_t size);

#endif
