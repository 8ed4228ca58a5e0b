/* The broker keeps serving others when one client misbehaves: half frames then a hang-up, a
 * silent client under heartbeats, and a stream of random frames next to a well-behaved client.
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "suites.h"

START_TEST(half_a_frame_then_a_hang_up_does_not_hurt_the_broker)
{
	char queue[256];

	for (int i = 0; i < 20; i++) {
		struct harness_conn *c = harness_connect();
		struct frame *f = frame_protocol_header();
		size_t cut;

		if (i % 2 == 0) {
			/* Hang up mid protocol header. */
			cut = 3;
		} else {
			/* Hang up mid frame, after a complete handshake. */
			harness_conn_free(c);
			c = harness_open_with_channel(1);
			frame_free(f);
			f = frame_queue_declare(1, "half", QUEUE_EXCLUSIVE, NULL);
			cut = (size_t)(i % 7) + 1;
		}
		f->len = cut;
		harness_send(c, f);
		harness_conn_free(c);
	}
	struct harness_conn *ok = harness_open_with_channel(1);
	harness_declare_queue(ok, 1, queue, sizeof queue);
	harness_roundtrip(ok, 1, queue, "still serving");
	harness_conn_free(ok);
}
END_TEST

static int64_t robustness_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* With heartbeat 1 the server sends a heartbeat every second and gives up on a client that has
 * been silent for about two intervals (the spec allows closing after two missed). */
START_TEST(silent_client_with_heartbeat_1_gets_heartbeats_and_then_the_socket_closes)
{
	struct harness_conn *c = harness_open_tuned(HARNESS_FRAME_MAX, 1);
	int64_t start = robustness_now_ms();
	int heartbeats = 0;
	struct harness_frame f;
	enum harness_read rc;
	char got[512];

	for (;;) {
		int left = (int)(start + 10000 - robustness_now_ms());
		rc = harness_read_frame(c, &f, left > 0 ? left : 0);
		if (rc != HARNESS_READ_FRAME)
			break;
		if (f.type == FRAME_HEARTBEAT) {
			ck_assert_uint_eq(f.channel, 0);
			ck_assert_uint_eq(f.size, 0);
			heartbeats++;
			harness_frame_clear(&f);
			continue;
		}
		/* A connection.close before the hang-up is allowed. */
		ck_assert_msg(f.type == FRAME_METHOD && f.channel == 0 && f.class_id == 10 &&
				      f.method_id == 50,
			      "unexpected %s", harness_frame_describe(&f, got, sizeof got));
		harness_frame_clear(&f);
	}
	int64_t elapsed = robustness_now_ms() - start;
	ck_assert_msg(rc == HARNESS_READ_EOF, "no hang-up after %lld ms of silence",
		      (long long)elapsed);
	ck_assert_int_ge(heartbeats, 1);
	ck_assert_msg(elapsed >= 1500, "closed after only %lld ms", (long long)elapsed);
	if (getenv("PROTOCOL_VERBOSE"))
		fprintf(stderr, "  (%d heartbeats, closed after %lld ms)\n", heartbeats,
			(long long)elapsed);
	harness_conn_free(c);
}
END_TEST

START_TEST(client_heartbeats_keep_a_connection_with_heartbeat_1_open)
{
	struct harness_conn *c = harness_open_tuned(HARNESS_FRAME_MAX, 1);

	for (int i = 0; i < 8; i++) {
		harness_send(c, frame_heartbeat(0));
		harness_expect_silence(c, 500);
	}
	harness_send(c, frame_channel_open(1));
	harness_expect_method(c, 1, CHANNEL_OPEN_OK, NULL);
	harness_conn_free(c);
}
END_TEST

#define ROBUSTNESS_GARBAGE_FRAMES 200

struct robustness_garbage {
	unsigned seed;
	int burst; /* frames pipelined on the first connection */
	int sent;  /* frames sent one at a time afterwards */
	int connections;
	int failures; /* could not even connect or handshake */
};

/* A handshake that reports failure instead of asserting: this runs off the test's thread. */
static struct harness_conn *robustness_open_quiet(void)
{
	struct harness_conn *c = harness_connect_quiet();
	struct harness_frame f;
	static const uint16_t expect[][2] = { { 10, 10 }, { 10, 30 }, { 10, 41 } };

	if (!c)
		return NULL;
	for (int step = 0; step < 3; step++) {
		int rc = 0;
		if (step == 0)
			rc = harness_send_quiet(c, frame_protocol_header());
		else if (step == 1)
			rc = harness_send_quiet(c, frame_connection_start_ok("guest", "guest"));
		else
			rc = harness_send_quiet(c, frame_join(frame_connection_tune_ok(
								 HARNESS_CHANNEL_MAX,
								 HARNESS_FRAME_MAX, 0),
							 frame_connection_open("/")));
		if (rc != 0 || harness_read_frame(c, &f, HARNESS_TIMEOUT_MS) != HARNESS_READ_FRAME)
			goto fail;
		bool ok = f.type == FRAME_METHOD && f.class_id == expect[step][0] &&
			  f.method_id == expect[step][1];
		harness_frame_clear(&f);
		if (!ok)
			goto fail;
	}
	return c;
fail:
	harness_conn_free(c);
	return NULL;
}

/* One random frame, sometimes preceded by a channel.open. *lied is set when the size field is
 * wrong: the server then waits for bytes that never come, so the caller hangs up after it. */
/* Well-formed frames mixed into the garbage keep connections alive long enough for the garbage
 * to reach channels in several states (open, closing, mid-content). */
static struct frame *robustness_valid_frame(unsigned *seed)
{
	uint16_t channel = (uint16_t)(1 + rand_r(seed) % 3);

	switch (rand_r(seed) % 7) {
	case 0:
		return frame_heartbeat(0);
	case 1:
		return frame_channel_open(channel);
	case 2:
		return frame_queue_declare(channel, "", QUEUE_EXCLUSIVE, NULL);
	case 3:
		return frame_basic_qos(channel, 0, (uint16_t)rand_r(seed));
	case 4:
		return frame_publish_message(channel, "", "nowhere", "garbage neighbour");
	case 5:
		/* A method and header whose body the next frames interrupt. */
		return frame_join(frame_basic_publish(channel, "", "nowhere", false, false),
				  frame_content_header(channel, 10));
	default:
		return frame_channel_close_ok(channel);
	}
}

static struct frame *robustness_garbage_frame(unsigned *seed, bool *lied)
{
	static const uint8_t types[] = { FRAME_METHOD, FRAME_METHOD, FRAME_METHOD, FRAME_HEADER,
					 FRAME_BODY,   FRAME_HEARTBEAT, 0,	       9 };
	static const uint16_t classes[] = { 10, 20, 40, 50, 60, 85, 90, 0 };
	struct frame *p = frame_new();
	uint8_t type = types[rand_r(seed) % sizeof types];
	uint16_t channel = (uint16_t)(rand_r(seed) % 4 == 0 ? rand_r(seed) : rand_r(seed) % 3);
	int len = rand_r(seed) % 48;

	*lied = false;
	if (rand_r(seed) % 3 == 0) {
		frame_free(p);
		return robustness_valid_frame(seed);
	}

	if (type == FRAME_METHOD) {
		frame_put_u16(p, classes[rand_r(seed) % (sizeof classes / sizeof classes[0])]);
		frame_put_u16(p, (uint16_t)(10 * (rand_r(seed) % 12) + rand_r(seed) % 2));
	} else if (type == FRAME_HEADER) {
		frame_put_u16(p, 60);
		frame_put_u16(p, 0);
		frame_put_u64(p, (uint64_t)(rand_r(seed) % 3 == 0 ? rand_r(seed) : rand_r(seed) % 9));
	}
	for (int i = 0; i < len; i++)
		frame_put_u8(p, (uint8_t)rand_r(seed));
	struct frame *f = frame_wrap(type == 0 ? (uint8_t)rand_r(seed) : type, channel, p,
				     rand_r(seed) % 20 == 0 ? (uint8_t)rand_r(seed) : FRAME_END);
	*lied = rand_r(seed) % 25 == 0;
	if (*lied)
		f->bytes[3 + rand_r(seed) % 4] ^= (uint8_t)(1 + rand_r(seed) % 255);
	if (rand_r(seed) % 4 == 0) {
		/* Open a channel first now and then, so channel methods get past the state check. */
		struct frame *open = frame_channel_open(channel);
		f = frame_join(open, f);
	}
	return f;
}

/* Reads whatever the server says for a moment. true: the connection is still usable. */
static bool robustness_drain(struct harness_conn *c)
{
	struct harness_frame f;

	for (;;) {
		enum harness_read rc = harness_read_frame(c, &f, 20);
		if (rc == HARNESS_READ_TIMEOUT)
			return true;
		if (rc != HARNESS_READ_FRAME)
			return false;
		bool closing = f.type == FRAME_METHOD && f.channel == 0 && f.class_id == 10 &&
			       f.method_id == 50;
		if (f.type == FRAME_METHOD && f.class_id == 20 && f.method_id == 40)
			harness_send_quiet(c, frame_channel_close_ok(f.channel));
		harness_frame_clear(&f);
		if (closing) {
			harness_send_quiet(c, frame_connection_close_ok());
			return false;
		}
	}
}

/* Phase one: all the frames back to back on a single connection, without waiting for the
 * broker's verdict, so it must discard what follows its connection.close safely. */
static void robustness_garbage_burst(struct robustness_garbage *g)
{
	struct harness_conn *c = robustness_open_quiet();
	struct frame *burst = frame_new();
	bool lied;

	if (!c) {
		__atomic_add_fetch(&g->failures, 1, __ATOMIC_RELAXED);
		frame_free(burst);
		return;
	}
	g->connections++;
	for (int i = 0; i < ROBUSTNESS_GARBAGE_FRAMES; i++)
		frame_join(burst, robustness_garbage_frame(&g->seed, &lied));
	g->burst = ROBUSTNESS_GARBAGE_FRAMES;
	harness_send_quiet(c, burst);
	for (int i = 0; i < 100 && robustness_drain(c); i++)
		;
	harness_conn_free(c);
}

/* Phase two: one frame at a time, reconnecting whenever the broker closes the connection, so
 * every frame is looked at by a live connection. */
static void *robustness_garbage_run(void *arg)
{
	struct robustness_garbage *g = arg;
	struct harness_conn *c = NULL;

	robustness_garbage_burst(g);
	while (__atomic_load_n(&g->sent, __ATOMIC_RELAXED) < ROBUSTNESS_GARBAGE_FRAMES &&
	       __atomic_load_n(&g->failures, __ATOMIC_RELAXED) < 10) {
		if (!c) {
			c = robustness_open_quiet();
			if (!c) {
				__atomic_add_fetch(&g->failures, 1, __ATOMIC_RELAXED);
				continue;
			}
			g->connections++;
		}
		bool lied;
		int rc = harness_send_quiet(c, robustness_garbage_frame(&g->seed, &lied));
		__atomic_add_fetch(&g->sent, 1, __ATOMIC_RELAXED);
		if (rc != 0 || !robustness_drain(c) || lied) {
			harness_conn_free(c);
			c = NULL;
		}
	}
	harness_conn_free(c);
	return NULL;
}

START_TEST(random_garbage_frames_on_one_connection_do_not_disturb_another)
{
	const char *fixed = getenv("PROTOCOL_GARBAGE_SEED");
	struct robustness_garbage g = { .seed = fixed ? (unsigned)strtoul(fixed, NULL, 10)
						      : (unsigned)time(NULL) };
	unsigned seed = g.seed;
	struct harness_conn *ok = harness_open_with_channel(1);
	char queue[256], body[64];
	pthread_t thread;
	int rounds = 0;

	fprintf(stderr, "  (garbage seed %u; PROTOCOL_GARBAGE_SEED=%u replays it)\n", seed, seed);
	harness_declare_queue(ok, 1, queue, sizeof queue);
	ck_assert_int_eq(pthread_create(&thread, NULL, robustness_garbage_run, &g), 0);
	/* g.sent is read racily only to decide when to stop; the join below is the real sync. */
	while (rounds < 20 || __atomic_load_n(&g.sent, __ATOMIC_RELAXED) < ROBUSTNESS_GARBAGE_FRAMES) {
		if (__atomic_load_n(&g.failures, __ATOMIC_RELAXED) >= 10)
			break;
		snprintf(body, sizeof body, "message %d", rounds);
		harness_roundtrip(ok, 1, queue, body);
		rounds++;
		if (rounds > 100000)
			break;
	}
	ck_assert_int_eq(pthread_join(thread, NULL), 0);
	ck_assert_msg(g.failures < 10, "garbage connections could not even open (seed %u)", seed);
	ck_assert_int_eq(g.burst, ROBUSTNESS_GARBAGE_FRAMES);
	ck_assert_int_eq(g.sent, ROBUSTNESS_GARBAGE_FRAMES);
	harness_roundtrip(ok, 1, queue, "after the garbage");
	harness_conn_free(ok);

	ok = harness_open_with_channel(1);
	harness_declare_queue(ok, 1, queue, sizeof queue);
	harness_roundtrip(ok, 1, queue, "a new connection works too");
	harness_conn_free(ok);
	if (getenv("PROTOCOL_VERBOSE"))
		fprintf(stderr, "  (%d pipelined garbage frames, then %d over %d connections; %d "
				"round trips meanwhile)\n",
			g.burst, g.sent, g.connections, rounds);
}
END_TEST

Suite *suites_robustness(void)
{
	Suite *s = suite_create("robustness");
	TCase *tc = tcase_create("robustness");

	tcase_set_timeout(tc, SUITES_TEST_TIMEOUT);
	tcase_add_test(tc, half_a_frame_then_a_hang_up_does_not_hurt_the_broker);
	tcase_add_test(tc, silent_client_with_heartbeat_1_gets_heartbeats_and_then_the_socket_closes);
	tcase_add_test(tc, client_heartbeats_keep_a_connection_with_heartbeat_1_open);
	tcase_add_test(tc, random_garbage_frames_on_one_connection_do_not_disturb_another);
	suite_add_tcase(s, tc);
	return s;
}
