/* tests/unit/broker/cluster/test_repl_wire.c: the replication protocol's frames
 * (broker/cluster/repl_wire.c): what is encoded decodes the same; a frame cut short asks for
 * more; a flipped byte, an unknown type or an absurd length is refused; a PART's head is
 * checked before its data arrives; field reads past the end are flagged; the authentication
 * code depends on the password, the role, the nonce, the cluster and the name. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "broker/cluster/repl_wire.h"

static size_t encode_manifest(struct repl_buf *b)
{
	size_t at = repl_frame_begin(b, REPL_MANIFEST);
	repl_buf_u32(b, 2);
	repl_buf_str(b, "definitions.json");
	repl_buf_u64(b, 1234);
	repl_buf_u32(b, 0xdeadbeef);
	repl_buf_str(b, "msgs/00000001.seg");
	repl_buf_u64(b, 1ull << 33);
	repl_buf_u32(b, 7);
	repl_frame_end(b, at, 0);
	return at;
}

START_TEST(a_frame_decodes_to_what_was_encoded)
{
	struct repl_buf b = { 0 };
	struct repl_frame f;
	struct repl_reader r;
	char name[64];

	encode_manifest(&b);
	ck_assert(!b.oom);
	ck_assert_int_eq(repl_frame_decode(b.p, b.len, &f), (int64_t)b.len);
	ck_assert_int_eq(f.type, REPL_MANIFEST);
	repl_reader_init(&r, &f);
	ck_assert_uint_eq(repl_read_u32(&r), 2);
	repl_read_str(&r, name, sizeof name);
	ck_assert_str_eq(name, "definitions.json");
	ck_assert_uint_eq(repl_read_u64(&r), 1234);
	ck_assert_uint_eq(repl_read_u32(&r), 0xdeadbeef);
	repl_read_str(&r, name, sizeof name);
	ck_assert_str_eq(name, "msgs/00000001.seg");
	ck_assert_uint_eq(repl_read_u64(&r), 1ull << 33);
	ck_assert_uint_eq(repl_read_u32(&r), 7);
	ck_assert(!r.bad);
	repl_read_u8(&r);
	ck_assert(r.bad); /* past the end */
	repl_buf_free(&b);
}
END_TEST

START_TEST(a_frame_cut_short_asks_for_more)
{
	struct repl_buf b = { 0 };
	struct repl_frame f;

	encode_manifest(&b);
	for (size_t n = 0; n < b.len; n++)
		ck_assert_int_eq(repl_frame_decode(b.p, n, &f), 0);
	repl_buf_free(&b);
}
END_TEST

START_TEST(any_flipped_byte_of_a_control_frame_is_refused_or_asks_for_more)
{
	struct repl_buf b = { 0 };
	struct repl_frame f;

	encode_manifest(&b);
	for (size_t i = 0; i < b.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			b.p[i] ^= (uint8_t)(1u << bit);
			int64_t rc = repl_frame_decode(b.p, b.len, &f);
			/* a longer length waits for bytes that never come; everything else fails */
			ck_assert_msg(rc <= 0, "byte %zu bit %d passed", i, bit);
			b.p[i] ^= (uint8_t)(1u << bit);
		}
	}
	repl_buf_free(&b);
}
END_TEST

START_TEST(a_part_head_is_checked_before_its_data_and_its_data_is_left_to_the_records)
{
	struct repl_buf b = { 0 };
	struct repl_frame f;
	static const uint8_t data[100] = { 1, 2, 3 };
	struct repl_reader r;
	size_t n;

	size_t at = repl_frame_begin(&b, REPL_PART);
	repl_buf_u64(&b, 42);
	repl_buf_u32(&b, 3);
	repl_buf_u64(&b, 4096);
	repl_frame_end(&b, at, sizeof data);
	size_t head = b.len;
	repl_buf_bytes(&b, data, sizeof data);
	/* the head alone: good so far, wait for the data */
	ck_assert_int_eq(repl_frame_decode(b.p, head, &f), 0);
	b.p[head - 1] ^= 1; /* the offset's top byte: refused at once */
	ck_assert_int_eq(repl_frame_decode(b.p, head, &f), -1);
	b.p[head - 1] ^= 1;
	ck_assert_int_eq(repl_frame_decode(b.p, b.len, &f), (int64_t)b.len);
	repl_reader_init(&r, &f);
	ck_assert_uint_eq(repl_read_u64(&r), 42);
	ck_assert_uint_eq(repl_read_u32(&r), 3);
	ck_assert_uint_eq(repl_read_u64(&r), 4096);
	const uint8_t *rest = repl_read_rest(&r, &n);
	ck_assert_uint_eq(n, sizeof data);
	ck_assert_mem_eq(rest, data, sizeof data);
	repl_buf_free(&b);
}
END_TEST

START_TEST(lengths_and_types_out_of_range_are_refused)
{
	uint8_t p[16] = { 0 };
	struct repl_frame f;

	/* length 4: shorter than the type and crc */
	p[0] = 4;
	p[4] = REPL_ACK;
	ck_assert_int_eq(repl_frame_decode(p, sizeof p, &f), -1);
	/* a length past REPL_FRAME_MAX */
	p[0] = p[1] = p[2] = p[3] = 0xff;
	ck_assert_int_eq(repl_frame_decode(p, sizeof p, &f), -1);
	/* type 0 and a type past the last */
	memset(p, 0, sizeof p);
	p[0] = 5;
	p[4] = 0;
	ck_assert_int_eq(repl_frame_decode(p, sizeof p, &f), -1);
	p[4] = REPL_TYPE_MAX + 1;
	ck_assert_int_eq(repl_frame_decode(p, sizeof p, &f), -1);
}
END_TEST

START_TEST(a_string_longer_than_its_buffer_is_flagged)
{
	struct repl_buf b = { 0 };
	struct repl_frame f;
	struct repl_reader r;
	char small[4];

	size_t at = repl_frame_begin(&b, REPL_REFUSE);
	repl_buf_str(&b, "a reason longer than four bytes");
	repl_frame_end(&b, at, 0);
	ck_assert_int_gt(repl_frame_decode(b.p, b.len, &f), 0);
	repl_reader_init(&r, &f);
	repl_read_str(&r, small, sizeof small);
	ck_assert(r.bad);
	ck_assert_str_eq(small, "");
	repl_buf_free(&b);
}
END_TEST

START_TEST(the_mac_depends_on_every_input)
{
	uint8_t nonce[REPL_NONCE_LEN], other[REPL_NONCE_LEN], a[REPL_MAC_LEN], b[REPL_MAC_LEN];

	repl_nonce(nonce);
	repl_nonce(other);
	ck_assert(memcmp(nonce, other, sizeof nonce) != 0);
	repl_mac("pw", "follower", nonce, "warren@1", "n2", a);
	repl_mac("pw", "follower", nonce, "warren@1", "n2", b);
	ck_assert(repl_mac_equal(a, b));
	repl_mac("pw2", "follower", nonce, "warren@1", "n2", b);
	ck_assert(!repl_mac_equal(a, b));
	repl_mac("pw", "leader", nonce, "warren@1", "n2", b);
	ck_assert(!repl_mac_equal(a, b));
	repl_mac("pw", "follower", other, "warren@1", "n2", b);
	ck_assert(!repl_mac_equal(a, b));
	repl_mac("pw", "follower", nonce, "warren@2", "n2", b);
	ck_assert(!repl_mac_equal(a, b));
	repl_mac("pw", "follower", nonce, "warren@1", "n3", b);
	ck_assert(!repl_mac_equal(a, b));
	/* no password is a password too: the empty one, never equal to a set one */
	repl_mac(NULL, "follower", nonce, "warren@1", "n2", b);
	ck_assert(!repl_mac_equal(a, b));
}
END_TEST

static Suite *repl_wire_suite(void)
{
	Suite *s = suite_create("repl_wire");
	TCase *tc = tcase_create("frames");
	tcase_add_test(tc, a_frame_decodes_to_what_was_encoded);
	tcase_add_test(tc, a_frame_cut_short_asks_for_more);
	tcase_add_test(tc, any_flipped_byte_of_a_control_frame_is_refused_or_asks_for_more);
	tcase_add_test(tc, a_part_head_is_checked_before_its_data_and_its_data_is_left_to_the_records);
	tcase_add_test(tc, lengths_and_types_out_of_range_are_refused);
	tcase_add_test(tc, a_string_longer_than_its_buffer_is_flagged);
	tcase_add_test(tc, the_mac_depends_on_every_input);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(repl_wire_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
