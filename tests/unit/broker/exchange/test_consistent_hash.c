/* tests/unit/broker/exchange/test_consistent_hash.c: broker/exchange/consistent_hash.c on a real
 * vhost and queues: binding keys as weights (and the plugin's refusals), the share of keys each
 * destination gets, stability when a destination is added or the last one removed, routing on
 * a header or a property, and the plugin's rule that a destination bound twice counts once. */
#include "broker/exchange/exchange.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"
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
	err[0] = '\0';
}

static void teardown(void)
{
	fixture_free(f);
}

static struct exchange *chx(struct amqp_table args)
{
	return fixture_exchange(f->v, "chx", "x-consistent-hash", false, args);
}

static struct queue *queue(const char *name)
{
	return fixture_queue(f->v, name, (struct amqp_table){ 0 });
}

static int bind(struct exchange *x, struct queue *q, const char *key)
{
	return exchange_bind(x, q, NULL, amqp_str_c(key), (struct amqp_table){ 0 }, err,
			     sizeof err);
}

/* The index in qs of the one queue key routes to (-1: none). */
static int route_of(struct exchange *x, struct queue **qs, int n, const char *key,
		    struct amqp_table headers, const struct message *m)
{
	struct route_set set;
	route_set_init(&set, f->b);
	set.msg = m;
	exchange_route(x, amqp_str_c(key), headers, &set);
	ck_assert(!set.oom);
	ck_assert_uint_le(set.count, 1);
	int at = -1;
	for (int i = 0; set.count && i < n; i++)
		if (set.queues[0] == qs[i])
			at = i;
	route_set_free(&set);
	return at;
}

static int route_key(struct exchange *x, struct queue **qs, int n, const char *key)
{
	return route_of(x, qs, n, key, (struct amqp_table){ 0 }, NULL);
}

START_TEST(binding_keys_are_weights_and_the_shares_follow_them)
{
	struct exchange *x = chx((struct amqp_table){ 0 });
	struct queue *qs[3] = { queue("a"), queue("b"), queue("c") };
	ck_assert_int_eq(bind(x, qs[0], "1"), 0);
	ck_assert_int_eq(bind(x, qs[1], "1"), 0);
	ck_assert_int_eq(bind(x, qs[2], "2"), 0);
	int counts[3] = { 0 };
	char key[32];
	for (int i = 0; i < 20000; i++) {
		snprintf(key, sizeof key, "key-%d", i);
		int at = route_key(x, qs, 3, key);
		ck_assert_int_ge(at, 0);
		counts[at]++;
	}
	/* 1:1:2 within 5% of the expected share */
	ck_assert_int_lt(abs(counts[0] - 5000), 250);
	ck_assert_int_lt(abs(counts[1] - 5000), 250);
	ck_assert_int_lt(abs(counts[2] - 10000), 500);
}
END_TEST

START_TEST(adding_a_destination_moves_only_keys_to_it_about_its_share)
{
	struct exchange *x = chx((struct amqp_table){ 0 });
	struct queue *qs[5] = { queue("a"), queue("b"), queue("c"), queue("d"), queue("e") };
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(bind(x, qs[i], "1"), 0);
	static int before[10000];
	char key[32];
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof key, "user-%d", i);
		before[i] = route_key(x, qs, 5, key);
	}
	ck_assert_int_eq(bind(x, qs[4], "1"), 0);
	int moved = 0;
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof key, "user-%d", i);
		int at = route_key(x, qs, 5, key);
		if (at != before[i]) {
			ck_assert_int_eq(at, 4); /* never between two old destinations */
			moved++;
		}
	}
	ck_assert_int_gt(moved, 1700); /* 1/5 of 10000 */
	ck_assert_int_lt(moved, 2300);
	/* and back: unbinding the newest destination restores every key */
	exchange_unbind(x, qs[4], NULL, AMQP_STR_LIT("1"), (struct amqp_table){ 0 });
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof key, "user-%d", i);
		ck_assert_int_eq(route_key(x, qs, 5, key), before[i]);
	}
}
END_TEST

START_TEST(a_destination_bound_twice_counts_once_and_unbinding_either_removes_it)
{
	struct exchange *x = chx((struct amqp_table){ 0 });
	struct queue *qs[2] = { queue("a"), queue("b") };
	ck_assert_int_eq(bind(x, qs[0], "1"), 0);
	ck_assert_int_eq(bind(x, qs[1], "1"), 0);
	ck_assert_int_eq(bind(x, qs[1], "50"), 0); /* a binding, but no more buckets */
	int counts[2] = { 0 };
	char key[32];
	for (int i = 0; i < 4000; i++) {
		snprintf(key, sizeof key, "%d", i);
		counts[route_key(x, qs, 2, key)]++;
	}
	ck_assert_int_lt(abs(counts[0] - counts[1]), 400);
	/* As the plugin: removing the unused second binding takes b off the ring. */
	exchange_unbind(x, qs[1], NULL, AMQP_STR_LIT("50"), (struct amqp_table){ 0 });
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof key, "%d", i);
		ck_assert_int_eq(route_key(x, qs, 2, key), 0);
	}
	ck_assert_uint_eq(x->binding_count, 2);
}
END_TEST

START_TEST(binding_keys_that_are_not_positive_integers_are_refused_with_the_plugins_texts)
{
	struct exchange *x = chx((struct amqp_table){ 0 });
	struct queue *q = queue("q");
	ck_assert_int_eq(bind(x, q, "abc"), -2);
	ck_assert_str_eq(err, "The binding key must be an integer: <<\"abc\">>");
	ck_assert_int_eq(bind(x, q, ""), -2);
	ck_assert_str_eq(err, "The binding key must be an integer: <<>>");
	ck_assert_int_eq(bind(x, q, "1.5"), -2);
	ck_assert_str_eq(err, "The binding key must be an integer: <<\"1.5\">>");
	ck_assert_int_eq(bind(x, q, "0"), -2);
	ck_assert_str_eq(err, "The binding key must be greater than 0");
	ck_assert_int_eq(bind(x, q, "-7"), -2);
	ck_assert_str_eq(err, "The binding key must be greater than 0");
	ck_assert_int_eq(bind(x, q, "99999999999999999999999"), -2);
	ck_assert_str_eq(err, "The binding key must be at most 2147483647");
	ck_assert_uint_eq(x->binding_count, 0);
	ck_assert_int_eq(bind(x, q, "+2"), 0);
}
END_TEST

START_TEST(the_arguments_are_checked_with_the_plugins_texts)
{
	struct argtable a;
	argtable_init(&a);
	argtable_str(&a, "hash-header", "h");
	argtable_str(&a, "hash-property", "message_id");
	ck_assert_int_eq(exchange_type_validate(&exchange_type_consistent_hash, argtable_get(&a),
						err, sizeof err),
			 -1);
	ck_assert_str_eq(err, "hash-header and hash-property are mutually exclusive");
	argtable_free(&a);
	argtable_init(&a);
	argtable_str(&a, "hash-property", "app_id");
	ck_assert_int_eq(exchange_type_validate(&exchange_type_consistent_hash, argtable_get(&a),
						err, sizeof err),
			 -1);
	ck_assert_str_eq(err, "Unsupported property: app_id");
	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "hash-header", 'I', 5);
	ck_assert_int_eq(exchange_type_validate(&exchange_type_consistent_hash, argtable_get(&a),
						err, sizeof err),
			 -1);
	ck_assert_str_eq(err, "hash-header must be a string, not a signedint");
	argtable_free(&a);
	argtable_init(&a);
	argtable_str(&a, "hash-property", "timestamp");
	ck_assert_int_eq(exchange_type_validate(&exchange_type_consistent_hash, argtable_get(&a),
						err, sizeof err),
			 0);
	argtable_free(&a);
}
END_TEST

START_TEST(hash_header_routes_by_the_header_and_a_missing_header_to_one_destination)
{
	struct argtable a, h;
	argtable_init(&a);
	argtable_str(&a, "hash-header", "tenant");
	struct exchange *x = chx(argtable_get(&a));
	struct queue *qs[4] = { queue("a"), queue("b"), queue("c"), queue("d") };
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(bind(x, qs[i], "1"), 0);
	int used[4] = { 0 };
	char val[32], rk[32];
	for (int i = 0; i < 200; i++) {
		argtable_init(&h);
		snprintf(val, sizeof val, "t%d", i % 20);
		argtable_str(&h, "tenant", val);
		int first = route_of(x, qs, 4, "rk", argtable_get(&h), NULL);
		snprintf(rk, sizeof rk, "other-%d", i);
		ck_assert_int_eq(route_of(x, qs, 4, rk, argtable_get(&h), NULL), first);
		used[first] = 1;
		argtable_free(&h);
	}
	ck_assert_int_ge(used[0] + used[1] + used[2] + used[3], 2);
	int none = route_key(x, qs, 4, "a");
	ck_assert_int_ge(none, 0);
	for (int i = 0; i < 50; i++) {
		snprintf(rk, sizeof rk, "%d", i);
		ck_assert_int_eq(route_key(x, qs, 4, rk), none);
	}
	argtable_free(&a);
}
END_TEST

START_TEST(hash_property_routes_by_message_id)
{
	struct argtable a;
	argtable_init(&a);
	argtable_str(&a, "hash-property", "message_id");
	struct exchange *x = chx(argtable_get(&a));
	struct queue *qs[3] = { queue("a"), queue("b"), queue("c") };
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(bind(x, qs[i], "1"), 0);
	int used[3] = { 0 };
	char id[32];
	for (int i = 0; i < 60; i++) {
		struct amqp_basic_props p = { 0 };
		snprintf(id, sizeof id, "m%d", i % 30);
		p.flags = AMQP_PROP_MESSAGE_ID;
		p.message_id = amqp_str_c(id);
		struct message *m = fixture_message(f, "chx", "rk", &p, "body");
		int at = route_of(x, qs, 3, i % 2 ? "x" : "y", (struct amqp_table){ 0 }, m);
		ck_assert_int_ge(at, 0);
		used[at]++;
		message_unref(m);
	}
	ck_assert_int_ge((used[0] > 0) + (used[1] > 0) + (used[2] > 0), 2);
	argtable_free(&a);
}
END_TEST

START_TEST(a_message_is_routed_once_whatever_its_cc_keys)
{
	struct exchange *x = chx((struct amqp_table){ 0 });
	struct queue *qs[8];
	char name[8];
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof name, "q%d", i);
		qs[i] = queue(name);
		ck_assert_int_eq(bind(x, qs[i], "1"), 0);
	}
	struct route_set set;
	route_set_init(&set, f->b);
	exchange_route(x, AMQP_STR_LIT("first"), (struct amqp_table){ 0 }, &set);
	for (int i = 0; i < 20; i++) {
		char cc[16];
		snprintf(cc, sizeof cc, "cc-%d", i);
		route_set_next_key(&set);
		exchange_route(x, amqp_str_c(cc), (struct amqp_table){ 0 }, &set);
	}
	ck_assert_uint_eq(set.count, 1);
	route_set_free(&set);
}
END_TEST

static Suite *consistent_hash_suite(void)
{
	Suite *s = suite_create("consistent_hash");
	TCase *t = tcase_create("core");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, binding_keys_are_weights_and_the_shares_follow_them);
	tcase_add_test(t, adding_a_destination_moves_only_keys_to_it_about_its_share);
	tcase_add_test(t, a_destination_bound_twice_counts_once_and_unbinding_either_removes_it);
	tcase_add_test(t, binding_keys_that_are_not_positive_integers_are_refused_with_the_plugins_texts);
	tcase_add_test(t, the_arguments_are_checked_with_the_plugins_texts);
	tcase_add_test(t, hash_header_routes_by_the_header_and_a_missing_header_to_one_destination);
	tcase_add_test(t, hash_property_routes_by_message_id);
	tcase_add_test(t, a_message_is_routed_once_whatever_its_cc_keys);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(consistent_hash_suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
