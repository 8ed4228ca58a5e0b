/* tests/bench/perf.h: warren-perf, the AMQP 0-9-1 load generator.
 * perf_uri.c parses the broker URI, perf_conn.c is a minimal blocking/non-blocking client built
 * on the amqp/ codec (one socket, big user-space buffers, many frames per read and write),
 * perf_hist.c keeps latency histograms, perf_scenario.c runs the scenarios with one thread per
 * publisher and per consumer, and warren_perf.c parses flags and prints the report. */
#ifndef PERF_H
#define PERF_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "amqp/frame.h"
#include "amqp/methods_gen.h"
#include "amqp/wire.h"

/* ---- perf_uri.c ---- */

struct perf_uri {
	char user[128], pass[128], host[256], vhost[256];
	uint16_t port;
	uint16_t heartbeat; /* seconds asked for in tune-ok; 0 = none */
};

/* amqp://user:pass@host:port/vhost?heartbeat=N, every part optional; the vhost is url-decoded
 * ("%2F" is "/") and an empty one means "/"; heartbeat is the only query parameter read (as in
 * RabbitMQ's URI spec; others are ignored). Returns 0, or -1 with a message in err. */
int perf_uri_parse(struct perf_uri *u, const char *text, char *err, size_t err_len);

/* ---- perf_hist.c: log-linear histogram of nanosecond values, ~1.6% resolution ---- */

#define PERF_HIST_SUB_BITS 6
#define PERF_HIST_BUCKETS (64 << PERF_HIST_SUB_BITS)

struct perf_hist {
	uint64_t count, min, max;
	uint64_t buckets[PERF_HIST_BUCKETS];
};

void perf_hist_init(struct perf_hist *h);
void perf_hist_add(struct perf_hist *h, uint64_t ns);
void perf_hist_merge(struct perf_hist *into, const struct perf_hist *from);
/* Value at quantile q in [0, 1]: the bucket's upper bound, clamped to [min, max]; 0 when empty. */
uint64_t perf_hist_quantile(const struct perf_hist *h, double q);

/* ---- perf_conn.c ---- */

#define PERF_IN_CAP (256u * 1024)

struct perf_conn {
	int fd;
	uint32_t frame_max;
	uint8_t *in;
	size_t in_off, in_len, in_cap; /* unparsed bytes are in[in_off .. in_len) */
	uint8_t *out;
	size_t out_off, out_len, out_cap; /* unwritten bytes are out[out_off .. out_len) */
	bool blocked;                     /* connection.blocked seen, not yet unblocked */
	char error[512];
};

/* Connects, runs the handshake and opens channel 1; blocking, bounded by timeout_ms. The socket
 * is non-blocking afterwards. Returns 0, or -1 with c->error set and nothing left to free. */
int perf_conn_open(struct perf_conn *c, const struct perf_uri *u, size_t out_cap, int timeout_ms);
/* Sends connection.close and waits (briefly) for close-ok; frees buffers; NULL-safe on fd -1. */
void perf_conn_close(struct perf_conn *c);

/* Appends one method frame to the output buffer (grown when needed). Returns 0 or -1. */
int perf_conn_put_method(struct perf_conn *c, uint16_t channel, const struct amqp_method *m);
/* Writes what the socket takes now. Returns 0 (maybe partial), or -1 with c->error set. */
int perf_conn_write_some(struct perf_conn *c);
/* Reads what the socket has now into the input buffer. Returns bytes read (0 when none), or -1
 * with c->error set on EOF or error. */
ssize_t perf_conn_read_some(struct perf_conn *c);
/* Decodes the next buffered frame. 1: *f filled (payload borrows the input buffer until the next
 * read); 0: need more bytes; -1: c->error set. Connection.close and channel.close from the broker
 * are turned into -1 with their code and text; connection.blocked/unblocked and heartbeats are
 * consumed here and never returned. */
int perf_conn_next_frame(struct perf_conn *c, struct amqp_frame *f);
/* Waits until the socket is readable or writable as asked, at most timeout_ms. */
int perf_conn_wait(struct perf_conn *c, bool want_write, int timeout_ms);
/* Sends a method on channel 1 and waits for the method reply_id, skipping other frames.
 * Returns 0 with *reply decoded (borrowing the input buffer), or -1 with c->error set. */
int perf_conn_rpc(struct perf_conn *c, const struct amqp_method *req, uint32_t reply_id,
		  struct amqp_method *reply, int timeout_ms);

/* ---- perf_template.c ---- */

#define PERF_STAMP_LEN 16

struct perf_template {
	uint8_t *bytes; /* frames of one message on channel 1; the caller frees */
	size_t len;
	size_t stamp_at; /* offset of the first body byte */
};

struct perf_opts;
/* Encodes one message of o->size body bytes (delivery_mode 2 when o->persistent), its body
 * split into frame_max-sized frames. Returns 0 or -1. */
int perf_template_build(struct perf_template *t, const struct perf_opts *o, const char *exchange,
			const char *routing_key, uint32_t frame_max);
/* Stamps the send time (bodies of 8+ bytes) and the sequence number (16+) into a copy. */
void perf_template_stamp(uint8_t *msg, const struct perf_template *t, size_t size, uint64_t now_ns,
			 uint64_t seq);

/* ---- perf_publisher.c, perf_consumer.c: the worker threads of a run ---- */

#define PERF_RPC_MS 10000

struct perf_opts;

/* What the threads of one run share. */
struct perf_run {
	const struct perf_opts *o;
	char prefix[64];
	char exchange[96]; /* fanout and bindings; "" is the default exchange */
	uint64_t start_ns;
	uint64_t end_ns; /* publishers stop here when --duration decides */
	/* The measured window is [start_ns, window_end_ns): publishers and consumers both run.
	 * UINT64_MAX until it is known (--count runs: when the last publisher finishes).
	 * Consumers record latency only for messages that arrive inside it. */
	_Atomic uint64_t window_end_ns;
	atomic_bool stop_publish, stop_consume, failed;
	atomic_int consumers_ready;
	pthread_mutex_t lock;
	char error[512];
};

struct perf_worker {
	struct perf_run *run;
	pthread_t thread;
	bool started;
	char queue[96];
	uint64_t count; /* publishers: messages to send, 0 = until stopped */
	_Atomic uint64_t done; /* published or consumed so far */
	_Atomic uint64_t last_ns;
	uint64_t confirmed, nacked, returned;
	struct perf_hist hist; /* consumers: end to end; publishers: confirm latency */
};

/* Thread bodies: arg is a struct perf_worker. They report failures with perf_run_fail. */
void *perf_publisher_main(void *arg);
void *perf_consumer_main(void *arg);

/* ---- perf_scenario.c ---- */

/* Records the first failure of a run and tells every thread to stop. */
void perf_run_fail(struct perf_run *run, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void perf_sleep_ms(int ms);

enum perf_scenario_kind {
	PERF_THROUGHPUT,
	PERF_CONFIRM,
	PERF_LATENCY,
	PERF_FANOUT,
	PERF_CONNECTIONS,
	PERF_BACKLOG,
	PERF_BINDINGS,
	PERF_STREAM,
};

struct perf_opts {
	struct perf_uri uri;
	enum perf_scenario_kind scenario;
	int publishers, consumers, queues;
	size_t size;
	double duration;     /* seconds; 0 when --count decides */
	uint64_t count;      /* messages per publisher (backlog: in all); 0 when duration decides */
	uint32_t prefetch;   /* 0: no basic.qos */
	uint32_t ack_every;  /* 0: no-ack consumers */
	uint32_t confirm;    /* outstanding confirms window; 0: no confirms */
	bool persistent;     /* delivery_mode 2 and durable queues */
	bool keep;           /* backlog: leave the queue full (no drain, no delete) */
	double rate;         /* msgs/s per publisher; 0: as fast as possible */
	int connections;
	pid_t broker_pid;
	bool json;
};

struct perf_result {
	/* The measured window, as PerfTest reports: messages published and consumed while the
	 * publishers ran, and the ready messages left in the queues at its end (-1: unknown). */
	double window_secs;
	uint64_t window_published, window_consumed;
	int64_t queue_depth;
	/* Everything, including the drain after publishing stopped: consume_secs runs until the
	 * last message arrived. */
	uint64_t published, consumed, confirmed, nacked, returned;
	double publish_secs, consume_secs;
	struct perf_hist latency;         /* end to end, inside the window, when measured */
	struct perf_hist confirm_latency; /* publish to confirm */
	/* connections / backlog / bindings: counted operations and how long they took */
	struct perf_op {
		const char *name;
		uint64_t count;
		double secs;
	} ops[4];
	int op_count;
	long rss_before_kb, rss_after_kb;
	double per_item_bytes;
	double drain_rate;
	/* CPU seconds over the measured part */
	double perf_cpu, broker_cpu, wall_secs;
};

/* Runs the scenario. Returns 0, or -1 with a one-line message in err. */
int perf_scenario_run(const struct perf_opts *o, struct perf_result *r, char *err, size_t err_len);
const char *perf_scenario_name(enum perf_scenario_kind k);
int perf_scenario_parse(const char *name, enum perf_scenario_kind *k);

/* Broker observation through /proc: VmRSS in kB and utime+stime in seconds; -1 when unknown. */
long perf_proc_rss_kb(pid_t pid);
double perf_proc_cpu_secs(pid_t pid);

uint64_t perf_now_ns(void);

/* Confirm window bookkeeping: tags 1, 2, ... acked singly or with multiple, in any order. */
struct perf_window {
	uint64_t base;  /* lowest tag not yet confirmed */
	uint64_t next;  /* next tag to publish */
	uint64_t mask;  /* capacity - 1 (a power of two >= the window) */
	uint8_t *done;  /* per slot: confirmed but below-base not yet passed */
	uint64_t *sent_ns;
};

int perf_window_init(struct perf_window *w, uint32_t window);
void perf_window_free(struct perf_window *w);
/* Records a publish; returns its tag. */
uint64_t perf_window_push(struct perf_window *w, uint64_t now_ns);
/* Marks tag (and, with multiple, every lower outstanding tag) confirmed; adds latencies to h
 * when h is not NULL. Returns how many tags this confirmed. */
uint64_t perf_window_ack(struct perf_window *w, uint64_t tag, bool multiple, uint64_t now_ns,
			 struct perf_hist *h);

static inline uint64_t perf_window_outstanding(const struct perf_window *w)
{
	return w->next - w->base;
}

#endif
