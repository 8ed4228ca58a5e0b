/* broker/queue/classic/queue_page.h: the part of a queue that lives on disk only. A paged entry is what a
 * queue must remember of a message whose body it let go of: the store id to read it back, its
 * place (seq), and the rare extras (TTL deadline, delivery count). Entries are kept in order in
 * a chain of 4 KiB chunks, delta-encoded: a run of messages published one after another costs
 * one byte each, so ten million queued messages cost about 10 MB here (the store's index adds
 * its 16 bytes per message). Pure data structure: no broker, no store, no libevent. */
#ifndef BROKER_QUEUE_PAGE_H
#define BROKER_QUEUE_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct qpage_entry {
	uint64_t msg_id;         /* store id */
	uint64_t seq;            /* publish order within the queue */
	uint64_t expires_at;     /* 0 = never */
	uint32_t delivery_count;
	bool redelivered;
};

struct qpage_chunk;

/* FIFO of paged entries. Zero-initialised is empty. */
struct qpage_list {
	struct qpage_chunk *head, *tail;
	uint64_t count;
	uint64_t last_id, last_seq; /* of the last entry pushed, the base of the next delta */
	size_t chunks;
};

/* Appends an entry (seq must be above every seq already in the list). 0, or -1 out of memory
 * (the list is unchanged). */
int qpage_push(struct qpage_list *l, const struct qpage_entry *e);
/* Removes the first entry. false when empty. */
bool qpage_pop(struct qpage_list *l, struct qpage_entry *out);
/* Moves every entry of front (whose seqs are all below this list's) to the front of l, in
 * order; front is left empty. */
void qpage_prepend(struct qpage_list *l, struct qpage_list *front);
/* Frees every entry. */
void qpage_clear(struct qpage_list *l);
/* Heap bytes the list uses. */
size_t qpage_memory(const struct qpage_list *l);

#endif
