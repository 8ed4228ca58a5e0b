/* broker/cluster/cluster_internal.h: struct cluster and what the files of broker/cluster/
 * share: cluster.c (lease, election, membership, step-down), proxy.c (followers forward
 * clients), repl_leader.c (sessions, the stream, the in-sync set, confirms) and repl_follower.c
 * (the follower's thread). Not for other folders, which include cluster.h. */
#ifndef BROKER_CLUSTER_CLUSTER_INTERNAL_H
#define BROKER_CLUSTER_CLUSTER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/cluster/cluster.h"

struct etcd;
struct event;
struct evconnlistener;
struct cluster_proxy;
struct repl_leader;
struct repl_follower;

#define CLUSTER_NAME_MAX 64
#define CLUSTER_MAX_NODES 32

enum cluster_role {
	CLUSTER_JOINING,       /* no etcd lease yet */
	CLUSTER_FOLLOWER,
	CLUSTER_LEADER,
	CLUSTER_STEPPING_DOWN, /* closing clients, then the process restarts as a follower */
};

/* A node as etcd describes it (<prefix>/nodes/<name> while it runs, <prefix>/members/<name>
 * until it is removed). */
struct cluster_member {
	char name[CLUSTER_NAME_MAX];
	char address[256];
	int amqp_port, amqps_port, http_port, https_port, prometheus_port, repl_port;
	uint64_t started_wall_ms;
	int64_t lease;
	bool alive, member;
};

/* What the last read of etcd showed. */
struct cluster_view {
	bool valid;
	bool has_leader;
	struct cluster_member leader;
	int64_t leader_revision; /* the leader key's create_revision: the leader's term */
	int64_t leader_lease;
	bool has_insync;
	char insync_leader[CLUSTER_NAME_MAX];
	char insync[CLUSTER_MAX_NODES][CLUSTER_NAME_MAX];
	size_t insync_count;
	struct cluster_member nodes[CLUSTER_MAX_NODES];
	size_t node_count;
};

struct cluster {
	struct event_base *base;
	const struct config *cfg;
	struct log *log;
	char **argv;
	struct cluster_hooks hooks;
	char name[CLUSTER_NAME_MAX];
	char label[CLUSTER_NAME_MAX + 8]; /* "warren@name" */
	char address[256];                /* what other nodes and forwarded clients dial */
	char prefix[160];                 /* "<etcd_prefix>/" */
	char key_leader[200], key_insync[200], key_node[280], key_member[280];
	char identity[240];               /* "<prefix>@<etcd cluster id>": refused elsewhere */
	char data_dir[4096];
	uint64_t lease_ttl_ms;

	struct etcd *etcd;
	enum cluster_role role;
	int64_t lease;
	uint64_t lease_renewed_ms; /* when the last successful grant/keepalive was sent */
	uint64_t serve_deadline_ms; /* a leader serves nothing from this instant on */
	uint64_t next_grant_ms, next_keepalive_ms, next_poll_ms;
	bool grant_call, keepalive_call, poll_call, campaign_call, register_call, revoke_call;
	bool registered;
	unsigned etcd_failures;     /* in a row, for the log */
	int64_t revision;           /* as leader: the leader key's create_revision */
	struct cluster_view view;
	int64_t seen_revision;      /* the highest leader revision this node followed or held */
	bool data_dirty;            /* a sync rewrote files and has not finished */
	uint64_t started_ms, started_wall_ms;
	char following[CLUSTER_NAME_MAX]; /* the leader the follower thread follows */
	int64_t following_revision;
	bool probing;               /* checking whether a lost leader's process is gone */

	struct event *tick_ev, *sig_term, *sig_int, *lost_ev, *probe_ev;
	int probe_fd;
	uint64_t probe_deadline_ms;
	int64_t probe_lease;
	struct evconnlistener *repl_listener;
	struct ssl_ctx_st *tls_server, *tls_client; /* clustering.ssl */
	struct cluster_proxy *proxy;
	struct repl_follower *rf;
	struct repl_leader *rl;
	struct broker *b;
};

/* cluster.c */
void cluster_step_down(struct cluster *c, const char *why);
/* Whether name is in the in-sync set the view holds. */
bool cluster_view_insync(const struct cluster_view *v, const char *name);
/* Followers of the cluster besides the leader (members known to etcd), for the default of
 * clustering.min_insync_replicas. */
unsigned cluster_other_members(const struct cluster *c);
/* The persisted follower state (<data_dir>/cluster.state): the highest leader revision seen
 * and whether a sync is half done. 0, or -1 when it cannot be written. */
int cluster_state_save(const char *data_dir, int64_t revision, bool dirty);
void cluster_state_load(const char *data_dir, int64_t *revision, bool *dirty);

/* proxy.c: while following, client connections to this node's AMQP, AMQPS and HTTP ports are
 * forwarded byte for byte to the leader's. */
struct cluster_proxy *cluster_proxy_new(struct cluster *c);
/* The leader to forward to (NULL: none known; new clients wait a while for one). */
void cluster_proxy_set_leader(struct cluster_proxy *p, const struct cluster_member *leader);
void cluster_proxy_free(struct cluster_proxy *p);
size_t cluster_proxy_count(const struct cluster_proxy *p);

/* repl_leader.c */
struct repl_leader *repl_leader_new(struct cluster *c, struct broker *b);
void repl_leader_free(struct repl_leader *l);
/* A connection to the replication port while this node leads (takes fd). */
void repl_leader_accept(struct repl_leader *l, int fd, const char *peer);
/* The view etcd showed (the in-sync set at the start, members for the default count). */
void repl_leader_view(struct repl_leader *l, const struct cluster_view *v);
/* Stops gating and streaming (stepping down). */
void repl_leader_stop(struct repl_leader *l);
struct repl_follower_info {
	char name[CLUSTER_NAME_MAX];
	bool connected, in_sync;
	uint64_t lag_records, lag_bytes, sent_bytes;
};
size_t repl_leader_followers(const struct repl_leader *l, struct repl_follower_info *out,
			     size_t max);
unsigned repl_leader_insync_count(const struct repl_leader *l);
/* Member k of the leader's in-sync set: is it name, written to etcd as in sync? */
size_t repl_leader_member_count(const struct repl_leader *l);
bool repl_leader_member_in(const struct repl_leader *l, size_t k, const char *name);
unsigned repl_leader_required(const struct repl_leader *l);
uint64_t repl_leader_sent_bytes(const struct repl_leader *l);

/* repl_follower.c: the follower's replication client, on its own thread. */
struct repl_target {
	char leader[CLUSTER_NAME_MAX];
	char host[256];
	int port;
	int64_t revision;
};
struct repl_follower_status {
	bool connected; /* authenticated to the leader */
	bool streaming; /* past the snapshot */
	bool dirty;     /* a snapshot is rewriting files */
	int64_t seen_revision;
	uint64_t acked_seq, bytes, records;
};
/* Starts the thread; lost (an event of the loop) is made active whenever a stream from an
 * authenticated leader ends. NULL after a log line. */
struct repl_follower *repl_follower_new(struct cluster *c, struct event *lost);
void repl_follower_set_target(struct repl_follower *f, const struct repl_target *t);
void repl_follower_status(struct repl_follower *f, struct repl_follower_status *st);
/* Stops the thread (closing its connection) and waits for it. NULL-safe. */
void repl_follower_free(struct repl_follower *f);

#endif
