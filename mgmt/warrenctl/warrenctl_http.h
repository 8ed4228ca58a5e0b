/* warrenctl_http: a blocking request/response wrapper over libevent's evhttp client. One
 * keep-alive connection per run; each request spins the event loop until its answer (or the
 * connection's failure) arrives. No DNS base: "localhost" is mapped to 127.0.0.1 and other names
 * are resolved by libevent's blocking getaddrinfo path. */
#ifndef WARRENCTL_HTTP_H
#define WARRENCTL_HTTP_H

#include <stddef.h>

struct warrenctl_http;

struct warrenctl_http_reply {
	int status;	/* 0 when no HTTP answer arrived */
	char *phrase;	/* "Not Found"; owned */
	char *body;	/* NUL-terminated; owned */
	size_t body_len;
	int sys_error;	/* errno seen when the connection failed, 0 if unknown */
	int req_error;	/* enum evhttp_request_error + 1, 0 if none */
};

struct warrenctl_http *warrenctl_http_new(const char *host, unsigned port, const char *user,
					  const char *password, const char *path_prefix,
					  int timeout_seconds);
void warrenctl_http_free(struct warrenctl_http *h);

/* method is "GET", "PUT", "POST" or "DELETE"; path starts after /api. Returns 0 when an HTTP
 * answer arrived (any status), -1 when the server could not be reached. */
int warrenctl_http_send(struct warrenctl_http *h, const char *method, const char *path,
			const char *body, struct warrenctl_http_reply *r);
void warrenctl_http_reply_clear(struct warrenctl_http_reply *r);

/* One line describing why no answer came back ("Connection refused"). */
const char *warrenctl_http_unreachable_reason(const struct warrenctl_http *h,
					      const struct warrenctl_http_reply *r);
const char *warrenctl_http_host(const struct warrenctl_http *h);
unsigned warrenctl_http_port(const struct warrenctl_http *h);

#endif
