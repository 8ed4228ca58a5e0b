/* storage/store_index.h: the in-memory index of the message log, msg_id -> where the record is
 * and which queues still hold it. Ids only grow, so the index is a dense array cut into chunks of
 * STORE_INDEX_CHUNK entries: 16 bytes per live message, a chunk is freed when its last entry
 * goes, and the chunk table shifts forward as old chunks empty. An entry names its one queue by
 * a 32-bit reference into a table of queue ids (refcounted, so queues that come and go do not
 * grow it); a message live in more than one queue keeps its queue ids in a side table (the
 * common single-queue case costs nothing more). */
#ifndef STORAGE_STORE_INDEX_H
#define STORAGE_STORE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_INDEX_CHUNK 4096

/* qref values besides 1 + a slot of the queue table */
#define STORE_INDEX_NO_QUEUE 0u           /* right after store_message_add, or dead */
#define STORE_INDEX_MULTI UINT32_MAX      /* several queues: see the side table */

struct store_index_entry {
	uint32_t qref;    /* which queue(s) hold it, see above */
	uint32_t segment;
	uint32_t offset;
	uint32_t len;     /* whole record, header included; 0: no entry */
};

struct store_index_qslot {
	uint64_t queue_id; /* 0: free */
	uint64_t refs;     /* entries naming this slot */
};

struct store_index_chunk {
	uint32_t used;
	struct store_index_entry e[STORE_INDEX_CHUNK];
};

struct store_index_multi {
	uint32_t count, cap;
	uint64_t queue_ids[];
};

struct store_index_slot {
	uint64_t msg_id; /* 0: empty */
	struct store_index_multi *multi;
};

struct store_index {
	uint64_t base; /* id of chunks[0]->e[0], a multiple of STORE_INDEX_CHUNK */
	struct store_index_chunk **chunks;
	size_t chunk_count, chunk_cap;
	struct store_index_slot *slots; /* open addressing, linear probing */
	size_t slot_count, slot_used;
	uint64_t entries;
	/* the queue table: slot i holds a queue id; qmap finds the slot of an id */
	struct store_index_qslot *qtab;
	uint32_t qtab_count, qtab_cap;
	uint32_t *qfree;                 /* free slots, a stack */
	uint32_t qfree_count;
	uint32_t *qmap;                  /* open addressing: slot + 1, 0 = empty */
	size_t qmap_count, qmap_used;
};

void store_index_init(struct store_index *ix);
void store_index_free(struct store_index *ix);

/* NULL when there is no entry for id. */
struct store_index_entry *store_index_get(const struct store_index *ix, uint64_t msg_id);
/* Creates (or moves) the entry for msg_id, keeping its queues. NULL when out of memory. */
struct store_index_entry *store_index_put(struct store_index *ix, uint64_t msg_id,
					  uint32_t segment, uint32_t offset, uint32_t len);
void store_index_remove(struct store_index *ix, uint64_t msg_id);

/* 1 when the message became live in the queue, 0 when it already was, -1 out of memory. */
int store_index_enqueue(struct store_index *ix, uint64_t msg_id, struct store_index_entry *e,
			uint64_t queue_id);
/* 1 when it left the queue, 0 when it was not in it. Does not remove the entry. */
int store_index_dequeue(struct store_index *ix, uint64_t msg_id, struct store_index_entry *e,
			uint64_t queue_id);
bool store_index_holds(const struct store_index *ix, uint64_t msg_id,
		       const struct store_index_entry *e, uint64_t queue_id);
/* The queue ids the message is live in (queue_count of them); borrowed. */
const uint64_t *store_index_queues(const struct store_index *ix, uint64_t msg_id,
				   const struct store_index_entry *e);

static inline bool store_index_live(const struct store_index_entry *e)
{
	return e->qref != STORE_INDEX_NO_QUEUE;
}

/* How many queues hold the message. */
uint32_t store_index_queue_count(const struct store_index *ix, uint64_t msg_id,
				 const struct store_index_entry *e);

/* Calls fn for every entry with lo <= id < hi, in id order. fn may dequeue but not remove. */
typedef void (*store_index_visit_fn)(void *arg, uint64_t msg_id, struct store_index_entry *e);
void store_index_visit(struct store_index *ix, uint64_t lo, uint64_t hi, store_index_visit_fn fn,
		       void *arg);

/* Bytes of heap the index uses. */
size_t store_index_memory(const struct store_index *ix);

#endif
