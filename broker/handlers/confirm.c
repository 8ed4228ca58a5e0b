/* broker/handlers/confirm.c: the confirm class: confirm.select puts the channel in publisher
 * confirm mode (never on a transactional channel); net/channel.c numbers the publishes and sends
 * the acks and nacks once the store has synced what each one waits for. */
#include "broker/handlers/handlers.h"

#include "amqp/methods_gen.h"
#include "amqp/reply_codes.h"
#include "broker/net/channel.h"
#include "broker/net/conn.h"

int handle_confirm(struct channel *ch, const struct amqp_method *m)
{
	if (m->id != AMQP_CONFIRM_SELECT)
		return conn_fail(ch->conn, AMQP_COMMAND_INVALID, m->id, "unimplemented method");
	if (ch->tx)
		return channel_fail(ch, AMQP_PRECONDITION_FAILED, "cannot switch from tx to confirm mode");
	ch->confirm = true;
	if (m->u.confirm_select.nowait)
		return 0;
	struct amqp_method ok = { .id = AMQP_CONFIRM_SELECT_OK };
	return channel_send(ch, &ok);
}
