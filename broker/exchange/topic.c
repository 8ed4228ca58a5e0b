/* broker/exchange/topic.c: topic exchanges over a trie of binding-key words (topic_trie.c). */
#include "broker/exchange/exchange.h"
#include "broker/exchange/topic_trie.h"

static int topic_init(struct exchange *x)
{
	x->priv = topic_trie_new();
	return x->priv ? 0 : -1;
}

static void topic_destroy(struct exchange *x)
{
	topic_trie_free(x->priv);
}

static int topic_bind(struct exchange *x, struct binding *b, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	return topic_trie_bind(x->priv, b->key.ptr, b->key.len, b) < 0 ? -1 : 0;
}

static void topic_unbind(struct exchange *x, struct binding *b)
{
	topic_trie_unbind(x->priv, b->key.ptr, b->key.len, b);
}

struct topic_route_arg {
	struct route_set *set;
	struct amqp_str rk;
	struct amqp_table headers;
};

static void topic_on_match(void *dest, void *arg)
{
	struct topic_route_arg *a = arg;
	exchange_route_to(a->set, dest, a->rk, a->headers);
}

static void topic_route(struct exchange *x, struct amqp_str rk, struct amqp_table headers,
			struct route_set *set)
{
	struct topic_route_arg a = { set, rk, headers };
	topic_trie_match(x->priv, rk.ptr, rk.len, topic_on_match, &a);
}

const struct exchange_type exchange_type_topic = {
	.name = "topic",
	.description = "AMQP topic exchange, as per the AMQP specification",
	.init = topic_init,
	.destroy = topic_destroy,
	.bind = topic_bind,
	.unbind = topic_unbind,
	.route = topic_route,
};
