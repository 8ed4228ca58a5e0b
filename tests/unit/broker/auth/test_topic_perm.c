/* tests/unit/broker/test_topic_perm.c: broker/topic_perm.c, RabbitMQ's topic permissions:
 * "{username}" and "{vhost}" expansion (literal, as rabbit_auth_backend_internal does it),
 * unanchored matching of routing keys as re:run does, "" meaning "^$", separate write and read
 * expressions, lookup per vhost and exchange, replacement, clearing, and refusal of a bad
 * expression. */
#include "broker/auth/topic_perm.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "broker/core/broker.h"

static struct broker *b;
static struct user *u;
static char err[256];

static void setup(void)
{
	b = calloc(1, sizeof *b);
	ck_assert_ptr_nonnull(b);
	strmap_init(&b->users);
	u = auth_user_add(b, "ann", "secret", "");
	ck_assert_ptr_nonnull(u);
	err[0] = '\0';
}

static void teardown(void)
{
	size_t i;
	for (struct strmap_entry *e = strmap_first(&b->users, &i); e;
	     e = strmap_next(&b->users, e, &i))
		auth_user_free(e->value);
	strmap_clear(&b->users);
	free(b);
}

static bool can_write(const struct topic_perm *p, const char *key)
{
	return topic_perm_permitted(p, AUTH_WRITE, (const uint8_t *)key, strlen(key));
}

static bool can_read(const struct topic_perm *p, const char *key)
{
	return topic_perm_permitted(p, AUTH_READ, (const uint8_t *)key, strlen(key));
}

static const struct topic_perm *set_and_find(const char *vhost, const char *exchange,
					     const char *write, const char *read)
{
	ck_assert_msg(topic_perm_set(u, vhost, exchange, write, read, err, sizeof err) == 0, "%s",
		      err);
	const struct topic_perm *p = topic_perm_find(u, vhost, exchange, strlen(exchange));
	ck_assert_ptr_nonnull(p);
	return p;
}

START_TEST(username_and_vhost_are_replaced_wherever_they_appear)
{
	char *e = topic_perm_expand("^{username}\\.{vhost}\\.{username}$", "ann", "prod");
	ck_assert_str_eq(e, "^ann\\.prod\\.ann$");
	free(e);
	e = topic_perm_expand("{vhost}{vhost}", "ann", "/");
	ck_assert_str_eq(e, "//");
	free(e);
}
END_TEST

START_TEST(other_braces_are_left_as_they_are)
{
	/* {client_id} is MQTT's; an AMQP 0-9-1 connection has no value for it */
	char *e = topic_perm_expand("{client_id}.{user}.{username.{vhost", "ann", "v");
	ck_assert_str_eq(e, "{client_id}.{user}.{username.{vhost");
	free(e);
	e = topic_perm_expand("", "ann", "v");
	ck_assert_str_eq(e, "");
	free(e);
}
END_TEST

START_TEST(the_values_are_not_regex_quoted)
{
	/* as RabbitMQ: a user named "a.b" gets a pattern whose dot matches any character */
	char *e = topic_perm_expand("^{username}$", "a.b", "v");
	ck_assert_str_eq(e, "^a.b$");
	free(e);
	auth_user_add(b, "a.b", "pw", "");
	struct user *dotted = strmap_get(&b->users, "a.b", 3);
	ck_assert_int_eq(topic_perm_set(dotted, "v", "t", "^{username}$", ".*", err, sizeof err),
			 0);
	const struct topic_perm *p = topic_perm_find(dotted, "v", "t", 1);
	ck_assert(can_write(p, "a.b"));
	ck_assert(can_write(p, "aXb"));
	ck_assert(!can_write(p, "a.bc"));
}
END_TEST

START_TEST(the_stored_patterns_keep_the_variables_and_the_compiled_ones_are_expanded)
{
	const struct topic_perm *p =
		set_and_find("prod", "amq.topic", "^{username}\\.", "^{vhost}\\.");
	ck_assert_str_eq(p->write, "^{username}\\."); /* as listed and exported */
	ck_assert_str_eq(p->read, "^{vhost}\\.");
	ck_assert(can_write(p, "ann.orders"));
	ck_assert(!can_write(p, "bob.orders"));
	ck_assert(!can_write(p, "{username}.orders"));
	ck_assert(can_read(p, "prod.orders"));
	ck_assert(!can_read(p, "ann.orders"));
}
END_TEST

START_TEST(matching_is_unanchored_unless_the_pattern_anchors_it)
{
	const struct topic_perm *p = set_and_find("/", "t", "orders", "^orders$");
	ck_assert(can_write(p, "orders"));
	ck_assert(can_write(p, "eu.orders.new")); /* found anywhere, as re:run */
	ck_assert(!can_write(p, "order"));
	ck_assert(can_read(p, "orders"));
	ck_assert(!can_read(p, "eu.orders"));
	ck_assert(!can_read(p, "orders.new"));
}
END_TEST

START_TEST(an_empty_pattern_allows_only_the_empty_key)
{
	const struct topic_perm *p = set_and_find("/", "t", "", ".*");
	ck_assert(can_write(p, ""));
	ck_assert(!can_write(p, "a"));
	ck_assert(!can_write(p, "."));
	ck_assert(can_read(p, "anything.at.all"));
	ck_assert(can_read(p, ""));
}
END_TEST

START_TEST(a_dot_star_pattern_allows_every_key)
{
	const struct topic_perm *p = set_and_find("/", "t", ".*", ".*");
	ck_assert(p->all[0] && p->all[1]); /* no regexec on the publish path */
	ck_assert(can_write(p, ""));
	ck_assert(can_write(p, "x.y.z"));
	static const uint8_t odd[] = { 'a', 0, 0xff };
	ck_assert(topic_perm_permitted(p, AUTH_WRITE, odd, sizeof odd));
}
END_TEST

START_TEST(a_nul_byte_in_a_key_does_not_end_the_key)
{
	/* Routing keys are binary short strings. "a\0.secret" is not "a": a permission that allows
	 * exactly "a" must not allow it, or a key could smuggle words past an anchored pattern. */
	static const uint8_t smuggled[] = { 'a', 0, '.', 's', 'e', 'c', 'r', 'e', 't' };
	static const uint8_t exact[] = { 'a' };
	const struct topic_perm *p = set_and_find("/", "t", "^a$", "secret");
	ck_assert(topic_perm_permitted(p, AUTH_WRITE, exact, sizeof exact));
	ck_assert(!topic_perm_permitted(p, AUTH_WRITE, smuggled, sizeof smuggled));
	/* and the bytes after a NUL are searched too */
	ck_assert(topic_perm_permitted(p, AUTH_READ, smuggled, sizeof smuggled));
}
END_TEST

START_TEST(a_key_of_the_longest_short_string_is_matched_whole)
{
	char key[256];
	memset(key, 'k', 255);
	key[254] = 'z';
	key[255] = '\0';
	const struct topic_perm *p = set_and_find("/", "t", "z$", "^k{255}$");
	ck_assert(can_write(p, key));
	ck_assert(!can_read(p, key));
}
END_TEST

START_TEST(permissions_are_per_vhost_and_exchange)
{
	set_and_find("v1", "t1", "^one$", ".*");
	set_and_find("v1", "t2", "^two$", ".*");
	set_and_find("v2", "t1", "^three$", ".*");
	ck_assert(can_write(topic_perm_find(u, "v1", "t1", 2), "one"));
	ck_assert(can_write(topic_perm_find(u, "v1", "t2", 2), "two"));
	ck_assert(can_write(topic_perm_find(u, "v2", "t1", 2), "three"));
	ck_assert(!can_write(topic_perm_find(u, "v2", "t1", 2), "one"));
	ck_assert_ptr_null(topic_perm_find(u, "v2", "t2", 2)); /* none: no restriction */
	ck_assert_ptr_null(topic_perm_find(u, "v1", "t", 1));
	ck_assert_ptr_null(topic_perm_find(u, "v1", "t1x", 3));
	/* the exchange name is taken by length: a longer buffer is fine */
	ck_assert_ptr_nonnull(topic_perm_find(u, "v1", "t1 and more", 2));
}
END_TEST

START_TEST(setting_again_replaces_the_permission)
{
	set_and_find("/", "t", "^old$", ".*");
	const struct topic_perm *p = set_and_find("/", "t", "^new$", "^r$");
	ck_assert_uint_eq(u->topic_permissions.count, 1);
	ck_assert(can_write(p, "new"));
	ck_assert(!can_write(p, "old"));
	ck_assert(!can_read(p, "x"));
}
END_TEST

START_TEST(a_bad_expression_is_refused_and_keeps_the_previous_permission)
{
	set_and_find("/", "t", "^old$", ".*");
	ck_assert_int_eq(topic_perm_set(u, "/", "t", "(", ".*", err, sizeof err), -1);
	ck_assert_str_eq(err, "invalid regular expression '('");
	ck_assert_int_eq(topic_perm_set(u, "/", "t", ".*", "[", err, sizeof err), -1);
	ck_assert_str_eq(err, "invalid regular expression '['");
	const struct topic_perm *p = topic_perm_find(u, "/", "t", 1);
	ck_assert_ptr_nonnull(p);
	ck_assert(can_write(p, "old"));
	ck_assert(!can_write(p, "new"));
	/* a refused first permission leaves none */
	ck_assert_int_eq(topic_perm_set(u, "/", "other", "(", ".*", err, sizeof err), -1);
	ck_assert_ptr_null(topic_perm_find(u, "/", "other", 5));
}
END_TEST

START_TEST(clearing_one_exchange_or_a_whole_vhost_removes_only_those)
{
	set_and_find("v1", "a", ".*", ".*");
	set_and_find("v1", "b", ".*", ".*");
	set_and_find("v1", "c", ".*", ".*");
	set_and_find("v2", "a", ".*", ".*");
	ck_assert_uint_eq(topic_perm_clear(u, "v1", "b"), 1);
	ck_assert_uint_eq(topic_perm_clear(u, "v1", "b"), 0);
	ck_assert_ptr_null(topic_perm_find(u, "v1", "b", 1));
	ck_assert_uint_eq(topic_perm_clear(u, "v1", NULL), 2);
	ck_assert_ptr_null(topic_perm_find(u, "v1", "a", 1));
	ck_assert_ptr_null(topic_perm_find(u, "v1", "c", 1));
	ck_assert_ptr_nonnull(topic_perm_find(u, "v2", "a", 1));
	ck_assert_uint_eq(topic_perm_clear(u, "v9", NULL), 0);
}
END_TEST

START_TEST(a_vhost_name_that_prefixes_another_does_not_clear_it)
{
	/* keys are "vhost\0exchange": "v" must not reach into "v1" */
	set_and_find("v", "x", ".*", ".*");
	set_and_find("v1", "x", ".*", ".*");
	ck_assert_uint_eq(topic_perm_clear(u, "v", NULL), 1);
	ck_assert_ptr_nonnull(topic_perm_find(u, "v1", "x", 1));
}
END_TEST

START_TEST(every_change_moves_the_auth_generation)
{
	uint64_t g = b->auth_generation;
	set_and_find("/", "t", ".*", ".*");
	ck_assert_uint_gt(b->auth_generation, g);
	g = b->auth_generation;
	topic_perm_set(u, "/", "t", "(", ".*", err, sizeof err);
	ck_assert_uint_gt(b->auth_generation, g); /* harmless, and simpler than tracking */
	g = b->auth_generation;
	topic_perm_clear(u, "/", "t");
	ck_assert_uint_gt(b->auth_generation, g);
}
END_TEST

static Suite *topic_perm_suite(void)
{
	Suite *s = suite_create("topic_perm");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, username_and_vhost_are_replaced_wherever_they_appear);
	tcase_add_test(tc, other_braces_are_left_as_they_are);
	tcase_add_test(tc, the_values_are_not_regex_quoted);
	tcase_add_test(tc,
		       the_stored_patterns_keep_the_variables_and_the_compiled_ones_are_expanded);
	tcase_add_test(tc, matching_is_unanchored_unless_the_pattern_anchors_it);
	tcase_add_test(tc, an_empty_pattern_allows_only_the_empty_key);
	tcase_add_test(tc, a_dot_star_pattern_allows_every_key);
	tcase_add_test(tc, a_nul_byte_in_a_key_does_not_end_the_key);
	tcase_add_test(tc, a_key_of_the_longest_short_string_is_matched_whole);
	tcase_add_test(tc, permissions_are_per_vhost_and_exchange);
	tcase_add_test(tc, setting_again_replaces_the_permission);
	tcase_add_test(tc, a_bad_expression_is_refused_and_keeps_the_previous_permission);
	tcase_add_test(tc, clearing_one_exchange_or_a_whole_vhost_removes_only_those);
	tcase_add_test(tc, a_vhost_name_that_prefixes_another_does_not_clear_it);
	tcase_add_test(tc, every_change_moves_the_auth_generation);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(topic_perm_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
