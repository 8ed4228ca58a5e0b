/* mgmt/api/mgmt_exchanges.c: /api/exchanges[/{vhost}[/{name}[/publish|/bindings/source|destination]]]
 * and /api/bindings[/{vhost}[/e/{src}/q|e/{dst}[/{props}]]]. Bindings are named by RabbitMQ's
 * properties_key: "~" for an empty key without arguments, else the percent-encoded key, with
 * "~" and a hash of the arguments appended when there are arguments. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"
#include "broker/admin/admin.h"
#include "broker/auth/auth.h"
#include "broker/core/broker.h"
#include "broker/exchange/exchange.h"
#include "broker/queue/queue.h"
#include "broker/auth/topic_perm.h"
#include "broker/vhost/vhost.h"
#include "mgmt/api/mgmt_internal.h"

/* ---- exchanges ---- */

json_t *mgmt_exchange_json(struct mgmt_req *r, struct exchange *x)
{
	json_t *o = json_object();
	struct vhost *v = x->vhost;
	const struct mgmt_sample *s = mgmt_sample_find(r->m, 'x', v->name, (const char *)x->name.ptr,
						       x->name.len);
	json_object_set_new(o, "name", json_stringn((const char *)x->name.ptr, x->name.len));
	json_object_set_new(o, "vhost", json_string(v->name));
	json_object_set_new(o, "type", json_string(x->type->name));
	json_object_set_new(o, "durable", json_boolean(x->durable));
	json_object_set_new(o, "auto_delete", json_boolean(x->auto_delete));
	json_object_set_new(o, "internal", json_boolean(x->internal));
	json_object_set_new(o, "arguments", admin_table_to_json(x->args));
	json_object_set_new(o, "user_who_performed_action", json_string("rmq-internal"));
	json_object_set_new(o, "policy", json_null());
	json_t *ms = json_object();
	mgmt_stat_set(ms, "publish_in", x->publish_in, s ? s->rate[0] : 0);
	mgmt_stat_set(ms, "publish_out", x->publish_out, s ? s->rate[1] : 0);
	json_object_set_new(o, "message_stats", ms);
	return o;
}

/* GET of one exchange adds, as RabbitMQ's detailed statistics do, where its messages came
 * from (per channel) and went (per queue); lists leave them out, as RabbitMQ's do. */
static json_t *mgmt_exchange_detail(struct mgmt_req *r, struct exchange *x)
{
	json_t *o = mgmt_exchange_json(r, x);
	json_object_set_new(o, "incoming", mgmt_flows_exchange_incoming(r, x));
	json_object_set_new(o, "outgoing", mgmt_flows_exchange_outgoing(r, x));
	return o;
}

static json_t *mgmt_exchange_render(struct mgmt_req *r, void *obj)
{
	return mgmt_exchange_json(r, obj);
}

static void mgmt_exchange_put(struct mgmt_req *r, struct vhost *v, struct amqp_str name)
{
	bool durable = false, auto_delete = false, internal = false;
	char err[1024];
	struct amqp_buf args;
	json_t *body = mgmt_body_json(r, MGMT_BODY_MAX, false);
	if (!body)
		return;
	amqp_buf_init(&args);
	json_t *type = json_object_get(body, "type");
	if (!type) {
		mgmt_reply_bad(r, "[{key_missing,type}]");
		goto out;
	}
	if (!json_is_string(type)) {
		mgmt_reply_bad(r, "'type' must be a string");
		goto out;
	}
	if (!mgmt_body_bool(r, body, "durable", &durable) ||
	    !mgmt_body_bool(r, body, "auto_delete", &auto_delete) ||
	    !mgmt_body_bool(r, body, "internal", &internal))
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
	int rc = admin_exchange_declare(v, name, amqp_str_c(json_string_value(type)), durable,
					auto_delete, internal,
					(struct amqp_table){ args.data, (uint32_t)args.len }, err,
					sizeof err);
	mgmt_reply_admin(r, rc, err, 204);
out:
	amqp_buf_free(&args);
	json_decref(body);
}

/* JSON properties -> encoded basic properties. 0 or -1 with a 400 replied. */
static int mgmt_props_from_json(struct mgmt_req *r, json_t *props, struct amqp_buf *out,
				struct amqp_buf *headers)
{
	struct amqp_basic_props p = { 0 };
	const char *key;
	json_t *val;
	char err[256];
	if (!json_is_object(props)) {
		mgmt_reply_bad(r, "'properties' must be an object");
		return -1;
	}
	json_object_foreach(props, key, val)
	{
		if (strcmp(key, "headers") != 0) {
			switch (admin_prop_from_json(&p, key, val)) {
			case ADMIN_PROP_SET:
				continue;
			case ADMIN_PROP_NOT_STRING:
				mgmt_reply_bad(r, "property '%s' must be a short string", key);
				return -1;
			case ADMIN_PROP_BAD_NUMBER:
				mgmt_reply_bad(r, strcmp(key, "timestamp") == 0 ?
						       "property '%s' must be an integer" :
						       "property '%s' must be an integer 0..255",
					       key);
				return -1;
			case ADMIN_PROP_UNKNOWN:
				mgmt_reply_bad(r, "unknown property '%s'", key);
				return -1;
			}
		}
		if (!json_is_object(val)) {
			mgmt_reply_bad(r, "property 'headers' must be an object");
			return -1;
		}
		if (admin_table_from_json(val, headers, err, sizeof err) != 0) {
			mgmt_reply_bad(r, "%s", err);
			return -1;
		}
		p.headers = (struct amqp_table){ headers->data, (uint32_t)headers->len };
		p.flags |= AMQP_PROP_HEADERS;
	}
	amqp_props_encode(&p, out);
	return 0;
}

/* The user's topic permission on x, when it is a topic exchange: NULL allows every key. */
static const struct topic_perm *mgmt_topic_perm(struct mgmt_req *r, struct vhost *v,
						const struct exchange *x)
{
	if (!x || x->type != &exchange_type_topic)
		return NULL;
	return topic_perm_find(r->user, v->name, (const char *)x->name.ptr, x->name.len);
}

static void mgmt_exchange_publish(struct mgmt_req *r, struct vhost *v, struct exchange *x,
				  struct amqp_str name)
{
	struct amqp_buf props, headers;
	uint8_t *decoded = NULL;
	char err[512];
	json_t *body = mgmt_body_json(r, MGMT_BODY_MAX, false);
	if (!body)
		return;
	amqp_buf_init(&props);
	amqp_buf_init(&headers);
	json_t *jp = json_object_get(body, "properties"), *rk = json_object_get(body, "routing_key");
	json_t *pl = json_object_get(body, "payload"), *enc = json_object_get(body, "payload_encoding");
	if (!jp || !rk || !pl || !enc) {
		mgmt_reply_bad(r, "[%s%s%s%s]", !jp ? "{key_missing,properties}" : "",
			       !rk ? "{key_missing,routing_key}" : "",
			       !pl ? "{key_missing,payload}" : "",
			       !enc ? "{key_missing,payload_encoding}" : "");
		goto out;
	}
	if (!json_is_string(rk) || json_string_length(rk) > 255 || !json_is_string(pl) ||
	    !json_is_string(enc)) {
		mgmt_reply_bad(r, "routing_key, payload and payload_encoding must be strings");
		goto out;
	}
	const uint8_t *data = (const uint8_t *)json_string_value(pl);
	size_t len = json_string_length(pl);
	if (strcmp(json_string_value(enc), "base64") == 0) {
		decoded = malloc(len / 4 * 3 + 3);
		int n = decoded && len % 4 == 0 ?
				EVP_DecodeBlock(decoded, data, (int)len) : -1;
		if (n < 0) {
			mgmt_reply_bad(r, "payload is not valid base64");
			goto out;
		}
		n -= (len >= 1 && data[len - 1] == '=') + (len >= 2 && data[len - 2] == '=');
		data = decoded;
		len = (size_t)n;
	} else if (strcmp(json_string_value(enc), "string") != 0) {
		mgmt_reply_bad(r, "payload_encoding must be string or base64");
		goto out;
	}
	const struct topic_perm *tp = mgmt_topic_perm(r, v, x);
	if (tp && !topic_perm_permitted(tp, AUTH_WRITE, (const uint8_t *)json_string_value(rk),
					json_string_length(rk))) {
		mgmt_reply_bad(r, "403 ACCESS_REFUSED - access to topic '%s' in exchange '%.*s' in "
				  "vhost '%s' refused for user '%s'", json_string_value(rk),
			       AMQP_STR_ARGS(x->name), v->name, r->user->name);
		goto out;
	}
	if (mgmt_props_from_json(r, jp, &props, &headers) != 0)
		goto out;
	bool routed = false;
	int rc = admin_publish(v, name,
			       (struct amqp_str){ (const uint8_t *)json_string_value(rk),
						  (uint32_t)json_string_length(rk) },
			       props.data, props.len, data, len, &routed, err, sizeof err);
	if (rc != ADMIN_OK) {
		mgmt_reply_admin(r, rc, err, 200);
		goto out;
	}
	json_t *o = json_object();
	json_object_set_new(o, "routed", json_boolean(routed));
	mgmt_reply_json(r, 200, o);
out:
	free(decoded);
	amqp_buf_free(&props);
	amqp_buf_free(&headers);
	json_decref(body);
}

/* ---- bindings ---- */

static void mgmt_pct_encode(const char *s, size_t n, char *out, size_t cap, bool keep_tilde)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (size_t i = 0; i < n && o + 4 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
			    (keep_tilde && c == '~');
		if (keep) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

void mgmt_binding_props_key(const char *key, size_t key_len, const void *args, size_t args_len,
			    char *out, size_t cap)
{
	if (key_len == 0 && args_len == 0) {
		snprintf(out, cap, "~");
		return;
	}
	mgmt_pct_encode(key, key_len, out, cap, false);
	if (args_len == 0)
		return;
	/* FNV-1a of the encoded arguments, as 6 URL-safe base64 characters. */
	uint32_t h = 2166136261u;
	const uint8_t *p = args;
	for (size_t i = 0; i < args_len; i++)
		h = (h ^ p[i]) * 16777619u;
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = strlen(out);
	if (o + 8 > cap)
		return;
	out[o++] = '~';
	for (int i = 0; i < 6; i++)
		out[o++] = b64[(h >> (i * 6)) & 63];
	out[o] = '\0';
}

static json_t *mgmt_binding_json(struct binding *bd)
{
	json_t *o = json_object();
	struct exchange *src = bd->source;
	char pk[1024];
	json_object_set_new(o, "source", json_stringn((const char *)src->name.ptr, src->name.len));
	json_object_set_new(o, "vhost", json_string(src->vhost->name));
	if (bd->dest_q) {
		json_object_set_new(o, "destination", json_stringn((const char *)bd->dest_q->name.ptr,
								   bd->dest_q->name.len));
		json_object_set_new(o, "destination_type", json_string("queue"));
	} else {
		json_object_set_new(o, "destination", json_stringn((const char *)bd->dest_x->name.ptr,
								   bd->dest_x->name.len));
		json_object_set_new(o, "destination_type", json_string("exchange"));
	}
	json_t *rk = json_stringn((const char *)bd->key.ptr, bd->key.len);
	json_object_set_new(o, "routing_key", rk ? rk : json_string(""));
	json_object_set_new(o, "arguments", admin_table_to_json(bd->args));
	mgmt_binding_props_key((const char *)bd->key.ptr, bd->key.len, bd->args.ptr, bd->args.len,
			       pk, sizeof pk);
	json_object_set_new(o, "properties_key", json_string(pk));
	return o;
}

static json_t *mgmt_default_binding_json(struct queue *q)
{
	json_t *o = json_object();
	char pk[1024];
	json_object_set_new(o, "source", json_string(""));
	json_object_set_new(o, "vhost", json_string(q->vhost->name));
	json_object_set_new(o, "destination", json_stringn((const char *)q->name.ptr, q->name.len));
	json_object_set_new(o, "destination_type", json_string("queue"));
	json_object_set_new(o, "routing_key", json_stringn((const char *)q->name.ptr, q->name.len));
	json_object_set_new(o, "arguments", json_object());
	mgmt_binding_props_key((const char *)q->name.ptr, q->name.len, NULL, 0, pk, sizeof pk);
	json_object_set_new(o, "properties_key", json_string(pk));
	return o;
}

json_t *mgmt_bindings_of_queue(struct mgmt_req *r, struct queue *q)
{
	json_t *arr = json_array();
	struct list *pos;
	(void)r;
	json_array_append_new(arr, mgmt_default_binding_json(q));
	list_for_each(pos, &q->bindings)
	{
		struct binding *bd = list_entry(pos, struct binding, dest_link);
		json_array_append_new(arr, mgmt_binding_json(bd));
	}
	return arr;
}

static json_t *mgmt_bindings_of_vhost(struct mgmt_req *r, struct vhost *only)
{
	json_t *arr = json_array();
	size_t i, j;
	for (struct strmap_entry *ve = strmap_first(&r->b->vhosts, &i); ve;
	     ve = strmap_next(&r->b->vhosts, ve, &i)) {
		struct vhost *v = ve->value;
		struct list *pos;
		if ((only && v != only) || !mgmt_can_see_vhost(r, v->name))
			continue;
		for (struct strmap_entry *e = strmap_first(&v->queues, &j); e;
		     e = strmap_next(&v->queues, e, &j))
			json_array_append_new(arr, mgmt_default_binding_json(e->value));
		for (struct strmap_entry *e = strmap_first(&v->exchanges, &j); e;
		     e = strmap_next(&v->exchanges, e, &j)) {
			struct exchange *x = e->value;
			list_for_each(pos, &x->bindings)
			{
				struct binding *bd = list_entry(pos, struct binding, source_link);
				json_array_append_new(arr, mgmt_binding_json(bd));
			}
		}
	}
	return arr;
}

static void mgmt_exchange_bindings(struct mgmt_req *r, struct exchange *x, bool as_source)
{
	json_t *arr = json_array();
	struct list *pos;
	if (as_source) {
		list_for_each(pos, &x->bindings)
		{
			json_array_append_new(arr, mgmt_binding_json(
							   list_entry(pos, struct binding, source_link)));
		}
	} else {
		list_for_each(pos, &x->bound_here)
		{
			json_array_append_new(arr, mgmt_binding_json(
							   list_entry(pos, struct binding, dest_link)));
		}
	}
	mgmt_reply_json(r, 200, arr);
}

void mgmt_exchanges_handle(struct mgmt_req *r)
{
	char err[512];
	struct vhost *v = mgmt_vhost_objects_route(r, offsetof(struct vhost, exchanges),
						   mgmt_exchange_render);
	if (!v)
		return;
	struct amqp_str name = { (const uint8_t *)r->seg[3], (uint32_t)r->seg_len[3] };
	struct amqp_str lookup = amqp_str_eq_c(name, "amq.default") ? AMQP_STR_LIT("") : name;
	struct exchange *x = vhost_exchange_find(v, lookup);
	if (r->nseg == 4) {
		switch (r->method) {
		case EVHTTP_REQ_GET:
			if (!x)
				{ mgmt_reply_not_found(r); return; }
			{ mgmt_object_reply(r, mgmt_exchange_detail(r, x)); return; }
		case EVHTTP_REQ_PUT:
			if (!mgmt_require_perm(r, v, AUTH_CONFIGURE, AUTH_RESOURCE_EXCHANGE, lookup))
				return;
			{ mgmt_exchange_put(r, v, name); return; }
		case EVHTTP_REQ_DELETE: {
			if (!mgmt_require_perm(r, v, AUTH_CONFIGURE, AUTH_RESOURCE_EXCHANGE, lookup))
				return;
			int rc = admin_exchange_delete(v, name, mgmt_query_true(r, "if-unused"), err,
						       sizeof err);
			{ mgmt_reply_admin(r, rc, err, 204); return; }
		}
		default:
			{ mgmt_reply_method_not_allowed(r); return; }
		}
	}
	if (r->nseg == 5 && strcmp(r->seg[4], "publish") == 0) {
		if (r->method != EVHTTP_REQ_POST)
			{ mgmt_reply_method_not_allowed(r); return; }
		if (!x)
			{ mgmt_reply_not_found(r); return; }
		/* As RabbitMQ reports the channel error of its management connection. */
		char text[512];
		if (!mgmt_permitted(r, v, AUTH_WRITE, AUTH_RESOURCE_EXCHANGE, lookup, text, sizeof text))
			{ mgmt_reply_bad(r, "403 ACCESS_REFUSED - %s", text); return; }
		{ mgmt_exchange_publish(r, v, x, name); return; }
	}
	if (r->nseg == 6 && strcmp(r->seg[4], "bindings") == 0 &&
	    (strcmp(r->seg[5], "source") == 0 || strcmp(r->seg[5], "destination") == 0)) {
		if (r->method != EVHTTP_REQ_GET)
			{ mgmt_reply_method_not_allowed(r); return; }
		if (!x)
			{ mgmt_reply_not_found(r); return; }
		{ mgmt_exchange_bindings(r, x, r->seg[5][0] == 's'); return; }
	}
	mgmt_reply_not_found(r);
}

/* /api/bindings/{vhost}/e/{src}/{q|e}/{dst}[/{props}] */
static struct binding *mgmt_binding_find(struct exchange *sx, bool to_queue, const char *dst,
					 size_t dst_len, const char *props)
{
	struct list *pos;
	char pk[1024];
	list_for_each(pos, &sx->bindings)
	{
		struct binding *bd = list_entry(pos, struct binding, source_link);
		struct amqp_str dname = bd->dest_q ? bd->dest_q->name : bd->dest_x->name;
		if ((bd->dest_q != NULL) != to_queue || dname.len != dst_len ||
		    memcmp(dname.ptr, dst, dst_len) != 0)
			continue;
		mgmt_binding_props_key((const char *)bd->key.ptr, bd->key.len, bd->args.ptr,
				       bd->args.len, pk, sizeof pk);
		if (!props || strcmp(pk, props) == 0)
			return bd;
	}
	return NULL;
}

static void mgmt_binding_post(struct mgmt_req *r, struct vhost *v, struct exchange *sx,
			      bool to_queue)
{
	struct amqp_buf args;
	char err[512], pk[1024], loc[4300], enc_dst[1100], enc_pk[3100];
	json_t *body = mgmt_body_json(r, MGMT_BODY_MAX, true);
	if (!body)
		return;
	amqp_buf_init(&args);
	json_t *rk = json_object_get(body, "routing_key"), *a = json_object_get(body, "arguments");
	if ((rk && !json_is_string(rk)) || (rk && json_string_length(rk) > 255)) {
		mgmt_reply_bad(r, "'routing_key' must be a string");
		goto out;
	}
	if (a && !json_is_object(a) && !json_is_null(a)) {
		mgmt_reply_bad(r, "'arguments' must be an object");
		goto out;
	}
	if (admin_table_from_json(a, &args, err, sizeof err) != 0) {
		mgmt_reply_bad(r, "%s", err);
		goto out;
	}
	struct amqp_str key = rk ? (struct amqp_str){ (const uint8_t *)json_string_value(rk),
						      (uint32_t)json_string_length(rk) } :
				   AMQP_STR_LIT("");
	const struct topic_perm *tp = mgmt_topic_perm(r, v, sx);
	if (tp && !topic_perm_permitted(tp, AUTH_READ, key.ptr, key.len)) {
		mgmt_reply_error(r, 401, "not_authorised", "Access refused.");
		goto out;
	}
	int rc = admin_bind(v, (struct amqp_str){ (const uint8_t *)r->seg[4], (uint32_t)r->seg_len[4] },
			    to_queue,
			    (struct amqp_str){ (const uint8_t *)r->seg[6], (uint32_t)r->seg_len[6] },
			    key, (struct amqp_table){ args.data, (uint32_t)args.len }, err, sizeof err);
	if (rc != ADMIN_OK && rc != ADMIN_CREATED) {
		mgmt_reply_admin(r, rc, err, 201);
		goto out;
	}
	mgmt_binding_props_key((const char *)key.ptr, key.len, args.data, args.len, pk, sizeof pk);
	mgmt_pct_encode(r->seg[6], r->seg_len[6], enc_dst, sizeof enc_dst, false);
	mgmt_pct_encode(pk, strlen(pk), enc_pk, sizeof enc_pk, true);
	snprintf(loc, sizeof loc, "%s/%s", enc_dst, enc_pk);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Location", loc);
	mgmt_reply_empty(r, 201);
out:
	amqp_buf_free(&args);
	json_decref(body);
}

void mgmt_bindings_handle(struct mgmt_req *r)
{
	char err[512];
	if (r->nseg <= 3) {
		if (r->method != EVHTTP_REQ_GET)
			{ mgmt_reply_method_not_allowed(r); return; }
		struct vhost *v = NULL;
		if (r->nseg == 3 && !(v = mgmt_vhost_arg(r, 2)))
			return;
		{ mgmt_reply_json(r, 200, mgmt_bindings_of_vhost(r, v)); return; }
	}
	struct vhost *v = mgmt_vhost_arg(r, 2);
	if (!v)
		return;
	if (r->nseg < 7 || r->nseg > 8 || strcmp(r->seg[3], "e") != 0 ||
	    (strcmp(r->seg[5], "q") != 0 && strcmp(r->seg[5], "e") != 0))
		{ mgmt_reply_not_found(r); return; }
	bool to_queue = r->seg[5][0] == 'q';
	struct amqp_str src = { (const uint8_t *)r->seg[4], (uint32_t)r->seg_len[4] };
	struct amqp_str dst = { (const uint8_t *)r->seg[6], (uint32_t)r->seg_len[6] };
	if (amqp_str_eq_c(src, "amq.default"))
		src = AMQP_STR_LIT("");
	/* Binding and unbinding: write on the destination, read on the source (RabbitMQ). */
	if ((r->method == EVHTTP_REQ_POST || r->method == EVHTTP_REQ_DELETE) &&
	    (!mgmt_require_perm(r, v, AUTH_WRITE,
				to_queue ? AUTH_RESOURCE_QUEUE : AUTH_RESOURCE_EXCHANGE, dst) ||
	     !mgmt_require_perm(r, v, AUTH_READ, AUTH_RESOURCE_EXCHANGE, src)))
		return;
	struct exchange *sx = vhost_exchange_find(v, src);
	bool dest_exists = to_queue ?
				   vhost_queue_find(v, (struct amqp_str){ (const uint8_t *)r->seg[6],
									  (uint32_t)r->seg_len[6] }) != NULL :
				   vhost_exchange_find(v, (struct amqp_str){ (const uint8_t *)r->seg[6],
									     (uint32_t)r->seg_len[6] }) != NULL;
	if (r->nseg == 7) {
		if (r->method == EVHTTP_REQ_POST)
			{ mgmt_binding_post(r, v, sx, to_queue); return; }
		if (r->method != EVHTTP_REQ_GET)
			{ mgmt_reply_method_not_allowed(r); return; }
		if (!sx || !dest_exists)
			{ mgmt_reply_not_found(r); return; }
		json_t *arr = json_array();
		struct list *pos;
		list_for_each(pos, &sx->bindings)
		{
			struct binding *bd = list_entry(pos, struct binding, source_link);
			struct amqp_str dname = bd->dest_q ? bd->dest_q->name : bd->dest_x->name;
			if ((bd->dest_q != NULL) == to_queue && dname.len == r->seg_len[6] &&
			    memcmp(dname.ptr, r->seg[6], dname.len) == 0)
				json_array_append_new(arr, mgmt_binding_json(bd));
		}
		{ mgmt_reply_json(r, 200, arr); return; }
	}
	struct binding *bd = sx ? mgmt_binding_find(sx, to_queue, r->seg[6], r->seg_len[6], r->seg[7]) :
				  NULL;
	if (r->method == EVHTTP_REQ_GET) {
		if (!bd)
			{ mgmt_reply_not_found(r); return; }
		{ mgmt_object_reply(r, mgmt_binding_json(bd)); return; }
	}
	if (r->method != EVHTTP_REQ_DELETE)
		{ mgmt_reply_method_not_allowed(r); return; }
	if (!bd)
		{ mgmt_reply_not_found(r); return; }
	const struct topic_perm *tp = mgmt_topic_perm(r, v, sx);
	if (tp && !topic_perm_permitted(tp, AUTH_READ, bd->key.ptr, bd->key.len))
		{ mgmt_reply_error(r, 401, "not_authorised", "Access refused."); return; }
	struct queue *dq = bd->dest_q;
	struct exchange *dx = bd->dest_x;
	(void)dq, (void)dx;
	int rc = admin_unbind(v, src, to_queue,
			      (struct amqp_str){ (const uint8_t *)r->seg[6], (uint32_t)r->seg_len[6] },
			      bd->key, bd->args, err, sizeof err);
	mgmt_reply_admin(r, rc, err, 204);
}
