/* broker/exchange/dedup.c: x-message-deduplication exchanges, as the
 * rabbitmq-message-deduplication plugin behaves. The exchange routes like fanout, to every
 * binding, unless the message's x-deduplication-header value has been seen within the cache's
 * time to live: then it routes nowhere (the publish is still confirmed; mandatory returns it as
 * unroutable, as the plugin's empty route does). The cache holds at most x-cache-size values;
 * when full, the oldest goes. Values expire after x-cache-ttl ms (the exchange argument, or the
 * message's own x-cache-ttl header), never without one.
 *
 * With x-cache-persistence "disk" a durable exchange keeps its cache in the store, as the
 * delayed exchange keeps its held messages: each value is a record enqueued on a pseudo queue
 * id of the exchange (exchange_dedup_store_qid) holding the value and its wall-clock expiry,
 * dequeued when it is evicted or expires, purged with the exchange, and handed back at start-up
 * (admin/durable.c -> exchange_dedup_recover). The publish that added a value waits for that
 * record's sync before it is confirmed, so a publisher that retries after a crash is still
 * deduplicated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/table.h"
#include "broker/core/broker.h"
#include "broker/core/list.h"
#include "broker/core/log.h"
#include "broker/core/strmap.h"
#include "broker/core/time.h"
#include "broker/exchange/exchange.h"
#include "broker/vhost/vhost.h"
#include "storage/store.h"

#define DEDUP_EXPIRY_LEN 8
/* The pseudo queue name hashed into the cache's store id: this many 0xFD bytes, then the
 * exchange name (longer than any queue name, and unlike the delayed exchange's 0xFE pad). */
#define DEDUP_QID_PAD 256
/* A value longer than this is not cached (a header is a longstr; the cache must stay small). */
#define DEDUP_KEY_MAX 4096

struct dedup_entry {
	struct list link;    /* in insertion order, oldest first */
	uint64_t expires_ms; /* time_now_ms clock; 0: never */
	uint64_t store_id;   /* its record, 0 when memory-only */
	uint32_t key_len;
	uint8_t key[];       /* the value's type octet and bytes */
};

struct dedup {
	struct strmap map;   /* key -> struct dedup_entry */
	struct list order;
	uint64_t size;       /* x-cache-size */
	int64_t ttl_ms;      /* x-cache-ttl, 0: none */
	bool disk;           /* x-cache-persistence = disk, on a durable exchange */
	uint64_t store_qid;
	uint64_t decided_epoch; /* route_set epoch of the message decided last */
	bool decided_duplicate;
	/* Records to dequeue once the store takes writes again (dropped during recovery). */
	uint64_t *stale;
	size_t stale_count, stale_cap;
};

static const char *const dedup_size_text =
	"Missing or invalid argument, 'x-cache-size' must be an integer greater than 0";
static const char *const dedup_ttl_text =
	"Invalid argument, 'x-cache-ttl' must be an integer greater than 0";
static const char *const dedup_persistence_text =
	"Invalid argument, 'x-cache-persistence' must be either 'disk' or 'memory'";

/* A positive integer argument: an integer type, or a longstr of decimal digits (the plugin
 * parses strings). 1 with *out set, 0 absent, -1 present but not a positive integer. */
static int dedup_positive(struct amqp_table args, const char *key, int64_t *out)
{
	struct amqp_value v;
	if (!amqp_table_get(args, key, &v))
		return 0;
	if (v.type == 'S') {
		int64_t n = 0;
		if (v.v.str.len == 0 || v.v.str.len > 18)
			return -1;
		for (uint32_t i = 0; i < v.v.str.len; i++) {
			if (v.v.str.ptr[i] < '0' || v.v.str.ptr[i] > '9')
				return -1;
			n = n * 10 + (v.v.str.ptr[i] - '0');
		}
		*out = n;
		return n > 0 ? 1 : -1;
	}
	if (v.type == 'T' || !amqp_value_as_int(&v, out))
		return -1;
	return *out > 0 ? 1 : -1;
}

static int dedup_validate(struct amqp_table args, char *err, size_t errlen)
{
	struct amqp_value v;
	int64_t n;
	if (dedup_positive(args, "x-cache-size", &n) != 1) {
		snprintf(err, errlen, "%s", dedup_size_text);
		return -1;
	}
	if (dedup_positive(args, "x-cache-ttl", &n) < 0) {
		snprintf(err, errlen, "%s", dedup_ttl_text);
		return -1;
	}
	if (amqp_table_get(args, "x-cache-persistence", &v) &&
	    (v.type != 'S' ||
	     (!amqp_str_eq_c(v.v.str, "disk") && !amqp_str_eq_c(v.v.str, "memory")))) {
		snprintf(err, errlen, "%s", dedup_persistence_text);
		return -1;
	}
	return 0;
}

uint64_t exchange_dedup_store_qid(const struct exchange *x)
{
	uint8_t name[DEDUP_QID_PAD + 256];
	size_t n = x->name.len < 256 ? x->name.len : 255;
	memset(name, 0xFD, DEDUP_QID_PAD);
	memcpy(name + DEDUP_QID_PAD, x->name.ptr, n);
	return store_queue_id(x->vhost->name, name, DEDUP_QID_PAD + n);
}

bool exchange_dedup_is_persistent(const struct exchange *x)
{
	return x->type == &exchange_type_dedup && ((const struct dedup *)x->priv)->disk;
}

static int dedup_init(struct exchange *x)
{
	struct dedup *d = calloc(1, sizeof *d);
	struct amqp_value v;
	int64_t n = 0;
	if (!d)
		return -1;
	strmap_init(&d->map);
	list_init(&d->order);
	/* Declares are validated first; an exchange restored from definitions might not be. */
	d->size = dedup_positive(x->args, "x-cache-size", &n) == 1 ? (uint64_t)n : 1;
	d->ttl_ms = dedup_positive(x->args, "x-cache-ttl", &n) == 1 ? n : 0;
	d->disk = x->durable && amqp_table_get(x->args, "x-cache-persistence", &v) &&
		  v.type == 'S' && amqp_str_eq_c(v.v.str, "disk");
	if (d->disk)
		d->store_qid = exchange_dedup_store_qid(x);
	x->priv = d;
	return 0;
}

/* A record that must go: at once, or after recovery (the store takes no writes while it
 * replays). */
static void dedup_unstore(struct exchange *x, struct dedup *d, uint64_t id)
{
	struct broker *b = x->vhost->broker;
	if (!b->store)
		return;
	if (!b->recovering) {
		store_dequeue(b->store, d->store_qid, id);
		broker_store_touched(b);
		return;
	}
	if (d->stale_count == d->stale_cap) {
		size_t cap = d->stale_cap ? d->stale_cap * 2 : 8;
		uint64_t *s = realloc(d->stale, cap * sizeof *s);
		if (!s)
			return; /* left on disk: dropped again at the next start */
		d->stale = s;
		d->stale_cap = cap;
	}
	d->stale[d->stale_count++] = id;
}

static void dedup_flush_stale(struct exchange *x, struct dedup *d)
{
	for (size_t i = 0; i < d->stale_count; i++)
		dedup_unstore(x, d, d->stale[i]);
	d->stale_count = 0;
}

static void dedup_entry_drop(struct exchange *x, struct dedup *d, struct dedup_entry *e,
			     bool unstore)
{
	strmap_del(&d->map, e->key, e->key_len);
	list_remove(&e->link);
	if (unstore && e->store_id)
		dedup_unstore(x, d, e->store_id);
	free(e);
}

static void dedup_destroy(struct exchange *x)
{
	struct dedup *d = x->priv;
	struct broker *b = x->vhost->broker;
	bool stored = false;
	while (!list_is_empty(&d->order)) {
		struct dedup_entry *e = list_entry(d->order.next, struct dedup_entry, link);
		stored |= e->store_id != 0;
		dedup_entry_drop(x, d, e, false);
	}
	/* Exchange deleted: its cache must not come back (at shutdown recovering is set). */
	if (stored && b->store && !b->recovering) {
		store_queue_purge(b->store, d->store_qid);
		broker_store_touched(b);
	}
	strmap_clear(&d->map);
	free(d->stale);
	free(d);
}

/* Writes the value's record; its id, or 0 when the store refuses. */
static uint64_t dedup_store(struct exchange *x, struct dedup *d, const uint8_t *key,
			    uint32_t key_len, uint64_t expires_wall)
{
	struct broker *b = x->vhost->broker;
	uint8_t *props = malloc(DEDUP_EXPIRY_LEN + (size_t)key_len);
	if (!props)
		return 0;
	for (int i = 0; i < DEDUP_EXPIRY_LEN; i++)
		props[i] = (uint8_t)(expires_wall >> (8 * i));
	memcpy(props + DEDUP_EXPIRY_LEN, key, key_len);
	struct store_message sm = { x->name.ptr, x->name.len, NULL, 0,
				    props, DEDUP_EXPIRY_LEN + key_len, NULL, 0 };
	uint64_t id = store_message_add(b->store, &sm);
	free(props);
	if (!id || store_enqueue(b->store, d->store_qid, id) != 0)
		return 0;
	b->store_appends++; /* the publish's confirm waits for this turn's sync */
	broker_store_touched(b);
	return id;
}

/* Adds key, evicting the oldest values past the size. NULL out of memory. */
static struct dedup_entry *dedup_insert(struct exchange *x, struct dedup *d, const uint8_t *key,
					uint32_t key_len, uint64_t expires_ms, uint64_t store_id)
{
	while (d->map.count >= d->size && !list_is_empty(&d->order))
		dedup_entry_drop(x, d, list_entry(d->order.next, struct dedup_entry, link), true);
	struct dedup_entry *e = malloc(sizeof *e + key_len);
	if (!e)
		return NULL;
	e->expires_ms = expires_ms;
	e->store_id = store_id;
	e->key_len = key_len;
	memcpy(e->key, key, key_len);
	if (strmap_put(&d->map, key, key_len, e) != 0) {
		free(e);
		return NULL;
	}
	list_append(&d->order, &e->link);
	return e;
}

/* The header's value as a cache key: its type octet, then its bytes (a string "1" and an
 * integer 1 are different values, as they are to the plugin). 0 when it is not cached. */
static uint32_t dedup_key(const struct amqp_value *v, uint8_t *out, size_t cap)
{
	struct amqp_buf b;
	uint32_t n = 0;
	amqp_buf_init(&b);
	amqp_buf_put_value(&b, v);
	if (!b.oom && b.len <= cap) {
		memcpy(out, b.data, b.len);
		n = (uint32_t)b.len;
	}
	amqp_buf_free(&b);
	return n;
}

/* Whether the message with these headers is a duplicate; a new value is remembered. */
static bool dedup_check(struct exchange *x, struct dedup *d, struct amqp_table headers)
{
	uint8_t key[DEDUP_KEY_MAX + 16];
	struct amqp_value v;
	struct broker *b = x->vhost->broker;
	if (d->stale_count && !b->recovering)
		dedup_flush_stale(x, d);
	if (!headers.len || !amqp_table_get(headers, "x-deduplication-header", &v))
		return false;
	uint32_t len = dedup_key(&v, key, sizeof key);
	if (!len)
		return false;
	uint64_t now = time_now_ms();
	struct dedup_entry *e = strmap_get(&d->map, key, len);
	if (e && (!e->expires_ms || e->expires_ms > now))
		return true;
	if (e)
		dedup_entry_drop(x, d, e, true); /* expired: seen anew */
	int64_t ttl = d->ttl_ms, h;
	struct amqp_value hv;
	if (amqp_table_get(headers, "x-cache-ttl", &hv) && hv.type != 'T' &&
	    amqp_value_as_int(&hv, &h) && h > 0)
		ttl = h;
	uint64_t store_id = 0;
	if (d->disk && b->store && !b->recovering) {
		store_id = dedup_store(x, d, key, len, ttl ? time_wall_ms() + (uint64_t)ttl : 0);
		if (!store_id)
			log_warn(b->log, "exchange '%s': the deduplication cache could not be written to the "
				 "store; the value is kept in memory only", x->name.ptr);
	}
	if (!dedup_insert(x, d, key, len, ttl ? now + (uint64_t)ttl : 0, store_id))
		log_warn(b->log, "exchange '%s': out of memory caching a deduplication value",
			 x->name.ptr);
	return false;
}

static void dedup_route(struct exchange *x, struct amqp_str rk, struct amqp_table headers,
			struct route_set *set)
{
	struct dedup *d = x->priv;
	/* Decided once per message: CC keys route the same message again. */
	if (d->decided_epoch != set->epoch) {
		d->decided_epoch = set->epoch;
		d->decided_duplicate = dedup_check(x, d, headers);
	}
	if (d->decided_duplicate)
		return;
	struct list *pos;
	list_for_each(pos, &x->bindings)
		exchange_route_to(set, list_entry(pos, struct binding, source_link), rk, headers);
}

int exchange_dedup_recover(struct exchange *x, const struct store_message *sm, uint64_t msg_id)
{
	struct dedup *d = x->priv;
	if (sm->props_len < DEDUP_EXPIRY_LEN + 1) {
		log_warn(x->vhost->broker->log, "stored deduplication value %llu of exchange '%s' is malformed; skipped",
			 (unsigned long long)msg_id, x->name.ptr);
		dedup_unstore(x, d, msg_id);
		return 1;
	}
	uint64_t wall = 0, now_wall = time_wall_ms();
	for (int i = 0; i < DEDUP_EXPIRY_LEN; i++)
		wall |= (uint64_t)sm->props[i] << (8 * i);
	const uint8_t *key = sm->props + DEDUP_EXPIRY_LEN;
	uint32_t len = sm->props_len - DEDUP_EXPIRY_LEN;
	bool expired = wall && wall <= now_wall;
	if (expired || strmap_get(&d->map, key, len)) {
		dedup_unstore(x, d, msg_id);
		return 1;
	}
	uint64_t expires = wall ? time_now_ms() + (wall - now_wall) : 0;
	return dedup_insert(x, d, key, len, expires, msg_id) ? 0 : -1;
}

const struct exchange_type exchange_type_dedup = {
	.name = "x-message-deduplication",
	.description = "Message Deduplication Exchange.",
	.validate = dedup_validate,
	.init = dedup_init,
	.destroy = dedup_destroy,
	.route = dedup_route,
};
