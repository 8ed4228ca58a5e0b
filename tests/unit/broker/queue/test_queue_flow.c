/* tests/unit/broker/queue/test_queue_flow.c: broker/queue/queue.c's publisher flow control and the
 * credit dispatch, on a real broker, vhost and classic queue (tests/support/fixture.c) with a
 * consumer whose owner is a stand-in (consumer_ops below) that takes messages while it is told
 * to and counts them. The threshold is lowered to 10 so that the rules show with few messages:
 * a queue asks its publishers to wait once its ready messages grew by more than the threshold
 * over their low point while it had consumers, and lets them go once the growth is back under
 * half, when it loses its consumers, is deleted, or its consumers took nothing for a second. */
#include "broker/queue/queue.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "broker/queue/consumer.h"
#include "broker/queue/message.h"
#include "broker/vhost/vhost.h"
#include "tests/support/fixture.h"

#define THRESHOLD 10

static struct fixture *f;
static struct queue *q;
static uint64_t live_before;

/* The stand-in owner: takes while open and counts against the consumer's prefetch as a channel
 * does (the test settles by zeroing c->unacked); keeps no message (a no-ack consumer). */
static bool owner_open;
static unsigned delivered;

static bool owner_can_take(const struct consumer *c)
{
	(void)c;
	return owner_open;
}

static int owner_deliver(struct consumer *c, struct queue *dq, const struct qentry *e,
			 uint32_t delivery_count)
{
	(void)dq, (void)e, (void)delivery_count;
	c->unacked++;
	delivered++;
	return 0;
}

static void owner_cancelled(struct consumer *c)
{
	consumer_free(c);
}

static const struct consumer_ops owner_ops = {
	.can_take = owner_can_take,
	.deliver = owner_deliver,
	.cancelled = owner_cancelled,
};

/* A publisher waiting for q: counts how often it was let go. */
struct waiter {
	struct queue_flow_wait w;
	unsigned resumed;
};

static void waiter_resume(struct queue_flow_wait *w)
{
	((struct waiter *)w)->resumed++;
}

static void waiter_init(struct waiter *wt)
{
	wt->w.resume = waiter_resume;
	wt->w.q = NULL;
	wt->resumed = 0;
}

static void setup(void)
{
	f = fixture_new();
	live_before = f->b->message_live_count;
	f->cfg.queue_flow_threshold = THRESHOLD;
	q = fixture_queue(f->v, "work", (struct amqp_table){ 0 });
	owner_open = false;
	delivered = 0;
}

static void teardown(void)
{
	struct queue *left = vhost_queue_find(f->v, AMQP_STR_LIT("work"));
	if (left)
		queue_purge(left);
	ck_assert_uint_eq(f->b->message_live_count, live_before); /* every message ref came back */
	fixture_free(f);
}

static struct consumer *subscribe(void)
{
	struct consumer *c = consumer_new(&owner_ops, NULL, q, AMQP_STR_LIT("ctag"), true, false,
					  0, 0);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* Publishes n messages; returns how many of the pushes asked the publisher to wait. */
static unsigned publish(unsigned n)
{
	unsigned wanted = 0;
	for (unsigned i = 0; i < n; i++) {
		struct message *m = fixture_message(f, "", "work", NULL, "x");
		ck_assert_int_eq(queue_push(q, m), QUEUE_PUSHED);
		message_unref(m);
		if (queue_flow_wanted(q))
			wanted++;
	}
	return wanted;
}

START_TEST(a_queue_without_consumers_never_asks_its_publishers_to_wait)
{
	ck_assert_uint_eq(publish(10 * THRESHOLD), 0);
	ck_assert_uint_eq(q->ready_count, 10 * THRESHOLD);
}
END_TEST

START_TEST(a_queue_whose_consumers_fall_behind_asks_once_it_grew_by_more_than_the_threshold)
{
	subscribe();
	ck_assert_uint_eq(publish(THRESHOLD), 0);
	ck_assert_uint_eq(publish(1), 1);
	ck_assert_uint_eq(publish(5), 5);
}
END_TEST

START_TEST(growth_is_counted_from_the_backlog_a_consumer_found_not_from_zero)
{
	publish(5 * THRESHOLD); /* queued while nobody consumed */
	subscribe();
	ck_assert_uint_eq(publish(THRESHOLD), 0);
	ck_assert_uint_eq(publish(1), 1);
}
END_TEST

START_TEST(growth_is_counted_from_the_lowest_point_the_consumers_reached)
{
	subscribe();
	publish(THRESHOLD);
	owner_open = true;
	queue_dispatch(q); /* drained to 0: the low point */
	ck_assert_uint_eq(q->ready_count, 0);
	owner_open = false;
	ck_assert_uint_eq(publish(THRESHOLD), 0);
	ck_assert_uint_eq(publish(1), 1);
}
END_TEST

START_TEST(waiting_publishers_go_once_consumers_took_the_growth_back_under_half)
{
	struct consumer *c = subscribe();
	struct waiter a, b;
	waiter_init(&a);
	waiter_init(&b);
	publish(THRESHOLD + 1);
	queue_flow_wait(q, &a.w);
	queue_flow_wait(q, &b.w);
	ck_assert_ptr_eq(a.w.q, q);

	/* down to 6 of growth: still more than half the threshold */
	owner_open = true;
	c->prefetch = 5;
	queue_dispatch(q);
	ck_assert_uint_eq(q->ready_count, THRESHOLD + 1 - 5);
	ck_assert_uint_eq(a.resumed + b.resumed, 0);

	c->unacked = 0; /* the stand-in settles at once */
	c->prefetch = 1;
	queue_dispatch(q); /* 5 left: half the threshold */
	ck_assert_uint_eq(q->ready_count, THRESHOLD / 2);
	ck_assert_uint_eq(a.resumed, 1);
	ck_assert_uint_eq(b.resumed, 1);
	ck_assert_ptr_null(a.w.q);
	ck_assert_ptr_null(b.w.q);
}
END_TEST

START_TEST(waiting_publishers_go_when_the_last_consumer_goes)
{
	struct consumer *c = subscribe();
	struct waiter a;
	waiter_init(&a);
	publish(THRESHOLD + 1);
	queue_flow_wait(q, &a.w);
	consumer_free(c);
	ck_assert_uint_eq(a.resumed, 1);
	ck_assert_uint_eq(publish(THRESHOLD * 3), 0); /* and nobody is held without consumers */
}
END_TEST

START_TEST(waiting_publishers_go_when_the_queue_is_deleted_or_purged)
{
	struct waiter a, b;
	waiter_init(&a);
	waiter_init(&b);
	subscribe();
	publish(THRESHOLD + 1);
	queue_flow_wait(q, &a.w);
	queue_purge(q);
	ck_assert_uint_eq(a.resumed, 1);

	publish(THRESHOLD + 1);
	queue_flow_wait(q, &b.w);
	queue_delete(q);
	ck_assert_uint_eq(b.resumed, 1);
}
END_TEST

START_TEST(a_cancelled_wait_is_never_resumed)
{
	struct waiter a;
	waiter_init(&a);
	subscribe();
	publish(THRESHOLD + 1);
	queue_flow_wait(q, &a.w);
	queue_flow_cancel(&a.w);
	ck_assert_ptr_null(a.w.q);
	queue_purge(q);
	ck_assert_uint_eq(a.resumed, 0);
	ck_assert_uint_eq(q->flow_timer.due_ms, 0); /* nobody waits: no stall check either */
}
END_TEST

START_TEST(consumers_that_take_nothing_for_a_second_let_publishers_go_until_they_take_again)
{
	struct waiter a;
	waiter_init(&a);
	struct consumer *c = subscribe();
	publish(THRESHOLD + 1);
	queue_flow_wait(q, &a.w);
	ck_assert_uint_ne(q->flow_timer.due_ms, 0);

	/* the stall check fires (the fixture's loop never runs: call it as the loop would) */
	q->flow_timer.due_ms = 0;
	q->flow_timer.fn(&q->flow_timer);
	ck_assert_uint_eq(a.resumed, 1);
	ck_assert_uint_eq(publish(THRESHOLD * 3), 0); /* stalled: nobody is held */

	/* a consumer takes one: the queue asks again once it grows past the threshold */
	owner_open = true;
	c->prefetch = 1;
	queue_dispatch(q);
	owner_open = false;
	ck_assert_uint_eq(publish(THRESHOLD), 0);
	ck_assert_uint_eq(publish(1), 1);
}
END_TEST

START_TEST(consumers_that_keep_taking_keep_publishers_waiting_past_the_stall_check)
{
	struct waiter a;
	waiter_init(&a);
	struct consumer *c = subscribe();
	publish(4 * THRESHOLD);
	queue_flow_wait(q, &a.w);
	owner_open = true;
	c->prefetch = 1;
	queue_dispatch(q); /* took one: not stalled, still far above the mark */
	q->flow_timer.due_ms = 0;
	q->flow_timer.fn(&q->flow_timer);
	ck_assert_uint_eq(a.resumed, 0);
	ck_assert_ptr_eq(a.w.q, q);
	ck_assert_uint_ne(q->flow_timer.due_ms, 0); /* checked again a second later */
	queue_flow_cancel(&a.w);
}
END_TEST

START_TEST(a_threshold_of_zero_turns_flow_control_off)
{
	f->cfg.queue_flow_threshold = 0;
	subscribe();
	ck_assert_uint_eq(publish(100 * THRESHOLD), 0);
}
END_TEST

START_TEST(credit_delivers_at_once_only_when_messages_are_ready)
{
	struct consumer *c = subscribe();
	owner_open = true;
	c->prefetch = 1;
	queue_credit(q); /* nothing ready: nothing to do */
	ck_assert_uint_eq(delivered, 0);
	publish(3);
	queue_credit(q);
	ck_assert_uint_eq(delivered, 1);
	c->unacked = 0;
	queue_credit(q);
	ck_assert_uint_eq(delivered, 2);
	ck_assert_uint_eq(q->ready_count, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("flow");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_queue_without_consumers_never_asks_its_publishers_to_wait);
	tcase_add_test(tc,
		       a_queue_whose_consumers_fall_behind_asks_once_it_grew_by_more_than_the_threshold);
	tcase_add_test(tc, growth_is_counted_from_the_backlog_a_consumer_found_not_from_zero);
	tcase_add_test(tc, growth_is_counted_from_the_lowest_point_the_consumers_reached);
	tcase_add_test(tc, waiting_publishers_go_once_consumers_took_the_growth_back_under_half);
	tcase_add_test(tc, waiting_publishers_go_when_the_last_consumer_goes);
	tcase_add_test(tc, waiting_publishers_go_when_the_queue_is_deleted_or_purged);
	tcase_add_test(tc, a_cancelled_wait_is_never_resumed);
	tcase_add_test(tc,
		       consumers_that_take_nothing_for_a_second_let_publishers_go_until_they_take_again);
	tcase_add_test(tc, consumers_that_keep_taking_keep_publishers_waiting_past_the_stall_check);
	tcase_add_test(tc, a_threshold_of_zero_turns_flow_control_off);
	tcase_add_test(tc, credit_delivers_at_once_only_when_messages_are_ready);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
