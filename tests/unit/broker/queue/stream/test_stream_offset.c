/* tests/unit/broker/queue/stream/test_stream_offset.c: broker/queue/stream/stream_offset.c:
 * x-max-age durations and x-stream-offset values as RabbitMQ 3.10 reads them (checked on a
 * private 3.10.8 node), and the clean refusals Warren gives where 3.10 crashes with 541. */
#include "broker/queue/stream/stream_offset.h"

#include <check.h>
#include <stdlib.h>

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

START_TEST(durations_take_one_unit_of_Y_M_D_h_m_s_after_a_positive_integer)
{
	ck_assert_int_eq(stream_duration_ms(amqp_str_c("7D")), 7LL * 86400000);
	ck_assert_int_eq(stream_duration_ms(amqp_str_c("12h")), 12LL * 3600000);
	ck_assert_int_eq(stream_duration_ms(amqp_str_c("30s")), 30000);
	ck_assert_int_eq(stream_duration_ms(amqp_str_c("10m")), 600000);
	ck_assert_int_eq(stream_duration_ms(amqp_str_c("1M")), 30LL * 86400000);
	ck_assert_int_eq(stream_duration_ms(amqp_str_c("1Y")), 365LL * 86400000);
	const char *bad[] = { "", "7", "7X", "0s", "-1D", "D", "1.5h", "bogus", "99999999999999999Y" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(stream_duration_ms(amqp_str_c(bad[i])) == -1, "%s", bad[i]);
}
END_TEST

static int parse(struct stream_offset *o, char *err, size_t errlen)
{
	return stream_offset_parse(argtable_get(&a), 1000000000, o, err, errlen);
}

START_TEST(offsets_are_first_last_next_numbers_timestamps_and_intervals)
{
	struct stream_offset o;
	char err[200];
	ck_assert_int_eq(parse(&o, err, sizeof err), 0);
	ck_assert_int_eq(o.kind, STREAM_OFFSET_NEXT); /* absent */
	const struct {
		const char *text;
		enum stream_offset_kind kind;
		int64_t value;
	} words[] = {
		{ "first", STREAM_OFFSET_FIRST, 0 },
		{ "last", STREAM_OFFSET_LAST, 0 },
		{ "next", STREAM_OFFSET_NEXT, 0 },
		{ "10m", STREAM_OFFSET_TIMESTAMP, 1000000000 - 600000 },
	};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		argtable_free(&a);
		argtable_init(&a);
		argtable_str(&a, "x-stream-offset", words[i].text);
		ck_assert_int_eq(parse(&o, err, sizeof err), 0);
		ck_assert_int_eq(o.kind, words[i].kind);
		ck_assert_int_eq(o.value, words[i].value);
	}
	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-stream-offset", 'l', 42);
	ck_assert_int_eq(parse(&o, err, sizeof err), 0);
	ck_assert(o.kind == STREAM_OFFSET_ABSOLUTE && o.value == 42);
	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-stream-offset", 'b', -3); /* negative: the first */
	ck_assert_int_eq(parse(&o, err, sizeof err), 0);
	ck_assert_int_eq(o.kind, STREAM_OFFSET_FIRST);
	argtable_free(&a);
	argtable_init(&a);
	argtable_int(&a, "x-stream-offset", 'T', 1700000000); /* seconds */
	ck_assert_int_eq(parse(&o, err, sizeof err), 0);
	ck_assert(o.kind == STREAM_OFFSET_TIMESTAMP && o.value == 1700000000000LL);
}
END_TEST

START_TEST(unreadable_offsets_are_refused_with_a_reason_not_a_crash)
{
	struct stream_offset o;
	char err[200];
	argtable_str(&a, "x-stream-offset", "bogus");
	ck_assert_int_eq(parse(&o, err, sizeof err), -1);
	ck_assert_str_eq(err, "\"expected first, last, next, an offset, a timestamp or an interval "
			      "such as 10m, got 'bogus'\"");
	argtable_free(&a);
	argtable_init(&a);
	argtable_bool(&a, "x-stream-offset", true);
	ck_assert_int_eq(parse(&o, err, sizeof err), -1);
	ck_assert_str_eq(err, "{unacceptable_type,bool}");
}
END_TEST

START_TEST(text_offsets_read_numbers_and_epoch_seconds_as_well)
{
	struct stream_offset o;
	char err[200];
	ck_assert_int_eq(stream_offset_from_text("17", 0, &o, err, sizeof err), 0);
	ck_assert(o.kind == STREAM_OFFSET_ABSOLUTE && o.value == 17);
	ck_assert_int_eq(stream_offset_from_text("-1", 0, &o, err, sizeof err), 0);
	ck_assert_int_eq(o.kind, STREAM_OFFSET_FIRST);
	ck_assert_int_eq(stream_offset_from_text("@1700000000", 0, &o, err, sizeof err), 0);
	ck_assert(o.kind == STREAM_OFFSET_TIMESTAMP && o.value == 1700000000000LL);
	ck_assert_int_eq(stream_offset_from_text("last", 0, &o, err, sizeof err), 0);
	ck_assert_int_eq(o.kind, STREAM_OFFSET_LAST);
	ck_assert_int_eq(stream_offset_from_text("1h", 7200000, &o, err, sizeof err), 0);
	ck_assert(o.kind == STREAM_OFFSET_TIMESTAMP && o.value == 3600000);
	ck_assert_int_eq(stream_offset_from_text("@x", 0, &o, err, sizeof err), -1);
	ck_assert_int_eq(stream_offset_from_text("", 0, &o, err, sizeof err), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stream_offset");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, durations_take_one_unit_of_Y_M_D_h_m_s_after_a_positive_integer);
	tcase_add_test(tc, offsets_are_first_last_next_numbers_timestamps_and_intervals);
	tcase_add_test(tc, unreadable_offsets_are_refused_with_a_reason_not_a_crash);
	tcase_add_test(tc, text_offsets_read_numbers_and_epoch_seconds_as_well);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
