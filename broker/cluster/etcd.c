/* broker/cluster/etcd.c: etcd's v3 JSON gateway over evhttp (etcd.h). Each endpoint keeps two
 * keep-alive connections, one for lease calls and one for key calls, so that a lease renewal
 * never waits behind a range. A call is a struct etcd_call on the pending list until its
 * response (or failure) arrives; etcd_free cancels what is left. */
#include "broker/cluster/etcd.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/core/list.h"

enum etcd_kind { ETCD_GRANT, ETCD_KEEPALIVE, ETCD_REVOKE, ETCD_PUT, ETCD_RANGE, ETCD_DELETE,
		 ETCD_TXN };

struct etcd_endpoint {
	char *url, *host;
	int port;
	struct evhttp_connection *conn[2]; /* [0] leases, [1] keys */
};

struct etcd {
	struct event_base *base;
	struct etcd_endpoint *eps;
	size_t ep_count, cur;
	unsigned timeout_ms;
	struct list pending; /* struct etcd_call */
};

struct etcd_call {
	struct list link;
	struct etcd *e;
	size_t ep;
	enum etcd_kind kind;
	etcd_cb cb;
	void *arg;
	struct evhttp_request *req;
	enum evhttp_request_error herr;
	bool herr_set;
};

/* ---- base64 ---- */

static const char etcd_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_b64_encode(const void *data, size_t len)
{
	const uint8_t *p = data;
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = etcd_b64[(v >> 18) & 63];
		*o++ = etcd_b64[(v >> 12) & 63];
		*o++ = i + 1 < len ? etcd_b64[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? etcd_b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int etcd_b64_value(char c)
{
	const char *p = c ? strchr(etcd_b64, c) : NULL;
	return p ? (int)(p - etcd_b64) : -1;
}

char *etcd_b64_decode(const char *text, size_t *len)
{
	size_t n = strlen(text), pad = 0;
	char *out, *o;

	if (n % 4 != 0)
		return NULL;
	while (pad < 2 && n > pad && text[n - 1 - pad] == '=')
		pad++;
	out = malloc(n / 4 * 3 + 1);
	if (!out)
		return NULL;
	o = out;
	for (size_t i = 0; i < n; i += 4) {
		uint32_t v = 0;
		for (size_t k = 0; k < 4; k++) {
			int d = text[i + k] == '=' && i + k >= n - pad ? 0 : etcd_b64_value(text[i + k]);
			if (d < 0) {
				free(out);
				return NULL;
			}
			v = v << 6 | (uint32_t)d;
		}
		*o++ = (char)(v >> 16);
		*o++ = (char)(v >> 8);
		*o++ = (char)v;
	}
	*len = (size_t)(o - out) - pad;
	out[*len] = '\0';
	return out;
}

/* ---- endpoints ---- */

static int etcd_parse_url(struct etcd_endpoint *ep, const char *url, size_t n, char *err,
			  size_t errlen)
{
	char *copy = strndup(url, n);
	struct evhttp_uri *u = copy ? evhttp_uri_parse(copy) : NULL;
	const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
	const char *host = u ? evhttp_uri_get_host(u) : NULL;
	int rc = -1;

	if (!u || !scheme || strcmp(scheme, "http") != 0 || !host || !*host) {
		snprintf(err, errlen, "clustering.etcd_endpoints: '%s' is not an http://HOST:PORT URL",
			 copy ? copy : "");
		goto out;
	}
	ep->url = copy;
	copy = NULL;
	ep->host = strdup(host);
	ep->port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 2379;
	if (!ep->host) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (u)
		evhttp_uri_free(u);
	free(copy);
	return rc;
}

struct etcd *etcd_new(struct event_base *base, const char *endpoints, unsigned timeout_ms,
		      char *err, size_t errlen)
{
	struct etcd *e = calloc(1, sizeof *e);
	const char *p = endpoints;

	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->base = base;
	e->timeout_ms = timeout_ms ? timeout_ms : 1000;
	list_init(&e->pending);
	while (p && *p) {
		size_t n = strcspn(p, ",");
		const char *s = p;
		while (n && (*s == ' ' || *s == '\t'))
			s++, n--;
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n) {
			struct etcd_endpoint *eps =
				realloc(e->eps, (e->ep_count + 1) * sizeof *eps);
			if (!eps) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			e->eps = eps;
			memset(&eps[e->ep_count], 0, sizeof eps[0]);
			if (etcd_parse_url(&eps[e->ep_count], s, n, err, errlen) != 0) {
				free(eps[e->ep_count].url);
				goto fail;
			}
			e->ep_count++;
		}
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	if (e->ep_count == 0) {
		snprintf(err, errlen, "clustering.etcd_endpoints names no URL");
		goto fail;
	}
	return e;
fail:
	etcd_free(e);
	return NULL;
}

void etcd_free(struct etcd *e)
{
	struct list *pos, *tmp;

	if (!e)
		return;
	list_for_each_safe(pos, tmp, &e->pending)
	{
		struct etcd_call *c = list_entry(pos, struct etcd_call, link);
		struct etcd_reply r = { .error = "cancelled", .cancelled = true };
		if (c->req)
			evhttp_cancel_request(c->req);
		list_remove(&c->link);
		c->cb(c->arg, &r);
		free(c);
	}
	for (size_t i = 0; i < e->ep_count; i++) {
		for (int k = 0; k < 2; k++)
			if (e->eps[i].conn[k])
				evhttp_connection_free(e->eps[i].conn[k]);
		free(e->eps[i].url);
		free(e->eps[i].host);
	}
	free(e->eps);
	free(e);
}

const char *etcd_endpoint(const struct etcd *e)
{
	return e->eps[e->cur].url;
}

/* ---- responses ---- */

static int64_t etcd_json_int(const json_t *v)
{
	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return 0;
}

static const char *etcd_http_error(enum evhttp_request_error e)
{
	switch (e) {
	case EVREQ_HTTP_TIMEOUT:
		return "no answer in time";
	case EVREQ_HTTP_EOF:
		return "connection closed";
	case EVREQ_HTTP_INVALID_HEADER:
		return "a malformed answer";
	case EVREQ_HTTP_BUFFER_ERROR:
		return "connection refused or reset";
	case EVREQ_HTTP_REQUEST_CANCEL:
		return "cancelled";
	case EVREQ_HTTP_DATA_TOO_LONG:
		return "an answer too large";
	}
	return "unreachable";
}

static void etcd_on_error(enum evhttp_request_error err, void *arg)
{
	struct etcd_call *c = arg;
	c->herr = err;
	c->herr_set = true;
}

/* Decodes the kvs array of a range response into r (strings are malloc'd; see etcd_kvs_free). */
static int etcd_kvs_decode(const json_t *kvs, struct etcd_reply *r)
{
	size_t n = json_is_array(kvs) ? json_array_size(kvs) : 0;

	if (n == 0)
		return 0;
	r->kvs = calloc(n, sizeof *r->kvs);
	if (!r->kvs)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const json_t *kv = json_array_get(kvs, i);
		const json_t *k = json_object_get(kv, "key"), *v = json_object_get(kv, "value");
		struct etcd_kv *out = &r->kvs[r->kv_count];
		size_t klen;
		if (!json_is_string(k))
			continue;
		out->key = etcd_b64_decode(json_string_value(k), &klen);
		out->value = etcd_b64_decode(json_is_string(v) ? json_string_value(v) : "",
					     &out->value_len);
		if (!out->key || !out->value) {
			free((char *)out->key);
			free((char *)out->value);
			continue;
		}
		out->create_revision = etcd_json_int(json_object_get(kv, "create_revision"));
		out->mod_revision = etcd_json_int(json_object_get(kv, "mod_revision"));
		out->lease = etcd_json_int(json_object_get(kv, "lease"));
		r->kv_count++;
	}
	return 0;
}

static void etcd_kvs_free(struct etcd_reply *r)
{
	for (size_t i = 0; i < r->kv_count; i++) {
		free((char *)r->kvs[i].key);
		free((char *)r->kvs[i].value);
	}
	free(r->kvs);
}

static void etcd_decode(struct etcd_call *c, json_t *body, struct etcd_reply *r)
{
	const json_t *o = body, *hdr;

	if (c->kind == ETCD_KEEPALIVE && json_object_get(body, "result"))
		o = json_object_get(body, "result");
	hdr = json_object_get(o, "header");
	r->revision = etcd_json_int(json_object_get(hdr, "revision"));
	const json_t *cid = json_object_get(hdr, "cluster_id");
	if (json_is_string(cid))
		snprintf(r->cluster_id, sizeof r->cluster_id, "%s", json_string_value(cid));
	switch (c->kind) {
	case ETCD_GRANT:
		r->lease_id = etcd_json_int(json_object_get(o, "ID"));
		r->ttl = etcd_json_int(json_object_get(o, "TTL"));
		break;
	case ETCD_KEEPALIVE:
		r->lease_id = etcd_json_int(json_object_get(o, "ID"));
		r->ttl = etcd_json_int(json_object_get(o, "TTL"));
		break;
	case ETCD_RANGE:
		etcd_kvs_decode(json_object_get(o, "kvs"), r);
		break;
	case ETCD_TXN: {
		r->succeeded = json_is_true(json_object_get(o, "succeeded"));
		if (!r->succeeded) {
			const json_t *resp = json_array_get(json_object_get(o, "responses"), 0);
			const json_t *rr = json_object_get(resp, "response_range");
			etcd_kvs_decode(json_object_get(rr, "kvs"), r);
		}
		break;
	}
	case ETCD_REVOKE:
	case ETCD_PUT:
	case ETCD_DELETE:
		break;
	}
}

static void etcd_on_response(struct evhttp_request *req, void *arg)
{
	struct etcd_call *c = arg;
	struct etcd *e = c->e;
	struct etcd_reply r = { 0 };
	char why[512];
	json_t *body = NULL;
	int code = req ? evhttp_request_get_response_code(req) : 0;

	list_remove(&c->link);
	c->req = NULL;
	if (code == 0) {
		snprintf(why, sizeof why, "etcd %s: %s", e->eps[c->ep].url,
			 etcd_http_error(c->herr_set ? c->herr : EVREQ_HTTP_BUFFER_ERROR));
		r.error = why;
		r.unreachable = true;
		/* the next call tries the next endpoint */
		if (c->ep == e->cur)
			e->cur = (e->cur + 1) % e->ep_count;
	} else {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(in);
		json_error_t jerr;
		body = json_loadb((const char *)evbuffer_pullup(in, (ssize_t)n), n, 0, &jerr);
		const json_t *ej = body ? json_object_get(body, "error") : NULL;
		if (body && json_object_get(body, "result") && !ej)
			ej = json_object_get(json_object_get(body, "result"), "error");
		if (!body) {
			snprintf(why, sizeof why, "etcd %s: HTTP %d with an answer that is not JSON",
				 e->eps[c->ep].url, code);
			r.error = why;
		} else if (ej || code != 200) {
			const json_t *msg = json_object_get(body, "message");
			snprintf(why, sizeof why, "etcd %s: %s", e->eps[c->ep].url,
				 json_is_string(msg)  ? json_string_value(msg) :
				 json_is_string(ej)   ? json_string_value(ej) :
							"an error");
			r.error = why;
			/* a member that lost its quorum answers with an error: try another */
			if (code >= 500 && c->ep == e->cur)
				e->cur = (e->cur + 1) % e->ep_count;
		} else {
			etcd_decode(c, body, &r);
		}
	}
	c->cb(c->arg, &r);
	etcd_kvs_free(&r);
	json_decref(body);
	free(c);
}

/* ---- requests ---- */

static struct evhttp_connection *etcd_conn(struct etcd *e, size_t ep, int which)
{
	struct etcd_endpoint *p = &e->eps[ep];

	if (!p->conn[which]) {
		struct timeval tv = { (time_t)(e->timeout_ms / 1000),
				      (suseconds_t)(e->timeout_ms % 1000) * 1000 };
		p->conn[which] = evhttp_connection_base_new(e->base, NULL, p->host,
							    (unsigned short)p->port);
		if (!p->conn[which])
			return NULL;
		evhttp_connection_set_timeout_tv(p->conn[which], &tv);
		evhttp_connection_set_retries(p->conn[which], 0);
	}
	return p->conn[which];
}

/* Sends body (stolen) to path. */
static int etcd_call(struct etcd *e, enum etcd_kind kind, const char *path, json_t *body,
		     etcd_cb cb, void *arg)
{
	struct etcd_call *c = calloc(1, sizeof *c);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct evhttp_connection *conn;
	struct evkeyvalq *h;
	char host[300];
	int which = kind <= ETCD_REVOKE ? 0 : 1;

	json_decref(body);
	if (!c || !text)
		goto fail;
	c->e = e;
	c->ep = e->cur;
	c->kind = kind;
	c->cb = cb;
	c->arg = arg;
	conn = etcd_conn(e, c->ep, which);
	if (!conn)
		goto fail;
	c->req = evhttp_request_new(etcd_on_response, c);
	if (!c->req)
		goto fail;
	evhttp_request_set_error_cb(c->req, etcd_on_error);
	h = evhttp_request_get_output_headers(c->req);
	snprintf(host, sizeof host, "%s:%d", e->eps[c->ep].host, e->eps[c->ep].port);
	evhttp_add_header(h, "Host", host);
	evhttp_add_header(h, "Content-Type", "application/json");
	evbuffer_add(evhttp_request_get_output_buffer(c->req), text, strlen(text));
	free(text);
	text = NULL;
	list_append(&e->pending, &c->link);
	if (evhttp_make_request(conn, c->req, EVHTTP_REQ_POST, path) != 0) {
		/* evhttp freed the request */
		list_remove(&c->link);
		c->req = NULL;
		goto fail;
	}
	return 0;
fail:
	free(text);
	free(c);
	return -1;
}

static json_t *etcd_b64_json(const char *s)
{
	char *b = etcd_b64_encode(s, strlen(s));
	json_t *j = b ? json_string(b) : NULL;
	free(b);
	return j;
}

static json_t *etcd_int_json(int64_t v)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", (long long)v);
	return json_string(buf);
}

int etcd_lease_grant(struct etcd *e, int64_t ttl, etcd_cb cb, void *arg)
{
	return etcd_call(e, ETCD_GRANT, "/v3/lease/grant",
			 json_pack("{s:o}", "TTL", etcd_int_json(ttl)), cb, arg);
}

int etcd_lease_keepalive(struct etcd *e, int64_t id, etcd_cb cb, void *arg)
{
	return etcd_call(e, ETCD_KEEPALIVE, "/v3/lease/keepalive",
			 json_pack("{s:o}", "ID", etcd_int_json(id)), cb, arg);
}

int etcd_lease_revoke(struct etcd *e, int64_t id, etcd_cb cb, void *arg)
{
	return etcd_call(e, ETCD_REVOKE, "/v3/lease/revoke",
			 json_pack("{s:o}", "ID", etcd_int_json(id)), cb, arg);
}

static json_t *etcd_put_json(const char *key, const char *value, int64_t lease)
{
	json_t *o = json_pack("{s:o?, s:o?}", "key", etcd_b64_json(key), "value",
			      etcd_b64_json(value));
	if (o && lease)
		json_object_set_new(o, "lease", etcd_int_json(lease));
	return o;
}

int etcd_put(struct etcd *e, const char *key, const char *value, int64_t lease, etcd_cb cb,
	     void *arg)
{
	return etcd_call(e, ETCD_PUT, "/v3/kv/put", etcd_put_json(key, value, lease), cb, arg);
}

int etcd_range_prefix(struct etcd *e, const char *prefix, etcd_cb cb, void *arg)
{
	size_t n = strlen(prefix);
	char *end = strdup(prefix);
	json_t *body;
	char *b;

	if (!end || n == 0) {
		free(end);
		return -1;
	}
	/* range_end: the prefix with its last byte + 1 (etcd's prefix convention) */
	end[n - 1] = (char)(end[n - 1] + 1);
	b = etcd_b64_encode(end, n);
	free(end);
	body = json_pack("{s:o?, s:s?}", "key", etcd_b64_json(prefix), "range_end", b);
	free(b);
	return etcd_call(e, ETCD_RANGE, "/v3/kv/range", body, cb, arg);
}

int etcd_delete(struct etcd *e, const char *key, etcd_cb cb, void *arg)
{
	return etcd_call(e, ETCD_DELETE, "/v3/kv/deleterange",
			 json_pack("{s:o?}", "key", etcd_b64_json(key)), cb, arg);
}

int etcd_create(struct etcd *e, const char *key, const char *value, int64_t lease, etcd_cb cb,
		void *arg)
{
	json_t *body = json_pack(
		"{s:[{s:o?, s:s, s:s, s:s}], s:[{s:o?}], s:[{s:{s:o?}}]}", "compare", "key",
		etcd_b64_json(key), "target", "CREATE", "create_revision", "0", "result", "EQUAL",
		"success", "request_put", etcd_put_json(key, value, lease), "failure",
		"request_range", "key", etcd_b64_json(key));
	return etcd_call(e, ETCD_TXN, "/v3/kv/txn", body, cb, arg);
}

int etcd_put_guarded(struct etcd *e, const char *key, const char *value, const char *guard,
		     int64_t guard_rev, etcd_cb cb, void *arg)
{
	json_t *body = json_pack(
		"{s:[{s:o?, s:s, s:o?, s:s}], s:[{s:o?}], s:[{s:{s:o?}}]}", "compare", "key",
		etcd_b64_json(guard), "target", "CREATE", "create_revision",
		etcd_int_json(guard_rev), "result", "EQUAL", "success", "request_put",
		etcd_put_json(key, value, 0), "failure", "request_range", "key",
		etcd_b64_json(guard));
	return etcd_call(e, ETCD_TXN, "/v3/kv/txn", body, cb, arg);
}

/* ---- blocking revoke ---- */

static int etcd_revoke_one(const char *host, int port, int64_t id, unsigned timeout_ms)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char portstr[16], req[512], resp[64];
	int fd = -1, rc = -1, body_len;
	struct pollfd pfd;
	char body[64];

	snprintf(portstr, sizeof portstr, "%d", port);
	if (getaddrinfo(host, portstr, &hints, &ai) != 0 || !ai)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto out;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
		goto out;
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&pfd, 1, (int)timeout_ms) != 1)
		goto out;
	body_len = snprintf(body, sizeof body, "{\"ID\":\"%lld\"}", (long long)id);
	int n = snprintf(req, sizeof req,
			 "POST /v3/lease/revoke HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: "
			 "application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			 host, port, body_len, body);
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
		goto out;
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, (int)timeout_ms) != 1 || recv(fd, resp, sizeof resp - 1, 0) <= 0)
		goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rc;
}

int etcd_lease_revoke_now(const char *endpoints, int64_t id, unsigned timeout_ms)
{
	char err[256];
	struct etcd *e = etcd_new(NULL, endpoints, timeout_ms, err, sizeof err);
	int rc = -1;

	if (!e)
		return -1;
	for (size_t i = 0; i < e->ep_count && rc != 0; i++)
		rc = etcd_revoke_one(e->eps[i].host, e->eps[i].port, id, timeout_ms);
	etcd_free(e);
	return rc;
}
