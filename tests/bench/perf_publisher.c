/* tests/bench/perf_publisher.c: a publisher thread. It copies whole pre-encoded messages
 * (perf_template.c) into its output buffer, stamping the send time and a sequence number into
 * each, and writes thousands per syscall; it paces itself for --rate, keeps at most --confirm
 * messages unconfirmed, and reads confirms and returns in between. */
#include "perf.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Handles what a publisher receives: confirms and returns. Returns the bytes read (0 when
 * nothing was there) or -1. */
static ssize_t perf_publisher_read(struct perf_worker *w, struct perf_conn *c,
				   struct perf_window *win)
{
	struct amqp_frame f;
	struct amqp_method m;
	int got;
	ssize_t n = perf_conn_read_some(c);

	if (n < 0)
		return -1;
	uint64_t now = perf_now_ns();
	while ((got = perf_conn_next_frame(c, &f)) == 1) {
		if (f.type != AMQP_FRAME_METHOD || f.size < 4)
			continue;
		uint32_t id = amqp_get_u32(f.payload);
		if (id != AMQP_BASIC_ACK && id != AMQP_BASIC_NACK && id != AMQP_BASIC_RETURN)
			continue;
		if (amqp_method_decode(&m, f.payload, f.size) != AMQP_DECODE_OK)
			return -1;
		if (id == AMQP_BASIC_RETURN) {
			w->returned++;
		} else if (win && id == AMQP_BASIC_ACK) {
			w->confirmed += perf_window_ack(win, m.u.basic_ack.delivery_tag,
							m.u.basic_ack.multiple, now, &w->hist);
		} else if (win) {
			w->nacked += perf_window_ack(win, m.u.basic_nack.delivery_tag,
						     m.u.basic_nack.multiple, now, &w->hist);
		}
	}
	return got < 0 ? -1 : n;
}

static void perf_publisher_wait(struct perf_conn *c, bool want_write, uint64_t until_ns)
{
	uint64_t now = perf_now_ns();
	uint64_t wait = until_ns > now ? until_ns - now : 0;
	struct pollfd p = { .fd = c->fd, .events = POLLIN | (want_write ? POLLOUT : 0) };

	if (wait > 100000000u)
		wait = 100000000u; /* look at the stop flag at least every 100 ms */
	struct timespec ts = { 0, (long)wait };
	ppoll(&p, 1, &ts, NULL);
}

void *perf_publisher_main(void *arg)
{
	struct perf_worker *w = arg;
	struct perf_run *run = w->run;
	const struct perf_opts *o = run->o;
	struct perf_conn c = { .fd = -1 };
	struct perf_template t = { 0 };
	struct perf_window win = { 0 };
	bool confirm = o->confirm > 0;
	struct perf_window *wp = confirm ? &win : NULL;
	uint64_t sent = 0, start = run->start_ns;
	struct amqp_method m, reply;

	perf_hist_init(&w->hist);
	if (perf_conn_open(&c, &o->uri, 1u << 20, PERF_RPC_MS) != 0)
		goto fail;
	if (confirm) {
		memset(&m, 0, sizeof m);
		m.id = AMQP_CONFIRM_SELECT;
		if (perf_conn_rpc(&c, &m, AMQP_CONFIRM_SELECT_OK, &reply, PERF_RPC_MS) != 0)
			goto fail;
		if (perf_window_init(&win, o->confirm) != 0) {
			snprintf(c.error, sizeof c.error, "out of memory");
			goto fail;
		}
	}
	if (perf_template_build(&t, o, run->exchange, run->exchange[0] ? "" : w->queue,
				c.frame_max) != 0) {
		snprintf(c.error, sizeof c.error, "cannot build the message template");
		goto fail;
	}
	/* room for a few hundred KiB of messages, or for 4 large ones */
	size_t cap = t.len * 4 > (1u << 20) ? t.len * 4 : (1u << 20);
	if (cap > c.out_cap) {
		uint8_t *p = realloc(c.out, cap);
		if (!p) {
			snprintf(c.error, sizeof c.error, "out of memory");
			goto fail;
		}
		c.out = p;
		c.out_cap = cap;
	}

	for (;;) {
		uint64_t now = perf_now_ns();
		if (atomic_load_explicit(&run->stop_publish, memory_order_relaxed))
			break;
		if (w->count ? sent >= w->count : now >= run->end_ns)
			break;
		if (c.out_off == c.out_len)
			c.out_off = c.out_len = 0;
		if (c.out_cap - c.out_len < t.len && c.out_off > 0) {
			memmove(c.out, c.out + c.out_off, c.out_len - c.out_off);
			c.out_len -= c.out_off;
			c.out_off = 0;
		}
		uint64_t budget = (c.out_cap - c.out_len) / t.len;
		uint64_t next_due = 0;
		if (w->count && budget > w->count - sent)
			budget = w->count - sent;
		if (confirm && budget > o->confirm - perf_window_outstanding(&win))
			budget = o->confirm - perf_window_outstanding(&win);
		if (o->rate > 0) {
			uint64_t due = (uint64_t)((double)(now - start) * o->rate / 1e9) + 1;
			budget = due > sent ? (budget < due - sent ? budget : due - sent) : 0;
			next_due = start + (uint64_t)((double)(sent + budget) * 1e9 / o->rate);
		}
		if (c.blocked)
			budget = 0;
		for (uint64_t i = 0; i < budget; i++) {
			uint8_t *msg = c.out + c.out_len;
			memcpy(msg, t.bytes, t.len);
			perf_template_stamp(msg, &t, o->size, now, sent + i);
			c.out_len += t.len;
			if (confirm)
				perf_window_push(&win, now);
		}
		sent += budget;
		if (budget > 0) {
			atomic_store_explicit(&w->done, sent, memory_order_relaxed);
			atomic_store_explicit(&w->last_ns, now, memory_order_relaxed);
		}
		ssize_t got = 0;
		if (perf_conn_write_some(&c) != 0 || (got = perf_publisher_read(w, &c, wp)) < 0)
			goto fail;
		bool pending = c.out_len > c.out_off;
		/* a read may just have opened the confirm window: wait only when idle */
		if ((budget == 0 && got == 0) || pending)
			perf_publisher_wait(&c, pending, next_due ? next_due : now + 100000000u);
	}
	/* flush the tail, then wait for the outstanding confirms */
	uint64_t deadline = perf_now_ns() + 30ull * 1000000000u;
	while (perf_now_ns() < deadline && !atomic_load(&run->failed)) {
		bool pending = c.out_len > c.out_off;
		if (!pending && (!confirm || perf_window_outstanding(&win) == 0))
			break;
		ssize_t got = 0;
		if (perf_conn_write_some(&c) != 0 || (got = perf_publisher_read(w, &c, wp)) < 0)
			goto fail;
		bool waiting = got == 0 && confirm && perf_window_outstanding(&win) > 0;
		if (c.out_len > c.out_off || waiting)
			perf_publisher_wait(&c, c.out_len > c.out_off, deadline);
	}
	atomic_store(&w->last_ns, perf_now_ns());
	if (confirm && perf_window_outstanding(&win) > 0 && !atomic_load(&run->failed))
		/* a broker that never confirms some publishes is broken, not slow */
		perf_run_fail(run, "publisher: %llu confirms never arrived (30 s after the last publish)",
			      (unsigned long long)perf_window_outstanding(&win));
	goto out;
fail:
	perf_run_fail(run, "publisher: %s", c.error);
out:
	perf_conn_close(&c);
	perf_window_free(&win);
	free(t.bytes);
	return NULL;
}
