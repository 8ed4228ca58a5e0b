/* mgmt/api/mgmt_cluster.c: what the management API shows of a replicated cluster
 * (clustering.enabled): GET /api/nodes lists every node etcd knows with its role, whether it is
 * in sync and how far behind it is; DELETE /api/nodes/{name} forgets a stopped node; the
 * overview names the cluster and its leader; /metrics adds warren_cluster_* series. Only the
 * leader serves the API (followers forward it), so the lags come from its own sessions. A node
 * without clustering shows what it always did (mgmt_overview.c). */
#include <event2/buffer.h>
#include <stdio.h>
#include <string.h>

#include "broker/cluster/cluster.h"
#include "broker/core/broker.h"
#include "mgmt/api/mgmt_internal.h"

static json_t *mgmt_cluster_node_json(struct mgmt_req *r, const struct cluster_node_info *n)
{
	json_t *o = n->self ? mgmt_node_json_self(r) : json_object();

	json_object_set_new(o, "name", json_string(n->name));
	if (!n->self) {
		json_object_set_new(o, "type", json_string("disc"));
		json_object_set_new(o, "running", json_boolean(n->running));
		json_object_set_new(o, "uptime", json_integer((json_int_t)n->uptime_ms));
	}
	json_object_set_new(o, "role", json_string(n->leader ? "leader" : "follower"));
	json_object_set_new(o, "in_sync", json_boolean(n->in_sync));
	json_object_set_new(o, "lag_records", json_integer((json_int_t)n->lag_records));
	json_object_set_new(o, "lag_bytes", json_integer((json_int_t)n->lag_bytes));
	json_object_set_new(o, "replicated_bytes", json_integer((json_int_t)n->replicated_bytes));
	json_object_set_new(o, "replication_connected", json_boolean(n->self || n->connected));
	json_object_set_new(o, "address", json_string(n->address));
	return o;
}

bool mgmt_cluster_nodes(struct mgmt_req *r)
{
	struct cluster *c = r->b->cluster;
	struct cluster_node_info nodes[32];
	size_t n;

	if (!c)
		return false;
	n = cluster_nodes(c, nodes, sizeof nodes / sizeof nodes[0]);
	if (r->nseg == 2 && r->method == EVHTTP_REQ_GET) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, mgmt_cluster_node_json(r, &nodes[i]));
		mgmt_reply_json(r, 200, arr);
		return true;
	}
	if (r->nseg != 3)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(nodes[i].name, r->seg[2]) != 0)
			continue;
		if (r->method == EVHTTP_REQ_GET) {
			mgmt_object_reply(r, mgmt_cluster_node_json(r, &nodes[i]));
			return true;
		}
		if (r->method != EVHTTP_REQ_DELETE)
			return false;
		if (!mgmt_require_admin(r))
			return true;
		if (nodes[i].running) {
			mgmt_reply_error(r, 409, "conflict",
					 "node %s is running: stop it before removing it",
					 nodes[i].name);
			return true;
		}
		if (cluster_forget(c, nodes[i].name) != 0) {
			mgmt_reply_error(r, 503, "unavailable", "etcd could not be asked");
			return true;
		}
		mgmt_reply_empty(r, 204);
		return true;
	}
	return false;
}

void mgmt_cluster_overview(struct mgmt_req *r, json_t *o)
{
	struct cluster *c = r->b->cluster;

	if (!c)
		return;
	json_object_set_new(o, "cluster_name", json_string(cluster_name(c)));
	json_object_set_new(o, "cluster_leader", json_string(cluster_leader(c)));
	json_object_set_new(o, "cluster_in_sync_followers",
			    json_integer(cluster_insync_followers(c)));
	json_object_set_new(o, "cluster_min_insync_replicas",
			    json_integer(cluster_required_followers(c)));
}

void mgmt_cluster_metrics(struct mgmt *m, struct evbuffer *buf)
{
	struct cluster *c = m->b->cluster;
	struct cluster_node_info nodes[32];
	size_t n;

	if (!c)
		return;
	n = cluster_nodes(c, nodes, sizeof nodes / sizeof nodes[0]);
	evbuffer_add_printf(buf, "# HELP warren_cluster_leader 1 on the node that leads\n"
				 "# TYPE warren_cluster_leader gauge\n");
	for (size_t i = 0; i < n; i++)
		evbuffer_add_printf(buf, "warren_cluster_leader{node=\"%s\"} %d\n", nodes[i].name,
				    nodes[i].leader ? 1 : 0);
	evbuffer_add_printf(buf, "# HELP warren_cluster_node_running 1 while the node is registered "
				 "in etcd\n# TYPE warren_cluster_node_running gauge\n");
	for (size_t i = 0; i < n; i++)
		evbuffer_add_printf(buf, "warren_cluster_node_running{node=\"%s\"} %d\n",
				    nodes[i].name, nodes[i].running ? 1 : 0);
	evbuffer_add_printf(buf, "# HELP warren_cluster_in_sync 1 while the node is in the in-sync "
				 "set\n# TYPE warren_cluster_in_sync gauge\n");
	for (size_t i = 0; i < n; i++)
		evbuffer_add_printf(buf, "warren_cluster_in_sync{node=\"%s\"} %d\n", nodes[i].name,
				    nodes[i].in_sync ? 1 : 0);
	evbuffer_add_printf(buf, "# HELP warren_cluster_follower_lag_bytes Log bytes shipped to a "
				 "follower and not yet acknowledged\n"
				 "# TYPE warren_cluster_follower_lag_bytes gauge\n");
	for (size_t i = 0; i < n; i++)
		if (!nodes[i].self)
			evbuffer_add_printf(buf, "warren_cluster_follower_lag_bytes{node=\"%s\"} %llu\n",
					    nodes[i].name,
					    (unsigned long long)nodes[i].lag_bytes);
	evbuffer_add_printf(buf, "# HELP warren_cluster_follower_lag_records Log records shipped to "
				 "a follower and not yet acknowledged\n"
				 "# TYPE warren_cluster_follower_lag_records gauge\n");
	for (size_t i = 0; i < n; i++)
		if (!nodes[i].self)
			evbuffer_add_printf(buf,
					    "warren_cluster_follower_lag_records{node=\"%s\"} %llu\n",
					    nodes[i].name,
					    (unsigned long long)nodes[i].lag_records);
	evbuffer_add_printf(buf, "# HELP warren_cluster_replication_bytes_total Log bytes shipped to "
				 "a follower by this leader\n"
				 "# TYPE warren_cluster_replication_bytes_total counter\n");
	for (size_t i = 0; i < n; i++)
		if (!nodes[i].self)
			evbuffer_add_printf(buf,
					    "warren_cluster_replication_bytes_total{node=\"%s\"} %llu\n",
					    nodes[i].name,
					    (unsigned long long)nodes[i].replicated_bytes);
	evbuffer_add_printf(buf, "# HELP warren_cluster_in_sync_followers Followers in the in-sync "
				 "set\n# TYPE warren_cluster_in_sync_followers gauge\n"
				 "warren_cluster_in_sync_followers %u\n",
			    cluster_insync_followers(c));
	evbuffer_add_printf(buf, "# HELP warren_cluster_required_followers In-sync followers a "
				 "confirm needs\n# TYPE warren_cluster_required_followers gauge\n"
				 "warren_cluster_required_followers %u\n",
			    cluster_required_followers(c));
}
