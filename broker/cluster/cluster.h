/* broker/cluster/cluster.h: a node of a replicated Warren cluster (docs/clustering.md). etcd
 * decides who leads (a lease and a create-if-absent transaction on <prefix>/leader) and holds
 * the in-sync set; the leader serves every client and ships every record its store writes to
 * its followers, which keep a byte-for-byte copy of its data directory and forward clients to
 * it; a follower that wins an election opens that copy and serves. Nothing here runs unless
 * clustering.enabled is set: main.c then creates the cluster instead of the broker, and the
 * cluster calls back into main.c (struct cluster_hooks) when this node is to serve. */
#ifndef BROKER_CLUSTER_CLUSTER_H
#define BROKER_CLUSTER_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;
struct cluster;
struct config;
struct event_base;
struct log;

struct cluster_hooks {
	/* This node won the election: create the broker, open the store and serve (listeners,
	 * management). The broker, or NULL after a log line (the node then gives up leading). */
	struct broker *(*serve)(void *arg, struct cluster *c);
	/* This node stops serving (stepping down): release what serve added beside the broker
	 * (the management server). The process restarts as a follower afterwards. */
	void (*release)(void *arg, struct broker *b);
	void *arg;
};

/* argv is kept to restart the process as a follower after a step-down. NULL after a log line
 * when the settings cannot work (an endpoint that does not parse, a bad node name). */
struct cluster *cluster_new(struct event_base *base, const struct config *cfg, struct log *log,
			    char **argv, const struct cluster_hooks *hooks);
/* Opens the replication listener and the forwarding listeners, starts talking to etcd. 0, or
 * -1 after a log line (a port that cannot be bound). */
int cluster_start(struct cluster *c);
/* Stops everything; a leader gives its lease back so that another node takes over at once.
 * Call after the loop stopped. NULL-safe. */
void cluster_free(struct cluster *c);

/* The broker while this node leads, else NULL. */
struct broker *cluster_broker(const struct cluster *c);

/* ---- what the management API shows ---- */

struct cluster_node_info {
	char name[80];       /* "warren@<clustering.node_name>" */
	char address[256];
	bool running;        /* its etcd registration is alive */
	bool leader;
	bool in_sync;        /* in the in-sync set etcd holds */
	bool self;
	bool connected;      /* leader only: it streams from this node */
	uint64_t lag_records, lag_bytes;
	uint64_t replicated_bytes; /* sent to it by this leader */
	uint64_t uptime_ms;
};

/* Every node etcd knows (registered now, or a member that may come back), this one first.
 * Returns the count (at most max). */
size_t cluster_nodes(const struct cluster *c, struct cluster_node_info *out, size_t max);
/* The cluster's name (clustering.etcd_prefix) and the leader's node name ("" when none). */
const char *cluster_name(const struct cluster *c);
const char *cluster_leader(const struct cluster *c);
const char *cluster_self(const struct cluster *c); /* "warren@<node_name>" */
/* Followers currently in the in-sync set, and how many a confirm needs. */
unsigned cluster_insync_followers(const struct cluster *c);
unsigned cluster_required_followers(const struct cluster *c);
/* Total bytes of the log shipped to followers, and this node's role as a metric value. */
uint64_t cluster_replicated_bytes(const struct cluster *c);
bool cluster_is_leader(const struct cluster *c);

/* Forgets a node that is not running (<prefix>/members/<name>): it no longer counts as a
 * follower that may come back. label is "warren@<name>". 0, or -1 when etcd cannot be asked. */
int cluster_forget(struct cluster *c, const char *label);

/* False once a leader's lease may have lapsed: it must accept nothing more (the management
 * API answers writes with 503 then). */
bool cluster_may_serve(struct cluster *c);

#endif
