/* broker/exchange/topic_trie.c: word trie for topic exchange routing (see topic_trie.h for the rules).
 * Each node is one word of a binding key. Literal children live in an open-addressing hash table
 * (linear probing, backward-shift deletion) so a node with 100,000 children is still one probe;
 * the `*` and `#` children have their own pointers. Dests bound at a node live in a pointer set.
 *
 * Matching runs the trie as an NFA over the routing key's words: the set of live nodes after word
 * i is computed from the set after word i - 1, deduplicated, with `#` children added as soon as
 * their parent is live (they may match zero words) and `#` nodes staying live while they absorb
 * words. That is O(words x nodes) whatever the patterns, where RabbitMQ's recursive walk is
 * exponential on "#.#.#.#...". */
#include "broker/exchange/topic_trie.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "broker/core/bug.h"

enum topic_edge {
	TOPIC_EDGE_ROOT,
	TOPIC_EDGE_WORD,
	TOPIC_EDGE_STAR,
	TOPIC_EDGE_HASH,
};

struct topic_node {
	struct topic_node *parent;
	struct topic_node *star, *hash;
	struct topic_node **kids; /* literal children by word; kid_cap is 0 or a power of two */
	uint32_t kid_count, kid_cap;
	void **dests;             /* set of bound dests; dest_cap is 0 or a power of two */
	uint32_t dest_count, dest_cap;
	uint32_t word_hash;
	uint32_t word_len;
	enum topic_edge edge;
	uint8_t word[];
};

struct topic_trie {
	struct topic_node *root;
	size_t count, node_count;
};

/* ---- words ---- */

struct topic_words {
	const uint8_t *p;
	size_t len, pos;
	bool done;
};

static void topic_words_init(struct topic_words *w, const uint8_t *p, size_t len)
{
	w->p = p;
	w->len = len;
	w->pos = 0;
	w->done = len == 0; /* "" is zero words, not one empty word */
}

static bool topic_words_next(struct topic_words *w, const uint8_t **word, size_t *word_len)
{
	if (w->done)
		return false;
	const uint8_t *start = w->p + w->pos;
	const uint8_t *dot = memchr(start, '.', w->len - w->pos);
	*word = start;
	if (dot) {
		*word_len = (size_t)(dot - start);
		w->pos += *word_len + 1;
	} else {
		*word_len = w->len - w->pos;
		w->pos = w->len;
		w->done = true;
	}
	return true;
}

static uint32_t topic_word_hash(const uint8_t *p, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t topic_ptr_hash(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (uint32_t)x;
}

/* ---- literal children: open addressing keyed by word ---- */

static struct topic_node *topic_kid_find(const struct topic_node *n, const uint8_t *word,
					 size_t len, uint32_t h)
{
	if (n->kid_count == 0)
		return NULL;
	uint32_t mask = n->kid_cap - 1;
	for (uint32_t i = h & mask;; i = (i + 1) & mask) {
		struct topic_node *k = n->kids[i];
		if (!k)
			return NULL;
		if (k->word_hash == h && k->word_len == len && memcmp(k->word, word, len) == 0)
			return k;
	}
}

static void topic_kid_place(struct topic_node **slots, uint32_t cap, struct topic_node *k)
{
	uint32_t mask = cap - 1;
	uint32_t i = k->word_hash & mask;
	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = k;
}

static int topic_kid_insert(struct topic_node *n, struct topic_node *k)
{
	if ((n->kid_count + 1) * 2 > n->kid_cap) {
		uint32_t cap = n->kid_cap ? n->kid_cap * 2 : 4;
		struct topic_node **slots = calloc(cap, sizeof *slots);
		if (!slots)
			return -1;
		for (uint32_t i = 0; i < n->kid_cap; i++)
			if (n->kids[i])
				topic_kid_place(slots, cap, n->kids[i]);
		free(n->kids);
		n->kids = slots;
		n->kid_cap = cap;
	}
	topic_kid_place(n->kids, n->kid_cap, k);
	n->kid_count++;
	return 0;
}

static void topic_kid_remove(struct topic_node *n, struct topic_node *k)
{
	uint32_t mask = n->kid_cap - 1;
	uint32_t i = k->word_hash & mask;
	while (n->kids[i] != k)
		i = (i + 1) & mask;
	n->kids[i] = NULL;
	/* Backward shift: pull later entries of the probe run into the hole when their home slot
	 * allows it, so lookups never need tombstones. */
	for (uint32_t j = (i + 1) & mask; n->kids[j]; j = (j + 1) & mask) {
		uint32_t home = n->kids[j]->word_hash & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			n->kids[i] = n->kids[j];
			n->kids[j] = NULL;
			i = j;
		}
	}
	if (--n->kid_count == 0) {
		free(n->kids);
		n->kids = NULL;
		n->kid_cap = 0;
	}
}

/* ---- dests: open-addressing pointer set ---- */

static bool topic_dest_has(const struct topic_node *n, const void *dest)
{
	if (n->dest_count == 0)
		return false;
	uint32_t mask = n->dest_cap - 1;
	for (uint32_t i = topic_ptr_hash(dest) & mask; n->dests[i]; i = (i + 1) & mask)
		if (n->dests[i] == dest)
			return true;
	return false;
}

static void topic_dest_place(void **slots, uint32_t cap, void *dest)
{
	uint32_t mask = cap - 1;
	uint32_t i = topic_ptr_hash(dest) & mask;
	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = dest;
}

static int topic_dest_insert(struct topic_node *n, void *dest)
{
	if ((n->dest_count + 1) * 2 > n->dest_cap) {
		uint32_t cap = n->dest_cap ? n->dest_cap * 2 : 2;
		void **slots = calloc(cap, sizeof *slots);
		if (!slots)
			return -1;
		for (uint32_t i = 0; i < n->dest_cap; i++)
			if (n->dests[i])
				topic_dest_place(slots, cap, n->dests[i]);
		free(n->dests);
		n->dests = slots;
		n->dest_cap = cap;
	}
	topic_dest_place(n->dests, n->dest_cap, dest);
	n->dest_count++;
	return 0;
}

static int topic_dest_remove(struct topic_node *n, void *dest)
{
	if (n->dest_count == 0)
		return 1;
	uint32_t mask = n->dest_cap - 1;
	uint32_t i = topic_ptr_hash(dest) & mask;
	while (n->dests[i] != dest) {
		if (!n->dests[i])
			return 1;
		i = (i + 1) & mask;
	}
	n->dests[i] = NULL;
	for (uint32_t j = (i + 1) & mask; n->dests[j]; j = (j + 1) & mask) {
		uint32_t home = topic_ptr_hash(n->dests[j]) & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			n->dests[i] = n->dests[j];
			n->dests[j] = NULL;
			i = j;
		}
	}
	if (--n->dest_count == 0) {
		free(n->dests);
		n->dests = NULL;
		n->dest_cap = 0;
	}
	return 0;
}

/* ---- nodes ---- */

static struct topic_node *topic_node_new(enum topic_edge edge, const uint8_t *word, size_t len)
{
	struct topic_node *n = calloc(1, sizeof *n + len);
	if (!n)
		return NULL;
	n->edge = edge;
	n->word_len = (uint32_t)len;
	if (len)
		memcpy(n->word, word, len);
	n->word_hash = topic_word_hash(word, len);
	return n;
}

static bool topic_node_is_empty(const struct topic_node *n)
{
	return n->dest_count == 0 && n->kid_count == 0 && !n->star && !n->hash;
}

/* Frees n and its empty ancestors, stopping at the root or at a node still in use. */
static void topic_node_prune(struct topic_trie *t, struct topic_node *n)
{
	while (n->edge != TOPIC_EDGE_ROOT && topic_node_is_empty(n)) {
		t->node_count--;
		struct topic_node *parent = n->parent;
		if (n->edge == TOPIC_EDGE_STAR)
			parent->star = NULL;
		else if (n->edge == TOPIC_EDGE_HASH)
			parent->hash = NULL;
		else
			topic_kid_remove(parent, n);
		free(n->kids);
		free(n->dests);
		free(n);
		n = parent;
	}
}

static enum topic_edge topic_edge_of(const uint8_t *word, size_t len)
{
	if (len == 1 && word[0] == '*')
		return TOPIC_EDGE_STAR;
	if (len == 1 && word[0] == '#')
		return TOPIC_EDGE_HASH;
	return TOPIC_EDGE_WORD;
}

/* The child of n for one binding-key word, or NULL. */
static struct topic_node *topic_node_child(const struct topic_node *n, const uint8_t *word,
					   size_t len)
{
	switch (topic_edge_of(word, len)) {
	case TOPIC_EDGE_STAR:
		return n->star;
	case TOPIC_EDGE_HASH:
		return n->hash;
	default:
		return topic_kid_find(n, word, len, topic_word_hash(word, len));
	}
}

static struct topic_node *topic_node_child_add(struct topic_node *n, const uint8_t *word,
					       size_t len)
{
	enum topic_edge edge = topic_edge_of(word, len);
	struct topic_node *k = topic_node_new(edge, word, len);
	if (!k)
		return NULL;
	k->parent = n;
	if (edge == TOPIC_EDGE_STAR) {
		n->star = k;
	} else if (edge == TOPIC_EDGE_HASH) {
		n->hash = k;
	} else if (topic_kid_insert(n, k) != 0) {
		free(k);
		return NULL;
	}
	return k;
}

static void topic_node_free_tree(struct topic_node *root)
{
	/* Iterative post-order via parent pointers: deep keys ("a.a.a...") must not recurse. */
	struct topic_node *n = root;
	while (n) {
		struct topic_node *next = NULL;
		if (n->star) {
			next = n->star;
			n->star = NULL;
		} else if (n->hash) {
			next = n->hash;
			n->hash = NULL;
		} else if (n->kid_count) {
			for (uint32_t i = 0; i < n->kid_cap; i++) {
				if (n->kids[i]) {
					next = n->kids[i];
					n->kids[i] = NULL;
					n->kid_count--;
					break;
				}
			}
		}
		if (next) {
			n = next;
			continue;
		}
		struct topic_node *parent = n == root ? NULL : n->parent;
		free(n->kids);
		free(n->dests);
		free(n);
		n = parent;
	}
}

/* ---- public ---- */

struct topic_trie *topic_trie_new(void)
{
	struct topic_trie *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->root = topic_node_new(TOPIC_EDGE_ROOT, NULL, 0);
	if (!t->root) {
		free(t);
		return NULL;
	}
	t->node_count = 1;
	return t;
}

void topic_trie_free(struct topic_trie *t)
{
	if (!t)
		return;
	topic_node_free_tree(t->root);
	free(t);
}

size_t topic_trie_count(const struct topic_trie *t)
{
	return t->count;
}

size_t topic_trie_node_count(const struct topic_trie *t)
{
	return t->node_count;
}

int topic_trie_bind(struct topic_trie *t, const uint8_t *key, size_t len, void *dest)
{
	struct topic_words w;
	const uint8_t *word;
	size_t word_len;
	struct topic_node *n = t->root;

	BUG_ON(!dest); /* NULL marks an empty slot in the dest set */
	topic_words_init(&w, key, len);
	while (topic_words_next(&w, &word, &word_len)) {
		struct topic_node *k = topic_node_child(n, word, word_len);
		if (!k) {
			k = topic_node_child_add(n, word, word_len);
			if (!k)
				goto fail;
			t->node_count++;
		}
		n = k;
	}
	if (topic_dest_has(n, dest))
		return 1;
	if (topic_dest_insert(n, dest) != 0)
		goto fail;
	t->count++;
	return 0;
fail:
	topic_node_prune(t, n); /* drops the nodes this call created, which are still empty */
	return -1;
}

int topic_trie_unbind(struct topic_trie *t, const uint8_t *key, size_t len, void *dest)
{
	struct topic_words w;
	const uint8_t *word;
	size_t word_len;
	struct topic_node *n = t->root;

	topic_words_init(&w, key, len);
	while (topic_words_next(&w, &word, &word_len)) {
		n = topic_node_child(n, word, word_len);
		if (!n)
			return 1;
	}
	if (topic_dest_remove(n, dest) != 0)
		return 1;
	t->count--;
	topic_node_prune(t, n);
	return 0;
}

/* ---- matching ---- */

#define TOPIC_SET_INLINE 32

/* A deduplicated set of live nodes: items in insertion order plus a probe table over them. */
struct topic_set {
	const struct topic_node **items, **slots;
	size_t count, items_cap, slot_cap;
	const struct topic_node *items_inline[TOPIC_SET_INLINE];
	const struct topic_node *slots_inline[TOPIC_SET_INLINE * 2];
};

static void topic_set_init(struct topic_set *s)
{
	s->items = s->items_inline;
	s->slots = s->slots_inline;
	s->count = 0;
	s->items_cap = TOPIC_SET_INLINE;
	s->slot_cap = TOPIC_SET_INLINE * 2;
	memset(s->slots_inline, 0, sizeof s->slots_inline);
}

static void topic_set_fini(struct topic_set *s)
{
	if (s->items != s->items_inline)
		free(s->items);
	if (s->slots != s->slots_inline)
		free(s->slots);
}

static void topic_set_clear(struct topic_set *s)
{
	memset(s->slots, 0, s->slot_cap * sizeof *s->slots);
	s->count = 0;
}

static void topic_set_place(const struct topic_node **slots, size_t cap,
			    const struct topic_node *n)
{
	size_t mask = cap - 1;
	size_t i = topic_ptr_hash(n) & mask;
	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = n;
}

static int topic_set_grow(struct topic_set *s)
{
	size_t cap = s->items_cap * 2;
	const struct topic_node **items = malloc(cap * sizeof *items);
	const struct topic_node **slots = calloc(cap * 2, sizeof *slots);
	if (!items || !slots) {
		free(items);
		free(slots);
		return -1;
	}
	memcpy(items, s->items, s->count * sizeof *items);
	for (size_t i = 0; i < s->count; i++)
		topic_set_place(slots, cap * 2, items[i]);
	topic_set_fini(s);
	s->items = items;
	s->slots = slots;
	s->items_cap = cap;
	s->slot_cap = cap * 2;
	return 0;
}

/* 1 added, 0 already there, -1 out of memory. */
static int topic_set_add(struct topic_set *s, const struct topic_node *n)
{
	size_t mask = s->slot_cap - 1;
	size_t i = topic_ptr_hash(n) & mask;
	for (; s->slots[i]; i = (i + 1) & mask)
		if (s->slots[i] == n)
			return 0;
	if (s->count == s->items_cap) {
		if (topic_set_grow(s) != 0)
			return -1;
		topic_set_place(s->slots, s->slot_cap, n);
	} else {
		s->slots[i] = n;
	}
	s->items[s->count++] = n;
	return 1;
}

/* Adds n and the chain of `#` children below it: a `#` may match zero words, so it is live as
 * soon as its parent is. */
static int topic_set_add_live(struct topic_set *s, const struct topic_node *n)
{
	while (n) {
		int r = topic_set_add(s, n);
		if (r <= 0)
			return r; /* 0: already there, and so is its chain */
		n = n->hash;
	}
	return 0;
}

int topic_trie_match(const struct topic_trie *t, const uint8_t *rk, size_t len,
		     topic_trie_match_fn fn, void *arg)
{
	struct topic_set a, b, *cur = &a, *next = &b;
	struct topic_words w;
	const uint8_t *word;
	size_t word_len;
	int rc = -1;

	topic_set_init(&a);
	topic_set_init(&b);
	if (topic_set_add_live(cur, t->root) < 0)
		goto out;
	topic_words_init(&w, rk, len);
	while (topic_words_next(&w, &word, &word_len)) {
		uint32_t h = topic_word_hash(word, word_len);
		topic_set_clear(next);
		for (size_t i = 0; i < cur->count; i++) {
			const struct topic_node *n = cur->items[i];
			if (n->edge == TOPIC_EDGE_HASH && topic_set_add_live(next, n) < 0)
				goto out; /* `#` absorbs this word and stays live */
			if (n->star && topic_set_add_live(next, n->star) < 0)
				goto out;
			const struct topic_node *k = topic_kid_find(n, word, word_len, h);
			if (k && topic_set_add_live(next, k) < 0)
				goto out;
		}
		struct topic_set *tmp = cur;
		cur = next;
		next = tmp;
		if (cur->count == 0) {
			rc = 0;
			goto out;
		}
	}
	for (size_t i = 0; i < cur->count; i++) {
		const struct topic_node *n = cur->items[i];
		for (uint32_t j = 0; j < n->dest_cap; j++)
			if (n->dests[j])
				fn(n->dests[j], arg);
	}
	rc = 0;
out:
	topic_set_fini(&a);
	topic_set_fini(&b);
	return rc;
}
