/* tests/unit/storage/test_store_replica.c: a follower's writer (storage/store_replica.c) fed by
 * a leader's tap (store_set_tap): the copy ends byte for byte equal and recovers the same
 * messages; a run that is corrupted, truncated, out of place or headless is refused and
 * nothing of it is written; fetched files are checked against the leader's checksum; only the
 * data directory's own file names are ever written. */
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
	unsigned batches, deletions, definitions;
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

static const struct store_tap tap = { tap_part, tap_batch_end, tap_deleted, tap_definitions };

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
