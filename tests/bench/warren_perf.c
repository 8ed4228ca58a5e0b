/* tests/bench/warren_perf.c: warren-perf's command line and report. Flags are read here,
 * scenario defaults filled in, perf_scenario_run does the work, and the result is printed as a
 * human table or as one JSON line (--json) that tests/bench/compare.sh collects. */
#include "perf.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void perf_on_alarm(int sig)
{
	static const char msg[] = "warren-perf: gave up: the run exceeded its time limit\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0)
		_exit(1);
	_exit(1);
}

/* Every loop has its own deadline; this is the backstop for all of them together. */
static void perf_arm_watchdog(const struct perf_opts *o)
{
	unsigned limit = 900 + (unsigned)o->duration * 2;

	signal(SIGALRM, perf_on_alarm);
	alarm(limit);
}

static void perf_usage(FILE *f)
{
	fputs("usage: warren-perf [options]\n"
	      "  --uri URI            amqp://user:pass@host:port/vhost (default "
	      "amqp://guest:guest@127.0.0.1:5672/)\n"
	      "  --scenario NAME      throughput | confirm | latency | fanout | connections |\n"
	      "                       backlog | bindings | stream (default throughput)\n"
	      "  --publishers N       publisher threads, one connection each (default 1)\n"
	      "  --consumers N        consumer threads, one connection each (default 1; fanout: "
	      "one per queue)\n"
	      "  --queues N           queues (default 1; fanout 4; bindings 500)\n"
	      "  --size BYTES         body size (default 16; >= 8 carries a send timestamp)\n"
	      "  --duration SECS      publish for this long (default 10 unless --count)\n"
	      "  --count N            messages per publisher (backlog: in all;\n"
	      "                       bindings: bindings to declare)\n"
	      "  --prefetch N         basic.qos prefetch per consumer (default 0 = none)\n"
	      "  --ack-every K        manual ack with multiple every K messages (0 = no-ack)\n"
	      "  --confirm W          publisher confirms, at most W outstanding (confirm: 128)\n"
	      "  --persistent         delivery_mode 2 and durable queues (confirm: on)\n"
	      "  --keep               backlog: leave the queue full (no drain, no delete);\n"
	      "                       stream: leave the stream (tests/bench/stream-replay.sh)\n"
	      "  --rate R             msgs/s per publisher (latency: 10000; 0 = unlimited)\n"
	      "  --connections C      connections to open (connections: 1000); with --duration\n"
	      "                       they stay open that long, each publishing --rate msgs/s\n"
	      "                       (0: idle) to a queue one consumer drains\n"
	      "  --heartbeat SECS     heartbeat asked for in tune-ok (default 0 = none)\n"
	      "  --broker-pid PID     report the broker's CPU and RSS from /proc/PID\n"
	      "  --json               print one JSON line instead of the table\n",
	      f);
}

static int perf_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (*s == '\0' || *s == '-' || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int perf_parse_double(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (*s == '\0' || *end != '\0' || v < 0)
		return -1;
	*out = v;
	return 0;
}

/* Raises the open-file limit so --connections can go past 1024. */
static void perf_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

enum {
	OPT_URI = 256, OPT_SCENARIO, OPT_PUBLISHERS, OPT_CONSUMERS, OPT_QUEUES, OPT_SIZE,
	OPT_DURATION, OPT_COUNT, OPT_PREFETCH, OPT_ACK_EVERY, OPT_CONFIRM, OPT_PERSISTENT, OPT_KEEP,
	OPT_RATE, OPT_CONNECTIONS, OPT_HEARTBEAT, OPT_BROKER_PID, OPT_JSON, OPT_HELP,
};

static const struct option perf_options[] = {
	{ "uri", required_argument, NULL, OPT_URI },
	{ "scenario", required_argument, NULL, OPT_SCENARIO },
	{ "publishers", required_argument, NULL, OPT_PUBLISHERS },
	{ "consumers", required_argument, NULL, OPT_CONSUMERS },
	{ "queues", required_argument, NULL, OPT_QUEUES },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "prefetch", required_argument, NULL, OPT_PREFETCH },
	{ "ack-every", required_argument, NULL, OPT_ACK_EVERY },
	{ "confirm", required_argument, NULL, OPT_CONFIRM },
	{ "persistent", no_argument, NULL, OPT_PERSISTENT },
	{ "keep", no_argument, NULL, OPT_KEEP },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "connections", required_argument, NULL, OPT_CONNECTIONS },
	{ "heartbeat", required_argument, NULL, OPT_HEARTBEAT },
	{ "broker-pid", required_argument, NULL, OPT_BROKER_PID },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Flags not given are -1 here; perf_opts_defaults fills them per scenario. */
struct perf_flags {
	const char *uri;
	int64_t publishers, consumers, queues, size, count, prefetch, ack_every, confirm;
	int64_t connections, heartbeat, broker_pid;
	double duration, rate;
	bool persistent, json, keep;
};

static int64_t perf_pick(int64_t given, int64_t fallback)
{
	return given >= 0 ? given : fallback;
}

static int perf_opts_defaults(struct perf_opts *o, const struct perf_flags *fl, char *err,
			      size_t err_len)
{
	enum perf_scenario_kind k = o->scenario;

	if (perf_uri_parse(&o->uri, fl->uri, err, err_len) != 0)
		return -1;
	o->queues = (int)perf_pick(fl->queues, k == PERF_FANOUT ? 4 : k == PERF_BINDINGS ? 500 : 1);
	o->publishers = (int)perf_pick(fl->publishers, 1);
	o->consumers = (int)perf_pick(fl->consumers, k == PERF_FANOUT ? o->queues : 1);
	o->size = (size_t)perf_pick(fl->size, 16);
	o->count = (uint64_t)perf_pick(fl->count, 0);
	/* connections: no held phase unless --duration asks for one */
	o->duration = fl->duration >= 0 ? fl->duration : o->count || k == PERF_CONNECTIONS ? 0 : 10;
	/* stream consumers need prefetch and manual acks; every stream message is stored */
	o->prefetch = (uint32_t)perf_pick(fl->prefetch, k == PERF_STREAM ? 1000 : 0);
	o->ack_every = (uint32_t)perf_pick(fl->ack_every, k == PERF_STREAM ? 250 : 0);
	o->confirm = (uint32_t)perf_pick(fl->confirm, k == PERF_CONFIRM || k == PERF_STREAM ? 128 : 0);
	o->persistent = fl->persistent || k == PERF_CONFIRM || k == PERF_STREAM;
	o->rate = fl->rate >= 0 ? fl->rate : k == PERF_LATENCY ? 10000 : 0;
	o->connections = (int)perf_pick(fl->connections, 1000);
	if (fl->heartbeat > 65535) {
		snprintf(err, err_len, "--heartbeat is at most 65535 seconds");
		return -1;
	}
	if (fl->heartbeat >= 0)
		o->uri.heartbeat = (uint16_t)fl->heartbeat;
	o->broker_pid = (pid_t)perf_pick(fl->broker_pid, 0);
	o->json = fl->json;
	o->keep = fl->keep;
	if (o->queues < 1 || o->publishers < 0 || o->consumers < 0 || o->connections < 1) {
		snprintf(err, err_len, "--queues and --connections must be >= 1");
		return -1;
	}
	if (o->publishers > 1000 || o->consumers > 1000 || o->queues > 1000000) {
		snprintf(err, err_len, "too many publishers, consumers or queues");
		return -1;
	}
	if (o->size > 64u << 20) {
		snprintf(err, err_len, "--size is limited to 64 MiB");
		return -1;
	}
	if (o->duration <= 0 && o->count == 0 && k != PERF_CONNECTIONS && k != PERF_BINDINGS &&
	    k != PERF_BACKLOG) {
		snprintf(err, err_len, "give --duration or --count");
		return -1;
	}
	if (o->duration > 3600) {
		snprintf(err, err_len, "--duration is limited to 3600 s");
		return -1;
	}
	if (o->prefetch > 0 && o->ack_every > o->prefetch) {
		/* the consumer would wait for an ack batch the broker never lets it complete */
		snprintf(err, err_len, "--ack-every must not exceed --prefetch");
		return -1;
	}
	if (k == PERF_CONFIRM && o->confirm == 0) {
		snprintf(err, err_len, "the confirm scenario needs --confirm W > 0");
		return -1;
	}
	if (o->scenario == PERF_CONNECTIONS && o->connections > 100000) {
		snprintf(err, err_len, "--connections is limited to 100000");
		return -1;
	}
	return 0;
}

static double perf_rate(uint64_t n, double secs)
{
	return secs > 0 ? (double)n / secs : 0;
}

static double perf_us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static void perf_print_hist(const char *label, const struct perf_hist *h)
{
	if (h->count == 0)
		return;
	printf("  %-18s p50 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us  (%llu samples)\n",
	       label, perf_us(perf_hist_quantile(h, 0.5)), perf_us(perf_hist_quantile(h, 0.99)),
	       perf_us(perf_hist_quantile(h, 0.999)), perf_us(h->max),
	       (unsigned long long)h->count);
}

static void perf_print_table(const struct perf_opts *o, const struct perf_result *r)
{
	printf("warren-perf %s against %s:%u vhost %s\n", perf_scenario_name(o->scenario),
	       o->uri.host, o->uri.port, o->uri.vhost);
	if (o->scenario != PERF_CONNECTIONS && o->scenario != PERF_BINDINGS)
		printf("  publishers %d, consumers %d, queues %d, body %zu B, %s, prefetch %u, "
		       "confirm %u, %s%s\n",
		       o->publishers, o->scenario == PERF_BACKLOG ? 1 : o->consumers, o->queues,
		       o->size, o->ack_every ? "manual ack" : "no-ack", o->prefetch, o->confirm,
		       o->persistent ? "persistent" : "transient",
		       o->rate > 0 ? ", rate-limited" : "");
	if (r->window_secs > 0) {
		printf("  %-18s %.2f s while publishers and consumers both ran\n", "window",
		       r->window_secs);
		printf("  %-18s %llu msgs in the window = %.0f msgs/s\n", "published",
		       (unsigned long long)r->window_published,
		       perf_rate(r->window_published, r->window_secs));
		printf("  %-18s %llu msgs in the window = %.0f msgs/s\n", "consumed",
		       (unsigned long long)r->window_consumed,
		       perf_rate(r->window_consumed, r->window_secs));
		if (r->queue_depth >= 0)
			printf("  %-18s %lld ready messages at the end of the window\n",
			       "queue depth", (long long)r->queue_depth);
		if (r->consumed)
			printf("  %-18s %llu msgs by %.2f s = %.0f msgs/s, with the drain after "
			       "publishing stopped\n",
			       "consumed in all", (unsigned long long)r->consumed, r->consume_secs,
			       perf_rate(r->consumed, r->consume_secs));
	} else {
		if (r->published)
			printf("  %-18s %llu msgs in %.2f s = %.0f msgs/s\n", "published",
			       (unsigned long long)r->published, r->publish_secs,
			       perf_rate(r->published, r->publish_secs));
		if (r->consumed)
			printf("  %-18s %llu msgs in %.2f s = %.0f msgs/s\n", "consumed",
			       (unsigned long long)r->consumed, r->consume_secs,
			       perf_rate(r->consumed, r->consume_secs));
	}
	if (o->confirm)
		printf("  %-18s %llu acked, %llu nacked\n", "confirmed",
		       (unsigned long long)r->confirmed, (unsigned long long)r->nacked);
	perf_print_hist("latency", &r->latency);
	perf_print_hist("confirm latency", &r->confirm_latency);
	for (int i = 0; i < r->op_count; i++)
		printf("  %-18s %llu in %.3f s = %.0f/s\n", r->ops[i].name,
		       (unsigned long long)r->ops[i].count, r->ops[i].secs,
		       perf_rate(r->ops[i].count, r->ops[i].secs));
	if (r->rss_before_kb > 0 && r->rss_after_kb > 0)
		printf("  %-18s %ld kB -> %ld kB, %.0f B per %s\n", "broker RSS", r->rss_before_kb,
		       r->rss_after_kb, r->per_item_bytes,
		       o->scenario == PERF_CONNECTIONS ? "connection" : "message");
	double wall = r->wall_secs > 0 ? r->wall_secs : 0;
	printf("  %-18s warren-perf %.2f s", "cpu", r->perf_cpu);
	if (wall > 0)
		printf(" (%.0f%% of a core)", 100.0 * r->perf_cpu / wall);
	if (r->broker_cpu >= 0 && o->broker_pid > 0) {
		printf(", broker %.2f s", r->broker_cpu);
		if (wall > 0)
			printf(" (%.0f%% of a core)", 100.0 * r->broker_cpu / wall);
	}
	putchar('\n');
}

static void perf_json_hist(const char *key, const struct perf_hist *h)
{
	if (h->count == 0)
		return;
	printf(",\"%s\":{\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
	       "\"samples\":%llu}",
	       key, perf_us(perf_hist_quantile(h, 0.5)), perf_us(perf_hist_quantile(h, 0.99)),
	       perf_us(perf_hist_quantile(h, 0.999)), perf_us(h->max),
	       (unsigned long long)h->count);
}

/* publish_rate and consume_rate are the window's (PerfTest's figures) when there is a window;
 * consume_rate_with_drain also counts what arrived after publishing stopped. */
static void perf_print_json(const struct perf_opts *o, const struct perf_result *r)
{
	bool win = r->window_secs > 0;

	printf("{\"scenario\":\"%s\",\"publishers\":%d,\"consumers\":%d,\"queues\":%d,"
	       "\"size\":%zu,\"ack_every\":%u,\"prefetch\":%u,\"confirm\":%u,\"persistent\":%s,"
	       "\"rate\":%.0f,\"published\":%llu,\"publish_rate\":%.1f,\"consumed\":%llu,"
	       "\"consume_rate\":%.1f,\"confirmed\":%llu,\"nacked\":%llu",
	       perf_scenario_name(o->scenario), o->publishers, o->consumers, o->queues, o->size,
	       o->ack_every, o->prefetch, o->confirm, o->persistent ? "true" : "false", o->rate,
	       (unsigned long long)r->published,
	       win ? perf_rate(r->window_published, r->window_secs) :
		     perf_rate(r->published, r->publish_secs),
	       (unsigned long long)r->consumed,
	       win ? perf_rate(r->window_consumed, r->window_secs) :
		     perf_rate(r->consumed, r->consume_secs),
	       (unsigned long long)r->confirmed, (unsigned long long)r->nacked);
	if (win) {
		printf(",\"window_s\":%.3f,\"published_in_window\":%llu,"
		       "\"consumed_in_window\":%llu,\"consume_rate_with_drain\":%.1f",
		       r->window_secs, (unsigned long long)r->window_published,
		       (unsigned long long)r->window_consumed,
		       perf_rate(r->consumed, r->consume_secs));
		if (r->queue_depth >= 0)
			printf(",\"queue_depth\":%lld", (long long)r->queue_depth);
	}
	perf_json_hist("latency", &r->latency);
	perf_json_hist("confirm_latency", &r->confirm_latency);
	if (r->op_count > 0) {
		printf(",\"ops\":{");
		for (int i = 0; i < r->op_count; i++)
			printf("%s\"%s\":%.1f", i ? "," : "", r->ops[i].name,
			       perf_rate(r->ops[i].count, r->ops[i].secs));
		printf("}");
	}
	if (r->drain_rate > 0)
		printf(",\"drain_rate\":%.1f", r->drain_rate);
	if (r->rss_before_kb > 0 && r->rss_after_kb > 0)
		printf(",\"broker_rss_before_kb\":%ld,\"broker_rss_after_kb\":%ld,"
		       "\"broker_bytes_per_item\":%.0f",
		       r->rss_before_kb, r->rss_after_kb, r->per_item_bytes);
	printf(",\"perf_cpu_s\":%.3f,\"wall_s\":%.3f", r->perf_cpu, r->wall_secs);
	if (r->broker_cpu >= 0 && o->broker_pid > 0)
		printf(",\"broker_cpu_s\":%.3f", r->broker_cpu);
	printf("}\n");
}

int main(int argc, char **argv)
{
	struct perf_flags fl = { .uri = "amqp://guest:guest@127.0.0.1:5672/", .publishers = -1,
				 .consumers = -1, .queues = -1, .size = -1, .count = -1,
				 .prefetch = -1, .ack_every = -1, .confirm = -1, .connections = -1,
				 .heartbeat = -1, .broker_pid = -1, .duration = -1, .rate = -1 };
	struct perf_opts o = { .scenario = PERF_THROUGHPUT };
	struct perf_result *r = NULL;
	char err[600];
	int opt, rc = 2;

	while ((opt = getopt_long(argc, argv, "", perf_options, NULL)) != -1) {
		uint64_t v = 0;
		int64_t *slot = NULL;
		switch (opt) {
		case OPT_URI:
			fl.uri = optarg;
			continue;
		case OPT_SCENARIO:
			if (perf_scenario_parse(optarg, &o.scenario) != 0) {
				fprintf(stderr, "warren-perf: unknown scenario '%s'\n", optarg);
				goto out;
			}
			continue;
		case OPT_DURATION:
		case OPT_RATE:
			if (perf_parse_double(optarg, opt == OPT_RATE ? &fl.rate : &fl.duration)) {
				fprintf(stderr, "warren-perf: bad number '%s'\n", optarg);
				goto out;
			}
			continue;
		case OPT_PERSISTENT:
			fl.persistent = true;
			continue;
		case OPT_KEEP:
			fl.keep = true;
			continue;
		case OPT_JSON:
			fl.json = true;
			continue;
		case OPT_HELP:
			perf_usage(stdout);
			rc = 0;
			goto out;
		case OPT_PUBLISHERS: slot = &fl.publishers; break;
		case OPT_CONSUMERS: slot = &fl.consumers; break;
		case OPT_QUEUES: slot = &fl.queues; break;
		case OPT_SIZE: slot = &fl.size; break;
		case OPT_COUNT: slot = &fl.count; break;
		case OPT_PREFETCH: slot = &fl.prefetch; break;
		case OPT_ACK_EVERY: slot = &fl.ack_every; break;
		case OPT_CONFIRM: slot = &fl.confirm; break;
		case OPT_CONNECTIONS: slot = &fl.connections; break;
		case OPT_HEARTBEAT: slot = &fl.heartbeat; break;
		case OPT_BROKER_PID: slot = &fl.broker_pid; break;
		default:
			perf_usage(stderr);
			goto out;
		}
		if (perf_parse_u64(optarg, &v) != 0 || v > INT32_MAX) {
			fprintf(stderr, "warren-perf: bad number '%s'\n", optarg);
			goto out;
		}
		*slot = (int64_t)v;
	}
	if (optind < argc) {
		fprintf(stderr, "warren-perf: unexpected argument '%s'\n", argv[optind]);
		goto out;
	}
	if (perf_opts_defaults(&o, &fl, err, sizeof err) != 0) {
		fprintf(stderr, "warren-perf: %s\n", err);
		goto out;
	}
	perf_raise_nofile();
	perf_arm_watchdog(&o);
	r = malloc(sizeof *r);
	if (!r) {
		fprintf(stderr, "warren-perf: out of memory\n");
		rc = 1;
		goto out;
	}
	if (perf_scenario_run(&o, r, err, sizeof err) != 0) {
		fprintf(stderr, "warren-perf: %s\n", err);
		rc = 1;
		goto out;
	}
	if (o.json)
		perf_print_json(&o, r);
	else
		perf_print_table(&o, r);
	fflush(stdout);
	rc = 0;
out:
	free(r);
	return rc;
}
