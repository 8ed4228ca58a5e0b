/* conformance/rabbitmq-c/harness.c: connections, channels, replies and assertions for the
 * rabbitmq-c scenarios. */
#define _DEFAULT_SOURCE

#include "harness.h"

char scenario_url[1024];
char scenario_vhost[256];
char scenario_user[256];
char scenario_failure[2048];
int scenario_counter;

void scenario_fail(const char *fmt, ...)
{
	va_list ap;

	if (scenario_failure[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(scenario_failure, sizeof(scenario_failure), fmt, ap);
	va_end(ap);
}

void scenario_unique(char *buf, size_t len, const char *prefix)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	snprintf(buf, len, "conf.c.%s.%d.%ld%06ld.%d", prefix, (int)getpid(), (long)tv.tv_sec,
		 (long)tv.tv_usec, ++scenario_counter);
}

amqp_bytes_t scenario_bytes(const char *s)
{
	return amqp_cstring_bytes(s);
}

bool scenario_bytes_eq(amqp_bytes_t b, const char *s)
{
	return b.len == strlen(s) && memcmp(b.bytes, s, b.len) == 0;
}

void scenario_bytes_str(amqp_bytes_t b, char *buf, size_t len)
{
	size_t n = b.len < len - 1 ? b.len : len - 1;

	memcpy(buf, b.bytes, n);
	buf[n] = '\0';
}

amqp_connection_state_t conn_open(void)
{
	struct amqp_connection_info info;
	char url[1024];
	amqp_connection_state_t conn = amqp_new_connection();
	amqp_socket_t *sock;
	struct timeval tv = { .tv_sec = 5 };
	amqp_rpc_reply_t r;

	snprintf(url, sizeof(url), "%s", scenario_url);
	if (amqp_parse_url(url, &info) != AMQP_STATUS_OK)
		goto fail;
	info.vhost = scenario_vhost;
	sock = amqp_tcp_socket_new(conn);
	if (sock == NULL || amqp_socket_open_noblock(sock, info.host, info.port, &tv) != 0)
		goto fail;
	amqp_set_rpc_timeout(conn, &tv);
	r = amqp_login(conn, info.vhost, 2047, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user,
		       info.password);
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
		goto fail;
	return conn;
fail:
	amqp_destroy_connection(conn);
	return NULL;
}

void conn_close(amqp_connection_state_t conn)
{
	if (conn == NULL)
		return;
	amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(conn);
}

bool chan_open(amqp_connection_state_t conn, amqp_channel_t ch)
{
	amqp_channel_open(conn, ch);
	return amqp_get_rpc_reply(conn).reply_type == AMQP_RESPONSE_NORMAL;
}

/* The last RPC must have failed with a server close of the given kind, code and text
 * (text NULL: any; text starting with '~': a regular expression). A channel close is
 * answered with close-ok so the channel number can be reused. */
bool reply_is_close(amqp_connection_state_t conn, amqp_rpc_reply_t r, amqp_channel_t ch,
			   bool connection, int code, const char *text)
{
	char got[1024];
	int got_code;
	regex_t re;
	bool ok;

	if (r.reply_type != AMQP_RESPONSE_SERVER_EXCEPTION) {
		scenario_fail("expected a %s close %d, got reply type %d (%s)",
			      connection ? "connection" : "channel", code, r.reply_type,
			      r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ?
				      amqp_error_string2(r.library_error) :
				      "no error");
		return false;
	}
	if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
		amqp_channel_close_t *m = r.reply.decoded;
		amqp_channel_close_ok_t close_ok = { 0 };

		got_code = m->reply_code;
		scenario_bytes_str(m->reply_text, got, sizeof(got));
		amqp_send_method(conn, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok);
		if (connection) {
			scenario_fail("expected a connection close %d, got channel close %d %s", code,
				      got_code, got);
			return false;
		}
	} else if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
		amqp_connection_close_t *m = r.reply.decoded;
		amqp_connection_close_ok_t close_ok = { 0 };

		got_code = m->reply_code;
		scenario_bytes_str(m->reply_text, got, sizeof(got));
		amqp_send_method(conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &close_ok);
		if (!connection) {
			scenario_fail("expected a channel close %d, got connection close %d %s", code,
				      got_code, got);
			return false;
		}
	} else {
		scenario_fail("unexpected server method 0x%08x", r.reply.id);
		return false;
	}
	if (got_code != code) {
		scenario_fail("reply code %d, want %d (%s)", got_code, code, got);
		return false;
	}
	if (text == NULL)
		return true;
	if (text[0] != '~') {
		if (strcmp(got, text) != 0) {
			scenario_fail("reply text \"%s\", want \"%s\"", got, text);
			return false;
		}
		return true;
	}
	if (regcomp(&re, text + 1, REG_EXTENDED | REG_NOSUB) != 0) {
		scenario_fail("bad pattern %s", text);
		return false;
	}
	ok = regexec(&re, got, 0, NULL, 0) == 0;
	regfree(&re);
	if (!ok)
		scenario_fail("reply text \"%s\" does not match /%s/", got, text + 1);
	return ok;
}

bool last_is_close(amqp_connection_state_t conn, amqp_channel_t ch, bool connection,
			  int code, const char *text)
{
	return reply_is_close(conn, amqp_get_rpc_reply(conn), ch, connection, code, text);
}

/* Wait up to ms for a method frame on any channel; returns its id or 0. When the method
 * carries content (basic.return, basic.deliver), the content is read into *msg if given. */
amqp_method_number_t wait_method(amqp_connection_state_t conn, int ms, amqp_frame_t *out,
					amqp_message_t *msg)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	amqp_frame_t frame;

	for (;;) {
		if (amqp_simple_wait_frame_noblock(conn, &frame, &tv) != AMQP_STATUS_OK)
			return 0;
		if (frame.frame_type != AMQP_FRAME_METHOD)
			continue;
		*out = frame;
		if (msg != NULL && amqp_method_has_content(frame.payload.method.id)) {
			if (amqp_read_message(conn, frame.channel, msg, 0).reply_type !=
			    AMQP_RESPONSE_NORMAL)
				return 0;
		}
		return frame.payload.method.id;
	}
}

amqp_bytes_t declare_exclusive(amqp_connection_state_t conn, amqp_channel_t ch)
{
	amqp_queue_declare_ok_t *ok = amqp_queue_declare(conn, ch, amqp_empty_bytes, 0, 0, 1, 0,
							 amqp_empty_table);

	return ok != NULL ? amqp_bytes_malloc_dup(ok->queue) : amqp_empty_bytes;
}

int publish(amqp_connection_state_t conn, amqp_channel_t ch, const char *x,
		   amqp_bytes_t rk, bool mandatory, bool immediate, const char *body)
{
	amqp_basic_properties_t props = { 0 };

	props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
	props.content_type = scenario_bytes("text/plain");
	props.delivery_mode = 1;
	return amqp_basic_publish(conn, ch, scenario_bytes(x), rk, mandatory, immediate, &props,
				  scenario_bytes(body));
}

/* basic.get one message and compare its body; returns false on mismatch or empty. */
bool get_body(amqp_connection_state_t conn, amqp_channel_t ch, amqp_bytes_t q,
		     const char *want, bool no_ack, uint64_t *tag)
{
	amqp_rpc_reply_t r = amqp_basic_get(conn, ch, q, no_ack);
	amqp_message_t msg;
	bool ok;

	if (r.reply_type != AMQP_RESPONSE_NORMAL || r.reply.id != AMQP_BASIC_GET_OK_METHOD) {
		scenario_fail("basic.get: no message (want %s)", want);
		return false;
	}
	if (tag != NULL)
		*tag = ((amqp_basic_get_ok_t *)r.reply.decoded)->delivery_tag;
	if (amqp_read_message(conn, ch, &msg, 0).reply_type != AMQP_RESPONSE_NORMAL) {
		scenario_fail("basic.get: reading content failed");
		return false;
	}
	ok = scenario_bytes_eq(msg.body, want);
	if (!ok)
		scenario_fail("body \"%.*s\", want \"%s\"", (int)msg.body.len,
			      (char *)msg.body.bytes, want);
	amqp_destroy_message(&msg);
	return ok;
}

bool queue_count(amqp_connection_state_t conn, amqp_channel_t ch, amqp_bytes_t q,
			uint32_t want)
{
	amqp_queue_declare_ok_t *ok = amqp_queue_declare(conn, ch, q, 1, 0, 0, 0,
							 amqp_empty_table);

	if (ok == NULL) {
		scenario_fail("passive declare failed");
		return false;
	}
	if (ok->message_count != want) {
		scenario_fail("message count %u, want %u", ok->message_count, want);
		return false;
	}
	return true;
}
