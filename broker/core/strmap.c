/* broker/core/strmap.c: chained hash map with power-of-two tables, grown at load factor 1. */
#include "broker/core/strmap.h"

#include <stdlib.h>
#include <string.h>

uint64_t strmap_hash(const void *key, size_t len)
{
	const uint8_t *p = key;
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 29);
}

void strmap_init(struct strmap *m)
{
	m->slots = NULL;
	m->slot_count = 0;
	m->count = 0;
}

void strmap_clear(struct strmap *m)
{
	for (size_t i = 0; i < m->slot_count; i++) {
		struct strmap_entry *e = m->slots[i];
		while (e) {
			struct strmap_entry *next = e->next;
			free(e);
			e = next;
		}
	}
	free(m->slots);
	strmap_init(m);
}

static struct strmap_entry **strmap_find(const struct strmap *m, const void *key, size_t len,
					 uint64_t h)
{
	if (m->slot_count == 0)
		return NULL;
	struct strmap_entry **pp = &m->slots[h & (m->slot_count - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->key_len == len &&
		    (len == 0 || memcmp((*pp)->key, key, len) == 0))
			return pp;
	return NULL;
}

void *strmap_get(const struct strmap *m, const void *key, size_t len)
{
	struct strmap_entry **pp = strmap_find(m, key, len, strmap_hash(key, len));
	return pp ? (*pp)->value : NULL;
}

static int strmap_grow(struct strmap *m)
{
	size_t n = m->slot_count ? m->slot_count * 2 : 16;
	struct strmap_entry **slots = calloc(n, sizeof *slots);
	if (!slots)
		return -1;
	for (size_t i = 0; i < m->slot_count; i++) {
		struct strmap_entry *e = m->slots[i];
		while (e) {
			struct strmap_entry *next = e->next;
			size_t s = e->hash & (n - 1);
			e->next = slots[s];
			slots[s] = e;
			e = next;
		}
	}
	free(m->slots);
	m->slots = slots;
	m->slot_count = n;
	return 0;
}

int strmap_put(struct strmap *m, const void *key, size_t len, void *value)
{
	uint64_t h = strmap_hash(key, len);
	struct strmap_entry **pp = strmap_find(m, key, len, h);
	if (pp) {
		(*pp)->value = value;
		return 0;
	}
	if (m->count >= m->slot_count && strmap_grow(m) != 0)
		return -1;
	struct strmap_entry *e = malloc(sizeof *e + len + 1);
	if (!e)
		return -1;
	e->hash = h;
	e->value = value;
	e->key_len = (uint32_t)len;
	if (len)
		memcpy(e->key, key, len);
	e->key[len] = '\0';
	size_t s = h & (m->slot_count - 1);
	e->next = m->slots[s];
	m->slots[s] = e;
	m->count++;
	return 0;
}

void *strmap_del(struct strmap *m, const void *key, size_t len)
{
	struct strmap_entry **pp = strmap_find(m, key, len, strmap_hash(key, len));
	if (!pp)
		return NULL;
	struct strmap_entry *e = *pp;
	void *v = e->value;
	*pp = e->next;
	free(e);
	m->count--;
	return v;
}

struct strmap_entry *strmap_first(const struct strmap *m, size_t *slot)
{
	for (size_t i = 0; i < m->slot_count; i++)
		if (m->slots[i]) {
			*slot = i;
			return m->slots[i];
		}
	return NULL;
}

struct strmap_entry *strmap_next(const struct strmap *m, struct strmap_entry *e, size_t *slot)
{
	if (e->next)
		return e->next;
	for (size_t i = *slot + 1; i < m->slot_count; i++)
		if (m->slots[i]) {
			*slot = i;
			return m->slots[i];
		}
	return NULL;
}
