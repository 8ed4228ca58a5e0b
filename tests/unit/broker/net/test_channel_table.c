/* tests/unit/broker/test_channel_table.c: broker/channel_table.c, a connection's channels by
 * number: agreement with a plain array under random opens and closes, what sparse numbers cost,
 * shrinking after a flood, and short probe runs for numbers a client picks to collide. The
 * table never dereferences its channels, so the tests store marker addresses. */
#include "broker/net/channel_table.h"

#include <check.h>
#include <stdlib.h>

static char markers[65536];

static struct channel *marker(uint16_t id)
{
	return (struct channel *)(void *)&markers[id];
}

static uint32_t table_capacity(const struct channel_table *t)
{
	return t->slots ? t->mask + 1 : 0;
}

/* The longest distance of any entry from the slot its number hashes to. */
static uint32_t table_longest_probe(const struct channel_table *t)
{
	uint32_t longest = 0;
	for (uint32_t i = 0; t->slots && i <= t->mask; i++) {
		if (!t->slots[i].ch)
			continue;
		uint32_t home = ((uint32_t)t->slots[i].id * t->mult) >> t->shift;
		uint32_t d = (i - home) & t->mask;
		if (d > longest)
			longest = d;
	}
	return longest;
}

START_TEST(random_opens_and_closes_agree_with_a_plain_array)
{
	static struct channel *want[65536];
	struct channel_table t;
	channel_table_init(&t, 0x1234567890abcdefull);
	srand(11);
	uint32_t count = 0;
	for (int round = 0; round < 400000; round++) {
		/* A narrow range early on (many hits), the whole range later. */
		uint16_t id = (uint16_t)(round < 200000 ? rand() % 3000 : rand() % 65536);
		if (want[id]) {
			ck_assert_ptr_eq(channel_table_remove(&t, id), want[id]);
			want[id] = NULL;
			count--;
		} else if (rand() % 3) {
			ck_assert_int_eq(channel_table_put(&t, id, marker(id)), 0);
			want[id] = marker(id);
			count++;
		} else {
			ck_assert_ptr_null(channel_table_remove(&t, id));
		}
		ck_assert_uint_eq(t.count, count);
		uint16_t probe = (uint16_t)rand();
		ck_assert_ptr_eq(channel_table_find(&t, probe), want[probe]);
	}
	for (uint32_t id = 0; id < 65536; id++)
		ck_assert_ptr_eq(channel_table_find(&t, (uint16_t)id), want[id]);
	ck_assert_uint_le(count * 2, table_capacity(&t));
	channel_table_free(&t);
}
END_TEST

START_TEST(channel_65535_alone_costs_the_smallest_table)
{
	struct channel_table t;
	channel_table_init(&t, 42);
	ck_assert_ptr_null(channel_table_find(&t, 65535));
	ck_assert_int_eq(channel_table_put(&t, 65535, marker(65535)), 0);
	ck_assert_int_eq(channel_table_put(&t, 1, marker(1)), 0);
	ck_assert_uint_eq(table_capacity(&t), 8);
	ck_assert_ptr_eq(channel_table_find(&t, 65535), marker(65535));
	ck_assert_ptr_eq(channel_table_find(&t, 1), marker(1));
	ck_assert_ptr_null(channel_table_find(&t, 65534));
	channel_table_free(&t);
}
END_TEST

START_TEST(the_table_shrinks_when_a_flood_of_channels_closes)
{
	struct channel_table t;
	channel_table_init(&t, 7);
	for (uint32_t id = 1; id <= 65535; id++)
		ck_assert_int_eq(channel_table_put(&t, (uint16_t)id, marker((uint16_t)id)), 0);
	ck_assert_uint_eq(t.count, 65535);
	ck_assert_uint_eq(table_capacity(&t), 131072);
	for (uint32_t id = 65535; id >= 2; id--)
		ck_assert_ptr_eq(channel_table_remove(&t, (uint16_t)id), marker((uint16_t)id));
	ck_assert_uint_eq(t.count, 1);
	ck_assert_uint_eq(table_capacity(&t), 8);
	ck_assert_ptr_eq(channel_table_find(&t, 1), marker(1));
	channel_table_free(&t);
}
END_TEST

START_TEST(numbers_picked_to_collide_still_find_their_slot_in_a_few_probes)
{
	/* Multiples of a power of two all share their low bits: with the number itself as the
	 * hash they would form one run as long as the table is full. */
	for (uint64_t seed = 1; seed <= 20; seed++) {
		struct channel_table t;
		channel_table_init(&t, seed * 0x9e3779b97f4a7c15ull);
		for (uint32_t i = 1; i <= 2047; i++) {
			uint16_t id = (uint16_t)(i << 5);
			ck_assert_int_eq(channel_table_put(&t, id, marker((uint16_t)i)), 0);
		}
		ck_assert_uint_le(table_longest_probe(&t), 40);
		for (uint32_t i = 1; i <= 2047; i++)
			ck_assert_ptr_eq(channel_table_find(&t, (uint16_t)(i << 5)),
					 marker((uint16_t)i));
		channel_table_free(&t);
	}
}
END_TEST

static Suite *channel_table_suite(void)
{
	Suite *s = suite_create("channel_table");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, random_opens_and_closes_agree_with_a_plain_array);
	tcase_add_test(tc, channel_65535_alone_costs_the_smallest_table);
	tcase_add_test(tc, the_table_shrinks_when_a_flood_of_channels_closes);
	tcase_add_test(tc, numbers_picked_to_collide_still_find_their_slot_in_a_few_probes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(channel_table_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
