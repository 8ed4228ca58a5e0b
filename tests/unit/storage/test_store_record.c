/* tests/unit/storage/test_store_record.c: CRC32C and the record codec. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "storage/store_record.h"

START_TEST(crc32c_matches_the_published_check_values)
{
	static const uint8_t zeros[32] = { 0 };
	uint8_t ones[32];

	memset(ones, 0xff, sizeof ones);
	ck_assert_uint_eq(store_record_crc32c(0, "123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(store_record_crc32c(0, zeros, 32), 0x8a9136aau); /* RFC 3720 B.4 */
	ck_assert_uint_eq(store_record_crc32c(0, ones, 32), 0x62a8ab43u);
	ck_assert_uint_eq(store_record_crc32c(0, "", 0), 0);
}
END_TEST

START_TEST(crc32c_chains_across_split_buffers_at_any_alignment)
{
	uint8_t buf[301];

	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	uint32_t whole = store_record_crc32c(0, buf, sizeof buf);
	for (size_t cut = 0; cut <= sizeof buf; cut += 13)
		ck_assert_uint_eq(store_record_crc32c(store_record_crc32c(0, buf, cut), buf + cut,
						      sizeof buf - cut),
				  whole);
	for (size_t off = 1; off < 8; off++) /* unaligned starts take the byte-wise head */
		ck_assert_uint_eq(store_record_crc32c(0, buf + off, 100),
				  store_record_crc32c(store_record_crc32c(0, buf + off, 50),
						      buf + off + 50, 50));
}
END_TEST

static const struct store_salt salt = { 0x1234abcd, 0x9876fedc };

static uint8_t *encode_message(const char *body, const uint64_t *queues, uint16_t nq, size_t *len)
{
	struct store_message m = {
		.exchange = (const uint8_t *)"ex",
		.exchange_len = 2,
		.routing_key = (const uint8_t *)"key",
		.routing_key_len = 3,
		.props = (const uint8_t *)"\x80\x00",
		.props_len = 2,
		.body = (const uint8_t *)body,
		.body_len = strlen(body),
	};
	uint64_t plen = store_record_message_len(&m, nq);
	uint8_t *p = malloc(STORE_RECORD_HEADER_SIZE + plen);

	ck_assert_uint_gt(plen, 0);
	store_record_message_encode(p + STORE_RECORD_HEADER_SIZE, 42, &m, queues, nq);
	store_record_seal(p, nq ? STORE_RECORD_MOVED : STORE_RECORD_MESSAGE, (uint32_t)plen, salt);
	*len = STORE_RECORD_HEADER_SIZE + plen;
	return p;
}

START_TEST(a_message_record_decodes_to_what_was_encoded)
{
	static const uint64_t queues[] = { 7, 9 };
	size_t len;
	uint8_t *p = encode_message("hello", queues, 2, &len);
	struct store_record rec;
	struct store_record_message rm;

	ck_assert_int_eq(store_record_check(p, len, &rec, salt), (int64_t)len);
	ck_assert_int_eq(rec.type, STORE_RECORD_MOVED);
	ck_assert_int_eq(store_record_message_decode(rec.payload, rec.len, &rm), 0);
	ck_assert_uint_eq(rm.msg_id, 42);
	ck_assert_uint_eq(rm.queue_count, 2);
	ck_assert_uint_eq(store_record_get_u64(rm.queue_ids + 8), 9);
	ck_assert_uint_eq(rm.m.exchange_len, 2);
	ck_assert_int_eq(memcmp(rm.m.routing_key, "key", 3), 0);
	ck_assert_uint_eq(rm.m.props_len, 2);
	ck_assert_uint_eq(rm.m.body_len, 5);
	ck_assert_int_eq(memcmp(rm.m.body, "hello", 5), 0);
	free(p);
}
END_TEST

START_TEST(every_flipped_bit_makes_the_record_invalid_and_every_cut_incomplete)
{
	size_t len;
	uint8_t *p = encode_message("a body of some length", NULL, 0, &len);
	struct store_record rec;

	for (size_t i = 0; i < len * 8; i++) {
		p[i / 8] ^= (uint8_t)(1u << (i % 8));
		ck_assert_int_le(store_record_check(p, len, &rec, salt), 0);
		p[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	for (size_t cut = 0; cut < len; cut++)
		ck_assert_int_eq(store_record_check(p, cut, &rec, salt), 0);
	free(p);
}
END_TEST

START_TEST(names_longer_than_a_shortstr_are_refused)
{
	static uint8_t name[300];
	struct store_message m = { .exchange = name, .exchange_len = 256 };

	ck_assert_uint_eq(store_record_message_len(&m, 0), 0);
	m.exchange_len = 255;
	ck_assert_uint_gt(store_record_message_len(&m, 0), 0);
}
END_TEST

START_TEST(a_record_checks_only_under_the_salts_it_was_sealed_with)
{
	size_t len;
	uint8_t *p = encode_message("body", NULL, 0, &len);
	struct store_record rec;
	struct store_salt other = salt;

	ck_assert_int_eq(store_record_check(p, len, &rec, salt), (int64_t)len);
	ck_assert_int_eq(store_record_check(p, len, &rec, STORE_SALT_NONE), -1);
	for (int bit = 0; bit < 32; bit++) { /* either salt alone is not enough */
		other.header = salt.header ^ (1u << bit);
		ck_assert_int_eq(store_record_check(p, len, &rec, other), -1);
		other.header = salt.header;
		other.payload = salt.payload ^ (1u << bit);
		ck_assert_int_eq(store_record_check(p, len, &rec, other), -1);
		other.payload = salt.payload;
	}
	/* format 1 records are the {0, 0} case */
	store_record_seal(p, STORE_RECORD_MESSAGE, (uint32_t)(len - STORE_RECORD_HEADER_SIZE),
			  STORE_SALT_NONE);
	ck_assert_uint_eq(store_record_get_u32(p), store_record_crc32c(0, p + 4, 12));
	ck_assert_int_eq(store_record_check(p, len, &rec, STORE_SALT_NONE), (int64_t)len);
	free(p);
}
END_TEST

START_TEST(a_segment_header_round_trips_and_says_what_it_is)
{
	uint8_t h[STORE_SEGMENT_HEADER_SIZE + 4];
	struct store_salt got = { 0, 0 }, fresh;
	uint32_t version = 0;

	ck_assert(store_salt_new(&fresh));
	ck_assert(fresh.header != 0 || fresh.payload != 0);
	store_segment_header_encode(h, fresh);
	ck_assert_int_eq(store_segment_header_decode(h, sizeof h, &version, &got),
			 STORE_SEGMENT_V2);
	ck_assert_uint_eq(version, STORE_FORMAT_VERSION);
	ck_assert_uint_eq(got.header, fresh.header);
	ck_assert_uint_eq(got.payload, fresh.payload);
	/* only part of it written yet: nothing in the file */
	ck_assert_int_eq(store_segment_header_decode(h, 20, &version, &got), STORE_SEGMENT_EMPTY);
	/* a flipped bit in the salt */
	h[13] ^= 4;
	ck_assert_int_eq(store_segment_header_decode(h, sizeof h, &version, &got),
			 STORE_SEGMENT_DAMAGED);
	h[13] ^= 4;
	/* a newer format is recognised by magic and version alone, whatever follows */
	store_record_put_u32(h + 8, STORE_FORMAT_VERSION + 1);
	ck_assert_int_eq(store_segment_header_decode(h, sizeof h, &version, &got),
			 STORE_SEGMENT_NEWER);
	ck_assert_uint_eq(version, STORE_FORMAT_VERSION + 1);
	ck_assert_int_eq(store_segment_header_decode(h, 12, &version, &got), STORE_SEGMENT_NEWER);
	/* a format 1 file starts with a record, whose byte 4 is never the header's */
	ck_assert_int_ne(((const uint8_t *)STORE_SEGMENT_MAGIC)[4], STORE_RECORD_MAGIC);
	{
		size_t len;
		uint8_t *p = encode_message("x", NULL, 0, &len);
		ck_assert_int_eq(store_segment_header_decode(p, len, &version, &got),
				 STORE_SEGMENT_V1);
		free(p);
	}
}
END_TEST

static Suite *store_record_suite(void)
{
	Suite *s = suite_create("store_record");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, crc32c_matches_the_published_check_values);
	tcase_add_test(tc, crc32c_chains_across_split_buffers_at_any_alignment);
	tcase_add_test(tc, a_message_record_decodes_to_what_was_encoded);
	tcase_add_test(tc, every_flipped_bit_makes_the_record_invalid_and_every_cut_incomplete);
	tcase_add_test(tc, names_longer_than_a_shortstr_are_refused);
	tcase_add_test(tc, a_record_checks_only_under_the_salts_it_was_sealed_with);
	tcase_add_test(tc, a_segment_header_round_trips_and_says_what_it_is);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(store_record_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
