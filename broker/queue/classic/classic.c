/* broker/queue/classic/classic.c: the classic queue, RabbitMQ's default kind. Ready messages
 * sit in ring buffers ordered by publish sequence, one per priority level (a bitmap finds the
 * highest non-empty level in O(1)); a requeued message goes back to its original position. TTL
 * expiry happens at the heads, driven by one timer per queue. Persistent messages of a durable
 * queue are written to the store (an enqueue record per queue, the message once); beyond a
 * window, ready messages are paged out to disk and read back as the head nears them
 * (queue_page.c). Quorum queues (quorum/) keep their messages the same way, with their own
 * rules on top (classic.h lists what they reuse). */
#include "broker/queue/classic/classic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/core/broker.h"
#include "broker/core/log.h"
#include "broker/core/time.h"
#include "broker/queue/classic/qdeque.h"
#include "broker/queue/classic/queue_page.h"
#include "broker/queue/message.h"
#include "broker/queue/queue.h"
#include "broker/queue/queue_args.h"
#include "broker/queue/queue_type.h"
#include "broker/vhost/vhost.h"
#include "storage/store.h"

/* A queue holds its ready messages in memory up to a window (CLASSIC_WINDOW entries or
 * CLASSIC_WINDOW_BYTES of bodies, CLASSIC_WINDOW_PRESSURE entries while the broker is short
 * of memory); beyond it, messages that are on disk (persistent ones in durable queues), or any
 * message while memory is short, are paged out: the queue keeps a queue_page entry and reads
 * the body back when the message nears the head. Per priority level the loaded entries come
 * first, then the paged ones, in seq order. */
#define CLASSIC_WINDOW 2048
#define CLASSIC_WINDOW_BYTES (8u << 20)
#define CLASSIC_WINDOW_PRESSURE 64

struct classic_queue {
	struct queue *q;
	struct qdeque *levels;    /* one ring per priority level (1 without x-max-priority) */
	struct qpage_list *paged; /* per level: entries whose bodies are on disk only */
	uint16_t level_count;
	uint64_t nonempty[4];     /* bitmap of non-empty levels */
	uint64_t next_seq;
	uint64_t page_qid;        /* volatile store queue id for paged messages; 0 until needed */
	bool page_holds;          /* the store may hold messages under page_qid */
	struct broker_timer ttl_timer; /* earliest head expiry */
	/* set by kinds built on this one (quorum) */
	bool requeue_to_back;     /* a requeued message goes behind the others */
	bool (*dead_letter)(struct queue *q, struct message *m, enum deadletter_reason why);
	void *ext; /* the state of the kind built on this one */
};

static inline struct classic_queue *classic_of(const struct queue *q)
{
	return q->priv;
}

/* Dead-letters m (borrowed) through the kind's hook when it has one (quorum's at-least-once
 * keeps what no queue took), else straight to the dead-letter exchange. */
static void classic_dead_letter(struct queue *q, struct message *m, enum deadletter_reason why)
{
	struct classic_queue *cq = q->priv;
	if (cq->dead_letter)
		cq->dead_letter(q, m, why);
	else
		queue_dead_letter(q, m, why);
}

/* ---- priority levels ---- */

static void classic_level_mark(struct queue *q, unsigned lvl)
{
	struct classic_queue *cq = classic_of(q);
	if (cq->levels[lvl].count || cq->paged[lvl].count)
		cq->nonempty[lvl / 64] |= 1ULL << (lvl % 64);
	else
		cq->nonempty[lvl / 64] &= ~(1ULL << (lvl % 64));
}

/* Highest non-empty level, or -1. */
static int classic_level_top(const struct queue *q)
{
	const struct classic_queue *cq = classic_of(q);
	for (int w = 3; w >= 0; w--)
		if (cq->nonempty[w])
			return w * 64 + 63 - __builtin_clzll(cq->nonempty[w]);
	return -1;
}

static unsigned classic_level_of(const struct queue *q, const struct message *m)
{
	const struct classic_queue *cq = classic_of(q);
	return m->priority < cq->level_count ? m->priority : cq->level_count - 1u;
}

static int classic_set_levels(struct queue *q, unsigned count)
{
	struct classic_queue *cq = classic_of(q);
	if (count <= cq->level_count)
		return 0;
	struct qdeque *lv = realloc(cq->levels, count * sizeof *lv);
	if (!lv)
		return -1;
	memset(lv + cq->level_count, 0, (count - cq->level_count) * sizeof *lv);
	cq->levels = lv;
	struct qpage_list *pg = realloc(cq->paged, count * sizeof *pg);
	if (!pg)
		return -1; /* level_count stays: the next call retries */
	memset(pg + cq->level_count, 0, (count - cq->level_count) * sizeof *pg);
	cq->paged = pg;
	cq->level_count = (uint16_t)count;
	return 0;
}

/* ---- durability ---- */

static void classic_unstore(struct queue *q, const struct message *m)
{
	struct classic_queue *cq = classic_of(q);
	if (!m->store_id || q->broker->recovering)
		return;
	if (m->persistent && q->store_id) {
		store_dequeue(q->broker->store, q->store_id, m->store_id);
		broker_store_touched(q->broker);
	} else if (cq->page_qid) {
		store_dequeue(q->broker->store, cq->page_qid, m->store_id); /* never logged */
	}
}

/* Writes a persistent message into a durable queue's log: the message record once (however
 * many queues), an enqueue record per queue. false when the store refuses (disk full). */
static bool classic_store(struct queue *q, struct message *m)
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
 * of its body. Persistent messages of a durable queue already are (classic_store); others are
 * written as plain records (never fsynced on their own, never recovered) and held under the
 * queue's volatile id. false when the store refuses. */
static bool classic_page_store(struct queue *q, struct message *m)
{
	struct classic_queue *cq = classic_of(q);
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
	if (!cq->page_qid)
		cq->page_qid = STORE_QUEUE_VOLATILE | ++b->page_qid_seq;
	if (store_enqueue(b->store, cq->page_qid, m->store_id) != 0)
		return false;
	cq->page_holds = true;
	return true;
}

static struct qpage_entry classic_page_entry(const struct qentry *e)
{
	struct qpage_entry pe = { e->msg->store_id, e->seq, e->expires_at, e->delivery_count,
				  e->redelivered };
	return pe;
}

/* Whether a message pushed at level lvl goes to disk rather than memory. */
static bool classic_should_page(const struct queue *q, unsigned lvl, const struct message *m)
{
	const struct classic_queue *cq = classic_of(q);
	struct broker *b = q->broker;
	if (!b->store || (b->recovering && !m->store_id))
		return false;
	if (cq->paged[lvl].count)
		return true; /* behind entries already paged: order */
	bool short_of_memory = broker_short_of_memory(b);
	uint32_t window = short_of_memory ? CLASSIC_WINDOW_PRESSURE : CLASSIC_WINDOW;
	if (cq->levels[lvl].count < window && q->mem_bytes < CLASSIC_WINDOW_BYTES)
		return false;
	return m->store_id != 0 || short_of_memory;
}

/* The TTL that decided an entry's deadline: the queue's or the message's, whichever is less. */
static int64_t classic_ttl(const struct queue *q, const struct message *m)
{
	int64_t ttl = q->lim.message_ttl;
	if (m->expiration_ms >= 0 && (ttl < 0 || m->expiration_ms < ttl))
		ttl = m->expiration_ms;
	return ttl;
}

#define CLASSIC_PAGE_IN_MAX 256

struct page_in {
	struct broker *broker;
	uint64_t ids[CLASSIC_PAGE_IN_MAX];
	struct qpage_entry es[CLASSIC_PAGE_IN_MAX];
	struct message *msgs[CLASSIC_PAGE_IN_MAX];
};

static void classic_page_in_one(void *arg, size_t i, const struct store_message *sm)
{
	struct page_in *pi = arg;
	pi->msgs[i] = sm ? message_from_store(pi->broker, sm, pi->ids[i]) : NULL;
}

/* Reads the next paged entries of a level back into memory (after its loaded ones). A message
 * that cannot be read back (a corrupt record, or no memory) is dropped with a log line. false
 * when nothing could be loaded. */
static bool classic_page_in(struct queue *q, unsigned lvl)
{
	struct classic_queue *cq = classic_of(q);
	struct qpage_list *pl = &cq->paged[lvl];
	struct qdeque *d = &cq->levels[lvl];
	struct broker *b = q->broker;
	struct page_in *pi;
	size_t n = 0, want = CLASSIC_PAGE_IN_MAX, lost = 0;

	if (!pl->count)
		return false;
	/* about a quarter of CLASSIC_WINDOW_BYTES at a time, judging by the queue's average */
	uint64_t avg = q->ready_count ? q->ready_bytes / q->ready_count : 0;
	if (avg && (CLASSIC_WINDOW_BYTES / 4) / avg < want)
		want = (size_t)((CLASSIC_WINDOW_BYTES / 4) / avg);
	if (broker_short_of_memory(b) && want > CLASSIC_WINDOW_PRESSURE / 2)
		want = CLASSIC_WINDOW_PRESSURE / 2;
	if (want == 0)
		want = 1;
	while (d->cap < d->count + want)
		if (qdeque_grow(d) != 0)
			return false;
	if (!(pi = malloc(sizeof *pi)))
		return false;
	pi->broker = b;
	while (n < want && qpage_pop(pl, &pi->es[n])) {
		pi->ids[n] = pi->es[n].msg_id;
		n++;
	}
	q->paged_count -= n;
	store_message_read_many(b->store, pi->ids, n, classic_page_in_one, pi);
	for (size_t i = 0; i < n; i++) {
		struct message *m = pi->msgs[i];
		const struct qpage_entry *pe = &pi->es[i];
		if (!m) {
			/* its holds go; the log line came from the store (or here: no memory) */
			lost++;
			q->ready_count--;
			if (q->store_id)
				store_dequeue(b->store, q->store_id, pe->msg_id);
			if (cq->page_qid)
				store_dequeue(b->store, cq->page_qid, pe->msg_id);
			continue;
		}
		struct qentry e = { .msg = m, .seq = pe->seq, .expires_at = pe->expires_at,
				    .delivery_count = pe->delivery_count,
				    .redelivered = pe->redelivered };
		int64_t ttl = classic_ttl(q, m);
		if (e.expires_at && ttl >= 0 && e.expires_at >= (uint64_t)ttl)
			m->publish_time_ms = e.expires_at - (uint64_t)ttl; /* requeues keep the deadline */
		qdeque_push_back(d, &e); /* room reserved above */
		q->mem_count++;
		q->mem_bytes += message_size(m);
	}
	free(pi);
	if (lost) {
		log_error(q->broker->log, "queue '%s' in vhost '%s': %zu paged messages could not be read back and "
			  "were dropped", (const char *)q->name.ptr, q->vhost->name, lost);
		broker_store_touched(b);
	}
	classic_level_mark(q, lvl);
	return n > lost;
}

uint64_t classic_page_out(struct queue *q)
{
	struct classic_queue *cq = classic_of(q);
	uint64_t moved = 0;
	if (!q->broker->store || q->broker->recovering || q->deleted)
		return 0;
	for (unsigned l = 0; l < cq->level_count; l++) {
		struct qdeque *d = &cq->levels[l];
		struct qpage_list front = { 0 };
		size_t first = CLASSIC_WINDOW_PRESSURE;
		if (d->count <= first)
			continue;
		/* only a tail of stored entries may go: stop short of the last refusal */
		for (size_t i = first; i < d->count; i++)
			if (!classic_page_store(q, qdeque_at(d, i)->msg))
				first = i + 1;
		for (size_t i = first; i < d->count; i++) {
			struct qpage_entry pe = classic_page_entry(qdeque_at(d, i));
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
		qpage_prepend(&cq->paged[l], &front);
		moved += n;
	}
	return moved;
}

size_t classic_paged_memory(const struct queue *q)
{
	const struct classic_queue *cq = classic_of(q);
	size_t n = 0;
	for (unsigned l = 0; l < cq->level_count; l++)
		n += qpage_memory(&cq->paged[l]);
	return n;
}

/* ---- expiry ---- */

static uint64_t classic_head_deadline(const struct queue *q)
{
	const struct classic_queue *cq = classic_of(q);
	uint64_t best = 0;
	for (unsigned l = 0; l < cq->level_count; l++) {
		const struct qdeque *d = &cq->levels[l];
		if (d->count) {
			uint64_t e = qdeque_at(d, 0)->expires_at;
			if (e && (!best || e < best))
				best = e;
		}
	}
	return best;
}

void classic_arm_ttl(struct queue *q)
{
	struct classic_queue *cq = classic_of(q);
	uint64_t due = q->deleted ? 0 : classic_head_deadline(q);
	if (!due)
		broker_timer_cancel(&cq->ttl_timer);
	else if (due != cq->ttl_timer.due_ms)
		broker_timer_set(q->broker, &cq->ttl_timer, due);
}

/* Takes the head of a level, reading paged entries back first when none is loaded; the next
 * ones are read back as soon as the last loaded one goes, so the head is always in memory
 * (TTL expiry looks at it). false when nothing could be taken. */
static bool classic_take_level(struct queue *q, unsigned lvl, struct qentry *out)
{
	struct classic_queue *cq = classic_of(q);
	struct qdeque *d = &cq->levels[lvl];
	if (!d->count && !classic_page_in(q, lvl))
		return false;
	qdeque_pop_front(d, out);
	q->mem_count--;
	q->mem_bytes -= message_size(out->msg);
	q->ready_count--;
	q->ready_bytes -= message_size(out->msg);
	if (!d->count && cq->paged[lvl].count)
		classic_page_in(q, lvl);
	classic_level_mark(q, lvl);
	return true;
}

void classic_expire(struct queue *q)
{
	struct classic_queue *cq = classic_of(q);
	uint64_t now = time_now_ms();
	struct qentry e = { 0 };
	for (unsigned l = 0; l < cq->level_count && !q->deleted; l++) {
		struct qdeque *d = &cq->levels[l];
		while (d->count && qdeque_at(d, 0)->expires_at && qdeque_at(d, 0)->expires_at <= now) {
			if (!classic_take_level(q, l, &e))
				break;
			q->broker->stats.expired++;
			classic_dead_letter(q, e.msg, DEADLETTER_EXPIRED);
			classic_unstore(q, e.msg);
			message_unref(e.msg);
		}
	}
	classic_arm_ttl(q);
}

/* ---- push, requeue, pop ---- */

static uint64_t classic_deadline(const struct queue *q, const struct message *m, uint64_t now)
{
	int64_t ttl = q->lim.message_ttl;
	if (m->expiration_ms >= 0 && (ttl < 0 || m->expiration_ms < ttl))
		ttl = m->expiration_ms;
	if (ttl < 0)
		return 0;
	return now + (uint64_t)ttl;
}

static bool classic_over_limit(const struct queue *q, uint32_t extra_count, uint64_t extra_bytes)
{
	return (q->lim.max_length >= 0 && q->ready_count + extra_count > (uint64_t)q->lim.max_length) ||
	       (q->lim.max_length_bytes >= 0 &&
		q->ready_bytes + extra_bytes > (uint64_t)q->lim.max_length_bytes);
}

static bool classic_pop(struct queue *q, struct qentry *out);

/* drop-head: while the ready messages are over a length limit, the head goes, dead-lettered
 * as maxlen. Runs after a publish and after a requeue, as RabbitMQ's maybe_drop_head does
 * (deliver_or_enqueue, requeue_and_run). */
static void classic_drop_heads(struct queue *q)
{
	struct qentry old = { 0 };
	while (q->ready_count && classic_over_limit(q, 0, 0) && classic_pop(q, &old)) {
		classic_dead_letter(q, old.msg, DEADLETTER_MAXLEN);
		classic_unstore(q, old.msg);
		message_unref(old.msg);
	}
}

/* A length limit is about to decide: consumers that can take messages now get what is ready
 * first. RabbitMQ hands each publish to a waiting consumer before its limit applies
 * (rabbit_amqqueue_process:deliver_or_enqueue), so the limit bounds only what waits. Dispatch
 * here runs once per loop turn; without this, a burst within one turn was dropped or refused
 * while a consumer had room for it. */
static void classic_offer(struct queue *q)
{
	if (queue_has_ready_consumer(q))
		queue_dispatch(q);
}

enum queue_push_result classic_push_as(struct queue *q, struct message *m,
				       enum classic_overflow mode)
{
	struct classic_queue *cq = classic_of(q);
	uint64_t now = 0;
	struct qentry e = { .msg = m };

	if (q->lim.message_ttl >= 0 || m->expiration_ms >= 0) {
		now = time_now_ms();
		if (!m->publish_time_ms)
			m->publish_time_ms = now; /* requeues keep this deadline */
		e.expires_at = classic_deadline(q, m, m->publish_time_ms);
		/* TTL 0: only a consumer that can take it right now gets it (RabbitMQ). */
		if (e.expires_at == now && !queue_has_ready_consumer(q)) {
			q->stat_published++;
			q->broker->stats.expired++;
			classic_dead_letter(q, m, DEADLETTER_EXPIRED);
			return QUEUE_PUSHED;
		}
		if (e.expires_at == now)
			e.expires_at = now + 1; /* delivered by this turn's dispatch */
	}
	bool refuses = mode == CLASSIC_OVERFLOW_REJECT || mode == CLASSIC_OVERFLOW_REJECT_DLX;
	if (refuses && classic_over_limit(q, 1, message_size(m)))
		classic_offer(q);
	if (refuses && classic_over_limit(q, 1, message_size(m))) {
		if (mode == CLASSIC_OVERFLOW_REJECT_DLX)
			classic_dead_letter(q, m, DEADLETTER_MAXLEN);
		return QUEUE_REJECTED;
	}
	if (!classic_store(q, m))
		return QUEUE_REJECTED; /* the store refuses writes: the publisher gets a nack */
	if (q->broker->recovering)
		e.redelivered = true; /* it may have been delivered before the restart */
	unsigned lvl = classic_level_of(q, m);
	e.seq = cq->next_seq++;
	bool paged = false;
	if (classic_should_page(q, lvl, m)) {
		struct qpage_entry pe;
		paged = classic_page_store(q, m) &&
			(pe = classic_page_entry(&e), qpage_push(&cq->paged[lvl], &pe) == 0);
		if (!paged && cq->paged[lvl].count) {
			/* cannot queue it in order: the publisher gets a nack, and a restart must
			 * not find it either */
			classic_unstore(q, m);
			return QUEUE_REJECTED;
		}
	}
	if (paged) {
		q->paged_count++;
	} else {
		if (qdeque_push_back(&cq->levels[lvl], &e) != 0)
			return QUEUE_PUSH_OOM;
		message_ref(m);
		q->mem_count++;
		q->mem_bytes += message_size(m);
	}
	classic_level_mark(q, lvl);
	q->ready_count++;
	q->ready_bytes += message_size(m);
	q->stat_published++;
	if (mode == CLASSIC_OVERFLOW_DROP_HEAD && classic_over_limit(q, 0, 0)) {
		classic_offer(q);
		classic_drop_heads(q);
	}
	if (e.expires_at && q->ready_count && !cq->ttl_timer.due_ms)
		classic_arm_ttl(q);
	queue_schedule_dispatch(q);
	return QUEUE_PUSHED;
}

/* What x-overflow means for a classic queue. */
static enum classic_overflow classic_overflow_of(const struct queue *q)
{
	if (q->lim.overflow == QUEUE_REJECT_PUBLISH)
		return CLASSIC_OVERFLOW_REJECT;
	if (q->lim.overflow == QUEUE_REJECT_PUBLISH_DLX)
		return CLASSIC_OVERFLOW_REJECT_DLX;
	return CLASSIC_OVERFLOW_DROP_HEAD;
}

static enum queue_push_result classic_push(struct queue *q, struct message *m)
{
	return classic_push_as(q, m, classic_overflow_of(q));
}

bool classic_over_max(const struct queue *q)
{
	return classic_over_limit(q, 0, 0);
}

/* Puts a ready entry back at its place by seq (requeue, unpop). Consumes the entry's ref; false
 * when out of memory (the message is dropped). */
static bool classic_reinsert(struct queue *q, const struct qentry *e)
{
	struct classic_queue *cq = classic_of(q);
	struct message *m = e->msg;
	unsigned lvl = classic_level_of(q, m);
	if (qdeque_insert_sorted(&cq->levels[lvl], e) != 0) {
		message_unref(m);
		return false;
	}
	q->mem_count++;
	q->mem_bytes += message_size(m);
	classic_level_mark(q, lvl);
	q->ready_count++;
	q->ready_bytes += message_size(m);
	if (e->expires_at)
		classic_arm_ttl(q);
	queue_schedule_dispatch(q);
	return true;
}

static void classic_requeue(struct queue *q, struct message *m, uint64_t seq, uint32_t delivery_count)
{
	if (q->deleted) {
		message_unref(m);
		return;
	}
	if (q->lim.delivery_limit >= 0 && delivery_count > (uint64_t)q->lim.delivery_limit) {
		classic_dead_letter(q, m, DEADLETTER_DELIVERY_LIMIT);
		classic_unstore(q, m);
		message_unref(m);
		return;
	}
	/* A requeued message keeps its original expiry; recompute it from its TTLs. */
	struct classic_queue *cq = classic_of(q);
	struct qentry e = { .msg = m, .seq = seq, .delivery_count = delivery_count,
			    .redelivered = true };
	if (cq->requeue_to_back) {
		/* behind everything ready: paged entries included, so it pages too if they
		 * exist (they come first) */
		unsigned lvl = classic_level_of(q, m);
		e.seq = cq->next_seq++;
		if (cq->paged[lvl].count) {
			struct qpage_entry pe;
			if (classic_page_store(q, m) &&
			    (pe = classic_page_entry(&e), qpage_push(&cq->paged[lvl], &pe) == 0)) {
				message_unref(m);
				q->paged_count++;
				q->ready_count++;
				q->ready_bytes += message_size(m);
				classic_level_mark(q, lvl);
				q->stat_redelivered++;
				queue_schedule_dispatch(q);
				return;
			}
		}
	}
	if (q->lim.message_ttl >= 0 || m->expiration_ms >= 0)
		e.expires_at = classic_deadline(q, m, m->publish_time_ms ? m->publish_time_ms :
									  time_now_ms());
	if (classic_reinsert(q, &e))
		q->stat_redelivered++;
}

void classic_untake(struct queue *q, const struct qentry *e)
{
	if (q->deleted) {
		message_unref(e->msg);
		return;
	}
	classic_reinsert(q, e);
}

static bool classic_pop(struct queue *q, struct qentry *out)
{
	struct classic_queue *cq = classic_of(q);
	int lvl;
	while ((lvl = classic_level_top(q)) >= 0) {
		if (classic_take_level(q, (unsigned)lvl, out))
			return true;
		if (cq->levels[lvl].count || cq->paged[lvl].count)
			return false; /* out of memory paging in */
		/* every paged entry read was lost: look again */
	}
	return false;
}

/* Pops the next message that has not expired, dead-lettering expired ones on the way. */
static bool classic_pop_live(struct queue *q, struct qentry *out)
{
	uint64_t now = 0;
	while (classic_pop(q, out)) {
		if (!out->expires_at)
			return true;
		if (!now)
			now = time_now_ms();
		if (out->expires_at > now)
			return true;
		q->broker->stats.expired++;
		classic_dead_letter(q, out->msg, DEADLETTER_EXPIRED);
		classic_unstore(q, out->msg);
		message_unref(out->msg);
	}
	return false;
}


/* Drops the ready messages; returns how many. whole: nothing of the queue is out with a
 * consumer, so the store may forget all it holds for the queue in one purge record. Otherwise
 * unacked deliveries keep their stored copies (a restart gives them back, as RabbitMQ's does,
 * and a requeue puts them back on disk too): each ready message is dequeued on its own. */
static uint32_t classic_clear(struct queue *q, bool whole)
{
	struct classic_queue *cq = classic_of(q);
	struct broker *b = q->broker;
	uint32_t n = 0;
	struct qentry e = { 0 };
	struct qpage_entry pe;
	/* paged entries go without being read back */
	for (unsigned l = 0; l < cq->level_count; l++) {
		if (whole) {
			n += (uint32_t)cq->paged[l].count;
			q->ready_count -= (uint32_t)cq->paged[l].count;
			qpage_clear(&cq->paged[l]);
		}
		while (!whole && qpage_pop(&cq->paged[l], &pe)) {
			/* held under the queue's id or its volatile one, as in page-in's failure path */
			if (q->store_id && !b->recovering)
				store_dequeue(b->store, q->store_id, pe.msg_id);
			if (cq->page_qid && !b->recovering)
				store_dequeue(b->store, cq->page_qid, pe.msg_id);
			n++;
			q->ready_count--;
		}
		classic_level_mark(q, l);
	}
	q->paged_count = 0;
	while (classic_pop(q, &e)) {
		if (!whole)
			classic_unstore(q, e.msg);
		message_unref(e.msg);
		n++;
	}
	q->ready_bytes = 0;
	q->mem_bytes = 0;
	if (n && q->store_id && !b->recovering) {
		if (whole)
			store_queue_purge(b->store, q->store_id);
		broker_store_touched(b);
	}
	if (whole && cq->page_holds && !b->recovering) {
		store_queue_purge(b->store, cq->page_qid); /* volatile: index only */
		cq->page_holds = false;
	}
	classic_arm_ttl(q);
	return n;
}

uint32_t classic_purge(struct queue *q)
{
	return classic_clear(q, q->unacked_count == 0);
}


/* ---- the queue_type interface ---- */

static void classic_on_ttl_timer(struct broker_timer *t)
{
	struct classic_queue *cq =
		(struct classic_queue *)((char *)t - offsetof(struct classic_queue, ttl_timer));
	classic_expire(cq->q);
}

void classic_configure(struct queue *q, bool requeue_to_back,
		       bool (*dead_letter)(struct queue *q, struct message *m,
					   enum deadletter_reason why),
		       void *ext)
{
	struct classic_queue *cq = classic_of(q);
	cq->requeue_to_back = requeue_to_back;
	cq->dead_letter = dead_letter;
	cq->ext = ext;
}

void *classic_ext(const struct queue *q)
{
	return q->priv ? classic_of(q)->ext : NULL;
}

int classic_init(struct queue *q)
{
	struct classic_queue *cq = calloc(1, sizeof *cq);
	if (!cq)
		return -1;
	cq->q = q;
	cq->ttl_timer.fn = classic_on_ttl_timer;
	q->priv = cq;
	return 0;
}

void classic_destroy(struct queue *q)
{
	struct classic_queue *cq = classic_of(q);
	if (!cq)
		return;
	broker_timer_free(&cq->ttl_timer);
	for (unsigned i = 0; i < cq->level_count; i++) {
		free(cq->levels[i].buf);
		qpage_clear(&cq->paged[i]);
	}
	free(cq->levels);
	free(cq->paged);
	free(cq);
	q->priv = NULL;
}

int classic_apply(struct queue *q, const struct queue_limits *l)
{
	struct classic_queue *cq = classic_of(q);
	/* Priority levels are fixed at declare: a priority never moves between levels. */
	return classic_set_levels(q, cq->level_count ? cq->level_count : l->max_priority + 1u);
}

bool classic_take(struct queue *q, struct consumer *c, struct qentry *out)
{
	(void)c; /* every consumer takes from the same heads */
	return classic_pop_live(q, out);
}

void classic_settle(struct queue *q, struct message *m, uint64_t seq, uint32_t delivery_count,
		    enum queue_settle how)
{
	switch (how) {
	case QUEUE_SETTLE_REQUEUE:
		classic_requeue(q, m, seq, delivery_count);
		if (classic_overflow_of(q) == CLASSIC_OVERFLOW_DROP_HEAD)
			classic_drop_heads(q);
		return;
	case QUEUE_SETTLE_REJECT:
		classic_dead_letter(q, m, DEADLETTER_REJECTED);
		break;
	case QUEUE_SETTLE_ACK:
		break;
	}
	classic_unstore(q, m);
	message_unref(m);
}

uint32_t classic_drop(struct queue *q)
{
	struct classic_queue *cq = classic_of(q);
	broker_timer_free(&cq->ttl_timer);
	uint32_t n = classic_clear(q, true);
	if (q->store_id && !q->broker->recovering) {
		/* Unacked deliveries' messages go too: nothing of a deleted queue comes back. */
		store_queue_purge(q->broker->store, q->store_id);
		broker_store_touched(q->broker);
	}
	return n;
}

/* queue_args_validate's checks are the classic rules, less the arguments of other kinds
 * (x-delivery-limit is Warren's on classic queues too). */
static int classic_validate(const struct queue_declare *d, char *err, size_t errlen)
{
	static const char *const refused[] = { "x-dead-letter-strategy", "x-max-age",
					       "x-stream-max-segment-size-bytes" };
	return queue_args_refuse(d, refused, sizeof refused / sizeof refused[0],
				 "rabbit_classic_queue", err, errlen);
}

const struct queue_type queue_type_classic = {
	.name = "classic",
	.validate = classic_validate,
	.init = classic_init,
	.destroy = classic_destroy,
	.apply = classic_apply,
	.push = classic_push,
	.take = classic_take,
	.taken = classic_arm_ttl,
	.untake = classic_untake,
	.settle = classic_settle,
	.purge = classic_purge,
	.drop = classic_drop,
	.expire = classic_expire,
	.page_out = classic_page_out,
	.memory = classic_paged_memory,
};
