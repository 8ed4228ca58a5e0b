/* tests/unit/broker/cluster/test_etcd.c: the etcd v3 JSON gateway client
 * (broker/cluster/etcd.c) against a fake gateway on the same loop (evhttp): the request bodies
 * carry base64 keys and 64-bit integers as strings, as etcd 3.4's gateway wants them, and the
 * answers (revision, TTL, kvs, a txn's outcome, errors) decode; an endpoint that refuses moves
 * the next call to the next endpoint; base64 round-trips every length. */
#include <check.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "broker/cluster/etcd.h"

/* ---- a fake gateway ---- */

struct fake {
	struct event_base *base;
	struct evhttp *http;
	int port;
	char last_path[64];
	json_t *last_body;
	const char *reply; /* the JSON to answer with */
	int code;
};

static void fake_on_request(struct evhttp_request *req, void *arg)
{
	struct fake *f = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	struct evbuffer *out = evbuffer_new();

	snprintf(f->last_path, sizeof f->last_path, "%s", evhttp_request_get_uri(req));
	json_decref(f->last_body);
	f->last_body = json_loadb((const char *)evbuffer_pullup(in, (ssize_t)n), n, 0, NULL);
	evbuffer_add(out, f->reply, strlen(f->reply));
	evhttp_send_reply(req, f->code, "OK", out);
	evbuffer_free(out);
}

static struct fake *fake_new(struct event_base *base)
{
	struct fake *f = calloc(1, sizeof *f);
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;

	f->base = base;
	f->code = 200;
	f->http = evhttp_new(base);
	evhttp_set_gencb(f->http, fake_on_request, f);
	bs = evhttp_bind_socket_with_handle(f->http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(bs);
	getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &len);
	f->port = ntohs(sin.sin_port);
	return f;
}

static void fake_free(struct fake *f)
{
	json_decref(f->last_body);
	evhttp_free(f->http);
	free(f);
}

/* ---- a call and its reply ---- */

struct got {
	bool done;
	char error[512];
	bool unreachable, succeeded;
	int64_t revision, lease_id, ttl;
	char keys[4][64], values[4][64];
	int64_t create_revision[4], lease[4];
	size_t kv_count;
};

static void on_reply(void *arg, const struct etcd_reply *r)
{
	struct got *g = arg;
	g->done = true;
	snprintf(g->error, sizeof g->error, "%s", r->error ? r->error : "");
	g->unreachable = r->unreachable;
	g->succeeded = r->succeeded;
	g->revision = r->revision;
	g->lease_id = r->lease_id;
	g->ttl = r->ttl;
	g->kv_count = r->kv_count;
	for (size_t i = 0; i < r->kv_count && i < 4; i++) {
		snprintf(g->keys[i], sizeof g->keys[i], "%s", r->kvs[i].key);
		snprintf(g->values[i], sizeof g->values[i], "%s", r->kvs[i].value);
		g->create_revision[i] = r->kvs[i].create_revision;
		g->lease[i] = r->kvs[i].lease;
	}
}

static void run_until(struct event_base *base, const struct got *g)
{
	for (int i = 0; i < 1000 && !g->done; i++)
		event_base_loop(base, EVLOOP_ONCE);
	ck_assert(g->done);
}

static const char *b64_field(json_t *o, const char *key, char *buf, size_t cap)
{
	size_t n;
	char *d = etcd_b64_decode(json_string_value(json_object_get(o, key)), &n);
	ck_assert_ptr_nonnull(d);
	snprintf(buf, cap, "%s", d);
	free(d);
	return buf;
}

START_TEST(a_lease_grant_sends_the_ttl_as_a_string_and_reads_id_and_ttl)
{
	struct event_base *base = event_base_new();
	struct fake *f = fake_new(base);
	char url[64], err[256];
	struct got g = { 0 };

	snprintf(url, sizeof url, "http://127.0.0.1:%d", f->port);
	struct etcd *e = etcd_new(base, url, 1000, err, sizeof err);
	ck_assert_ptr_nonnull(e);
	f->reply = "{\"header\":{\"cluster_id\":\"14841639068965178418\",\"revision\":\"7\"},"
		   "\"ID\":\"7587899390728976901\",\"TTL\":\"5\"}";
	ck_assert_int_eq(etcd_lease_grant(e, 5, on_reply, &g), 0);
	run_until(base, &g);
	ck_assert_str_eq(f->last_path, "/v3/lease/grant");
	ck_assert_str_eq(json_string_value(json_object_get(f->last_body, "TTL")), "5");
	ck_assert_str_eq(g.error, "");
	ck_assert_int_eq(g.lease_id, 7587899390728976901ll);
	ck_assert_int_eq(g.ttl, 5);
	ck_assert_int_eq(g.revision, 7);
	etcd_free(e);
	fake_free(f);
	event_base_free(base);
}
END_TEST

START_TEST(a_keepalive_of_an_expired_lease_reads_as_ttl_zero)
{
	struct event_base *base = event_base_new();
	struct fake *f = fake_new(base);
	char url[64], err[256];
	struct got g = { 0 };

	snprintf(url, sizeof url, "http://127.0.0.1:%d", f->port);
	struct etcd *e = etcd_new(base, url, 1000, err, sizeof err);
	/* what etcd 3.4 answers for a lease that is gone: a result without TTL */
	f->reply = "{\"result\":{\"header\":{\"revision\":\"2\"},\"ID\":\"99\"}}";
	ck_assert_int_eq(etcd_lease_keepalive(e, 99, on_reply, &g), 0);
	run_until(base, &g);
	ck_assert_str_eq(f->last_path, "/v3/lease/keepalive");
	ck_assert_str_eq(json_string_value(json_object_get(f->last_body, "ID")), "99");
	ck_assert_str_eq(g.error, "");
	ck_assert_int_eq(g.ttl, 0);
	memset(&g, 0, sizeof g);
	f->reply = "{\"result\":{\"header\":{\"revision\":\"2\"},\"ID\":\"99\",\"TTL\":\"5\"}}";
	etcd_lease_keepalive(e, 99, on_reply, &g);
	run_until(base, &g);
	ck_assert_int_eq(g.ttl, 5);
	etcd_free(e);
	fake_free(f);
	event_base_free(base);
}
END_TEST

START_TEST(create_if_absent_is_a_txn_on_create_revision_zero)
{
	struct event_base *base = event_base_new();
	struct fake *f = fake_new(base);
	char url[64], err[256], buf[128];
	struct got g = { 0 };

	snprintf(url, sizeof url, "http://127.0.0.1:%d", f->port);
	struct etcd *e = etcd_new(base, url, 1000, err, sizeof err);
	f->reply = "{\"header\":{\"revision\":\"12\"},\"succeeded\":true,\"responses\":[{}]}";
	ck_assert_int_eq(etcd_create(e, "warren/leader", "{\"name\":\"n1\"}", 77, on_reply, &g), 0);
	run_until(base, &g);
	ck_assert_str_eq(f->last_path, "/v3/kv/txn");
	json_t *cmp = json_array_get(json_object_get(f->last_body, "compare"), 0);
	ck_assert_str_eq(b64_field(cmp, "key", buf, sizeof buf), "warren/leader");
	ck_assert_str_eq(json_string_value(json_object_get(cmp, "target")), "CREATE");
	ck_assert_str_eq(json_string_value(json_object_get(cmp, "create_revision")), "0");
	ck_assert_str_eq(json_string_value(json_object_get(cmp, "result")), "EQUAL");
	json_t *put = json_object_get(json_array_get(json_object_get(f->last_body, "success"), 0),
				      "request_put");
	ck_assert_str_eq(b64_field(put, "value", buf, sizeof buf), "{\"name\":\"n1\"}");
	ck_assert_str_eq(json_string_value(json_object_get(put, "lease")), "77");
	ck_assert(g.succeeded);
	ck_assert_int_eq(g.revision, 12);

	/* lost: the key as it is comes back from the failure branch's range */
	memset(&g, 0, sizeof g);
	f->reply = "{\"header\":{\"revision\":\"13\"},\"responses\":[{\"response_range\":{\"kvs\":"
		   "[{\"key\":\"d2FycmVuL2xlYWRlcg==\",\"create_revision\":\"4\",\"mod_revision\":"
		   "\"4\",\"value\":\"eyJuYW1lIjoibjIifQ==\",\"lease\":\"55\"}],\"count\":\"1\"}}]}";
	etcd_create(e, "warren/leader", "{}", 77, on_reply, &g);
	run_until(base, &g);
	ck_assert(!g.succeeded);
	ck_assert_uint_eq(g.kv_count, 1);
	ck_assert_str_eq(g.keys[0], "warren/leader");
	ck_assert_str_eq(g.values[0], "{\"name\":\"n2\"}");
	ck_assert_int_eq(g.create_revision[0], 4);
	ck_assert_int_eq(g.lease[0], 55);
	etcd_free(e);
	fake_free(f);
	event_base_free(base);
}
END_TEST

START_TEST(a_prefix_range_ends_at_the_prefix_with_its_last_byte_plus_one)
{
	struct event_base *base = event_base_new();
	struct fake *f = fake_new(base);
	char url[64], err[256], buf[128];
	struct got g = { 0 };

	snprintf(url, sizeof url, "http://127.0.0.1:%d", f->port);
	struct etcd *e = etcd_new(base, url, 1000, err, sizeof err);
	f->reply = "{\"header\":{\"revision\":\"3\"}}"; /* no kvs: nothing there */
	etcd_range_prefix(e, "warren/", on_reply, &g);
	run_until(base, &g);
	ck_assert_str_eq(f->last_path, "/v3/kv/range");
	ck_assert_str_eq(b64_field(f->last_body, "key", buf, sizeof buf), "warren/");
	ck_assert_str_eq(b64_field(f->last_body, "range_end", buf, sizeof buf), "warren0");
	ck_assert_uint_eq(g.kv_count, 0);
	etcd_free(e);
	fake_free(f);
	event_base_free(base);
}
END_TEST

START_TEST(an_etcd_error_is_reported_with_the_endpoint)
{
	struct event_base *base = event_base_new();
	struct fake *f = fake_new(base);
	char url[64], err[256];
	struct got g = { 0 };

	snprintf(url, sizeof url, "http://127.0.0.1:%d", f->port);
	struct etcd *e = etcd_new(base, url, 1000, err, sizeof err);
	f->code = 404;
	f->reply = "{\"error\":\"etcdserver: requested lease not found\",\"message\":"
		   "\"etcdserver: requested lease not found\",\"code\":5}";
	etcd_lease_revoke(e, 5, on_reply, &g);
	run_until(base, &g);
	ck_assert_msg(strstr(g.error, url) && strstr(g.error, "requested lease not found"), "%s",
		      g.error);
	ck_assert(!g.unreachable);
	etcd_free(e);
	fake_free(f);
	event_base_free(base);
}
END_TEST

START_TEST(a_refusing_endpoint_is_reported_and_the_next_call_goes_to_the_next_one)
{
	struct event_base *base = event_base_new();
	struct fake *f = fake_new(base);
	char urls[128], err[256];
	struct got g = { 0 };

	/* port 1 refuses; the fake answers */
	snprintf(urls, sizeof urls, "http://127.0.0.1:1, http://127.0.0.1:%d", f->port);
	struct etcd *e = etcd_new(base, urls, 1000, err, sizeof err);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(etcd_endpoint(e), "http://127.0.0.1:1");
	f->reply = "{\"header\":{\"revision\":\"3\"}}";
	etcd_put(e, "k", "v", 0, on_reply, &g);
	run_until(base, &g);
	ck_assert(g.unreachable);
	ck_assert_msg(strstr(g.error, "http://127.0.0.1:1"), "%s", g.error);
	memset(&g, 0, sizeof g);
	etcd_put(e, "k", "v", 0, on_reply, &g);
	run_until(base, &g);
	ck_assert_str_eq(g.error, "");
	ck_assert_str_eq(f->last_path, "/v3/kv/put");
	ck_assert_ptr_null(json_object_get(f->last_body, "lease")); /* 0: no lease */
	etcd_free(e);
	fake_free(f);
	event_base_free(base);
}
END_TEST

START_TEST(freeing_the_client_cancels_each_pending_call_once)
{
	struct event_base *base = event_base_new();
	struct fake *f = fake_new(base);
	char url[64], err[256];
	struct got g = { 0 };

	snprintf(url, sizeof url, "http://127.0.0.1:%d", f->port);
	struct etcd *e = etcd_new(base, url, 1000, err, sizeof err);
	etcd_put(e, "k", "v", 0, on_reply, &g);
	etcd_free(e);
	ck_assert(g.done);
	ck_assert_str_eq(g.error, "cancelled");
	fake_free(f);
	event_base_free(base);
}
END_TEST

START_TEST(endpoints_must_be_http_urls)
{
	char err[256];

	ck_assert_ptr_null(etcd_new(NULL, "ftp://127.0.0.1:2379", 1000, err, sizeof err));
	ck_assert_msg(strstr(err, "ftp://127.0.0.1:2379"), "%s", err);
	ck_assert_ptr_null(etcd_new(NULL, " , ", 1000, err, sizeof err));
	ck_assert_ptr_null(etcd_new(NULL, "127.0.0.1:2379", 1000, err, sizeof err));
}
END_TEST

START_TEST(base64_round_trips_every_length_and_refuses_garbage)
{
	uint8_t data[70];
	size_t n;

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 37 + 11);
	for (size_t len = 0; len <= sizeof data; len++) {
		char *enc = etcd_b64_encode(data, len);
		char *dec = etcd_b64_decode(enc, &n);
		ck_assert_ptr_nonnull(dec);
		ck_assert_uint_eq(n, len);
		ck_assert_mem_eq(dec, data, len);
		free(enc);
		free(dec);
	}
	char *enc = etcd_b64_encode("foo", 3);
	ck_assert_str_eq(enc, "Zm9v");
	free(enc);
	ck_assert_ptr_null(etcd_b64_decode("Zm9", &n));
	ck_assert_ptr_null(etcd_b64_decode("Zm9$", &n));
	ck_assert_ptr_null(etcd_b64_decode("=Zm9", &n));
}
END_TEST

static Suite *etcd_suite(void)
{
	Suite *s = suite_create("etcd");
	TCase *tc = tcase_create("gateway");
	tcase_add_test(tc, a_lease_grant_sends_the_ttl_as_a_string_and_reads_id_and_ttl);
	tcase_add_test(tc, a_keepalive_of_an_expired_lease_reads_as_ttl_zero);
	tcase_add_test(tc, create_if_absent_is_a_txn_on_create_revision_zero);
	tcase_add_test(tc, a_prefix_range_ends_at_the_prefix_with_its_last_byte_plus_one);
	tcase_add_test(tc, an_etcd_error_is_reported_with_the_endpoint);
	tcase_add_test(tc, a_refusing_endpoint_is_reported_and_the_next_call_goes_to_the_next_one);
	tcase_add_test(tc, freeing_the_client_cancels_each_pending_call_once);
	tcase_add_test(tc, endpoints_must_be_http_urls);
	tcase_add_test(tc, base64_round_trips_every_length_and_refuses_garbage);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(etcd_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
