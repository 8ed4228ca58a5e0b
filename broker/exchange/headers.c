/* broker/exchange/headers.c: headers exchanges: each binding's x-match mode is parsed once at
 * bind time; routing tests every binding against the message headers (headers_match.c). */
#include "broker/exchange/exchange.h"
#include "broker/exchange/headers_match.h"

static int headers_bind(struct exchange *x, struct binding *b, char *err, size_t errlen)
{
	(void)x;
	enum headers_match_mode mode;
	if (headers_match_mode_parse(b->args, &mode, err, errlen) != 0)
		return 1;
	b->mode = (int)mode;
	return 0;
}

static void headers_route(struct exchange *x, struct amqp_str rk, struct amqp_table headers,
			  struct route_set *set)
{
	struct list *pos;
	list_for_each(pos, &x->bindings)
	{
		struct binding *b = list_entry(pos, struct binding, source_link);
		if (headers_match((enum headers_match_mode)b->mode, b->args, headers))
			exchange_route_to(set, b, rk, headers);
	}
}

const struct exchange_type exchange_type_headers = {
	.name = "headers",
	.description = "AMQP headers exchange, as per the AMQP specification",
	.bind = headers_bind,
	.route = headers_route,
};
