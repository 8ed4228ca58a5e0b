/* broker/net/deliver.h: writes deliveries (basic.deliver, basic.get-ok, basic.return) as method +
 * content header + body frames into the connection's output buffer. */
#ifndef BROKER_DELIVER_H
#define BROKER_DELIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "amqp/wire.h"

struct channel;
struct message;

/* header (NULL: none) is set in the message's headers with value as a long (x-delivery-count,
 * x-stream-offset); without one the properties are forwarded untouched. */
int deliver_basic_deliver(struct channel *ch, struct amqp_str ctag, uint64_t tag, bool redelivered,
			  struct message *m, const char *header, int64_t value);
int deliver_get_ok(struct channel *ch, uint64_t tag, bool redelivered, uint32_t message_count,
		   struct message *m, const char *header, int64_t value);
int deliver_return(struct channel *ch, uint16_t code, const char *text, struct message *m);

#endif
