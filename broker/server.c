/* broker/server.c: the broker's lifecycle: created from the configuration with its default vhost
 * and user, listeners and signals, the one-second tick (resource alarms, paging, consumer
 * acknowledgement timeouts), and shutdown. The loop services themselves are core/broker.c's. */
#include "broker/server.h"

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

#include "broker/admin/admin.h"
#include "broker/admin/parameters.h"
#include "broker/auth/auth.h"
#include "broker/core/broker.h"
#include "broker/core/event.h"
#include "broker/core/time.h"
#include "broker/exchange/exchange.h"
#include "broker/handlers/handlers.h"
#include "broker/net/listener.h"
#include "broker/net/channel.h"
#include "broker/core/config.h"
#include "broker/net/conn.h"
#include "broker/core/log.h"
#include "broker/queue/queue.h"
#include "broker/net/tls.h"
#include "broker/shovel/shovel.h"
#include "broker/vhost/vhost.h"
#include "storage/store.h"

struct broker *server_new(struct event_base *base, const struct config *cfg, struct log *lg)
{
	struct broker *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->cfg = cfg;
	b->log = lg;
	b->start_ms = time_now_ms();
	if (broker_loop_init(b, base) != 0)
		goto fail;
	b->queue_hooks = &exchange_queue_hooks;
	b->handler = &handlers_amqp;
	if (exchange_events_install(b) != 0 || shovels_install(b) != 0)
		goto fail;

	const char *vname = cfg->default_vhost ? cfg->default_vhost : "/";
	struct vhost *v = admin_vhost_create(b, vname);
	/* RabbitMQ describes the vhost it creates at first start so */
	if (!v || vhost_set_metadata(v, "Default virtual host", NULL, 0, NULL) != 0)
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
	log_error(b->log, "out of memory creating the broker");
	server_free(b);
	return NULL;
}

void server_free(struct broker *b)
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
	shovels_free(b); /* after the connections: its own ones log in as its user */
	/* Flush what is pending before the queues go: their teardown writes nothing. */
	b->recovering = true;
	if (b->store)
		store_close(b->store);
	b->store = NULL;
	for (struct strmap_entry *e = strmap_first(&b->vhosts, &i); e;
	     e = strmap_next(&b->vhosts, e, &i))
		admin_vhost_destroy(e->value);
	strmap_clear(&b->vhosts);
	for (struct strmap_entry *e = strmap_first(&b->users, &i); e;
	     e = strmap_next(&b->users, e, &i))
		auth_user_free(e->value);
	strmap_clear(&b->users);
	auth_failures_free(b);
	strmap_clear(&b->reply_to);
	parameters_free(b);
	exchange_events_free(b);
	if (b->listener)
		evconnlistener_free(b->listener);
	if (b->tls_listener)
		evconnlistener_free(b->tls_listener);
	tls_ctx_free(b->tls_ctx);
	broker_loop_free(b);
	if (b->tick_ev)
		event_free(b->tick_ev);
	if (b->sig_term)
		event_free(b->sig_term);
	if (b->sig_int)
		event_free(b->sig_int);
	free(b);
}

static void broker_on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct broker *b = arg;
	log_info(b->log, "received signal %d, shutting down", (int)sig);
	server_shutdown(b);
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
		log_info(b->log, "paged %llu messages out of memory", (unsigned long long)moved);
}

void server_check_alarms(struct broker *b)
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
		log_info(b->log, "memory use %llu bytes is %s the paging threshold %llu: queues %s",
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
		log_warn(b->log, "memory resource limit alarm %s: %llu bytes used, limit %llu",
			 mem ? "set" : "cleared", (unsigned long long)b->mem_used,
			 (unsigned long long)b->mem_limit);
	if (disk != b->disk_alarm)
		log_warn(b->log, "disk resource limit alarm %s: %llu bytes free", disk ? "set" : "cleared",
			 (unsigned long long)b->disk_free);
	if (mem != b->mem_alarm)
		EVENT_EMIT(b, mem ? "alarm.set" : "alarm.cleared", EV_CSTR("source", "memory"));
	if (disk != b->disk_alarm)
		EVENT_EMIT(b, disk ? "alarm.set" : "alarm.cleared", EV_CSTR("source", "disk"));
	b->mem_alarm = mem;
	b->disk_alarm = disk;
	const char *reason = mem ? "low on memory" : disk ? "low on disk" : b->repl_alarm;
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
	server_check_alarms(b);
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

int server_start(struct broker *b)
{
	const struct config *cfg = b->cfg;
	char err[256];

	b->listener = listener_open(b, cfg->bind, cfg->port, &b->port);
	if (!b->listener)
		return -1;
	if (cfg->tls_port) {
		b->tls_ctx = tls_ctx_new(cfg, err, sizeof err);
		if (!b->tls_ctx) {
			log_error(b->log, "%s", err);
			return -1;
		}
		b->tls_listener = listener_open(b, cfg->tls_bind ? cfg->tls_bind : cfg->bind,
						cfg->tls_port, &b->tls_port);
		if (!b->tls_listener)
			return -1;
		log_info(b->log, "AMQPS listener on %s:%u", cfg->tls_bind ? cfg->tls_bind : cfg->bind,
			 (unsigned)b->tls_port);
	}
	b->sig_term = evsignal_new(b->base, SIGTERM, broker_on_signal, b);
	b->sig_int = evsignal_new(b->base, SIGINT, broker_on_signal, b);
	if (!b->sig_term || !b->sig_int || evsignal_add(b->sig_term, NULL) != 0 ||
	    evsignal_add(b->sig_int, NULL) != 0)
		return -1;
	server_check_alarms(b);
	b->tick_ev = event_new(b->base, -1, EV_PERSIST, broker_on_tick, b);
	struct timeval second = { 1, 0 };
	if (!b->tick_ev || event_add(b->tick_ev, &second) != 0)
		return -1;
	log_info(b->log, "AMQP listener on %s:%u", cfg->bind, (unsigned)b->port);
	return 0;
}

static void broker_on_shutdown_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct broker *b = arg;
	event_base_loopexit(b->base, NULL);
}

void server_shutdown(struct broker *b)
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
