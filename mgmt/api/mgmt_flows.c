/* mgmt/api/mgmt_flows.c: where published messages went, as RabbitMQ's detailed statistics show it:
 * an exchange's "outgoing" (messages per destination queue) and "incoming" (per publishing
 * channel), a queue's "incoming" (per exchange), and a channel's "idle_since".
 *
 * The publish path only counts: each binding counts the messages it put into its queue (once
 * per message and queue, exchange.c), the default exchange's implicit bindings count on the
 * queue, and each channel counts its publishes per exchange (channel_stats.c). Everything else
 * happens here, on a management request or at the statistics interval: bindings are summed per
 * (exchange, queue) pair, rates come from the samples, and a channel whose counters did not move
 * over a whole interval is idle since the sample that last saw them move. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/admin/admin.h"
#include "broker/auth/auth.h"
#include "broker/core/broker.h"
#include "broker/net/channel.h"
#include "broker/net/conn.h"
#include "broker/exchange/exchange.h"
#include "broker/queue/queue.h"
#include "broker/vhost/vhost.h"
#include "broker/core/time.h"
#include "mgmt/api/mgmt_internal.h"

/* Messages from one exchange into one queue, all their bindings summed. */
struct mgmt_flow {
	struct exchange *x;
	struct queue *q;
	uint64_t count;
};

struct mgmt_flows {
	struct mgmt_flow *v;
	size_t count, cap;
};

static void mgmt_flows_add(struct mgmt_flows *f, struct exchange *x, struct queue *q,
			   uint64_t count)
{
	if (f->count == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct mgmt_flow *v = realloc(f->v, cap * sizeof *v);
		if (!v)
			return; /* statistics only: the reply shows fewer flows */
		f->v = v;
		f->cap = cap;
	}
	f->v[f->count++] = (struct mgmt_flow){ x, q, count };
}

static int mgmt_flow_cmp_ptr(const void *a, const void *b)
{
	const struct mgmt_flow *f = a, *g = b;
	if (f->x != g->x)
		return (uintptr_t)f->x < (uintptr_t)g->x ? -1 : 1;
	if (f->q != g->q)
		return (uintptr_t)f->q < (uintptr_t)g->q ? -1 : 1;
	return 0;
}

static int mgmt_str_cmp(struct amqp_str a, struct amqp_str b)
{
	int c = memcmp(a.ptr, b.ptr, a.len < b.len ? a.len : b.len);
	return c ? c : (a.len > b.len) - (a.len < b.len);
}

static int mgmt_flow_cmp_queue(const void *a, const void *b)
{
	return mgmt_str_cmp(((const struct mgmt_flow *)a)->q->name,
			    ((const struct mgmt_flow *)b)->q->name);
}

static int mgmt_flow_cmp_exchange(const void *a, const void *b)
{
	return mgmt_str_cmp(((const struct mgmt_flow *)a)->x->name,
			    ((const struct mgmt_flow *)b)->x->name);
}

/* One flow per (exchange, queue): bindings with several keys to one queue are summed. */
static void mgmt_flows_merge(struct mgmt_flows *f)
{
	size_t n = 0;
	if (f->count < 2)
		return;
	qsort(f->v, f->count, sizeof *f->v, mgmt_flow_cmp_ptr);
	for (size_t i = 0; i < f->count; i++) {
		if (n && f->v[n - 1].x == f->v[i].x && f->v[n - 1].q == f->v[i].q)
			f->v[n - 1].count += f->v[i].count;
		else
			f->v[n++] = f->v[i];
	}
	f->count = n;
}

/* The flows out of x: its bindings to queues, or for the default exchange, every queue it put
 * messages into. */
static void mgmt_flows_out_of(struct exchange *x, struct mgmt_flows *f)
{
	struct list *pos;
	list_for_each(pos, &x->bindings)
	{
		struct binding *b = list_entry(pos, struct binding, source_link);
		if (b->dest_q && b->routed)
			mgmt_flows_add(f, x, b->dest_q, b->routed);
	}
	if (x->is_default) {
		size_t i;
		for (struct strmap_entry *e = strmap_first(&x->vhost->queues, &i); e;
		     e = strmap_next(&x->vhost->queues, e, &i)) {
			struct queue *q = e->value;
			if (q->stat_default_routed)
				mgmt_flows_add(f, x, q, q->stat_default_routed);
		}
	}
	mgmt_flows_merge(f);
}

static void mgmt_flows_into(struct queue *q, struct mgmt_flows *f)
{
	struct list *pos;
	list_for_each(pos, &q->bindings)
	{
		struct binding *b = list_entry(pos, struct binding, dest_link);
		if (b->routed)
			mgmt_flows_add(f, b->source, q, b->routed);
	}
	if (q->stat_default_routed && q->vhost->default_exchange)
		mgmt_flows_add(f, q->vhost->default_exchange, q, q->stat_default_routed);
	mgmt_flows_merge(f);
}

/* The sample key of a flow: the exchange's and the queue's names. */
static size_t mgmt_flow_key(const struct mgmt_flow *f, char *buf, size_t cap)
{
	size_t xl = f->x->name.len, ql = f->q->name.len;
	if (xl + 1 + ql > cap)
		return 0;
	memcpy(buf, f->x->name.ptr, xl);
	buf[xl] = '\0';
	memcpy(buf + xl + 1, f->q->name.ptr, ql);
	return xl + 1 + ql;
}

static json_t *mgmt_flow_stats(struct mgmt_req *r, const struct mgmt_flow *f)
{
	char key[2 * 256 + 2];
	size_t len = mgmt_flow_key(f, key, sizeof key);
	const struct mgmt_sample *s = len ? mgmt_sample_find(r->m, 'o', f->x->vhost->name, key,
							     len) :
					    NULL;
	json_t *st = json_object();
	mgmt_stat_set(st, "publish", f->count, s && s->obj == f->q ? s->rate[0] : 0);
	return st;
}

static json_t *mgmt_named(struct amqp_str name, const char *vhost)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", admin_json_string(name.ptr, name.len));
	json_object_set_new(o, "vhost", json_string(vhost));
	return o;
}

json_t *mgmt_flows_exchange_outgoing(struct mgmt_req *r, struct exchange *x)
{
	struct mgmt_flows f = { 0 };
	json_t *arr = json_array();
	mgmt_flows_out_of(x, &f);
	if (f.count > 1)
		qsort(f.v, f.count, sizeof *f.v, mgmt_flow_cmp_queue);
	for (size_t i = 0; i < f.count; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "stats", mgmt_flow_stats(r, &f.v[i]));
		json_object_set_new(o, "queue", mgmt_named(f.v[i].q->name, x->vhost->name));
		json_array_append_new(arr, o);
	}
	free(f.v);
	return arr;
}

json_t *mgmt_flows_queue_incoming(struct mgmt_req *r, struct queue *q)
{
	struct mgmt_flows f = { 0 };
	json_t *arr = json_array();
	mgmt_flows_into(q, &f);
	if (f.count > 1)
		qsort(f.v, f.count, sizeof *f.v, mgmt_flow_cmp_exchange);
	for (size_t i = 0; i < f.count; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "stats", mgmt_flow_stats(r, &f.v[i]));
		json_object_set_new(o, "exchange", mgmt_named(f.v[i].x->name, q->vhost->name));
		json_array_append_new(arr, o);
	}
	free(f.v);
	return arr;
}

/* ---- per channel ---- */

static size_t mgmt_channel_key(char *buf, size_t cap, const struct channel *ch,
			       const struct channel_xstat *e)
{
	int n = e ? snprintf(buf, cap, "%llu/%u/%llu", (unsigned long long)ch->conn->id,
			     (unsigned)ch->id, (unsigned long long)e->x_serial) :
		    snprintf(buf, cap, "%llu/%u", (unsigned long long)ch->conn->id,
			     (unsigned)ch->id);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static bool mgmt_flows_can_see(struct mgmt_req *r, const struct conn *c)
{
	return mgmt_conn_is_listed(c) && (r->is_admin || r->is_monitor || c->user == r->user);
}

json_t *mgmt_flows_exchange_incoming(struct mgmt_req *r, struct exchange *x)
{
	static const char *const names[4] = { "publish", "confirm", "drop_unroutable",
					      "return_unroutable" };
	json_t *arr = json_array();
	struct list *pos;
	list_for_each(pos, &r->b->conns)
	{
		struct conn *c = list_entry(pos, struct conn, link);
		if (c->vhost != x->vhost || !mgmt_flows_can_see(r, c))
			continue;
		struct list *cpos;
		list_for_each(cpos, &c->channel_list)
		{
			struct channel *ch = list_entry(cpos, struct channel, conn_link);
			const struct channel_xstat *e;
			if (!(e = channel_stats_find(&ch->stats, x)))
				continue;
			char key[64];
			size_t klen = mgmt_channel_key(key, sizeof key, ch, e);
			const struct mgmt_sample *s = klen ? mgmt_sample_find(r->m, 'i', "", key,
									      klen) :
							     NULL;
			const uint64_t counts[4] = { e->publish, e->confirm, e->drop_unroutable,
						     e->return_unroutable };
			json_t *st = json_object();
			for (int k = 0; k < 4; k++)
				mgmt_stat_set(st, names[k], counts[k],
					      s && s->obj == ch ? s->rate[k] : 0);
			json_t *cd = mgmt_channel_details(r, ch);
			json_t *o = json_object();
			json_object_set_new(o, "stats", st);
			json_object_set_new(o, "channel_details", cd);
			json_array_append_new(arr, o);
		}
	}
	return arr;
}

/* What changes when a channel does something: deliveries and gets take tags, publishes count,
 * acks and confirms settle, consumers come and go. */
static uint64_t mgmt_channel_activity(const struct channel *ch)
{
	return ch->next_tag + ch->stats.publish_total + ch->confirm_sent + ch->unacked.live +
	       ch->consumers.count;
}

static void mgmt_flows_sample_channel(struct mgmt *m, struct channel *ch, double secs)
{
	char key[64];
	size_t klen = mgmt_channel_key(key, sizeof key, ch, NULL);
	struct mgmt_sample *s = klen ? mgmt_sample_get(m, 'h', "", key, klen, true) : NULL;
	uint64_t activity = mgmt_channel_activity(ch), now = time_now_ms();
	if (s) {
		if (s->obj != ch || s->prev[0] != activity) {
			s->obj = ch;
			s->prev[0] = activity;
			s->prev[1] = now; /* busy up to this sample */
			s->idle = false;
		} else {
			s->idle = true;
		}
		s->epoch = m->epoch;
	}
	for (uint32_t i = 0; i < ch->stats.count; i++) {
		const struct channel_xstat *e = &ch->stats.v[i];
		const uint64_t counts[4] = { e->publish, e->confirm, e->drop_unroutable,
					     e->return_unroutable };
		klen = mgmt_channel_key(key, sizeof key, ch, e);
		if (klen)
			mgmt_sample_record(m, 'i', "", key, klen, ch, counts, 4, secs);
	}
}

void mgmt_flows_sample(struct mgmt *m, double secs)
{
	struct broker *b = m->b;
	struct list *pos;
	size_t i, j;
	char key[2 * 256 + 2];
	for (struct strmap_entry *ve = strmap_first(&b->vhosts, &i); ve;
	     ve = strmap_next(&b->vhosts, ve, &i)) {
		struct vhost *v = ve->value;
		for (struct strmap_entry *e = strmap_first(&v->exchanges, &j); e;
		     e = strmap_next(&v->exchanges, e, &j)) {
			struct mgmt_flows f = { 0 };
			mgmt_flows_out_of(e->value, &f);
			for (size_t k = 0; k < f.count; k++) {
				size_t len = mgmt_flow_key(&f.v[k], key, sizeof key);
				if (len)
					mgmt_sample_record(m, 'o', v->name, key, len, f.v[k].q,
							   &f.v[k].count, 1, secs);
			}
			free(f.v);
		}
	}
	list_for_each(pos, &b->conns)
	{
		struct conn *c = list_entry(pos, struct conn, link);
		if (!mgmt_conn_is_listed(c))
			continue;
		struct list *cpos;
		list_for_each(cpos, &c->channel_list)
			mgmt_flows_sample_channel(m, list_entry(cpos, struct channel, conn_link), secs);
	}
}

json_t *mgmt_flows_idle_since(struct mgmt_req *r, struct channel *ch)
{
	char key[64], text[64];
	size_t klen = mgmt_channel_key(key, sizeof key, ch, NULL);
	const struct mgmt_sample *s = klen ? mgmt_sample_find(r->m, 'h', "", key, klen) : NULL;
	if (!s || s->obj != ch || !s->idle)
		return NULL;
	/* RabbitMQ's form: local time with its offset, milliseconds. */
	uint64_t ms = mgmt_wall_ms(r->m, s->prev[1]);
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (!localtime_r(&t, &tm))
		return NULL;
	long off = tm.tm_gmtoff / 60;
	size_t n = strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(text + n, sizeof text - n, ".%03u%c%02ld:%02ld", (unsigned)(ms % 1000),
		 off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
	return json_string(text);
}
