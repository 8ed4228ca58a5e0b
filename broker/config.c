/* broker/config.c: warren.conf and --set parsing into struct config.
 * One table lists every key with the function that parses its value; values are parsed in full
 * before anything in struct config changes, so a rejected line leaves the settings as they were.
 * The formats follow RabbitMQ 3.10's schema (rabbit.schema, cuttlefish datatypes): integers may
 * carry a '+', booleans are exactly true/false, memory amounts take RabbitMQ's unit suffixes,
 * frame_max takes cuttlefish's bytesize suffixes (KB = 1024). */
#include "broker/config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct config_key;

typedef int (*config_apply_fn)(struct config *c, const struct config_key *k, const char *value,
			       char *err, size_t errlen);

struct config_key {
	const char *name;
	config_apply_fn apply;
	size_t offset;              /* of the field in struct config */
	uint64_t min, max;          /* integer kinds */
	unsigned width;             /* integer kinds: sizeof the field */
	const char *const *choices; /* enum strings */
};

static int config_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int config_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static void *config_field(struct config *c, const struct config_key *k)
{
	return (char *)c + k->offset;
}

/* ---- value parsers: 0 or -1, never touching the config ---- */

static int config_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (*s == '+')
		s++;
	if (*s < '0' || *s > '9') /* negatives too: no key takes one */
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int config_parse_double(const char *s, double *out)
{
	char *end;
	if (!*s || strchr(" \t", *s))
		return -1;
	errno = 0;
	double v = strtod(s, &end);
	if (*end || errno || !isfinite(v))
		return -1;
	if (strpbrk(s, "xXnN")) /* no hex floats, nan or inf spelled out */
		return -1;
	*out = v;
	return 0;
}

static int config_parse_scaled(const char *s, const char *const *units, const uint64_t *mult,
			       uint64_t *out)
{
	size_t digits = strspn(s, "0123456789");
	char num[32];
	uint64_t v, m = 1;

	if (digits == 0 || digits >= sizeof num)
		return -1;
	memcpy(num, s, digits);
	num[digits] = 0;
	if (config_parse_u64(num, &v) != 0)
		return -1;
	if (s[digits]) {
		size_t i;
		for (i = 0; units[i]; i++)
			if (strcmp(s + digits, units[i]) == 0)
				break;
		if (!units[i])
			return -1;
		m = mult[i];
	}
	if (m && v > UINT64_MAX / m)
		return -1;
	*out = v * m;
	return 0;
}

#define KIB 1024ull
#define MIB (1024ull * 1024)
#define GIB (1024ull * 1024 * 1024)

int config_parse_memory(const char *s, uint64_t *out)
{
	/* RabbitMQ's rabbit_resource_monitor_misc:parse_information_unit/1, checked on 3.10.8.
	 * (It crashes on "KiB"; we take it as 1024.) */
	static const char *const units[] = {
		"k", "K", "kiB", "KiB", "kib", "KIB",
		"kB", "KB", "kb", "Kb",
		"m", "M", "MiB", "mib", "MIB",
		"MB", "mb", "Mb",
		"g", "G", "GiB", "gib", "GIB",
		"GB", "gb", "Gb",
		NULL,
	};
	static const uint64_t mult[] = {
		KIB, KIB, KIB, KIB, KIB, KIB,
		1000, 1000, 1000, 1000,
		MIB, MIB, MIB, MIB, MIB,
		1000000, 1000000, 1000000,
		GIB, GIB, GIB, GIB, GIB,
		1000000000, 1000000000, 1000000000,
	};
	return config_parse_scaled(s, units, mult, out);
}

/* cuttlefish's bytesize: KB, MB, GB in any case, powers of 1024. */
static int config_parse_bytesize(const char *s, uint64_t *out)
{
	static const char *const units[] = {
		"KB", "Kb", "kB", "kb", "MB", "Mb", "mB", "mb", "GB", "Gb", "gB", "gb", NULL,
	};
	static const uint64_t mult[] = {
		KIB, KIB, KIB, KIB, MIB, MIB, MIB, MIB, GIB, GIB, GIB, GIB,
	};
	return config_parse_scaled(s, units, mult, out);
}

/* "PORT" or "IP:PORT" (the port is after the last ':', so "::1:5672" works, as in cuttlefish;
 * "[::1]:5672" is accepted too). *host is NULL for a bare port. */
static int config_parse_listener(const char *s, char **host, int *port)
{
	const char *colon = strrchr(s, ':');
	uint64_t p;

	*host = NULL;
	if (!colon)
		return config_parse_u64(s, &p) == 0 && p <= 65535 ? (*port = (int)p, 0) : -1;
	if (config_parse_u64(colon + 1, &p) != 0 || p > 65535)
		return -1;
	const char *h = s;
	size_t len = (size_t)(colon - s);
	if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
		h++;
		len -= 2;
	}
	if (len == 0 || strcspn(h, " \t[]") < len)
		return -1;
	*host = strndup(h, len);
	if (!*host)
		return -1;
	*port = (int)p;
	return 0;
}

/* ---- appliers ---- */

static int config_bad(const struct config_key *k, const char *value, const char *expected,
		      char *err, size_t errlen)
{
	return config_fail(err, errlen, "invalid value '%s' for key '%s': expected %s", value,
			   k->name, expected);
}

static int config_replace_string(char **field, const char *value, char *err, size_t errlen)
{
	char *dup = strdup(value);
	if (!dup)
		return config_fail(err, errlen, "out of memory");
	free(*field);
	*field = dup;
	return 0;
}

static int config_apply_string(struct config *c, const struct config_key *k, const char *value,
			       char *err, size_t errlen)
{
	return config_replace_string(config_field(c, k), value, err, errlen);
}

static int config_apply_choice(struct config *c, const struct config_key *k, const char *value,
			       char *err, size_t errlen)
{
	char expected[256];
	size_t n = 0;

	for (size_t i = 0; k->choices[i]; i++)
		if (strcmp(value, k->choices[i]) == 0)
			return config_apply_string(c, k, value, err, errlen);
	expected[0] = 0;
	for (size_t i = 0; k->choices[i] && n < sizeof expected; i++)
		n += (size_t)snprintf(expected + n, sizeof expected - n, "%s%s",
				      i ? ", " : "one of ", k->choices[i]);
	return config_bad(k, value, expected, err, errlen);
}

static int config_parse_bool(const char *value, bool *out)
{
	if (strcmp(value, "true") == 0)
		*out = true;
	else if (strcmp(value, "false") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

static int config_apply_bool(struct config *c, const struct config_key *k, const char *value,
			     char *err, size_t errlen)
{
	bool v;
	if (config_parse_bool(value, &v) != 0)
		return config_bad(k, value, "true or false", err, errlen);
	*(bool *)config_field(c, k) = v;
	return 0;
}

static void config_store_uint(struct config *c, const struct config_key *k, uint64_t v)
{
	void *f = config_field(c, k);
	switch (k->width) {
	case 0: /* int */
		*(int *)f = (int)v;
		break;
	case 2:
		*(uint16_t *)f = (uint16_t)v;
		break;
	case 4:
		*(uint32_t *)f = (uint32_t)v;
		break;
	default:
		*(uint64_t *)f = v;
		break;
	}
}

static int config_apply_uint(struct config *c, const struct config_key *k, const char *value,
			     char *err, size_t errlen)
{
	uint64_t v;
	char expected[80];
	if (config_parse_u64(value, &v) != 0 || v < k->min || v > k->max) {
		snprintf(expected, sizeof expected, "an integer in %llu..%llu",
			 (unsigned long long)k->min, (unsigned long long)k->max);
		return config_bad(k, value, expected, err, errlen);
	}
	config_store_uint(c, k, v);
	return 0;
}

/* An integer, or "infinity" stored as k->max + 1 wrapped to the field: used for connection_max
 * (CONFIG_UNLIMITED) and handshake_timeout (0 = none). */
static int config_apply_uint_or_infinity(struct config *c, const struct config_key *k,
					 const char *value, char *err, size_t errlen)
{
	if (strcmp(value, "infinity") == 0) {
		bool unlimited = strcmp(k->name, "connection_max") == 0;
		config_store_uint(c, k, unlimited ? CONFIG_UNLIMITED : 0);
		return 0;
	}
	uint64_t v;
	char expected[96];
	if (config_parse_u64(value, &v) != 0 || v < k->min || v > k->max) {
		snprintf(expected, sizeof expected, "an integer in %llu..%llu or infinity",
			 (unsigned long long)k->min, (unsigned long long)k->max);
		return config_bad(k, value, expected, err, errlen);
	}
	config_store_uint(c, k, v);
	return 0;
}

static int config_apply_frame_max(struct config *c, const struct config_key *k,
				  const char *value, char *err, size_t errlen)
{
	uint64_t v;
	if (config_parse_bytesize(value, &v) != 0 || (v != 0 && v < 4096) || v > UINT32_MAX)
		return config_bad(k, value, "0 or a size from 4096 to 4294967295 (128KB, 1MB ...)",
				  err, errlen);
	c->frame_max = (uint32_t)v;
	return 0;
}

static int config_apply_memory(struct config *c, const struct config_key *k, const char *value,
			       char *err, size_t errlen)
{
	uint64_t v;
	if (config_parse_memory(value, &v) != 0)
		return config_bad(k, value, "a byte count such as 1073741824, 512MB, 2GiB or 1G",
				  err, errlen);
	if (k->offset == offsetof(struct config, vm_memory_high_watermark_absolute)) {
		if (!c->vm_memory_relative_given)
			c->vm_memory_high_watermark_absolute = v;
	} else if (!c->disk_free_relative_given) {
		c->disk_free_limit_absolute = v;
	}
	return 0;
}

/* vm_memory_high_watermark.relative and disk_free_limit.relative: a fraction that wins over
 * the matching .absolute key whatever the order, as RabbitMQ's schema translation does. */
static int config_apply_relative(struct config *c, const struct config_key *k, const char *value,
				 char *err, size_t errlen)
{
	double v;
	if (config_parse_double(value, &v) != 0 || v < 0)
		return config_bad(k, value, "a non-negative number such as 0.4", err, errlen);
	if (k->offset == offsetof(struct config, vm_memory_high_watermark_relative)) {
		c->vm_memory_high_watermark_relative = v;
		c->vm_memory_high_watermark_absolute = 0;
		c->vm_memory_relative_given = true;
	} else {
		c->disk_free_limit_relative = v;
		c->disk_free_limit_absolute = 0;
		c->disk_free_relative_given = true;
	}
	return 0;
}

static int config_apply_ratio(struct config *c, const struct config_key *k, const char *value,
			      char *err, size_t errlen)
{
	double v;
	if (config_parse_double(value, &v) != 0 || v < 0 || v > 1)
		return config_bad(k, value, "a number from 0 to 1 such as 0.5", err, errlen);
	*(double *)((char *)c + k->offset) = v;
	return 0;
}

static int config_apply_listener(struct config *c, const struct config_key *k, const char *value,
				 char *err, size_t errlen)
{
	char *host;
	int port;
	bool tls = strncmp(k->name, "listeners.ssl", 13) == 0;

	if (config_parse_listener(value, &host, &port) != 0)
		return config_bad(k, value, "a port in 0..65535 or IP:PORT", err, errlen);
	if (tls) {
		c->tls_port = port;
		free(c->tls_bind);
		c->tls_bind = host;
	} else {
		c->port = port;
		if (host) {
			free(c->bind);
			c->bind = host;
		}
	}
	return 0;
}

/* listeners.tcp = none, listeners.ssl = none, loopback_users = none */
static int config_apply_none(struct config *c, const struct config_key *k, const char *value,
			     char *err, size_t errlen)
{
	if (strcmp(value, "none") != 0)
		return config_bad(k, value, "none", err, errlen);
	if (strcmp(k->name, "listeners.tcp") == 0)
		c->port = 0;
	else if (strcmp(k->name, "listeners.ssl") == 0)
		c->tls_port = 0;
	else
		c->loopback_users_guest = false;
	return 0;
}

/* ssl_options.versions.<anything> = tlsv1.2 ... (cuttlefish's ssl_options.versions.$version).
 * Not in the table: config_set calls it with the full key for its error text. */
static int config_apply_tls_version(struct config *c, const char *key, const char *value,
				    char *err, size_t errlen)
{
	static const char *const names[] = { "tlsv1", "tlsv1.1", "tlsv1.2", "tlsv1.3" };
	for (unsigned i = 0; i < 4; i++) {
		if (strcmp(value, names[i]) == 0) {
			c->ssl_versions |= 1u << i;
			return 0;
		}
	}
	return config_fail(err, errlen,
			   "invalid value '%s' for key '%s': expected one of tlsv1, tlsv1.1, "
			   "tlsv1.2, tlsv1.3", value, key);
}

/* ---- the key table ---- */

#define OFF(field) offsetof(struct config, field)
#define W(field) (unsigned)sizeof(((struct config *)0)->field)

static const char *const config_log_levels[] = {
	"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency", "none",
	NULL,
};
static const char *const config_verify_modes[] = { "verify_none", "verify_peer", NULL };

static const struct config_key config_keys[] = {
	{ "listeners.tcp", config_apply_none, 0, 0, 0, 0, NULL },
	{ "listeners.tcp.default", config_apply_listener, 0, 0, 0, 0, NULL },
	{ "listeners.ssl", config_apply_none, 0, 0, 0, 0, NULL },
	{ "listeners.ssl.default", config_apply_listener, 0, 0, 0, 0, NULL },
	{ "management.tcp.port", config_apply_uint, OFF(mgmt_port), 0, 65535, 0, NULL },
	{ "management.tcp.ip", config_apply_string, OFF(mgmt_bind), 0, 0, 0, NULL },
	{ "management.ssl.port", config_apply_uint, OFF(mgmt_tls_port), 0, 65535, 0, NULL },
	{ "management.ssl.certfile", config_apply_string, OFF(mgmt_ssl_certfile), 0, 0, 0, NULL },
	{ "management.ssl.keyfile", config_apply_string, OFF(mgmt_ssl_keyfile), 0, 0, 0, NULL },
	{ "management.ssl.cacertfile", config_apply_string, OFF(mgmt_ssl_cacertfile), 0, 0, 0,
	  NULL },
	{ "prometheus.tcp.port", config_apply_uint, OFF(prometheus_port), 0, 65535, 0, NULL },
	{ "prometheus.tcp.ip", config_apply_string, OFF(prometheus_bind), 0, 0, 0, NULL },
	{ "tcp_listen_options.backlog", config_apply_uint, OFF(tcp_backlog), 1, 65535,
	  W(tcp_backlog), NULL },
	{ "tcp_listen_options.nodelay", config_apply_bool, OFF(tcp_nodelay), 0, 0, 0, NULL },
	{ "handshake_timeout", config_apply_uint_or_infinity, OFF(handshake_timeout), 1,
	  UINT32_MAX - 1, W(handshake_timeout), NULL },
	{ "ssl_handshake_timeout", config_apply_uint, OFF(ssl_handshake_timeout), 1,
	  UINT32_MAX - 1, W(ssl_handshake_timeout), NULL },
	{ "data_dir", config_apply_string, OFF(data_dir), 0, 0, 0, NULL },
	{ "msg_store_file_size_limit", config_apply_uint, OFF(msg_store_file_size_limit), 4096,
	  1073741824, W(msg_store_file_size_limit), NULL },
	{ "default_user", config_apply_string, OFF(default_user), 0, 0, 0, NULL },
	{ "default_pass", config_apply_string, OFF(default_pass), 0, 0, 0, NULL },
	{ "default_vhost", config_apply_string, OFF(default_vhost), 0, 0, 0, NULL },
	{ "default_permissions.configure", config_apply_string, OFF(default_perm_configure), 0,
	  0, 0, NULL },
	{ "default_permissions.read", config_apply_string, OFF(default_perm_read), 0, 0, 0, NULL },
	{ "default_permissions.write", config_apply_string, OFF(default_perm_write), 0, 0, 0,
	  NULL },
	{ "loopback_users", config_apply_none, 0, 0, 0, 0, NULL },
	{ "loopback_users.guest", config_apply_bool, OFF(loopback_users_guest), 0, 0, 0, NULL },
	{ "vm_memory_high_watermark.relative", config_apply_relative,
	  OFF(vm_memory_high_watermark_relative), 0, 0, 0, NULL },
	{ "vm_memory_high_watermark.absolute", config_apply_memory,
	  OFF(vm_memory_high_watermark_absolute), 0, 0, 0, NULL },
	{ "vm_memory_high_watermark_paging_ratio", config_apply_ratio, OFF(vm_memory_paging_ratio),
	  0, 0, 0, NULL },
	{ "memory_monitor_interval", config_apply_uint, OFF(memory_monitor_interval), 1,
	  UINT32_MAX, W(memory_monitor_interval), NULL },
	{ "disk_free_limit.relative", config_apply_relative, OFF(disk_free_limit_relative), 0, 0,
	  0, NULL },
	{ "disk_free_limit.absolute", config_apply_memory, OFF(disk_free_limit_absolute), 0, 0, 0,
	  NULL },
	{ "heartbeat", config_apply_uint, OFF(heartbeat), 0, 65535, W(heartbeat), NULL },
	{ "frame_max", config_apply_frame_max, 0, 0, 0, 0, NULL },
	{ "channel_max", config_apply_uint, OFF(channel_max), 0, 65535, W(channel_max), NULL },
	{ "connection_max", config_apply_uint_or_infinity, OFF(max_connections), 0,
	  UINT32_MAX - 1, W(max_connections), NULL },
	{ "max_message_size", config_apply_uint, OFF(max_message_size), 1, 536870912,
	  W(max_message_size), NULL },
	{ "max_partial_message_bytes_per_connection", config_apply_uint, OFF(max_partial_bytes), 0,
	  UINT64_MAX, W(max_partial_bytes), NULL },
	{ "consumer_timeout", config_apply_uint, OFF(consumer_timeout), 1, UINT32_MAX,
	  W(consumer_timeout), NULL },
	{ "collect_statistics_interval", config_apply_uint, OFF(collect_statistics_interval), 1,
	  UINT32_MAX, W(collect_statistics_interval), NULL },
	{ "log.console", config_apply_bool, OFF(log_console), 0, 0, 0, NULL },
	{ "log.console.level", config_apply_choice, OFF(log_level), 0, 0, 0, config_log_levels },
	{ "ssl_options.certfile", config_apply_string, OFF(ssl_certfile), 0, 0, 0, NULL },
	{ "ssl_options.keyfile", config_apply_string, OFF(ssl_keyfile), 0, 0, 0, NULL },
	{ "ssl_options.cacertfile", config_apply_string, OFF(ssl_cacertfile), 0, 0, 0, NULL },
	{ "ssl_options.verify", config_apply_choice, OFF(ssl_verify), 0, 0, 0,
	  config_verify_modes },
	{ "ssl_options.fail_if_no_peer_cert", config_apply_bool, OFF(ssl_fail_if_no_peer_cert), 0,
	  0, 0, NULL },
};

/* ---- public ---- */

void config_init_defaults(struct config *c)
{
	memset(c, 0, sizeof *c);
	c->bind = strdup("127.0.0.1");
	c->port = 5672;
	c->tls_port = 0;
	c->mgmt_port = 15672;
	c->mgmt_bind = strdup("127.0.0.1");
	c->prometheus_port = 0;
	c->prometheus_bind = strdup("127.0.0.1");
	c->tcp_backlog = 128;
	c->tcp_nodelay = true;
	c->handshake_timeout = 10000;
	c->ssl_handshake_timeout = 5000;
	c->data_dir = strdup("./data");
	c->default_user = strdup("guest");
	c->default_pass = strdup("guest");
	c->default_vhost = strdup("/");
	c->default_perm_configure = strdup(".*");
	c->default_perm_read = strdup(".*");
	c->default_perm_write = strdup(".*");
	c->loopback_users_guest = true;
	c->vm_memory_high_watermark_relative = 0.4;
	c->vm_memory_paging_ratio = 0.5;
	c->memory_monitor_interval = 2500;
	c->disk_free_limit_absolute = 50000000;
	c->heartbeat = 60;
	c->frame_max = 131072;
	c->channel_max = 2047;
	c->max_connections = CONFIG_UNLIMITED;
	c->max_message_size = 134217728;
	c->msg_store_file_size_limit = 64ull << 20;
	c->max_partial_bytes = 268435456;
	c->consumer_timeout = 1800000;
	c->collect_statistics_interval = 5000;
	c->log_level = strdup("info");
	c->log_console = true;
	c->ssl_verify = strdup("verify_none");
	if (!c->bind || !c->mgmt_bind || !c->prometheus_bind || !c->data_dir || !c->default_user ||
	    !c->default_pass || !c->default_vhost || !c->default_perm_configure ||
	    !c->default_perm_read || !c->default_perm_write || !c->log_level || !c->ssl_verify) {
		fputs("warren: out of memory reading defaults\n", stderr);
		abort(); /* startup only, before anything else could have allocated */
	}
}

void config_free(struct config *c)
{
	if (!c)
		return;
	char **strings[] = {
		&c->bind, &c->tls_bind, &c->mgmt_bind, &c->prometheus_bind, &c->data_dir,
		&c->default_user, &c->default_pass, &c->default_vhost, &c->default_perm_configure,
		&c->default_perm_read, &c->default_perm_write, &c->log_level, &c->ssl_certfile,
		&c->ssl_keyfile, &c->ssl_cacertfile, &c->ssl_verify, &c->mgmt_ssl_certfile,
		&c->mgmt_ssl_keyfile, &c->mgmt_ssl_cacertfile,
	};
	for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
		free(*strings[i]);
		*strings[i] = NULL;
	}
}

static const struct config_key *config_key_find(const char *key)
{
	for (size_t i = 0; i < sizeof config_keys / sizeof config_keys[0]; i++)
		if (strcmp(key, config_keys[i].name) == 0)
			return &config_keys[i];
	return NULL;
}

int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen)
{
	const struct config_key *k = config_key_find(key);
	bool tls_version = strncmp(key, "ssl_options.versions.", 21) == 0 && key[21];
	if (!k && !tls_version)
		return config_fail(err, errlen, "unknown key '%s'", key);
	if (!*value)
		return config_fail(err, errlen, "missing value for key '%s'", key);
	if (tls_version)
		return config_apply_tls_version(c, key, value, err, errlen);
	return k->apply(c, k, value, err, errlen);
}

/* Trims blanks in place at both ends; returns the new start. */
static char *config_trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = 0;
	return s;
}

static bool config_key_is_wellformed(const char *key)
{
	if (!*key)
		return false;
	for (const char *p = key; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("._-$", *p)))
			return false;
	return true;
}

/* Splits one line (modified in place) into key and value. 1: a setting; 0: blank or comment;
 * -1: malformed, message in err. */
static int config_split_line(char *line, char **key, char **value, char *err, size_t errlen)
{
	char *hash = strchr(line, '#'); /* cuttlefish: '#' starts a comment anywhere */
	if (hash)
		*hash = 0;
	line = config_trim(line);
	if (!*line)
		return 0;
	char *eq = strchr(line, '=');
	if (!eq)
		return config_fail(err, errlen, "expected 'key = value', got '%s'", line);
	*eq = 0;
	*key = config_trim(line);
	*value = config_trim(eq + 1);
	if (!config_key_is_wellformed(*key))
		return config_fail(err, errlen, "malformed key '%s'", *key);
	if (!**value)
		return config_fail(err, errlen, "missing value for key '%s'", *key);
	return 1;
}

int config_set_arg(struct config *c, const char *arg, char *err, size_t errlen)
{
	char *copy = strdup(arg), *key, *value;
	int rc = -1;

	if (!copy)
		return config_fail(err, errlen, "out of memory");
	char *eq = strchr(copy, '=');
	if (!eq) {
		config_fail(err, errlen, "expected KEY=VALUE, got '%s'", arg);
		goto out;
	}
	*eq = 0;
	key = config_trim(copy);
	value = config_trim(eq + 1);
	if (!config_key_is_wellformed(key)) {
		config_fail(err, errlen, "malformed key '%s'", key);
		goto out;
	}
	rc = config_set(c, key, value, err, errlen);
out:
	free(copy);
	return rc;
}

static int config_load_line(struct config *c, char *line, const char *name, unsigned lineno,
			    char *err, size_t errlen)
{
	char msg[512], *key = NULL, *value = NULL;
	int r = config_split_line(line, &key, &value, msg, sizeof msg);
	if (r == 1)
		r = config_set(c, key, value, msg, sizeof msg) == 0 ? 0 : -1;
	if (r < 0)
		return config_fail(err, errlen, "%s:%u: %s", name, lineno, msg);
	return 0;
}

int config_load_string(struct config *c, const char *text, const char *name, char *err,
		       size_t errlen)
{
	unsigned lineno = 0;
	int rc = 0;
	while (*text && rc == 0) {
		size_t len = strcspn(text, "\n");
		char *line = strndup(text, len);
		if (!line)
			return config_fail(err, errlen, "%s: out of memory", name);
		rc = config_load_line(c, line, name, ++lineno, err, errlen);
		free(line);
		text += len + (text[len] == '\n');
	}
	return rc;
}

int config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int rc = 0;

	if (!f)
		return config_fail(err, errlen, "%s: %s", path, strerror(errno));
	ssize_t n;
	while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
		if (strlen(line) != (size_t)n)
			rc = config_fail(err, errlen, "%s:%u: NUL byte in line", path, lineno + 1);
		else
			rc = config_load_line(c, line, path, ++lineno, err, errlen);
	}
	if (rc == 0 && ferror(f))
		rc = config_fail(err, errlen, "%s: read error: %s", path, strerror(errno));
	free(line);
	fclose(f);
	return rc;
}
