/* tests/bench/perf_uri.c: the amqp:// URI warren-perf connects to, as RabbitMQ's URI spec
 * reads it (user, password and vhost are percent-decoded). */
#include "perf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decodes src[0..len) into dst (cap bytes with the NUL). Returns 0 or -1. */
static int perf_uri_decode(char *dst, size_t cap, const char *src, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = src[i];
		if (ch == '%') {
			if (i + 2 >= len)
				return -1;
			int hi = hex_digit(src[i + 1]), lo = hex_digit(src[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			ch = (char)(hi << 4 | lo);
			i += 2;
		}
		if (n + 1 >= cap)
			return -1;
		dst[n++] = ch;
	}
	dst[n] = '\0';
	return 0;
}

int perf_uri_parse(struct perf_uri *u, const char *text, char *err, size_t err_len)
{
	const char *p = text, *end, *at, *colon, *slash;
	int rc = -1;

	memset(u, 0, sizeof *u);
	strcpy(u->user, "guest");
	strcpy(u->pass, "guest");
	strcpy(u->host, "127.0.0.1");
	strcpy(u->vhost, "/");
	u->port = 5672;

	if (strncmp(p, "amqp://", 7) != 0) {
		snprintf(err, err_len, "URI must start with amqp:// (no amqps): %s", text);
		goto out;
	}
	p += 7;
	end = p + strlen(p);
	slash = strchr(p, '/');
	if (!slash)
		slash = end;
	const char *query = strchr(p, '?');
	if (query && query < slash)
		slash = query; /* amqp://host:port?heartbeat=10 */
	at = memchr(p, '@', (size_t)(slash - p));
	if (at) {
		colon = memchr(p, ':', (size_t)(at - p));
		const char *user_end = colon ? colon : at;
		if (perf_uri_decode(u->user, sizeof u->user, p, (size_t)(user_end - p)) != 0 ||
		    (colon && perf_uri_decode(u->pass, sizeof u->pass, colon + 1,
					      (size_t)(at - colon - 1)) != 0)) {
			snprintf(err, err_len, "bad user or password in URI: %s", text);
			goto out;
		}
		p = at + 1;
	}
	colon = memchr(p, ':', (size_t)(slash - p));
	const char *host_end = colon ? colon : slash;
	if (host_end > p) {
		if ((size_t)(host_end - p) >= sizeof u->host) {
			snprintf(err, err_len, "host too long in URI: %s", text);
			goto out;
		}
		memcpy(u->host, p, (size_t)(host_end - p));
		u->host[host_end - p] = '\0';
	}
	if (colon) {
		char digits[8];
		size_t n = (size_t)(slash - colon - 1);
		char *stop;
		if (n == 0 || n >= sizeof digits) {
			snprintf(err, err_len, "bad port in URI: %s", text);
			goto out;
		}
		memcpy(digits, colon + 1, n);
		digits[n] = '\0';
		long port = strtol(digits, &stop, 10);
		if (*stop != '\0' || port <= 0 || port > 65535) {
			snprintf(err, err_len, "bad port in URI: %s", text);
			goto out;
		}
		u->port = (uint16_t)port;
	}
	if (slash < end && slash[0] == '/' && slash[1] != '\0') {
		const char *q = strchr(slash + 1, '?');
		size_t n = q ? (size_t)(q - slash - 1) : strlen(slash + 1);
		if (n > 0 && perf_uri_decode(u->vhost, sizeof u->vhost, slash + 1, n) != 0) {
			snprintf(err, err_len, "bad vhost in URI: %s", text);
			goto out;
		}
	}
	for (const char *q = query; q && *q;) {
		q++; /* past '?' or '&' */
		const char *amp = strchr(q, '&');
		size_t n = amp ? (size_t)(amp - q) : strlen(q);
		if (n > 10 && strncmp(q, "heartbeat=", 10) == 0) {
			char *stop;
			long hb = strtol(q + 10, &stop, 10);
			if (stop != q + n || hb < 0 || hb > 65535) {
				snprintf(err, err_len, "bad heartbeat in URI: %s", text);
				goto out;
			}
			u->heartbeat = (uint16_t)hb;
		}
		q = amp;
	}
	rc = 0;
out:
	return rc;
}
