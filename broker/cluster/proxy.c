/* broker/cluster/proxy.c: a follower forwards its clients to the leader. It listens on the
 * ports a leader would serve (AMQP, AMQPS, management HTTP) and pipes each accepted connection
 * byte for byte to the same port of the leader's advertised address: no parsing, so TLS passes
 * through and every protocol works, and clients and load balancers may be given every node's
 * address. A client that arrives while no leader is known waits (unread) up to
 * PROXY_WAIT_MS for one, then is closed. Back-pressure: a side whose output passes
 * PROXY_HIGH stops the other side's reading until it drains below PROXY_LOW (libevent's
 * le-proxy sample does the same). */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "broker/cluster/cluster_internal.h"
#include "broker/core/config.h"
#include "broker/core/list.h"
#include "broker/core/log.h"
#include "broker/core/time.h"

#define PROXY_HIGH (1u << 20)
#define PROXY_LOW (256u << 10)
#define PROXY_WAIT_MS 10000
#define PROXY_SINGLE_IO (1u << 20) /* libevent moves 16 KiB per loop turn by default */

enum proxy_port { PROXY_AMQP, PROXY_AMQPS, PROXY_HTTP, PROXY_HTTPS, PROXY_PROMETHEUS,
		  PROXY_PORTS };

static const char *const proxy_port_names[PROXY_PORTS] = { "AMQP", "AMQPS", "HTTP", "HTTPS",
							   "Prometheus" };

struct proxy_pipe {
	struct list link;
	struct cluster_proxy *p;
	enum proxy_port port;
	struct bufferevent *client, *leader; /* leader NULL while waiting for one */
	uint64_t since_ms;
	bool connected; /* to the leader */
	bool client_eof, leader_eof;
};

struct cluster_proxy {
	struct cluster *c;
	struct evconnlistener *listeners[PROXY_PORTS];
	struct list pipes;
	size_t count;
	bool has_leader;
	bool told_unreachable; /* a failure to reach this leader was logged */
	struct cluster_member leader;
	struct event *timer;
};

static void proxy_pipe_free(struct proxy_pipe *pp)
{
	list_remove(&pp->link);
	pp->p->count--;
	if (pp->client)
		bufferevent_free(pp->client);
	if (pp->leader)
		bufferevent_free(pp->leader);
	free(pp);
}

/* The other side of bev. */
static struct bufferevent *proxy_peer(struct proxy_pipe *pp, struct bufferevent *bev)
{
	return bev == pp->client ? pp->leader : pp->client;
}

/* Done once a side hung up and what it sent has left through the other side. */
static void proxy_pipe_check(struct proxy_pipe *pp)
{
	bool client_done = pp->client_eof && (!pp->leader ||
					      evbuffer_get_length(bufferevent_get_output(pp->leader)) == 0);
	bool leader_done = pp->leader_eof &&
			   evbuffer_get_length(bufferevent_get_output(pp->client)) == 0;
	if (client_done || leader_done)
		proxy_pipe_free(pp);
}

static void proxy_on_read(struct bufferevent *bev, void *arg)
{
	struct proxy_pipe *pp = arg;
	struct bufferevent *peer = proxy_peer(pp, bev);
	struct evbuffer *out;

	if (!peer)
		return; /* no leader yet: the bytes wait in the input */
	out = bufferevent_get_output(peer);
	evbuffer_add_buffer(out, bufferevent_get_input(bev));
	if (evbuffer_get_length(out) >= PROXY_HIGH) {
		bufferevent_disable(bev, EV_READ);
		bufferevent_setwatermark(peer, EV_WRITE, PROXY_LOW, 0);
	}
}

static void proxy_on_write(struct bufferevent *bev, void *arg)
{
	struct proxy_pipe *pp = arg;
	struct bufferevent *peer = proxy_peer(pp, bev);

	/* drained below the low watermark: the other side may read again */
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	if (peer && !(bev == pp->client ? pp->leader_eof : pp->client_eof))
		bufferevent_enable(peer, EV_READ);
	proxy_pipe_check(pp);
}

static void proxy_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct proxy_pipe *pp = arg;
	struct bufferevent *peer = proxy_peer(pp, bev);

	if (what & BEV_EVENT_CONNECTED) {
		/* the leader answered: the client is read from now on */
		int one = 1;
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		pp->connected = true;
		bufferevent_enable(pp->client, EV_READ);
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (bev == pp->leader && !pp->connected && !pp->p->told_unreachable) {
		/* once per leader: during a failover every client would say it again */
		pp->p->told_unreachable = true;
		log_info(pp->p->c->log, "clustering: cannot forward a %s client to leader %s: %s",
			 proxy_port_names[pp->port], pp->p->leader.name,
			 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	}
	/* forward what is left, then hang up that side too */
	if (peer)
		proxy_on_read(bev, pp);
	if (bev == pp->client)
		pp->client_eof = true;
	else
		pp->leader_eof = true;
	bufferevent_disable(bev, EV_READ);
	if (!peer) {
		proxy_pipe_free(pp);
		return;
	}
	proxy_pipe_check(pp);
}

static int proxy_leader_port(const struct cluster_member *m, enum proxy_port port)
{
	switch (port) {
	case PROXY_AMQP:
		return m->amqp_port;
	case PROXY_AMQPS:
		return m->amqps_port;
	case PROXY_HTTP:
		return m->http_port;
	case PROXY_HTTPS:
		return m->https_port;
	default:
		return m->prometheus_port;
	}
}

/* Connects pp to the leader. -1 when it cannot even start. */
static int proxy_pipe_connect(struct proxy_pipe *pp)
{
	struct cluster_proxy *p = pp->p;
	int port = proxy_leader_port(&p->leader, pp->port);

	if (port <= 0)
		return -1;
	pp->leader = bufferevent_socket_new(bufferevent_get_base(pp->client), -1,
					    BEV_OPT_CLOSE_ON_FREE);
	if (!pp->leader)
		return -1;
	bufferevent_setcb(pp->leader, proxy_on_read, proxy_on_write, proxy_on_event, pp);
	bufferevent_set_max_single_read(pp->leader, PROXY_SINGLE_IO);
	bufferevent_set_max_single_write(pp->leader, PROXY_SINGLE_IO);
	bufferevent_enable(pp->leader, EV_READ);
	pp->since_ms = time_now_ms();
	if (bufferevent_socket_connect_hostname(pp->leader, NULL, AF_UNSPEC, p->leader.address,
						port) != 0)
		return -1;
	return 0;
}

static void proxy_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			    int salen, void *arg)
{
	struct cluster_proxy *p = arg;
	struct proxy_pipe *pp = calloc(1, sizeof *pp);
	int one = 1;

	(void)sa, (void)salen;
	if (!pp) {
		evutil_closesocket(fd);
		return;
	}
	for (pp->port = 0; pp->port < PROXY_PORTS; pp->port++)
		if (p->listeners[pp->port] == l)
			break;
	pp->p = p;
	list_append(&p->pipes, &pp->link);
	p->count++;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	pp->client = bufferevent_socket_new(evconnlistener_get_base(l), fd,
					    BEV_OPT_CLOSE_ON_FREE);
	if (!pp->client) {
		evutil_closesocket(fd);
		proxy_pipe_free(pp);
		return;
	}
	bufferevent_setcb(pp->client, proxy_on_read, proxy_on_write, proxy_on_event, pp);
	bufferevent_set_max_single_read(pp->client, PROXY_SINGLE_IO);
	bufferevent_set_max_single_write(pp->client, PROXY_SINGLE_IO);
	pp->since_ms = time_now_ms();
	if (!p->has_leader)
		return; /* waits, unread, for proxy_set_leader or the timer */
	if (proxy_pipe_connect(pp) != 0)
		proxy_pipe_free(pp);
}

static void proxy_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct cluster_proxy *p = arg;
	struct list *pos, *tmp;
	uint64_t now = time_now_ms();

	(void)fd, (void)what;
	list_for_each_safe(pos, tmp, &p->pipes)
	{
		struct proxy_pipe *pp = list_entry(pos, struct proxy_pipe, link);
		if (!pp->leader && now - pp->since_ms > PROXY_WAIT_MS)
			proxy_pipe_free(pp); /* no leader came */
	}
}

static struct evconnlistener *proxy_listen(struct cluster_proxy *p, const char *host, int port)
{
	struct sockaddr_storage ss;
	int sslen = sizeof ss;
	char addr[300];
	struct evconnlistener *l;

	snprintf(addr, sizeof addr, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
	memset(&ss, 0, sizeof ss);
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) != 0) {
		log_error(p->c->log, "clustering: cannot parse listen address %s", addr);
		return NULL;
	}
	l = evconnlistener_new_bind(p->c->base, proxy_on_accept, p,
				    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					    LEV_OPT_CLOSE_ON_EXEC,
				    1024, (struct sockaddr *)&ss, sslen);
	if (!l)
		log_error(p->c->log, "clustering: cannot listen on %s to forward clients: %s", addr,
			  strerror(errno));
	return l;
}

struct cluster_proxy *cluster_proxy_new(struct cluster *c)
{
	const struct config *cfg = c->cfg;
	struct cluster_proxy *p = calloc(1, sizeof *p);
	struct timeval second = { 1, 0 };

	if (!p) {
		log_error(p->c->log, "out of memory");
		return NULL;
	}
	p->c = c;
	list_init(&p->pipes);
	if (cfg->port && !(p->listeners[PROXY_AMQP] = proxy_listen(p, cfg->bind, cfg->port)))
		goto fail;
	if (cfg->tls_port &&
	    !(p->listeners[PROXY_AMQPS] =
		      proxy_listen(p, cfg->tls_bind ? cfg->tls_bind : cfg->bind, cfg->tls_port)))
		goto fail;
	if (cfg->mgmt_port &&
	    !(p->listeners[PROXY_HTTP] =
		      proxy_listen(p, cfg->mgmt_bind ? cfg->mgmt_bind : cfg->bind, cfg->mgmt_port)))
		goto fail;
	if (cfg->mgmt_port && cfg->mgmt_tls_port &&
	    !(p->listeners[PROXY_HTTPS] =
		      proxy_listen(p, cfg->mgmt_bind ? cfg->mgmt_bind : cfg->bind,
				   cfg->mgmt_tls_port)))
		goto fail;
	if (cfg->mgmt_port && cfg->prometheus_port &&
	    !(p->listeners[PROXY_PROMETHEUS] =
		      proxy_listen(p, cfg->prometheus_bind ? cfg->prometheus_bind : cfg->bind,
				   cfg->prometheus_port)))
		goto fail;
	p->timer = event_new(c->base, -1, EV_PERSIST, proxy_on_timer, p);
	if (!p->timer || event_add(p->timer, &second) != 0)
		goto fail;
	return p;
fail:
	cluster_proxy_free(p);
	return NULL;
}

void cluster_proxy_set_leader(struct cluster_proxy *p, const struct cluster_member *leader)
{
	struct list *pos, *tmp;

	if (!p)
		return;
	if (!leader) {
		p->has_leader = false;
		return;
	}
	if (p->has_leader && strcmp(p->leader.name, leader->name) == 0 &&
	    strcmp(p->leader.address, leader->address) == 0)
		return;
	p->leader = *leader;
	p->has_leader = true;
	p->told_unreachable = false;
	log_info(p->c->log, "clustering: forwarding clients to leader %s at %s (AMQP %d, HTTP %d)",
		 leader->name, leader->address, leader->amqp_port, leader->http_port);
	list_for_each_safe(pos, tmp, &p->pipes)
	{
		struct proxy_pipe *pp = list_entry(pos, struct proxy_pipe, link);
		if (!pp->leader && proxy_pipe_connect(pp) != 0)
			proxy_pipe_free(pp);
	}
}

size_t cluster_proxy_count(const struct cluster_proxy *p)
{
	return p ? p->count : 0;
}

void cluster_proxy_free(struct cluster_proxy *p)
{
	struct list *pos, *tmp;

	if (!p)
		return;
	for (int i = 0; i < PROXY_PORTS; i++)
		if (p->listeners[i])
			evconnlistener_free(p->listeners[i]);
	list_for_each_safe(pos, tmp, &p->pipes)
		proxy_pipe_free(list_entry(pos, struct proxy_pipe, link));
	if (p->timer)
		event_free(p->timer);
	free(p);
}
