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
	tcase_add_test(tc, basic_qos_with_prefetch_size_gets_540_not_implemented);
	tcase_add_test(tc, publish_with_immediate_gets_540_not_implemented);
	tcase_add_test(tc, basic_recover_without_requeue_gets_540_not_implemented);
	tcase_add_test(tc, channel_flow_active_false_gets_540_not_implemented);
	tcase_add_test(tc, channel_flow_active_true_gets_flow_ok_active);
	tcase_add_test(tc, duplicate_consumer_tag_gets_530_not_allowed);
	suite_add_tcase(s, tc);
	return s;
}
