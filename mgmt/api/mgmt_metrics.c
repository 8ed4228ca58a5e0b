/* mgmt/api/mgmt_metrics.c: Prometheus text format (version 0.0.4) with RabbitMQ's metric names, so
 * existing dashboards work: /metrics sums per-object values, /metrics/per-object labels them
 * with vhost and queue. Values come from the counters the broker keeps; nothing is sampled
 * here. Every metric RabbitMQ's "RabbitMQ-Overview" Grafana dashboard queries is here, with
 * rabbitmq_identity_info giving the rabbitmq_node and rabbitmq_cluster labels it joins on;
 * Warren's own figures (dead-letter reasons, delivery limits, dead-letter queues, blocked
 * connections) follow RabbitMQ 3.13's names where it has them, else start with warren_. The
 * dashboards and alert rules in docs/monitoring/ use them. */
#include <dirent.h>
#include <event2/buffer.h>
#include <string.h>
#include <sys/resource.h>

#include "broker/core/broker.h"
#include "broker/core/config.h"
#include "broker/net/conn.h"
#include "broker/queue/queue.h"
#include "broker/vhost/vhost.h"
#include "mgmt/api/mgmt_internal.h"

void mgmt_resources(const struct broker *b, uint64_t *rss, uint64_t *mem_limit,
		    uint64_t *disk_free, uint64_t *disk_limit);

static void mgmt_metric_head(struct evbuffer *buf, const char *name, const char *type,
			     const char *help)
{
	evbuffer_add_printf(buf, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void mgmt_metric(struct evbuffer *buf, const char *name, const char *type,
			const char *help, uint64_t value)
{
	mgmt_metric_head(buf, name, type, help);
	evbuffer_add_printf(buf, "%s %llu\n", name, (unsigned long long)value);
}

/* Label values escape backslash, double quote and newline. */
static void mgmt_label(struct evbuffer *buf, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\\' || c == '"')
			evbuffer_add_printf(buf, "\\%c", c);
		else if (c == '\n')
			evbuffer_add(buf, "\\n", 2);
		else
			evbuffer_add(buf, &c, 1);
	}
}

enum { QM_READY, QM_UNACKED, QM_MESSAGES, QM_CONSUMERS, QM_BYTES, QM_PUBLISHED, QM_DLX_IN,
       QM_COUNT };

static const struct {
	const char *name, *type, *help;
} mgmt_queue_metrics[QM_COUNT] = {
	{ "rabbitmq_queue_messages_ready", "gauge", "Messages ready to be delivered to consumers" },
	{ "rabbitmq_queue_messages_unacked", "gauge",
	  "Messages delivered to consumers but not yet acknowledged" },
	{ "rabbitmq_queue_messages", "gauge", "Sum of ready and unacknowledged messages" },
	{ "rabbitmq_queue_consumers", "gauge", "Consumers on a queue" },
	{ "rabbitmq_queue_messages_ready_bytes", "gauge", "Size in bytes of ready messages" },
	{ "rabbitmq_queue_messages_published_total", "counter",
	  "Total number of messages published to queues" },
	{ "warren_queue_messages_dead_lettered_in_total", "counter",
	  "Dead-lettered messages routed into the queue (non-zero: a dead-letter queue)" },
};

static uint64_t mgmt_queue_value(const struct queue *q, int k)
{
	switch (k) {
	case QM_READY: return queue_ready_count(q);
	case QM_UNACKED: return q->unacked_count;
	case QM_MESSAGES: return (uint64_t)queue_ready_count(q) + q->unacked_count;
	case QM_CONSUMERS: return q->consumer_count;
	case QM_BYTES: return q->ready_bytes;
	case QM_DLX_IN: return q->stat_dead_lettered_in;
	default: return q->stat_published;
	}
}

/* Open descriptors of the process (/proc/self/fd), and its limit. */
static void mgmt_metrics_fds(uint64_t *open_fds, uint64_t *max_fds)
{
	struct rlimit rl;
	DIR *d = opendir("/proc/self/fd");
	*open_fds = 0;
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL)
			*open_fds += e->d_name[0] != '.';
		closedir(d);
		*open_fds -= *open_fds > 0; /* the directory's own descriptor */
	}
	*max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ?
			   (uint64_t)rl.rlim_cur :
			   0;
}

void mgmt_metrics_render(struct mgmt *m, struct evbuffer *buf, bool per_object)
{
	struct broker *b = m->b;
	size_t i, j, queues = 0, channels = 0, consumers = 0, connections = 0, in_flow = 0;
	size_t blocked = 0;
	uint64_t sums[QM_COUNT] = { 0 };
	uint64_t flow_ms = b->stats.flow_ms; /* ended waits, plus the ones going on: */
	struct list *pos;

	for (struct strmap_entry *ve = strmap_first(&b->vhosts, &i); ve;
	     ve = strmap_next(&b->vhosts, ve, &i)) {
		struct vhost *v = ve->value;
		queues += v->queues.count;
		for (struct strmap_entry *e = strmap_first(&v->queues, &j); e;
		     e = strmap_next(&v->queues, e, &j)) {
			consumers += ((struct queue *)e->value)->consumer_count;
			for (int k = 0; k < QM_COUNT; k++)
				sums[k] += mgmt_queue_value(e->value, k);
		}
	}
	list_for_each(pos, &b->conns)
	{
		struct conn *c = list_entry(pos, struct conn, link);
		channels += c->channel_count;
		connections += mgmt_conn_is_listed(c);
		if (conn_in_flow(c)) {
			in_flow++;
			flow_ms += conn_flow_ms(c) - c->flow_ms;
		}
		blocked += c->blocked;
	}
	/* The identity dashboards join every series on (rabbitmq_node, rabbitmq_cluster). */
	mgmt_metric_head(buf, "rabbitmq_identity_info", "untyped",
			 "RabbitMQ node & cluster identity info");
	evbuffer_add_printf(buf, "rabbitmq_identity_info{rabbitmq_node=\"");
	mgmt_label(buf, broker_node_name(m->b), strlen(broker_node_name(m->b)));
	evbuffer_add_printf(buf, "\",rabbitmq_cluster=\"");
	mgmt_label(buf, broker_node_name(m->b), strlen(broker_node_name(m->b)));
	evbuffer_add_printf(buf, "\",rabbitmq_endpoint=\"%s\"} 1\n",
			    per_object ? "per-object" : "aggregated");
	for (int k = 0; k < QM_COUNT; k++) {
		mgmt_metric_head(buf, mgmt_queue_metrics[k].name, mgmt_queue_metrics[k].type,
				 mgmt_queue_metrics[k].help);
		if (!per_object) {
			evbuffer_add_printf(buf, "%s %llu\n", mgmt_queue_metrics[k].name,
					    (unsigned long long)sums[k]);
			continue;
		}
		for (struct strmap_entry *ve = strmap_first(&b->vhosts, &i); ve;
		     ve = strmap_next(&b->vhosts, ve, &i)) {
			struct vhost *v = ve->value;
			for (struct strmap_entry *e = strmap_first(&v->queues, &j); e;
			     e = strmap_next(&v->queues, e, &j)) {
				struct queue *q = e->value;
				evbuffer_add_printf(buf, "%s{vhost=\"", mgmt_queue_metrics[k].name);
				mgmt_label(buf, v->name, strlen(v->name));
				evbuffer_add(buf, "\",queue=\"", 9);
				mgmt_label(buf, (const char *)q->name.ptr, q->name.len);
				evbuffer_add_printf(buf, "\"} %llu\n",
						    (unsigned long long)mgmt_queue_value(q, k));
			}
		}
	}
	const struct broker_stats *s = &b->stats;
	mgmt_metric(buf, "rabbitmq_global_messages_received_total", "counter",
		    "Total number of messages received from publishers", s->published);
	mgmt_metric(buf, "rabbitmq_global_messages_delivered_total", "counter",
		    "Total number of messages delivered to consumers", s->delivered);
	mgmt_metric(buf, "rabbitmq_global_messages_redelivered_total", "counter",
		    "Total number of messages redelivered to consumers", s->redelivered);
	mgmt_metric(buf, "rabbitmq_global_messages_acknowledged_total", "counter",
		    "Total number of messages acknowledged by consumers", s->acked);
	mgmt_metric(buf, "rabbitmq_global_messages_confirmed_total", "counter",
		    "Total number of messages confirmed to publishers", s->confirmed);
	mgmt_metric(buf, "rabbitmq_global_messages_unroutable_returned_total", "counter",
		    "Total number of messages returned to publishers as unroutable", s->returned);
	mgmt_metric(buf, "rabbitmq_global_messages_unroutable_dropped_total", "counter",
		    "Total number of messages dropped as unroutable", s->dropped_unroutable);
	mgmt_metric(buf, "rabbitmq_global_messages_routed_total", "counter",
		    "Total number of messages routed to queues or streams", s->routed);
	mgmt_metric(buf, "rabbitmq_global_messages_received_confirm_total", "counter",
		    "Total number of messages received from publishers expecting confirmations",
		    s->published_confirm);
	uint64_t get_ack = s->delivered_get - s->delivered_get_no_ack;
	uint64_t consume = s->delivered - s->delivered_get;
	mgmt_metric(buf, "rabbitmq_global_messages_delivered_consume_auto_ack_total", "counter",
		    "Total number of messages delivered to consumers using basic.consume with "
		    "automatic acknowledgment",
		    s->delivered_consume_no_ack);
	mgmt_metric(buf, "rabbitmq_global_messages_delivered_consume_manual_ack_total", "counter",
		    "Total number of messages delivered to consumers using basic.consume with "
		    "manual acknowledgment",
		    consume - (s->delivered_consume_no_ack < consume ? s->delivered_consume_no_ack :
								       consume));
	mgmt_metric(buf, "rabbitmq_global_messages_delivered_get_auto_ack_total", "counter",
		    "Total number of messages delivered to consumers using basic.get with "
		    "automatic acknowledgment",
		    s->delivered_get_no_ack);
	mgmt_metric(buf, "rabbitmq_global_messages_delivered_get_manual_ack_total", "counter",
		    "Total number of messages delivered to consumers using basic.get with manual "
		    "acknowledgment",
		    get_ack);
	mgmt_metric(buf, "rabbitmq_global_messages_get_empty_total", "counter",
		    "Total number of times basic.get operations fetched no message", s->get_empty);
	static const char *const dl_names[] = {
		"rabbitmq_global_messages_dead_lettered_rejected_total",
		"rabbitmq_global_messages_dead_lettered_expired_total",
		"rabbitmq_global_messages_dead_lettered_maxlen_total",
		"rabbitmq_global_messages_dead_lettered_delivery_limit_total",
	};
	static const char *const dl_help[] = {
		"Total number of messages dead-lettered because a consumer rejected them",
		"Total number of messages dead-lettered because their TTL passed",
		"Total number of messages dead-lettered because their queue was over a length limit",
		"Total number of messages dead-lettered because they passed the delivery limit",
	};
	for (int k = 0; k < 4; k++)
		mgmt_metric(buf, dl_names[k], "counter", dl_help[k], s->dead_lettered_reason[k]);
	mgmt_metric(buf, "warren_global_messages_delivery_limit_exceeded_total", "counter",
		    "Total number of messages that passed their queue's delivery limit (dropped or "
		    "dead-lettered)",
		    s->delivery_limit_exceeded);
	mgmt_metric(buf, "warren_global_messages_expired_total", "counter",
		    "Total number of messages whose TTL passed in a queue", s->expired);
	mgmt_metric(buf, "rabbitmq_connections", "gauge", "Connections currently open",
		    connections);
	mgmt_metric(buf, "rabbitmq_connections_opened_total", "counter",
		    "Total number of connections opened", s->connections_opened);
	mgmt_metric(buf, "rabbitmq_connections_closed_total", "counter",
		    "Total number of connections closed or terminated", s->connections_closed);
	mgmt_metric(buf, "rabbitmq_channels", "gauge", "Channels currently open", channels);
	mgmt_metric(buf, "rabbitmq_channels_opened_total", "counter",
		    "Total number of channels opened", s->channels_opened);
	mgmt_metric(buf, "rabbitmq_channels_closed_total", "counter",
		    "Total number of channels closed", s->channels_closed);
	mgmt_metric(buf, "rabbitmq_queues", "gauge", "Queues available", queues);
	mgmt_metric(buf, "rabbitmq_queues_declared_total", "counter",
		    "Total number of queues declared", s->queue_declares);
	mgmt_metric(buf, "rabbitmq_queues_created_total", "counter",
		    "Total number of queues created", s->queues_declared);
	mgmt_metric(buf, "rabbitmq_queues_deleted_total", "counter",
		    "Total number of queues deleted", s->queues_deleted);
	mgmt_metric(buf, "rabbitmq_consumers", "gauge", "Consumers currently connected",
		    consumers);
	mgmt_metric(buf, "warren_connections_flow", "gauge",
		    "Connections not being read because a queue they publish to is not drained fast "
		    "enough (publisher flow control)", in_flow);
	mgmt_metric_head(buf, "warren_connection_flow_seconds_total", "counter",
			 "Total time connections spent in flow (publisher flow control)");
	evbuffer_add_printf(buf, "warren_connection_flow_seconds_total %.3f\n",
			    (double)flow_ms / 1000.0);
	mgmt_metric(buf, "rabbitmq_channel_consumers", "gauge", "Consumers on a channel",
		    consumers);
	mgmt_metric(buf, "warren_connections_blocked", "gauge",
		    "Connections not read because of a memory or disk alarm", blocked);
	uint64_t open_fds, max_fds;
	mgmt_metrics_fds(&open_fds, &max_fds);
	mgmt_metric(buf, "rabbitmq_process_open_fds", "gauge", "Open file descriptors", open_fds);
	mgmt_metric(buf, "rabbitmq_process_max_fds", "gauge",
		    "Open file descriptors limit", max_fds);
	mgmt_metric(buf, "rabbitmq_process_open_tcp_sockets", "gauge",
		    "Open TCP sockets (client connections and listeners)",
		    b->conn_count + (b->listener != NULL) + (b->tls_listener != NULL));
	uint64_t max_conns = b->cfg->max_connections != CONFIG_UNLIMITED ?
				     b->cfg->max_connections :
				     max_fds;
	mgmt_metric(buf, "rabbitmq_process_max_tcp_sockets", "gauge", "Open TCP sockets limit",
		    max_conns < max_fds || !max_fds ? max_conns : max_fds);
	uint64_t rss, mem_limit, disk_free, disk_limit;
	mgmt_resources(b, &rss, &mem_limit, &disk_free, &disk_limit);
	mgmt_metric(buf, "rabbitmq_process_resident_memory_bytes", "gauge",
		    "Memory used in bytes", rss);
	mgmt_metric(buf, "rabbitmq_resident_memory_limit_bytes", "gauge",
		    "Memory high watermark in bytes", mem_limit);
	mgmt_metric(buf, "rabbitmq_disk_space_available_bytes", "gauge",
		    "Disk space available in bytes", disk_free);
	mgmt_metric(buf, "rabbitmq_disk_space_available_limit_bytes", "gauge",
		    "Free disk space low watermark in bytes", disk_limit);
	mgmt_metric(buf, "rabbitmq_alarms_memory_used_watermark", "gauge",
		    "is 1 if VM memory watermark alarm is in effect", mem_limit && rss > mem_limit);
	mgmt_metric(buf, "rabbitmq_alarms_free_disk_space_watermark", "gauge",
		    "is 1 if free disk space watermark alarm is in effect", disk_free < disk_limit);
	mgmt_metric_head(buf, "rabbitmq_build_info", "untyped", "Warren and RabbitMQ API version");
	evbuffer_add_printf(buf, "rabbitmq_build_info{rabbitmq_version=\"3.10.8\","
				 "product=\"Warren\"} 1\n");
	mgmt_cluster_metrics(m, buf);
}
