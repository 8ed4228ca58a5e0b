/* tests/unit/broker/auth/test_sasl.c: the SASL mechanisms: what a connection is offered, the
 * user PLAIN, AMQPLAIN and EXTERNAL logins stand for, and the reasons refusals are logged with. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "broker/auth/auth.h"
#include "broker/auth/sasl.h"
#include "broker/core/broker.h"

static struct broker *b;

static void setup(void)
{
	b = calloc(1, sizeof *b);
	ck_assert_ptr_nonnull(b);
	strmap_init(&b->users);
	ck_assert_ptr_nonnull(auth_user_add(b, "guest", "guest", ""));
	ck_assert_ptr_nonnull(auth_user_add(b, "client-cn", NULL, "")); /* no password */
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

static struct user *login(const char *mech, struct amqp_str response, const char *cn,
			  char *name, const char **why)
{
	struct sasl_login l = { response, cn };
	const struct sasl_mechanism *m = sasl_find(amqp_str_c(mech), &l);
	if (!m) {
		*why = "unsupported";
		return NULL;
	}
	return m->authenticate(b, &l, name, 64, why);
}

START_TEST(plain_logs_in_with_the_right_password_and_names_the_user_either_way)
{
	char name[64];
	const char *why = NULL;
	struct amqp_str good = { (const uint8_t *)"\0guest\0guest", 12 };
	struct amqp_str bad = { (const uint8_t *)"\0guest\0guesT", 12 };
	struct amqp_str junk = { (const uint8_t *)"guest", 5 };
	ck_assert_ptr_nonnull(login("PLAIN", good, NULL, name, &why));
	ck_assert_str_eq(name, "guest");
	ck_assert_ptr_null(login("PLAIN", bad, NULL, name, &why));
	ck_assert_str_eq(name, "guest");
	ck_assert_str_eq(why, "invalid credentials");
	ck_assert_ptr_null(login("PLAIN", junk, NULL, name, &why));
	/* a user without a password never logs in by password */
	struct amqp_str nopass = { (const uint8_t *)"\0client-cn\0", 11 };
	ck_assert_ptr_null(login("PLAIN", nopass, NULL, name, &why));
}
END_TEST

START_TEST(amqplain_reads_login_and_password_from_a_field_table)
{
	char name[64];
	const char *why = NULL;
	/* LOGIN S "guest", PASSWORD S "guest", as a table without its length */
	static const uint8_t t[] = { 5, 'L', 'O', 'G', 'I', 'N', 'S', 0, 0, 0, 5,
				     'g', 'u', 'e', 's', 't', 8, 'P', 'A', 'S', 'S',
				     'W', 'O', 'R', 'D', 'S', 0, 0, 0, 5, 'g', 'u',
				     'e', 's', 't' };
	ck_assert_ptr_nonnull(login("AMQPLAIN", (struct amqp_str){ t, sizeof t }, NULL, name, &why));
	ck_assert_ptr_null(login("AMQPLAIN", (struct amqp_str){ t, 10 }, NULL, name, &why));
}
END_TEST

START_TEST(external_is_offered_only_with_a_certificate_and_takes_its_cn_as_the_user)
{
	char name[64], offer[64];
	const char *why = NULL;
	struct sasl_login none = { { NULL, 0 }, NULL }, cert = { { NULL, 0 }, "client-cn" };
	sasl_offer(&none, offer, sizeof offer);
	ck_assert_str_eq(offer, "AMQPLAIN PLAIN");
	sasl_offer(&cert, offer, sizeof offer);
	ck_assert_str_eq(offer, "EXTERNAL AMQPLAIN PLAIN");
	ck_assert_ptr_null(login("EXTERNAL", (struct amqp_str){ NULL, 0 }, NULL, name, &why));
	ck_assert_str_eq(why, "unsupported");
	struct user *u = login("EXTERNAL", (struct amqp_str){ NULL, 0 }, "client-cn", name, &why);
	ck_assert_ptr_nonnull(u);
	ck_assert_str_eq(u->name, "client-cn");
	ck_assert_ptr_null(login("EXTERNAL", (struct amqp_str){ NULL, 0 }, "stranger", name, &why));
	ck_assert_str_eq(why, "no user for the certificate's CN");
	ck_assert_ptr_null(sasl_find(AMQP_STR_LIT("CRAM-MD5"), &cert));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sasl");
	TCase *tc = tcase_create("sasl");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, plain_logs_in_with_the_right_password_and_names_the_user_either_way);
	tcase_add_test(tc, amqplain_reads_login_and_password_from_a_field_table);
	tcase_add_test(tc, external_is_offered_only_with_a_certificate_and_takes_its_cn_as_the_user);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
