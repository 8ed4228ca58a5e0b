/* tests/unit/broker/test_strmap.c: broker/strmap.c, the byte-string keyed hash map behind
 * vhosts, exchanges, queues, users and consumer tags: put/get/del, replacement, growth past
 * many load-factor doublings, binary keys (NUL bytes, the empty key), iteration, the ways of
 * deleting during iteration the header allows, and clear. */
#include "broker/core/strmap.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static int vals[10000];

static int *key_val(int i)
{
	return &vals[i];
}

static size_t key_of(char *buf, size_t cap, int i)
{
	return (size_t)snprintf(buf, cap, "queue.%d", i);
}

START_TEST(a_key_put_is_found_and_a_missing_key_is_not)
{
	struct strmap m;
	strmap_init(&m);
	ck_assert_ptr_null(strmap_get(&m, "a", 1)); /* before the first insert: no table */
	ck_assert_ptr_null(strmap_del(&m, "a", 1));
	ck_assert_int_eq(strmap_put(&m, "orders", 6, key_val(1)), 0);
	ck_assert_ptr_eq(strmap_get(&m, "orders", 6), key_val(1));
	ck_assert_ptr_null(strmap_get(&m, "order", 5));	  /* a prefix is another key */
	ck_assert_ptr_null(strmap_get(&m, "orders2", 7)); /* so is an extension */
	ck_assert_ptr_null(strmap_get(&m, "Orders", 6));  /* case matters */
	ck_assert_uint_eq(m.count, 1);
	strmap_clear(&m);
}
END_TEST

START_TEST(putting_an_existing_key_replaces_its_value_without_a_second_entry)
{
	struct strmap m;
	strmap_init(&m);
	ck_assert_int_eq(strmap_put(&m, "k", 1, key_val(1)), 0);
	ck_assert_int_eq(strmap_put(&m, "k", 1, key_val(2)), 0);
	ck_assert_uint_eq(m.count, 1);
	ck_assert_ptr_eq(strmap_get(&m, "k", 1), key_val(2));
	ck_assert_ptr_eq(strmap_del(&m, "k", 1), key_val(2));
	ck_assert_ptr_null(strmap_get(&m, "k", 1));
	ck_assert_uint_eq(m.count, 0);
	strmap_clear(&m);
}
END_TEST

START_TEST(deleting_returns_the_value_once_and_leaves_the_other_keys)
{
	struct strmap m;
	strmap_init(&m);
	ck_assert_int_eq(strmap_put(&m, "a", 1, key_val(1)), 0);
	ck_assert_int_eq(strmap_put(&m, "b", 1, key_val(2)), 0);
	ck_assert_ptr_eq(strmap_del(&m, "a", 1), key_val(1));
	ck_assert_ptr_null(strmap_del(&m, "a", 1));
	ck_assert_ptr_eq(strmap_get(&m, "b", 1), key_val(2));
	ck_assert_uint_eq(m.count, 1);
	strmap_clear(&m);
}
END_TEST

START_TEST(ten_thousand_keys_survive_every_growth_and_half_can_be_deleted)
{
	struct strmap m;
	char k[32];
	strmap_init(&m);
	for (int i = 0; i < 10000; i++) {
		ck_assert_int_eq(strmap_put(&m, k, key_of(k, sizeof k, i), key_val(i)), 0);
		ck_assert_uint_le(m.count, m.slot_count); /* grown at load factor 1 */
	}
	ck_assert_uint_eq(m.count, 10000);
	ck_assert_uint_eq(m.slot_count & (m.slot_count - 1), 0); /* a power of two */
	for (int i = 0; i < 10000; i++)
		ck_assert_ptr_eq(strmap_get(&m, k, key_of(k, sizeof k, i)), key_val(i));
	for (int i = 0; i < 10000; i += 2)
		ck_assert_ptr_eq(strmap_del(&m, k, key_of(k, sizeof k, i)), key_val(i));
	ck_assert_uint_eq(m.count, 5000);
	for (int i = 0; i < 10000; i++) {
		void *want = i % 2 ? key_val(i) : NULL;
		ck_assert_ptr_eq(strmap_get(&m, k, key_of(k, sizeof k, i)), want);
	}
	strmap_clear(&m);
}
END_TEST

START_TEST(keys_with_nul_bytes_are_distinct_by_every_byte_and_their_length)
{
	/* topic permissions key on "vhost\0exchange"; store ids on 8 raw bytes */
	static const char a[] = { 'v', 0, 'x' }, b[] = { 'v', 0, 'y' }, c[] = { 'v', 0 };
	static const uint8_t id1[8] = { 0, 0, 0, 0, 0, 0, 0, 1 }, id0[8] = { 0 };
	struct strmap m;
	strmap_init(&m);
	ck_assert_int_eq(strmap_put(&m, a, 3, key_val(1)), 0);
	ck_assert_int_eq(strmap_put(&m, b, 3, key_val(2)), 0);
	ck_assert_int_eq(strmap_put(&m, c, 2, key_val(3)), 0);
	ck_assert_int_eq(strmap_put(&m, "v", 1, key_val(4)), 0);
	ck_assert_int_eq(strmap_put(&m, id1, 8, key_val(5)), 0);
	ck_assert_int_eq(strmap_put(&m, id0, 8, key_val(6)), 0);
	ck_assert_uint_eq(m.count, 6);
	ck_assert_ptr_eq(strmap_get(&m, a, 3), key_val(1));
	ck_assert_ptr_eq(strmap_get(&m, b, 3), key_val(2));
	ck_assert_ptr_eq(strmap_get(&m, c, 2), key_val(3));
	ck_assert_ptr_eq(strmap_get(&m, "v", 1), key_val(4));
	ck_assert_ptr_eq(strmap_get(&m, id1, 8), key_val(5));
	ck_assert_ptr_eq(strmap_get(&m, id0, 8), key_val(6));
	/* the stored key is a copy, NUL-terminated after key_len bytes */
	size_t i;
	for (struct strmap_entry *e = strmap_first(&m, &i); e; e = strmap_next(&m, e, &i)) {
		ck_assert_int_eq(e->key[e->key_len], '\0');
		if (e->value == key_val(2))
			ck_assert_int_eq(memcmp(e->key, b, 3), 0);
	}
	ck_assert_ptr_eq(strmap_del(&m, c, 2), key_val(3));
	ck_assert_ptr_eq(strmap_get(&m, a, 3), key_val(1));
	strmap_clear(&m);
}
END_TEST

START_TEST(the_empty_key_is_a_key_like_any_other)
{
	/* the default exchange is named "" */
	struct strmap m;
	strmap_init(&m);
	ck_assert_int_eq(strmap_put(&m, "", 0, key_val(7)), 0);
	ck_assert_int_eq(strmap_put(&m, "x", 1, key_val(8)), 0);
	ck_assert_ptr_eq(strmap_get(&m, "", 0), key_val(7));
	ck_assert_ptr_eq(strmap_get(&m, NULL, 0), key_val(7));
	ck_assert_ptr_eq(strmap_del(&m, "", 0), key_val(7));
	ck_assert_ptr_null(strmap_get(&m, "", 0));
	ck_assert_ptr_eq(strmap_get(&m, "x", 1), key_val(8));
	strmap_clear(&m);
}
END_TEST

START_TEST(iteration_visits_every_entry_exactly_once)
{
	static int seen[1000];
	struct strmap m;
	char k[32];
	size_t i, n = 0;
	strmap_init(&m);
	ck_assert_ptr_null(strmap_first(&m, &i));
	for (int j = 0; j < 1000; j++)
		ck_assert_int_eq(strmap_put(&m, k, key_of(k, sizeof k, j), key_val(j)), 0);
	memset(seen, 0, sizeof seen);
	for (struct strmap_entry *e = strmap_first(&m, &i); e; e = strmap_next(&m, e, &i)) {
		int j = (int)((int *)e->value - vals);
		seen[j]++;
		n++;
	}
	ck_assert_uint_eq(n, 1000);
	for (int j = 0; j < 1000; j++)
		ck_assert_int_eq(seen[j], 1);
	strmap_clear(&m);
}
END_TEST

START_TEST(an_entry_can_be_deleted_once_iteration_has_moved_past_it)
{
	/* The header forbids deleting the current entry; stepping first, then deleting the
	 * entry left behind, must visit every entry once and empty the map. */
	static int seen[3000];
	struct strmap m;
	char k[32];
	size_t i, n = 0;
	strmap_init(&m);
	for (int j = 0; j < 3000; j++)
		ck_assert_int_eq(strmap_put(&m, k, key_of(k, sizeof k, j), key_val(j)), 0);
	memset(seen, 0, sizeof seen);
	struct strmap_entry *e = strmap_first(&m, &i);
	while (e) {
		struct strmap_entry *next = strmap_next(&m, e, &i);
		int j = (int)((int *)e->value - vals);
		seen[j]++;
		n++;
		ck_assert_ptr_eq(strmap_del(&m, e->key, e->key_len), key_val(j));
		e = next;
	}
	ck_assert_uint_eq(n, 3000);
	ck_assert_uint_eq(m.count, 0);
	for (int j = 0; j < 3000; j++)
		ck_assert_int_eq(seen[j], 1);
	ck_assert_ptr_null(strmap_first(&m, &i));
	strmap_clear(&m);
}
END_TEST

START_TEST(restarting_after_each_deletion_removes_exactly_the_matching_entries)
{
	/* topic_perm_clear's idiom: delete the current entry, then start over */
	struct strmap m;
	char k[32];
	size_t i, removed = 0;
	strmap_init(&m);
	for (int j = 0; j < 500; j++)
		ck_assert_int_eq(strmap_put(&m, k, key_of(k, sizeof k, j), key_val(j)), 0);
	for (bool again = true; again;) {
		again = false;
		for (struct strmap_entry *e = strmap_first(&m, &i); e; e = strmap_next(&m, e, &i)) {
			int j = (int)((int *)e->value - vals);
			if (j % 3 == 0) {
				strmap_del(&m, e->key, e->key_len);
				removed++;
				again = true;
				break;
			}
		}
	}
	ck_assert_uint_eq(removed, 167);
	ck_assert_uint_eq(m.count, 500 - 167);
	for (int j = 0; j < 500; j++)
		ck_assert_ptr_eq(strmap_get(&m, k, key_of(k, sizeof k, j)),
				 j % 3 ? key_val(j) : NULL);
	strmap_clear(&m);
}
END_TEST

START_TEST(clear_empties_the_map_and_leaves_it_usable)
{
	struct strmap m;
	char k[32];
	size_t i;
	strmap_init(&m);
	for (int j = 0; j < 100; j++)
		ck_assert_int_eq(strmap_put(&m, k, key_of(k, sizeof k, j), key_val(j)), 0);
	strmap_clear(&m);
	ck_assert_uint_eq(m.count, 0);
	ck_assert_uint_eq(m.slot_count, 0);
	ck_assert_ptr_null(strmap_first(&m, &i));
	ck_assert_ptr_null(strmap_get(&m, "queue.1", 7));
	ck_assert_int_eq(strmap_put(&m, "again", 5, key_val(1)), 0);
	ck_assert_ptr_eq(strmap_get(&m, "again", 5), key_val(1));
	strmap_clear(&m);
	strmap_clear(&m); /* twice is harmless */
}
END_TEST

START_TEST(the_hash_depends_on_every_byte_and_the_length)
{
	ck_assert_uint_ne(strmap_hash("ab", 2), strmap_hash("ba", 2));
	ck_assert_uint_ne(strmap_hash("a", 1), strmap_hash("a\0", 2));
	ck_assert_uint_eq(strmap_hash("same", 4), strmap_hash("same", 4));
}
END_TEST

static Suite *strmap_suite(void)
{
	Suite *s = suite_create("strmap");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, a_key_put_is_found_and_a_missing_key_is_not);
	tcase_add_test(tc, putting_an_existing_key_replaces_its_value_without_a_second_entry);
	tcase_add_test(tc, deleting_returns_the_value_once_and_leaves_the_other_keys);
	tcase_add_test(tc, ten_thousand_keys_survive_every_growth_and_half_can_be_deleted);
	tcase_add_test(tc, keys_with_nul_bytes_are_distinct_by_every_byte_and_their_length);
	tcase_add_test(tc, the_empty_key_is_a_key_like_any_other);
	tcase_add_test(tc, iteration_visits_every_entry_exactly_once);
	tcase_add_test(tc, an_entry_can_be_deleted_once_iteration_has_moved_past_it);
	tcase_add_test(tc, restarting_after_each_deletion_removes_exactly_the_matching_entries);
	tcase_add_test(tc, clear_empties_the_map_and_leaves_it_usable);
	tcase_add_test(tc, the_hash_depends_on_every_byte_and_the_length);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(strmap_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
