/* tests/unit/storage/test_stream_bloom.c: the per-chunk Bloom filter of stream filter values:
 * no false negatives, a false positive rate near the design's, and the chunk decision a
 * filtering reader makes from a chunk's flags and bits. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "storage/stream_bloom.h"

static uint64_t h(const char *s)
{
	return sbloom_hash(s, strlen(s));
}

START_TEST(every_added_value_is_found_in_every_filter_size)
{
	static const size_t sizes[] = { SBLOOM_MIN_SIZE, 17, 64, SBLOOM_MAX_SIZE };
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		uint8_t bits[SBLOOM_MAX_SIZE] = { 0 };
		char v[32];
		for (int i = 0; i < 40; i++) {
			snprintf(v, sizeof v, "region-%d", i);
			sbloom_add(bits, sizes[s], h(v));
		}
		for (int i = 0; i < 40; i++) {
			snprintf(v, sizeof v, "region-%d", i);
			ck_assert(sbloom_may_contain(bits, sizes[s], h(v)));
		}
	}
}
END_TEST

START_TEST(ten_values_in_sixteen_bytes_give_about_one_percent_false_positives)
{
	uint8_t bits[SBLOOM_MIN_SIZE] = { 0 };
	char v[32];
	for (int i = 0; i < 10; i++) {
		snprintf(v, sizeof v, "value%d", i);
		sbloom_add(bits, sizeof bits, h(v));
	}
	int fp = 0;
	for (int i = 0; i < 100000; i++) {
		snprintf(v, sizeof v, "other%d", i);
		fp += sbloom_may_contain(bits, sizeof bits, h(v));
	}
	/* (1 - e^(-30/128))^3 = 0.9%: allow for the spread of one filter */
	ck_assert_int_lt(fp, 3000);
	ck_assert_int_gt(fp, 0);
}
END_TEST

START_TEST(similar_values_and_the_empty_value_hash_apart_and_never_to_zero)
{
	ck_assert_uint_ne(h("a"), h("b"));
	ck_assert_uint_ne(h("ab"), h("ba"));
	ck_assert_uint_ne(h(""), 0);
	uint8_t bits[SBLOOM_MIN_SIZE] = { 0 };
	ck_assert(!sbloom_may_contain(bits, sizeof bits, h("a")));
	ck_assert(!sbloom_may_contain(bits, 0, h("a")));
}
END_TEST

START_TEST(a_chunk_matches_by_its_values_or_by_its_unfiltered_messages_when_asked)
{
	uint8_t bits[SBLOOM_MIN_SIZE] = { 0 };
	sbloom_add(bits, sizeof bits, h("emea"));
	uint64_t want_emea = h("emea"), want_apac = h("apac");
	struct sbloom_want emea = { &want_emea, 1, false }, apac = { &want_apac, 1, false };
	struct sbloom_want apac_or_none = { &want_apac, 1, true }, none_only = { NULL, 0, true };

	ck_assert(sbloom_chunk_may_match(&emea, SBLOOM_HAS_VALUES, bits, sizeof bits));
	ck_assert(!sbloom_chunk_may_match(&apac, SBLOOM_HAS_VALUES, bits, sizeof bits));
	/* unfiltered messages only matter to a reader that asks for them */
	ck_assert(!sbloom_chunk_may_match(&apac, SBLOOM_HAS_VALUES | SBLOOM_HAS_UNFILTERED, bits,
					  sizeof bits));
	ck_assert(sbloom_chunk_may_match(&apac_or_none,
					 SBLOOM_HAS_VALUES | SBLOOM_HAS_UNFILTERED, bits,
					 sizeof bits));
	ck_assert(!sbloom_chunk_may_match(&apac_or_none, SBLOOM_HAS_VALUES, bits, sizeof bits));
	/* a chunk without values: its bits are not consulted */
	ck_assert(!sbloom_chunk_may_match(&emea, SBLOOM_HAS_UNFILTERED, bits, sizeof bits));
	ck_assert(sbloom_chunk_may_match(&none_only, SBLOOM_HAS_UNFILTERED, bits, sizeof bits));
	ck_assert(!sbloom_chunk_may_match(&none_only, SBLOOM_HAS_VALUES, bits, sizeof bits));
}
END_TEST

static Suite *stream_bloom_suite(void)
{
	Suite *s = suite_create("stream_bloom");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, every_added_value_is_found_in_every_filter_size);
	tcase_add_test(tc, ten_values_in_sixteen_bytes_give_about_one_percent_false_positives);
	tcase_add_test(tc, similar_values_and_the_empty_value_hash_apart_and_never_to_zero);
	tcase_add_test(tc, a_chunk_matches_by_its_values_or_by_its_unfiltered_messages_when_asked);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stream_bloom_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
