/* Conformance scenarios driven by rabbitmq-c (Debian librabbitmq 0.11).
 *
 * Build: cc -std=c11 -O1 -Wall -Wextra -o scenarios scenarios.c harness.c -lrabbitmq
 * Run:   ./scenarios amqp://guest:guest@127.0.0.1:5673/
 *
 * Each scenario runs in a forked child with an alarm, so a hang or crash fails only that
 * scenario. Environment: CONFORMANCE_TARGET (rabbitmq|warren), CONFORMANCE_FILTER (substring),
 * CONFORMANCE_TIMEOUT (seconds). Output matches the other clients:
 * "ok - <name>", "FAIL - <name>: <why>", then "rabbitmq-c: N passed, M failed".
 */
#define _DEFAULT_SOURCE

#include "harness.h"

/* ---------------------------------------------------------------- scenarios */

static int scenario_connect(void)
{
	amqp_connection_state_t conn = conn_open();
	const amqp_table_t *props;
	const char *caps[] = { "publisher_confirms", "exchange_exchange_bindings", "basic.nack",
			       "consumer_cancel_notify", "connection.blocked",
			       "consumer_priorities", "authentication_failure_close",
			       "per_consumer_qos", "direct_reply_to" };
	const amqp_table_t *cap_table = NULL;

	CHECK(conn != NULL, "connect failed");
	CHECK(chan_open(conn, 1), "channel.open failed");
	props = amqp_get_server_properties(conn);
	for (int i = 0; i < props->num_entries; i++) {
		if (scenario_bytes_eq(props->entries[i].key, "capabilities") &&
		    props->entries[i].value.kind == AMQP_FIELD_KIND_TABLE)
			cap_table = &props->entries[i].value.value.table;
	}
	CHECK(cap_table != NULL, "no capabilities table");
	for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		bool found = false;

		for (int i = 0; i < cap_table->num_entries; i++) {
			const amqp_table_entry_t *e = &cap_table->entries[i];

			if (scenario_bytes_eq(e->key, caps[c]) &&
			    e->value.kind == AMQP_FIELD_KIND_BOOLEAN && e->value.value.boolean)
				found = true;
		}
		CHECK(found, "capability %s missing or false", caps[c]);
	}
	amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
out:
	conn_close(conn);
	return 0;
}

static int scenario_exchange_types(void)
{
	amqp_connection_state_t conn = conn_open();
	const char *types[] = { "direct", "fanout", "topic", "headers" };
	char x[256];

	CHECK(conn != NULL && chan_open(conn, 1), "connect failed");
	for (int i = 0; i < 4; i++) {
		scenario_unique(x, sizeof(x), "x");
		CHECK(amqp_exchange_declare(conn, 1, scenario_bytes(x), scenario_bytes(types[i]), 0,
					    0, 0, 0, amqp_empty_table) != NULL,
		      "declare %s failed", types[i]);
		CHECK(amqp_exchange_delete(conn, 1, scenario_bytes(x), 0) != NULL, "delete failed");
	}
out:
	conn_close(conn);
	return 0;
}

static int scenario_missing_exchange(void)
{
	amqp_connection_state_t conn = conn_open();
	char x[256], want[1024];

	CHECK(conn != NULL && chan_open(conn, 1), "connect failed");
	scenario_unique(x, sizeof(x), "nope");
	snprintf(want, sizeof(want), "NOT_FOUND - no exchange '%s' in vhost '%s'", x,
		 scenario_vhost);
	amqp_exchange_declare(conn, 1, scenario_bytes(x), scenario_bytes("direct"), 1, 0, 0, 0,
			      amqp_empty_table);
	CHECK(last_is_close(conn, 1, false, 404, want), "");
	CHECK(chan_open(conn, 1), "channel 1 could not be reopened after close-ok");
	CHECK(amqp_exchange_declare(conn, 1, scenario_bytes("amq.direct"), scenario_bytes("direct"),
				    1, 0, 0, 0, amqp_empty_table) != NULL,
	      "passive declare of amq.direct failed");
out:
	conn_close(conn);
	return 0;
}

static int scenario_reserved_names(void)
{
	amqp_connection_state_t conn = conn_open();

	CHECK(conn != NULL && chan_open(conn, 1), "connect failed");
	amqp_exchange_declare(conn, 1, scenario_bytes("amq.c"), scenario_bytes("direct"), 0, 0, 0,
			      0, amqp_empty_table);
	CHECK(last_is_close(conn, 1, false, 403,
			    "ACCESS_REFUSED - exchange name 'amq.c' contains reserved prefix "
			    "'amq.*'"),
	      "");
	CHECK(chan_open(conn, 1), "reopen");
	amqp_queue_declare(conn, 1, scenario_bytes("amq.c"), 0, 0, 0, 0, amqp_empty_table);
	CHECK(last_is_close(conn, 1, false, 403,
			    "ACCESS_REFUSED - queue name 'amq.c' contains reserved prefix 'amq.*'"),
	      "");
out:
	conn_close(conn);
	return 0;
}

static int scenario_unknown_type(void)
{
	amqp_connection_state_t conn = conn_open();
	amqp_rpc_reply_t r;
	char x[256];

	CHECK(conn != NULL && chan_open(conn, 1), "connect failed");
	scenario_unique(x, sizeof(x), "x");
	amqp_exchange_declare(conn, 1, scenario_bytes(x), scenario_bytes("foo"), 0, 0, 0, 0,
			      amqp_empty_table);
	r = amqp_get_rpc_reply(conn);
	CHECK(r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION, "declare of type foo succeeded");
	if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD)
		CHECK(reply_is_close(conn, r, 1, true, 503,
				     "COMMAND_INVALID - invalid exchange type 'foo'"),
		      "");
	else
		CHECK(reply_is_close(conn, r, 1, false, 406, "~unknown exchange type 'foo'"), "");
out:
	conn_close(conn);
	return 0;
}

static int scenario_bind_publish_get(void)
{
	amqp_connection_state_t conn = conn_open();
	amqp_bytes_t q = amqp_empty_bytes;
	char x[256], qname[300];
	regex_t re;
	amqp_rpc_reply_t r;

	CHECK(conn != NULL && chan_open(conn, 1), "connect failed");
	q = declare_exclusive(conn, 1);
	CHECK(q.len > 0, "queue.declare failed");
	scenario_bytes_str(q, qname, sizeof(qname));
	regcomp(&re, "^amq\\.gen-[A-Za-z0-9_-]{22}$", REG_EXTENDED | REG_NOSUB);
	CHECK(regexec(&re, qname, 0, NULL, 0) == 0, "server-named queue %s", qname);
	regfree(&re);
	scenario_unique(x, sizeof(x), "x");
	CHECK(amqp_exchange_declare(conn, 1, scenario_bytes(x), scenario_bytes("topic"), 0, 0, 1, 0,
				    amqp_empty_table) != NULL,
	      "exchange.declare failed");
	CHECK(amqp_queue_bind(conn, 1, q, scenario_bytes(x), scenario_bytes("a.#"),
			      amqp_empty_table) != NULL,
	      "queue.bind failed");
	CHECK(publish(conn, 1, x, scenario_bytes("a.b.c"), false, false, "routed") == 0, "publish");
	CHECK(publish(conn, 1, x, scenario_bytes("b.a"), false, false, "dropped") == 0, "publish");
	usleep(200 * 1000);
	CHECK(get_body(conn, 1, q, "routed", true, NULL), "");
	r = amqp_basic_get(conn, 1, q, 1);
	CHECK(r.reply_type == AMQP_RESPONSE_NORMAL && r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD,
	      "expected basic.get-empty");
	CHECK(amqp_queue_unbind(conn, 1, q, scenario_bytes(x), scenario_bytes("a.#"),
				amqp_empty_table) != NULL,
	      "queue.unbind failed");
out:
	amqp_bytes_free(q);
	conn_close(conn);
	return 0;
}

static int scenario_consume_ack(void)
{
	amqp_connection_state_t conn = conn_open();
	amqp_bytes_t q = amqp_empty_bytes;
	amqp_basic_consume_ok_t *ok;
	amqp_envelope_t env;
	struct timeval tv = { .tv_sec = 2 };
	char tag[128];
	regex_t re;

	CHECK(conn != NULL && chan_open(conn, 1), "connect failed");
	q = declare_exclusive(conn, 1);
	CHECK(q.len > 0, "queue.declare failed");
	for (int i = 0; i < 3; i++)
		publish(conn, 1, "", q, false, false, i == 0 ? "m0" : i == 1 ? "m1" : "m2");
	CHECK(amqp_basic_qos(conn, 1, 0, 1, 0) != NULL, "basic.qos failed");
	ok = amqp_basic_consume(conn, 1, q, amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	CHECK(ok != NULL, "basic.consume failed");
	scenario_bytes_str(ok->consumer_tag, tag, sizeof(tag));
	regcomp(&re, "^amq\\.ctag-[A-Za-z0-9_-]{22}$", REG_EXTENDED | REG_NOSUB);
	CHECK(regexec(&re, tag, 0, NULL, 0) == 0, "consumer tag %s", tag);
	regfree(&re);
	for (int i = 0; i < 3; i++) {
		char want[8];

		snprintf(want, sizeof(want), "m%d", i);
		CHECK(amqp_consume_message(conn, &env, &tv, 0).reply_type == AMQP_RESPONSE_NORMAL,
		      "no delivery %d", i);
		CHECK(scenario_bytes_eq(env.message.body, want), "delivery %d body", i);
		CHECK(env.delivery_tag == (uint64_t)i + 1, "delivery tag %llu",
		      (unsigned long long)env.delivery_tag);
		CHECK(!env.redelivered, "first delivery marked redelivered");
		amqp_destroy_envelope(&env);
		CHECK(amqp_basic_ack(conn, 1, (uint64_t)i + 1, 0) == 0, "ack failed");
	}
	CHECK(amqp_basic_cancel(conn, 1, scenario_bytes(tag)) != NULL, "basic.cancel failed");
	CHECK(queue_count(conn, 1, q, 0), "");
out:
	amqp_bytes_free(q);
	conn_close(conn);
	return 0;
}

static int scenario_reject_requeue(void)
{
	amqp_connection_state_t conn = conn_open();
	amqp_bytes_t q = amqp_empty_bytes;
	uint64_t t0, t1;
	amqp_rpc_reply_t r;

	CHECK(conn != NULL && chan_open(conn, 1), "connect failed");
	q = declare_exclusive(conn, 1);
	publish(conn, 1, "", q, false, false, "a");
	publish(conn, 1, "", q, false, false, "b");
	usleep(150 * 1000);
	CHECK(get_body(conn, 1, q, "a", false, &t0), "");
	CHECK(get_body(conn, 1, q, "b", false, &t1), "");
	CHECK(amqp_basic_reject(conn, 1, t1, 1) == 0, "reject");
	CHECK(amqp_basic_nack(conn, 1, t0, 0, 1) == 0, "nack");
	r = amqp_basic_get(conn, 1, q, 1);
	CHECK(r.reply_type == AMQP_RESPONSE_NORMAL && r.reply.id == AMQP_BASIC_GET_OK_METHOD,
	      "requeued message missing");
	CHECK(((amqp_basic_get_ok_t *)r.reply.decoded)->redelivered, "redelivered flag not set");
	{
		amqp_message_t msg;

		CHECK(amqp_read_message(conn, 1, &msg, 0).reply_type == AMQP_RESPONSE_NORMAL,
		      "content");
		CHECK(scenario_bytes_eq(msg.body, "a"), "requeued to its original position");
		amqp_destroy_message(&msg);
	}
	amqp_basic_ack(conn, 1, 99, 0);
	amqp_queue_declare(conn, 1, q, 1, 0, 0, 0, amqp_empty_table);
	CHECK(last_is_close(conn, 1, false, 406, "PRECONDITION_FAILED - unknown delivery tag 99"),
	      "");
out:
	amqp_bytes_free(q);
	conn_close(conn);
	return 0;
}

static int scenario_confirms(void)
{
	amqp_connection_state_t conn = conn_open();
	amqp_bytes_t q = amqp_empty_bytes;
	amqp_frame_t f;
	uint64_t acked = 0;

	CHECK(conn != NULL && chan_open(conn, 1), "connect failed");
	q = declare_exclusive(conn, 1);
	CHECK(amqp_confirm_select(conn, 1) != NULL, "confirm.select failed");
	for (int i = 0; i < 10; i++)
		CHECK(publish(conn, 1, "", q, false, false, "c") == 0, "publish");
	while (acked < 10) {
		amqp_basic_ack_t *ack;

		CHECK(wait_method(conn, 2000, &f, NULL) == AMQP_BASIC_ACK_METHOD,
		      "expected basic.ack (acked up to %llu)", (unsigned long long)acked);
		ack = f.payload.method.decoded;
		CHECK(ack->delivery_tag > acked, "ack tags must increase");
		CHECK(ack->multiple || ack->delivery_tag == acked + 1, "a single ack skipped a tag");
		acked = ack->delivery_tag;
	}
	CHECK(queue_count(conn, 1, q, 10), "");
out:
	amqp_bytes_free(q);
	conn_close(conn);
	return 0;
}

static int scenario_mandatory_return(void)
{
	amqp_connection_state_t conn = conn_open();
	amqp_frame_t f;
	amqp_message_t msg;
	amqp_basic_return_t *ret;
	char rk[256];

	CHECK(conn != NULL && chan_open(conn, 1), "connect failed");
	CHECK(amqp_confirm_select(conn, 1) != NULL, "confirm.select failed");
	scenario_unique(rk, sizeof(rk), "nowhere");
	CHECK(publish(conn, 1, "amq.direct", scenario_bytes(rk), true, false, "lost") == 0,
	      "publish");
	CHECK(wait_method(conn, 2000, &f, &msg) == AMQP_BASIC_RETURN_METHOD,
	      "expected basic.return first");
	ret = f.payload.method.decoded;
	CHECK(ret->reply_code == 312 && scenario_bytes_eq(ret->reply_text, "NO_ROUTE"),
	      "return %d %.*s", ret->reply_code, (int)ret->reply_text.len,
	      (char *)ret->reply_text.bytes);
	CHECK(scenario_bytes_eq(ret->exchange, "amq.direct") &&
		      scenario_bytes_eq(ret->routing_key, rk),
	      "return exchange/routing key");
	CHECK(scenario_bytes_eq(msg.body, "lost"), "returned body");
	amqp_destroy_message(&msg);
	CHECK(wait_method(conn, 2000, &f, NULL) == AMQP_BASIC_ACK_METHOD,
	      "expected basic.ack after the return");
out:
	conn_close(conn);
	return 0;
}

static int scenario_tx(void)
{
	amqp_connection_state_t conn = conn_open();
	amqp_bytes_t q = amqp_empty_bytes;

	CHECK(conn != NULL && chan_open(conn, 1) && chan_open(conn, 2), "connect failed");
	q = declare_exclusive(conn, 1);
	amqp_tx_commit(conn, 2);
	CHECK(last_is_close(conn, 2, false, 406, "PRECONDITION_FAILED - channel is not transactional"),
	      "");
	CHECK(amqp_tx_select(conn, 1) != NULL, "tx.select");
	publish(conn, 1, "", q, false, false, "rolled-back");
	CHECK(amqp_tx_rollback(conn, 1) != NULL, "tx.rollback");
	publish(conn, 1, "", q, false, false, "committed");
	CHECK(queue_count(conn, 1, q, 0), "");
	CHECK(amqp_tx_commit(conn, 1) != NULL, "tx.commit");
	CHECK(queue_count(conn, 1, q, 1), "");
	CHECK(get_body(conn, 1, q, "committed", true, NULL), "");
	amqp_confirm_select(conn, 1);
	CHECK(last_is_close(conn, 1, false, 406,
			    "PRECONDITION_FAILED - cannot switch from tx to confirm mode"),
	      "");
out:
	amqp_bytes_free(q);
	conn_close(conn);
	return 0;
}

static int scenario_exclusive_locked(void)
{
	amqp_connection_state_t owner = conn_open();
	amqp_connection_state_t other = conn_open();
	amqp_bytes_t q = amqp_empty_bytes;
	char qname[300], want[1024];

	CHECK(owner != NULL && other != NULL && chan_open(owner, 1) && chan_open(other, 1),
	      "connect failed");
	q = declare_exclusive(owner, 1);
	scenario_bytes_str(q, qname, sizeof(qname));
	snprintf(want, sizeof(want),
		 "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '%s' in vhost "
		 "'%s'. It could be originally declared on another connection or the exclusive "
		 "property value does not match that of the original declaration.",
		 qname, scenario_vhost);
	amqp_basic_get(other, 1, q, 1);
	CHECK(last_is_close(other, 1, false, 405, want), "");
out:
	amqp_bytes_free(q);
	conn_close(owner);
	conn_close(other);
	return 0;
}

static int scenario_args_mismatch(void)
{
	amqp_connection_state_t conn = conn_open();
	amqp_table_entry_t e10 = { .key = amqp_cstring_bytes("x-max-length"),
				   .value = { .kind = AMQP_FIELD_KIND_I32,
					      .value = { .i32 = 10 } } };
	amqp_table_entry_t e20 = e10;
	amqp_table_t t10 = { 1, &e10 }, t20 = { 1, &e20 };
	char q[256], want[1024];

	e20.value.value.i32 = 20;
	CHECK(conn != NULL && chan_open(conn, 1), "connect failed");
	scenario_unique(q, sizeof(q), "q");
	CHECK(amqp_queue_declare(conn, 1, scenario_bytes(q), 0, 0, 1, 0, t10) != NULL, "declare");
	amqp_queue_declare(conn, 1, scenario_bytes(q), 0, 0, 1, 0, t20);
	snprintf(want, sizeof(want),
		 "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '%s' in vhost "
		 "'%s': received '20' but current is '10'",
		 q, scenario_vhost);
	CHECK(last_is_close(conn, 1, false, 406, want), "");
	CHECK(chan_open(conn, 1), "reopen");
	amqp_queue_declare(conn, 1, scenario_bytes(q), 0, 0, 1, 0, amqp_empty_table);
	snprintf(want, sizeof(want),
		 "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '%s' in vhost "
		 "'%s': received none but current is the value '10' of type 'signedint'",
		 q, scenario_vhost);
	CHECK(last_is_close(conn, 1, false, 406, want), "");
out:
	conn_close(conn);
	return 0;
}

static int scenario_purge_delete(void)
{
	amqp_connection_state_t conn = conn_open();
	amqp_queue_purge_ok_t *purged;
	amqp_queue_delete_ok_t *deleted;
	char q[256], want[1024];

	CHECK(conn != NULL && chan_open(conn, 1), "connect failed");
	scenario_unique(q, sizeof(q), "q");
	CHECK(amqp_queue_declare(conn, 1, scenario_bytes(q), 0, 0, 0, 0, amqp_empty_table) != NULL,
	      "declare");
	for (int i = 0; i < 4; i++)
		publish(conn, 1, "", scenario_bytes(q), false, false, "p");
	usleep(150 * 1000);
	amqp_queue_delete(conn, 1, scenario_bytes(q), 0, 1);
	snprintf(want, sizeof(want), "PRECONDITION_FAILED - queue '%s' in vhost '%s' not empty", q,
		 scenario_vhost);
	CHECK(last_is_close(conn, 1, false, 406, want), "");
	CHECK(chan_open(conn, 1), "reopen");
	purged = amqp_queue_purge(conn, 1, scenario_bytes(q));
	CHECK(purged != NULL && purged->message_count == 4, "purge count");
	publish(conn, 1, "", scenario_bytes(q), false, false, "p");
	usleep(100 * 1000);
	deleted = amqp_queue_delete(conn, 1, scenario_bytes(q), 0, 0);
	CHECK(deleted != NULL && deleted->message_count == 1, "delete count");
	deleted = amqp_queue_delete(conn, 1, scenario_bytes(q), 0, 0);
	CHECK(deleted != NULL && deleted->message_count == 0, "deleting a missing queue");
out:
	conn_close(conn);
	return 0;
}

static int scenario_dup_consumer_tag(void)
{
	amqp_connection_state_t conn = conn_open();
	amqp_bytes_t q = amqp_empty_bytes;

	CHECK(conn != NULL && chan_open(conn, 1), "connect failed");
	q = declare_exclusive(conn, 1);
	CHECK(amqp_basic_consume(conn, 1, q, scenario_bytes("dup"), 0, 1, 0, amqp_empty_table) !=
		      NULL,
	      "first consume");
	amqp_basic_consume(conn, 1, q, scenario_bytes("dup"), 0, 1, 0, amqp_empty_table);
	CHECK(last_is_close(conn, 1, true, 530, "NOT_ALLOWED - attempt to reuse consumer tag 'dup'"),
	      "");
out:
	amqp_bytes_free(q);
	amqp_destroy_connection(conn);
	return 0;
}

static int scenario_immediate(void)
{
	amqp_connection_state_t conn = conn_open();
	amqp_bytes_t q = amqp_empty_bytes;

	CHECK(conn != NULL && chan_open(conn, 1), "connect failed");
	q = declare_exclusive(conn, 1);
	publish(conn, 1, "", q, false, true, "now");
	amqp_queue_declare(conn, 1, q, 1, 0, 0, 0, amqp_empty_table);
	CHECK(last_is_close(conn, 1, true, 540, "NOT_IMPLEMENTED - immediate=true"), "");
out:
	amqp_bytes_free(q);
	amqp_destroy_connection(conn);
	return 0;
}

static int scenario_prefetch_size(void)
{
	amqp_connection_state_t conn = conn_open();

	CHECK(conn != NULL && chan_open(conn, 1), "connect failed");
	amqp_basic_qos(conn, 1, 1000, 0, 0);
	CHECK(last_is_close(conn, 1, true, 540, "NOT_IMPLEMENTED - prefetch_size!=0 (1000)"), "");
out:
	amqp_destroy_connection(conn);
	return 0;
}

static int scenario_default_exchange(void)
{
	amqp_connection_state_t conn = conn_open();
	amqp_bytes_t q = amqp_empty_bytes;

	CHECK(conn != NULL && chan_open(conn, 1), "connect failed");
	q = declare_exclusive(conn, 1);
	publish(conn, 1, "", q, false, false, "via-default");
	usleep(100 * 1000);
	CHECK(get_body(conn, 1, q, "via-default", true, NULL), "");
	amqp_queue_bind(conn, 1, q, amqp_empty_bytes, q, amqp_empty_table);
	CHECK(last_is_close(conn, 1, false, 403,
			    "ACCESS_REFUSED - operation not permitted on the default exchange"),
	      "");
out:
	amqp_bytes_free(q);
	conn_close(conn);
	return 0;
}

/* Run an amqp-tools command with the connection options and return its first output line. */
static bool tool_run(const char *cmd, const char *args, char *out, size_t out_len)
{
	struct amqp_connection_info info;
	char url[1024], line[4096];
	FILE *p;
	int rc;

	snprintf(url, sizeof(url), "%s", scenario_url);
	if (amqp_parse_url(url, &info) != AMQP_STATUS_OK)
		return false;
	snprintf(line, sizeof(line),
		 "%s --server='%s' --port=%d --vhost='%s' --username='%s' --password='%s' %s",
		 cmd, info.host, info.port, scenario_vhost, info.user, info.password, args);
	p = popen(line, "r");
	if (p == NULL)
		return false;
	out[0] = '\0';
	if (fgets(out, (int)out_len, p) != NULL)
		out[strcspn(out, "\n")] = '\0';
	while (fgets(line, sizeof(line), p) != NULL)
		;
	rc = pclose(p);
	if (rc != 0)
		scenario_fail("%s exited with status %d", cmd, rc);
	return rc == 0;
}

static int scenario_amqp_tools(void)
{
	char q[256], args[512], out[1024];

	scenario_unique(q, sizeof(q), "tools");
	snprintf(args, sizeof(args), "-q '%s'", q);
	CHECK(tool_run("amqp-declare-queue", args, out, sizeof(out)), "");
	CHECK(strcmp(out, q) == 0, "amqp-declare-queue printed \"%s\"", out);
	snprintf(args, sizeof(args), "-r '%s' -b 'from amqp-publish'", q);
	CHECK(tool_run("amqp-publish", args, out, sizeof(out)), "");
	usleep(100 * 1000);
	snprintf(args, sizeof(args), "-q '%s'", q);
	CHECK(tool_run("amqp-get", args, out, sizeof(out)), "");
	CHECK(strcmp(out, "from amqp-publish") == 0, "amqp-get printed \"%s\"", out);
	CHECK(tool_run("amqp-delete-queue", args, out, sizeof(out)), "");
out:
	return 0;
}

struct scenario {
	const char *name;
	int (*run)(void);
	bool warren_only;
};

static const struct scenario scenarios[] = {
	{ "rabbitmq-c connects, opens a channel and sees the nine capabilities", scenario_connect,
	  false },
	{ "rabbitmq-c declares and deletes every exchange type", scenario_exchange_types, false },
	{ "rabbitmq-c passive declare of a missing exchange gives 404 and the channel reopens",
	  scenario_missing_exchange, false },
	{ "rabbitmq-c amq.* exchange and queue names are refused with 403", scenario_reserved_names,
	  false },
	{ "rabbitmq-c unknown exchange type: 503 connection (RabbitMQ 3.10) or 406 channel",
	  scenario_unknown_type, false },
	{ "rabbitmq-c server-named queue, topic bind, publish, get and get-empty",
	  scenario_bind_publish_get, false },
	{ "rabbitmq-c consume with prefetch 1, server-generated tag, ack and cancel",
	  scenario_consume_ack, false },
	{ "rabbitmq-c reject and nack requeue to the original position; unknown tag gives 406",
	  scenario_reject_requeue, false },
	{ "rabbitmq-c publisher confirms ack every publish", scenario_confirms, false },
	{ "rabbitmq-c mandatory unroutable publish is returned 312 NO_ROUTE before its ack",
	  scenario_mandatory_return, false },
	{ "rabbitmq-c tx select, rollback, commit and the 406 mode errors", scenario_tx, false },
	{ "rabbitmq-c exclusive queue from another connection gives 405", scenario_exclusive_locked,
	  false },
	{ "rabbitmq-c queue argument mismatch gives the exact 406 texts", scenario_args_mismatch,
	  false },
	{ "rabbitmq-c purge and delete counts, delete if-empty gives 406", scenario_purge_delete,
	  false },
	{ "rabbitmq-c duplicate consumer tag closes the connection with 530",
	  scenario_dup_consumer_tag, false },
	{ "rabbitmq-c immediate publish closes the connection with 540", scenario_immediate, false },
	{ "rabbitmq-c prefetch_size != 0 closes the connection with 540", scenario_prefetch_size,
	  false },
	{ "rabbitmq-c default exchange routes by queue name and refuses bind with 403",
	  scenario_default_exchange, false },
	{ "amqp-tools declare a queue, publish to it, get the message back and delete it",
	  scenario_amqp_tools, false },
};

static void scenario_url_parts(void)
{
	struct amqp_connection_info info;
	char url[1024];

	snprintf(url, sizeof(url), "%s", scenario_url);
	if (amqp_parse_url(url, &info) != AMQP_STATUS_OK) {
		fprintf(stderr, "rabbitmq-c: cannot parse %s\n", scenario_url);
		exit(2);
	}
	/* As pika and the harness do, read "amqp://host/" as the vhost "/". */
	snprintf(scenario_vhost, sizeof(scenario_vhost), "%s", info.vhost[0] ? info.vhost : "/");
	snprintf(scenario_user, sizeof(scenario_user), "%s", info.user);
}

int main(int argc, char **argv)
{
	const char *target = getenv("CONFORMANCE_TARGET");
	const char *filter = getenv("CONFORMANCE_FILTER");
	const char *timeout_env = getenv("CONFORMANCE_TIMEOUT");
	unsigned int timeout = timeout_env != NULL ? (unsigned int)atoi(timeout_env) : 20;
	int passed = 0, failed = 0, skipped = 0;

	snprintf(scenario_url, sizeof(scenario_url), "%s",
		 argc > 1 ? argv[1] : "amqp://guest:guest@127.0.0.1:5673/");
	scenario_url_parts();
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		const struct scenario *s = &scenarios[i];
		int pipefd[2], status = 0;
		char why[sizeof(scenario_failure)] = "";
		ssize_t n;
		pid_t pid;

		if (filter != NULL && filter[0] != '\0' && strstr(s->name, filter) == NULL)
			continue;
		if (s->warren_only && (target == NULL || strcmp(target, "rabbitmq") == 0)) {
			printf("skip - %s (warren-only)\n", s->name);
			skipped++;
			continue;
		}
		fflush(stdout);
		if (pipe(pipefd) != 0)
			return 2;
		pid = fork();
		if (pid == 0) {
			close(pipefd[0]);
			alarm(timeout);
			s->run();
			if (write(pipefd[1], scenario_failure, strlen(scenario_failure)) < 0)
				_exit(3);
			_exit(scenario_failure[0] != '\0' ? 1 : 0);
		}
		close(pipefd[1]);
		n = read(pipefd[0], why, sizeof(why) - 1);
		why[n > 0 ? n : 0] = '\0';
		close(pipefd[0]);
		waitpid(pid, &status, 0);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			printf("ok - %s\n", s->name);
			passed++;
		} else if (WIFSIGNALED(status)) {
			printf("FAIL - %s: %s\n", s->name,
			       WTERMSIG(status) == SIGALRM ? "timed out" : "crashed");
			failed++;
		} else {
			printf("FAIL - %s: %s\n", s->name, why[0] ? why : "failed");
			failed++;
		}
	}
	if (skipped > 0)
		printf("rabbitmq-c: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
	else
		printf("rabbitmq-c: %d passed, %d failed\n", passed, failed);
	return failed > 0 ? 1 : 0;
}
