/* broker/shovel/shovel_uri.h: AMQP URIs as RabbitMQ's amqp_uri module reads them:
 * amqp[s]://[user[:password]@]host[:port][/vhost][?key=value&...]. An empty host ("amqp://",
 * "amqp:///vhost") means this broker itself, reached without the network and without a password
 * (RabbitMQ's direct connection). Query keys Warren acts on: heartbeat, connection_timeout,
 * channel_max, frame_max, auth_mechanism (plain, external), cacertfile, certfile, keyfile,
 * verify (verify_peer, verify_none), server_name_indication; others are accepted and ignored,
 * as RabbitMQ does. */
#ifndef BROKER_SHOVEL_SHOVEL_URI_H
#define BROKER_SHOVEL_SHOVEL_URI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct shovel_uri {
	bool tls;
	bool local;       /* no host: this broker */
	char *user, *password, *host, *vhost;
	uint16_t port;
	int32_t heartbeat;          /* seconds, -1: not given */
	int32_t connection_timeout; /* ms, -1: not given */
	int32_t channel_max, frame_max; /* -1: not given */
	bool auth_external;
	char *cacertfile, *certfile, *keyfile, *sni;
	bool verify_peer;
	char *display; /* the URI without its credentials, as the shovel status shows it */
};

/* Parses text. 0, or -1 with the reason as RabbitMQ's validation shows it in err:
 * {{unexpected_uri_scheme,"http"},"http://x"} and the like. */
int shovel_uri_parse(const char *text, struct shovel_uri *u, char *err, size_t errlen);
void shovel_uri_free(struct shovel_uri *u);

#endif
