/* tests/unit/broker/test_qdeque.c: broker/qdeque.c, the ring of a queue's loaded entries kept
 * in publish-sequence order: push at the back, pop at the front, a requeue inserted back at its
 * place (at the front, in the middle or at the back, shifting whichever side is shorter), growth
 * while the ring wraps around its buffer, and qdeque_at indexing from the head. */
#include "broker/queue/classic/qdeque.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static struct qentry entry(uint64_t seq)
{
	struct qentry e = { .seq = seq,
			    .delivery_count = (uint32_t)(seq * 3),
			    .redelivered = seq & 1,
			    .expires_at = seq * 1000 };
	return e;
}

static void assert_entry(const struct qentry *e, uint64_t seq)
{
	ck_assert_uint_eq(e->seq, seq);
	ck_assert_uint_eq(e->delivery_count, seq * 3);
	ck_assert_int_eq(e->redelivered, (int)(seq & 1));
	ck_assert_uint_eq(e->expires_at, seq * 1000);
}

/* The ring holds exactly the seqs want[0..n) from the head. */
static void assert_contents(const struct qdeque *d, const uint64_t *want, size_t n)
{
	ck_assert_uint_eq(d->count, n);
	for (size_t i = 0; i < n; i++)
		assert_entry(qdeque_at(d, i), want[i]);
}

START_TEST(an_empty_deque_pops_nothing)
{
	struct qdeque d = { 0 };
	struct qentry e;
	ck_assert(!qdeque_pop_front(&d, &e));
	ck_assert_uint_eq(d.count, 0);
	free(d.buf);
}
END_TEST

START_TEST(entries_pushed_at_the_back_pop_from_the_front_in_order)
{
	struct qdeque d = { 0 };
	struct qentry e;
	for (uint64_t s = 1; s <= 5; s++) {
		struct qentry in = entry(s);
		ck_assert_int_eq(qdeque_push_back(&d, &in), 0);
	}
	ck_assert_uint_eq(d.cap, 16);
	for (uint64_t s = 1; s <= 5; s++) {
		ck_assert(qdeque_pop_front(&d, &e));
		assert_entry(&e, s);
	}
	ck_assert(!qdeque_pop_front(&d, &e));
	free(d.buf);
}
END_TEST

START_TEST(at_indexes_from_the_head_after_pops_move_it)
{
	struct qdeque d = { 0 };
	struct qentry e;
	for (uint64_t s = 1; s <= 10; s++) {
		struct qentry in = entry(s);
		ck_assert_int_eq(qdeque_push_back(&d, &in), 0);
	}
	for (int i = 0; i < 4; i++)
		ck_assert(qdeque_pop_front(&d, &e));
	ck_assert_uint_eq(d.head, 4);
	for (size_t i = 0; i < d.count; i++)
		assert_entry(qdeque_at(&d, i), 5 + i);
	free(d.buf);
}
END_TEST

START_TEST(growing_while_wrapped_around_keeps_the_order)
{
	/* Fill 16, pop 10 and push 10 more so the ring wraps, then push past the capacity: the
	 * copy into the doubled buffer must unwrap it. */
	struct qdeque d = { 0 };
	struct qentry e;
	uint64_t next = 1, expect = 1;
	for (int i = 0; i < 16; i++) {
		struct qentry in = entry(next++);
		ck_assert_int_eq(qdeque_push_back(&d, &in), 0);
	}
	for (int i = 0; i < 10; i++) {
		ck_assert(qdeque_pop_front(&d, &e));
		assert_entry(&e, expect++);
	}
	for (int i = 0; i < 10; i++) {
		struct qentry in = entry(next++);
		ck_assert_int_eq(qdeque_push_back(&d, &in), 0);
	}
	ck_assert_uint_eq(d.cap, 16);
	ck_assert_uint_gt(d.head + d.count, d.cap); /* wrapped */
	for (int i = 0; i < 100; i++) {
		struct qentry in = entry(next++);
		ck_assert_int_eq(qdeque_push_back(&d, &in), 0);
	}
	ck_assert_uint_eq(d.cap, 128);
	ck_assert_uint_eq(d.head, 0); /* the copy into the new buffer unwrapped it */
	while (qdeque_pop_front(&d, &e))
		assert_entry(&e, expect++);
	ck_assert_uint_eq(expect, next);
	free(d.buf);
}
END_TEST

START_TEST(a_requeue_older_than_every_entry_goes_to_the_front)
{
	struct qdeque d = { 0 };
	for (uint64_t s = 10; s <= 14; s++) {
		struct qentry in = entry(s);
		ck_assert_int_eq(qdeque_push_back(&d, &in), 0);
	}
	struct qentry old = entry(3);
	ck_assert_int_eq(qdeque_insert_sorted(&d, &old), 0);
	static const uint64_t want[] = { 3, 10, 11, 12, 13, 14 };
	assert_contents(&d, want, 6);
	/* the front insert moved the head back, wrapping below 0 */
	ck_assert_uint_eq(d.head, d.cap - 1);
	free(d.buf);
}
END_TEST

START_TEST(a_requeue_newer_than_every_entry_goes_to_the_back)
{
	struct qdeque d = { 0 };
	for (uint64_t s = 1; s <= 3; s++) {
		struct qentry in = entry(s);
		ck_assert_int_eq(qdeque_push_back(&d, &in), 0);
	}
	struct qentry late = entry(9);
	ck_assert_int_eq(qdeque_insert_sorted(&d, &late), 0);
	static const uint64_t want[] = { 1, 2, 3, 9 };
	assert_contents(&d, want, 4);
	free(d.buf);
}
END_TEST

START_TEST(requeues_in_the_middle_land_at_their_place_from_either_side)
{
	struct qdeque d = { 0 };
	for (uint64_t s = 0; s < 20; s += 2) { /* 0 2 4 ... 18 */
		struct qentry in = entry(s);
		ck_assert_int_eq(qdeque_push_back(&d, &in), 0);
	}
	struct qentry near_head = entry(3), near_tail = entry(15), next_to_the_head = entry(1);
	ck_assert_int_eq(qdeque_insert_sorted(&d, &near_head), 0); /* shifts the front part */
	ck_assert_int_eq(qdeque_insert_sorted(&d, &near_tail), 0); /* shifts the back part */
	ck_assert_int_eq(qdeque_insert_sorted(&d, &next_to_the_head), 0);
	static const uint64_t want[] = { 0, 1, 2, 3, 4, 6, 8, 10, 12, 14, 15, 16, 18 };
	assert_contents(&d, want, 13);
	free(d.buf);
}
END_TEST

START_TEST(an_insert_into_a_full_ring_grows_it_first)
{
	struct qdeque d = { 0 };
	for (uint64_t s = 1; s <= 32; s++) {
		struct qentry in = entry(s * 2);
		ck_assert_int_eq(qdeque_push_back(&d, &in), 0);
	}
	ck_assert_uint_eq(d.count, d.cap);
	struct qentry mid = entry(33);
	ck_assert_int_eq(qdeque_insert_sorted(&d, &mid), 0);
	ck_assert_uint_eq(d.cap, 64);
	ck_assert_uint_eq(d.count, 33);
	for (size_t i = 1; i < d.count; i++)
		ck_assert_uint_lt(qdeque_at(&d, i - 1)->seq, qdeque_at(&d, i)->seq);
	free(d.buf);
}
END_TEST

START_TEST(random_requeues_on_a_wrapping_ring_keep_seq_order)
{
	/* A consumer takes messages and requeues some of them while publishing goes on: the ring
	 * stays sorted and holds exactly the entries neither consumed nor held by the consumer. */
	enum { GONE, READY, HELD };
	static unsigned char state[6000];
	static uint64_t held[6000];
	struct qdeque d = { 0 };
	struct qentry e;
	size_t held_count = 0;
	uint64_t next = 0;
	memset(state, GONE, sizeof state);
	srand(42);
	for (int round = 0; round < 6000; round++) {
		int r = rand() % 10;
		if (r < 4) {
			struct qentry in = entry(next);
			ck_assert_int_eq(qdeque_push_back(&d, &in), 0);
			state[next++] = READY;
		} else if (r < 7) {
			if (qdeque_pop_front(&d, &e)) {
				ck_assert_int_eq(state[e.seq], READY);
				state[e.seq] = r == 6 ? GONE : HELD; /* acked, or kept unacked */
				if (r != 6)
					held[held_count++] = e.seq;
			}
		} else if (held_count) {
			size_t k = (size_t)rand() % held_count;
			struct qentry back = entry(held[k]);
			state[held[k]] = READY;
			held[k] = held[--held_count];
			ck_assert_int_eq(qdeque_insert_sorted(&d, &back), 0);
		}
		for (size_t i = 1; i < d.count && round % 97 == 0; i++)
			ck_assert_uint_lt(qdeque_at(&d, i - 1)->seq, qdeque_at(&d, i)->seq);
	}
	uint64_t prev = 0;
	for (bool first = true; qdeque_pop_front(&d, &e); first = false) {
		assert_entry(&e, e.seq);
		ck_assert(first || e.seq > prev);
		ck_assert_int_eq(state[e.seq], READY);
		state[e.seq] = GONE;
		prev = e.seq;
	}
	for (uint64_t s = 0; s < next; s++)
		ck_assert_int_ne(state[s], READY); /* nothing ready was lost */
	free(d.buf);
}
END_TEST

static Suite *qdeque_suite(void)
{
	Suite *s = suite_create("qdeque");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30); /* a loaded machine under ASan; the suite takes well under 1 s */
	tcase_add_test(tc, an_empty_deque_pops_nothing);
	tcase_add_test(tc, entries_pushed_at_the_back_pop_from_the_front_in_order);
	tcase_add_test(tc, at_indexes_from_the_head_after_pops_move_it);
	tcase_add_test(tc, growing_while_wrapped_around_keeps_the_order);
	tcase_add_test(tc, a_requeue_older_than_every_entry_goes_to_the_front);
	tcase_add_test(tc, a_requeue_newer_than_every_entry_goes_to_the_back);
	tcase_add_test(tc, requeues_in_the_middle_land_at_their_place_from_either_side);
	tcase_add_test(tc, an_insert_into_a_full_ring_grows_it_first);
	tcase_add_test(tc, random_requeues_on_a_wrapping_ring_keep_seq_order);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(qdeque_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
