/* broker/exchange/direct.c: direct exchanges: routing key -> bindings, one hash lookup. */
#include <stdlib.h>

#include "broker/exchange/exchange.h"
#include "broker/core/strmap.h"

struct direct_bucket {
	struct binding **items;
	size_t count, cap;
};

static int direct_init(struct exchange *x)
{
	struct strmap *m = malloc(sizeof *m);
	if (!m)
		return -1;
	strmap_init(m);
	x->priv = m;
	return 0;
}

static void direct_destroy(struct exchange *x)
{
	struct strmap *m = x->priv;
	size_t i;
	for (struct strmap_entry *e = strmap_first(m, &i); e; e = strmap_next(m, e, &i)) {
		struct direct_bucket *bk = e->value;
		free(bk->items);
		free(bk);
	}
	strmap_clear(m);
	free(m);
}

static int direct_bind(struct exchange *x, struct binding *b, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	struct strmap *m = x->priv;
	struct direct_bucket *bk = strmap_get(m, b->key.ptr, b->key.len);
	if (!bk) {
		bk = calloc(1, sizeof *bk);
		if (!bk || strmap_put(m, b->key.ptr, b->key.len, bk) != 0) {
			free(bk);
			return -1;
		}
	}
	if (bk->count == bk->cap) {
		size_t cap = bk->cap ? bk->cap * 2 : 2;
		struct binding **items = realloc(bk->items, cap * sizeof *items);
		if (!items) {
			if (bk->count == 0) {
				strmap_del(m, b->key.ptr, b->key.len);
				free(bk);
			}
			return -1;
		}
		bk->items = items;
		bk->cap = cap;
	}
	bk->items[bk->count++] = b;
	return 0;
}

static void direct_unbind(struct exchange *x, struct binding *b)
{
	struct strmap *m = x->priv;
	struct direct_bucket *bk = strmap_get(m, b->key.ptr, b->key.len);
	if (!bk)
		return;
	for (size_t i = 0; i < bk->count; i++)
		if (bk->items[i] == b) {
			bk->items[i] = bk->items[--bk->count];
			break;
		}
	if (bk->count == 0) {
		strmap_del(m, b->key.ptr, b->key.len);
		free(bk->items);
		free(bk);
	}
}

static void direct_route(struct exchange *x, struct amqp_str rk, struct amqp_table headers,
			 struct route_set *set)
{
	struct direct_bucket *bk = strmap_get(x->priv, rk.ptr, rk.len);
	if (!bk)
		return;
	for (size_t i = 0; i < bk->count; i++)
		exchange_route_to(set, bk->items[i], rk, headers);
}

const struct exchange_type exchange_type_direct = {
	.name = "direct",
	.description = "AMQP direct exchange, as per the AMQP specification",
	.init = direct_init,
	.destroy = direct_destroy,
	.bind = direct_bind,
	.unbind = direct_unbind,
	.route = direct_route,
};
