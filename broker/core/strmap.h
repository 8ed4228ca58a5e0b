/* broker/core/strmap.h: byte-string keyed hash map (vhosts, exchanges, queues, consumer tags).
 * Keys are copied; values are borrowed pointers owned by the caller. */
#ifndef BROKER_STRMAP_H
#define BROKER_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strmap_entry {
	struct strmap_entry *next;
	uint64_t hash;
	void *value;
	uint32_t key_len;
	char key[]; /* NUL-terminated copy */
};

struct strmap {
	struct strmap_entry **slots;
	size_t slot_count; /* power of two, or 0 before the first insert */
	size_t count;
};

void strmap_init(struct strmap *m);
/* Frees the entries, not the values. */
void strmap_clear(struct strmap *m);
void *strmap_get(const struct strmap *m, const void *key, size_t len);
/* 0, or -1 when out of memory. Replaces an existing value. */
int strmap_put(struct strmap *m, const void *key, size_t len, void *value);
/* Returns the removed value or NULL. */
void *strmap_del(struct strmap *m, const void *key, size_t len);

/* Iteration: for (e = strmap_first(m, &i); e; e = strmap_next(m, e, &i)). Do not insert while
 * iterating; deleting the current entry is not allowed either (collect first). */
struct strmap_entry *strmap_first(const struct strmap *m, size_t *slot);
struct strmap_entry *strmap_next(const struct strmap *m, struct strmap_entry *e, size_t *slot);

uint64_t strmap_hash(const void *key, size_t len);

#endif
