/* broker/handlers/tx.c: the tx class. tx.select makes the channel transactional: publishes and
 * acks/nacks/rejects are held in order (basic.c) until tx.commit runs them, or tx.rollback drops
 * them. A step that fails the channel or the connection ends the commit; the rest is dropped. */
#include "broker/handlers/handlers.h"

#include <stdlib.h>

#include "amqp/methods_gen.h"
#include "amqp/reply_codes.h"
#include "broker/net/channel.h"
#include "broker/net/conn.h"
#include "broker/queue/message.h"

int handle_tx(struct channel *ch, const struct amqp_method *m)
{
	switch (m->id) {
	case AMQP_TX_SELECT: {
		if (ch->confirm)
			return channel_fail(ch, AMQP_PRECONDITION_FAILED,
					    "cannot switch from confirm to tx mode");
		ch->tx = true;
		struct amqp_method ok = { .id = AMQP_TX_SELECT_OK };
		return channel_send(ch, &ok);
	}
	case AMQP_TX_COMMIT:
	case AMQP_TX_ROLLBACK: {
		if (!ch->tx)
			return channel_fail(ch, AMQP_PRECONDITION_FAILED, "channel is not transactional");
		bool commit = m->id == AMQP_TX_COMMIT;
		struct tx_op *op = ch->tx_head;
		ch->tx_head = ch->tx_tail = NULL;
		/* A failing step ends the commit; the rest is dropped. Failing the connection or
		 * the channel never frees ch under this loop (both only mark it). */
		bool failed = false;
		while (op) {
			struct tx_op *next = op->next;
			if (commit && !failed && op->kind == TX_PUBLISH) {
				failed = handle_basic_route_take(ch, op->msg, op->mandatory, 0) !=
					 HANDLE_ROUTE_DONE;
			} else if (commit && !failed) {
				failed = channel_settle(ch, op->tag, op->multiple, op->kind == TX_ACK,
							op->requeue) != 0 ||
					 ch->state != CHANNEL_OPEN;
			} else {
				message_unref(op->msg);
			}
			free(op);
			op = next;
		}
		if (failed || ch->state != CHANNEL_OPEN)
			return failed && ch->conn->state != CONN_OPEN ? -1 : 0;
		struct amqp_method ok = { .id = commit ? AMQP_TX_COMMIT_OK : AMQP_TX_ROLLBACK_OK };
		return channel_send(ch, &ok);
	}
	default:
		return conn_fail(ch->conn, AMQP_COMMAND_INVALID, m->id, "unimplemented method");
	}
}
