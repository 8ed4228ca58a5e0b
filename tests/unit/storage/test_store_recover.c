/* tests/unit/storage/test_store_recover.c: recovery from crash-like damage: torn tails at every
 * byte, flipped bytes in the middle, empty segments, foreign files. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/store_record.h"
#include "storage_helpers.h"

#define Q1 0x1111

static const uint64_t only_q1[] = { Q1, 0 };

struct image {
	uint8_t *bytes;
	size_t len;
	size_t bounds[256]; /* record boundaries: bounds[0] = the end of the segment header */
	unsigned bound_count;
	struct store_salt salt;
};

static void read_image(const char *path, struct image *img)
{
	FILE *f = fopen(path, "rb");
	uint32_t version;
	long len;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	img->bytes = malloc((size_t)len + 1);
	img->len = fread(img->bytes, 1, (size_t)len, f);
	fclose(f);
	img->bound_count = 0;
	ck_assert_int_eq(store_segment_header_decode(img->bytes, img->len, &version, &img->salt),
			 STORE_SEGMENT_V2);
	for (size_t pos = STORE_SEGMENT_HEADER_SIZE;;) {
		struct store_record rec;
		int64_t n;

		ck_assert_uint_lt(img->bound_count, 256);
		img->bounds[img->bound_count++] = pos;
		if (pos == img->len)
			break;
		n = store_record_check(img->bytes + pos, img->len - pos, &rec, img->salt);
		ck_assert_int_gt(n, 0);
		pos += (size_t)n;
	}
}

static void write_segment(const struct harness *h, uint32_t no, const uint8_t *p, size_t len)
{
	char path[300];
	FILE *f;

	harness_segment_path(h, no, path, sizeof path);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, len, f), len);
	fclose(f);
}

/* A closed store with n messages "m<i>" on Q1 in segment 1, one group commit each: message,
 * enqueue and commit records (3 records per message); returns its bytes. */
static void make_image(unsigned n, struct image *img)
{
	struct harness *h = harness_new(0);
	char body[16], path[300];

	ck_assert(harness_recover(h, NULL, NULL) == 0);
	for (unsigned i = 1; i <= n; i++) {
		snprintf(body, sizeof body, "m%u", i);
		harness_publish(h, body, only_q1);
		ck_assert(harness_wait(h, store_sync(h->store)));
	}
	harness_segment_path(h, 1, path, sizeof path);
	read_image(path, img);
	ck_assert_uint_eq(img->bound_count, 3 * n + 1);
	harness_free(h);
}

START_TEST(a_torn_tail_at_any_byte_loses_only_the_incomplete_records)
{
	struct image img;
	struct recovered *r = malloc(sizeof *r);
	char path[300], body[16];

	make_image(8, &img);
	/* cut anywhere in the last three batches */
	for (size_t cut = img.bounds[15]; cut < img.len; cut++) {
		struct harness *h = harness_new(0);
		struct store_recovery_stats st;
		size_t keep = 0;
		unsigned whole = 0;

		store_close(h->store);
		write_segment(h, 1, img.bytes, cut);
		h->store = store_open(h->base, h->dir, &h->opt, path, sizeof path);
		ck_assert_ptr_nonnull(h->store);
		ck_assert_int_eq(harness_recover(h, r, &st), 0);
		for (unsigned b = 0; b < img.bound_count && img.bounds[b] <= cut; b++)
			whole = b;
		/* a message counts once its batch's commit record is whole; the whole records of
		 * an incomplete batch are dropped and cut off with the torn bytes */
		keep = img.bounds[whole / 3 * 3];
		ck_assert_uint_eq(st.torn_bytes_truncated, cut - keep);
		ck_assert_uint_eq(st.corrupt_records_skipped, 0);
		ck_assert_uint_eq(r->count, whole / 3);
		ck_assert_uint_eq(st.torn_records_discarded, whole % 3);
		for (unsigned i = 0; i < r->count; i++) {
			snprintf(body, sizeof body, "m%u", i + 1);
			ck_assert_str_eq(r->bodies[i], body);
		}
		harness_segment_path(h, 1, path, sizeof path);
		ck_assert_int_eq(harness_file_size(path), (long)keep);
		/* and the store goes on working after it */
		ck_assert_uint_gt(harness_publish(h, "after", only_q1), 0);
		ck_assert(harness_wait(h, store_sync(h->store)));
		harness_free(h);
	}
	free(img.bytes);
	free(r);
}
END_TEST

static void recover_with_flip(const struct image *img, size_t at, unsigned expect_count,
			      unsigned missing)
{
	struct harness *h = harness_new(0);
	struct recovered *r = malloc(sizeof *r);
	struct store_recovery_stats st;
	uint8_t *copy = malloc(img->len);
	char err[256];
	unsigned j = 0;

	memcpy(copy, img->bytes, img->len);
	copy[at] ^= 0x5a;
	store_close(h->store);
	write_segment(h, 1, copy, img->len);
	h->store = store_open(h->base, h->dir, &h->opt, err, sizeof err);
	ck_assert_int_eq(harness_recover(h, r, &st), 0);
	ck_assert_uint_eq(st.corrupt_records_skipped, 1);
	ck_assert_uint_eq(st.torn_bytes_truncated, 0);
	ck_assert_uint_eq(r->count, expect_count);
	for (unsigned i = 1; i <= 10; i++) {
		char body[16];
		if (i == missing)
			continue;
		snprintf(body, sizeof body, "m%u", i);
		ck_assert_str_eq(r->bodies[j++], body);
	}
	free(copy);
	free(r);
	harness_free(h);
}

START_TEST(a_flipped_byte_in_a_middle_record_skips_only_that_record)
{
	struct image img;

	make_image(10, &img);
	/* message 5 is record 12, its enqueue record 13, its batch's commit 14; a damaged record
	 * in a batch that later batches follow is damage after the fact: only it is skipped */
	recover_with_flip(&img, img.bounds[12] + 20, 9, 5);      /* in the payload */
	recover_with_flip(&img, img.bounds[12] + 9, 9, 5);       /* in the length field */
	recover_with_flip(&img, img.bounds[13] + 3, 9, 5);       /* the enqueue record's CRC */
	recover_with_flip(&img, img.bounds[13] + 16 + 8, 9, 5);  /* the enqueue's message id */
	recover_with_flip(&img, img.bounds[14] + 20, 10, 0);     /* the commit record */
	free(img.bytes);
}
END_TEST

START_TEST(zero_length_segments_are_harmless)
{
	struct image img;
	struct harness *h = harness_new(0);
	struct recovered *r = malloc(sizeof *r);
	struct store_recovery_stats st;
	char err[256], path[300];

	make_image(3, &img);
	store_close(h->store);
	write_segment(h, 1, (const uint8_t *)"", 0);
	write_segment(h, 2, img.bytes, img.len);
	write_segment(h, 3, (const uint8_t *)"", 0);
	h->store = store_open(h->base, h->dir, &h->opt, err, sizeof err);
	ck_assert_int_eq(harness_recover(h, r, &st), 0);
	ck_assert_uint_eq(st.segments, 3);
	ck_assert_uint_eq(r->count, 3);
	ck_assert_uint_eq(st.corrupt_records_skipped + st.torn_bytes_truncated, 0);
	ck_assert_uint_gt(harness_publish(h, "new", only_q1), 0);
	ck_assert(harness_wait(h, store_sync(h->store)));
	harness_segment_path(h, 4, path, sizeof path); /* new data goes to a new segment */
	ck_assert_int_gt(harness_file_size(path), 0);
	free(img.bytes);
	free(r);
	harness_free(h);
}
END_TEST

START_TEST(foreign_files_and_a_garbage_segment_do_not_stop_recovery)
{
	struct image img;
	struct harness *h = harness_new(0);
	struct recovered *r = malloc(sizeof *r);
	struct store_recovery_stats st;
	uint8_t junk[5000];
	char err[256], path[300];
	FILE *f;

	make_image(4, &img);
	store_close(h->store);
	srand(7);
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)rand();
	write_segment(h, 1, junk, sizeof junk);
	write_segment(h, 2, img.bytes, img.len);
	snprintf(path, sizeof path, "%s/msgs/notes.txt", h->dir);
	f = fopen(path, "w");
	fputs("not a segment\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/msgs/00000009.seg.bak", h->dir);
	f = fopen(path, "w");
	fwrite(junk, 1, 100, f);
	fclose(f);
	h->store = store_open(h->base, h->dir, &h->opt, err, sizeof err);
	ck_assert_ptr_nonnull(h->store);
	harness_log_clear();
	ck_assert_int_eq(harness_recover(h, r, &st), 0);
	ck_assert_uint_eq(st.segments, 2);
	ck_assert_uint_eq(st.corrupt_records_skipped, 1);
	ck_assert_uint_eq(r->count, 4);
	ck_assert_str_eq(r->bodies[3], "m4");
	/* storage logs through the function the program installed (storage_helpers.c) */
	ck_assert_ptr_nonnull(harness_log_find("ignoring unknown file"));
	ck_assert_ptr_nonnull(harness_log_find("notes.txt"));
	free(img.bytes);
	free(r);
	harness_free(h);
}
END_TEST

START_TEST(a_store_with_old_segments_refuses_appends_until_recovered)
{
	struct image img;
	struct harness *h = harness_new(0);
	char err[256];

	make_image(2, &img);
	store_close(h->store);
	write_segment(h, 1, img.bytes, img.len);
	h->store = store_open(h->base, h->dir, &h->opt, err, sizeof err);
	ck_assert_uint_eq(harness_publish(h, "too early", only_q1), 0);
	ck_assert_int_eq(harness_recover(h, NULL, NULL), 0);
	ck_assert_uint_eq(harness_publish(h, "now", only_q1), 3);
	free(img.bytes);
	harness_free(h);
}
END_TEST

struct failing_emit {
	unsigned calls, fail_at;
};

static int fail_on_nth(void *arg, uint64_t queue_id, uint64_t msg_id,
		       const struct store_message *m)
{
	struct failing_emit *f = arg;

	(void)queue_id, (void)msg_id, (void)m;
	return ++f->calls == f->fail_at ? -1 : 0;
}

START_TEST(a_message_the_broker_cannot_take_fails_recovery_and_changes_nothing)
{
	static const uint64_t q1_q2[] = { Q1, 0x2222, 0 };
	struct harness *h = harness_new(0);
	struct recovered *r = malloc(sizeof *r);
	struct store_recovery_stats st;
	struct failing_emit f = { 0, 4 };
	char body[16], err[256];
	uint64_t id;

	ck_assert_int_eq(harness_recover(h, NULL, NULL), 0);
	for (unsigned i = 1; i <= 10; i++) {
		snprintf(body, sizeof body, "m%u", i);
		id = harness_publish(h, body, q1_q2);
		ck_assert_uint_gt(id, 0);
	}
	ck_assert(harness_wait(h, store_sync(h->store)));
	harness_reopen(h);
	/* the 4th message handed over is refused (out of memory in the broker) */
	harness_log_clear();
	ck_assert_int_eq(store_recover(h->store, fail_on_nth, &f, &st), -1);
	ck_assert_uint_eq(f.calls, 4); /* and nothing more is handed over */
	/* the log says which message of which queue, and how many were not loaded */
	ck_assert_ptr_nonnull(harness_log_find(
		"recovery failed: the broker could not load message 4 (segment 00000001.seg"));
	ck_assert_ptr_nonnull(harness_log_find(
		"of queue id 0000000000001111; 17 messages in 2 queue(s) were not loaded (3 were)"));
	/* nothing may be written over what was not loaded: no appends, acks or purges */
	ck_assert_uint_eq(harness_publish(h, "after", only_q1), 0);
	ck_assert_int_eq(store_dequeue(h->store, Q1, 1), -1);
	ck_assert_int_eq(store_queue_purge(h->store, Q1), -1);
	/* the next start gets everything */
	harness_reopen(h);
	ck_assert_int_eq(harness_recover(h, r, &st), 0);
	ck_assert_uint_eq(r->count, 20);
	for (unsigned i = 0; i < 10; i++) {
		snprintf(body, sizeof body, "m%u", i + 1);
		ck_assert_uint_eq(r->queue_ids[i], Q1);
		ck_assert_str_eq(r->bodies[i], body);
		ck_assert_uint_eq(r->queue_ids[10 + i], 0x2222);
		ck_assert_str_eq(r->bodies[10 + i], body);
	}
	(void)err;
	free(r);
	harness_free(h);
}
END_TEST

START_TEST(a_segment_that_cannot_be_read_fails_recovery_instead_of_being_skipped)
{
	struct image img;
	struct harness *h = harness_new(0);
	struct recovered *r = malloc(sizeof *r);
	char err[256], path[300];

	if (geteuid() == 0) {
		/* root reads a mode-000 file anyway: make the segment a directory instead */
		make_image(3, &img);
		store_close(h->store);
		write_segment(h, 1, img.bytes, img.len);
		harness_segment_path(h, 2, path, sizeof path);
		ck_assert_int_eq(mkdir(path, 0755), 0);
	} else {
		make_image(3, &img);
		store_close(h->store);
		write_segment(h, 1, img.bytes, img.len);
		write_segment(h, 2, img.bytes, img.len);
		harness_segment_path(h, 2, path, sizeof path);
		ck_assert_int_eq(chmod(path, 0), 0);
	}
	h->store = store_open(h->base, h->dir, &h->opt, err, sizeof err);
	ck_assert_ptr_nonnull(h->store);
	harness_log_clear();
	ck_assert_int_eq(harness_recover(h, r, NULL), -1);
	ck_assert_ptr_nonnull(harness_log_find("storage: recovery failed: cannot "));
	ck_assert_uint_eq(harness_publish(h, "after", only_q1), 0);
	free(img.bytes);
	free(r);
	harness_free(h);
}
END_TEST

/* A record of the unsalted scheme (format 1), built by hand: what a client can put in a body. */
static size_t forge_record(uint8_t *p, uint8_t type, uint64_t a, uint64_t b)
{
	uint32_t len = type == STORE_RECORD_PURGE ? 8 : 16;

	memset(p, 0, 16);
	p[4] = STORE_RECORD_MAGIC;
	p[5] = type;
	store_record_put_u32(p + 8, len);
	store_record_put_u64(p + 16, a);
	if (len == 16)
		store_record_put_u64(p + 24, b);
	store_record_put_u32(p + 12, store_record_crc32c(0, p + 16, len));
	store_record_put_u32(p, store_record_crc32c(0, p + 4, 12));
	return 16 + len;
}

static long find_bytes(const uint8_t *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(hay + i, needle, k) == 0)
			return (long)i;
	return -1;
}

START_TEST(a_record_forged_inside_a_message_body_is_never_replayed)
{
	static const uint64_t only_q2[] = { 0x2222, 0 }, only_q4[] = { 0x4444, 0 };
	struct harness *h = harness_new(0);
	struct recovered *r = malloc(sizeof *r);
	struct store_recovery_stats st;
	uint8_t body[200], *seg;
	char path[300], err[256];
	uint64_t victim1, victim2;
	size_t n = 0;
	long at, len;
	FILE *f;

	ck_assert_int_eq(harness_recover(h, NULL, NULL), 0);
	victim1 = harness_publish(h, "victim-1", only_q1);
	victim2 = harness_publish(h, "victim-2", only_q2);
	ck_assert(harness_wait(h, store_sync(h->store)));
	/* a client knows the queue ids (a hash of vhost and name) and can guess message ids */
	memcpy(body, "forgery:", 8);
	n = 8;
	n += forge_record(body + n, STORE_RECORD_DEQUEUE, Q1, victim1);
	n += forge_record(body + n, STORE_RECORD_PURGE, 0x2222, 0);
	n += forge_record(body + n, STORE_RECORD_ENQUEUE, 0x3333, victim1);
	{
		static const uint8_t props[] = { 0x10, 0x00, 0x02 };
		struct store_message m = { (const uint8_t *)"amq.direct", 10, (const uint8_t *)"rk",
					   2, props, 3, body, n };
		uint64_t id = store_message_add(h->store, &m);
		ck_assert_uint_gt(id, 0);
		ck_assert_int_eq(store_enqueue(h->store, only_q4[0], id), 0);
	}
	ck_assert(harness_wait(h, store_sync(h->store)));
	store_close(h->store);
	/* the write of that record tore: its header never reached the disk */
	harness_segment_path(h, 1, path, sizeof path);
	len = harness_file_size(path);
	seg = malloc((size_t)len);
	f = fopen(path, "rb");
	ck_assert_uint_eq(fread(seg, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	at = find_bytes(seg, (size_t)len, "forgery:");
	ck_assert_int_gt(at, 0);
	/* body - (record header, fixed message fields, exchange, routing key, props) */
	memset(seg + at - (16 + 16 + 10 + 2 + 3), 0, 16);
	write_segment(h, 1, seg, (size_t)len);
	h->store = store_open(h->base, h->dir, &h->opt, err, sizeof err);
	ck_assert_ptr_nonnull(h->store);
	ck_assert_int_eq(harness_recover(h, r, &st), 0);
	/* both victims are still queued where they were, and nowhere else */
	ck_assert_uint_eq(r->count, 2);
	ck_assert_uint_eq(r->queue_ids[0], Q1);
	ck_assert_str_eq(r->bodies[0], "victim-1");
	ck_assert_uint_eq(r->queue_ids[1], 0x2222);
	ck_assert_str_eq(r->bodies[1], "victim-2");
	ck_assert_uint_ge(st.corrupt_records_skipped, 1);
	ck_assert_uint_eq(r->msg_ids[1], victim2);
	free(seg);
	free(r);
	harness_free(h);
}
END_TEST

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[4096];
	size_t n;

	ck_assert_msg(in != NULL, "cannot open %s", from);
	ck_assert_ptr_nonnull(out);
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	fclose(out);
}

/* tests/unit/storage/data/v1: written by Warren 0.1.0's store (see data/README.md). */
START_TEST(a_format_1_message_log_written_by_0_1_0_still_recovers)
{
	static const struct {
		uint64_t queue, id;
		const char *body;
	} want[] = {
		{ Q1, 1, "golden-stuck" }, { Q1, 28, "golden-3" },   { Q1, 30, "golden-5" },
		{ 0x2222, 27, "golden-2" }, { 0x2222, 28, "golden-3" }, { 0x2222, 29, "golden-4" },
		{ 0x2222, 31, "golden-6" },
	};
	struct harness *h = harness_new(1024);
	struct recovered *r = malloc(sizeof *r);
	struct store_recovery_stats st;
	char from[512], to[300];
	uint8_t head[64];
	uint32_t version;
	struct store_salt salt;
	FILE *f;

	store_close(h->store);
	for (uint32_t no = 4; no <= 5; no++) {
		snprintf(from, sizeof from, "%s/v1/msgs/%08u.seg", STORAGE_TEST_DATA, no);
		harness_segment_path(h, no, to, sizeof to);
		copy_file(from, to);
	}
	h->store = store_open(h->base, h->dir, &h->opt, to, sizeof to);
	ck_assert_ptr_nonnull(h->store);
	ck_assert_int_eq(harness_recover(h, r, &st), 0);
	ck_assert_uint_eq(st.corrupt_records_skipped + st.torn_bytes_truncated, 0);
	ck_assert_uint_eq(r->count, 7);
	for (unsigned i = 0; i < 7; i++) {
		ck_assert_uint_eq(r->queue_ids[i], want[i].queue);
		ck_assert_uint_eq(r->msg_ids[i], want[i].id);
		ck_assert_str_eq(r->bodies[i], want[i].body);
	}
	/* new records go to a format 2 segment after them; ids go on */
	ck_assert_uint_eq(harness_publish(h, "after-upgrade", only_q1), 34);
	ck_assert_int_eq(store_dequeue(h->store, 0x2222, 27), 0);
	ck_assert(harness_wait(h, store_sync(h->store)));
	harness_segment_path(h, 6, to, sizeof to);
	f = fopen(to, "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fread(head, 1, sizeof head, f), sizeof head);
	fclose(f);
	ck_assert_int_eq(store_segment_header_decode(head, sizeof head, &version, &salt),
			 STORE_SEGMENT_V2);
	/* both formats side by side */
	harness_reopen(h);
	ck_assert_int_eq(harness_recover(h, r, &st), 0);
	ck_assert_uint_eq(r->count, 7);
	ck_assert_str_eq(r->bodies[3], "after-upgrade");
	ck_assert_str_eq(r->bodies[4], "golden-3");
	/* once only golden-stuck is live in it, the format 1 segment is compacted into a format
	 * 2 one and deleted */
	ck_assert_int_eq(store_dequeue(h->store, Q1, 28), 0);
	ck_assert_int_eq(store_dequeue(h->store, Q1, 30), 0);
	ck_assert_int_eq(store_dequeue(h->store, 0x2222, 28), 0);
	ck_assert_int_eq(store_dequeue(h->store, 0x2222, 29), 0);
	ck_assert_int_eq(store_dequeue(h->store, 0x2222, 31), 0);
	harness_segment_path(h, 4, to, sizeof to);
	for (int i = 0; i < 400 && harness_file_size(to) >= 0; i++) {
		uint64_t id = harness_publish(h, "filler-filler-filler-filler", only_q1);
		ck_assert(harness_wait(h, store_sync(h->store)));
		ck_assert_int_eq(store_dequeue(h->store, Q1, id), 0);
		ck_assert(harness_wait(h, store_sync(h->store)));
	}
	ck_assert_int_lt(harness_file_size(to), 0);
	harness_reopen(h);
	ck_assert_int_eq(harness_recover(h, r, &st), 0);
	ck_assert_uint_eq(st.corrupt_records_skipped + st.torn_bytes_truncated, 0);
	ck_assert_uint_eq(r->count, 2);
	ck_assert_str_eq(r->bodies[0], "golden-stuck");
	ck_assert_uint_eq(r->msg_ids[0], 1);
	ck_assert_str_eq(r->bodies[1], "after-upgrade");
	free(r);
	harness_free(h);
}
END_TEST

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	ck_assert_uint_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

START_TEST(a_segment_of_a_newer_format_is_refused_and_left_as_it_is)
{
	struct harness *h = harness_new(0);
	char path[300], err[256];
	uint8_t *before, *after;
	size_t len, len2;

	ck_assert_int_eq(harness_recover(h, NULL, NULL), 0);
	ck_assert_uint_gt(harness_publish(h, "kept", only_q1), 0);
	ck_assert(harness_wait(h, store_sync(h->store)));
	store_close(h->store);
	harness_segment_path(h, 1, path, sizeof path);
	before = slurp(path, &len);
	store_record_put_u32(before + 8, STORE_FORMAT_VERSION + 1);
	before = realloc(before, len + 7); /* and a torn tail, which must not be truncated */
	memset(before + len, 0xee, 7);
	len += 7;
	write_segment(h, 1, before, len);
	h->store = store_open(h->base, h->dir, &h->opt, err, sizeof err);
	ck_assert_ptr_nonnull(h->store);
	harness_log_clear();
	ck_assert_int_eq(harness_recover(h, NULL, NULL), -1);
	char want[200];
	snprintf(want, sizeof want, "00000001.seg was written by a newer Warren (data format %d; "
		 "this build reads formats 1 to %d); refusing to start rather than misread it",
		 STORE_FORMAT_VERSION + 1, STORE_FORMAT_VERSION);
	ck_assert_ptr_nonnull(harness_log_find(want));
	ck_assert_uint_eq(harness_publish(h, "refused", only_q1), 0);
	store_close(h->store);
	h->store = NULL;
	after = slurp(path, &len2);
	ck_assert_uint_eq(len2, len);
	ck_assert_int_eq(memcmp(before, after, len), 0);
	ck_assert_uint_eq(harness_segment_count(h), 1);
	h->store = store_open(h->base, h->dir, &h->opt, err, sizeof err);
	free(before);
	free(after);
	harness_free(h);
}
END_TEST

START_TEST(a_headerless_file_after_a_format_2_segment_is_not_read_as_format_1)
{
	struct harness *h = harness_new(0);
	struct recovered *r = malloc(sizeof *r);
	struct store_recovery_stats st;
	uint8_t forged[64];
	char err[256];
	uint64_t victim;
	size_t n = 0;

	ck_assert_int_eq(harness_recover(h, NULL, NULL), 0);
	victim = harness_publish(h, "victim", only_q1);
	ck_assert(harness_wait(h, store_sync(h->store)));
	store_close(h->store);
	/* as if segment 2's header had been lost and its first sectors held a body's bytes */
	n += forge_record(forged + n, STORE_RECORD_DEQUEUE, Q1, victim);
	n += forge_record(forged + n, STORE_RECORD_PURGE, Q1, 0);
	write_segment(h, 2, forged, n);
	h->store = store_open(h->base, h->dir, &h->opt, err, sizeof err);
	ck_assert_int_eq(harness_recover(h, r, &st), 0);
	ck_assert_uint_eq(r->count, 1);
	ck_assert_str_eq(r->bodies[0], "victim");
	ck_assert_uint_eq(st.corrupt_records_skipped, 1);
	free(r);
	harness_free(h);
}
END_TEST

/* The records of the last batch of segment 1, with its record boundaries. */
static void last_batch(const struct image *img, size_t *from)
{
	/* the batch starts after the commit before the last commit */
	unsigned commits = 0;

	for (unsigned b = img->bound_count - 1; b-- > 0;) {
		if (img->bytes[img->bounds[b] + 5] == STORE_RECORD_COMMIT && ++commits == 2) {
			*from = img->bounds[b + 1];
			return;
		}
	}
	*from = STORE_SEGMENT_HEADER_SIZE;
}

/* A dead-letter, a delayed message falling due: a copy of a message is written to another
 * queue and, in the same group commit, the original is dequeued. */
static void move_in_one_batch(struct harness *h, uint64_t from_q, uint64_t to_q, uint64_t id,
			      const char *body)
{
	static const uint64_t none[] = { 0 };
	uint64_t copy = harness_publish(h, body, none);

	ck_assert_int_eq(store_enqueue(h->store, to_q, copy), 0);
	ck_assert_int_eq(store_dequeue(h->store, from_q, id), 0);
	ck_assert(harness_wait(h, store_sync(h->store)));
}

START_TEST(a_batch_torn_by_a_power_cut_is_replayed_whole_or_not_at_all)
{
	struct harness *h = harness_new(0);
	struct recovered *r = malloc(sizeof *r);
	struct image img;
	char path[300], err[256];
	uint64_t id;
	size_t from;

	ck_assert_int_eq(harness_recover(h, NULL, NULL), 0);
	id = harness_publish(h, "confirmed", only_q1);
	ck_assert(harness_wait(h, store_sync(h->store))); /* the publisher got its confirm */
	move_in_one_batch(h, Q1, 0x2222, id, "dead-lettered copy with a longer body");
	store_close(h->store);
	h->store = NULL;
	harness_segment_path(h, 1, path, sizeof path);
	read_image(path, &img);
	last_batch(&img, &from);
	/* the power went while that batch was written: any part of it may be missing (zeros), or
	 * everything after a point */
	for (size_t hole = from; hole < img.len; hole += 3) {
		for (int mode = 0; mode < 2; mode++) {
			struct store_recovery_stats st;
			uint8_t *copy = malloc(img.len);
			size_t len = img.len;

			memcpy(copy, img.bytes, img.len);
			if (mode == 0)
				memset(copy + hole, 0, hole + 11 < img.len ? 11 : img.len - hole);
			else
				len = hole;
			if ((mode == 0 && memcmp(copy, img.bytes, img.len) == 0) ||
			    (mode == 1 && hole == from)) {
				free(copy); /* nothing of the batch lost, or all of it */
				continue;
			}
			write_segment(h, 1, copy, len);
			free(copy);
			h->store = store_open(h->base, h->dir, &h->opt, err, sizeof err);
			ck_assert_ptr_nonnull(h->store);
			ck_assert_int_eq(harness_recover(h, r, &st), 0);
			/* the original is still queued: the dequeue was not replayed without its copy */
			ck_assert_uint_eq(r->count, 1);
			ck_assert_uint_eq(r->queue_ids[0], Q1);
			ck_assert_str_eq(r->bodies[0], "confirmed");
			ck_assert_uint_gt(st.torn_records_discarded + st.torn_bytes_truncated, 0);
			/* and cut off, so the next start does not meet it again */
			ck_assert_int_eq(harness_file_size(path), (long)from);
			store_close(h->store);
			h->store = NULL;
		}
	}
	/* whole, it is replayed */
	write_segment(h, 1, img.bytes, img.len);
	h->store = store_open(h->base, h->dir, &h->opt, err, sizeof err);
	ck_assert_int_eq(harness_recover(h, r, NULL), 0);
	ck_assert_uint_eq(r->count, 1);
	ck_assert_uint_eq(r->queue_ids[0], 0x2222);
	free(img.bytes);
	free(r);
	harness_free(h);
}
END_TEST

START_TEST(a_batch_that_began_in_a_deleted_segment_is_replayed)
{
	struct harness *h = harness_new(1024);
	struct recovered *r = malloc(sizeof *r);
	char path[300], body[64];

	ck_assert_int_eq(harness_recover(h, NULL, NULL), 0);
	/* batch A: three messages published and acked, about half of segment 1 */
	for (unsigned i = 0; i < 3; i++) {
		snprintf(body, sizeof body, "a-%u-padding-padding-padding-padding", i);
		ck_assert_int_eq(store_dequeue(h->store, Q1, harness_publish(h, body, only_q1)), 0);
	}
	ck_assert(harness_wait(h, store_sync(h->store)));
	/* batch B starts in segment 1 and ends in segment 2: six more acked, one that stays */
	for (unsigned i = 0; i < 6; i++) {
		snprintf(body, sizeof body, "b-%u-padding-padding-padding-padding", i);
		ck_assert_int_eq(store_dequeue(h->store, Q1, harness_publish(h, body, only_q1)), 0);
	}
	ck_assert_uint_gt(harness_publish(h, "stays", only_q1), 0);
	ck_assert(harness_wait(h, store_sync(h->store)));
	/* segment 1 held nothing live once B was on disk: deleted; B is the run's last batch */
	harness_segment_path(h, 1, path, sizeof path);
	ck_assert_int_lt(harness_file_size(path), 0);
	harness_segment_path(h, 2, path, sizeof path);
	ck_assert_int_gt(harness_file_size(path), 0);
	harness_reopen(h);
	ck_assert_int_eq(harness_recover(h, r, NULL), 0);
	ck_assert_uint_eq(r->count, 1);
	ck_assert_str_eq(r->bodies[0], "stays");
	free(r);
	harness_free(h);
}
END_TEST

static Suite *store_recover_suite(void)
{
	Suite *s = suite_create("store_recover");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, a_torn_tail_at_any_byte_loses_only_the_incomplete_records);
	tcase_add_test(tc, a_flipped_byte_in_a_middle_record_skips_only_that_record);
	tcase_add_test(tc, zero_length_segments_are_harmless);
	tcase_add_test(tc, foreign_files_and_a_garbage_segment_do_not_stop_recovery);
	tcase_add_test(tc, a_store_with_old_segments_refuses_appends_until_recovered);
	tcase_add_test(tc, a_message_the_broker_cannot_take_fails_recovery_and_changes_nothing);
	tcase_add_test(tc, a_segment_that_cannot_be_read_fails_recovery_instead_of_being_skipped);
	tcase_add_test(tc, a_record_forged_inside_a_message_body_is_never_replayed);
	tcase_add_test(tc, a_format_1_message_log_written_by_0_1_0_still_recovers);
	tcase_add_test(tc, a_segment_of_a_newer_format_is_refused_and_left_as_it_is);
	tcase_add_test(tc, a_headerless_file_after_a_format_2_segment_is_not_read_as_format_1);
	tcase_add_test(tc, a_batch_torn_by_a_power_cut_is_replayed_whole_or_not_at_all);
	tcase_add_test(tc, a_batch_that_began_in_a_deleted_segment_is_replayed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(store_recover_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
