/* broker/queue/message.c: message allocation. One malloc per message, holding routing strings,
 * properties and the body, so fan-out to N queues is N refcount increments. */
#include "broker/queue/message.h"

#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"
#include "broker/core/broker.h"
#include "storage/store.h"

struct message *message_new(struct broker *b, struct amqp_str exchange,
			    struct amqp_str routing_key, const uint8_t *props, size_t props_len,
			    uint64_t body_len)
{
	size_t fixed = sizeof(struct message) + exchange.len + routing_key.len + props_len;
	if (body_len > SIZE_MAX - fixed)
		return NULL;
	struct message *m = malloc(fixed + (size_t)body_len);
	if (!m)
		return NULL;
	memset(m, 0, sizeof *m);
	uint8_t *p = (uint8_t *)(m + 1);
	m->refs = 1;
	m->expiration_ms = -1;
	if (exchange.len)
		memcpy(p, exchange.ptr, exchange.len);
	m->exchange = (struct amqp_str){ p, exchange.len };
	p += exchange.len;
	if (routing_key.len)
		memcpy(p, routing_key.ptr, routing_key.len);
	m->routing_key = (struct amqp_str){ p, routing_key.len };
	p += routing_key.len;
	if (props_len)
		memcpy(p, props, props_len);
	m->props = p;
	m->props_len = (uint32_t)props_len;
	m->has_headers = props_len >= 2 && (p[0] & 0x20); /* flag bit 13 */
	p += props_len;
	m->body = p;
	m->body_len = body_len;
	m->broker = b;
	b->message_live_count++;
	b->message_live_bytes += body_len;
	return m;
}

struct message *message_from_store(struct broker *b, const struct store_message *sm,
				   uint64_t store_id)
{
	struct amqp_str x = { sm->exchange, sm->exchange_len };
	struct amqp_str rk = { sm->routing_key, sm->routing_key_len };
	struct message *m = message_new(b, x, rk, sm->props, sm->props_len, sm->body_len);
	struct amqp_basic_props p;

	if (!m)
		return NULL;
	if (sm->body_len)
		memcpy(m->body, sm->body, sm->body_len);
	m->store_id = store_id;
	if (amqp_props_decode(&p, m->props, m->props_len) != 0)
		return m; /* it was decoded when published: cannot happen */
	m->persistent = (p.flags & AMQP_PROP_DELIVERY_MODE) && p.delivery_mode == 2;
	m->priority = (p.flags & AMQP_PROP_PRIORITY) ? p.priority : 0;
	if (p.flags & AMQP_PROP_EXPIRATION) {
		int64_t ms = 0;
		for (uint32_t i = 0; i < p.expiration.len && i < 18; i++)
			ms = ms * 10 + (p.expiration.ptr[i] - '0'); /* digits: checked at publish */
		m->expiration_ms = ms;
	}
	return m;
}

int message_set_props(struct message *m, const uint8_t *props, size_t props_len)
{
	uint8_t *copy = malloc(props_len ? props_len : 1);
	if (!copy)
		return -1;
	if (props_len)
		memcpy(copy, props, props_len);
	if (m->props_owned)
		free(m->props);
	m->props = copy;
	m->props_len = (uint32_t)props_len;
	m->props_owned = true;
	m->has_headers = props_len >= 2 && (copy[0] & 0x20);
	return 0;
}

void message_free_(struct message *m)
{
	m->broker->message_live_count--;
	m->broker->message_live_bytes -= m->body_len;
	if (m->props_owned)
		free(m->props);
	free(m);
}
