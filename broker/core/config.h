/* broker/core/config.h: Warren's settings, read from warren.conf and --set KEY=VALUE.
 * The file format and key names are rabbitmq.conf's (the "sysctl" format RabbitMQ parses with
 * cuttlefish): one `key = value` per line, `#` starts a comment anywhere on a line, blank lines
 * are skipped, values are the rest of the line trimmed (quotes are not special, as in RabbitMQ).
 * Every key, its default and its meaning is listed in docs/configuration.md. */
#ifndef BROKER_CONFIG_H
#define BROKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* clustering.min_insync_replicas = auto */
#define CONFIG_CLUSTER_AUTO UINT32_MAX

/* connection_max = infinity */
#define CONFIG_UNLIMITED UINT32_MAX

/* ssl_options.versions.N bits; 0 means "OpenSSL's defaults" (TLS 1.2 and 1.3). */
#define CONFIG_TLS_1_0 (1u << 0)
#define CONFIG_TLS_1_1 (1u << 1)
#define CONFIG_TLS_1_2 (1u << 2)
#define CONFIG_TLS_1_3 (1u << 3)

struct config {
	/* listeners.tcp.default: "5672" or "IP:PORT"; listeners.tcp = none: AMQP off (port 0) */
	char *bind;                 /* "127.0.0.1" */
	int port;                   /* 5672 */
	int tls_port;               /* listeners.ssl.default, 0 = off */
	char *tls_bind;             /* IP of listeners.ssl.default = IP:PORT; NULL = as bind */
	int mgmt_port;              /* management.tcp.port, 15672; 0 = off */
	char *mgmt_bind;            /* management.tcp.ip, "127.0.0.1" */
	int mgmt_tls_port;          /* management.ssl.port, 0 = off; binds management.tcp.ip */
	char *mgmt_ssl_certfile, *mgmt_ssl_keyfile, *mgmt_ssl_cacertfile; /* management.ssl.* */
	char *mgmt_ui_dir;          /* management.ui_dir: serve the web UI from here; NULL = built in */
	int prometheus_port;        /* prometheus.tcp.port, 0 = off */
	char *prometheus_bind;      /* prometheus.tcp.ip, "127.0.0.1" */
	uint32_t tcp_backlog;       /* tcp_listen_options.backlog, 128 */
	bool tcp_nodelay;           /* tcp_listen_options.nodelay, true */
	uint32_t handshake_timeout; /* ms, 10000; "infinity" = 0 = none */
	uint32_t ssl_handshake_timeout; /* ms, 5000 */

	char *data_dir;             /* data_dir (Warren's own key), "./data" */
	/* msg_store_file_size_limit: bytes per message-log segment, 67108864 (64 MiB) */
	uint64_t msg_store_file_size_limit;

	char *default_user, *default_pass, *default_vhost; /* guest, guest, / */
	char *default_perm_configure, *default_perm_read, *default_perm_write; /* .* each */
	bool loopback_users_guest;  /* loopback_users.guest, true; loopback_users = none: false */

	/* Relative and absolute limits: when a file gives both, relative wins, as in RabbitMQ. */
	double vm_memory_high_watermark_relative;   /* 0.4 */
	uint64_t vm_memory_high_watermark_absolute; /* 0 = unset; 1024, 1k, 2MB, 1GiB ... */
	uint32_t memory_monitor_interval;           /* ms, 2500 */
	/* vm_memory_high_watermark_paging_ratio: queues page messages to disk past this fraction
	 * of the memory limit; 0.5 */
	double vm_memory_paging_ratio;
	uint64_t disk_free_limit_absolute;          /* 50000000 */
	double disk_free_limit_relative;            /* 0 = unset */

	uint16_t heartbeat;         /* s, 60; 0 = off */
	uint32_t frame_max;         /* 131072; 0 = no limit, else >= 4096 */
	uint16_t channel_max;       /* 2047; 0 = 65535 */
	uint32_t max_connections;   /* connection_max, CONFIG_UNLIMITED ("infinity") */
	uint64_t max_message_size;  /* 134217728; 1 .. 536870912 */
	/* max_partial_message_bytes_per_connection (Warren's own key): declared body sizes of the
	 * messages a connection is still receiving, over all its channels; 268435456, 0 = none */
	uint64_t max_partial_bytes;
	uint32_t consumer_timeout;  /* ms, 1800000 */
	/* queue_flow_threshold (Warren's own key): how many ready messages a queue with consumers
	 * may gain over its low point before the connections publishing to it stop being read
	 * (publisher flow control); 4096, 0 = off */
	uint32_t queue_flow_threshold;
	uint32_t collect_statistics_interval; /* ms, 5000 (management sampling) */

	char *log_level;            /* log.console.level, "info" */
	bool log_console;           /* log.console, true */
	char *log_file;             /* log.file: a path (relative: in log.dir); NULL = false */
	char *log_file_level;       /* log.file.level, "info" */
	char *log_dir;              /* log.dir: a relative log.file's directory; NULL = cwd */

	char *load_definitions;     /* a definitions JSON file imported at start and on SIGHUP */

	char *ssl_certfile, *ssl_keyfile, *ssl_cacertfile; /* ssl_options.*, NULL = unset */
	char *ssl_verify;           /* "verify_none" (default) or "verify_peer" */
	bool ssl_fail_if_no_peer_cert; /* false */
	unsigned ssl_versions;      /* CONFIG_TLS_* bits from ssl_options.versions.N; 0 = default */

	/* clustering.* (docs/clustering.md): a replicated cluster on etcd. Off: the node behaves
	 * exactly as a single broker. */
	bool cluster_enabled;           /* clustering.enabled, false */
	char *cluster_etcd_endpoints;   /* comma-separated URLs, "http://127.0.0.1:2379" */
	char *cluster_etcd_prefix;      /* clustering.etcd_prefix, "warren" */
	char *cluster_node_name;        /* NULL = the host name */
	char *cluster_bind;             /* replication listener address, "127.0.0.1" */
	int cluster_port;               /* replication listener port, 5679 */
	char *cluster_advertised_address; /* what others dial; NULL = clustering.bind */
	char *cluster_password;         /* shared secret of the replication port; NULL = none */
	/* followers that must hold a record before it is confirmed; CONFIG_CLUSTER_AUTO: 1 when
	 * the cluster has any other member, else 0 */
	uint32_t cluster_min_insync;
	uint64_t cluster_max_lag_bytes; /* beyond it a follower leaves the in-sync set, 64 MiB */
	uint32_t cluster_lease_ttl;     /* s, 5: the leader's etcd lease */
	bool cluster_tls;               /* clustering.ssl: TLS with ssl_options.* on replication */

	/* Which of a relative/absolute pair the file named: relative wins whatever the order. */
	bool vm_memory_relative_given, disk_free_relative_given;
};

/* Fills every field with its default. Runs once at startup: out of memory here aborts. */
void config_init_defaults(struct config *c);
void config_free(struct config *c); /* frees the strings; c itself is the caller's */

/* Applies one "key = value" (also used for --set KEY=VALUE). Returns 0, or -1 with a one-line
 * message in err ("unknown key 'foo.bar'", "port: '-1' is not an integer in 0..65535"), leaving
 * c unchanged. -1 is also out of memory. */
int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen);

/* Applies "KEY=VALUE" as given to --set: the text is split at the first '=' and both sides
 * trimmed. */
int config_set_arg(struct config *c, const char *arg, char *err, size_t errlen);

/* Reads a file; errors name the file, line and key: "warren.conf:7: unknown key 'foo.bar'".
 * Stops at the first error; settings from earlier lines stay applied. */
int config_load_file(struct config *c, const char *path, char *err, size_t errlen);

/* Same, from text in memory; name is what error messages call it. */
int config_load_string(struct config *c, const char *text, const char *name, char *err,
		       size_t errlen);

/* Parses a rabbitmq.conf memory amount: digits, optionally followed by a unit:
 * k K kiB KiB kib KIB = 1024, kB KB kb Kb = 1000, m M MiB mib MIB = 1024^2, MB mb Mb = 10^6,
 * g G GiB gib GIB = 1024^3, GB gb Gb = 10^9. Returns 0 or -1 (bad text or overflow). */
int config_parse_memory(const char *s, uint64_t *out);

#endif
