/* mgmt/api/mgmt_metrics.c: Prometheus text format (version 0.0.4) with RabbitMQ's metric names, so
 * existing dashboards work: /metrics sums per-object values, /metrics/per-object labels them
 * with vhost and queue. Values come from the counters the broker keeps; nothing is sampled
 * here. */
#include <event2/buffer.h>
#include <string.h>

#include "broker/core/broker.h"
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

enum { QM_READY, QM_UNACKED, QM_MESSAGES, QM_CONSUMERS, QM_BYTES, QM_PUBLISHED, QM_COUNT };

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
};

static uint64_t mgmt_queue_value(const struct queue *q, int k)
{
	switch (k) {
	case QM_READY: return queue_ready_count(q);
	case QM_UNACKED: return q->unacked_count;
	case QM_MESSAGES: return (uint64_t)queue_ready_count(q) + q->unacked_count;
	case QM_CONSUMERS: return q->consumer_count;
	case QM_BYTES: return q->ready_bytes;
	default: return q->stat_published;
	}
}

void mgmt_metrics_render(struct mgmt *m, struct evbuffer *buf, bool per_object)
{
	struct broker *b = m->b;
	size_t i, j, queues = 0, channels = 0, consumers = 0, connections = 0;
	uint64_t sums[QM_COUNT] = { 0 };
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
	}
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
		    "Total number of queues declared", s->queues_declared);
	mgmt_metric(buf, "rabbitmq_queues_deleted_total", "counter",
		    "Total number of queues deleted", s->queues_deleted);
	mgmt_metric(buf, "rabbitmq_consumers", "gauge", "Consumers currently connected",
		    consumers);
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
