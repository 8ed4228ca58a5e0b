/* broker/net/listener.h: the AMQP listeners. A connection accepted on b->tls_listener is a TLS
 * connection (b->tls_ctx); past connection_max a socket is closed at once. */
#ifndef BROKER_NET_LISTENER_H
#define BROKER_NET_LISTENER_H

#include <stdint.h>

struct broker;
struct evconnlistener;

/* Listens on host:port (0: a free port, reported in *bound_port). NULL (logged) on failure. */
struct evconnlistener *listener_open(struct broker *b, const char *host, int port,
				      uint16_t *bound_port);

#endif
