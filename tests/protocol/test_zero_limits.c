/* channel_max = 0 and frame_max = 0 in the broker's configuration mean "no limit", as in
 * RabbitMQ 3.10: connection.tune proposes 0 for both, any channel number opens and there is no
 * cap on how many, and frames of any size are read (Warren stops at max_message_size plus the
 * frame overhead, because it holds a frame whole before handling it). Runs only with
 * PROTOCOL_PROFILE=zero-limits, against a broker started with those two settings.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

START_TEST(server_proposes_channel_max_0_and_frame_max_0)
{
	struct harness_conn *c = harness_connect();
	struct harness_frame tune;
	struct frame_reader r;

	harness_handshake_start(c, "guest", NULL, &tune);
	frame_reader_init(&r, tune.payload + 4, tune.size - 4);
	ck_assert_uint_eq(frame_reader_u16(&r), 0);
	ck_assert_uint_eq(frame_reader_u32(&r), 0);
	ck_assert(!r.failed);
	harness_frame_clear(&tune);
	/* A client echoing both zeros is accepted. */
	harness_handshake_finish_tuned(c, 0, 0, 0);
	harness_send(c, frame_channel_open(1));
	harness_expect_method(c, 1, CHANNEL_OPEN_OK, NULL);
	harness_conn_free(c);
}
END_TEST

START_TEST(thousands_of_channels_open_when_both_sides_say_channel_max_0)
{
	struct harness_conn *c = harness_open_channel_max(0, 0);
	enum { COUNT = 3000 };
	struct frame *batch = frame_new();

	for (uint32_t id = 1; id <= COUNT; id++)
		frame_join(batch, frame_channel_open((uint16_t)id));
	static bool seen[COUNT + 1];
	struct harness_frame f;

	harness_send(c, batch);
	/* RabbitMQ answers from one process per channel: open-oks may come in any order. */
	memset(seen, 0, sizeof seen);
	for (uint32_t n = 0; n < COUNT; n++) {
		ck_assert_int_eq(harness_read_frame(c, &f, HARNESS_TIMEOUT_MS), HARNESS_READ_FRAME);
		ck_assert_uint_eq(f.type, FRAME_METHOD);
		ck_assert_uint_eq(f.class_id, 20);
		ck_assert_uint_eq(f.method_id, 11);
		ck_assert(f.channel >= 1 && f.channel <= COUNT && !seen[f.channel]);
		seen[f.channel] = true;
		harness_frame_clear(&f);
	}
	harness_send(c, frame_channel_open(65535));
	harness_expect_method(c, 65535, CHANNEL_OPEN_OK, NULL);
	harness_conn_free(c);
}
END_TEST

START_TEST(a_client_channel_max_still_caps_the_count_when_the_server_has_none)
{
	struct harness_conn *c = harness_open_channel_max(2, 0);

	harness_send(c, frame_channel_open(10));
	harness_send(c, frame_channel_open(20));
	harness_expect_method(c, 10, CHANNEL_OPEN_OK, NULL);
	harness_expect_method(c, 20, CHANNEL_OPEN_OK, NULL);
	harness_send(c, frame_channel_open(30));
	harness_expect_connection_close(c, 530,
					"NOT_ALLOWED - number of channels opened (2) has reached "
					"the negotiated channel_max (2)",
					0, 0);
	harness_conn_free(c);
}
END_TEST

START_TEST(a_300000_byte_body_frame_is_read_when_frame_max_is_0)
{
	struct harness_conn *c = harness_open_channel_max(0, 0);
	struct harness_frame f;
	enum { SIZE = 300000 };
	char queue[256];
	char *body = malloc(SIZE);

	ck_assert_ptr_nonnull(body);
	for (size_t i = 0; i < SIZE; i++)
		body[i] = (char)('a' + i % 26);
	harness_send(c, frame_channel_open(1));
	harness_expect_method(c, 1, CHANNEL_OPEN_OK, NULL);
	harness_declare_queue(c, 1, queue, sizeof queue);
	harness_send(c, frame_join(frame_join(frame_basic_publish(1, "", queue, false, false),
					      frame_content_header(1, SIZE)),
				   frame_body(1, body, SIZE)));
	harness_send(c, frame_basic_get(1, queue, true));
	harness_expect_method(c, 1, BASIC_GET_OK, NULL);
	ck_assert_int_eq(harness_read_frame(c, &f, HARNESS_TIMEOUT_MS), HARNESS_READ_FRAME);
	ck_assert_uint_eq(f.type, FRAME_HEADER);
	harness_frame_clear(&f);
	/* The client said 0 too: the body may come back in one frame. */
	size_t got = 0;
	while (got < SIZE) {
		ck_assert_int_eq(harness_read_frame(c, &f, HARNESS_TIMEOUT_MS), HARNESS_READ_FRAME);
		ck_assert_uint_eq(f.type, FRAME_BODY);
		ck_assert_uint_le(got + f.size, SIZE);
		ck_assert_mem_eq(f.payload, body + got, f.size);
		got += f.size;
		harness_frame_clear(&f);
	}
	free(body);
	harness_conn_free(c);
}
END_TEST

START_TEST(a_frame_above_the_clients_own_frame_max_gets_501)
{
	struct harness_conn *c = harness_open_channel_max(0, 4096);
	static char body[5000];

	harness_send(c, frame_channel_open(1));
	harness_expect_method(c, 1, CHANNEL_OPEN_OK, NULL);
	harness_send(c, frame_body(1, body, sizeof body));
	harness_expect_connection_close(c, 501,
					"FRAME_ERROR - type 3, all octets = <<>>: "
					"{frame_too_large,5000,4088}",
					0, 0);
	harness_conn_free(c);
}
END_TEST

START_TEST(a_frame_larger_than_any_message_gets_501_at_its_header)
{
	struct harness_conn *c;
	struct frame *p;

	/* RabbitMQ 3.10 waits for all 4 GiB; Warren refuses once the header shows the size. */
	if (harness_is_external())
		return;
	c = harness_open_channel_max(0, 0);
	harness_send(c, frame_channel_open(1));
	harness_expect_method(c, 1, CHANNEL_OPEN_OK, NULL);
	p = frame_new();
	frame_put_u8(p, FRAME_BODY);
	frame_put_u16(p, 1);
	frame_put_u32(p, 0xfffffff0u);
	harness_send(c, p);
	harness_expect_connection_close(c, 501,
					"FRAME_ERROR - type 3, all octets = <<>>: "
					"{frame_too_large,4294967280,134217728}",
					0, 0);
	harness_conn_free(c);
}
END_TEST

Suite *suites_zero_limits(void)
{
	Suite *s = suite_create("zero_limits");
	TCase *tc = tcase_create("zero_limits");

	tcase_set_timeout(tc, SUITES_TEST_TIMEOUT);
	tcase_add_test(tc, server_proposes_channel_max_0_and_frame_max_0);
	tcase_add_test(tc, thousands_of_channels_open_when_both_sides_say_channel_max_0);
	tcase_add_test(tc, a_client_channel_max_still_caps_the_count_when_the_server_has_none);
	tcase_add_test(tc, a_300000_byte_body_frame_is_read_when_frame_max_is_0);
	tcase_add_test(tc, a_frame_above_the_clients_own_frame_max_gets_501);
	tcase_add_test(tc, a_frame_larger_than_any_message_gets_501_at_its_header);
	suite_add_tcase(s, tc);
	return s;
}
