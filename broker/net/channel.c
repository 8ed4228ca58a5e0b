/* broker/net/channel.c: channel state: frames through the assembler to the handlers, the unacked
 * ring (O(1) settle by tag), requeue on close, confirms coalesced once per loop turn, and
 * channel errors (channel.close, then every frame ignored until close-ok). */
#include "broker/net/channel.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/reply_codes.h"
#include "broker/auth/auth.h"
#include "broker/core/config.h"
#include "broker/net/conn.h"
#include "broker/net/deliver.h"
#include "broker/net/conn_events.h"
#include "broker/net/handler.h"
#include "broker/queue/consumer.h"
#include "broker/exchange/deadletter.h"
#include "broker/exchange/exchange.h"
#include "broker/core/log.h"
#include "broker/queue/message.h"
#include "broker/queue/queue.h"
#include "broker/auth/topic_perm.h"
#include "broker/vhost/vhost.h"

static void channel_on_confirm_flush(struct deferred *d);

struct channel *channel_new(struct conn *c, uint16_t id)
{
	struct channel *ch = calloc(1, sizeof *ch);
	if (!ch)
		return NULL;
	ch->conn = c;
	ch->broker = c->broker;
	ch->id = id;
	ch->state = CHANNEL_OPEN;
	ch->flow_active = true;
	amqp_assembler_init(&ch->assembler);
	strmap_init(&ch->consumers);
	list_init(&ch->consumer_list);
	ch->confirm_flush.fn = channel_on_confirm_flush;
	list_init(&ch->confirm_link);
	list_init(&ch->conn_link);
	return ch;
}

/* ---- unacked ring ---- */

static struct unacked *ring_at(const struct unacked_ring *r, size_t i)
{
	return &r->buf[(r->head + i) & (r->cap - 1)];
}

static int ring_grow(struct unacked_ring *r)
{
	size_t cap = r->cap ? r->cap * 2 : 16;
	struct unacked *buf = malloc(cap * sizeof *buf);
	if (!buf)
		return -1;
	for (size_t i = 0; i < r->count; i++)
		buf[i] = *ring_at(r, i);
	free(r->buf);
	r->buf = buf;
	r->cap = cap;
	r->head = 0;
	return 0;
}

static void ring_trim(struct unacked_ring *r)
{
	while (r->count && ring_at(r, 0)->msg == NULL) {
		r->head = (r->head + 1) & (r->cap - 1);
		r->count--;
		r->base_tag++;
	}
}

uint64_t channel_track(struct channel *ch, struct message *m, struct queue *q,
		       struct consumer *cons, uint64_t seq, uint32_t delivery_count, bool no_ack)
{
	struct unacked_ring *r = &ch->unacked;
	uint64_t tag = ++ch->next_tag;
	if (no_ack)
		return tag;
	if (r->live == 0) {
		r->count = 0;
		r->base_tag = tag;
	}
	/* Tags of no-ack deliveries in between become settled slots. */
	while (r->base_tag + r->count <= tag) {
		if (r->count == r->cap && ring_grow(r) != 0) {
			/* Not conn_fail: the caller (queue_dispatch) still holds ch and its
			 * consumer. The message goes back to its queue (the slot would have
			 * owned the queue's reference); the delivery still goes out, but the
			 * connection is dropped on the next loop turn and takes no more. */
			conn_fail_soon(ch->conn, "out of memory tracking a delivery");
			queue_requeue(q, m, seq, delivery_count);
			return tag;
		}
		ring_at(r, r->count)->msg = NULL;
		r->count++;
	}
	struct unacked *u = ring_at(r, (size_t)(tag - r->base_tag));
	*u = (struct unacked){ m, q, cons, seq, delivery_count, ch->broker->tick };
	r->live++;
	if (ch->conn->unacked_count++ == 0)
		conn_flow_release_for_acks(ch->conn);
	queue_ref(q);
	q->unacked_count++;
	if (cons) {
		cons->unacked++;
		ch->unacked_from_consumers++;
	}
	return tag;
}

/* Settles one slot; the message is acked, requeued or dropped. */
static void channel_settle_slot(struct channel *ch, struct unacked *u, bool ack, bool requeue)
{
	struct message *m = u->msg;
	struct queue *q = u->q;
	u->msg = NULL;
	ch->unacked.live--;
	ch->conn->unacked_count--;
	if (u->consumer) {
		u->consumer->unacked--;
		ch->unacked_from_consumers--;
	}
	if (ch->unacked_from_consumers > ch->unacked.live)
		ch->unacked_from_consumers = (uint32_t)ch->unacked.live;
	queue_settled(q);
	if (ack) {
		q->stat_acked++;
		ch->broker->stats.acked++;
	}
	queue_settle(q, m, u->seq, u->delivery_count,
		     ack ? QUEUE_SETTLE_ACK : requeue ? QUEUE_SETTLE_REQUEUE : QUEUE_SETTLE_REJECT);
	queue_schedule_dispatch(q);
	queue_unref(q);
}

/* Settling gave the channel's consumers credit. While the connection's input is being handled
 * (an ack), their queues deliver when that batch is done (conn_run_credit), in the same loop
 * turn; otherwise at the end of the turn. */
static void channel_kick(struct channel *ch)
{
	if (ch->conn->in_callback) {
		ch->credit = true;
		ch->conn->credit_pending = true;
		return;
	}
	struct list *pos;
	list_for_each(pos, &ch->consumer_list)
		queue_schedule_dispatch(list_entry(pos, struct consumer, channel_link)->q);
}

/* basic.nack and basic.reject of deliveries whose queue's kind refuses them (streams): the
 * kind's reply code and text, before anything is settled. */
static int channel_settle_refused_op(struct channel *ch, size_t from, size_t upto,
				     enum queue_op op)
{
	char err[256];
	for (size_t i = from; i <= upto; i++) {
		const struct unacked *u = ring_at(&ch->unacked, i);
		int code;
		if (u->msg && (code = queue_refuse(u->q, op, err, sizeof err)) != 0)
			return channel_fail(ch, code, "%s", err);
	}
	return 0;
}

static int channel_settle_refused(struct channel *ch, size_t from, size_t upto)
{
	return channel_settle_refused_op(ch, from, upto, QUEUE_OP_NACK);
}

int channel_recover_refused(struct channel *ch)
{
	if (ch->unacked.live == 0)
		return 0;
	return channel_settle_refused_op(ch, 0, ch->unacked.count - 1, QUEUE_OP_RECOVER);
}

int channel_settle(struct channel *ch, uint64_t tag, bool multiple, bool ack, bool requeue)
{
	/* RabbitMQ's rule (rabbit_channel:collect_acks): tag 0 with multiple means everything
	 * outstanding; otherwise the tag itself must be outstanding, and multiple settles every
	 * outstanding tag up to it. */
	struct unacked_ring *r = &ch->unacked;
	size_t upto;
	if (multiple && tag == 0) {
		if (r->live == 0)
			return 0;
		upto = r->count - 1;
	} else {
		if (tag < r->base_tag || tag - r->base_tag >= r->count ||
		    ring_at(r, (size_t)(tag - r->base_tag))->msg == NULL)
			return channel_fail(ch, AMQP_PRECONDITION_FAILED, "unknown delivery tag %llu",
					    (unsigned long long)tag);
		upto = (size_t)(tag - r->base_tag);
	}
	if (!ack && channel_settle_refused(ch, multiple ? 0 : upto, upto) != 0)
		return -1;
	if (!multiple) {
		channel_settle_slot(ch, ring_at(r, upto), ack, requeue);
	} else {
		/* Backwards, so each requeued message lands in front of the later ones cheaply. */
		for (size_t i = upto + 1; i-- > 0;) {
			struct unacked *u = ring_at(r, i);
			if (u->msg)
				channel_settle_slot(ch, u, ack, requeue);
		}
	}
	ring_trim(r);
	channel_kick(ch);
	return 0;
}

void channel_requeue_all(struct channel *ch)
{
	struct unacked_ring *r = &ch->unacked;
	for (size_t i = r->count; i-- > 0;) {
		struct unacked *u = ring_at(r, i);
		if (u->msg)
			channel_settle_slot(ch, u, false, true);
	}
	r->count = 0;
	r->head = 0;
}

/* ---- consumers ---- */

static void channel_forget_consumer(struct channel *ch, struct consumer *cons)
{
	struct unacked_ring *r = &ch->unacked;
	for (size_t i = 0; i < r->count; i++) {
		struct unacked *u = ring_at(r, i);
		if (u->msg && u->consumer == cons)
			u->consumer = NULL;
	}
	if (ch->reply_consumer == cons)
		ch->reply_consumer = NULL;
	strmap_del(&ch->consumers, cons->tag.ptr, cons->tag.len);
}

void channel_consumer_cancelled_by_server(struct channel *ch, struct consumer *cons)
{
	struct queue *q = cons->q;
	if (ch->conn->cap_cancel_notify && ch->state == CHANNEL_OPEN) {
		struct amqp_method m = { .id = AMQP_BASIC_CANCEL };
		m.u.basic_cancel.consumer_tag = cons->tag;
		m.u.basic_cancel.nowait = true;
		channel_send(ch, &m);
	}
	channel_forget_consumer(ch, cons);
	consumer_free(cons);
	(void)q;
}

/* Removes a consumer at the client's request or when the channel goes. */
void channel_cancel_consumer(struct channel *ch, struct consumer *cons)
{
	struct queue *q = cons->q;
	channel_forget_consumer(ch, cons);
	consumer_free(cons);
	queue_check_auto_delete(q);
}

/* The consumer ops queues call (queue/consumer.h). */

static bool channel_consumer_can_take(const struct consumer *cons)
{
	const struct channel *ch = cons->ch;
	if (ch->prefetch_global && ch->unacked_from_consumers >= ch->prefetch_global)
		return false;
	return channel_can_deliver(ch);
}

static int channel_consumer_deliver(struct consumer *cons, struct queue *q,
				    const struct qentry *e, uint32_t delivery_count)
{
	struct channel *ch = cons->ch;
	uint64_t tag = channel_track(ch, e->msg, q, cons, e->seq, delivery_count, cons->no_ack);
	struct queue_header h = queue_delivery_header(q, e, delivery_count, false);
	return deliver_basic_deliver(ch, cons->tag, tag, e->redelivered, e->msg, h.name, h.value);
}

static void channel_consumer_cancelled(struct consumer *cons)
{
	channel_consumer_cancelled_by_server(cons->ch, cons);
}

const struct consumer_ops channel_consumer_ops = {
	.can_take = channel_consumer_can_take,
	.deliver = channel_consumer_deliver,
	.cancelled = channel_consumer_cancelled,
};

/* ---- lifecycle ---- */

void channel_drop_reply_consumer(struct channel *ch)
{
	struct consumer *c = ch->reply_consumer;
	if (ch->reply_to_token) {
		strmap_del(&ch->broker->reply_to, ch->reply_to_token, strlen(ch->reply_to_token));
		free(ch->reply_to_token);
		ch->reply_to_token = NULL;
	}
	if (!c)
		return;
	strmap_del(&ch->consumers, c->tag.ptr, c->tag.len);
	ch->reply_consumer = NULL;
	amqp_str_free(&c->tag);
	free(c);
}

void channel_release(struct channel *ch)
{
	struct broker *b = ch->broker;
	while (!list_is_empty(&ch->consumer_list)) {
		struct consumer *cons =
			list_entry(ch->consumer_list.next, struct consumer, channel_link);
		struct queue *q = cons->q;
		queue_ref(q);
		channel_cancel_consumer(ch, cons);
		queue_unref(q);
	}
	channel_requeue_all(ch);
	free(ch->unacked.buf);
	memset(&ch->unacked, 0, sizeof ch->unacked);
	strmap_clear(&ch->consumers);
	if (ch->pub_msg)
		ch->conn->partial_bytes -= ch->pub_msg->body_len;
	message_unref(ch->pub_msg);
	ch->pub_msg = NULL;
	while (ch->tx_head) {
		struct tx_op *op = ch->tx_head;
		ch->tx_head = op->next;
		message_unref(op->msg);
		free(op);
	}
	ch->tx_tail = NULL;
	broker_cancel_deferred(b, &ch->confirm_flush);
	list_remove(&ch->confirm_link);
	ch->confirm_waiting = false;
	free(ch->confirms);
	ch->confirms = NULL;
	ch->confirm_head = ch->confirm_count = ch->confirm_cap = 0;
	channel_drop_reply_consumer(ch);
	amqp_str_free(&ch->last_queue);
}

void channel_free(struct channel *ch)
{
	if (!ch)
		return;
	channel_release(ch);
	channel_stats_free(&ch->stats);
	ch->broker->stats.channels_closed++;
	channel_event_closed(ch);
	free(ch);
}

bool channel_can_deliver(const struct channel *ch)
{
	return ch->state == CHANNEL_OPEN && ch->flow_active && !ch->conn->output_blocked &&
	       !ch->conn->fail_soon &&
	       !ch->conn->dead && ch->conn->state == CONN_OPEN;
}

const struct topic_perm *channel_topic_perm(const struct channel *ch, const struct exchange *x)
{
	const struct conn *c = ch->conn;
	if (!x || x->type != &exchange_type_topic)
		return NULL;
	return topic_perm_find(c->user, c->vhost->name, (const char *)x->name.ptr, x->name.len);
}

int channel_check_topic(struct channel *ch, const struct topic_perm *p, int perm,
			struct amqp_str exchange, struct amqp_str key)
{
	struct conn *c = ch->conn;
	if (!p || topic_perm_permitted(p, (enum auth_perm)perm, key.ptr, key.len))
		return 0;
	channel_fail(ch, AMQP_ACCESS_REFUSED,
		     "access to topic '%.*s' in exchange '%.*s' in vhost '%s' refused for user '%s'",
		     AMQP_STR_ARGS(key), AMQP_STR_ARGS(exchange), c->vhost->name, c->user->name);
	return -1;
}

struct amqp_str channel_queue_name(const struct channel *ch, struct amqp_str name)
{
	return name.len ? name : ch->last_queue;
}

int channel_check_perm(struct channel *ch, int perm, int kind, struct amqp_str name)
{
	struct conn *c = ch->conn;
	char text[512];
	if (auth_permitted(c->user, c->vhost->name, (enum auth_perm)perm, (enum auth_resource)kind,
			   name))
		return 0;
	auth_refusal_text(text, sizeof text, c->user, c->vhost->name, (enum auth_resource)kind,
			  name);
	channel_fail(ch, AMQP_ACCESS_REFUSED, "%s", text);
	return -1;
}

int channel_send(struct channel *ch, const struct amqp_method *m)
{
	/* On failure conn_send_method has called conn_fail_soon: the channel and its consumers
	 * stay valid for the caller (conn_fail here freed them under
	 * channel_consumer_cancelled_by_server and others), and the connection goes next turn. */
	return conn_send_method(ch->conn, ch->id, m);
}

int channel_fail(struct channel *ch, int code, const char *fmt, ...)
{
	char text[256];
	va_list ap;
	int n = snprintf(text, sizeof text, "%s - ", amqp_reply_code_name(code));
	va_start(ap, fmt);
	vsnprintf(text + n, sizeof text - (size_t)n, fmt, ap);
	va_end(ap);
	if (code >= 500)
		return conn_fail(ch->conn, code, ch->method_id, "%s", text + n);
	if (ch->state != CHANNEL_OPEN)
		return 0;
	log_info(ch->broker->log, "channel %u on %s closed: %s", (unsigned)ch->id, ch->conn->name, text);
	struct amqp_method m = { .id = AMQP_CHANNEL_CLOSE };
	m.u.channel_close.reply_code = (uint16_t)code;
	m.u.channel_close.reply_text = amqp_str_c(text);
	m.u.channel_close.class_id = AMQP_METHOD_CLASS(ch->method_id);
	m.u.channel_close.method_id = AMQP_METHOD_INDEX(ch->method_id);
	channel_release(ch);
	ch->state = CHANNEL_CLOSING;
	return channel_send(ch, &m);
}

void channel_check_timeout(struct channel *ch)
{
	struct unacked_ring *r = &ch->unacked;
	if (ch->state != CHANNEL_OPEN || r->live == 0)
		return;
	ring_trim(r);
	const struct unacked *u = ring_at(r, 0);
	int64_t timeout = u->q->lim.consumer_timeout >= 0 ? u->q->lim.consumer_timeout :
							     (int64_t)ch->broker->cfg->consumer_timeout;
	if (timeout <= 0 || (int64_t)(ch->broker->tick - u->delivered_tick) * 1000 <= timeout)
		return;
	ch->method_id = 0;
	channel_fail(ch, AMQP_PRECONDITION_FAILED,
		     "delivery acknowledgement on channel %u timed out. Timeout value used: %lld ms. "
		     "This timeout value can be configured, see consumers doc guide to learn more",
		     (unsigned)ch->id, (long long)timeout);
}

/* ---- confirms ---- */

static struct confirm_range *confirm_at(struct channel *ch, size_t i)
{
	return &ch->confirms[(ch->confirm_head + i) & (ch->confirm_cap - 1)];
}

static int confirm_send(struct channel *ch, uint32_t id, uint64_t upto)
{
	struct amqp_method m = { .id = id };
	bool multiple = upto - ch->confirm_sent > 1;
	if (id == AMQP_BASIC_ACK) {
		m.u.basic_ack.delivery_tag = upto;
		m.u.basic_ack.multiple = multiple;
		ch->broker->stats.confirmed += upto - ch->confirm_sent;
	} else {
		m.u.basic_nack.delivery_tag = upto;
		m.u.basic_nack.multiple = multiple;
	}
	ch->confirm_sent = upto;
	return channel_send(ch, &m);
}

/* Sends every range at the front whose sync is done, acks coalesced into one multiple ack. */
static void channel_flush_confirms(struct channel *ch)
{
	uint64_t done = ch->broker->sync_done, ack_upto = 0;
	bool waiting = false;
	while (ch->confirm_count && ch->state == CHANNEL_OPEN) {
		struct confirm_range *r = confirm_at(ch, 0);
		if (r->ticket > done) {
			waiting = true;
			break;
		}
		if (r->nack) {
			if (ack_upto && confirm_send(ch, AMQP_BASIC_ACK, ack_upto) != 0)
				return;
			ack_upto = 0;
			if (confirm_send(ch, AMQP_BASIC_NACK, r->upto) != 0)
				return;
		} else {
			ack_upto = r->upto;
		}
		ch->confirm_head = (ch->confirm_head + 1) & (ch->confirm_cap - 1);
		ch->confirm_count--;
	}
	if (ack_upto && ch->state == CHANNEL_OPEN)
		confirm_send(ch, AMQP_BASIC_ACK, ack_upto);
	if (waiting && !ch->confirm_waiting) {
		list_append(&ch->broker->confirm_waiting, &ch->confirm_link);
		ch->confirm_waiting = true;
	} else if (!waiting && ch->confirm_waiting) {
		list_remove(&ch->confirm_link);
		ch->confirm_waiting = false;
	}
}

static void channel_on_confirm_flush(struct deferred *d)
{
	struct channel *ch = (struct channel *)((char *)d - offsetof(struct channel, confirm_flush));
	if (ch->state == CHANNEL_OPEN)
		channel_flush_confirms(ch);
}

static int channel_confirm_add(struct channel *ch, uint64_t seq, uint64_t ticket, bool nack)
{
	if (ch->confirm_count) {
		struct confirm_range *last = confirm_at(ch, ch->confirm_count - 1);
		if (last->nack == nack && last->ticket >= ticket) {
			last->upto = seq; /* one range per loop turn in the common case */
			goto out;
		}
	}
	if (ch->confirm_count == ch->confirm_cap) {
		size_t cap = ch->confirm_cap ? ch->confirm_cap * 2 : 8;
		struct confirm_range *rs = malloc(cap * sizeof *rs);
		if (!rs)
			return conn_fail(ch->conn, AMQP_INTERNAL_ERROR, 0,
					 "out of memory tracking confirms");
		for (size_t i = 0; i < ch->confirm_count; i++)
			rs[i] = *confirm_at(ch, i);
		free(ch->confirms);
		ch->confirms = rs;
		ch->confirm_cap = cap;
		ch->confirm_head = 0;
	}
	*confirm_at(ch, ch->confirm_count++) = (struct confirm_range){ seq, ticket, nack };
out:
	broker_defer(ch->broker, &ch->confirm_flush);
	return 0;
}

int channel_confirm_ack(struct channel *ch, uint64_t seq, uint64_t ticket)
{
	return channel_confirm_add(ch, seq, ticket, false);
}

int channel_confirm_nack(struct channel *ch, uint64_t seq)
{
	ch->broker->stats.nacked++;
	return channel_confirm_add(ch, seq, 0, true);
}

void channel_confirms_synced(struct channel *ch, uint64_t ticket, bool ok)
{
	if (!ok) /* everything that waited for this sync is nacked */
		for (size_t i = 0; i < ch->confirm_count; i++) {
			struct confirm_range *r = confirm_at(ch, i);
			if (r->ticket && r->ticket <= ticket) {
				r->nack = true;
				r->ticket = 0;
			}
		}
	channel_flush_confirms(ch);
}

/* ---- frames ---- */

/* After our channel.close (spec 2.3.7 and rabbit_channel's closing state): everything but
 * close, close-ok and open is dropped. A channel.close from the client crossed ours on the
 * wire: it gets its close-ok, and the channel still waits for the close-ok to ours, which the
 * client sends when ours arrives (amqp091-go and php-amqplib do). Freeing the channel at the
 * crossing close made that close-ok hit a free number: 504 "expected 'channel.open'", and the
 * connection with all its other channels was lost. A client that never sends that close-ok and
 * opens the number again gets RabbitMQ's 504 "second 'channel.open' seen". */
static int channel_on_closing_frame(struct channel *ch, const struct amqp_frame *f)
{
	struct amqp_method m;
	if (f->type != AMQP_FRAME_METHOD ||
	    amqp_method_decode(&m, f->payload, f->size) != AMQP_DECODE_OK)
		return 0;
	if (m.id == AMQP_CHANNEL_CLOSE) {
		struct amqp_method ok = { .id = AMQP_CHANNEL_CLOSE_OK };
		return channel_send(ch, &ok);
	}
	if (m.id == AMQP_CHANNEL_OPEN)
		return conn_fail(ch->conn, AMQP_CHANNEL_ERROR, AMQP_CHANNEL_OPEN, "second 'channel.open' seen");
	if (m.id == AMQP_CHANNEL_CLOSE_OK) {
		conn_channel_remove(ch->conn, ch);
		channel_free(ch);
	}
	return 0;
}

int channel_on_frame(struct channel *ch, const struct amqp_frame *f)
{
	const struct handler *h = ch->broker->handler;
	struct amqp_asm_out out;
	if (ch->state == CHANNEL_CLOSING)
		return channel_on_closing_frame(ch, f);
	switch (amqp_assembler_feed(&ch->assembler, f, &out)) {
	case AMQP_ASM_METHOD:
		if (out.method.id == AMQP_CHANNEL_CLOSE_OK)
			return conn_fail(ch->conn, AMQP_COMMAND_INVALID, AMQP_CHANNEL_CLOSE_OK, "unimplemented method");
		ch->method_id = out.method.id;
		return h->method(ch, &out.method);
	case AMQP_ASM_CONTENT_METHOD:
		ch->method_id = out.method.id;
		return h->content_start(ch, &out.method);
	case AMQP_ASM_HEADER:
		if (h->content_header(ch, &out.header) != 0)
			return -1;
		if (out.complete && ch->state == CHANNEL_OPEN)
			return h->content_body(ch, NULL, 0, true);
		return 0;
	case AMQP_ASM_BODY:
		return h->content_body(ch, out.body, out.body_len, out.complete);
	case AMQP_ASM_ERROR:
	default: {
		char text[256];
		return conn_fail(ch->conn, out.error_code, out.error_method, "%s",
				 amqp_asm_error_format(&out, text, sizeof text));
	}
	}
}
