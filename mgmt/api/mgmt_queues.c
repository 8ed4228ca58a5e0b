/* mgmt/api/mgmt_queues.c: /api/queues[/{vhost}[/{name}[/contents|/get|/bindings]]]: list, show,
 * declare (PUT), delete (if-unused, if-empty), purge, get messages, and the queue's bindings. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"
#include "broker/admin/admin.h"
#include "broker/auth/auth.h"
#include "broker/cluster/cluster.h"
#include "broker/core/broker.h"
#include "broker/net/channel.h"
#include "broker/net/conn.h"
#include "broker/queue/consumer.h"
#include "broker/queue/message.h"
#include "broker/vhost/policy.h"
#include "broker/queue/queue.h"
#include "broker/vhost/vhost.h"
#include "mgmt/api/mgmt_internal.h"

static const char *mgmt_policy_name(struct vhost *v, struct amqp_str name, bool is_queue,
				    bool is_operator)
{
	struct list *l = is_operator ? &v->operator_policies : &v->policies;
	if (!l->next || list_is_empty(l)) /* not initialised by an older vhost_new, or empty */
		return NULL;
	const struct policy *p = policy_match(v, (const char *)name.ptr, name.len, is_queue,
					      is_operator);
	return p ? p->name : NULL;
}

static json_t *mgmt_str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* A replicated kind's leader, members and online nodes: this node alone, or in a cluster
 * (which replicates every queue) its nodes, online while registered. */
static void mgmt_queue_members(struct mgmt_req *r, json_t *o)
{
	json_t *members = json_array(), *online = json_array();
	const char *leader = broker_node_name(r->b);
	struct cluster_node_info nodes[16];
	size_t n = r->b->cluster ? cluster_nodes(r->b->cluster, nodes, 16) : 0;
	if (n) {
		leader = cluster_leader(r->b->cluster);
		for (size_t i = 0; i < n; i++) {
			json_array_append_new(members, json_string(nodes[i].name));
			if (nodes[i].running)
				json_array_append_new(online, json_string(nodes[i].name));
		}
	} else {
		json_array_append_new(members, json_string(leader));
		json_array_append_new(online, json_string(leader));
	}
	json_object_set_new(o, "leader", json_string(leader));
	json_object_set_new(o, "members", members);
	json_object_set_new(o, "online", online);
}

json_t *mgmt_queue_json(struct mgmt_req *r, struct queue *q)
{
	json_t *o = json_object();
	struct vhost *v = q->vhost;
	uint32_t ready = queue_ready_count(q), unacked = q->unacked_count;
	const struct mgmt_sample *s = mgmt_sample_find(r->m, 'q', v->name, (const char *)q->name.ptr,
						       q->name.len);
	double zero[6] = { 0 };
	const double *rate = s ? s->rate : zero;

	json_object_set_new(o, "name", json_stringn((const char *)q->name.ptr, q->name.len));
	json_object_set_new(o, "vhost", json_string(v->name));
	json_object_set_new(o, "durable", json_boolean(q->durable));
	json_object_set_new(o, "auto_delete", json_boolean(q->auto_delete));
	json_object_set_new(o, "exclusive", json_boolean(q->exclusive));
	json_object_set_new(o, "arguments", admin_table_to_json(q->args));
	json_object_set_new(o, "type", json_string(q->type->name));
	json_object_set_new(o, "state", json_string("running"));
	json_object_set_new(o, "node", json_string(broker_node_name(r->b)));
	mgmt_stat_set(o, "messages", queue_message_count(q), 0);
	mgmt_stat_set(o, "messages_ready", ready, 0);
	mgmt_stat_set(o, "messages_unacknowledged", unacked, 0);
	/* RabbitMQ's names: messages whose bodies are in memory, and those paged out to disk */
	json_object_set_new(o, "messages_ram", json_integer((json_int_t)q->mem_count + unacked));
	json_object_set_new(o, "messages_ready_ram", json_integer(q->mem_count));
	json_object_set_new(o, "messages_paged_out", json_integer((json_int_t)q->paged_count));
	json_object_set_new(o, "messages_unacknowledged_ram", json_integer(unacked));
	json_object_set_new(o, "message_bytes", json_integer((json_int_t)q->ready_bytes));
	json_object_set_new(o, "message_bytes_ready", json_integer((json_int_t)q->ready_bytes));
	json_object_set_new(o, "consumers", json_integer(q->consumer_count));
	json_object_set_new(o, "consumer_utilisation", q->consumer_count ? json_real(1.0) :
									  json_null());
	json_object_set_new(o, "exclusive_consumer_tag", json_null());
	json_object_set_new(o, "policy",
			    mgmt_str_or_null(mgmt_policy_name(v, q->name, true, false)));
	json_object_set_new(o, "operator_policy",
			    mgmt_str_or_null(mgmt_policy_name(v, q->name, true, true)));
	/* The structures the queue owns: its record, the loaded entries and their bodies, and
	 * the list of paged ones (their bodies are on disk). */
	uint64_t memory = sizeof *q + q->name.len + q->args.len +
			  (uint64_t)q->mem_count * sizeof(struct qentry) + q->mem_bytes +
			  queue_paged_memory(q);
	json_object_set_new(o, "memory", json_integer((json_int_t)memory));
	json_t *ms = json_object();
	mgmt_stat_set(ms, "publish", q->stat_published, rate[0]);
	mgmt_stat_set(ms, "deliver_get", q->stat_delivered, rate[1]);
	mgmt_stat_set(ms, "deliver", q->stat_delivered, rate[1]);
	mgmt_stat_set(ms, "ack", q->stat_acked, rate[2]);
	mgmt_stat_set(ms, "redeliver", q->stat_redelivered, rate[3]);
	json_object_set_new(o, "message_stats", ms);
	/* what only this kind has: a quorum queue's dead letters, a stream's offsets */
	if (q->type->replicated)
		mgmt_queue_members(r, o);
	struct queue_info_field f[QUEUE_INFO_MAX];
	size_t nf = queue_info(q, f);
	for (size_t i = 0; i < nf; i++)
		json_object_set_new(o, f[i].name,
				    f[i].is_str ? json_string(f[i].str) :
						  json_integer((json_int_t)f[i].num));
	return o;
}

static json_t *mgmt_queue_render(struct mgmt_req *r, void *obj)
{
	return mgmt_queue_json(r, obj);
}

json_t *mgmt_channel_details(struct mgmt_req *r, const struct channel *ch)
{
	const struct conn *conn = ch->conn;
	char name[200];
	snprintf(name, sizeof name, "%s (%u)", conn->name, (unsigned)ch->id);
	json_t *o = json_object();
	json_object_set_new(o, "connection_name", json_string(conn->name));
	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "node", json_string(broker_node_name(r->b)));
	json_object_set_new(o, "number", json_integer(ch->id));
	json_object_set_new(o, "peer_host", json_string(conn->peer_host));
	json_object_set_new(o, "peer_port", json_integer(conn->peer_port));
	json_object_set_new(o, "user", conn->user ? json_string(conn->user->name) : json_null());
	return o;
}

json_t *mgmt_consumer_json(struct mgmt_req *r, const struct consumer *c)
{
	const struct queue *q = c->q;
	json_t *o = json_object();
	json_object_set_new(o, "consumer_tag", json_stringn((const char *)c->tag.ptr, c->tag.len));
	json_object_set_new(o, "ack_required", json_boolean(!c->no_ack));
	json_object_set_new(o, "exclusive", json_boolean(c->exclusive));
	json_object_set_new(o, "prefetch_count", json_integer(c->prefetch));
	json_object_set_new(o, "arguments", admin_table_to_json(c->args));
	json_object_set_new(o, "active", json_true());
	json_object_set_new(o, "activity_status", json_string("up"));
	json_t *qo = json_object();
	json_object_set_new(qo, "name", json_stringn((const char *)q->name.ptr, q->name.len));
	json_object_set_new(qo, "vhost", json_string(q->vhost->name));
	json_object_set_new(o, "queue", qo);
	if (c->ch)
		json_object_set_new(o, "channel_details", mgmt_channel_details(r, c->ch));
	return o;
}

static json_t *mgmt_queue_detail(struct mgmt_req *r, struct queue *q)
{
	json_t *o = mgmt_queue_json(r, q);
	json_t *cd = json_array();
	struct list *pos;
	list_for_each(pos, &q->consumers)
	{
		struct consumer *c = list_entry(pos, struct consumer, queue_link);
		json_t *co = mgmt_consumer_json(r, c);
		int64_t off = queue_consumer_offset(q, c);
		if (off >= 0) /* Warren: where a stream consumer reads next */
			json_object_set_new(co, "offset", json_integer((json_int_t)off));
		json_array_append_new(cd, co);
	}
	json_object_set_new(o, "consumer_details", cd);
	json_object_set_new(o, "incoming", mgmt_flows_queue_incoming(r, q));
	json_object_set_new(o, "deliveries", json_array());
	return o;
}

static void mgmt_queue_put(struct mgmt_req *r, struct vhost *v, struct amqp_str name)
{
	bool durable = false, auto_delete = false;
	char err[1024];
	struct amqp_buf args;
	json_t *body = mgmt_body_json(r, MGMT_BODY_MAX, true);
	if (!body)
		return;
	amqp_buf_init(&args);
	if (!mgmt_body_bool(r, body, "durable", &durable) ||
	    !mgmt_body_bool(r, body, "auto_delete", &auto_delete))
		goto out;
	json_t *a = json_object_get(body, "arguments");
	if (a && !json_is_object(a) && !json_is_null(a)) {
		mgmt_reply_bad(r, "'arguments' must be an object");
		goto out;
	}
	if (admin_table_from_json(a, &args, err, sizeof err) != 0) {
		mgmt_reply_bad(r, "%s", err);
		goto out;
	}
	int rc = admin_queue_declare(v, name, durable, auto_delete,
				     (struct amqp_table){ args.data, (uint32_t)args.len }, err,
				     sizeof err);
	mgmt_reply_admin(r, rc, err, 204);
out:
	amqp_buf_free(&args);
	json_decref(body);
}

/* ---- POST .../get ---- */

/* The reply is built in memory (JSON objects, then their text, then the HTTP buffer), so its
 * size is capped: one request must not make the loop build hundreds of MB. Messages are taken
 * while the reply's size (an upper bound of its JSON text) stays within MGMT_GET_REPLY_MAX; the
 * first is always answered, its payload cut to fit as `truncate` cuts it (payload_bytes tells
 * the whole size), and those that do not fit stay in the queue as they were. */
#define MGMT_GET_REPLY_MAX (16u << 20)
/* Keys, punctuation and numbers of one message's object beside what its bytes become: the fixed
 * keys take ~150 bytes, and a property name can outgrow its one-byte value by ~15. */
#define MGMT_GET_MESSAGE_OVERHEAD 512u
/* No byte becomes more than this in JSON text: a control byte is "\u0001", and a 4-byte UTF-8
 * character a 12-byte surrogate pair. Properties decode to at most as much, per byte. */
#define MGMT_JSON_BYTE_MAX 6u

struct mgmt_get_ctx {
	json_t *out;
	bool base64;
	long truncate;
	size_t reply_len; /* upper bound of the reply's JSON text so far */
};

/* Length of valid UTF-8 p[0..n) as JSON string text, as jansson writes it with
 * JSON_ENSURE_ASCII. */
static size_t mgmt_json_text_len(const uint8_t *p, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' ||
		    c == '\t')
			len += 2;
		else if (c < 0x20 || c == 0x7f)
			len += 6;
		else if (c < 0x80)
			len += 1;
		else if (c >= 0xf0)
			len += 12; /* a surrogate pair */
		else if (c >= 0xc0)
			len += 6;
		/* continuation bytes add nothing */
	}
	return len;
}

static bool mgmt_is_utf8_text(const uint8_t *p, size_t n)
{
	json_t *s = json_stringn((const char *)p, n);
	bool ok = s != NULL;
	json_decref(s);
	return ok;
}

static json_t *mgmt_props_json(const struct message *m)
{
	struct amqp_basic_props p;
	if (amqp_props_decode(&p, m->props, m->props_len) != 0 || p.flags == 0)
		return json_array(); /* RabbitMQ: no properties is an empty list */
	json_t *o = json_object();
	const struct {
		uint16_t flag;
		const char *name;
		const struct amqp_str *s;
	} strs[] = {
		{ AMQP_PROP_CONTENT_TYPE, "content_type", &p.content_type },
		{ AMQP_PROP_CONTENT_ENCODING, "content_encoding", &p.content_encoding },
		{ AMQP_PROP_CORRELATION_ID, "correlation_id", &p.correlation_id },
		{ AMQP_PROP_REPLY_TO, "reply_to", &p.reply_to },
		{ AMQP_PROP_EXPIRATION, "expiration", &p.expiration },
		{ AMQP_PROP_MESSAGE_ID, "message_id", &p.message_id },
		{ AMQP_PROP_TYPE, "type", &p.type },
		{ AMQP_PROP_USER_ID, "user_id", &p.user_id },
		{ AMQP_PROP_APP_ID, "app_id", &p.app_id },
		{ AMQP_PROP_CLUSTER_ID, "cluster_id", &p.cluster_id },
	};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		if (p.flags & strs[i].flag) {
			json_t *s = json_stringn((const char *)strs[i].s->ptr, strs[i].s->len);
			json_object_set_new(o, strs[i].name, s ? s : json_null());
		}
	if (p.flags & AMQP_PROP_DELIVERY_MODE)
		json_object_set_new(o, "delivery_mode", json_integer(p.delivery_mode));
	if (p.flags & AMQP_PROP_PRIORITY)
		json_object_set_new(o, "priority", json_integer(p.priority));
	if (p.flags & AMQP_PROP_TIMESTAMP)
		json_object_set_new(o, "timestamp", json_integer((json_int_t)p.timestamp));
	if (p.flags & AMQP_PROP_HEADERS)
		json_object_set_new(o, "headers", admin_table_to_json(p.headers));
	return o;
}

static bool mgmt_get_one(void *arg, const struct message *m, bool redelivered, uint32_t remaining)
{
	struct mgmt_get_ctx *g = arg;
	size_t n = m->body_len;
	if (g->truncate >= 0 && (size_t)g->truncate < n)
		n = (size_t)g->truncate;
	size_t fixed = MGMT_GET_MESSAGE_OVERHEAD +
		       MGMT_JSON_BYTE_MAX * ((size_t)m->exchange.len + m->routing_key.len +
					     m->props_len);
	bool text = !g->base64 && mgmt_is_utf8_text(m->body, n);
	size_t payload = text ? mgmt_json_text_len(m->body, n) : (n + 2) / 3 * 4;
	if (g->reply_len + fixed + payload > MGMT_GET_REPLY_MAX) {
		if (g->reply_len > 0)
			return false; /* stays in the queue for another request */
		/* The first message is answered, cut to what fits. */
		size_t room = MGMT_GET_REPLY_MAX > fixed ? MGMT_GET_REPLY_MAX - fixed : 0;
		n = n < room / MGMT_JSON_BYTE_MAX ? n : room / MGMT_JSON_BYTE_MAX;
		text = !g->base64 && mgmt_is_utf8_text(m->body, n);
		payload = text ? mgmt_json_text_len(m->body, n) : (n + 2) / 3 * 4;
	}
	g->reply_len += fixed + payload;

	json_t *o = json_object();
	json_object_set_new(o, "payload_bytes", json_integer((json_int_t)m->body_len));
	json_object_set_new(o, "redelivered", json_boolean(redelivered));
	json_object_set_new(o, "exchange", admin_json_string(m->exchange.ptr, m->exchange.len));
	json_object_set_new(o, "routing_key",
			    admin_json_string(m->routing_key.ptr, m->routing_key.len));
	json_object_set_new(o, "message_count", json_integer(remaining));
	json_object_set_new(o, "properties", mgmt_props_json(m));
	if (text) {
		json_object_set_new(o, "payload", json_stringn((const char *)m->body, n));
		json_object_set_new(o, "payload_encoding", json_string("string"));
	} else {
		char *b64 = malloc(payload + 1);
		if (b64) {
			EVP_EncodeBlock((unsigned char *)b64, m->body, (int)n);
			json_object_set_new(o, "payload", json_string(b64));
			free(b64);
		}
		json_object_set_new(o, "payload_encoding", json_string("base64"));
	}
	json_array_append_new(g->out, o);
	return true;
}

/* POST /api/queues/{vhost}/{name}/dlq-replay {"limit": N, "to_original": bool}: Warren's
 * dead-letter replay (warrenctl dlq replay). */
static void mgmt_queue_dlq_replay(struct mgmt_req *r, struct vhost *v, struct amqp_str name)
{
	char err[512] = "";
	json_t *body = mgmt_body_json(r, MGMT_BODY_MAX, true);
	if (!body)
		return;
	json_t *limit = json_object_get(body, "limit"), *orig = json_object_get(body, "to_original");
	if (limit && !json_is_null(limit) &&
	    (!json_is_integer(limit) || json_integer_value(limit) < 0)) {
		mgmt_reply_bad(r, "'limit' must be a non-negative integer");
		goto out;
	}
	if (orig && !json_is_boolean(orig)) {
		mgmt_reply_bad(r, "'to_original' must be a boolean");
		goto out;
	}
	struct admin_dlq_result res;
	int rc = admin_dlq_replay(v, name, json_is_integer(limit) ? json_integer_value(limit) : -1,
				  json_is_true(orig), r->user, &res, err, sizeof err);
	if (rc != ADMIN_OK) {
		mgmt_reply_admin(r, rc, err, 200);
		goto out;
	}
	json_t *o = json_object();
	json_object_set_new(o, "moved", json_integer((json_int_t)res.moved));
	json_object_set_new(o, "kept", json_integer((json_int_t)res.kept));
	json_object_set_new(o, "unroutable", json_integer((json_int_t)res.unroutable));
	json_object_set_new(o, "refused", json_integer((json_int_t)res.refused));
	mgmt_reply_json(r, 200, o);
out:
	json_decref(body);
}

/* One message of a stream read: rendered as a get renders it, with its offset and time. */
static bool mgmt_stream_one(void *arg, const struct message *m, uint64_t offset,
			    uint64_t timestamp_ms)
{
	struct mgmt_get_ctx *g = arg;
	if (!mgmt_get_one(g, m, false, 0))
		return false;
	json_t *o = json_array_get(g->out, json_array_size(g->out) - 1);
	json_object_del(o, "message_count");
	json_object_del(o, "redelivered");
	json_object_set_new(o, "offset", json_integer((json_int_t)offset));
	json_object_set_new(o, "timestamp", json_integer((json_int_t)(timestamp_ms / 1000)));
	return true;
}

/* POST .../get with "offset" (Warren): reads a stream from an offset without consuming: the
 * body is {"offset": "first"|"last"|"next"|N|"10m"|"@<epoch s>", "count": N,
 * "encoding": "auto"|"base64", "truncate": N}. */
static void mgmt_stream_read(struct mgmt_req *r, struct vhost *v, struct amqp_str name,
			     json_t *body, struct mgmt_get_ctx *g)
{
	char err[512], from[64];
	json_t *off = json_object_get(body, "offset");
	if (json_is_integer(off))
		snprintf(from, sizeof from, "%lld", (long long)json_integer_value(off));
	else if (json_is_string(off) && strlen(json_string_value(off)) < sizeof from)
		snprintf(from, sizeof from, "%s", json_string_value(off));
	else {
		mgmt_reply_bad(r, "'offset' must be first, last, next, an offset, an interval such "
				  "as 10m or @<seconds since the epoch>");
		return;
	}
	g->out = json_array();
	int rc = admin_stream_read(v, name, from, (uint32_t)json_integer_value(
					   json_object_get(body, "count")), mgmt_stream_one, g, err,
				   sizeof err);
	if (rc != ADMIN_OK) {
		json_decref(g->out);
		mgmt_reply_admin(r, rc, err, 200);
		return;
	}
	mgmt_reply_json(r, 200, g->out);
}

static void mgmt_queue_get(struct mgmt_req *r, struct vhost *v, struct amqp_str name)
{
	static const char *const modes[] = { "ack_requeue_true", "ack_requeue_false",
					     "reject_requeue_true", "reject_requeue_false" };
	char err[512];
	json_t *body = mgmt_body_json(r, MGMT_BODY_MAX, false);
	if (!body)
		return;
	json_t *count = json_object_get(body, "count"), *ackmode = json_object_get(body, "ackmode");
	json_t *enc = json_object_get(body, "encoding"), *trunc = json_object_get(body, "truncate");
	struct mgmt_get_ctx g = { .truncate = -1 };
	int mode = -1;
	bool stream = json_object_get(body, "offset") != NULL; /* no ackmode: nothing changes */
	if (!count || (!ackmode && !stream) || !enc) {
		mgmt_reply_bad(r, "[%s%s%s]", !count ? "{key_missing,count}" : "",
			       !ackmode && !stream ? "{key_missing,ackmode}" : "",
			       !enc ? "{key_missing,encoding}" : "");
		goto out;
	}
	if (!json_is_integer(count) || json_integer_value(count) < 0 ||
	    json_integer_value(count) > 100000) {
		mgmt_reply_bad(r, "'count' must be a non-negative integer");
		goto out;
	}
	for (int i = 0; i < 4 && json_is_string(ackmode); i++)
		if (strcmp(json_string_value(ackmode), modes[i]) == 0)
			mode = i;
	if (mode < 0 && !stream) {
		mgmt_reply_bad(r, "invalid ackmode: expected ack_requeue_true, ack_requeue_false, "
				  "reject_requeue_true or reject_requeue_false");
		goto out;
	}
	if (!json_is_string(enc) || (strcmp(json_string_value(enc), "auto") != 0 &&
				     strcmp(json_string_value(enc), "base64") != 0)) {
		mgmt_reply_bad(r, "Unsupported encoding: expected auto or base64");
		goto out;
	}
	g.base64 = strcmp(json_string_value(enc), "base64") == 0;
	if (trunc && !json_is_null(trunc)) {
		if (!json_is_integer(trunc) || json_integer_value(trunc) < 0) {
			mgmt_reply_bad(r, "'truncate' must be a non-negative integer");
			goto out;
		}
		g.truncate = (long)json_integer_value(trunc);
	}
	if (stream) {
		mgmt_stream_read(r, v, name, body, &g);
		goto out;
	}
	g.out = json_array();
	int rc = admin_get(v, name, (uint32_t)json_integer_value(count), (enum admin_ackmode)mode,
			   mgmt_get_one, &g, err, sizeof err);
	if (rc != ADMIN_OK) {
		json_decref(g.out);
		mgmt_reply_admin(r, rc, err, 200);
		goto out;
	}
	mgmt_reply_json(r, 200, g.out);
out:
	json_decref(body);
}

void mgmt_queues_handle(struct mgmt_req *r)
{
	char err[512];
	struct vhost *v = mgmt_vhost_objects_route(r, offsetof(struct vhost, queues),
						   mgmt_queue_render);
	if (!v)
		return;
	struct amqp_str name = { (const uint8_t *)r->seg[3], (uint32_t)r->seg_len[3] };
	struct queue *q = vhost_queue_find(v, name);
	if (r->nseg == 4) {
		switch (r->method) {
		case EVHTTP_REQ_GET:
			if (!q)
				{ mgmt_reply_not_found(r); return; }
			{ mgmt_object_reply(r, mgmt_queue_detail(r, q)); return; }
		case EVHTTP_REQ_PUT:
			if (!mgmt_require_perm(r, v, AUTH_CONFIGURE, AUTH_RESOURCE_QUEUE, name))
				return;
			{ mgmt_queue_put(r, v, name); return; }
		case EVHTTP_REQ_DELETE: {
			if (!mgmt_require_perm(r, v, AUTH_CONFIGURE, AUTH_RESOURCE_QUEUE, name))
				return;
			int rc = admin_queue_delete(v, name, mgmt_query_true(r, "if-unused"),
						    mgmt_query_true(r, "if-empty"), err, sizeof err);
			{ mgmt_reply_admin(r, rc, err, 204); return; }
		}
		default:
			{ mgmt_reply_method_not_allowed(r); return; }
		}
	}
	if (r->nseg != 5)
		{ mgmt_reply_not_found(r); return; }
	const char *sub = r->seg[4];
	if (strcmp(sub, "contents") == 0) {
		if (r->method != EVHTTP_REQ_DELETE)
			{ mgmt_reply_method_not_allowed(r); return; }
		if (!mgmt_require_perm(r, v, AUTH_READ, AUTH_RESOURCE_QUEUE, name))
			return;
		{ mgmt_reply_admin(r, admin_queue_purge(v, name, err, sizeof err), err, 204); return; }
	}
	if (strcmp(sub, "get") == 0) {
		if (r->method != EVHTTP_REQ_POST)
			{ mgmt_reply_method_not_allowed(r); return; }
		if (!q)
			{ mgmt_reply_not_found(r); return; }
		/* As RabbitMQ words a basic.get refused on its management connection. */
		char text[512];
		if (!mgmt_permitted(r, v, AUTH_READ, AUTH_RESOURCE_QUEUE, name, text, sizeof text))
			{ mgmt_reply_error(r, 401, "not_authorised", "ACCESS_REFUSED - %s", text); return; }
		{ mgmt_queue_get(r, v, name); return; }
	}
	if (strcmp(sub, "dlq-replay") == 0) {
		if (r->method != EVHTTP_REQ_POST)
			{ mgmt_reply_method_not_allowed(r); return; }
		if (!q)
			{ mgmt_reply_not_found(r); return; }
		/* It takes the messages (read on the queue); each republish needs write on its
		 * exchange (admin_dlq_replay leaves refused ones in place). */
		if (!mgmt_require_perm(r, v, AUTH_READ, AUTH_RESOURCE_QUEUE, name))
			return;
		{ mgmt_queue_dlq_replay(r, v, name); return; }
	}
	if (strcmp(sub, "bindings") == 0) {
		if (r->method != EVHTTP_REQ_GET)
			{ mgmt_reply_method_not_allowed(r); return; }
		if (!q)
			{ mgmt_reply_not_found(r); return; }
		{ mgmt_reply_json(r, 200, mgmt_bindings_of_queue(r, q)); return; }
	}
	if (strcmp(sub, "actions") == 0) {
		if (r->method != EVHTTP_REQ_POST)
			{ mgmt_reply_method_not_allowed(r); return; }
		if (!q)
			{ mgmt_reply_not_found(r); return; }
		{ mgmt_reply_empty(r, 204); return; } /* sync/cancel_sync: nothing to do, no mirrors */
	}
	mgmt_reply_not_found(r);
}
