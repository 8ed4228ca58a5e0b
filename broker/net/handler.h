/* broker/net/handler.h: what net/ calls once a frame is decoded: the method handlers of
 * handlers/, one table installed in struct broker (b->handler) by server_new. net/ reads
 * frames, tracks channel state and assembles content; the handlers decide what a method means.
 * Through this table the calls go up while the includes point down: handlers/ includes net/,
 * never the other way round (the same split as a command table in redis or the phase handlers
 * of nginx). */
#ifndef BROKER_NET_HANDLER_H
#define BROKER_NET_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;
struct channel;
struct amqp_method;
struct amqp_content_header;

/* Each returns 0, or -1 after a connection error (conn_fail has run). */
struct handler {
	/* A good protocol header arrived: send connection.start. */
	int (*start)(struct conn *c);
	/* A method of class connection on channel 0 (handshake, close, blocked, update-secret). */
	int (*connection)(struct conn *c, const struct amqp_method *m);
	/* channel.open on a number with no channel. */
	int (*channel_open)(struct conn *c, uint16_t id);
	/* A whole method on an open channel (ch->method_id is set). */
	int (*method)(struct channel *ch, const struct amqp_method *m);
	/* basic.publish and its content: the method, the content header, each body frame. */
	int (*content_start)(struct channel *ch, const struct amqp_method *m);
	int (*content_header)(struct channel *ch, const struct amqp_content_header *h);
	int (*content_body)(struct channel *ch, const uint8_t *p, size_t len, bool complete);
};

#endif
