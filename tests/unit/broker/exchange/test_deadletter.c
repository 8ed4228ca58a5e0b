/* tests/unit/broker/test_deadletter.c: broker/deadletter.c against RabbitMQ 3.10.8's observed
 * dead-lettering (shared/reference/rabbitmq-semantics.md section 2, and a pika run on a private
 * 3.10.8 node for the first entry's key order): the x-death entry of a first death and the
 * x-first-death-* headers, the count raised in place for the same queue and reason, new entries
 * in front (Warren keeps strict newest-first order, docs/queues.md), original-expiration, CC
 * and the dead-letter routing key, the cycle rule, and deaths caused by queue_push (maxlen,
 * TTL 0). Driven through deadletter() and queue_push on a real vhost with queues and
 * exchanges. */
#include "broker/exchange/deadletter.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amqp/props.h"
#include "broker/core/broker.h"
#include "broker/exchange/exchange.h"
#include "broker/queue/message.h"
#include "broker/queue/queue.h"
#include "broker/vhost/vhost.h"
#include "tests/support/argtable.h"
#include "tests/support/fixture.h"

static struct fixture *f;
static struct exchange *dlx;
static struct queue *dlq;
static char err[256];

static void setup(void)
{
	f = fixture_new();
	dlx = fixture_exchange(f->v, "dlx", "fanout", false, (struct amqp_table){ 0 });
	dlq = fixture_queue(f->v, "dlq", (struct amqp_table){ 0 });
	ck_assert_int_eq(exchange_bind(dlx, dlq, NULL, AMQP_STR_LIT(""), (struct amqp_table){ 0 },
				       err, sizeof err),
			 0);
}

static void teardown(void)
{
	fixture_free(f);
}

/* A queue dead-lettering to exchange `to` (NULL: no DLX), with routing key dlrk (NULL: none). */
static struct queue *source(const char *name, const char *to, const char *dlrk)
{
	struct argtable a;
	argtable_init(&a);
	if (to)
		argtable_str(&a, "x-dead-letter-exchange", to);
	if (dlrk)
		argtable_str(&a, "x-dead-letter-routing-key", dlrk);
	struct queue *q = fixture_queue(f->v, name, argtable_get(&a));
	argtable_free(&a);
	return q;
}

/* Message published to "orig" with routing key rk, headers h (NULL: none) and expiration. */
static struct message *published(const char *rk, const struct argtable *h, const char *expiration)
{
	struct amqp_basic_props p = { 0 };
	if (h) {
		p.flags |= AMQP_PROP_HEADERS;
		p.headers = argtable_get(h);
	}
	if (expiration) {
		p.flags |= AMQP_PROP_EXPIRATION;
		p.expiration = amqp_str_c(expiration);
	}
	p.flags |= AMQP_PROP_PRIORITY | AMQP_PROP_DELIVERY_MODE;
	p.priority = 3;
	p.delivery_mode = 2;
	return fixture_message(f, "orig", rk, &p, "payload");
}

/* What q received, popped (the caller unrefs); fails when q is empty. */
static struct message *received(struct queue *q)
{
	ck_assert_uint_eq(queue_ready_count(q), 1);
	struct message *m = fixture_pop(q, NULL);
	ck_assert_ptr_nonnull(m);
	return m;
}

static struct amqp_table headers_of(const struct message *m, struct amqp_basic_props *p)
{
	ck_assert_int_eq(amqp_props_decode(p, m->props, m->props_len), 0);
	ck_assert(p->flags & AMQP_PROP_HEADERS);
	return p->headers;
}

static void assert_str(struct amqp_table t, const char *key, const char *want)
{
	struct amqp_value v;
	ck_assert_msg(amqp_table_get(t, key, &v), "no %s", key);
	ck_assert_int_eq(v.type, 'S');
	ck_assert_int_eq((int)v.v.str.len, (int)strlen(want));
	ck_assert_int_eq(memcmp(v.v.str.ptr, want, strlen(want)), 0);
}

/* The x-death entries of m, in order, into out (up to cap); returns how many. */
static size_t deaths(const struct message *m, struct amqp_table *out, size_t cap)
{
	struct amqp_basic_props p;
	struct amqp_value xd, e;
	struct amqp_table_iter it;
	size_t n = 0;
	ck_assert(amqp_table_get(headers_of(m, &p), "x-death", &xd));
	ck_assert_int_eq(xd.type, 'A');
	amqp_array_iter_init(&it, xd.v.table);
	while (amqp_array_next(&it, &e) == 1) {
		ck_assert_int_eq(e.type, 'F');
		if (n < cap)
			out[n] = e.v.table;
		n++;
	}
	return n;
}

static void assert_death(struct amqp_table d, const char *queue, const char *reason, int64_t count)
{
	struct amqp_value v;
	int64_t n;
	assert_str(d, "queue", queue);
	assert_str(d, "reason", reason);
	ck_assert(amqp_table_get(d, "count", &v));
	ck_assert_int_eq(v.type, 'l');
	ck_assert(amqp_value_as_int(&v, &n));
	ck_assert_int_eq(n, count);
}

START_TEST(reasons_are_named_as_rabbitmq_names_them)
{
	ck_assert_str_eq(deadletter_reason_name(DEADLETTER_REJECTED), "rejected");
	ck_assert_str_eq(deadletter_reason_name(DEADLETTER_EXPIRED), "expired");
	ck_assert_str_eq(deadletter_reason_name(DEADLETTER_MAXLEN), "maxlen");
	ck_assert_str_eq(deadletter_reason_name(DEADLETTER_DELIVERY_LIMIT), "delivery_limit");
}
END_TEST

START_TEST(the_first_death_adds_one_x_death_entry_and_the_first_death_headers)
{
	struct queue *src = source("src", "dlx", NULL);
	struct argtable h;
	argtable_init(&h);
	argtable_str(&h, "keep", "me");
	struct message *m = published("src.key", &h, NULL);
	uint64_t before = f->b->stats.dead_lettered;
	time_t now = time(NULL);
	deadletter(src, m, DEADLETTER_REJECTED);
	ck_assert_uint_eq(f->b->stats.dead_lettered, before + 1);
	struct message *got = received(dlq);
	ck_assert(amqp_str_eq_c(got->exchange, "dlx"));	       /* delivered from the DLX */
	ck_assert(amqp_str_eq_c(got->routing_key, "src.key")); /* with its own key */
	ck_assert_int_eq((int)got->body_len, 7);
	ck_assert_int_eq(memcmp(got->body, "payload", 7), 0);
	ck_assert(got->persistent);
	ck_assert_uint_eq(got->priority, 3);

	struct amqp_basic_props p;
	struct amqp_table hd = headers_of(got, &p);
	assert_str(hd, "keep", "me");
	assert_str(hd, "x-first-death-reason", "rejected");
	assert_str(hd, "x-first-death-queue", "src");
	assert_str(hd, "x-first-death-exchange", "orig");
	ck_assert(p.flags & AMQP_PROP_PRIORITY);

	struct amqp_table d[4];
	ck_assert_uint_eq(deaths(got, d, 4), 1);
	assert_death(d[0], "src", "rejected", 1);
	assert_str(d[0], "exchange", "orig");
	struct amqp_value v, rk;
	ck_assert(amqp_table_get(d[0], "time", &v));
	ck_assert_int_eq(v.type, 'T');
	ck_assert_uint_ge(v.v.u, (uint64_t)now);
	ck_assert_uint_le(v.v.u, (uint64_t)time(NULL));
	ck_assert(amqp_table_get(d[0], "routing-keys", &v));
	ck_assert_int_eq(v.type, 'A');
	struct amqp_table_iter it;
	amqp_array_iter_init(&it, v.v.table);
	ck_assert_int_eq(amqp_array_next(&it, &rk), 1);
	ck_assert(rk.type == 'S' && amqp_str_eq_c(rk.v.str, "src.key"));
	ck_assert_int_eq(amqp_array_next(&it, &rk), 0);
	ck_assert(!amqp_table_get(d[0], "original-expiration", &v));

	/* the entry's keys in RabbitMQ 3.10's order for a first death */
	static const char *const order[] = { "count", "reason",	  "queue",
					     "time",  "exchange", "routing-keys" };
	struct amqp_str key;
	size_t n = 0;
	amqp_table_iter_init(&it, d[0]);
	while (amqp_table_next(&it, &key, &v) == 1) {
		ck_assert_uint_lt(n, 6);
		ck_assert(amqp_str_eq_c(key, order[n]));
		n++;
	}
	ck_assert_uint_eq(n, 6);
	message_unref(got);
	message_unref(m);
	argtable_free(&h);
}
END_TEST

START_TEST(the_same_queue_and_reason_again_raises_the_count_in_place)
{
	struct queue *src = source("src", "dlx", NULL);
	struct message *m = published("k", NULL, NULL);
	deadletter(src, m, DEADLETTER_REJECTED);
	message_unref(m);
	struct message *once = received(dlq);
	deadletter(src, once, DEADLETTER_REJECTED);
	struct message *twice = received(dlq);
	struct amqp_table d[4];
	ck_assert_uint_eq(deaths(twice, d, 4), 1);
	assert_death(d[0], "src", "rejected", 2);
	assert_str(d[0], "exchange", "orig"); /* the entry is kept, not rewritten */
	struct amqp_basic_props p;
	assert_str(headers_of(twice, &p), "x-first-death-queue", "src");
	message_unref(once);
	message_unref(twice);
}
END_TEST

START_TEST(another_queue_or_another_reason_puts_a_new_entry_in_front)
{
	struct queue *q1 = source("q1", "dlx", NULL), *q2 = source("q2", "dlx", NULL);
	struct queue *q3 = source("q3", "dlx", NULL);
	struct message *m = published("k", NULL, NULL), *hop;
	deadletter(q1, m, DEADLETTER_REJECTED);
	message_unref(m);
	hop = received(dlq);
	deadletter(q2, hop, DEADLETTER_EXPIRED);
	message_unref(hop);
	hop = received(dlq);
	deadletter(q1, hop, DEADLETTER_EXPIRED); /* same queue, other reason */
	message_unref(hop);
	hop = received(dlq);
	deadletter(q3, hop, DEADLETTER_MAXLEN);
	message_unref(hop);
	hop = received(dlq);
	struct amqp_table d[8];
	ck_assert_uint_eq(deaths(hop, d, 8), 4);
	assert_death(d[0], "q3", "maxlen", 1);
	assert_death(d[1], "q1", "expired", 1);
	assert_death(d[2], "q2", "expired", 1);
	assert_death(d[3], "q1", "rejected", 1);
	assert_str(d[0], "exchange", "dlx"); /* where this copy had been published */
	assert_str(d[3], "exchange", "orig");
	struct amqp_basic_props p;
	struct amqp_table h = headers_of(hop, &p);
	assert_str(h, "x-first-death-reason", "rejected");
	assert_str(h, "x-first-death-queue", "q1");
	assert_str(h, "x-first-death-exchange", "orig");
	/* one of the older entries dying again is counted where it stands */
	deadletter(q2, hop, DEADLETTER_EXPIRED);
	message_unref(hop);
	hop = received(dlq);
	ck_assert_uint_eq(deaths(hop, d, 8), 4);
	assert_death(d[0], "q3", "maxlen", 1);
	assert_death(d[2], "q2", "expired", 2);
	message_unref(hop);
}
END_TEST

START_TEST(the_expiration_property_moves_into_original_expiration)
{
	struct queue *src = source("src", "dlx", NULL);
	struct message *m = published("k", NULL, "60000");
	deadletter(src, m, DEADLETTER_EXPIRED);
	struct message *got = received(dlq);
	struct amqp_basic_props p;
	struct amqp_table d[2];
	headers_of(got, &p);
	ck_assert(!(p.flags & AMQP_PROP_EXPIRATION));
	ck_assert_uint_eq(deaths(got, d, 2), 1);
	assert_str(d[0], "original-expiration", "60000");
	message_unref(got);
	message_unref(m);
}
END_TEST

START_TEST(cc_keys_are_recorded_and_routed_when_there_is_no_dead_letter_routing_key)
{
	static const char *const cc[] = { "cc.key", NULL };
	struct exchange *d =
		fixture_exchange(f->v, "dlx.direct", "direct", false, (struct amqp_table){ 0 });
	struct queue *main_q = fixture_queue(f->v, "main", (struct amqp_table){ 0 });
	struct queue *cc_q = fixture_queue(f->v, "cc", (struct amqp_table){ 0 });
	struct queue *src = source("src", "dlx.direct", NULL);
	struct argtable h;
	ck_assert_int_eq(exchange_bind(d, main_q, NULL, AMQP_STR_LIT("src.key"),
				       (struct amqp_table){ 0 }, err, sizeof err),
			 0);
	ck_assert_int_eq(exchange_bind(d, cc_q, NULL, AMQP_STR_LIT("cc.key"),
				       (struct amqp_table){ 0 }, err, sizeof err),
			 0);
	argtable_init(&h);
	argtable_str_array(&h, "CC", cc);
	struct message *m = published("src.key", &h, NULL);
	deadletter(src, m, DEADLETTER_REJECTED);
	struct message *got = received(main_q), *copy = received(cc_q);
	struct amqp_basic_props p;
	struct amqp_value v, k;
	struct amqp_table dd[2];
	struct amqp_table_iter it;
	ck_assert(amqp_table_get(headers_of(got, &p), "CC", &v)); /* CC kept */
	ck_assert_uint_eq(deaths(got, dd, 2), 1);
	ck_assert(amqp_table_get(dd[0], "routing-keys", &v));
	amqp_array_iter_init(&it, v.v.table);
	ck_assert_int_eq(amqp_array_next(&it, &k), 1);
	ck_assert(amqp_str_eq_c(k.v.str, "src.key"));
	ck_assert_int_eq(amqp_array_next(&it, &k), 1);
	ck_assert(amqp_str_eq_c(k.v.str, "cc.key"));
	ck_assert_int_eq(amqp_array_next(&it, &k), 0);
	message_unref(got);
	message_unref(copy);
	message_unref(m);
	argtable_free(&h);
}
END_TEST

START_TEST(a_dead_letter_routing_key_replaces_the_keys_and_drops_cc)
{
	static const char *const cc[] = { "cc.key", NULL };
	struct exchange *d =
		fixture_exchange(f->v, "dlx.direct", "direct", false, (struct amqp_table){ 0 });
	struct queue *dl_q = fixture_queue(f->v, "dl", (struct amqp_table){ 0 });
	struct queue *cc_q = fixture_queue(f->v, "cc", (struct amqp_table){ 0 });
	struct queue *src = source("src", "dlx.direct", "dl.key");
	struct argtable h;
	ck_assert_int_eq(exchange_bind(d, dl_q, NULL, AMQP_STR_LIT("dl.key"),
				       (struct amqp_table){ 0 }, err, sizeof err),
			 0);
	ck_assert_int_eq(exchange_bind(d, cc_q, NULL, AMQP_STR_LIT("cc.key"),
				       (struct amqp_table){ 0 }, err, sizeof err),
			 0);
	argtable_init(&h);
	argtable_str_array(&h, "CC", cc);
	struct message *m = published("src.key", &h, NULL);
	deadletter(src, m, DEADLETTER_EXPIRED);
	ck_assert_uint_eq(queue_ready_count(cc_q), 0);
	struct message *got = received(dl_q);
	ck_assert(amqp_str_eq_c(got->routing_key, "dl.key"));
	struct amqp_basic_props p;
	struct amqp_value v;
	ck_assert(!amqp_table_get(headers_of(got, &p), "CC", &v));
	struct amqp_table dd[2];
	ck_assert_uint_eq(deaths(got, dd, 2), 1);
	ck_assert(amqp_table_get(dd[0], "routing-keys", &v)); /* the original keys, CC too */
	struct amqp_table_iter it;
	struct amqp_value k;
	int n = 0;
	amqp_array_iter_init(&it, v.v.table);
	while (amqp_array_next(&it, &k) == 1)
		n++;
	ck_assert_int_eq(n, 2);
	message_unref(got);
	message_unref(m);
	argtable_free(&h);
}
END_TEST

START_TEST(without_a_dead_letter_exchange_or_with_a_missing_one_the_message_is_dropped)
{
	struct queue *none = source("none", NULL, NULL),
		     *missing = source("missing", "absent", NULL);
	struct message *m = published("k", NULL, NULL);
	uint64_t live = f->b->message_live_count, before = f->b->stats.dead_lettered;
	deadletter(none, m, DEADLETTER_REJECTED);
	deadletter(missing, m, DEADLETTER_EXPIRED);
	ck_assert_uint_eq(f->b->message_live_count, live);
	ck_assert_uint_eq(f->b->stats.dead_lettered, before);
	ck_assert_uint_eq(queue_ready_count(dlq), 0);
	message_unref(m);
}
END_TEST

START_TEST(expiring_back_into_the_same_queue_drops_the_message)
{
	/* a queue that dead-letters to itself through the default exchange, on expiry: RabbitMQ
	 * drops it (fully automatic cycle) */
	struct queue *loop = source("loop", "", NULL);
	struct message *m = published("loop", NULL, NULL);
	deadletter(loop, m, DEADLETTER_EXPIRED);
	ck_assert_uint_eq(queue_ready_count(loop), 0);
	deadletter(loop, m, DEADLETTER_MAXLEN);
	ck_assert_uint_eq(queue_ready_count(loop), 0);
	message_unref(m);
}
END_TEST

START_TEST(two_queues_expiring_into_each_other_drop_the_message_after_one_round)
{
	struct queue *a = source("a", "", "b"), *b = source("b", "", "a");
	struct message *m = published("k", NULL, NULL);
	deadletter(a, m, DEADLETTER_EXPIRED);
	message_unref(m);
	struct message *in_b = received(b);
	deadletter(b, in_b, DEADLETTER_EXPIRED); /* back to a: [b expired, a expired] */
	ck_assert_uint_eq(queue_ready_count(a), 0);
	message_unref(in_b);
}
END_TEST

START_TEST(a_cycle_with_a_rejection_in_it_goes_on_counting)
{
	struct queue *loop = source("loop", "", NULL);
	struct message *m = published("loop", NULL, NULL), *again;
	deadletter(loop, m, DEADLETTER_REJECTED);
	message_unref(m);
	for (int64_t count = 1; count <= 3; count++) {
		again = received(loop);
		struct amqp_table d[2];
		ck_assert_uint_eq(deaths(again, d, 2), 1);
		assert_death(d[0], "loop", "rejected", count);
		deadletter(loop, again, DEADLETTER_REJECTED);
		message_unref(again);
	}
	/* the newest death back into the same queue decides: an expiry now is automatic */
	again = received(loop);
	deadletter(loop, again, DEADLETTER_EXPIRED);
	message_unref(again);
	ck_assert_uint_eq(queue_ready_count(loop), 0);
}
END_TEST

START_TEST(a_rejection_anywhere_in_a_cycle_through_other_queues_lets_it_go_on)
{
	/* a rejects into b, b expires back into a: [b expired, a rejected] has a rejection
	 * between the newest death and a's own entry (rabbit_dead_letter:is_cycle) */
	struct queue *a = source("a", "", "b"), *b = source("b", "", "a");
	struct message *m = published("k", NULL, NULL);
	deadletter(a, m, DEADLETTER_REJECTED);
	message_unref(m);
	struct message *in_b = received(b);
	deadletter(b, in_b, DEADLETTER_EXPIRED);
	message_unref(in_b);
	struct message *in_a = received(a);
	struct amqp_table d[2];
	ck_assert_uint_eq(deaths(in_a, d, 2), 2);
	assert_death(d[0], "b", "expired", 1);
	assert_death(d[1], "a", "rejected", 1);
	/* a expires it into b now: [a expired, b expired, a rejected] reaches b's entry through
	 * automatic deaths only, so b does not get it */
	deadletter(a, in_a, DEADLETTER_EXPIRED);
	ck_assert_uint_eq(queue_ready_count(b), 0);
	message_unref(in_a);
}
END_TEST

START_TEST(a_length_limit_dead_letters_the_dropped_head_as_maxlen)
{
	struct argtable a;
	argtable_init(&a);
	argtable_str(&a, "x-dead-letter-exchange", "dlx");
	argtable_int(&a, "x-max-length", 'I', 1);
	struct queue *q = fixture_queue(f->v, "short", argtable_get(&a));
	struct message *first = fixture_message(f, "", "short", NULL, "first");
	struct message *second = fixture_message(f, "", "short", NULL, "second");
	ck_assert_int_eq(queue_push(q, first), QUEUE_PUSHED);
	ck_assert_int_eq(queue_push(q, second), QUEUE_PUSHED);
	struct message *got = received(dlq);
	ck_assert_int_eq(memcmp(got->body, "first", 5), 0);
	struct amqp_table d[2];
	ck_assert_uint_eq(deaths(got, d, 2), 1);
	assert_death(d[0], "short", "maxlen", 1);
	assert_str(d[0], "exchange", "");
	message_unref(got);
	message_unref(first);
	message_unref(second);
	argtable_free(&a);
}
END_TEST

START_TEST(a_ttl_of_zero_with_no_consumer_dead_letters_at_once_as_expired)
{
	struct argtable a;
	argtable_init(&a);
	argtable_str(&a, "x-dead-letter-exchange", "dlx");
	argtable_int(&a, "x-message-ttl", 'I', 0);
	struct queue *q = fixture_queue(f->v, "ttl0", argtable_get(&a));
	struct message *m = fixture_message(f, "", "ttl0", NULL, "gone");
	ck_assert_int_eq(queue_push(q, m), QUEUE_PUSHED);
	ck_assert_uint_eq(queue_ready_count(q), 0);
	struct message *got = received(dlq);
	struct amqp_table d[2];
	ck_assert_uint_eq(deaths(got, d, 2), 1);
	assert_death(d[0], "ttl0", "expired", 1);
	message_unref(got);
	message_unref(m);
	argtable_free(&a);
}
END_TEST

START_TEST(a_refused_publish_under_reject_publish_dlx_dead_letters_the_new_message)
{
	struct argtable a;
	argtable_init(&a);
	argtable_str(&a, "x-dead-letter-exchange", "dlx");
	argtable_int(&a, "x-max-length", 'I', 1);
	argtable_str(&a, "x-overflow", "reject-publish-dlx");
	struct queue *q = fixture_queue(f->v, "full", argtable_get(&a));
	struct message *kept = fixture_message(f, "", "full", NULL, "kept");
	struct message *refused = fixture_message(f, "", "full", NULL, "refused");
	ck_assert_int_eq(queue_push(q, kept), QUEUE_PUSHED);
	ck_assert_int_eq(queue_push(q, refused), QUEUE_REJECTED);
	struct message *got = received(dlq);
	ck_assert_int_eq(memcmp(got->body, "refused", 7), 0);
	struct amqp_table d[2];
	ck_assert_uint_eq(deaths(got, d, 2), 1);
	assert_death(d[0], "full", "maxlen", 1);
	ck_assert_uint_eq(queue_ready_count(q), 1);
	message_unref(got);
	message_unref(kept);
	message_unref(refused);
	argtable_free(&a);
}
END_TEST

static Suite *deadletter_suite(void)
{
	Suite *s = suite_create("deadletter");
	TCase *tc = tcase_create("x-death");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, reasons_are_named_as_rabbitmq_names_them);
	tcase_add_test(tc, the_first_death_adds_one_x_death_entry_and_the_first_death_headers);
	tcase_add_test(tc, the_same_queue_and_reason_again_raises_the_count_in_place);
	tcase_add_test(tc, another_queue_or_another_reason_puts_a_new_entry_in_front);
	tcase_add_test(tc, the_expiration_property_moves_into_original_expiration);
	tcase_add_test(tc,
		       cc_keys_are_recorded_and_routed_when_there_is_no_dead_letter_routing_key);
	tcase_add_test(tc, a_dead_letter_routing_key_replaces_the_keys_and_drops_cc);
	tcase_add_test(tc,
		       without_a_dead_letter_exchange_or_with_a_missing_one_the_message_is_dropped);
	tcase_add_test(tc, expiring_back_into_the_same_queue_drops_the_message);
	tcase_add_test(tc, two_queues_expiring_into_each_other_drop_the_message_after_one_round);
	tcase_add_test(tc, a_cycle_with_a_rejection_in_it_goes_on_counting);
	tcase_add_test(tc, a_rejection_anywhere_in_a_cycle_through_other_queues_lets_it_go_on);
	tcase_add_test(tc, a_length_limit_dead_letters_the_dropped_head_as_maxlen);
	tcase_add_test(tc, a_ttl_of_zero_with_no_consumer_dead_letters_at_once_as_expired);
	tcase_add_test(tc, a_refused_publish_under_reject_publish_dlx_dead_letters_the_new_message);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(deadletter_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
