/* broker/net/conn_io.c: a connection's socket. Plain TCP connections own their socket, an
 * input and an output evbuffer and two events: each loop turn a readable socket is read with one
 * readv of up to CONN_READ_MAX (no FIONREAD ioctl, no second read to find EAGAIN), and the
 * output is written straight from the loop at the end of the turn (a deferred task that
 * conn_note_output queues), not one epoll round later when the socket reports writable; only
 * what the socket does not take waits for EV_WRITE. At 10,000 messages a second that is three
 * system calls per message (epoll_wait, readv, writev) where a socket bufferevent spent eight
 * (epoll_wait twice, ioctl, readv twice, epoll_ctl twice, writev). TLS connections keep a
 * bufferevent_openssl, which reads, writes and reports through the same three callbacks. */
#include "broker/net/conn.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "broker/core/broker.h"

static void conn_io_on_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	conn_on_readable(arg);
}

static void conn_io_on_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	conn_io_flush(arg);
}

static void conn_io_on_flush_task(struct deferred *d)
{
	conn_io_flush((struct conn *)((char *)d - offsetof(struct conn, flush_task)));
}

static void conn_io_bev_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_on_readable(arg);
}

static void conn_io_bev_write(struct bufferevent *bev, void *arg)
{
	conn_on_written(arg, evbuffer_get_length(bufferevent_get_output(bev)));
}

static void conn_io_bev_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_on_io_end(arg, (what & BEV_EVENT_ERROR) != 0);
}

int conn_io_open(struct conn *c, int fd, void *ssl_ctx)
{
	struct event_base *base = c->broker->base;
	c->fd = fd;
	c->flush_task.fn = conn_io_on_flush_task;
	if (ssl_ctx) {
		SSL *ssl = SSL_new(ssl_ctx);
		c->tls = true;
		c->bev = ssl ? bufferevent_openssl_socket_new(base, fd, ssl,
							      BUFFEREVENT_SSL_ACCEPTING,
							      BEV_OPT_CLOSE_ON_FREE) :
			       NULL;
		if (!c->bev) {
			if (ssl)
				SSL_free(ssl);
			evutil_closesocket(fd);
			return -1;
		}
		bufferevent_setcb(c->bev, conn_io_bev_read, conn_io_bev_write, conn_io_bev_event, c);
		bufferevent_set_max_single_read(c->bev, CONN_READ_MAX);
		bufferevent_set_max_single_write(c->bev, 4 * CONN_READ_MAX);
		bufferevent_setwatermark(c->bev, EV_WRITE, CONN_OUTPUT_LOW, 0);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		c->in = bufferevent_get_input(c->bev);
		c->out = bufferevent_get_output(c->bev);
		c->reading = true;
		return 0;
	}
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->rev = event_new(base, fd, EV_READ | EV_PERSIST, conn_io_on_readable, c);
	c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, conn_io_on_writable, c);
	if (!c->in || !c->out || !c->rev || !c->wev || event_add(c->rev, NULL) != 0) {
		conn_io_close(c);
		return -1;
	}
	c->reading = true;
	return 0;
}

void conn_io_stop(struct conn *c)
{
	broker_cancel_deferred(c->broker, &c->flush_task);
	if (c->tls) {
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
		return;
	}
	if (c->rev)
		event_del(c->rev);
	if (c->wev)
		event_del(c->wev);
	c->reading = c->writing = false;
}

void conn_io_close(struct conn *c)
{
	broker_cancel_deferred(c->broker, &c->flush_task);
	if (c->tls) {
		bufferevent_free(c->bev); /* closes the socket */
		c->bev = NULL;
		return;
	}
	if (c->rev)
		event_free(c->rev);
	if (c->wev)
		event_free(c->wev);
	if (c->in)
		evbuffer_free(c->in);
	if (c->out)
		evbuffer_free(c->out); /* releases the message references of large bodies */
	c->rev = c->wev = NULL;
	c->in = c->out = NULL;
	if (c->fd >= 0)
		evutil_closesocket(c->fd);
	c->fd = -1;
}

void conn_io_reading(struct conn *c, bool on)
{
	if (c->reading == on)
		return;
	c->reading = on;
	if (c->tls) {
		if (on)
			bufferevent_enable(c->bev, EV_READ);
		else
			bufferevent_disable(c->bev, EV_READ);
	} else if (on) {
		event_add(c->rev, NULL);
	} else {
		event_del(c->rev);
	}
}

ssize_t conn_io_read(struct conn *c)
{
	if (c->tls)
		return 0; /* the bufferevent reads, and has called back with what it read */
	struct evbuffer_iovec v[2];
	int n = evbuffer_reserve_space(c->in, CONN_READ_MAX, v, 2);
	if (n <= 0)
		return 0;
	struct iovec iov[2];
	for (int i = 0; i < n; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	ssize_t got;
	do
		got = readv(c->fd, iov, n);
	while (got < 0 && errno == EINTR);
	if (got <= 0) {
		evbuffer_commit_space(c->in, v, 0);
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1; /* EOF, or the connection was reset */
	}
	size_t left = (size_t)got;
	for (int i = 0; i < n; i++) {
		size_t take = left < v[i].iov_len ? left : v[i].iov_len;
		v[i].iov_len = take;
		left -= take;
	}
	evbuffer_commit_space(c->in, v, n);
	return got;
}

void conn_io_output_added(struct conn *c)
{
	if (!c->tls && !c->dead)
		broker_defer(c->broker, &c->flush_task);
}

void conn_io_flush(struct conn *c)
{
	if (c->tls || c->dead || c->output_held)
		return;
	size_t left = evbuffer_get_length(c->out);
	while (left > 0) {
		int n = evbuffer_write(c->out, c->fd);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			conn_on_io_end(c, true);
			return;
		}
		if (n <= 0)
			break;
		left = evbuffer_get_length(c->out);
	}
	if (left > 0 && !c->writing) {
		c->writing = true;
		event_add(c->wev, NULL);
	} else if (left == 0 && c->writing) {
		c->writing = false;
		event_del(c->wev);
	}
	conn_on_written(c, left);
}

void conn_io_hold_output(struct conn *c, bool hold)
{
	if (c->output_held == hold || c->dead)
		return;
	c->output_held = hold;
	if (c->tls) {
		if (hold)
			bufferevent_disable(c->bev, EV_WRITE);
		else
			bufferevent_enable(c->bev, EV_WRITE);
		return;
	}
	if (hold && c->writing) {
		c->writing = false;
		event_del(c->wev);
	} else if (!hold) {
		broker_defer(c->broker, &c->flush_task);
	}
}
