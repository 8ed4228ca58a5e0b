/* tests/unit/storage/test_store_replica.c: a follower's writer (storage/store_replica.c) fed by
 * a leader's tap (store_set_tap): the copy ends byte for byte equal and recovers the same
 * messages; a run that is corrupted, truncated, out of place or headless is refused and
 * nothing of it is written; fetched files are checked against the leader's checksum; only the
 * data directory's own file names are ever written. A stream's log (its own files under
 * streams/) rides along: the copy holds the same files and reads back the same messages, a
 * write lands at its offset, and a name from the wire outside streams/ is refused. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/store_record.h"
#include "storage/store_replica.h"
#include "storage/stream_log.h"
#include "storage_helpers.h"

#define Q1 0x1111

static const uint64_t only_q1[] = { Q1, 0 };

/* Every run the tap saw, kept for the tests that replay or damage them. */
struct tapped {
	struct store_replica *r;
	int errors;
	char err[512];
	struct run {
		uint32_t seg;
		uint64_t off;
		uint8_t *data;
		size_t len;
	} runs[4096];
	size_t run_count;
	unsigned batches, deletions, definitions, file_parts, files_removed;
};

static void tap_part(void *arg, uint32_t seg, uint64_t off, const uint8_t *data, size_t len)
{
	struct tapped *t = arg;
	if (t->run_count < sizeof t->runs / sizeof t->runs[0]) {
		struct run *r = &t->runs[t->run_count++];
		r->seg = seg;
		r->off = off;
		r->len = len;
		r->data = malloc(len);
		memcpy(r->data, data, len);
	}
	if (t->r && store_replica_part(t->r, seg, off, data, len, t->err, sizeof t->err) != 0)
		t->errors++;
}

static void tap_batch_end(void *arg, uint64_t ticket, uint64_t records)
{
	struct tapped *t = arg;
	(void)ticket, (void)records;
	t->batches++;
	if (t->r && store_replica_sync(t->r, t->err, sizeof t->err) != 0)
		t->errors++;
}

static void tap_deleted(void *arg, uint32_t seg)
{
	struct tapped *t = arg;
	t->deletions++;
	if (t->r && store_replica_delete_segment(t->r, seg, t->err, sizeof t->err) != 0)
		t->errors++;
}

static void tap_definitions(void *arg, const char *doc, size_t len)
{
	struct tapped *t = arg;
	t->definitions++;
	if (t->r && store_replica_definitions(t->r, doc, len, t->err, sizeof t->err) != 0)
		t->errors++;
}

static void tap_file(void *arg, const char *name, uint64_t off, const uint8_t *data, size_t len)
{
	struct tapped *t = arg;
	t->file_parts++;
	if (t->r && store_replica_file_part(t->r, name, off, data, len, t->err, sizeof t->err) != 0)
		t->errors++;
}

static void tap_file_removed(void *arg, const char *name)
{
	struct tapped *t = arg;
	t->files_removed++;
	if (t->r && store_replica_file_removed(t->r, name, t->err, sizeof t->err) != 0)
		t->errors++;
}

static const struct store_tap tap = { .part = tap_part,
				      .batch_end = tap_batch_end,
				      .segment_deleted = tap_deleted,
				      .definitions = tap_definitions,
				      .file = tap_file,
				      .file_removed = tap_file_removed };

static void tapped_free(struct tapped *t)
{
	for (size_t i = 0; i < t->run_count; i++)
		free(t->runs[i].data);
	store_replica_close(t->r);
	free(t);
}

static char *file_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	*len = fread(buf, 1, (size_t)n, f);
	fclose(f);
	return buf;
}

/* Every file of a's msgs/ and definitions.json is in b with the same bytes, and no more. */
static void assert_same_files(const char *a, const char *b)
{
	char pa[1024], pb[1024];
	struct dirent *de;
	DIR *d;
	unsigned n = 0;

	snprintf(pa, sizeof pa, "%s/msgs", a);
	d = opendir(pa);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		size_t la, lb;
		char *ca, *cb;
		if (de->d_name[0] == '.')
			continue;
		snprintf(pa, sizeof pa, "%s/msgs/%s", a, de->d_name);
		snprintf(pb, sizeof pb, "%s/msgs/%s", b, de->d_name);
		ca = file_read(pa, &la);
		cb = file_read(pb, &lb);
		ck_assert_msg(cb != NULL, "%s is missing from the copy", de->d_name);
		ck_assert_msg(la == lb && memcmp(ca, cb, la) == 0, "%s differs", de->d_name);
		free(ca);
		free(cb);
		n++;
	}
	closedir(d);
	snprintf(pb, sizeof pb, "%s/msgs", b);
	d = opendir(pb);
	while ((de = readdir(d)) != NULL)
		n -= de->d_name[0] != '.';
	closedir(d);
	ck_assert_msg(n == 0, "the copy has segments the leader does not");
}

START_TEST(a_follower_fed_by_the_tap_holds_the_leaders_bytes_and_recovers_its_messages)
{
	struct harness *h = harness_new(4096); /* small segments: they roll and get deleted */
	struct harness *copy;
	struct tapped *t = calloc(1, sizeof *t);
	char dir[300], err[256], body[64];
	uint64_t ids[400];
	struct recovered *r = malloc(sizeof *r);

	ck_assert_int_eq(harness_recover(h, r, NULL), 0);
	/* the follower's directory: a store of its own later, closed until then */
	copy = harness_new(4096);
	store_close(copy->store);
	copy->store = NULL;
	snprintf(dir, sizeof dir, "%s", copy->dir);
	t->r = store_replica_open(dir, true, err, sizeof err);
	ck_assert_msg(t->r != NULL, "%s", err);
	store_set_tap(h->store, &tap, t);
	for (int i = 0; i < 400; i++) {
		snprintf(body, sizeof body, "message %d of the replicated log", i);
		ids[i] = harness_publish(h, body, only_q1);
		if (i % 7 == 0)
			ck_assert(harness_wait(h, store_sync(h->store)));
	}
	ck_assert(harness_wait(h, store_sync(h->store)));
	/* acks empty the oldest segments, which the store deletes: the copy deletes them too */
	for (int i = 0; i < 300; i++)
		ck_assert_int_eq(store_dequeue(h->store, Q1, ids[i]), 0);
	ck_assert(harness_wait(h, store_sync(h->store)));
	ck_assert(harness_wait(h, store_sync(h->store)));
	ck_assert_int_eq(store_definitions_save(h->store, "{\"queues\":[]}", 13, err, sizeof err),
			 0);
	ck_assert_msg(t->errors == 0, "the replica refused a run: %s", t->err);
	ck_assert_uint_gt(t->deletions, 0);
	ck_assert_uint_eq(t->definitions, 1);
	assert_same_files(h->dir, dir);
	size_t la, lb;
	char pa[512], pb[512];
	snprintf(pa, sizeof pa, "%s/definitions.json", h->dir);
	snprintf(pb, sizeof pb, "%s/definitions.json", dir);
	char *da = file_read(pa, &la), *db = file_read(pb, &lb);
	ck_assert(da && db && la == lb && memcmp(da, db, la) == 0);
	free(da);
	free(db);

	/* the copy is a store of its own: the same 100 messages come back */
	store_replica_close(t->r);
	t->r = NULL;
	harness_reopen(copy);
	ck_assert_int_eq(harness_recover(copy, r, NULL), 0);
	ck_assert_uint_eq(r->count, 100);
	ck_assert_str_eq(r->bodies[0], "message 300 of the replicated log");
	harness_free(copy);
	store_set_tap(h->store, NULL, NULL);
	tapped_free(t);
	free(r);
	harness_free(h);
}
END_TEST

/* A leader's store with some batches tapped (not applied), for the damage tests. */
static struct tapped *tapped_runs(struct harness **hp)
{
	struct harness *h = harness_new(0);
	struct tapped *t = calloc(1, sizeof *t);
	char body[64];

	ck_assert_int_eq(harness_recover(h, NULL, NULL), 0);
	store_set_tap(h->store, &tap, t);
	for (int b = 0; b < 3; b++) {
		for (int i = 0; i < 5; i++) {
			snprintf(body, sizeof body, "batch %d message %d", b, i);
			harness_publish(h, body, only_q1);
		}
		ck_assert(harness_wait(h, store_sync(h->store)));
	}
	store_set_tap(h->store, NULL, NULL);
	ck_assert_uint_eq(t->run_count, 3);
	*hp = h;
	return t;
}

static struct store_replica *replica_in(const struct harness *h, char *dir, size_t len)
{
	char err[256];
	struct store_replica *r;

	(void)h;
	snprintf(dir, len, "/tmp/warren-replica-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	r = store_replica_open(dir, true, err, sizeof err);
	ck_assert_msg(r != NULL, "%s", err);
	return r;
}

static void remove_dir(const char *dir)
{
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static long segment_size(const char *dir, uint32_t seg)
{
	char path[512];
	struct stat st;
	snprintf(path, sizeof path, "%s/msgs/%08u.seg", dir, seg);
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

START_TEST(a_run_with_a_flipped_byte_is_refused_and_nothing_of_it_is_written)
{
	struct harness *h;
	struct tapped *t = tapped_runs(&h);
	char dir[300], err[512];
	struct store_replica *r = replica_in(h, dir, sizeof dir);
	struct run *first = &t->runs[0], *second = &t->runs[1];

	ck_assert_int_eq(store_replica_part(r, first->seg, first->off, first->data, first->len, err,
					    sizeof err), 0);
	long before = segment_size(dir, first->seg);
	for (size_t at = 0; at < second->len; at += 13) {
		second->data[at] ^= 0x20;
		ck_assert_int_eq(store_replica_part(r, second->seg, second->off, second->data,
						    second->len, err, sizeof err),
				 STORE_REPLICA_CORRUPT);
		second->data[at] ^= 0x20;
		ck_assert_int_eq(segment_size(dir, first->seg), before);
	}
	ck_assert_msg(strstr(err, "corrupt record") != NULL, "%s", err);
	/* the good run still goes on where the file ends: resuming from the last good place */
	ck_assert_int_eq(store_replica_part(r, second->seg, second->off, second->data, second->len,
					    err, sizeof err), 0);
	store_replica_close(r);
	t->r = NULL;
	tapped_free(t);
	remove_dir(dir);
	harness_free(h);
}
END_TEST

START_TEST(a_truncated_run_is_refused)
{
	struct harness *h;
	struct tapped *t = tapped_runs(&h);
	char dir[300], err[512];
	struct store_replica *r = replica_in(h, dir, sizeof dir);
	struct run *first = &t->runs[0], *second = &t->runs[1];

	ck_assert_int_eq(store_replica_part(r, first->seg, first->off, first->data, first->len, err,
					    sizeof err), 0);
	/* records are at least 24 bytes: no cut this short lands on a record boundary (a run cut
	 * at one holds whole records; the next run then does not continue the file) */
	for (size_t cut = 1; cut < 24; cut++)
		ck_assert_int_eq(store_replica_part(r, second->seg, second->off, second->data,
						    second->len - cut, err, sizeof err),
				 STORE_REPLICA_CORRUPT);
	ck_assert_msg(strstr(err, "truncated") != NULL || strstr(err, "corrupt") != NULL, "%s", err);
	store_replica_close(r);
	t->r = NULL;
	tapped_free(t);
	remove_dir(dir);
	harness_free(h);
}
END_TEST

START_TEST(a_run_that_does_not_continue_its_file_is_refused)
{
	struct harness *h;
	struct tapped *t = tapped_runs(&h);
	char dir[300], err[512];
	struct store_replica *r = replica_in(h, dir, sizeof dir);
	struct run *first = &t->runs[0], *third = &t->runs[2];

	/* a new segment must start with its header at offset 0 */
	ck_assert_int_eq(store_replica_part(r, first->seg, 0, first->data + STORE_SEGMENT_HEADER_SIZE,
					    first->len - STORE_SEGMENT_HEADER_SIZE, err, sizeof err),
			 STORE_REPLICA_CORRUPT);
	ck_assert_int_eq(store_replica_part(r, first->seg, first->off, first->data, first->len, err,
					    sizeof err), 0);
	/* the third batch before the second: a gap */
	ck_assert_int_eq(store_replica_part(r, third->seg, third->off, third->data, third->len, err,
					    sizeof err),
			 STORE_REPLICA_CORRUPT);
	ck_assert_msg(strstr(err, "where the file ends") != NULL, "%s", err);
	/* the first again: it does not continue the file either */
	ck_assert_int_eq(store_replica_part(r, first->seg, first->off, first->data, first->len, err,
					    sizeof err),
			 STORE_REPLICA_CORRUPT);
	store_replica_close(r);
	t->r = NULL;
	tapped_free(t);
	remove_dir(dir);
	harness_free(h);
}
END_TEST

START_TEST(a_fetched_file_must_match_the_leaders_checksum_and_name)
{
	char dir[] = "/tmp/warren-replica-XXXXXX", err[512];
	static const uint8_t bytes[] = "the whole file, as the leader has it";
	uint32_t crc = store_record_crc32c(0, bytes, sizeof bytes);
	struct store_replica *r;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	r = store_replica_open(dir, true, err, sizeof err);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(store_replica_file_begin(r, "msgs/00000007.seg", 0, err, sizeof err), 0);
	ck_assert_int_eq(store_replica_file_write(r, bytes, 10, err, sizeof err), 0);
	ck_assert_int_eq(store_replica_file_write(r, bytes + 10, sizeof bytes - 10, err, sizeof err),
			 0);
	ck_assert_int_eq(store_replica_file_end(r, sizeof bytes, crc ^ 1, err, sizeof err),
			 STORE_REPLICA_CORRUPT);
	/* the tail only, after a prefix that is already there */
	ck_assert_int_eq(store_replica_file_begin(r, "msgs/00000007.seg", 10, err, sizeof err), 0);
	ck_assert_int_eq(store_replica_file_write(r, bytes + 10, sizeof bytes - 10, err, sizeof err),
			 0);
	ck_assert_int_eq(store_replica_file_end(r, sizeof bytes, crc, err, sizeof err), 0);
	uint32_t have;
	ck_assert_int_eq(store_replica_crc(dir, "msgs/00000007.seg", sizeof bytes, &have), 0);
	ck_assert_uint_eq(have, crc);
	/* nothing outside the data directory's own names */
	ck_assert(!store_replica_name_ok("../../etc/passwd"));
	ck_assert(!store_replica_name_ok("msgs/../../x.seg"));
	ck_assert(!store_replica_name_ok("msgs/00000000.seg"));
	ck_assert(!store_replica_name_ok("cluster.state"));
	ck_assert(store_replica_name_ok("definitions.json"));
	ck_assert_int_eq(store_replica_file_begin(r, "msgs/../../evil.seg", 0, err, sizeof err),
			 STORE_REPLICA_CORRUPT);
	ck_assert_int_eq(store_replica_remove(r, "../cluster.state", err, sizeof err),
			 STORE_REPLICA_CORRUPT);
	ck_assert_int_eq(store_replica_truncate(r, "msgs/00000007.seg", 5, err, sizeof err), 0);
	ck_assert_int_eq(store_replica_crc(dir, "msgs/00000007.seg", sizeof bytes, &have), -1);
	ck_assert_int_eq(store_replica_remove(r, "msgs/00000007.seg", err, sizeof err), 0);
	store_replica_close(r);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(definitions_are_replaced_whole_and_the_previous_copy_is_kept)
{
	char dir[] = "/tmp/warren-replica-XXXXXX", err[512], path[300];
	struct store_replica *r;
	size_t len;
	char *doc;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	r = store_replica_open(dir, true, err, sizeof err);
	ck_assert_int_eq(store_replica_definitions(r, "{\"v\":1}", 7, err, sizeof err), 0);
	ck_assert_int_eq(store_replica_definitions(r, "{\"v\":2}", 7, err, sizeof err), 0);
	ck_assert_int_eq(store_replica_sync(r, err, sizeof err), 0);
	snprintf(path, sizeof path, "%s/definitions.json", dir);
	doc = file_read(path, &len);
	ck_assert(doc && len == 7 && memcmp(doc, "{\"v\":2}", 7) == 0);
	free(doc);
	snprintf(path, sizeof path, "%s/definitions.json.prev", dir);
	doc = file_read(path, &len);
	ck_assert(doc && len == 7 && memcmp(doc, "{\"v\":1}", 7) == 0);
	free(doc);
	store_replica_close(r);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- streams' files ---- */

#define STREAM_DIR "streams/00000000000000ab"
#define STREAM_LOG STREAM_DIR "/00000000000000000000.log"

static struct store_message stream_msg(const char *body)
{
	struct store_message m = {
		.exchange = (const uint8_t *)"",
		.routing_key = (const uint8_t *)"rk",
		.routing_key_len = 2,
		.props = (const uint8_t *)"\x00\x00",
		.props_len = 2,
		.body = (const uint8_t *)body,
		.body_len = strlen(body),
	};
	return m;
}

/* Every file under a/streams is in b/streams with the same bytes, and no more. */
static void assert_same_streams(const char *a, const char *b)
{
	char cmd[700];
	snprintf(cmd, sizeof cmd, "diff -r '%s/streams' '%s/streams' >&2", a, b);
	ck_assert_msg(system(cmd) == 0, "the streams' files differ (diff above)");
}

struct listed {
	char names[64][STORE_REPLICA_NAME_MAX];
	uint64_t sizes[64];
	size_t n;
};

static int list_one(void *arg, const char *name, uint64_t size)
{
	struct listed *l = arg;
	if (l->n < 64) {
		snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
		l->sizes[l->n++] = size;
	}
	return 0;
}

static int read_body(void *arg, const struct slog_entry *e)
{
	char (*bodies)[32] = arg;
	snprintf(bodies[e->offset], 32, "%.*s", (int)e->msg.body_len, (const char *)e->msg.body);
	return 0;
}

START_TEST(a_follower_fed_by_the_tap_holds_a_streams_files_and_reads_its_messages)
{
	struct harness *h = harness_new(0);
	struct tapped *t = calloc(1, sizeof *t);
	char dir[300], sdir[400], err[256], body[32];
	static char bodies[2000][32];
	struct slog *l;

	ck_assert_int_eq(harness_recover(h, NULL, NULL), 0);
	t->r = replica_in(h, dir, sizeof dir);
	store_set_tap(h->store, &tap, t);
	snprintf(sdir, sizeof sdir, "%s/" STREAM_DIR, h->dir);
	l = slog_open(sdir, 4096, err, sizeof err); /* small segments: they roll */
	ck_assert_msg(l != NULL, "%s", err);
	slog_attach(l, h->store);
	for (unsigned i = 0; i < 2000; i++) {
		snprintf(body, sizeof body, "stream message %u", i);
		struct store_message m = stream_msg(body);
		ck_assert_uint_eq(slog_append(l, &m, 1000 + i), i);
		slog_touch(l);
		if (i % 50 == 49)
			ck_assert(harness_wait(h, store_sync(h->store)));
	}
	ck_assert(harness_wait(h, store_sync(h->store)));
	ck_assert_msg(t->errors == 0, "the replica refused a write: %s", t->err);
	ck_assert_uint_gt(slog_segment_count(l), 3);
	assert_same_streams(h->dir, dir);

	/* retention drops the oldest segments: the copy drops them too */
	uint32_t segs = slog_segment_count(l);
	ck_assert_uint_gt(slog_trim(l, 3 * 4096, -1, 0), 0);
	ck_assert_uint_gt(t->files_removed, 0);
	ck_assert_uint_lt(slog_segment_count(l), segs);
	ck_assert_msg(t->errors == 0, "the replica refused a removal: %s", t->err);
	assert_same_streams(h->dir, dir);
	uint64_t first = slog_first(l);

	/* the catch-up of a follower that joins now lists the same files, with their sizes */
	struct listed *have = calloc(1, sizeof *have), *copy = calloc(1, sizeof *copy);
	ck_assert_int_eq(store_replica_list(h->dir, list_one, have), 0);
	ck_assert_int_eq(store_replica_list(dir, list_one, copy), 0);
	ck_assert_uint_eq(have->n, copy->n);
	size_t stream_files = 0;
	for (size_t i = 0; i < have->n; i++) {
		ck_assert_str_eq(have->names[i], copy->names[i]);
		ck_assert_uint_eq(have->sizes[i], copy->sizes[i]);
		ck_assert(store_replica_name_ok(have->names[i]));
		stream_files += strncmp(have->names[i], STREAM_DIR "/",
					strlen(STREAM_DIR) + 1) == 0;
	}
	ck_assert_uint_eq(stream_files, 2 * slog_segment_count(l));
	free(have);
	free(copy);

	/* the copy, opened as a stream's log, reads the same messages at the same offsets */
	ck_assert_int_eq(store_replica_sync(t->r, err, sizeof err), 0);
	snprintf(sdir, sizeof sdir, "%s/" STREAM_DIR, dir);
	struct slog *c = slog_open(sdir, 4096, err, sizeof err);
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(slog_first(c), first);
	ck_assert_uint_eq(slog_next(c), 2000);
	memset(bodies, 0, sizeof bodies);
	struct slog_cursor cur = { .offset = first };
	while (slog_read(c, &cur, 500, read_body, bodies) > 0)
		;
	for (uint64_t i = first; i < 2000; i++) {
		snprintf(body, sizeof body, "stream message %u", (unsigned)i);
		ck_assert_str_eq(bodies[i], body);
	}
	slog_close(c);

	/* the stream is deleted: its files and directory go from the copy too */
	slog_destroy(l);
	ck_assert_msg(t->errors == 0, "the replica refused a removal: %s", t->err);
	struct stat st;
	ck_assert_int_ne(stat(sdir, &st), 0);
	store_set_tap(h->store, NULL, NULL);
	store_replica_close(t->r);
	t->r = NULL;
	tapped_free(t);
	remove_dir(dir);
	harness_free(h);
}
END_TEST

START_TEST(a_streams_file_write_lands_at_its_offset_and_only_where_the_file_ends)
{
	char dir[] = "/tmp/warren-replica-XXXXXX", err[512], path[400];
	struct store_replica *r;
	size_t len;
	char *got;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	r = store_replica_open(dir, true, err, sizeof err);
	ck_assert_ptr_nonnull(r);
	/* the file and its directories are made by the first write */
	ck_assert_int_eq(store_replica_file_part(r, STREAM_LOG, 0, (const uint8_t *)"HEADER", 6,
						 err, sizeof err), 0);
	ck_assert_int_eq(store_replica_file_part(r, STREAM_LOG, 6, (const uint8_t *)"chunk-1", 7,
						 err, sizeof err), 0);
	/* bytes already there come again (a segment's header with its first chunk): the same
	 * bytes are fine, different ones are refused */
	ck_assert_int_eq(store_replica_file_part(r, STREAM_LOG, 0, (const uint8_t *)"HEADERchu", 9,
						 err, sizeof err), 0);
	ck_assert_int_eq(store_replica_file_part(r, STREAM_LOG, 3, (const uint8_t *)"XYZ", 3, err,
						 sizeof err), STORE_REPLICA_CORRUPT);
	ck_assert_msg(strstr(err, "differs") != NULL, "%s", err);
	/* a run past the end would leave a hole: refused, and the file stays as it was */
	ck_assert_int_eq(store_replica_file_part(r, STREAM_LOG, 14, (const uint8_t *)"gap", 3, err,
						 sizeof err), STORE_REPLICA_CORRUPT);
	ck_assert_msg(strstr(err, "where the file ends at 13") != NULL, "%s", err);
	ck_assert_int_eq(store_replica_file_part(r, STREAM_LOG, 1ull << 62, (const uint8_t *)"x",
						 1, err, sizeof err), STORE_REPLICA_CORRUPT);
	/* a run that overlaps the end writes only what is new */
	ck_assert_int_eq(store_replica_file_part(r, STREAM_LOG, 10, (const uint8_t *)"k-1chunk-2",
						 10, err, sizeof err), 0);
	ck_assert_int_eq(store_replica_sync(r, err, sizeof err), 0);
	snprintf(path, sizeof path, "%s/" STREAM_LOG, dir);
	got = file_read(path, &len);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(len, 20);
	ck_assert(memcmp(got, "HEADERchunk-1chunk-2", 20) == 0);
	free(got);
	/* removed: the file, then its directory with its last file */
	ck_assert_int_eq(store_replica_file_removed(r, STREAM_LOG, err, sizeof err), 0);
	ck_assert_int_eq(harness_file_size(path), -1);
	snprintf(path, sizeof path, "%s/" STREAM_DIR, dir);
	struct stat st;
	ck_assert_int_ne(stat(path, &st), 0);
	ck_assert_int_eq(store_replica_file_removed(r, STREAM_LOG, err, sizeof err), 0); /* again */
	store_replica_close(r);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(a_streams_file_name_from_the_wire_that_leaves_streams_is_refused)
{
	static const char *const bad[] = {
		"../../etc/passwd",
		"/etc/passwd",
		"streams/../../x",
		"streams/00000000000000ab/../../../../tmp/evil.log",
		"streams/00000000000000ab/../00000000000000000000.log",
		"streams/../00000000000000ab/0000000000000000000.log",
		"streams/00000000000000AB/00000000000000000000.log", /* not the broker's spelling */
		"streams/00000000000000ab/00000000000000000000.seg",
		"streams/00000000000000ab/00000000000000000000.log/",
		"streams/00000000000000ab/0000000000000000000a.log",
		"streams/00000000000000ab//0000000000000000000.log",
		"streams/00000000000000ab/00000000000000000000.log.tmp",
		"streams/00000000000000ab",
		"streams/",
		"msgs/00000001.seg", /* a log segment is not a stream's file */
		"definitions.json",
		"",
	};
	char dir[] = "/tmp/warren-replica-XXXXXX", err[512], path[300];
	struct store_replica *r;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	r = store_replica_open(dir, true, err, sizeof err);
	ck_assert_ptr_nonnull(r);
	ck_assert(store_replica_name_ok(STREAM_LOG));
	ck_assert(store_replica_name_ok(STREAM_DIR "/00000000000000004096.idx"));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(store_replica_file_part(r, bad[i], 0, (const uint8_t *)"x", 1, err,
							 sizeof err), STORE_REPLICA_CORRUPT);
		ck_assert_msg(strstr(err, "refusing") != NULL, "%s: %s", bad[i], err);
		ck_assert_int_eq(store_replica_file_removed(r, bad[i], err, sizeof err),
				 STORE_REPLICA_CORRUPT);
		if (i < 14) /* the others are names of the data directory's other files */
			ck_assert_msg(!store_replica_name_ok(bad[i]), "%s", bad[i]);
	}
	/* nothing was made: not even streams/ */
	snprintf(path, sizeof path, "%s/streams", dir);
	ck_assert_int_ne(stat(path, &st), 0);
	ck_assert_int_ne(stat("/tmp/evil.log", &st), 0);
	store_replica_close(r);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *store_replica_suite(void)
{
	Suite *s = suite_create("store_replica");
	TCase *tc = tcase_create("replica");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, a_follower_fed_by_the_tap_holds_the_leaders_bytes_and_recovers_its_messages);
	tcase_add_test(tc, a_run_with_a_flipped_byte_is_refused_and_nothing_of_it_is_written);
	tcase_add_test(tc, a_truncated_run_is_refused);
	tcase_add_test(tc, a_run_that_does_not_continue_its_file_is_refused);
	tcase_add_test(tc, a_fetched_file_must_match_the_leaders_checksum_and_name);
	tcase_add_test(tc, definitions_are_replaced_whole_and_the_previous_copy_is_kept);
	tcase_add_test(tc, a_follower_fed_by_the_tap_holds_a_streams_files_and_reads_its_messages);
	tcase_add_test(tc, a_streams_file_write_lands_at_its_offset_and_only_where_the_file_ends);
	tcase_add_test(tc, a_streams_file_name_from_the_wire_that_leaves_streams_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(store_replica_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
