/* broker/queue/classic/qdeque.h: a queue's loaded ready entries (their messages in memory), one ring per
 * priority level, ordered by publish sequence. */
#ifndef BROKER_QDEQUE_H
#define BROKER_QDEQUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/queue/queue_type.h" /* struct qentry */

/* Ring buffer of entries ordered by seq. Zero-initialised is empty. */
struct qdeque {
	struct qentry *buf;
	size_t head, count, cap; /* cap is a power of two */
};

static inline struct qentry *qdeque_at(const struct qdeque *d, size_t i)
{
	return &d->buf[(d->head + i) & (d->cap - 1)];
}

/* Doubles the capacity. 0, or -1 out of memory. */
int qdeque_grow(struct qdeque *d);
/* 0, or -1 out of memory. */
int qdeque_push_back(struct qdeque *d, const struct qentry *e);
/* Inserts keeping seq order (a requeue goes back to its place). 0, or -1 out of memory. */
int qdeque_insert_sorted(struct qdeque *d, const struct qentry *e);
/* false when empty. */
bool qdeque_pop_front(struct qdeque *d, struct qentry *out);

#endif
