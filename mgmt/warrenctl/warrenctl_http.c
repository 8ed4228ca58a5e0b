/* warrenctl_http: blocking HTTP requests over evhttp for the CLI; see warrenctl_http.h. */
#include "warrenctl_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "warrenctl_encoding.h"

struct warrenctl_http {
	struct event_base *base;
	struct evhttp_connection *conn;
	char *host;
	unsigned port;
	char *auth;   /* "Basic ..." */
	char *prefix; /* path prefix before /api, usually "" */
	int timeout;
};

struct http_pending {
	struct warrenctl_http_reply *reply;
	struct event_base *base;
	int done;
};

struct warrenctl_http *warrenctl_http_new(const char *host, unsigned port, const char *user,
					  const char *password, const char *path_prefix,
					  int timeout_seconds)
{
	struct warrenctl_http *h = calloc(1, sizeof *h);
	size_t creds_len = strlen(user) + strlen(password) + 2;
	char *creds = malloc(creds_len);
	char *b64 = NULL;

	if (!h || !creds)
		goto fail;
	snprintf(creds, creds_len, "%s:%s", user, password);
	b64 = warrenctl_encoding_base64((const unsigned char *)creds, strlen(creds));
	if (!b64)
		goto fail;
	h->auth = malloc(strlen(b64) + 7);
	h->host = strdup(strcmp(host, "localhost") == 0 ? "127.0.0.1" : host);
	h->prefix = strdup(path_prefix ? path_prefix : "");
	h->base = event_base_new();
	if (!h->auth || !h->host || !h->prefix || !h->base)
		goto fail;
	sprintf(h->auth, "Basic %s", b64);
	h->port = port;
	h->timeout = timeout_seconds;
	free(creds);
	free(b64);
	return h;
fail:
	free(creds);
	free(b64);
	warrenctl_http_free(h);
	return NULL;
}

void warrenctl_http_free(struct warrenctl_http *h)
{
	if (!h)
		return;
	if (h->conn)
		evhttp_connection_free(h->conn);
	if (h->base)
		event_base_free(h->base);
	free(h->host);
	free(h->auth);
	free(h->prefix);
	free(h);
}

const char *warrenctl_http_host(const struct warrenctl_http *h)
{
	return h->host;
}

unsigned warrenctl_http_port(const struct warrenctl_http *h)
{
	return h->port;
}

static void http_on_error(enum evhttp_request_error err, void *arg)
{
	struct http_pending *p = arg;

	p->reply->req_error = (int)err + 1;
	if (!p->reply->sys_error)
		p->reply->sys_error = errno;
}

static void http_on_done(struct evhttp_request *req, void *arg)
{
	struct http_pending *p = arg;
	struct warrenctl_http_reply *r = p->reply;
	struct evbuffer *in;
	const char *phrase;

	p->done = 1;
	event_base_loopbreak(p->base);
	if (!req || evhttp_request_get_response_code(req) == 0) {
		if (!r->sys_error)
			r->sys_error = errno;
		return;
	}
	r->status = evhttp_request_get_response_code(req);
	phrase = evhttp_request_get_response_code_line(req);
	r->phrase = strdup(phrase ? phrase : "");
	in = evhttp_request_get_input_buffer(req);
	r->body_len = evbuffer_get_length(in);
	r->body = malloc(r->body_len + 1);
	if (r->body) {
		evbuffer_remove(in, r->body, r->body_len);
		r->body[r->body_len] = '\0';
	}
}

static int http_method(const char *m, enum evhttp_cmd_type *out)
{
	static const struct {
		const char *name;
		enum evhttp_cmd_type type;
	} methods[] = {
		{ "GET", EVHTTP_REQ_GET },
		{ "PUT", EVHTTP_REQ_PUT },
		{ "POST", EVHTTP_REQ_POST },
		{ "DELETE", EVHTTP_REQ_DELETE },
	};

	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		if (strcmp(methods[i].name, m) == 0) {
			*out = methods[i].type;
			return 0;
		}
	}
	return -1;
}

int warrenctl_http_send(struct warrenctl_http *h, const char *method, const char *path,
			const char *body, struct warrenctl_http_reply *r)
{
	struct http_pending p = { .reply = r, .base = h->base };
	struct evhttp_request *req;
	struct evkeyvalq *headers;
	enum evhttp_cmd_type type;
	char *uri = NULL;
	char hostport[300];
	int rc = -1;

	memset(r, 0, sizeof *r);
	if (http_method(method, &type) != 0)
		return -1;
	if (!h->conn) {
		h->conn = evhttp_connection_base_new(h->base, NULL, h->host,
						     (unsigned short)h->port);
		if (!h->conn)
			return -1;
		evhttp_connection_set_retries(h->conn, 0);
		if (h->timeout > 0)
			evhttp_connection_set_timeout(h->conn, h->timeout);
	}
	uri = malloc(strlen(h->prefix) + strlen(path) + 5);
	req = evhttp_request_new(http_on_done, &p);
	if (!uri || !req)
		goto out;
	sprintf(uri, "%s/api%s", h->prefix, path);
	evhttp_request_set_error_cb(req, http_on_error);
	headers = evhttp_request_get_output_headers(req);
	snprintf(hostport, sizeof hostport, "%s:%u", h->host, h->port);
	evhttp_add_header(headers, "Host", hostport);
	evhttp_add_header(headers, "Authorization", h->auth);
	if (body) {
		evhttp_add_header(headers, "Content-Type", "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
	}
	errno = 0;
	if (evhttp_make_request(h->conn, req, type, uri) != 0) {
		req = NULL; /* evhttp_make_request frees it on failure */
		goto out;
	}
	req = NULL;
	while (!p.done)
		if (event_base_dispatch(h->base) < 0)
			break;
	rc = p.done && r->status > 0 ? 0 : -1;
	if (rc != 0) {
		/* The connection is unusable; a later request starts a fresh one. */
		evhttp_connection_free(h->conn);
		h->conn = NULL;
	}
out:
	if (req)
		evhttp_request_free(req);
	free(uri);
	return rc;
}

void warrenctl_http_reply_clear(struct warrenctl_http_reply *r)
{
	free(r->phrase);
	free(r->body);
	memset(r, 0, sizeof *r);
}

/* evhttp does not keep the connect() error; a plain connect says why (refused, no route). */
static int http_probe(const char *host, unsigned port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char service[16];
	int fd = -1, err = 0;
	socklen_t len = sizeof err;
	struct pollfd pfd;

	snprintf(service, sizeof service, "%u", port);
	if (getaddrinfo(host, service, &hints, &ai) != 0 || !ai)
		return 0;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto out;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		goto out;
	err = errno;
	if (err != EINPROGRESS)
		goto out;
	err = 0;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, 2000) == 1)
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return err;
}

const char *warrenctl_http_unreachable_reason(const struct warrenctl_http *h,
					      const struct warrenctl_http_reply *r)
{
	int probed;

	if (r->req_error == EVREQ_HTTP_TIMEOUT + 1)
		return "timed out";
	if ((probed = http_probe(h->host, h->port)) != 0)
		return strerror(probed);
	if (r->req_error == EVREQ_HTTP_EOF + 1)
		return "connection closed without an answer";
	return "no answer";
}
