/* broker/handlers/handlers.c: the table net/ calls, and the dispatch of a channel's methods to
 * the file of their class. */
#include "broker/handlers/handlers.h"

#include "amqp/methods_gen.h"
#include "amqp/reply_codes.h"
#include "broker/net/channel.h"
#include "broker/auth/auth.h"
#include "broker/core/broker.h"
#include "broker/net/conn.h"
#include "broker/vhost/vhost.h"

const char *vname(const struct channel *ch)
{
	return ch->conn->vhost->name;
}

static int handlers_dispatch(struct channel *ch, const struct amqp_method *m)
{
	switch (AMQP_METHOD_CLASS(m->id)) {
	case AMQP_CLASS_CHANNEL:
		return handle_channel(ch, m);
	case AMQP_CLASS_EXCHANGE:
		return handle_exchange(ch, m);
	case AMQP_CLASS_QUEUE:
		return handle_queue(ch, m);
	case AMQP_CLASS_BASIC:
		return handle_basic(ch, m);
	case AMQP_CLASS_TX:
		return handle_tx(ch, m);
	case AMQP_CLASS_CONFIRM:
		return handle_confirm(ch, m);
	default:
		return conn_fail(ch->conn, AMQP_CHANNEL_ERROR, m->id, "unexpected method in connection state running");
	}
}

/* What a method sets off (a queue declared, a binding deleted) names its user in the events it
 * emits (core/event.h). */
static int handlers_method(struct channel *ch, const struct amqp_method *m)
{
	struct broker *b = ch->broker; /* channel.close frees ch */
	b->event_actor = ch->conn->user ? ch->conn->user->name : NULL;
	int rc = handlers_dispatch(ch, m);
	b->event_actor = NULL;
	return rc;
}

const struct handler handlers_amqp = {
	.start = handle_connection_start,
	.connection = handle_connection,
	.channel_open = handle_channel_open,
	.method = handlers_method,
	.content_start = handle_basic_content_start,
	.content_header = handle_basic_content_header,
	.content_body = handle_basic_content_body,
};
