/* broker/exchange/topic_trie.h: the routing table of a topic exchange.
 * Binding keys are split on '.' into words and stored as paths in a trie; `*` and `#` get their own
 * edges. Matching follows RabbitMQ exactly: an empty key is zero words, "." is two empty words,
 * `*` is exactly one word (which may be empty), `#` is zero or more words, everything else is
 * literal and case-sensitive. Destinations are opaque pointers the trie never dereferences. */
#ifndef BROKER_TOPIC_TRIE_H
#define BROKER_TOPIC_TRIE_H

#include <stddef.h>
#include <stdint.h>

struct topic_trie;

struct topic_trie *topic_trie_new(void);
void topic_trie_free(struct topic_trie *t); /* NULL-safe; never touches the dests */

/* dest must not be NULL. 0 bound, 1 when (key, dest) was already bound (stored once),
 * -1 out of memory (trie unchanged). */
int topic_trie_bind(struct topic_trie *t, const uint8_t *key, size_t len, void *dest);
/* 0 removed, 1 not bound. Nodes left without bindings or children are freed. */
int topic_trie_unbind(struct topic_trie *t, const uint8_t *key, size_t len, void *dest);
/* Number of distinct (key, dest) bindings held, and of trie nodes (the root included): tests use
 * the latter to see that unbind prunes. */
size_t topic_trie_count(const struct topic_trie *t);
size_t topic_trie_node_count(const struct topic_trie *t);

typedef void (*topic_trie_match_fn)(void *dest, void *arg);

/* Calls fn once per binding whose key matches rk. fn may see the same dest more than once when
 * several of its keys match: callers dedup. fn must not bind or unbind on this trie.
 * The work is O(words x live trie nodes): no recursion, so hostile keys like "#.#.#..." cannot
 * blow up. Returns 0, or -1 when scratch memory ran out (fn may have been called for some
 * matches; none are reported twice). Callers that ignore the result may treat it as void. */
int topic_trie_match(const struct topic_trie *t, const uint8_t *rk, size_t len,
		     topic_trie_match_fn fn, void *arg);

#endif
