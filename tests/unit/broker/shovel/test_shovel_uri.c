/* tests/unit/broker/shovel/test_shovel_uri.c: broker/shovel/shovel_uri.c: AMQP URIs as
 * RabbitMQ's amqp_uri reads them (defaults, vhost rules, escapes, query keys) and its error
 * forms for what does not parse. */
#include "broker/shovel/shovel_uri.h"

#include <check.h>
#include <stdlib.h>

static struct shovel_uri u;
static char err[1024];

START_TEST(an_empty_host_is_this_broker_in_vhost_slash)
{
	ck_assert_int_eq(shovel_uri_parse("amqp://", &u, err, sizeof err), 0);
	ck_assert(u.local && !u.tls);
	ck_assert_str_eq(u.vhost, "/");
	ck_assert_str_eq(u.display, "amqp://");
	shovel_uri_free(&u);
	ck_assert_int_eq(shovel_uri_parse("amqp:///orders", &u, err, sizeof err), 0);
	ck_assert(u.local);
	ck_assert_str_eq(u.vhost, "orders");
	shovel_uri_free(&u);
}
END_TEST

START_TEST(credentials_host_port_and_vhost_are_read_and_unescaped)
{
	ck_assert_int_eq(shovel_uri_parse("amqp://us%40er:p%3Ass@broker.example:5673/v%2fh?heartbeat=5",
					  &u, err, sizeof err),
			 0);
	ck_assert(!u.local);
	ck_assert_str_eq(u.user, "us@er");
	ck_assert_str_eq(u.password, "p:ss");
	ck_assert_str_eq(u.host, "broker.example");
	ck_assert_uint_eq(u.port, 5673);
	ck_assert_str_eq(u.vhost, "v/h");
	ck_assert_int_eq(u.heartbeat, 5);
	ck_assert_str_eq(u.display, "amqp://broker.example:5673/v%2fh?heartbeat=5");
	shovel_uri_free(&u);
}
END_TEST

START_TEST(defaults_follow_the_uri_specification)
{
	ck_assert_int_eq(shovel_uri_parse("amqps://h", &u, err, sizeof err), 0);
	ck_assert(u.tls);
	ck_assert_uint_eq(u.port, 5671);
	ck_assert_str_eq(u.user, "guest");
	ck_assert_str_eq(u.password, "guest");
	ck_assert_str_eq(u.vhost, "/");
	shovel_uri_free(&u);
	ck_assert_int_eq(shovel_uri_parse("amqp://h/", &u, err, sizeof err), 0);
	ck_assert_str_eq(u.vhost, ""); /* "amqp://h/" names the empty vhost */
	ck_assert_uint_eq(u.port, 5672);
	shovel_uri_free(&u);
	ck_assert_int_eq(shovel_uri_parse("amqp://[::1]:5690", &u, err, sizeof err), 0);
	ck_assert_str_eq(u.host, "::1");
	ck_assert_uint_eq(u.port, 5690);
	shovel_uri_free(&u);
	ck_assert_int_eq(shovel_uri_parse("amqps://h?cacertfile=/ca.pem&verify=verify_peer&"
					  "server_name_indication=x.example&unknown=1",
					  &u, err, sizeof err),
			 0);
	ck_assert_str_eq(u.cacertfile, "/ca.pem");
	ck_assert(u.verify_peer);
	ck_assert_str_eq(u.sni, "x.example");
	shovel_uri_free(&u);
}
END_TEST

START_TEST(what_does_not_parse_is_reported_in_amqp_uris_words)
{
	ck_assert_int_eq(shovel_uri_parse("http://x", &u, err, sizeof err), -1);
	ck_assert_str_eq(err, "{{unexpected_uri_scheme,\"http\"},\"http://x\"}");
	ck_assert_int_eq(shovel_uri_parse("foo", &u, err, sizeof err), -1);
	ck_assert_str_eq(err, "{{unable_to_parse_uri,no_scheme},\"foo\"}");
	ck_assert_int_eq(shovel_uri_parse("amqp://h?heartbeat=abc", &u, err, sizeof err), -1);
	ck_assert_str_eq(err, "{{invalid_amqp_params_parameter,heartbeat,\"abc\",[{\"heartbeat\","
			      "\"abc\"}],{not_an_integer,\"abc\"}},\"amqp://h?heartbeat=abc\"}");
	ck_assert_int_eq(shovel_uri_parse("amqp://h:99999", &u, err, sizeof err), -1);
	ck_assert_int_eq(shovel_uri_parse("amqp://h:", &u, err, sizeof err), -1);
	ck_assert_int_eq(shovel_uri_parse("amqp://h/a/b", &u, err, sizeof err), -1);
	ck_assert_int_eq(shovel_uri_parse("amqp://h/%zz", &u, err, sizeof err), -1);
	ck_assert_int_eq(shovel_uri_parse("amqp://h/%4", &u, err, sizeof err), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("shovel_uri");
	TCase *t = tcase_create("core");
	tcase_add_test(t, an_empty_host_is_this_broker_in_vhost_slash);
	tcase_add_test(t, credentials_host_port_and_vhost_are_read_and_unescaped);
	tcase_add_test(t, defaults_follow_the_uri_specification);
	tcase_add_test(t, what_does_not_parse_is_reported_in_amqp_uris_words);
	suite_add_tcase(s, t);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
