/* broker/queue/queue.c: what every queue has, whatever its kind: its name, arguments and
 * effective settings (arguments, policy, operator policy), consumers (priorities, single active
 * consumer, round-robin), x-expires, deletion and the auto-delete rule, the dispatch loop, and
 * publisher flow control. Dispatch after publishes is a deferred task, so a batch of publishes
 * in one loop turn costs one pass; dispatch after an ack runs at once (queue_credit). How
 * messages are kept, handed out and settled is the kind's (queue_type.h): the functions below
 * that touch messages pass through to it. */
#include "broker/queue/queue.h"

#include <stdlib.h>
#include <string.h>

#include "broker/core/config.h"
#include "broker/core/event.h"
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

static void queue_on_flow_timer(struct broker_timer *t);

static void queue_on_expires_timer(struct broker_timer *t)
{
	struct queue *q = (struct queue *)((char *)t - offsetof(struct queue, expires_timer));
	if (!q->deleted && q->consumer_count == 0)
		queue_delete(q);
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
						 NULL, NULL, -1 };
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
	if (q->type->apply(q, &l) != 0) {
		free(l.dlx);
		free(l.dlrk);
		return -1;
	}
	free(q->lim.dlx);
	free(q->lim.dlrk);
	q->lim = l;
	queue_touch(q);
	q->type->expire(q);
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
	const struct queue_type *type = queue_type_of(args, v->default_queue_type);
	struct queue *q = type ? calloc(1, sizeof *q) : NULL;
	if (!q)
		return NULL;
	q->type = type;
	q->vhost = v;
	q->broker = v->broker;
	q->durable = durable;
	q->exclusive = exclusive;
	q->auto_delete = auto_delete;
	q->owner = owner;
	q->refs = 1;
	q->dispatch.fn = queue_on_dispatch;
	q->expires_timer.fn = queue_on_expires_timer;
	q->flow_timer.fn = queue_on_flow_timer;
	list_init(&q->flow_waiters);
	list_init(&q->consumers);
	list_init(&q->bindings);
	list_init(&q->owner_link);
	struct amqp_str args_bytes;
	if (amqp_str_dup(&q->name, name) != 0 ||
	    amqp_str_dup(&args_bytes, (struct amqp_str){ args.ptr, args.len }) != 0)
		goto fail;
	q->args = (struct amqp_table){ args_bytes.ptr, args_bytes.len };
	if (type->init(q) != 0 || queue_apply_policy(q) != 0 || queue_dedup_init(q) != 0)
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
	EVENT_EMIT(v->broker, "queue.created", EV_ASTR("name", q->name), EV_CSTR("vhost", v->name),
		   EV_BOOL("durable", durable), EV_BOOL("auto_delete", auto_delete),
		   EV_BOOL("exclusive", exclusive), EV_TERMS("arguments", q->args),
		   EV_CSTR("owner_pid", ""), EV_ACTOR());
	return q;
fail:
	broker_timer_free(&q->expires_timer);
	broker_timer_free(&q->flow_timer);
	queue_dedup_free(q);
	type->destroy(q);
	free(q->lim.dlx);
	free(q->lim.dlrk);
	amqp_str_free(&q->name);
	free((void *)q->args.ptr);
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
	queue_dedup_free(q);
	q->type->destroy(q);
	free(q->lim.dlx);
	free(q->lim.dlrk);
	amqp_str_free(&q->name);
	free((void *)q->args.ptr);
	free(q);
}

/* ---- publisher flow control ---- */

/* How long publishers may wait for consumers that take nothing at all. */
#define QUEUE_FLOW_STALL_MS 1000

static void queue_flow_resume_all(struct queue *q)
{
	while (!list_is_empty(&q->flow_waiters)) {
		struct queue_flow_wait *w =
			list_entry(q->flow_waiters.next, struct queue_flow_wait, link);
		list_remove(&w->link);
		list_init(&w->link);
		w->q = NULL;
		w->resume(w);
	}
	broker_timer_cancel(&q->flow_timer);
}

bool queue_flow_wanted(struct queue *q)
{
	uint32_t limit = q->broker->cfg->queue_flow_threshold;
	/* A kind that dispatches by itself (queue_type.h: dispatch) does not hand each message to
	 * one consumer, so its ready messages are not a backlog its consumers drain (a stream
	 * keeps what was read): growth there says nothing about publishers outrunning anyone. */
	if (!limit || q->consumer_count == 0 || q->flow_stalled || q->deleted || q->type->dispatch) {
		/* nobody drains it: growth from here on is not a publisher outrunning them */
		q->flow_base = q->ready_count;
		return false;
	}
	if (q->ready_count < q->flow_base)
		q->flow_base = q->ready_count;
	return q->ready_count - q->flow_base > limit;
}

/* After messages left (a dispatch, a purge, a consumer gone): lets the waiting publishers go
 * once the growth is back under half the threshold, or nobody drains the queue any more. */
static void queue_flow_drained(struct queue *q)
{
	if (q->ready_count < q->flow_base)
		q->flow_base = q->ready_count;
	if (list_is_empty(&q->flow_waiters))
		return;
	uint32_t limit = q->broker->cfg->queue_flow_threshold;
	if (!limit || q->consumer_count == 0 || q->ready_count - q->flow_base <= limit / 2)
		queue_flow_resume_all(q);
}

/* Once a second while publishers wait: consumers that took nothing since the last look are
 * stuck (prefetch full and no acks coming, or clients not reading); the publishers go, and
 * the queue asks for no flow until a consumer takes a message again. */
static void queue_on_flow_timer(struct broker_timer *t)
{
	struct queue *q = (struct queue *)((char *)t - offsetof(struct queue, flow_timer));
	if (list_is_empty(&q->flow_waiters))
		return;
	if (q->stat_delivered == q->flow_delivered_mark) {
		log_debug(q->broker->log,
			  "queue '%s' in vhost '%s': consumers took nothing for %u ms; its "
			  "publishers go on", (const char *)q->name.ptr, q->vhost->name,
			  (unsigned)QUEUE_FLOW_STALL_MS);
		q->flow_stalled = true;
		queue_flow_resume_all(q);
		return;
	}
	q->flow_delivered_mark = q->stat_delivered;
	if (broker_timer_set(q->broker, &q->flow_timer, time_now_ms() + QUEUE_FLOW_STALL_MS) != 0)
		queue_flow_resume_all(q); /* out of memory: nothing would wake them */
}

void queue_flow_wait(struct queue *q, struct queue_flow_wait *w)
{
	w->q = q;
	list_append(&q->flow_waiters, &w->link);
	if (q->flow_timer.due_ms)
		return;
	q->flow_delivered_mark = q->stat_delivered;
	if (broker_timer_set(q->broker, &q->flow_timer, time_now_ms() + QUEUE_FLOW_STALL_MS) != 0)
		queue_flow_resume_all(q); /* out of memory: nothing would wake it */
}

void queue_flow_cancel(struct queue_flow_wait *w)
{
	struct queue *q = w->q;
	if (!q)
		return;
	list_remove(&w->link);
	list_init(&w->link);
	w->q = NULL;
	if (list_is_empty(&q->flow_waiters))
		broker_timer_cancel(&q->flow_timer);
}

/* ---- dispatch ---- */

void queue_schedule_dispatch(struct queue *q)
{
	if (!q->deleted && q->ready_count && q->consumer_count)
		broker_defer(q->broker, &q->dispatch);
}

/* ---- messages: the kind's ---- */

enum queue_push_result queue_push(struct queue *q, struct message *m)
{
	if (q->dedup)
		return queue_dedup_push(q, m);
	return q->type->push(q, m);
}

bool queue_get(struct queue *q, struct qentry *out)
{
	bool got = q->type->take(q, NULL, out);
	q->type->taken(q);
	queue_touch(q);
	return got;
}

void queue_untake(struct queue *q, const struct qentry *e)
{
	if (q->deleted) {
		message_unref(e->msg);
		return;
	}
	q->type->untake(q, e);
}

void queue_settle(struct queue *q, struct message *m, uint64_t seq, uint32_t delivery_count,
		  enum queue_settle how)
{
	/* A deleted queue takes nothing back and dead-letters nothing: in RabbitMQ the queue
	 * process is gone, so a later requeue or reject of its delivery only drops the message
	 * (its stored copy went with the queue). */
	if (how != QUEUE_SETTLE_ACK && q->deleted) {
		message_unref(m);
		return;
	}
	if (how == QUEUE_SETTLE_ACK && q->dedup) /* a rejection leaves by queue_dead_letter */
		queue_dedup_forget(q, m);
	q->type->settle(q, m, seq, delivery_count, how);
}

void queue_requeue(struct queue *q, struct message *m, uint64_t seq, uint32_t delivery_count)
{
	queue_settle(q, m, seq, delivery_count, QUEUE_SETTLE_REQUEUE);
}

uint32_t queue_purge(struct queue *q)
{
	if (q->dedup)
		queue_dedup_purged(q);
	uint32_t n = q->type->purge(q);
	queue_flow_drained(q);
	return n;
}

void queue_expire(struct queue *q)
{
	q->type->expire(q);
}

uint64_t queue_page_out(struct queue *q)
{
	if (q->deleted)
		return 0;
	return q->type->page_out(q);
}

size_t queue_paged_memory(const struct queue *q)
{
	return q->type->memory(q);
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
	broker_timer_free(&q->expires_timer);
	queue_flow_resume_all(q);
	broker_timer_free(&q->flow_timer);
	while (!list_is_empty(&q->consumers)) {
		struct consumer *c = list_entry(q->consumers.next, struct consumer, queue_link);
		c->ops->cancelled(c);
	}
	queue_hook(q)->unbind_all(q);
	list_remove(&q->owner_link);
	uint32_t n = q->type->drop(q);
	strmap_del(&q->vhost->queues, q->name.ptr, q->name.len);
	if (q->store_id && !q->broker->recovering)
		broker_definitions_dirty(q->broker);
	q->broker->topology_gen++;
	q->broker->stats.queues_deleted++;
	EVENT_EMIT(q->broker, "queue.deleted", EV_ASTR("name", q->name),
		   EV_CSTR("vhost", q->vhost->name), EV_ACTOR());
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

void queue_consumer_gone(struct queue *q)
{
	if (q->consumer_count == 0)
		queue_flow_drained(q); /* nobody drains it now: its publishers go */
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

bool queue_has_ready_consumer(struct queue *q)
{
	return queue_pick(q) != NULL;
}

void queue_credit(struct queue *q)
{
	if (!q->deleted && q->ready_count)
		queue_dispatch(q);
}

int queue_consume(struct queue *q, struct consumer *c, const struct queue_consume *req,
		  char *err, size_t errlen)
{
	return q->type->consume ? q->type->consume(q, c, req, err, errlen) : 0;
}

int queue_refuse(const struct queue *q, enum queue_op op, char *err, size_t errlen)
{
	return q->type->refuse ? q->type->refuse(q, op, err, errlen) : 0;
}

struct queue_header queue_delivery_header(const struct queue *q, const struct qentry *e,
					  uint32_t delivery_count, bool get)
{
	if (q->type->header)
		return q->type->header(q, e, delivery_count, get);
	/* Warren's delivery limit on any queue shows how often a message came back */
	struct queue_header h = { NULL, 0 };
	if (q->lim.delivery_limit >= 0) {
		h.name = "x-delivery-count";
		h.value = (int64_t)delivery_count - 1;
	}
	return h;
}

int64_t queue_consumer_offset(const struct queue *q, const struct consumer *c)
{
	return q->type->consumer_offset ? q->type->consumer_offset(q, c) : -1;
}

size_t queue_info(const struct queue *q, struct queue_info_field *out)
{
	return q->type->info ? q->type->info(q, out) : 0;
}

uint64_t queue_message_count(const struct queue *q)
{
	if (q->type->message_count)
		return q->type->message_count(q);
	return (uint64_t)q->ready_count + q->unacked_count;
}

void queue_dispatch(struct queue *q)
{
	struct qentry e = { 0 };
	struct consumer *c;
	uint64_t delivered = q->stat_delivered;

	if (q->type->dispatch) {
		queue_ref(q);
		if (!q->deleted)
			q->type->dispatch(q);
		queue_unref(q);
		return;
	}

	/* Held for the pass: whatever a delivery sets off (a connection failing, its consumers
	 * going, an auto-delete rule) cannot free the queue under this loop. */
	queue_ref(q);
	while (!q->deleted && q->ready_count && (c = queue_pick(q)) != NULL) {
		if (!q->type->take(q, c, &e))
			break;
		bool no_ack = c->no_ack;
		int rc = c->ops->deliver(c, q, &e, e.delivery_count + 1);
		if (no_ack) /* consumed as it left */
			queue_settle(q, e.msg, e.seq, e.delivery_count + 1, QUEUE_SETTLE_ACK);
		if (rc != 0)
			break; /* the connection failed: it takes no more deliveries */
		q->stat_delivered++;
		q->broker->stats.delivered++;
		q->broker->stats.delivered_consume_no_ack += no_ack;
		if (e.redelivered)
			q->broker->stats.redelivered++;
		queue_rotate(q, c);
	}
	if (!q->deleted) {
		q->type->taken(q);
		if (q->stat_delivered != delivered)
			q->flow_stalled = false;
		queue_flow_drained(q);
	}
	queue_unref(q);
}
