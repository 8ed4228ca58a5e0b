/* tests/unit/broker/test_queue_page.c: broker/queue_page.c, the compact list of a queue's paged
 * entries: round trips of every field, ordering across chunks, prepending, and its size. */
#include "broker/queue/classic/queue_page.h"

#include <check.h>
#include <stdlib.h>

static struct qpage_entry entry(uint64_t id, uint64_t seq)
{
	struct qpage_entry e = { .msg_id = id, .seq = seq };
	return e;
}

static void assert_pop(struct qpage_list *l, const struct qpage_entry *want)
{
	struct qpage_entry got;
	ck_assert(qpage_pop(l, &got));
	ck_assert_uint_eq(got.msg_id, want->msg_id);
	ck_assert_uint_eq(got.seq, want->seq);
	ck_assert_uint_eq(got.expires_at, want->expires_at);
	ck_assert_uint_eq(got.delivery_count, want->delivery_count);
	ck_assert_int_eq(got.redelivered, want->redelivered);
}

START_TEST(entries_come_back_in_order_with_every_field)
{
	struct qpage_list l = { 0 };
	static struct qpage_entry es[20000];
	uint64_t id = 1000, seq = 0;

	srand(7);
	for (int i = 0; i < 20000; i++) {
		/* mostly consecutive, sometimes jumping either way, sometimes with extras */
		int r = rand() % 100;
		id = r < 80 ? id + 1 : r < 90 ? id - (uint64_t)(rand() % 20) : id + (uint64_t)rand();
		seq += r < 95 ? 1 : 1 + (uint64_t)(rand() % 1000);
		es[i] = entry(id, seq);
		if (r % 7 == 0)
			es[i].expires_at = 1700000000000ull + (uint64_t)i;
		if (r % 11 == 0) {
			es[i].delivery_count = (uint32_t)(r * 1000);
			es[i].redelivered = r % 2;
		}
		ck_assert_int_eq(qpage_push(&l, &es[i]), 0);
	}
	ck_assert_uint_eq(l.count, 20000);
	for (int i = 0; i < 20000; i++)
		assert_pop(&l, &es[i]);
	struct qpage_entry none;
	ck_assert(!qpage_pop(&l, &none));
	ck_assert_uint_eq(qpage_memory(&l), 0);
}
END_TEST

START_TEST(a_run_of_consecutive_messages_costs_about_a_byte_each)
{
	struct qpage_list l = { 0 };
	for (uint64_t i = 1; i <= 1000000; i++) {
		struct qpage_entry e = entry(5000 + i, i);
		ck_assert_int_eq(qpage_push(&l, &e), 0);
	}
	ck_assert_uint_le(qpage_memory(&l), 1000000 * 11 / 10);
	qpage_clear(&l);
	ck_assert_uint_eq(l.count, 0);
}
END_TEST

START_TEST(pushing_after_partial_pops_and_after_emptying_keeps_the_deltas_right)
{
	struct qpage_list l = { 0 };
	struct qpage_entry a = entry(10, 1), b = entry(11, 2), c = entry(40, 9), d = entry(41, 10);

	ck_assert_int_eq(qpage_push(&l, &a), 0);
	ck_assert_int_eq(qpage_push(&l, &b), 0);
	assert_pop(&l, &a);
	ck_assert_int_eq(qpage_push(&l, &c), 0);
	assert_pop(&l, &b);
	assert_pop(&l, &c);
	ck_assert_uint_eq(l.count, 0);
	ck_assert_int_eq(qpage_push(&l, &d), 0);
	assert_pop(&l, &d);
}
END_TEST

START_TEST(prepended_entries_come_first_and_the_list_goes_on_after_them)
{
	struct qpage_list l = { 0 }, front = { 0 };
	static struct qpage_entry es[9000];

	for (int i = 0; i < 9000; i++)
		es[i] = entry(100 + (uint64_t)i * 3, (uint64_t)i + 1);
	/* l holds 6000..8999, partly consumed: pop one, then put 0..5999 (plus that one) back */
	for (int i = 6000; i < 9000; i++)
		ck_assert_int_eq(qpage_push(&l, &es[i]), 0);
	for (int i = 0; i < 6000; i++)
		ck_assert_int_eq(qpage_push(&front, &es[i]), 0);
	qpage_prepend(&l, &front);
	ck_assert_uint_eq(front.count, 0);
	ck_assert_uint_eq(l.count, 9000);
	struct qpage_entry late = entry(200000, 9001);
	ck_assert_int_eq(qpage_push(&l, &late), 0);
	for (int i = 0; i < 9000; i++)
		assert_pop(&l, &es[i]);
	assert_pop(&l, &late);

	/* into an empty list */
	struct qpage_entry x = entry(7, 1);
	ck_assert_int_eq(qpage_push(&front, &x), 0);
	qpage_prepend(&l, &front);
	assert_pop(&l, &x);
	ck_assert_uint_eq(l.count, 0);
}
END_TEST

static Suite *queue_page_suite(void)
{
	Suite *s = suite_create("queue_page");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, entries_come_back_in_order_with_every_field);
	tcase_add_test(tc, a_run_of_consecutive_messages_costs_about_a_byte_each);
	tcase_add_test(tc, pushing_after_partial_pops_and_after_emptying_keeps_the_deltas_right);
	tcase_add_test(tc, prepended_entries_come_first_and_the_list_goes_on_after_them);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(queue_page_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
