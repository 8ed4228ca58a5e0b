/* tests/unit/amqp/test_frame.c: the protocol header and the frame envelope (amqp/frame.c):
 * partial input, oversize frames from the header alone, bad end octets, unknown types. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/frame.h"

/* channel.open on channel 1, written by hand */
static const uint8_t channel_open[] = {
	1, 0, 1, 0, 0, 0, 5, 0, 20, 0, 10, 0, 0xce,
};

START_TEST(protocol_header_is_accepted_exactly)
{
	ck_assert_int_eq(amqp_protocol_header_check((const uint8_t *)"AMQP\0\0\x09\x01", 8), 1);
}
END_TEST

START_TEST(protocol_header_prefix_asks_for_more)
{
	for (size_t len = 0; len < 8; len++)
		ck_assert_int_eq(amqp_protocol_header_check((const uint8_t *)"AMQP\0\0\x09\x01", len),
				 0);
}
END_TEST

START_TEST(other_protocol_headers_are_rejected)
{
	ck_assert_int_eq(amqp_protocol_header_check((const uint8_t *)"AMQP\x01\x01\x00\x0a", 8), -1);
	ck_assert_int_eq(amqp_protocol_header_check((const uint8_t *)"AMQP\0\0\x09\x00", 8), -1);
	ck_assert_int_eq(amqp_protocol_header_check((const uint8_t *)"GET / HT", 8), -1);
	ck_assert_int_eq(amqp_protocol_header_check((const uint8_t *)"AMQX", 4), -1);
}
END_TEST

START_TEST(method_frame_decodes_and_borrows_its_payload)
{
	struct amqp_frame f;
	enum amqp_frame_error err;

	ck_assert_int_eq(amqp_frame_decode(&f, channel_open, sizeof channel_open, 4096, &err),
			 (ssize_t)sizeof channel_open);
	ck_assert_int_eq(err, AMQP_FRAME_ERR_NONE);
	ck_assert_uint_eq(f.type, AMQP_FRAME_METHOD);
	ck_assert_uint_eq(f.channel, 1);
	ck_assert_uint_eq(f.size, 5);
	ck_assert_ptr_eq(f.payload, channel_open + 7);
}
END_TEST

START_TEST(heartbeat_frame_constant_decodes_as_a_heartbeat)
{
	struct amqp_frame f;
	enum amqp_frame_error err;

	ck_assert_int_eq(amqp_frame_decode(&f, amqp_heartbeat_frame, 8, 0, &err), 8);
	ck_assert_uint_eq(f.type, AMQP_FRAME_HEARTBEAT);
	ck_assert_uint_eq(f.channel, 0);
	ck_assert_uint_eq(f.size, 0);
}
END_TEST

START_TEST(partial_frame_asks_for_more_at_every_length)
{
	struct amqp_frame f;
	enum amqp_frame_error err;

	for (size_t len = 0; len < sizeof channel_open; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		memcpy(copy, channel_open, len);
		ck_assert_int_eq(amqp_frame_decode(&f, copy, len, 4096, &err), 0);
		ck_assert_int_eq(err, AMQP_FRAME_ERR_NONE);
		free(copy);
	}
}
END_TEST

START_TEST(two_frames_in_one_buffer_decode_one_at_a_time)
{
	uint8_t two[2 * sizeof channel_open];
	struct amqp_frame f;
	enum amqp_frame_error err;

	memcpy(two, channel_open, sizeof channel_open);
	memcpy(two + sizeof channel_open, channel_open, sizeof channel_open);
	ck_assert_int_eq(amqp_frame_decode(&f, two, sizeof two, 4096, &err),
			 (ssize_t)sizeof channel_open);
	ck_assert_int_eq(amqp_frame_decode(&f, two + sizeof channel_open, sizeof channel_open, 4096,
					   &err),
			 (ssize_t)sizeof channel_open);
}
END_TEST

START_TEST(bad_frame_end_is_reported_once_the_frame_is_complete)
{
	uint8_t bad[sizeof channel_open];
	struct amqp_frame f;
	enum amqp_frame_error err;

	memcpy(bad, channel_open, sizeof bad);
	bad[sizeof bad - 1] = 0;
	ck_assert_int_eq(amqp_frame_decode(&f, bad, sizeof bad - 1, 4096, &err), 0);
	ck_assert_int_eq(amqp_frame_decode(&f, bad, sizeof bad, 4096, &err), -1);
	ck_assert_int_eq(err, AMQP_FRAME_ERR_BAD_END);
	ck_assert_uint_eq(f.type, 1);
	ck_assert_uint_eq(f.size, 5);
	ck_assert_ptr_eq(f.payload, bad + 7);
}
END_TEST

START_TEST(unknown_type_is_reported_only_once_the_frame_is_complete)
{
	/* RabbitMQ: "type 9, all octets = <<"x">>: unknown_frame" */
	static const uint8_t type9[] = { 9, 0, 0, 0, 0, 0, 1, 'x', 0xce };
	struct amqp_frame f;
	enum amqp_frame_error err;

	ck_assert_int_eq(amqp_frame_decode(&f, type9, 8, 4096, &err), 0);
	ck_assert_int_eq(amqp_frame_decode(&f, type9, sizeof type9, 4096, &err), -1);
	ck_assert_int_eq(err, AMQP_FRAME_ERR_BAD_TYPE);
	ck_assert_uint_eq(f.type, 9);
	ck_assert_uint_eq(f.size, 1);
	ck_assert_uint_eq(f.payload[0], 'x');
}
END_TEST

START_TEST(bad_end_wins_over_unknown_type)
{
	static const uint8_t both[] = { 9, 0, 0, 0, 0, 0, 1, 'x', 0 };
	struct amqp_frame f;
	enum amqp_frame_error err;

	ck_assert_int_eq(amqp_frame_decode(&f, both, sizeof both, 4096, &err), -1);
	ck_assert_int_eq(err, AMQP_FRAME_ERR_BAD_END);
}
END_TEST

START_TEST(oversize_frame_is_detected_from_the_header_alone)
{
	/* RabbitMQ: {frame_too_large,5020,4088} with frame_max 4096 */
	static const uint8_t big[] = { 1, 0, 1, 0, 0, 0x13, 0x9c };
	static const uint8_t huge[] = { 3, 0, 1, 0xff, 0xff, 0xff, 0xff };
	struct amqp_frame f;
	enum amqp_frame_error err;

	ck_assert_int_eq(amqp_frame_decode(&f, big, sizeof big, 4096, &err), -1);
	ck_assert_int_eq(err, AMQP_FRAME_ERR_TOO_LARGE);
	ck_assert_uint_eq(f.size, 5020);
	ck_assert_uint_eq(f.type, 1);
	ck_assert_uint_eq(f.channel, 1);
	ck_assert_int_eq(amqp_frame_decode(&f, huge, sizeof huge, 131072, &err), -1);
	ck_assert_int_eq(err, AMQP_FRAME_ERR_TOO_LARGE);
	ck_assert_int_eq(amqp_frame_decode(&f, huge, sizeof huge, UINT32_MAX, &err), -1);
	ck_assert_int_eq(err, AMQP_FRAME_ERR_TOO_LARGE);
}
END_TEST

START_TEST(frame_of_exactly_frame_max_is_accepted)
{
	uint8_t *buf = calloc(1, 4096);
	struct amqp_frame f;
	enum amqp_frame_error err;

	amqp_frame_header_encode(buf, AMQP_FRAME_BODY, 3, 4096 - 8);
	buf[4095] = AMQP_FRAME_END;
	ck_assert_int_eq(amqp_frame_decode(&f, buf, 4096, 4096, &err), 4096);
	amqp_frame_header_encode(buf, AMQP_FRAME_BODY, 3, 4096 - 7);
	ck_assert_int_eq(amqp_frame_decode(&f, buf, 4096, 4096, &err), -1);
	ck_assert_int_eq(err, AMQP_FRAME_ERR_TOO_LARGE);
	free(buf);
}
END_TEST

START_TEST(frame_max_zero_means_no_limit)
{
	static const uint8_t big[] = { 3, 0, 1, 0x7f, 0xff, 0xff, 0xff };
	struct amqp_frame f;
	enum amqp_frame_error err;

	ck_assert_int_eq(amqp_frame_decode(&f, big, sizeof big, 0, &err), 0);
	ck_assert_int_eq(err, AMQP_FRAME_ERR_NONE);
}
END_TEST

START_TEST(frame_max_below_the_overhead_rejects_every_frame)
{
	struct amqp_frame f;
	enum amqp_frame_error err;

	ck_assert_int_eq(amqp_frame_decode(&f, amqp_heartbeat_frame, 8, 7, &err), -1);
	ck_assert_int_eq(err, AMQP_FRAME_ERR_TOO_LARGE);
}
END_TEST

START_TEST(frame_header_encodes_to_hand_written_bytes)
{
	static const uint8_t want[] = { 2, 0x01, 0x02, 0x00, 0x00, 0x01, 0x00 };
	uint8_t out[7];

	amqp_frame_header_encode(out, AMQP_FRAME_HEADER, 258, 256);
	ck_assert_int_eq(memcmp(out, want, sizeof want), 0);
}
END_TEST

static Suite *frame_suite(void)
{
	Suite *s = suite_create("amqp_frame");
	TCase *tc = tcase_create("frame");

	tcase_add_test(tc, protocol_header_is_accepted_exactly);
	tcase_add_test(tc, protocol_header_prefix_asks_for_more);
	tcase_add_test(tc, other_protocol_headers_are_rejected);
	tcase_add_test(tc, method_frame_decodes_and_borrows_its_payload);
	tcase_add_test(tc, heartbeat_frame_constant_decodes_as_a_heartbeat);
	tcase_add_test(tc, partial_frame_asks_for_more_at_every_length);
	tcase_add_test(tc, two_frames_in_one_buffer_decode_one_at_a_time);
	tcase_add_test(tc, bad_frame_end_is_reported_once_the_frame_is_complete);
	tcase_add_test(tc, unknown_type_is_reported_only_once_the_frame_is_complete);
	tcase_add_test(tc, bad_end_wins_over_unknown_type);
	tcase_add_test(tc, oversize_frame_is_detected_from_the_header_alone);
	tcase_add_test(tc, frame_of_exactly_frame_max_is_accepted);
	tcase_add_test(tc, frame_max_zero_means_no_limit);
	tcase_add_test(tc, frame_max_below_the_overhead_rejects_every_frame);
	tcase_add_test(tc, frame_header_encodes_to_hand_written_bytes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(frame_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
