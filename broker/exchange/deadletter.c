/* broker/exchange/deadletter.c: republishing to a dead-letter exchange. The copy gets RabbitMQ 3.10's
 * headers: an x-death array (newest death first; an existing (queue, reason) entry has its count
 * raised in place), x-first-death-{reason,queue,exchange} set once, and the expiration property
 * moved into the death record as original-expiration. Routing keys are the queue's
 * x-dead-letter-routing-key (which also drops CC) or the message's own keys, CC included. A
 * fully automatic cycle (no rejection in it) back to a queue already in x-death drops the
 * message for that queue. */
#include "broker/exchange/deadletter.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amqp/props.h"
#include "amqp/table.h"
#include "broker/core/broker.h"
#include "broker/exchange/exchange.h"
#include "broker/core/log.h"
#include "broker/queue/message.h"
#include "broker/queue/queue.h"
#include "broker/vhost/vhost.h"

#define DEADLETTER_MAX_DEPTH 16
#define DEADLETTER_MAX_DEATHS 64

const char *deadletter_reason_name(enum deadletter_reason r)
{
	switch (r) {
	case DEADLETTER_REJECTED:
		return "rejected";
	case DEADLETTER_EXPIRED:
		return "expired";
	case DEADLETTER_MAXLEN:
		return "maxlen";
	default:
		return "delivery_limit";
	}
}

struct death {
	struct amqp_str queue, reason;
};

struct deadletter_ctx {
	struct death deaths[DEADLETTER_MAX_DEATHS]; /* the new x-death, newest first */
	size_t count;
	bool rejected;
};

/* rabbit_dead_letter:is_cycle: the deaths newer than the target queue's own entry, and that
 * entry, must all be automatic for the route to be a cycle. */
static bool deadletter_is_cycle(struct queue *q, const struct deadletter_ctx *ctx)
{
	if (ctx->rejected)
		return false;
	for (size_t i = 0; i < ctx->count; i++) {
		if (amqp_str_eq_c(ctx->deaths[i].reason, "rejected"))
			return false;
		if (amqp_str_eq(ctx->deaths[i].queue, q->name))
			return true;
	}
	return false;
}

static bool deadletter_accept(struct queue *q, void *arg)
{
	if (deadletter_is_cycle(q, arg))
		return false;
	q->stat_dead_lettered_in++; /* a dead-letter queue (its metrics say so) */
	return true;
}

static void put_str(struct amqp_buf *b, const char *key, struct amqp_str v)
{
	amqp_buf_put_shortstr(b, amqp_str_c(key));
	amqp_buf_put_value_longstr(b, v);
}

/* One x-death table: count, reason, queue, time, exchange, routing-keys[, original-expiration]. */
static void put_death(struct amqp_buf *b, struct queue *q, const struct message *m,
		      const struct amqp_basic_props *p, const char *reason, struct amqp_table cc)
{
	amqp_buf_put_u8(b, 'F');
	size_t at = amqp_buf_table_begin(b);
	amqp_buf_put_shortstr(b, AMQP_STR_LIT("count"));
	amqp_buf_put_value_long(b, 1);
	put_str(b, "reason", amqp_str_c(reason));
	put_str(b, "queue", q->name);
	amqp_buf_put_shortstr(b, AMQP_STR_LIT("time"));
	amqp_buf_put_value_timestamp(b, (uint64_t)time(NULL));
	put_str(b, "exchange", m->exchange);
	amqp_buf_put_shortstr(b, AMQP_STR_LIT("routing-keys"));
	amqp_buf_put_u8(b, 'A');
	size_t arr = amqp_buf_table_begin(b);
	amqp_buf_put_value_longstr(b, m->routing_key);
	struct amqp_table_iter it;
	struct amqp_value v;
	amqp_array_iter_init(&it, cc);
	while (cc.len && amqp_array_next(&it, &v) == 1)
		if (v.type == 'S')
			amqp_buf_put_value_longstr(b, v.v.str);
	amqp_buf_table_end(b, arr);
	if (p->flags & AMQP_PROP_EXPIRATION)
		put_str(b, "original-expiration", p->expiration);
	amqp_buf_table_end(b, at);
}

/* Copies an x-death entry, raising its count by one. */
static void put_death_incremented(struct amqp_buf *b, struct amqp_table entry)
{
	struct amqp_table_iter it;
	struct amqp_str key;
	struct amqp_value v;
	amqp_buf_put_u8(b, 'F');
	size_t at = amqp_buf_table_begin(b);
	amqp_table_iter_init(&it, entry);
	while (amqp_table_next(&it, &key, &v) == 1) {
		amqp_buf_put_shortstr(b, key);
		int64_t n;
		if (amqp_str_eq_c(key, "count") && amqp_value_as_int(&v, &n))
			amqp_buf_put_value_long(b, n + 1);
		else
			amqp_buf_put_value(b, &v);
	}
	amqp_buf_table_end(b, at);
}

/* Reads an entry's queue and reason; false when it lacks either. */
static bool death_read(const struct amqp_value *v, struct death *out)
{
	struct amqp_value qv, rv;
	if (v->type != 'F' || !amqp_table_get(v->v.table, "queue", &qv) || qv.type != 'S' ||
	    !amqp_table_get(v->v.table, "reason", &rv) || rv.type != 'S')
		return false;
	out->queue = qv.v.str;
	out->reason = rv.v.str;
	return true;
}

static bool death_is(const struct death *d, struct amqp_str queue, const char *reason)
{
	return amqp_str_eq(d->queue, queue) && amqp_str_eq_c(d->reason, reason);
}

/* Builds the new headers table into b and records the deaths (in the new order) in ctx. */
static void deadletter_headers(struct amqp_buf *b, struct queue *q, const struct message *m,
			       const struct amqp_basic_props *p, const char *reason,
			       struct deadletter_ctx *ctx)
{
	struct amqp_table headers = (p->flags & AMQP_PROP_HEADERS) ? p->headers :
								     (struct amqp_table){ 0 };
	struct amqp_value xdeath = { 0 }, cc = { 0 }, v;
	struct amqp_table_iter it;
	bool has_xdeath = amqp_table_get(headers, "x-death", &xdeath) && xdeath.type == 'A';
	bool keep_cc = !q->lim.dlrk;
	bool found = false;
	struct death d;

	if (!amqp_table_get(headers, "CC", &cc) || cc.type != 'A')
		cc.v.table = (struct amqp_table){ 0 };
	/* Is there already an entry for this queue and reason? Then it is updated in place. */
	if (has_xdeath) {
		amqp_array_iter_init(&it, xdeath.v.table);
		while (amqp_array_next(&it, &v) == 1)
			if (death_read(&v, &d) && death_is(&d, q->name, reason))
				found = true;
	}
	static const char *const skip_keep_cc[] = { "x-death", "BCC", NULL };
	static const char *const skip_drop_cc[] = { "x-death", "BCC", "CC", NULL };
	amqp_buf_put_entries_except(b, headers, keep_cc ? skip_keep_cc : skip_drop_cc);
	if (!amqp_table_get(headers, "x-first-death-reason", &v)) {
		put_str(b, "x-first-death-reason", amqp_str_c(reason));
		put_str(b, "x-first-death-queue", q->name);
		put_str(b, "x-first-death-exchange", m->exchange);
	}
	amqp_buf_put_shortstr(b, AMQP_STR_LIT("x-death"));
	amqp_buf_put_u8(b, 'A');
	size_t arr = amqp_buf_table_begin(b);
	if (!found) {
		put_death(b, q, m, p, reason, cc.v.table);
		ctx->deaths[ctx->count++] = (struct death){ q->name, amqp_str_c(reason) };
	}
	if (has_xdeath) {
		struct amqp_table_iter ai;
		amqp_array_iter_init(&ai, xdeath.v.table);
		while (amqp_array_next(&ai, &v) == 1) {
			bool is_entry = death_read(&v, &d);
			if (is_entry && death_is(&d, q->name, reason))
				put_death_incremented(b, v.v.table);
			else
				amqp_buf_put_value(b, &v);
			if (is_entry && ctx->count < DEADLETTER_MAX_DEATHS)
				ctx->deaths[ctx->count++] = d;
		}
	}
	amqp_buf_table_end(b, arr);
}

size_t deadletter(struct queue *q, struct message *m, enum deadletter_reason reason)
{
	static int depth;
	struct amqp_basic_props p;
	struct amqp_buf hb, pb;
	struct deadletter_ctx ctx;
	struct publish_result r = { 0 };

	if (reason == DEADLETTER_DELIVERY_LIMIT) /* dead-lettered below, or dropped */
		q->broker->stats.delivery_limit_exceeded++;
	if (!q->lim.dlx)
		return 0;
	struct exchange *x = vhost_exchange_find(q->vhost, amqp_str_c(q->lim.dlx));
	if (!x || depth >= DEADLETTER_MAX_DEPTH)
		return 0; /* a missing DLX drops the message, as RabbitMQ does */
	if (amqp_props_decode(&p, m->props, m->props_len) != 0)
		return 0;
	memset(&ctx, 0, sizeof ctx);
	ctx.rejected = reason == DEADLETTER_REJECTED;
	amqp_buf_init(&hb);
	amqp_buf_init(&pb);
	deadletter_headers(&hb, q, m, &p, deadletter_reason_name(reason), &ctx);
	struct amqp_basic_props np = p;
	np.headers = (struct amqp_table){ hb.data, (uint32_t)hb.len };
	np.flags |= AMQP_PROP_HEADERS;
	np.flags &= (uint16_t)~AMQP_PROP_EXPIRATION;
	amqp_props_encode(&np, &pb);
	struct amqp_str rk = q->lim.dlrk ? amqp_str_c(q->lim.dlrk) : m->routing_key;
	struct message *nm = NULL;
	if (!hb.oom && !pb.oom)
		nm = message_new(q->broker, x->name, rk, pb.data, pb.len, m->body_len);
	if (!nm) {
		log_warn(q->broker->log, "out of memory dead-lettering a message from queue '%s'", q->name.ptr);
		goto out;
	}
	memcpy(nm->body, m->body, m->body_len);
	nm->persistent = m->persistent;
	nm->priority = m->priority;
	depth++;
	exchange_publish(x, nm, deadletter_accept, &ctx, &r);
	depth--;
	q->broker->stats.dead_lettered++;
	q->broker->stats.dead_lettered_reason[reason]++;
	message_unref(nm);
out:
	amqp_buf_free(&hb);
	amqp_buf_free(&pb);
	return r.routed;
}
