/* broker/main.c: argv, config, signals, run; nothing else. */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "broker/admin/durable.h"
#include "broker/core/broker.h"
#include "broker/core/config.h"
#include "broker/core/log.h"
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

static int apply_flag(struct config *cfg, const char *key, const char *value)
{
	char err[512];
	if (config_set(cfg, key, value, err, sizeof err) != 0) {
		fprintf(stderr, "warren: %s\n", err);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_CONFIG = 1, OPT_DATA, OPT_PORT, OPT_MGMT, OPT_TLS, OPT_BIND, OPT_SET, OPT_VERSION,
	       OPT_HELP };
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
	struct config cfg;
	char err[512];
	int rc = 1, opt;

	config_init_defaults(&cfg);
	/* The config file is read first so that flags override it, wherever they appear. */
	for (int i = 1; i < argc; i++) {
		const char *path = NULL;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			path = argv[i] + 9;
		if (path && config_load_file(&cfg, path, err, sizeof err) != 0) {
			fprintf(stderr, "warren: %s\n", err);
			goto out;
		}
	}
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		const char *key = NULL;
		switch (opt) {
		case OPT_CONFIG:
			continue;
		case OPT_DATA:
			key = "data_dir";
			break;
		case OPT_PORT:
			key = "listeners.tcp.default";
			break;
		case OPT_MGMT:
			key = "management.tcp.port";
			break;
		case OPT_TLS:
			key = "listeners.ssl.default";
			break;
		case OPT_BIND: {
			free(cfg.bind);
			cfg.bind = strdup(optarg);
			continue;
		}
		case OPT_SET: {
			char *eq = strchr(optarg, '=');
			if (!eq) {
				fprintf(stderr, "warren: --set needs KEY=VALUE, got '%s'\n", optarg);
				goto out;
			}
			*eq = '\0';
			char *k = optarg, *v = eq + 1;
			while (*k == ' ')
				k++;
			for (char *e = eq - 1; e >= k && *e == ' '; e--)
				*e = '\0';
			while (*v == ' ')
				v++;
			if (apply_flag(&cfg, k, v) != 0)
				goto out;
			continue;
		}
		case OPT_VERSION:
			printf("warren %s\n", WARREN_VERSION);
			rc = 0;
			goto out;
		case OPT_HELP:
			usage(stdout);
			rc = 0;
			goto out;
		default:
			usage(stderr);
			rc = 2;
			goto out;
		}
		if (apply_flag(&cfg, key, optarg) != 0)
			goto out;
	}
	if (optind < argc) {
		fprintf(stderr, "warren: unexpected argument '%s'\n", argv[optind]);
		rc = 2;
		goto out;
	}
	int level = log_level_parse(cfg.log_level ? cfg.log_level : "info");
	log_set_level(level < 0 ? LOG_INFO : (enum log_level)level);
	signal(SIGPIPE, SIG_IGN);
	/* Socket buffers come and go in 256 KiB chains: above glibc's default mmap threshold each
	 * would be a fresh mapping, page-faulted on every read and unmapped on free. Keep them on
	 * the heap, where freed chains are reused. */
	mallopt(M_MMAP_THRESHOLD, 16 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	if (cfg.data_dir && mkdir_p(cfg.data_dir) != 0) {
		log_error("cannot create data directory %s: %s", cfg.data_dir, strerror(errno));
		goto out;
	}

	/* The storage thread reports completed syncs with event_active() from its own thread. */
	if (evthread_use_pthreads() != 0) {
		log_error("cannot enable libevent's thread support");
		goto out;
	}
	struct event_base *base = event_base_new();
	if (!base) {
		log_error("cannot create the event loop");
		goto out;
	}
	struct broker *b = server_new(base, &cfg);
	if (!b || durable_open(b) != 0 || server_start(b) != 0) {
		server_free(b);
		event_base_free(base);
		goto out;
	}
	if (cfg.mgmt_port != 0 && !(b->mgmt = mgmt_start(b, err, sizeof err))) {
		log_error("%s", err);
		server_free(b);
		event_base_free(base);
		goto out;
	}
	log_info("Warren %s ready: AMQP on %s:%u, data in %s", WARREN_VERSION, cfg.bind,
		 (unsigned)b->port, cfg.data_dir ? cfg.data_dir : "(none)");
	event_base_dispatch(base);
	log_info("stopped");
	mgmt_free(b->mgmt);
	b->mgmt = NULL;
	server_free(b);
	event_base_free(base);
	rc = 0;
out:
	config_free(&cfg);
	return rc;
}
