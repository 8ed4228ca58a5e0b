/* tests/unit/storage/test_store_definitions.c: the definitions document. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_helpers.h"

static void write_file(const struct harness *h, const char *name, const char *text)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", h->dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* store_definitions_load, checking it returns want (0 current, 1 fallback copy, -1 refused). */
static char *load(struct harness *h, int want, size_t *len)
{
	char err[512] = "", *doc = (char *)"untouched";
	int rc = store_definitions_load(h->store, &doc, len, err, sizeof err);

	ck_assert_msg(rc == want, "store_definitions_load returned %d (%s), not %d", rc, err,
		      want);
	if (rc < 0)
		ck_assert_ptr_null(doc);
	return doc;
}

static void save(struct harness *h, const char *json)
{
	char err[256] = "";

	ck_assert_msg(store_definitions_save(h->store, json, strlen(json), err, sizeof err) == 0,
		      "%s", err);
}

START_TEST(saved_definitions_load_back_byte_for_byte)
{
	struct harness *h = harness_new(0);
	const char *doc = "{\"rabbit_version\":\"3.10.8\",\"queues\":[{\"name\":\"q\"}]}";
	size_t len = 0;
	char *got;

	save(h, doc);
	harness_reopen(h);
	got = load(h, 0, &len);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(len, strlen(doc));
	ck_assert_str_eq(got, doc);
	free(got);
	harness_free(h);
}
END_TEST

START_TEST(a_store_without_definitions_loads_null)
{
	struct harness *h = harness_new(0);
	size_t len = 99;

	ck_assert_ptr_null(load(h, 0, &len));
	harness_free(h);
}
END_TEST

START_TEST(a_garbage_current_file_falls_back_to_the_previous_good_copy)
{
	struct harness *h = harness_new(0);
	char *got;

	save(h, "{\"v\":1}");
	save(h, "{\"v\":2}");
	write_file(h, "definitions.json", "{\"v\":3, trunc");
	got = load(h, 1, NULL);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, "{\"v\":1}");
	free(got);
	/* saving over garbage keeps the good fallback instead of copying the garbage */
	save(h, "{\"v\":4}");
	write_file(h, "definitions.json", "");
	got = load(h, 1, NULL);
	ck_assert_str_eq(got, "{\"v\":1}");
	free(got);
	harness_free(h);
}
END_TEST

START_TEST(a_missing_current_file_falls_back_to_the_previous_copy)
{
	struct harness *h = harness_new(0);
	char path[300];
	char *got;

	save(h, "{\"v\":1}");
	save(h, "{\"v\":2}");
	snprintf(path, sizeof path, "%s/definitions.json", h->dir);
	ck_assert_int_eq(remove(path), 0);
	got = load(h, 1, NULL);
	ck_assert_str_eq(got, "{\"v\":1}");
	free(got);
	harness_free(h);
}
END_TEST

START_TEST(a_leftover_temp_file_from_a_crashed_save_is_ignored)
{
	struct harness *h = harness_new(0);
	char *got;

	save(h, "{\"v\":1}");
	write_file(h, "definitions.json.tmp", "{\"v\":\"half writ");
	got = load(h, 0, NULL);
	ck_assert_str_eq(got, "{\"v\":1}");
	free(got);
	save(h, "{\"v\":2}"); /* and the next save overwrites it */
	got = load(h, 0, NULL);
	ck_assert_str_eq(got, "{\"v\":2}");
	free(got);
	harness_free(h);
}
END_TEST

START_TEST(definitions_that_exist_but_cannot_be_used_are_refused_rather_than_dropped)
{
	struct harness *h = harness_new(0);
	char path[300];

	/* both copies garbage: starting without them would drop every durable queue */
	save(h, "{\"v\":1}");
	save(h, "{\"v\":2}");
	write_file(h, "definitions.json", "{\"v\":");
	write_file(h, "definitions.json.prev", "garbage");
	load(h, -1, NULL);
	/* only a garbage previous copy, the current one gone */
	snprintf(path, sizeof path, "%s/definitions.json", h->dir);
	ck_assert_int_eq(remove(path), 0);
	load(h, -1, NULL);
	/* neither file: a store that never had definitions */
	snprintf(path, sizeof path, "%s/definitions.json.prev", h->dir);
	ck_assert_int_eq(remove(path), 0);
	ck_assert_ptr_null(load(h, 0, NULL));
	harness_free(h);
}
END_TEST

static Suite *store_definitions_suite(void)
{
	Suite *s = suite_create("store_definitions");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, saved_definitions_load_back_byte_for_byte);
	tcase_add_test(tc, a_store_without_definitions_loads_null);
	tcase_add_test(tc, a_garbage_current_file_falls_back_to_the_previous_good_copy);
	tcase_add_test(tc, a_missing_current_file_falls_back_to_the_previous_copy);
	tcase_add_test(tc, a_leftover_temp_file_from_a_crashed_save_is_ignored);
	tcase_add_test(tc, definitions_that_exist_but_cannot_be_used_are_refused_rather_than_dropped);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(store_definitions_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
