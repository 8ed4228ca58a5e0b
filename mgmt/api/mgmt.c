/* mgmt/api/mgmt.c: the management HTTP server. evhttp runs on the broker's event loop, so handlers
 * read and change broker state directly, with no locks. This file owns the listener, the router
 * (/api/<resource>/<percent-decoded segments>), Basic authentication against the broker's users
 * and their tags, the JSON reply helpers, and the statistics timer that turns the broker's
 * counters into rates every collect_statistics_interval (nothing is added to the message path). */
#include "mgmt/api/mgmt.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/admin/admin.h"
#include "broker/auth/auth.h"
#include "broker/core/broker.h"
#include "broker/core/config.h"
#include "broker/exchange/exchange.h"
#include "broker/core/log.h"
#include "broker/queue/queue.h"
#include "broker/net/tls.h"
#include "broker/vhost/vhost.h"
#include "broker/core/time.h"
#include "broker/cluster/cluster.h"
#include "mgmt/api/mgmt_internal.h"
#include "mgmt/api/mgmt_static.h"

static const char *const mgmt_tags[] = { "administrator", "monitoring", "policymaker",
					 "management" };

/* ---- replies ---- */

static void mgmt_common_headers(struct evhttp_request *req, const char *type)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Server", "Warren");
	evhttp_add_header(h, "Vary", "accept, accept-encoding, origin");
	evhttp_add_header(h, "Cache-Control", "no-cache");
}

static const char *mgmt_reason_phrase(int code)
{
	switch (code) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return NULL;
	}
}

void mgmt_reply_json(struct mgmt_req *r, int code, json_t *body)
{
	struct evbuffer *buf = evbuffer_new();
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

	json_decref(body);
	r->replied = true;
	if (!buf || !text) {
		free(text);
		if (buf)
			evbuffer_free(buf);
		evhttp_send_error(r->req, 500, NULL);
		return;
	}
	evbuffer_add(buf, text, strlen(text));
	free(text);
	mgmt_common_headers(r->req, "application/json");
	evhttp_send_reply(r->req, code, mgmt_reason_phrase(code), buf);
	evbuffer_free(buf);
}

void mgmt_reply_empty(struct mgmt_req *r, int code)
{
	r->replied = true;
	mgmt_common_headers(r->req, "application/json");
	evhttp_send_reply(r->req, code, mgmt_reason_phrase(code), NULL);
}

static void mgmt_reply_errorv(struct mgmt_req *r, int code, const char *error, const char *fmt,
			      va_list ap)
{
	char reason[1024];
	vsnprintf(reason, sizeof reason, fmt, ap);
	json_t *o = json_object();
	json_object_set_new(o, "error", json_string(error));
	json_t *rs = json_string(reason);
	json_object_set_new(o, "reason", rs ? rs : json_string("(reason is not valid UTF-8)"));
	/* The web UI sends X-Requested-With and shows its own login form: a WWW-Authenticate
	 * there would pop the browser's Basic-auth dialog over it (Spring Security does the same). */
	const char *xrw = evhttp_find_header(evhttp_request_get_input_headers(r->req),
					     "X-Requested-With");
	if (code == 401 && !(xrw && strcasecmp(xrw, "XMLHttpRequest") == 0))
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "WWW-Authenticate",
				  "Basic realm=\"RabbitMQ Management\"");
	mgmt_reply_json(r, code, o);
}

void mgmt_reply_error(struct mgmt_req *r, int code, const char *error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mgmt_reply_errorv(r, code, error, fmt, ap);
	va_end(ap);
}

void mgmt_reply_bad(struct mgmt_req *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mgmt_reply_errorv(r, 400, "bad_request", fmt, ap);
	va_end(ap);
}

void mgmt_reply_not_found(struct mgmt_req *r)
{
	mgmt_reply_error(r, 404, "Object Not Found", "Not Found");
}

void mgmt_reply_method_not_allowed(struct mgmt_req *r)
{
	mgmt_reply_error(r, 405, "method_not_allowed", "Method Not Allowed");
}

void mgmt_reply_admin(struct mgmt_req *r, int status, const char *err, int ok_code)
{
	switch (status) {
	case ADMIN_CREATED:
		mgmt_reply_empty(r, 201);
		return;
	case ADMIN_OK:
		mgmt_reply_empty(r, ok_code);
		return;
	case ADMIN_NOT_FOUND:
		mgmt_reply_not_found(r);
		return;
	case ADMIN_REFUSED:
		mgmt_reply_error(r, 401, "not_authorised", "Access refused.");
		return;
	case ADMIN_NO_MEMORY:
		mgmt_reply_error(r, 500, "internal_error", "out of memory");
		return;
	default:
		mgmt_reply_bad(r, "%s", err);
	}
}

json_t *mgmt_body_json(struct mgmt_req *r, size_t max, bool allow_empty)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	json_error_t jerr;

	if (len > max) {
		mgmt_reply_error(r, 413, "payload_too_large", "request body exceeds %zu bytes", max);
		return NULL;
	}
	if (len == 0 && allow_empty)
		return json_object();
	const char *p = (const char *)evbuffer_pullup(in, -1);
	json_t *j = json_loadb(p ? p : "", len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		mgmt_reply_bad(r, "not_json");
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		mgmt_reply_bad(r, "not_json");
		return NULL;
	}
	return j;
}

const char *mgmt_query(struct mgmt_req *r, const char *key)
{
	return evhttp_find_header(&r->query, key);
}

bool mgmt_query_true(struct mgmt_req *r, const char *key)
{
	const char *v = mgmt_query(r, key);
	return v && strcmp(v, "true") == 0;
}

/* ---- access ---- */

bool mgmt_can_see_vhost(struct mgmt_req *r, const char *vhost)
{
	if (r->is_admin || r->is_monitor)
		return true;
	return auth_permission_find(r->user, vhost) != NULL;
}

bool mgmt_permitted(struct mgmt_req *r, struct vhost *v, int perm, int kind,
		    struct amqp_str name, char *text, size_t cap)
{
	if (auth_permitted(r->user, v->name, (enum auth_perm)perm, (enum auth_resource)kind, name))
		return true;
	auth_refusal_text(text, cap, r->user, v->name, (enum auth_resource)kind, name);
	return false;
}

bool mgmt_require_perm(struct mgmt_req *r, struct vhost *v, int perm, int kind,
		       struct amqp_str name)
{
	char text[512];
	if (mgmt_permitted(r, v, perm, kind, name, text, sizeof text))
		return true;
	mgmt_reply_error(r, 401, "not_authorised", "Access refused.");
	return false;
}

struct vhost *mgmt_vhost_arg(struct mgmt_req *r, int i)
{
	if (i >= r->nseg) {
		mgmt_reply_not_found(r);
		return NULL;
	}
	struct vhost *v = admin_vhost_find(r->b, r->seg[i]);
	if (!v) {
		mgmt_reply_not_found(r);
		return NULL;
	}
	if (!mgmt_can_see_vhost(r, v->name)) {
		mgmt_reply_error(r, 401, "not_authorised", "Not authorised to access virtual host");
		return NULL;
	}
	return v;
}

bool mgmt_require_admin(struct mgmt_req *r)
{
	if (r->is_admin)
		return true;
	mgmt_reply_error(r, 401, "not_authorised", "Not administrator user");
	return false;
}

bool mgmt_require_policymaker(struct mgmt_req *r)
{
	if (r->is_admin || r->is_policymaker)
		return true;
	mgmt_reply_error(r, 401, "not_authorised", "Not policymaker user");
	return false;
}

static bool mgmt_authenticate(struct mgmt_req *r)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->req),
					   "Authorization");
	unsigned char dec[1024];
	if (!h || strncasecmp(h, "Basic ", 6) != 0) {
		mgmt_reply_error(r, 401, "not_authorized", "Login failed");
		return false;
	}
	const char *b64 = h + 6;
	while (*b64 == ' ')
		b64++;
	size_t n = strlen(b64);
	while (n && b64[n - 1] == ' ')
		n--;
	int len = n && n * 3 / 4 < sizeof dec && n % 4 == 0 ?
			  EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)n) :
			  -1;
	if (len > 0) {
		len -= (n >= 1 && b64[n - 1] == '=') + (n >= 2 && b64[n - 2] == '=');
		dec[len] = '\0';
	}
	char *colon = len > 0 ? memchr(dec, ':', (size_t)len) : NULL;
	if (!colon) {
		mgmt_reply_error(r, 401, "not_authorized", "Login failed");
		return false;
	}
	*colon = '\0';
	const char *name = (const char *)dec;
	const uint8_t *pw = (const uint8_t *)colon + 1;
	size_t pw_len = (size_t)len - (size_t)(colon + 1 - (char *)dec);
	struct user *u = strmap_get(&r->b->users, name, strlen(name));
	if (!u || !auth_user_check_password(u, pw, pw_len)) {
		mgmt_reply_error(r, 401, "not_authorized", "Login failed");
		return false;
	}
	/* The same loopback rule as AMQP (conn_new): 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104. */
	if (r->b->cfg->loopback_users_guest && strcmp(name, "guest") == 0 &&
	    !auth_addr_is_loopback(
		    evhttp_connection_get_addr(evhttp_request_get_connection(r->req)))) {
		mgmt_reply_error(r, 401, "not_authorized", "User can only log in via localhost");
		return false;
	}
	bool mgmt_user = false;
	for (size_t i = 0; i < sizeof mgmt_tags / sizeof mgmt_tags[0]; i++)
		mgmt_user = mgmt_user || auth_user_has_tag(u, mgmt_tags[i]);
	if (!mgmt_user) {
		mgmt_reply_error(r, 401, "not_authorised", "Not management user");
		return false;
	}
	r->user = u;
	r->is_admin = auth_user_has_tag(u, "administrator");
	r->is_monitor = r->is_admin || auth_user_has_tag(u, "monitoring");
	r->is_policymaker = r->is_admin || auth_user_has_tag(u, "policymaker");
	return true;
}

/* ---- routing ---- */

static const struct {
	const char *name;
	void (*fn)(struct mgmt_req *r);
} mgmt_routes[] = {
	{ "overview", mgmt_overview_handle },
	{ "whoami", mgmt_whoami_handle },
	{ "nodes", mgmt_nodes_handle },
	{ "health", mgmt_health_handle },
	{ "aliveness-test", mgmt_aliveness_handle },
	{ "vhost-limits", mgmt_vhost_limits_handle },
	{ "user-limits", mgmt_user_limits_handle },
	{ "extensions", mgmt_extensions_handle },
	{ "vhosts", mgmt_vhosts_handle },
	{ "users", mgmt_users_handle },
	{ "permissions", mgmt_permissions_handle },
	{ "topic-permissions", mgmt_topic_permissions_handle },
	{ "queues", mgmt_queues_handle },
	{ "exchanges", mgmt_exchanges_handle },
	{ "bindings", mgmt_bindings_handle },
	{ "connections", mgmt_connections_handle },
	{ "channels", mgmt_channels_handle },
	{ "consumers", mgmt_consumers_handle },
	{ "definitions", mgmt_definitions_handle },
	{ "policies", mgmt_policies_handle },
	{ "operator-policies", mgmt_operator_policies_handle },
	{ "parameters", mgmt_parameters_handle },
	{ "shovels", mgmt_shovels_handle },
};

/* Splits the raw path into percent-decoded segments. -1 when there are too many or a segment
 * does not decode. */
static int mgmt_split_path(struct mgmt_req *r, const char *path)
{
	const char *p = path;
	while (*p == '/')
		p++;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (r->nseg == MGMT_MAX_SEGMENTS)
			return -1;
		char *raw = strndup(p, n);
		if (!raw)
			return -1;
		size_t out_len = 0;
		char *dec = evhttp_uridecode(raw, 0, &out_len);
		free(raw);
		if (!dec)
			return -1;
		if (strlen(dec) != out_len) { /* %00 */
			free(dec);
			return -1;
		}
		r->seg[r->nseg] = dec;
		r->seg_len[r->nseg++] = out_len;
		if (!end)
			break;
		p = end + 1;
		if (!*p) { /* trailing slash: an empty last segment is ignored */
			break;
		}
	}
	return 0;
}

static void mgmt_metrics_reply(struct mgmt *m, struct evhttp_request *req, bool per_object)
{
	struct evbuffer *buf = evbuffer_new();
	if (!buf) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	mgmt_metrics_render(m, buf, per_object);
	mgmt_common_headers(req, "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", buf);
	evbuffer_free(buf);
}

static void mgmt_on_request(struct evhttp_request *req, void *arg)
{
	struct mgmt *m = arg;
	struct mgmt_req r = { .m = m, .b = m->b, .req = req };
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;

	r.query.tqh_first = NULL;
	r.query.tqh_last = &r.query.tqh_first;
	r.method = evhttp_request_get_command(req);
	if (!path || mgmt_split_path(&r, path) != 0) {
		mgmt_reply_bad(&r, "malformed path");
		goto out;
	}
	if (query && evhttp_parse_query_str(query, &r.query) != 0) {
		mgmt_reply_bad(&r, "malformed query string");
		goto out;
	}
	if (r.nseg >= 1 && strcmp(r.seg[0], "metrics") == 0 &&
	    (r.nseg == 1 || (r.nseg == 2 && strcmp(r.seg[1], "per-object") == 0))) {
		if (r.method != EVHTTP_REQ_GET && r.method != EVHTTP_REQ_HEAD) {
			mgmt_reply_method_not_allowed(&r);
			goto out;
		}
		mgmt_metrics_reply(m, req, r.nseg == 2);
		r.replied = true;
		goto out;
	}
	if (mgmt_static_owns(r.seg, r.nseg)) { /* the web UI: mgmt_static.c */
		mgmt_static_serve(req, m->b->cfg->mgmt_ui_dir, r.seg, r.nseg);
		r.replied = true;
		goto out;
	}
	if (r.nseg < 2 || strcmp(r.seg[0], "api") != 0) {
		mgmt_reply_not_found(&r);
		goto out;
	}
	size_t i;
	for (i = 0; i < sizeof mgmt_routes / sizeof mgmt_routes[0]; i++)
		if (strcmp(r.seg[1], mgmt_routes[i].name) == 0)
			break;
	if (i == sizeof mgmt_routes / sizeof mgmt_routes[0]) {
		mgmt_reply_not_found(&r);
		goto out;
	}
	if (r.method != EVHTTP_REQ_GET && r.method != EVHTTP_REQ_PUT &&
	    r.method != EVHTTP_REQ_POST && r.method != EVHTTP_REQ_DELETE &&
	    r.method != EVHTTP_REQ_HEAD) {
		mgmt_reply_method_not_allowed(&r);
		goto out;
	}
	if (!mgmt_authenticate(&r))
		goto out;
	if (m->b->cluster && r.method != EVHTTP_REQ_GET && r.method != EVHTTP_REQ_HEAD &&
	    !cluster_may_serve(m->b->cluster)) {
		/* a leader whose lease may have lapsed changes nothing any more */
		mgmt_reply_error(&r, 503, "unavailable", "this node no longer leads the cluster");
		goto out;
	}
	/* Handlers see segments after "api/<resource>" at index 2 onwards. */
	/* What the request changes names its user in the events it emits (core/event.h). */
	r.b->event_actor = r.user ? r.user->name : NULL;
	mgmt_routes[i].fn(&r);
	r.b->event_actor = NULL;
	if (!r.replied)
		mgmt_reply_not_found(&r);
	/* Users, vhosts, permissions, policies or durable objects may have changed: they are
	 * saved before this loop turn's replies leave. */
	if (r.method != EVHTTP_REQ_GET && r.method != EVHTTP_REQ_HEAD)
		broker_definitions_dirty(m->b);
out:
	for (int k = 0; k < r.nseg; k++)
		free(r.seg[k]);
	evhttp_clear_headers(&r.query);
}

static void mgmt_on_prometheus(struct evhttp_request *req, void *arg)
{
	struct mgmt *m = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : "";
	if (path && strcmp(path, "/metrics") == 0)
		mgmt_metrics_reply(m, req, false);
	else if (path && strcmp(path, "/metrics/per-object") == 0)
		mgmt_metrics_reply(m, req, true);
	else
		evhttp_send_error(req, 404, NULL);
}

/* ---- sampling ---- */

/* The broker's clock is monotonic; the API shows wall-clock times. The difference is taken once,
 * when the management API starts, so a time shows the same on every request. */
uint64_t mgmt_wall_ms(const struct mgmt *m, uint64_t mono_ms)
{
	return (uint64_t)((int64_t)mono_ms + m->wall_offset_ms);
}

static void mgmt_sample_update(struct mgmt_sample *s, void *obj, const uint64_t *now, size_t n,
			       double secs, uint64_t epoch)
{
	if (s->obj != obj) { /* new, or a new object with the same name */
		memset(s, 0, sizeof *s);
		s->obj = obj;
		memcpy(s->prev, now, n * sizeof *now);
	}
	for (size_t i = 0; i < n; i++) {
		s->rate[i] = secs > 0 && now[i] >= s->prev[i] ? (double)(now[i] - s->prev[i]) / secs :
								 0;
		s->prev[i] = now[i];
	}
	s->epoch = epoch;
}

struct mgmt_sample *mgmt_sample_get(struct mgmt *m, char kind, const char *vhost,
				    const char *name, size_t name_len, bool create)
{
	char stack[512];
	size_t vlen = strlen(vhost), klen = 1 + vlen + 1 + name_len;
	char *key = klen <= sizeof stack ? stack : malloc(klen);
	struct mgmt_sample *s = NULL;
	if (!key)
		return NULL;
	key[0] = kind;
	memcpy(key + 1, vhost, vlen);
	key[1 + vlen] = '\0';
	memcpy(key + 2 + vlen, name, name_len);
	s = strmap_get(&m->samples, key, klen);
	if (!s && create) {
		s = calloc(1, sizeof *s);
		if (s && strmap_put(&m->samples, key, klen, s) != 0) {
			free(s);
			s = NULL;
		}
	}
	if (key != stack)
		free(key);
	return s;
}

const struct mgmt_sample *mgmt_sample_find(struct mgmt *m, char kind, const char *vhost,
					   const char *name, size_t name_len)
{
	return mgmt_sample_get(m, kind, vhost, name, name_len, false);
}

void mgmt_sample_record(struct mgmt *m, char kind, const char *vhost, const char *name,
			size_t name_len, void *obj, const uint64_t *now, size_t n, double secs)
{
	struct mgmt_sample *s = mgmt_sample_get(m, kind, vhost, name, name_len, true);
	if (s)
		mgmt_sample_update(s, obj, now, n, secs, m->epoch);
}

void mgmt_stat_set(json_t *obj, const char *key, uint64_t n, double rate)
{
	char k[96];
	json_object_set_new(obj, key, json_integer((json_int_t)n));
	snprintf(k, sizeof k, "%s_details", key);
	json_t *d = json_object();
	json_object_set_new(d, "rate", json_real(rate));
	json_object_set_new(obj, k, d);
}

void mgmt_sample_now(struct mgmt *m)
{
	struct broker *b = m->b;
	uint64_t now_ms = time_now_ms();
	double secs = m->last_sample_ms ? (double)(now_ms - m->last_sample_ms) / 1000.0 : 0;
	size_t i, j;

	m->last_sample_ms = now_ms;
	m->epoch++;
	uint64_t g[6] = { b->stats.published, b->stats.delivered, b->stats.acked,
			  b->stats.redelivered, b->stats.confirmed, b->stats.returned };
	mgmt_sample_update(&m->global, &m->global, g, 6, secs, m->epoch);
	mgmt_history_record(m);
	for (struct strmap_entry *ve = strmap_first(&b->vhosts, &i); ve;
	     ve = strmap_next(&b->vhosts, ve, &i)) {
		struct vhost *v = ve->value;
		for (struct strmap_entry *e = strmap_first(&v->queues, &j); e;
		     e = strmap_next(&v->queues, e, &j)) {
			struct queue *q = e->value;
			struct mgmt_sample *s = mgmt_sample_get(m, 'q', v->name,
								(const char *)q->name.ptr,
								q->name.len, true);
			uint64_t c[4] = { q->stat_published, q->stat_delivered, q->stat_acked,
					  q->stat_redelivered };
			if (s)
				mgmt_sample_update(s, q, c, 4, secs, m->epoch);
		}
		for (struct strmap_entry *e = strmap_first(&v->exchanges, &j); e;
		     e = strmap_next(&v->exchanges, e, &j)) {
			struct exchange *x = e->value;
			struct mgmt_sample *s = mgmt_sample_get(m, 'x', v->name,
								(const char *)x->name.ptr,
								x->name.len, true);
			uint64_t c[2] = { x->publish_in, x->publish_out };
			if (s)
				mgmt_sample_update(s, x, c, 2, secs, m->epoch);
		}
	}
	mgmt_flows_sample(m, secs);
	/* Forget objects that are gone: collect them first (no deletion while iterating). */
	size_t stale = 0, k = 0;
	for (struct strmap_entry *e = strmap_first(&m->samples, &i); e;
	     e = strmap_next(&m->samples, e, &i))
		stale += ((struct mgmt_sample *)e->value)->epoch != m->epoch;
	struct strmap_entry **gone = stale ? calloc(stale, sizeof *gone) : NULL;
	if (!gone)
		return;
	for (struct strmap_entry *e = strmap_first(&m->samples, &i); e && k < stale;
	     e = strmap_next(&m->samples, e, &i))
		if (((struct mgmt_sample *)e->value)->epoch != m->epoch)
			gone[k++] = e;
	for (size_t n = 0; n < k; n++) {
		/* strmap_del frees the entry, so copy its key out first */
		struct strmap_entry *e = gone[n];
		char *key = malloc(e->key_len ? e->key_len : 1);
		size_t len = e->key_len;
		if (!key)
			break;
		memcpy(key, e->key, len);
		free(strmap_del(&m->samples, key, len));
		free(key);
	}
	free(gone);
}

static void mgmt_on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	mgmt_sample_now(arg);
}

/* ---- lifecycle ---- */

/* struct mgmt as mgmt_start allocates it: the HTTPS listener (management.ssl.*) lives here, beside
 * the shared struct, so mgmt_internal.h and the resource files do not see OpenSSL. */
struct mgmt_server {
	struct mgmt m;
	struct evhttp *https;
	SSL_CTX *ssl_ctx;
};

/* evhttp asks for one bufferevent per accepted connection and sets its fd afterwards; the
 * handshake then runs inside bufferevent_openssl, on the loop. */
static struct bufferevent *mgmt_on_https_accept(struct event_base *base, void *arg)
{
	struct mgmt_server *s = arg;
	SSL *ssl = SSL_new(s->ssl_ctx);
	if (!ssl)
		return NULL;
	struct bufferevent *bev = bufferevent_openssl_socket_new(
		base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		SSL_free(ssl);
	return bev;
}

static struct evhttp *mgmt_listen(struct mgmt *m, const char *ip, int port,
				  void (*cb)(struct evhttp_request *, void *), char *err,
				  size_t errlen)
{
	struct evhttp *http = evhttp_new(m->b->base);
	if (!http) {
		snprintf(err, errlen, "management: out of memory");
		return NULL;
	}
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						 EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						 EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	/* Bodies above 16 MiB are refused by evhttp itself (413); handlers apply their own,
	 * smaller, limits with a JSON 413. */
	evhttp_set_max_body_size(http, MGMT_DEFINITIONS_BODY_MAX);
	evhttp_set_max_headers_size(http, 64 * 1024);
	evhttp_set_timeout(http, 60);
	evhttp_set_gencb(http, cb, m);
	if (!evhttp_bind_socket_with_handle(http, ip, (ev_uint16_t)port)) {
		snprintf(err, errlen, "management: cannot listen on %s:%d", ip, port);
		evhttp_free(http);
		return NULL;
	}
	return http;
}

struct mgmt *mgmt_start(struct broker *b, char *err, size_t errlen)
{
	const struct config *cfg = b->cfg;
	struct mgmt_server *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "management: out of memory");
		return NULL;
	}
	struct mgmt *m = &s->m;
	m->b = b;
	m->wall_offset_ms = (int64_t)time_wall_ms() - (int64_t)time_now_ms();
	strmap_init(&m->samples);
	if (!mgmt_static_check(cfg->mgmt_ui_dir, err, errlen))
		goto fail;
	const char *ip = cfg->mgmt_bind ? cfg->mgmt_bind : cfg->bind ? cfg->bind : "127.0.0.1";
	m->http = mgmt_listen(m, ip, cfg->mgmt_port, mgmt_on_request, err, errlen);
	if (!m->http)
		goto fail;
	if (cfg->mgmt_tls_port) {
		char terr[256];
		s->ssl_ctx = tls_ctx_new_from_files(cfg->mgmt_ssl_certfile, cfg->mgmt_ssl_keyfile,
						    cfg->mgmt_ssl_cacertfile, terr, sizeof terr);
		if (!s->ssl_ctx) {
			snprintf(err, errlen, "management.ssl: %s", terr);
			goto fail;
		}
		s->https = mgmt_listen(m, ip, cfg->mgmt_tls_port, mgmt_on_request, err, errlen);
		if (!s->https)
			goto fail;
		evhttp_set_bevcb(s->https, mgmt_on_https_accept, s);
		log_info(m->b->log, "management API on https://%s:%d/", ip, cfg->mgmt_tls_port);
	}
	if (cfg->prometheus_port) {
		const char *pip = cfg->prometheus_bind ? cfg->prometheus_bind : ip;
		m->prom_http = mgmt_listen(m, pip, cfg->prometheus_port, mgmt_on_prometheus, err,
					   errlen);
		if (!m->prom_http)
			goto fail;
	}
	m->timer = event_new(b->base, -1, EV_PERSIST, mgmt_on_timer, m);
	uint32_t ms = cfg->collect_statistics_interval ? cfg->collect_statistics_interval : 5000;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	if (!m->timer || event_add(m->timer, &tv) != 0) {
		snprintf(err, errlen, "management: cannot start the statistics timer");
		goto fail;
	}
	mgmt_sample_now(m);
	log_info(m->b->log, "management API on http://%s:%d/", ip, cfg->mgmt_port);
	return m;
fail:
	mgmt_free(m);
	return NULL;
}

void mgmt_free(struct mgmt *m)
{
	size_t i;
	if (!m)
		return;
	struct mgmt_server *s = (struct mgmt_server *)m; /* m is s->m, the first member */
	if (s->https)
		evhttp_free(s->https);
	tls_ctx_free(s->ssl_ctx);
	if (m->http)
		evhttp_free(m->http);
	if (m->prom_http)
		evhttp_free(m->prom_http);
	if (m->timer)
		event_free(m->timer);
	for (struct strmap_entry *e = strmap_first(&m->samples, &i); e;
	     e = strmap_next(&m->samples, e, &i))
		free(e->value);
	strmap_clear(&m->samples);
	mgmt_history_free(m->history);
	free(s);
}
