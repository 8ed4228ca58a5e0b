/* tests/unit/broker/exchange/test_dedup.c: broker/exchange/dedup.c and broker/queue/queue_dedup.c
 * on a real vhost and queues: the exchange's cache (one route per value, eviction of the oldest,
 * TTL), its argument checks with the plugin's texts, and a deduplicating queue forgetting a
 * value whichever way its message leaves (ack, expiry, overflow, purge). */
#include "broker/exchange/exchange.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "amqp/props.h"
#include "broker/core/broker.h"
#include "broker/queue/message.h"
#include "broker/queue/queue.h"
#include "broker/vhost/vhost.h"
#include "tests/support/argtable.h"
#include "tests/support/fixture.h"

static struct fixture *f;
static char err[256];

static void setup(void)
{
	f = fixture_new();
}

static void teardown(void)
{
	fixture_free(f);
}

static struct message *keyed(const char *key, int64_t ttl)
{
	struct argtable h;
	struct amqp_basic_props p = { 0 };
	argtable_init(&h);
	if (key)
		argtable_str(&h, "x-deduplication-header", key);
	if (ttl)
		argtable_int(&h, "x-cache-ttl", 'l', ttl);
	p.flags = AMQP_PROP_HEADERS;
	p.headers = argtable_get(&h);
	struct message *m = fixture_message(f, "dx", "", &p, "body");
	argtable_free(&h);
	return m;
}

/* Publishes a message with this value through x; how many queues it reached. */
static size_t publish(struct exchange *x, const char *key, int64_t ttl)
{
	struct message *m = keyed(key, ttl);
	struct publish_result r;
	exchange_publish(x, m, NULL, NULL, &r);
	message_unref(m);
	ck_assert(!r.oom);
	return r.routed;
}

static struct exchange *dedup_exchange(int64_t size, int64_t ttl, struct queue **q)
{
	struct argtable a;
	argtable_init(&a);
	argtable_int(&a, "x-cache-size", 'I', size);
	if (ttl)
		argtable_int(&a, "x-cache-ttl", 'I', ttl);
	struct exchange *x = fixture_exchange(f->v, "dx", "x-message-deduplication", false,
					      argtable_get(&a));
	argtable_free(&a);
	*q = fixture_queue(f->v, "q", (struct amqp_table){ 0 });
	ck_assert_int_eq(exchange_bind(x, *q, NULL, AMQP_STR_LIT(""), (struct amqp_table){ 0 }, err,
				       sizeof err),
			 0);
	return x;
}

START_TEST(a_value_is_routed_once_and_messages_without_one_always)
{
	struct queue *q;
	struct exchange *x = dedup_exchange(10, 0, &q);
	ck_assert_uint_eq(publish(x, "a", 0), 1);
	ck_assert_uint_eq(publish(x, "a", 0), 0);
	ck_assert_uint_eq(publish(x, "b", 0), 1);
	ck_assert_uint_eq(publish(x, NULL, 0), 1);
	ck_assert_uint_eq(publish(x, NULL, 0), 1);
	ck_assert_uint_eq(q->ready_count, 4);
}
END_TEST

START_TEST(a_full_cache_forgets_its_oldest_value_first)
{
	struct queue *q;
	struct exchange *x = dedup_exchange(2, 0, &q);
	ck_assert_uint_eq(publish(x, "a", 0), 1);
	ck_assert_uint_eq(publish(x, "b", 0), 1);
	ck_assert_uint_eq(publish(x, "c", 0), 1); /* a goes */
	ck_assert_uint_eq(publish(x, "b", 0), 0);
	ck_assert_uint_eq(publish(x, "c", 0), 0);
	ck_assert_uint_eq(publish(x, "a", 0), 1);
}
END_TEST

START_TEST(values_expire_after_the_ttl_and_a_header_ttl_overrides_it)
{
	struct queue *q;
	struct exchange *x = dedup_exchange(10, 100, &q);
	ck_assert_uint_eq(publish(x, "a", 0), 1);
	ck_assert_uint_eq(publish(x, "b", 10000), 1);
	ck_assert_uint_eq(publish(x, "a", 0), 0);
	usleep(150 * 1000);
	ck_assert_uint_eq(publish(x, "a", 0), 1);
	ck_assert_uint_eq(publish(x, "b", 0), 0);
}
END_TEST

START_TEST(the_arguments_are_checked_with_the_plugins_texts)
{
	struct argtable a;
	const struct exchange_type *t = &exchange_type_dedup;
	argtable_init(&a);
	ck_assert_int_eq(exchange_type_validate(t, argtable_get(&a), err, sizeof err), -1);
	ck_assert_str_eq(err, "Missing or invalid argument, 'x-cache-size' must be an integer "
			      "greater than 0");
	argtable_int(&a, "x-cache-size", 'l', -1);
	ck_assert_int_eq(exchange_type_validate(t, argtable_get(&a), err, sizeof err), -1);
	argtable_free(&a);
	argtable_init(&a);
	argtable_str(&a, "x-cache-size", "12");
	argtable_str(&a, "x-cache-ttl", "soon");
	ck_assert_int_eq(exchange_type_validate(t, argtable_get(&a), err, sizeof err), -1);
	ck_assert_str_eq(err, "Invalid argument, 'x-cache-ttl' must be an integer greater than 0");
	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-cache-size", 'b', 3);
	argtable_str(&a, "x-cache-persistence", "cloud");
	ck_assert_int_eq(exchange_type_validate(t, argtable_get(&a), err, sizeof err), -1);
	ck_assert_str_eq(err,
			 "Invalid argument, 'x-cache-persistence' must be either 'disk' or 'memory'");
	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-cache-size", 'b', 3);
	argtable_str(&a, "x-cache-persistence", "disk");
	ck_assert_int_eq(exchange_type_validate(t, argtable_get(&a), err, sizeof err), 0);
	argtable_free(&a);
}
END_TEST

static struct queue *dedup_queue(const char *name, const char *int_arg, int64_t v)
{
	struct argtable a;
	argtable_init(&a);
	argtable_bool(&a, "x-message-deduplication", true);
	if (int_arg)
		argtable_int(&a, int_arg, 'I', v);
	struct queue *q = fixture_queue(f->v, name, argtable_get(&a));
	argtable_free(&a);
	return q;
}

static void push(struct queue *q, const char *key)
{
	struct message *m = keyed(key, 0);
	ck_assert_int_eq(queue_push(q, m), QUEUE_PUSHED);
	message_unref(m);
}

START_TEST(a_deduplicating_queue_holds_one_message_per_value_until_it_is_acked)
{
	struct queue *q = dedup_queue("dq", NULL, 0);
	push(q, "a");
	push(q, "a");
	push(q, "b");
	ck_assert_uint_eq(q->ready_count, 2);
	struct qentry e;
	struct message *m = fixture_pop(q, &e);
	push(q, "a"); /* delivered, not settled: still held */
	ck_assert_uint_eq(q->ready_count, 1);
	queue_settle(q, m, e.seq, 1, QUEUE_SETTLE_ACK);
	push(q, "a");
	ck_assert_uint_eq(q->ready_count, 2);
	queue_purge(q);
	push(q, "b");
	ck_assert_uint_eq(q->ready_count, 1);
}
END_TEST

START_TEST(a_value_is_forgotten_when_its_message_is_dropped_by_overflow_or_rejected)
{
	struct queue *q = dedup_queue("dq", "x-max-length", 1);
	push(q, "a");
	push(q, "b"); /* drop-head: a goes */
	push(q, "a");
	ck_assert_uint_eq(q->ready_count, 1);
	struct qentry e;
	struct message *m = fixture_pop(q, &e);
	queue_settle(q, m, e.seq, 1, QUEUE_SETTLE_REJECT);
	push(q, "a");
	ck_assert_uint_eq(q->ready_count, 1);
	struct queue *zero = dedup_queue("ttl0", "x-message-ttl", 0);
	push(zero, "z"); /* expires at once: nobody to take it */
	ck_assert_uint_eq(zero->ready_count, 0);
	push(zero, "z");
	ck_assert_uint_eq(zero->stat_published, 2);
}
END_TEST

static Suite *dedup_suite(void)
{
	Suite *s = suite_create("dedup");
	TCase *t = tcase_create("core");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, a_value_is_routed_once_and_messages_without_one_always);
	tcase_add_test(t, a_full_cache_forgets_its_oldest_value_first);
	tcase_add_test(t, values_expire_after_the_ttl_and_a_header_ttl_overrides_it);
	tcase_add_test(t, the_arguments_are_checked_with_the_plugins_texts);
	tcase_add_test(t, a_deduplicating_queue_holds_one_message_per_value_until_it_is_acked);
	tcase_add_test(t, a_value_is_forgotten_when_its_message_is_dropped_by_overflow_or_rejected);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(dedup_suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
