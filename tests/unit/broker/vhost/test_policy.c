/* tests/unit/broker/test_policy.c: broker/policy.c on a real vhost with queues and exchanges:
 * unanchored pattern matching, the highest-priority policy applying alone, apply-to, operator
 * policies capping numeric limits (the smallest of argument, policy and operator policy wins, as
 * RabbitMQ 3.10's args_policy_lookup with erlang:min does), string settings filling in what
 * arguments leave out, re-application to existing queues and exchanges on set and delete, and
 * the texts a bad definition is refused with (docs/queues.md, "Policies"). */
#include "broker/admin/admin.h"
#include "broker/vhost/policy.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "broker/exchange/exchange.h"
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

static void set(const char *name, const char *pattern, const char *apply_to, int priority,
		const char *definition)
{
	ck_assert_msg(admin_policy_set(f->v, name, pattern, apply_to, priority, definition, false, err,
				 sizeof err) == 0,
		      "%s", err);
}

static void set_operator(const char *name, const char *pattern, int priority,
			 const char *definition)
{
	ck_assert_msg(admin_policy_set(f->v, name, pattern, "queues", priority, definition, true, err,
				 sizeof err) == 0,
		      "%s", err);
}

static const char *queue_policy(const char *queue)
{
	const struct policy *p = policy_match(f->v, queue, strlen(queue), true, false);
	return p ? p->name : NULL;
}

static const char *exchange_policy(const char *exchange)
{
	const struct policy *p = policy_match(f->v, exchange, strlen(exchange), false, false);
	return p ? p->name : NULL;
}

/* A queue declared with x-max-length = max_length (-1: no argument). */
static struct queue *queue_with_max_length(const char *name, int64_t max_length)
{
	struct argtable a;
	argtable_init(&a);
	if (max_length >= 0)
		argtable_int(&a, "x-max-length", 'I', max_length);
	struct queue *q = fixture_queue(f->v, name, argtable_get(&a));
	argtable_free(&a);
	return q;
}

START_TEST(a_pattern_matches_anywhere_in_the_name_unless_anchored)
{
	set("loose", "orders", "all", 0, "{\"max-length\": 1}");
	set("tight", "^audit$", "all", 0, "{\"max-length\": 1}");
	ck_assert_str_eq(queue_policy("orders"), "loose");
	ck_assert_str_eq(queue_policy("eu.orders.new"), "loose");
	ck_assert_ptr_null(queue_policy("order"));
	ck_assert_str_eq(queue_policy("audit"), "tight");
	ck_assert_ptr_null(queue_policy("audit.log"));
	ck_assert_ptr_null(queue_policy("my-audit"));
	set("everything", ".*", "all", -1, "{\"max-length\": 1}");
	ck_assert_str_eq(queue_policy(""), "everything");
}
END_TEST

START_TEST(the_highest_priority_matching_policy_applies_alone)
{
	set("low", "^q", "queues", 1,
	    "{\"max-length\": 10, \"dead-letter-exchange\": \"low-dlx\"}");
	set("high", "^q\\.", "queues", 5, "{\"message-ttl\": 100}");
	set("higher-elsewhere", "^zzz", "queues", 9, "{\"message-ttl\": 1}");
	struct queue *q = queue_with_max_length("q.1", -1);
	ck_assert_str_eq(queue_policy("q.1"), "high");
	ck_assert_int_eq(q->lim.message_ttl, 100);
	ck_assert_int_eq(q->lim.max_length, -1); /* not merged with "low" */
	ck_assert_ptr_null(q->lim.dlx);
	ck_assert_str_eq(queue_policy("q1"), "low"); /* "high" does not match it */
	/* raising the lower one's priority above re-applies at once */
	set("low", "^q", "queues", 7,
	    "{\"max-length\": 10, \"dead-letter-exchange\": \"low-dlx\"}");
	ck_assert_str_eq(queue_policy("q.1"), "low");
	ck_assert_int_eq(q->lim.max_length, 10);
	ck_assert_int_eq(q->lim.message_ttl, -1);
	ck_assert_str_eq(q->lim.dlx, "low-dlx");
}
END_TEST

START_TEST(apply_to_chooses_between_queues_and_exchanges)
{
	set("for-queues", "^a", "queues", 3, "{\"max-length\": 1}");
	set("for-classic", "^b", "classic_queues", 3, "{\"max-length\": 1}");
	set("for-exchanges", "^a", "exchanges", 2, "{\"alternate-exchange\": \"ae\"}");
	set("for-all", "^", "all", 1, "{\"max-length\": 2}");
	ck_assert_str_eq(queue_policy("a1"), "for-queues");
	ck_assert_str_eq(queue_policy("b1"), "for-classic");
	ck_assert_str_eq(queue_policy("c1"), "for-all");
	ck_assert_str_eq(exchange_policy("a1"), "for-exchanges");
	ck_assert_str_eq(exchange_policy("b1"), "for-all");
	ck_assert_str_eq(exchange_policy("c1"), "for-all");
	ck_assert_str_eq(policy_apply_to_name(policy_find(f->v, "for-classic", false)->apply_to),
			 "classic_queues");
	ck_assert_str_eq(policy_apply_to_name(policy_find(f->v, "for-all", false)->apply_to),
			 "all");
}
END_TEST

START_TEST(a_missing_apply_to_means_all)
{
	ck_assert_int_eq(
		admin_policy_set(f->v, "p", "^x", NULL, 0, "{\"max-length\": 1}", false, err, sizeof err),
		0);
	ck_assert_int_eq(policy_find(f->v, "p", false)->apply_to, POLICY_APPLY_ALL);
	ck_assert_str_eq(exchange_policy("x"), "p");
}
END_TEST

START_TEST(setting_and_deleting_a_policy_reapplies_it_to_existing_queues)
{
	struct queue *q = queue_with_max_length("jobs", -1);
	ck_assert_int_eq(q->lim.max_length, -1);
	set("cap", "^jobs$", "queues", 0, "{\"max-length\": 3, \"overflow\": \"reject-publish\"}");
	ck_assert_int_eq(q->lim.max_length, 3);
	ck_assert_int_eq(q->lim.overflow, QUEUE_REJECT_PUBLISH);
	set("cap", "^jobs$", "queues", 0, "{\"max-length\": 4}"); /* replaced, not added */
	ck_assert_int_eq(q->lim.max_length, 4);
	ck_assert_int_eq(q->lim.overflow, QUEUE_DROP_HEAD);
	ck_assert_int_eq(admin_policy_delete(f->v, "cap", false), 0);
	ck_assert_int_eq(q->lim.max_length, -1);
	ck_assert_int_eq(admin_policy_delete(f->v, "cap", false), -1);
	ck_assert_ptr_null(policy_find(f->v, "cap", false));
}
END_TEST

START_TEST(numeric_limits_take_the_smallest_of_argument_policy_and_operator_policy)
{
	set("pol", "^", "queues", 0, "{\"max-length\": 50, \"message-ttl\": 6000}");
	struct queue *arg100 = queue_with_max_length("arg100", 100);
	struct queue *arg5 = queue_with_max_length("arg5", 5);
	struct queue *none = queue_with_max_length("none", -1);
	ck_assert_int_eq(arg100->lim.max_length, 50);
	ck_assert_int_eq(arg5->lim.max_length, 5);
	ck_assert_int_eq(none->lim.max_length, 50);
	set_operator("op", "^", 0, "{\"max-length\": 10, \"message-ttl\": 60000}");
	ck_assert_int_eq(arg100->lim.max_length, 10);
	ck_assert_int_eq(arg5->lim.max_length, 5);
	ck_assert_int_eq(none->lim.max_length, 10);
	ck_assert_int_eq(none->lim.message_ttl, 6000);
	ck_assert_int_eq(admin_policy_delete(f->v, "pol", false), 0);
	ck_assert_int_eq(none->lim.max_length, 10); /* the operator policy alone */
	ck_assert_int_eq(none->lim.message_ttl, 60000);
	ck_assert_int_eq(admin_policy_delete(f->v, "op", false), -1); /* operator policies apart */
	ck_assert_int_eq(admin_policy_delete(f->v, "op", true), 0);
	ck_assert_int_eq(none->lim.max_length, -1);
	ck_assert_int_eq(arg100->lim.max_length, 100);
}
END_TEST

START_TEST(policies_and_operator_policies_are_matched_separately)
{
	set("pol", "^a", "queues", 0, "{\"expires\": 1000}");
	set_operator("op", "^a", 0, "{\"expires\": 500}");
	ck_assert_str_eq(policy_match(f->v, "a", 1, true, false)->name, "pol");
	ck_assert_str_eq(policy_match(f->v, "a", 1, true, true)->name, "op");
	ck_assert(policy_find(f->v, "op", true)->is_operator);
	ck_assert_ptr_null(policy_find(f->v, "op", false));
	struct queue *q = queue_with_max_length("a", -1);
	ck_assert_int_eq(q->lim.expires, 500);
}
END_TEST

START_TEST(string_settings_fill_in_what_the_arguments_leave_out)
{
	struct argtable a;
	argtable_init(&a);
	argtable_str(&a, "x-dead-letter-exchange", "arg-dlx");
	argtable_str(&a, "x-overflow", "drop-head");
	struct queue *with = fixture_queue(f->v, "with", argtable_get(&a));
	struct queue *without = queue_with_max_length("without", -1);
	set("pol", "^with", "queues", 0,
	    "{\"dead-letter-exchange\": \"pol-dlx\", \"dead-letter-routing-key\": \"rk\", "
	    "\"overflow\": \"reject-publish-dlx\"}");
	ck_assert_str_eq(with->lim.dlx, "arg-dlx");
	ck_assert_int_eq(with->lim.overflow, QUEUE_DROP_HEAD);
	ck_assert_str_eq(with->lim.dlrk, "rk"); /* no argument for it */
	ck_assert_str_eq(without->lim.dlx, "pol-dlx");
	ck_assert_int_eq(without->lim.overflow, QUEUE_REJECT_PUBLISH_DLX);
	argtable_free(&a);
}
END_TEST

START_TEST(an_alternate_exchange_comes_from_a_policy_unless_the_argument_names_one)
{
	struct argtable a;
	argtable_init(&a);
	argtable_str(&a, "alternate-exchange", "arg-ae");
	struct exchange *plain =
		fixture_exchange(f->v, "plain", "direct", false, (struct amqp_table){ 0 });
	struct exchange *given = fixture_exchange(f->v, "given", "direct", false, argtable_get(&a));
	set("ae", "^(plain|given|later)$", "exchanges", 0, "{\"alternate-exchange\": \"pol-ae\"}");
	ck_assert(amqp_str_eq_c(plain->alternate, "pol-ae"));
	ck_assert(amqp_str_eq_c(given->alternate, "arg-ae"));
	struct exchange *later =
		fixture_exchange(f->v, "later", "fanout", false, (struct amqp_table){ 0 });
	ck_assert(amqp_str_eq_c(later->alternate, "pol-ae")); /* applied at declare */
	set("ae", "^(plain|given|later)$", "queues", 0, "{\"alternate-exchange\": \"pol-ae\"}");
	ck_assert_uint_eq(plain->alternate.len, 0); /* no longer for exchanges */
	ck_assert(amqp_str_eq_c(given->alternate, "arg-ae"));
	argtable_free(&a);
}
END_TEST

START_TEST(a_bad_definition_is_refused_with_a_validation_text)
{
	static const struct {
		const char *definition, *text;
	} cases[] = {
		{ "{\"message-ttl\": -1}",
		  "Validation failed: message-ttl must be a non-negative integer" },
		{ "{\"max-length\": \"5\"}",
		  "Validation failed: max-length must be a non-negative integer" },
		{ "{\"max-length-bytes\": 1.5}",
		  "Validation failed: max-length-bytes must be a non-negative integer" },
		{ "{\"delivery-limit\": -1}",
		  "Validation failed: delivery-limit must be a non-negative integer" },
		{ "{\"consumer-timeout\": -1}",
		  "Validation failed: consumer-timeout must be a non-negative integer" },
		{ "{\"expires\": 0}", "Validation failed: expires must be a positive integer" },
		{ "{\"overflow\": \"bogus\"}",
		  "Validation failed: bogus is not a valid value for overflow" },
		{ "{\"queue-mode\": \"bogus\"}",
		  "Validation failed: bogus is not a valid value for queue-mode" },
		{ "{\"dead-letter-exchange\": 5}",
		  "Validation failed: dead-letter-exchange must be a string" },
		{ "{\"alternate-exchange\": null}",
		  "Validation failed: alternate-exchange must be a string" },
		{ "{\"foo\": 1}",
		  "Validation failed: [{<<\"foo\">>,...}] are not recognised policy settings" },
		{ "{\"max-age\": \"bogus\"}", "<<\"bogus\">> is not a valid max age" },
		{ "{\"max-age\": 7}", "7 is not a valid max age" },
		{ "{\"stream-max-segment-size-bytes\": -1}", "-1 is not a valid segment size" },
		{ "{\"stream-max-segment-size-bytes\": 3000000001}",
		  "3000000001 is not a valid segment size" },
		{ "{\"stream-max-segment-size-bytes\": \"x\"}", "<<\"x\">> is not a valid segment size" },
		{ "{}", "Validation failed: no policy keys in definition" },
		{ "[1]", "Validation failed: definition must be a JSON object" },
		{ "{", "Validation failed: definition must be a JSON object" },
		{ "", "Validation failed: definition must be a JSON object" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ck_assert_int_eq(admin_policy_set(f->v, "p", "^", "all", 0, cases[i].definition, false,
					    err, sizeof err),
				 -1);
		ck_assert_str_eq(err, cases[i].text);
	}
	ck_assert(list_is_empty(&f->v->policies));
}
END_TEST

START_TEST(stream_keys_are_kept_parsed_for_the_stream_kind)
{
	set("s", "^s", "queues", 0,
	    "{\"max-age\": \"7D\", \"stream-max-segment-size-bytes\": 5000, "
	    "\"max-length-bytes\": 100}");
	const struct policy *p = policy_match(f->v, "s1", 2, true, false);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->def.max_age, "7D");
	ck_assert_int_eq(p->def.stream_max_segment_size_bytes, 5000);
	ck_assert_int_eq(p->def.max_length_bytes, 100);
	set("t", "^t", "queues", 0, "{\"max-length\": 1}");
	p = policy_match(f->v, "t1", 2, true, false);
	ck_assert_ptr_null(p->def.max_age);
	ck_assert_int_eq(p->def.stream_max_segment_size_bytes, -1);
}
END_TEST

START_TEST(a_bad_pattern_or_apply_to_is_refused)
{
	ck_assert_int_eq(
		admin_policy_set(f->v, "p", "(", "all", 0, "{\"max-length\": 1}", false, err, sizeof err),
		-1);
	ck_assert_int_eq(strncmp(err, "Validation failed: pattern (: ", 30), 0);
	ck_assert_int_eq(admin_policy_set(f->v, "p", "^", "bogus", 0, "{\"max-length\": 1}", false, err,
				    sizeof err),
			 -1);
	ck_assert_str_eq(err, "Validation failed: 'bogus' is not a valid apply-to value");
	ck_assert(list_is_empty(&f->v->policies));
}
END_TEST

START_TEST(a_refused_replacement_leaves_the_policy_in_force)
{
	struct queue *q = queue_with_max_length("q", -1);
	set("p", "^q$", "queues", 0, "{\"max-length\": 7}");
	ck_assert_int_eq(admin_policy_set(f->v, "p", "^q$", "queues", 0, "{\"max-length\": -7}", false,
				    err, sizeof err),
			 -1);
	ck_assert_int_eq(q->lim.max_length, 7);
	ck_assert_str_eq(policy_find(f->v, "p", false)->definition_json, "{\"max-length\": 7}");
}
END_TEST

START_TEST(a_policy_keeps_its_pattern_and_definition_as_given)
{
	set("p", "^x\\.", "exchanges", 3, "{\"alternate-exchange\":\"ae\"}");
	struct policy *p = policy_find(f->v, "p", false);
	ck_assert_str_eq(p->pattern, "^x\\.");
	ck_assert_str_eq(p->definition_json, "{\"alternate-exchange\":\"ae\"}");
	ck_assert_int_eq(p->priority, 3);
	ck_assert_str_eq(p->def.alternate_exchange, "ae");
	ck_assert_int_eq(p->def.max_length, -1);
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_pattern_matches_anywhere_in_the_name_unless_anchored);
	tcase_add_test(tc, the_highest_priority_matching_policy_applies_alone);
	tcase_add_test(tc, apply_to_chooses_between_queues_and_exchanges);
	tcase_add_test(tc, a_missing_apply_to_means_all);
	tcase_add_test(tc, setting_and_deleting_a_policy_reapplies_it_to_existing_queues);
	tcase_add_test(tc, numeric_limits_take_the_smallest_of_argument_policy_and_operator_policy);
	tcase_add_test(tc, policies_and_operator_policies_are_matched_separately);
	tcase_add_test(tc, string_settings_fill_in_what_the_arguments_leave_out);
	tcase_add_test(tc, an_alternate_exchange_comes_from_a_policy_unless_the_argument_names_one);
	tcase_add_test(tc, a_bad_definition_is_refused_with_a_validation_text);
	tcase_add_test(tc, a_bad_pattern_or_apply_to_is_refused);
	tcase_add_test(tc, stream_keys_are_kept_parsed_for_the_stream_kind);
	tcase_add_test(tc, a_refused_replacement_leaves_the_policy_in_force);
	tcase_add_test(tc, a_policy_keeps_its_pattern_and_definition_as_given);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(policy_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
