/* tests/unit/broker/test_topic_trie.c: broker/topic_trie.c against RabbitMQ's observed topic rules
 * (shared/reference/rabbitmq-semantics.md section 7) and against a naive recursive matcher. */
#include "broker/exchange/topic_trie.h"

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEST(i) ((void *)(uintptr_t)(i))

/* ---- helpers ---- */

struct hits {
	uintptr_t *v;
	size_t count, cap;
};

static void hits_add(void *dest, void *arg)
{
	struct hits *h = arg;
	if (h->count == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 16;
		h->v = realloc(h->v, h->cap * sizeof *h->v);
		/* Not ck_assert in hot paths: each passing one writes to a pipe. */
		if (!h->v)
			ck_abort_msg("out of memory");
	}
	h->v[h->count++] = (uintptr_t)dest;
}

static int cmp_uintptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

static void hits_sort(struct hits *h)
{
	if (h->count)
		qsort(h->v, h->count, sizeof *h->v, cmp_uintptr);
}

static int bind_s(struct topic_trie *t, const char *key, uintptr_t dest)
{
	return topic_trie_bind(t, (const uint8_t *)key, strlen(key), DEST(dest));
}

static int unbind_s(struct topic_trie *t, const char *key, uintptr_t dest)
{
	return topic_trie_unbind(t, (const uint8_t *)key, strlen(key), DEST(dest));
}

/* Sorted dests matched by key; caller frees h.v. */
static struct hits match_s(const struct topic_trie *t, const char *key)
{
	struct hits h = { 0 };
	ck_assert_int_eq(topic_trie_match(t, (const uint8_t *)key, strlen(key), hits_add, &h), 0);
	hits_sort(&h);
	return h;
}

static bool matches(const struct topic_trie *t, const char *key, uintptr_t dest)
{
	struct hits h = match_s(t, key);
	bool found = false;
	for (size_t i = 0; i < h.count; i++)
		found |= h.v[i] == dest;
	free(h.v);
	return found;
}

/* ---- the table from the reference, section 7 ---- */

static const char *const ref_keys[] = {
	"a.b", "a", "a.b.c", "a.x.b", "a.x.y.b", "", "a..b", ".", "a.b.", "b", "..", "a.", ".a",
};
#define REF_KEY_COUNT (sizeof ref_keys / sizeof ref_keys[0])
#define ALL_KEYS "a.b|a|a.b.c|a.x.b|a.x.y.b||a..b|.|a.b.|b|..|a.|.a"

struct ref_row {
	const char *pattern;
	const char *matched; /* '|'-separated keys; "" is written as an empty item */
};

static const struct ref_row ref_rows[] = {
	{ "a.b", "a.b" },
	{ "a.*", "a.b|a." },
	{ "*.b", "a.b" },
	{ "*", "a|b" },
	{ "*.*", "a.b|.|a.|.a" },
	{ "#", ALL_KEYS },
	{ "#.#", ALL_KEYS },
	{ "a.#", "a|a.b|a.b.c|a.x.b|a.x.y.b|a..b|a.b.|a." },
	{ "#.b", "a.b|a.x.b|a.x.y.b|a..b|b" },
	{ "a.#.b", "a.b|a.x.b|a.x.y.b|a..b" },
	{ "a.*.b", "a.x.b|a..b" },
	{ "a.*.#", "a.b|a.b.c|a.x.b|a.x.y.b|a..b|a.b.|a." },
	{ "#.*", "a.b|a|a.b.c|a.x.b|a.x.y.b|a..b|.|a.b.|b|..|a.|.a" },
	{ "#.a.#", "a.b|a|a.b.c|a.x.b|a.x.y.b|a..b|a.b.|a.|.a" },
	{ "", "" },
	{ "a..b", "a..b" },
	{ "a.b.", "a.b." },
	{ ".", "." },
	{ "..", ".." },
};
#define REF_ROW_COUNT (sizeof ref_rows / sizeof ref_rows[0])

/* "" in the list is an empty item: "x||y" holds "", and the list "" holds exactly "". */
static bool list_has(const char *list, const char *key)
{
	size_t klen = strlen(key);
	const char *p = list;
	for (;;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == klen && memcmp(p, key, len) == 0)
			return true;
		if (!bar)
			return false;
		p = bar + 1;
	}
}

START_TEST(every_reference_pattern_matches_exactly_the_reference_keys)
{
	for (size_t r = 0; r < REF_ROW_COUNT; r++) {
		struct topic_trie *t = topic_trie_new();
		ck_assert_ptr_nonnull(t);
		ck_assert_int_eq(bind_s(t, ref_rows[r].pattern, 1), 0);
		for (size_t k = 0; k < REF_KEY_COUNT; k++) {
			bool want = list_has(ref_rows[r].matched, ref_keys[k]);
			bool got = matches(t, ref_keys[k], 1);
			ck_assert_msg(want == got, "pattern '%s' key '%s': want %d got %d",
				      ref_rows[r].pattern, ref_keys[k], want, got);
		}
		topic_trie_free(t);
	}
}
END_TEST

START_TEST(all_reference_patterns_bound_together_route_like_each_one_alone)
{
	struct topic_trie *t = topic_trie_new();
	for (size_t r = 0; r < REF_ROW_COUNT; r++)
		ck_assert_int_eq(bind_s(t, ref_rows[r].pattern, r + 1), 0);
	for (size_t k = 0; k < REF_KEY_COUNT; k++) {
		struct hits h = match_s(t, ref_keys[k]);
		size_t want = 0;
		for (size_t r = 0; r < REF_ROW_COUNT; r++) {
			if (!list_has(ref_rows[r].matched, ref_keys[k]))
				continue;
			ck_assert_msg(want < h.count && h.v[want] == r + 1,
				      "key '%s' should match pattern '%s'", ref_keys[k],
				      ref_rows[r].pattern);
			want++;
		}
		ck_assert_uint_eq(h.count, want);
		free(h.v);
	}
	topic_trie_free(t);
}
END_TEST

START_TEST(matching_is_case_sensitive_and_literal)
{
	struct topic_trie *t = topic_trie_new();
	bind_s(t, "A.b", 1);
	bind_s(t, "a?.b", 2);
	ck_assert(!matches(t, "a.b", 1));
	ck_assert(matches(t, "A.b", 1));
	ck_assert(!matches(t, "ab.b", 2));
	ck_assert(matches(t, "a?.b", 2));
	topic_trie_free(t);
}
END_TEST

START_TEST(star_and_hash_inside_a_word_are_literal)
{
	struct topic_trie *t = topic_trie_new();
	bind_s(t, "a*.b", 1);
	bind_s(t, "#a", 2);
	ck_assert(!matches(t, "ax.b", 1));
	ck_assert(matches(t, "a*.b", 1));
	ck_assert(!matches(t, "a", 2));
	ck_assert(matches(t, "#a", 2));
	topic_trie_free(t);
}
END_TEST

START_TEST(a_literal_star_or_hash_in_the_routing_key_is_just_a_word)
{
	struct topic_trie *t = topic_trie_new();
	bind_s(t, "a.b", 1);
	bind_s(t, "*", 2);
	ck_assert(!matches(t, "a.*", 1));
	ck_assert(!matches(t, "#", 1));
	ck_assert(matches(t, "#", 2));
	topic_trie_free(t);
}
END_TEST

/* ---- bind, unbind, rebind ---- */

START_TEST(binding_the_same_key_and_dest_twice_stores_it_once)
{
	struct topic_trie *t = topic_trie_new();
	ck_assert_int_eq(bind_s(t, "a.*", 1), 0);
	ck_assert_int_eq(bind_s(t, "a.*", 1), 1);
	ck_assert_int_eq(bind_s(t, "a.*", 2), 0);
	ck_assert_uint_eq(topic_trie_count(t), 2);
	struct hits h = match_s(t, "a.b");
	ck_assert_uint_eq(h.count, 2);
	ck_assert_uint_eq(h.v[0], 1);
	ck_assert_uint_eq(h.v[1], 2);
	free(h.v);
	topic_trie_free(t);
}
END_TEST

START_TEST(a_dest_bound_with_two_matching_keys_is_reported_once_per_key)
{
	struct topic_trie *t = topic_trie_new();
	bind_s(t, "a.*", 1);
	bind_s(t, "#", 1);
	struct hits h = match_s(t, "a.b");
	ck_assert_uint_eq(h.count, 2);
	free(h.v);
	topic_trie_free(t);
}
END_TEST

START_TEST(unbinding_what_was_never_bound_says_not_found)
{
	struct topic_trie *t = topic_trie_new();
	ck_assert_int_eq(unbind_s(t, "a.b", 1), 1);
	bind_s(t, "a.b", 1);
	ck_assert_int_eq(unbind_s(t, "a.b", 2), 1);
	ck_assert_int_eq(unbind_s(t, "a", 1), 1);
	ck_assert_int_eq(unbind_s(t, "a.b.c", 1), 1);
	ck_assert_int_eq(unbind_s(t, "a.*", 1), 1);
	ck_assert_int_eq(unbind_s(t, "a.#", 1), 1);
	ck_assert(matches(t, "a.b", 1));
	topic_trie_free(t);
}
END_TEST

START_TEST(unbind_removes_one_binding_and_keeps_the_others)
{
	struct topic_trie *t = topic_trie_new();
	bind_s(t, "a.b", 1);
	bind_s(t, "a.b", 2);
	bind_s(t, "a.#", 1);
	ck_assert_int_eq(unbind_s(t, "a.b", 1), 0);
	ck_assert_int_eq(unbind_s(t, "a.b", 1), 1);
	struct hits h = match_s(t, "a.b");
	ck_assert_uint_eq(h.count, 2); /* dest 2 through a.b, dest 1 through a.# */
	free(h.v);
	ck_assert(matches(t, "a.b.c", 1));
	ck_assert(!matches(t, "a.b.c", 2));
	topic_trie_free(t);
}
END_TEST

START_TEST(unbinding_everything_prunes_the_trie_back_to_its_root)
{
	static const char *const keys[] = { "a.b.c", "a.b", "a.*.#", "#.#.#", "", ".", "a..b",
					    "x.y.z.w", "*", "#" };
	struct topic_trie *t = topic_trie_new();
	ck_assert_uint_eq(topic_trie_node_count(t), 1);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		ck_assert_int_eq(bind_s(t, keys[i], 7), 0);
	ck_assert_uint_gt(topic_trie_node_count(t), 10);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		ck_assert_int_eq(unbind_s(t, keys[i], 7), 0);
	ck_assert_uint_eq(topic_trie_node_count(t), 1);
	ck_assert_uint_eq(topic_trie_count(t), 0);
	struct hits h = match_s(t, "a.b.c");
	ck_assert_uint_eq(h.count, 0);
	free(h.v);
	topic_trie_free(t);
}
END_TEST

START_TEST(unbinding_a_leaf_keeps_the_prefix_that_other_bindings_use)
{
	struct topic_trie *t = topic_trie_new();
	bind_s(t, "a.b", 1);
	size_t nodes = topic_trie_node_count(t); /* root, a, b */
	bind_s(t, "a.b.c.d", 2);
	ck_assert_uint_eq(topic_trie_node_count(t), nodes + 2);
	unbind_s(t, "a.b.c.d", 2);
	ck_assert_uint_eq(topic_trie_node_count(t), nodes);
	ck_assert(matches(t, "a.b", 1));
	topic_trie_free(t);
}
END_TEST

START_TEST(rebinding_after_unbind_routes_again)
{
	struct topic_trie *t = topic_trie_new();
	for (int round = 0; round < 3; round++) {
		ck_assert_int_eq(bind_s(t, "a.#.z", 1), 0);
		ck_assert(matches(t, "a.q.r.z", 1));
		ck_assert_int_eq(unbind_s(t, "a.#.z", 1), 0);
		ck_assert(!matches(t, "a.q.r.z", 1));
	}
	ck_assert_uint_eq(topic_trie_node_count(t), 1);
	topic_trie_free(t);
}
END_TEST

START_TEST(freeing_a_trie_that_still_holds_bindings_leaks_nothing)
{
	struct topic_trie *t = topic_trie_new();
	char key[64];
	for (int i = 0; i < 500; i++) {
		snprintf(key, sizeof key, "k%d.*.#.v%d", i % 37, i);
		bind_s(t, key, (uintptr_t)i + 1);
	}
	topic_trie_free(t);
	topic_trie_free(NULL);
}
END_TEST

START_TEST(a_node_with_many_children_binds_matches_and_unbinds_each)
{
	enum { N = 50000 };
	struct topic_trie *t = topic_trie_new();
	char key[32];
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof key, "root.k%d", i);
		ck_assert_int_eq(bind_s(t, key, (uintptr_t)i + 1), 0);
	}
	ck_assert_uint_eq(topic_trie_node_count(t), N + 2);
	for (int i = 0; i < N; i += 997) {
		snprintf(key, sizeof key, "root.k%d", i);
		struct hits h = match_s(t, key);
		ck_assert_uint_eq(h.count, 1);
		ck_assert_uint_eq(h.v[0], (uintptr_t)i + 1);
		free(h.v);
	}
	/* Remove in an order unrelated to insertion so backward-shift deletion gets exercised. */
	for (int i = 0; i < N; i++) {
		int j = (int)(((long)i * 7919) % N);
		snprintf(key, sizeof key, "root.k%d", j);
		ck_assert_int_eq(unbind_s(t, key, (uintptr_t)j + 1), 0);
		if (i % 4999 == 0) {
			int k = (int)(((long)(i + 1) * 7919) % N);
			snprintf(key, sizeof key, "root.k%d", k);
			ck_assert(matches(t, key, (uintptr_t)k + 1));
		}
	}
	ck_assert_uint_eq(topic_trie_node_count(t), 1);
	topic_trie_free(t);
}
END_TEST

START_TEST(a_key_with_many_dests_reports_each_and_unbinds_each)
{
	enum { N = 20000 };
	struct topic_trie *t = topic_trie_new();
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(bind_s(t, "x.#", (uintptr_t)i + 1), 0);
	struct hits h = match_s(t, "x.y");
	ck_assert_uint_eq(h.count, N);
	for (size_t i = 0; i < h.count; i++)
		ck_assert_uint_eq(h.v[i], i + 1);
	free(h.v);
	for (int i = N - 1; i >= 0; i--)
		ck_assert_int_eq(unbind_s(t, "x.#", (uintptr_t)i + 1), 0);
	ck_assert_uint_eq(topic_trie_node_count(t), 1);
	topic_trie_free(t);
}
END_TEST

/* ---- random patterns against a naive matcher ---- */

#define WORDS_MAX 8

struct words {
	const char *w[WORDS_MAX];
	size_t len[WORDS_MAX];
	size_t count;
};

static void words_split(struct words *ws, const char *s)
{
	ws->count = 0;
	if (!*s)
		return;
	for (;;) {
		const char *dot = strchr(s, '.');
		ck_assert_uint_lt(ws->count, WORDS_MAX);
		ws->w[ws->count] = s;
		ws->len[ws->count] = dot ? (size_t)(dot - s) : strlen(s);
		ws->count++;
		if (!dot)
			return;
		s = dot + 1;
	}
}

static bool word_is(const struct words *ws, size_t i, const char *lit)
{
	return ws->len[i] == strlen(lit) && memcmp(ws->w[i], lit, ws->len[i]) == 0;
}

/* The rules straight from the reference, by recursion: fine for short patterns. */
static bool naive_match(const struct words *p, size_t pi, const struct words *k, size_t ki)
{
	if (pi == p->count)
		return ki == k->count;
	if (word_is(p, pi, "#"))
		return naive_match(p, pi + 1, k, ki) ||
		       (ki < k->count && naive_match(p, pi, k, ki + 1));
	if (ki == k->count)
		return false;
	if (word_is(p, pi, "*") ||
	    (p->len[pi] == k->len[ki] && memcmp(p->w[pi], k->w[ki], p->len[pi]) == 0))
		return naive_match(p, pi + 1, k, ki + 1);
	return false;
}

static uint64_t rng_state;

static uint32_t rng_next(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}

/* Key words come from 4 choices and keys have at most 6 words: 5461 distinct keys, so the naive
 * answer per key is computed once and reused across the 100,000 lookups. */
static const char *const key_words[] = { "a", "b", "cc", "" };
static const char *const pattern_words[] = { "a", "b", "cc", "", "*", "#", "d" };
#define KEY_MAX_WORDS 6

static size_t random_key(char *buf, size_t *id)
{
	size_t n = rng_next() % (KEY_MAX_WORDS + 1), len = 0, base = 0, digits = 0;
	for (size_t i = 0; i < n; i++) {
		size_t w = rng_next() % 4;
		if (i)
			buf[len++] = '.';
		len += (size_t)sprintf(buf + len, "%s", key_words[w]);
		digits = digits * 4 + w;
	}
	buf[len] = 0;
	for (size_t i = 0; i < n; i++)
		base += (size_t)1 << (2 * i); /* 4^0 + ... + 4^(n-1) keys are shorter */
	*id = base + digits;
	/* One empty word is written "", which is zero words: same string, same answer. */
	if (n == 1 && digits == 3)
		*id = 0;
	return len;
}

START_TEST(ten_thousand_random_patterns_route_like_the_naive_matcher)
{
	enum { PATTERNS = 10000, KEYS = 100000, KEY_IDS = 5461 };
	static char patterns[PATTERNS][64];
	static struct words pw[PATTERNS];
	struct topic_trie *t = topic_trie_new();
	struct hits *cache = calloc(KEY_IDS, sizeof *cache);
	bool *cached = calloc(KEY_IDS, sizeof *cached);
	size_t *stamp = calloc(PATTERNS + 1, sizeof *stamp);
	struct words kw;
	char key[64];

	rng_state = 42;
	for (size_t i = 0; i < PATTERNS; i++) {
		size_t n = rng_next() % 6, len = 0;
		for (size_t j = 0; j < n; j++) {
			if (j)
				patterns[i][len++] = '.';
			len += (size_t)sprintf(patterns[i] + len, "%s",
					       pattern_words[rng_next() % 7]);
		}
		patterns[i][len] = 0;
		words_split(&pw[i], patterns[i]);
		ck_assert_int_eq(bind_s(t, patterns[i], i + 1), 0);
	}
	ck_assert_uint_eq(topic_trie_count(t), PATTERNS);
	for (size_t q = 0; q < KEYS; q++) {
		size_t id;
		random_key(key, &id);
		if (id >= KEY_IDS)
			ck_abort_msg("key id %zu out of range", id);
		if (!cached[id]) {
			words_split(&kw, key);
			for (size_t i = 0; i < PATTERNS; i++) {
				if (naive_match(&pw[i], 0, &kw, 0))
					hits_add(DEST(i + 1), &cache[id]);
			}
			cached[id] = true;
		}
		/* Compare as sets, by stamping each reported dest with this round's number. */
		struct hits h = { 0 };
		if (topic_trie_match(t, (const uint8_t *)key, strlen(key), hits_add, &h) != 0)
			ck_abort_msg("match failed");
		for (size_t i = 0; i < h.count; i++) {
			if (stamp[h.v[i]] == q + 1)
				ck_abort_msg("key '%s': dest %zu reported twice", key,
					     (size_t)h.v[i]);
			stamp[h.v[i]] = q + 1;
		}
		if (h.count != cache[id].count)
			ck_abort_msg("key '%s': %zu matches, naive %zu", key, h.count,
				     cache[id].count);
		for (size_t i = 0; i < cache[id].count; i++)
			if (stamp[cache[id].v[i]] != q + 1)
				ck_abort_msg("key '%s' should match '%s'", key,
					     patterns[cache[id].v[i] - 1]);
		free(h.v);
	}
	for (size_t i = 0; i < KEY_IDS; i++)
		free(cache[i].v);
	free(cache);
	free(cached);
	free(stamp);
	topic_trie_free(t);
}
END_TEST

/* ---- hostile input ---- */

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(pathological_patterns_and_keys_finish_fast)
{
	struct topic_trie *t = topic_trie_new();
	char hashes[256], hash_a[256], key_dots[256], key_a[256], key_ab[256];
	size_t n = 0;

	/* "#.#.#...#": 128 words, 255 bytes. */
	for (int i = 0; i < 128; i++)
		n += (size_t)sprintf(hashes + n, i ? ".#" : "#");
	ck_assert_uint_eq(n, 255);
	/* "#.a.#.a...#.a": a backtracking matcher tries every split of "a.a.a...a.b" over the
	 * 63 `#`s before failing. */
	n = 0;
	for (int i = 0; n + 4 < sizeof hash_a; i++)
		n += (size_t)sprintf(hash_a + n, i ? ".#.a" : "#.a");
	memset(key_dots, '.', 255);
	key_dots[255] = 0;
	for (int i = 0; i < 128; i++) {
		key_a[2 * i] = 'a';
		key_a[2 * i + 1] = '.';
		key_ab[2 * i] = 'a';
		key_ab[2 * i + 1] = '.';
	}
	key_a[255] = 0;
	key_ab[254] = 'b';
	key_ab[255] = 0;

	ck_assert_int_eq(bind_s(t, hashes, 1), 0);
	ck_assert_int_eq(bind_s(t, hash_a, 2), 0);
	/* Every prefix of "#.*.#.*..." too, so thousands of live nodes share the key. */
	char mixed[256];
	n = 0;
	for (int i = 0; n + 2 < 255; i++) {
		n += (size_t)sprintf(mixed + n, i == 0 ? "#" : (i % 2 ? ".*" : ".#"));
		bind_s(t, mixed, (uintptr_t)100 + (uintptr_t)i);
	}

	double start = now_seconds();
	for (int rep = 0; rep < 20; rep++) {
		ck_assert(matches(t, key_dots, 1));
		ck_assert(matches(t, key_a, 2));
		ck_assert(!matches(t, key_ab, 2));
		ck_assert(matches(t, key_ab, 1));
		ck_assert(matches(t, "", 1));
	}
	double elapsed = now_seconds() - start;
	ck_assert_msg(elapsed < 2.0, "100 hostile matches took %.3f s", elapsed);
	topic_trie_free(t);
}
END_TEST

START_TEST(a_deep_binding_key_of_empty_words_binds_matches_and_unbinds)
{
	struct topic_trie *t = topic_trie_new();
	char dots[256];
	memset(dots, '.', 255);
	dots[255] = 0;
	ck_assert_int_eq(bind_s(t, dots, 1), 0);
	ck_assert_uint_eq(topic_trie_node_count(t), 257);
	ck_assert(matches(t, dots, 1));
	dots[254] = 0;
	ck_assert(!matches(t, dots, 1));
	dots[254] = '.';
	ck_assert_int_eq(unbind_s(t, dots, 1), 0);
	ck_assert_uint_eq(topic_trie_node_count(t), 1);
	ck_assert_int_eq(bind_s(t, dots, 1), 0);
	topic_trie_free(t); /* iterative free of a 257-deep path */
}
END_TEST

static Suite *topic_trie_suite(void)
{
	Suite *s = suite_create("topic_trie");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, every_reference_pattern_matches_exactly_the_reference_keys);
	tcase_add_test(tc, all_reference_patterns_bound_together_route_like_each_one_alone);
	tcase_add_test(tc, matching_is_case_sensitive_and_literal);
	tcase_add_test(tc, star_and_hash_inside_a_word_are_literal);
	tcase_add_test(tc, a_literal_star_or_hash_in_the_routing_key_is_just_a_word);
	tcase_add_test(tc, binding_the_same_key_and_dest_twice_stores_it_once);
	tcase_add_test(tc, a_dest_bound_with_two_matching_keys_is_reported_once_per_key);
	tcase_add_test(tc, unbinding_what_was_never_bound_says_not_found);
	tcase_add_test(tc, unbind_removes_one_binding_and_keeps_the_others);
	tcase_add_test(tc, unbinding_everything_prunes_the_trie_back_to_its_root);
	tcase_add_test(tc, unbinding_a_leaf_keeps_the_prefix_that_other_bindings_use);
	tcase_add_test(tc, rebinding_after_unbind_routes_again);
	tcase_add_test(tc, freeing_a_trie_that_still_holds_bindings_leaks_nothing);
	tcase_add_test(tc, a_node_with_many_children_binds_matches_and_unbinds_each);
	tcase_add_test(tc, a_key_with_many_dests_reports_each_and_unbinds_each);
	tcase_add_test(tc, ten_thousand_random_patterns_route_like_the_naive_matcher);
	tcase_add_test(tc, pathological_patterns_and_keys_finish_fast);
	tcase_add_test(tc, a_deep_binding_key_of_empty_words_binds_matches_and_unbinds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(topic_trie_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
