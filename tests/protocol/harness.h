/* The protocol tests' harness: runs the broker under test and talks raw AMQP to it over TCP.
 *
 * harness_start() launches WARREN_BIN on a free loopback port with a temporary data dir and waits
 * for "ready" on its stderr; harness_stop() sends SIGTERM and reports whether it exited 0 with no
 * sanitizer report. With WARREN_TEST_ADDR=host:port set, both leave that broker alone and the
 * tests run against it (this is how they are checked against RabbitMQ).
 *
 * Every read has a timeout, so a broker that stops answering fails a test instead of hanging it.
 * The expect helpers assert with ck_assert_*, so they may only be called from a test's own thread.
 */
#ifndef WARREN_TESTS_PROTOCOL_HARNESS_H
#define WARREN_TESTS_PROTOCOL_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frames.h"

#define HARNESS_TIMEOUT_MS 5000

/* Tune values the handshake helpers send back (what RabbitMQ clients echo). */
#define HARNESS_CHANNEL_MAX 2047
#define HARNESS_FRAME_MAX 131072

/* extra_args: NULL, or a NULL-terminated list of further broker arguments (at most 8), e.g.
 * {"--set", "channel_max=0", NULL}; ignored for an external broker. */
int harness_start(const char *const *extra_args);
/* 0 when the broker shut down cleanly (or is external), -1 otherwise (its log is printed). */
int harness_stop(void);
/* True when WARREN_TEST_ADDR points the tests at some other broker (e.g. RabbitMQ). */
bool harness_is_external(void);

struct harness_conn {
	int fd;
	uint8_t *buf; /* bytes received but not yet returned as frames */
	size_t len;
	size_t cap;
};

/* One received frame; payload is owned (harness_frame_clear frees it). */
struct harness_frame {
	uint8_t type;
	uint16_t channel;
	uint32_t size;
	uint8_t *payload;
	uint16_t class_id; /* method frames only */
	uint16_t method_id;
};

enum harness_read {
	HARNESS_READ_FRAME,
	HARNESS_READ_EOF,     /* orderly close or reset */
	HARNESS_READ_TIMEOUT, /* no complete frame in time */
	HARNESS_READ_BROKEN,  /* the server sent something that is not a frame */
};

/* TCP only: no AMQP bytes sent. Asserts on failure. */
struct harness_conn *harness_connect(void);
/* Returns NULL instead of asserting; for the garbage thread. */
struct harness_conn *harness_connect_quiet(void);
void harness_conn_free(struct harness_conn *c);

/* Protocol header, connection.start, start-ok (guest/password), connection.tune. Lends the
 * start and tune frames to the caller through out params when they are not NULL. */
void harness_handshake_start(struct harness_conn *c, const char *password,
			     struct harness_frame *start, struct harness_frame *tune);
/* tune-ok with these values, then connection.open(vhost), expecting open-ok. */
void harness_handshake_finish(struct harness_conn *c, uint32_t frame_max, uint16_t heartbeat);
/* The same with the tune-ok's channel_max given too. */
void harness_handshake_finish_tuned(struct harness_conn *c, uint16_t channel_max,
				    uint32_t frame_max, uint16_t heartbeat);
/* A connection that is open on vhost "/" with channel_max 2047, frame_max and heartbeat given. */
struct harness_conn *harness_open_tuned(uint32_t frame_max, uint16_t heartbeat);
/* Open on vhost "/" with this channel_max and frame_max in tune-ok, heartbeat 0. */
struct harness_conn *harness_open_channel_max(uint16_t channel_max, uint32_t frame_max);
/* The usual: frame_max 131072, heartbeat 0. */
struct harness_conn *harness_open(void);
/* harness_open() plus channel.open(channel) answered by open-ok. */
struct harness_conn *harness_open_with_channel(uint16_t channel);

/* Writes and frees f. harness_send asserts the write worked; harness_send_quiet returns -1. */
void harness_send(struct harness_conn *c, struct frame *f);
int harness_send_quiet(struct harness_conn *c, struct frame *f);

/* Reads exactly n raw bytes (for the protocol header reply). Returns the count read (< n on EOF
 * or timeout). */
size_t harness_read_bytes(struct harness_conn *c, uint8_t *out, size_t n, int timeout_ms);
enum harness_read harness_read_frame(struct harness_conn *c, struct harness_frame *f,
				     int timeout_ms);
void harness_frame_clear(struct harness_frame *f);
/* A one-line description of a frame for failure messages; returns buf. */
const char *harness_frame_describe(const struct harness_frame *f, char *buf, size_t len);

/* Next frame (heartbeats on channel 0 skipped) must be method class.method on channel. When out
 * is not NULL the frame is handed over, positioned after the ids; clear it afterwards. */
void harness_expect_method(struct harness_conn *c, uint16_t channel, uint16_t class_id,
			   uint16_t method_id, struct harness_frame *out);
/* Next frame must be connection.close with this code and exact text (class_id and method_id are
 * checked unless -1). Then sends close-ok and expects the socket to close. */
void harness_expect_connection_close(struct harness_conn *c, uint16_t code, const char *text,
				     int class_id, int method_id);
/* Next frame must be channel.close on channel with this code and exact text. Sends nothing. */
void harness_expect_channel_close(struct harness_conn *c, uint16_t channel, uint16_t code,
				  const char *text);
/* No frame at all before the socket closes (heartbeats excepted). */
void harness_expect_eof(struct harness_conn *c, int timeout_ms);
/* The connection ends: either the socket simply closes, or a connection.close whose code is one
 * of codes[0..count) comes first (answered with close-ok). */
void harness_expect_closed(struct harness_conn *c, int timeout_ms, const uint16_t *codes,
			   size_t count);
/* Nothing but channel-0 heartbeats arrives for ms milliseconds (and it stays open). */
void harness_expect_silence(struct harness_conn *c, int ms);

/* Declares a server-named exclusive queue on an open channel; copies its name into name. */
void harness_declare_queue(struct harness_conn *c, uint16_t channel, char *name, size_t len);
/* Publishes body to queue through the default exchange, then basic.get must return it. */
void harness_roundtrip(struct harness_conn *c, uint16_t channel, const char *queue,
		       const char *body);

/* A unique name for queues and tags, so runs against a shared RabbitMQ never collide. */
const char *harness_name(char *buf, size_t len, const char *what);

#endif
