/* broker/shovel/amqp_client.h: an AMQP 0-9-1 client connection on the broker's event loop, for
 * shovels: non-blocking connect (TCP, TLS for amqps://, or an already connected descriptor for
 * this broker itself), the handshake (PLAIN or EXTERNAL, tune, open), channel 1 opened for the
 * owner, heartbeats, and frames through Warren's own amqp/ codec. It never blocks and never
 * buffers more than the owner asks it to send; the owner watches amqp_client_output_len and
 * pauses its source while a destination drains.
 *
 * The owner learns everything through amqp_client_ops. After `closed` the client sends nothing
 * more and calls nothing more; the owner frees it with amqp_client_free (allowed inside any
 * callback: the client is then freed when the callback returns). */
#ifndef BROKER_SHOVEL_AMQP_CLIENT_H
#define BROKER_SHOVEL_AMQP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amqp/methods_gen.h"
#include "amqp/wire.h"

struct broker;
struct evdns_base;
struct amqp_client;
struct shovel_uri;

/* A message delivered on channel 1; every field borrows memory valid during the callback. */
struct amqp_client_delivery {
	uint64_t delivery_tag;
	bool redelivered;
	struct amqp_str exchange, routing_key;
	const uint8_t *props;
	size_t props_len;
	const uint8_t *body;
	size_t body_len;
};

struct amqp_client_ops {
	/* The connection and channel 1 are open. */
	void (*opened)(struct amqp_client *c, void *arg);
	/* A method other than a delivery, on any channel the owner opened (declare-ok,
	 * consume-ok, basic.ack/nack of confirms, basic.cancel, channel.open-ok of channel 2+). */
	void (*method)(struct amqp_client *c, void *arg, uint16_t channel,
		       const struct amqp_method *m);
	/* The server closed a channel other than 1 (its close-ok is sent already). */
	void (*channel_closed)(struct amqp_client *c, void *arg, uint16_t channel, uint16_t code,
			       const char *text);
	void (*delivery)(struct amqp_client *c, void *arg, const struct amqp_client_delivery *d);
	/* The connection is gone, or channel 1 was closed (which ends the connection): why, with
	 * the server's reply code and text when it said ("403 ACCESS_REFUSED - Login was refused
	 * ..."), or what happened to the socket. */
	void (*closed)(struct amqp_client *c, void *arg, const char *why);
	/* The output went back under the low watermark (the owner may resume its source). */
	void (*drained)(struct amqp_client *c, void *arg);
};

struct amqp_client_config {
	const struct shovel_uri *uri;
	const char *connection_name; /* the connection_name client property */
	struct evdns_base *dns;      /* for host names */
	int fd;                      /* >= 0: already connected to this broker (uri->local) */
	uint64_t max_body;           /* deliveries larger than this fail the connection */
};

/* Starts connecting. NULL out of memory (or when the TLS context cannot be built: err). */
struct amqp_client *amqp_client_new(struct broker *b, const struct amqp_client_config *cfg,
				    const struct amqp_client_ops *ops, void *arg, char *err,
				    size_t errlen);
void amqp_client_free(struct amqp_client *c);
/* Frees at once, without the goodbye (the broker is going away and its loop will not run). */
void amqp_client_abort(struct amqp_client *c);
bool amqp_client_is_open(const struct amqp_client *c);
/* Sends a method (without content) on channel. 0, or -1 when the connection is not usable. */
int amqp_client_send(struct amqp_client *c, uint16_t channel, const struct amqp_method *m);
/* basic.publish on channel 1 with these property bytes and body. 0 or -1. */
int amqp_client_publish(struct amqp_client *c, struct amqp_str exchange,
			struct amqp_str routing_key, const uint8_t *props, size_t props_len,
			const uint8_t *body, size_t body_len);
/* Bytes waiting to be written to the socket. */
size_t amqp_client_output_len(const struct amqp_client *c);
/* Stops or resumes reading the socket (back-pressure from the other side of a shovel). */
void amqp_client_pause(struct amqp_client *c, bool paused);
/* connection.close(200) and, after close-ok or a short timeout, the socket; `closed` is not
 * called for a close the owner asked for. */
void amqp_client_close(struct amqp_client *c);

/* Output above this makes a shovel pause its source; `drained` comes under the low mark. */
#define AMQP_CLIENT_OUTPUT_HIGH (4u << 20)
#define AMQP_CLIENT_OUTPUT_LOW (1u << 20)

#endif
