/* tests/bench/perf_consumer.c: a consumer thread. It parses every frame of a 256 KiB read
 * before polling again, records end-to-end latency from the stamp in the first body bytes
 * (one clock reading per read; only inside the measured window, so the drain after publishing
 * stopped does not count), and acks every --ack-every deliveries with multiple. */
#include "perf.h"

#include <stdio.h>
#include <string.h>

#include "amqp/props.h"

struct perf_consumer_state {
	uint64_t tag, unacked, body_left, body_seen;
	bool in_content;
	bool in_window; /* the last read came before the end of the measured window */
};

static int perf_consumer_ack(struct perf_conn *c, uint64_t tag)
{
	struct amqp_method m = { .id = AMQP_BASIC_ACK };

	m.u.basic_ack.delivery_tag = tag;
	m.u.basic_ack.multiple = true;
	return perf_conn_put_method(c, 1, &m);
}

/* Parses every buffered frame; counts messages whose last body byte arrived. */
static int perf_consumer_parse(struct perf_worker *w, struct perf_conn *c,
			       struct perf_consumer_state *s, uint64_t now, uint64_t *count)
{
	const struct perf_opts *o = w->run->o;
	struct amqp_frame f;
	struct amqp_method m;
	struct amqp_content_header h;
	int got;

	while ((got = perf_conn_next_frame(c, &f)) == 1) {
		bool complete = false;
		if (f.type == AMQP_FRAME_METHOD) {
			if (f.size < 4 || amqp_get_u32(f.payload) != AMQP_BASIC_DELIVER)
				continue;
			if (amqp_method_decode(&m, f.payload, f.size) != AMQP_DECODE_OK) {
				snprintf(c->error, sizeof c->error, "malformed basic.deliver");
				return -1;
			}
			s->tag = m.u.basic_deliver.delivery_tag;
			s->in_content = true;
			continue;
		}
		if (!s->in_content)
			continue;
		if (f.type == AMQP_FRAME_HEADER) {
			if (amqp_content_header_decode(&h, f.payload, f.size) != 0) {
				snprintf(c->error, sizeof c->error, "malformed content header");
				return -1;
			}
			s->body_left = h.body_size;
			s->body_seen = 0;
			complete = h.body_size == 0;
		} else if (f.type == AMQP_FRAME_BODY) {
			if (s->body_seen == 0 && f.size >= 8 && o->size >= 8 && s->in_window)
				perf_hist_add(&w->hist, now - amqp_get_u64(f.payload));
			s->body_seen += f.size;
			s->body_left -= f.size < s->body_left ? f.size : s->body_left;
			complete = s->body_left == 0;
		}
		if (!complete)
			continue;
		s->in_content = false;
		(*count)++;
		if (o->ack_every > 0 && ++s->unacked >= o->ack_every) {
			if (perf_consumer_ack(c, s->tag) != 0)
				return -1;
			s->unacked = 0;
		}
	}
	return got;
}

void *perf_consumer_main(void *arg)
{
	struct perf_worker *w = arg;
	struct perf_run *run = w->run;
	const struct perf_opts *o = run->o;
	struct perf_conn c = { .fd = -1 };
	struct perf_consumer_state s = { 0 };
	struct amqp_method m, reply;
	uint64_t count = 0;
	bool ready = false;

	perf_hist_init(&w->hist);
	if (perf_conn_open(&c, &o->uri, 1u << 16, PERF_RPC_MS) != 0)
		goto fail;
	if (o->prefetch > 0) {
		memset(&m, 0, sizeof m);
		m.id = AMQP_BASIC_QOS;
		uint32_t prefetch = o->prefetch > 65535 ? 65535 : o->prefetch;
		m.u.basic_qos.prefetch_count = (uint16_t)prefetch;
		if (perf_conn_rpc(&c, &m, AMQP_BASIC_QOS_OK, &reply, PERF_RPC_MS) != 0)
			goto fail;
	}
	memset(&m, 0, sizeof m);
	m.id = AMQP_BASIC_CONSUME;
	m.u.basic_consume.queue = amqp_str_c(w->queue);
	m.u.basic_consume.no_ack = o->ack_every == 0;
	/* a stream consumer reads from the start: x-stream-offset = first */
	static const uint8_t from_first[] = "\x0fx-stream-offset" "S\0\0\0\x05" "first";
	if (o->scenario == PERF_STREAM)
		m.u.basic_consume.arguments =
			(struct amqp_table){ from_first, sizeof from_first - 1 };
	if (perf_conn_rpc(&c, &m, AMQP_BASIC_CONSUME_OK, &reply, PERF_RPC_MS) != 0)
		goto fail;
	atomic_fetch_add(&run->consumers_ready, 1);
	ready = true;

	uint64_t now = perf_now_ns();
	s.in_window = now < atomic_load(&run->window_end_ns);
	bool more = false; /* the last read filled the buffer: the socket likely has more */
	for (;;) {
		uint64_t before = count;
		if (perf_consumer_parse(w, &c, &s, now, &count) < 0)
			goto fail;
		if (count != before) {
			atomic_store_explicit(&w->done, count, memory_order_relaxed);
			atomic_store_explicit(&w->last_ns, now, memory_order_relaxed);
		}
		if (perf_conn_write_some(&c) != 0)
			goto fail;
		if (atomic_load_explicit(&run->stop_consume, memory_order_relaxed))
			break;
		/* poll rather than spend a read on EAGAIN; poll returns at once when bytes wait */
		if (!more && perf_conn_wait(&c, c.out_len > c.out_off, 100) < 0)
			goto fail;
		ssize_t n = perf_conn_read_some(&c);
		if (n < 0)
			goto fail;
		more = n > 0 && c.in_len == c.in_cap;
		now = perf_now_ns();
		s.in_window = now < atomic_load_explicit(&run->window_end_ns, memory_order_relaxed);
	}
	if (s.unacked > 0 && perf_consumer_ack(&c, s.tag) == 0)
		perf_conn_write_some(&c);
	goto out;
fail:
	perf_run_fail(run, "consumer: %s", c.error);
	if (!ready)
		atomic_fetch_add(&run->consumers_ready, 1);
out:
	perf_conn_close(&c);
	return NULL;
}
