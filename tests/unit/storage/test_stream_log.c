/* tests/unit/storage/test_stream_log.c: a stream's segmented log: offsets, chunks, reading from
 * an offset or a time, recovery (a missing index, a torn tail), retention by whole segments,
 * its bytes riding on the store's group commit, and filtering readers skipping chunks by
 * their Bloom filters (chunks written before filters included). */
#include <check.h>
#include <dirent.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/store_record.h"
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

/* Appends one chunk of messages whose filter values are vals (NULL: none), flushed. */
static void append_chunk(struct slog *l, const char *const *vals, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char body[32];
		snprintf(body, sizeof body, "%s", vals[i] ? vals[i] : "-");
		struct store_message m = msg(body);
		uint64_t h = vals[i] ? sbloom_hash(vals[i], strlen(vals[i])) : 0;
		ck_assert_uint_ne(slog_append_filtered(l, &m, 1000, h), UINT64_MAX);
	}
	ck_assert_int_ge(slog_flush(l), 0);
}

static struct got *read_filtered(struct slog *l, const struct sbloom_want *w)
{
	static struct got g;
	struct slog_cursor cur = { .offset = 0, .filter = w };
	memset(&g, 0, sizeof g);
	while (cur.offset < slog_committed(l)) {
		int n = slog_read(l, &cur, 1000, collect, &g);
		if (n < 0)
			break;
	}
	return &g;
}

START_TEST(a_filtering_reader_skips_chunks_its_values_are_not_in_without_reading_them)
{
	struct harness *h = harness_new(0); /* for its log function */
	char dir[300], err[256], path[512];
	snprintf(dir, sizeof dir, "%s/stream", h->dir);
	struct slog *l = slog_open(dir, 0, err, sizeof err);
	ck_assert_ptr_nonnull(l);
	static const char *const a[] = { "red", "red" }, *const b[] = { "blue", "green" },
				 *const c[] = { NULL, NULL }, *const d[] = { "red", NULL };
	append_chunk(l, a, 2); /* offsets 0-1 */
	append_chunk(l, b, 2); /* 2-3 */
	append_chunk(l, c, 2); /* 4-5 */
	append_chunk(l, d, 2); /* 6-7 */
	slog_close(l);
	l = slog_open(dir, 0, err, sizeof err); /* the filters come back from the disk */
	ck_assert_ptr_nonnull(l);
	/* damage the messages of the "blue" chunk: a reader that reads them sees corruption
	 * (once the log is open: opening checks every chunk of the newest segment and would cut
	 * the log there) */
	snprintf(path, sizeof path, "%s/00000000000000000000.log", dir);
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	char buf[4096];
	ssize_t len = read(fd, buf, sizeof buf);
	char *blue = memmem(buf, (size_t)len, "blue", 4);
	ck_assert_ptr_nonnull(blue);
	ck_assert_int_eq(pwrite(fd, "BLUE", 4, blue - buf), 4);
	close(fd);

	uint64_t red = sbloom_hash("red", 3), read_n, skipped;
	struct sbloom_want want = { &red, 1, false };
	struct got *g = read_filtered(l, &want);
	/* the "red" chunks, whole: dropping the other messages of a chunk is the caller's */
	ck_assert_uint_eq(g->n, 4);
	ck_assert_uint_eq(g->offsets[0], 0);
	ck_assert_uint_eq(g->offsets[1], 1);
	ck_assert_uint_eq(g->offsets[2], 6);
	ck_assert_uint_eq(g->offsets[3], 7);
	slog_stats(l, &read_n, &skipped);
	ck_assert_uint_eq(read_n, 2);
	ck_assert_uint_eq(skipped, 2);
	ck_assert_ptr_null(harness_log_find("corrupt"));
	/* with the unfiltered messages too: the chunk without values is read as well */
	want.match_unfiltered = true;
	g = read_filtered(l, &want);
	ck_assert_uint_eq(g->n, 6);
	ck_assert_uint_eq(g->offsets[2], 4);
	ck_assert_ptr_null(harness_log_find("corrupt"));
	/* a reader without a filter reads the damaged chunk, and says so */
	g = read_filtered(l, NULL);
	ck_assert_ptr_nonnull(harness_log_find("corrupt"));
	slog_close(l);
	harness_free(h);
}
END_TEST

/* Writes a segment as a Warren before filters did: "WSCH" chunks, no filter block. */
static void write_old_segment(const char *dir, unsigned chunks)
{
	char path[512];
	snprintf(path, sizeof path, "%s/00000000000000000000.log", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	uint8_t seg[16] = { 'W', 'R', 'N', 'S', 'T', 'R', 'M', '1' };
	ck_assert_int_eq(write(fd, seg, sizeof seg), 16);
	for (unsigned i = 0; i < chunks; i++) {
		uint8_t c[64] = { 0 }, *r = c + 32;
		size_t rlen = 1 + 0 + 1 + 2 + 4 + 2 + 3; /* exchange "", key "rk", props, body */
		store_record_put_u32(r, (uint32_t)rlen);
		r[4] = 0;
		r[5] = 2;
		memcpy(r + 6, "rk", 2);
		store_record_put_u32(r + 8, 2);
		memcpy(r + 12, "\x00\x00", 2);
		snprintf((char *)r + 14, 4, "o%02u", i);
		uint32_t plen = (uint32_t)(4 + rlen);
		store_record_put_u32(c, 0x48435357u); /* "WSCH" */
		store_record_put_u64(c + 8, i);
		store_record_put_u64(c + 16, 1000);
		store_record_put_u32(c + 24, 1);
		store_record_put_u32(c + 28, plen);
		uint32_t crc = store_record_crc32c(0, c + 8, 24);
		store_record_put_u32(c + 4, store_record_crc32c(crc, c + 32, plen));
		ck_assert_int_eq(write(fd, c, 32 + plen), (ssize_t)(32 + plen));
	}
	close(fd);
}

START_TEST(chunks_written_before_filters_open_and_filtering_readers_read_them)
{
	const char *dir = new_dir();
	char err[256];
	write_old_segment(dir, 3);
	struct slog *l = slog_open(dir, 0, err, sizeof err);
	ck_assert_ptr_nonnull(l);
	ck_assert_uint_eq(slog_next(l), 3);
	static const char *const blue[] = { "blue" };
	append_chunk(l, blue, 1); /* offset 3, in the new format */
	uint64_t red = sbloom_hash("red", 3), read_n, skipped;
	struct sbloom_want want = { &red, 1, false };
	struct got *g = read_filtered(l, &want);
	/* the old chunks may hold anything: they are read; the new "blue" one is skipped */
	ck_assert_uint_eq(g->n, 3);
	ck_assert_str_eq(g->bodies[0], "o00");
	ck_assert_str_eq(g->bodies[2], "o02");
	slog_stats(l, &read_n, &skipped);
	ck_assert_uint_eq(read_n, 3);
	ck_assert_uint_eq(skipped, 1);
	g = read_from(l, 0, 10);
	ck_assert_uint_eq(g->n, 4);
	ck_assert_str_eq(g->bodies[3], "blue");
	slog_close(l);
	rm_dir(dir);
}
END_TEST

START_TEST(a_filtering_read_returns_after_a_bounded_number_of_skipped_chunks)
{
	const char *dir = new_dir();
	char err[256];
	struct slog *l = slog_open(dir, 0, err, sizeof err);
	static const char *const blue[] = { "blue" }, *const red[] = { "red" };
	for (int i = 0; i < 1500; i++)
		append_chunk(l, blue, 1);
	append_chunk(l, red, 1);
	uint64_t h = sbloom_hash("red", 3);
	struct sbloom_want want = { &h, 1, false };
	struct slog_cursor cur = { .offset = 0, .filter = &want };
	struct got g = { .n = 0 };
	ck_assert_int_eq(slog_read(l, &cur, 10, collect, &g), 0); /* the loop gets a turn */
	ck_assert_uint_gt(cur.offset, 0);
	ck_assert_uint_lt(cur.offset, 1500);
	ck_assert_int_eq(slog_read(l, &cur, 10, collect, &g), 1);
	ck_assert_uint_eq(g.offsets[0], 1500);
	slog_close(l);
	rm_dir(dir);
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
	tcase_add_test(tc, a_filtering_reader_skips_chunks_its_values_are_not_in_without_reading_them);
	tcase_add_test(tc, chunks_written_before_filters_open_and_filtering_readers_read_them);
	tcase_add_test(tc, a_filtering_read_returns_after_a_bounded_number_of_skipped_chunks);
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
