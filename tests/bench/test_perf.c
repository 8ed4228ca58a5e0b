/* tests/bench/test_perf.c: unit tests for warren-perf's own parts that need no broker: the
 * URI parser, the latency histogram and the confirm window. */
#include "perf.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"

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

START_TEST(uri_heartbeat_query_is_read_with_or_without_a_vhost)
{
	struct perf_uri u;
	char err[256];

	ck_assert_int_eq(perf_uri_parse(&u, "amqp://h:5673/prod?heartbeat=30", err, sizeof err), 0);
	ck_assert_str_eq(u.vhost, "prod");
	ck_assert_int_eq(u.port, 5673);
	ck_assert_int_eq(u.heartbeat, 30);
	ck_assert_int_eq(perf_uri_parse(&u, "amqp://h:5673?channel_max=9&heartbeat=5", err,
					sizeof err), 0);
	ck_assert_str_eq(u.vhost, "/");
	ck_assert_int_eq(u.port, 5673);
	ck_assert_int_eq(u.heartbeat, 5);
	ck_assert_int_eq(perf_uri_parse(&u, "amqp://h/", err, sizeof err), 0);
	ck_assert_int_eq(u.heartbeat, 0);
	ck_assert_int_eq(perf_uri_parse(&u, "amqp://h/?heartbeat=x", err, sizeof err), -1);
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

/* Walks the template's frames with the codec and returns how many body bytes they carry. */
static uint64_t walk_template(const struct perf_template *t, uint32_t frame_max,
			      struct amqp_method *m, struct amqp_content_header *h)
{
	const uint8_t *p = t->bytes, *end = t->bytes + t->len;
	struct amqp_frame f;
	enum amqp_frame_error err;
	uint64_t body = 0;
	int index = 0;

	while (p < end) {
		ssize_t n = amqp_frame_decode(&f, p, (size_t)(end - p), frame_max, &err);
		ck_assert_int_gt(n, 0);
		ck_assert_uint_eq(f.channel, 1);
		if (index == 0) {
			ck_assert_uint_eq(f.type, AMQP_FRAME_METHOD);
			ck_assert_int_eq(amqp_method_decode(m, f.payload, f.size), AMQP_DECODE_OK);
		} else if (index == 1) {
			ck_assert_uint_eq(f.type, AMQP_FRAME_HEADER);
			ck_assert_int_eq(amqp_content_header_decode(h, f.payload, f.size), 0);
		} else {
			ck_assert_uint_eq(f.type, AMQP_FRAME_BODY);
			ck_assert_uint_le(f.size, frame_max - AMQP_FRAME_OVERHEAD);
			body += f.size;
		}
		p += n;
		index++;
	}
	return body;
}

START_TEST(template_is_a_publish_a_header_and_frame_max_sized_bodies)
{
	struct perf_opts o = { .size = 10000, .persistent = true };
	struct perf_template t;
	struct amqp_method m;
	struct amqp_content_header h;
	struct amqp_basic_props props;

	ck_assert_int_eq(perf_template_build(&t, &o, "", "perf-1-q0", 4096), 0);
	ck_assert_uint_eq(walk_template(&t, 4096, &m, &h), 10000);
	ck_assert_uint_eq(m.id, AMQP_BASIC_PUBLISH);
	ck_assert(amqp_str_eq_c(m.u.basic_publish.routing_key, "perf-1-q0"));
	ck_assert_uint_eq(h.class_id, 60);
	ck_assert_uint_eq(h.body_size, 10000);
	ck_assert_int_eq(amqp_props_decode(&props, h.props, h.props_len), 0);
	ck_assert_uint_eq(props.delivery_mode, 2);
	free(t.bytes);
}
END_TEST

START_TEST(template_stamp_writes_time_and_sequence_into_the_body_start)
{
	struct perf_opts o = { .size = 16 };
	struct perf_template t;
	struct amqp_method m;
	struct amqp_content_header h;

	ck_assert_int_eq(perf_template_build(&t, &o, "x", "", 131072), 0);
	perf_template_stamp(t.bytes, &t, o.size, 123456789, 42);
	ck_assert_uint_eq(amqp_get_u64(t.bytes + t.stamp_at), 123456789);
	ck_assert_uint_eq(amqp_get_u64(t.bytes + t.stamp_at + 8), 42);
	ck_assert_uint_eq(walk_template(&t, 131072, &m, &h), 16);
	ck_assert_uint_eq(h.props_len, 2); /* flags only: transient */
	free(t.bytes);
}
END_TEST

START_TEST(template_with_an_empty_body_has_no_body_frame)
{
	struct perf_opts o = { .size = 0 };
	struct perf_template t;
	struct amqp_method m;
	struct amqp_content_header h;

	ck_assert_int_eq(perf_template_build(&t, &o, "", "q", 131072), 0);
	perf_template_stamp(t.bytes, &t, o.size, 1, 1); /* must not write past the end */
	ck_assert_uint_eq(walk_template(&t, 131072, &m, &h), 0);
	ck_assert_uint_eq(h.body_size, 0);
	free(t.bytes);
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
	tcase_add_test(tc, uri_heartbeat_query_is_read_with_or_without_a_vhost);
	tcase_add_test(tc, histogram_quantiles_are_within_two_percent);
	tcase_add_test(tc, histogram_small_values_are_exact_and_merge_adds_counts);
	tcase_add_test(tc, window_moves_only_past_confirmed_tags);
	tcase_add_test(tc, window_records_publish_to_confirm_latency);
	tcase_add_test(tc, template_is_a_publish_a_header_and_frame_max_sized_bodies);
	tcase_add_test(tc, template_stamp_writes_time_and_sequence_into_the_body_start);
	tcase_add_test(tc, template_with_an_empty_body_has_no_body_frame);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
