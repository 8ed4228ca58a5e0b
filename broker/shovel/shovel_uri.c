/* broker/shovel/shovel_uri.c: AMQP URI parsing (shovel_uri.h). Percent-escapes are decoded in
 * the user, password, host and vhost; "amqp://host" is vhost "/", "amqp://host/" the empty
 * vhost and "amqp://host/%2f" "/" again, as the AMQP URI specification reads them. */
#include "broker/shovel/shovel_uri.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int uri_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A percent-decoded copy of p[0..n); NULL on a bad escape or out of memory. */
static char *uri_decode(const char *p, size_t n)
{
	char *out = malloc(n + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '%') {
			*o++ = p[i];
			continue;
		}
		int hi = i + 2 < n ? uri_hex(p[i + 1]) : -1;
		int lo = i + 2 < n ? uri_hex(p[i + 2]) : -1;
		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		*o++ = (char)(hi * 16 + lo);
		i += 2;
	}
	*o = '\0';
	return out;
}

void shovel_uri_free(struct shovel_uri *u)
{
	free(u->user);
	free(u->password);
	free(u->host);
	free(u->vhost);
	free(u->cacertfile);
	free(u->certfile);
	free(u->keyfile);
	free(u->sni);
	free(u->display);
	memset(u, 0, sizeof *u);
}

static int uri_fail(const char *text, char *err, size_t errlen, const char *fmt, const char *arg)
{
	char reason[300];
	snprintf(reason, sizeof reason, fmt, arg);
	snprintf(err, errlen, "{%s,\"%s\"}", reason, text);
	return -1;
}

/* An integer query value; the reason text when it is not one. */
static int uri_int_param(const char *text, const char *key, const char *val, int32_t *out,
			 char *err, size_t errlen)
{
	char *end;
	long v = strtol(val, &end, 10);
	if (!*val || *end || v < 0 || v > 0x7fffffff) {
		snprintf(err, errlen,
			 "{{invalid_amqp_params_parameter,%s,\"%s\",[{\"%s\",\"%s\"}],"
			 "{not_an_integer,\"%s\"}},\"%s\"}",
			 key, val, key, val, val, text);
		return -1;
	}
	*out = (int32_t)v;
	return 0;
}

static int uri_query(const char *text, const char *q, struct shovel_uri *u, char *err,
		     size_t errlen)
{
	while (*q) {
		const char *amp = strchr(q, '&');
		size_t n = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', n);
		char *key = uri_decode(q, eq ? (size_t)(eq - q) : n);
		char *val = eq ? uri_decode(eq + 1, n - (size_t)(eq + 1 - q)) : strdup("");
		int rc = 0;
		if (!key || !val) {
			rc = uri_fail(text, err, errlen, "{unable_to_parse_uri,%s}", "bad_query");
		} else if (strcmp(key, "heartbeat") == 0) {
			rc = uri_int_param(text, key, val, &u->heartbeat, err, errlen);
		} else if (strcmp(key, "connection_timeout") == 0) {
			rc = uri_int_param(text, key, val, &u->connection_timeout, err, errlen);
		} else if (strcmp(key, "channel_max") == 0) {
			rc = uri_int_param(text, key, val, &u->channel_max, err, errlen);
		} else if (strcmp(key, "frame_max") == 0) {
			rc = uri_int_param(text, key, val, &u->frame_max, err, errlen);
		} else if (strcmp(key, "auth_mechanism") == 0) {
			u->auth_external = strstr(val, "external") != NULL;
		} else if (strcmp(key, "cacertfile") == 0) {
			free(u->cacertfile);
			u->cacertfile = val, val = NULL;
		} else if (strcmp(key, "certfile") == 0) {
			free(u->certfile);
			u->certfile = val, val = NULL;
		} else if (strcmp(key, "keyfile") == 0) {
			free(u->keyfile);
			u->keyfile = val, val = NULL;
		} else if (strcmp(key, "server_name_indication") == 0) {
			free(u->sni);
			u->sni = val, val = NULL;
		} else if (strcmp(key, "verify") == 0) {
			if (strcmp(val, "verify_peer") != 0 && strcmp(val, "verify_none") != 0)
				rc = uri_fail(text, err, errlen,
					      "{invalid_amqp_params_parameter,verify,%s}", val);
			u->verify_peer = strcmp(val, "verify_peer") == 0;
		}
		free(key);
		free(val);
		if (rc)
			return rc;
		q += n + (amp ? 1 : 0);
	}
	return 0;
}

int shovel_uri_parse(const char *text, struct shovel_uri *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof *u);
	u->heartbeat = u->connection_timeout = u->channel_max = u->frame_max = -1;
	const char *colon = strstr(text, "://");
	if (!colon) {
		const char *c1 = strchr(text, ':');
		if (!c1)
			return uri_fail(text, err, errlen, "{unable_to_parse_uri,%s}", "no_scheme");
		colon = c1;
	}
	size_t slen = (size_t)(colon - text);
	if (slen == 4 && strncmp(text, "amqp", 4) == 0) {
		u->tls = false;
	} else if (slen == 5 && strncmp(text, "amqps", 5) == 0) {
		u->tls = true;
	} else {
		char scheme[64];
		snprintf(scheme, sizeof scheme, "\"%.*s\"", (int)(slen < 60 ? slen : 60), text);
		return uri_fail(text, err, errlen, "{unexpected_uri_scheme,%s}", scheme);
	}
	if (strncmp(colon, "://", 3) != 0)
		return uri_fail(text, err, errlen, "{unable_to_parse_uri,%s}", "no_authority");
	const char *auth = colon + 3;
	size_t alen = strcspn(auth, "/?#");
	const char *rest = auth + alen;
	const char *at = memchr(auth, '@', alen);
	/* the last '@' of the authority ends the credentials */
	for (const char *p = auth; p < auth + alen; p++)
		if (*p == '@')
			at = p;
	const char *hostp = at ? at + 1 : auth;
	size_t hlen = (size_t)(auth + alen - hostp);
	if (at) {
		const char *pc = memchr(auth, ':', (size_t)(at - auth));
		u->user = uri_decode(auth, pc ? (size_t)(pc - auth) : (size_t)(at - auth));
		u->password = pc ? uri_decode(pc + 1, (size_t)(at - pc - 1)) : strdup("");
		if (!u->user || !u->password)
			goto bad;
	}
	/* host[:port], or [v6]:port */
	const char *port = NULL;
	size_t host_len = hlen;
	if (hlen && hostp[0] == '[') {
		const char *close = memchr(hostp, ']', hlen);
		if (!close)
			goto bad;
		u->host = uri_decode(hostp + 1, (size_t)(close - hostp - 1));
		if (close + 1 < hostp + hlen) {
			if (close[1] != ':')
				goto bad;
			port = close + 2;
		}
	} else {
		const char *pc = memchr(hostp, ':', hlen);
		if (pc) {
			host_len = (size_t)(pc - hostp);
			port = pc + 1;
		}
		u->host = uri_decode(hostp, host_len);
	}
	if (!u->host)
		goto bad;
	u->local = u->host[0] == '\0';
	u->port = u->tls ? 5671 : 5672;
	if (port) {
		size_t plen = (size_t)(hostp + hlen - port);
		long v = 0;
		if (plen == 0 || plen > 5)
			goto bad_port;
		for (size_t i = 0; i < plen; i++) {
			if (!isdigit((unsigned char)port[i]))
				goto bad_port;
			v = v * 10 + (port[i] - '0');
		}
		if (v < 1 || v > 65535)
			goto bad_port;
		u->port = (uint16_t)v;
	}
	/* vhost: absent -> "/", "/" -> "", "/x" -> "x" */
	size_t plen = strcspn(rest, "?#");
	if (plen > 1 && memchr(rest + 1, '/', plen - 1)) {
		/* a "/" in a vhost name is written %2f */
		shovel_uri_free(u);
		return uri_fail(text, err, errlen, "{unable_to_parse_uri,%s}",
				"{malformed_uri,vhost_contains_slash}");
	}
	u->vhost = plen == 0 ? strdup("/") : uri_decode(rest + 1, plen - 1);
	if (!u->vhost)
		goto bad;
	if (rest[plen] == '?' && uri_query(text, rest + plen + 1, u, err, errlen) != 0) {
		shovel_uri_free(u);
		return -1;
	}
	if (!u->user && !u->local) {
		u->user = strdup("guest");
		u->password = strdup("guest");
		if (!u->user || !u->password)
			goto bad;
	}
	/* the display form drops the credentials (amqp_uri:remove_credentials) */
	size_t dl = strlen(text) + 1;
	u->display = malloc(dl);
	if (!u->display)
		goto bad;
	snprintf(u->display, dl, "%.*s%s", (int)(auth - text), text, at ? at + 1 : auth);
	return 0;
bad_port:
	shovel_uri_free(u);
	return uri_fail(text, err, errlen, "{unable_to_parse_uri,%s}", "{malformed_uri,bad_port}");
bad:
	shovel_uri_free(u);
	return uri_fail(text, err, errlen, "{unable_to_parse_uri,%s}", "malformed_uri");
}
