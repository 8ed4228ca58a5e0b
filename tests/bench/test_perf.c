/* tests/bench/test_perf.c: unit tests for warren-perf's own parts that need no broker: the
 * URI parser, the latency histogram and the confirm window. */
#include "perf.h"

#include <check.h>
#include <stdlib.h>

START_TEST(uri_with_every_part_is_split_and_the_vhost_url_decoded)
{
	struct perf_uri u;
	char err[256];

	ck_assert_int_eq(perf_uri_parse(&u, "amqp://bob:s%40cret@localhost:5673/%2Fprod", err,
					sizeof err), 0);
	ck_assert_str_eq(u.user, "bob");
	ck_assert_str_eq(u.pass, "s@cret");
	ck_assert_str_eq(u.host, "localhost");
	ck_assert_int_eq(u.port, 5673);
	ck_assert_str_eq(u.vhost, "/prod");
}
END_TEST

START_TEST(uri_without_vhost_means_the_default_vhost)
{
	struct perf_uri u;
	char err[256];

	ck_assert_int_eq(perf_uri_parse(&u, "amqp://guest:guest@127.0.0.1:5672/", err, sizeof err),
			 0);
	ck_assert_str_eq(u.vhost, "/");
	ck_assert_int_eq(perf_uri_parse(&u, "amqp://127.0.0.1", err, sizeof err), 0);
	ck_assert_str_eq(u.vhost, "/");
	ck_assert_str_eq(u.user, "guest");
	ck_assert_int_eq(u.port, 5672);
	ck_assert_int_eq(perf_uri_parse(&u, "amqp://h/%2F", err, sizeof err), 0);
	ck_assert_str_eq(u.vhost, "/");
}
END_TEST

START_TEST(uri_with_a_bad_port_or_scheme_is_refused)
{
	struct perf_uri u;
	char err[256];

	ck_assert_int_eq(perf_uri_parse(&u, "amqp://h:0/", err, sizeof err), -1);
	ck_assert_int_eq(perf_uri_parse(&u, "amqp://h:99999/", err, sizeof err), -1);
	ck_assert_int_eq(perf_uri_parse(&u, "amqp://h:12x/", err, sizeof err), -1);
	ck_assert_int_eq(perf_uri_parse(&u, "http://h/", err, sizeof err), -1);
	ck_assert_int_eq(perf_uri_parse(&u, "amqp://h/%2", err, sizeof err), -1);
}
END_TEST

START_TEST(histogram_quantiles_are_within_two_percent)
{
	struct perf_hist *h = malloc(sizeof *h);

	perf_hist_init(h);
	for (uint64_t v = 1; v <= 100000; v++)
		perf_hist_add(h, v * 1000);
	ck_assert_uint_eq(h->count, 100000);
	ck_assert_uint_eq(h->min, 1000);
	ck_assert_uint_eq(h->max, 100000000);
	uint64_t p50 = perf_hist_quantile(h, 0.5), p99 = perf_hist_quantile(h, 0.99);
	ck_assert_uint_ge(p50, 50000000 * 0.98);
	ck_assert_uint_le(p50, 50000000 * 1.02);
	ck_assert_uint_ge(p99, 99000000 * 0.98);
	ck_assert_uint_le(p99, 99000000 * 1.02);
	ck_assert_uint_eq(perf_hist_quantile(h, 1.0), 100000000);
	free(h);
}
END_TEST

START_TEST(histogram_small_values_are_exact_and_merge_adds_counts)
{
	struct perf_hist *a = malloc(sizeof *a), *b = malloc(sizeof *b);

	perf_hist_init(a);
	perf_hist_init(b);
	ck_assert_uint_eq(perf_hist_quantile(a, 0.5), 0);
	perf_hist_add(a, 5);
	perf_hist_add(b, 7);
	perf_hist_add(b, 7);
	perf_hist_merge(a, b);
	ck_assert_uint_eq(a->count, 3);
	ck_assert_uint_eq(perf_hist_quantile(a, 0.1), 5);
	ck_assert_uint_eq(perf_hist_quantile(a, 0.9), 7);
	ck_assert_uint_eq(a->min, 5);
	free(a);
	free(b);
}
END_TEST

START_TEST(window_moves_only_past_confirmed_tags)
{
	struct perf_window w;

	ck_assert_int_eq(perf_window_init(&w, 4), 0);
	for (int i = 0; i < 4; i++)
		perf_window_push(&w, 100);
	ck_assert_uint_eq(perf_window_outstanding(&w), 4);
	ck_assert_uint_eq(perf_window_ack(&w, 3, false, 200, NULL), 1);
	ck_assert_uint_eq(perf_window_outstanding(&w), 4);
	ck_assert_uint_eq(perf_window_ack(&w, 3, false, 200, NULL), 0);
	ck_assert_uint_eq(perf_window_ack(&w, 2, true, 200, NULL), 2);
	ck_assert_uint_eq(perf_window_outstanding(&w), 1);
	ck_assert_uint_eq(perf_window_ack(&w, 4, true, 200, NULL), 1);
	ck_assert_uint_eq(perf_window_outstanding(&w), 0);
	perf_window_free(&w);
}
END_TEST

START_TEST(window_records_publish_to_confirm_latency)
{
	struct perf_window w;
	struct perf_hist *h = malloc(sizeof *h);

	perf_hist_init(h);
	ck_assert_int_eq(perf_window_init(&w, 2), 0);
	for (int round = 0; round < 10; round++) {
		uint64_t tag = perf_window_push(&w, 1000);
		ck_assert_uint_eq(perf_window_ack(&w, tag, false, 1050, h), 1);
	}
	ck_assert_uint_eq(h->count, 10);
	ck_assert_uint_eq(h->max, 50);
	ck_assert_uint_eq(perf_window_ack(&w, 99, true, 2000, h), 0);
	perf_window_free(&w);
	free(h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("perf");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, uri_with_every_part_is_split_and_the_vhost_url_decoded);
	tcase_add_test(tc, uri_without_vhost_means_the_default_vhost);
	tcase_add_test(tc, uri_with_a_bad_port_or_scheme_is_refused);
	tcase_add_test(tc, histogram_quantiles_are_within_two_percent);
	tcase_add_test(tc, histogram_small_values_are_exact_and_merge_adds_counts);
	tcase_add_test(tc, window_moves_only_past_confirmed_tags);
	tcase_add_test(tc, window_records_publish_to_confirm_latency);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
