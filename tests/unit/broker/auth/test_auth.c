/* Unit tests for broker/auth.c: RabbitMQ password hashes, SASL PLAIN and AMQPLAIN, tags. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "broker/auth/auth.h"
#include "broker/core/broker.h"
#include "broker/auth/topic_perm.h"

static struct broker *auth_test_broker(void)
{
	struct broker *b = calloc(1, sizeof *b);
	strmap_init(&b->users);
	return b;
}

static void auth_test_broker_free(struct broker *b)
{
	size_t i;
	for (struct strmap_entry *e = strmap_first(&b->users, &i); e; e = strmap_next(&b->users, e, &i))
		auth_user_free(e->value);
	strmap_clear(&b->users);
	auth_failures_free(b);
	free(b);
}

START_TEST(a_hash_exported_by_rabbitmq_accepts_its_password)
{
	/* RabbitMQ 3.10.8: PUT /api/users/... {"password":"s3cret"} exported this hash. */
	struct broker *b = auth_test_broker();
	char err[128];
	struct user *u = auth_user_add_hashed(b, "probe", "QbrsCqxQHXVAWLvXYKHgb014vvStBkybP06GNZ4SBCTbPNOg",
					      "rabbit_password_hashing_sha256", "", err, sizeof err);
	ck_assert_ptr_nonnull(u);
	ck_assert(auth_user_check_password(u, (const uint8_t *)"s3cret", 6));
	ck_assert(!auth_user_check_password(u, (const uint8_t *)"s3creT", 6));
	ck_assert(!auth_user_check_password(u, (const uint8_t *)"", 0));
	char *again = auth_user_hash_b64(u);
	ck_assert_str_eq(again, "QbrsCqxQHXVAWLvXYKHgb014vvStBkybP06GNZ4SBCTbPNOg");
	free(again);
	auth_test_broker_free(b);
}
END_TEST

START_TEST(a_new_password_is_salted_and_checks)
{
	struct broker *b = auth_test_broker();
	struct user *u1 = auth_user_add(b, "a", "pw", "administrator");
	struct user *u2 = auth_user_add(b, "b", "pw", "");
	ck_assert(auth_user_check_password(u1, (const uint8_t *)"pw", 2));
	ck_assert_int_eq(u1->hash_len, 36);
	ck_assert(memcmp(u1->hash, u2->hash, u1->hash_len) != 0); /* different salts */
	ck_assert(auth_user_has_tag(u1, "administrator"));
	ck_assert(!auth_user_has_tag(u2, "administrator"));
	auth_test_broker_free(b);
}
END_TEST

START_TEST(bad_hashes_and_algorithms_are_refused_with_a_message)
{
	struct broker *b = auth_test_broker();
	char err[128];
	ck_assert_ptr_null(auth_user_add_hashed(b, "x", "not-base64!", NULL, "", err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "invalid password_hash"));
	ck_assert_ptr_null(auth_user_add_hashed(b, "x", "QUJD", NULL, "", err, sizeof err));
	ck_assert_ptr_null(auth_user_add_hashed(b, "x", "", "rabbit_password_hashing_rot13", "",
						err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "unsupported hashing algorithm"));
	/* An empty hash is a user without a password: it exists and cannot log in. */
	struct user *u = auth_user_add_hashed(b, "nopw", "", NULL, "", err, sizeof err);
	ck_assert_ptr_nonnull(u);
	ck_assert(!auth_user_check_password(u, (const uint8_t *)"", 0));
	auth_test_broker_free(b);
}
END_TEST

START_TEST(login_failures_after_the_third_in_a_minute_wait_longer_each_time)
{
	static const uint32_t want[] = { 0, 0, 0, 250, 500, 1000, 2000, 4000, 5000, 5000 };
	uint64_t now = 1000000;
	bool first;
	struct broker *b = auth_test_broker();

	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		ck_assert_uint_eq(auth_failure_note(b, "192.0.2.1", now, &first), want[i]);
		ck_assert(first == (i == 3)); /* logged once, at the first delay */
		now += 1000;
	}
	now += 60001; /* a quiet minute starts a new run */
	ck_assert_uint_eq(auth_failure_note(b, "192.0.2.1", now, &first), 0);
	ck_assert(!first);
	auth_test_broker_free(b);
}
END_TEST

START_TEST(login_failure_counts_are_per_address_and_bounded)
{
	char ip[64];
	bool first;
	struct broker *b = auth_test_broker();

	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(auth_failure_note(b, "198.51.100.7", 5000, &first), 0);
	ck_assert_uint_eq(auth_failure_note(b, "198.51.100.8", 5000, &first), 0);
	ck_assert_uint_eq(auth_failure_note(b, "198.51.100.7", 5000, &first), 250);
	/* Far more addresses than slots: each new one starts at zero, memory stays fixed. */
	for (int i = 0; i < 5000; i++) {
		snprintf(ip, sizeof ip, "10.%d.%d.1", i / 256, i % 256);
		ck_assert_uint_eq(auth_failure_note(b, ip, 6000 + (uint64_t)i, &first), 0);
	}
	auth_test_broker_free(b);
}
END_TEST

static bool topic_ok(const struct topic_perm *p, enum auth_perm kind, const char *key)
{
	return topic_perm_permitted(p, kind, (const uint8_t *)key, strlen(key));
}

START_TEST(topic_permission_variables_expand_to_the_user_and_vhost)
{
	char *e = topic_perm_expand("^{username}\\.{vhost}\\.{client_id}{user", "ann", "v1");
	ck_assert_str_eq(e, "^ann\\.v1\\.{client_id}{user");
	free(e);
	struct broker *b = auth_test_broker();
	struct user *u = auth_user_add(b, "ann", "pw", "");
	char err[128];
	ck_assert_int_eq(topic_perm_set(u, "v1", "amq.topic", "^{username}\\.", "^{vhost}\\.",
				       err, sizeof err), 0);
	const struct topic_perm *p = topic_perm_find(u, "v1", "amq.topic", 9);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->write, "^{username}\\."); /* listed and exported unexpanded */
	ck_assert(topic_ok(p, AUTH_WRITE, "ann.x"));
	ck_assert(!topic_ok(p, AUTH_WRITE, "bob.x"));
	ck_assert(!topic_ok(p, AUTH_WRITE, "{username}.x"));
	ck_assert(topic_ok(p, AUTH_READ, "v1.x"));
	ck_assert(!topic_ok(p, AUTH_READ, "v2.x"));
	auth_test_broker_free(b);
}
END_TEST

START_TEST(an_empty_topic_pattern_allows_only_the_empty_key)
{
	struct broker *b = auth_test_broker();
	struct user *u = auth_user_add(b, "ann", "pw", "");
	char err[128];
	ck_assert_int_eq(topic_perm_set(u, "/", "t", "", ".*", err, sizeof err), 0);
	const struct topic_perm *p = topic_perm_find(u, "/", "t", 1);
	ck_assert(topic_ok(p, AUTH_WRITE, "")); /* RabbitMQ compiles "" as "^$" */
	ck_assert(!topic_ok(p, AUTH_WRITE, "a"));
	ck_assert(topic_ok(p, AUTH_READ, "anything"));
	ck_assert_int_ne(topic_perm_set(u, "/", "t", "(", ".*", err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "invalid regular expression '('"));
	ck_assert_uint_eq(topic_perm_clear(u, "/", NULL), 1);
	ck_assert_ptr_null(topic_perm_find(u, "/", "t", 1));
	auth_test_broker_free(b);
}
END_TEST

START_TEST(a_nul_inside_a_name_does_not_end_it_for_permission_patterns)
{
	struct broker *b = auth_test_broker();
	struct user *u = auth_user_add(b, "ann", "pw", "");
	ck_assert_int_eq(auth_permission_set(u, "/", "^ok$", "^ok$", "^ok$"), 0);
	static const uint8_t forged[] = { 'o', 'k', 0, 'x' };
	struct amqp_str ok = AMQP_STR_LIT("ok"), bad = { forged, sizeof forged };
	ck_assert(auth_permitted(u, "/", AUTH_CONFIGURE, AUTH_RESOURCE_QUEUE, ok));
	/* a queue named "ok\0x" is another queue: "^ok$" must not grant it */
	ck_assert(!auth_permitted(u, "/", AUTH_CONFIGURE, AUTH_RESOURCE_QUEUE, bad));
	ck_assert(!auth_permitted(u, "/", AUTH_WRITE, AUTH_RESOURCE_EXCHANGE, bad));
	auth_test_broker_free(b);
}
END_TEST

START_TEST(the_default_exchange_is_checked_as_amq_default)
{
	struct broker *b = auth_test_broker();
	struct user *u = auth_user_add(b, "ann", "pw", "");
	struct amqp_str dflt = AMQP_STR_LIT("");
	char text[256];
	ck_assert_int_eq(auth_permission_set(u, "/", "^$", "^$", "^$"), 0);
	ck_assert(!auth_permitted(u, "/", AUTH_WRITE, AUTH_RESOURCE_EXCHANGE, dflt));
	ck_assert(auth_permitted(u, "/", AUTH_WRITE, AUTH_RESOURCE_QUEUE, dflt)); /* a queue "" */
	auth_refusal_text(text, sizeof text, u, "/", AUTH_RESOURCE_EXCHANGE, dflt);
	ck_assert_str_eq(text, "access to exchange 'amq.default' in vhost '/' refused for user 'ann'");
	ck_assert_int_eq(auth_permission_set(u, "/", "^$", "^amq\\.default$", "^$"), 0);
	ck_assert(auth_permitted(u, "/", AUTH_WRITE, AUTH_RESOURCE_EXCHANGE, dflt));
	auth_test_broker_free(b);
}
END_TEST

static bool loopback4(const char *ip)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	ck_assert_int_eq(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	return auth_addr_is_loopback((const struct sockaddr *)&sin);
}

static bool loopback6(const char *ip)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
	return auth_addr_is_loopback((const struct sockaddr *)&sin6);
}

START_TEST(loopback_is_127_slash_8_ipv6_loopback_and_ipv4_mapped_loopback)
{
	/* RabbitMQ's rule (rabbit_net:is_loopback): the whole of 127.0.0.0/8, ::1, ::ffff:127.x */
	ck_assert(loopback4("127.0.0.1"));
	ck_assert(loopback4("127.0.0.2"));
	ck_assert(loopback4("127.255.255.254"));
	ck_assert(!loopback4("128.0.0.1"));
	ck_assert(!loopback4("10.0.0.1"));
	ck_assert(!loopback4("0.0.0.0"));
	ck_assert(loopback6("::1"));
	ck_assert(loopback6("::ffff:127.0.0.1"));
	ck_assert(loopback6("::ffff:127.3.2.1"));
	ck_assert(!loopback6("::ffff:10.0.0.1"));
	ck_assert(!loopback6("::2"));
	ck_assert(!loopback6("::"));
	ck_assert(!loopback6("::127.0.0.1")); /* IPv4-compatible, not mapped */
	ck_assert(!loopback6("fe80::1"));
	struct sockaddr unix_sa = { .sa_family = AF_UNIX };
	ck_assert(!auth_addr_is_loopback(&unix_sa));
	ck_assert(!auth_addr_is_loopback(NULL));
}
END_TEST

static Suite *auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");
	tcase_add_test(tc, a_hash_exported_by_rabbitmq_accepts_its_password);
	tcase_add_test(tc, a_new_password_is_salted_and_checks);
	tcase_add_test(tc, bad_hashes_and_algorithms_are_refused_with_a_message);
	tcase_add_test(tc, login_failures_after_the_third_in_a_minute_wait_longer_each_time);
	tcase_add_test(tc, login_failure_counts_are_per_address_and_bounded);
	tcase_add_test(tc, topic_permission_variables_expand_to_the_user_and_vhost);
	tcase_add_test(tc, an_empty_topic_pattern_allows_only_the_empty_key);
	tcase_add_test(tc, loopback_is_127_slash_8_ipv6_loopback_and_ipv4_mapped_loopback);
	tcase_add_test(tc, a_nul_inside_a_name_does_not_end_it_for_permission_patterns);
	tcase_add_test(tc, the_default_exchange_is_checked_as_amq_default);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(auth_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
