/* tests/bench/queue_depth.c: does a deep queue with per-message TTLs and priorities stay fast?
 *
 * Publishes --count messages (default 1,000,000) into one priority queue (x-max-priority 9), each
 * with a random priority 0..9 and a random expiration of 1 to 2 hours (long enough never to
 * expire during the run), and reports the enqueue rate for every --block messages (default
 * 100,000) as the queue grows. Then it consumes the whole queue (prefetch 1000, acks every 500)
 * and reports the dequeue rate per block as it shrinks. A queue whose per-message cost grows
 * with its depth shows up as falling rates; a flat line is what we want. It also checks that
 * the priorities come out non-increasing, since everything is queued before the consumer starts.
 * --plain drops the priorities, expirations and x-max-priority, for a baseline.
 *
 * A benchmark, not a test: it is not run by meson. It uses librabbitmq (Debian librabbitmq-dev):
 *
 *   cc -std=c11 -O2 -Wall -Wextra -o /tmp/queue_depth tests/bench/queue_depth.c -lrabbitmq
 *   /tmp/queue_depth --url amqp://guest:guest@127.0.0.1:5672/ [--count N] [--block N] [--plain]
 *                    [--broker-pid PID]
 *
 * --broker-pid adds the broker's CPU time per message for each block (from /proc/PID/stat),
 * which is steadier than the wall-clock rate when other work shares the machine.
 *
 * librabbitmq does the handshake, the declares and the consuming. Publishes are encoded here
 * and written straight to its socket 1000 at a time, as warren-perf does, so that the client's
 * one-syscall-per-frame cost does not hide the broker's. Each block is timed up to a passive
 * queue.declare round trip (publishing) or up to the last delivery of the block (consuming), so
 * the enqueue rate counts messages the broker has taken, not bytes sitting in socket buffers.
 * Exit status 0 on success, 1 on an error or a priority order break.
 */
#define _POSIX_C_SOURCE 200809L

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct depth_opts {
	char url[1024];
	long count, block;
	long broker_pid; /* 0: do not report the broker's CPU time */
	bool plain;
};

struct depth_rates {
	double min, max, first, last, sum;
	long blocks;
};

static double depth_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The broker's user + system CPU time in seconds from /proc/PID/stat, or 0 when unknown. CPU
 * per message is steadier than wall-clock rates on a shared machine. */
static double depth_broker_cpu(long pid)
{
	char path[64], line[1024];
	unsigned long ut = 0, st = 0;
	double secs = 0;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char *close_paren = fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
	if (close_paren && sscanf(close_paren + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				  &ut, &st) == 2)
		secs = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	fclose(f);
	return secs;
}

/* One report line: the block's wall-clock rate and, with --broker-pid, broker CPU per message. */
static void depth_report(const char *what, long from, long to, const char *label, long depth,
			 double rate, double cpu_secs, const struct depth_opts *o)
{
	printf("%s %8ld..%-8ld %s %8ld  %9.0f msg/s", what, from, to, label, depth, rate);
	if (o->broker_pid > 0)
		printf("  broker %5.2f us/msg", cpu_secs * 1e6 / (double)(to - from));
	printf("\n");
	fflush(stdout);
}

static void depth_rates_add(struct depth_rates *r, double rate)
{
	if (r->blocks == 0 || rate < r->min)
		r->min = rate;
	if (r->blocks == 0 || rate > r->max)
		r->max = rate;
	if (r->blocks == 0)
		r->first = rate;
	r->last = rate;
	r->sum += rate;
	r->blocks++;
}

static void depth_rates_print(const char *what, const struct depth_rates *r)
{
	if (r->blocks == 0)
		return;
	printf("%s: mean %.0f msg/s, min %.0f, max %.0f, min/max %.2f, last/first %.2f\n", what,
	       r->sum / (double)r->blocks, r->min, r->max, r->min / r->max, r->last / r->first);
}

/* 0 when the last RPC succeeded; otherwise prints what failed and returns -1. */
static int depth_check_rpc(amqp_connection_state_t conn, const char *what)
{
	amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return 0;
	if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
	    r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
		amqp_channel_close_t *c = r.reply.decoded;
		fprintf(stderr, "queue_depth: %s: channel closed %u %.*s\n", what, c->reply_code,
			(int)c->reply_text.len, (const char *)c->reply_text.bytes);
	} else if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
		   r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
		amqp_connection_close_t *c = r.reply.decoded;
		fprintf(stderr, "queue_depth: %s: connection closed %u %.*s\n", what,
			c->reply_code, (int)c->reply_text.len, (const char *)c->reply_text.bytes);
	} else {
		fprintf(stderr, "queue_depth: %s: %s\n", what,
			r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ?
				amqp_error_string2(r.library_error) :
				"unexpected reply");
	}
	return -1;
}

static amqp_connection_state_t depth_connect(const char *url_text)
{
	struct amqp_connection_info url;
	char *copy = strdup(url_text);
	amqp_connection_state_t conn = NULL;

	if (!copy || amqp_parse_url(copy, &url) != AMQP_STATUS_OK) {
		fprintf(stderr, "queue_depth: bad url %s\n", url_text);
		goto out;
	}
	conn = amqp_new_connection();
	amqp_socket_t *sock = amqp_tcp_socket_new(conn);
	if (!sock || amqp_socket_open(sock, url.host, url.port) != AMQP_STATUS_OK) {
		fprintf(stderr, "queue_depth: cannot connect to %s:%d\n", url.host, url.port);
		goto fail;
	}
	/* "amqp://host/" parses to the empty vhost; mean the default one, as other clients do. */
	const char *vhost = url.vhost && url.vhost[0] ? url.vhost : "/";
	amqp_rpc_reply_t r = amqp_login(conn, vhost, 2047, 131072, 0, AMQP_SASL_METHOD_PLAIN,
					url.user, url.password);
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		fprintf(stderr, "queue_depth: login to vhost %s refused\n", vhost);
		goto fail;
	}
	amqp_channel_open(conn, 1);
	if (depth_check_rpc(conn, "channel.open") != 0)
		goto fail;
	goto out;
fail:
	amqp_destroy_connection(conn);
	conn = NULL;
out:
	free(copy);
	return conn;
}

/* The queue's ready count via a passive declare (also a round trip that orders publishes). */
static long depth_queue_count(amqp_connection_state_t conn, const char *queue)
{
	amqp_queue_declare_ok_t *ok = amqp_queue_declare(conn, 1, amqp_cstring_bytes(queue), 1, 0,
							 0, 0, amqp_empty_table);
	if (!ok || depth_check_rpc(conn, "queue.declare passive") != 0)
		return -1;
	return (long)ok->message_count;
}

enum { DEPTH_BATCH = 1000, DEPTH_BODY = 64 };

static uint8_t *depth_put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t *depth_put32(uint8_t *p, uint32_t v)
{
	p = depth_put16(p, v >> 16);
	return depth_put16(p, v & 0xffff);
}

/* A frame of type on channel 1 around payload [start, end): fills in the 7-byte header written
 * before start and appends the frame-end octet; returns the end. */
static uint8_t *depth_frame_close(uint8_t *header, uint8_t *end)
{
	uint32_t size = (uint32_t)(end - header - 7);
	depth_put32(header + 3, size);
	*end++ = 0xCE;
	return end;
}

static uint8_t *depth_frame_open(uint8_t *p, uint8_t type)
{
	p[0] = type;
	depth_put16(p + 1, 1);
	return p + 7;
}

/* basic.publish to the default exchange, a content header and one body frame. */
static uint8_t *depth_encode_publish(uint8_t *p, const char *queue, bool plain, int priority,
				     const char *expiration)
{
	size_t qlen = strlen(queue), elen = strlen(expiration);
	uint8_t *h = p;

	p = depth_frame_open(p, 1);
	p = depth_put16(p, 60);
	p = depth_put16(p, 40);
	p = depth_put16(p, 0);
	*p++ = 0;
	*p++ = (uint8_t)qlen;
	memcpy(p, queue, qlen);
	p += qlen;
	*p++ = 0;
	p = depth_frame_close(h, p);
	h = p;
	p = depth_frame_open(p, 2);
	p = depth_put16(p, 60);
	p = depth_put16(p, 0);
	p = depth_put32(p, 0);
	p = depth_put32(p, DEPTH_BODY);
	p = depth_put16(p, plain ? 0x1000 : 0x1000 | 0x0800 | 0x0100);
	*p++ = 1;
	if (!plain) {
		*p++ = (uint8_t)priority;
		*p++ = (uint8_t)elen;
		memcpy(p, expiration, elen);
		p += elen;
	}
	p = depth_frame_close(h, p);
	h = p;
	p = depth_frame_open(p, 3);
	memset(p, 'x', DEPTH_BODY);
	p += DEPTH_BODY;
	return depth_frame_close(h, p);
}

/* Writes all of [buf, buf + len) to librabbitmq's socket, which may be non-blocking. */
static int depth_write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { fd, POLLOUT, 0 };
			poll(&pfd, 1, 1000);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			perror("queue_depth: write");
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int depth_publish(amqp_connection_state_t conn, const struct depth_opts *o,
			 const char *queue, struct depth_rates *rates)
{
	static uint8_t batch[DEPTH_BATCH * 512];
	char expiration[16];
	size_t used = 0;
	int fd = amqp_get_sockfd(conn);
	double start = depth_now(), cpu = depth_broker_cpu(o->broker_pid);

	for (long i = 1; i <= o->count; i++) {
		snprintf(expiration, sizeof expiration, "%d", 3600000 + rand() % 3600000);
		used = (size_t)(depth_encode_publish(batch + used, queue, o->plain, rand() % 10,
						     expiration) - batch);
		bool flush = i % DEPTH_BATCH == 0 || i % o->block == 0 || i == o->count;
		if (flush && depth_write_all(fd, batch, used) != 0)
			return -1;
		if (flush)
			used = 0;
		if (i % o->block != 0 && i != o->count)
			continue;
		long depth = depth_queue_count(conn, queue);
		if (depth < 0)
			return -1;
		double now = depth_now();
		long n = i % o->block ? i % o->block : o->block;
		double rate = (double)n / (now - start);
		double cpu_now = depth_broker_cpu(o->broker_pid);
		depth_rates_add(rates, rate);
		depth_report("enqueue", i - n, i, "depth", depth, rate, cpu_now - cpu, o);
		start = now;
		cpu = cpu_now;
	}
	return 0;
}

static int depth_drain(amqp_connection_state_t conn, const struct depth_opts *o,
		       const char *queue, struct depth_rates *rates, long *order_breaks)
{
	int last_priority = 256;
	long got = 0;
	double start, cpu;

	amqp_basic_qos(conn, 1, 0, 1000, 0);
	if (depth_check_rpc(conn, "basic.qos") != 0)
		return -1;
	amqp_basic_consume(conn, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0,
			   amqp_empty_table);
	if (depth_check_rpc(conn, "basic.consume") != 0)
		return -1;
	start = depth_now();
	cpu = depth_broker_cpu(o->broker_pid);
	while (got < o->count) {
		amqp_envelope_t env;
		struct timeval tv = { 10, 0 };
		amqp_maybe_release_buffers(conn);
		amqp_rpc_reply_t r = amqp_consume_message(conn, &env, &tv, 0);
		if (r.reply_type != AMQP_RESPONSE_NORMAL) {
			fprintf(stderr, "queue_depth: consume stopped after %ld messages\n", got);
			return -1;
		}
		int priority = (env.message.properties._flags & AMQP_BASIC_PRIORITY_FLAG) ?
				       env.message.properties.priority :
				       0;
		if (priority > last_priority)
			(*order_breaks)++;
		last_priority = priority;
		got++;
		if (got % 500 == 0 || got == o->count)
			amqp_basic_ack(conn, 1, env.delivery_tag, 1);
		amqp_destroy_envelope(&env);
		if (got % o->block != 0 && got != o->count)
			continue;
		double now = depth_now();
		long n = got % o->block ? got % o->block : o->block;
		double rate = (double)n / (now - start);
		double cpu_now = depth_broker_cpu(o->broker_pid);
		depth_rates_add(rates, rate);
		depth_report("dequeue", got - n, got, "left ", o->count - got, rate, cpu_now - cpu, o);
		start = now;
		cpu = cpu_now;
	}
	return 0;
}

static int depth_parse_args(int argc, char **argv, struct depth_opts *o)
{
	snprintf(o->url, sizeof o->url, "amqp://guest:guest@127.0.0.1:5672/");
	o->count = 1000000;
	o->block = 100000;
	o->plain = false;
	o->broker_pid = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
			snprintf(o->url, sizeof o->url, "%s", argv[++i]);
		else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
			o->count = atol(argv[++i]);
		else if (strcmp(argv[i], "--block") == 0 && i + 1 < argc)
			o->block = atol(argv[++i]);
		else if (strcmp(argv[i], "--broker-pid") == 0 && i + 1 < argc)
			o->broker_pid = atol(argv[++i]);
		else if (strcmp(argv[i], "--plain") == 0)
			o->plain = true;
		else
			return -1;
	}
	return o->count > 0 && o->block > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct depth_opts o;
	struct depth_rates enq = { 0 }, deq = { 0 };
	amqp_connection_state_t conn = NULL;
	char queue[128];
	long order_breaks = 0;
	int rc = 1;

	if (depth_parse_args(argc, argv, &o) != 0) {
		fprintf(stderr, "usage: queue_depth [--url URL] [--count N] [--block N] [--broker-pid PID] "
				"[--plain]\n");
		return 2;
	}
	srand(12345);
	conn = depth_connect(o.url);
	if (!conn)
		goto out;
	snprintf(queue, sizeof queue, "bench.depth.%ld", (long)getpid());
	amqp_table_entry_t arg = { amqp_cstring_bytes("x-max-priority"),
				   { AMQP_FIELD_KIND_I32, { .i32 = 9 } } };
	amqp_table_t args = { o.plain ? 0 : 1, &arg };
	amqp_queue_declare(conn, 1, amqp_cstring_bytes(queue), 0, 0, 0, 1, args);
	if (depth_check_rpc(conn, "queue.declare") != 0)
		goto out;
	printf("queue %s: %ld messages of 64 bytes, %s\n", queue, o.count,
	       o.plain ? "no priority, no expiration (baseline)" :
			 "x-max-priority 9, priorities 0..9, expirations 1-2 h");
	double t0 = depth_now();
	if (depth_publish(conn, &o, queue, &enq) != 0)
		goto out;
	double t1 = depth_now();
	if (depth_drain(conn, &o, queue, &deq, &order_breaks) != 0)
		goto out;
	double t2 = depth_now();
	printf("published %ld in %.1f s, drained in %.1f s\n", o.count, t1 - t0, t2 - t1);
	depth_rates_print("enqueue", &enq);
	depth_rates_print("dequeue", &deq);
	printf("priority order breaks while draining: %ld\n", order_breaks);
	rc = order_breaks == 0 ? 0 : 1;
out:
	if (conn) {
		amqp_queue_delete(conn, 1, amqp_cstring_bytes(queue), 0, 0);
		amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
		amqp_destroy_connection(conn);
	}
	return rc;
}
