/* tests/unit/broker/test_limits.c: broker/limits.c, RabbitMQ's vhost limits (max-connections,
 * max-queues) and user limits (max-connections, max-channels) on a real broker with real
 * connections (tests/support/fixture.c): names, what is counted (open connections of the vhost
 * or user, not the one asking, not those still in the handshake or already dropped; queues of
 * the vhost; channels over all the user's connections), a negative value meaning no limit and
 * 0 allowing nothing (docs/security.md, "Vhost and user limits"). */
#include "broker/auth/limits.h"

#include <check.h>
#include <stdlib.h>

#include "broker/auth/auth.h"
#include "broker/core/broker.h"
#include "broker/net/conn.h"
#include "broker/queue/queue.h"
#include "broker/vhost/vhost.h"
#include "tests/support/fixture.h"

static struct fixture *f;
static struct vhost *other;
static struct user *ann;
static int64_t limit;

static void setup(void)
{
	f = fixture_new();
	other = vhost_new(f->b, "other");
	ck_assert_ptr_nonnull(other);
	ann = auth_user_add(f->b, "ann", "pw", "");
	ck_assert_ptr_nonnull(ann);
	limit = 12345;
}

static void teardown(void)
{
	fixture_free(f);
}

static void set_limit(struct limit *l, int64_t value)
{
	*l = (struct limit){ .set = true, .value = value };
}

static bool vhost_conns_reached(const struct vhost *v, const struct conn *self)
{
	return conn_limits_vhost_connections(f->b, v, self, &limit);
}

static bool user_conns_reached(const struct user *u, const struct conn *self)
{
	return conn_limits_user_connections(f->b, u, self, &limit);
}

START_TEST(limit_names_are_rabbitmqs)
{
	ck_assert_int_eq(limits_vhost_index("max-connections"), LIMITS_VHOST_MAX_CONNECTIONS);
	ck_assert_int_eq(limits_vhost_index("max-queues"), LIMITS_VHOST_MAX_QUEUES);
	ck_assert_int_eq(limits_vhost_index("max-channels"), -1);
	ck_assert_int_eq(limits_vhost_index("Max-Queues"), -1);
	ck_assert_int_eq(limits_user_index("max-connections"), LIMITS_USER_MAX_CONNECTIONS);
	ck_assert_int_eq(limits_user_index("max-channels"), LIMITS_USER_MAX_CHANNELS);
	ck_assert_int_eq(limits_user_index("max-queues"), -1);
	ck_assert_str_eq(limits_vhost_name(LIMITS_VHOST_MAX_QUEUES), "max-queues");
	ck_assert_str_eq(limits_vhost_name(LIMITS_VHOST_MAX_CONNECTIONS), "max-connections");
	ck_assert_str_eq(limits_user_name(LIMITS_USER_MAX_CHANNELS), "max-channels");
	ck_assert_str_eq(limits_user_name(LIMITS_USER_MAX_CONNECTIONS), "max-connections");
}
END_TEST

START_TEST(a_limit_that_is_not_set_is_never_reached)
{
	for (int i = 0; i < 3; i++)
		fixture_conn(f, f->v, ann);
	fixture_queue(f->v, "q", (struct amqp_table){ 0 });
	ck_assert(!vhost_conns_reached(f->v, NULL));
	ck_assert(!vhost_queue_limit_reached(f->v, &limit));
	ck_assert(!user_conns_reached(ann, NULL));
	ck_assert(!conn_limits_user_channels(f->b, ann, &limit));
}
END_TEST

START_TEST(vhost_max_connections_counts_the_open_connections_of_that_vhost)
{
	set_limit(&f->v->limits[LIMITS_VHOST_MAX_CONNECTIONS], 2);
	fixture_conn(f, other, f->guest); /* another vhost: not counted */
	struct conn *first = fixture_conn(f, f->v, f->guest);
	ck_assert(!vhost_conns_reached(f->v, NULL));
	struct conn *second = fixture_conn(f, f->v, ann);
	ck_assert(vhost_conns_reached(f->v, NULL));
	ck_assert_int_eq(limit, 2); /* for the refusal text */
	/* the connection asking is not counted against itself */
	ck_assert(!vhost_conns_reached(f->v, second));
	(void)first;
}
END_TEST

START_TEST(connections_still_in_the_handshake_or_dropped_are_not_counted)
{
	set_limit(&f->v->limits[LIMITS_VHOST_MAX_CONNECTIONS], 1);
	struct conn *opening = fixture_conn(f, f->v, f->guest);
	opening->state = CONN_AWAIT_OPEN; /* has not reached connection.open-ok */
	ck_assert(!vhost_conns_reached(f->v, NULL));
	struct conn *leaving = fixture_conn(f, f->v, f->guest);
	ck_assert(vhost_conns_reached(f->v, NULL));
	conn_drop(leaving, "test");
	ck_assert(!vhost_conns_reached(f->v, NULL));
}
END_TEST

START_TEST(a_negative_limit_is_no_limit_and_zero_allows_nothing)
{
	set_limit(&f->v->limits[LIMITS_VHOST_MAX_CONNECTIONS], -1);
	set_limit(&f->v->limits[LIMITS_VHOST_MAX_QUEUES], -1);
	for (int i = 0; i < 3; i++)
		fixture_conn(f, f->v, f->guest);
	fixture_queue(f->v, "q", (struct amqp_table){ 0 });
	ck_assert(!vhost_conns_reached(f->v, NULL));
	ck_assert(!vhost_queue_limit_reached(f->v, &limit));
	set_limit(&other->limits[LIMITS_VHOST_MAX_CONNECTIONS], 0);
	set_limit(&other->limits[LIMITS_VHOST_MAX_QUEUES], 0);
	ck_assert(vhost_conns_reached(other, NULL)); /* not even the first */
	ck_assert_int_eq(limit, 0);
	ck_assert(vhost_queue_limit_reached(other, &limit));
}
END_TEST

START_TEST(vhost_max_queues_refuses_the_queue_beyond_the_limit)
{
	set_limit(&f->v->limits[LIMITS_VHOST_MAX_QUEUES], 2);
	ck_assert(!vhost_queue_limit_reached(f->v, &limit));
	fixture_queue(f->v, "a", (struct amqp_table){ 0 });
	ck_assert(!vhost_queue_limit_reached(f->v, &limit));
	struct queue *b = fixture_queue(f->v, "b", (struct amqp_table){ 0 });
	ck_assert(vhost_queue_limit_reached(f->v, &limit));
	ck_assert_int_eq(limit, 2);
	ck_assert(!vhost_queue_limit_reached(other, &limit)); /* per vhost */
	queue_delete(b);
	ck_assert(!vhost_queue_limit_reached(f->v, &limit));
}
END_TEST

START_TEST(user_max_connections_counts_that_users_connections_in_every_vhost)
{
	set_limit(&ann->limits[LIMITS_USER_MAX_CONNECTIONS], 2);
	fixture_conn(f, f->v, f->guest); /* someone else */
	fixture_conn(f, f->v, ann);
	ck_assert(!user_conns_reached(ann, NULL));
	struct conn *second = fixture_conn(f, other, ann);
	ck_assert(user_conns_reached(ann, NULL));
	ck_assert_int_eq(limit, 2);
	ck_assert(!user_conns_reached(ann, second));
	ck_assert(!user_conns_reached(f->guest, NULL));
	set_limit(&ann->limits[LIMITS_USER_MAX_CONNECTIONS], 0);
	ck_assert(user_conns_reached(ann, second));
}
END_TEST

START_TEST(user_max_channels_sums_channels_over_all_the_users_connections)
{
	set_limit(&ann->limits[LIMITS_USER_MAX_CHANNELS], 5);
	struct conn *c1 = fixture_conn(f, f->v, ann), *c2 = fixture_conn(f, other, ann);
	struct conn *guest = fixture_conn(f, f->v, f->guest);
	c1->channel_count = 2;
	c2->channel_count = 2;
	guest->channel_count = 100; /* someone else's */
	ck_assert(!conn_limits_user_channels(f->b, ann, &limit));
	c2->channel_count = 3;
	ck_assert(conn_limits_user_channels(f->b, ann, &limit));
	ck_assert_int_eq(limit, 5);
	conn_drop(c2, "test"); /* its channels go with it */
	ck_assert(!conn_limits_user_channels(f->b, ann, &limit));
	set_limit(&ann->limits[LIMITS_USER_MAX_CHANNELS], -5);
	c1->channel_count = 1000;
	ck_assert(!conn_limits_user_channels(f->b, ann, &limit));
	set_limit(&ann->limits[LIMITS_USER_MAX_CHANNELS], 0);
	c1->channel_count = 0;
	ck_assert(conn_limits_user_channels(f->b, ann, &limit));
}
END_TEST

static Suite *limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, limit_names_are_rabbitmqs);
	tcase_add_test(tc, a_limit_that_is_not_set_is_never_reached);
	tcase_add_test(tc, vhost_max_connections_counts_the_open_connections_of_that_vhost);
	tcase_add_test(tc, connections_still_in_the_handshake_or_dropped_are_not_counted);
	tcase_add_test(tc, a_negative_limit_is_no_limit_and_zero_allows_nothing);
	tcase_add_test(tc, vhost_max_queues_refuses_the_queue_beyond_the_limit);
	tcase_add_test(tc, user_max_connections_counts_that_users_connections_in_every_vhost);
	tcase_add_test(tc, user_max_channels_sums_channels_over_all_the_users_connections);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(limits_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
