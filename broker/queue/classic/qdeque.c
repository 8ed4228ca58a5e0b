/* broker/queue/classic/qdeque.c: the ring of a queue's loaded entries, ordered by seq. */
#include "broker/queue/classic/qdeque.h"

#include <stdlib.h>

int qdeque_grow(struct qdeque *d)
{
	size_t cap = d->cap ? d->cap * 2 : 16;
	struct qentry *buf = malloc(cap * sizeof *buf);
	if (!buf)
		return -1;
	for (size_t i = 0; i < d->count; i++)
		buf[i] = *qdeque_at(d, i);
	free(d->buf);
	d->buf = buf;
	d->cap = cap;
	d->head = 0;
	return 0;
}

int qdeque_push_back(struct qdeque *d, const struct qentry *e)
{
	if (d->count == d->cap && qdeque_grow(d) != 0)
		return -1;
	*qdeque_at(d, d->count) = *e;
	d->count++;
	return 0;
}

/* Inserts keeping seq order. Requeues are usually near the head, so shifting the shorter side
 * keeps this cheap in practice. */
int qdeque_insert_sorted(struct qdeque *d, const struct qentry *e)
{
	if (d->count == 0 || qdeque_at(d, d->count - 1)->seq < e->seq)
		return qdeque_push_back(d, e);
	if (d->count == d->cap && qdeque_grow(d) != 0)
		return -1;
	size_t lo = 0, hi = d->count;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (qdeque_at(d, mid)->seq < e->seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < d->count - lo) {
		d->head = (d->head - 1) & (d->cap - 1);
		for (size_t i = 0; i < lo; i++)
			*qdeque_at(d, i) = *qdeque_at(d, i + 1);
	} else {
		for (size_t i = d->count; i > lo; i--)
			*qdeque_at(d, i) = *qdeque_at(d, i - 1);
	}
	*qdeque_at(d, lo) = *e;
	d->count++;
	return 0;
}

bool qdeque_pop_front(struct qdeque *d, struct qentry *out)
{
	if (d->count == 0)
		return false;
	*out = *qdeque_at(d, 0);
	d->head = (d->head + 1) & (d->cap - 1);
	d->count--;
	return true;
}
