/* amqp/props.c: the content header frame and basic's properties. The assembler validates the
 * property bytes once when the header arrives; the broker keeps them raw, forwards them untouched
 * and decodes them again only where it reads a field (delivery-mode, expiration, headers ...). */
#include "props.h"

#include <string.h>

#include "table.h"
#include "wire.h"

int amqp_content_header_decode(struct amqp_content_header *h, const uint8_t *payload, size_t len)
{
	if (len < AMQP_CONTENT_HEADER_FIXED + 2)
		return -1;
	h->class_id = amqp_get_u16(payload);
	h->weight = amqp_get_u16(payload + 2);
	h->body_size = amqp_get_u64(payload + 4);
	h->props = payload + AMQP_CONTENT_HEADER_FIXED;
	h->props_len = len - AMQP_CONTENT_HEADER_FIXED;
	return 0;
}

/* A cursor over the property list; each reader returns -1 when the field runs past the end. */
struct props_cursor {
	const uint8_t *p;
	size_t left;
};

static int props_read_shortstr(struct props_cursor *c, struct amqp_str *s)
{
	if (c->left < 1 || c->left - 1 < c->p[0])
		return -1;
	*s = (struct amqp_str){ c->p + 1, c->p[0] };
	c->left -= 1 + (size_t)s->len;
	c->p += 1 + s->len;
	return 0;
}

static int props_read_table(struct props_cursor *c, struct amqp_table *t)
{
	uint32_t n;

	if (c->left < 4)
		return -1;
	n = amqp_get_u32(c->p);
	if (c->left - 4 < n || amqp_table_validate(c->p + 4, n) != 0)
		return -1;
	*t = (struct amqp_table){ c->p + 4, n };
	c->left -= 4 + (size_t)n;
	c->p += 4 + (size_t)n;
	return 0;
}

static int props_read_u8(struct props_cursor *c, uint8_t *v)
{
	if (c->left < 1)
		return -1;
	*v = c->p[0];
	c->p++;
	c->left--;
	return 0;
}

static int props_read_u64(struct props_cursor *c, uint64_t *v)
{
	if (c->left < 8)
		return -1;
	*v = amqp_get_u64(c->p);
	c->p += 8;
	c->left -= 8;
	return 0;
}

int amqp_props_decode(struct amqp_basic_props *p, const uint8_t *raw, size_t len)
{
	struct props_cursor c = { raw, len };
	uint16_t f;

	memset(p, 0, sizeof *p);
	if (len < 2)
		return -1;
	f = amqp_get_u16(raw);
	/* Bit 0 says another flag word follows; basic has 14 properties, so none may. Bit 1 is
	 * unused and ignored, as RabbitMQ does. */
	if (f & 1)
		return -1;
	p->flags = f;
	c.p += 2;
	c.left -= 2;
	if ((f & AMQP_PROP_CONTENT_TYPE) && props_read_shortstr(&c, &p->content_type))
		return -1;
	if ((f & AMQP_PROP_CONTENT_ENCODING) && props_read_shortstr(&c, &p->content_encoding))
		return -1;
	if ((f & AMQP_PROP_HEADERS) && props_read_table(&c, &p->headers))
		return -1;
	if ((f & AMQP_PROP_DELIVERY_MODE) && props_read_u8(&c, &p->delivery_mode))
		return -1;
	if ((f & AMQP_PROP_PRIORITY) && props_read_u8(&c, &p->priority))
		return -1;
	if ((f & AMQP_PROP_CORRELATION_ID) && props_read_shortstr(&c, &p->correlation_id))
		return -1;
	if ((f & AMQP_PROP_REPLY_TO) && props_read_shortstr(&c, &p->reply_to))
		return -1;
	if ((f & AMQP_PROP_EXPIRATION) && props_read_shortstr(&c, &p->expiration))
		return -1;
	if ((f & AMQP_PROP_MESSAGE_ID) && props_read_shortstr(&c, &p->message_id))
		return -1;
	if ((f & AMQP_PROP_TIMESTAMP) && props_read_u64(&c, &p->timestamp))
		return -1;
	if ((f & AMQP_PROP_TYPE) && props_read_shortstr(&c, &p->type))
		return -1;
	if ((f & AMQP_PROP_USER_ID) && props_read_shortstr(&c, &p->user_id))
		return -1;
	if ((f & AMQP_PROP_APP_ID) && props_read_shortstr(&c, &p->app_id))
		return -1;
	if ((f & AMQP_PROP_CLUSTER_ID) && props_read_shortstr(&c, &p->cluster_id))
		return -1;
	return c.left == 0 ? 0 : -1;
}

void amqp_props_encode(const struct amqp_basic_props *p, struct amqp_buf *b)
{
	uint16_t f = p->flags & (uint16_t)~3u; /* no continuation, no unused bit */

	amqp_buf_put_u16(b, f);
	if (f & AMQP_PROP_CONTENT_TYPE)
		amqp_buf_put_shortstr(b, p->content_type);
	if (f & AMQP_PROP_CONTENT_ENCODING)
		amqp_buf_put_shortstr(b, p->content_encoding);
	if (f & AMQP_PROP_HEADERS)
		amqp_buf_put_table(b, p->headers);
	if (f & AMQP_PROP_DELIVERY_MODE)
		amqp_buf_put_u8(b, p->delivery_mode);
	if (f & AMQP_PROP_PRIORITY)
		amqp_buf_put_u8(b, p->priority);
	if (f & AMQP_PROP_CORRELATION_ID)
		amqp_buf_put_shortstr(b, p->correlation_id);
	if (f & AMQP_PROP_REPLY_TO)
		amqp_buf_put_shortstr(b, p->reply_to);
	if (f & AMQP_PROP_EXPIRATION)
		amqp_buf_put_shortstr(b, p->expiration);
	if (f & AMQP_PROP_MESSAGE_ID)
		amqp_buf_put_shortstr(b, p->message_id);
	if (f & AMQP_PROP_TIMESTAMP)
		amqp_buf_put_u64(b, p->timestamp);
	if (f & AMQP_PROP_TYPE)
		amqp_buf_put_shortstr(b, p->type);
	if (f & AMQP_PROP_USER_ID)
		amqp_buf_put_shortstr(b, p->user_id);
	if (f & AMQP_PROP_APP_ID)
		amqp_buf_put_shortstr(b, p->app_id);
	if (f & AMQP_PROP_CLUSTER_ID)
		amqp_buf_put_shortstr(b, p->cluster_id);
}

void amqp_content_header_encode(struct amqp_buf *b, uint64_t body_size, const uint8_t *props,
				size_t props_len)
{
	amqp_buf_put_u16(b, 60); /* basic: the only class with content */
	amqp_buf_put_u16(b, 0);
	amqp_buf_put_u64(b, body_size);
	amqp_buf_put(b, props, props_len);
}
