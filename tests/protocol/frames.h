/* Hand-built AMQP 0-9-1 frames for the protocol tests, and a small cursor to read replies.
 *
 * Every byte here is laid out by hand from the 0-9-1 spec, on purpose without amqp/: a bug in the
 * project's encoder must not be able to hide the same bug in its decoder. A struct frame is a
 * heap buffer of wire bytes (one or several frames, or deliberately broken ones); harness_send()
 * writes it and frees it.
 */
#ifndef WARREN_TESTS_PROTOCOL_FRAMES_H
#define WARREN_TESTS_PROTOCOL_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_METHOD 1
#define FRAME_HEADER 2
#define FRAME_BODY 3
#define FRAME_HEARTBEAT 8
#define FRAME_END 0xce

/* Class and method ids, written as (class, method) pairs for the expect helpers. */
#define CONNECTION_START 10, 10
#define CONNECTION_START_OK 10, 11
#define CONNECTION_TUNE 10, 30
#define CONNECTION_TUNE_OK 10, 31
#define CONNECTION_OPEN 10, 40
#define CONNECTION_OPEN_OK 10, 41
#define CONNECTION_CLOSE 10, 50
#define CONNECTION_CLOSE_OK 10, 51
#define CHANNEL_OPEN 20, 10
#define CHANNEL_OPEN_OK 20, 11
#define CHANNEL_FLOW 20, 20
#define CHANNEL_FLOW_OK 20, 21
#define CHANNEL_CLOSE 20, 40
#define CHANNEL_CLOSE_OK 20, 41
#define QUEUE_DECLARE 50, 10
#define QUEUE_DECLARE_OK 50, 11
#define QUEUE_BIND_OK 50, 21
#define QUEUE_UNBIND_OK 50, 51
#define QUEUE_DELETE_OK 50, 41
#define EXCHANGE_DECLARE_OK 40, 11
#define EXCHANGE_DELETE_OK 40, 21
#define EXCHANGE_BIND_OK 40, 31
#define EXCHANGE_UNBIND_OK 40, 51
#define BASIC_QOS 60, 10
#define BASIC_QOS_OK 60, 11
#define BASIC_CONSUME 60, 20
#define BASIC_CONSUME_OK 60, 21
#define BASIC_PUBLISH 60, 40
#define BASIC_GET 60, 70
#define BASIC_GET_OK 60, 71
#define BASIC_GET_EMPTY 60, 72

/* Owned wire bytes. */
struct frame {
	size_t len;
	size_t cap;
	uint8_t *bytes;
};

struct frame *frame_new(void);
void frame_free(struct frame *f);
/* Appends src's bytes to dst and frees src; returns dst. Sends several frames in one write. */
struct frame *frame_join(struct frame *dst, struct frame *src);

/* Field writers, big-endian as the spec says. */
void frame_put_u8(struct frame *f, uint8_t v);
void frame_put_u16(struct frame *f, uint16_t v);
void frame_put_u32(struct frame *f, uint32_t v);
void frame_put_u64(struct frame *f, uint64_t v);
void frame_put_bytes(struct frame *f, const void *p, size_t len);
void frame_put_shortstr(struct frame *f, const char *s);
void frame_put_longstr(struct frame *f, const void *p, size_t len);

/* Wraps a payload into one frame: type, channel, size, payload, end octet. Frees payload. */
struct frame *frame_wrap(uint8_t type, uint16_t channel, struct frame *payload, uint8_t end);
/* A method payload starts with its class and method ids. */
struct frame *frame_method_payload(uint16_t class_id, uint16_t method_id);
struct frame *frame_method(uint16_t channel, struct frame *payload);

struct frame *frame_protocol_header(void);
struct frame *frame_heartbeat(uint16_t channel);
/* Client properties advertise the five capabilities RabbitMQ clients normally send. */
struct frame *frame_connection_start_ok(const char *user, const char *password);
struct frame *frame_connection_tune_ok(uint16_t channel_max, uint32_t frame_max,
				       uint16_t heartbeat);
struct frame *frame_connection_open(const char *vhost);
struct frame *frame_connection_close(uint16_t code, const char *text);
struct frame *frame_connection_close_ok(void);
struct frame *frame_channel_open(uint16_t channel);
struct frame *frame_channel_flow(uint16_t channel, bool active);
struct frame *frame_channel_close(uint16_t channel, uint16_t code, const char *text);
struct frame *frame_channel_close_ok(uint16_t channel);
/* flags: bit 0 passive, 1 durable, 2 exclusive, 3 auto-delete, 4 no-wait. args: a raw table
 * (4-byte length included) or NULL for an empty one; args is freed. */
#define QUEUE_PASSIVE 0x01
#define QUEUE_EXCLUSIVE 0x04
#define QUEUE_AUTO_DELETE 0x08
struct frame *frame_queue_declare(uint16_t channel, const char *queue, uint8_t flags,
				  struct frame *args);
struct frame *frame_queue_bind(uint16_t channel, const char *queue, const char *exchange,
			       const char *routing_key);
struct frame *frame_queue_unbind(uint16_t channel, const char *queue, const char *exchange,
				 const char *routing_key);
struct frame *frame_queue_delete(uint16_t channel, const char *queue);
/* flags: bit 0 passive, 1 durable, 2 auto-delete, 3 internal, 4 no-wait. */
#define EXCHANGE_PASSIVE 0x01
#define EXCHANGE_NOWAIT 0x10
struct frame *frame_exchange_declare(uint16_t channel, const char *exchange, const char *type,
				     uint8_t flags);
struct frame *frame_exchange_delete(uint16_t channel, const char *exchange);
struct frame *frame_exchange_bind(uint16_t channel, const char *destination, const char *source,
				  const char *routing_key);
struct frame *frame_exchange_unbind(uint16_t channel, const char *destination, const char *source,
				    const char *routing_key);
struct frame *frame_basic_qos(uint16_t channel, uint32_t prefetch_size, uint16_t prefetch_count);
struct frame *frame_basic_consume(uint16_t channel, const char *queue, const char *tag);
struct frame *frame_basic_publish(uint16_t channel, const char *exchange, const char *routing_key,
				  bool mandatory, bool immediate);
/* A basic-class content header with no properties. */
struct frame *frame_content_header(uint16_t channel, uint64_t body_size);
struct frame *frame_body(uint16_t channel, const void *p, size_t len);
/* publish + header + one body frame. */
struct frame *frame_publish_message(uint16_t channel, const char *exchange, const char *routing_key,
				    const char *body);
struct frame *frame_basic_get(uint16_t channel, const char *queue, bool no_ack);

/* A bounds-checked reader over a received payload. Any read past the end sets failed and
 * returns zeros, so tests can read a whole reply and check failed once. */
struct frame_reader {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool failed;
};

void frame_reader_init(struct frame_reader *r, const uint8_t *p, size_t len);
uint8_t frame_reader_u8(struct frame_reader *r);
uint16_t frame_reader_u16(struct frame_reader *r);
uint32_t frame_reader_u32(struct frame_reader *r);
uint64_t frame_reader_u64(struct frame_reader *r);
/* Copies a short string into out (NUL-terminated, truncated to out_len - 1). */
void frame_reader_shortstr(struct frame_reader *r, char *out, size_t out_len);
/* Lends a long string's bytes; *len gets its length. */
const uint8_t *frame_reader_longstr(struct frame_reader *r, uint32_t *len);
/* Skips n bytes; returns them (lent) or NULL. */
const uint8_t *frame_reader_skip(struct frame_reader *r, size_t n);
/* Skips one field-table value of the given type octet (RabbitMQ's type set); false for a type it
 * does not know. */
bool frame_reader_field_skip(struct frame_reader *r, uint8_t type);

#endif
