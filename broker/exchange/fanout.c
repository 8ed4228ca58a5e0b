/* broker/exchange/fanout.c: fanout exchanges route to every binding; the common binding list
 * is the index. */
#include "broker/exchange/exchange.h"

static void fanout_route(struct exchange *x, struct amqp_str rk, struct amqp_table headers,
			 struct route_set *set)
{
	struct list *pos;
	list_for_each(pos, &x->bindings)
		exchange_route_to(set, list_entry(pos, struct binding, source_link), rk, headers);
}

const struct exchange_type exchange_type_fanout = {
	.name = "fanout",
	.description = "AMQP fanout exchange, as per the AMQP specification",
	.route = fanout_route,
};
