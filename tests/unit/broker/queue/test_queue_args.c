/* tests/unit/broker/test_queue_args.c: broker/queue_args.c, queue.declare's x-argument checks
 * and redeclare equivalence. Every expected text is what RabbitMQ 3.10.8 replied to pika for the
 * same arguments (after "PRECONDITION_FAILED - "), from shared/reference/rabbitmq-semantics.md
 * section 0 and a private 3.10.8 node (conformance/rabbitmq.sh) for the cases the reference
 * does not list: non-string x-overflow and x-dead-letter-routing-key, x-queue-version given a
 * string, bool or negative, x-queue-type classic against none, and which argument is named when
 * several are wrong. Warren-only arguments (x-delivery-limit on any queue, x-consumer-timeout)
 * follow docs/queues.md. */
#include "broker/queue/queue_args.h"
#include "broker/queue/queue_type.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/argtable.h"

static struct argtable a, b;
static char err[512];

static void setup(void)
{
	argtable_init(&a);
	argtable_init(&b);
	err[0] = '\0';
}

static void teardown(void)
{
	argtable_free(&a);
	argtable_free(&b);
}

static int validate(void)
{
	return queue_args_validate(argtable_get(&a), AMQP_STR_LIT("q.bad"), "labres", err,
				   sizeof err);
}

static int equivalent(void)
{
	/* a: the existing queue's arguments; b: the redeclare's */
	return queue_args_equivalent(argtable_get(&a), argtable_get(&b), AMQP_STR_LIT("q.args"),
				     "labres", err, sizeof err);
}

/* ---- validation ---- */

START_TEST(negative_integers_are_refused_as_value_negative_for_every_integer_argument)
{
	static const char *const keys[] = {
		"x-message-ttl", "x-max-length", "x-max-length-bytes", "x-max-priority",
		"x-queue-version", "x-delivery-limit", "x-max-in-memory-length",
		"x-max-in-memory-bytes", "x-consumer-timeout",
	};
	char want[256];
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		argtable_free(&a);
		argtable_init(&a);
		argtable_int(&a, keys[i], 'I', -1);
		ck_assert_int_eq(validate(), -1);
		snprintf(
			want, sizeof want,
			"invalid arg '%s' for queue 'q.bad' in vhost 'labres': {value_negative,-1}",
			keys[i]);
		ck_assert_str_eq(err, want);
	}
	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-expires", 'I', -5);
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(
		err,
		"invalid arg 'x-expires' for queue 'q.bad' in vhost 'labres': {value_negative,-5}");
}
END_TEST

START_TEST(x_expires_of_zero_is_value_zero)
{
	argtable_int(&a, "x-expires", 'I', 0);
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(
		err, "invalid arg 'x-expires' for queue 'q.bad' in vhost 'labres': {value_zero,0}");
}
END_TEST

START_TEST(x_max_priority_above_255_is_max_value_exceeded_and_0_and_255_are_accepted)
{
	argtable_int(&a, "x-max-priority", 'I', 256);
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-max-priority' for queue 'q.bad' in vhost 'labres': "
			      "{max_value_exceeded,256}");
	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-max-priority", 'I', 0);
	ck_assert_int_eq(validate(), 0);
	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-max-priority", 'B', 255);
	ck_assert_int_eq(validate(), 0);
}
END_TEST

START_TEST(an_integer_argument_given_another_type_says_expected_integer_and_names_the_type)
{
	struct amqp_value dec = { .type = 'D' };
	dec.v.dec = (struct amqp_decimal){ 1, 15 };
	argtable_str(&a, "x-max-priority", "5");
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-max-priority' for queue 'q.bad' in vhost 'labres': "
			      "\"expected integer, got longstr\"");
	argtable_free(&a);
	argtable_init(&a);
	argtable_bool(&a, "x-message-ttl", true);
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-message-ttl' for queue 'q.bad' in vhost 'labres': "
			      "\"expected integer, got bool\"");
	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-message-ttl", 'T', 1577836800);
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-message-ttl' for queue 'q.bad' in vhost 'labres': "
			      "\"expected integer, got timestamp\"");
	argtable_free(&a);
	argtable_init(&a);
	argtable_value(&a, "x-max-length", &dec);
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-max-length' for queue 'q.bad' in vhost 'labres': "
			      "\"expected integer, got decimal\"");
	argtable_free(&a);
	argtable_init(&a);
	argtable_str(&a, "x-expires", "5");
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-expires' for queue 'q.bad' in vhost 'labres': "
			      "\"expected integer, got longstr\"");
}
END_TEST

START_TEST(integers_of_every_width_are_accepted)
{
	static const uint8_t types[] = { 'b', 'B', 's', 'u', 'I', 'i', 'l' };
	for (size_t i = 0; i < sizeof types; i++) {
		argtable_free(&a);
		argtable_init(&a);
		argtable_int(&a, "x-message-ttl", types[i], 5);
		argtable_int(&a, "x-max-length", types[i], 7);
		argtable_int(&a, "x-queue-version", types[i], 2);
		ck_assert_msg(validate() == 0, "type %c: %s", types[i], err);
	}
}
END_TEST

START_TEST(x_overflow_names_a_bad_string_invalid_overflow_and_a_non_string_its_type)
{
	argtable_str(&a, "x-overflow", "bogus");
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(
		err,
		"invalid arg 'x-overflow' for queue 'q.bad' in vhost 'labres': invalid_overflow");
	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-overflow", 'I', 1);
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-overflow' for queue 'q.bad' in vhost 'labres': "
			      "{unacceptable_type,signedint}");
	static const char *const ok[] = { "drop-head", "reject-publish", "reject-publish-dlx" };
	for (size_t i = 0; i < 3; i++) {
		argtable_free(&a);
		argtable_init(&a);
		argtable_str(&a, "x-overflow", ok[i]);
		ck_assert_int_eq(validate(), 0);
	}
}
END_TEST

START_TEST(x_queue_type_and_x_queue_mode_refuse_unknown_names_and_non_strings)
{
	argtable_str(&a, "x-queue-type", "bogus");
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-queue-type' for queue 'q.bad' in vhost 'labres': "
			      "\"unsupported queue type 'bogus'\"");
	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-queue-type", 'I', 1);
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-queue-type' for queue 'q.bad' in vhost 'labres': "
			      "{unacceptable_type,signedint}");
	argtable_free(&a);
	argtable_init(&a);
	argtable_str(&a, "x-queue-mode", "bogus");
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-queue-mode' for queue 'q.bad' in vhost 'labres': "
			      "\"unsupported queue mode 'bogus'\"");
	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-queue-mode", 'I', 1);
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-queue-mode' for queue 'q.bad' in vhost 'labres': "
			      "{unacceptable_type,signedint}");
	argtable_free(&a);
	argtable_init(&a);
	argtable_str(&a, "x-queue-type", "quorum");
	argtable_str(&a, "x-queue-mode", "lazy");
	ck_assert_int_eq(validate(), 0);
}
END_TEST

START_TEST(x_queue_version_is_a_non_negative_integer_and_then_1_or_2)
{
	argtable_int(&a, "x-queue-version", 'I', 3);
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-queue-version' for queue 'q.bad' in vhost 'labres': "
			      "\"unsupported queue version '3'\"");
	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-queue-version", 'I', 0);
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-queue-version' for queue 'q.bad' in vhost 'labres': "
			      "\"unsupported queue version '0'\"");
	argtable_free(&a);
	argtable_init(&a);
	argtable_str(&a, "x-queue-version", "2");
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-queue-version' for queue 'q.bad' in vhost 'labres': "
			      "\"expected integer, got longstr\"");
	argtable_free(&a);
	argtable_init(&a);
	argtable_bool(&a, "x-queue-version", true);
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-queue-version' for queue 'q.bad' in vhost 'labres': "
			      "\"expected integer, got bool\"");
	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-queue-version", 'I', 1);
	ck_assert_int_eq(validate(), 0);
}
END_TEST

START_TEST(x_single_active_consumer_must_be_a_bool)
{
	argtable_str(&a, "x-single-active-consumer", "yes");
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-single-active-consumer' for queue 'q.bad' in vhost "
			      "'labres': {unacceptable_type,longstr}");
	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-single-active-consumer", 'I', 1);
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-single-active-consumer' for queue 'q.bad' in vhost "
			      "'labres': {unacceptable_type,signedint}");
	argtable_free(&a);
	argtable_init(&a);
	argtable_bool(&a, "x-single-active-consumer", false);
	ck_assert_int_eq(validate(), 0);
}
END_TEST

START_TEST(a_non_string_dead_letter_exchange_uses_the_invalid_type_layout)
{
	argtable_int(&a, "x-dead-letter-exchange", 'I', 1);
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid type 'signedint' for arg 'x-dead-letter-exchange' in queue "
			      "'q.bad' in vhost 'labres'");
	argtable_free(&a);
	argtable_init(&a);
	argtable_str(&a, "x-dead-letter-exchange", ""); /* the default exchange */
	ck_assert_int_eq(validate(), 0);
}
END_TEST

START_TEST(a_dead_letter_routing_key_needs_a_string_and_a_dead_letter_exchange)
{
	argtable_str(&a, "x-dead-letter-routing-key", "k");
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-dead-letter-routing-key' for queue 'q.bad' in vhost "
			      "'labres': routing_key_but_no_dlx_defined");
	argtable_free(&a);
	argtable_init(&a);
	argtable_str(&a, "x-dead-letter-exchange", "dlx");
	argtable_int(&a, "x-dead-letter-routing-key", 'I', 1);
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-dead-letter-routing-key' for queue 'q.bad' in vhost "
			      "'labres': {unacceptable_type,signedint}");
	argtable_free(&a);
	argtable_init(&a);
	argtable_str(&a, "x-dead-letter-routing-key", "k"); /* order in the table does not matter */
	argtable_str(&a, "x-dead-letter-exchange", "dlx");
	ck_assert_int_eq(validate(), 0);
}
END_TEST

START_TEST(what_rabbitmq_accepts_is_accepted_and_unknown_arguments_are_not_checked)
{
	argtable_int(&a, "x-message-ttl", 'I', 0);
	argtable_int(&a, "x-max-length", 'I', 0);
	argtable_int(&a, "x-max-length-bytes", 'l', 0);
	argtable_str(&a, "x-queue-mode", "lazy");
	argtable_str(&a, "x-overflow", "reject-publish-dlx");
	argtable_int(&a, "x-expires", 'I', 1);
	argtable_int(&a, "x-delivery-limit", 'I', 0);
	argtable_int(&a, "x-consumer-timeout", 'I', 0);
	argtable_str(&a, "x-queue-master-locator", "anything");
	argtable_int(&a, "x-foo", 'I', -1);
	argtable_str(&a, "not-x", "bogus");
	ck_assert_msg(validate() == 0, "%s", err);
	argtable_free(&a);
	argtable_init(&a);
	ck_assert_int_eq(validate(), 0); /* no arguments at all */
}
END_TEST

START_TEST(of_several_bad_arguments_the_one_rabbitmq_checks_first_is_named)
{
	/* RabbitMQ: the dead-letter exchange's type (checked by the channel), then x-queue-type,
	 * then rabbit_amqqueue:declare_args/0's order, whatever order the table has. */
	argtable_str(&a, "x-overflow", "bogus");
	argtable_int(&a, "x-expires", 'I', 0);
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(
		err, "invalid arg 'x-expires' for queue 'q.bad' in vhost 'labres': {value_zero,0}");

	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-expires", 'I', 0);
	argtable_str(&a, "x-queue-type", "bogus");
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-queue-type' for queue 'q.bad' in vhost 'labres': "
			      "\"unsupported queue type 'bogus'\"");

	argtable_free(&a);
	argtable_init(&a);
	argtable_str(&a, "x-queue-type", "bogus");
	argtable_int(&a, "x-dead-letter-exchange", 'I', 5);
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid type 'signedint' for arg 'x-dead-letter-exchange' in queue "
			      "'q.bad' in vhost 'labres'");

	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-max-priority", 'I', 256);
	argtable_int(&a, "x-max-length-bytes", 'I', -2);
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err,
			 "invalid arg 'x-max-length-bytes' for queue 'q.bad' in vhost 'labres': "
			 "{value_negative,-2}");

	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-queue-version", 'I', 3);
	argtable_str(&a, "x-queue-mode", "bogus");
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-queue-mode' for queue 'q.bad' in vhost 'labres': "
			      "\"unsupported queue mode 'bogus'\"");
}
END_TEST

/* ---- equivalence on redeclare ---- */

START_TEST(a_different_value_is_received_x_but_current_is_y)
{
	argtable_int(&a, "x-max-length", 'I', 10);
	argtable_int(&b, "x-max-length", 'I', 20);
	ck_assert_int_eq(equivalent(), -1);
	ck_assert_str_eq(err,
			 "inequivalent arg 'x-max-length' for queue 'q.args' in vhost 'labres': "
			 "received '20' but current is '10'");
}
END_TEST

START_TEST(a_left_out_argument_is_received_none_with_the_current_type)
{
	argtable_int(&a, "x-max-length", 'I', 10);
	ck_assert_int_eq(equivalent(), -1);
	ck_assert_str_eq(err,
			 "inequivalent arg 'x-max-length' for queue 'q.args' in vhost 'labres': "
			 "received none but current is the value '10' of type 'signedint'");
}
END_TEST

START_TEST(an_added_argument_is_received_with_its_type_but_current_is_none)
{
	argtable_int(&b, "x-message-ttl", 'I', 5);
	ck_assert_int_eq(equivalent(), -1);
	ck_assert_str_eq(err,
			 "inequivalent arg 'x-message-ttl' for queue 'q.args' in vhost 'labres': "
			 "received the value '5' of type 'signedint' but current is none");
}
END_TEST

START_TEST(integers_of_different_widths_are_equivalent_by_value)
{
	argtable_int(&a, "x-max-length", 'I', 10);
	argtable_int(&a, "x-message-ttl", 'b', 7);
	argtable_int(&b, "x-message-ttl", 'l', 7);
	argtable_int(&b, "x-max-length", 'u', 10);
	ck_assert_msg(equivalent() == 0, "%s", err);
}
END_TEST

START_TEST(a_string_is_not_equivalent_to_an_integer_with_the_same_digits)
{
	argtable_int(&a, "x-max-length", 'I', 10);
	argtable_str(&b, "x-max-length", "10");
	ck_assert_int_eq(equivalent(), -1);
	ck_assert_str_eq(err,
			 "inequivalent arg 'x-max-length' for queue 'q.args' in vhost 'labres': "
			 "received '10' but current is '10'");
}
END_TEST

START_TEST(bools_and_strings_print_as_rabbitmq_prints_them)
{
	argtable_bool(&a, "x-single-active-consumer", true);
	argtable_bool(&b, "x-single-active-consumer", false);
	ck_assert_int_eq(equivalent(), -1);
	ck_assert_str_eq(err, "inequivalent arg 'x-single-active-consumer' for queue 'q.args' in "
			      "vhost 'labres': received 'false' but current is 'true'");
	argtable_free(&b);
	argtable_init(&b);
	ck_assert_int_eq(equivalent(), -1);
	ck_assert_str_eq(err,
			 "inequivalent arg 'x-single-active-consumer' for queue 'q.args' in "
			 "vhost 'labres': received none but current is the value 'true' of type "
			 "'bool'");
	argtable_free(&a);
	argtable_init(&a);
	argtable_str(&a, "x-overflow", "drop-head");
	ck_assert_int_eq(equivalent(), -1);
	ck_assert_str_eq(err,
			 "inequivalent arg 'x-overflow' for queue 'q.args' in vhost 'labres': "
			 "received none but current is the value 'drop-head' of type 'longstr'");
}
END_TEST

START_TEST(unknown_arguments_are_not_compared)
{
	argtable_int(&a, "x-foo", 'I', 1);
	argtable_int(&b, "x-foo", 'I', 2);
	argtable_str(&b, "x-bar", "new");
	ck_assert_int_eq(equivalent(), 0);
}
END_TEST

START_TEST(every_understood_argument_is_compared)
{
	static const char *const keys[] = {
		"x-expires",
		"x-message-ttl",
		"x-dead-letter-exchange",
		"x-dead-letter-routing-key",
		"x-max-length",
		"x-max-length-bytes",
		"x-max-in-memory-length",
		"x-max-in-memory-bytes",
		"x-max-priority",
		"x-overflow",
		"x-queue-mode",
		"x-queue-version",
		"x-single-active-consumer",
		"x-queue-master-locator",
		"x-delivery-limit",
		"x-consumer-timeout",
		"x-dead-letter-strategy",
		"x-max-age",
		"x-stream-max-segment-size-bytes",
		"x-queue-leader-locator",
	};
	char want[256];
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		argtable_free(&a);
		argtable_init(&a);
		argtable_free(&b);
		argtable_init(&b);
		argtable_int(&a, keys[i], 'I', 1);
		argtable_int(&b, keys[i], 'I', 2);
		ck_assert_int_eq(equivalent(), -1);
		snprintf(want, sizeof want,
			 "inequivalent arg '%s' for queue 'q.args' in vhost "
			 "'labres': received '2' but current is '1'",
			 keys[i]);
		ck_assert_str_eq(err, want);
	}
}
END_TEST

START_TEST(x_queue_type_classic_is_equivalent_to_no_type_but_quorum_is_not)
{
	argtable_str(&a, "x-queue-type", "classic");
	ck_assert_msg(equivalent() == 0, "%s", err); /* declared classic, redeclared without */
	argtable_free(&a);
	argtable_init(&a);
	argtable_str(&b, "x-queue-type", "classic");
	ck_assert_msg(equivalent() == 0, "%s", err); /* the other way round */
	argtable_free(&b);
	argtable_init(&b);
	argtable_str(&b, "x-queue-type", "quorum");
	ck_assert_int_eq(equivalent(), -1);
	ck_assert_str_eq(err,
			 "inequivalent arg 'x-queue-type' for queue 'q.args' in vhost 'labres': "
			 "received the value 'quorum' of type 'longstr' but current is none");
	argtable_str(&a, "x-queue-type", "quorum");
	argtable_free(&b);
	argtable_init(&b);
	ck_assert_int_eq(equivalent(), -1);
	ck_assert_str_eq(err,
			 "inequivalent arg 'x-queue-type' for queue 'q.args' in vhost 'labres': "
			 "received none but current is the value 'quorum' of type 'longstr'");
	argtable_str(&b, "x-queue-type", "classic");
	ck_assert_int_eq(equivalent(), -1);
	ck_assert_str_eq(err,
			 "inequivalent arg 'x-queue-type' for queue 'q.args' in vhost 'labres': "
			 "received 'classic' but current is 'quorum'");
}
END_TEST

START_TEST(of_several_differences_the_first_in_rabbitmq_order_is_named)
{
	/* rabbit_amqqueue:declare_args/0: x-expires, x-message-ttl, x-dead-letter-*, x-max-length,
	 * x-max-length-bytes, ..., x-max-priority, x-overflow, x-queue-mode, x-queue-version,
	 * x-single-active-consumer */
	argtable_int(&a, "x-message-ttl", 'I', 1);
	argtable_int(&a, "x-expires", 'I', 5000);
	ck_assert_int_eq(equivalent(), -1);
	ck_assert_str_eq(err, "inequivalent arg 'x-expires' for queue 'q.args' in vhost 'labres': "
			      "received none but current is the value '5000' of type 'signedint'");
	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-max-length", 'I', 1);
	argtable_str(&a, "x-dead-letter-exchange", "a");
	ck_assert_int_eq(equivalent(), -1);
	ck_assert_str_eq(err, "inequivalent arg 'x-dead-letter-exchange' for queue 'q.args' in "
			      "vhost 'labres': received none but current is the value 'a' of type "
			      "'longstr'");
	argtable_free(&a);
	argtable_init(&a);
	argtable_bool(&a, "x-single-active-consumer", true);
	argtable_int(&a, "x-queue-version", 'I', 1);
	argtable_str(&a, "x-queue-mode", "lazy");
	argtable_str(&a, "x-overflow", "drop-head");
	argtable_int(&a, "x-max-priority", 'I', 5);
	ck_assert_int_eq(equivalent(), -1);
	ck_assert_str_eq(err, "inequivalent arg 'x-max-priority' for queue 'q.args' in vhost "
			      "'labres': received none but current is the value '5' of type "
			      "'signedint'");
}
END_TEST

START_TEST(a_long_value_is_cut_to_the_buffer_not_past_it)
{
	char big[300], small[64];
	memset(big, 'z', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	argtable_str(&a, "x-dead-letter-exchange", big);
	argtable_str(&b, "x-dead-letter-exchange", "other");
	ck_assert_int_eq(queue_args_equivalent(argtable_get(&a), argtable_get(&b),
					       AMQP_STR_LIT("q.args"), "labres", small,
					       sizeof small),
			 -1);
	ck_assert_uint_eq(strlen(small), sizeof small - 1);
	ck_assert_int_eq(queue_args_validate(argtable_get(&b), AMQP_STR_LIT("q.args"), "labres",
					     small, sizeof small),
			 0);
}
END_TEST

/* The kinds' own declare rules (queue_type_check), as RabbitMQ 3.10.8 words them. */
static const struct queue_type *declare_kind(const char *type, bool durable, bool exclusive,
					     bool auto_delete)
{
	argtable_str(&a, "x-queue-type", type);
	struct queue_declare d = { AMQP_STR_LIT("q.k"), "labres", durable, exclusive, auto_delete,
				   argtable_get(&a) };
	return queue_type_check(&d, NULL, err, sizeof err);
}

START_TEST(quorum_and_stream_declares_report_exclusive_owner_before_non_durable)
{
	static const char *const kinds[] = { "quorum", "stream" };
	const struct {
		bool durable, exclusive, auto_delete;
		const char *prop; /* NULL: accepted */
	} cases[] = {
		{ false, true, false, "exclusive-owner" },
		{ false, false, true, "non-durable" },
		{ true, false, true, "auto-delete" },
		{ true, false, false, NULL },
	};
	char want[256];
	for (size_t i = 0; i < 2; i++)
		for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++) {
			teardown();
			setup();
			const struct queue_type *t = declare_kind(kinds[i], cases[j].durable,
								  cases[j].exclusive,
								  cases[j].auto_delete);
			if (!cases[j].prop) {
				ck_assert_ptr_nonnull(t);
				continue;
			}
			ck_assert_ptr_null(t);
			snprintf(want, sizeof want,
				 "invalid property '%s' for queue 'q.k' in vhost 'labres'",
				 cases[j].prop);
			ck_assert_str_eq(err, want);
		}
}
END_TEST

START_TEST(each_kind_refuses_the_arguments_of_others_naming_its_rabbitmq_type)
{
	const struct {
		const char *type, *arg, *rabbit;
	} cases[] = {
		{ "quorum", "x-max-priority", "rabbit_quorum_queue" },
		{ "quorum", "x-queue-mode", "rabbit_quorum_queue" },
		{ "stream", "x-expires", "rabbit_stream_queue" },
		{ "stream", "x-single-active-consumer", "rabbit_stream_queue" },
		{ "classic", "x-max-age", "rabbit_classic_queue" },
		{ "classic", "x-dead-letter-strategy", "rabbit_classic_queue" },
	};
	char want[256];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		teardown();
		setup();
		argtable_str(&a, cases[i].arg, "x");
		ck_assert_ptr_null(declare_kind(cases[i].type, true, false, false));
		snprintf(want, sizeof want,
			 "invalid arg '%s' for queue 'q.k' in vhost 'labres' of queue type %s",
			 cases[i].arg, cases[i].rabbit);
		ck_assert_str_eq(err, want);
	}
}
END_TEST

START_TEST(dead_letter_strategy_and_leader_locator_values_are_checked)
{
	argtable_str(&a, "x-dead-letter-strategy", "bogus");
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-dead-letter-strategy' for queue 'q.bad' in vhost "
			      "'labres': invalid_dlx_strategy");
	argtable_free(&a);
	argtable_init(&a);
	argtable_str(&a, "x-queue-leader-locator", "bogus");
	ck_assert_int_eq(validate(), -1);
	ck_assert_str_eq(err, "invalid arg 'x-queue-leader-locator' for queue 'q.bad' in vhost "
			      "'labres': invalid_queue_locator_arg");
}
END_TEST

static Suite *queue_args_suite(void)
{
	Suite *s = suite_create("queue_args");
	TCase *tc = tcase_create("validate");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc,
		       negative_integers_are_refused_as_value_negative_for_every_integer_argument);
	tcase_add_test(tc, x_expires_of_zero_is_value_zero);
	tcase_add_test(tc,
		       x_max_priority_above_255_is_max_value_exceeded_and_0_and_255_are_accepted);
	tcase_add_test(
		tc,
		an_integer_argument_given_another_type_says_expected_integer_and_names_the_type);
	tcase_add_test(tc, integers_of_every_width_are_accepted);
	tcase_add_test(tc,
		       x_overflow_names_a_bad_string_invalid_overflow_and_a_non_string_its_type);
	tcase_add_test(tc, x_queue_type_and_x_queue_mode_refuse_unknown_names_and_non_strings);
	tcase_add_test(tc, x_queue_version_is_a_non_negative_integer_and_then_1_or_2);
	tcase_add_test(tc, x_single_active_consumer_must_be_a_bool);
	tcase_add_test(tc, a_non_string_dead_letter_exchange_uses_the_invalid_type_layout);
	tcase_add_test(tc, a_dead_letter_routing_key_needs_a_string_and_a_dead_letter_exchange);
	tcase_add_test(tc, what_rabbitmq_accepts_is_accepted_and_unknown_arguments_are_not_checked);
	tcase_add_test(tc, of_several_bad_arguments_the_one_rabbitmq_checks_first_is_named);
	suite_add_tcase(s, tc);

	tc = tcase_create("equivalent");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_different_value_is_received_x_but_current_is_y);
	tcase_add_test(tc, a_left_out_argument_is_received_none_with_the_current_type);
	tcase_add_test(tc, an_added_argument_is_received_with_its_type_but_current_is_none);
	tcase_add_test(tc, integers_of_different_widths_are_equivalent_by_value);
	tcase_add_test(tc, a_string_is_not_equivalent_to_an_integer_with_the_same_digits);
	tcase_add_test(tc, bools_and_strings_print_as_rabbitmq_prints_them);
	tcase_add_test(tc, unknown_arguments_are_not_compared);
	tcase_add_test(tc, every_understood_argument_is_compared);
	tcase_add_test(tc, x_queue_type_classic_is_equivalent_to_no_type_but_quorum_is_not);
	tcase_add_test(tc, of_several_differences_the_first_in_rabbitmq_order_is_named);
	tcase_add_test(tc, a_long_value_is_cut_to_the_buffer_not_past_it);
	tcase_add_test(tc, quorum_and_stream_declares_report_exclusive_owner_before_non_durable);
	tcase_add_test(tc, each_kind_refuses_the_arguments_of_others_naming_its_rabbitmq_type);
	tcase_add_test(tc, dead_letter_strategy_and_leader_locator_values_are_checked);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(queue_args_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
