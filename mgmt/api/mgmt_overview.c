/* mgmt/api/mgmt_overview.c: the node-wide endpoints: /api/overview, /api/nodes, health checks,
 * aliveness-test, extensions, and the live objects: /api/connections,
 * /api/channels, /api/consumers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "broker/admin/admin.h"
#include "broker/auth/auth.h"
#include "broker/core/broker.h"
#include "broker/net/channel.h"
#include "broker/core/config.h"
#include "broker/net/conn.h"
#include "broker/queue/consumer.h"
#include "broker/exchange/exchange.h"
#include "broker/queue/queue.h"
#include "broker/vhost/vhost.h"
#include "broker/core/time.h"
#include "mgmt/api/mgmt_internal.h"

#ifndef WARREN_VERSION
#define WARREN_VERSION "0.1.0"
#endif

/* Resident memory, the memory limit, free disk and its limit, as the node and metrics show. */
void mgmt_resources(const struct broker *b, uint64_t *rss, uint64_t *mem_limit,
		    uint64_t *disk_free, uint64_t *disk_limit);

void mgmt_resources(const struct broker *b, uint64_t *rss, uint64_t *mem_limit,
		    uint64_t *disk_free, uint64_t *disk_limit)
{
	const struct config *cfg = b->cfg;
	struct sysinfo si;
	struct statvfs sv;
	unsigned long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%lu %lu", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	*rss = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t total = sysinfo(&si) == 0 ? (uint64_t)si.totalram * si.mem_unit : 0;
	*mem_limit = cfg->vm_memory_high_watermark_absolute && !cfg->vm_memory_relative_given ?
			     cfg->vm_memory_high_watermark_absolute :
			     (uint64_t)((double)total * cfg->vm_memory_high_watermark_relative);
	const char *dir = cfg->data_dir ? cfg->data_dir : ".";
	*disk_free = statvfs(dir, &sv) == 0 ? (uint64_t)sv.f_bavail * sv.f_frsize : 0;
	*disk_limit = cfg->disk_free_limit_absolute;
	if (cfg->disk_free_limit_relative > 0)
		*disk_limit = (uint64_t)((double)total * cfg->disk_free_limit_relative);
}

static void mgmt_totals(struct mgmt_req *r, uint64_t *ready, uint64_t *unacked, size_t *queues,
			size_t *exchanges, size_t *consumers)
{
	size_t i, j;
	*ready = *unacked = 0;
	*queues = *exchanges = *consumers = 0;
	for (struct strmap_entry *ve = strmap_first(&r->b->vhosts, &i); ve;
	     ve = strmap_next(&r->b->vhosts, ve, &i)) {
		struct vhost *v = ve->value;
		if (!mgmt_can_see_vhost(r, v->name))
			continue;
		*exchanges += v->exchanges.count;
		for (struct strmap_entry *e = strmap_first(&v->queues, &j); e;
		     e = strmap_next(&v->queues, e, &j)) {
			struct queue *q = e->value;
			*ready += queue_ready_count(q);
			*unacked += q->unacked_count;
			*consumers += q->consumer_count;
			(*queues)++;
		}
	}
}

void mgmt_overview_handle(struct mgmt_req *r)
{
	if (r->nseg != 2)
		{ mgmt_reply_not_found(r); return; }
	if (r->method != EVHTTP_REQ_GET)
		{ mgmt_reply_method_not_allowed(r); return; }
	struct broker *b = r->b;
	const double *g = r->m->global.rate;
	uint64_t ready, unacked;
	size_t queues, exchanges, consumers, channels = 0, connections = 0;
	struct list *pos;
	mgmt_totals(r, &ready, &unacked, &queues, &exchanges, &consumers);
	list_for_each(pos, &b->conns)
	{
		struct conn *c = list_entry(pos, struct conn, link);
		channels += c->channel_count;
		connections += mgmt_conn_is_listed(c);
	}
	json_t *o = json_object();
	json_object_set_new(o, "management_version", json_string("3.10.8"));
	json_object_set_new(o, "rates_mode", json_string("basic"));
	json_t *types = json_array();
	size_t type_count;
	const struct exchange_type *const *all = exchange_types(&type_count);
	for (size_t i = 0; i < type_count; i++) {
		json_t *t = json_object();
		json_object_set_new(t, "name", json_string(all[i]->name));
		json_object_set_new(t, "description", json_string(all[i]->description));
		json_object_set_new(t, "enabled", json_true());
		json_array_append_new(types, t);
	}
	json_object_set_new(o, "exchange_types", types);
	json_object_set_new(o, "product_version", json_string(WARREN_VERSION));
	json_object_set_new(o, "product_name", json_string("Warren"));
	json_object_set_new(o, "rabbitmq_version", json_string("3.10.8"));
	json_object_set_new(o, "cluster_name", json_string(broker_node_name(r->b)));
	json_object_set_new(o, "erlang_version", json_string("none"));
	json_object_set_new(o, "erlang_full_version", json_string("none (Warren is written in C)"));
	json_object_set_new(o, "disable_stats", json_false());
	json_object_set_new(o, "enable_queue_totals", json_false());
	json_t *ms = json_object();
	mgmt_stat_set(ms, "publish", b->stats.published, g[MGMT_R_PUBLISH]);
	mgmt_stat_set(ms, "deliver_get", b->stats.delivered, g[MGMT_R_DELIVER]);
	mgmt_stat_set(ms, "deliver", b->stats.delivered, g[MGMT_R_DELIVER]);
	mgmt_stat_set(ms, "ack", b->stats.acked, g[MGMT_R_ACK]);
	mgmt_stat_set(ms, "redeliver", b->stats.redelivered, g[MGMT_R_REDELIVER]);
	mgmt_stat_set(ms, "confirm", b->stats.confirmed, g[MGMT_R_CONFIRM]);
	mgmt_stat_set(ms, "return_unroutable", b->stats.returned, g[MGMT_R_RETURN]);
	mgmt_stat_set(ms, "drop_unroutable", b->stats.dropped_unroutable, 0);
	json_object_set_new(o, "message_stats", ms);
	json_t *churn = json_object();
	mgmt_stat_set(churn, "connection_created", b->stats.connections_opened, 0);
	mgmt_stat_set(churn, "connection_closed", b->stats.connections_closed, 0);
	mgmt_stat_set(churn, "channel_created", b->stats.channels_opened, 0);
	mgmt_stat_set(churn, "channel_closed", b->stats.channels_closed, 0);
	mgmt_stat_set(churn, "queue_declared", b->stats.queues_declared, 0);
	mgmt_stat_set(churn, "queue_deleted", b->stats.queues_deleted, 0);
	json_object_set_new(o, "churn_rates", churn);
	json_t *qt = json_object();
	mgmt_stat_set(qt, "messages", ready + unacked, 0);
	mgmt_stat_set(qt, "messages_ready", ready, 0);
	mgmt_stat_set(qt, "messages_unacknowledged", unacked, 0);
	json_object_set_new(o, "queue_totals", qt);
	json_t *ot = json_object();
	json_object_set_new(ot, "channels", json_integer((json_int_t)channels));
	json_object_set_new(ot, "connections", json_integer((json_int_t)connections));
	json_object_set_new(ot, "consumers", json_integer((json_int_t)consumers));
	json_object_set_new(ot, "exchanges", json_integer((json_int_t)exchanges));
	json_object_set_new(ot, "queues", json_integer((json_int_t)queues));
	json_object_set_new(o, "object_totals", ot);
	json_object_set_new(o, "statistics_db_event_queue", json_integer(0));
	json_object_set_new(o, "node", json_string(broker_node_name(r->b)));
	json_t *listeners = json_array();
	const struct config *cfg = b->cfg;
	struct {
		const char *proto, *ip;
		int port;
	} ls[] = { { "amqp", cfg->bind, b->port },
		   { "http", cfg->mgmt_bind ? cfg->mgmt_bind : cfg->bind, cfg->mgmt_port },
		   { "http/prometheus", cfg->prometheus_bind ? cfg->prometheus_bind : cfg->bind,
		     cfg->prometheus_port } };
	for (size_t i = 0; i < 3; i++) {
		if (!ls[i].port)
			continue;
		json_t *l = json_object();
		json_object_set_new(l, "node", json_string(broker_node_name(r->b)));
		json_object_set_new(l, "protocol", json_string(ls[i].proto));
		json_object_set_new(l, "ip_address", json_string(ls[i].ip ? ls[i].ip : "127.0.0.1"));
		json_object_set_new(l, "port", json_integer(ls[i].port));
		json_object_set_new(l, "socket_opts", json_object());
		json_array_append_new(listeners, l);
	}
	json_object_set_new(o, "listeners", listeners);
	json_object_set_new(o, "contexts", json_array());
	mgmt_cluster_overview(r, o);
	mgmt_history_add_samples(r, o);
	mgmt_object_reply(r, o);
}

json_t *mgmt_node_json_self(struct mgmt_req *r)
{
	uint64_t rss, mem_limit, disk_free, disk_limit;
	struct rlimit rl;
	mgmt_resources(r->b, &rss, &mem_limit, &disk_free, &disk_limit);
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(broker_node_name(r->b)));
	json_object_set_new(o, "type", json_string("disc"));
	json_object_set_new(o, "running", json_true());
	json_object_set_new(o, "mem_used", json_integer((json_int_t)rss));
	json_object_set_new(o, "mem_limit", json_integer((json_int_t)mem_limit));
	json_object_set_new(o, "mem_alarm", json_boolean(mem_limit && rss > mem_limit));
	json_object_set_new(o, "disk_free", json_integer((json_int_t)disk_free));
	json_object_set_new(o, "disk_free_limit", json_integer((json_int_t)disk_limit));
	json_object_set_new(o, "disk_free_alarm", json_boolean(disk_free < disk_limit));
	json_object_set_new(o, "fd_used", json_integer(r->b->conn_count + 8));
	json_object_set_new(o, "fd_total", json_integer(getrlimit(RLIMIT_NOFILE, &rl) == 0 ?
								(json_int_t)rl.rlim_cur :
								1024));
	json_object_set_new(o, "sockets_used", json_integer(r->b->conn_count));
	json_object_set_new(o, "proc_used", json_integer(1));
	json_object_set_new(o, "uptime",
			    json_integer((json_int_t)(time_now_ms() - r->b->start_ms)));
	return o;
}

void mgmt_nodes_handle(struct mgmt_req *r)
{
	if (r->b->cluster && (r->method == EVHTTP_REQ_GET || r->method == EVHTTP_REQ_DELETE)) {
		if (!r->is_monitor)
			{ mgmt_reply_error(r, 401, "not_authorised", "Not monitor user"); return; }
		if (!mgmt_cluster_nodes(r))
			mgmt_reply_not_found(r);
		return;
	}
	if (r->method != EVHTTP_REQ_GET)
		{ mgmt_reply_method_not_allowed(r); return; }
	if (!r->is_monitor)
		{ mgmt_reply_error(r, 401, "not_authorised", "Not monitor user"); return; }
	if (r->nseg == 2) {
		json_t *arr = json_array();
		json_array_append_new(arr, mgmt_node_json_self(r));
		{ mgmt_reply_json(r, 200, arr); return; }
	}
	if (r->nseg == 3 && strcmp(r->seg[2], broker_node_name(r->b)) == 0)
		{ mgmt_object_reply(r, mgmt_node_json_self(r)); return; }
	mgmt_reply_not_found(r);
}

static void mgmt_status(struct mgmt_req *r, bool ok, const char *reason)
{
	json_t *o = json_object();
	json_object_set_new(o, "status", json_string(ok ? "ok" : "failed"));
	if (!ok)
		json_object_set_new(o, "reason", json_string(reason));
	mgmt_reply_json(r, ok ? 200 : 503, o);
}

void mgmt_health_handle(struct mgmt_req *r)
{
	uint64_t rss, mem_limit, disk_free, disk_limit;
	if (r->method != EVHTTP_REQ_GET)
		{ mgmt_reply_method_not_allowed(r); return; }
	if (r->nseg < 4 || strcmp(r->seg[2], "checks") != 0)
		{ mgmt_reply_not_found(r); return; }
	const char *check = r->seg[3];
	if (strcmp(check, "alarms") == 0 || strcmp(check, "local-alarms") == 0) {
		mgmt_resources(r->b, &rss, &mem_limit, &disk_free, &disk_limit);
		if (mem_limit && rss > mem_limit)
			{ mgmt_status(r, false, "resource alarm(s) in effect: memory"); return; }
		if (disk_free < disk_limit)
			{ mgmt_status(r, false, "resource alarm(s) in effect: disk"); return; }
		{ mgmt_status(r, true, NULL); return; }
	}
	if (strcmp(check, "virtual-hosts") == 0 || strcmp(check, "node-is-mirror-sync-critical") == 0)
		{ mgmt_status(r, true, NULL); return; }
	if (strcmp(check, "node-is-quorum-critical") == 0) {
		json_t *o = json_object();
		json_object_set_new(o, "status", json_string("ok"));
		json_object_set_new(o, "reason", json_string("single node cluster"));
		{ mgmt_reply_json(r, 200, o); return; }
	}
	if (strcmp(check, "port-listener") == 0 && r->nseg == 5) {
		int port = atoi(r->seg[4]);
		const struct config *cfg = r->b->cfg;
		bool ok = port > 0 && (port == r->b->port || port == cfg->mgmt_port ||
				       port == cfg->prometheus_port || port == cfg->tls_port);
		json_t *o = json_object();
		json_object_set_new(o, "status", json_string(ok ? "ok" : "failed"));
		json_object_set_new(o, "port", json_integer(port));
		if (!ok)
			json_object_set_new(o, "reason", json_string("no listener on that port"));
		{ mgmt_reply_json(r, ok ? 200 : 503, o); return; }
	}
	if (strcmp(check, "protocol-listener") == 0 && r->nseg == 5) {
		const char *p = r->seg[4];
		bool ok = strcmp(p, "amqp") == 0 || strcmp(p, "amqp091") == 0 ||
			  strcmp(p, "amqp0-9-1") == 0 || strcmp(p, "http") == 0 ||
			  (strcmp(p, "amqps") == 0 && r->b->cfg->tls_port);
		json_t *o = json_object();
		json_object_set_new(o, "status", json_string(ok ? "ok" : "failed"));
		json_object_set_new(o, "protocol", json_string(p));
		if (!ok)
			json_object_set_new(o, "reason", json_string("no listener for protocol"));
		{ mgmt_reply_json(r, ok ? 200 : 503, o); return; }
	}
	mgmt_reply_not_found(r);
}

void mgmt_aliveness_handle(struct mgmt_req *r)
{
	char err[256];
	bool routed = false;
	if (r->method != EVHTTP_REQ_GET)
		{ mgmt_reply_method_not_allowed(r); return; }
	struct vhost *v = mgmt_vhost_arg(r, 2);
	if (!v)
		return;
	/* As RabbitMQ 3.10: declare aliveness-test, publish to it, get the message back. */
	struct amqp_str qn = AMQP_STR_LIT("aliveness-test");
	static const uint8_t no_props[2] = { 0, 0 };
	int rc = admin_queue_declare(v, qn, false, false, (struct amqp_table){ 0 }, err, sizeof err);
	if (rc >= 0)
		rc = admin_publish(v, AMQP_STR_LIT(""), qn, no_props, sizeof no_props,
				   (const uint8_t *)"test_message", 12, &routed, err, sizeof err);
	if (rc >= 0) {
		struct queue *q = vhost_queue_find(v, qn);
		queue_purge(q);
	}
	mgmt_status(r, rc >= 0 && routed, "aliveness test failed");
}

void mgmt_extensions_handle(struct mgmt_req *r)
{
	mgmt_reply_json(r, 200, json_array());
}

/* ---- connections, channels, consumers ---- */

bool mgmt_conn_is_listed(const struct conn *c)
{
	/* Closing (close sent, waiting for close-ok) and closed connections are gone as far as
	 * the API is concerned: DELETE /api/connections/{name} answers after the close frame is
	 * queued, and a client that polls the list next must not find the old connection. */
	return !c->dead && c->state < CONN_CLOSING;
}

static bool mgmt_conn_visible(struct mgmt_req *r, struct conn *c)
{
	if (!mgmt_conn_is_listed(c))
		return false;
	if (r->is_admin || r->is_monitor)
		return true;
	return c->user == r->user;
}

/* RabbitMQ's names: "blocked" while an alarm stops a publishing connection being read, "flow"
 * while publisher flow control does. */
static const char *mgmt_conn_state(struct conn *c)
{
	if (c->state != CONN_OPEN)
		return "starting";
	return c->blocked ? "blocked" : conn_in_flow(c) ? "flow" : "running";
}

static json_t *mgmt_conn_json(struct mgmt_req *r, void *obj)
{
	struct conn *c = obj;
	json_t *o = json_object();
	const struct config *cfg = r->b->cfg;
	json_object_set_new(o, "name", json_string(c->name));
	json_object_set_new(o, "node", json_string(broker_node_name(r->b)));
	json_object_set_new(o, "type", json_string("network"));
	json_object_set_new(o, "user", c->user ? json_string(c->user->name) : json_null());
	json_object_set_new(o, "vhost", c->vhost ? json_string(c->vhost->name) : json_null());
	json_object_set_new(o, "state", json_string(mgmt_conn_state(c)));
	json_object_set_new(o, "channels", json_integer(c->channel_count));
	json_object_set_new(o, "protocol", json_string("AMQP 0-9-1"));
	json_object_set_new(o, "auth_mechanism", json_string("PLAIN"));
	json_object_set_new(o, "peer_host", json_string(c->peer_host));
	json_object_set_new(o, "peer_port", json_integer(c->peer_port));
	json_object_set_new(o, "host", json_string(cfg->bind ? cfg->bind : "127.0.0.1"));
	json_object_set_new(o, "port", json_integer(r->b->port));
	json_object_set_new(o, "ssl", json_false());
	json_object_set_new(o, "frame_max", json_integer(c->frame_max));
	json_object_set_new(o, "channel_max", json_integer(c->channel_max));
	json_object_set_new(o, "timeout", json_integer(c->heartbeat));
	json_object_set_new(o, "connected_at",
			    json_integer((json_int_t)mgmt_wall_ms(r->m, c->opened_ms)));
	mgmt_stat_set(o, "recv_oct", c->recv_oct, 0);
	mgmt_stat_set(o, "send_oct", c->send_oct, 0);
	json_t *cp = c->client_props ?
			     admin_table_to_json((struct amqp_table){ (const uint8_t *)c->client_props,
								      c->client_props_len }) :
			     json_object();
	json_t *cn = json_object_get(cp, "connection_name");
	json_object_set(o, "user_provided_name", cn ? cn : json_null());
	json_object_set_new(o, "client_properties", cp);
	return o;
}

static struct conn *mgmt_conn_find(struct mgmt_req *r, const char *name)
{
	struct list *pos;
	list_for_each(pos, &r->b->conns)
	{
		struct conn *c = list_entry(pos, struct conn, link);
		if (strcmp(c->name, name) == 0 && mgmt_conn_visible(r, c))
			return c;
	}
	return NULL;
}

static void mgmt_channels_of(struct mgmt_req *r, struct conn *only, struct vhost *vonly,
			     json_t *arr);

void mgmt_connections_handle(struct mgmt_req *r)
{
	struct list *pos;
	if (r->nseg == 2) {
		if (r->method != EVHTTP_REQ_GET)
			{ mgmt_reply_method_not_allowed(r); return; }
		struct mgmt_items items = { 0 };
		list_for_each(pos, &r->b->conns)
		{
			struct conn *c = list_entry(pos, struct conn, link);
			if (mgmt_conn_visible(r, c))
				mgmt_items_add(&items, "", c->name, strlen(c->name), c);
		}
		{ mgmt_list_reply(r, &items, mgmt_conn_json); return; }
	}
	struct conn *c = mgmt_conn_find(r, r->seg[2]);
	if (!c)
		{ mgmt_reply_not_found(r); return; }
	if (r->nseg == 4 && strcmp(r->seg[3], "channels") == 0) {
		json_t *arr = json_array();
		mgmt_channels_of(r, c, NULL, arr);
		{ mgmt_reply_json(r, 200, arr); return; }
	}
	if (r->nseg != 3)
		{ mgmt_reply_not_found(r); return; }
	if (r->method == EVHTTP_REQ_GET)
		{ mgmt_object_reply(r, mgmt_conn_json(r, c)); return; }
	if (r->method != EVHTTP_REQ_DELETE)
		{ mgmt_reply_method_not_allowed(r); return; }
	const char *why = evhttp_find_header(evhttp_request_get_input_headers(r->req), "X-Reason");
	conn_force_close(c, why ? why : "Closed via management plugin");
	mgmt_reply_empty(r, 204);
}

static json_t *mgmt_channel_json(struct mgmt_req *r, struct channel *ch)
{
	struct conn *c = ch->conn;
	char name[200];
	json_t *o = json_object();
	snprintf(name, sizeof name, "%s (%u)", c->name, (unsigned)ch->id);
	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "node", json_string(broker_node_name(r->b)));
	json_object_set_new(o, "number", json_integer(ch->id));
	json_object_set_new(o, "user", c->user ? json_string(c->user->name) : json_null());
	json_object_set_new(o, "vhost", c->vhost ? json_string(c->vhost->name) : json_null());
	json_object_set_new(o, "prefetch_count", json_integer(ch->prefetch_consumer));
	json_object_set_new(o, "global_prefetch_count", json_integer(ch->prefetch_global));
	json_object_set_new(o, "consumer_count", json_integer((json_int_t)ch->consumers.count));
	json_object_set_new(o, "messages_unacknowledged", json_integer((json_int_t)ch->unacked.live));
	json_object_set_new(o, "messages_unconfirmed",
			    json_integer((json_int_t)(ch->confirm ? ch->publish_seq -
									 ch->confirm_sent :
								 0)));
	json_object_set_new(o, "messages_uncommitted", json_integer(0));
	json_object_set_new(o, "acks_uncommitted", json_integer(0));
	json_object_set_new(o, "confirm", json_boolean(ch->confirm));
	json_object_set_new(o, "transactional", json_boolean(ch->tx));
	json_object_set_new(o, "state", json_string(ch->state == CHANNEL_OPEN ? "running" :
										 "closing"));
	json_t *idle = mgmt_flows_idle_since(r, ch);
	if (idle) /* RabbitMQ shows it only while the channel is idle */
		json_object_set_new(o, "idle_since", idle);
	json_t *cd = json_object();
	json_object_set_new(cd, "name", json_string(c->name));
	json_object_set_new(cd, "peer_host", json_string(c->peer_host));
	json_object_set_new(cd, "peer_port", json_integer(c->peer_port));
	json_object_set_new(o, "connection_details", cd);
	return o;
}

static void mgmt_channels_of(struct mgmt_req *r, struct conn *only, struct vhost *vonly,
			     json_t *arr)
{
	struct list *pos;
	list_for_each(pos, &r->b->conns)
	{
		struct conn *c = list_entry(pos, struct conn, link);
		if ((only && c != only) || !mgmt_conn_visible(r, c) || (vonly && c->vhost != vonly))
			continue;
		struct list *cpos;
		list_for_each(cpos, &c->channel_list)
		{
			struct channel *ch = list_entry(cpos, struct channel, conn_link);
			json_array_append_new(arr, mgmt_channel_json(r, ch));
		}
	}
}

void mgmt_channels_handle(struct mgmt_req *r)
{
	if (r->method != EVHTTP_REQ_GET)
		{ mgmt_reply_method_not_allowed(r); return; }
	if (r->nseg > 3)
		{ mgmt_reply_not_found(r); return; }
	json_t *arr = json_array();
	if (r->nseg == 3) {
		/* /api/channels/{name}: one channel by its name */
		mgmt_channels_of(r, NULL, NULL, arr);
		size_t i;
		json_t *it;
		json_array_foreach(arr, i, it)
		{
			if (strcmp(json_string_value(json_object_get(it, "name")), r->seg[2]) == 0) {
				json_t *one = json_incref(it);
				json_decref(arr);
				{ mgmt_object_reply(r, one); return; }
			}
		}
		json_decref(arr);
		{ mgmt_reply_not_found(r); return; }
	}
	mgmt_channels_of(r, NULL, NULL, arr);
	mgmt_reply_json(r, 200, arr);
}

void mgmt_consumers_handle(struct mgmt_req *r)
{
	struct list *pos;
	struct vhost *only = NULL;
	if (r->method != EVHTTP_REQ_GET)
		{ mgmt_reply_method_not_allowed(r); return; }
	if (r->nseg == 3 && !(only = mgmt_vhost_arg(r, 2)))
		return;
	if (r->nseg > 3)
		{ mgmt_reply_not_found(r); return; }
	json_t *arr = json_array();
	list_for_each(pos, &r->b->conns)
	{
		struct conn *c = list_entry(pos, struct conn, link);
		if (!mgmt_conn_visible(r, c) || !c->vhost || (only && c->vhost != only))
			continue;
		struct list *chp;
		list_for_each(chp, &c->channel_list) {
			struct channel *ch = list_entry(chp, struct channel, conn_link);
			struct list *cp;
			list_for_each(cp, &ch->consumer_list)
			{
				struct consumer *k = list_entry(cp, struct consumer, channel_link);
				if (!k->q)
					continue;
				json_t *o = mgmt_consumer_json(r, k);
				json_array_append_new(arr, o);
			}
		}
	}
	mgmt_reply_json(r, 200, arr);
}
