/* tests/unit/storage/test_stream_log.c: a stream's segmented log: offsets, chunks, reading from
 * an offset or a time, recovery (a missing index, a torn tail), retention by whole segments,
 * and its bytes riding on the store's group commit. */
#include <check.h>
#include <dirent.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/stream_log.h"
#include "storage_helpers.h"

static struct store_message msg(const char *body)
{
	struct store_message m = {
		.exchange = (const uint8_t *)"",
		.exchange_len = 0,
		.routing_key = (const uint8_t *)"rk",
		.routing_key_len = 2,
		.props = (const uint8_t *)"\x00\x00",
		.props_len = 2,
		.body = (const uint8_t *)body,
		.body_len = strlen(body),
	};
	return m;
}

static char tmpdir[256];

static const char *new_dir(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/warren-slog-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	return tmpdir;
}

static void rm_dir(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

struct got {
	uint64_t offsets[1024];
	char bodies[1024][32];
	size_t n;
};

static int collect(void *arg, const struct slog_entry *e)
{
	struct got *g = arg;
	g->offsets[g->n] = e->offset;
	snprintf(g->bodies[g->n], sizeof g->bodies[0], "%.*s", (int)e->msg.body_len,
		 (const char *)e->msg.body);
	g->n++;
	return 0;
}

static struct got *read_from(struct slog *l, uint64_t offset, size_t max)
{
	static struct got g;
	struct slog_cursor cur = { .offset = offset };
	memset(&g, 0, sizeof g);
	while (g.n < max) {
		int n = slog_read(l, &cur, max - g.n, collect, &g);
		if (n <= 0)
			break;
	}
	return &g;
}

static void append_n(struct slog *l, unsigned from, unsigned n, uint64_t ts, bool flush_each)
{
	char body[32];
	for (unsigned i = from; i < from + n; i++) {
		snprintf(body, sizeof body, "m%u", i);
		struct store_message m = msg(body);
		ck_assert_uint_eq(slog_append(l, &m, ts), i);
		if (flush_each)
			ck_assert_int_ge(slog_flush(l), 0);
	}
}

START_TEST(offsets_count_from_zero_and_readers_see_only_written_chunks)
{
	const char *dir = new_dir();
	char err[256];
	struct slog *l = slog_open(dir, 0, err, sizeof err);
	ck_assert_ptr_nonnull(l);
	append_n(l, 0, 3, 1000, false);
	ck_assert_uint_eq(slog_next(l), 3);
	ck_assert_uint_eq(slog_committed(l), 0);
	ck_assert_uint_eq(read_from(l, 0, 10)->n, 0);
	ck_assert_int_ge(slog_flush(l), 0);
	ck_assert_uint_eq(slog_committed(l), 3);
	struct got *g = read_from(l, 1, 10);
	ck_assert_uint_eq(g->n, 2);
	ck_assert_uint_eq(g->offsets[0], 1);
	ck_assert_str_eq(g->bodies[1], "m2");
	slog_close(l);
	rm_dir(dir);
}
END_TEST

START_TEST(last_is_the_start_of_the_newest_chunk_and_time_finds_the_first_chunk_at_or_after)
{
	const char *dir = new_dir();
	char err[256];
	struct slog *l = slog_open(dir, 0, err, sizeof err);
	append_n(l, 0, 4, 1000, false);
	slog_flush(l);
	append_n(l, 4, 3, 2000, false);
	slog_flush(l);
	append_n(l, 7, 2, 3000, false);
	slog_flush(l);
	ck_assert_uint_eq(slog_last_chunk(l), 7);
	ck_assert_uint_eq(slog_offset_at(l, 0), 0);
	ck_assert_uint_eq(slog_offset_at(l, 1500), 4);
	ck_assert_uint_eq(slog_offset_at(l, 2000), 4);
	ck_assert_uint_eq(slog_offset_at(l, 2500), 7);
	ck_assert_uint_eq(slog_offset_at(l, 9999), 9); /* nothing that late: the end */
	slog_close(l);
	rm_dir(dir);
}
END_TEST

START_TEST(a_reopened_log_goes_on_where_it_stopped_across_segments)
{
	const char *dir = new_dir();
	char err[256];
	struct slog *l = slog_open(dir, 4096, err, sizeof err);
	append_n(l, 0, 300, 1000, true); /* ~80-byte chunks: many 4 KiB segments */
	ck_assert_uint_gt(slog_segment_count(l), 3);
	uint32_t segs = slog_segment_count(l);
	slog_close(l);
	l = slog_open(dir, 4096, err, sizeof err);
	ck_assert_ptr_nonnull(l);
	ck_assert_uint_eq(slog_segment_count(l), segs);
	ck_assert_uint_eq(slog_next(l), 300);
	append_n(l, 300, 2, 1000, true);
	struct got *g = read_from(l, 0, 1000);
	ck_assert_uint_eq(g->n, 302);
	for (size_t i = 0; i < g->n; i++)
		ck_assert_uint_eq(g->offsets[i], i);
	g = read_from(l, 157, 3);
	ck_assert_str_eq(g->bodies[0], "m157");
	ck_assert_str_eq(g->bodies[2], "m159");
	slog_close(l);
	rm_dir(dir);
}
END_TEST

START_TEST(a_torn_tail_is_cut_and_a_lost_index_is_rebuilt)
{
	struct harness *h = harness_new(0); /* for its log function */
	char dir[300], err[256], path[512];
	snprintf(dir, sizeof dir, "%s/stream", h->dir);
	struct slog *l = slog_open(dir, 0, err, sizeof err);
	append_n(l, 0, 5, 1000, true);
	slog_close(l);
	/* half a chunk at the end of the log, and no index at all */
	snprintf(path, sizeof path, "%s/00000000000000000000.log", dir);
	int fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "WSCHgarbage", 11), 11);
	close(fd);
	snprintf(path, sizeof path, "%s/00000000000000000000.idx", dir);
	ck_assert_int_eq(unlink(path), 0);
	l = slog_open(dir, 0, err, sizeof err);
	ck_assert_ptr_nonnull(l);
	ck_assert_uint_eq(slog_next(l), 5);
	ck_assert_uint_eq(slog_last_chunk(l), 4);
	ck_assert_ptr_nonnull(harness_log_find("torn or corrupt"));
	append_n(l, 5, 1, 1000, true);
	struct got *g = read_from(l, 0, 100);
	ck_assert_uint_eq(g->n, 6);
	ck_assert_str_eq(g->bodies[5], "m5");
	slog_close(l);
	harness_free(h);
}
END_TEST

/* After a power cut the head segment may hold a later chunk without an earlier one (each
 * unsynced write lands or not on its own), with the index listing both. */
START_TEST(a_chunk_lost_from_the_head_segment_cuts_the_stream_there_whatever_the_index_says)
{
	struct harness *h = harness_new(0); /* for its log function */
	char dir[300], err[256], path[512];
	snprintf(dir, sizeof dir, "%s/stream", h->dir);
	struct slog *l = slog_open(dir, 0, err, sizeof err);
	append_n(l, 0, 6, 1000, true); /* six chunks of one message */
	slog_close(l);
	/* the fourth chunk's write never reached the disk: zeros where it was */
	snprintf(path, sizeof path, "%s/00000000000000000000.idx", dir);
	int ifd = open(path, O_RDONLY);
	ck_assert_int_ge(ifd, 0);
	uint8_t e[24 * 5];
	ck_assert_int_eq(pread(ifd, e, sizeof e, 0), (ssize_t)sizeof e);
	close(ifd);
	uint32_t at = (uint32_t)(e[3 * 24 + 16] | e[3 * 24 + 17] << 8 | e[3 * 24 + 18] << 16 |
				 (uint32_t)e[3 * 24 + 19] << 24);
	uint32_t end = (uint32_t)(e[4 * 24 + 16] | e[4 * 24 + 17] << 8 | e[4 * 24 + 18] << 16 |
				  (uint32_t)e[4 * 24 + 19] << 24);
	static const uint8_t zeros[4096];
	snprintf(path, sizeof path, "%s/00000000000000000000.log", dir);
	int fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, zeros, end - at, at), (ssize_t)(end - at));
	close(fd);

	l = slog_open(dir, 0, err, sizeof err);
	ck_assert_ptr_nonnull(l);
	ck_assert_uint_eq(slog_next(l), 3); /* m3 lost, so m4 and m5 go too: no gap */
	ck_assert_ptr_nonnull(harness_log_find("torn or corrupt"));
	append_n(l, 3, 2, 1000, true); /* offsets 3 and 4 again, readable */
	struct got *g = read_from(l, 0, 100);
	ck_assert_uint_eq(g->n, 5);
	for (unsigned i = 0; i < 5; i++)
		ck_assert_uint_eq(g->offsets[i], i);
	ck_assert_str_eq(g->bodies[4], "m4");
	slog_close(l);
	harness_free(h);
}
END_TEST

START_TEST(a_reader_goes_on_past_a_segment_missing_between_others)
{
	const char *dir = new_dir();
	char err[256], path[512];
	struct slog *l = slog_open(dir, 4096, err, sizeof err);
	append_n(l, 0, 300, 1000, true);
	ck_assert_uint_gt(slog_segment_count(l), 3);
	slog_close(l);
	/* the second segment's files go */
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	uint64_t firsts[64];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL && n < 64)
		if (strstr(de->d_name, ".log"))
			firsts[n++] = strtoull(de->d_name, NULL, 10);
	closedir(d);
	uint64_t victim = UINT64_MAX, lowest = UINT64_MAX;
	for (size_t i = 0; i < n; i++)
		lowest = firsts[i] < lowest ? firsts[i] : lowest;
	for (size_t i = 0; i < n; i++)
		if (firsts[i] > lowest && firsts[i] < victim)
			victim = firsts[i];
	snprintf(path, sizeof path, "%s/%020" PRIu64 ".log", dir, victim);
	ck_assert_int_eq(unlink(path), 0);
	snprintf(path, sizeof path, "%s/%020" PRIu64 ".idx", dir, victim);
	ck_assert_int_eq(unlink(path), 0);

	l = slog_open(dir, 4096, err, sizeof err);
	ck_assert_ptr_nonnull(l);
	struct got *g = read_from(l, 0, 1000);
	ck_assert_uint_gt(g->n, 0);
	ck_assert_uint_lt(g->n, 300);
	ck_assert_uint_eq(g->offsets[g->n - 1], 299); /* it reached the end */
	for (size_t i = 1; i < g->n; i++)
		ck_assert_uint_gt(g->offsets[i], g->offsets[i - 1]);
	slog_close(l);
	rm_dir(dir);
}
END_TEST

START_TEST(retention_drops_whole_segments_from_the_head_never_the_head_segment)
{
	const char *dir = new_dir();
	char err[256];
	struct slog *l = slog_open(dir, 4096, err, sizeof err);
	append_n(l, 0, 400, 1000, true);
	uint64_t before = slog_bytes(l);
	ck_assert_uint_gt(slog_trim(l, 10000, -1, 0), 0);
	ck_assert_uint_le(slog_bytes(l), 10000);
	ck_assert_uint_lt(slog_bytes(l), before);
	uint64_t first = slog_first(l);
	ck_assert_uint_gt(first, 0);
	struct got *g = read_from(l, 0, 1000); /* from before the first kept: from it */
	ck_assert_uint_eq(g->offsets[0], first);
	ck_assert_uint_eq(g->n, 400 - first);
	/* by age: every segment older than the cut but the head */
	ck_assert_uint_gt(slog_trim(l, -1, 500, 2000), 0);
	ck_assert_uint_eq(slog_segment_count(l), 1);
	ck_assert_uint_eq(slog_next(l), 400);
	slog_close(l);
	rm_dir(dir);
}
END_TEST

START_TEST(a_touched_log_is_written_and_synced_by_the_stores_next_batch)
{
	struct harness *h = harness_new(0);
	char dir[512], err[256];
	snprintf(dir, sizeof dir, "%s/streams/s1", h->dir);
	struct slog *l = slog_open(dir, 0, err, sizeof err);
	ck_assert_ptr_nonnull(l);
	slog_attach(l, h->store);
	append_n(l, 0, 3, 1000, false);
	slog_touch(l);
	ck_assert(store_has_pending(h->store));
	uint64_t ticket = store_sync(h->store);
	ck_assert_uint_gt(ticket, 0);
	ck_assert(harness_wait(h, ticket));
	ck_assert_uint_eq(slog_committed(l), 3);
	ck_assert_uint_eq(read_from(l, 0, 10)->n, 3);
	slog_close(l);
	harness_free(h);
}
END_TEST

static Suite *stream_log_suite(void)
{
	Suite *s = suite_create("stream_log");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, offsets_count_from_zero_and_readers_see_only_written_chunks);
	tcase_add_test(tc, last_is_the_start_of_the_newest_chunk_and_time_finds_the_first_chunk_at_or_after);
	tcase_add_test(tc, a_reopened_log_goes_on_where_it_stopped_across_segments);
	tcase_add_test(tc, a_torn_tail_is_cut_and_a_lost_index_is_rebuilt);
	tcase_add_test(tc,
		       a_chunk_lost_from_the_head_segment_cuts_the_stream_there_whatever_the_index_says);
	tcase_add_test(tc, a_reader_goes_on_past_a_segment_missing_between_others);
	tcase_add_test(tc, retention_drops_whole_segments_from_the_head_never_the_head_segment);
	tcase_add_test(tc, a_touched_log_is_written_and_synced_by_the_stores_next_batch);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stream_log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
