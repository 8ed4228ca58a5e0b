/* broker/net/listener.c: the AMQP and AMQPS listeners: accept, the connection_max rule, and a
 * new connection per socket (net/conn.c takes it from there). */
#include "broker/net/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "broker/core/broker.h"
#include "broker/core/config.h"
#include "broker/core/log.h"
#include "broker/net/conn.h"

static void listener_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			     int salen, void *arg)
{
	struct broker *b = arg;
	if (b->shutting_down) {
		evutil_closesocket(fd);
		return;
	}
	if (b->cfg->max_connections != CONFIG_UNLIMITED && b->conn_count >= b->cfg->max_connections) {
		log_warn(b->log, "refusing a connection: connection_max (%u) reached",
			 (unsigned)b->cfg->max_connections);
		evutil_closesocket(fd);
		return;
	}
	if (!conn_new(b, fd, sa, salen, l == b->tls_listener ? b->tls_ctx : NULL))
		log_warn(b->log, "out of memory accepting a connection");
}

static void listener_on_accept_error(struct evconnlistener *l, void *arg)
{
	struct broker *b = arg;
	(void)l;
	log_warn(b->log, "accept failed: %s", strerror(errno));
}

struct evconnlistener *listener_open(struct broker *b, const char *host, int port,
				      uint16_t *bound_port)
{
	struct sockaddr_storage ss;
	int sslen = sizeof ss;
	char addr[160];

	snprintf(addr, sizeof addr, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
	memset(&ss, 0, sizeof ss);
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) != 0) {
		log_error(b->log, "cannot parse listen address %s", addr);
		return NULL;
	}
	struct evconnlistener *l = evconnlistener_new_bind(
		b->base, listener_on_accept, b, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
		b->cfg->tcp_backlog ? (int)b->cfg->tcp_backlog : 1024, (struct sockaddr *)&ss, sslen);
	if (!l) {
		log_error(b->log, "cannot listen on %s: %s", addr, strerror(errno));
		return NULL;
	}
	evconnlistener_set_error_cb(l, listener_on_accept_error);
	struct sockaddr_storage bound;
	socklen_t blen = sizeof bound;
	if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&bound, &blen) == 0)
		*bound_port = ntohs(bound.ss_family == AF_INET6 ?
					    ((struct sockaddr_in6 *)&bound)->sin6_port :
					    ((struct sockaddr_in *)&bound)->sin_port);
	return l;
}

