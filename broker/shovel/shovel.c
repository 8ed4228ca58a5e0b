/* broker/shovel/shovel.c: the shovel workers (shovel.h). Each shovel connects its source and
 * destination, prepares the destination (its queue declared if missing, confirms selected),
 * then the source (its queue declared if missing, or a private queue bound to the source
 * exchange; prefetch; the message count for delete-after queue-length), and consumes. Every
 * delivery is published to the destination with the exchange and routing key the definition
 * asks for (or the message's own), its properties kept, optionally with the x-shovelled and
 * x-shovelled-timestamp headers.
 *
 * on-confirm keeps a ring of (publish sequence -> source delivery tag): a confirm from the
 * destination acknowledges the matching source deliveries (a nack requeues them there). When
 * the destination's output passes AMQP_CLIENT_OUTPUT_HIGH the source is not read until it
 * drains. Any failure closes both connections; the shovel shows "terminated" with the reason
 * (the remote's reply code and text when it gave one) and starts again after reconnect-delay
 * seconds. A "queue exists?" check uses a second channel, so that a 404 does not close the
 * one the shovel works on, as RabbitMQ's ensure_queue does. */
#include "broker/shovel/shovel.h"

#include <arpa/inet.h>
#include <event2/dns.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "amqp/props.h"
#include "amqp/table.h"
#include "broker/admin/admin.h"
#include "broker/admin/parameters.h"
#include "broker/auth/auth.h"
#include "broker/core/broker.h"
#include "broker/core/config.h"
#include "broker/core/event.h"
#include "broker/core/list.h"
#include "broker/core/log.h"
#include "broker/core/time.h"
#include "broker/net/conn.h"
#include "broker/shovel/amqp_client.h"
#include "broker/shovel/shovel_config.h"
#include "broker/shovel/shovel_uri.h"

#define SHOVEL_USER "rmq-shovel" /* RabbitMQ's ?SHOVEL_USER */
#define SHOVEL_PROBE_CHANNEL 2

enum shovel_state { SHOVEL_STARTING, SHOVEL_RUNNING, SHOVEL_TERMINATED };

/* Where a side's preparation is: each step waits for one reply. */
enum shovel_step {
	STEP_CONNECTING,
	STEP_PROBE_OPEN,   /* channel 2 opening, to ask whether the queue exists */
	STEP_PROBE,        /* queue.declare passive on channel 2 */
	STEP_DECLARE,      /* queue.declare on channel 1 (the queue was missing) */
	STEP_XQUEUE,       /* source exchange: a private queue declared */
	STEP_BIND,         /* ... and bound */
	STEP_QOS,
	STEP_COUNT,        /* delete-after queue-length: how many messages are there */
	STEP_CONSUME,
	STEP_CONFIRM,      /* destination: confirm.select */
	STEP_READY,
};

struct shovels {
	struct broker *b;
	struct list all;
	struct evdns_base *dns;
	struct user *internal; /* the user of connections to this broker (never in b->users) */
	bool stopping;         /* the broker is going away: connections end without goodbye */
};

struct shovel_inflight {
	uint64_t tag;
	bool settled;
};

struct shovel {
	struct list link;
	struct shovels *all;
	struct broker *b;
	char *vhost, *name;
	struct shovel_config cfg;
	enum shovel_state state;
	char reason[1024];
	time_t since;
	uint64_t attempt;
	struct amqp_client *src, *dst;
	struct shovel_uri src_uri, dst_uri;
	bool src_open, dst_open;
	enum shovel_step src_step, dst_step;
	char *queue; /* the queue consumed (server-named for a source exchange) */
	/* on-confirm: sequence ring_base is ring[ring_head] */
	struct shovel_inflight *ring;
	size_t ring_head, ring_count, ring_cap;
	uint64_t ring_base, next_seq;
	int64_t remaining, remaining_unacked; /* delete-after; -1: unlimited */
	struct broker_timer restart;
	struct deferred finish; /* delete-after reached: the shovel removes its parameter */
	uint64_t forwarded;
};

static void shovel_start(struct shovel *sh);

/* ---- status ---- */

static const char *shovel_state_name(enum shovel_state s)
{
	return s == SHOVEL_RUNNING ? "running" : s == SHOVEL_STARTING ? "starting" : "terminated";
}

static void shovel_report(struct shovel *sh, enum shovel_state state, const char *reason)
{
	sh->state = state;
	sh->since = time(NULL);
	snprintf(sh->reason, sizeof sh->reason, "%s", reason ? reason : "");
	if (state == SHOVEL_TERMINATED)
		EVENT_EMIT(sh->b, "shovel.worker.status", EV_CSTR("name", sh->name),
			   EV_CSTR("vhost", sh->vhost), EV_CSTR("status", "terminated"),
			   EV_CSTR("reason", sh->reason));
	else
		EVENT_EMIT(sh->b, "shovel.worker.status", EV_CSTR("name", sh->name),
			   EV_CSTR("vhost", sh->vhost), EV_CSTR("status", shovel_state_name(state)));
}

static json_t *shovel_status_json(struct shovel *sh)
{
	char ts[32];
	struct tm tm;
	localtime_r(&sh->since, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
	json_t *o = json_object();
	json_object_set_new(o, "node", json_string(broker_node_name(sh->b)));
	json_object_set_new(o, "timestamp", json_string(ts));
	json_object_set_new(o, "name", json_string(sh->name));
	json_object_set_new(o, "vhost", json_string(sh->vhost));
	json_object_set_new(o, "type", json_string("dynamic"));
	json_object_set_new(o, "state", json_string(shovel_state_name(sh->state)));
	if (sh->state == SHOVEL_TERMINATED) {
		json_object_set_new(o, "reason", json_string(sh->reason));
		return o;
	}
	if (sh->state != SHOVEL_RUNNING)
		return o;
	const struct shovel_config *c = &sh->cfg;
	json_object_set_new(o, "src_uri", json_string(sh->src_uri.display));
	json_object_set_new(o, "src_protocol", json_string("amqp091"));
	json_object_set_new(o, "dest_protocol", json_string("amqp091"));
	json_object_set_new(o, "dest_uri", json_string(sh->dst_uri.display));
	if (c->src_queue) {
		json_object_set_new(o, "src_queue", json_string(c->src_queue));
	} else {
		json_object_set_new(o, "src_exchange", json_string(c->src_exchange));
		json_object_set_new(o, "src_exchange_key", json_string(c->src_exchange_key));
	}
	if (c->dest_queue)
		json_object_set_new(o, "dest_queue", json_string(c->dest_queue));
	if (c->dest_exchange)
		json_object_set_new(o, "dest_exchange", json_string(c->dest_exchange));
	if (c->dest_exchange_key)
		json_object_set_new(o, "dest_exchange_key", json_string(c->dest_exchange_key));
	return o;
}

/* ---- stopping ---- */

static void shovel_disconnect(struct shovel *sh)
{
	if (sh->all->stopping) {
		amqp_client_abort(sh->src);
		amqp_client_abort(sh->dst);
	} else {
		amqp_client_free(sh->src);
		amqp_client_free(sh->dst);
	}
	sh->src = sh->dst = NULL;
	sh->src_open = sh->dst_open = false;
	sh->src_step = sh->dst_step = STEP_CONNECTING;
	sh->ring_head = sh->ring_count = 0;
	shovel_uri_free(&sh->src_uri);
	shovel_uri_free(&sh->dst_uri);
	free(sh->queue);
	sh->queue = NULL;
}

/* Something went wrong: both connections go (the source requeues what was not acked), and
 * the shovel starts again after reconnect-delay seconds, unless that is 0. */
static void shovel_fail(struct shovel *sh, const char *side, const char *why)
{
	char reason[1024];
	const struct shovel_uri *u = strcmp(side, "source") == 0 ? &sh->src_uri : &sh->dst_uri;
	snprintf(reason, sizeof reason, "%s %s: %s", side, u->display ? u->display : "", why);
	log_warn(sh->b->log, "shovel '%s' in vhost '%s' failed: %s%s", sh->name, sh->vhost, reason,
		 sh->cfg.reconnect_delay > 0 ? "; it will try again" : "");
	shovel_disconnect(sh);
	shovel_report(sh, SHOVEL_TERMINATED, reason);
	broker_cancel_deferred(sh->b, &sh->finish);
	if (sh->cfg.reconnect_delay > 0)
		broker_timer_set(sh->b, &sh->restart,
				 time_now_ms() + (uint64_t)(sh->cfg.reconnect_delay * 1000));
}

static void shovel_free(struct shovel *sh)
{
	shovel_disconnect(sh);
	broker_timer_free(&sh->restart);
	broker_cancel_deferred(sh->b, &sh->finish);
	EVENT_EMIT(sh->b, "shovel.worker.removed", EV_CSTR("name", sh->name),
		   EV_CSTR("vhost", sh->vhost));
	list_remove(&sh->link);
	shovel_config_free(&sh->cfg);
	free(sh->ring);
	free(sh->vhost);
	free(sh->name);
	free(sh);
}

static struct shovel *shovel_find(struct shovels *s, const char *vhost, const char *name)
{
	struct list *pos;
	if (!s)
		return NULL;
	list_for_each(pos, &s->all)
	{
		struct shovel *sh = list_entry(pos, struct shovel, link);
		if (strcmp(sh->vhost, vhost) == 0 && strcmp(sh->name, name) == 0)
			return sh;
	}
	return NULL;
}

/* delete-after reached: as RabbitMQ, the shovel deletes its own parameter (from a deferred
 * task: never under a client's callback). */
static void shovel_on_finish(struct deferred *d)
{
	struct shovel *sh = (struct shovel *)((char *)d - offsetof(struct shovel, finish));
	log_info(sh->b->log, "shovel '%s' in vhost '%s' is stopping: it was configured to autodelete and "
		 "the transfer is complete", sh->name, sh->vhost);
	char *vhost = strdup(sh->vhost), *name = strdup(sh->name);
	if (vhost && name)
		parameters_clear(sh->b, "shovel", vhost, name); /* frees sh */
	free(vhost);
	free(name);
}

static void shovel_check_remaining(struct shovel *sh)
{
	if (sh->remaining == 0)
		broker_defer(sh->b, &sh->finish);
}

/* ---- the steps ---- */

static void shovel_queue_declare(struct amqp_client *c, uint16_t channel, const char *queue,
				 bool passive, bool durable, bool exclusive,
				 const struct amqp_buf *args)
{
	struct amqp_method m = { .id = AMQP_QUEUE_DECLARE };
	m.u.queue_declare.queue = amqp_str_c(queue ? queue : "");
	m.u.queue_declare.passive = passive;
	m.u.queue_declare.durable = durable;
	m.u.queue_declare.exclusive = exclusive;
	if (args)
		m.u.queue_declare.arguments = (struct amqp_table){ args->data, (uint32_t)args->len };
	amqp_client_send(c, channel, &m);
}

/* "Does the queue exist?" on channel 2 (a 404 closes only that channel). */
static enum shovel_step shovel_probe(struct amqp_client *c)
{
	struct amqp_method m = { .id = AMQP_CHANNEL_OPEN };
	amqp_client_send(c, SHOVEL_PROBE_CHANNEL, &m);
	return STEP_PROBE_OPEN;
}

static void shovel_src_next(struct shovel *sh, enum shovel_step step);

static void shovel_dst_next(struct shovel *sh, enum shovel_step step)
{
	sh->dst_step = step;
	if (step == STEP_CONFIRM) {
		if (sh->cfg.ack_mode != SHOVEL_ON_CONFIRM) {
			shovel_dst_next(sh, STEP_READY);
			return;
		}
		struct amqp_method m = { .id = AMQP_CONFIRM_SELECT };
		sh->next_seq = 1;
		sh->ring_base = 1;
		amqp_client_send(sh->dst, 1, &m);
		return;
	}
	if (step == STEP_READY && sh->src_open && sh->src_step == STEP_CONNECTING)
		shovel_src_next(sh, sh->cfg.src_queue ? shovel_probe(sh->src) : STEP_XQUEUE);
}

static void shovel_src_next(struct shovel *sh, enum shovel_step step)
{
	const struct shovel_config *c = &sh->cfg;
	struct amqp_method m = { 0 };
	sh->src_step = step;
	switch (step) {
	case STEP_XQUEUE:
		shovel_queue_declare(sh->src, 1, "", false, false, true, NULL);
		return;
	case STEP_QOS:
		if (c->ack_mode == SHOVEL_NO_ACK) {
			shovel_src_next(sh, STEP_COUNT);
			return;
		}
		m.id = AMQP_BASIC_QOS;
		m.u.basic_qos.prefetch_count = c->prefetch;
		amqp_client_send(sh->src, 1, &m);
		return;
	case STEP_COUNT:
		sh->remaining = c->delete_after == SHOVEL_DELETE_COUNT ? (int64_t)c->delete_count : -1;
		if (c->delete_after == SHOVEL_DELETE_QUEUE_LENGTH) {
			shovel_queue_declare(sh->src, 1, sh->queue, true, false, false, NULL);
			return;
		}
		sh->remaining_unacked = sh->remaining;
		if (sh->remaining == 0) {
			shovel_check_remaining(sh);
			return;
		}
		shovel_src_next(sh, STEP_CONSUME);
		return;
	case STEP_CONSUME:
		m.id = AMQP_BASIC_CONSUME;
		m.u.basic_consume.queue = amqp_str_c(sh->queue);
		m.u.basic_consume.no_ack = c->ack_mode == SHOVEL_NO_ACK;
		m.u.basic_consume.arguments = (struct amqp_table){ c->consumer_args.data,
								   (uint32_t)c->consumer_args.len };
		amqp_client_send(sh->src, 1, &m);
		return;
	case STEP_READY:
		log_info(sh->b->log, "shovel '%s' in vhost '%s' is running: %s -> %s", sh->name, sh->vhost,
			 sh->src_uri.display, sh->dst_uri.display);
		shovel_report(sh, SHOVEL_RUNNING, NULL);
		return;
	default:
		return;
	}
}

/* A side's reply while it is being prepared (queue probe and declare are the same for both). */
static void shovel_step_reply(struct shovel *sh, bool is_src, uint16_t channel,
			      const struct amqp_method *m)
{
	struct amqp_client *c = is_src ? sh->src : sh->dst;
	enum shovel_step step = is_src ? sh->src_step : sh->dst_step;
	const char *queue = is_src ? sh->cfg.src_queue : sh->cfg.dest_queue;
	void (*next)(struct shovel *, enum shovel_step) = is_src ? shovel_src_next : shovel_dst_next;
	enum shovel_step after = is_src ? STEP_QOS : STEP_CONFIRM;

	if (channel == SHOVEL_PROBE_CHANNEL) {
		if (step == STEP_PROBE_OPEN && m->id == AMQP_CHANNEL_OPEN_OK) {
			shovel_queue_declare(c, SHOVEL_PROBE_CHANNEL, queue, true, false, false, NULL);
			if (is_src)
				sh->src_step = STEP_PROBE;
			else
				sh->dst_step = STEP_PROBE;
		} else if (step == STEP_PROBE && m->id == AMQP_QUEUE_DECLARE_OK) {
			struct amqp_method close = { .id = AMQP_CHANNEL_CLOSE };
			close.u.channel_close.reply_code = 200;
			close.u.channel_close.reply_text = AMQP_STR_LIT("Goodbye");
			amqp_client_send(c, SHOVEL_PROBE_CHANNEL, &close);
			if (is_src && !(sh->queue = strdup(queue))) {
				shovel_fail(sh, "source", "out of memory");
				return;
			}
			next(sh, after);
		}
		return;
	}
	switch (m->id) {
	case AMQP_QUEUE_DECLARE_OK:
		if (step == STEP_DECLARE) {
			if (is_src && !(sh->queue = strdup(queue))) {
				shovel_fail(sh, "source", "out of memory");
				return;
			}
			next(sh, after);
		} else if (step == STEP_XQUEUE) {
			const struct amqp_str q = m->u.queue_declare_ok.queue;
			sh->queue = malloc((size_t)q.len + 1);
			if (!sh->queue) {
				shovel_fail(sh, "source", "out of memory");
				return;
			}
			memcpy(sh->queue, q.ptr, q.len);
			sh->queue[q.len] = '\0';
			struct amqp_method b = { .id = AMQP_QUEUE_BIND };
			b.u.queue_bind.queue = amqp_str_c(sh->queue);
			b.u.queue_bind.exchange = amqp_str_c(sh->cfg.src_exchange);
			b.u.queue_bind.routing_key = amqp_str_c(sh->cfg.src_exchange_key);
			amqp_client_send(c, 1, &b);
			sh->src_step = STEP_BIND;
		} else if (step == STEP_COUNT) {
			sh->remaining = m->u.queue_declare_ok.message_count;
			sh->remaining_unacked = sh->remaining;
			if (sh->remaining == 0)
				shovel_check_remaining(sh);
			else
				shovel_src_next(sh, STEP_CONSUME);
		}
		return;
	case AMQP_QUEUE_BIND_OK:
		if (step == STEP_BIND)
			shovel_src_next(sh, STEP_QOS);
		return;
	case AMQP_BASIC_QOS_OK:
		if (step == STEP_QOS)
			shovel_src_next(sh, STEP_COUNT);
		return;
	case AMQP_BASIC_CONSUME_OK:
		if (step == STEP_CONSUME)
			shovel_src_next(sh, STEP_READY);
		return;
	case AMQP_CONFIRM_SELECT_OK:
		if (!is_src && step == STEP_CONFIRM)
			shovel_dst_next(sh, STEP_READY);
		return;
	default:
		return;
	}
}

/* ---- confirms ---- */

static int shovel_ring_push(struct shovel *sh, uint64_t tag)
{
	if (sh->ring_count == sh->ring_cap) {
		size_t cap = sh->ring_cap ? sh->ring_cap * 2 : 64;
		struct shovel_inflight *r = malloc(cap * sizeof *r);
		if (!r)
			return -1;
		for (size_t i = 0; i < sh->ring_count; i++)
			r[i] = sh->ring[(sh->ring_head + i) % sh->ring_cap];
		free(sh->ring);
		sh->ring = r;
		sh->ring_cap = cap;
		sh->ring_head = 0;
	}
	sh->ring[(sh->ring_head + sh->ring_count) % sh->ring_cap] = (struct shovel_inflight){ tag,
											     false };
	sh->ring_count++;
	return 0;
}

/* The destination confirmed (ack) or refused (nack) sequence seq (and, multiple, all before
 * it): the matching source deliveries are acknowledged or requeued. */
static void shovel_confirmed(struct shovel *sh, uint64_t seq, bool multiple, bool ack)
{
	if (seq < sh->ring_base || seq - sh->ring_base >= sh->ring_count)
		return; /* already settled, or not ours */
	size_t at = (size_t)(seq - sh->ring_base);
	size_t settled = 0;
	uint64_t tag = sh->ring[(sh->ring_head + at) % sh->ring_cap].tag;
	if (multiple) {
		for (size_t i = 0; i <= at; i++) {
			struct shovel_inflight *e = &sh->ring[(sh->ring_head + i) % sh->ring_cap];
			settled += !e->settled;
			e->settled = true;
		}
	} else {
		struct shovel_inflight *e = &sh->ring[(sh->ring_head + at) % sh->ring_cap];
		settled = !e->settled;
		e->settled = true;
	}
	while (sh->ring_count && sh->ring[sh->ring_head].settled) {
		sh->ring_head = (sh->ring_head + 1) % sh->ring_cap;
		sh->ring_count--;
		sh->ring_base++;
	}
	struct amqp_method m = { .id = ack ? AMQP_BASIC_ACK : AMQP_BASIC_NACK };
	if (ack) {
		m.u.basic_ack.delivery_tag = tag;
		m.u.basic_ack.multiple = multiple;
	} else {
		m.u.basic_nack.delivery_tag = tag;
		m.u.basic_nack.multiple = multiple;
		m.u.basic_nack.requeue = true;
	}
	if (sh->src)
		amqp_client_send(sh->src, 1, &m);
	if (sh->remaining > 0) {
		sh->remaining -= (int64_t)settled < sh->remaining ? (int64_t)settled : sh->remaining;
		shovel_check_remaining(sh);
	}
}

/* ---- forwarding ---- */

/* x-shovelled: RabbitMQ's table of where the message came from, prepended to an existing
 * array of them (rabbit_basic:prepend_table_header). */
static void shovel_put_forward_header(struct shovel *sh, struct amqp_buf *h,
				      struct amqp_table old)
{
	struct amqp_buf t;
	struct amqp_value prev;
	const struct shovel_config *c = &sh->cfg;
	amqp_buf_init(&t);
#define PUT(k, v)                                               \
	do {                                                    \
		amqp_buf_put_shortstr(&t, AMQP_STR_LIT(k));     \
		amqp_buf_put_value_longstr(&t, amqp_str_c(v)); \
	} while (0)
	PUT("shovelled-by", broker_node_name(sh->b));
	PUT("shovel-type", "dynamic");
	PUT("shovel-name", sh->name);
	PUT("shovel-vhost", sh->vhost);
	PUT("src-uri", sh->src_uri.display);
	PUT("dest-uri", sh->dst_uri.display);
	if (c->src_queue) {
		PUT("src-queue", c->src_queue);
	} else {
		PUT("src-exchange", c->src_exchange);
		PUT("src-exchange-key", c->src_exchange_key);
	}
	if (c->dest_exchange)
		PUT("dest-exchange", c->dest_exchange);
	if (c->dest_exchange_key)
		PUT("dest-exchange-key", c->dest_exchange_key);
	if (c->dest_queue)
		PUT("dest-queue", c->dest_queue);
#undef PUT
	amqp_buf_put_shortstr(h, AMQP_STR_LIT("x-shovelled"));
	amqp_buf_put_u8(h, 'A');
	size_t at = amqp_buf_table_begin(h);
	amqp_buf_put_u8(h, 'F');
	amqp_buf_put_table(h, (struct amqp_table){ t.data, (uint32_t)t.len });
	if (old.len && amqp_table_get(old, "x-shovelled", &prev) && prev.type == 'A')
		amqp_buf_put(h, prev.v.table.ptr, prev.v.table.len);
	amqp_buf_table_end(h, at);
	if (t.oom)
		h->oom = true;
	amqp_buf_free(&t);
}

/* The properties to publish with: the delivered bytes as they are, unless the definition
 * adds headers or sets properties. 0, or -1 out of memory. out is reset and filled only in
 * the second case (*props points at it then). */
static int shovel_props(struct shovel *sh, const uint8_t **props, size_t *len, struct amqp_buf *out)
{
	const struct shovel_config *c = &sh->cfg;
	if (!c->add_forward_headers && !c->add_timestamp_header && !c->publish_properties)
		return 0;
	struct amqp_basic_props p;
	if (amqp_props_decode(&p, *props, *len) != 0)
		return 0; /* cannot be: the source sent them; forwarded untouched */
	struct amqp_buf h;
	amqp_buf_init(&h);
	if (c->add_forward_headers || c->add_timestamp_header) {
		/* what is replaced: the timestamp; what is prepended to: x-shovelled */
		struct amqp_table old = (p.flags & AMQP_PROP_HEADERS) ? p.headers :
									(struct amqp_table){ 0 };
		const char *skip[3];
		size_t n = 0;
		if (c->add_forward_headers)
			skip[n++] = "x-shovelled";
		if (c->add_timestamp_header)
			skip[n++] = "x-shovelled-timestamp";
		skip[n] = NULL;
		amqp_buf_put_entries_except(&h, old, skip);
		if (c->add_forward_headers)
			shovel_put_forward_header(sh, &h, old);
		if (c->add_timestamp_header) {
			amqp_buf_put_shortstr(&h, AMQP_STR_LIT("x-shovelled-timestamp"));
			amqp_buf_put_value_long(&h, (int64_t)time(NULL));
		}
		p.headers = (struct amqp_table){ h.data, (uint32_t)h.len };
		p.flags |= AMQP_PROP_HEADERS;
	}
	if (c->publish_properties) {
		const char *k;
		json_t *v;
		json_object_foreach(c->publish_properties, k, v)
			admin_prop_from_json(&p, k, v); /* checked by shovel_config.c */
	}
	amqp_buf_reset(out);
	amqp_props_encode(&p, out);
	bool oom = h.oom || out->oom;
	amqp_buf_free(&h);
	if (oom)
		return -1;
	*props = out->data;
	*len = out->len;
	return 0;
}

static void shovel_on_delivery(struct amqp_client *c, void *arg, const struct amqp_client_delivery *d)
{
	struct shovel *sh = arg;
	const struct shovel_config *cfg = &sh->cfg;
	if (c != sh->src || sh->state != SHOVEL_RUNNING || !sh->dst)
		return; /* not consuming yet, or stopping: the source requeues it */
	if (sh->remaining_unacked == 0)
		return; /* delete-after: enough are on their way; the rest go back at the end */
	struct amqp_str x = d->exchange, rk = d->routing_key;
	if (cfg->dest_queue) {
		x = AMQP_STR_LIT("");
		rk = amqp_str_c(cfg->dest_queue);
	} else {
		if (cfg->dest_exchange)
			x = amqp_str_c(cfg->dest_exchange);
		if (cfg->dest_exchange_key)
			rk = amqp_str_c(cfg->dest_exchange_key);
	}
	const uint8_t *props = d->props;
	size_t props_len = d->props_len;
	struct amqp_buf pb;
	amqp_buf_init(&pb);
	if (shovel_props(sh, &props, &props_len, &pb) != 0 ||
	    (cfg->ack_mode == SHOVEL_ON_CONFIRM && shovel_ring_push(sh, d->delivery_tag) != 0)) {
		amqp_buf_free(&pb);
		shovel_fail(sh, "destination", "out of memory forwarding a message");
		return;
	}
	int rc = amqp_client_publish(sh->dst, x, rk, props, props_len, d->body, d->body_len);
	amqp_buf_free(&pb);
	if (rc != 0)
		return; /* the destination is gone: its `closed` follows */
	sh->forwarded++;
	if (cfg->ack_mode == SHOVEL_ON_CONFIRM) {
		sh->next_seq++;
		if (sh->remaining_unacked > 0)
			sh->remaining_unacked--;
	} else {
		if (cfg->ack_mode == SHOVEL_ON_PUBLISH) {
			struct amqp_method m = { .id = AMQP_BASIC_ACK };
			m.u.basic_ack.delivery_tag = d->delivery_tag;
			amqp_client_send(sh->src, 1, &m);
		}
		if (sh->remaining > 0) {
			sh->remaining--;
			sh->remaining_unacked = sh->remaining;
			shovel_check_remaining(sh);
		}
	}
	if (amqp_client_output_len(sh->dst) > AMQP_CLIENT_OUTPUT_HIGH)
		amqp_client_pause(sh->src, true);
}

/* ---- client callbacks ---- */

static void shovel_on_opened(struct amqp_client *c, void *arg)
{
	struct shovel *sh = arg;
	if (c == sh->dst) {
		sh->dst_open = true;
		shovel_dst_next(sh, sh->cfg.dest_queue ? shovel_probe(c) : STEP_CONFIRM);
	} else {
		sh->src_open = true;
		if (sh->dst_step == STEP_READY && sh->src_step == STEP_CONNECTING)
			shovel_src_next(sh, sh->cfg.src_queue ? shovel_probe(c) : STEP_XQUEUE);
	}
}

static void shovel_on_method(struct amqp_client *c, void *arg, uint16_t channel,
			     const struct amqp_method *m)
{
	struct shovel *sh = arg;
	bool is_src = c == sh->src;
	if (channel == 1 && m->id == AMQP_BASIC_CANCEL) {
		shovel_fail(sh, is_src ? "source" : "destination",
			    "the server cancelled the shovel's consumer (was its queue deleted?)");
		return;
	}
	if (!is_src && channel == 1 && m->id == AMQP_BASIC_ACK) {
		shovel_confirmed(sh, m->u.basic_ack.delivery_tag, m->u.basic_ack.multiple, true);
		return;
	}
	if (!is_src && channel == 1 && m->id == AMQP_BASIC_NACK) {
		shovel_confirmed(sh, m->u.basic_nack.delivery_tag, m->u.basic_nack.multiple, false);
		return;
	}
	shovel_step_reply(sh, is_src, channel, m);
}

static void shovel_on_channel_closed(struct amqp_client *c, void *arg, uint16_t channel,
				     uint16_t code, const char *text)
{
	struct shovel *sh = arg;
	bool is_src = c == sh->src;
	enum shovel_step step = is_src ? sh->src_step : sh->dst_step;
	if (channel != SHOVEL_PROBE_CHANNEL)
		return;
	if ((step == STEP_PROBE || step == STEP_PROBE_OPEN) && code == 404) {
		/* missing: declared durable with the definition's arguments (ensure_queue) */
		const char *queue = is_src ? sh->cfg.src_queue : sh->cfg.dest_queue;
		shovel_queue_declare(c, 1, queue, false, true, false,
				     is_src ? &sh->cfg.src_queue_args : &sh->cfg.dest_queue_args);
		if (is_src)
			sh->src_step = STEP_DECLARE;
		else
			sh->dst_step = STEP_DECLARE;
		return;
	}
	char why[400];
	snprintf(why, sizeof why, "%u %s", (unsigned)code, text);
	shovel_fail(sh, is_src ? "source" : "destination", why);
}

static void shovel_on_closed(struct amqp_client *c, void *arg, const char *why)
{
	struct shovel *sh = arg;
	shovel_fail(sh, c == sh->src ? "source" : "destination", why);
}

static void shovel_on_drained(struct amqp_client *c, void *arg)
{
	struct shovel *sh = arg;
	if (c == sh->dst && sh->src)
		amqp_client_pause(sh->src, false);
}

static const struct amqp_client_ops shovel_client_ops = {
	.opened = shovel_on_opened,
	.method = shovel_on_method,
	.channel_closed = shovel_on_channel_closed,
	.delivery = shovel_on_delivery,
	.closed = shovel_on_closed,
	.drained = shovel_on_drained,
};

/* ---- connecting ---- */

/* The broker's own connection user: logs in to any vhost, never listed. */
static struct user *shovels_internal_user(struct shovels *s, const char *vhost)
{
	if (!s->internal) {
		struct user *u = calloc(1, sizeof *u);
		if (!u || !(u->name = strdup(SHOVEL_USER)) || !(u->tags = strdup(""))) {
			if (u)
				free(u->name);
			free(u);
			return NULL;
		}
		u->broker = s->b;
		strmap_init(&u->permissions);
		strmap_init(&u->topic_permissions);
		s->internal = u; /* no password: it cannot log in over the network */
	}
	if (!auth_permission_find(s->internal, vhost) &&
	    auth_permission_set(s->internal, vhost, ".*", ".*", ".*") != 0)
		return NULL;
	return s->internal;
}

/* A connection to this broker without the network: one end of a socketpair becomes a broker
 * connection logged in as the shovel user; the other is the client's. -1 on failure. */
static int shovel_local_fd(struct shovel *sh, const struct shovel_uri *u, const char *side)
{
	int sv[2];
	struct user *user = shovels_internal_user(sh->all, u->vhost);
	if (!user || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	struct sockaddr_in peer = { .sin_family = AF_INET };
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct conn *c = conn_new(sh->b, sv[0], (const struct sockaddr *)&peer, sizeof peer, NULL);
	if (!c) {
		close(sv[1]);
		return -1;
	}
	c->trusted_user = user;
	snprintf(c->name, sizeof c->name, "<shovel %s/%s %s>", sh->vhost, sh->name, side);
	return sv[1];
}

static struct amqp_client *shovel_connect(struct shovel *sh, char **uris, size_t count,
					  struct shovel_uri *u, const char *side)
{
	char err[1024], conn_name[300];
	const char *text = uris[sh->attempt % count];
	if (shovel_uri_parse(text, u, err, sizeof err) != 0) {
		shovel_fail(sh, side, err);
		return NULL;
	}
	int fd = -1;
	if (u->local && (fd = shovel_local_fd(sh, u, side)) < 0) {
		shovel_fail(sh, side, "cannot open a connection to this broker");
		return NULL;
	}
	snprintf(conn_name, sizeof conn_name, "Shovel %s", sh->name);
	uint64_t max_body = sh->b->cfg->max_message_size ? sh->b->cfg->max_message_size :
							   (uint64_t)512 << 20;
	struct amqp_client_config cfg = { u, conn_name, sh->all->dns, fd, max_body };
	struct amqp_client *c = amqp_client_new(sh->b, &cfg, &shovel_client_ops, sh, err,
						sizeof err);
	if (!c)
		shovel_fail(sh, side, err);
	return c;
}

static void shovel_start(struct shovel *sh)
{
	shovel_disconnect(sh);
	shovel_report(sh, SHOVEL_STARTING, NULL);
	sh->remaining = sh->remaining_unacked = -1;
	sh->attempt++;
	sh->src = shovel_connect(sh, sh->cfg.src_uris, sh->cfg.src_uri_count, &sh->src_uri,
				 "source");
	if (!sh->src)
		return;
	sh->dst = shovel_connect(sh, sh->cfg.dest_uris, sh->cfg.dest_uri_count, &sh->dst_uri,
				 "destination");
}

static void shovel_on_restart(struct broker_timer *t)
{
	struct shovel *sh = (struct shovel *)((char *)t - offsetof(struct shovel, restart));
	shovel_start(sh);
}

/* ---- the "shovel" runtime parameter component ---- */

static int shovel_param_validate(struct broker *b, const char *vhost, const char *name,
				 json_t *value, const struct user *user, char *err,
				 size_t errlen)
{
	return shovel_config_parse(b, vhost, name, value, user, NULL, err, errlen);
}

static void shovel_param_clear(struct broker *b, const char *vhost, const char *name)
{
	struct shovel *sh = shovel_find(b->shovels, vhost, name);
	if (sh) {
		log_info(b->log, "shovel '%s' in vhost '%s' deleted", name, vhost);
		shovel_free(sh);
	}
}

static void shovel_param_set(struct broker *b, const char *vhost, const char *name,
			     json_t *value)
{
	char err[2048];
	struct shovels *s = b->shovels;
	struct shovel *sh = shovel_find(s, vhost, name);
	if (sh)
		shovel_free(sh); /* a new definition: a new worker */
	sh = calloc(1, sizeof *sh);
	if (!sh || !(sh->vhost = strdup(vhost)) || !(sh->name = strdup(name)) ||
	    shovel_config_parse(b, vhost, name, value, NULL, &sh->cfg, err, sizeof err) != 0) {
		log_error(b->log, "cannot start shovel '%s' in vhost '%s': out of memory", name, vhost);
		if (sh) {
			free(sh->vhost);
			free(sh->name);
		}
		free(sh);
		return;
	}
	sh->all = s;
	sh->b = b;
	sh->restart.fn = shovel_on_restart;
	sh->finish.fn = shovel_on_finish;
	list_append(&s->all, &sh->link);
	shovel_start(sh);
}

static const struct parameter_component shovel_component = {
	.name = "shovel",
	.validate = shovel_param_validate,
	.set = shovel_param_set,
	.clear = shovel_param_clear,
};

int shovels_install(struct broker *b)
{
	struct shovels *s = calloc(1, sizeof *s);
	if (!s)
		return -1;
	s->b = b;
	list_init(&s->all);
	s->dns = evdns_base_new(b->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (!s->dns) /* no resolv.conf: names then resolve through the system's resolver */
		log_warn(b->log, "shovels: no DNS resolver configured; host names resolve blocking");
	b->shovels = s;
	if (parameters_component_register(b, &shovel_component) != 0) {
		shovels_free(b);
		return -1;
	}
	return 0;
}

void shovels_free(struct broker *b)
{
	struct shovels *s = b->shovels;
	if (!s)
		return;
	s->stopping = true;
	while (!list_is_empty(&s->all))
		shovel_free(list_entry(s->all.next, struct shovel, link));
	if (s->dns)
		evdns_base_free(s->dns, 0);
	if (s->internal)
		auth_user_free(s->internal);
	free(s);
	b->shovels = NULL;
}

void shovels_status(struct broker *b, const char *vhost, json_t *array)
{
	struct list *pos;
	if (!b->shovels)
		return;
	list_for_each(pos, &b->shovels->all)
	{
		struct shovel *sh = list_entry(pos, struct shovel, link);
		if (!vhost || strcmp(vhost, sh->vhost) == 0)
			json_array_append_new(array, shovel_status_json(sh));
	}
}

bool shovels_exists(struct broker *b, const char *vhost, const char *name)
{
	return shovel_find(b->shovels, vhost, name) != NULL;
}

int shovels_restart(struct broker *b, const char *vhost, const char *name)
{
	struct shovel *sh = shovel_find(b->shovels, vhost, name);
	if (!sh)
		return -1;
	log_info(b->log, "shovel '%s' in vhost '%s' will be restarted", name, vhost);
	broker_timer_cancel(&sh->restart);
	shovel_start(sh);
	return 0;
}
