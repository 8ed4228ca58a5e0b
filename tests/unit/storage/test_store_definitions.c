/* tests/unit/storage/test_store_definitions.c: the definitions document. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/store_record.h"
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

START_TEST(unusable_definitions_are_refused_rather_than_dropped)
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

static char *read_file(const struct harness *h, const char *name)
{
	char path[300], *buf = calloc(1, 4096);
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", h->dir, name);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_gt(fread(buf, 1, 4095, f), 0);
	fclose(f);
	return buf;
}

START_TEST(the_saved_file_carries_the_data_format_and_loads_back_without_it)
{
	struct harness *h = harness_new(0);
	char *got, *file;

	save(h, "{\"queues\":[]}");
	file = read_file(h, "definitions.json");
	ck_assert_str_eq(file, "{\"warren_data_format\":3,\"queues\":[]}");
	free(file);
	got = load(h, 0, NULL);
	ck_assert_str_eq(got, "{\"queues\":[]}");
	free(got);
	save(h, " { } ");
	file = read_file(h, "definitions.json");
	ck_assert_str_eq(file, " {\"warren_data_format\":3 } ");
	free(file);
	got = load(h, 0, NULL);
	ck_assert_str_eq(got, " { } ");
	free(got);
	harness_free(h);
}
END_TEST

START_TEST(format_1_definitions_from_0_1_0_load_as_they_are)
{
	struct harness *h = harness_new(0);
	const char *v1 = "{\"rabbit_version\":\"3.10.8\",\"queues\":[{\"name\":\"q\"}]}";
	char *got;

	write_file(h, "definitions.json", v1);
	got = load(h, 0, NULL);
	ck_assert_str_eq(got, v1);
	free(got);
	harness_free(h);
}
END_TEST

START_TEST(definitions_of_a_newer_format_are_refused_with_a_clear_message)
{
	struct harness *h = harness_new(0);
	char err[512] = "", *doc = NULL;

	save(h, "{\"v\":1}");
	char newer[100], want[200];
	snprintf(newer, sizeof newer, "{\"warren_data_format\":%d,\"v\":2,\"new\":{}}",
		 STORE_FORMAT_VERSION + 1);
	write_file(h, "definitions.json", newer);
	ck_assert_int_eq(store_definitions_load(h->store, &doc, NULL, err, sizeof err), -1);
	ck_assert_ptr_null(doc);
	snprintf(want, sizeof want, "definitions.json was written by a newer Warren (data format "
		 "%d; this build reads formats 1 to %d)", STORE_FORMAT_VERSION + 1,
		 STORE_FORMAT_VERSION);
	ck_assert_ptr_nonnull(strstr(err, want));
	/* not even through the previous copy when the current one is unreadable */
	save(h, "{\"v\":1}");
	write_file(h, "definitions.json.prev", "{\"warren_data_format\":9}");
	write_file(h, "definitions.json", "garbage");
	ck_assert_int_eq(store_definitions_load(h->store, &doc, NULL, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "definitions.json.prev was written by a newer Warren"));
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
	tcase_add_test(tc, unusable_definitions_are_refused_rather_than_dropped);
	tcase_add_test(tc, the_saved_file_carries_the_data_format_and_loads_back_without_it);
	tcase_add_test(tc, format_1_definitions_from_0_1_0_load_as_they_are);
	tcase_add_test(tc, definitions_of_a_newer_format_are_refused_with_a_clear_message);
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
