/* tests/unit/storage/test_store_file.c: appends, group commit, read-back, segment deletion,
 * compaction and disk-full behaviour of the message log, on a real event loop. */
#include <check.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "storage_helpers.h"

#define Q1 0x1111
#define Q2 0x2222
#define Q3 0x3333

static const uint64_t only_q1[] = { Q1, 0 };
static const uint64_t only_q2[] = { Q2, 0 };

static void sync_and_wait(struct harness *h)
{
	ck_assert(harness_wait(h, store_sync(h->store)));
}

START_TEST(the_live_set_survives_a_restart_in_enqueue_order)
{
	struct harness *h = harness_new(0);
	static const uint64_t q1_q2[] = { Q1, Q2, 0 };
	uint64_t ids[14];
	char body[16];
	struct recovered *r = malloc(sizeof *r);
	struct store_recovery_stats st;

	ck_assert(harness_recover(h, r, &st) == 0);
	for (int i = 1; i <= 10; i++) {
		snprintf(body, sizeof body, "m%d", i);
		ids[i] = harness_publish(h, body, i == 3 ? q1_q2 : only_q1);
		ck_assert_uint_gt(ids[i], 0);
	}
	ck_assert_int_eq(store_dequeue(h->store, Q1, ids[2]), 0);
	ck_assert_int_eq(store_dequeue(h->store, Q1, ids[5]), 0);
	ck_assert_int_eq(store_dequeue(h->store, Q1, ids[5]), -1); /* not in it any more */
	ids[11] = harness_publish(h, "m11", only_q2);
	ids[12] = harness_publish(h, "m12", only_q2);
	ck_assert_int_eq(store_queue_purge(h->store, Q2), 0);
	ids[13] = harness_publish(h, "m13", only_q2);
	sync_and_wait(h);

	harness_reopen(h);
	ck_assert_int_eq(harness_recover(h, r, &st), 0);
	ck_assert_uint_eq(r->count, 9);
	static const int q1_expect[] = { 1, 3, 4, 6, 7, 8, 9, 10 };
	for (int i = 0; i < 8; i++) {
		snprintf(body, sizeof body, "m%d", q1_expect[i]);
		ck_assert_uint_eq(r->queue_ids[i], Q1);
		ck_assert_uint_eq(r->msg_ids[i], ids[q1_expect[i]]);
		ck_assert_str_eq(r->bodies[i], body);
	}
	ck_assert_uint_eq(r->queue_ids[8], Q2);
	ck_assert_str_eq(r->bodies[8], "m13");
	ck_assert_uint_eq(st.messages_live, 9);
	/* new ids continue after the recovered ones */
	ck_assert_uint_gt(harness_publish(h, "m14", only_q1), ids[13]);
	free(r);
	harness_free(h);
}
END_TEST

START_TEST(a_message_in_three_queues_is_written_once)
{
	struct harness *h = harness_new(0);
	static const uint64_t three[] = { Q1, Q2, Q3, 0 };
	const char *body = "a body that should appear exactly once on disk";
	char path[300];
	FILE *f;
	char buf[4096];
	size_t n;
	struct recovered *r = malloc(sizeof *r);

	ck_assert(harness_recover(h, r, NULL) == 0);
	ck_assert_uint_gt(harness_publish(h, body, three), 0);
	sync_and_wait(h);
	harness_segment_path(h, 1, path, sizeof path);
	/* segment header 32; record header 16 + fixed 16 + "amq.direct" 10 + "rk" 2 + props 3 +
	 * body; 3 enqueues x (16 + 16); the batch's commit record 16 + 16 */
	ck_assert_int_eq(harness_file_size(path), 32 + 16 + 16 + 10 + 2 + 3 +
							  (long)strlen(body) + 3 * 32 + 32);
	f = fopen(path, "rb");
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	ck_assert_ptr_nonnull(memmem(buf, n, body, strlen(body)));
	harness_reopen(h);
	ck_assert_int_eq(harness_recover(h, r, NULL), 0);
	ck_assert_uint_eq(r->count, 3);
	ck_assert_uint_eq(r->queue_ids[0], Q1);
	ck_assert_uint_eq(r->queue_ids[2], Q3);
	ck_assert_uint_eq(r->msg_ids[0], r->msg_ids[2]);
	free(r);
	harness_free(h);
}
END_TEST

START_TEST(acked_messages_never_come_back)
{
	struct harness *h = harness_new(0);
	struct recovered *r = malloc(sizeof *r);
	uint64_t ids[100];

	ck_assert(harness_recover(h, r, NULL) == 0);
	for (int i = 0; i < 100; i++)
		ids[i] = harness_publish(h, "x", only_q1);
	sync_and_wait(h);
	for (int i = 0; i < 100; i++)
		if (i % 10 != 0)
			ck_assert_int_eq(store_dequeue(h->store, Q1, ids[i]), 0);
	sync_and_wait(h);
	for (int round = 0; round < 2; round++) {
		harness_reopen(h);
		ck_assert_int_eq(harness_recover(h, r, NULL), 0);
		ck_assert_uint_eq(r->count, 10);
		for (unsigned i = 0; i < r->count; i++)
			ck_assert_uint_eq(r->msg_ids[i], ids[i * 10]);
	}
	free(r);
	harness_free(h);
}
END_TEST

START_TEST(ten_thousand_appends_cost_one_fdatasync)
{
	struct harness *h = harness_new(0);
	struct store_stats st;
	uint64_t ticket;

	ck_assert(harness_recover(h, NULL, NULL) == 0);
	for (int i = 0; i < 10000; i++)
		ck_assert_uint_gt(harness_publish(h, "0123456789abcdef", only_q1), 0);
	ck_assert(store_has_pending(h->store));
	ticket = store_sync(h->store);
	ck_assert(!store_has_pending(h->store));
	ck_assert(harness_wait(h, ticket));
	store_get_stats(h->store, &st);
	ck_assert_uint_eq(st.syncs, 1);
	ck_assert_uint_eq(st.synced_records, 20000);
	ck_assert_uint_eq(st.live_messages, 10000);
	ck_assert_uint_eq(store_synced_ticket(h->store), ticket);
	ck_assert_uint_eq(store_sync(h->store), ticket); /* nothing new: same ticket */
	harness_free(h);
}
END_TEST

START_TEST(synced_callbacks_run_on_the_loop_thread_in_ticket_order)
{
	struct harness *h = harness_new(0);
	uint64_t last = 0;

	ck_assert(harness_recover(h, NULL, NULL) == 0);
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 20; i++)
			harness_publish(h, "body", only_q1);
		last = store_sync(h->store); /* most of these find the previous one in flight */
		if (round % 7 == 0)
			event_base_loop(h->base, EVLOOP_NONBLOCK);
	}
	ck_assert(harness_wait(h, last));
	ck_assert(!h->off_loop);
	ck_assert_uint_gt(h->synced_count, 0);
	for (unsigned i = 1; i < h->synced_count; i++)
		ck_assert_uint_gt(h->tickets[i], h->tickets[i - 1]);
	ck_assert_uint_eq(h->tickets[h->synced_count - 1], last);
	harness_free(h);
}
END_TEST

START_TEST(a_message_reads_back_before_and_after_its_sync)
{
	struct harness *h = harness_new(0);
	struct store_message m;
	void *block;
	uint64_t id;

	ck_assert(harness_recover(h, NULL, NULL) == 0);
	id = harness_publish(h, "read me", only_q1);
	ck_assert_int_eq(store_message_read(h->store, id, &m, &block), 0);
	ck_assert_uint_eq(m.body_len, 7);
	ck_assert_int_eq(memcmp(m.body, "read me", 7), 0);
	free(block);
	sync_and_wait(h);
	ck_assert_int_eq(store_message_read(h->store, id, &m, &block), 0);
	ck_assert_int_eq(memcmp(m.routing_key, "rk", 2), 0);
	ck_assert_int_eq(memcmp(m.body, "read me", 7), 0);
	free(block);
	ck_assert_int_eq(store_message_read(h->store, id + 100, &m, &block), -1);
	harness_free(h);
}
END_TEST

START_TEST(segments_are_deleted_once_everything_in_them_is_acked)
{
	struct harness *h = harness_new(4096);
	struct recovered *r = malloc(sizeof *r);
	struct store_stats st;
	uint64_t ids[500];

	ck_assert(harness_recover(h, r, NULL) == 0);
	for (int i = 0; i < 500; i++)
		ids[i] = harness_publish(h, "a message body of about fifty bytes, give or take",
					 only_q1);
	sync_and_wait(h);
	ck_assert_uint_gt(harness_segment_count(h), 10);
	for (int i = 0; i < 500; i++)
		ck_assert_int_eq(store_dequeue(h->store, Q1, ids[i]), 0);
	sync_and_wait(h);
	ck_assert_uint_le(harness_segment_count(h), 1);
	store_get_stats(h->store, &st);
	ck_assert_uint_eq(st.live_messages, 0);
	ck_assert_uint_le(st.disk_bytes, 4096 * 2);
	harness_reopen(h);
	ck_assert_int_eq(harness_recover(h, r, NULL), 0);
	ck_assert_uint_eq(r->count, 0);
	free(r);
	harness_free(h);
}
END_TEST

START_TEST(one_stuck_message_does_not_make_disk_use_grow)
{
	struct harness *h = harness_new(4096);
	struct recovered *r = malloc(sizeof *r);
	struct store_stats st;
	struct store_message m;
	void *block;
	uint64_t stuck, max_disk = 0;

	ck_assert(harness_recover(h, r, NULL) == 0);
	stuck = harness_publish(h, "stuck forever", only_q1);
	for (int round = 0; round < 300; round++) {
		uint64_t ids[10];
		for (int i = 0; i < 10; i++)
			ids[i] = harness_publish(h, "traffic traffic traffic traffic traffic",
						 only_q2);
		sync_and_wait(h);
		for (int i = 0; i < 10; i++)
			ck_assert_int_eq(store_dequeue(h->store, Q2, ids[i]), 0);
		sync_and_wait(h);
		store_get_stats(h->store, &st);
		if (round > 50 && st.disk_bytes > max_disk)
			max_disk = st.disk_bytes;
	}
	/* about 300 x 10 x 120 bytes = 90 segments of traffic went through */
	ck_assert_uint_le(max_disk, 6 * 4096);
	ck_assert_uint_le(harness_segment_count(h), 6);
	ck_assert_uint_eq(st.live_messages, 1);
	ck_assert_int_eq(store_message_read(h->store, stuck, &m, &block), 0);
	ck_assert_int_eq(memcmp(m.body, "stuck forever", 13), 0);
	free(block);
	harness_reopen(h);
	ck_assert_int_eq(harness_recover(h, r, NULL), 0);
	ck_assert_uint_eq(r->count, 1);
	ck_assert_uint_eq(r->msg_ids[0], stuck);
	ck_assert_str_eq(r->bodies[0], "stuck forever");
	ck_assert_int_eq(store_dequeue(h->store, Q1, stuck), 0);
	sync_and_wait(h);
	harness_reopen(h);
	ck_assert_int_eq(harness_recover(h, r, NULL), 0);
	ck_assert_uint_eq(r->count, 0);
	free(r);
	harness_free(h);
}
END_TEST

START_TEST(a_full_disk_fails_the_ticket_refuses_appends_and_keeps_synced_data)
{
	struct harness *h = harness_new(1 << 20);
	struct recovered *r = malloc(sizeof *r);
	struct rlimit old, lim;
	struct store_stats st;
	char path[300];
	uint64_t ids[10], ticket;
	long size;

	ck_assert(harness_recover(h, r, NULL) == 0);
	/* RLIMIT_FSIZE limits every file the process writes, Check's own report file included, so
	 * make the segment much larger than that file first: one big message, acked at once. */
	size_t big_len = 256 * 1024;
	char *big = malloc(big_len + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', big_len);
	big[big_len] = '\0';
	uint64_t filler = harness_publish(h, big, only_q1);
	free(big);
	ck_assert_int_eq(store_dequeue(h->store, Q1, filler), 0);
	for (int i = 0; i < 10; i++)
		ids[i] = harness_publish(h, "synced before the disk filled", only_q1);
	sync_and_wait(h);
	harness_segment_path(h, 1, path, sizeof path);
	size = harness_file_size(path);
	ck_assert_int_gt(size, 0);

	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)size + 100;
	/* No ck_assert while the limit is low: Check reports through a file of its own, and a
	 * write refused by RLIMIT_FSIZE would corrupt that report. Results are checked after. */
	int set_rc = setrlimit(RLIMIT_FSIZE, &lim);
	bool all_published = true;
	for (int i = 0; i < 50; i++)
		if (harness_publish(h, "this batch will not fit on the disk", only_q2) == 0)
			all_published = false;
	ticket = store_sync(h->store);
	bool synced = harness_wait(h, ticket);
	store_get_stats(h->store, &st);
	bool failed = st.failed;
	uint64_t refused = harness_publish(h, "refused", only_q2);
	int deq = store_dequeue(h->store, Q1, ids[0]); /* acks still count */
	long long full_size = (long long)harness_file_size(path);
	int restore_rc = setrlimit(RLIMIT_FSIZE, &old);
	ck_assert_int_eq(set_rc, 0);
	ck_assert_int_eq(restore_rc, 0);
	ck_assert(all_published);
	ck_assert(!synced);
	ck_assert(failed);
	ck_assert_uint_eq(refused, 0);
	ck_assert_int_eq(deq, 0);
	ck_assert_int_le(full_size, (long long)size + 100);

	/* space comes back: the retry timer writes the kept batch within a second or two */
	for (int spins = 0; spins < 50 && st.failed; spins++) {
		event_base_loop(h->base, EVLOOP_ONCE);
		store_get_stats(h->store, &st);
	}
	ck_assert(!st.failed);
	ck_assert_uint_gt(harness_publish(h, "accepted again", only_q1), 0);
	sync_and_wait(h);

	harness_reopen(h);
	ck_assert_int_eq(harness_recover(h, r, NULL), 0);
	/* 9 synced (one acked) + the retried 50 (the broker still holds them) + 1 */
	ck_assert_uint_eq(r->count, 60);
	for (int i = 0; i < 9; i++) {
		ck_assert_uint_eq(r->msg_ids[i], ids[i + 1]);
		ck_assert_str_eq(r->bodies[i], "synced before the disk filled");
	}
	ck_assert_str_eq(r->bodies[9], "accepted again");
	free(r);
	harness_free(h);
}
END_TEST

START_TEST(queue_ids_depend_on_vhost_and_name_and_are_never_zero)
{
	uint64_t a = store_queue_id("/", (const uint8_t *)"q", 1);

	ck_assert_uint_ne(a, 0);
	ck_assert_uint_eq(a, store_queue_id("/", (const uint8_t *)"q", 1));
	ck_assert_uint_ne(a, store_queue_id("other", (const uint8_t *)"q", 1));
	ck_assert_uint_ne(store_queue_id("ab", (const uint8_t *)"c", 1),
			  store_queue_id("a", (const uint8_t *)"bc", 2));
}
END_TEST

#define QV (STORE_QUEUE_VOLATILE | 0x4444)

START_TEST(messages_held_only_by_volatile_queues_never_come_back)
{
	struct harness *h = harness_new(4096);
	struct recovered *r = malloc(sizeof *r);
	static const uint64_t only_qv[] = { QV, 0 };
	static const uint64_t q1_qv[] = { Q1, QV, 0 };
	struct store_stats st;
	uint64_t paged[50], shared;

	ck_assert(harness_recover(h, r, NULL) == 0);
	for (int i = 0; i < 50; i++)
		paged[i] = harness_publish(h, "paged transient message body", only_qv);
	shared = harness_publish(h, "durable and paged", q1_qv);
	/* enough traffic to roll and compact the segments the paged messages live in */
	for (int round = 0; round < 100; round++) {
		uint64_t ids[10];
		for (int i = 0; i < 10; i++)
			ids[i] = harness_publish(h, "traffic traffic traffic traffic traffic", only_q2);
		sync_and_wait(h);
		for (int i = 0; i < 10; i++)
			ck_assert_int_eq(store_dequeue(h->store, Q2, ids[i]), 0);
		sync_and_wait(h);
	}
	store_get_stats(h->store, &st);
	ck_assert_uint_eq(st.live_messages, 51);
	for (int i = 0; i < 50; i++) {
		struct store_message m;
		void *block;
		ck_assert_int_eq(store_message_read(h->store, paged[i], &m, &block), 0);
		ck_assert_int_eq(memcmp(m.body, "paged transient", 15), 0);
		free(block);
	}
	ck_assert_int_eq(store_dequeue(h->store, QV, paged[0]), 0);
	ck_assert_int_eq(store_dequeue(h->store, QV, paged[0]), -1);
	sync_and_wait(h);
	harness_reopen(h);
	ck_assert_int_eq(harness_recover(h, r, NULL), 0);
	ck_assert_uint_eq(r->count, 1); /* only the durable queue's message */
	ck_assert_uint_eq(r->queue_ids[0], Q1);
	ck_assert_uint_eq(r->msg_ids[0], shared);
	free(r);
	harness_free(h);
}
END_TEST

struct read_many_ctx {
	unsigned calls, missing;
	char bodies[300][64];
};

static void read_many_one(void *arg, size_t i, const struct store_message *m)
{
	struct read_many_ctx *c = arg;

	ck_assert_uint_eq(i, c->calls);
	c->calls++;
	if (!m) {
		c->missing++;
		return;
	}
	ck_assert_uint_lt(m->body_len, 64);
	memcpy(c->bodies[i], m->body, m->body_len);
	c->bodies[i][m->body_len] = '\0';
}

START_TEST(many_messages_read_back_in_order_on_disk_and_in_the_batch)
{
	struct harness *h = harness_new(8192);
	struct read_many_ctx *c = calloc(1, sizeof *c);
	uint64_t ids[300];
	char body[32];

	ck_assert(harness_recover(h, NULL, NULL) == 0);
	for (int i = 0; i < 300; i++) {
		snprintf(body, sizeof body, "body %d", i);
		ids[i] = harness_publish(h, body, only_q1);
		if (i == 199)
			sync_and_wait(h); /* the last 100 are still in the pending batch */
	}
	ids[7] = ids[7] + 100000; /* unknown: reported, the rest still read */
	store_message_read_many(h->store, ids, 300, read_many_one, c);
	ck_assert_uint_eq(c->calls, 300);
	ck_assert_uint_eq(c->missing, 1);
	for (int i = 0; i < 300; i++) {
		if (i == 7)
			continue;
		snprintf(body, sizeof body, "body %d", i);
		ck_assert_str_eq(c->bodies[i], body);
	}
	free(c);
	harness_free(h);
}
END_TEST

START_TEST(the_index_costs_sixteen_bytes_per_message)
{
	struct harness *h = harness_new(0);
	size_t before;

	ck_assert(harness_recover(h, NULL, NULL) == 0);
	before = store_index_bytes(h->store);
	for (int i = 0; i < 100000; i++)
		ck_assert_uint_gt(harness_publish(h, "x", only_q1), 0);
	/* whole chunks of 4096 entries, plus the chunk table and the queue table */
	ck_assert_uint_le(store_index_bytes(h->store) - before, (100000 / 4096 + 1) * 4096 * 16 + 4096);
	harness_free(h);
}
END_TEST

START_TEST(store_flush_returns_once_every_append_is_on_disk_and_confirms_them)
{
	struct harness *h = harness_new(0);
	char path[300];
	long before;
	uint64_t ticket;

	ck_assert(harness_recover(h, NULL, NULL) == 0);
	ck_assert_uint_gt(harness_publish(h, "first", only_q1), 0);
	ticket = store_sync(h->store); /* on its way on the storage thread */
	ck_assert_uint_gt(harness_publish(h, "second", only_q1), 0);
	ck_assert_int_eq(store_queue_purge(h->store, Q2), 0);
	ck_assert_int_eq(store_flush(h->store), 0);
	/* both batches were reported, in order, from inside the call */
	ck_assert_uint_eq(h->synced_count, 2);
	ck_assert_uint_eq(h->tickets[0], ticket);
	ck_assert_uint_eq(h->tickets[1], ticket + 1);
	ck_assert(h->oks[0] && h->oks[1]);
	ck_assert(!h->off_loop);
	ck_assert(!store_has_pending(h->store));
	harness_segment_path(h, 1, path, sizeof path);
	before = harness_file_size(path);
	/* nothing was left for later: a second flush writes nothing */
	ck_assert_int_eq(store_flush(h->store), 0);
	ck_assert_int_eq(harness_file_size(path), before);
	ck_assert_uint_eq(h->synced_count, 2);
	harness_free(h);
}
END_TEST

static Suite *store_file_suite(void)
{
	Suite *s = suite_create("store_file");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, the_live_set_survives_a_restart_in_enqueue_order);
	tcase_add_test(tc, a_message_in_three_queues_is_written_once);
	tcase_add_test(tc, acked_messages_never_come_back);
	tcase_add_test(tc, ten_thousand_appends_cost_one_fdatasync);
	tcase_add_test(tc, synced_callbacks_run_on_the_loop_thread_in_ticket_order);
	tcase_add_test(tc, a_message_reads_back_before_and_after_its_sync);
	tcase_add_test(tc, segments_are_deleted_once_everything_in_them_is_acked);
	tcase_add_test(tc, one_stuck_message_does_not_make_disk_use_grow);
	tcase_add_test(tc, a_full_disk_fails_the_ticket_refuses_appends_and_keeps_synced_data);
	tcase_add_test(tc, queue_ids_depend_on_vhost_and_name_and_are_never_zero);
	tcase_add_test(tc, messages_held_only_by_volatile_queues_never_come_back);
	tcase_add_test(tc, many_messages_read_back_in_order_on_disk_and_in_the_batch);
	tcase_add_test(tc, store_flush_returns_once_every_append_is_on_disk_and_confirms_them);
	tcase_add_test(tc, the_index_costs_sixteen_bytes_per_message);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(store_file_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
