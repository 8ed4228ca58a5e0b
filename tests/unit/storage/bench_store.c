/* tests/unit/storage/bench_store.c: a micro-benchmark, not a test. Appends 1,000,000 16-byte
 * messages, each with an enqueue record, in batches of 1000 with a store_sync (and a wait for
 * its fdatasync) after each; prints messages per second and index bytes per live message,
 * then reopens the store and times recovery.
 * Usage: bench_store [dir] [count]  (the directory is created and emptied afterwards). */
#include <event2/event.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/store.h"

static uint64_t bench_done;

static void bench_on_synced(void *arg, uint64_t ticket, bool ok)
{
	(void)arg;
	if (!ok) {
		fprintf(stderr, "bench_store: sync %llu failed\n", (unsigned long long)ticket);
		exit(1);
	}
	bench_done = ticket;
}

static int bench_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/warren-bench-store-XXXXXX";
	const char *dir = argc > 1 ? argv[1] : mkdtemp(tmpl);
	long count = argc > 2 ? atol(argv[2]) : 1000000;
	struct store_options opt = { .synced = bench_on_synced };
	struct event_base *base = event_base_new();
	struct store_message m = {
		.exchange = (const uint8_t *)"", .routing_key = (const uint8_t *)"bench",
		.routing_key_len = 5, .props = (const uint8_t *)"\x10\x00\x02", .props_len = 3,
		.body = (const uint8_t *)"0123456789abcdef", .body_len = 16,
	};
	uint64_t queue = store_queue_id("/", (const uint8_t *)"bench", 5);
	struct store_stats st;
	char err[256];
	struct store *s;
	double t0, t1;

	if (!dir || !base) {
		fprintf(stderr, "bench_store: setup failed\n");
		return 1;
	}
	s = store_open(base, dir, &opt, err, sizeof err);
	if (!s || store_recover(s, NULL, NULL, NULL) != 0) {
		fprintf(stderr, "bench_store: %s\n", err);
		return 1;
	}
	t0 = bench_now();
	for (long i = 0; i < count; i += 1000) {
		uint64_t ticket;
		for (long j = i; j < i + 1000 && j < count; j++) {
			uint64_t id = store_message_add(s, &m);
			if (!id || store_enqueue(s, queue, id) != 0) {
				fprintf(stderr, "bench_store: append refused\n");
				return 1;
			}
		}
		ticket = store_sync(s);
		while (bench_done < ticket)
			event_base_loop(base, EVLOOP_ONCE);
	}
	t1 = bench_now();
	store_get_stats(s, &st);
	printf("messages: %ld in %.2f s: %.0f msgs/s, %llu fdatasyncs, %.1f disk bytes/message\n",
	       count, t1 - t0, (double)count / (t1 - t0), (unsigned long long)st.syncs,
	       (double)st.disk_bytes / (double)count);
	printf("index: %zu bytes for %llu live messages: %.1f bytes/message\n", store_index_bytes(s),
	       (unsigned long long)st.live_messages,
	       (double)store_index_bytes(s) / (double)st.live_messages);
	store_close(s);
	s = store_open(base, dir, &opt, err, sizeof err);
	if (s) {
		struct store_recovery_stats rs;
		t0 = bench_now();
		store_recover(s, NULL, NULL, &rs);
		t1 = bench_now();
		printf("recovery: %llu records, %llu live messages in %.2f s\n",
		       (unsigned long long)rs.records, (unsigned long long)rs.messages_live,
		       t1 - t0);
		store_close(s);
	}
	event_base_free(base);
	if (argc <= 1)
		nftw(dir, bench_rm, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
