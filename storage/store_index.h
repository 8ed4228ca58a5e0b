/* storage/store_index.h: the in-memory index of the message log, msg_id -> where the record is
 * and which queues still hold it. Ids only grow, so the index is a dense array cut into chunks of
 * STORE_INDEX_CHUNK entries: 24 bytes per live message, a chunk is freed when its last entry
 * goes, and the chunk table shifts forward as old chunks empty. A message live in more than one
 * queue keeps its queue ids in a side table (the common single-queue case costs nothing more). */
#ifndef STORAGE_STORE_INDEX_H
#define STORAGE_STORE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_INDEX_CHUNK 4096

struct store_index_entry {
	uint64_t queue_id;    /* the one queue holding it; 0 when several (see the side table) */
	uint32_t segment;
	uint32_t offset;
	uint32_t len;         /* whole record, header included; 0: no entry */
	uint32_t queue_count; /* queues it is live in; 0 right after store_message_add */
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

/* Calls fn for every entry with lo <= id < hi, in id order. fn may dequeue but not remove. */
typedef void (*store_index_visit_fn)(void *arg, uint64_t msg_id, struct store_index_entry *e);
void store_index_visit(struct store_index *ix, uint64_t lo, uint64_t hi, store_index_visit_fn fn,
		       void *arg);

/* Bytes of heap the index uses. */
size_t store_index_memory(const struct store_index *ix);

#endif
