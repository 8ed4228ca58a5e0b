/* broker/net/deliver.h: writes deliveries (basic.deliver, basic.get-ok, basic.return) as method +
 * content header + body frames into the connection's output buffer. */
#ifndef BROKER_DELIVER_H
#define BROKER_DELIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "amqp/wire.h"

struct channel;
struct message;

/* x_delivery_count >= 0 adds that header (queues with a delivery limit); -1 forwards the
 * properties untouched. */
int deliver_basic_deliver(struct channel *ch, struct amqp_str ctag, uint64_t tag, bool redelivered,
			  struct message *m, int64_t x_delivery_count);
int deliver_get_ok(struct channel *ch, uint64_t tag, bool redelivered, uint32_t message_count,
		   struct message *m, int64_t x_delivery_count);
int deliver_return(struct channel *ch, uint16_t code, const char *text, struct message *m);

#endif
