/* tests/unit/broker/test_channel.c: broker/channel.c's unacked ring and settle rules, on a real
 * broker, vhost, queue and connection (tests/support/fixture.c) with a channel from channel_new:
 * RabbitMQ's rabbit_channel:collect_acks rules (tag 0 with multiple settles everything; any
 * other tag must itself be outstanding, else 406 "unknown delivery tag N" closes the channel),
 * no-ack deliveries leaving settled slots, trimming of settled slots at the front, growth with
 * wrap-around, requeue to the original place, and requeue on close. Deliveries are made the way
 * basic.get makes them (queue_get, then channel_track) or by the queue's own dispatch to a
 * consumer. Texts and codes were checked against RabbitMQ 3.10.8 (shared/reference
 * rabbitmq-semantics.md section 0; ack(0, multiple=false) and acking a no-ack tag on a private
 * node). */
#include "broker/net/channel.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/reply_codes.h"
#include "broker/net/conn.h"
#include "broker/queue/consumer.h"
#include "broker/queue/message.h"
#include "broker/queue/queue.h"
#include "tests/support/fixture.h"

static struct fixture *f;
static struct conn *c;
static struct channel *ch;
static struct queue *q;
static uint64_t live_before;

static void setup(void)
{
	f = fixture_new();
	live_before = f->b->message_live_count;
	c = fixture_conn(f, f->v, f->guest);
	ch = channel_new(c, 1);
	ck_assert_ptr_nonnull(ch);
	q = fixture_queue(f->v, "work", (struct amqp_table){ 0 });
}

static void teardown(void)
{
	channel_free(ch); /* requeues what was unacked */
	queue_purge(q);
	ck_assert_uint_eq(f->b->message_live_count, live_before); /* every message ref came back */
	fixture_free(f);
}

/* Publishes n messages "m<i>" to q. */
static void publish(int n)
{
	for (int i = 0; i < n; i++) {
		char body[32];
		snprintf(body, sizeof body, "m%d", i);
		struct message *m = fixture_message(f, "", "work", NULL, body);
		ck_assert_int_eq(queue_push(q, m), QUEUE_PUSHED);
		message_unref(m);
	}
}

/* What basic.get does: takes q's head and records it on the channel. Returns the tag. */
static uint64_t get(bool no_ack)
{
	struct qentry e;
	struct message *m = fixture_pop(q, &e);
	ck_assert_ptr_nonnull(m);
	uint64_t tag = channel_track(ch, m, q, NULL, e.seq, e.delivery_count + 1, no_ack);
	if (no_ack)
		message_unref(m);
	return tag;
}

/* basic.ack / basic.nack as the dispatcher hands them to channel_settle. */
static int ack(uint64_t tag, bool multiple)
{
	ch->method_id = AMQP_BASIC_ACK;
	return channel_settle(ch, tag, multiple, true, false);
}

static int nack(uint64_t tag, bool multiple, bool requeue)
{
	ch->method_id = AMQP_BASIC_NACK;
	return channel_settle(ch, tag, multiple, false, requeue);
}

/* Body of the message at q's head, popped and dropped; "" when empty. */
static const char *pop_body(bool *redelivered, uint32_t *delivery_count)
{
	static char body[64];
	struct qentry e;
	struct message *m = fixture_pop(q, &e);
	if (!m)
		return "";
	snprintf(body, sizeof body, "%.*s", (int)m->body_len, (const char *)m->body);
	if (redelivered)
		*redelivered = e.redelivered;
	if (delivery_count)
		*delivery_count = e.delivery_count;
	message_unref(m);
	return body;
}

static void assert_channel_closed_with(uint16_t code, const char *text, uint32_t method)
{
	uint16_t chan;
	struct amqp_method m;
	ck_assert(fixture_next_method(f, c, &chan, &m));
	ck_assert_uint_eq(chan, 1);
	ck_assert_uint_eq(m.id, AMQP_CHANNEL_CLOSE);
	ck_assert_uint_eq(m.u.channel_close.reply_code, code);
	ck_assert_int_eq((int)m.u.channel_close.reply_text.len, (int)strlen(text));
	ck_assert_int_eq(memcmp(m.u.channel_close.reply_text.ptr, text, strlen(text)), 0);
	ck_assert_uint_eq(m.u.channel_close.class_id, AMQP_METHOD_CLASS(method));
	ck_assert_uint_eq(m.u.channel_close.method_id, AMQP_METHOD_INDEX(method));
	ck_assert_int_eq(ch->state, CHANNEL_CLOSING);
	ck_assert(!fixture_next_method(f, c, &chan, &m)); /* nothing else */
}

static void assert_channel_open_and_silent(void)
{
	ck_assert_int_eq(ch->state, CHANNEL_OPEN);
	ck_assert_uint_eq(fixture_output_len(f, c), 0);
}

START_TEST(acking_one_tag_settles_only_that_delivery)
{
	publish(3);
	ck_assert_uint_eq(get(false), 1);
	ck_assert_uint_eq(get(false), 2);
	ck_assert_uint_eq(get(false), 3);
	ck_assert_uint_eq(ch->unacked.live, 3);
	ck_assert_uint_eq(q->unacked_count, 3);
	ck_assert_int_eq(ack(2, false), 0);
	ck_assert_uint_eq(ch->unacked.live, 2);
	ck_assert_uint_eq(q->unacked_count, 2);
	ck_assert_uint_eq(q->stat_acked, 1);
	ck_assert_uint_eq(queue_ready_count(q), 0);
	assert_channel_open_and_silent();
}
END_TEST

START_TEST(multiple_settles_every_outstanding_tag_up_to_and_including_it)
{
	publish(5);
	for (int i = 0; i < 5; i++)
		get(false);
	ck_assert_int_eq(ack(3, true), 0);
	ck_assert_uint_eq(ch->unacked.live, 2);
	ck_assert_uint_eq(ch->unacked.base_tag, 4); /* 1..3 trimmed */
	ck_assert_int_eq(ack(5, true), 0);
	ck_assert_uint_eq(ch->unacked.live, 0);
	ck_assert_uint_eq(q->unacked_count, 0);
	assert_channel_open_and_silent();
}
END_TEST

START_TEST(tag_0_with_multiple_settles_everything_outstanding)
{
	publish(4);
	for (int i = 0; i < 4; i++)
		get(false);
	ck_assert_int_eq(ack(2, false), 0);
	ck_assert_int_eq(ack(0, true), 0);
	ck_assert_uint_eq(ch->unacked.live, 0);
	ck_assert_uint_eq(ch->unacked.count, 0);
	ck_assert_uint_eq(q->unacked_count, 0);
	ck_assert_uint_eq(q->stat_acked, 4);
	ck_assert_uint_eq(q->refs, 1); /* each delivery's queue ref is back */
	assert_channel_open_and_silent();
}
END_TEST

START_TEST(tag_0_with_multiple_and_nothing_outstanding_is_accepted_silently)
{
	ck_assert_int_eq(ack(0, true), 0);
	ck_assert_int_eq(nack(0, true, true), 0);
	publish(1);
	get(false);
	ck_assert_int_eq(ack(1, false), 0);
	ck_assert_int_eq(ack(0, true), 0); /* everything already settled */
	assert_channel_open_and_silent();
}
END_TEST

START_TEST(an_unknown_delivery_tag_closes_the_channel_with_406)
{
	publish(2);
	get(false);
	get(false);
	ck_assert_int_eq(ack(99, false), 0); /* 0: the connection lives on */
	assert_channel_closed_with(406, "PRECONDITION_FAILED - unknown delivery tag 99",
				   AMQP_BASIC_ACK);
	/* closing released the channel: both deliveries went back to the queue, redelivered */
	ck_assert_uint_eq(ch->unacked.live, 0);
	ck_assert_uint_eq(q->unacked_count, 0);
	ck_assert_uint_eq(queue_ready_count(q), 2);
	bool redelivered = false;
	ck_assert_str_eq(pop_body(&redelivered, NULL), "m0");
	ck_assert(redelivered);
	ck_assert_int_eq(c->state, CONN_OPEN);
}
END_TEST

START_TEST(an_unknown_tag_with_multiple_is_also_a_406)
{
	publish(1);
	get(false);
	ck_assert_int_eq(nack(7, true, true), 0);
	assert_channel_closed_with(406, "PRECONDITION_FAILED - unknown delivery tag 7",
				   AMQP_BASIC_NACK);
}
END_TEST

START_TEST(a_tag_settled_once_is_unknown_the_second_time)
{
	publish(2);
	get(false);
	get(false);
	ck_assert_int_eq(ack(1, false), 0);
	ck_assert_int_eq(ack(1, false), 0);
	assert_channel_closed_with(406, "PRECONDITION_FAILED - unknown delivery tag 1",
				   AMQP_BASIC_ACK);
}
END_TEST

START_TEST(tag_0_without_multiple_is_unknown)
{
	publish(1);
	get(false);
	ck_assert_int_eq(ack(0, false), 0);
	assert_channel_closed_with(406, "PRECONDITION_FAILED - unknown delivery tag 0",
				   AMQP_BASIC_ACK);
}
END_TEST

START_TEST(multiple_needs_the_tag_itself_to_be_outstanding)
{
	/* RabbitMQ 3.10: ack(2) then ack(2, multiple) is "unknown delivery tag 2" even with tag 1
	 * still outstanding */
	publish(2);
	get(false);
	get(false);
	ck_assert_int_eq(ack(2, false), 0);
	ck_assert_int_eq(ack(2, true), 0);
	assert_channel_closed_with(406, "PRECONDITION_FAILED - unknown delivery tag 2",
				   AMQP_BASIC_ACK);
}
END_TEST

START_TEST(a_no_ack_tag_is_never_outstanding)
{
	publish(3);
	ck_assert_uint_eq(get(false), 1);
	ck_assert_uint_eq(get(true), 2);
	ck_assert_uint_eq(get(false), 3);
	ck_assert_uint_eq(ch->unacked.live, 2);
	ck_assert_uint_eq(ch->unacked.count, 3); /* tag 2 is a settled slot between them */
	ck_assert_int_eq(ack(2, false), 0);
	assert_channel_closed_with(406, "PRECONDITION_FAILED - unknown delivery tag 2",
				   AMQP_BASIC_ACK);
}
END_TEST

START_TEST(multiple_steps_over_the_slots_no_ack_deliveries_left)
{
	publish(6);
	get(false); /* 1 */
	get(true);  /* 2 */
	get(true);  /* 3 */
	get(false); /* 4 */
	get(true);  /* 5 */
	get(false); /* 6 */
	ck_assert_uint_eq(ch->unacked.live, 3);
	ck_assert_int_eq(ack(4, true), 0);
	ck_assert_uint_eq(ch->unacked.live, 1);
	ck_assert_uint_eq(ch->unacked.base_tag, 6); /* 1..5 settled and trimmed */
	ck_assert_uint_eq(ch->unacked.count, 1);
	ck_assert_int_eq(ack(6, false), 0);
	ck_assert_uint_eq(q->stat_acked, 3);
	assert_channel_open_and_silent();
}
END_TEST

START_TEST(settled_slots_are_trimmed_only_from_the_front)
{
	publish(4);
	for (int i = 0; i < 4; i++)
		get(false);
	ck_assert_int_eq(ack(2, false), 0);
	ck_assert_int_eq(ack(3, false), 0);
	ck_assert_uint_eq(ch->unacked.base_tag, 1); /* 1 still outstanding holds the front */
	ck_assert_uint_eq(ch->unacked.count, 4);
	ck_assert_int_eq(ack(1, false), 0);
	ck_assert_uint_eq(ch->unacked.base_tag, 4); /* 1, 2 and 3 went at once */
	ck_assert_uint_eq(ch->unacked.count, 1);
	ck_assert_uint_eq(ch->unacked.live, 1);
	ck_assert_int_eq(ack(3, false), 0); /* below the base now: unknown */
	assert_channel_closed_with(406, "PRECONDITION_FAILED - unknown delivery tag 3",
				   AMQP_BASIC_ACK);
}
END_TEST

START_TEST(the_ring_grows_and_wraps_without_losing_a_tag)
{
	/* Keep about 20 outstanding while 520 deliveries pass: the ring's head goes round its
	 * buffer many times, and a burst then forces growth while it is wrapped. */
	uint64_t next_ack = 1, tag = 0;
	bool wrapped = false;
	publish(720);
	for (int i = 0; i < 520; i++) {
		tag = get(i % 7 == 3); /* some no-ack ones leave settled slots */
		ck_assert_uint_eq(tag, (uint64_t)i + 1);
		while (tag - next_ack >= 20) {
			if ((next_ack - 1) % 7 != 3)
				ck_assert_int_eq(ack(next_ack, false), 0);
			next_ack++;
		}
		wrapped = wrapped || ch->unacked.head + ch->unacked.count > ch->unacked.cap;
	}
	ck_assert_uint_le(ch->unacked.cap, 32);
	ck_assert(wrapped); /* live slots ran past the end of the buffer into its start */
	ck_assert_uint_gt(ch->unacked.head + ch->unacked.count, ch->unacked.cap); /* and now */
	for (int i = 0; i < 200; i++)
		get(false);
	ck_assert_uint_le(ch->unacked.cap, 256);
	/* every tag from next_ack on is still known: ack the odd ones one by one, then the rest */
	for (uint64_t t = next_ack; t <= 720; t++)
		if (t % 2 && (t > 520 || (t - 1) % 7 != 3))
			ck_assert_int_eq(ack(t, false), 0);
	assert_channel_open_and_silent();
	ck_assert_int_eq(ack(0, true), 0);
	ck_assert_uint_eq(ch->unacked.live, 0);
	ck_assert_uint_eq(q->unacked_count, 0);
	ck_assert_uint_eq(q->refs, 1);
	assert_channel_open_and_silent();
}
END_TEST

START_TEST(after_everything_is_settled_tags_go_on_increasing)
{
	publish(3);
	get(false);
	get(false);
	ck_assert_int_eq(ack(0, true), 0);
	ck_assert_uint_eq(get(false), 3);
	ck_assert_uint_eq(ch->unacked.base_tag, 3);
	ck_assert_uint_eq(ch->unacked.count, 1);
	ck_assert_int_eq(ack(1, false), 0);
	assert_channel_closed_with(406, "PRECONDITION_FAILED - unknown delivery tag 1",
				   AMQP_BASIC_ACK);
}
END_TEST

START_TEST(a_requeue_puts_each_message_back_at_its_original_place)
{
	bool redelivered;
	uint32_t count;
	publish(5);
	for (int i = 0; i < 4; i++)
		get(false); /* m0..m3 out, m4 ready */
	ck_assert_int_eq(nack(3, false, true), 0); /* m2 */
	ck_assert_int_eq(nack(0, true, true), 0);  /* m0, m1, m3 */
	ck_assert_uint_eq(ch->unacked.live, 0);
	ck_assert_uint_eq(queue_ready_count(q), 5);
	for (int i = 0; i < 5; i++) {
		char want[8];
		snprintf(want, sizeof want, "m%d", i);
		redelivered = false;
		count = 99;
		ck_assert_str_eq(pop_body(&redelivered, &count), want);
		ck_assert_int_eq(redelivered, i < 4);
		ck_assert_uint_eq(count, i < 4 ? 1 : 0); /* deliveries so far */
	}
	assert_channel_open_and_silent();
}
END_TEST

START_TEST(a_reject_without_requeue_drops_the_message)
{
	publish(2);
	get(false);
	get(false);
	uint64_t live = f->b->message_live_count;
	ck_assert_int_eq(nack(1, false, false), 0);
	ck_assert_uint_eq(f->b->message_live_count, live - 1);
	ck_assert_uint_eq(queue_ready_count(q), 0);
	ck_assert_uint_eq(q->stat_acked, 0);
	ck_assert_int_eq(nack(0, true, false), 0);
	ck_assert_uint_eq(f->b->message_live_count, live - 2);
	assert_channel_open_and_silent();
}
END_TEST

START_TEST(closing_the_channel_requeues_every_unacked_delivery)
{
	publish(3);
	get(false);
	get(true); /* m1 was no-ack: gone for good */
	get(false);
	channel_free(ch);
	ch = channel_new(c, 1);
	ck_assert_uint_eq(queue_ready_count(q), 2);
	ck_assert_uint_eq(q->unacked_count, 0);
	ck_assert_uint_eq(q->refs, 1);
	bool redelivered = false;
	ck_assert_str_eq(pop_body(&redelivered, NULL), "m0");
	ck_assert(redelivered);
	ck_assert_str_eq(pop_body(&redelivered, NULL), "m2");
	ck_assert(redelivered);
}
END_TEST

START_TEST(a_delivery_outlives_the_deletion_of_its_queue)
{
	/* The slot holds a queue ref: acking after queue.delete touches no freed memory, and a
	 * requeue into the deleted queue drops the message. */
	publish(2);
	get(false);
	get(false);
	struct queue *gone = q;
	queue_delete(gone);
	q = fixture_queue(f->v, "work", (struct amqp_table){ 0 });
	ck_assert_int_eq(ack(1, false), 0);
	ck_assert_int_eq(nack(2, false, true), 0);
	ck_assert_uint_eq(queue_ready_count(q), 0);
	assert_channel_open_and_silent();
}
END_TEST

START_TEST(consumer_deliveries_are_tracked_against_the_consumer_and_its_prefetch)
{
	uint16_t chan;
	struct amqp_method m;
	struct consumer *cons = consumer_new(&channel_consumer_ops, ch, q, AMQP_STR_LIT("ctag"),
					     false, false, 2, 0);
	ck_assert_ptr_nonnull(cons);
	publish(3);
	broker_run_deferred(f->b); /* the queue's dispatch */
	for (uint64_t want = 1; want <= 2; want++) {
		ck_assert(fixture_next_method(f, c, &chan, &m));
		ck_assert_uint_eq(m.id, AMQP_BASIC_DELIVER);
		ck_assert_uint_eq(m.u.basic_deliver.delivery_tag, want);
	}
	ck_assert(!fixture_next_method(f, c, &chan, &m)); /* prefetch 2 */
	ck_assert_uint_eq(cons->unacked, 2);
	ck_assert_uint_eq(ch->unacked_from_consumers, 2);
	ch->method_id = AMQP_BASIC_ACK;
	ck_assert_int_eq(channel_settle(ch, 1, false, true, false), 0);
	ck_assert_uint_eq(cons->unacked, 1);
	ck_assert_uint_eq(ch->unacked_from_consumers, 1);
	broker_run_deferred(f->b);
	ck_assert(fixture_next_method(f, c, &chan, &m));
	ck_assert_uint_eq(m.id, AMQP_BASIC_DELIVER);
	ck_assert_uint_eq(m.u.basic_deliver.delivery_tag, 3);
	/* the consumer goes: its deliveries stay outstanding on the channel, owned by nobody */
	channel_cancel_consumer(ch, cons);
	ck_assert_uint_eq(ch->unacked.live, 2);
	ch->method_id = AMQP_BASIC_ACK;
	ck_assert_int_eq(channel_settle(ch, 0, true, true, false), 0);
	ck_assert_uint_eq(ch->unacked_from_consumers, 0);
	ck_assert_uint_eq(q->stat_acked, 3);
}
END_TEST

static Suite *channel_suite(void)
{
	Suite *s = suite_create("channel");
	TCase *tc = tcase_create("unacked");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, acking_one_tag_settles_only_that_delivery);
	tcase_add_test(tc, multiple_settles_every_outstanding_tag_up_to_and_including_it);
	tcase_add_test(tc, tag_0_with_multiple_settles_everything_outstanding);
	tcase_add_test(tc, tag_0_with_multiple_and_nothing_outstanding_is_accepted_silently);
	tcase_add_test(tc, an_unknown_delivery_tag_closes_the_channel_with_406);
	tcase_add_test(tc, an_unknown_tag_with_multiple_is_also_a_406);
	tcase_add_test(tc, a_tag_settled_once_is_unknown_the_second_time);
	tcase_add_test(tc, tag_0_without_multiple_is_unknown);
	tcase_add_test(tc, multiple_needs_the_tag_itself_to_be_outstanding);
	tcase_add_test(tc, a_no_ack_tag_is_never_outstanding);
	tcase_add_test(tc, multiple_steps_over_the_slots_no_ack_deliveries_left);
	tcase_add_test(tc, settled_slots_are_trimmed_only_from_the_front);
	tcase_add_test(tc, the_ring_grows_and_wraps_without_losing_a_tag);
	tcase_add_test(tc, after_everything_is_settled_tags_go_on_increasing);
	tcase_add_test(tc, a_requeue_puts_each_message_back_at_its_original_place);
	tcase_add_test(tc, a_reject_without_requeue_drops_the_message);
	tcase_add_test(tc, closing_the_channel_requeues_every_unacked_delivery);
	tcase_add_test(tc, a_delivery_outlives_the_deletion_of_its_queue);
	tcase_add_test(tc, consumer_deliveries_are_tracked_against_the_consumer_and_its_prefetch);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(channel_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
