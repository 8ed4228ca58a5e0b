/* tests/unit/amqp/test_assembler.c: the per-channel content state machine (amqp/assembler.c):
 * event order for methods, headers and bodies, and RabbitMQ's error codes and texts. Frames are
 * built by hand so that an encoder bug cannot hide an assembler bug. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/assembler.h"
#include "amqp/reply_codes.h"

static const uint8_t publish[] = { 0, 60, 0, 40, 0, 0, 0, 1, 'q', 0 };
static const uint8_t channel_open[] = { 0, 20, 0, 10, 0 };
/* class 60, weight 0, body size 10, no properties */
static const uint8_t header10[] = { 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0 };
static const uint8_t header0[] = { 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
static const uint8_t header_class50[] = { 0, 50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0 };
static const uint8_t body[] = "0123456789ab";

static struct amqp_frame frame(uint8_t type, const uint8_t *payload, size_t size)
{
	return (struct amqp_frame){ type, 1, (uint32_t)size, payload };
}

static struct amqp_frame method_frame(const uint8_t *payload, size_t size)
{
	return frame(AMQP_FRAME_METHOD, payload, size);
}

static struct amqp_assembler a;
static struct amqp_asm_out out;

static void setup(void)
{
	amqp_assembler_init(&a);
	memset(&out, 0, sizeof out);
}

static void feed_publish_and_header(void)
{
	struct amqp_frame f = method_frame(publish, sizeof publish);

	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_CONTENT_METHOD);
	f = frame(AMQP_FRAME_HEADER, header10, sizeof header10);
	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_HEADER);
}

START_TEST(method_without_content_is_reported_at_once)
{
	struct amqp_frame f = method_frame(channel_open, sizeof channel_open);

	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_METHOD);
	ck_assert_uint_eq(out.method.id, AMQP_CHANNEL_OPEN);
	ck_assert_int_eq(a.state, AMQP_ASM_EXPECT_METHOD);
}
END_TEST

START_TEST(publish_header_and_two_body_chunks_complete_a_message)
{
	struct amqp_frame f = method_frame(publish, sizeof publish);

	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_CONTENT_METHOD);
	ck_assert_uint_eq(out.method.id, AMQP_BASIC_PUBLISH);
	ck_assert(amqp_str_eq_c(out.method.u.basic_publish.routing_key, "q"));
	ck_assert_int_eq(a.state, AMQP_ASM_EXPECT_HEADER);
	f = frame(AMQP_FRAME_HEADER, header10, sizeof header10);
	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_HEADER);
	ck_assert_uint_eq(out.header.body_size, 10);
	ck_assert(!out.complete);
	f = frame(AMQP_FRAME_BODY, body, 4);
	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_BODY);
	ck_assert_ptr_eq(out.body, body);
	ck_assert_uint_eq(out.body_len, 4);
	ck_assert(!out.complete);
	f = frame(AMQP_FRAME_BODY, body + 4, 6);
	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_BODY);
	ck_assert_uint_eq(out.body_len, 6);
	ck_assert(out.complete);
	ck_assert_int_eq(a.state, AMQP_ASM_EXPECT_METHOD);
}
END_TEST

START_TEST(header_with_body_size_zero_completes_the_message)
{
	struct amqp_frame f = method_frame(publish, sizeof publish);

	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_CONTENT_METHOD);
	f = frame(AMQP_FRAME_HEADER, header0, sizeof header0);
	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_HEADER);
	ck_assert(out.complete);
	ck_assert_int_eq(a.state, AMQP_ASM_EXPECT_METHOD);
	f = method_frame(channel_open, sizeof channel_open);
	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_METHOD);
}
END_TEST

START_TEST(empty_body_frame_is_a_zero_length_chunk)
{
	struct amqp_frame f;

	feed_publish_and_header();
	f = frame(AMQP_FRAME_BODY, body, 0);
	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_BODY);
	ck_assert_uint_eq(out.body_len, 0);
	ck_assert(!out.complete);
	f = frame(AMQP_FRAME_BODY, body, 10);
	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_BODY);
	ck_assert(out.complete);
}
END_TEST

/* text: the whole reply text, "NAME - ..." as the connection.close carries it. */
static void assert_error(uint16_t code, uint16_t cls, uint16_t mth, const char *text)
{
	char buf[256], whole[300];
	ck_assert_uint_eq(out.error_code, code);
	ck_assert_uint_eq(AMQP_METHOD_CLASS(out.error_method), cls);
	ck_assert_uint_eq(AMQP_METHOD_INDEX(out.error_method), mth);
	snprintf(whole, sizeof whole, "%s - %s", amqp_reply_code_name(code),
		 amqp_asm_error_format(&out, buf, sizeof buf));
	ck_assert_str_eq(whole, text);
}

START_TEST(header_or_body_while_a_method_is_expected_is_unexpected_frame)
{
	struct amqp_frame f = frame(AMQP_FRAME_HEADER, header10, sizeof header10);

	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_ERROR);
	assert_error(505, 0, 0,
		     "UNEXPECTED_FRAME - expected method frame, got non method frame instead");
	f = frame(AMQP_FRAME_BODY, body, 3);
	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_ERROR);
	assert_error(505, 0, 0,
		     "UNEXPECTED_FRAME - expected method frame, got non method frame instead");
}
END_TEST

START_TEST(method_or_body_while_the_header_is_expected_is_unexpected_frame)
{
	static const char text[] = "UNEXPECTED_FRAME - expected content header for class 60, "
				   "got non content header frame instead";
	struct amqp_frame f = method_frame(publish, sizeof publish);

	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_CONTENT_METHOD);
	f = method_frame(channel_open, sizeof channel_open);
	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_ERROR);
	assert_error(505, 60, 40, text);

	amqp_assembler_init(&a);
	f = method_frame(publish, sizeof publish);
	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_CONTENT_METHOD);
	f = frame(AMQP_FRAME_BODY, body, 3);
	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_ERROR);
	assert_error(505, 60, 40, text);
}
END_TEST

START_TEST(method_or_header_while_body_is_expected_is_unexpected_frame)
{
	static const char text[] = "UNEXPECTED_FRAME - expected content body, "
				   "got non content body frame instead";
	struct amqp_frame f;

	feed_publish_and_header();
	f = method_frame(publish, sizeof publish);
	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_ERROR);
	assert_error(505, 60, 40, text);

	amqp_assembler_init(&a);
	feed_publish_and_header();
	f = frame(AMQP_FRAME_HEADER, header10, sizeof header10);
	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_ERROR);
	assert_error(505, 60, 40, text);
}
END_TEST

START_TEST(header_for_another_class_is_unexpected_frame)
{
	struct amqp_frame f = method_frame(publish, sizeof publish);

	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_CONTENT_METHOD);
	f = frame(AMQP_FRAME_HEADER, header_class50, sizeof header_class50);
	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_ERROR);
	assert_error(505, 60, 40, "UNEXPECTED_FRAME - expected content header for class 60, "
				  "got one for class 50 instead");
}
END_TEST

START_TEST(short_content_header_is_a_syntax_error)
{
	struct amqp_frame f = method_frame(publish, sizeof publish);

	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_CONTENT_METHOD);
	f = frame(AMQP_FRAME_HEADER, header10, 13);
	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_ERROR);
	assert_error(502, 60, 40, "SYNTAX_ERROR - content header frame of 13 bytes is shorter "
				  "than the 14-byte minimum");
}
END_TEST

START_TEST(malformed_properties_are_a_syntax_error)
{
	/* flags say content-type is present, but nothing follows */
	static const uint8_t bad[] = { 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x80, 0x00 };
	struct amqp_frame f = method_frame(publish, sizeof publish);

	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_CONTENT_METHOD);
	f = frame(AMQP_FRAME_HEADER, bad, sizeof bad);
	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_ERROR);
	assert_error(502, 60, 40, "SYNTAX_ERROR - malformed properties in content header "
				  "(2 property bytes, flags 0x8000)");
}
END_TEST

START_TEST(body_beyond_the_declared_size_is_a_frame_error)
{
	struct amqp_frame f;

	feed_publish_and_header();
	f = frame(AMQP_FRAME_BODY, body, 8);
	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_BODY);
	f = frame(AMQP_FRAME_BODY, body, 3);
	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_ERROR);
	assert_error(501, 60, 40, "FRAME_ERROR - content body frame of 3 bytes exceeds the 2 "
				  "bytes left of the declared body size 10");
}
END_TEST

START_TEST(unknown_method_is_not_implemented_with_its_ids)
{
	static const uint8_t unknown[] = { 0, 99, 0, 10 };
	struct amqp_frame f = method_frame(unknown, sizeof unknown);

	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_ERROR);
	assert_error(540, 99, 10, "NOT_IMPLEMENTED - unknown class/method 99/10");
}
END_TEST

START_TEST(malformed_arguments_are_a_syntax_error_naming_the_method)
{
	struct amqp_frame f = method_frame(publish, sizeof publish - 1);

	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_ERROR);
	assert_error(502, 60, 40, "SYNTAX_ERROR - malformed arguments for method basic.publish");
}
END_TEST

START_TEST(method_frame_without_ids_is_a_syntax_error)
{
	struct amqp_frame f = method_frame(publish, 3);

	ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_ERROR);
	assert_error(502, 0, 0, "SYNTAX_ERROR - method frame of 3 bytes has no class and method id");
}
END_TEST

START_TEST(assembler_accepts_a_new_message_after_a_complete_one)
{
	struct amqp_frame f;

	for (int i = 0; i < 3; i++) {
		feed_publish_and_header();
		f = frame(AMQP_FRAME_BODY, body, 10);
		ck_assert_int_eq(amqp_assembler_feed(&a, &f, &out), AMQP_ASM_BODY);
		ck_assert(out.complete);
	}
}
END_TEST

static Suite *assembler_suite(void)
{
	Suite *s = suite_create("amqp_assembler");
	TCase *tc = tcase_create("assembler");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, method_without_content_is_reported_at_once);
	tcase_add_test(tc, publish_header_and_two_body_chunks_complete_a_message);
	tcase_add_test(tc, header_with_body_size_zero_completes_the_message);
	tcase_add_test(tc, empty_body_frame_is_a_zero_length_chunk);
	tcase_add_test(tc, header_or_body_while_a_method_is_expected_is_unexpected_frame);
	tcase_add_test(tc, method_or_body_while_the_header_is_expected_is_unexpected_frame);
	tcase_add_test(tc, method_or_header_while_body_is_expected_is_unexpected_frame);
	tcase_add_test(tc, header_for_another_class_is_unexpected_frame);
	tcase_add_test(tc, short_content_header_is_a_syntax_error);
	tcase_add_test(tc, malformed_properties_are_a_syntax_error);
	tcase_add_test(tc, body_beyond_the_declared_size_is_a_frame_error);
	tcase_add_test(tc, unknown_method_is_not_implemented_with_its_ids);
	tcase_add_test(tc, malformed_arguments_are_a_syntax_error_naming_the_method);
	tcase_add_test(tc, method_frame_without_ids_is_a_syntax_error);
	tcase_add_test(tc, assembler_accepts_a_new_message_after_a_complete_one);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(assembler_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
