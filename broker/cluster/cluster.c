/* broker/cluster/cluster.c: one node's membership, lease and election. Every node holds an
 * etcd lease of clustering.lease_ttl seconds, renewed every third of it, and registers
 * <prefix>/nodes/<name> on it (and <prefix>/members/<name> for good). A node reads the whole
 * prefix a few times a second. With no leader key, a node that is in the in-sync set (or any
 * node, before the cluster ever had one) creates <prefix>/leader on its lease in a transaction
 * that succeeds only if the key is absent; the key's create_revision is the leader's term, and
 * followers refuse a stream from an older term. The winner opens its copy of the data
 * directory and serves (cluster_hooks.serve); the others follow it (repl_follower.c) and
 * forward clients to it (proxy.c).
 *
 * A leader serves only while its lease is certainly alive: it stops at the instant the last
 * renewal it sent plus the TTL, less a margin, has passed without a newer renewal, which is
 * before etcd can expire the lease and let another node win. It then closes every client with
 * 320 CONNECTION_FORCED and restarts the process as a follower (the restart gives it a clean
 * slate: its store may hold records no follower has, which the new leader's sync removes).
 *
 * When a follower's stream ends and the leader's replication port then refuses connections,
 * the leader's process is gone (a live node always listens there): the follower revokes the
 * dead leader's lease so that the election happens at once instead of at the lease's expiry. */
#include "broker/cluster/cluster.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/cluster/cluster_internal.h"
#include "broker/cluster/etcd.h"
#include "broker/cluster/repl_wire.h"
#include "broker/core/broker.h"
#include "broker/core/config.h"
#include "broker/core/log.h"
#include "broker/core/time.h"
#include "broker/net/conn.h"
#include "broker/net/tls.h"

#include <openssl/ssl.h>

#ifndef WARREN_VERSION
#define WARREN_VERSION "0.1.0"
#endif

#define CLUSTER_TICK_MS 100
#define CLUSTER_POLL_MS 250
#define CLUSTER_RETRY_MS 1000
#define CLUSTER_STATE_FILE "cluster.state"

static void cluster_poll(struct cluster *c);

/* ---- persisted follower state ---- */

int cluster_state_save(const char *data_dir, int64_t revision, bool dirty)
{
	char path[4200], tmp[4300], text[96];
	int fd, n;

	snprintf(path, sizeof path, "%s/" CLUSTER_STATE_FILE, data_dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	n = snprintf(text, sizeof text, "revision %lld\ndirty %d\n", (long long)revision,
		     dirty ? 1 : 0);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, text, (size_t)n) != n || fsync(fd) != 0) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) != 0)
		return -1;
	fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

void cluster_state_load(const char *data_dir, int64_t *revision, bool *dirty)
{
	char path[4200];
	long long rev = 0;
	int d = 0;
	FILE *f;

	*revision = 0;
	*dirty = false;
	snprintf(path, sizeof path, "%s/" CLUSTER_STATE_FILE, data_dir);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fscanf(f, "revision %lld\ndirty %d", &rev, &d) == 2) {
		*revision = rev;
		*dirty = d != 0;
	}
	fclose(f);
}

/* ---- the view ---- */

bool cluster_view_insync(const struct cluster_view *v, const char *name)
{
	for (size_t i = 0; i < v->insync_count; i++)
		if (strcmp(v->insync[i], name) == 0)
			return true;
	return false;
}

static struct cluster_member *cluster_view_node(struct cluster_view *v, const char *name,
						 bool add)
{
	for (size_t i = 0; i < v->node_count; i++)
		if (strcmp(v->nodes[i].name, name) == 0)
			return &v->nodes[i];
	if (!add || v->node_count == CLUSTER_MAX_NODES)
		return NULL;
	struct cluster_member *m = &v->nodes[v->node_count++];
	memset(m, 0, sizeof *m);
	snprintf(m->name, sizeof m->name, "%s", name);
	return m;
}

unsigned cluster_other_members(const struct cluster *c)
{
	unsigned n = 0;
	for (size_t i = 0; i < c->view.node_count; i++)
		if (strcmp(c->view.nodes[i].name, c->name) != 0)
			n++;
	return n;
}

static bool cluster_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= CLUSTER_NAME_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("._-", *p)))
			return false;
	return true;
}

/* The JSON a node publishes about itself (nodes/, members/, leader). */
static char *cluster_self_json(const struct cluster *c)
{
	const struct config *cfg = c->cfg;
	json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:s}", "name",
			      c->name, "address", c->address, "amqp_port", cfg->port,
			      "amqps_port", cfg->tls_port, "http_port", cfg->mgmt_port,
			      "https_port", cfg->mgmt_tls_port, "prometheus_port",
			      cfg->prometheus_port, "repl_port", cfg->cluster_port, "started",
			      (json_int_t)c->started_wall_ms, "version", WARREN_VERSION);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}

static void cluster_member_parse(struct cluster_member *m, const char *value, size_t len)
{
	json_t *o = json_loadb(value, len, 0, NULL);
	const char *addr = json_string_value(json_object_get(o, "address"));

	if (addr)
		snprintf(m->address, sizeof m->address, "%s", addr);
	m->amqp_port = (int)json_integer_value(json_object_get(o, "amqp_port"));
	m->amqps_port = (int)json_integer_value(json_object_get(o, "amqps_port"));
	m->http_port = (int)json_integer_value(json_object_get(o, "http_port"));
	m->https_port = (int)json_integer_value(json_object_get(o, "https_port"));
	m->prometheus_port = (int)json_integer_value(json_object_get(o, "prometheus_port"));
	m->repl_port = (int)json_integer_value(json_object_get(o, "repl_port"));
	m->started_wall_ms = (uint64_t)json_integer_value(json_object_get(o, "started"));
	json_decref(o);
}

static void cluster_view_parse(struct cluster *c, const struct etcd_reply *r,
			       struct cluster_view *v)
{
	size_t plen = strlen(c->prefix);

	memset(v, 0, sizeof *v);
	v->valid = true;
	for (size_t i = 0; i < r->kv_count; i++) {
		const struct etcd_kv *kv = &r->kvs[i];
		const char *k = kv->key;
		if (strncmp(k, c->prefix, plen) != 0)
			continue;
		k += plen;
		if (strcmp(k, "leader") == 0) {
			json_t *o = json_loadb(kv->value, kv->value_len, 0, NULL);
			const char *name = json_string_value(json_object_get(o, "name"));
			if (name) {
				v->has_leader = true;
				snprintf(v->leader.name, sizeof v->leader.name, "%s", name);
				cluster_member_parse(&v->leader, kv->value, kv->value_len);
				v->leader_revision = kv->create_revision;
				v->leader_lease = kv->lease;
			}
			json_decref(o);
		} else if (strcmp(k, "insync") == 0) {
			json_t *o = json_loadb(kv->value, kv->value_len, 0, NULL);
			const json_t *nodes = json_object_get(o, "nodes");
			const char *leader = json_string_value(json_object_get(o, "leader"));
			v->has_insync = true;
			if (leader)
				snprintf(v->insync_leader, sizeof v->insync_leader, "%s", leader);
			for (size_t j = 0; j < json_array_size(nodes) && j < CLUSTER_MAX_NODES; j++) {
				const char *n = json_string_value(json_array_get(nodes, j));
				if (n && cluster_name_ok(n))
					snprintf(v->insync[v->insync_count++], CLUSTER_NAME_MAX, "%s",
						 n);
			}
			json_decref(o);
		} else if (strncmp(k, "nodes/", 6) == 0 || strncmp(k, "members/", 8) == 0) {
			bool alive = k[0] == 'n';
			const char *name = k + (alive ? 6 : 8);
			struct cluster_member *m;
			if (!cluster_name_ok(name) || !(m = cluster_view_node(v, name, true)))
				continue;
			if (alive || !m->alive)
				cluster_member_parse(m, kv->value, kv->value_len);
			if (alive) {
				m->alive = true;
				m->lease = kv->lease;
			} else {
				m->member = true;
			}
		}
	}
}

/* ---- etcd calls ---- */

static void cluster_etcd_failed(struct cluster *c, const char *what, const struct etcd_reply *r)
{
	c->etcd_failures++;
	/* once per attempt while nothing works; a leader's renewals are logged by the caller */
	log_warn(c->log, "clustering: %s failed: %s%s", what, r->error,
		 r->unreachable ? " (unreachable); retrying" : "");
}

static void cluster_on_registered(void *arg, const struct etcd_reply *r)
{
	struct cluster *c = arg;
	if (r->cancelled)
		return;

	c->register_call = false;
	if (r->error) {
		cluster_etcd_failed(c, "registering this node", r);
		return;
	}
	if (!c->registered)
		log_info(c->log, "clustering: node %s registered in etcd %s (cluster %s)", c->name,
			 etcd_endpoint(c->etcd), c->identity);
	c->registered = true;
	c->next_poll_ms = 0;
}

static void cluster_on_member_put(void *arg, const struct etcd_reply *r)
{
	struct cluster *c = arg;
	if (r->cancelled)
		return;
	if (r->error)
		cluster_etcd_failed(c, "recording this node as a member", r);
}

static void cluster_register(struct cluster *c)
{
	char *self = cluster_self_json(c);

	if (!self)
		return;
	if (etcd_put(c->etcd, c->key_node, self, c->lease, cluster_on_registered, c) == 0)
		c->register_call = true;
	etcd_put(c->etcd, c->key_member, self, 0, cluster_on_member_put, c);
	free(self);
}

struct cluster_lease_call {
	struct cluster *c;
	uint64_t sent_ms;
};

static void cluster_lease_renewed(struct cluster *c, uint64_t sent_ms, int64_t ttl)
{
	uint64_t ttl_ms = (uint64_t)ttl * 1000;
	uint64_t margin = c->lease_ttl_ms / 5 < 500 ? 500 : c->lease_ttl_ms / 5;

	if (sent_ms > c->lease_renewed_ms)
		c->lease_renewed_ms = sent_ms;
	/* etcd expires the lease no sooner than ttl after it received the renewal, which was
	 * after we sent it: stop serving a margin before that */
	if (ttl_ms > margin && c->lease_renewed_ms + ttl_ms - margin > c->serve_deadline_ms)
		c->serve_deadline_ms = c->lease_renewed_ms + ttl_ms - margin;
	c->next_keepalive_ms = sent_ms + c->lease_ttl_ms / 3;
}

static void cluster_on_granted(void *arg, const struct etcd_reply *r)
{
	struct cluster_lease_call *call = arg;
	struct cluster *c = call->c;

	if (r->cancelled) {
		free(call);
		return;
	}
	c->grant_call = false;
	if (r->error) {
		cluster_etcd_failed(c, "getting an etcd lease", r);
		c->next_grant_ms = time_now_ms() + CLUSTER_RETRY_MS;
		free(call);
		return;
	}
	if (c->etcd_failures)
		log_info(c->log, "clustering: etcd %s answers again", etcd_endpoint(c->etcd));
	c->etcd_failures = 0;
	c->lease = r->lease_id;
	if (r->cluster_id[0] && !strchr(c->identity, '@')) {
		size_t n = strlen(c->identity);
		snprintf(c->identity + n, sizeof c->identity - n, "@%s", r->cluster_id);
	}
	c->serve_deadline_ms = 0;
	cluster_lease_renewed(c, call->sent_ms, r->ttl);
	free(call);
	log_info(c->log, "clustering: etcd lease %llx granted (%lld s)", (unsigned long long)c->lease,
		 (long long)r->ttl);
	if (c->role == CLUSTER_JOINING)
		c->role = CLUSTER_FOLLOWER;
	cluster_register(c);
}

static void cluster_on_keepalive(void *arg, const struct etcd_reply *r)
{
	struct cluster_lease_call *call = arg;
	struct cluster *c = call->c;

	if (r->cancelled) {
		free(call);
		return;
	}
	c->keepalive_call = false;
	if (c->role == CLUSTER_STEPPING_DOWN) {
		free(call);
		return;
	}
	if (r->error) {
		uint64_t now = time_now_ms();
		cluster_etcd_failed(c, "renewing the etcd lease", r);
		if (c->role == CLUSTER_LEADER && c->serve_deadline_ms > now)
			log_warn(c->log, "clustering: the leader stops serving in %llu ms unless a renewal "
				 "succeeds", (unsigned long long)(c->serve_deadline_ms - now));
		c->next_keepalive_ms = now + 250; /* the next endpoint, soon */
		free(call);
		return;
	}
	if (r->ttl <= 0) {
		log_warn(c->log, "clustering: etcd lease %llx has expired", (unsigned long long)c->lease);
		c->lease = 0;
		c->registered = false;
		c->next_grant_ms = 0;
		free(call);
		if (c->role == CLUSTER_LEADER)
			cluster_step_down(c, "its etcd lease expired");
		return;
	}
	if (c->etcd_failures)
		log_info(c->log, "clustering: etcd %s answers again", etcd_endpoint(c->etcd));
	c->etcd_failures = 0;
	cluster_lease_renewed(c, call->sent_ms, r->ttl);
	free(call);
	if (!c->registered && !c->register_call)
		cluster_register(c);
}

static void cluster_on_revoked(void *arg, const struct etcd_reply *r)
{
	struct cluster *c = arg;
	if (r->cancelled)
		return;

	c->revoke_call = false;
	if (r->error && strstr(r->error, "lease not found"))
		log_debug(c->log, "clustering: the lease was gone already (another node revoked it)");
	else if (r->error)
		log_warn(c->log, "clustering: revoking a lapsed leader's lease failed: %s", r->error);
	c->next_poll_ms = 0;
}

/* ---- following ---- */

static void cluster_follow(struct cluster *c)
{
	const struct cluster_view *v = &c->view;
	struct repl_target t;

	if (!v->has_leader) {
		cluster_proxy_set_leader(c->proxy, NULL);
		return;
	}
	cluster_proxy_set_leader(c->proxy, &v->leader);
	if (strcmp(c->following, v->leader.name) == 0 &&
	    c->following_revision == v->leader_revision)
		return;
	snprintf(c->following, sizeof c->following, "%s", v->leader.name);
	c->following_revision = v->leader_revision;
	memset(&t, 0, sizeof t);
	snprintf(t.leader, sizeof t.leader, "%s", v->leader.name);
	snprintf(t.host, sizeof t.host, "%s", v->leader.address);
	t.port = v->leader.repl_port;
	t.revision = v->leader_revision;
	log_info(c->log, "clustering: following leader %s (revision %lld) at %s:%d", t.leader,
		 (long long)t.revision, t.host, t.port);
	repl_follower_set_target(c->rf, &t);
}

/* May this node stand for election? Only with a whole copy of the data: in the in-sync set
 * etcd holds (or no set exists yet: a new cluster), and not in the middle of a sync. */
static bool cluster_may_campaign(struct cluster *c)
{
	struct repl_follower_status st;

	if (c->rf) {
		repl_follower_status(c->rf, &st);
		if (st.dirty)
			return false;
	} else if (c->data_dirty) {
		return false;
	}
	if (!c->view.has_insync)
		return true;
	return cluster_view_insync(&c->view, c->name);
}

static void cluster_become_leader(struct cluster *c, int64_t revision);

static void cluster_on_campaign(void *arg, const struct etcd_reply *r)
{
	struct cluster *c = arg;
	if (r->cancelled)
		return;

	c->campaign_call = false;
	if (c->role != CLUSTER_FOLLOWER)
		return;
	if (r->error) {
		cluster_etcd_failed(c, "standing for election", r);
		return;
	}
	if (r->succeeded) {
		cluster_become_leader(c, r->revision);
		return;
	}
	log_info(c->log, "clustering: lost the election; polling for the winner");
	c->next_poll_ms = 0;
}

static void cluster_campaign(struct cluster *c)
{
	char *self = cluster_self_json(c);
	uint64_t now = time_now_ms();

	if (!self)
		return;
	/* a campaign must leave time to open the store before the lease could lapse */
	if (c->serve_deadline_ms <= now + c->lease_ttl_ms / 3) {
		free(self);
		c->next_keepalive_ms = 0;
		return;
	}
	log_info(c->log, "clustering: no leader; %s stands for election", c->name);
	if (etcd_create(c->etcd, c->key_leader, self, c->lease, cluster_on_campaign, c) == 0)
		c->campaign_call = true;
	free(self);
}

/* A leader key naming this node but held by another lease is the previous process's: its
 * process is gone (this one bound the same replication port), so its lease can go now. */
static void cluster_revoke(struct cluster *c, int64_t lease, const char *why)
{
	if (c->revoke_call || !lease)
		return;
	log_warn(c->log, "clustering: %s: revoking its etcd lease %llx", why, (unsigned long long)lease);
	if (etcd_lease_revoke(c->etcd, lease, cluster_on_revoked, c) == 0)
		c->revoke_call = true;
}

static void cluster_on_view(struct cluster *c)
{
	const struct cluster_view *v = &c->view;

	if (c->role == CLUSTER_LEADER) {
		if (!v->has_leader || strcmp(v->leader.name, c->name) != 0 ||
		    v->leader_revision != c->revision) {
			cluster_step_down(c, v->has_leader ? "etcd names another leader" :
							     "etcd no longer holds its leader key");
			return;
		}
		repl_leader_view(c->rl, v);
		return;
	}
	if (c->role != CLUSTER_FOLLOWER)
		return;
	if (v->has_leader && strcmp(v->leader.name, c->name) == 0 && v->leader_lease != c->lease) {
		cluster_proxy_set_leader(c->proxy, NULL);
		cluster_revoke(c, v->leader_lease, "the leader key names this node from a previous run");
		return;
	}
	if (v->has_leader) {
		cluster_follow(c);
		return;
	}
	cluster_proxy_set_leader(c->proxy, NULL);
	if (c->registered && !c->campaign_call && cluster_may_campaign(c))
		cluster_campaign(c);
}

static void cluster_on_poll(void *arg, const struct etcd_reply *r)
{
	struct cluster *c = arg;
	if (r->cancelled)
		return;
	struct cluster_view v;

	c->poll_call = false;
	if (r->error) {
		cluster_etcd_failed(c, "reading the cluster state", r);
		return;
	}
	cluster_view_parse(c, r, &v);
	c->view = v;
	cluster_on_view(c);
}

static void cluster_poll(struct cluster *c)
{
	if (etcd_range_prefix(c->etcd, c->prefix, cluster_on_poll, c) == 0)
		c->poll_call = true;
	c->next_poll_ms = time_now_ms() + CLUSTER_POLL_MS;
}

/* ---- the lost leader probe ---- */

static void cluster_probe_end(struct cluster *c)
{
	if (c->probe_ev) {
		event_free(c->probe_ev);
		c->probe_ev = NULL;
	}
	if (c->probe_fd >= 0)
		close(c->probe_fd);
	c->probe_fd = -1;
	c->probing = false;
}

static void cluster_on_probe(evutil_socket_t fd, short what, void *arg)
{
	struct cluster *c = arg;
	int err = 0;
	socklen_t len = sizeof err;

	if (what & EV_TIMEOUT) {
		cluster_probe_end(c);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	cluster_probe_end(c);
	log_debug(c->log, "clustering: probe of the leader's replication port: %s", strerror(err));
	if (err != ECONNREFUSED || c->role != CLUSTER_FOLLOWER || !c->view.has_leader ||
	    c->view.leader_lease != c->probe_lease)
		return;
	char why[200];
	snprintf(why, sizeof why, "leader %s is gone (its replication port refuses connections)",
		 c->view.leader.name);
	cluster_revoke(c, c->probe_lease, why);
}

/* The follower's stream ended: is the leader's process still there? */
static void cluster_on_lost(evutil_socket_t fd, short what, void *arg)
{
	struct cluster *c = arg;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char port[16];
	struct timeval tv = { 1, 0 };

	(void)fd, (void)what;
	log_debug(c->log, "clustering: the stream ended; probing %s (probing %d, role %d)",
		  c->view.leader.name, c->probing, (int)c->role);
	if (c->probing || c->role != CLUSTER_FOLLOWER || !c->view.has_leader)
		return;
	snprintf(port, sizeof port, "%d", c->view.leader.repl_port);
	if (getaddrinfo(c->view.leader.address, port, &hints, &ai) != 0 || !ai)
		return;
	c->probe_fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->probe_fd < 0 ||
	    (connect(c->probe_fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)) {
		bool refused = c->probe_fd >= 0 && errno == ECONNREFUSED;
		freeaddrinfo(ai);
		if (c->probe_fd >= 0)
			close(c->probe_fd);
		c->probe_fd = -1;
		if (refused) {
			c->probe_lease = c->view.leader_lease;
			char why[200];
			snprintf(why, sizeof why, "leader %s is gone (its replication port refuses "
						  "connections)", c->view.leader.name);
			cluster_revoke(c, c->probe_lease, why);
		}
		return;
	}
	freeaddrinfo(ai);
	c->probing = true;
	c->probe_lease = c->view.leader_lease;
	c->probe_ev = event_new(c->base, c->probe_fd, EV_WRITE, cluster_on_probe, c);
	if (!c->probe_ev || event_add(c->probe_ev, &tv) != 0)
		cluster_probe_end(c);
}

/* ---- leading ---- */

static void cluster_insync_initial(struct cluster *c);

static void cluster_become_leader(struct cluster *c, int64_t revision)
{
	uint64_t t0 = time_now_ms();

	c->revision = revision;
	log_info(c->log, "clustering: %s won the election (revision %lld); opening its copy of the data",
		 c->name, (long long)revision);
	if (c->rf) {
		repl_follower_free(c->rf);
		c->rf = NULL;
	}
	c->following[0] = '\0';
	if (revision > c->seen_revision)
		c->seen_revision = revision;
	if (cluster_state_save(c->data_dir, c->seen_revision, false) != 0)
		log_warn(c->log, "clustering: cannot write %s/" CLUSTER_STATE_FILE ": %s", c->data_dir,
			 strerror(errno));
	cluster_proxy_free(c->proxy);
	c->proxy = NULL;
	c->role = CLUSTER_LEADER;
	c->b = c->hooks.serve(c->hooks.arg, c);
	if (!c->b) {
		log_error(c->log, "clustering: cannot serve as the leader; giving the leadership back");
		c->role = CLUSTER_STEPPING_DOWN;
		etcd_lease_revoke_now(c->cfg->cluster_etcd_endpoints, c->lease, 1000);
		exit(1);
	}
	c->rl = repl_leader_new(c, c->b);
	if (!c->rl) {
		cluster_step_down(c, "out of memory starting replication");
		return;
	}
	cluster_insync_initial(c);
	if (time_now_ms() >= c->serve_deadline_ms) {
		cluster_step_down(c, "opening the store took longer than its etcd lease allows");
		return;
	}
	log_info(c->log, "clustering: leader of %s (revision %lld) after %llu ms: accepting publishes",
		 c->identity, (long long)revision, (unsigned long long)(time_now_ms() - t0));
	c->next_poll_ms = 0;
}

/* The in-sync set a new leader starts from: itself, and the followers the previous set named
 * (they hold every confirmed record; they gate confirms until they have synced, or leave). */
static void cluster_insync_initial(struct cluster *c)
{
	repl_leader_view(c->rl, &c->view);
}

static void cluster_restart(evutil_socket_t fd, short what, void *arg)
{
	struct cluster *c = arg;
	DIR *d;
	struct dirent *de;

	(void)fd, (void)what;
	if (c->lease && etcd_lease_revoke_now(c->cfg->cluster_etcd_endpoints, c->lease, 500) == 0)
		log_info(c->log, "clustering: gave etcd lease %llx back", (unsigned long long)c->lease);
	log_info(c->log, "clustering: restarting as a follower");
	/* nothing of this process may reach the next one: every descriptor closes on exec */
	d = opendir("/proc/self/fd");
	while (d && (de = readdir(d)) != NULL) {
		int n = atoi(de->d_name);
		if (n > 2 && n != dirfd(d))
			fcntl(n, F_SETFD, FD_CLOEXEC);
	}
	if (d)
		closedir(d);
	execv("/proc/self/exe", c->argv);
	log_error(c->log, "clustering: cannot restart (%s); exiting", strerror(errno));
	_exit(1);
}

/* The step-down itself, from the loop (never under the callback that noticed the lapse). */
static void cluster_on_step_down(evutil_socket_t fd, short what, void *arg)
{
	struct cluster *c = arg;
	struct list *pos, *tmp;
	struct timeval wait = { 0, 200000 };

	(void)fd, (void)what;
	if (c->rl)
		repl_leader_stop(c->rl);
	if (c->b) {
		struct broker *b = c->b;
		b->shutting_down = true;
		if (b->listener)
			evconnlistener_disable(b->listener);
		if (b->tls_listener)
			evconnlistener_disable(b->tls_listener);
		list_for_each_safe(pos, tmp, &b->conns)
		{
			struct conn *conn = list_entry(pos, struct conn, link);
			conn_force_close(conn, "broker forced connection closure with reason "
					       "'leader stepped down'");
		}
		c->hooks.release(c->hooks.arg, b);
	}
	/* the close frames leave, then the process starts again */
	event_base_once(c->base, -1, EV_TIMEOUT, cluster_restart, c, &wait);
}

void cluster_step_down(struct cluster *c, const char *why)
{
	struct timeval now = { 0, 0 };

	if (c->role != CLUSTER_LEADER)
		return;
	/* from this instant nothing is accepted: cluster_may_serve answers false */
	c->role = CLUSTER_STEPPING_DOWN;
	c->serve_deadline_ms = 0;
	log_warn(c->log, "clustering: leader %s steps down: %s; it accepts no more publishes, closes its "
		 "clients with 320 CONNECTION_FORCED and rejoins as a follower", c->name, why);
	event_base_once(c->base, -1, EV_TIMEOUT, cluster_on_step_down, c, &now);
}

bool cluster_may_serve(struct cluster *c)
{
	if (c->role != CLUSTER_LEADER)
		return false;
	if (time_now_ms() < c->serve_deadline_ms)
		return true;
	cluster_step_down(c, "its etcd lease was not renewed in time");
	return false;
}

/* ---- the tick ---- */

static void cluster_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct cluster *c = arg;
	uint64_t now = time_now_ms();

	(void)fd, (void)what;
	if (c->role == CLUSTER_STEPPING_DOWN)
		return;
	if (c->role == CLUSTER_LEADER && now >= c->serve_deadline_ms) {
		cluster_step_down(c, "its etcd lease was not renewed in time");
		return;
	}
	if (!c->lease && !c->grant_call && now >= c->next_grant_ms) {
		struct cluster_lease_call *call = malloc(sizeof *call);
		if (call) {
			call->c = c;
			call->sent_ms = now;
			if (etcd_lease_grant(c->etcd, (int64_t)(c->lease_ttl_ms / 1000),
					     cluster_on_granted, call) == 0)
				c->grant_call = true;
			else
				free(call);
		}
		c->next_grant_ms = now + CLUSTER_RETRY_MS;
	}
	if (c->lease && !c->keepalive_call && now >= c->next_keepalive_ms) {
		struct cluster_lease_call *call = malloc(sizeof *call);
		if (call) {
			call->c = c;
			call->sent_ms = now;
			if (etcd_lease_keepalive(c->etcd, c->lease, cluster_on_keepalive, call) == 0)
				c->keepalive_call = true;
			else
				free(call);
		}
	}
	if (c->lease && c->registered && !c->poll_call && now >= c->next_poll_ms)
		cluster_poll(c);
}

/* ---- the replication listener ---- */

static void cluster_on_repl_accept(struct evconnlistener *l, evutil_socket_t fd,
				   struct sockaddr *sa, int salen, void *arg)
{
	struct cluster *c = arg;
	char peer[64] = "?";

	(void)l, (void)salen;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, peer, sizeof peer);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, peer, sizeof peer);
	if (c->role == CLUSTER_LEADER && c->rl) {
		repl_leader_accept(c->rl, fd, peer);
		return;
	}
	if (c->tls_server) {
		close(fd); /* no plain-text answer on a TLS port: the follower tries again */
		return;
	}
	/* not the leader: say who is, then close */
	struct repl_buf b = { 0 };
	size_t start = repl_frame_begin(&b, REPL_NOT_LEADER);
	repl_buf_str(&b, c->view.has_leader ? c->view.leader.name : "");
	repl_frame_end(&b, start, 0);
	if (!b.oom && send(fd, b.p, b.len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		(void)0;
	repl_buf_free(&b);
	close(fd);
}

static void cluster_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct cluster *c = arg;

	(void)sig, (void)what;
	/* a leader's broker shuts itself down on the same signal (server.c) */
	if (!c->b)
		event_base_loopexit(c->base, NULL);
}

/* ---- public ---- */

struct cluster *cluster_new(struct event_base *base, const struct config *cfg, struct log *log,
			    char **argv, const struct cluster_hooks *hooks)
{
	struct cluster *c = calloc(1, sizeof *c);
	char host[256] = "localhost", err[512];
	const char *name = cfg->cluster_node_name;
	unsigned timeout;

	if (!c) {
		log_error(log, "out of memory");
		return NULL;
	}
	c->log = log;
	c->base = base;
	c->cfg = cfg;
	c->argv = argv;
	c->hooks = *hooks;
	c->probe_fd = -1;
	c->role = CLUSTER_JOINING;
	if (!name) {
		gethostname(host, sizeof host - 1);
		host[strcspn(host, ".")] = '\0';
		name = host;
	}
	if (!cluster_name_ok(name)) {
		log_error(c->log, "clustering.node_name '%s': use 1 to %d letters, digits, '.', '_' or '-'",
			  name, CLUSTER_NAME_MAX - 1);
		goto fail;
	}
	if (!cfg->cluster_etcd_prefix || !cluster_name_ok(cfg->cluster_etcd_prefix)) {
		log_error(c->log, "clustering.etcd_prefix: use letters, digits, '.', '_' or '-'");
		goto fail;
	}
	snprintf(c->name, sizeof c->name, "%s", name);
	snprintf(c->label, sizeof c->label, "warren@%s", name);
	if (cfg->cluster_advertised_address)
		snprintf(c->address, sizeof c->address, "%s", cfg->cluster_advertised_address);
	else if (strcmp(cfg->cluster_bind, "0.0.0.0") != 0 && strcmp(cfg->cluster_bind, "::") != 0)
		snprintf(c->address, sizeof c->address, "%s", cfg->cluster_bind);
	else {
		gethostname(host, sizeof host - 1);
		snprintf(c->address, sizeof c->address, "%s", host);
	}
	snprintf(c->prefix, sizeof c->prefix, "%s/", cfg->cluster_etcd_prefix);
	snprintf(c->identity, sizeof c->identity, "%s", cfg->cluster_etcd_prefix);
	snprintf(c->key_leader, sizeof c->key_leader, "%sleader", c->prefix);
	snprintf(c->key_insync, sizeof c->key_insync, "%sinsync", c->prefix);
	snprintf(c->key_node, sizeof c->key_node, "%snodes/%s", c->prefix, c->name);
	snprintf(c->key_member, sizeof c->key_member, "%smembers/%s", c->prefix, c->name);
	snprintf(c->data_dir, sizeof c->data_dir, "%s", cfg->data_dir ? cfg->data_dir : "./data");
	c->lease_ttl_ms = (uint64_t)cfg->cluster_lease_ttl * 1000;
	timeout = (unsigned)(c->lease_ttl_ms / 4);
	if (timeout > 1000)
		timeout = 1000;
	c->etcd = etcd_new(base, cfg->cluster_etcd_endpoints, timeout, err, sizeof err);
	if (!c->etcd) {
		log_error(c->log, "%s", err);
		goto fail;
	}
	c->started_ms = time_now_ms();
	c->started_wall_ms = time_wall_ms();
	cluster_state_load(c->data_dir, &c->seen_revision, &c->data_dirty);
	return c;
fail:
	cluster_free(c);
	return NULL;
}

/* clustering.ssl: the replication port serves TLS with ssl_options.*, and a follower checks
 * the leader's certificate against ssl_options.cacertfile (presenting its own certificate, so
 * that ssl_options.verify = verify_peer can require one). */
static int cluster_tls_start(struct cluster *c)
{
	const struct config *cfg = c->cfg;
	char err[512];

	c->tls_server = tls_ctx_new(cfg, err, sizeof err);
	if (!c->tls_server) {
		log_error(c->log, "clustering.ssl: %s", err);
		return -1;
	}
	c->tls_client = SSL_CTX_new(TLS_client_method());
	if (!c->tls_client ||
	    SSL_CTX_set_min_proto_version(c->tls_client, TLS1_2_VERSION) != 1 ||
	    (cfg->ssl_cacertfile ?
		     SSL_CTX_load_verify_locations(c->tls_client, cfg->ssl_cacertfile, NULL) :
		     SSL_CTX_set_default_verify_paths(c->tls_client)) != 1 ||
	    SSL_CTX_use_certificate_chain_file(c->tls_client, cfg->ssl_certfile) != 1 ||
	    SSL_CTX_use_PrivateKey_file(c->tls_client, cfg->ssl_keyfile, SSL_FILETYPE_PEM) != 1) {
		log_error(c->log, "clustering.ssl: cannot set up the follower's TLS with %s",
			  cfg->ssl_cacertfile ? cfg->ssl_cacertfile : "the system's CAs");
		return -1;
	}
	SSL_CTX_set_verify(c->tls_client, SSL_VERIFY_PEER, NULL);
	log_info(c->log, "clustering: TLS on the replication port (%s)", cfg->ssl_certfile);
	return 0;
}

int cluster_start(struct cluster *c)
{
	const struct config *cfg = c->cfg;
	struct sockaddr_storage ss;
	int sslen = sizeof ss;
	char addr[300];
	struct timeval tick = { 0, CLUSTER_TICK_MS * 1000 };

	snprintf(addr, sizeof addr, strchr(cfg->cluster_bind, ':') ? "[%s]:%d" : "%s:%d",
		 cfg->cluster_bind, cfg->cluster_port);
	memset(&ss, 0, sizeof ss);
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) != 0) {
		log_error(c->log, "clustering.bind: cannot parse %s", addr);
		return -1;
	}
	c->repl_listener = evconnlistener_new_bind(c->base, cluster_on_repl_accept, c,
						   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
							   LEV_OPT_CLOSE_ON_EXEC,
						   64, (struct sockaddr *)&ss, sslen);
	if (!c->repl_listener) {
		log_error(c->log, "clustering: cannot listen on %s: %s", addr, strerror(errno));
		return -1;
	}
	if (cfg->cluster_tls && cluster_tls_start(c) != 0)
		return -1;
	c->proxy = cluster_proxy_new(c);
	if (!c->proxy)
		return -1;
	c->lost_ev = event_new(c->base, -1, 0, cluster_on_lost, c);
	c->tick_ev = event_new(c->base, -1, EV_PERSIST, cluster_on_tick, c);
	c->sig_term = evsignal_new(c->base, SIGTERM, cluster_on_signal, c);
	c->sig_int = evsignal_new(c->base, SIGINT, cluster_on_signal, c);
	if (!c->lost_ev || !c->tick_ev || !c->sig_term || !c->sig_int ||
	    event_add(c->tick_ev, &tick) != 0 || evsignal_add(c->sig_term, NULL) != 0 ||
	    evsignal_add(c->sig_int, NULL) != 0) {
		log_error(c->log, "clustering: cannot create its events");
		return -1;
	}
	c->rf = repl_follower_new(c, c->lost_ev);
	if (!c->rf)
		return -1;
	log_info(c->log, "clustering: node %s (%s) replicates on %s, etcd at %s, prefix %s; ready to "
		 "follow", c->name, c->address, addr, cfg->cluster_etcd_endpoints, c->prefix);
	if (c->data_dirty)
		log_warn(c->log, "clustering: the last sync of %s did not finish: this node may not stand "
			 "for election until a sync completes", c->data_dir);
	cluster_on_tick(-1, 0, c);
	return 0;
}

void cluster_free(struct cluster *c)
{
	if (!c)
		return;
	repl_follower_free(c->rf);
	if (c->rl)
		repl_leader_free(c->rl);
	cluster_proxy_free(c->proxy);
	cluster_probe_end(c);
	if (c->lease && c->role != CLUSTER_STEPPING_DOWN &&
	    etcd_lease_revoke_now(c->cfg->cluster_etcd_endpoints, c->lease, 500) == 0)
		log_info(c->log, "clustering: gave etcd lease %llx back%s", (unsigned long long)c->lease,
			 c->role == CLUSTER_LEADER ? ": another node leads at once" : "");
	if (c->repl_listener)
		evconnlistener_free(c->repl_listener);
	tls_ctx_free(c->tls_server);
	if (c->tls_client)
		SSL_CTX_free(c->tls_client);
	etcd_free(c->etcd);
	struct event *evs[] = { c->tick_ev, c->sig_term, c->sig_int, c->lost_ev };
	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
		if (evs[i])
			event_free(evs[i]);
	free(c);
}

struct broker *cluster_broker(const struct cluster *c)
{
	return c->b;
}

const char *cluster_name(const struct cluster *c)
{
	return c->cfg->cluster_etcd_prefix;
}

const char *cluster_leader(const struct cluster *c)
{
	static char label[CLUSTER_NAME_MAX + 8];
	if (c->role == CLUSTER_LEADER)
		return c->label;
	if (!c->view.has_leader)
		return "";
	snprintf(label, sizeof label, "warren@%s", c->view.leader.name);
	return label;
}

const char *cluster_self(const struct cluster *c)
{
	return c->label;
}

static void cluster_on_forgotten(void *arg, const struct etcd_reply *r)
{
	struct cluster *c = arg;
	if (r->cancelled)
		return;
	if (r->error)
		log_warn(c->log, "clustering: forgetting a node failed: %s", r->error);
	c->next_poll_ms = 0;
}

int cluster_forget(struct cluster *c, const char *label)
{
	char key[300];
	const char *name = strncmp(label, "warren@", 7) == 0 ? label + 7 : label;

	if (!cluster_name_ok(name) || strcmp(name, c->name) == 0)
		return -1;
	log_info(c->log, "clustering: forgetting node %s (removed through the management API)", name);
	snprintf(key, sizeof key, "%smembers/%s", c->prefix, name);
	return etcd_delete(c->etcd, key, cluster_on_forgotten, c);
}

bool cluster_is_leader(const struct cluster *c)
{
	return c->role == CLUSTER_LEADER;
}

unsigned cluster_insync_followers(const struct cluster *c)
{
	return c->rl ? repl_leader_insync_count(c->rl) : 0;
}

unsigned cluster_required_followers(const struct cluster *c)
{
	return c->rl ? repl_leader_required(c->rl) : 0;
}

uint64_t cluster_replicated_bytes(const struct cluster *c)
{
	return c->rl ? repl_leader_sent_bytes(c->rl) : 0;
}

size_t cluster_nodes(const struct cluster *c, struct cluster_node_info *out, size_t max)
{
	struct repl_follower_info fi[CLUSTER_MAX_NODES];
	size_t nf = c->rl ? repl_leader_followers(c->rl, fi, CLUSTER_MAX_NODES) : 0;
	size_t n = 0;
	uint64_t now = time_wall_ms();

	if (max == 0)
		return 0;
	/* this node first */
	memset(&out[0], 0, sizeof out[0]);
	snprintf(out[0].name, sizeof out[0].name, "%s", c->label);
	snprintf(out[0].address, sizeof out[0].address, "%s", c->address);
	out[0].running = true;
	out[0].self = true;
	out[0].leader = c->role == CLUSTER_LEADER;
	out[0].in_sync = cluster_view_insync(&c->view, c->name) || out[0].leader;
	out[0].uptime_ms = time_now_ms() - c->started_ms;
	n = 1;
	for (size_t i = 0; i < c->view.node_count && n < max; i++) {
		const struct cluster_member *m = &c->view.nodes[i];
		struct cluster_node_info *o = &out[n];
		if (strcmp(m->name, c->name) == 0)
			continue;
		memset(o, 0, sizeof *o);
		snprintf(o->name, sizeof o->name, "warren@%s", m->name);
		snprintf(o->address, sizeof o->address, "%s", m->address);
		o->running = m->alive;
		o->leader = c->view.has_leader && strcmp(c->view.leader.name, m->name) == 0;
		/* a leader knows its set first-hand; others read it from etcd */
		o->in_sync = c->rl ? false : cluster_view_insync(&c->view, m->name);
		if (c->rl)
			for (size_t k = 0; k < CLUSTER_MAX_NODES && k < repl_leader_member_count(c->rl);
			     k++)
				o->in_sync = o->in_sync || repl_leader_member_in(c->rl, k, m->name);
		o->uptime_ms = m->alive && m->started_wall_ms && now > m->started_wall_ms ?
				       now - m->started_wall_ms :
				       0;
		for (size_t k = 0; k < nf; k++) {
			if (strcmp(fi[k].name, m->name) != 0)
				continue;
			o->connected = fi[k].connected;
			o->lag_records = fi[k].lag_records;
			o->lag_bytes = fi[k].lag_bytes;
			o->replicated_bytes = fi[k].sent_bytes;
		}
		n++;
	}
	return n;
}
