/* amqp/props.h: the content header frame and basic's 14 properties.
 * The broker forwards property bytes untouched; it decodes them only to read the few fields it
 * acts on (delivery-mode, priority, expiration, headers, reply-to, user-id). */
#ifndef AMQP_PROPS_H
#define AMQP_PROPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "table.h"
#include "wire.h"

enum amqp_prop_flag {
	AMQP_PROP_CONTENT_TYPE = 1 << 15,
	AMQP_PROP_CONTENT_ENCODING = 1 << 14,
	AMQP_PROP_HEADERS = 1 << 13,
	AMQP_PROP_DELIVERY_MODE = 1 << 12,
	AMQP_PROP_PRIORITY = 1 << 11,
	AMQP_PROP_CORRELATION_ID = 1 << 10,
	AMQP_PROP_REPLY_TO = 1 << 9,
	AMQP_PROP_EXPIRATION = 1 << 8,
	AMQP_PROP_MESSAGE_ID = 1 << 7,
	AMQP_PROP_TIMESTAMP = 1 << 6,
	AMQP_PROP_TYPE = 1 << 5,
	AMQP_PROP_USER_ID = 1 << 4,
	AMQP_PROP_APP_ID = 1 << 3,
	AMQP_PROP_CLUSTER_ID = 1 << 2,
};

struct amqp_basic_props {
	uint16_t flags; /* which fields are present */
	struct amqp_str content_type, content_encoding;
	struct amqp_table headers;
	uint8_t delivery_mode, priority;
	struct amqp_str correlation_id, reply_to, expiration, message_id;
	uint64_t timestamp;
	struct amqp_str type, user_id, app_id, cluster_id;
};

/* Content header payload: class-id, weight, body-size, then property flags and list. */
struct amqp_content_header {
	uint16_t class_id;
	uint16_t weight;
	uint64_t body_size;
	const uint8_t *props; /* from the property flags to the end of the payload (borrowed) */
	size_t props_len;
};

#define AMQP_CONTENT_HEADER_FIXED 12 /* class, weight, body size */

/* 0 or -1 when shorter than 14 bytes. Does not look at the properties. */
int amqp_content_header_decode(struct amqp_content_header *h, const uint8_t *payload, size_t len);

/* Decodes property bytes (starting at the flags). Fields borrow `raw`. Rejects a continuation
 * flag (bit 0), truncation, trailing bytes and a malformed headers table. Returns 0 or -1. */
int amqp_props_decode(struct amqp_basic_props *p, const uint8_t *raw, size_t len);

/* Encodes flags + present fields into b. */
void amqp_props_encode(const struct amqp_basic_props *p, struct amqp_buf *b);

/* Writes a content header frame payload (class 60) into b: class, weight 0, body size, then
 * the already-encoded property bytes. */
void amqp_content_header_encode(struct amqp_buf *b, uint64_t body_size, const uint8_t *props,
				size_t props_len);

#endif
