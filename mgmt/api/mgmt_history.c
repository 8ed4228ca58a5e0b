/* mgmt/api/mgmt_history.c: the node-wide statistics history behind the overview's charts. Every
 * statistics sample (collect_statistics_interval, on mgmt.c's timer) appends the broker's message
 * counters and queue totals to a ring that covers one hour; GET /api/overview with RabbitMQ's
 * msg_rates_age/msg_rates_incr and lengths_age/lengths_incr (seconds) adds
 * "samples": [{"sample": n, "timestamp": ms}, ...] (newest first), "avg" and "avg_rate" to each
 * "<counter>_details" of message_stats and queue_totals, as RabbitMQ does. Nothing is added to
 * the message path: the ring is filled from counters the broker keeps anyway. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/core/broker.h"
#include "broker/core/config.h"
#include "broker/queue/queue.h"
#include "broker/vhost/vhost.h"
#include "mgmt/api/mgmt_internal.h"

#define MGMT_HISTORY_SPAN_MS (3600u * 1000u)
#define MGMT_HISTORY_SLOTS_MAX 3600u

/* The series kept, in ring order; which overview object and key each belongs to. */
enum mgmt_history_series {
	MGMT_H_PUBLISH, MGMT_H_DELIVER_GET, MGMT_H_DELIVER, MGMT_H_ACK, MGMT_H_REDELIVER,
	MGMT_H_CONFIRM, MGMT_H_RETURN, MGMT_H_MESSAGES, MGMT_H_READY, MGMT_H_UNACKED,
	MGMT_H_COUNT
};

static const struct {
	const char *object, *key;
	bool is_length; /* lengths_* (queue_totals) rather than msg_rates_* (message_stats) */
} mgmt_history_series_info[MGMT_H_COUNT] = {
	{ "message_stats", "publish", false },    { "message_stats", "deliver_get", false },
	{ "message_stats", "deliver", false },    { "message_stats", "ack", false },
	{ "message_stats", "redeliver", false },  { "message_stats", "confirm", false },
	{ "message_stats", "return_unroutable", false },
	{ "queue_totals", "messages", true },     { "queue_totals", "messages_ready", true },
	{ "queue_totals", "messages_unacknowledged", true },
};

struct mgmt_history_slot {
	uint64_t ts_ms;
	uint64_t v[MGMT_H_COUNT];
};

struct mgmt_history {
	size_t cap, count, head; /* head: the next slot written */
	struct mgmt_history_slot slot[];
};

static struct mgmt_history *mgmt_history_new(uint32_t interval_ms)
{
	size_t cap = MGMT_HISTORY_SPAN_MS / (interval_ms ? interval_ms : 5000) + 2;
	if (cap > MGMT_HISTORY_SLOTS_MAX)
		cap = MGMT_HISTORY_SLOTS_MAX;
	struct mgmt_history *h = calloc(1, sizeof *h + cap * sizeof h->slot[0]);
	if (h)
		h->cap = cap;
	return h;
}

void mgmt_history_free(struct mgmt_history *h)
{
	free(h);
}

void mgmt_history_record(struct mgmt *m)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts); /* samples carry wall-clock times, as RabbitMQ's do */
	uint64_t now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	struct broker *b = m->b;
	size_t i, j;
	if (!m->history && !(m->history = mgmt_history_new(b->cfg->collect_statistics_interval)))
		return; /* out of memory: the charts stay empty, the API still answers */
	struct mgmt_history *h = m->history;
	struct mgmt_history_slot *s = &h->slot[h->head];
	uint64_t ready = 0, unacked = 0;
	for (struct strmap_entry *ve = strmap_first(&b->vhosts, &i); ve;
	     ve = strmap_next(&b->vhosts, ve, &i)) {
		struct vhost *v = ve->value;
		for (struct strmap_entry *e = strmap_first(&v->queues, &j); e;
		     e = strmap_next(&v->queues, e, &j)) {
			struct queue *q = e->value;
			ready += queue_ready_count(q);
			unacked += q->unacked_count;
		}
	}
	s->ts_ms = now_ms;
	s->v[MGMT_H_PUBLISH] = b->stats.published;
	s->v[MGMT_H_DELIVER_GET] = b->stats.delivered;
	s->v[MGMT_H_DELIVER] = b->stats.delivered;
	s->v[MGMT_H_ACK] = b->stats.acked;
	s->v[MGMT_H_REDELIVER] = b->stats.redelivered;
	s->v[MGMT_H_CONFIRM] = b->stats.confirmed;
	s->v[MGMT_H_RETURN] = b->stats.returned;
	s->v[MGMT_H_MESSAGES] = ready + unacked;
	s->v[MGMT_H_READY] = ready;
	s->v[MGMT_H_UNACKED] = unacked;
	h->head = (h->head + 1) % h->cap;
	if (h->count < h->cap)
		h->count++;
}

/* The k-th newest slot (0 = newest). */
static const struct mgmt_history_slot *mgmt_history_at(const struct mgmt_history *h, size_t k)
{
	return &h->slot[(h->head + h->cap - 1 - k) % h->cap];
}

/* age and incr in seconds from the query; false when absent or not a positive integer. */
static bool mgmt_history_param(struct mgmt_req *r, const char *key, long *out)
{
	const char *s = mgmt_query(r, key);
	char *end;
	if (!s || !*s)
		return false;
	long v = strtol(s, &end, 10);
	if (*end || v <= 0 || v > 86400L * 365)
		return false;
	*out = v;
	return true;
}

static void mgmt_history_series(const struct mgmt_history *h, size_t series, long age,
				long incr, json_t *details)
{
	const struct mgmt_history_slot *newest = mgmt_history_at(h, 0);
	uint64_t span = (uint64_t)age * 1000;
	uint64_t from = newest->ts_ms > span ? newest->ts_ms - span : 0;
	uint64_t next = newest->ts_ms, step = (uint64_t)incr * 1000, sum = 0;
	const struct mgmt_history_slot *oldest = newest;
	json_t *samples = json_array();
	size_t n = 0;
	/* One sample per incr: the newest slot at or before each step back from the newest. */
	for (size_t k = 0; k < h->count; k++) {
		const struct mgmt_history_slot *s = mgmt_history_at(h, k);
		if (s->ts_ms < from)
			break;
		if (s->ts_ms > next)
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "sample", json_integer((json_int_t)s->v[series]));
		json_object_set_new(o, "timestamp", json_integer((json_int_t)s->ts_ms));
		json_array_append_new(samples, o);
		sum += s->v[series];
		n++;
		oldest = s;
		next = s->ts_ms >= step ? s->ts_ms - step : 0;
		if (s->ts_ms < step)
			break;
	}
	double secs = (double)(newest->ts_ms - oldest->ts_ms) / 1000.0;
	double diff = newest->v[series] >= oldest->v[series] ?
			      (double)(newest->v[series] - oldest->v[series]) :
			      -(double)(oldest->v[series] - newest->v[series]);
	json_object_set_new(details, "samples", samples);
	json_object_set_new(details, "avg_rate", json_real(secs > 0 ? diff / secs : 0.0));
	json_object_set_new(details, "avg", json_real(n ? (double)sum / (double)n : 0.0));
}

void mgmt_history_add_samples(struct mgmt_req *r, json_t *overview)
{
	const struct mgmt_history *h = r->m->history;
	long rates_age = 0, rates_incr = 0, lengths_age = 0, lengths_incr = 0;
	bool rates = mgmt_history_param(r, "msg_rates_age", &rates_age) &&
		     mgmt_history_param(r, "msg_rates_incr", &rates_incr);
	bool lengths = mgmt_history_param(r, "lengths_age", &lengths_age) &&
		       mgmt_history_param(r, "lengths_incr", &lengths_incr);
	if (!h || h->count == 0 || (!rates && !lengths))
		return;
	for (size_t i = 0; i < MGMT_H_COUNT; i++) {
		bool is_length = mgmt_history_series_info[i].is_length;
		if (is_length ? !lengths : !rates)
			continue;
		char key[96];
		snprintf(key, sizeof key, "%s_details", mgmt_history_series_info[i].key);
		json_t *obj = json_object_get(overview, mgmt_history_series_info[i].object);
		json_t *details = json_object_get(obj, key);
		if (json_is_object(details))
			mgmt_history_series(h, i, is_length ? lengths_age : rates_age,
					    is_length ? lengths_incr : rates_incr, details);
	}
}
