/* broker/queue/classic/queue_page.c: paged entries, delta-encoded in chunks.
 *
 * An entry is a flags byte and up to four varints:
 *
 *   flags bit 0   a TTL deadline follows (varint, absolute ms)
 *         bit 1   a delivery count follows (varint: count << 1 | redelivered)
 *         bit 2   the seq delta is not 1: it follows (varint)
 *         bits 3-7  the zigzag id delta when it is 1..31; 0: it follows (varint)
 *
 * in the order id delta, seq delta, deadline, delivery count. A chunk remembers the id and seq
 * of the entry before its first unread one, so chunks decode on their own and a list can take
 * other chunks at its front. */
#include "broker/queue/classic/queue_page.h"

#include <stdlib.h>
#include <string.h>

#define QPAGE_CHUNK_BYTES 4016
#define QPAGE_ENTRY_MAX (1 + 4 * 10)

struct qpage_chunk {
	struct qpage_chunk *next;
	uint64_t prev_id, prev_seq; /* the entry before the one at pos */
	uint32_t pos, len;
	uint8_t data[QPAGE_CHUNK_BYTES];
};

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static uint64_t get_varint(const uint8_t *p, uint32_t *pos)
{
	uint64_t v = 0;
	for (unsigned shift = 0;; shift += 7) {
		uint8_t b = p[(*pos)++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
}

static struct qpage_chunk *qpage_chunk_new(uint64_t prev_id, uint64_t prev_seq)
{
	struct qpage_chunk *c = malloc(sizeof *c);
	if (!c)
		return NULL;
	c->next = NULL;
	c->prev_id = prev_id;
	c->prev_seq = prev_seq;
	c->pos = c->len = 0;
	return c;
}

int qpage_push(struct qpage_list *l, const struct qpage_entry *e)
{
	struct qpage_chunk *c = l->tail;
	if (!c || c->len + QPAGE_ENTRY_MAX > QPAGE_CHUNK_BYTES) {
		c = qpage_chunk_new(l->last_id, l->last_seq);
		if (!c)
			return -1;
		if (l->tail)
			l->tail->next = c;
		else
			l->head = c;
		l->tail = c;
		l->chunks++;
	}
	int64_t d = (int64_t)(e->msg_id - l->last_id);
	uint64_t zz = ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);
	uint64_t dseq = e->seq - l->last_seq;
	uint8_t *p = c->data + c->len;
	size_t n = 1;
	uint8_t flags = 0;

	if (zz >= 1 && zz <= 31)
		flags |= (uint8_t)(zz << 3);
	else
		n += put_varint(p + n, zz);
	if (dseq != 1) {
		flags |= 4;
		n += put_varint(p + n, dseq);
	}
	if (e->expires_at) {
		flags |= 1;
		n += put_varint(p + n, e->expires_at);
	}
	if (e->delivery_count || e->redelivered) {
		flags |= 2;
		n += put_varint(p + n, (uint64_t)e->delivery_count << 1 | e->redelivered);
	}
	p[0] = flags;
	c->len += (uint32_t)n;
	l->last_id = e->msg_id;
	l->last_seq = e->seq;
	l->count++;
	return 0;
}

bool qpage_pop(struct qpage_list *l, struct qpage_entry *out)
{
	struct qpage_chunk *c = l->head;
	if (!l->count)
		return false;
	while (c->pos == c->len) { /* an emptied chunk before the tail */
		l->head = c->next;
		free(c);
		l->chunks--;
		c = l->head;
	}
	uint8_t flags = c->data[c->pos++];
	uint64_t zz = flags >> 3 ? (uint64_t)(flags >> 3) : get_varint(c->data, &c->pos);
	int64_t d = (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
	memset(out, 0, sizeof *out);
	out->msg_id = c->prev_id + (uint64_t)d;
	out->seq = c->prev_seq + ((flags & 4) ? get_varint(c->data, &c->pos) : 1);
	if (flags & 1)
		out->expires_at = get_varint(c->data, &c->pos);
	if (flags & 2) {
		uint64_t v = get_varint(c->data, &c->pos);
		out->delivery_count = (uint32_t)(v >> 1);
		out->redelivered = v & 1;
	}
	c->prev_id = out->msg_id;
	c->prev_seq = out->seq;
	if (--l->count == 0)
		qpage_clear(l); /* keeps last_id and last_seq: the next push's base */
	return true;
}

void qpage_prepend(struct qpage_list *l, struct qpage_list *front)
{
	if (!front->count) {
		qpage_clear(front);
		return;
	}
	if (!l->count) {
		qpage_clear(l);
		*l = *front;
	} else {
		front->tail->next = l->head;
		l->head = front->head;
		l->count += front->count;
		l->chunks += front->chunks;
	}
	memset(front, 0, sizeof *front);
}

void qpage_clear(struct qpage_list *l)
{
	struct qpage_chunk *c = l->head;
	while (c) {
		struct qpage_chunk *next = c->next;
		free(c);
		c = next;
	}
	l->head = l->tail = NULL;
	l->count = 0;
	l->chunks = 0;
}

size_t qpage_memory(const struct qpage_list *l)
{
	return l->chunks * sizeof(struct qpage_chunk);
}
