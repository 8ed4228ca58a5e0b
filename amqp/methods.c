/* amqp/methods.c: decodes and encodes method frame payloads by walking the generated descriptor
 * table (methods_gen.c). Sits between frame.c (which hands over a method frame's payload) and
 * the assembler. Decoded strings and tables borrow the payload; nothing is allocated. */
#include "methods_gen.h"

#include <string.h>

#include "table.h"
#include "wire.h"

/* Field storage inside the union: each member struct starts at the union's address. */
#define FIELD_PTR(base, fd, type) ((type *)(void *)((base) + (fd)->offset))

enum amqp_decode_status amqp_method_decode(struct amqp_method *m, const uint8_t *payload,
					   size_t len)
{
	const struct amqp_method_desc *d;
	uint8_t *base;
	size_t off = 4;
	uint8_t bits = 0;
	unsigned bit = 8; /* next bit in `bits`; 8: no bit octet open */

	memset(m, 0, sizeof *m);
	if (len < 4)
		return AMQP_DECODE_MALFORMED;
	m->id = amqp_get_u32(payload);
	d = amqp_method_desc_find(m->id);
	if (!d)
		return AMQP_DECODE_UNKNOWN;
	base = (uint8_t *)&m->u;
	for (unsigned i = 0; i < d->field_count; i++) {
		const struct amqp_field_desc *fd = &d->fields[i];
		size_t left = len - off;
		uint32_t n;

		if (fd->type != AMQP_FIELD_BIT)
			bit = 8;
		switch (fd->type) {
		case AMQP_FIELD_OCTET:
			if (left < 1)
				return AMQP_DECODE_MALFORMED;
			*FIELD_PTR(base, fd, uint8_t) = payload[off];
			off += 1;
			break;
		case AMQP_FIELD_SHORT:
			if (left < 2)
				return AMQP_DECODE_MALFORMED;
			*FIELD_PTR(base, fd, uint16_t) = amqp_get_u16(payload + off);
			off += 2;
			break;
		case AMQP_FIELD_LONG:
			if (left < 4)
				return AMQP_DECODE_MALFORMED;
			*FIELD_PTR(base, fd, uint32_t) = amqp_get_u32(payload + off);
			off += 4;
			break;
		case AMQP_FIELD_LONGLONG:
		case AMQP_FIELD_TIMESTAMP:
			if (left < 8)
				return AMQP_DECODE_MALFORMED;
			*FIELD_PTR(base, fd, uint64_t) = amqp_get_u64(payload + off);
			off += 8;
			break;
		case AMQP_FIELD_BIT:
			if (bit == 8) {
				if (left < 1)
					return AMQP_DECODE_MALFORMED;
				bits = payload[off++];
				bit = 0;
			}
			*FIELD_PTR(base, fd, bool) = (bits >> bit) & 1;
			bit++;
			break;
		case AMQP_FIELD_SHORTSTR:
			if (left < 1 || left - 1 < payload[off])
				return AMQP_DECODE_MALFORMED;
			n = payload[off];
			*FIELD_PTR(base, fd, struct amqp_str) =
				(struct amqp_str){ payload + off + 1, n };
			off += 1 + (size_t)n;
			break;
		case AMQP_FIELD_LONGSTR:
		case AMQP_FIELD_TABLE:
			if (left < 4)
				return AMQP_DECODE_MALFORMED;
			n = amqp_get_u32(payload + off);
			if (left - 4 < n)
				return AMQP_DECODE_MALFORMED;
			if (fd->type == AMQP_FIELD_TABLE) {
				if (amqp_table_validate(payload + off + 4, n) != 0)
					return AMQP_DECODE_MALFORMED;
				*FIELD_PTR(base, fd, struct amqp_table) =
					(struct amqp_table){ payload + off + 4, n };
			} else {
				*FIELD_PTR(base, fd, struct amqp_str) =
					(struct amqp_str){ payload + off + 4, n };
			}
			off += 4 + (size_t)n;
			break;
		}
	}
	/* RabbitMQ's generated decoder matches each method's argument binary exactly, so trailing
	 * bytes do not decode there either. */
	if (off != len)
		return AMQP_DECODE_MALFORMED;
	return AMQP_DECODE_OK;
}

ssize_t amqp_method_encode(const struct amqp_method *m, uint8_t *out, size_t cap)
{
	const struct amqp_method_desc *d = amqp_method_desc_find(m->id);
	const uint8_t *base = (const uint8_t *)&m->u;
	size_t off = 4;
	size_t bit_at = 0; /* offset of the open bit octet */
	unsigned bit = 8;

	if (!d || cap < 4)
		return -1;
	amqp_put_u32(out, m->id);
	for (unsigned i = 0; i < d->field_count; i++) {
		const struct amqp_field_desc *fd = &d->fields[i];
		size_t left = cap - off;
		struct amqp_str s;
		struct amqp_table t;

		if (fd->type != AMQP_FIELD_BIT)
			bit = 8;
		switch (fd->type) {
		case AMQP_FIELD_OCTET:
			if (left < 1)
				return -1;
			out[off] = *FIELD_PTR(base, fd, const uint8_t);
			off += 1;
			break;
		case AMQP_FIELD_SHORT:
			if (left < 2)
				return -1;
			amqp_put_u16(out + off, *FIELD_PTR(base, fd, const uint16_t));
			off += 2;
			break;
		case AMQP_FIELD_LONG:
			if (left < 4)
				return -1;
			amqp_put_u32(out + off, *FIELD_PTR(base, fd, const uint32_t));
			off += 4;
			break;
		case AMQP_FIELD_LONGLONG:
		case AMQP_FIELD_TIMESTAMP:
			if (left < 8)
				return -1;
			amqp_put_u64(out + off, *FIELD_PTR(base, fd, const uint64_t));
			off += 8;
			break;
		case AMQP_FIELD_BIT:
			if (bit == 8) {
				if (left < 1)
					return -1;
				bit_at = off++;
				out[bit_at] = 0;
				bit = 0;
			}
			if (*FIELD_PTR(base, fd, const bool))
				out[bit_at] |= (uint8_t)(1u << bit);
			bit++;
			break;
		case AMQP_FIELD_SHORTSTR:
			s = *FIELD_PTR(base, fd, const struct amqp_str);
			if (s.len > 255 || left < 1 || left - 1 < s.len)
				return -1;
			out[off] = (uint8_t)s.len;
			if (s.len)
				memcpy(out + off + 1, s.ptr, s.len);
			off += 1 + (size_t)s.len;
			break;
		case AMQP_FIELD_LONGSTR:
		case AMQP_FIELD_TABLE:
			if (fd->type == AMQP_FIELD_TABLE) {
				t = *FIELD_PTR(base, fd, const struct amqp_table);
				s = (struct amqp_str){ t.ptr, t.len };
			} else {
				s = *FIELD_PTR(base, fd, const struct amqp_str);
			}
			if (left < 4 || left - 4 < s.len)
				return -1;
			amqp_put_u32(out + off, s.len);
			if (s.len)
				memcpy(out + off + 4, s.ptr, s.len);
			off += 4 + (size_t)s.len;
			break;
		}
	}
	return (ssize_t)off;
}

const char *amqp_method_name(uint32_t id)
{
	const struct amqp_method_desc *d = amqp_method_desc_find(id);

	return d ? d->name : NULL;
}

bool amqp_method_has_content(uint32_t id)
{
	const struct amqp_method_desc *d = amqp_method_desc_find(id);

	return d && d->has_content;
}

bool amqp_method_is_known(uint32_t id)
{
	return amqp_method_desc_find(id) != NULL;
}
