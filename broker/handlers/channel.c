/* broker/handlers/channel.c: the channel class. channel.open on a free number: RabbitMQ
 * (rabbit_reader:create_channel) takes any number 1..65535 and caps how many channels are open
 * (closing ones count until their close-ok), then the user's max-channels limit applies.
 * channel.flow (active=false is not implemented, as in RabbitMQ) and channel.close from the
 * client. After the broker's own channel.close, net/channel.c handles what may still arrive. */
#include "broker/handlers/handlers.h"

#include "amqp/methods_gen.h"
#include "amqp/reply_codes.h"
#include "broker/auth/auth.h"
#include "broker/core/broker.h"
#include "broker/net/channel.h"
#include "broker/net/conn.h"
#include "broker/net/conn_events.h"

int handle_channel_open(struct conn *c, uint16_t id)
{
	if (c->channel_max && c->channel_count >= c->channel_max)
		return conn_fail(c, AMQP_NOT_ALLOWED, 0,
				 "number of channels opened (%u) has reached the negotiated "
				 "channel_max (%u)",
				 (unsigned)c->channel_count, (unsigned)c->channel_max);
	int64_t limit;
	if (conn_limits_user_channels(c->broker, c->user, &limit))
		return conn_fail(c, AMQP_NOT_ALLOWED, AMQP_CHANNEL_OPEN,
				 "number of channels opened for user '%s' has reached the maximum "
				 "allowed user limit of (%lld)",
				 c->user->name, (long long)limit);
	struct channel *ch = channel_new(c, id);
	if (!ch || conn_channel_put(c, ch) != 0) {
		channel_free(ch);
		return conn_fail(c, AMQP_INTERNAL_ERROR, AMQP_CHANNEL_OPEN, "out of memory opening a channel");
	}
	c->broker->stats.channels_opened++;
	channel_event_created(ch);
	struct amqp_method ok = { .id = AMQP_CHANNEL_OPEN_OK };
	return conn_send_method(c, id, &ok);
}

int handle_channel(struct channel *ch, const struct amqp_method *m)
{
	struct conn *c = ch->conn;
	switch (m->id) {
	case AMQP_CHANNEL_OPEN:
		return conn_fail(c, AMQP_CHANNEL_ERROR, AMQP_CHANNEL_OPEN, "second 'channel.open' seen");
	case AMQP_CHANNEL_FLOW: {
		if (!m->u.channel_flow.active)
			return conn_fail(c, AMQP_NOT_IMPLEMENTED, AMQP_CHANNEL_FLOW, "active=false");
		struct amqp_method ok = { .id = AMQP_CHANNEL_FLOW_OK };
		ok.u.channel_flow_ok.active = true;
		return channel_send(ch, &ok);
	}
	case AMQP_CHANNEL_FLOW_OK:
		return 0;
	case AMQP_CHANNEL_CLOSE: {
		uint16_t id = ch->id;
		struct amqp_method ok = { .id = AMQP_CHANNEL_CLOSE_OK };
		conn_channel_remove(c, ch);
		channel_free(ch);
		return conn_send_method(c, id, &ok);
	}
	default:
		return conn_fail(c, AMQP_COMMAND_INVALID, m->id, "unimplemented method");
	}
}

