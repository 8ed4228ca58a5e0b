/* Connection establishment: protocol header, connection.start contents, tune limits, login and
 * vhost failures. Expected texts are RabbitMQ 3.10's (reference section 0 and 1).
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

static void handshake_expect_version_reply(const char *greeting, size_t len)
{
	struct harness_conn *c = harness_connect();
	struct frame *f = frame_new();
	uint8_t reply[8];

	frame_put_bytes(f, greeting, len);
	harness_send(c, f);
	ck_assert_uint_eq(harness_read_bytes(c, reply, sizeof reply, HARNESS_TIMEOUT_MS), 8);
	ck_assert_mem_eq(reply, "AMQP\x00\x00\x09\x01", 8);
	harness_expect_eof(c, HARNESS_TIMEOUT_MS);
	harness_conn_free(c);
}

START_TEST(bad_protocol_header_gets_amqp_0_0_9_1_and_a_close)
{
	handshake_expect_version_reply("AMQP\x00\x00\x08\x00", 8);
}
END_TEST

START_TEST(http_request_gets_amqp_0_0_9_1_and_a_close)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

	handshake_expect_version_reply(req, sizeof req - 1);
}
END_TEST

static bool handshake_has_token(const uint8_t *p, uint32_t len, const char *token)
{
	size_t n = strlen(token);

	for (uint32_t i = 0; i < len;) {
		uint32_t j = i;
		while (j < len && p[j] != ' ')
			j++;
		if (j - i == n && memcmp(p + i, token, n) == 0)
			return true;
		i = j + 1;
	}
	return false;
}

static void handshake_check_capabilities(const uint8_t *p, uint32_t len)
{
	static const char *const expected[] = {
		"publisher_confirms",	    "exchange_exchange_bindings",
		"basic.nack",		    "consumer_cancel_notify",
		"connection.blocked",	    "consumer_priorities",
		"authentication_failure_close", "per_consumer_qos",
		"direct_reply_to",
	};
	struct frame_reader r;
	char key[256];
	size_t i = 0;

	frame_reader_init(&r, p, len);
	while (r.off < r.len && !r.failed) {
		frame_reader_shortstr(&r, key, sizeof key);
		uint8_t type = frame_reader_u8(&r);
		ck_assert_msg(i < sizeof expected / sizeof expected[0], "extra capability %s", key);
		ck_assert_str_eq(key, expected[i]);
		ck_assert_msg(type == 't', "capability %s has type '%c', not bool", key, type);
		ck_assert_msg(frame_reader_u8(&r) == 1, "capability %s is false", key);
		i++;
	}
	ck_assert(!r.failed);
	ck_assert_uint_eq(i, sizeof expected / sizeof expected[0]);
}

START_TEST(connection_start_carries_version_0_9_server_properties_and_nine_capabilities)
{
	struct harness_conn *c = harness_connect();
	struct harness_frame f;
	struct frame_reader r, props;
	uint32_t props_len, mech_len, locales_len;
	bool saw_caps = false, saw_product = false, saw_version = false, saw_platform = false;
	char key[256];

	harness_send(c, frame_protocol_header());
	harness_expect_method(c, 0, CONNECTION_START, &f);
	frame_reader_init(&r, f.payload + 4, f.size - 4);
	ck_assert_uint_eq(frame_reader_u8(&r), 0);
	ck_assert_uint_eq(frame_reader_u8(&r), 9);
	const uint8_t *props_p = frame_reader_longstr(&r, &props_len);
	const uint8_t *mech = frame_reader_longstr(&r, &mech_len);
	const uint8_t *locales = frame_reader_longstr(&r, &locales_len);
	ck_assert(!r.failed);
	ck_assert_uint_eq(r.off, r.len);

	frame_reader_init(&props, props_p, props_len);
	while (props.off < props.len && !props.failed) {
		frame_reader_shortstr(&props, key, sizeof key);
		uint8_t type = frame_reader_u8(&props);
		if (strcmp(key, "capabilities") == 0) {
			uint32_t caps_len;
			ck_assert_msg(type == 'F', "capabilities has type '%c'", type);
			const uint8_t *caps = frame_reader_longstr(&props, &caps_len);
			ck_assert(!props.failed);
			handshake_check_capabilities(caps, caps_len);
			saw_caps = true;
			continue;
		}
		if (strcmp(key, "product") == 0 || strcmp(key, "version") == 0 ||
		    strcmp(key, "platform") == 0) {
			ck_assert_msg(type == 'S', "%s has type '%c', not longstr", key, type);
			saw_product = saw_product || strcmp(key, "product") == 0;
			saw_version = saw_version || strcmp(key, "version") == 0;
			saw_platform = saw_platform || strcmp(key, "platform") == 0;
		}
		ck_assert_msg(frame_reader_field_skip(&props, type), "property %s has type '%c'",
			      key, type);
	}
	ck_assert(!props.failed);
	ck_assert(saw_caps);
	ck_assert(saw_product && saw_version && saw_platform);
	ck_assert_msg(handshake_has_token(mech, mech_len, "PLAIN"), "mechanisms '%.*s'",
		      (int)mech_len, (const char *)mech);
	ck_assert_msg(handshake_has_token(mech, mech_len, "AMQPLAIN"), "mechanisms '%.*s'",
		      (int)mech_len, (const char *)mech);
	ck_assert_uint_eq(locales_len, 5);
	ck_assert_mem_eq(locales, "en_US", 5);
	harness_frame_clear(&f);
	harness_conn_free(c);
}
END_TEST

START_TEST(server_proposes_channel_max_2047_frame_max_131072_heartbeat_60)
{
	struct harness_conn *c = harness_connect();
	struct harness_frame tune;
	struct frame_reader r;

	harness_handshake_start(c, "guest", NULL, &tune);
	frame_reader_init(&r, tune.payload + 4, tune.size - 4);
	ck_assert_uint_eq(frame_reader_u16(&r), 2047);
	ck_assert_uint_eq(frame_reader_u32(&r), 131072);
	ck_assert_uint_eq(frame_reader_u16(&r), 60);
	ck_assert(!r.failed);
	ck_assert_uint_eq(r.off, r.len);
	harness_frame_clear(&tune);
	harness_handshake_finish(c, HARNESS_FRAME_MAX, 0);
	harness_send(c, frame_connection_close(200, "bye"));
	harness_expect_method(c, 0, CONNECTION_CLOSE_OK, NULL);
	harness_conn_free(c);
}
END_TEST

static void handshake_expect_tune_refused(uint16_t channel_max, uint32_t frame_max)
{
	struct harness_conn *c = harness_connect();

	harness_handshake_start(c, "guest", NULL, NULL);
	harness_send(c, frame_connection_tune_ok(channel_max, frame_max, 0));
	harness_send_quiet(c, frame_connection_open("/"));
	harness_expect_eof(c, HARNESS_TIMEOUT_MS);
	harness_conn_free(c);
}

START_TEST(tune_ok_with_frame_max_above_131072_closes_the_socket_without_a_close_frame)
{
	handshake_expect_tune_refused(2047, 131073);
}
END_TEST

START_TEST(tune_ok_with_frame_max_below_4096_closes_the_socket_without_a_close_frame)
{
	handshake_expect_tune_refused(2047, 4095);
}
END_TEST

START_TEST(tune_ok_with_channel_max_0_closes_the_socket_without_a_close_frame)
{
	handshake_expect_tune_refused(0, 131072);
}
END_TEST

START_TEST(tune_ok_with_channel_max_above_2047_closes_the_socket_without_a_close_frame)
{
	handshake_expect_tune_refused(2048, 131072);
}
END_TEST

START_TEST(tune_ok_with_the_smallest_frame_max_4096_is_accepted)
{
	struct harness_conn *c = harness_open_tuned(4096, 0);

	harness_send(c, frame_channel_open(1));
	harness_expect_method(c, 1, CHANNEL_OPEN_OK, NULL);
	harness_conn_free(c);
}
END_TEST

START_TEST(wrong_password_gets_403_access_refused_when_the_client_asks_for_it)
{
	struct harness_conn *c = harness_connect();

	harness_send(c, frame_protocol_header());
	harness_expect_method(c, 0, CONNECTION_START, NULL);
	harness_send(c, frame_connection_start_ok("guest", "not-the-password"));
	harness_expect_connection_close(c, 403,
					"ACCESS_REFUSED - Login was refused using authentication "
					"mechanism PLAIN. For details see the broker logfile.",
					0, 0);
	harness_conn_free(c);
}
END_TEST

START_TEST(unknown_vhost_gets_530_not_allowed)
{
	struct harness_conn *c = harness_connect();

	harness_handshake_start(c, "guest", NULL, NULL);
	harness_send(c, frame_connection_tune_ok(HARNESS_CHANNEL_MAX, HARNESS_FRAME_MAX, 0));
	harness_send(c, frame_connection_open("nope"));
	harness_expect_connection_close(c, 530, "NOT_ALLOWED - vhost nope not found", 10, 40);
	harness_conn_free(c);
}
END_TEST

START_TEST(connection_close_from_the_client_gets_close_ok)
{
	struct harness_conn *c = harness_open_with_channel(1);

	harness_send(c, frame_connection_close(200, "Goodbye"));
	harness_expect_method(c, 0, CONNECTION_CLOSE_OK, NULL);
	/* After close-ok nothing more may come. Who hangs up is open: the spec leaves it to the
	 * side that sent close (RabbitMQ waits for it), but a server that hangs up is fine too. */
	struct harness_frame f;
	char got[512];
	enum harness_read rc = harness_read_frame(c, &f, 300);
	ck_assert_msg(rc == HARNESS_READ_TIMEOUT || rc == HARNESS_READ_EOF, "after close-ok: %s",
		      rc == HARNESS_READ_FRAME ? harness_frame_describe(&f, got, sizeof got)
					       : "bytes that are not a frame");
	harness_conn_free(c);
}
END_TEST

Suite *suites_handshake(void)
{
	Suite *s = suite_create("handshake");
	TCase *tc = tcase_create("handshake");

	tcase_set_timeout(tc, SUITES_TEST_TIMEOUT);
	tcase_add_test(tc, bad_protocol_header_gets_amqp_0_0_9_1_and_a_close);
	tcase_add_test(tc, http_request_gets_amqp_0_0_9_1_and_a_close);
	tcase_add_test(tc, connection_start_carries_version_0_9_server_properties_and_nine_capabilities);
	tcase_add_test(tc, server_proposes_channel_max_2047_frame_max_131072_heartbeat_60);
	tcase_add_test(tc, tune_ok_with_frame_max_above_131072_closes_the_socket_without_a_close_frame);
	tcase_add_test(tc, tune_ok_with_frame_max_below_4096_closes_the_socket_without_a_close_frame);
	tcase_add_test(tc, tune_ok_with_channel_max_0_closes_the_socket_without_a_close_frame);
	tcase_add_test(tc, tune_ok_with_channel_max_above_2047_closes_the_socket_without_a_close_frame);
	tcase_add_test(tc, tune_ok_with_the_smallest_frame_max_4096_is_accepted);
	tcase_add_test(tc, wrong_password_gets_403_access_refused_when_the_client_asks_for_it);
	tcase_add_test(tc, unknown_vhost_gets_530_not_allowed);
	tcase_add_test(tc, connection_close_from_the_client_gets_close_ok);
	suite_add_tcase(s, tc);
	return s;
}
