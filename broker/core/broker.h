/* broker/core/broker.h: the root object, which every layer receives. One event loop owns all
 * broker state; nothing is a global singleton, so every function that needs the world takes a
 * struct broker *. Its fields are plain data and pointers to types the layers above define
 * (forward-declared here), so this header depends on nothing above core/.
 *
 * The loop services every layer uses live here too: deferred tasks (run once per loop turn,
 * after the turn's input), one-shot timers for modules that must not include libevent, and the
 * per-turn store sync and definitions flush, whose work admin/durable.c installs. The broker's
 * lifecycle (creating it, listeners, signals, the one-second tick) is broker/server.c's. */
#ifndef BROKER_CORE_BROKER_H
#define BROKER_CORE_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/core/list.h"
#include "broker/core/rng.h"
#include "broker/core/strmap.h"

struct event_base;
struct event;
struct evconnlistener;
struct config;
struct channel;
struct mgmt;
struct store;
struct queue_hooks;
struct handler;
struct event_sink;
struct event_exchange;
struct parameters;
struct shovels;
struct cluster;
struct auth_failures;
struct log;

/* Work that must run once per loop turn (queue dispatch, confirm flush), after the current
 * batch of input has been processed. */
struct deferred {
	void (*fn)(struct deferred *d);
	struct deferred *next;
	bool queued;
};

/* A one-shot timer on the broker's loop, for modules that must not include libevent
 * (queue expiry, x-expires, delayed exchanges). */
struct broker_timer {
	struct event *ev;
	void (*fn)(struct broker_timer *t);
	uint64_t due_ms; /* 0 when not armed */
};

struct broker_stats {
	uint64_t published, delivered, acked, redelivered, confirmed, returned, dropped_unroutable;
	uint64_t dead_lettered, expired, nacked;
	uint64_t connections_opened, connections_closed, channels_opened, channels_closed;
	uint64_t queues_declared, queues_deleted;
	uint64_t flow_ms; /* time connections spent in flow (publisher flow control), ended waits */
	/* The split RabbitMQ's Prometheus endpoint shows (mgmt/api/mgmt_metrics.c) */
	uint64_t delivered_consume_no_ack, delivered_get, delivered_get_no_ack, get_empty;
	uint64_t published_confirm; /* on channels in confirm mode */
	uint64_t routed;            /* publishes that reached at least one queue */
	uint64_t queue_declares;    /* declare-ok replies (queues_declared counts creations) */
	uint64_t dead_lettered_reason[4]; /* by enum deadletter_reason */
	uint64_t delivery_limit_exceeded; /* messages past their queue's delivery limit */
};

struct broker {
	struct event_base *base;
	const struct config *cfg;
	struct log *log;        /* where log lines go (the program's; NULL: plain stderr) */
	struct strmap vhosts;   /* name -> struct vhost */
	struct strmap users;    /* name -> struct user */
	struct strmap reply_to; /* direct reply-to token -> struct channel */
	struct list conns;
	uint32_t conn_count;
	struct deferred *defer_head, *defer_tail;
	struct event *defer_ev;
	struct evconnlistener *listener;
	struct evconnlistener *tls_listener;
	struct ssl_ctx_st *tls_ctx;
	uint16_t tls_port;
	struct event *sig_term, *sig_int;
	struct mgmt *mgmt;
	uint64_t next_conn_id;
	bool shutting_down;
	struct broker_stats stats;
	uint16_t port;
	uint64_t start_ms;
	char hostname[64];      /* gethostname(), read once: broker_hostname */
	char node_name[96];     /* broker_node_name */
	uint32_t tick;          /* seconds since start, advanced by the housekeeping timer */
	uint64_t topology_gen;  /* bumped when a queue or exchange is deleted: lookup caches */
	struct rng rng;         /* server-generated names */
	const struct queue_hooks *queue_hooks; /* routing for queues (exchange/exchange.c) */
	const struct handler *handler;  /* the AMQP method handlers net/ calls (handlers/) */
	/* Events (core/event.h): the sink and state of the event exchange (exchange/event.c),
	 * and who is acting (a connection's or an HTTP request's user, NULL: the broker). */
	const struct event_sink *event_sink;
	struct event_exchange *events;
	const char *event_actor;
	/* Runtime parameters (admin/parameters.c) and the shovels they run (shovel/). */
	struct parameters *parameters;
	struct shovels *shovels;
	/* Bumped on every user, permission or topic permission change: channels cache their
	 * publish permission checks against it. */
	uint64_t auth_generation;
	struct auth_failures *auth_failures; /* recent login failures per peer (auth.c) */
	uint64_t route_epoch;     /* marks what one routing visited (exchange.c) */
	uint64_t exchange_serial; /* numbers exchanges for the management API's statistics */
	/* Messages alive (queued, unacked, in flight) and their body bytes: the memory picture. */
	uint64_t message_live_count, message_live_bytes;

	/* durability */
	struct store *store;
	bool recovering;          /* replaying the store: no writes back to it */
	uint64_t store_appends;   /* message/enqueue records appended so far */
	uint64_t sync_issued;     /* last ticket store_sync returned */
	uint64_t sync_done;       /* last ticket reported synced */
	struct deferred store_sync_task;
	struct deferred defs_flush;
	bool defs_dirty;
	struct list confirm_waiting; /* channels with confirms waiting for a sync */
	const char *alarm_reason; /* NULL, or "memory" / "disk" while a resource alarm is on */
	bool mem_alarm, disk_alarm;
	uint64_t mem_limit, mem_used, disk_free;
	/* Paging: past vm_memory_high_watermark_paging_ratio of the limit (RSS at the last check,
	 * or live message bytes at any moment), queues move messages to disk. */
	bool mem_paging;
	uint64_t paging_bytes;
	uint64_t page_qid_seq;    /* numbers queues' volatile store ids */
	struct event *tick_ev;

	/* clustering (broker/cluster/): NULL unless clustering.enabled and this node leads */
	struct cluster *cluster;
	/* When set, a completed store sync goes here instead of straight to the confirms, which
	 * then wait until the replication layer calls durable_synced (followers hold it too). */
	void (*synced_gate)(struct broker *b, uint64_t ticket, bool ok);
	/* Set while too few followers are in sync to confirm anything: publishers are blocked as
	 * under a resource alarm (server_check_alarms). */
	const char *repl_alarm;
};

/* This machine's host name, read once ("localhost" if it cannot be read). */
const char *broker_hostname(struct broker *b);
/* The node's name as RabbitMQ shows a node's (connection.start's `node`, the management API,
 * the event exchange, a shovel's headers): warren@<host name>, or in a cluster
 * warren@<clustering.node_name>, which the cluster installs with broker_set_node_name. */
const char *broker_node_name(struct broker *b);
void broker_set_node_name(struct broker *b, const char *name);

void broker_defer(struct broker *b, struct deferred *d);
void broker_run_deferred(struct broker *b);
/* Removes d from the deferred list if it is queued (before freeing its owner). */
void broker_cancel_deferred(struct broker *b, struct deferred *d);

/* Arms (or re-arms) t to fire at due_ms (time_now_ms clock). 0 or -1 out of memory. */
int broker_timer_set(struct broker *b, struct broker_timer *t, uint64_t due_ms);
void broker_timer_cancel(struct broker_timer *t);
/* Cancels and releases the event; t may be armed again later. */
void broker_timer_free(struct broker_timer *t);

/* Creates the loop's deferred-task event; the rest of the struct is zeroed by its creator.
 * 0, or -1 out of memory. */
int broker_loop_init(struct broker *b, struct event_base *base);
void broker_loop_free(struct broker *b);
/* A durable definition changed: the definitions document is rewritten (and fsynced) before
 * this loop turn's replies leave, so a declare-ok is never sent for an object not on disk. */
void broker_definitions_dirty(struct broker *b);
/* Appends were made to the store: request one group sync at the end of the loop turn. */
void broker_store_touched(struct broker *b);

/* Queues should page messages out: memory passed the paging threshold at the last check, or
 * message bodies alone pass it now (between checks a fast publisher can add a lot). */
static inline bool broker_short_of_memory(const struct broker *b)
{
	return b->mem_paging || (b->paging_bytes && b->message_live_bytes > b->paging_bytes);
}
/* The ticket a confirm for a publish stored now must wait for. */
uint64_t broker_store_next_ticket(const struct broker *b);

#endif
