/* broker/broker.c: the root object: vhosts, users, the listener, signals, and the deferred
 * task list that runs once per loop turn after input has been processed. */
#include "broker/broker.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "broker/auth.h"
#include "broker/channel.h"
#include "broker/config.h"
#include "broker/conn.h"
#include "broker/log.h"
#include "broker/queue.h"
#include "broker/tls.h"
#include "broker/vhost.h"
#include "storage/store.h"

uint64_t broker_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* xoshiro256** seeded from the kernel: names need uniqueness, not secrecy. */
static uint64_t rng_state[4];

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t broker_random_u64(void)
{
	if (!(rng_state[0] | rng_state[1] | rng_state[2] | rng_state[3])) {
		if (getrandom(rng_state, sizeof rng_state, 0) != sizeof rng_state)
			rng_state[0] = (uint64_t)time(NULL) | 1;
	}
	uint64_t *s = rng_state;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* prefix + 22 characters of URL-safe base64 for 128 bits, like RabbitMQ's base64url names. */
static void broker_name_encode(const char *prefix, const uint8_t bytes[18], char *out, size_t cap)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(prefix);
	if (cap < n + 23) {
		if (cap)
			out[0] = '\0';
		return;
	}
	memcpy(out, prefix, n);
	/* 16 bytes -> 22 characters (the last of 128 bits padded). */
	for (int i = 0; i < 22; i++) {
		int bit = i * 6, byte = bit / 8, shift = bit % 8;
		unsigned v = ((unsigned)bytes[byte] << 8 | bytes[byte + 1]) >> (10 - shift);
		out[n + (size_t)i] = b64[v & 63];
	}
	out[n + 22] = '\0';
}

void broker_random_name(const char *prefix, char *out, size_t cap)
{
	uint8_t bytes[18] = { 0 };
	uint64_t r0 = broker_random_u64(), r1 = broker_random_u64();
	memcpy(bytes, &r0, 8);
	memcpy(bytes + 8, &r1, 8);
	broker_name_encode(prefix, bytes, out, cap);
}

int broker_secret_name(const char *prefix, char *out, size_t cap)
{
	uint8_t bytes[18] = { 0 };
	size_t got = 0;
	while (got < 16) { /* getrandom returns at most what was asked; EINTR before any byte */
		ssize_t n = getrandom(bytes + got, 16 - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	broker_name_encode(prefix, bytes, out, cap);
	return 0;
}

static void broker_on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct broker_timer *t = arg;
	t->due_ms = 0;
	t->fn(t);
}

int broker_timer_set(struct broker *b, struct broker_timer *t, uint64_t due_ms)
{
	if (!t->ev) {
		t->ev = event_new(b->base, -1, 0, broker_on_timer, t);
		if (!t->ev)
			return -1;
	}
	if (t->due_ms == due_ms && due_ms)
		return 0;
	uint64_t now = broker_now_ms();
	uint64_t wait = due_ms > now ? due_ms - now : 0;
	struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)((wait % 1000) * 1000) };
	t->due_ms = due_ms ? due_ms : 1;
	return event_add(t->ev, &tv);
}

void broker_timer_cancel(struct broker_timer *t)
{
	if (t->ev)
		event_del(t->ev);
	t->due_ms = 0;
}

void broker_timer_free(struct broker_timer *t)
{
	if (t->ev)
		event_free(t->ev);
	t->ev = NULL;
	t->due_ms = 0;
}

static void broker_on_defer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	broker_run_deferred(arg);
}

void broker_defer(struct broker *b, struct deferred *d)
{
	if (d->queued)
		return;
	d->queued = true;
	d->next = NULL;
	if (b->defer_tail)
		b->defer_tail->next = d;
	else
		b->defer_head = d;
	b->defer_tail = d;
	if (b->defer_ev)
		event_active(b->defer_ev, EV_TIMEOUT, 0);
}

void broker_cancel_deferred(struct broker *b, struct deferred *d)
{
	if (!d->queued)
		return;
	struct deferred **pp = &b->defer_head, *prev = NULL;
	for (; *pp; prev = *pp, pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			if (b->defer_tail == d)
				b->defer_tail = prev;
			break;
		}
	d->queued = false;
	d->next = NULL;
}

void broker_run_deferred(struct broker *b)
{
	/* Tasks may defer more tasks (dispatch -> confirm flush); they run in this same pass. */
	for (int rounds = 0; b->defer_head && rounds < 64; rounds++) {
		struct deferred *d = b->defer_head;
		b->defer_head = d->next;
		if (!b->defer_head)
			b->defer_tail = NULL;
		d->queued = false;
		d->next = NULL;
		d->fn(d);
	}
	if (b->defer_head && b->defer_ev)
		event_active(b->defer_ev, EV_TIMEOUT, 0);
}

struct broker *broker_new(struct event_base *base, const struct config *cfg)
{
	struct broker *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->base = base;
	b->cfg = cfg;
	b->start_ms = broker_now_ms();
	strmap_init(&b->vhosts);
	strmap_init(&b->users);
	strmap_init(&b->reply_to);
	list_init(&b->conns);
	list_init(&b->confirm_waiting);
	b->defer_ev = event_new(base, -1, 0, broker_on_defer, b);
	if (!b->defer_ev)
		goto fail;
	/* Activated from I/O callbacks, so it runs after the I/O events already active in
	 * this loop turn: one dispatch per batch of input. */

	const char *vname = cfg->default_vhost ? cfg->default_vhost : "/";
	struct vhost *v = vhost_new(b, vname);
	if (!v)
		goto fail;
	struct user *u = auth_user_add(b, cfg->default_user ? cfg->default_user : "guest",
				       cfg->default_pass ? cfg->default_pass : "guest",
				       "administrator");
	if (!u || auth_permission_set(u, vname, cfg->default_perm_configure ? cfg->default_perm_configure : ".*",
				      cfg->default_perm_write ? cfg->default_perm_write : ".*",
				      cfg->default_perm_read ? cfg->default_perm_read : ".*") != 0)
		goto fail;
	return b;
fail:
	log_error("out of memory creating the broker");
	broker_free(b);
	return NULL;
}

void broker_free(struct broker *b)
{
	size_t i;
	if (!b)
		return;
	struct list *pos, *tmp;
	list_for_each_safe(pos, tmp, &b->conns)
	{
		struct conn *c = list_entry(pos, struct conn, link);
		conn_destroy(c);
	}
	/* Flush what is pending before the queues go: their teardown writes nothing. */
	b->recovering = true;
	if (b->store)
		store_close(b->store);
	b->store = NULL;
	for (struct strmap_entry *e = strmap_first(&b->vhosts, &i); e;
	     e = strmap_next(&b->vhosts, e, &i))
		vhost_free(e->value);
	strmap_clear(&b->vhosts);
	for (struct strmap_entry *e = strmap_first(&b->users, &i); e;
	     e = strmap_next(&b->users, e, &i))
		auth_user_free(e->value);
	strmap_clear(&b->users);
	strmap_clear(&b->reply_to);
	if (b->listener)
		evconnlistener_free(b->listener);
	if (b->tls_listener)
		evconnlistener_free(b->tls_listener);
	tls_ctx_free(b->tls_ctx);
	if (b->defer_ev)
		event_free(b->defer_ev);
	if (b->tick_ev)
		event_free(b->tick_ev);
	if (b->sig_term)
		event_free(b->sig_term);
	if (b->sig_int)
		event_free(b->sig_int);
	free(b);
}

static void broker_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			     int salen, void *arg)
{
	struct broker *b = arg;
	if (b->shutting_down) {
		evutil_closesocket(fd);
		return;
	}
	if (b->cfg->max_connections != CONFIG_UNLIMITED && b->conn_count >= b->cfg->max_connections) {
		log_warn("refusing a connection: connection_max (%u) reached",
			 (unsigned)b->cfg->max_connections);
		evutil_closesocket(fd);
		return;
	}
	if (!conn_new(b, fd, sa, salen, l == b->tls_listener ? b->tls_ctx : NULL))
		log_warn("out of memory accepting a connection");
}

static void broker_on_accept_error(struct evconnlistener *l, void *arg)
{
	(void)l, (void)arg;
	log_warn("accept failed: %s", strerror(errno));
}

static void broker_on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct broker *b = arg;
	log_info("received signal %d, shutting down", (int)sig);
	broker_shutdown(b);
}

static uint64_t broker_rss_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t broker_total_ram(void)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	return pages > 0 ? (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

/* Every queue moves what it holds in memory beyond a small window to disk. */
static void broker_page_out(struct broker *b)
{
	size_t vi, qi;
	uint64_t moved = 0;
	for (struct strmap_entry *ve = strmap_first(&b->vhosts, &vi); ve;
	     ve = strmap_next(&b->vhosts, ve, &vi)) {
		struct vhost *v = ve->value;
		for (struct strmap_entry *qe = strmap_first(&v->queues, &qi); qe;
		     qe = strmap_next(&v->queues, qe, &qi))
			moved += queue_page_out(qe->value);
	}
	if (moved)
		log_info("paged %llu messages out of memory", (unsigned long long)moved);
}

void broker_check_alarms(struct broker *b)
{
	const struct config *cfg = b->cfg;
	struct statvfs sv;
	bool mem, disk;

	if (!b->mem_limit)
		b->mem_limit = cfg->vm_memory_high_watermark_relative > 0 &&
					       (cfg->vm_memory_relative_given ||
						!cfg->vm_memory_high_watermark_absolute) ?
				       (uint64_t)(cfg->vm_memory_high_watermark_relative *
						  (double)broker_total_ram()) :
				       cfg->vm_memory_high_watermark_absolute;
	b->mem_used = broker_rss_bytes();
	if (b->paging_bytes && b->mem_used > b->paging_bytes) {
		/* memory freed by paging may sit in the allocator's free lists, and RSS would keep
		 * the alarm up with nothing left to free: hand free pages back, then measure */
		malloc_trim(0);
		b->mem_used = broker_rss_bytes();
	}
	mem = b->mem_limit && b->mem_used > b->mem_limit;
	b->paging_bytes = (uint64_t)((double)b->mem_limit * cfg->vm_memory_paging_ratio);
	bool paging = b->paging_bytes && b->mem_used > b->paging_bytes;
	if (paging != b->mem_paging)
		log_info("memory use %llu bytes is %s the paging threshold %llu: queues %s",
			 (unsigned long long)b->mem_used, paging ? "above" : "back under",
			 (unsigned long long)b->paging_bytes,
			 paging ? "page messages out to disk" : "keep messages in memory again");
	b->mem_paging = paging;
	if (paging)
		broker_page_out(b);
	disk = false;
	if (cfg->data_dir && statvfs(cfg->data_dir, &sv) == 0) {
		b->disk_free = (uint64_t)sv.f_bavail * sv.f_frsize;
		uint64_t limit = cfg->disk_free_limit_relative > 0 ?
					 (uint64_t)(cfg->disk_free_limit_relative *
						    (double)broker_total_ram()) :
					 cfg->disk_free_limit_absolute;
		disk = b->disk_free < limit;
	}
	if (mem != b->mem_alarm)
		log_warn("memory resource limit alarm %s: %llu bytes used, limit %llu",
			 mem ? "set" : "cleared", (unsigned long long)b->mem_used,
			 (unsigned long long)b->mem_limit);
	if (disk != b->disk_alarm)
		log_warn("disk resource limit alarm %s: %llu bytes free", disk ? "set" : "cleared",
			 (unsigned long long)b->disk_free);
	b->mem_alarm = mem;
	b->disk_alarm = disk;
	const char *reason = mem ? "low on memory" : disk ? "low on disk" : NULL;
	bool changed = (reason == NULL) != (b->alarm_reason == NULL);
	b->alarm_reason = reason;
	if (!changed)
		return;
	struct list *pos, *tmp;
	list_for_each_safe(pos, tmp, &b->conns)
	{
		struct conn *c = list_entry(pos, struct conn, link);
		if (reason && c->published)
			conn_block(c, reason);
		else if (!reason)
			conn_unblock(c);
	}
}

/* Once a second: resource alarms and consumer acknowledgement timeouts. */
static void broker_on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct broker *b = arg;
	struct list *pos, *tmp;
	b->tick++;
	broker_check_alarms(b);
	list_for_each_safe(pos, tmp, &b->conns)
	{
		struct conn *c = list_entry(pos, struct conn, link);
		if (c->state != CONN_OPEN)
			continue;
		struct list *cpos;
		list_for_each(cpos, &c->channel_list)
		{
			if (c->state != CONN_OPEN)
				break;
			channel_check_timeout(list_entry(cpos, struct channel, conn_link));
		}
	}
}

static struct evconnlistener *broker_listen(struct broker *b, const char *host, int port,
					    uint16_t *bound_port)
{
	struct sockaddr_storage ss;
	int sslen = sizeof ss;
	char addr[160];

	snprintf(addr, sizeof addr, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
	memset(&ss, 0, sizeof ss);
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) != 0) {
		log_error("cannot parse listen address %s", addr);
		return NULL;
	}
	struct evconnlistener *l = evconnlistener_new_bind(
		b->base, broker_on_accept, b, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
		b->cfg->tcp_backlog ? (int)b->cfg->tcp_backlog : 1024, (struct sockaddr *)&ss, sslen);
	if (!l) {
		log_error("cannot listen on %s: %s", addr, strerror(errno));
		return NULL;
	}
	evconnlistener_set_error_cb(l, broker_on_accept_error);
	struct sockaddr_storage bound;
	socklen_t blen = sizeof bound;
	if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&bound, &blen) == 0)
		*bound_port = ntohs(bound.ss_family == AF_INET6 ?
					    ((struct sockaddr_in6 *)&bound)->sin6_port :
					    ((struct sockaddr_in *)&bound)->sin_port);
	return l;
}

int broker_start(struct broker *b)
{
	const struct config *cfg = b->cfg;
	char err[256];

	b->listener = broker_listen(b, cfg->bind, cfg->port, &b->port);
	if (!b->listener)
		return -1;
	if (cfg->tls_port) {
		b->tls_ctx = tls_ctx_new(cfg, err, sizeof err);
		if (!b->tls_ctx) {
			log_error("%s", err);
			return -1;
		}
		b->tls_listener = broker_listen(b, cfg->tls_bind ? cfg->tls_bind : cfg->bind,
						cfg->tls_port, &b->tls_port);
		if (!b->tls_listener)
			return -1;
		log_info("AMQPS listener on %s:%u", cfg->tls_bind ? cfg->tls_bind : cfg->bind,
			 (unsigned)b->tls_port);
	}
	b->sig_term = evsignal_new(b->base, SIGTERM, broker_on_signal, b);
	b->sig_int = evsignal_new(b->base, SIGINT, broker_on_signal, b);
	if (!b->sig_term || !b->sig_int || evsignal_add(b->sig_term, NULL) != 0 ||
	    evsignal_add(b->sig_int, NULL) != 0)
		return -1;
	broker_check_alarms(b);
	b->tick_ev = event_new(b->base, -1, EV_PERSIST, broker_on_tick, b);
	struct timeval second = { 1, 0 };
	if (!b->tick_ev || event_add(b->tick_ev, &second) != 0)
		return -1;
	log_info("AMQP listener on %s:%u", cfg->bind, (unsigned)b->port);
	return 0;
}

static void broker_on_shutdown_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct broker *b = arg;
	event_base_loopexit(b->base, NULL);
}

void broker_shutdown(struct broker *b)
{
	if (b->shutting_down) {
		event_base_loopexit(b->base, NULL);
		return;
	}
	b->shutting_down = true;
	if (b->listener)
		evconnlistener_disable(b->listener);
	if (b->tls_listener)
		evconnlistener_disable(b->tls_listener);
	struct list *pos, *tmp;
	list_for_each_safe(pos, tmp, &b->conns)
	{
		struct conn *c = list_entry(pos, struct conn, link);
		conn_force_close(c, "broker forced connection closure with reason 'shutdown'");
	}
	/* Give the close frames a moment to leave, then stop the loop. */
	struct timeval tv = { 0, list_is_empty(&b->conns) ? 0 : 200000 };
	event_base_once(b->base, -1, EV_TIMEOUT, broker_on_shutdown_timeout, b, &tv);
}
