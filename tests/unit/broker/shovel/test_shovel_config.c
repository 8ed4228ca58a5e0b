/* tests/unit/broker/shovel/test_shovel_config.c: broker/shovel/shovel_config.c: a shovel's
 * definition read with RabbitMQ's defaults, and refused with rabbitmq_shovel 3.10's texts in
 * its order (either/or rules, "Unrecognised terms", then the keys last constraint first). */
#include "broker/shovel/shovel_config.h"

#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/fixture.h"

static struct fixture *f;
static char err[4096];

static void setup(void)
{
	f = fixture_new();
}

static void teardown(void)
{
	fixture_free(f);
}

static int parse(const char *json, struct shovel_config *out)
{
	json_error_t je;
	json_t *def = json_loads(json, JSON_DECODE_ANY, &je);
	ck_assert_ptr_nonnull(def);
	int rc = shovel_config_parse(f->b, "/", "s1", def, f->guest, out, err, sizeof err);
	json_decref(def);
	return rc;
}

START_TEST(a_minimal_definition_gets_rabbitmqs_defaults)
{
	struct shovel_config c;
	ck_assert_int_eq(parse("{\"src-uri\":\"amqp://\",\"src-queue\":\"a\","
			       "\"dest-uri\":[\"amqp://h1\",\"amqp://h2\"]}", &c), 0);
	ck_assert_int_eq(c.ack_mode, SHOVEL_ON_CONFIRM);
	ck_assert_uint_eq(c.prefetch, 1000);
	ck_assert(c.reconnect_delay == 5);
	ck_assert_int_eq(c.delete_after, SHOVEL_DELETE_NEVER);
	ck_assert_uint_eq(c.dest_uri_count, 2);
	ck_assert_str_eq(c.dest_uris[1], "amqp://h2");
	ck_assert_str_eq(c.src_queue, "a");
	ck_assert_str_eq(c.src_exchange_key, "");
	ck_assert_ptr_null(c.dest_queue);
	ck_assert(!c.add_forward_headers && !c.add_timestamp_header);
	shovel_config_free(&c);
	ck_assert_int_eq(parse("{\"src-uri\":\"amqp://\",\"src-exchange\":\"x\",\"dest-uri\":"
			       "\"amqp://\",\"ack-mode\":\"no-ack\",\"prefetch-count\":7,"
			       "\"delete-after\":\"queue-length\",\"add-forward-headers\":true,"
			       "\"dest-add-timestamp-header\":true,\"reconnect-delay\":0}", &c), 0);
	ck_assert_int_eq(c.ack_mode, SHOVEL_NO_ACK);
	ck_assert_uint_eq(c.prefetch, 7);
	ck_assert_int_eq(c.delete_after, SHOVEL_DELETE_QUEUE_LENGTH);
	ck_assert(c.add_forward_headers && c.add_timestamp_header);
	ck_assert(c.reconnect_delay == 0);
	shovel_config_free(&c);
}
END_TEST

START_TEST(errors_come_in_rabbitmqs_order_and_words)
{
	ck_assert_int_eq(parse("[1]", NULL), -1);
	ck_assert_str_eq(err, "Must specify 'src-exchange' or 'src-queue'\n"
			      "Unrecognised terms [1] in s1\n"
			      "Key \"dest-uri\" not found in s1\n"
			      "Key \"src-uri\" not found in s1");
	ck_assert_int_eq(parse("{\"src-uri\":\"amqp://\",\"dest-uri\":\"amqp://\",\"zz\":1,"
			       "\"aa\":\"x\",\"ack-mode\":\"x\",\"reconnect-delay\":\"soon\"}",
			       NULL),
			 -1);
	ck_assert_str_eq(err, "Must specify 'src-exchange' or 'src-queue'\n"
			      "Unrecognised terms [{<<\"aa\">>,<<\"x\">>},{<<\"zz\">>,1}] in s1\n"
			      "ack-mode should be one of [<<\"no-ack\">>,<<\"on-publish\">>,"
			      "<<\"on-confirm\">>], actually was <<\"x\">>\n"
			      "reconnect-delay should be a number, actually was <<\"soon\">>");
	ck_assert_int_eq(parse("{\"src-uri\":\"amqp:///nope\",\"src-queue\":\"a\","
			       "\"dest-uri\":\"amqp://\",\"dest-queue\":{\"a\":[1,true]}}", NULL),
			 -1);
	ck_assert_str_eq(err, "dest-queue should be binary, actually was #{<<\"a\">> => [1,true]}\n"
			      "user \"guest\" may not connect to vhost \"nope\"");
	ck_assert_int_eq(parse("{\"src-uri\":\"amqp://\",\"src-queue\":\"a\",\"dest-uri\":"
			       "\"amqp://\",\"src-protocol\":\"amqp10\"}", NULL),
			 -1);
	ck_assert_str_eq(err, "src-protocol amqp10 is not supported: Warren's shovels speak amqp091");
	ck_assert_int_eq(parse("{\"src-uri\":\"amqp://\",\"src-queue\":\"a\",\"dest-uri\":"
			       "\"amqp://\",\"prefetch-count\":70000}", NULL),
			 -1);
	ck_assert_str_eq(err, "prefetch-count should be an integer between 0 and 65535, actually "
			      "was 70000");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("shovel_config");
	TCase *t = tcase_create("core");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, a_minimal_definition_gets_rabbitmqs_defaults);
	tcase_add_test(t, errors_come_in_rabbitmqs_order_and_words);
	suite_add_tcase(s, t);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
