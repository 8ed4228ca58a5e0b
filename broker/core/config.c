/* broker/core/config.c: warren.conf and --set parsing into struct config.
 * One typed table lists every key: its kind (string, choice, bool, an integer width with
 * bounds, a ratio, or a hook for keys that set two fields), its field (checked against the
 * kind's C type at compile time) and its default, as redis's standardConfig does. Values are
 * parsed in full before anything in struct config changes, so a rejected line leaves the
 * settings as they were.
 * The formats follow RabbitMQ 3.10's schema (rabbit.schema, cuttlefish datatypes): integers may
 * carry a '+', booleans are exactly true/false, memory amounts take RabbitMQ's unit suffixes,
 * frame_max takes cuttlefish's bytesize suffixes (KB = 1024). */
#include "broker/core/config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- the key table ---- */

/* What a key's value is, and where it goes. A kind says how the value is parsed and stored;
 * CONFIG_KIND_HOOK keys parse and store through their own function (those that set two fields,
 * or take "none"); nothing compares key names or field offsets to decide. */
enum config_kind {
	CONFIG_KIND_STRING, /* char *, a copy of the value */
	CONFIG_KIND_CHOICE, /* char *, one of choices */
	CONFIG_KIND_BOOL,   /* bool: true or false */
	CONFIG_KIND_INT,    /* int in min..max */
	CONFIG_KIND_U16,    /* uint16_t in min..max */
	CONFIG_KIND_U32,    /* uint32_t in min..max; "infinity" stores .infinity when allowed */
	CONFIG_KIND_U64,    /* uint64_t in min..max */
	CONFIG_KIND_RATIO,  /* double in 0..1 */
	CONFIG_KIND_HOOK,   /* .hook parses and stores */
};

struct config_key;
typedef int (*config_hook_fn)(struct config *c, const struct config_key *k, const char *value,
			      char *err, size_t errlen);

struct config_key {
	const char *name;
	enum config_kind kind;
	size_t offset;              /* of the field in struct config (not for hooks) */
	uint64_t min, max;          /* integer kinds */
	bool has_infinity;          /* CONFIG_KIND_U32: "infinity" is a value */
	uint64_t infinity;          /* what "infinity" stores */
	const char *const *choices; /* CONFIG_KIND_CHOICE, NULL-terminated */
	config_hook_fn hook;        /* CONFIG_KIND_HOOK */
	const char *dflt;           /* the default, as warren.conf would write it; NULL = unset */
};

/* The field's offset, and a compile-time check that it has the type the kind stores: a key
 * whose field is changed to another width or type no longer compiles. */
#define CONFIG_FIELD(field, type)                                                                 \
	(offsetof(struct config, field) +                                                         \
	 0 * sizeof(_Generic(((struct config *)0)->field, type: 1)))

#define C_STRING(n, field, d) \
	{ .name = n, .kind = CONFIG_KIND_STRING, .offset = CONFIG_FIELD(field, char *), .dflt = d }
#define C_CHOICE(n, field, set, d)                                                                \
	{ .name = n, .kind = CONFIG_KIND_CHOICE, .offset = CONFIG_FIELD(field, char *),          \
	  .choices = set, .dflt = d }
#define C_BOOL(n, field, d) \
	{ .name = n, .kind = CONFIG_KIND_BOOL, .offset = CONFIG_FIELD(field, bool), .dflt = d }
#define C_INT(n, field, lo, hi, d)                                                                \
	{ .name = n, .kind = CONFIG_KIND_INT, .offset = CONFIG_FIELD(field, int), .min = lo,      \
	  .max = hi, .dflt = d }
#define C_U16(n, field, lo, hi, d)                                                                \
	{ .name = n, .kind = CONFIG_KIND_U16, .offset = CONFIG_FIELD(field, uint16_t), .min = lo, \
	  .max = hi, .dflt = d }
#define C_U32(n, field, lo, hi, d)                                                                \
	{ .name = n, .kind = CONFIG_KIND_U32, .offset = CONFIG_FIELD(field, uint32_t), .min = lo, \
	  .max = hi, .dflt = d }
#define C_U32_INF(n, field, lo, hi, inf, d)                                                       \
	{ .name = n, .kind = CONFIG_KIND_U32, .offset = CONFIG_FIELD(field, uint32_t), .min = lo, \
	  .max = hi, .has_infinity = true, .infinity = inf, .dflt = d }
#define C_U64(n, field, lo, hi, d)                                                                \
	{ .name = n, .kind = CONFIG_KIND_U64, .offset = CONFIG_FIELD(field, uint64_t), .min = lo, \
	  .max = hi, .dflt = d }
#define C_RATIO(n, field, d) \
	{ .name = n, .kind = CONFIG_KIND_RATIO, .offset = CONFIG_FIELD(field, double), .dflt = d }
#define C_HOOK(n, fn, d) { .name = n, .kind = CONFIG_KIND_HOOK, .hook = fn, .dflt = d }

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

/* ---- hooks: keys that set more than one field, or take a word ---- */

static int config_listener(const struct config_key *k, const char *value, char **host, int *port,
			   char *err, size_t errlen)
{
	if (config_parse_listener(value, host, port) != 0)
		return config_bad(k, value, "a port in 0..65535 or IP:PORT", err, errlen);
	return 0;
}

/* listeners.tcp.default = PORT or IP:PORT */
static int config_hook_tcp_listener(struct config *c, const struct config_key *k,
				    const char *value, char *err, size_t errlen)
{
	char *host;
	if (config_listener(k, value, &host, &c->port, err, errlen) != 0)
		return -1;
	if (host) {
		free(c->bind);
		c->bind = host;
	}
	return 0;
}

/* listeners.ssl.default = PORT or IP:PORT (the IP defaults to the AMQP listener's) */
static int config_hook_ssl_listener(struct config *c, const struct config_key *k,
				    const char *value, char *err, size_t errlen)
{
	char *host;
	if (config_listener(k, value, &host, &c->tls_port, err, errlen) != 0)
		return -1;
	free(c->tls_bind);
	c->tls_bind = host;
	return 0;
}

static int config_none(const struct config_key *k, const char *value, char *err, size_t errlen)
{
	return strcmp(value, "none") == 0 ? 0 : config_bad(k, value, "none", err, errlen);
}

static int config_hook_tcp_none(struct config *c, const struct config_key *k, const char *value,
				char *err, size_t errlen)
{
	if (config_none(k, value, err, errlen) != 0)
		return -1;
	c->port = 0; /* listeners.tcp = none: no AMQP listener */
	return 0;
}

static int config_hook_ssl_none(struct config *c, const struct config_key *k, const char *value,
				char *err, size_t errlen)
{
	if (config_none(k, value, err, errlen) != 0)
		return -1;
	c->tls_port = 0;
	return 0;
}

static int config_hook_loopback_none(struct config *c, const struct config_key *k,
				     const char *value, char *err, size_t errlen)
{
	if (config_none(k, value, err, errlen) != 0)
		return -1;
	c->loopback_users_guest = false; /* loopback_users = none: guest may log in from anywhere */
	return 0;
}

static int config_memory(const struct config_key *k, const char *value, uint64_t *out, char *err,
			 size_t errlen)
{
	if (config_parse_memory(value, out) != 0)
		return config_bad(k, value, "a byte count such as 1073741824, 512MB, 2GiB or 1G",
				  err, errlen);
	return 0;
}

static int config_fraction(const struct config_key *k, const char *value, double *out, char *err,
			   size_t errlen)
{
	if (config_parse_double(value, out) != 0 || *out < 0)
		return config_bad(k, value, "a non-negative number such as 0.4", err, errlen);
	return 0;
}

/* The .relative and .absolute forms of a limit: relative wins whatever the order in the file,
 * as RabbitMQ's schema translation decides. */
static int config_hook_vm_absolute(struct config *c, const struct config_key *k,
				   const char *value, char *err, size_t errlen)
{
	uint64_t v;
	if (config_memory(k, value, &v, err, errlen) != 0)
		return -1;
	if (!c->vm_memory_relative_given)
		c->vm_memory_high_watermark_absolute = v;
	return 0;
}

static int config_hook_vm_relative(struct config *c, const struct config_key *k,
				   const char *value, char *err, size_t errlen)
{
	double v;
	if (config_fraction(k, value, &v, err, errlen) != 0)
		return -1;
	c->vm_memory_high_watermark_relative = v;
	c->vm_memory_high_watermark_absolute = 0;
	c->vm_memory_relative_given = true;
	return 0;
}

static int config_hook_disk_absolute(struct config *c, const struct config_key *k,
				     const char *value, char *err, size_t errlen)
{
	uint64_t v;
	if (config_memory(k, value, &v, err, errlen) != 0)
		return -1;
	if (!c->disk_free_relative_given)
		c->disk_free_limit_absolute = v;
	return 0;
}

static int config_hook_disk_relative(struct config *c, const struct config_key *k,
				     const char *value, char *err, size_t errlen)
{
	double v;
	if (config_fraction(k, value, &v, err, errlen) != 0)
		return -1;
	c->disk_free_limit_relative = v;
	c->disk_free_limit_absolute = 0;
	c->disk_free_relative_given = true;
	return 0;
}

/* frame_max: 0 (no limit) or a cuttlefish bytesize of at least 4096 */
static int config_hook_frame_max(struct config *c, const struct config_key *k, const char *value,
				 char *err, size_t errlen)
{
	uint64_t v;
	if (config_parse_bytesize(value, &v) != 0 || (v != 0 && v < 4096) || v > UINT32_MAX)
		return config_bad(k, value, "0 or a size from 4096 to 4294967295 (128KB, 1MB ...)",
				  err, errlen);
	c->frame_max = (uint32_t)v;
	return 0;
}

/* log.file: a path, or false for no file (RabbitMQ's log.file = false). */
static int config_hook_log_file(struct config *c, const struct config_key *k, const char *value,
				char *err, size_t errlen)
{
	(void)k;
	if (strcmp(value, "false") == 0) {
		free(c->log_file);
		c->log_file = NULL;
		return 0;
	}
	return config_replace_string(&c->log_file, value, err, errlen);
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

/* clustering.min_insync_replicas = auto, or a follower count */
static int config_hook_min_insync(struct config *c, const struct config_key *k, const char *value,
				  char *err, size_t errlen)
{
	uint64_t v;
	if (strcmp(value, "auto") == 0) {
		c->cluster_min_insync = CONFIG_CLUSTER_AUTO;
		return 0;
	}
	if (config_parse_u64(value, &v) != 0 || v > 64)
		return config_bad(k, value, "auto or an integer in 0..64", err, errlen);
	c->cluster_min_insync = (uint32_t)v;
	return 0;
}

/* clustering.max_lag_bytes: a memory amount (1048576, 64MiB, 1GB ...) of at least 64 KiB */
static int config_hook_max_lag(struct config *c, const struct config_key *k, const char *value,
			       char *err, size_t errlen)
{
	uint64_t v;
	if (config_parse_memory(value, &v) != 0 || v < 65536)
		return config_bad(k, value, "a byte count of at least 65536 (64MiB, 1GB ...)", err,
				  errlen);
	c->cluster_max_lag_bytes = v;
	return 0;
}

static const char *const config_log_levels[] = {
	"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency", "none",
	NULL,
};
static const char *const config_verify_modes[] = { "verify_none", "verify_peer", NULL };

/* Every key, its kind, bounds and default (docs/configuration.md describes each). */
static const struct config_key config_keys[] = {
	C_HOOK("listeners.tcp", config_hook_tcp_none, NULL),
	C_HOOK("listeners.tcp.default", config_hook_tcp_listener, "127.0.0.1:5672"),
	C_HOOK("listeners.ssl", config_hook_ssl_none, NULL),
	C_HOOK("listeners.ssl.default", config_hook_ssl_listener, NULL),
	C_INT("management.tcp.port", mgmt_port, 0, 65535, "15672"),
	C_STRING("management.tcp.ip", mgmt_bind, "127.0.0.1"),
	C_INT("management.ssl.port", mgmt_tls_port, 0, 65535, "0"),
	C_STRING("management.ssl.certfile", mgmt_ssl_certfile, NULL),
	C_STRING("management.ssl.keyfile", mgmt_ssl_keyfile, NULL),
	C_STRING("management.ssl.cacertfile", mgmt_ssl_cacertfile, NULL),
	C_STRING("management.ui_dir", mgmt_ui_dir, NULL),
	C_INT("prometheus.tcp.port", prometheus_port, 0, 65535, "0"),
	C_STRING("prometheus.tcp.ip", prometheus_bind, "127.0.0.1"),
	C_U32("tcp_listen_options.backlog", tcp_backlog, 1, 65535, "128"),
	C_BOOL("tcp_listen_options.nodelay", tcp_nodelay, "true"),
	/* infinity: no handshake timeout */
	C_U32_INF("handshake_timeout", handshake_timeout, 1, UINT32_MAX - 1, 0, "10000"),
	C_U32("ssl_handshake_timeout", ssl_handshake_timeout, 1, UINT32_MAX - 1, "5000"),
	C_STRING("data_dir", data_dir, "./data"),
	C_U64("msg_store_file_size_limit", msg_store_file_size_limit, 4096, 1073741824, "67108864"),
	C_STRING("default_user", default_user, "guest"),
	C_STRING("default_pass", default_pass, "guest"),
	C_STRING("default_vhost", default_vhost, "/"),
	C_STRING("default_permissions.configure", default_perm_configure, ".*"),
	C_STRING("default_permissions.read", default_perm_read, ".*"),
	C_STRING("default_permissions.write", default_perm_write, ".*"),
	C_HOOK("loopback_users", config_hook_loopback_none, NULL),
	C_BOOL("loopback_users.guest", loopback_users_guest, "true"),
	C_HOOK("vm_memory_high_watermark.relative", config_hook_vm_relative, "0.4"),
	C_HOOK("vm_memory_high_watermark.absolute", config_hook_vm_absolute, NULL),
	C_RATIO("vm_memory_high_watermark_paging_ratio", vm_memory_paging_ratio, "0.5"),
	C_U32("memory_monitor_interval", memory_monitor_interval, 1, UINT32_MAX, "2500"),
	C_HOOK("disk_free_limit.relative", config_hook_disk_relative, NULL),
	C_HOOK("disk_free_limit.absolute", config_hook_disk_absolute, "50000000"),
	C_U16("heartbeat", heartbeat, 0, 65535, "60"),
	C_HOOK("frame_max", config_hook_frame_max, "131072"),
	C_U16("channel_max", channel_max, 0, 65535, "2047"),
	C_U32_INF("connection_max", max_connections, 0, UINT32_MAX - 1, CONFIG_UNLIMITED,
		  "infinity"),
	C_U64("max_message_size", max_message_size, 1, 536870912, "134217728"),
	C_U64("max_partial_message_bytes_per_connection", max_partial_bytes, 0, UINT64_MAX,
	      "268435456"),
	C_U32("consumer_timeout", consumer_timeout, 1, UINT32_MAX, "1800000"),
	C_U32("queue_flow_threshold", queue_flow_threshold, 0, UINT32_MAX, "4096"),
	C_U32("collect_statistics_interval", collect_statistics_interval, 1, UINT32_MAX, "5000"),
	C_BOOL("log.console", log_console, "true"),
	C_CHOICE("log.console.level", log_level, config_log_levels, "info"),
	C_HOOK("log.file", config_hook_log_file, NULL),
	C_CHOICE("log.file.level", log_file_level, config_log_levels, "info"),
	C_STRING("log.dir", log_dir, NULL),
	C_STRING("load_definitions", load_definitions, NULL),
	C_STRING("ssl_options.certfile", ssl_certfile, NULL),
	C_STRING("ssl_options.keyfile", ssl_keyfile, NULL),
	C_STRING("ssl_options.cacertfile", ssl_cacertfile, NULL),
	C_CHOICE("ssl_options.verify", ssl_verify, config_verify_modes, "verify_none"),
	C_BOOL("ssl_options.fail_if_no_peer_cert", ssl_fail_if_no_peer_cert, "false"),
	C_BOOL("clustering.enabled", cluster_enabled, "false"),
	C_STRING("clustering.etcd_endpoints", cluster_etcd_endpoints, "http://127.0.0.1:2379"),
	C_STRING("clustering.etcd_prefix", cluster_etcd_prefix, "warren"),
	C_STRING("clustering.node_name", cluster_node_name, NULL),
	C_STRING("clustering.bind", cluster_bind, "127.0.0.1"),
	C_INT("clustering.port", cluster_port, 1, 65535, "5679"),
	C_STRING("clustering.advertised_address", cluster_advertised_address, NULL),
	C_STRING("clustering.password", cluster_password, NULL),
	C_HOOK("clustering.min_insync_replicas", config_hook_min_insync, "auto"),
	C_HOOK("clustering.max_lag_bytes", config_hook_max_lag, "64MiB"),
	C_U32("clustering.lease_ttl", cluster_lease_ttl, 2, 300, "5"),
	C_BOOL("clustering.ssl", cluster_tls, "false"),
};

static void *config_field(struct config *c, const struct config_key *k)
{
	return (char *)c + k->offset;
}

/* Parses value as k's kind and stores it; 0, or -1 with err and c unchanged. */
static int config_apply(struct config *c, const struct config_key *k, const char *value,
			char *err, size_t errlen)
{
	char expected[256];
	uint64_t u;
	double d;
	bool b;

	switch (k->kind) {
	case CONFIG_KIND_STRING:
		return config_replace_string(config_field(c, k), value, err, errlen);
	case CONFIG_KIND_CHOICE: {
		size_t n = 0;
		for (size_t i = 0; k->choices[i]; i++)
			if (strcmp(value, k->choices[i]) == 0)
				return config_replace_string(config_field(c, k), value, err,
							     errlen);
		expected[0] = 0;
		for (size_t i = 0; k->choices[i] && n < sizeof expected; i++)
			n += (size_t)snprintf(expected + n, sizeof expected - n, "%s%s",
					      i ? ", " : "one of ", k->choices[i]);
		return config_bad(k, value, expected, err, errlen);
	}
	case CONFIG_KIND_BOOL:
		if (config_parse_bool(value, &b) != 0)
			return config_bad(k, value, "true or false", err, errlen);
		*(bool *)config_field(c, k) = b;
		return 0;
	case CONFIG_KIND_INT:
	case CONFIG_KIND_U16:
	case CONFIG_KIND_U32:
	case CONFIG_KIND_U64:
		if (k->has_infinity && strcmp(value, "infinity") == 0) {
			u = k->infinity;
		} else if (config_parse_u64(value, &u) != 0 || u < k->min || u > k->max) {
			snprintf(expected, sizeof expected, "an integer in %llu..%llu%s",
				 (unsigned long long)k->min, (unsigned long long)k->max,
				 k->has_infinity ? " or infinity" : "");
			return config_bad(k, value, expected, err, errlen);
		}
		if (k->kind == CONFIG_KIND_INT)
			*(int *)config_field(c, k) = (int)u;
		else if (k->kind == CONFIG_KIND_U16)
			*(uint16_t *)config_field(c, k) = (uint16_t)u;
		else if (k->kind == CONFIG_KIND_U32)
			*(uint32_t *)config_field(c, k) = (uint32_t)u;
		else
			*(uint64_t *)config_field(c, k) = u;
		return 0;
	case CONFIG_KIND_RATIO:
		if (config_parse_double(value, &d) != 0 || d < 0 || d > 1)
			return config_bad(k, value, "a number from 0 to 1 such as 0.5", err, errlen);
		*(double *)config_field(c, k) = d;
		return 0;
	case CONFIG_KIND_HOOK:
		return k->hook(c, k, value, err, errlen);
	}
	return config_fail(err, errlen, "key '%s' has no kind", k->name);
}

/* ---- public ---- */

void config_init_defaults(struct config *c)
{
	char err[256];
	memset(c, 0, sizeof *c);
	c->bind = strdup("127.0.0.1");
	if (!c->bind)
		goto oom;
	for (size_t i = 0; i < sizeof config_keys / sizeof config_keys[0]; i++)
		if (config_keys[i].dflt &&
		    config_apply(c, &config_keys[i], config_keys[i].dflt, err, sizeof err) != 0)
			goto oom; /* a default the table cannot parse is caught by test_config */
	/* the defaults are not what the file named: relative/absolute precedence starts afresh */
	c->vm_memory_relative_given = false;
	c->disk_free_relative_given = false;
	return;
oom:
	fputs("warren: out of memory reading defaults\n", stderr);
	abort(); /* startup only, before anything else could have allocated */
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < sizeof config_keys / sizeof config_keys[0]; i++) {
		const struct config_key *k = &config_keys[i];
		if (k->kind == CONFIG_KIND_STRING || k->kind == CONFIG_KIND_CHOICE) {
			char **field = config_field(c, k);
			free(*field);
			*field = NULL;
		}
	}
	/* the fields hooks own */
	free(c->bind);
	free(c->tls_bind);
	free(c->log_file);
	c->bind = c->tls_bind = c->log_file = NULL;
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
	return config_apply(c, k, value, err, errlen);
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
