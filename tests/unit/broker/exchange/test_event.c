/* tests/unit/broker/exchange/test_event.c: broker/exchange/event.c on a real broker: the event
 * exchange exists in the default vhost only, an event becomes a message (routing key, empty
 * body, delivery mode 2, timestamp, headers with RabbitMQ's Erlang-term forms) at the end of the
 * loop turn, and nothing is built while nobody is bound. */
#include "broker/exchange/exchange.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"
#include "broker/admin/admin.h"
#include "broker/core/broker.h"
#include "broker/core/event.h"
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

static struct exchange *event_exchange(struct vhost *v)
{
	return vhost_exchange_find(v, AMQP_STR_LIT(EXCHANGE_EVENT_NAME));
}

static void drop_all(struct queue *q)
{
	struct message *m;
	while ((m = fixture_pop(q, NULL)) != NULL)
		message_unref(m);
}

static struct queue *tap(const char *key)
{
	struct queue *q = fixture_queue(f->v, "tap", (struct amqp_table){ 0 });
	ck_assert_int_eq(exchange_bind(event_exchange(f->v), q, NULL, amqp_str_c(key),
				       (struct amqp_table){ 0 }, err, sizeof err),
			 0);
	broker_run_deferred(f->b); /* the binding's own event */
	drop_all(q);
	return q;
}

START_TEST(the_event_exchange_is_an_internal_durable_topic_exchange_of_the_default_vhost_only)
{
	struct exchange *x = event_exchange(f->v);
	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_eq(x->type, &exchange_type_topic);
	ck_assert(x->internal && x->durable && exchange_is_system(x));
	ck_assert_int_eq(admin_vhost_add(f->b, "other"), ADMIN_CREATED);
	ck_assert_ptr_null(event_exchange(admin_vhost_find(f->b, "other")));
}
END_TEST

START_TEST(a_queue_declared_becomes_a_queue_created_message_at_the_end_of_the_turn)
{
	struct queue *t = fixture_queue(f->v, "tap", (struct amqp_table){ 0 });
	ck_assert_int_eq(exchange_bind(event_exchange(f->v), t, NULL, AMQP_STR_LIT("queue.*"),
				       (struct amqp_table){ 0 }, err, sizeof err),
			 0);
	struct argtable a;
	argtable_init(&a);
	argtable_int(&a, "x-max-length", 'I', 10);
	f->b->event_actor = "alice";
	fixture_queue(f->v, "orders", argtable_get(&a));
	f->b->event_actor = NULL;
	ck_assert_uint_eq(t->ready_count, 0); /* not yet: published after the turn */
	broker_run_deferred(f->b);
	struct message *m = fixture_pop(t, NULL);
	ck_assert_ptr_nonnull(m);
	ck_assert(amqp_str_eq_c(m->routing_key, "queue.created"));
	ck_assert(amqp_str_eq_c(m->exchange, EXCHANGE_EVENT_NAME));
	ck_assert_uint_eq(m->body_len, 0);
	struct amqp_basic_props p;
	ck_assert_int_eq(amqp_props_decode(&p, m->props, m->props_len), 0);
	ck_assert_uint_eq(p.delivery_mode, 2);
	ck_assert(p.flags & AMQP_PROP_TIMESTAMP);
	struct amqp_value v, item;
	ck_assert(amqp_table_get(p.headers, "name", &v) && amqp_str_eq_c(v.v.str, "orders"));
	ck_assert(amqp_table_get(p.headers, "vhost", &v) && amqp_str_eq_c(v.v.str, "/"));
	ck_assert(amqp_table_get(p.headers, "durable", &v) && v.type == 't' && !v.v.b);
	ck_assert(amqp_table_get(p.headers, "user_who_performed_action", &v) &&
		  amqp_str_eq_c(v.v.str, "alice"));
	ck_assert(amqp_table_get(p.headers, "timestamp_in_ms", &v) && v.type == 'l');
	ck_assert(amqp_table_get(p.headers, "arguments", &v) && v.type == 'A');
	struct amqp_table_iter it;
	amqp_array_iter_init(&it, v.v.table);
	ck_assert_int_eq(amqp_array_next(&it, &item), 1);
	ck_assert(amqp_str_eq_c(item.v.str, "{<<\"x-max-length\">>,signedint,10}"));
	message_unref(m);
	ck_assert_ptr_null(fixture_pop(t, NULL));
	argtable_free(&a);
}
END_TEST

START_TEST(nothing_is_built_while_nobody_is_bound)
{
	uint64_t live = f->b->message_live_count;
	fixture_queue(f->v, "q", (struct amqp_table){ 0 });
	ck_assert(!event_wanted(f->b));
	ck_assert_uint_eq(f->b->message_live_count, live);
	broker_run_deferred(f->b);
	ck_assert_uint_eq(f->b->message_live_count, live);
}
END_TEST

START_TEST(tables_are_shown_as_erlang_terms_and_tables_kept_as_tables)
{
	struct queue *t = tap("test.#");
	drop_all(t);
	struct argtable inner, a;
	argtable_init(&inner);
	argtable_bool(&inner, "flag", true);
	argtable_str(&inner, "q\"uote", "\x01\x02");
	argtable_init(&a);
	argtable_table(&a, "caps", &inner);
	argtable_int(&a, "n", 'l', -5);
	argtable_str(&a, "empty", "");
	struct amqp_table tab = argtable_get(&a);
	EVENT_EMIT(f->b, "test.terms", EV_TERMS("terms", tab), EV_TABLE("table", tab),
		   EV_CHARS("chars", "ab"), EV_ACTOR());
	broker_run_deferred(f->b);
	struct message *m = fixture_pop(t, NULL);
	ck_assert_ptr_nonnull(m);
	struct amqp_basic_props p;
	ck_assert_int_eq(amqp_props_decode(&p, m->props, m->props_len), 0);
	struct amqp_value v, item;
	struct amqp_table_iter it;
	ck_assert(amqp_table_get(p.headers, "terms", &v));
	amqp_array_iter_init(&it, v.v.table);
	static const char *const want[] = {
		"{<<\"caps\">>,table,[{<<\"flag\">>,bool,true},{<<\"q\\\"uote\">>,longstr,<<1,2>>}]}",
		"{<<\"n\">>,long,-5}",
		"{<<\"empty\">>,longstr,<<>>}",
	};
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(amqp_array_next(&it, &item), 1);
		ck_assert_int_eq((int)item.v.str.len, (int)strlen(want[i]));
		ck_assert(memcmp(item.v.str.ptr, want[i], item.v.str.len) == 0);
	}
	ck_assert(amqp_table_get(p.headers, "table", &v) && v.type == 'F');
	ck_assert(amqp_table_get(v.v.table, "n", &item) && item.v.i == -5);
	ck_assert(amqp_table_get(p.headers, "chars", &v) && v.type == 'A');
	amqp_array_iter_init(&it, v.v.table);
	ck_assert_int_eq(amqp_array_next(&it, &item), 1);
	ck_assert_int_eq((int)item.v.i, 'a');
	ck_assert(amqp_table_get(p.headers, "user_who_performed_action", &v) &&
		  amqp_str_eq_c(v.v.str, "rmq-internal"));
	message_unref(m);
	argtable_free(&a);
	argtable_free(&inner);
}
END_TEST

START_TEST(an_event_whose_exchange_went_away_before_the_turn_ended_is_dropped)
{
	struct queue *t = tap("#");
	drop_all(t);
	EVENT_EMIT(f->b, "test.one", EV_CSTR("name", "x"));
	exchange_delete(event_exchange(f->v));
	uint64_t live = f->b->message_live_count;
	broker_run_deferred(f->b);
	ck_assert_uint_lt(f->b->message_live_count, live); /* unreferenced, not leaked */
	ck_assert_ptr_null(fixture_pop(t, NULL));
}
END_TEST

static Suite *event_suite(void)
{
	Suite *s = suite_create("event");
	TCase *t = tcase_create("core");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, the_event_exchange_is_an_internal_durable_topic_exchange_of_the_default_vhost_only);
	tcase_add_test(t, a_queue_declared_becomes_a_queue_created_message_at_the_end_of_the_turn);
	tcase_add_test(t, nothing_is_built_while_nobody_is_bound);
	tcase_add_test(t, tables_are_shown_as_erlang_terms_and_tables_kept_as_tables);
	tcase_add_test(t, an_event_whose_exchange_went_away_before_the_turn_ended_is_dropped);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(event_suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
