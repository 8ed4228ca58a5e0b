/* broker/exchange/consistent_hash.c: x-consistent-hash exchanges, as the
 * rabbitmq_consistent_hash_exchange plugin distributes: a binding's key is its weight (an
 * integer >= 1), the ring has one bucket per unit of weight, bindings in the order they were
 * made, and a message goes to the one destination whose bucket the jump consistent hash
 * (Lamping and Veach, 2014) of its routing key picks (or of the header named by the
 * hash-header argument, or of the property hash-property names: message_id, correlation_id,
 * timestamp). Adding a destination of weight w to a ring of n buckets moves about w/(n+w) of
 * the keys, all of them to the newcomer; removing one moves only its own keys.
 *
 * As the plugin: a destination bound twice counts once (its first binding's weight), and
 * removing any of its bindings takes it off the ring; a message is routed once even when CC
 * adds routing keys (the plugin hashes the first). The hash itself differs (the plugin uses
 * Erlang's phash2 and its rand module), so a given key may land on another queue than on
 * RabbitMQ; the proportions and the stability are the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/props.h"
#include "broker/exchange/exchange.h"
#include "broker/queue/message.h"
#include "broker/queue/queue.h"

/* A weight larger than this is refused: the plugin would build a map with that many buckets. */
#define CHASH_WEIGHT_MAX 2147483647LL

enum chash_on { CHASH_ROUTING_KEY, CHASH_HEADER, CHASH_PROPERTY };
enum chash_property { CHASH_CORRELATION_ID, CHASH_MESSAGE_ID, CHASH_TIMESTAMP };

struct chash_member {
	struct binding *b; /* the destination's first binding: what routing reaches */
	uint64_t weight;
	uint64_t end;      /* cumulative weight up to and including this member */
};

struct chash {
	struct chash_member *m;
	size_t count, cap;
	enum chash_on on;
	enum chash_property property;
	char *header;           /* hash-header, NUL-terminated */
	uint64_t routed_epoch;  /* the route_set epoch of the last message routed */
};

static const char *const chash_properties[] = { "correlation_id", "message_id", "timestamp" };

static bool chash_same_dest(const struct binding *a, const struct binding *b)
{
	return a->dest_q == b->dest_q && a->dest_x == b->dest_x;
}

static int chash_validate(struct amqp_table args, char *err, size_t errlen)
{
	struct amqp_value h, p;
	bool has_h = amqp_table_get(args, "hash-header", &h);
	bool has_p = amqp_table_get(args, "hash-property", &p);
	/* The plugin only understands longstr values (anything else crashes its channel with
	 * 541 INTERNAL_ERROR); a clear 406 is kinder. */
	if ((has_h && h.type != 'S') || (has_p && p.type != 'S')) {
		snprintf(err, errlen, "%s must be a string, not a %s",
			 has_h && h.type != 'S' ? "hash-header" : "hash-property",
			 amqp_value_type_name(has_h && h.type != 'S' ? h.type : p.type));
		return -1;
	}
	if (has_h && has_p) {
		snprintf(err, errlen, "hash-header and hash-property are mutually exclusive");
		return -1;
	}
	if (has_p) {
		for (size_t i = 0; i < 3; i++)
			if (amqp_str_eq_c(p.v.str, chash_properties[i]))
				return 0;
		snprintf(err, errlen, "Unsupported property: %.*s", AMQP_STR_ARGS(p.v.str));
		return -1;
	}
	return 0;
}

static int chash_init(struct exchange *x)
{
	struct chash *c = calloc(1, sizeof *c);
	struct amqp_value v;
	if (!c)
		return -1;
	if (amqp_table_get(x->args, "hash-header", &v) && v.type == 'S') {
		c->on = CHASH_HEADER;
		c->header = malloc((size_t)v.v.str.len + 1);
		if (!c->header) {
			free(c);
			return -1;
		}
		memcpy(c->header, v.v.str.ptr, v.v.str.len);
		c->header[v.v.str.len] = '\0';
	} else if (amqp_table_get(x->args, "hash-property", &v) && v.type == 'S') {
		c->on = CHASH_PROPERTY;
		for (size_t i = 0; i < 3; i++)
			if (amqp_str_eq_c(v.v.str, chash_properties[i]))
				c->property = (enum chash_property)i;
	}
	x->priv = c;
	return 0;
}

static void chash_destroy(struct exchange *x)
{
	struct chash *c = x->priv;
	free(c->m);
	free(c->header);
	free(c);
}

static void chash_renumber(struct chash *c)
{
	uint64_t end = 0;
	for (size_t i = 0; i < c->count; i++) {
		end += c->m[i].weight;
		c->m[i].end = end;
	}
}

/* Erlang's ~p of a binary, for the plugin's "must be an integer: <<\"abc\">>" text. */
static void chash_format_key(struct amqp_str k, char *out, size_t cap)
{
	size_t o = 0;
	bool printable = k.len > 0; /* <<>> for the empty binary */
	for (uint32_t i = 0; i < k.len; i++)
		printable = printable && k.ptr[i] >= 32 && k.ptr[i] < 127;
	o += (size_t)snprintf(out, cap, printable ? "<<\"" : "<<");
	for (uint32_t i = 0; i < k.len && o + 8 < cap; i++) {
		if (printable) {
			if (k.ptr[i] == '"' || k.ptr[i] == '\\')
				out[o++] = '\\';
			out[o++] = (char)k.ptr[i];
		} else {
			o += (size_t)snprintf(out + o, cap - o, i ? ",%u" : "%u", k.ptr[i]);
		}
	}
	snprintf(out + (o < cap ? o : cap - 1), cap - (o < cap ? o : cap - 1),
		 printable ? "\">>" : ">>");
}

/* list_to_integer: an optional sign, then decimal digits, nothing else. 1: an integer in
 * *out; 0: not an integer (or too large to matter: reported as such below). */
static int chash_parse_weight(struct amqp_str k, int64_t *out, bool *too_large)
{
	uint32_t i = 0;
	bool neg = false;
	int64_t v = 0;
	*too_large = false;
	if (k.len && (k.ptr[0] == '+' || k.ptr[0] == '-')) {
		neg = k.ptr[0] == '-';
		i = 1;
	}
	if (i == k.len)
		return 0;
	for (; i < k.len; i++) {
		if (k.ptr[i] < '0' || k.ptr[i] > '9')
			return 0;
		if (v > CHASH_WEIGHT_MAX)
			*too_large = true;
		else
			v = v * 10 + (k.ptr[i] - '0');
	}
	*out = neg ? -v : v;
	return 1;
}

static int chash_bind(struct exchange *x, struct binding *b, char *err, size_t errlen)
{
	struct chash *c = x->priv;
	int64_t w;
	bool too_large;
	if (!chash_parse_weight(b->key, &w, &too_large)) {
		char shown[600];
		chash_format_key(b->key, shown, sizeof shown);
		snprintf(err, errlen, "The binding key must be an integer: %s", shown);
		return 1;
	}
	if (w < 1) {
		snprintf(err, errlen, "The binding key must be greater than 0");
		return 1;
	}
	if (too_large || w > CHASH_WEIGHT_MAX) {
		snprintf(err, errlen, "The binding key must be at most %lld", CHASH_WEIGHT_MAX);
		return 1;
	}
	for (size_t i = 0; i < c->count; i++)
		if (chash_same_dest(c->m[i].b, b))
			return 0; /* bound already: this binding adds no buckets */
	if (c->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4;
		struct chash_member *m = realloc(c->m, cap * sizeof *m);
		if (!m)
			return -1;
		c->m = m;
		c->cap = cap;
	}
	c->m[c->count++] = (struct chash_member){ b, (uint64_t)w, 0 };
	chash_renumber(c);
	return 0;
}

static void chash_unbind(struct exchange *x, struct binding *b)
{
	struct chash *c = x->priv;
	for (size_t i = 0; i < c->count; i++) {
		if (!chash_same_dest(c->m[i].b, b))
			continue;
		memmove(&c->m[i], &c->m[i + 1], (c->count - i - 1) * sizeof c->m[0]);
		c->count--;
		chash_renumber(c);
		return;
	}
}

/* FNV-1a over a type octet and bytes, then a 64-bit finaliser (splitmix64's) so that keys
 * differing in their last bytes spread over the whole range the jump hash reads. */
static uint64_t chash_hash(uint8_t type, const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	h = (h ^ type) * 0x100000001b3ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

/* Jump consistent hash: the bucket in [0, buckets) for key. */
static uint64_t chash_jump(uint64_t key, uint64_t buckets)
{
	int64_t b = -1, j = 0;
	while (j < (int64_t)buckets) {
		b = j;
		key = key * 2862933555777941757ULL + 1;
		j = (int64_t)((double)(b + 1) * ((double)(1LL << 31) / (double)((key >> 33) + 1)));
	}
	return (uint64_t)b;
}

static uint64_t chash_value_hash(const struct amqp_value *v)
{
	uint8_t raw[16];
	switch (v->type) {
	case 'S':
	case 'x':
		return chash_hash(v->type, v->v.str.ptr, v->v.str.len);
	case 'F':
	case 'A':
		return chash_hash(v->type, v->v.table.ptr, v->v.table.len);
	case 't':
		raw[0] = v->v.b;
		return chash_hash(v->type, raw, 1);
	default:
		memcpy(raw, &v->v, sizeof v->v.u);
		return chash_hash(v->type, raw, sizeof v->v.u);
	}
}

/* What the message is hashed on. A header or property the message lacks hashes as one fixed
 * value (the plugin hashes 'undefined'), so all such messages go to one destination. */
static uint64_t chash_key(const struct chash *c, struct amqp_str rk, struct amqp_table headers,
			  const struct message *m)
{
	static const uint8_t undefined[] = "undefined";
	struct amqp_value v;
	struct amqp_basic_props p;
	char ts[24];

	switch (c->on) {
	case CHASH_HEADER:
		if (headers.len && amqp_table_get(headers, c->header, &v))
			return chash_value_hash(&v);
		break;
	case CHASH_PROPERTY:
		if (!m || amqp_props_decode(&p, m->props, m->props_len) != 0)
			break;
		if (c->property == CHASH_MESSAGE_ID && (p.flags & AMQP_PROP_MESSAGE_ID))
			return chash_hash('S', p.message_id.ptr, p.message_id.len);
		if (c->property == CHASH_CORRELATION_ID && (p.flags & AMQP_PROP_CORRELATION_ID))
			return chash_hash('S', p.correlation_id.ptr, p.correlation_id.len);
		if (c->property == CHASH_TIMESTAMP && (p.flags & AMQP_PROP_TIMESTAMP)) {
			int n = snprintf(ts, sizeof ts, "%llu", (unsigned long long)p.timestamp);
			return chash_hash('S', (const uint8_t *)ts, (size_t)n);
		}
		break;
	default:
		return chash_hash('S', rk.ptr, rk.len);
	}
	return chash_hash('V', undefined, sizeof undefined - 1);
}

static void chash_route(struct exchange *x, struct amqp_str rk, struct amqp_table headers,
			struct route_set *set)
{
	struct chash *c = x->priv;
	if (c->count == 0)
		return;
	/* Once per message: CC keys route the same message again (the plugin hashes the first
	 * routing key only). */
	if (c->routed_epoch == set->epoch)
		return;
	c->routed_epoch = set->epoch;
	uint64_t total = c->m[c->count - 1].end;
	uint64_t bucket = chash_jump(chash_key(c, rk, headers, set->msg), total);
	size_t lo = 0, hi = c->count - 1;
	while (lo < hi) { /* the first member whose range ends past the bucket */
		size_t mid = lo + (hi - lo) / 2;
		if (c->m[mid].end > bucket)
			hi = mid;
		else
			lo = mid + 1;
	}
	exchange_route_to(set, c->m[lo].b, rk, headers);
}

const struct exchange_type exchange_type_consistent_hash = {
	.name = "x-consistent-hash",
	.description = "Consistent Hashing Exchange",
	.validate = chash_validate,
	.init = chash_init,
	.destroy = chash_destroy,
	.bind = chash_bind,
	.unbind = chash_unbind,
	.route = chash_route,
};
