/* tests/support/fixture.c: a real broker, vhost, user and connections for unit tests (see
 * fixture.h). */
#include "tests/support/fixture.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "amqp/frame.h"
#include "broker/core/broker.h"
#include "broker/core/bug.h"
#include "broker/net/conn.h"
#include "broker/exchange/exchange.h"
#include "broker/core/log.h"
#include "broker/queue/message.h"
#include "broker/queue/queue.h"
#include "broker/vhost/vhost.h"
#include "broker/server.h"

struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof *f);
	WARREN_CHECK(f != NULL);
	log_init(&f->log);
	log_set_level(&f->log, LOG_ERROR);
	config_init_defaults(&f->cfg);
	f->base = event_base_new();
	WARREN_CHECK(f->base != NULL);
	f->b = server_new(f->base, &f->cfg, &f->log);
	WARREN_CHECK(f->b != NULL);
	f->v = strmap_get(&f->b->vhosts, "/", 1);
	f->guest = strmap_get(&f->b->users, "guest", 5);
	WARREN_CHECK(f->v != NULL && f->guest != NULL);
	return f;
}

void fixture_free(struct fixture *f)
{
	server_free(f->b);
	event_base_free(f->base);
	config_free(&f->cfg);
	for (size_t i = 0; i < f->peer_count; i++) {
		close(f->peer_fds[i]);
		evbuffer_free(f->received[i]);
	}
	free(f);
}

struct conn *fixture_conn(struct fixture *f, struct vhost *v, struct user *u)
{
	int fds[2];
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(40000) };

	WARREN_CHECK(f->peer_count < FIXTURE_MAX_CONNS);
	WARREN_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	WARREN_CHECK(fcntl(fds[1], F_SETFL, O_NONBLOCK) == 0);
	struct conn *c = conn_new(f->b, fds[0], (const struct sockaddr *)&peer, sizeof peer, NULL);
	WARREN_CHECK(c != NULL);
	f->peer_fds[f->peer_count] = fds[1];
	f->conns[f->peer_count] = c;
	f->received[f->peer_count] = evbuffer_new();
	WARREN_CHECK(f->received[f->peer_count] != NULL);
	f->peer_count++;
	c->state = CONN_OPEN;
	c->vhost = v;
	c->user = u;
	return c;
}

/* Everything the broker wrote to c so far, in order, into the client side's buffer: what reached
 * the socket, then what is still in c's output buffer (the test stands in for the write). */
static struct evbuffer *fixture_receive(struct fixture *f, struct conn *c)
{
	size_t i = 0;
	while (i < f->peer_count && f->conns[i] != c)
		i++;
	WARREN_CHECK(i < f->peer_count);
	struct evbuffer *in = f->received[i];
	while (evbuffer_read(in, f->peer_fds[i], 65536) > 0)
		;
	WARREN_CHECK(evbuffer_add_buffer(in, conn_output(c)) == 0);
	return in;
}

size_t fixture_output_len(struct fixture *f, struct conn *c)
{
	return evbuffer_get_length(fixture_receive(f, c));
}

bool fixture_next_method(struct fixture *f, struct conn *c, uint16_t *channel,
			 struct amqp_method *m)
{
	struct evbuffer *out = fixture_receive(f, c);
	bool found = false;
	while (!found) {
		size_t len = evbuffer_get_length(out);
		struct amqp_frame fr;
		enum amqp_frame_error err;
		if (len > sizeof f->frame)
			len = sizeof f->frame;
		if (len == 0)
			break;
		WARREN_CHECK(evbuffer_copyout(out, f->frame, len) == (ssize_t)len);
		ssize_t used = amqp_frame_decode(&fr, f->frame, len, sizeof f->frame, &err);
		WARREN_CHECK(used >= 0);
		if (used == 0)
			break;
		WARREN_CHECK(evbuffer_drain(out, (size_t)used) == 0);
		if (fr.type != AMQP_FRAME_METHOD)
			continue;
		WARREN_CHECK(amqp_method_decode(m, fr.payload, fr.size) == AMQP_DECODE_OK);
		*channel = fr.channel;
		found = true;
	}
	return found;
}

struct queue *fixture_queue(struct vhost *v, const char *name, struct amqp_table args)
{
	struct queue *q = queue_new(v, amqp_str_c(name), false, false, false, NULL, args);
	WARREN_CHECK(q != NULL);
	return q;
}

struct exchange *fixture_exchange(struct vhost *v, const char *name, const char *type,
				  bool auto_delete, struct amqp_table args)
{
	const struct exchange_type *t = exchange_type_find(amqp_str_c(type));
	WARREN_CHECK(t != NULL);
	struct exchange *x = exchange_new(v, amqp_str_c(name), t, false, auto_delete, false, args);
	WARREN_CHECK(x != NULL);
	return x;
}

struct message *fixture_message(struct fixture *f, const char *exchange,
				const char *routing_key, const struct amqp_basic_props *p,
				const char *body)
{
	struct amqp_basic_props none = { 0 };
	struct amqp_buf props;
	size_t n = strlen(body);

	amqp_buf_init(&props);
	amqp_props_encode(p ? p : &none, &props);
	WARREN_CHECK(!props.oom);
	struct message *m = message_new(f->b, amqp_str_c(exchange), amqp_str_c(routing_key), props.data,
					props.len, n);
	amqp_buf_free(&props);
	WARREN_CHECK(m != NULL);
	memcpy(m->body, body, n);
	if (p && (p->flags & AMQP_PROP_DELIVERY_MODE))
		m->persistent = p->delivery_mode == 2;
	if (p && (p->flags & AMQP_PROP_PRIORITY))
		m->priority = p->priority;
	return m;
}

struct message *fixture_pop(struct queue *q, struct qentry *e)
{
	struct qentry got;
	if (!queue_get(q, &got))
		return NULL;
	if (e)
		*e = got;
	return got.msg;
}
