/* tests/bench/perf_hist.c: latency histogram. Values land in one of 64 sub-buckets of their
 * power of two, so memory is fixed (32 KiB), adding is a few instructions, and quantiles are
 * within ~1.6% of the truth. */
#include "perf.h"

#include <string.h>

void perf_hist_init(struct perf_hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

static unsigned perf_hist_index(uint64_t v)
{
	if (v < (1u << PERF_HIST_SUB_BITS))
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - PERF_HIST_SUB_BITS;
	unsigned sub = (unsigned)(v >> shift) & ((1u << PERF_HIST_SUB_BITS) - 1);
	return ((shift + 1) << PERF_HIST_SUB_BITS) + sub;
}

/* The largest value that lands in bucket i. */
static uint64_t perf_hist_upper(unsigned i)
{
	if (i < (1u << PERF_HIST_SUB_BITS))
		return i;
	unsigned shift = (i >> PERF_HIST_SUB_BITS) - 1;
	uint64_t sub = i & ((1u << PERF_HIST_SUB_BITS) - 1);
	uint64_t base = ((uint64_t)1 << PERF_HIST_SUB_BITS | sub) << shift;
	return base + (((uint64_t)1 << shift) - 1);
}

void perf_hist_add(struct perf_hist *h, uint64_t ns)
{
	h->buckets[perf_hist_index(ns)]++;
	h->count++;
	if (ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
}

void perf_hist_merge(struct perf_hist *into, const struct perf_hist *from)
{
	if (from->count == 0)
		return;
	for (unsigned i = 0; i < PERF_HIST_BUCKETS; i++)
		into->buckets[i] += from->buckets[i];
	into->count += from->count;
	if (from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t perf_hist_quantile(const struct perf_hist *h, double q)
{
	if (h->count == 0)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)h->count + 0.5);
	uint64_t seen = 0;

	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (unsigned i = 0; i < PERF_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			uint64_t v = perf_hist_upper(i);
			return v < h->min ? h->min : v > h->max ? h->max : v;
		}
	}
	return h->max;
}
