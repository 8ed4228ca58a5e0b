/* tests/bench/perf_scenario.c: the scenarios. Each publisher (perf_publisher.c) and each
 * consumer (perf_consumer.c) is one thread with its own connection; this file's main thread
 * declares and deletes the queues, starts the clock, samples CPU and RSS, and decides when the
 * consumers have drained. Every wait is bounded by a deadline. */
#include "perf.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define PERF_DRAIN_IDLE_NS (3ull * 1000000000u)

static const char *const perf_scenario_names[] = {
	[PERF_THROUGHPUT] = "throughput", [PERF_CONFIRM] = "confirm",
	[PERF_LATENCY] = "latency",       [PERF_FANOUT] = "fanout",
	[PERF_CONNECTIONS] = "connections", [PERF_BACKLOG] = "backlog",
	[PERF_BINDINGS] = "bindings", [PERF_STREAM] = "stream",
};

const char *perf_scenario_name(enum perf_scenario_kind k)
{
	return perf_scenario_names[k];
}

int perf_scenario_parse(const char *name, enum perf_scenario_kind *k)
{
	for (size_t i = 0; i < sizeof perf_scenario_names / sizeof *perf_scenario_names; i++) {
		if (strcmp(name, perf_scenario_names[i]) == 0) {
			*k = (enum perf_scenario_kind)i;
			return 0;
		}
	}
	return -1;
}

long perf_proc_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

double perf_proc_cpu_secs(pid_t pid)
{
	char path[64], buf[2048];
	unsigned long utime = 0, stime = 0;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may hold spaces: fields restart after its closing parenthesis */
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
			  &stime) != 2)
		return -1;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double perf_self_cpu_secs(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void perf_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

void perf_run_fail(struct perf_run *run, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&run->lock);
	if (!atomic_load(&run->failed)) {
		va_start(ap, fmt);
		vsnprintf(run->error, sizeof run->error, fmt, ap);
		va_end(ap);
		atomic_store(&run->failed, true);
	}
	pthread_mutex_unlock(&run->lock);
	atomic_store(&run->stop_publish, true);
	atomic_store(&run->stop_consume, true);
}
/* ---- setup and cleanup ---- */

/* x-queue-type = stream, as table bytes */
static const uint8_t perf_stream_args[] = "\x0cx-queue-type" "S\0\0\0\x06stream";

static int perf_setup_queue(struct perf_conn *c, const char *name, bool durable, bool stream)
{
	struct amqp_method m = { .id = AMQP_QUEUE_DECLARE }, reply;

	m.u.queue_declare.queue = amqp_str_c(name);
	m.u.queue_declare.durable = durable || stream;
	if (stream)
		m.u.queue_declare.arguments =
			(struct amqp_table){ perf_stream_args, sizeof perf_stream_args - 1 };
	return perf_conn_rpc(c, &m, AMQP_QUEUE_DECLARE_OK, &reply, PERF_RPC_MS);
}

static int perf_setup_bind(struct perf_conn *c, const char *queue, const char *exchange,
			   const char *key)
{
	struct amqp_method m = { .id = AMQP_QUEUE_BIND }, reply;

	m.u.queue_bind.queue = amqp_str_c(queue);
	m.u.queue_bind.exchange = amqp_str_c(exchange);
	m.u.queue_bind.routing_key = amqp_str_c(key);
	return perf_conn_rpc(c, &m, AMQP_QUEUE_BIND_OK, &reply, PERF_RPC_MS);
}

static int perf_setup_exchange(struct perf_conn *c, const char *name, const char *type)
{
	struct amqp_method m = { .id = AMQP_EXCHANGE_DECLARE }, reply;

	m.u.exchange_declare.exchange = amqp_str_c(name);
	m.u.exchange_declare.type = amqp_str_c(type);
	return perf_conn_rpc(c, &m, AMQP_EXCHANGE_DECLARE_OK, &reply, PERF_RPC_MS);
}

static int perf_setup_delete_queue(struct perf_conn *c, const char *name)
{
	struct amqp_method m = { .id = AMQP_QUEUE_DELETE }, reply;

	m.u.queue_delete.queue = amqp_str_c(name);
	return perf_conn_rpc(c, &m, AMQP_QUEUE_DELETE_OK, &reply, PERF_RPC_MS);
}

/* Deletes queue names prefix + "q0" .. "q<n-1>" and the exchange, on a fresh connection (the
 * setup one may have been closed by the error being reported). Best effort. */
static void perf_cleanup(struct perf_run *run, const char *tag, int n)
{
	struct perf_conn c;
	char name[128];

	if (perf_conn_open(&c, &run->o->uri, 1u << 16, PERF_RPC_MS) != 0) {
		perf_conn_close(&c);
		return;
	}
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "%s%s%d", run->prefix, tag, i);
		if (perf_setup_delete_queue(&c, name) != 0)
			break;
	}
	if (run->exchange[0]) {
		struct amqp_method m = { .id = AMQP_EXCHANGE_DELETE }, reply;
		m.u.exchange_delete.exchange = amqp_str_c(run->exchange);
		perf_conn_rpc(&c, &m, AMQP_EXCHANGE_DELETE_OK, &reply, PERF_RPC_MS);
	}
	perf_conn_close(&c);
}

static int perf_start(struct perf_worker *w, void *(*fn)(void *))
{
	if (pthread_create(&w->thread, NULL, fn, w) != 0)
		return -1;
	w->started = true;
	return 0;
}

static void perf_join(struct perf_worker *ws, int n)
{
	for (int i = 0; i < n; i++)
		if (ws[i].started)
			pthread_join(ws[i].thread, NULL);
}

static uint64_t perf_sum_done(struct perf_worker *ws, int n)
{
	uint64_t sum = 0;

	for (int i = 0; i < n; i++)
		sum += atomic_load(&ws[i].done);
	return sum;
}

static uint64_t perf_max_last(struct perf_worker *ws, int n)
{
	uint64_t last = 0;

	for (int i = 0; i < n; i++)
		if (atomic_load(&ws[i].last_ns) > last)
			last = atomic_load(&ws[i].last_ns);
	return last;
}

/* Joins the workers that have finished; true when none is left running. */
static bool perf_join_finished(struct perf_worker *ws, int n)
{
	for (int i = 0; i < n; i++) {
		if (!ws[i].started)
			continue;
		if (pthread_tryjoin_np(ws[i].thread, NULL) == 0)
			ws[i].started = false;
		else
			return false;
	}
	return true;
}

/* Waits until every consumer has `expected` messages in total, or none came for 3 s, or the
 * deadline passed. */
static void perf_drain(struct perf_run *run, struct perf_worker *cons, int n, uint64_t expected,
		       uint64_t deadline)
{
	uint64_t seen = perf_sum_done(cons, n), seen_at = perf_now_ns();

	while (!atomic_load(&run->failed)) {
		uint64_t now = perf_now_ns(), got = perf_sum_done(cons, n);
		if (got >= expected || now >= deadline)
			break;
		if (got != seen) {
			seen = got;
			seen_at = now;
		} else if (now - seen_at > PERF_DRAIN_IDLE_NS) {
			break;
		}
		perf_sleep_ms(5);
	}
}

static void perf_cpu_begin(const struct perf_opts *o, double *self, double *broker)
{
	*self = perf_self_cpu_secs();
	*broker = perf_proc_cpu_secs(o->broker_pid);
}

static void perf_cpu_end(const struct perf_opts *o, struct perf_result *r, double self,
			 double broker)
{
	r->perf_cpu = perf_self_cpu_secs() - self;
	double b = perf_proc_cpu_secs(o->broker_pid);
	r->broker_cpu = (b >= 0 && broker >= 0) ? b - broker : -1;
}

/* ---- throughput, confirm, latency, fanout ---- */

static int perf_queue_depth(struct perf_conn *c, const char *queue, uint64_t *depth);

/* The ready messages left in the run's queues, summed; -1 when a query failed. */
static int64_t perf_flow_depth(struct perf_run *run, struct perf_conn *c, int nq)
{
	char name[128];
	int64_t sum = 0;

	for (int i = 0; i < nq; i++) {
		uint64_t d;
		snprintf(name, sizeof name, "%sq%d", run->prefix, i);
		if (perf_queue_depth(c, name, &d) != 0)
			return -1;
		sum += (int64_t)d;
	}
	return sum;
}

/* The end of the measured window: what was published and consumed by now, and the queues'
 * depth (asked right after, on the setup connection). */
static void perf_flow_window_end(struct perf_run *run, struct perf_result *r,
				 struct perf_conn *setup, struct perf_worker *pubs, int np,
				 struct perf_worker *cons, int nc, int nq)
{
	uint64_t now = perf_now_ns();

	atomic_store(&run->window_end_ns, now);
	r->window_consumed = perf_sum_done(cons, nc);
	r->window_published = perf_sum_done(pubs, np);
	r->window_secs = (double)(now - run->start_ns) / 1e9;
	r->queue_depth = perf_flow_depth(run, setup, nq);
}

static int perf_run_flow(struct perf_run *run, struct perf_result *r)
{
	const struct perf_opts *o = run->o;
	int np = o->publishers, nc = o->consumers, nq = o->queues;
	bool fanout = o->scenario == PERF_FANOUT;
	struct perf_worker *pubs = calloc((size_t)np + 1, sizeof *pubs);
	struct perf_worker *cons = calloc((size_t)nc + 1, sizeof *cons);
	bool *has_consumer = calloc((size_t)nq, sizeof *has_consumer);
	struct perf_conn setup = { .fd = -1 };
	double cpu_self = 0, cpu_broker = 0;
	uint64_t expected = 0, pub_end = 0;
	bool window_done = false;
	char name[128];
	int rc = -1;

	if (!pubs || !cons || !has_consumer) {
		perf_run_fail(run, "out of memory");
		goto out;
	}
	if (perf_conn_open(&setup, &o->uri, 1u << 16, PERF_RPC_MS) != 0) {
		perf_run_fail(run, "%s", setup.error);
		goto out;
	}
	if (fanout) {
		snprintf(run->exchange, sizeof run->exchange, "%sfanout", run->prefix);
		if (perf_setup_exchange(&setup, run->exchange, "fanout") != 0) {
			run->exchange[0] = '\0';
			perf_run_fail(run, "%s", setup.error);
			goto cleanup;
		}
	}
	for (int i = 0; i < nq; i++) {
		snprintf(name, sizeof name, "%sq%d", run->prefix, i);
		bool stream = o->scenario == PERF_STREAM;
		if (perf_setup_queue(&setup, name, o->persistent, stream) != 0 ||
		    (fanout && perf_setup_bind(&setup, name, run->exchange, "") != 0)) {
			perf_run_fail(run, "%s", setup.error);
			goto cleanup;
		}
	}
	/* setup stays open: it asks for the queues' depth at the end of the window */

	atomic_store(&run->window_end_ns, UINT64_MAX);
	for (int i = 0; i < nc; i++) {
		cons[i].run = run;
		snprintf(cons[i].queue, sizeof cons[i].queue, "%sq%d", run->prefix, i % nq);
		has_consumer[i % nq] = true;
		if (perf_start(&cons[i], perf_consumer_main) != 0) {
			perf_run_fail(run, "cannot start a consumer thread");
			goto stop;
		}
	}
	for (uint64_t t0 = perf_now_ns(); atomic_load(&run->consumers_ready) < nc;) {
		if (atomic_load(&run->failed))
			goto stop;
		if (perf_now_ns() - t0 > 20ull * 1000000000u) {
			perf_run_fail(run, "consumers did not start within 20 s");
			goto stop;
		}
		perf_sleep_ms(2);
	}

	perf_cpu_begin(o, &cpu_self, &cpu_broker);
	run->start_ns = perf_now_ns();
	run->end_ns = run->start_ns + (uint64_t)(o->duration * 1e9);
	for (int i = 0; i < np; i++) {
		pubs[i].run = run;
		pubs[i].count = o->count;
		snprintf(pubs[i].queue, sizeof pubs[i].queue, "%sq%d", run->prefix, i % nq);
		if (perf_start(&pubs[i], perf_publisher_main) != 0) {
			perf_run_fail(run, "cannot start a publisher thread");
			goto stop;
		}
	}
	/* publishers stop themselves; bound the wait anyway */
	uint64_t pub_deadline = run->start_ns + (uint64_t)((o->duration + 60) * 1e9);
	if (o->count)
		pub_deadline = run->start_ns + 600ull * 1000000000u;
	for (;;) {
		uint64_t now = perf_now_ns();
		/* --duration: the window ends when the publishers are told to stop */
		if (!window_done && !o->count && now >= run->end_ns) {
			perf_flow_window_end(run, r, &setup, pubs, np, cons, nc, nq);
			window_done = true;
		}
		if (perf_join_finished(pubs, np))
			break;
		if (now > pub_deadline) {
			perf_run_fail(run, "publishers did not finish in time");
			break;
		}
		uint64_t nap = 5000000u;
		if (!window_done && !o->count && run->end_ns > now && run->end_ns - now < nap)
			nap = run->end_ns - now;
		struct timespec ts = { 0, (long)nap };
		nanosleep(&ts, NULL);
	}
	atomic_store(&run->stop_publish, true);
	/* --count: the window ends when the last publisher has handed over its last message */
	if (!window_done && !atomic_load(&run->failed)) {
		perf_flow_window_end(run, r, &setup, pubs, np, cons, nc, nq);
		window_done = true;
	}

	for (int i = 0; i < np; i++) {
		uint64_t n = atomic_load(&pubs[i].done);
		if (fanout) {
			for (int q = 0; q < nq; q++)
				expected += has_consumer[q] ? n : 0;
		} else if (o->scenario == PERF_STREAM) {
			/* every consumer of a stream reads all of it */
			for (int j = 0; j < nc; j++)
				expected += j % nq == i % nq ? n : 0;
		} else {
			expected += has_consumer[i % nq] ? n : 0;
		}
	}
	pub_end = perf_max_last(pubs, np);
	double drain_secs = o->duration > 30 ? o->duration : 30;
	if (nc > 0)
		perf_drain(run, cons, nc, expected, perf_now_ns() + (uint64_t)(drain_secs * 1e9));
	perf_cpu_end(o, r, cpu_self, cpu_broker);
	r->wall_secs = (double)(perf_now_ns() - run->start_ns) / 1e9;
stop:
	atomic_store(&run->stop_publish, true);
	atomic_store(&run->stop_consume, true);
	perf_join(pubs, np);
	perf_join(cons, nc);

	r->published = perf_sum_done(pubs, np);
	r->consumed = perf_sum_done(cons, nc);
	r->publish_secs = run->start_ns && pub_end > run->start_ns ?
				  (double)(pub_end - run->start_ns) / 1e9 : 0;
	uint64_t cons_end = perf_max_last(cons, nc);
	r->consume_secs = cons_end > run->start_ns ? (double)(cons_end - run->start_ns) / 1e9 : 0;
	for (int i = 0; i < np; i++) {
		r->confirmed += pubs[i].confirmed;
		r->nacked += pubs[i].nacked;
		r->returned += pubs[i].returned;
		perf_hist_merge(&r->confirm_latency, &pubs[i].hist);
	}
	for (int i = 0; i < nc; i++)
		perf_hist_merge(&r->latency, &cons[i].hist);
	rc = atomic_load(&run->failed) ? -1 : 0;
	if (rc == 0 && nc > 0 && r->consumed < expected)
		fprintf(stderr, "warren-perf: warning: consumed %llu of %llu expected messages\n",
			(unsigned long long)r->consumed, (unsigned long long)expected);
cleanup:
	perf_conn_close(&setup);
	if (!(o->keep && o->scenario == PERF_STREAM)) /* a kept stream is replayed later */
		perf_cleanup(run, "q", nq);
out:
	free(pubs);
	free(cons);
	free(has_consumer);
	return atomic_load(&run->failed) ? -1 : rc;
}

/* ---- connections ---- */

/* The connections scenario's held phase (--duration): the C connections stay open for the
 * duration, each publishing --rate messages a second (spread evenly over the connections, one
 * write per message) to a queue one no-ack consumer drains, and, with --heartbeat, sending a
 * heartbeat frame every half interval in which it sent nothing. The broker's CPU is taken
 * over this phase alone. Messages and heartbeats are scheduled in one round-robin sequence
 * each, so the loop costs O(1) per write whatever C is. At the end every connection must still
 * be open (a broker that dropped one for missed heartbeats fails the run). */
static int perf_connections_hold(struct perf_run *run, struct perf_result *r,
				 struct perf_conn *cs, int n)
{
	const struct perf_opts *o = run->o;
	struct perf_worker con = { 0 };
	struct perf_template t = { 0 };
	uint64_t *sent_ns = calloc((size_t)n, sizeof *sent_ns);
	uint8_t *msg = NULL;
	double cpu_self, cpu_broker;
	int rc = -1;

	if (!sent_ns) {
		perf_run_fail(run, "out of memory");
		goto out;
	}
	if (o->rate > 0) {
		snprintf(con.queue, sizeof con.queue, "%sq0", run->prefix);
		if (perf_setup_queue(&cs[0], con.queue, false, false) != 0) {
			perf_run_fail(run, "%s", cs[0].error);
			goto out;
		}
		if (perf_template_build(&t, o, "", con.queue, cs[0].frame_max) != 0 ||
		    !(msg = malloc(t.len))) {
			perf_run_fail(run, "cannot build the message template");
			goto out;
		}
		memcpy(msg, t.bytes, t.len);
		con.run = run;
		atomic_store(&run->window_end_ns, UINT64_MAX);
		if (perf_start(&con, perf_consumer_main) != 0) {
			perf_run_fail(run, "cannot start the consumer thread");
			goto out;
		}
		while (atomic_load(&run->consumers_ready) < 1 && !atomic_load(&run->failed))
			perf_sleep_ms(2);
	}
	perf_cpu_begin(o, &cpu_self, &cpu_broker);
	uint64_t t0 = perf_now_ns(), end = t0 + (uint64_t)(o->duration * 1e9);
	run->start_ns = t0;
	for (int i = 0; i < n; i++)
		sent_ns[i] = t0;
	/* message m goes at t0 + m * gap from connection m mod n; heartbeat checks likewise */
	double gap = o->rate > 0 ? 1e9 / (o->rate * n) : 0;
	double hb_gap = o->uri.heartbeat ? o->uri.heartbeat * 0.5e9 / n : 0;
	uint64_t m = 0, h = 0, published = 0, failed_writes = 0;
	for (uint64_t now = t0; now < end && !atomic_load(&run->failed); now = perf_now_ns()) {
		for (; gap > 0 && t0 + (uint64_t)(m * gap) <= now; m++) {
			struct perf_conn *c = &cs[m % (uint64_t)n];
			perf_template_stamp(msg, &t, o->size, now, m);
			if (write(c->fd, msg, t.len) == (ssize_t)t.len) {
				published++;
				sent_ns[m % (uint64_t)n] = now;
			} else {
				failed_writes++;
			}
		}
		for (; hb_gap > 0 && t0 + (uint64_t)(h * hb_gap) <= now; h++) {
			int i = (int)(h % (uint64_t)n);
			if (now - sent_ns[i] < (uint64_t)(o->uri.heartbeat * 0.5e9))
				continue;
			if (write(cs[i].fd, amqp_heartbeat_frame, sizeof amqp_heartbeat_frame) > 0)
				sent_ns[i] = now;
		}
		perf_sleep_ms(1);
	}
	uint64_t held = perf_now_ns() - t0;
	perf_cpu_end(o, r, cpu_self, cpu_broker);
	r->published = published;
	r->publish_secs = (double)held / 1e9;
	r->wall_secs = (double)held / 1e9;
	if (o->rate > 0) {
		r->window_secs = (double)held / 1e9;
		r->window_published = published;
		atomic_store(&run->window_end_ns, perf_now_ns());
		r->window_consumed = atomic_load(&con.done);
		for (uint64_t w = perf_now_ns() + 3000000000ull;
		     atomic_load(&con.done) < published && perf_now_ns() < w;)
			perf_sleep_ms(5);
	}
	if (failed_writes)
		fprintf(stderr, "warren-perf: warning: %llu publishes did not fit the socket\n",
			(unsigned long long)failed_writes);
	/* every connection must have survived the held phase (heartbeats, idle timeouts): read
	 * what each has received, to EAGAIN, and look for a close or the end of the stream */
	for (int i = 0; i < n; i++) {
		struct amqp_frame f;
		ssize_t got;
		int frame = 0;
		while ((got = perf_conn_read_some(&cs[i])) > 0) {
			while ((frame = perf_conn_next_frame(&cs[i], &f)) == 1)
				;
			if (frame < 0)
				break;
		}
		if (got < 0 || frame < 0) {
			perf_run_fail(run, "connection %d of %d did not last: %s", i + 1, n,
				      cs[i].error);
			goto out;
		}
	}
	rc = 0;
out:
	if (con.started) {
		atomic_store(&run->stop_consume, true);
		perf_join(&con, 1);
		r->consumed = atomic_load(&con.done);
		uint64_t last = atomic_load(&con.last_ns);
		r->consume_secs = last > run->start_ns ? (double)(last - run->start_ns) / 1e9 : 0;
		perf_hist_merge(&r->latency, &con.hist);
	}
	if (con.queue[0] && cs[0].fd >= 0 && rc == 0)
		perf_setup_delete_queue(&cs[0], con.queue);
	free(sent_ns);
	free(msg);
	free(t.bytes);
	return rc;
}

static int perf_run_connections(struct perf_run *run, struct perf_result *r)
{
	const struct perf_opts *o = run->o;
	int n = o->connections;
	struct perf_conn *cs = calloc((size_t)n, sizeof *cs);
	double cpu_self, cpu_broker;
	int opened = 0, rc = -1;

	if (!cs) {
		perf_run_fail(run, "out of memory");
		goto out;
	}
	perf_cpu_begin(o, &cpu_self, &cpu_broker);
	r->rss_before_kb = perf_proc_rss_kb(o->broker_pid);
	uint64_t t0 = perf_now_ns();
	for (; opened < n; opened++) {
		/* small buffers: thousands of idle connections should not cost warren-perf much */
		if (perf_conn_open(&cs[opened], &o->uri, 4096, PERF_RPC_MS) != 0) {
			perf_run_fail(run, "connection %d: %s", opened + 1, cs[opened].error);
			perf_conn_close(&cs[opened]);
			goto close;
		}
		/* idle connections do not need a 256 KiB input buffer */
		uint8_t *small = realloc(cs[opened].in, 16384);
		if (small) {
			cs[opened].in = small;
			cs[opened].in_cap = 16384;
		}
	}
	r->ops[r->op_count++] = (struct perf_op){ "connections opened", (uint64_t)n,
						  (double)(perf_now_ns() - t0) / 1e9 };
	/* let the broker settle (RabbitMQ starts per-connection processes lazily) */
	for (int i = 0; i < 10; i++)
		perf_sleep_ms(100);
	r->rss_after_kb = perf_proc_rss_kb(o->broker_pid);
	if (r->rss_before_kb >= 0 && r->rss_after_kb >= 0)
		r->per_item_bytes = (double)(r->rss_after_kb - r->rss_before_kb) * 1024.0 / n;
	if (o->duration > 0 && perf_connections_hold(run, r, cs, n) != 0)
		goto close;
	rc = 0;
close:
	t0 = perf_now_ns();
	for (int i = 0; i < opened; i++)
		perf_conn_close(&cs[i]);
	if (rc == 0)
		r->ops[r->op_count++] = (struct perf_op){ "connections closed", (uint64_t)n,
							  (double)(perf_now_ns() - t0) / 1e9 };
	if (o->duration <= 0) /* the whole run; with a held phase, that phase alone */
		perf_cpu_end(o, r, cpu_self, cpu_broker);
out:
	free(cs);
	return rc;
}

/* ---- backlog ---- */

static int perf_queue_depth(struct perf_conn *c, const char *queue, uint64_t *depth)
{
	struct amqp_method m = { .id = AMQP_QUEUE_DECLARE }, reply;

	m.u.queue_declare.queue = amqp_str_c(queue);
	m.u.queue_declare.passive = true;
	if (perf_conn_rpc(c, &m, AMQP_QUEUE_DECLARE_OK, &reply, PERF_RPC_MS) != 0)
		return -1;
	*depth = reply.u.queue_declare_ok.message_count;
	return 0;
}

static int perf_run_backlog(struct perf_run *run, struct perf_result *r)
{
	const struct perf_opts *o = run->o;
	struct perf_worker pub = { 0 }, con = { 0 };
	struct perf_conn setup = { .fd = -1 };
	double cpu_self, cpu_broker;
	uint64_t depth = 0, n = o->count ? o->count : 100000;
	int rc = -1;

	if (perf_conn_open(&setup, &o->uri, 1u << 16, PERF_RPC_MS) != 0) {
		perf_run_fail(run, "%s", setup.error);
		goto out;
	}
	snprintf(pub.queue, sizeof pub.queue, "%sq0", run->prefix);
	if (perf_setup_queue(&setup, pub.queue, o->persistent, false) != 0) {
		perf_run_fail(run, "%s", setup.error);
		goto out;
	}
	perf_cpu_begin(o, &cpu_self, &cpu_broker);
	r->rss_before_kb = perf_proc_rss_kb(o->broker_pid);
	pub.run = run;
	pub.count = n;
	run->start_ns = perf_now_ns();
	run->end_ns = UINT64_MAX;
	perf_publisher_main(&pub);
	if (atomic_load(&run->failed))
		goto out;
	r->published = atomic_load(&pub.done);
	r->publish_secs = (double)(atomic_load(&pub.last_ns) - run->start_ns) / 1e9;
	r->confirmed = pub.confirmed;
	perf_hist_merge(&r->confirm_latency, &pub.hist);
	/* the broker has them all once the queue says so */
	for (uint64_t t0 = perf_now_ns(); perf_now_ns() - t0 < 60ull * 1000000000u;) {
		if (perf_queue_depth(&setup, pub.queue, &depth) != 0) {
			perf_run_fail(run, "%s", setup.error);
			goto out;
		}
		if (depth >= n)
			break;
		perf_sleep_ms(50);
	}
	r->ops[r->op_count++] = (struct perf_op){ "messages queued", depth, r->publish_secs };
	perf_sleep_ms(1000);
	r->rss_after_kb = perf_proc_rss_kb(o->broker_pid);
	if (r->rss_before_kb >= 0 && r->rss_after_kb >= 0 && depth > 0)
		r->per_item_bytes =
			(double)(r->rss_after_kb - r->rss_before_kb) * 1024.0 / (double)depth;

	if (o->keep) {
		perf_cpu_end(o, r, cpu_self, cpu_broker);
		perf_conn_close(&setup);
		return 0;
	}
	con.run = run;
	memcpy(con.queue, pub.queue, sizeof con.queue);
	uint64_t t0 = perf_now_ns();
	run->start_ns = t0;
	if (perf_start(&con, perf_consumer_main) != 0) {
		perf_run_fail(run, "cannot start the consumer thread");
		goto out;
	}
	perf_drain(run, &con, 1, depth, t0 + 120ull * 1000000000u);
	atomic_store(&run->stop_consume, true);
	perf_join(&con, 1);
	r->consumed = atomic_load(&con.done);
	uint64_t last = atomic_load(&con.last_ns);
	r->consume_secs = last > t0 ? (double)(last - t0) / 1e9 : 0;
	/* end-to-end latency here would only measure how long the backlog waited */
	r->drain_rate = r->consume_secs > 0 ? (double)r->consumed / r->consume_secs : 0;
	r->ops[r->op_count++] = (struct perf_op){ "messages drained", r->consumed,
						  r->consume_secs };
	perf_cpu_end(o, r, cpu_self, cpu_broker);
	rc = 0;
out:
	perf_conn_close(&setup);
	perf_cleanup(run, "q", 1);
	return atomic_load(&run->failed) ? -1 : rc;
}

/* ---- bindings ---- */

static int perf_run_bindings(struct perf_run *run, struct perf_result *r)
{
	const struct perf_opts *o = run->o;
	struct perf_conn c = { .fd = -1 };
	double cpu_self, cpu_broker;
	int nq = o->queues, declared = 0, rc = -1;
	uint64_t nb = o->count ? o->count : (uint64_t)nq * 10;
	char name[128], key[64];

	if (perf_conn_open(&c, &o->uri, 1u << 16, PERF_RPC_MS) != 0)
		goto fail;
	snprintf(run->exchange, sizeof run->exchange, "%sdirect", run->prefix);
	if (perf_setup_exchange(&c, run->exchange, "direct") != 0) {
		run->exchange[0] = '\0';
		goto fail;
	}
	perf_cpu_begin(o, &cpu_self, &cpu_broker);
	uint64_t t0 = perf_now_ns();
	for (; declared < nq; declared++) {
		snprintf(name, sizeof name, "%sb%d", run->prefix, declared);
		if (perf_setup_queue(&c, name, o->persistent, false) != 0)
			goto fail;
	}
	uint64_t t1 = perf_now_ns();
	for (uint64_t i = 0; i < nb; i++) {
		snprintf(name, sizeof name, "%sb%d", run->prefix, (int)(i % (uint64_t)nq));
		snprintf(key, sizeof key, "key-%llu", (unsigned long long)i);
		if (perf_setup_bind(&c, name, run->exchange, key) != 0)
			goto fail;
	}
	uint64_t t2 = perf_now_ns();
	for (int i = 0; i < nq; i++) {
		snprintf(name, sizeof name, "%sb%d", run->prefix, i);
		if (perf_setup_delete_queue(&c, name) != 0)
			goto fail;
	}
	uint64_t t3 = perf_now_ns();
	declared = 0;
	perf_cpu_end(o, r, cpu_self, cpu_broker);
	r->ops[r->op_count++] = (struct perf_op){ "queues declared", (uint64_t)nq,
						  (double)(t1 - t0) / 1e9 };
	r->ops[r->op_count++] = (struct perf_op){ "bindings declared", nb,
						  (double)(t2 - t1) / 1e9 };
	r->ops[r->op_count++] = (struct perf_op){ "queues deleted", (uint64_t)nq,
						  (double)(t3 - t2) / 1e9 };
	rc = 0;
	goto out;
fail:
	perf_run_fail(run, "%s", c.error);
out:
	perf_conn_close(&c);
	perf_cleanup(run, "b", declared);
	return rc;
}

int perf_scenario_run(const struct perf_opts *o, struct perf_result *r, char *err, size_t err_len)
{
	struct perf_run run = { .o = o };
	int rc = -1;

	memset(r, 0, sizeof *r);
	r->queue_depth = -1;
	perf_hist_init(&r->latency);
	perf_hist_init(&r->confirm_latency);
	pthread_mutex_init(&run.lock, NULL);
	snprintf(run.prefix, sizeof run.prefix, "perf-%d-", (int)getpid());
	uint64_t t0 = perf_now_ns();
	switch (o->scenario) {
	case PERF_THROUGHPUT:
	case PERF_CONFIRM:
	case PERF_LATENCY:
	case PERF_FANOUT:
	case PERF_STREAM:
		rc = perf_run_flow(&run, r);
		break;
	case PERF_CONNECTIONS:
		rc = perf_run_connections(&run, r);
		break;
	case PERF_BACKLOG:
		rc = perf_run_backlog(&run, r);
		break;
	case PERF_BINDINGS:
		rc = perf_run_bindings(&run, r);
		break;
	}
	if (r->wall_secs == 0)
		r->wall_secs = (double)(perf_now_ns() - t0) / 1e9;
	if (rc != 0)
		snprintf(err, err_len, "%s", run.error[0] ? run.error : "failed");
	pthread_mutex_destroy(&run.lock);
	return rc;
}
