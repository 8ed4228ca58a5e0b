/* Bindings and the default exchange: queue.unbind and exchange.unbind of things that are gone
 * (RabbitMQ 3.10 answers unbind-ok: client libraries unbind in clean-up paths), which checks still
 * refuse first, and the default exchange refused even to a passive exchange.declare.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

static const char default_refused[] =
	"ACCESS_REFUSED - operation not permitted on the default exchange";

/* A direct exchange and a queue (not exclusive) that exist, named for this test. */
static void bindings_declare(struct harness_conn *c, char *x, size_t xlen, char *q, size_t qlen)
{
	harness_name(x, xlen, "x");
	harness_name(q, qlen, "q");
	harness_send(c, frame_exchange_declare(1, x, "direct", 0));
	harness_expect_method(c, 1, EXCHANGE_DECLARE_OK, NULL);
	harness_send(c, frame_queue_declare(1, q, QUEUE_AUTO_DELETE, NULL));
	harness_expect_method(c, 1, QUEUE_DECLARE_OK, NULL);
}

static void bindings_cleanup(struct harness_conn *c, const char *x, const char *q)
{
	harness_send(c, frame_queue_delete(1, q));
	harness_expect_method(c, 1, QUEUE_DELETE_OK, NULL);
	harness_send(c, frame_exchange_delete(1, x));
	harness_expect_method(c, 1, EXCHANGE_DELETE_OK, NULL);
}

START_TEST(queue_unbind_of_a_missing_queue_exchange_or_binding_gets_unbind_ok)
{
	struct harness_conn *c = harness_open_with_channel(1);
	char x[128], q[128], gone[128];

	bindings_declare(c, x, sizeof x, q, sizeof q);
	harness_name(gone, sizeof gone, "gone");
	harness_send(c, frame_queue_unbind(1, gone, x, "k")); /* no such queue */
	harness_expect_method(c, 1, QUEUE_UNBIND_OK, NULL);
	harness_send(c, frame_queue_unbind(1, q, gone, "k")); /* no such exchange */
	harness_expect_method(c, 1, QUEUE_UNBIND_OK, NULL);
	harness_send(c, frame_queue_unbind(1, gone, gone, "k")); /* neither */
	harness_expect_method(c, 1, QUEUE_UNBIND_OK, NULL);
	harness_send(c, frame_queue_unbind(1, q, x, "never-bound")); /* no such binding */
	harness_expect_method(c, 1, QUEUE_UNBIND_OK, NULL);
	harness_send(c, frame_queue_unbind(1, gone, "amq.direct", "k"));
	harness_expect_method(c, 1, QUEUE_UNBIND_OK, NULL);
	/* The channel is still open. */
	harness_send(c, frame_queue_bind(1, q, x, "k"));
	harness_expect_method(c, 1, QUEUE_BIND_OK, NULL);
	harness_send(c, frame_queue_unbind(1, q, x, "k"));
	harness_expect_method(c, 1, QUEUE_UNBIND_OK, NULL);
	bindings_cleanup(c, x, q);
	harness_conn_free(c);
}
END_TEST

START_TEST(queue_unbind_after_the_queue_and_exchange_were_deleted_gets_unbind_ok)
{
	struct harness_conn *c = harness_open_with_channel(1);
	char x[128], q[128];

	bindings_declare(c, x, sizeof x, q, sizeof q);
	harness_send(c, frame_queue_bind(1, q, x, "k"));
	harness_expect_method(c, 1, QUEUE_BIND_OK, NULL);
	bindings_cleanup(c, x, q);
	/* The clean-up path of a client: the binding went with the queue and the exchange. The
	 * empty name is the channel's last declared queue, deleted too. */
	harness_send(c, frame_queue_unbind(1, q, x, "k"));
	harness_expect_method(c, 1, QUEUE_UNBIND_OK, NULL);
	harness_send(c, frame_queue_unbind(1, "", x, "k"));
	harness_expect_method(c, 1, QUEUE_UNBIND_OK, NULL);
	harness_conn_free(c);
}
END_TEST

START_TEST(queue_unbind_still_refuses_the_default_exchange_and_a_missing_shorthand)
{
	struct harness_conn *c = harness_open_with_channel(1);
	char gone[128];

	harness_name(gone, sizeof gone, "gone");
	/* RabbitMQ checks the default exchange before whether the queue exists. */
	harness_send(c, frame_queue_unbind(1, gone, "", "k"));
	harness_expect_channel_close(c, 1, 403, default_refused);
	harness_send(c, frame_channel_close_ok(1));
	harness_send(c, frame_channel_open(1));
	harness_expect_method(c, 1, CHANNEL_OPEN_OK, NULL);
	harness_send(c, frame_queue_unbind(1, "", gone, "k"));
	harness_expect_channel_close(c, 1, 404, "NOT_FOUND - no previously declared queue");
	harness_conn_free(c);
}
END_TEST

START_TEST(queue_bind_reports_a_missing_exchange_before_a_missing_queue)
{
	struct harness_conn *c = harness_open_with_channel(1);
	char gone_q[128], gone_x[128], text[256];

	harness_name(gone_q, sizeof gone_q, "gone-q");
	harness_name(gone_x, sizeof gone_x, "gone-x");
	harness_send(c, frame_queue_bind(1, gone_q, gone_x, "k"));
	snprintf(text, sizeof text, "NOT_FOUND - no exchange '%s' in vhost '/'", gone_x);
	harness_expect_channel_close(c, 1, 404, text);
	harness_send(c, frame_channel_close_ok(1));
	harness_send(c, frame_channel_open(1));
	harness_expect_method(c, 1, CHANNEL_OPEN_OK, NULL);
	harness_send(c, frame_queue_bind(1, gone_q, "", "k"));
	harness_expect_channel_close(c, 1, 403, default_refused);
	harness_conn_free(c);
}
END_TEST

START_TEST(exchange_unbind_of_a_missing_source_destination_or_binding_gets_unbind_ok)
{
	struct harness_conn *c = harness_open_with_channel(1);
	char x[128], q[128], gone[128];

	bindings_declare(c, x, sizeof x, q, sizeof q);
	harness_name(gone, sizeof gone, "gone");
	harness_send(c, frame_exchange_unbind(1, gone, x, "k")); /* no destination */
	harness_expect_method(c, 1, EXCHANGE_UNBIND_OK, NULL);
	harness_send(c, frame_exchange_unbind(1, x, gone, "k")); /* no source */
	harness_expect_method(c, 1, EXCHANGE_UNBIND_OK, NULL);
	harness_send(c, frame_exchange_unbind(1, x, "amq.direct", "k")); /* no binding */
	harness_expect_method(c, 1, EXCHANGE_UNBIND_OK, NULL);
	harness_send(c, frame_exchange_bind(1, x, "amq.direct", "k"));
	harness_expect_method(c, 1, EXCHANGE_BIND_OK, NULL);
	harness_send(c, frame_exchange_unbind(1, x, "amq.direct", "k"));
	harness_expect_method(c, 1, EXCHANGE_UNBIND_OK, NULL);
	/* Still refused: the default exchange on either side. */
	harness_send(c, frame_exchange_unbind(1, gone, "", "k"));
	harness_expect_channel_close(c, 1, 403, default_refused);
	harness_send(c, frame_channel_close_ok(1));
	harness_send(c, frame_channel_open(1));
	harness_expect_method(c, 1, CHANNEL_OPEN_OK, NULL);
	bindings_cleanup(c, x, q);
	harness_conn_free(c);
}
END_TEST

START_TEST(exchange_bind_with_a_missing_source_still_gets_404)
{
	struct harness_conn *c = harness_open_with_channel(1);
	char gone_s[128], gone_d[128], text[256];

	harness_name(gone_s, sizeof gone_s, "gone-s");
	harness_name(gone_d, sizeof gone_d, "gone-d");
	harness_send(c, frame_exchange_bind(1, gone_d, gone_s, "k"));
	snprintf(text, sizeof text, "NOT_FOUND - no exchange '%s' in vhost '/'", gone_s);
	harness_expect_channel_close(c, 1, 404, text);
	harness_conn_free(c);
}
END_TEST

START_TEST(passive_declare_of_the_default_exchange_gets_403)
{
	struct harness_conn *c = harness_open_with_channel(1);

	harness_send(c, frame_exchange_declare(1, "", "direct", EXCHANGE_PASSIVE));
	harness_expect_channel_close(c, 1, 403, default_refused);
	harness_send(c, frame_channel_close_ok(1));
	/* no-wait changes nothing, and neither does the type. */
	harness_send(c, frame_channel_open(1));
	harness_expect_method(c, 1, CHANNEL_OPEN_OK, NULL);
	harness_send(c, frame_exchange_declare(1, "", "", EXCHANGE_PASSIVE | EXCHANGE_NOWAIT));
	harness_expect_channel_close(c, 1, 403, default_refused);
	harness_send(c, frame_channel_close_ok(1));
	/* amq.direct exists: a passive declare of it is fine. */
	harness_send(c, frame_channel_open(1));
	harness_expect_method(c, 1, CHANNEL_OPEN_OK, NULL);
	harness_send(c, frame_exchange_declare(1, "amq.direct", "direct", EXCHANGE_PASSIVE));
	harness_expect_method(c, 1, EXCHANGE_DECLARE_OK, NULL);
	harness_conn_free(c);
}
END_TEST

Suite *suites_bindings(void)
{
	Suite *s = suite_create("bindings");
	TCase *tc = tcase_create("bindings");

	tcase_set_timeout(tc, SUITES_TEST_TIMEOUT);
	tcase_add_test(tc, queue_unbind_of_a_missing_queue_exchange_or_binding_gets_unbind_ok);
	tcase_add_test(tc, queue_unbind_after_the_queue_and_exchange_were_deleted_gets_unbind_ok);
	tcase_add_test(tc, queue_unbind_still_refuses_the_default_exchange_and_a_missing_shorthand);
	tcase_add_test(tc, queue_bind_reports_a_missing_exchange_before_a_missing_queue);
	tcase_add_test(tc,
		       exchange_unbind_of_a_missing_source_destination_or_binding_gets_unbind_ok);
	tcase_add_test(tc, exchange_bind_with_a_missing_source_still_gets_404);
	tcase_add_test(tc, passive_declare_of_the_default_exchange_gets_403);
	suite_add_tcase(s, tc);
	return s;
}
