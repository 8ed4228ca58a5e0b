/* storage/store_index.c: the chunked dense array and the multi-queue side table. */
#include "storage/store_index.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void store_index_init(struct store_index *ix)
{
	memset(ix, 0, sizeof *ix);
}

void store_index_free(struct store_index *ix)
{
	for (size_t i = 0; i < ix->chunk_count; i++)
		free(ix->chunks[i]);
	free(ix->chunks);
	for (size_t i = 0; i < ix->slot_count; i++)
		free(ix->slots[i].multi);
	free(ix->slots);
	free(ix->qtab);
	free(ix->qfree);
	free(ix->qmap);
	memset(ix, 0, sizeof *ix);
}

static uint64_t store_index_hash(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static struct store_index_slot *store_index_slot_find(const struct store_index *ix, uint64_t id)
{
	if (ix->slot_count == 0)
		return NULL;
	for (size_t i = store_index_hash(id) & (ix->slot_count - 1);;
	     i = (i + 1) & (ix->slot_count - 1)) {
		if (ix->slots[i].msg_id == id)
			return &ix->slots[i];
		if (ix->slots[i].msg_id == 0)
			return NULL;
	}
}

static int store_index_slot_grow(struct store_index *ix)
{
	size_t n = ix->slot_count ? ix->slot_count * 2 : 64;
	struct store_index_slot *slots = calloc(n, sizeof *slots);

	if (!slots)
		return -1;
	for (size_t i = 0; i < ix->slot_count; i++) {
		size_t j;

		if (ix->slots[i].msg_id == 0)
			continue;
		for (j = store_index_hash(ix->slots[i].msg_id) & (n - 1); slots[j].msg_id;
		     j = (j + 1) & (n - 1))
			;
		slots[j] = ix->slots[i];
	}
	free(ix->slots);
	ix->slots = slots;
	ix->slot_count = n;
	return 0;
}

static struct store_index_slot *store_index_slot_add(struct store_index *ix, uint64_t id)
{
	size_t i;

	if ((ix->slot_used + 1) * 2 > ix->slot_count && store_index_slot_grow(ix) != 0)
		return NULL;
	for (i = store_index_hash(id) & (ix->slot_count - 1); ix->slots[i].msg_id;
	     i = (i + 1) & (ix->slot_count - 1))
		;
	ix->slots[i].msg_id = id;
	ix->slots[i].multi = NULL;
	ix->slot_used++;
	return &ix->slots[i];
}

/* Backward-shift deletion keeps probe chains whole without tombstones. */
static void store_index_slot_del(struct store_index *ix, struct store_index_slot *slot)
{
	size_t mask = ix->slot_count - 1;
	size_t i = (size_t)(slot - ix->slots);

	free(slot->multi);
	for (size_t j = (i + 1) & mask; ix->slots[j].msg_id; j = (j + 1) & mask) {
		size_t home = store_index_hash(ix->slots[j].msg_id) & mask;
		/* may the entry at j move to the hole at i? only if home is not in (i, j] */
		bool stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
		if (stays)
			continue;
		ix->slots[i] = ix->slots[j];
		i = j;
	}
	ix->slots[i].msg_id = 0;
	ix->slots[i].multi = NULL;
	ix->slot_used--;
}

/* ---- the queue table ---- */

static size_t store_index_qmap_find(const struct store_index *ix, uint64_t queue_id)
{
	size_t mask = ix->qmap_count - 1;
	size_t i = store_index_hash(queue_id) & mask;

	while (ix->qmap[i] && ix->qtab[ix->qmap[i] - 1].queue_id != queue_id)
		i = (i + 1) & mask;
	return i;
}

static int store_index_qmap_grow(struct store_index *ix)
{
	size_t n = ix->qmap_count ? ix->qmap_count * 2 : 64;
	uint32_t *map = calloc(n, sizeof *map);

	if (!map)
		return -1;
	for (size_t i = 0; i < ix->qmap_count; i++) {
		size_t j;

		if (!ix->qmap[i])
			continue;
		for (j = store_index_hash(ix->qtab[ix->qmap[i] - 1].queue_id) & (n - 1); map[j];
		     j = (j + 1) & (n - 1))
			;
		map[j] = ix->qmap[i];
	}
	free(ix->qmap);
	ix->qmap = map;
	ix->qmap_count = n;
	return 0;
}

/* The slot of queue_id with one more reference, created on first use; UINT32_MAX when out of
 * memory. */
static uint32_t store_index_qref(struct store_index *ix, uint64_t queue_id)
{
	size_t i;
	uint32_t slot;

	if ((ix->qmap_used + 1) * 2 > ix->qmap_count && store_index_qmap_grow(ix) != 0)
		return UINT32_MAX;
	i = store_index_qmap_find(ix, queue_id);
	if (ix->qmap[i]) {
		ix->qtab[ix->qmap[i] - 1].refs++;
		return ix->qmap[i] - 1;
	}
	if (ix->qfree_count) {
		slot = ix->qfree[--ix->qfree_count];
	} else {
		if (ix->qtab_count == ix->qtab_cap) {
			uint32_t cap = ix->qtab_cap ? ix->qtab_cap * 2 : 16;
			struct store_index_qslot *t = realloc(ix->qtab, cap * sizeof *t);
			uint32_t *f;

			if (!t)
				return UINT32_MAX;
			ix->qtab = t;
			f = realloc(ix->qfree, cap * sizeof *f);
			if (!f)
				return UINT32_MAX;
			ix->qfree = f;
			ix->qtab_cap = cap;
		}
		slot = ix->qtab_count++;
	}
	ix->qtab[slot].queue_id = queue_id;
	ix->qtab[slot].refs = 1;
	ix->qmap[i] = slot + 1;
	ix->qmap_used++;
	return slot;
}

static void store_index_qunref(struct store_index *ix, uint32_t slot)
{
	size_t mask = ix->qmap_count - 1;
	size_t i;

	if (--ix->qtab[slot].refs > 0)
		return;
	i = store_index_qmap_find(ix, ix->qtab[slot].queue_id);
	/* backward-shift deletion, as for the side table */
	for (size_t j = (i + 1) & mask; ix->qmap[j]; j = (j + 1) & mask) {
		size_t home = store_index_hash(ix->qtab[ix->qmap[j] - 1].queue_id) & mask;
		bool stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
		if (stays)
			continue;
		ix->qmap[i] = ix->qmap[j];
		i = j;
	}
	ix->qmap[i] = 0;
	ix->qmap_used--;
	ix->qtab[slot].queue_id = 0;
	ix->qfree[ix->qfree_count++] = slot;
}

struct store_index_entry *store_index_get(const struct store_index *ix, uint64_t msg_id)
{
	uint64_t k;
	struct store_index_chunk *c;
	struct store_index_entry *e;

	if (msg_id < ix->base)
		return NULL;
	k = (msg_id - ix->base) / STORE_INDEX_CHUNK;
	if (k >= ix->chunk_count || !(c = ix->chunks[k]))
		return NULL;
	e = &c->e[(msg_id - ix->base) % STORE_INDEX_CHUNK];
	return e->len ? e : NULL;
}

struct store_index_entry *store_index_put(struct store_index *ix, uint64_t msg_id,
					  uint32_t segment, uint32_t offset, uint32_t len)
{
	uint64_t k;
	struct store_index_entry *e;

	assert(len > 0 && msg_id > 0);
	if (ix->chunk_count == 0)
		ix->base = msg_id - msg_id % STORE_INDEX_CHUNK;
	if (msg_id < ix->base) {
		/* only recovery can go back (a message moved by compaction); grow at the front */
		uint64_t nb = msg_id - msg_id % STORE_INDEX_CHUNK;
		size_t extra = (size_t)((ix->base - nb) / STORE_INDEX_CHUNK);
		struct store_index_chunk **cs;

		cs = realloc(ix->chunks, (ix->chunk_count + extra) * sizeof *cs);
		if (!cs)
			return NULL;
		memmove(cs + extra, cs, ix->chunk_count * sizeof *cs);
		memset(cs, 0, extra * sizeof *cs);
		ix->chunks = cs;
		ix->chunk_count += extra;
		ix->chunk_cap = ix->chunk_count;
		ix->base = nb;
	}
	k = (msg_id - ix->base) / STORE_INDEX_CHUNK;
	if (k >= ix->chunk_cap) {
		size_t cap = ix->chunk_cap ? ix->chunk_cap * 2 : 16;
		struct store_index_chunk **cs;

		while (cap <= k)
			cap *= 2;
		cs = realloc(ix->chunks, cap * sizeof *cs);
		if (!cs)
			return NULL;
		memset(cs + ix->chunk_cap, 0, (cap - ix->chunk_cap) * sizeof *cs);
		ix->chunks = cs;
		ix->chunk_cap = cap;
	}
	if (k >= ix->chunk_count)
		ix->chunk_count = (size_t)k + 1;
	if (!ix->chunks[k] && !(ix->chunks[k] = calloc(1, sizeof *ix->chunks[k])))
		return NULL;
	e = &ix->chunks[k]->e[(msg_id - ix->base) % STORE_INDEX_CHUNK];
	if (e->len == 0) {
		ix->chunks[k]->used++;
		ix->entries++;
	}
	e->segment = segment;
	e->offset = offset;
	e->len = len;
	return e;
}

void store_index_remove(struct store_index *ix, uint64_t msg_id)
{
	struct store_index_entry *e = store_index_get(ix, msg_id);
	uint64_t k;
	size_t drop = 0;

	if (!e)
		return;
	if (e->qref == STORE_INDEX_MULTI) {
		struct store_index_slot *slot = store_index_slot_find(ix, msg_id);
		if (slot)
			store_index_slot_del(ix, slot);
	} else if (e->qref != STORE_INDEX_NO_QUEUE) {
		store_index_qunref(ix, e->qref - 1);
	}
	memset(e, 0, sizeof *e);
	ix->entries--;
	k = (msg_id - ix->base) / STORE_INDEX_CHUNK;
	if (--ix->chunks[k]->used > 0)
		return;
	free(ix->chunks[k]);
	ix->chunks[k] = NULL;
	while (drop < ix->chunk_count && !ix->chunks[drop])
		drop++;
	if (drop == 0)
		return;
	memmove(ix->chunks, ix->chunks + drop, (ix->chunk_count - drop) * sizeof *ix->chunks);
	memset(ix->chunks + ix->chunk_count - drop, 0, drop * sizeof *ix->chunks);
	ix->chunk_count -= drop;
	ix->base += (uint64_t)drop * STORE_INDEX_CHUNK;
}

uint32_t store_index_queue_count(const struct store_index *ix, uint64_t msg_id,
				 const struct store_index_entry *e)
{
	struct store_index_slot *slot;

	if (e->qref == STORE_INDEX_NO_QUEUE)
		return 0;
	if (e->qref != STORE_INDEX_MULTI)
		return 1;
	slot = store_index_slot_find(ix, msg_id);
	assert(slot && slot->multi);
	return slot->multi->count;
}

const uint64_t *store_index_queues(const struct store_index *ix, uint64_t msg_id,
				   const struct store_index_entry *e)
{
	struct store_index_slot *slot;

	if (e->qref == STORE_INDEX_NO_QUEUE)
		return NULL;
	if (e->qref != STORE_INDEX_MULTI)
		return &ix->qtab[e->qref - 1].queue_id;
	slot = store_index_slot_find(ix, msg_id);
	assert(slot && slot->multi);
	return slot->multi->queue_ids;
}

bool store_index_holds(const struct store_index *ix, uint64_t msg_id,
		       const struct store_index_entry *e, uint64_t queue_id)
{
	const uint64_t *q = store_index_queues(ix, msg_id, e);
	uint32_t n = store_index_queue_count(ix, msg_id, e);

	for (uint32_t i = 0; q && i < n; i++)
		if (q[i] == queue_id)
			return true;
	return false;
}

int store_index_enqueue(struct store_index *ix, uint64_t msg_id, struct store_index_entry *e,
			uint64_t queue_id)
{
	struct store_index_slot *slot;
	struct store_index_multi *mq;
	uint32_t q;

	assert(queue_id != 0);
	if (store_index_holds(ix, msg_id, e, queue_id))
		return 0;
	if (e->qref == STORE_INDEX_NO_QUEUE) {
		q = store_index_qref(ix, queue_id);
		if (q == UINT32_MAX)
			return -1;
		e->qref = q + 1;
		return 1;
	}
	if (e->qref != STORE_INDEX_MULTI) {
		/* second queue: move to the side table */
		mq = malloc(sizeof *mq + 4 * sizeof(uint64_t));
		if (!mq)
			return -1;
		slot = store_index_slot_add(ix, msg_id);
		if (!slot) {
			free(mq);
			return -1;
		}
		mq->count = 1;
		mq->cap = 4;
		mq->queue_ids[0] = ix->qtab[e->qref - 1].queue_id;
		slot->multi = mq;
		store_index_qunref(ix, e->qref - 1);
		e->qref = STORE_INDEX_MULTI;
	} else {
		slot = store_index_slot_find(ix, msg_id);
		assert(slot);
	}
	mq = slot->multi;
	if (mq->count == mq->cap) {
		struct store_index_multi *bigger =
			realloc(mq, sizeof *mq + 2 * mq->cap * sizeof(uint64_t));
		if (!bigger)
			return -1;
		mq = slot->multi = bigger;
		mq->cap *= 2;
	}
	mq->queue_ids[mq->count++] = queue_id;
	return 1;
}

int store_index_dequeue(struct store_index *ix, uint64_t msg_id, struct store_index_entry *e,
			uint64_t queue_id)
{
	struct store_index_slot *slot;
	struct store_index_multi *mq;
	uint32_t i, q;

	if (e->qref == STORE_INDEX_NO_QUEUE)
		return 0;
	if (e->qref != STORE_INDEX_MULTI) {
		if (ix->qtab[e->qref - 1].queue_id != queue_id)
			return 0;
		store_index_qunref(ix, e->qref - 1);
		e->qref = STORE_INDEX_NO_QUEUE;
		return 1;
	}
	slot = store_index_slot_find(ix, msg_id);
	assert(slot);
	mq = slot->multi;
	for (i = 0; i < mq->count && mq->queue_ids[i] != queue_id; i++)
		;
	if (i == mq->count)
		return 0;
	/* keep the order: it is the order the queues got the message */
	memmove(&mq->queue_ids[i], &mq->queue_ids[i + 1], (mq->count - i - 1) * sizeof(uint64_t));
	mq->count--;
	if (mq->count == 1) {
		q = store_index_qref(ix, mq->queue_ids[0]);
		if (q == UINT32_MAX)
			return 1; /* stays in the side table, one queue long */
		e->qref = q + 1;
		store_index_slot_del(ix, slot);
	}
	return 1;
}

void store_index_visit(struct store_index *ix, uint64_t lo, uint64_t hi, store_index_visit_fn fn,
		       void *arg)
{
	if (lo < ix->base)
		lo = ix->base;
	for (uint64_t k = (lo - ix->base) / STORE_INDEX_CHUNK; k < ix->chunk_count; k++) {
		struct store_index_chunk *c = ix->chunks[k];
		uint64_t first = ix->base + k * STORE_INDEX_CHUNK;

		if (first >= hi)
			break;
		if (!c)
			continue;
		for (uint32_t i = 0; i < STORE_INDEX_CHUNK; i++) {
			uint64_t id = first + i;
			if (id < lo || c->e[i].len == 0)
				continue;
			if (id >= hi)
				break;
			fn(arg, id, &c->e[i]);
		}
	}
}

size_t store_index_memory(const struct store_index *ix)
{
	size_t n = ix->chunk_cap * sizeof *ix->chunks + ix->slot_count * sizeof *ix->slots;

	for (size_t i = 0; i < ix->chunk_count; i++)
		if (ix->chunks[i])
			n += sizeof *ix->chunks[i];
	for (size_t i = 0; i < ix->slot_count; i++)
		if (ix->slots[i].multi)
			n += sizeof *ix->slots[i].multi + ix->slots[i].multi->cap * sizeof(uint64_t);
	n += ix->qtab_cap * (sizeof *ix->qtab + sizeof *ix->qfree) +
	     ix->qmap_count * sizeof *ix->qmap;
	return n;
}
