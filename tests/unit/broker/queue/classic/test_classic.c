/* tests/unit/broker/queue/classic/test_classic.c: broker/queue/classic/classic.c, the classic
 * kind, through queue.c's functions on a real broker, vhost and queues (tests/support/fixture.c):
 * publish order and the ready counts and bytes, x-max-priority (higher first, FIFO within a
 * level, priorities above the maximum counted as the maximum), requeue to the original place
 * with the redelivered flag, x-message-ttl and the expiration property (never delivered once
 * expired, dead-lettered as expired, only at the head, the TTL timer, the original deadline kept
 * across a requeue), x-max-length and x-max-length-bytes under drop-head, reject-publish and
 * reject-publish-dlx, purge, and settling (ack frees, reject dead-letters). Expected behaviour is
 * RabbitMQ 3.10.8's (shared/reference/rabbitmq-semantics.md sections 2 to 4, and runs against a
 * private 3.10.8 node for the requeue, purge and consumer cases named below). Deliveries to
 * consumers go through a real channel (channel_consumer_ops) on a fixture connection; the store
 * cases open a real store in a temporary directory with durable_open (paging forced through
 * b->mem_paging, as the memory check sets it) and read it back as a restart would. */
#include "broker/queue/classic/classic.h"

#include <check.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "amqp/props.h"
#include "broker/admin/durable.h"
#include "broker/core/broker.h"
#include "broker/exchange/exchange.h"
#include "broker/net/channel.h"
#include "broker/net/conn.h"
#include "broker/queue/consumer.h"
#include "broker/queue/message.h"
#include "broker/queue/queue.h"
#include "broker/vhost/vhost.h"
#include "storage/store.h"
#include "tests/support/argtable.h"
#include "tests/support/fixture.h"

static struct fixture *f;
static struct queue *dlq; /* bound to the fanout exchange "dlx" */
static uint64_t live_before;
static char err[256];

static void setup(void)
{
	f = fixture_new();
	struct exchange *dlx =
		fixture_exchange(f->v, "dlx", "fanout", false, (struct amqp_table){ 0 });
	dlq = fixture_queue(f->v, "dlq", (struct amqp_table){ 0 });
	ck_assert_int_eq(exchange_bind(dlx, dlq, NULL, AMQP_STR_LIT(""), (struct amqp_table){ 0 },
				       err, sizeof err),
			 0);
	live_before = f->b->message_live_count;
}

static void teardown(void)
{
	fixture_free(f);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* A queue named name with the arguments in a (NULL: none). */
static struct queue *declare(const char *name, struct argtable *a)
{
	struct queue *q = fixture_queue(f->v, name, a ? argtable_get(a) : (struct amqp_table){ 0 });
	if (a)
		argtable_free(a);
	return q;
}

/* basic.publish of body to q as the publish handler hands it over: priority prio (-1: no
 * priority property) and expiration ms (-1: no expiration property). The publisher's ref is
 * dropped after the push, so only the queue's refs keep the message alive. */
static enum queue_push_result publish(struct queue *q, const char *body, int prio,
				      int64_t expiration)
{
	struct amqp_basic_props p = { 0 };
	char exp[24];
	if (prio >= 0) {
		p.flags |= AMQP_PROP_PRIORITY;
		p.priority = (uint8_t)prio;
	}
	if (expiration >= 0) {
		snprintf(exp, sizeof exp, "%lld", (long long)expiration);
		p.flags |= AMQP_PROP_EXPIRATION;
		p.expiration = amqp_str_c(exp);
	}
	struct message *m = fixture_message(f, "", (const char *)q->name.ptr, &p, body);
	m->expiration_ms = expiration;
	enum queue_push_result r = queue_push(q, m);
	message_unref(m);
	return r;
}

static enum queue_push_result publish_plain(struct queue *q, const char *body)
{
	return publish(q, body, -1, -1);
}

static const char *body_of(const struct message *m)
{
	static char body[128];
	snprintf(body, sizeof body, "%.*s", (int)m->body_len, (const char *)m->body);
	return body;
}

/* basic.get with no-ack: the head's body, its message freed; "" when nothing is ready. */
static const char *get_body(struct queue *q)
{
	struct qentry e;
	if (!queue_get(q, &e))
		return "";
	const char *b = body_of(e.msg);
	message_unref(e.msg);
	return b;
}

/* basic.get without ack: the head's entry, whose ref the test holds until it settles it. */
static struct qentry take(struct queue *q)
{
	struct qentry e;
	ck_assert(queue_get(q, &e));
	return e;
}

/* What the channel does with a delivery taken as e (the delivery_count-th). */
static void settle(struct queue *q, const struct qentry *e, enum queue_settle how)
{
	queue_settle(q, e->msg, e->seq, e->delivery_count + 1, how);
}

/* The bodies left in q, popped in order and joined with ",". */
static const char *drain(struct queue *q)
{
	static char out[512];
	struct qentry e;
	size_t n = 0;
	out[0] = '\0';
	while (queue_get(q, &e)) {
		n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", n ? "," : "",
				      body_of(e.msg));
		message_unref(e.msg);
		ck_assert_uint_lt(n, sizeof out);
	}
	return out;
}

/* The dead-lettered messages in dlq, as "body:reason" joined with ",". */
static const char *dead_letters(void)
{
	static char out[512];
	struct qentry e;
	size_t n = 0;
	out[0] = '\0';
	while (queue_get(dlq, &e)) {
		struct amqp_basic_props p;
		struct amqp_value v;
		ck_assert_int_eq(amqp_props_decode(&p, e.msg->props, e.msg->props_len), 0);
		ck_assert(p.flags & AMQP_PROP_HEADERS);
		ck_assert(amqp_table_get(p.headers, "x-first-death-reason", &v));
		ck_assert_int_eq(v.type, 'S');
		n += (size_t)snprintf(out + n, sizeof out - n, "%s%s:%.*s", n ? "," : "",
				      body_of(e.msg), (int)v.v.str.len, (const char *)v.v.str.ptr);
		message_unref(e.msg);
		ck_assert_uint_lt(n, sizeof out);
	}
	return out;
}

static void assert_no_message_alive(void)
{
	ck_assert_uint_eq(f->b->message_live_count, live_before);
	ck_assert_uint_eq(f->b->message_live_bytes, 0);
}

static void assert_ready(const struct queue *q, uint32_t count, uint64_t bytes)
{
	ck_assert_uint_eq(q->ready_count, count);
	ck_assert_uint_eq(q->ready_bytes, bytes);
	ck_assert_uint_eq(q->mem_count, count); /* nothing is paged without a store */
	ck_assert_uint_eq(q->mem_bytes, bytes);
}

/* ---- publish order and bookkeeping ---- */

START_TEST(basic_get_hands_out_messages_in_publish_order)
{
	struct queue *q = declare("fifo", NULL);
	const char *bodies[] = { "one", "two", "three", "four", "five" };
	for (size_t i = 0; i < 5; i++)
		ck_assert_int_eq(publish_plain(q, bodies[i]), QUEUE_PUSHED);
	ck_assert_str_eq(drain(q), "one,two,three,four,five");
	ck_assert_str_eq(get_body(q), ""); /* empty now */
	assert_no_message_alive();
}
END_TEST

START_TEST(the_ready_count_and_bytes_follow_every_publish_take_and_settle)
{
	struct queue *q = declare("counts", NULL);
	assert_ready(q, 0, 0);
	publish_plain(q, "a");
	publish_plain(q, "bb");
	publish_plain(q, "ccc");
	assert_ready(q, 3, 6);
	ck_assert_uint_eq(q->stat_published, 3);
	ck_assert_uint_eq(f->b->message_live_count, live_before + 3);
	ck_assert_uint_eq(f->b->message_live_bytes, 6);

	struct qentry a = take(q);
	assert_ready(q, 2, 5); /* an unacked delivery is no longer ready */
	struct qentry bb = take(q);
	assert_ready(q, 1, 3);
	settle(q, &bb, QUEUE_SETTLE_REQUEUE);
	assert_ready(q, 2, 5);
	ck_assert_uint_eq(q->stat_redelivered, 1);
	settle(q, &a, QUEUE_SETTLE_ACK);
	assert_ready(q, 2, 5);
	ck_assert_uint_eq(f->b->message_live_count, live_before + 2);
	ck_assert_str_eq(drain(q), "bb,ccc");
	assert_ready(q, 0, 0);
	assert_no_message_alive();
}
END_TEST

START_TEST(one_message_published_to_two_queues_is_one_allocation_held_by_both)
{
	struct queue *q1 = declare("q1", NULL), *q2 = declare("q2", NULL);
	struct message *m = fixture_message(f, "", "", NULL, "shared");
	ck_assert_int_eq(queue_push(q1, m), QUEUE_PUSHED);
	ck_assert_int_eq(queue_push(q2, m), QUEUE_PUSHED);
	message_unref(m);
	ck_assert_uint_eq(m->refs, 2);
	ck_assert_uint_eq(f->b->message_live_count, live_before + 1);
	ck_assert_str_eq(get_body(q1), "shared");
	ck_assert_uint_eq(f->b->message_live_count, live_before + 1); /* q2 still holds it */
	ck_assert_str_eq(get_body(q2), "shared");
	assert_no_message_alive();
}
END_TEST

/* ---- x-max-priority ---- */

static struct queue *priority_queue(const char *name, int64_t max)
{
	struct argtable a;
	argtable_init(&a);
	argtable_int(&a, "x-max-priority", 'I', max);
	return declare(name, &a);
}

START_TEST(a_higher_priority_message_is_taken_first)
{
	struct queue *q = priority_queue("prio", 5);
	publish(q, "low", 1, -1);
	publish(q, "none", -1, -1);
	publish(q, "high", 4, -1);
	publish(q, "mid", 2, -1);
	ck_assert_str_eq(drain(q), "high,mid,low,none");
	assert_no_message_alive();
}
END_TEST

START_TEST(messages_of_one_priority_keep_their_publish_order)
{
	struct queue *q = priority_queue("prio", 3);
	publish(q, "a1", 2, -1);
	publish(q, "b1", 1, -1);
	publish(q, "a2", 2, -1);
	publish(q, "b2", 1, -1);
	publish(q, "a3", 2, -1);
	publish(q, "z", 0, -1);
	publish(q, "b3", 1, -1);
	ck_assert_str_eq(drain(q), "a1,a2,a3,b1,b2,b3,z");
	assert_no_message_alive();
}
END_TEST

START_TEST(priorities_above_the_maximum_count_as_the_maximum)
{
	/* RabbitMQ 3.10.8 with x-max-priority 5, published None,0,1,3,5,9,255,3: delivered
	 * 5, 9, 255, 3, 3, 1, None, 0 (rabbitmq-semantics.md section 4). */
	struct queue *q = priority_queue("prio", 5);
	publish(q, "none", -1, -1);
	publish(q, "0", 0, -1);
	publish(q, "1", 1, -1);
	publish(q, "3a", 3, -1);
	publish(q, "5", 5, -1);
	publish(q, "9", 9, -1);
	publish(q, "255", 255, -1);
	publish(q, "3b", 3, -1);
	ck_assert_str_eq(drain(q), "5,9,255,3a,3b,1,none,0");
	assert_no_message_alive();
}
END_TEST

START_TEST(a_queue_without_x_max_priority_ignores_the_priority_property)
{
	struct queue *q = declare("plain", NULL);
	publish(q, "low", 0, -1);
	publish(q, "high", 9, -1);
	publish(q, "none", -1, -1);
	ck_assert_str_eq(drain(q), "low,high,none");
	struct queue *zero = priority_queue("zero", 0); /* 0: a plain queue (RabbitMQ) */
	publish(zero, "low", 0, -1);
	publish(zero, "high", 9, -1);
	ck_assert_str_eq(drain(zero), "low,high");
	assert_no_message_alive();
}
END_TEST

/* ---- requeue ---- */

START_TEST(a_requeued_message_goes_back_to_its_original_position)
{
	struct queue *q = declare("requeue", NULL);
	publish_plain(q, "m0");
	publish_plain(q, "m1");
	publish_plain(q, "m2");
	publish_plain(q, "m3");
	struct qentry m0 = take(q), m1 = take(q), m2 = take(q);
	publish_plain(q, "m4");
	settle(q, &m1, QUEUE_SETTLE_REQUEUE); /* between nothing yet: goes to the front */
	settle(q, &m2, QUEUE_SETTLE_REQUEUE); /* behind m1, ahead of m3 */
	settle(q, &m0, QUEUE_SETTLE_REQUEUE); /* ahead of m1 */
	ck_assert_str_eq(drain(q), "m0,m1,m2,m3,m4");
	assert_no_message_alive();
}
END_TEST

START_TEST(a_requeued_message_is_marked_redelivered_and_counts_its_deliveries)
{
	struct queue *q = declare("requeue", NULL);
	publish_plain(q, "m");
	struct qentry e = take(q);
	ck_assert(!e.redelivered);
	ck_assert_uint_eq(e.delivery_count, 0);
	settle(q, &e, QUEUE_SETTLE_REQUEUE);
	e = take(q);
	ck_assert(e.redelivered);
	ck_assert_uint_eq(e.delivery_count, 1);
	settle(q, &e, QUEUE_SETTLE_REQUEUE);
	e = take(q);
	ck_assert(e.redelivered);
	ck_assert_uint_eq(e.delivery_count, 2);
	settle(q, &e, QUEUE_SETTLE_ACK);
	assert_no_message_alive();
}
END_TEST

START_TEST(a_requeued_message_goes_back_to_its_place_within_its_priority)
{
	struct queue *q = priority_queue("prio", 5);
	publish(q, "lo1", 0, -1);
	publish(q, "hi1", 5, -1);
	publish(q, "lo2", 0, -1);
	publish(q, "hi2", 5, -1);
	struct qentry hi1 = take(q), hi2 = take(q), lo1 = take(q);
	settle(q, &lo1, QUEUE_SETTLE_REQUEUE);
	settle(q, &hi2, QUEUE_SETTLE_REQUEUE);
	settle(q, &hi1, QUEUE_SETTLE_REQUEUE);
	ck_assert_str_eq(drain(q), "hi1,hi2,lo1,lo2");
	assert_no_message_alive();
}
END_TEST

START_TEST(a_message_taken_back_untouched_is_not_marked_redelivered)
{
	/* queue_untake: a delivery that never left (the consumer's owner failed first) */
	struct queue *q = declare("untake", NULL);
	publish_plain(q, "m0");
	publish_plain(q, "m1");
	struct qentry e = take(q);
	queue_untake(q, &e);
	ck_assert_uint_eq(q->ready_count, 2);
	e = take(q);
	ck_assert_str_eq(body_of(e.msg), "m0");
	ck_assert(!e.redelivered);
	ck_assert_uint_eq(e.delivery_count, 0);
	ck_assert_uint_eq(q->stat_redelivered, 0);
	message_unref(e.msg);
	ck_assert_str_eq(drain(q), "m1");
	assert_no_message_alive();
}
END_TEST

START_TEST(requeue_on_channel_close_puts_deliveries_back_in_place_and_redelivered)
{
	struct queue *q = declare("work", NULL);
	struct conn *c = fixture_conn(f, f->v, f->guest);
	struct channel *ch = channel_new(c, 1);
	ck_assert_ptr_nonnull(ch);
	publish_plain(q, "m0");
	publish_plain(q, "m1");
	publish_plain(q, "m2");
	for (int i = 0; i < 2; i++) {
		struct qentry e = take(q);
		channel_track(ch, e.msg, q, NULL, e.seq, e.delivery_count + 1, false);
	}
	ck_assert_uint_eq(q->unacked_count, 2);
	channel_free(ch); /* the client went away */
	ck_assert_uint_eq(q->unacked_count, 0);
	struct qentry e = take(q);
	ck_assert_str_eq(body_of(e.msg), "m0");
	ck_assert(e.redelivered);
	message_unref(e.msg);
	e = take(q);
	ck_assert_str_eq(body_of(e.msg), "m1");
	ck_assert(e.redelivered);
	message_unref(e.msg);
	e = take(q);
	ck_assert_str_eq(body_of(e.msg), "m2");
	ck_assert(!e.redelivered);
	message_unref(e.msg);
	assert_no_message_alive();
}
END_TEST

/* ---- settling ---- */

START_TEST(acking_a_delivery_frees_its_message)
{
	struct queue *q = declare("ack", NULL);
	publish_plain(q, "payload");
	struct qentry e = take(q);
	ck_assert_uint_eq(f->b->message_live_count, live_before + 1);
	ck_assert_uint_eq(e.msg->refs, 1); /* the delivery's ref is the only one */
	settle(q, &e, QUEUE_SETTLE_ACK);
	assert_no_message_alive();
	ck_assert_uint_eq(q->ready_count, 0);
	ck_assert_str_eq(dead_letters(), "");
}
END_TEST

START_TEST(a_rejected_delivery_is_dead_lettered_as_rejected_and_freed)
{
	struct argtable a;
	argtable_init(&a);
	argtable_str(&a, "x-dead-letter-exchange", "dlx");
	struct queue *q = declare("reject", &a);
	publish_plain(q, "no");
	struct qentry e = take(q);
	settle(q, &e, QUEUE_SETTLE_REJECT);
	ck_assert_uint_eq(q->ready_count, 0);
	ck_assert_str_eq(dead_letters(), "no:rejected");
	assert_no_message_alive();
}
END_TEST

START_TEST(a_rejected_delivery_without_a_dead_letter_exchange_is_only_freed)
{
	struct queue *q = declare("reject", NULL);
	publish_plain(q, "no");
	struct qentry e = take(q);
	uint64_t dead = f->b->stats.dead_lettered;
	settle(q, &e, QUEUE_SETTLE_REJECT);
	ck_assert_uint_eq(f->b->stats.dead_lettered, dead);
	ck_assert_uint_eq(q->ready_count, 0);
	assert_no_message_alive();
}
END_TEST

/* ---- TTL ---- */

static struct queue *ttl_queue(const char *name, int64_t ttl, bool with_dlx)
{
	struct argtable a;
	argtable_init(&a);
	if (ttl >= 0)
		argtable_int(&a, "x-message-ttl", 'I', ttl);
	if (with_dlx)
		argtable_str(&a, "x-dead-letter-exchange", "dlx");
	return declare(name, &a);
}

START_TEST(past_the_queue_ttl_a_message_is_dead_lettered_as_expired_not_delivered)
{
	struct queue *q = ttl_queue("ttl", 200, true); /* long enough for "new" on a busy machine */
	publish_plain(q, "old");
	sleep_ms(250);
	publish_plain(q, "new");
	uint64_t expired = f->b->stats.expired;
	ck_assert_str_eq(get_body(q), "new");
	ck_assert_uint_eq(f->b->stats.expired, expired + 1);
	ck_assert_str_eq(dead_letters(), "old:expired");
	assert_no_message_alive();
}
END_TEST

START_TEST(past_its_expiration_a_message_is_dead_lettered_as_expired_not_delivered)
{
	struct queue *q = ttl_queue("exp", -1, true);
	publish(q, "short", -1, 10);
	publish(q, "forever", -1, -1);
	sleep_ms(30);
	ck_assert_str_eq(get_body(q), "forever");
	ck_assert_str_eq(dead_letters(), "short:expired");
	assert_no_message_alive();
}
END_TEST

START_TEST(the_shorter_of_the_queue_ttl_and_the_expiration_applies)
{
	struct queue *q = ttl_queue("both", 10, true);
	publish(q, "queue-ttl-wins", -1, 100000); /* RabbitMQ: expired at the queue's 10 ms */
	sleep_ms(30);
	ck_assert_str_eq(get_body(q), "");
	struct queue *q2 = ttl_queue("both2", 100000, true);
	publish(q2, "expiration-wins", -1, 10);
	sleep_ms(30);
	ck_assert_str_eq(get_body(q2), "");
	ck_assert_str_eq(dead_letters(), "queue-ttl-wins:expired,expiration-wins:expired");
	assert_no_message_alive();
}
END_TEST

START_TEST(an_expired_message_behind_a_live_one_leaves_only_when_it_reaches_the_head)
{
	/* RabbitMQ 3.10.8: [long-TTL msg, 10 ms msg] still counted 2 after 300 ms, and 0 once the
	 * head was consumed (rabbitmq-semantics.md section 3). */
	struct queue *q = ttl_queue("heads", -1, true);
	publish(q, "long", -1, 100000);
	publish(q, "short", -1, 10);
	sleep_ms(30);
	queue_expire(q); /* what the TTL timer runs */
	ck_assert_uint_eq(q->ready_count, 2);
	ck_assert_str_eq(dead_letters(), "");
	ck_assert_str_eq(get_body(q), "long");
	ck_assert_str_eq(get_body(q), ""); /* "short" was found expired on the way */
	ck_assert_str_eq(dead_letters(), "short:expired");
	assert_no_message_alive();
}
END_TEST

START_TEST(the_ttl_timer_expires_the_head_without_anyone_asking)
{
	struct queue *q = ttl_queue("timer", 10, true);
	publish_plain(q, "a");
	publish_plain(q, "b");
	sleep_ms(30);
	ck_assert_uint_eq(q->ready_count, 2);
	/* one turn of the broker's loop: the queue's TTL timer is due */
	ck_assert_int_ge(event_base_loop(f->base, EVLOOP_NONBLOCK), 0);
	ck_assert_uint_eq(q->ready_count, 0);
	ck_assert_uint_eq(q->ready_bytes, 0);
	ck_assert_str_eq(dead_letters(), "a:expired,b:expired");
	assert_no_message_alive();
}
END_TEST

START_TEST(an_expired_message_without_a_dead_letter_exchange_is_dropped_and_freed)
{
	struct queue *q = ttl_queue("drop", 10, false);
	publish_plain(q, "gone");
	sleep_ms(30);
	uint64_t dead = f->b->stats.dead_lettered;
	ck_assert_str_eq(get_body(q), "");
	ck_assert_uint_eq(f->b->stats.dead_lettered, dead);
	ck_assert_uint_eq(q->ready_count, 0);
	assert_no_message_alive();
}
END_TEST

START_TEST(a_requeued_message_keeps_its_original_expiry)
{
	struct queue *q = ttl_queue("keep", 200, true);
	publish_plain(q, "m");
	struct qentry e = take(q);
	sleep_ms(250); /* past its deadline while out with a consumer */
	settle(q, &e, QUEUE_SETTLE_REQUEUE);
	ck_assert_str_eq(get_body(q), ""); /* expired, not given a fresh TTL */
	ck_assert_str_eq(dead_letters(), "m:expired");
	assert_no_message_alive();
}
END_TEST

START_TEST(a_ttl_of_zero_is_kept_only_while_a_consumer_can_take_it_now)
{
	/* RabbitMQ 3.10.8: x-message-ttl 0 with a consumer at prefetch 1 and 2 messages
	 * published: the first was delivered, the second dropped. Warren decides at the publish:
	 * kept (for this loop turn's dispatch, a deadline 1 ms ahead) when a consumer can take it,
	 * expired at once when none can. What the dispatch then finds depends on the clock, so
	 * only the decision is checked here. */
	struct queue *q = ttl_queue("ttl0", 0, true);
	struct conn *c = fixture_conn(f, f->v, f->guest);
	struct channel *ch = channel_new(c, 1);
	struct consumer *cons = consumer_new(&channel_consumer_ops, ch, q, AMQP_STR_LIT("ctag"),
					     false, false, 1, 0);
	ck_assert_ptr_nonnull(cons);
	publish_plain(q, "first");
	ck_assert_uint_eq(q->ready_count, 1);
	ck_assert_str_eq(dead_letters(), "");
	ch->flow_active = false; /* channel.flow: the consumer can take nothing now */
	publish_plain(q, "second");
	ck_assert_uint_eq(q->ready_count, 1);
	ck_assert_str_eq(dead_letters(), "second:expired");
	channel_cancel_consumer(ch, cons);
	ck_assert_uint_eq(queue_purge(q), 1);
	channel_free(ch);
	assert_no_message_alive();
}
END_TEST

/* ---- length limits ---- */

/* A queue with x-max-length (or, when bytes, x-max-length-bytes) limit, x-overflow overflow
 * (NULL: the default, drop-head) and the DLX "dlx". */
static struct queue *limited(const char *name, int64_t limit, bool bytes, const char *overflow)
{
	struct argtable a;
	argtable_init(&a);
	argtable_int(&a, bytes ? "x-max-length-bytes" : "x-max-length", 'I', limit);
	if (overflow)
		argtable_str(&a, "x-overflow", overflow);
	argtable_str(&a, "x-dead-letter-exchange", "dlx");
	return declare(name, &a);
}

START_TEST(drop_head_drops_the_oldest_message_and_dead_letters_it_as_maxlen)
{
	struct queue *q = limited("short", 2, false, NULL);
	ck_assert_int_eq(publish_plain(q, "a"), QUEUE_PUSHED);
	ck_assert_int_eq(publish_plain(q, "b"), QUEUE_PUSHED);
	ck_assert_int_eq(publish_plain(q, "c"), QUEUE_PUSHED);
	ck_assert_int_eq(publish_plain(q, "d"), QUEUE_PUSHED);
	assert_ready(q, 2, 2);
	ck_assert_str_eq(dead_letters(), "a:maxlen,b:maxlen");
	ck_assert_str_eq(drain(q), "c,d");
	assert_no_message_alive();
}
END_TEST

START_TEST(drop_head_by_bytes_drops_as_many_old_messages_as_it_takes)
{
	struct queue *q = limited("bytes", 10, true, NULL);
	publish_plain(q, "aaa");
	publish_plain(q, "bbb");
	publish_plain(q, "ccc");
	assert_ready(q, 3, 9);
	publish_plain(q, "ddddd"); /* 14 bytes: aaa (11 left) and bbb (8) must go */
	assert_ready(q, 2, 8);
	ck_assert_str_eq(dead_letters(), "aaa:maxlen,bbb:maxlen");
	ck_assert_str_eq(drain(q), "ccc,ddddd");
	assert_no_message_alive();
}
END_TEST

START_TEST(under_drop_head_a_message_larger_than_the_byte_limit_drops_itself)
{
	struct queue *q = limited("tiny", 3, true, NULL);
	publish_plain(q, "ok");
	ck_assert_int_eq(publish_plain(q, "too big"), QUEUE_PUSHED);
	assert_ready(q, 0, 0);
	ck_assert_str_eq(dead_letters(), "ok:maxlen,too big:maxlen");
	assert_no_message_alive();
}
END_TEST

START_TEST(reject_publish_refuses_the_new_message_and_keeps_the_old_ones)
{
	struct queue *q = limited("full", 2, false, "reject-publish");
	ck_assert_int_eq(publish_plain(q, "a"), QUEUE_PUSHED);
	ck_assert_int_eq(publish_plain(q, "b"), QUEUE_PUSHED);
	ck_assert_int_eq(publish_plain(q, "c"), QUEUE_REJECTED);
	assert_ready(q, 2, 2);
	ck_assert_uint_eq(q->stat_published, 2);
	ck_assert_str_eq(dead_letters(), ""); /* reject-publish never dead-letters */
	ck_assert_str_eq(drain(q), "a,b");
	assert_no_message_alive();
}
END_TEST

START_TEST(reject_publish_by_bytes_refuses_what_would_pass_the_limit)
{
	struct queue *q = limited("full", 5, true, "reject-publish");
	ck_assert_int_eq(publish_plain(q, "abc"), QUEUE_PUSHED);
	ck_assert_int_eq(publish_plain(q, "def"), QUEUE_REJECTED); /* 6 > 5 */
	ck_assert_int_eq(publish_plain(q, "gh"), QUEUE_PUSHED);    /* 5: at the limit */
	ck_assert_int_eq(publish_plain(q, "i"), QUEUE_REJECTED);
	assert_ready(q, 2, 5);
	ck_assert_str_eq(drain(q), "abc,gh");
	assert_no_message_alive();
}
END_TEST

START_TEST(reject_publish_dlx_refuses_the_new_message_and_dead_letters_it_as_maxlen)
{
	struct queue *q = limited("full", 1, false, "reject-publish-dlx");
	ck_assert_int_eq(publish_plain(q, "kept"), QUEUE_PUSHED);
	ck_assert_int_eq(publish_plain(q, "refused"), QUEUE_REJECTED);
	assert_ready(q, 1, 4);
	ck_assert_str_eq(dead_letters(), "refused:maxlen");
	ck_assert_str_eq(drain(q), "kept");
	assert_no_message_alive();
}
END_TEST

START_TEST(unacked_deliveries_do_not_count_towards_the_length_limit)
{
	struct queue *q = limited("full", 1, false, "reject-publish");
	publish_plain(q, "a");
	struct qentry a = take(q);
	ck_assert_int_eq(publish_plain(q, "b"), QUEUE_PUSHED);
	/* RabbitMQ 3.10.8 (a private node): a requeue under reject-publish is not refused and
	 * may leave the queue above its limit; only publishes are refused. */
	settle(q, &a, QUEUE_SETTLE_REQUEUE);
	assert_ready(q, 2, 2);
	ck_assert_int_eq(publish_plain(q, "c"), QUEUE_REJECTED);
	ck_assert_str_eq(drain(q), "a,b");
	ck_assert_str_eq(dead_letters(), "");
	assert_no_message_alive();
}
END_TEST

START_TEST(a_requeue_past_the_length_limit_drops_the_head_under_drop_head)
{
	/* RabbitMQ 3.10.8 (a private node): x-max-length 1, A taken, B published, A nacked with
	 * requeue: the queue holds B and A was dead-lettered as maxlen (requeue_and_run calls
	 * maybe_drop_head). */
	struct queue *q = limited("short", 1, false, NULL);
	publish_plain(q, "A");
	struct qentry a = take(q);
	publish_plain(q, "B");
	settle(q, &a, QUEUE_SETTLE_REQUEUE);
	assert_ready(q, 1, 1);
	ck_assert_str_eq(dead_letters(), "A:maxlen");
	ck_assert_str_eq(drain(q), "B");
	assert_no_message_alive();
}
END_TEST

/* A real channel on a fixture connection with one consumer of q at prefetch (0: none). */
struct subscriber {
	struct conn *c;
	struct channel *ch;
	struct consumer *cons;
};

static struct subscriber subscribe(struct queue *q, uint16_t prefetch)
{
	struct subscriber s;
	s.c = fixture_conn(f, f->v, f->guest);
	s.ch = channel_new(s.c, 1);
	ck_assert_ptr_nonnull(s.ch);
	s.cons = consumer_new(&channel_consumer_ops, s.ch, q, AMQP_STR_LIT("ctag"), false, false,
			      prefetch, 0);
	ck_assert_ptr_nonnull(s.cons);
	return s;
}

/* How many basic.deliver frames the subscriber's client has been sent (taken out). */
static int delivered(struct subscriber *s)
{
	uint16_t chan;
	struct amqp_method m;
	int n = 0;
	while (fixture_next_method(f, s->c, &chan, &m)) {
		ck_assert_uint_eq(m.id, AMQP_BASIC_DELIVER);
		n++;
	}
	return n;
}

/* The client acks everything it was sent and goes away. */
static void unsubscribe(struct subscriber *s)
{
	channel_cancel_consumer(s->ch, s->cons);
	s->ch->method_id = AMQP_BASIC_ACK;
	ck_assert_int_eq(channel_settle(s->ch, 0, true, true, false), 0);
	channel_free(s->ch);
}

START_TEST(a_burst_into_a_full_queue_reaches_a_consumer_with_room_before_any_drop)
{
	/* RabbitMQ 3.10.8 (a private node): 50 messages published at once into x-max-length 1
	 * with a consumer at prefetch 100: all 50 delivered. The queue offers each message to a
	 * consumer that can take it before its length limit decides (deliver_or_enqueue), so the
	 * limit only bounds what waits. */
	struct queue *q = limited("burst", 1, false, NULL);
	struct subscriber s = subscribe(q, 100);
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(publish_plain(q, "m"), QUEUE_PUSHED); /* one loop turn */
	broker_run_deferred(f->b);
	ck_assert_int_eq(delivered(&s), 50);
	ck_assert_str_eq(dead_letters(), "");
	ck_assert_uint_eq(q->ready_count, 0);
	unsubscribe(&s);
	assert_no_message_alive();
}
END_TEST

START_TEST(a_consumer_at_its_prefetch_leaves_the_limit_to_drop_what_waits)
{
	/* x-max-length 1, prefetch 2, ten published at once: RabbitMQ delivers m0 and m1, then
	 * each later message pushes the one before it out. */
	struct queue *q = limited("burst", 1, false, NULL);
	struct subscriber s = subscribe(q, 2);
	for (int i = 0; i < 10; i++) {
		char body[8];
		snprintf(body, sizeof body, "m%d", i);
		publish_plain(q, body);
	}
	broker_run_deferred(f->b);
	ck_assert_int_eq(delivered(&s), 2);
	ck_assert_str_eq(dead_letters(),
			 "m2:maxlen,m3:maxlen,m4:maxlen,m5:maxlen,m6:maxlen,m7:maxlen,m8:maxlen");
	ck_assert_str_eq(drain(q), "m9");
	unsubscribe(&s);
	assert_no_message_alive();
}
END_TEST

START_TEST(x_max_length_0_still_delivers_to_a_waiting_consumer)
{
	/* RabbitMQ 3.10.8 (a private node): x-max-length 0 and a waiting auto-ack consumer: the
	 * message was delivered. */
	struct queue *q = limited("zero", 0, false, NULL);
	struct subscriber s = subscribe(q, 0);
	ck_assert_int_eq(publish_plain(q, "E"), QUEUE_PUSHED);
	broker_run_deferred(f->b);
	ck_assert_int_eq(delivered(&s), 1);
	ck_assert_str_eq(dead_letters(), "");
	ck_assert_uint_eq(q->ready_count, 0);
	unsubscribe(&s);
	assert_no_message_alive();
}
END_TEST

START_TEST(reject_publish_accepts_a_burst_that_a_consumer_with_room_takes)
{
	struct queue *q = limited("burst", 1, false, "reject-publish");
	struct subscriber s = subscribe(q, 100);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(publish_plain(q, "m"), QUEUE_PUSHED);
	broker_run_deferred(f->b);
	ck_assert_int_eq(delivered(&s), 20);
	ck_assert_uint_eq(q->ready_count, 0);
	unsubscribe(&s);
	assert_no_message_alive();
}
END_TEST

/* ---- purge ---- */

START_TEST(purge_returns_how_many_ready_messages_it_dropped_and_frees_them)
{
	struct argtable a;
	argtable_init(&a);
	argtable_str(&a, "x-dead-letter-exchange", "dlx");
	struct queue *q = declare("purge", &a);
	publish_plain(q, "a");
	publish_plain(q, "bb");
	publish_plain(q, "ccc");
	ck_assert_uint_eq(queue_purge(q), 3);
	assert_ready(q, 0, 0);
	ck_assert_str_eq(dead_letters(), ""); /* a purge dead-letters nothing */
	assert_no_message_alive();
	ck_assert_uint_eq(queue_purge(q), 0);
	publish_plain(q, "after"); /* the queue goes on working */
	ck_assert_str_eq(drain(q), "after");
}
END_TEST

START_TEST(purge_leaves_unacked_deliveries_alone)
{
	/* RabbitMQ 3.10.8 (a private node): three published, one got without ack, purge said 2,
	 * and the nacked delivery came back as the queue's only message. */
	struct queue *q = declare("purge", NULL);
	struct conn *c = fixture_conn(f, f->v, f->guest);
	struct channel *ch = channel_new(c, 1);
	publish_plain(q, "D1");
	publish_plain(q, "D2");
	publish_plain(q, "D3");
	struct qentry e = take(q);
	uint64_t tag = channel_track(ch, e.msg, q, NULL, e.seq, e.delivery_count + 1, false);
	ck_assert_uint_eq(queue_purge(q), 2);
	ck_assert_uint_eq(q->unacked_count, 1);
	ck_assert_uint_eq(f->b->message_live_count, live_before + 1);
	ch->method_id = AMQP_BASIC_NACK;
	ck_assert_int_eq(channel_settle(ch, tag, false, false, true), 0);
	ck_assert_uint_eq(q->unacked_count, 0);
	assert_ready(q, 1, 2);
	e = take(q);
	ck_assert_str_eq(body_of(e.msg), "D1");
	ck_assert(e.redelivered);
	message_unref(e.msg);
	channel_free(ch);
	assert_no_message_alive();
}
END_TEST

START_TEST(purging_a_priority_queue_empties_every_level)
{
	struct queue *q = priority_queue("prio", 9);
	for (int p = 0; p <= 12; p++)
		publish(q, "x", p, -1);
	ck_assert_uint_eq(queue_purge(q), 13);
	assert_ready(q, 0, 0);
	ck_assert_str_eq(get_body(q), "");
	assert_no_message_alive();
}
END_TEST

/* ---- the store: a durable queue's persistent messages ---- */

static char data_dir[64];
static struct channel *store_ch; /* a client's channel still open when the broker stops */

static void store_setup(void)
{
	setup();
	snprintf(data_dir, sizeof data_dir, "/tmp/warren-test-classic.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(data_dir));
	free(f->cfg.data_dir);
	f->cfg.data_dir = strdup(data_dir);
	ck_assert_ptr_nonnull(f->cfg.data_dir);
	ck_assert_int_eq(durable_open(f->b), 0);
}

static void store_teardown(void)
{
	teardown();
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", data_dir);
	ck_assert_int_eq(system(cmd), 0);
}

struct stored {
	uint64_t queue_id;
	char bodies[256];
	size_t len;
};

static int stored_one(void *arg, uint64_t queue_id, uint64_t msg_id, const struct store_message *m)
{
	struct stored *s = arg;
	(void)msg_id;
	if (queue_id != s->queue_id)
		return 0;
	s->len += (size_t)snprintf(s->bodies + s->len, sizeof s->bodies - s->len, "%s%.*s",
				   s->len ? "," : "", (int)m->body_len, (const char *)m->body);
	ck_assert_uint_lt(s->len, sizeof s->bodies);
	return 0;
}

/* What a restart would give back to the durable queue named name: frees the broker (which
 * closes its store after writing what is pending), then reads the log as start-up does. */
static const char *after_restart(const char *name)
{
	static struct stored s;
	char e[256];
	memset(&s, 0, sizeof s);
	s.queue_id = store_queue_id("/", (const uint8_t *)name, strlen(name));
	if (store_ch) /* its unacked deliveries go back to their queue in memory only */
		channel_free(store_ch);
	store_ch = NULL;
	fixture_free(f);
	store_set_log(NULL, NULL); /* durable_open pointed storage's log at the broker just freed */
	f = fixture_new();
	struct store_options opt = { .no_fsync = true };
	struct store *st = store_open(f->base, data_dir, &opt, e, sizeof e);
	ck_assert_msg(st != NULL, "%s", e);
	struct store_recovery_stats rs;
	ck_assert_int_eq(store_recover(st, stored_one, &s, &rs), 0);
	store_close(st);
	return s.bodies;
}

static enum queue_push_result publish_persistent(struct queue *q, const char *body)
{
	struct amqp_basic_props p = { .flags = AMQP_PROP_DELIVERY_MODE, .delivery_mode = 2 };
	struct message *m = fixture_message(f, "", (const char *)q->name.ptr, &p, body);
	enum queue_push_result r = queue_push(q, m);
	message_unref(m);
	return r;
}

START_TEST(a_durable_queue_keeps_its_persistent_messages_in_the_store_until_acked)
{
	struct queue *q = queue_new(f->v, AMQP_STR_LIT("durable"), true, false, false, NULL,
				    (struct amqp_table){ 0 });
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_ne(q->store_id, 0);
	publish_persistent(q, "P1");
	publish_persistent(q, "P2");
	publish_persistent(q, "P3");
	publish_plain(q, "transient"); /* never written */
	struct qentry e = take(q);
	settle(q, &e, QUEUE_SETTLE_ACK); /* P1 is gone for good */
	e = take(q);
	settle(q, &e, QUEUE_SETTLE_REQUEUE); /* P2 stays */
	e = take(q); /* P2 again; P3 unacked when the broker stops */
	message_unref(e.msg);
	e = take(q);
	message_unref(e.msg);
	ck_assert_str_eq(after_restart("durable"), "P2,P3");
}
END_TEST

START_TEST(a_purge_keeps_the_stored_copy_of_an_unacked_persistent_message)
{
	/* RabbitMQ keeps an unacked message across a purge; after a crash it comes back. Warren
	 * 0.1 wrote one purge record for the whole queue, which took the unacked message's enqueue
	 * with it: the message was lost at the next start even after a requeue. */
	struct queue *q = queue_new(f->v, AMQP_STR_LIT("durable"), true, false, false, NULL,
				    (struct amqp_table){ 0 });
	struct conn *c = fixture_conn(f, f->v, f->guest);
	struct channel *ch = store_ch = channel_new(c, 1);
	publish_persistent(q, "P1");
	publish_persistent(q, "P2");
	publish_persistent(q, "P3");
	publish_persistent(q, "P4");
	struct qentry e = take(q);
	uint64_t t1 = channel_track(ch, e.msg, q, NULL, e.seq, e.delivery_count + 1, false);
	e = take(q);
	channel_track(ch, e.msg, q, NULL, e.seq, e.delivery_count + 1, false);
	ck_assert_uint_eq(queue_purge(q), 2);
	ch->method_id = AMQP_BASIC_NACK;
	ck_assert_int_eq(channel_settle(ch, t1, false, false, true), 0); /* P1 back in the queue */
	ck_assert_uint_eq(q->ready_count, 1);
	/* P2 is still unacked when the broker stops */
	ck_assert_str_eq(after_restart("durable"), "P1,P2");
}
END_TEST

/* Publishes n persistent messages "p<i>" and n transient ones "t<i>" while the broker is short
 * of memory, so that all but the first few wait on disk only (paged). */
static void publish_paged(struct queue *q, int n)
{
	f->b->mem_paging = true;
	for (int i = 0; i < n; i++) {
		char body[16];
		snprintf(body, sizeof body, "p%d", i);
		ck_assert_int_eq(publish_persistent(q, body), QUEUE_PUSHED);
		snprintf(body, sizeof body, "t%d", i);
		ck_assert_int_eq(publish_plain(q, body), QUEUE_PUSHED);
	}
	ck_assert_uint_gt(q->paged_count, 0);
}

static uint64_t store_live_messages(void)
{
	struct store_stats st;
	store_get_stats(f->b->store, &st);
	return st.live_messages;
}

START_TEST(a_purge_of_paged_messages_keeps_only_the_unacked_ones_on_disk)
{
	struct queue *q = queue_new(f->v, AMQP_STR_LIT("durable"), true, false, false, NULL,
				    (struct amqp_table){ 0 });
	struct conn *c = fixture_conn(f, f->v, f->guest);
	struct channel *ch = store_ch = channel_new(c, 1);
	publish_paged(q, 100);
	struct qentry e = take(q); /* p0 */
	channel_track(ch, e.msg, q, NULL, e.seq, e.delivery_count + 1, false);
	e = take(q); /* t0 */
	channel_track(ch, e.msg, q, NULL, e.seq, e.delivery_count + 1, false);
	ck_assert_uint_eq(queue_purge(q), 198);
	assert_ready(q, 0, 0);
	ck_assert_uint_eq(q->paged_count, 0);
	/* the ready messages' records, paged or not, persistent or not, are no longer held */
	ck_assert_uint_eq(store_live_messages(), 1); /* p0 */
	ck_assert_str_eq(after_restart("durable"), "p0");
}
END_TEST

START_TEST(a_purge_of_paged_messages_with_nothing_unacked_releases_every_record)
{
	struct queue *q = queue_new(f->v, AMQP_STR_LIT("durable"), true, false, false, NULL,
				    (struct amqp_table){ 0 });
	publish_paged(q, 100);
	ck_assert_uint_eq(queue_purge(q), 200);
	assert_ready(q, 0, 0);
	ck_assert_uint_eq(q->paged_count, 0);
	ck_assert_uint_eq(store_live_messages(), 0);
	ck_assert_str_eq(after_restart("durable"), "");
}
END_TEST

START_TEST(a_purge_with_nothing_unacked_leaves_nothing_in_the_store)
{
	struct queue *q = queue_new(f->v, AMQP_STR_LIT("durable"), true, false, false, NULL,
				    (struct amqp_table){ 0 });
	publish_persistent(q, "P1");
	publish_persistent(q, "P2");
	ck_assert_uint_eq(queue_purge(q), 2);
	publish_persistent(q, "P3");
	ck_assert_str_eq(after_restart("durable"), "P3");
}
END_TEST

static Suite *classic_suite(void)
{
	Suite *s = suite_create("classic");
	TCase *tc = tcase_create("order");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, basic_get_hands_out_messages_in_publish_order);
	tcase_add_test(tc, the_ready_count_and_bytes_follow_every_publish_take_and_settle);
	tcase_add_test(tc, one_message_published_to_two_queues_is_one_allocation_held_by_both);
	tcase_add_test(tc, a_higher_priority_message_is_taken_first);
	tcase_add_test(tc, messages_of_one_priority_keep_their_publish_order);
	tcase_add_test(tc, priorities_above_the_maximum_count_as_the_maximum);
	tcase_add_test(tc, a_queue_without_x_max_priority_ignores_the_priority_property);
	suite_add_tcase(s, tc);

	tc = tcase_create("settle");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_requeued_message_goes_back_to_its_original_position);
	tcase_add_test(tc, a_requeued_message_is_marked_redelivered_and_counts_its_deliveries);
	tcase_add_test(tc, a_requeued_message_goes_back_to_its_place_within_its_priority);
	tcase_add_test(tc, a_message_taken_back_untouched_is_not_marked_redelivered);
	tcase_add_test(tc, requeue_on_channel_close_puts_deliveries_back_in_place_and_redelivered);
	tcase_add_test(tc, acking_a_delivery_frees_its_message);
	tcase_add_test(tc, a_rejected_delivery_is_dead_lettered_as_rejected_and_freed);
	tcase_add_test(tc, a_rejected_delivery_without_a_dead_letter_exchange_is_only_freed);
	suite_add_tcase(s, tc);

	tc = tcase_create("ttl");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, past_the_queue_ttl_a_message_is_dead_lettered_as_expired_not_delivered);
	tcase_add_test(tc, past_its_expiration_a_message_is_dead_lettered_as_expired_not_delivered);
	tcase_add_test(tc, the_shorter_of_the_queue_ttl_and_the_expiration_applies);
	tcase_add_test(tc,
		       an_expired_message_behind_a_live_one_leaves_only_when_it_reaches_the_head);
	tcase_add_test(tc, the_ttl_timer_expires_the_head_without_anyone_asking);
	tcase_add_test(tc, an_expired_message_without_a_dead_letter_exchange_is_dropped_and_freed);
	tcase_add_test(tc, a_requeued_message_keeps_its_original_expiry);
	tcase_add_test(tc, a_ttl_of_zero_is_kept_only_while_a_consumer_can_take_it_now);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, drop_head_drops_the_oldest_message_and_dead_letters_it_as_maxlen);
	tcase_add_test(tc, drop_head_by_bytes_drops_as_many_old_messages_as_it_takes);
	tcase_add_test(tc, under_drop_head_a_message_larger_than_the_byte_limit_drops_itself);
	tcase_add_test(tc, reject_publish_refuses_the_new_message_and_keeps_the_old_ones);
	tcase_add_test(tc, reject_publish_by_bytes_refuses_what_would_pass_the_limit);
	tcase_add_test(tc,
		       reject_publish_dlx_refuses_the_new_message_and_dead_letters_it_as_maxlen);
	tcase_add_test(tc, unacked_deliveries_do_not_count_towards_the_length_limit);
	tcase_add_test(tc, a_requeue_past_the_length_limit_drops_the_head_under_drop_head);
	tcase_add_test(tc, a_burst_into_a_full_queue_reaches_a_consumer_with_room_before_any_drop);
	tcase_add_test(tc, a_consumer_at_its_prefetch_leaves_the_limit_to_drop_what_waits);
	tcase_add_test(tc, x_max_length_0_still_delivers_to_a_waiting_consumer);
	tcase_add_test(tc, reject_publish_accepts_a_burst_that_a_consumer_with_room_takes);
	suite_add_tcase(s, tc);

	tc = tcase_create("purge");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, purge_returns_how_many_ready_messages_it_dropped_and_frees_them);
	tcase_add_test(tc, purge_leaves_unacked_deliveries_alone);
	tcase_add_test(tc, purging_a_priority_queue_empties_every_level);
	suite_add_tcase(s, tc);

	tc = tcase_create("store");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, store_setup, store_teardown);
	tcase_add_test(tc, a_durable_queue_keeps_its_persistent_messages_in_the_store_until_acked);
	tcase_add_test(tc, a_purge_keeps_the_stored_copy_of_an_unacked_persistent_message);
	tcase_add_test(tc, a_purge_with_nothing_unacked_leaves_nothing_in_the_store);
	tcase_add_test(tc, a_purge_of_paged_messages_keeps_only_the_unacked_ones_on_disk);
	tcase_add_test(tc, a_purge_of_paged_messages_with_nothing_unacked_releases_every_record);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(classic_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
