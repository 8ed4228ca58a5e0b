/* broker/queue/quorum/quorum.c: the quorum kind, on one node: RabbitMQ 3.10's quorum queue as a
 * client sees it. Messages are kept as classic queues keep them (classic/), with quorum's rules
 * on top: declare only durable, non-exclusive, non-auto-delete, and refuse the classic-only
 * arguments; a requeued message goes to the back; deliveries carry x-delivery-count (on every
 * basic.get, and on a consumer's redeliveries), and x-delivery-limit dead-letters or drops;
 * x-overflow reject-publish refuses only once the queue is already over its limit (one message
 * late, as Ra applies it), reject-publish-dlx acts as drop-head; global basic.qos is refused;
 * and with x-dead-letter-strategy at-least-once (under reject-publish) a dead letter that no
 * queue took stays with this queue (messages_dlx) and is offered again each second.
 * Replication comes with the cluster (docs/queues.md). */
#include "broker/queue/quorum/quorum.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/core/broker.h"
#include "broker/core/time.h"
#include "broker/queue/classic/classic.h"
#include "broker/queue/consumer.h"
#include "broker/queue/message.h"
#include "broker/queue/queue.h"
#include "broker/queue/queue_args.h"

#define QUORUM_DLX_RETRY_MS 1000

/* A dead letter no queue has taken yet (at-least-once). */
struct quorum_dlx {
	struct message *msg;
	enum deadletter_reason why;
};

struct quorum_queue {
	struct queue *q;
	bool at_least_once;
	struct quorum_dlx *dlx;
	size_t dlx_count, dlx_cap;
	uint64_t dlx_bytes;
	struct broker_timer retry;
};

static struct quorum_queue *quorum_of(const struct queue *q)
{
	return classic_ext(q);
}

/* ---- dead-lettering ---- */

static void quorum_arm_retry(struct quorum_queue *qq)
{
	if (qq->dlx_count && !qq->retry.due_ms && !qq->q->deleted)
		broker_timer_set(qq->q->broker, &qq->retry, time_now_ms() + QUORUM_DLX_RETRY_MS);
}

static bool quorum_dead_letter(struct queue *q, struct message *m, enum deadletter_reason why)
{
	struct quorum_queue *qq = quorum_of(q);
	if (queue_dead_letter(q, m, why) > 0 || !qq->at_least_once || !q->lim.dlx || q->deleted)
		return true;
	/* at-least-once: nothing took it; it stays here until something does */
	if (qq->dlx_count == qq->dlx_cap) {
		size_t cap = qq->dlx_cap ? qq->dlx_cap * 2 : 16;
		struct quorum_dlx *d = realloc(qq->dlx, cap * sizeof *d);
		if (!d)
			return false; /* no memory: dropped, as at-most-once would */
		qq->dlx = d;
		qq->dlx_cap = cap;
	}
	qq->dlx[qq->dlx_count++] = (struct quorum_dlx){ message_ref(m), why };
	qq->dlx_bytes += message_size(m);
	quorum_arm_retry(qq);
	return true;
}

static void quorum_on_retry(struct broker_timer *t)
{
	struct quorum_queue *qq =
		(struct quorum_queue *)((char *)t - offsetof(struct quorum_queue, retry));
	struct queue *q = qq->q;
	size_t kept = 0;
	for (size_t i = 0; i < qq->dlx_count; i++) {
		struct quorum_dlx d = qq->dlx[i];
		if (q->lim.dlx && queue_dead_letter(q, d.msg, d.why) > 0) {
			qq->dlx_bytes -= message_size(d.msg);
			message_unref(d.msg);
		} else {
			qq->dlx[kept++] = d;
		}
	}
	qq->dlx_count = kept;
	quorum_arm_retry(qq);
}

static void quorum_dlx_clear(struct quorum_queue *qq)
{
	for (size_t i = 0; i < qq->dlx_count; i++)
		message_unref(qq->dlx[i].msg);
	qq->dlx_count = 0;
	qq->dlx_bytes = 0;
}

/* ---- the queue_type interface ---- */

static int quorum_validate(const struct queue_declare *d, char *err, size_t errlen)
{
	static const char *const refused[] = {
		"x-max-priority", "x-queue-mode", "x-queue-master-locator", "x-queue-version",
		"x-max-age", "x-stream-max-segment-size-bytes",
	};
	if (queue_args_replicated_props(d, err, errlen) != 0)
		return -1;
	return queue_args_refuse(d, refused, sizeof refused / sizeof refused[0],
				 "rabbit_quorum_queue", err, errlen);
}

static int quorum_init(struct queue *q)
{
	struct quorum_queue *qq = calloc(1, sizeof *qq);
	if (!qq || classic_init(q) != 0) {
		free(qq);
		return -1;
	}
	qq->q = q;
	qq->retry.fn = quorum_on_retry;
	classic_configure(q, true, quorum_dead_letter, qq);
	return 0;
}

static void quorum_destroy(struct queue *q)
{
	struct quorum_queue *qq = q->priv ? quorum_of(q) : NULL;
	if (qq) {
		broker_timer_free(&qq->retry);
		quorum_dlx_clear(qq);
		free(qq->dlx);
		free(qq);
	}
	classic_destroy(q);
}

static int quorum_apply(struct queue *q, const struct queue_limits *l)
{
	struct quorum_queue *qq = quorum_of(q);
	struct amqp_value v;
	if (classic_apply(q, l) != 0)
		return -1;
	/* RabbitMQ falls back to at-most-once unless the queue refuses publishes when full */
	qq->at_least_once = amqp_table_get(q->args, "x-dead-letter-strategy", &v) &&
			    v.type == 'S' && amqp_str_eq_c(v.v.str, "at-least-once") &&
			    l->overflow == QUEUE_REJECT_PUBLISH;
	return 0;
}

static enum queue_push_result quorum_push(struct queue *q, struct message *m)
{
	if (q->lim.overflow == QUEUE_REJECT_PUBLISH) {
		/* Ra checks the limit before the command that adds: one message late */
		if (!q->broker->recovering && classic_over_max(q))
			return QUEUE_REJECTED;
		return classic_push_as(q, m, CLASSIC_OVERFLOW_NONE);
	}
	return classic_push_as(q, m, CLASSIC_OVERFLOW_DROP_HEAD);
}

static uint32_t quorum_drop(struct queue *q)
{
	struct quorum_queue *qq = quorum_of(q);
	broker_timer_free(&qq->retry);
	quorum_dlx_clear(qq);
	return classic_drop(q);
}

static int quorum_consume(struct queue *q, struct consumer *c, const struct queue_consume *req,
			  char *err, size_t errlen)
{
	(void)c;
	if (!req->prefetch_global)
		return 0;
	snprintf(err, errlen, "queue '%.*s' in vhost '%s' does not support global qos",
		 AMQP_STR_ARGS(q->name), req->vhost);
	return 540; /* NOT_IMPLEMENTED: the connection closes */
}

/* x-delivery-count: how often the message came back, on every basic.get (0 the first time)
 * and on a consumer's redeliveries; a consumer's first delivery has none. */
static struct queue_header quorum_header(const struct queue *q, const struct qentry *e,
					 uint32_t delivery_count, bool get)
{
	struct queue_header h = { NULL, 0 };
	(void)q, (void)e;
	if (get || delivery_count > 1) {
		h.name = "x-delivery-count";
		h.value = (int64_t)delivery_count - 1;
	}
	return h;
}

static size_t quorum_info(const struct queue *q, struct queue_info_field *out)
{
	const struct quorum_queue *qq = quorum_of(q);
	out[0] = (struct queue_info_field){ "messages_dlx", false, (int64_t)qq->dlx_count, NULL };
	out[1] = (struct queue_info_field){ "messages_dlx_bytes", false, (int64_t)qq->dlx_bytes,
					    NULL };
	out[2] = (struct queue_info_field){ "dead_letter_strategy", true, 0,
					    qq->at_least_once ? "at-least-once" :
								"at-most-once" };
	return 3;
}

static size_t quorum_memory(const struct queue *q)
{
	const struct quorum_queue *qq = quorum_of(q);
	return classic_paged_memory(q) + qq->dlx_cap * sizeof *qq->dlx;
}

const struct queue_type queue_type_quorum = {
	.name = "quorum",
	.validate = quorum_validate,
	.init = quorum_init,
	.destroy = quorum_destroy,
	.apply = quorum_apply,
	.push = quorum_push,
	.take = classic_take,
	.taken = classic_arm_ttl,
	.untake = classic_untake,
	.settle = classic_settle,
	.purge = classic_purge,
	.drop = quorum_drop,
	.expire = classic_expire,
	.page_out = classic_page_out,
	.memory = quorum_memory,
	.consume = quorum_consume,
	.header = quorum_header,
	.info = quorum_info,
};
