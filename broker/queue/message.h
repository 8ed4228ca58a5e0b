/* broker/queue/message.h: a published message, assembled once, then shared and immutable.
 * Every queue entry, unacked delivery and evbuffer reference holds one ref. Exchange, routing
 * key, properties and body live in the same allocation unless the properties were rewritten
 * (direct reply-to, BCC removal, dead-lettering), in which case they get their own. */
#ifndef BROKER_MESSAGE_H
#define BROKER_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amqp/wire.h"

struct broker;

struct message {
	uint32_t refs;
	bool persistent;         /* delivery_mode 2 */
	bool props_owned;        /* props points at its own allocation */
	bool has_headers;        /* the headers property is present (from the flags word) */
	uint8_t priority;
	int64_t expiration_ms;   /* per-message TTL from the expiration property, -1 when none */
	uint64_t store_id;       /* 0 while transient */
	uint64_t publish_time_ms;
	struct amqp_str exchange, routing_key;
	uint8_t *props;          /* property flags + list, forwarded untouched */
	uint32_t props_len;
	uint64_t body_len;
	struct broker *broker;   /* whose memory picture it counts in */
	uint8_t *body;
};

/* Allocates a message with room for the body; exchange, routing key and props are copied.
 * NULL on out of memory. The caller holds the one ref. */
struct message *message_new(struct broker *b, struct amqp_str exchange,
			    struct amqp_str routing_key, const uint8_t *props, size_t props_len,
			    uint64_t body_len);
struct store_message;
/* A message read back from the store (paged in, or recovered at start-up), with persistent,
 * priority and expiration decoded from its properties as a publish decodes them. NULL on out
 * of memory. */
struct message *message_from_store(struct broker *b, const struct store_message *sm,
				   uint64_t store_id);
/* Replaces the property bytes (copies). 0 or -1 on out of memory. */
int message_set_props(struct message *m, const uint8_t *props, size_t props_len);

static inline struct message *message_ref(struct message *m)
{
	m->refs++;
	return m;
}

void message_free_(struct message *m);

static inline void message_unref(struct message *m)
{
	if (m && --m->refs == 0)
		message_free_(m);
}

/* Bytes of memory the message accounts for (queue byte limits, memory alarms). */
static inline uint64_t message_size(const struct message *m)
{
	return m->body_len;
}


#endif
