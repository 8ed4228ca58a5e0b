/* tests/unit/broker/queue/stream/test_stream_filter.c: broker/queue/stream/stream_filter.c: a
 * consumer's x-stream-filter and x-stream-match-unfiltered as RabbitMQ 3.13 reads them (a string
 * or an array of strings; match-unfiltered alone filters nothing), Warren's clean refusal of
 * other types, a message's x-stream-filter-value, and the exact match Warren applies. */
#include "broker/queue/stream/stream_filter.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"
#include "tests/support/argtable.h"

static struct argtable a;

static void setup(void)
{
	argtable_init(&a);
}

static void teardown(void)
{
	argtable_free(&a);
}

static int parse(struct stream_filter **f, const char **bad, char *err, size_t errlen)
{
	return stream_filter_parse(argtable_get(&a), f, bad, err, errlen);
}

START_TEST(no_filter_argument_means_no_filter_even_with_match_unfiltered)
{
	struct stream_filter *f = (void *)1;
	const char *bad = NULL;
	char err[100];
	ck_assert_int_eq(parse(&f, &bad, err, sizeof err), 0);
	ck_assert_ptr_null(f);
	argtable_bool(&a, "x-stream-match-unfiltered", true);
	ck_assert_int_eq(parse(&f, &bad, err, sizeof err), 0);
	ck_assert_ptr_null(f);
}
END_TEST

START_TEST(a_filter_is_a_string_or_an_array_of_strings)
{
	struct stream_filter *f;
	const char *bad;
	char err[100];
	argtable_str(&a, "x-stream-filter", "emea");
	ck_assert_int_eq(parse(&f, &bad, err, sizeof err), 0);
	ck_assert_uint_eq(f->count, 1);
	ck_assert(!f->match_unfiltered);
	ck_assert_uint_eq(f->want.count, 1);
	ck_assert_uint_eq(f->hashes[0], sbloom_hash("emea", 4));
	stream_filter_free(f);

	argtable_free(&a);
	argtable_init(&a);
	static const char *const vals[] = { "emea", "apac", "", NULL };
	argtable_str_array(&a, "x-stream-filter", vals);
	argtable_bool(&a, "x-stream-match-unfiltered", true);
	ck_assert_int_eq(parse(&f, &bad, err, sizeof err), 0);
	ck_assert_uint_eq(f->count, 3);
	ck_assert(f->match_unfiltered && f->want.match_unfiltered);
	ck_assert_uint_eq(f->values[1].len, 4);
	ck_assert_mem_eq(f->values[1].ptr, "apac", 4);
	stream_filter_free(f);
}
END_TEST

START_TEST(other_types_are_refused_naming_the_argument_and_the_type)
{
	struct stream_filter *f;
	const char *bad = NULL;
	char err[100];
	argtable_int(&a, "x-stream-filter", 'I', 5);
	ck_assert_int_eq(parse(&f, &bad, err, sizeof err), -1);
	ck_assert_str_eq(bad, "x-stream-filter");
	ck_assert_str_eq(err, "{unacceptable_type,signedint}");

	argtable_free(&a);
	argtable_init(&a);
	argtable_str(&a, "x-stream-filter", "emea");
	argtable_str(&a, "x-stream-match-unfiltered", "yes");
	ck_assert_int_eq(parse(&f, &bad, err, sizeof err), -1);
	ck_assert_str_eq(bad, "x-stream-match-unfiltered");
	ck_assert_str_eq(err, "{unacceptable_type,longstr}");

	/* an array with anything but strings in it */
	argtable_free(&a);
	argtable_init(&a);
	struct amqp_buf b;
	amqp_buf_init(&b);
	amqp_buf_put_value_longstr(&b, amqp_str_c("emea"));
	amqp_buf_put_value_bool(&b, true);
	struct amqp_value v = { .type = 'A' };
	v.v.table = (struct amqp_table){ b.data, (uint32_t)b.len };
	argtable_value(&a, "x-stream-filter", &v);
	ck_assert_int_eq(parse(&f, &bad, err, sizeof err), -1);
	ck_assert_str_eq(bad, "x-stream-filter");
	ck_assert_str_eq(err, "{unacceptable_type,bool}");
	amqp_buf_free(&b);
}
END_TEST

/* Property bytes with a headers table holding x-stream-filter-value = value (NULL: no
 * headers), and another header beside it. */
static struct amqp_buf props_with(const char *value, bool as_int)
{
	struct amqp_buf b;
	struct argtable h;
	amqp_buf_init(&b);
	argtable_init(&h);
	struct amqp_basic_props p = { 0 };
	if (value) {
		argtable_str(&h, "region-note", "x");
		if (as_int)
			argtable_int(&h, "x-stream-filter-value", 'I', 7);
		else
			argtable_str(&h, "x-stream-filter-value", value);
		p.flags = AMQP_PROP_HEADERS;
		p.headers = argtable_get(&h);
	}
	p.flags |= AMQP_PROP_DELIVERY_MODE;
	p.delivery_mode = 2;
	amqp_props_encode(&p, &b);
	argtable_free(&h);
	return b;
}

START_TEST(a_messages_filter_value_is_its_string_header)
{
	struct amqp_str v;
	struct amqp_buf b = props_with("emea", false);
	ck_assert(stream_filter_value(b.data, b.len, &v));
	ck_assert_uint_eq(v.len, 4);
	ck_assert_mem_eq(v.ptr, "emea", 4);
	ck_assert_uint_eq(stream_filter_hash_of(b.data, b.len), sbloom_hash("emea", 4));
	amqp_buf_free(&b);
	b = props_with(NULL, false);
	ck_assert(!stream_filter_value(b.data, b.len, &v));
	ck_assert_uint_eq(stream_filter_hash_of(b.data, b.len), 0);
	amqp_buf_free(&b);
	b = props_with("7", true); /* not a string: no value, as RabbitMQ reads it */
	ck_assert(!stream_filter_value(b.data, b.len, &v));
	amqp_buf_free(&b);
}
END_TEST

START_TEST(a_filter_matches_its_values_exactly_and_unfiltered_messages_when_asked)
{
	struct stream_filter *f;
	const char *bad;
	char err[100];
	static const char *const vals[] = { "emea", "apac", NULL };
	argtable_str_array(&a, "x-stream-filter", vals);
	ck_assert_int_eq(parse(&f, &bad, err, sizeof err), 0);
	struct amqp_buf emea = props_with("emea", false), amer = props_with("amer", false),
			none = props_with(NULL, false);
	ck_assert(stream_filter_match(f, stream_filter_hash_of(emea.data, emea.len), emea.data,
				      emea.len));
	ck_assert(!stream_filter_match(f, stream_filter_hash_of(amer.data, amer.len), amer.data,
				       amer.len));
	ck_assert(!stream_filter_match(f, 0, none.data, none.len));
	/* a hash that collides with a wanted one is still compared byte for byte */
	ck_assert(!stream_filter_match(f, sbloom_hash("emea", 4), amer.data, amer.len));
	f->match_unfiltered = true;
	ck_assert(stream_filter_match(f, 0, none.data, none.len));
	amqp_buf_free(&emea);
	amqp_buf_free(&amer);
	amqp_buf_free(&none);
	stream_filter_free(f);
}
END_TEST

static Suite *stream_filter_suite(void)
{
	Suite *s = suite_create("stream_filter");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, no_filter_argument_means_no_filter_even_with_match_unfiltered);
	tcase_add_test(tc, a_filter_is_a_string_or_an_array_of_strings);
	tcase_add_test(tc, other_types_are_refused_naming_the_argument_and_the_type);
	tcase_add_test(tc, a_messages_filter_value_is_its_string_header);
	tcase_add_test(tc, a_filter_matches_its_values_exactly_and_unfiltered_messages_when_asked);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stream_filter_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
