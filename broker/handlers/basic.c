/* broker/handlers/basic.c: basic.* methods. Publishing: the method names the exchange, the
 * content header sizes the message (allocated once), body frames fill it, and routing runs
 * when it is complete. Consuming, get, ack/nack/reject, qos, recover, and direct reply-to. */
#include "broker/handlers/handlers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"
#include "amqp/reply_codes.h"
#include "broker/auth/auth.h"
#include "broker/net/channel.h"
#include "broker/core/config.h"
#include "broker/net/conn.h"
#include "broker/queue/consumer.h"
#include "broker/net/deliver.h"
#include "broker/exchange/exchange.h"
#include "broker/queue/message.h"
#include "broker/queue/queue.h"
#include "broker/vhost/vhost.h"

/* ---- publish ---- */

/* The exchange by name, through a one-entry cache per channel. */
static struct exchange *channel_exchange(struct channel *ch, struct amqp_str name)
{
	struct broker *b = ch->broker;
	if (ch->pub_x && ch->pub_x_gen == b->topology_gen && amqp_str_eq(ch->pub_x->name, name))
		return ch->pub_x;
	struct exchange *x = vhost_exchange_find(ch->conn->vhost, name);
	ch->pub_x = x;
	ch->pub_x_gen = b->topology_gen;
	return x;
}

int handle_basic_content_start(struct channel *ch, const struct amqp_method *m)
{
	const struct amqp_basic_publish *p = &m->u.basic_publish;
	if (m->id != AMQP_BASIC_PUBLISH)
		return conn_fail(ch->conn, AMQP_COMMAND_INVALID, m->id, "unimplemented method");
	if (p->immediate)
		return conn_fail(ch->conn, AMQP_NOT_IMPLEMENTED, AMQP_BASIC_PUBLISH, "immediate=true");
	ch->conn->published = true;
	struct exchange *x = channel_exchange(ch, p->exchange);
	/* Write permission, checked once per exchange until permissions change. */
	if (!x || ch->write_ok_exchange != x || ch->write_ok_generation != ch->broker->auth_generation) {
		if (channel_check_perm(ch, AUTH_WRITE, AUTH_RESOURCE_EXCHANGE, p->exchange) != 0)
			return 0;
		ch->write_ok_exchange = x;
		ch->write_ok_generation = ch->broker->auth_generation;
		ch->write_topic = channel_topic_perm(ch, x);
	}
	if (!x)
		return channel_fail(ch, AMQP_NOT_FOUND, "no exchange '%.*s' in vhost '%s'",
				    AMQP_STR_ARGS(p->exchange), vname(ch));
	if (x->internal)
		return channel_fail(ch, AMQP_ACCESS_REFUSED,
				    "cannot publish to internal exchange '%.*s' in vhost '%s'",
				    AMQP_STR_ARGS(p->exchange), vname(ch));
	if (ch->write_topic &&
	    channel_check_topic(ch, ch->write_topic, AUTH_WRITE, p->exchange, p->routing_key) != 0)
		return 0;
	memcpy(ch->pub_names, p->exchange.ptr, p->exchange.len);
	memcpy(ch->pub_names + 256, p->routing_key.ptr, p->routing_key.len);
	ch->pub_exchange = (struct amqp_str){ ch->pub_names, p->exchange.len };
	ch->pub_rk = (struct amqp_str){ ch->pub_names + 256, p->routing_key.len };
	ch->pub_mandatory = p->mandatory;
	return 0;
}

/* RabbitMQ parses expiration with Erlang's string:to_integer: optional sign, digits, nothing
 * after; the value must fit its timer range. */
static int parse_expiration(struct channel *ch, struct amqp_str e, int64_t *out)
{
	char buf[300];
	snprintf(buf, sizeof buf, "%.*s", AMQP_STR_ARGS(e));
	const char *p = buf;
	if (*p == '+' || *p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return channel_fail(ch, AMQP_PRECONDITION_FAILED, "invalid expiration '%s': no_integer",
				    buf), -1;
	const char *digits = p;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p)
		return channel_fail(ch, AMQP_PRECONDITION_FAILED,
				    "invalid expiration '%s': {leftover_string,\"%s\"}", buf, p), -1;
	if (buf[0] == '-') {
		return channel_fail(ch, AMQP_PRECONDITION_FAILED,
				    "invalid expiration '%s': {value_negative,%s}", buf, buf), -1;
	}
	errno = 0;
	unsigned long long v = strtoull(digits, NULL, 10);
	if (errno || v > 4294967295ULL)
		return channel_fail(ch, AMQP_PRECONDITION_FAILED,
				    "invalid expiration '%s': {value_too_large,%s}", buf, digits), -1;
	*out = (int64_t)v;
	return 0;
}

/* Direct reply-to: the reply_to property gets the channel's token. */
static int rewrite_reply_to(struct message *msg, const struct amqp_basic_props *in,
			    const char *reply_to)
{
	struct amqp_basic_props p = *in;
	struct amqp_buf out;
	int rc = -1;
	amqp_buf_init(&out);
	p.reply_to = amqp_str_c(reply_to);
	amqp_props_encode(&p, &out);
	if (!out.oom)
		rc = message_set_props(msg, out.data, out.len);
	amqp_buf_free(&out);
	return rc;
}

static int check_cc(struct channel *ch, struct amqp_table headers, const char *key, bool *present)
{
	struct amqp_value v;
	*present = false;
	if (!amqp_table_get(headers, key, &v))
		return 0;
	if (v.type != 'A')
		return channel_fail(ch, AMQP_PRECONDITION_FAILED,
				    "invalid message: {unacceptable_type_in_header,\"%s\",%s}", key,
				    amqp_value_type_name(v.type)),
		       -1;
	*present = true;
	return 0;
}

int handle_basic_content_header(struct channel *ch, const struct amqp_content_header *h)
{
	struct amqp_basic_props p;
	const struct config *cfg = ch->broker->cfg;
	if (cfg->max_message_size && h->body_size > cfg->max_message_size)
		return channel_fail(ch, AMQP_PRECONDITION_FAILED,
				    "message size %llu is larger than configured max size %llu",
				    (unsigned long long)h->body_size,
				    (unsigned long long)cfg->max_message_size);
	/* Bodies are allocated at their declared size: bound what one connection may have
	 * outstanding over all its channels (a client could declare large bodies on many channels
	 * and trickle them). Closer to RabbitMQ's resource errors than to its per-message 406. */
	struct conn *c = ch->conn;
	uint64_t cap = cfg->max_partial_bytes;
	if (cap && (c->partial_bytes > cap || h->body_size > cap - c->partial_bytes))
		return conn_fail(c, AMQP_RESOURCE_ERROR, AMQP_BASIC_PUBLISH,
				 "message bodies being received on this connection would take %llu "
				 "bytes, more than max_partial_message_bytes_per_connection (%llu)",
				 (unsigned long long)(c->partial_bytes + h->body_size),
				 (unsigned long long)cap);
	if (amqp_props_decode(&p, h->props, h->props_len) != 0)
		return conn_fail(ch->conn, AMQP_SYNTAX_ERROR, AMQP_BASIC_PUBLISH, "malformed content header");
	int64_t expiration = -1;
	if ((p.flags & AMQP_PROP_EXPIRATION) && parse_expiration(ch, p.expiration, &expiration) != 0)
		return 0;
	if ((p.flags & AMQP_PROP_USER_ID) && !amqp_str_eq_c(p.user_id, ch->conn->user->name))
		return channel_fail(ch, AMQP_PRECONDITION_FAILED,
				    "user_id property set to '%.*s' but authenticated user was '%s'",
				    AMQP_STR_ARGS(p.user_id), ch->conn->user->name);
	bool has_cc = false, has_bcc = false;
	if ((p.flags & AMQP_PROP_HEADERS) &&
	    (check_cc(ch, p.headers, "CC", &has_cc) != 0 ||
	     check_cc(ch, p.headers, "BCC", &has_bcc) != 0))
		return 0;
	const char *reply_to = NULL;
	if ((p.flags & AMQP_PROP_REPLY_TO) && amqp_str_eq_c(p.reply_to, REPLY_TO_QUEUE)) {
		if (!ch->reply_consumer)
			return channel_fail(ch, AMQP_PRECONDITION_FAILED,
					    "fast reply consumer does not exist");
		reply_to = ch->reply_to_token;
	}
	struct message *m = message_new(ch->broker, ch->pub_exchange, ch->pub_rk, h->props, h->props_len,
					h->body_size);
	/* BCC is removed after routing (exchange_publish), which needs its keys. */
	if (!m || (reply_to && rewrite_reply_to(m, &p, reply_to) != 0)) {
		message_unref(m);
		return conn_fail(ch->conn, AMQP_INTERNAL_ERROR, AMQP_BASIC_PUBLISH,
				 "out of memory receiving a message");
	}
	m->persistent = (p.flags & AMQP_PROP_DELIVERY_MODE) && p.delivery_mode == 2;
	m->priority = (p.flags & AMQP_PROP_PRIORITY) ? p.priority : 0;
	m->expiration_ms = expiration;
	ch->pub_msg = m;
	ch->pub_filled = 0;
	c->partial_bytes += m->body_len;
	return 0;
}

int handle_basic_content_body(struct channel *ch, const uint8_t *p, size_t len, bool complete)
{
	struct message *m = ch->pub_msg;
	if (!m)
		return 0; /* the publish already failed */
	if (len) {
		memcpy(m->body + ch->pub_filled, p, len);
		ch->pub_filled += len;
	}
	if (!complete)
		return 0;
	ch->pub_msg = NULL;
	ch->conn->partial_bytes -= m->body_len;
	ch->broker->stats.published++;
	ch->broker->stats.published_confirm += ch->confirm;
	uint64_t seq = ch->confirm ? ++ch->publish_seq : 0;
	if (ch->tx) {
		struct tx_op *op = calloc(1, sizeof *op);
		if (!op) {
			message_unref(m);
			return conn_fail(ch->conn, AMQP_INTERNAL_ERROR, AMQP_BASIC_PUBLISH, "out of memory");
		}
		op->kind = TX_PUBLISH;
		op->msg = m;
		op->mandatory = ch->pub_mandatory;
		if (ch->tx_tail)
			ch->tx_tail->next = op;
		else
			ch->tx_head = op;
		ch->tx_tail = op;
		return 0;
	}
	return handle_basic_route_take(ch, m, ch->pub_mandatory, seq) == HANDLE_ROUTE_CONN_FAILED ?
		       -1 : 0;
}

/* Direct reply-to: a reply published to the default exchange with the token as routing key
 * goes straight to the requester's channel. Returns 1 when handled. */
static int route_reply_to(struct channel *ch, struct message *m, bool mandatory)
{
	struct channel *dest = strmap_get(&ch->broker->reply_to, m->routing_key.ptr,
					  m->routing_key.len);
	/* A token names a channel in one vhost: from any other, it routes nowhere. */
	if (dest && dest->conn->vhost != ch->conn->vhost)
		dest = NULL;
	if (!dest || !dest->reply_consumer || !channel_can_deliver(dest)) {
		if (mandatory)
			deliver_return(ch, AMQP_NO_ROUTE, "NO_ROUTE", m);
		return 1;
	}
	uint64_t tag = channel_track(dest, m, NULL, NULL, 0, 1, true);
	deliver_basic_deliver(dest, dest->reply_consumer->tag, tag, false, m, NULL, 0);
	return 1;
}

enum handle_route_result handle_basic_route_take(struct channel *ch, struct message *m,
						 bool mandatory, uint64_t seq)
{
	struct publish_result r = { 0 };
	uint64_t ticket = 0, appends = ch->broker->store_appends;
	enum exchange_delay_result held = EXCHANGE_DELAY_NONE;
	int rc = 0;

	struct exchange *x = channel_exchange(ch, m->exchange);
	if (!x) {
		message_unref(m);
		return channel_fail(ch, AMQP_NOT_FOUND, "no exchange '%.*s' in vhost '%s'",
				    AMQP_STR_ARGS(m->exchange), vname(ch)) == 0 ?
			       HANDLE_ROUTE_CHANNEL_CLOSED : HANDLE_ROUTE_CONN_FAILED;
	}
	if (x->is_default && m->routing_key.len > sizeof REPLY_TO_PREFIX - 1 &&
	    memcmp(m->routing_key.ptr, REPLY_TO_PREFIX, sizeof REPLY_TO_PREFIX - 1) == 0) {
		route_reply_to(ch, m, mandatory);
		r.routed = 1;
	} else if (x->delayed && (held = exchange_delay(x, m)) != EXCHANGE_DELAY_NONE) {
		/* Held until due; like the plugin, never returned. Refused: nacked. */
		if (held == EXCHANGE_DELAY_HELD)
			r.routed = 1;
		else
			r.rejected = 1;
	} else {
		exchange_publish(x, m, NULL, NULL, &r);
	}
	/* Written to the store (durable queues, or held by a durable delayed exchange): its
	 * confirm waits for this turn's group sync. */
	if (ch->broker->store_appends != appends)
		ticket = broker_store_next_ticket(ch->broker);
	if (r.oom) {
		message_unref(m);
		conn_fail(ch->conn, AMQP_INTERNAL_ERROR, AMQP_BASIC_PUBLISH, "out of memory routing");
		return HANDLE_ROUTE_CONN_FAILED;
	}
	bool unroutable = r.routed == 0 && r.rejected == 0;
	ch->broker->stats.routed += r.routed != 0;
	channel_stats_publish(&ch->stats, x, seq && !r.rejected, unroutable && !mandatory,
			      unroutable && mandatory);
	if (unroutable) {
		ch->broker->stats.dropped_unroutable++;
		if (mandatory) {
			ch->broker->stats.returned++;
			rc = deliver_return(ch, AMQP_NO_ROUTE, "NO_ROUTE", m);
		}
	}
	message_unref(m);
	if (rc == 0 && seq) {
		/* Any queue refusing it (reject-publish) makes the publish a nack (RabbitMQ). */
		if (r.rejected)
			rc = channel_confirm_nack(ch, seq);
		else
			rc = channel_confirm_ack(ch, seq, ticket);
	}
	if (r.flow) /* a queue it went into is not drained fast enough: wait for it */
		conn_flow_hold(ch->conn, r.flow);
	return rc == 0 ? HANDLE_ROUTE_DONE : HANDLE_ROUTE_CONN_FAILED;
}

/* ---- consume, cancel, get ---- */

static int consume_reply_to(struct channel *ch, const struct amqp_basic_consume *m,
			    struct amqp_str tag)
{
	if (!m->no_ack)
		return channel_fail(ch, AMQP_PRECONDITION_FAILED, "reply consumer cannot acknowledge");
	if (ch->reply_consumer)
		return channel_fail(ch, AMQP_PRECONDITION_FAILED, "reply consumer already set");
	/* The token lets whoever knows it deliver to this channel: it must not be guessable from
	 * the names the broker hands out (those come from a fast, predictable generator). */
	char token[64];
	if (rng_secret_name(REPLY_TO_PREFIX, token, sizeof token) != 0)
		return conn_fail(ch->conn, AMQP_INTERNAL_ERROR, AMQP_BASIC_CONSUME,
				 "no random bytes for a reply-to token");
	ch->reply_to_token = strdup(token);
	if (!ch->reply_to_token ||
	    strmap_put(&ch->broker->reply_to, token, strlen(token), ch) != 0)
		return conn_fail(ch->conn, AMQP_INTERNAL_ERROR, AMQP_BASIC_CONSUME, "out of memory");
	/* A consumer record without a queue: kept only in the channel's tag map. */
	struct consumer *c = calloc(1, sizeof *c);
	if (!c || amqp_str_dup(&c->tag, tag) != 0) {
		free(c);
		return conn_fail(ch->conn, AMQP_INTERNAL_ERROR, AMQP_BASIC_CONSUME, "out of memory");
	}
	c->ch = ch;
	c->no_ack = true;
	list_init(&c->queue_link);
	list_init(&c->channel_link);
	if (strmap_put(&ch->consumers, tag.ptr, tag.len, c) != 0) {
		amqp_str_free(&c->tag);
		free(c);
		return conn_fail(ch->conn, AMQP_INTERNAL_ERROR, AMQP_BASIC_CONSUME, "out of memory");
	}
	ch->reply_consumer = c;
	if (m->nowait)
		return 0;
	struct amqp_method ok = { .id = AMQP_BASIC_CONSUME_OK };
	ok.u.basic_consume_ok.consumer_tag = tag;
	return channel_send(ch, &ok);
}

static int handle_basic_consume(struct channel *ch, const struct amqp_basic_consume *m)
{
	char tag_buf[64];
	struct amqp_str tag = m->consumer_tag;
	if (tag.len == 0) {
		rng_name(&ch->broker->rng, "amq.ctag-", tag_buf, sizeof tag_buf);
		tag = amqp_str_c(tag_buf);
	}
	if (strmap_get(&ch->consumers, tag.ptr, tag.len))
		return conn_fail(ch->conn, AMQP_NOT_ALLOWED, AMQP_BASIC_CONSUME,
				 "attempt to reuse consumer tag '%.*s'", AMQP_STR_ARGS(tag));
	if (amqp_str_eq_c(m->queue, REPLY_TO_QUEUE))
		return consume_reply_to(ch, m, tag);
	if (channel_check_perm(ch, AUTH_READ, AUTH_RESOURCE_QUEUE, channel_queue_name(ch, m->queue)))
		return 0;
	struct queue *q = handle_queue_lookup(ch, m->queue, NULL);
	if (!q)
		return 0;
	if (q->exclusive_consumer || (m->exclusive && q->consumer_count > 0))
		return channel_fail(ch, AMQP_ACCESS_REFUSED, "queue '%.*s' in vhost '%s' in exclusive use",
				    AMQP_STR_ARGS(q->name), vname(ch));
	int64_t priority = 0;
	struct amqp_value v;
	if (amqp_table_get(m->arguments, "x-priority", &v) &&
	    (v.type == 'T' || !amqp_value_as_int(&v, &priority)))
		return channel_fail(ch, AMQP_PRECONDITION_FAILED,
				    "invalid arg 'x-priority' for queue '%.*s' in vhost '%s': "
				    "\"expected integer, got %s\"",
				    AMQP_STR_ARGS(q->name), vname(ch), amqp_value_type_name(v.type));
	struct consumer *c = consumer_new(&channel_consumer_ops, ch, q, tag, m->no_ack,
					  m->exclusive, ch->prefetch_consumer, (int32_t)priority);
	if (!c || consumer_set_args(c, m->arguments) != 0) {
		consumer_free(c);
		return conn_fail(ch->conn, AMQP_INTERNAL_ERROR, AMQP_BASIC_CONSUME,
				 "out of memory consuming");
	}
	/* what the queue's kind requires of a consumer (streams: prefetch, manual acks, an
	 * offset; quorum queues: no global qos) */
	struct queue_consume req = { m->arguments, vname(ch), m->no_ack, ch->prefetch_consumer,
				     ch->prefetch_global };
	char err[256];
	int code = queue_consume(q, c, &req, err, sizeof err);
	if (code != 0) {
		consumer_free(c);
		return channel_fail(ch, code, "%s", err);
	}
	if (strmap_put(&ch->consumers, c->tag.ptr, c->tag.len, c) != 0) {
		consumer_free(c);
		return conn_fail(ch->conn, AMQP_INTERNAL_ERROR, AMQP_BASIC_CONSUME,
				 "out of memory consuming");
	}
	list_append(&ch->consumer_list, &c->channel_link);
	if (!m->nowait) {
		struct amqp_method ok = { .id = AMQP_BASIC_CONSUME_OK };
		ok.u.basic_consume_ok.consumer_tag = c->tag;
		if (channel_send(ch, &ok) != 0)
			return -1;
	}
	queue_schedule_dispatch(q);
	return 0;
}

static int handle_basic_cancel(struct channel *ch, const struct amqp_basic_cancel *m)
{
	struct consumer *c = strmap_get(&ch->consumers, m->consumer_tag.ptr, m->consumer_tag.len);
	if (c && c == ch->reply_consumer)
		channel_drop_reply_consumer(ch);
	else if (c)
		channel_cancel_consumer(ch, c);
	if (m->nowait)
		return 0;
	struct amqp_method ok = { .id = AMQP_BASIC_CANCEL_OK };
	ok.u.basic_cancel_ok.consumer_tag = m->consumer_tag;
	return channel_send(ch, &ok);
}

static int handle_basic_get(struct channel *ch, const struct amqp_basic_get *m)
{
	if (channel_check_perm(ch, AUTH_READ, AUTH_RESOURCE_QUEUE, channel_queue_name(ch, m->queue)))
		return 0;
	struct queue *q = handle_queue_lookup(ch, m->queue, NULL);
	struct qentry e = { 0 };
	char err[256];
	int code;
	if (!q)
		return 0;
	if ((code = queue_refuse(q, QUEUE_OP_GET, err, sizeof err)) != 0)
		return channel_fail(ch, code, "%s", err);
	if (!queue_get(q, &e)) {
		struct amqp_method empty = { .id = AMQP_BASIC_GET_EMPTY };
		ch->broker->stats.get_empty++;
		return channel_send(ch, &empty);
	}
	uint32_t dc = e.delivery_count + 1;
	uint64_t tag = channel_track(ch, e.msg, q, NULL, e.seq, dc, m->no_ack);
	struct queue_header h = queue_delivery_header(q, &e, dc, true);
	int rc = deliver_get_ok(ch, tag, e.redelivered, queue_ready_count(q), e.msg, h.name,
				h.value);
	q->stat_delivered++;
	ch->broker->stats.delivered++;
	ch->broker->stats.delivered_get++;
	ch->broker->stats.delivered_get_no_ack += m->no_ack;
	if (m->no_ack) /* consumed as it left */
		queue_settle(q, e.msg, e.seq, dc, QUEUE_SETTLE_ACK);
	return rc;
}

/* ---- settling ---- */

static int settle(struct channel *ch, int kind, uint64_t tag, bool multiple, bool requeue)
{
	if (ch->tx) {
		struct tx_op *op = calloc(1, sizeof *op);
		if (!op)
			return conn_fail(ch->conn, AMQP_INTERNAL_ERROR, AMQP_BASIC_ACK, "out of memory");
		op->kind = kind;
		op->tag = tag;
		op->multiple = multiple;
		op->requeue = requeue;
		if (ch->tx_tail)
			ch->tx_tail->next = op;
		else
			ch->tx_head = op;
		ch->tx_tail = op;
		return 0;
	}
	return channel_settle(ch, tag, multiple, kind == TX_ACK, requeue);
}

static int handle_basic_qos(struct channel *ch, const struct amqp_basic_qos *m)
{
	if (m->prefetch_size != 0)
		return conn_fail(ch->conn, AMQP_NOT_IMPLEMENTED, AMQP_BASIC_QOS, "prefetch_size!=0 (%u)",
				 (unsigned)m->prefetch_size);
	if (m->global) {
		ch->prefetch_global = m->prefetch_count;
		struct list *pos;
		list_for_each(pos, &ch->consumer_list)
			queue_schedule_dispatch(list_entry(pos, struct consumer, channel_link)->q);
	} else {
		/* RabbitMQ 3.10 (rabbit_channel) lifts the channel-wide limit here too. */
		ch->prefetch_consumer = m->prefetch_count;
		ch->prefetch_global = 0;
	}
	struct amqp_method ok = { .id = AMQP_BASIC_QOS_OK };
	return channel_send(ch, &ok);
}

static int handle_basic_recover(struct channel *ch, bool requeue, bool async)
{
	if (!requeue)
		return conn_fail(ch->conn, AMQP_NOT_IMPLEMENTED,
				 async ? AMQP_BASIC_RECOVER_ASYNC : AMQP_BASIC_RECOVER, "requeue=false");
	/* RabbitMQ 3.10 crashes the connection (541) on a stream's deliveries: Warren refuses
	 * with the stream's 540, as it refuses their nack */
	int rc = channel_recover_refused(ch);
	if (rc != 0)
		return rc;
	channel_requeue_all(ch);
	if (async)
		return 0;
	struct amqp_method ok = { .id = AMQP_BASIC_RECOVER_OK };
	return channel_send(ch, &ok);
}

int handle_basic(struct channel *ch, const struct amqp_method *m)
{
	switch (m->id) {
	case AMQP_BASIC_QOS:
		return handle_basic_qos(ch, &m->u.basic_qos);
	case AMQP_BASIC_CONSUME:
		return handle_basic_consume(ch, &m->u.basic_consume);
	case AMQP_BASIC_CANCEL:
		return handle_basic_cancel(ch, &m->u.basic_cancel);
	case AMQP_BASIC_GET:
		return handle_basic_get(ch, &m->u.basic_get);
	case AMQP_BASIC_ACK:
		return settle(ch, TX_ACK, m->u.basic_ack.delivery_tag, m->u.basic_ack.multiple,
			      false);
	case AMQP_BASIC_NACK:
		return settle(ch, TX_NACK, m->u.basic_nack.delivery_tag, m->u.basic_nack.multiple,
			      m->u.basic_nack.requeue);
	case AMQP_BASIC_REJECT:
		return settle(ch, TX_REJECT, m->u.basic_reject.delivery_tag, false,
			      m->u.basic_reject.requeue);
	case AMQP_BASIC_RECOVER:
		return handle_basic_recover(ch, m->u.basic_recover.requeue, false);
	case AMQP_BASIC_RECOVER_ASYNC:
		return handle_basic_recover(ch, m->u.basic_recover_async.requeue, true);
	default:
		return conn_fail(ch->conn, AMQP_COMMAND_INVALID, m->id, "unimplemented method");
	}
}
