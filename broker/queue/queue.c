/* broker/queue/queue.c: queue contents and dispatch. Ready messages sit in ring buffers ordered by
 * publish sequence, one per priority level (a bitmap finds the highest non-empty level in O(1));
 * a requeued message is put back at its original position. TTL expiry happens at the heads,
 * driven by one timer per queue. Dispatch is a deferred task: a batch of publishes in one loop
 * turn costs one dispatch pass. */
#include "broker/queue/queue.h"

#include <stdlib.h>
#include <string.h>

#include "broker/queue/consumer.h"
#include "broker/core/log.h"
#include "broker/queue/message.h"
#include "broker/vhost/policy.h"
#include "broker/vhost/vhost.h"
#include "broker/core/time.h"
#include "storage/store.h"

static void queue_on_dispatch(struct deferred *d)
{
	struct queue *q = (struct queue *)((char *)d - offsetof(struct queue, dispatch));
	queue_dispatch(q);
}

static void queue_on_ttl_timer(struct broker_timer *t)
{
	queue_expire((struct queue *)((char *)t - offsetof(struct queue, ttl_timer)));
}

static void queue_on_expires_timer(struct broker_timer *t)
{
	struct queue *q = (struct queue *)((char *)t - offsetof(struct queue, expires_timer));
	if (!q->deleted && q->consumer_count == 0)
		queue_delete(q);
}

/* ---- levels ---- */

static void level_mark(struct queue *q, unsigned lvl)
{
	if (q->levels[lvl].count || q->paged[lvl].count)
		q->nonempty[lvl / 64] |= 1ULL << (lvl % 64);
	else
		q->nonempty[lvl / 64] &= ~(1ULL << (lvl % 64));
}

/* Highest non-empty level, or -1. */
static int level_top(const struct queue *q)
{
	for (int w = 3; w >= 0; w--)
		if (q->nonempty[w])
			return w * 64 + 63 - __builtin_clzll(q->nonempty[w]);
	return -1;
}

static unsigned level_of(const struct queue *q, const struct message *m)
{
	return m->priority < q->level_count ? m->priority : q->level_count - 1u;
}

static int queue_set_levels(struct queue *q, unsigned count)
{
	if (count <= q->level_count)
		return 0;
	struct qdeque *lv = realloc(q->levels, count * sizeof *lv);
	if (!lv)
		return -1;
	memset(lv + q->level_count, 0, (count - q->level_count) * sizeof *lv);
	q->levels = lv;
	struct qpage_list *pg = realloc(q->paged, count * sizeof *pg);
	if (!pg)
		return -1; /* level_count stays: the next call retries */
	memset(pg + q->level_count, 0, (count - q->level_count) * sizeof *pg);
	q->paged = pg;
	q->level_count = (uint16_t)count;
	return 0;
}

/* ---- limits ---- */

static int64_t arg_int(struct amqp_table args, const char *key)
{
	struct amqp_value v;
	int64_t i;
	if (amqp_table_get(args, key, &v) && v.type != 'T' && amqp_value_as_int(&v, &i))
		return i;
	return -1;
}

/* The string argument key, copied into *out (NULL when absent or not a string). -1 out of
 * memory: absent and unallocatable must not look alike, or a queue declared with
 * x-overflow = reject-publish would silently drop heads instead. */
static int arg_str(struct amqp_table args, const char *key, char **out)
{
	struct amqp_value v;
	*out = NULL;
	if (!amqp_table_get(args, key, &v) || v.type != 'S')
		return 0;
	*out = malloc((size_t)v.v.str.len + 1);
	if (!*out)
		return -1;
	memcpy(*out, v.v.str.ptr, v.v.str.len);
	(*out)[v.v.str.len] = '\0';
	return 0;
}

/* Numeric limits: the smallest of argument, policy and operator policy wins, as RabbitMQ's
 * args_policy_lookup(..., fun erlang:min/2) decides (-1 = not set). */
static int64_t limit_pick(int64_t arg, int64_t pol, int64_t op)
{
	int64_t v = arg;
	if (pol >= 0 && (v < 0 || pol < v))
		v = pol;
	if (op >= 0 && (v < 0 || op < v))
		v = op;
	return v;
}

/* The argument's string, else a copy of the policy's; -1 out of memory. */
static int str_pick(struct amqp_table args, const char *key, const char *pol, char **out)
{
	if (arg_str(args, key, out) != 0)
		return -1;
	if (*out || !pol)
		return 0;
	*out = strdup(pol);
	return *out ? 0 : -1;
}

int queue_apply_policy(struct queue *q)
{
	const struct policy *p = policy_match(q->vhost, (const char *)q->name.ptr, q->name.len, true,
					      false);
	const struct policy *op = policy_match(q->vhost, (const char *)q->name.ptr, q->name.len,
					       true, true);
	static const struct policy_def none = { -1, -1, -1, -1, -1, -1, NULL, NULL, NULL, NULL,
						 NULL };
	const struct policy_def *pd = p ? &p->def : &none, *od = op ? &op->def : &none;
	struct queue_limits l;
	struct amqp_value v;

	memset(&l, 0, sizeof l);
	l.message_ttl = limit_pick(arg_int(q->args, "x-message-ttl"), pd->message_ttl,
				   od->message_ttl);
	l.expires = limit_pick(arg_int(q->args, "x-expires"), pd->expires, od->expires);
	l.max_length = limit_pick(arg_int(q->args, "x-max-length"), pd->max_length, od->max_length);
	l.max_length_bytes = limit_pick(arg_int(q->args, "x-max-length-bytes"),
					pd->max_length_bytes, od->max_length_bytes);
	l.delivery_limit = limit_pick(arg_int(q->args, "x-delivery-limit"), pd->delivery_limit,
				      od->delivery_limit);
	l.consumer_timeout = limit_pick(arg_int(q->args, "x-consumer-timeout"),
					pd->consumer_timeout, od->consumer_timeout);
	char *overflow = NULL;
	if (str_pick(q->args, "x-overflow", pd->overflow, &overflow) != 0 ||
	    str_pick(q->args, "x-dead-letter-exchange", pd->dead_letter_exchange, &l.dlx) != 0 ||
	    str_pick(q->args, "x-dead-letter-routing-key", pd->dead_letter_routing_key,
		     &l.dlrk) != 0) {
		free(overflow);
		free(l.dlx);
		free(l.dlrk);
		return -1;
	}
	l.overflow = !overflow ? QUEUE_DROP_HEAD :
		     strcmp(overflow, "reject-publish") == 0 ? QUEUE_REJECT_PUBLISH :
		     strcmp(overflow, "reject-publish-dlx") == 0 ? QUEUE_REJECT_PUBLISH_DLX :
								      QUEUE_DROP_HEAD;
	free(overflow);
	int64_t mp = arg_int(q->args, "x-max-priority");
	l.max_priority = mp > 0 ? (uint8_t)(mp > 255 ? 255 : mp) : 0;
	l.single_active = amqp_table_get(q->args, "x-single-active-consumer", &v) &&
			  v.type == 't' && v.v.b;
	/* Priority levels are fixed at declare: a priority never moves between levels. */
	if (queue_set_levels(q, q->level_count ? q->level_count : l.max_priority + 1u) != 0) {
		free(l.dlx);
		free(l.dlrk);
		return -1;
	}
	free(q->lim.dlx);
	free(q->lim.dlrk);
	q->lim = l;
	queue_touch(q);
	queue_expire(q);
	return 0;
}

void queue_touch(struct queue *q)
{
	if (q->deleted || q->lim.expires < 0 || q->consumer_count > 0) {
		broker_timer_cancel(&q->expires_timer);
		return;
	}
	broker_timer_set(q->broker, &q->expires_timer, time_now_ms() + (uint64_t)q->lim.expires);
}

struct queue *queue_new(struct vhost *v, struct amqp_str name, bool durable, bool exclusive,
			bool auto_delete, struct conn *owner, struct amqp_table args)
{
	struct queue *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	q->vhost = v;
	q->broker = v->broker;
	q->durable = durable;
	q->exclusive = exclusive;
	q->auto_delete = auto_delete;
	q->owner = owner;
	q->refs = 1;
	q->dispatch.fn = queue_on_dispatch;
	q->ttl_timer.fn = queue_on_ttl_timer;
	q->expires_timer.fn = queue_on_expires_timer;
	list_init(&q->consumers);
	list_init(&q->bindings);
	list_init(&q->owner_link);
	uint8_t *n = malloc((size_t)name.len + 1);
	uint8_t *a = malloc((size_t)args.len + 1);
	if (!n || !a)
		goto fail;
	if (name.len)
		memcpy(n, name.ptr, name.len);
	n[name.len] = '\0';
	if (args.len)
		memcpy(a, args.ptr, args.len);
	q->name = (struct amqp_str){ n, name.len };
	q->args = (struct amqp_table){ a, args.len };
	if (queue_apply_policy(q) != 0)
		goto fail;
	if (strmap_put(&v->queues, name.ptr, name.len, q) != 0)
		goto fail;
	if (durable && !exclusive && v->broker->store) {
		q->store_id = store_queue_id(v->name, name.ptr, name.len);
		broker_definitions_dirty(v->broker);
	}
	/* Every queue is bound to the default exchange by its name; that binding is implicit
	 * (routing looks the queue up by name), as RabbitMQ's is. */
	v->broker->stats.queues_declared++;
	return q;
fail:
	broker_timer_free(&q->expires_timer);
	broker_timer_free(&q->ttl_timer);
	free(q->levels);
	free(q->paged);
	free(q->lim.dlx);
	free(q->lim.dlrk);
	free(n);
	free(a);
	free(q);
	return NULL;
}

void queue_ref(struct queue *q)
{
	q->refs++;
}

void queue_unref(struct queue *q)
{
	if (--q->refs > 0)
		return;
	for (unsigned i = 0; i < q->level_count; i++) {
		free(q->levels[i].buf);
		qpage_clear(&q->paged[i]);
	}
	free(q->levels);
	free(q->paged);
	free(q->lim.dlx);
	free(q->lim.dlrk);
	free((void *)q->name.ptr);
	free((void *)q->args.ptr);
	free(q);
}

void queue_schedule_dispatch(struct queue *q)
{
	if (!q->deleted && q->ready_count && q->consumer_count)
		broker_defer(q->broker, &q->dispatch);
}

/* ---- durability ---- */

void queue_unstore(struct queue *q, const struct message *m)
{
	if (!m->store_id || q->broker->recovering)
		return;
	if (m->persistent && q->store_id) {
		store_dequeue(q->broker->store, q->store_id, m->store_id);
		broker_store_touched(q->broker);
	} else if (q->page_qid) {
		store_dequeue(q->broker->store, q->page_qid, m->store_id); /* never logged */
	}
}

/* Writes a persistent message into a durable queue's log: the message record once (however
 * many queues), an enqueue record per queue. false when the store refuses (disk full). */
static bool queue_store(struct queue *q, struct message *m)
{
	struct broker *b = q->broker;
	if (!m->persistent || !q->store_id || b->recovering)
		return true;
	if (!m->store_id) {
		struct store_message sm = {
			m->exchange.ptr, m->exchange.len, m->routing_key.ptr, m->routing_key.len,
			m->props, m->props_len, m->body, m->body_len,
		};
		m->store_id = store_message_add(b->store, &sm);
		if (!m->store_id)
			return false;
	}
	if (store_enqueue(b->store, q->store_id, m->store_id) != 0)
		return false;
	b->store_appends++;
	broker_store_touched(b);
	return true;
}

/* ---- paging ---- */

/* Makes sure the message is on disk and held there for this queue, so the queue may let go
 * of its body. Persistent messages of a durable queue already are (queue_store); others are
 * written as plain records (never fsynced on their own, never recovered) and held under the
 * queue's volatile id. false when the store refuses. */
static bool queue_page_store(struct queue *q, struct message *m)
{
	struct broker *b = q->broker;
	if (!b->store)
		return false;
	if (!m->store_id) {
		struct store_message sm = {
			m->exchange.ptr, m->exchange.len, m->routing_key.ptr, m->routing_key.len,
			m->props, m->props_len, m->body, m->body_len,
		};
		m->store_id = store_message_add(b->store, &sm);
		if (!m->store_id)
			return false;
		broker_store_touched(b);
	}
	if (m->persistent && q->store_id)
		return true;
	if (!q->page_qid)
		q->page_qid = STORE_QUEUE_VOLATILE | ++b->page_qid_seq;
	if (store_enqueue(b->store, q->page_qid, m->store_id) != 0)
		return false;
	q->page_holds = true;
	return true;
}

static struct qpage_entry queue_page_entry(const struct qentry *e)
{
	struct qpage_entry pe = { e->msg->store_id, e->seq, e->expires_at, e->delivery_count,
				  e->redelivered };
	return pe;
}

/* Whether a message pushed at level lvl goes to disk rather than memory. */
static bool queue_should_page(const struct queue *q, unsigned lvl, const struct message *m)
{
	struct broker *b = q->broker;
	if (!b->store || (b->recovering && !m->store_id))
		return false;
	if (q->paged[lvl].count)
		return true; /* behind entries already paged: order */
	bool short_of_memory = broker_short_of_memory(b);
	uint32_t window = short_of_memory ? QUEUE_WINDOW_PRESSURE : QUEUE_WINDOW;
	if (q->levels[lvl].count < window && q->mem_bytes < QUEUE_WINDOW_BYTES)
		return false;
	return m->store_id != 0 || short_of_memory;
}

/* The TTL that decided an entry's deadline: the queue's or the message's, whichever is less. */
static int64_t queue_ttl(const struct queue *q, const struct message *m)
{
	int64_t ttl = q->lim.message_ttl;
	if (m->expiration_ms >= 0 && (ttl < 0 || m->expiration_ms < ttl))
		ttl = m->expiration_ms;
	return ttl;
}

#define QUEUE_PAGE_IN_MAX 256

struct page_in {
	uint64_t ids[QUEUE_PAGE_IN_MAX];
	struct qpage_entry es[QUEUE_PAGE_IN_MAX];
	struct message *msgs[QUEUE_PAGE_IN_MAX];
};

static void queue_page_in_one(void *arg, size_t i, const struct store_message *sm)
{
	struct page_in *pi = arg;
	pi->msgs[i] = sm ? message_from_store(sm, pi->ids[i]) : NULL;
}

/* Reads the next paged entries of a level back into memory (after its loaded ones). A message
 * that cannot be read back (a corrupt record, or no memory) is dropped with a log line. false
 * when nothing could be loaded. */
static bool queue_page_in(struct queue *q, unsigned lvl)
{
	struct qpage_list *pl = &q->paged[lvl];
	struct qdeque *d = &q->levels[lvl];
	struct broker *b = q->broker;
	struct page_in *pi;
	size_t n = 0, want = QUEUE_PAGE_IN_MAX, lost = 0;

	if (!pl->count)
		return false;
	/* about a quarter of QUEUE_WINDOW_BYTES at a time, judging by the queue's average */
	uint64_t avg = q->ready_count ? q->ready_bytes / q->ready_count : 0;
	if (avg && (QUEUE_WINDOW_BYTES / 4) / avg < want)
		want = (size_t)((QUEUE_WINDOW_BYTES / 4) / avg);
	if (broker_short_of_memory(b) && want > QUEUE_WINDOW_PRESSURE / 2)
		want = QUEUE_WINDOW_PRESSURE / 2;
	if (want == 0)
		want = 1;
	while (d->cap < d->count + want)
		if (qdeque_grow(d) != 0)
			return false;
	if (!(pi = malloc(sizeof *pi)))
		return false;
	while (n < want && qpage_pop(pl, &pi->es[n])) {
		pi->ids[n] = pi->es[n].msg_id;
		n++;
	}
	q->paged_count -= n;
	store_message_read_many(b->store, pi->ids, n, queue_page_in_one, pi);
	for (size_t i = 0; i < n; i++) {
		struct message *m = pi->msgs[i];
		const struct qpage_entry *pe = &pi->es[i];
		if (!m) {
			/* its holds go; the log line came from the store (or here: no memory) */
			lost++;
			q->ready_count--;
			if (q->store_id)
				store_dequeue(b->store, q->store_id, pe->msg_id);
			if (q->page_qid)
				store_dequeue(b->store, q->page_qid, pe->msg_id);
			continue;
		}
		struct qentry e = { .msg = m, .seq = pe->seq, .expires_at = pe->expires_at,
				    .delivery_count = pe->delivery_count,
				    .redelivered = pe->redelivered };
		int64_t ttl = queue_ttl(q, m);
		if (e.expires_at && ttl >= 0 && e.expires_at >= (uint64_t)ttl)
			m->publish_time_ms = e.expires_at - (uint64_t)ttl; /* requeues keep the deadline */
		qdeque_push_back(d, &e); /* room reserved above */
		q->mem_count++;
		q->mem_bytes += message_size(m);
	}
	free(pi);
	if (lost) {
		log_error("queue '%s' in vhost '%s': %zu paged messages could not be read back and "
			  "were dropped", (const char *)q->name.ptr, q->vhost->name, lost);
		broker_store_touched(b);
	}
	level_mark(q, lvl);
	return n > lost;
}

uint64_t queue_page_out(struct queue *q)
{
	uint64_t moved = 0;
	if (!q->broker->store || q->broker->recovering || q->deleted)
		return 0;
	for (unsigned l = 0; l < q->level_count; l++) {
		struct qdeque *d = &q->levels[l];
		struct qpage_list front = { 0 };
		size_t first = QUEUE_WINDOW_PRESSURE;
		if (d->count <= first)
			continue;
		/* only a tail of stored entries may go: stop short of the last refusal */
		for (size_t i = first; i < d->count; i++)
			if (!queue_page_store(q, qdeque_at(d, i)->msg))
				first = i + 1;
		for (size_t i = first; i < d->count; i++) {
			struct qpage_entry pe = queue_page_entry(qdeque_at(d, i));
			if (qpage_push(&front, &pe) != 0) {
				qpage_clear(&front);
				first = d->count;
				break;
			}
		}
		for (size_t i = first; i < d->count; i++) {
			struct message *m = qdeque_at(d, i)->msg;
			q->mem_bytes -= message_size(m);
			message_unref(m);
		}
		size_t n = d->count - first;
		d->count = first;
		q->mem_count -= (uint32_t)n;
		q->paged_count += n;
		qpage_prepend(&q->paged[l], &front);
		moved += n;
	}
	return moved;
}

size_t queue_paged_memory(const struct queue *q)
{
	size_t n = 0;
	for (unsigned l = 0; l < q->level_count; l++)
		n += qpage_memory(&q->paged[l]);
	return n;
}

/* ---- expiry ---- */

static uint64_t queue_head_deadline(const struct queue *q)
{
	uint64_t best = 0;
	for (unsigned l = 0; l < q->level_count; l++) {
		const struct qdeque *d = &q->levels[l];
		if (d->count) {
			uint64_t e = qdeque_at(d, 0)->expires_at;
			if (e && (!best || e < best))
				best = e;
		}
	}
	return best;
}

static void queue_arm_ttl(struct queue *q)
{
	uint64_t due = q->deleted ? 0 : queue_head_deadline(q);
	if (!due)
		broker_timer_cancel(&q->ttl_timer);
	else if (due != q->ttl_timer.due_ms)
		broker_timer_set(q->broker, &q->ttl_timer, due);
}

/* Takes the head of a level, reading paged entries back first when none is loaded; the next
 * ones are read back as soon as the last loaded one goes, so the head is always in memory
 * (TTL expiry looks at it). false when nothing could be taken. */
static bool queue_take(struct queue *q, unsigned lvl, struct qentry *out)
{
	struct qdeque *d = &q->levels[lvl];
	if (!d->count && !queue_page_in(q, lvl))
		return false;
	qdeque_pop_front(d, out);
	q->mem_count--;
	q->mem_bytes -= message_size(out->msg);
	q->ready_count--;
	q->ready_bytes -= message_size(out->msg);
	if (!d->count && q->paged[lvl].count)
		queue_page_in(q, lvl);
	level_mark(q, lvl);
	return true;
}

void queue_expire(struct queue *q)
{
	uint64_t now = time_now_ms();
	struct qentry e = { 0 };
	for (unsigned l = 0; l < q->level_count && !q->deleted; l++) {
		struct qdeque *d = &q->levels[l];
		while (d->count && qdeque_at(d, 0)->expires_at && qdeque_at(d, 0)->expires_at <= now) {
			if (!queue_take(q, l, &e))
				break;
			q->broker->stats.expired++;
			queue_dead_letter(q, e.msg, DEADLETTER_EXPIRED);
			queue_unstore(q, e.msg);
			message_unref(e.msg);
		}
	}
	queue_arm_ttl(q);
}

/* ---- push, requeue, pop ---- */

static uint64_t queue_deadline(const struct queue *q, const struct message *m, uint64_t now)
{
	int64_t ttl = q->lim.message_ttl;
	if (m->expiration_ms >= 0 && (ttl < 0 || m->expiration_ms < ttl))
		ttl = m->expiration_ms;
	if (ttl < 0)
		return 0;
	return now + (uint64_t)ttl;
}

static bool queue_over_limit(const struct queue *q, uint32_t extra_count, uint64_t extra_bytes)
{
	return (q->lim.max_length >= 0 && q->ready_count + extra_count > (uint64_t)q->lim.max_length) ||
	       (q->lim.max_length_bytes >= 0 &&
		q->ready_bytes + extra_bytes > (uint64_t)q->lim.max_length_bytes);
}

static bool queue_has_ready_consumer(struct queue *q);

enum queue_push_result queue_push(struct queue *q, struct message *m)
{
	uint64_t now = 0;
	struct qentry e = { .msg = m };

	if (q->lim.message_ttl >= 0 || m->expiration_ms >= 0) {
		now = time_now_ms();
		if (!m->publish_time_ms)
			m->publish_time_ms = now; /* requeues keep this deadline */
		e.expires_at = queue_deadline(q, m, m->publish_time_ms);
		/* TTL 0: only a consumer that can take it right now gets it (RabbitMQ). */
		if (e.expires_at == now && !queue_has_ready_consumer(q)) {
			q->stat_published++;
			q->broker->stats.expired++;
			queue_dead_letter(q, m, DEADLETTER_EXPIRED);
			return QUEUE_PUSHED;
		}
		if (e.expires_at == now)
			e.expires_at = now + 1; /* delivered by this turn's dispatch */
	}
	if (q->lim.overflow != QUEUE_DROP_HEAD && queue_over_limit(q, 1, message_size(m))) {
		if (q->lim.overflow == QUEUE_REJECT_PUBLISH_DLX)
			queue_dead_letter(q, m, DEADLETTER_MAXLEN);
		return QUEUE_REJECTED;
	}
	if (!queue_store(q, m))
		return QUEUE_REJECTED; /* the store refuses writes: the publisher gets a nack */
	if (q->broker->recovering)
		e.redelivered = true; /* it may have been delivered before the restart */
	unsigned lvl = level_of(q, m);
	e.seq = q->next_seq++;
	bool paged = false;
	if (queue_should_page(q, lvl, m)) {
		struct qpage_entry pe;
		paged = queue_page_store(q, m) &&
			(pe = queue_page_entry(&e), qpage_push(&q->paged[lvl], &pe) == 0);
		if (!paged && q->paged[lvl].count) {
			/* cannot queue it in order: the publisher gets a nack, and a restart must
			 * not find it either */
			queue_unstore(q, m);
			return QUEUE_REJECTED;
		}
	}
	if (paged) {
		q->paged_count++;
	} else {
		if (qdeque_push_back(&q->levels[lvl], &e) != 0)
			return QUEUE_PUSH_OOM;
		message_ref(m);
		q->mem_count++;
		q->mem_bytes += message_size(m);
	}
	level_mark(q, lvl);
	q->ready_count++;
	q->ready_bytes += message_size(m);
	q->stat_published++;
	if (q->lim.overflow == QUEUE_DROP_HEAD) {
		struct qentry old = { 0 };
		while (q->ready_count && queue_over_limit(q, 0, 0) && queue_pop(q, &old)) {
			queue_dead_letter(q, old.msg, DEADLETTER_MAXLEN);
			queue_unstore(q, old.msg);
			message_unref(old.msg);
		}
	}
	if (e.expires_at && q->ready_count && !q->ttl_timer.due_ms)
		queue_arm_ttl(q);
	queue_schedule_dispatch(q);
	return QUEUE_PUSHED;
}

/* Puts a ready entry back at its place by seq (requeue, unpop). Consumes the entry's ref; false
 * when out of memory (the message is dropped). */
static bool queue_reinsert(struct queue *q, const struct qentry *e)
{
	struct message *m = e->msg;
	unsigned lvl = level_of(q, m);
	if (qdeque_insert_sorted(&q->levels[lvl], e) != 0) {
		message_unref(m);
		return false;
	}
	q->mem_count++;
	q->mem_bytes += message_size(m);
	level_mark(q, lvl);
	q->ready_count++;
	q->ready_bytes += message_size(m);
	if (e->expires_at)
		queue_arm_ttl(q);
	queue_schedule_dispatch(q);
	return true;
}

void queue_requeue(struct queue *q, struct message *m, uint64_t seq, uint32_t delivery_count)
{
	if (q->deleted) {
		message_unref(m);
		return;
	}
	if (q->lim.delivery_limit >= 0 && delivery_count > (uint64_t)q->lim.delivery_limit) {
		queue_dead_letter(q, m, DEADLETTER_DELIVERY_LIMIT);
		queue_unstore(q, m);
		message_unref(m);
		return;
	}
	/* A requeued message keeps its original expiry; recompute it from its TTLs. */
	struct qentry e = { .msg = m, .seq = seq, .delivery_count = delivery_count,
			    .redelivered = true };
	if (q->lim.message_ttl >= 0 || m->expiration_ms >= 0)
		e.expires_at = queue_deadline(q, m, m->publish_time_ms ? m->publish_time_ms :
									  time_now_ms());
	if (queue_reinsert(q, &e))
		q->stat_redelivered++;
}

void queue_unpop(struct queue *q, const struct qentry *e)
{
	if (q->deleted) {
		message_unref(e->msg);
		return;
	}
	queue_reinsert(q, e);
}

bool queue_pop(struct queue *q, struct qentry *out)
{
	int lvl;
	while ((lvl = level_top(q)) >= 0) {
		if (queue_take(q, (unsigned)lvl, out))
			return true;
		if (q->levels[lvl].count || q->paged[lvl].count)
			return false; /* out of memory paging in */
		/* every paged entry read was lost: look again */
	}
	return false;
}

/* Pops the next message that has not expired, dead-lettering expired ones on the way. */
static bool queue_pop_live(struct queue *q, struct qentry *out)
{
	uint64_t now = 0;
	while (queue_pop(q, out)) {
		if (!out->expires_at)
			return true;
		if (!now)
			now = time_now_ms();
		if (out->expires_at > now)
			return true;
		q->broker->stats.expired++;
		queue_dead_letter(q, out->msg, DEADLETTER_EXPIRED);
		queue_unstore(q, out->msg);
		message_unref(out->msg);
	}
	return false;
}

bool queue_get(struct queue *q, struct qentry *out)
{
	bool got = queue_pop_live(q, out);
	queue_arm_ttl(q);
	queue_touch(q);
	return got;
}

uint32_t queue_purge(struct queue *q)
{
	uint32_t n = 0;
	struct qentry e = { 0 };
	/* paged entries go without being read back */
	for (unsigned l = 0; l < q->level_count; l++) {
		n += (uint32_t)q->paged[l].count;
		q->ready_count -= (uint32_t)q->paged[l].count;
		qpage_clear(&q->paged[l]);
		level_mark(q, l);
	}
	q->paged_count = 0;
	while (queue_pop(q, &e)) {
		message_unref(e.msg);
		n++;
	}
	q->ready_bytes = 0;
	q->mem_bytes = 0;
	if (n && q->store_id && !q->broker->recovering) {
		store_queue_purge(q->broker->store, q->store_id);
		broker_store_touched(q->broker);
	}
	if (q->page_holds && !q->broker->recovering) {
		store_queue_purge(q->broker->store, q->page_qid); /* volatile: index only */
		q->page_holds = false;
	}
	queue_arm_ttl(q);
	return n;
}

void queue_settled(struct queue *q)
{
	if (q->unacked_count)
		q->unacked_count--;
}

uint32_t queue_delete(struct queue *q)
{
	if (q->deleted)
		return 0;
	q->deleted = true;
	broker_cancel_deferred(q->broker, &q->dispatch);
	broker_timer_free(&q->ttl_timer);
	broker_timer_free(&q->expires_timer);
	while (!list_is_empty(&q->consumers)) {
		struct consumer *c = list_entry(q->consumers.next, struct consumer, queue_link);
		c->ops->cancelled(c);
	}
	queue_hook(q)->unbind_all(q);
	list_remove(&q->owner_link);
	uint32_t n = queue_purge(q);
	strmap_del(&q->vhost->queues, q->name.ptr, q->name.len);
	if (q->store_id && !q->broker->recovering) {
		/* Unacked deliveries' messages go too: nothing of a deleted queue comes back. */
		store_queue_purge(q->broker->store, q->store_id);
		broker_store_touched(q->broker);
		broker_definitions_dirty(q->broker);
	}
	q->broker->topology_gen++;
	q->broker->stats.queues_deleted++;
	queue_unref(q);
	return n;
}

void queue_check_auto_delete(struct queue *q)
{
	if (q->auto_delete && q->had_consumer && q->consumer_count == 0 && !q->deleted)
		queue_delete(q);
}

/* ---- consumers ---- */

bool queue_consumer_is_active(const struct queue *q, const struct consumer *c)
{
	return !q->lim.single_active || q->sac_active == c;
}

void queue_consumer_removed(struct queue *q, struct consumer *c)
{
	if (q->sac_active != c)
		return;
	/* The next consumer in registration order takes over. */
	struct consumer *next = NULL;
	struct list *pos;
	list_for_each(pos, &q->consumers)
	{
		struct consumer *o = list_entry(pos, struct consumer, queue_link);
		if (o != c && (!next || o->seq < next->seq))
			next = o;
	}
	q->sac_active = next;
	queue_schedule_dispatch(q);
}

/* Moves c behind the last consumer of its priority: round-robin within a priority. */
static void queue_rotate(struct queue *q, struct consumer *c)
{
	struct list *after = &c->queue_link;
	while (after->next != &q->consumers &&
	       list_entry(after->next, struct consumer, queue_link)->priority == c->priority)
		after = after->next;
	if (after == &c->queue_link)
		return;
	list_remove(&c->queue_link);
	list_insert_before(after->next, &c->queue_link);
}

static struct consumer *queue_pick(struct queue *q)
{
	struct list *pos;
	list_for_each(pos, &q->consumers)
	{
		struct consumer *c = list_entry(pos, struct consumer, queue_link);
		if (consumer_can_take(c))
			return c;
	}
	return NULL;
}

static bool queue_has_ready_consumer(struct queue *q)
{
	return queue_pick(q) != NULL;
}

void queue_dispatch(struct queue *q)
{
	struct qentry e = { 0 };
	struct consumer *c;

	/* Held for the pass: whatever a delivery sets off (a connection failing, its consumers
	 * going, an auto-delete rule) cannot free the queue under this loop. */
	queue_ref(q);
	while (!q->deleted && q->ready_count && (c = queue_pick(q)) != NULL) {
		if (!queue_pop_live(q, &e))
			break;
		bool no_ack = c->no_ack;
		int rc = c->ops->deliver(c, q, &e, e.delivery_count + 1);
		if (no_ack) {
			queue_unstore(q, e.msg);
			message_unref(e.msg);
		}
		if (rc != 0)
			break; /* the connection failed: it takes no more deliveries */
		q->stat_delivered++;
		q->broker->stats.delivered++;
		if (e.redelivered)
			q->broker->stats.redelivered++;
		queue_rotate(q, c);
	}
	queue_arm_ttl(q);
	queue_unref(q);
}
