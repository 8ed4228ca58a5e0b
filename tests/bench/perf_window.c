/* tests/bench/perf_window.c: publisher-confirm bookkeeping. Tags are consecutive from 1; the
 * broker may confirm singly or with multiple and, across queues, out of order. A ring of flags
 * sized to the window tracks which outstanding tags are done, so the window's low edge (base)
 * only moves past confirmed tags. */
#include "perf.h"

#include <stdlib.h>

int perf_window_init(struct perf_window *w, uint32_t window)
{
	uint64_t cap = 1;

	while (cap < (uint64_t)window + 1)
		cap <<= 1;
	w->base = 1;
	w->next = 1;
	w->mask = cap - 1;
	w->done = calloc(cap, 1);
	w->sent_ns = calloc(cap, sizeof *w->sent_ns);
	if (!w->done || !w->sent_ns) {
		perf_window_free(w);
		return -1;
	}
	return 0;
}

void perf_window_free(struct perf_window *w)
{
	free(w->done);
	free(w->sent_ns);
	w->done = NULL;
	w->sent_ns = NULL;
}

uint64_t perf_window_push(struct perf_window *w, uint64_t now_ns)
{
	uint64_t tag = w->next++;

	w->done[tag & w->mask] = 0;
	w->sent_ns[tag & w->mask] = now_ns;
	return tag;
}

static uint64_t perf_window_mark(struct perf_window *w, uint64_t tag, uint64_t now_ns,
				 struct perf_hist *h)
{
	uint8_t *slot = &w->done[tag & w->mask];

	if (*slot)
		return 0;
	*slot = 1;
	if (h)
		perf_hist_add(h, now_ns - w->sent_ns[tag & w->mask]);
	return 1;
}

uint64_t perf_window_ack(struct perf_window *w, uint64_t tag, bool multiple, uint64_t now_ns,
			 struct perf_hist *h)
{
	uint64_t n = 0;

	if (tag >= w->next)
		tag = w->next - 1; /* a broker bug; never let it move us past what we sent */
	if (tag < w->base)
		return 0;
	if (multiple) {
		for (uint64_t t = w->base; t <= tag; t++)
			n += perf_window_mark(w, t, now_ns, h);
	} else {
		n += perf_window_mark(w, tag, now_ns, h);
	}
	while (w->base < w->next && w->done[w->base & w->mask])
		w->done[w->base++ & w->mask] = 0;
	return n;
}
