/* Channel lifecycle and the methods RabbitMQ refuses: which errors close only the channel, which
 * close the connection, and with which code and text (reference section 0).
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

START_TEST(channel_method_on_channel_0_gets_504_channel_error)
{
	struct harness_conn *c = harness_open();

	harness_send(c, frame_channel_open(0));
	harness_expect_connection_close(
		c, 504, "CHANNEL_ERROR - unexpected method in connection state running", 20, 10);
	harness_conn_free(c);
}
END_TEST

START_TEST(method_on_a_never_opened_channel_gets_504_channel_error)
{
	struct harness_conn *c = harness_open();

	harness_send(c, frame_queue_declare(3, "", QUEUE_EXCLUSIVE, NULL));
	harness_expect_connection_close(c, 504, "CHANNEL_ERROR - expected 'channel.open'", 50, 10);
	harness_conn_free(c);
}
END_TEST

START_TEST(second_channel_open_gets_504_channel_error)
{
	struct harness_conn *c = harness_open_with_channel(1);

	harness_send(c, frame_channel_open(1));
	harness_expect_connection_close(c, 504, "CHANNEL_ERROR - second 'channel.open' seen", 20, 10);
	harness_conn_free(c);
}
END_TEST

START_TEST(unsolicited_channel_close_ok_gets_503_command_invalid)
{
	struct harness_conn *c = harness_open_with_channel(1);

	harness_send(c, frame_channel_close_ok(1));
	harness_expect_connection_close(c, 503, "COMMAND_INVALID - unimplemented method", 20, 41);
	harness_conn_free(c);
}
END_TEST

START_TEST(channel_error_closes_only_the_channel_until_close_ok)
{
	struct harness_conn *c = harness_open_with_channel(1);
	char missing[128], text[256], queue[256];

	harness_send(c, frame_channel_open(2));
	harness_expect_method(c, 2, CHANNEL_OPEN_OK, NULL);
	harness_name(missing, sizeof missing, "missing");
	harness_send(c, frame_queue_declare(1, missing, QUEUE_PASSIVE, NULL));
	snprintf(text, sizeof text, "NOT_FOUND - no queue '%s' in vhost '/'", missing);
	harness_expect_channel_close(c, 1, 404, text);

	/* Until close-ok, everything on channel 1 is dropped, content frames included. (Not
	 * channel.open: RabbitMQ answers that one with 504 "second 'channel.open' seen".) */
	harness_send(c, frame_queue_declare(1, "", QUEUE_EXCLUSIVE, NULL));
	harness_send(c, frame_publish_message(1, "", "nowhere", "dropped"));
	harness_send(c, frame_basic_qos(1, 0, 5));
	harness_expect_silence(c, 500);

	/* The other channel never noticed. */
	harness_declare_queue(c, 2, queue, sizeof queue);
	harness_roundtrip(c, 2, queue, "still here");

	harness_send(c, frame_channel_close_ok(1));
	harness_send(c, frame_channel_open(1));
	harness_expect_method(c, 1, CHANNEL_OPEN_OK, NULL);
	harness_roundtrip(c, 1, queue, "reopened");
	harness_conn_free(c);
}
END_TEST

START_TEST(client_channel_close_gets_close_ok_and_the_number_can_be_reused)
{
	struct harness_conn *c = harness_open_with_channel(7);

	harness_send(c, frame_channel_close(7, 200, "bye"));
	harness_expect_method(c, 7, CHANNEL_CLOSE_OK, NULL);
	harness_send(c, frame_channel_open(7));
	harness_expect_method(c, 7, CHANNEL_OPEN_OK, NULL);
	harness_conn_free(c);
}
END_TEST

START_TEST(any_channel_number_up_to_65535_opens_and_works)
{
	struct harness_conn *c = harness_open();
	char queue[256];

	/* RabbitMQ caps how many channels are open, not which numbers: 2048 and 65535 are fine
	 * under channel_max 2047 (aio-pika, rolling channels, reaches such numbers). */
	harness_send(c, frame_channel_open(65535));
	harness_expect_method(c, 65535, CHANNEL_OPEN_OK, NULL);
	harness_send(c, frame_channel_open(2048));
	harness_expect_method(c, 2048, CHANNEL_OPEN_OK, NULL);
	harness_declare_queue(c, 65535, queue, sizeof queue);
	harness_roundtrip(c, 2048, queue, "through channel 2048");
	harness_roundtrip(c, 65535, queue, "through channel 65535");
	harness_send(c, frame_channel_close(65535, 200, "bye"));
	harness_expect_method(c, 65535, CHANNEL_CLOSE_OK, NULL);
	harness_conn_free(c);
}
END_TEST

START_TEST(one_channel_more_than_the_negotiated_channel_max_gets_530_not_allowed)
{
	struct harness_conn *c = harness_open_channel_max(3, HARNESS_FRAME_MAX);

	harness_send(c, frame_channel_open(100));
	harness_send(c, frame_channel_open(200));
	harness_send(c, frame_channel_open(300));
	harness_expect_method(c, 100, CHANNEL_OPEN_OK, NULL);
	harness_expect_method(c, 200, CHANNEL_OPEN_OK, NULL);
	harness_expect_method(c, 300, CHANNEL_OPEN_OK, NULL);
	/* A closed channel frees its place. */
	harness_send(c, frame_channel_close(200, 200, "bye"));
	harness_expect_method(c, 200, CHANNEL_CLOSE_OK, NULL);
	harness_send(c, frame_channel_open(7));
	harness_expect_method(c, 7, CHANNEL_OPEN_OK, NULL);
	harness_send(c, frame_channel_open(8));
	harness_expect_connection_close(c, 530,
					"NOT_ALLOWED - number of channels opened (3) has reached "
					"the negotiated channel_max (3)",
					0, 0);
	harness_conn_free(c);
}
END_TEST

START_TEST(a_channel_closed_by_the_server_counts_against_channel_max_until_its_close_ok)
{
	struct harness_conn *c = harness_open_channel_max(2, HARNESS_FRAME_MAX);
	char missing[128], text[256];

	harness_send(c, frame_channel_open(1));
	harness_send(c, frame_channel_open(2));
	harness_expect_method(c, 1, CHANNEL_OPEN_OK, NULL);
	harness_expect_method(c, 2, CHANNEL_OPEN_OK, NULL);
	harness_name(missing, sizeof missing, "missing");
	harness_send(c, frame_publish_message(2, missing, "k", "x"));
	snprintf(text, sizeof text, "NOT_FOUND - no exchange '%s' in vhost '/'", missing);
	harness_expect_channel_close(c, 2, 404, text);
	harness_send(c, frame_channel_close_ok(2));
	harness_send(c, frame_channel_open(3));
	harness_expect_method(c, 3, CHANNEL_OPEN_OK, NULL);
	harness_send(c, frame_publish_message(3, missing, "k", "x"));
	harness_expect_channel_close(c, 3, 404, text);
	harness_send(c, frame_channel_open(4)); /* 3 still waits for its close-ok */
	harness_expect_connection_close(c, 530,
					"NOT_ALLOWED - number of channels opened (2) has reached "
					"the negotiated channel_max (2)",
					0, 0);
	harness_conn_free(c);
}
END_TEST

START_TEST(a_close_crossing_the_servers_close_gets_close_ok_and_the_connection_lives)
{
	struct harness_conn *c = harness_open_with_channel(1);
	char missing[128], text[256], queue[256];

	harness_send(c, frame_channel_open(2));
	harness_expect_method(c, 2, CHANNEL_OPEN_OK, NULL);
	/* The publish fails on the server while the client is already closing the channel (one
	 * write): each side's close crosses the other's. */
	harness_name(missing, sizeof missing, "missing");
	harness_send(c, frame_join(frame_publish_message(1, missing, "k", "lost"),
				   frame_channel_close(1, 200, "bye")));
	snprintf(text, sizeof text, "NOT_FOUND - no exchange '%s' in vhost '/'", missing);
	harness_expect_channel_close(c, 1, 404, text);
	harness_expect_method(c, 1, CHANNEL_CLOSE_OK, NULL); /* to the client's close */
	/* The client answers the server's close: that close-ok ends the channel, not the
	 * connection (it was 504 "expected 'channel.open'"). */
	harness_send(c, frame_channel_close_ok(1));
	harness_expect_silence(c, 300);
	harness_declare_queue(c, 2, queue, sizeof queue);
	harness_roundtrip(c, 2, queue, "channel 2 still works");
	harness_send(c, frame_channel_open(1));
	harness_expect_method(c, 1, CHANNEL_OPEN_OK, NULL);
	harness_roundtrip(c, 1, queue, "channel 1 reopened");
	harness_conn_free(c);
}
END_TEST

START_TEST(every_close_on_a_closing_channel_gets_a_close_ok)
{
	struct harness_conn *c = harness_open_with_channel(1);
	char missing[128], text[256];

	harness_name(missing, sizeof missing, "missing");
	harness_send(c, frame_join(frame_join(frame_publish_message(1, missing, "k", "lost"),
					      frame_channel_close(1, 200, "bye")),
				   frame_channel_close(1, 200, "bye again")));
	snprintf(text, sizeof text, "NOT_FOUND - no exchange '%s' in vhost '/'", missing);
	harness_expect_channel_close(c, 1, 404, text);
	harness_expect_method(c, 1, CHANNEL_CLOSE_OK, NULL);
	harness_expect_method(c, 1, CHANNEL_CLOSE_OK, NULL);
	harness_send(c, frame_channel_close_ok(1));
	harness_send(c, frame_channel_open(1));
	harness_expect_method(c, 1, CHANNEL_OPEN_OK, NULL);
	harness_conn_free(c);
}
END_TEST

START_TEST(channel_open_before_the_close_ok_to_the_servers_close_gets_504)
{
	struct harness_conn *c = harness_open_with_channel(1);
	char missing[128], text[256];

	harness_name(missing, sizeof missing, "missing");
	harness_send(c, frame_join(frame_publish_message(1, missing, "k", "lost"),
				   frame_channel_close(1, 200, "bye")));
	snprintf(text, sizeof text, "NOT_FOUND - no exchange '%s' in vhost '/'", missing);
	harness_expect_channel_close(c, 1, 404, text);
	harness_expect_method(c, 1, CHANNEL_CLOSE_OK, NULL);
	/* The crossing close did not end the channel: the server still waits for its close-ok. */
	harness_send(c, frame_channel_open(1));
	harness_expect_connection_close(c, 504, "CHANNEL_ERROR - second 'channel.open' seen", 20,
					10);
	harness_conn_free(c);
}
END_TEST

START_TEST(basic_qos_with_prefetch_size_gets_540_not_implemented)
{
	struct harness_conn *c = harness_open_with_channel(1);

	harness_send(c, frame_basic_qos(1, 1000, 10));
	harness_expect_connection_close(c, 540, "NOT_IMPLEMENTED - prefetch_size!=0 (1000)", 60, 10);
	harness_conn_free(c);
}
END_TEST

START_TEST(publish_with_immediate_gets_540_not_implemented)
{
	struct harness_conn *c = harness_open_with_channel(1);
	char name[128];

	harness_name(name, sizeof name, "immediate");
	harness_send(c, frame_basic_publish(1, "", name, false, true));
	harness_send(c, frame_content_header(1, 2));
	harness_send(c, frame_body(1, "hi", 2));
	harness_expect_connection_close(c, 540, "NOT_IMPLEMENTED - immediate=true", 60, 40);
	harness_conn_free(c);
}
END_TEST

START_TEST(basic_recover_without_requeue_gets_540_not_implemented)
{
	struct harness_conn *c = harness_open_with_channel(1);
	struct frame *p = frame_method_payload(60, 110);

	frame_put_u8(p, 0); /* requeue=false */
	harness_send(c, frame_method(1, p));
	harness_expect_connection_close(c, 540, "NOT_IMPLEMENTED - requeue=false", 60, 110);
	harness_conn_free(c);
}
END_TEST

START_TEST(channel_flow_active_false_gets_540_not_implemented)
{
	struct harness_conn *c = harness_open_with_channel(1);

	harness_send(c, frame_channel_flow(1, false));
	harness_expect_connection_close(c, 540, "NOT_IMPLEMENTED - active=false", 20, 20);
	harness_conn_free(c);
}
END_TEST

START_TEST(channel_flow_active_true_gets_flow_ok_active)
{
	struct harness_conn *c = harness_open_with_channel(1);
	struct harness_frame f;

	harness_send(c, frame_channel_flow(1, true));
	harness_expect_method(c, 1, CHANNEL_FLOW_OK, &f);
	ck_assert_uint_eq(f.size, 5);
	ck_assert_uint_eq(f.payload[4], 1);
	harness_frame_clear(&f);
	harness_conn_free(c);
}
END_TEST

START_TEST(duplicate_consumer_tag_gets_530_not_allowed)
{
	struct harness_conn *c = harness_open_with_channel(1);
	struct harness_frame f;
	struct frame_reader r;
	char queue[256], tag[256];

	harness_declare_queue(c, 1, queue, sizeof queue);
	harness_send(c, frame_basic_consume(1, queue, "dup"));
	harness_expect_method(c, 1, BASIC_CONSUME_OK, &f);
	frame_reader_init(&r, f.payload + 4, f.size - 4);
	frame_reader_shortstr(&r, tag, sizeof tag);
	ck_assert_str_eq(tag, "dup");
	harness_frame_clear(&f);
	harness_send(c, frame_basic_consume(1, queue, "dup"));
	harness_expect_connection_close(c, 530, "NOT_ALLOWED - attempt to reuse consumer tag 'dup'",
					60, 20);
	harness_conn_free(c);
}
END_TEST

Suite *suites_channels(void)
{
	Suite *s = suite_create("channels");
	TCase *tc = tcase_create("channels");

	tcase_set_timeout(tc, SUITES_TEST_TIMEOUT);
	tcase_add_test(tc, channel_method_on_channel_0_gets_504_channel_error);
	tcase_add_test(tc, method_on_a_never_opened_channel_gets_504_channel_error);
	tcase_add_test(tc, second_channel_open_gets_504_channel_error);
	tcase_add_test(tc, unsolicited_channel_close_ok_gets_503_command_invalid);
	tcase_add_test(tc, channel_error_closes_only_the_channel_until_close_ok);
	tcase_add_test(tc, client_channel_close_gets_close_ok_and_the_number_can_be_reused);
	tcase_add_test(tc, any_channel_number_up_to_65535_opens_and_works);
	tcase_add_test(tc, one_channel_more_than_the_negotiated_channel_max_gets_530_not_allowed);
	tcase_add_test(tc,
		       a_channel_closed_by_the_server_counts_against_channel_max_until_its_close_ok);
	tcase_add_test(tc, a_close_crossing_the_servers_close_gets_close_ok_and_the_connection_lives);
	tcase_add_test(tc, every_close_on_a_closing_channel_gets_a_close_ok);
	tcase_add_test(tc, channel_open_before_the_close_ok_to_the_servers_close_gets_504);
	tcase_add_test(tc, basic_qos_with_prefetch_size_gets_540_not_implemented);
	tcase_add_test(tc, publish_with_immediate_gets_540_not_implemented);
	tcase_add_test(tc, basic_recover_without_requeue_gets_540_not_implemented);
	tcase_add_test(tc, channel_flow_active_false_gets_540_not_implemented);
	tcase_add_test(tc, channel_flow_active_true_gets_flow_ok_active);
	tcase_add_test(tc, duplicate_consumer_tag_gets_530_not_allowed);
	suite_add_tcase(s, tc);
	return s;
}
