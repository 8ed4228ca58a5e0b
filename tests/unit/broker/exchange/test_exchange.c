/* tests/unit/broker/test_exchange.c: broker/exchange.c and the four exchange types
 * (exchange_direct.c, exchange_fanout.c, exchange_topic.c, exchange_headers.c) on a real vhost
 * and queues: binding, routing into a route_set, each queue once however many paths reach it
 * (several bindings, CC/BCC keys, exchange-to-exchange bindings), cycles, alternate exchanges,
 * unbinding, auto-delete, and the default exchange. Routing follows RabbitMQ 3.10's
 * rabbit_exchange:route/2: an alternate exchange is used when the exchange itself found no
 * destination, and a binding to another exchange is a destination. */
#include "broker/exchange/exchange.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"
#include "broker/queue/message.h"
#include "broker/queue/queue.h"
#include "broker/vhost/vhost.h"
#include "tests/support/argtable.h"
#include "tests/support/fixture.h"

static struct fixture *f;
static struct route_set set;
static char err[256];

static void setup(void)
{
	f = fixture_new();
	route_set_init(&set, f->b);
	err[0] = '\0';
}

static void teardown(void)
{
	route_set_free(&set);
	fixture_free(f);
}

static struct queue *queue(const char *name)
{
	return fixture_queue(f->v, name, (struct amqp_table){ 0 });
}

static struct exchange *exchange(const char *name, const char *type)
{
	return fixture_exchange(f->v, name, type, false, (struct amqp_table){ 0 });
}

static void bind_q(struct exchange *x, struct queue *q, const char *key)
{
	ck_assert_int_eq(exchange_bind(x, q, NULL, amqp_str_c(key), (struct amqp_table){ 0 }, err,
				       sizeof err),
			 0);
}

static void bind_x(struct exchange *src, struct exchange *dst, const char *key)
{
	ck_assert_int_eq(exchange_bind(src, NULL, dst, amqp_str_c(key), (struct amqp_table){ 0 },
				       err, sizeof err),
			 0);
}

/* Routes key through x into a fresh set; returns how many queues it holds. */
static size_t route(struct exchange *x, const char *key)
{
	route_set_free(&set);
	route_set_init(&set, f->b);
	exchange_route(x, amqp_str_c(key), (struct amqp_table){ 0 }, &set);
	ck_assert(!set.oom);
	return set.count;
}

static bool routed_to(const struct queue *q)
{
	for (size_t i = 0; i < set.count; i++)
		if (set.queues[i] == q)
			return true;
	return false;
}

START_TEST(only_the_four_types_are_known_by_name)
{
	ck_assert_ptr_eq(exchange_type_find(AMQP_STR_LIT("direct")), &exchange_type_direct);
	ck_assert_ptr_eq(exchange_type_find(AMQP_STR_LIT("fanout")), &exchange_type_fanout);
	ck_assert_ptr_eq(exchange_type_find(AMQP_STR_LIT("topic")), &exchange_type_topic);
	ck_assert_ptr_eq(exchange_type_find(AMQP_STR_LIT("headers")), &exchange_type_headers);
	ck_assert_ptr_null(exchange_type_find(AMQP_STR_LIT("Direct")));
	ck_assert_ptr_null(exchange_type_find(AMQP_STR_LIT("x-delayed-message")));
	ck_assert_ptr_null(exchange_type_find(AMQP_STR_LIT("")));
}
END_TEST

START_TEST(a_direct_exchange_routes_to_every_queue_bound_with_the_exact_key)
{
	struct exchange *x = exchange("d", "direct");
	struct queue *q1 = queue("q1"), *q2 = queue("q2"), *q3 = queue("q3");
	bind_q(x, q1, "a");
	bind_q(x, q2, "a");
	bind_q(x, q3, "b");
	ck_assert_uint_eq(route(x, "a"), 2);
	ck_assert(routed_to(q1) && routed_to(q2));
	ck_assert(set.routed_somewhere);
	ck_assert_uint_eq(route(x, "b"), 1);
	ck_assert(routed_to(q3));
	ck_assert_uint_eq(route(x, "A"), 0);
	ck_assert_uint_eq(route(x, "a.b"), 0);
	ck_assert(!set.routed_somewhere);
	ck_assert_uint_eq(route(x, ""), 0);
	bind_q(x, q3, ""); /* the empty key is a key */
	ck_assert_uint_eq(route(x, ""), 1);
}
END_TEST

START_TEST(a_fanout_exchange_routes_to_every_binding_whatever_the_key)
{
	struct exchange *x = exchange("f", "fanout");
	struct queue *q1 = queue("q1"), *q2 = queue("q2");
	ck_assert_uint_eq(route(x, "any"), 0);
	bind_q(x, q1, "ignored");
	bind_q(x, q2, "");
	ck_assert_uint_eq(route(x, "whatever"), 2);
	ck_assert_uint_eq(route(x, ""), 2);
}
END_TEST

START_TEST(a_topic_exchange_routes_by_words_and_wildcards)
{
	struct exchange *x = exchange("t", "topic");
	struct queue *star = queue("star"), *hash = queue("hash"), *exact = queue("exact");
	bind_q(x, star, "stock.*.nyse");
	bind_q(x, hash, "stock.#");
	bind_q(x, exact, "stock.ibm.nyse");
	ck_assert_uint_eq(route(x, "stock.ibm.nyse"), 3);
	ck_assert_uint_eq(route(x, "stock.msft.nyse"), 2);
	ck_assert(routed_to(star) && routed_to(hash));
	ck_assert_uint_eq(route(x, "stock"), 1); /* # matches zero words */
	ck_assert(routed_to(hash));
	ck_assert_uint_eq(route(x, "stock.a.b.nyse"), 1);
	ck_assert_uint_eq(route(x, "bond.ibm.nyse"), 0);
}
END_TEST

START_TEST(a_headers_exchange_matches_all_or_any_of_the_binding_arguments)
{
	struct exchange *x = exchange("h", "headers");
	struct queue *all = queue("all"), *any = queue("any");
	struct argtable ball, bany, msg;
	argtable_init(&ball);
	argtable_init(&bany);
	argtable_init(&msg);
	argtable_str(&ball, "x-match", "all");
	argtable_str(&ball, "format", "pdf");
	argtable_str(&ball, "type", "report");
	argtable_str(&bany, "x-match", "any");
	argtable_str(&bany, "format", "pdf");
	argtable_str(&bany, "type", "report");
	ck_assert_int_eq(
		exchange_bind(x, all, NULL, AMQP_STR_LIT(""), argtable_get(&ball), err, sizeof err),
		0);
	ck_assert_int_eq(
		exchange_bind(x, any, NULL, AMQP_STR_LIT(""), argtable_get(&bany), err, sizeof err),
		0);
	argtable_str(&msg, "format", "pdf");
	exchange_route(x, AMQP_STR_LIT("ignored"), argtable_get(&msg), &set);
	ck_assert_uint_eq(set.count, 1);
	ck_assert(routed_to(any));
	argtable_str(&msg, "type", "report");
	route_set_free(&set);
	route_set_init(&set, f->b);
	exchange_route(x, AMQP_STR_LIT(""), argtable_get(&msg), &set);
	ck_assert_uint_eq(set.count, 2);
	ck_assert_uint_eq(route(x, ""), 0); /* no headers: neither all nor any of two */
	argtable_free(&ball);
	argtable_free(&bany);
	argtable_free(&msg);
}
END_TEST

START_TEST(a_bad_x_match_refuses_the_binding_with_rabbitmqs_text)
{
	struct exchange *x = exchange("h", "headers");
	struct queue *q = queue("q");
	struct argtable a;
	argtable_init(&a);
	argtable_str(&a, "x-match", "bogus");
	ck_assert_int_eq(
		exchange_bind(x, q, NULL, AMQP_STR_LIT(""), argtable_get(&a), err, sizeof err), -2);
	ck_assert_str_eq(err, "Invalid x-match field value <<\"bogus\">>; expected all, any, "
			      "all-with-x, or any-with-x");
	ck_assert_uint_eq(x->binding_count, 0);
	ck_assert(list_is_empty(&q->bindings));
	argtable_free(&a);
}
END_TEST

START_TEST(the_same_binding_twice_is_one_binding)
{
	struct exchange *x = exchange("d", "direct");
	struct queue *q = queue("q");
	bind_q(x, q, "k");
	ck_assert_int_eq(exchange_bind(x, q, NULL, AMQP_STR_LIT("k"), (struct amqp_table){ 0 }, err,
				       sizeof err),
			 1);
	ck_assert_uint_eq(x->binding_count, 1);
	ck_assert_uint_eq(route(x, "k"), 1);
}
END_TEST

START_TEST(a_queue_reached_by_several_bindings_is_routed_once)
{
	struct exchange *t = exchange("t", "topic"), *fx = exchange("f", "fanout");
	struct queue *q = queue("q");
	bind_q(t, q, "a.*");
	bind_q(t, q, "#");
	bind_q(t, q, "a.b");
	ck_assert_uint_eq(t->binding_count, 3);
	ck_assert_uint_eq(route(t, "a.b"), 1);
	bind_q(fx, q, "one");
	bind_q(fx, q, "two");
	ck_assert_uint_eq(route(fx, "x"), 1);
}
END_TEST

START_TEST(cc_keys_add_queues_and_a_queue_already_found_is_not_added_again)
{
	struct exchange *x = exchange("d", "direct");
	struct queue *a = queue("a"), *b = queue("b"), *both = queue("both");
	bind_q(x, a, "ka");
	bind_q(x, b, "kb");
	bind_q(x, both, "ka");
	bind_q(x, both, "kb");
	exchange_route(x, AMQP_STR_LIT("ka"), (struct amqp_table){ 0 }, &set);
	ck_assert_uint_eq(set.count, 2);
	route_set_next_key(&set);
	exchange_route(x, AMQP_STR_LIT("kb"), (struct amqp_table){ 0 }, &set);
	ck_assert_uint_eq(set.count, 3);
	ck_assert(routed_to(a) && routed_to(b) && routed_to(both));
	route_set_next_key(&set);
	exchange_route(x, AMQP_STR_LIT("ka"), (struct amqp_table){ 0 }, &set);
	ck_assert_uint_eq(set.count, 3);
}
END_TEST

START_TEST(publishing_with_cc_and_bcc_puts_one_copy_in_each_queue_and_drops_bcc)
{
	static const char *const cc[] = { "kb", "ka", NULL }, *const bcc[] = { "kc", NULL };
	struct exchange *x = exchange("d", "direct");
	struct queue *a = queue("a"), *b = queue("b"), *c = queue("c");
	struct argtable h;
	struct amqp_basic_props p = { .flags = AMQP_PROP_HEADERS };
	struct publish_result r;
	bind_q(x, a, "ka");
	bind_q(x, b, "kb");
	bind_q(x, c, "kc");
	bind_q(x, b, "ka");
	argtable_init(&h);
	argtable_str(&h, "keep", "me");
	argtable_str_array(&h, "CC", cc);
	argtable_str_array(&h, "BCC", bcc);
	p.headers = argtable_get(&h);
	struct message *m = fixture_message(f, "d", "ka", &p, "body");
	exchange_publish(x, m, NULL, NULL, &r);
	ck_assert_uint_eq(r.routed, 3);
	ck_assert(!r.oom);
	struct queue *qs[] = { a, b, c };
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(queue_ready_count(qs[i]), 1);
		struct message *got = fixture_pop(qs[i], NULL);
		struct amqp_basic_props gp;
		struct amqp_value v;
		ck_assert_int_eq(amqp_props_decode(&gp, got->props, got->props_len), 0);
		ck_assert(!amqp_table_get(gp.headers, "BCC", &v));
		ck_assert(amqp_table_get(gp.headers, "CC", &v));
		ck_assert(amqp_table_get(gp.headers, "keep", &v));
		message_unref(got);
	}
	message_unref(m);
	argtable_free(&h);
}
END_TEST

START_TEST(exchange_to_exchange_bindings_are_followed_by_the_same_key)
{
	struct exchange *src = exchange("src", "direct"), *mid = exchange("mid", "topic");
	struct queue *direct = queue("direct"), *via = queue("via"), *other = queue("other");
	bind_x(src, mid, "orders.eu");
	bind_q(src, direct, "orders.eu");
	bind_q(mid, via, "orders.*");
	bind_q(mid, other, "payments.*");
	ck_assert_uint_eq(route(src, "orders.eu"), 2);
	ck_assert(routed_to(direct) && routed_to(via));
	ck_assert_uint_eq(route(src, "payments.eu"), 0); /* src has no such binding */
	ck_assert(!list_is_empty(&mid->bound_here));
}
END_TEST

START_TEST(a_queue_reached_directly_and_through_another_exchange_gets_one_copy)
{
	struct exchange *a = exchange("a", "fanout"), *b = exchange("b", "fanout");
	struct queue *q = queue("q");
	bind_q(a, q, "");
	bind_x(a, b, "");
	bind_q(b, q, "");
	ck_assert_uint_eq(route(a, "k"), 1);
}
END_TEST

START_TEST(a_cycle_of_exchange_bindings_ends_and_routes_each_queue_once)
{
	struct exchange *a = exchange("a", "fanout"), *b = exchange("b", "fanout");
	struct exchange *c = exchange("c", "fanout");
	struct queue *qa = queue("qa"), *qc = queue("qc");
	bind_x(a, b, "");
	bind_x(b, c, "");
	bind_x(c, a, "");
	bind_q(a, qa, "");
	bind_q(c, qc, "");
	ck_assert_uint_eq(route(b, "k"), 2);
	ck_assert(routed_to(qa) && routed_to(qc));
	ck_assert_uint_eq(route(a, "k"), 2);
	/* an exchange bound to itself */
	bind_x(a, a, "self");
	ck_assert_uint_eq(route(a, "k"), 2);
}
END_TEST

START_TEST(an_unroutable_message_goes_to_the_alternate_exchange)
{
	struct argtable args;
	argtable_init(&args);
	argtable_str(&args, "alternate-exchange", "ae");
	struct exchange *x = fixture_exchange(f->v, "x", "direct", false, argtable_get(&args));
	ck_assert_int_eq((int)x->alternate.len, 2);
	struct exchange *ae = exchange("ae", "fanout");
	struct queue *routed = queue("routed"), *unrouted = queue("unrouted");
	bind_q(x, routed, "known");
	bind_q(ae, unrouted, "");
	ck_assert_uint_eq(route(x, "known"), 1);
	ck_assert(routed_to(routed));
	ck_assert_uint_eq(route(x, "unknown"), 1);
	ck_assert(routed_to(unrouted));
	ck_assert(set.routed_somewhere);
	argtable_free(&args);
}
END_TEST

START_TEST(a_missing_alternate_exchange_routes_nowhere)
{
	struct argtable args;
	argtable_init(&args);
	argtable_str(&args, "alternate-exchange", "absent");
	struct exchange *x = fixture_exchange(f->v, "x", "direct", false, argtable_get(&args));
	ck_assert_uint_eq(route(x, "k"), 0);
	ck_assert(!set.routed_somewhere);
	argtable_free(&args);
}
END_TEST

START_TEST(alternate_exchanges_that_point_at_each_other_end)
{
	struct argtable to_y, to_x;
	argtable_init(&to_y);
	argtable_init(&to_x);
	argtable_str(&to_y, "alternate-exchange", "y");
	argtable_str(&to_x, "alternate-exchange", "x");
	struct exchange *x = fixture_exchange(f->v, "x", "direct", false, argtable_get(&to_y));
	fixture_exchange(f->v, "y", "direct", false, argtable_get(&to_x));
	ck_assert_uint_eq(route(x, "k"), 0);
	argtable_free(&to_y);
	argtable_free(&to_x);
}
END_TEST

START_TEST(a_binding_to_an_exchange_is_a_destination_even_when_that_exchange_routes_nowhere)
{
	/* rabbit_exchange:process_alternate: only an exchange whose own route found nothing
	 * uses its alternate; the bound exchange then uses its own */
	struct argtable ae_args, mid_args;
	argtable_init(&ae_args);
	argtable_init(&mid_args);
	argtable_str(&ae_args, "alternate-exchange", "ae");
	argtable_str(&mid_args, "alternate-exchange", "mid-ae");
	struct exchange *src =
		fixture_exchange(f->v, "src", "fanout", false, argtable_get(&ae_args));
	struct exchange *mid =
		fixture_exchange(f->v, "mid", "direct", false, argtable_get(&mid_args));
	struct exchange *ae = exchange("ae", "fanout"), *mid_ae = exchange("mid-ae", "fanout");
	struct queue *src_alt = queue("src-alt"), *mid_alt = queue("mid-alt");
	struct exchange *dead_end = exchange("dead-end", "direct");
	bind_x(src, mid, "");
	bind_q(ae, src_alt, "");
	bind_q(mid_ae, mid_alt, "");
	ck_assert_uint_eq(route(src, "k"), 1);
	ck_assert(routed_to(mid_alt));
	/* through an exchange that routes nowhere and has no alternate: nothing at all */
	ck_assert_int_eq(
		exchange_unbind(src, NULL, mid, AMQP_STR_LIT(""), (struct amqp_table){ 0 }), 0);
	bind_x(src, dead_end, "");
	ck_assert_uint_eq(route(src, "k"), 0);
	ck_assert(set.routed_somewhere);
	argtable_free(&ae_args);
	argtable_free(&mid_args);
}
END_TEST

START_TEST(unbinding_removes_the_route_and_an_absent_binding_is_reported)
{
	struct exchange *x = exchange("t", "topic");
	struct queue *q = queue("q");
	bind_q(x, q, "a.#");
	bind_q(x, q, "b.*");
	ck_assert_int_eq(exchange_unbind(x, q, NULL, AMQP_STR_LIT("a.#"), (struct amqp_table){ 0 }),
			 0);
	ck_assert_uint_eq(route(x, "a.x"), 0);
	ck_assert_uint_eq(route(x, "b.x"), 1);
	ck_assert_int_eq(exchange_unbind(x, q, NULL, AMQP_STR_LIT("a.#"), (struct amqp_table){ 0 }),
			 1);
	ck_assert_int_eq(exchange_unbind(x, q, NULL, AMQP_STR_LIT("c"), (struct amqp_table){ 0 }),
			 1);
	ck_assert_uint_eq(x->binding_count, 1);
}
END_TEST

START_TEST(unbinding_needs_the_same_arguments)
{
	struct exchange *x = exchange("h", "headers");
	struct queue *q = queue("q");
	struct argtable a, other;
	argtable_init(&a);
	argtable_init(&other);
	argtable_str(&a, "format", "pdf");
	argtable_str(&other, "format", "zip");
	ck_assert_int_eq(
		exchange_bind(x, q, NULL, AMQP_STR_LIT(""), argtable_get(&a), err, sizeof err), 0);
	ck_assert_int_eq(exchange_unbind(x, q, NULL, AMQP_STR_LIT(""), argtable_get(&other)), 1);
	ck_assert_int_eq(exchange_unbind(x, q, NULL, AMQP_STR_LIT(""), (struct amqp_table){ 0 }),
			 1);
	ck_assert_int_eq(exchange_unbind(x, q, NULL, AMQP_STR_LIT(""), argtable_get(&a)), 0);
	ck_assert_uint_eq(x->binding_count, 0);
	argtable_free(&a);
	argtable_free(&other);
}
END_TEST

START_TEST(unbinding_one_direct_key_leaves_the_others_with_that_key)
{
	struct exchange *x = exchange("d", "direct");
	struct queue *q1 = queue("q1"), *q2 = queue("q2"), *q3 = queue("q3");
	bind_q(x, q1, "k");
	bind_q(x, q2, "k");
	bind_q(x, q3, "k");
	ck_assert_int_eq(exchange_unbind(x, q1, NULL, AMQP_STR_LIT("k"), (struct amqp_table){ 0 }),
			 0);
	ck_assert_uint_eq(route(x, "k"), 2);
	ck_assert(routed_to(q2) && routed_to(q3));
	ck_assert_int_eq(exchange_unbind(x, q3, NULL, AMQP_STR_LIT("k"), (struct amqp_table){ 0 }),
			 0);
	ck_assert_int_eq(exchange_unbind(x, q2, NULL, AMQP_STR_LIT("k"), (struct amqp_table){ 0 }),
			 0);
	ck_assert_uint_eq(route(x, "k"), 0);
	bind_q(x, q1, "k"); /* the key's bucket comes back */
	ck_assert_uint_eq(route(x, "k"), 1);
}
END_TEST

START_TEST(an_auto_delete_exchange_goes_with_its_last_binding)
{
	struct exchange *x = fixture_exchange(f->v, "ad", "fanout", true, (struct amqp_table){ 0 });
	struct queue *q1 = queue("q1"), *q2 = queue("q2");
	bind_q(x, q1, "");
	bind_q(x, q2, "");
	ck_assert_int_eq(exchange_unbind(x, q1, NULL, AMQP_STR_LIT(""), (struct amqp_table){ 0 }),
			 0);
	ck_assert_ptr_eq(vhost_exchange_find(f->v, AMQP_STR_LIT("ad")), x);
	queue_delete(q2); /* deleting the queue removes the last binding */
	ck_assert_ptr_null(vhost_exchange_find(f->v, AMQP_STR_LIT("ad")));
}
END_TEST

START_TEST(deleting_an_exchange_removes_bindings_towards_it_and_auto_deletes_their_sources)
{
	struct exchange *src =
		fixture_exchange(f->v, "src", "fanout", true, (struct amqp_table){ 0 });
	struct exchange *dst = exchange("dst", "fanout");
	struct queue *q = queue("q");
	bind_x(src, dst, "");
	bind_q(dst, q, "");
	ck_assert_uint_eq(route(src, "k"), 1);
	exchange_delete(dst);
	ck_assert_ptr_null(vhost_exchange_find(f->v, AMQP_STR_LIT("dst")));
	ck_assert_ptr_null(vhost_exchange_find(f->v, AMQP_STR_LIT("src")));
	ck_assert(list_is_empty(&q->bindings));
}
END_TEST

START_TEST(deleting_a_queue_removes_its_bindings_from_every_exchange)
{
	struct exchange *d = exchange("d", "direct"), *t = exchange("t", "topic");
	struct queue *q = queue("q"), *stays = queue("stays");
	bind_q(d, q, "k");
	bind_q(t, q, "#");
	bind_q(d, stays, "k");
	queue_delete(q);
	ck_assert_uint_eq(d->binding_count, 1);
	ck_assert_uint_eq(t->binding_count, 0);
	ck_assert_uint_eq(route(d, "k"), 1);
	ck_assert(routed_to(stays));
	ck_assert_uint_eq(route(t, "k"), 0);
}
END_TEST

START_TEST(the_default_exchange_routes_to_the_queue_named_by_the_key)
{
	struct exchange *dflt = f->v->default_exchange;
	struct queue *q = queue("orders");
	ck_assert_ptr_eq(vhost_exchange_find(f->v, AMQP_STR_LIT("")), dflt);
	ck_assert_uint_eq(route(dflt, "orders"), 1);
	ck_assert(routed_to(q));
	ck_assert_uint_eq(route(dflt, "order"), 0);
	queue_delete(q);
	ck_assert_uint_eq(route(dflt, "orders"), 0); /* the lookup cache does not outlive it */
	struct queue *again = queue("orders");
	ck_assert_uint_eq(route(dflt, "orders"), 1);
	ck_assert(routed_to(again));
}
END_TEST

START_TEST(every_vhost_has_rabbitmqs_predeclared_exchanges)
{
	static const struct {
		const char *name, *type;
	} want[] = {
		{ "amq.direct", "direct" }, { "amq.fanout", "fanout" },
		{ "amq.topic", "topic" }, { "amq.headers", "headers" },
		{ "amq.match", "headers" }, { "amq.rabbitmq.trace", "topic" },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		struct exchange *x = vhost_exchange_find(f->v, amqp_str_c(want[i].name));
		ck_assert_ptr_nonnull(x);
		ck_assert_str_eq(x->type->name, want[i].type);
		ck_assert(x->durable);
		ck_assert(exchange_is_system(x));
	}
	ck_assert(!exchange_is_system(exchange("amq", "direct")));
}
END_TEST

static Suite *exchange_suite(void)
{
	Suite *s = suite_create("exchange");
	TCase *tc = tcase_create("routing");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, only_the_four_types_are_known_by_name);
	tcase_add_test(tc, a_direct_exchange_routes_to_every_queue_bound_with_the_exact_key);
	tcase_add_test(tc, a_fanout_exchange_routes_to_every_binding_whatever_the_key);
	tcase_add_test(tc, a_topic_exchange_routes_by_words_and_wildcards);
	tcase_add_test(tc, a_headers_exchange_matches_all_or_any_of_the_binding_arguments);
	tcase_add_test(tc, a_bad_x_match_refuses_the_binding_with_rabbitmqs_text);
	tcase_add_test(tc, the_same_binding_twice_is_one_binding);
	tcase_add_test(tc, a_queue_reached_by_several_bindings_is_routed_once);
	tcase_add_test(tc, cc_keys_add_queues_and_a_queue_already_found_is_not_added_again);
	tcase_add_test(tc, publishing_with_cc_and_bcc_puts_one_copy_in_each_queue_and_drops_bcc);
	tcase_add_test(tc, exchange_to_exchange_bindings_are_followed_by_the_same_key);
	tcase_add_test(tc, a_queue_reached_directly_and_through_another_exchange_gets_one_copy);
	tcase_add_test(tc, a_cycle_of_exchange_bindings_ends_and_routes_each_queue_once);
	tcase_add_test(tc, an_unroutable_message_goes_to_the_alternate_exchange);
	tcase_add_test(tc, a_missing_alternate_exchange_routes_nowhere);
	tcase_add_test(tc, alternate_exchanges_that_point_at_each_other_end);
	tcase_add_test(
		tc,
		a_binding_to_an_exchange_is_a_destination_even_when_that_exchange_routes_nowhere);
	tcase_add_test(tc, unbinding_removes_the_route_and_an_absent_binding_is_reported);
	tcase_add_test(tc, unbinding_needs_the_same_arguments);
	tcase_add_test(tc, unbinding_one_direct_key_leaves_the_others_with_that_key);
	tcase_add_test(tc, an_auto_delete_exchange_goes_with_its_last_binding);
	tcase_add_test(
		tc,
		deleting_an_exchange_removes_bindings_towards_it_and_auto_deletes_their_sources);
	tcase_add_test(tc, deleting_a_queue_removes_its_bindings_from_every_exchange);
	tcase_add_test(tc, the_default_exchange_routes_to_the_queue_named_by_the_key);
	tcase_add_test(tc, every_vhost_has_rabbitmqs_predeclared_exchanges);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(exchange_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
