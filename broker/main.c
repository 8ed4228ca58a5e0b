/* broker/main.c: argv, config, signals, run; nothing else. As a service: READY=1 to systemd
 * once every listener accepts and WATCHDOG=1 from the event loop (broker/systemd.c speaks the
 * protocol); SIGHUP re-reads the configuration exactly as at start (files, then flags) and
 * applies what can change at run time: log outputs and levels, the AMQPS certificates and the
 * load_definitions file; SIGUSR1 reopens the log file for logrotate. */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <getopt.h>
#include <jansson.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "broker/admin/durable.h"
#include "broker/cluster/cluster.h"
#include "broker/core/broker.h"
#include "broker/core/config.h"
#include "broker/admin/definitions.h"
#include "broker/core/log.h"
#include "broker/systemd.h"
#include "broker/net/tls.h"
#include "broker/server.h"
#include "mgmt/api/mgmt.h"

#ifndef WARREN_VERSION
#define WARREN_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"usage: warren [options]\n"
		"  --config FILE      read settings from FILE (rabbitmq.conf format)\n"
		"  --data-dir DIR     where durable data lives (default ./data)\n"
		"  --port N           AMQP port (default 5672)\n"
		"  --mgmt-port N      management HTTP port (default 15672, 0 = off)\n"
		"  --tls-port N       AMQPS port (default off)\n"
		"  --bind ADDR        listen address (default 127.0.0.1)\n"
		"  --set KEY=VALUE    set any configuration key (repeatable)\n"
		"  --version          print the version and exit\n"
		"  --help             this text\n");
}

static int mkdir_p(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* One flag that sets a value, in argv order: key and value, or (key NULL) a --set KEY=VALUE
 * text in value, or (bind) the --bind address, which is not a configuration key. */
struct main_setting {
	const char *key, *value;
	bool bind;
};

/* What argv asks for, kept so that SIGHUP can rebuild the configuration the same way. */
struct main_args {
	const char **configs;      /* every --config, read first, in order */
	size_t config_count;
	struct main_setting *settings; /* then these, in order */
	size_t setting_count;
};

/* The running broker, for signal callbacks. */
struct main_service {
	struct log *log;           /* the program's log, which the broker writes to */
	struct event_base *base;
	struct broker *b;
	struct config *cfg;        /* the live configuration b->cfg points to */
	const struct main_args *args;
	struct event *sig_hup, *sig_usr1, *sig_term, *sig_int, *watchdog;
};

static void main_args_free(struct main_args *a)
{
	free(a->configs);
	free(a->settings);
}

/* 0: run; 1: done (version or help printed); 2: usage error (printed); -1: out of memory. */
static int main_args_parse(struct main_args *a, int argc, char **argv)
{
	enum { OPT_CONFIG = 1, OPT_DATA, OPT_PORT, OPT_MGMT, OPT_TLS, OPT_BIND, OPT_SET,
	       OPT_VERSION, OPT_HELP };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "data-dir", required_argument, NULL, OPT_DATA },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "mgmt-port", required_argument, NULL, OPT_MGMT },
		{ "tls-port", required_argument, NULL, OPT_TLS },
		{ "bind", required_argument, NULL, OPT_BIND },
		{ "set", required_argument, NULL, OPT_SET },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	memset(a, 0, sizeof *a);
	a->configs = calloc((size_t)argc, sizeof *a->configs);
	a->settings = calloc((size_t)argc, sizeof *a->settings);
	if (!a->configs || !a->settings)
		return -1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		struct main_setting *s = &a->settings[a->setting_count];
		switch (opt) {
		case OPT_CONFIG:
			a->configs[a->config_count++] = optarg;
			continue;
		case OPT_DATA:
			s->key = "data_dir";
			break;
		case OPT_PORT:
			s->key = "listeners.tcp.default";
			break;
		case OPT_MGMT:
			s->key = "management.tcp.port";
			break;
		case OPT_TLS:
			s->key = "listeners.ssl.default";
			break;
		case OPT_BIND:
			s->bind = true;
			break;
		case OPT_SET:
			s->key = NULL; /* split and checked by config_set_arg */
			break;
		case OPT_VERSION:
			printf("warren %s\n", WARREN_VERSION);
			return 1;
		case OPT_HELP:
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
		s->value = optarg;
		a->setting_count++;
	}
	if (optind < argc) {
		fprintf(stderr, "warren: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return 0;
}

/* Defaults, then every --config file, then the flags: at start and again on SIGHUP. 0, or -1
 * with the first error in err (cfg then holds what was applied before it; free it). */
static int main_config_build(const struct main_args *a, struct config *cfg, char *err,
			     size_t errlen)
{
	config_init_defaults(cfg);
	for (size_t i = 0; i < a->config_count; i++)
		if (config_load_file(cfg, a->configs[i], err, errlen) != 0)
			return -1;
	for (size_t i = 0; i < a->setting_count; i++) {
		const struct main_setting *s = &a->settings[i];
		if (s->bind) {
			char *bind = strdup(s->value);
			if (!bind) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			free(cfg->bind);
			cfg->bind = bind;
		} else if (s->key ? config_set(cfg, s->key, s->value, err, errlen) :
				    config_set_arg(cfg, s->value, err, errlen)) {
			return -1;
		}
	}
	return 0;
}

/* log.console, log.console.level, log.file (against log.dir), log.file.level. */
static int main_log_configure(struct log *lg, const struct config *cfg, char *err,
			      size_t errlen)
{
	char path[4096];
	int console = log_level_parse(cfg->log_level ? cfg->log_level : "info");
	int file = log_level_parse(cfg->log_file_level ? cfg->log_file_level : "info");
	struct log_options o = {
		.console = cfg->log_console,
		.console_level = console < 0 ? LOG_INFO : (enum log_level)console,
		.file_level = file < 0 ? LOG_INFO : (enum log_level)file,
	};

	if (cfg->log_file) {
		if (cfg->log_file[0] != '/' && cfg->log_dir)
			snprintf(path, sizeof path, "%s/%s", cfg->log_dir, cfg->log_file);
		else
			snprintf(path, sizeof path, "%s", cfg->log_file);
		o.file = path;
	}
	return log_configure(lg, &o, err, errlen);
}

/* Imports load_definitions (RabbitMQ's key): users, vhosts, permissions, queues, ... */
static int main_definitions_load(struct broker *b, const char *path, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc = json_load_file(path, 0, &jerr);
	char why[400];
	int rc;

	if (!doc) {
		snprintf(err, errlen, "load_definitions: %s:%d: %s", path, jerr.line, jerr.text);
		return -1;
	}
	rc = definitions_import(b, doc, NULL, why, sizeof why);
	json_decref(doc);
	if (rc != 0)
		snprintf(err, errlen, "load_definitions: %s: %s", path, why);
	return rc;
}

static void main_swap_string(char **a, char **b)
{
	char *t = *a;
	*a = *b;
	*b = t;
}

/* SIGHUP, after next was built without error: applies what can change while running and moves
 * those settings into the live configuration (next gets the old values, freed by the caller).
 * Everything else in next is ignored: listeners, limits and the data directory need a restart. */
static void main_reload_apply(struct main_service *m, struct config *next)
{
	struct config *cfg = m->cfg;
	struct broker *b = m->b;
	char err[512];

	if (main_log_configure(m->log, next, err, sizeof err) != 0)
		log_error(m->log, "reload: %s; the log outputs stay as they were", err);
	else
		log_info(m->log, "reload: log.console.level %s, log.file %s", next->log_level,
			 next->log_file ? next->log_file : "false");
	if (b->tls_listener) {
		struct ssl_ctx_st *ctx = tls_ctx_new(next, err, sizeof err);
		if (!ctx) {
			log_error(m->log, "reload: %s; AMQPS keeps its current certificate", err);
		} else {
			/* connections already up hold a reference to the old context */
			tls_ctx_free(b->tls_ctx);
			b->tls_ctx = ctx;
			log_info(m->log, "reload: AMQPS certificate %s loaded for new connections",
				 next->ssl_certfile);
		}
	} else if (next->tls_port) {
		log_warn(m->log, "reload: listeners.ssl.default takes effect at the next restart");
	}
	if (next->load_definitions) {
		if (main_definitions_load(b, next->load_definitions, err, sizeof err) != 0)
			log_error(m->log, "reload: %s; nothing from it was applied", err);
		else
			log_info(m->log, "reload: definitions imported from %s", next->load_definitions);
	}
	main_swap_string(&cfg->log_level, &next->log_level);
	main_swap_string(&cfg->log_file, &next->log_file);
	main_swap_string(&cfg->log_file_level, &next->log_file_level);
	main_swap_string(&cfg->log_dir, &next->log_dir);
	main_swap_string(&cfg->load_definitions, &next->load_definitions);
	main_swap_string(&cfg->ssl_certfile, &next->ssl_certfile);
	main_swap_string(&cfg->ssl_keyfile, &next->ssl_keyfile);
	main_swap_string(&cfg->ssl_cacertfile, &next->ssl_cacertfile);
	main_swap_string(&cfg->ssl_verify, &next->ssl_verify);
	cfg->log_console = next->log_console;
	cfg->ssl_fail_if_no_peer_cert = next->ssl_fail_if_no_peer_cert;
	cfg->ssl_versions = next->ssl_versions;
}

static unsigned long long main_monotonic_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000;
}

static void main_on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct main_service *m = arg;
	struct config next;
	char err[512];

	(void)sig, (void)what;
	systemd_notifyf("RELOADING=1\nSTATUS=Reloading the configuration\nMONOTONIC_USEC=%llu",
			main_monotonic_usec());
	log_info(m->log, "received SIGHUP: reloading the configuration");
	if (main_config_build(m->args, &next, err, sizeof err) != 0)
		log_error(m->log, "reload: %s; the running settings stay", err);
	else
		main_reload_apply(m, &next);
	config_free(&next);
	systemd_notify("READY=1\nSTATUS=Accepting connections");
}

static void main_on_usr1(evutil_socket_t sig, short what, void *arg)
{
	struct main_service *m = arg;

	(void)sig, (void)what;
	if (!m->cfg->log_file)
		log_info(m->log, "received SIGUSR1: no log.file to reopen");
	else if (log_reopen(m->log) != 0)
		log_error(m->log, "cannot reopen the log file: %s", strerror(errno));
	else
		log_info(m->log, "received SIGUSR1: log file reopened");
}

/* Beside broker.c's own SIGTERM/SIGINT handler, which shuts the broker down. */
static void main_on_stop(evutil_socket_t sig, short what, void *arg)
{
	(void)sig, (void)what, (void)arg;
	systemd_notify("STOPPING=1\nSTATUS=Shutting down");
}

/* From the event loop itself, so a loop that stops turning stops the keep-alives and systemd
 * restarts the service (WatchdogSec=). */
static void main_on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	systemd_notify("WATCHDOG=1");
}

/* ---- clustering: the cluster decides when this process serves ---- */

struct main_cluster {
	struct log *log;
	struct event_base *base;
	struct config *cfg;
	struct main_service *svc;
	struct broker *b;
};

/* This node leads: the same start as a single broker's, on its replicated data directory. */
static struct broker *main_cluster_serve(void *arg, struct cluster *cl)
{
	struct main_cluster *mc = arg;
	struct config *cfg = mc->cfg;
	struct broker *b;
	char err[512];

	b = server_new(mc->base, cfg, mc->log);
	if (!b)
		goto fail;
	b->cluster = cl;
	broker_set_node_name(b, cluster_self(cl));
	if (durable_open(b) != 0)
		goto fail;
	if (cfg->load_definitions &&
	    main_definitions_load(b, cfg->load_definitions, err, sizeof err) != 0) {
		log_error(mc->log, "%s", err);
		goto fail;
	}
	if (server_start(b) != 0)
		goto fail;
	if (cfg->mgmt_port != 0 && !(b->mgmt = mgmt_start(b, err, sizeof err))) {
		log_error(mc->log, "%s", err);
		goto fail;
	}
	mc->b = b;
	mc->svc->b = b;
	log_info(mc->log, "Warren %s ready: leader, AMQP on %s:%u, data in %s", WARREN_VERSION,
		 cfg->bind,
		 (unsigned)b->port, cfg->data_dir ? cfg->data_dir : "(none)");
	systemd_notifyf("STATUS=Leader: accepting AMQP connections on %s:%u", cfg->bind,
			(unsigned)b->port);
	return b;
fail:
	if (b) {
		mgmt_free(b->mgmt);
		b->mgmt = NULL;
	}
	server_free(b);
	return NULL;
}

/* Stepping down: the management server stops answering at once (the process restarts). */
static void main_cluster_release(void *arg, struct broker *b)
{
	(void)arg;
	mgmt_free(b->mgmt);
	b->mgmt = NULL;
}

static int main_service_start(struct main_service *m)
{
	uint64_t usec = systemd_watchdog_usec();

	m->sig_hup = evsignal_new(m->base, SIGHUP, main_on_hup, m);
	m->sig_usr1 = evsignal_new(m->base, SIGUSR1, main_on_usr1, m);
	m->sig_term = evsignal_new(m->base, SIGTERM, main_on_stop, m);
	m->sig_int = evsignal_new(m->base, SIGINT, main_on_stop, m);
	if (!m->sig_hup || !m->sig_usr1 || !m->sig_term || !m->sig_int ||
	    evsignal_add(m->sig_hup, NULL) != 0 || evsignal_add(m->sig_usr1, NULL) != 0 ||
	    evsignal_add(m->sig_term, NULL) != 0 || evsignal_add(m->sig_int, NULL) != 0)
		return -1;
	if (usec) {
		/* twice per timeout, as sd_watchdog_enabled(3) advises */
		struct timeval half = { (time_t)(usec / 2 / 1000000),
					(suseconds_t)(usec / 2 % 1000000) };
		m->watchdog = event_new(m->base, -1, EV_PERSIST, main_on_watchdog, m);
		if (!m->watchdog || event_add(m->watchdog, &half) != 0)
			return -1;
		log_info(m->log, "systemd watchdog: a keep-alive every %llu ms",
			 (unsigned long long)(usec / 2 / 1000));
	}
	return 0;
}

static void main_service_stop(struct main_service *m)
{
	struct event *evs[] = { m->sig_hup, m->sig_usr1, m->sig_term, m->sig_int, m->watchdog };
	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
		if (evs[i])
			event_free(evs[i]);
}

int main(int argc, char **argv)
{
	struct main_args args;
	struct main_service svc = { 0 };
	struct config cfg;
	struct event_base *base = NULL;
	struct broker *b = NULL;
	struct cluster *cl = NULL;
	struct main_cluster mc = { 0 };
	struct log lg;
	char err[512];
	int rc = 1;

	log_init(&lg);
	config_init_defaults(&cfg);
	switch (main_args_parse(&args, argc, argv)) {
	case 0:
		break;
	case 1:
		rc = 0;
		goto out;
	case 2:
		rc = 2;
		goto out;
	default:
		fprintf(stderr, "warren: out of memory\n");
		goto out;
	}
	config_free(&cfg);
	if (main_config_build(&args, &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "warren: %s\n", err);
		goto out;
	}
	if (main_log_configure(&lg, &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "warren: %s\n", err);
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Socket buffers come and go in 256 KiB chains: above glibc's default mmap threshold each
	 * would be a fresh mapping, page-faulted on every read and unmapped on free. Keep them on
	 * the heap, where freed chains are reused. */
	mallopt(M_MMAP_THRESHOLD, 16 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	if (cfg.data_dir && mkdir_p(cfg.data_dir) != 0) {
		log_error(&lg, "cannot create data directory %s: %s", cfg.data_dir, strerror(errno));
		goto out;
	}

	/* The storage thread reports completed syncs with event_active() from its own thread. */
	if (evthread_use_pthreads() != 0) {
		log_error(&lg, "cannot enable libevent's thread support");
		goto out;
	}
	base = event_base_new();
	if (!base) {
		log_error(&lg, "cannot create the event loop");
		goto out;
	}
	if (cfg.cluster_enabled) {
		/* a follower until etcd says otherwise: main_cluster_serve starts the broker */
		mc = (struct main_cluster){ .log = &lg, .base = base, .cfg = &cfg, .svc = &svc };
		struct cluster_hooks hooks = { .serve = main_cluster_serve,
					       .release = main_cluster_release,
					       .arg = &mc };
		svc = (struct main_service){ .log = &lg, .base = base, .cfg = &cfg, .args = &args };
		cl = cluster_new(base, &cfg, &lg, argv, &hooks);
		if (!cl || cluster_start(cl) != 0 || main_service_start(&svc) != 0)
			goto out;
		log_info(&lg, "Warren %s ready: clustering node, data in %s", WARREN_VERSION,
			 cfg.data_dir ? cfg.data_dir : "(none)");
		systemd_notify("READY=1\nSTATUS=Clustering: following or electing a leader");
		event_base_dispatch(base);
		b = mc.b;
		log_info(&lg, "stopped");
		rc = 0;
		goto out;
	}
	b = server_new(base, &cfg, &lg);
	if (!b || durable_open(b) != 0)
		goto out;
	if (cfg.load_definitions &&
	    main_definitions_load(b, cfg.load_definitions, err, sizeof err) != 0) {
		log_error(&lg, "%s", err);
		goto out;
	}
	if (server_start(b) != 0)
		goto out;
	if (cfg.mgmt_port != 0 && !(b->mgmt = mgmt_start(b, err, sizeof err))) {
		log_error(&lg, "%s", err);
		goto out;
	}
	svc = (struct main_service){ .log = &lg, .base = base, .b = b, .cfg = &cfg, .args = &args };
	if (main_service_start(&svc) != 0) {
		log_error(&lg, "cannot set up the signal handlers");
		goto out;
	}
	log_info(&lg, "Warren %s ready: AMQP on %s:%u, data in %s", WARREN_VERSION, cfg.bind,
		 (unsigned)b->port, cfg.data_dir ? cfg.data_dir : "(none)");
	systemd_notifyf("READY=1\nSTATUS=Accepting AMQP connections on %s:%u", cfg.bind,
			(unsigned)b->port);
	event_base_dispatch(base);
	log_info(&lg, "stopped");
	rc = 0;
out:
	if (cl && !b)
		b = cluster_broker(cl);
	if (b) {
		mgmt_free(b->mgmt);
		b->mgmt = NULL;
	}
	/* the lease goes back first (another node leads at once), then the store is closed */
	cluster_free(cl);
	server_free(b);
	main_service_stop(&svc);
	if (base)
		event_base_free(base);
	main_args_free(&args);
	config_free(&cfg);
	log_close(&lg);
	return rc;
}
