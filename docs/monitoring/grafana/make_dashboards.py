#!/usr/bin/python3
"""Writes Warren's Grafana dashboards (warren-overview.json, warren-queues.json) next to this
script. They query the metric names RabbitMQ's Prometheus endpoint uses (so the same panels work
against a RabbitMQ too, except Warren's own figures) and join on rabbitmq_identity_info's
rabbitmq_node and rabbitmq_cluster labels, as RabbitMQ's published dashboards do. Written for
Warren, not copied from RabbitMQ's. Run it after changing a panel; tests/monitoring checks that
every metric the JSON queries is in Warren's /metrics output.

usage: make_dashboards.py"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DS = {"type": "prometheus", "uid": "${datasource}"}
JOIN = ('* on(instance) group_left(rabbitmq_cluster, rabbitmq_node) '
        'rabbitmq_identity_info{rabbitmq_cluster="$rabbitmq_cluster"}')


def node(metric, rate=False, by="rabbitmq_node"):
    """sum(metric or its rate, joined to the cluster) by node."""
    m = "rate(%s[1m])" % metric if rate else metric
    return "sum(%s %s) by(%s)" % (m, JOIN, by) if by else "sum(%s %s)" % (m, JOIN)


class Board:
    def __init__(self, uid, title, description):
        self.uid, self.title, self.description = uid, title, description
        self.panels = []
        self.y = 0
        self.x = 0
        self.row_h = 0
        self.variables = [
            {"name": "datasource", "label": "Data source", "type": "datasource",
             "query": "prometheus", "hide": 0, "current": {}},
            {"name": "rabbitmq_cluster", "label": "Cluster", "type": "query", "datasource": DS,
             "query": {"query": "label_values(rabbitmq_identity_info, rabbitmq_cluster)",
                       "refId": "cluster"},
             "definition": "label_values(rabbitmq_identity_info, rabbitmq_cluster)",
             "refresh": 2, "sort": 1, "hide": 0, "current": {}},
        ]

    def row(self, title):
        self.newline()
        self.panels.append({"type": "row", "title": title, "collapsed": False,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                            "id": len(self.panels) + 1, "panels": []})
        self.y += 1

    def newline(self):
        if self.x:
            self.y += self.row_h
            self.x = 0
            self.row_h = 0

    def add(self, kind, title, targets, w=8, h=8, unit="short", description="", extra=None):
        if self.x + w > 24:
            self.newline()
        p = {"type": kind, "title": title, "description": description, "datasource": DS,
             "id": len(self.panels) + 1,
             "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y},
             "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
             "targets": [{"datasource": DS, "expr": e, "legendFormat": leg,
                          "refId": chr(ord("A") + i)} for i, (e, leg) in enumerate(targets)]}
        if kind == "timeseries":
            p["options"] = {"legend": {"displayMode": "table", "placement": "bottom",
                                       "calcs": ["lastNotNull", "max"]},
                            "tooltip": {"mode": "multi"}}
        if kind == "stat":
            p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value",
                            "graphMode": "area"}
        if extra:
            p.update(extra)
        self.panels.append(p)
        self.x += w
        self.row_h = max(self.row_h, h)

    def stat(self, title, expr, unit="short", description=""):
        self.add("stat", title, [(expr, "")], w=4, h=4, unit=unit, description=description)

    def series(self, title, targets, unit="short", w=8, description=""):
        self.add("timeseries", title, targets, w=w, unit=unit, description=description)

    def json(self):
        return {"uid": self.uid, "title": self.title, "description": self.description,
                "tags": ["warren", "rabbitmq"], "editable": True, "schemaVersion": 36,
                "version": 1, "refresh": "15s", "time": {"from": "now-1h", "to": "now"},
                "timezone": "", "graphTooltip": 1,
                "templating": {"list": self.variables}, "annotations": {"list": []},
                "panels": self.panels}


def overview():
    b = Board("warren-overview", "Warren Overview",
              "A Warren node or cluster: messages, connections, channels, queues, resources, "
              "and the dead-letter and delivery-limit figures RabbitMQ does not have. Scrape "
              "/metrics/per-object (or /metrics) on the management or Prometheus port.")
    leg = "{{rabbitmq_node}}"
    b.stat("Ready messages", node("rabbitmq_queue_messages_ready", by=None))
    b.stat("Unacknowledged", node("rabbitmq_queue_messages_unacked", by=None))
    b.stat("Incoming / s", node("rabbitmq_global_messages_received_total", True, by=None),
           unit="ops")
    b.stat("Outgoing / s",
           "%s + %s" % (node("rabbitmq_global_messages_delivered_consume_auto_ack_total", True,
                             by=None),
                        node("rabbitmq_global_messages_delivered_consume_manual_ack_total", True,
                             by=None)), unit="ops")
    b.stat("Connections", node("rabbitmq_connections", by=None))
    b.stat("Queues", node("rabbitmq_queues", by=None))
    b.stat("Consumers", node("rabbitmq_consumers", by=None))
    b.stat("Channels", node("rabbitmq_channels", by=None))
    b.stat("Dead-lettered / s",
           "sum(%s)" % " + ".join(
               "rate(rabbitmq_global_messages_dead_lettered_%s_total[1m]) %s" % (r, JOIN)
               for r in ("rejected", "expired", "maxlen", "delivery_limit")), unit="ops",
           description="Messages republished to a dead-letter exchange, all reasons")
    b.stat("Blocked connections", node("warren_connections_blocked", by=None),
           description="Connections not read because of a memory or disk alarm")
    b.stat("Nodes", node("rabbitmq_build_info", by=None))
    b.stat("Memory alarm", node("rabbitmq_alarms_memory_used_watermark", by=None))

    b.row("RESOURCES")
    b.series("Memory available before publishers are blocked",
             [("(rabbitmq_resident_memory_limit_bytes %s) - "
               "(rabbitmq_process_resident_memory_bytes %s)" % (JOIN, JOIN), leg)],
             unit="bytes", w=6)
    b.series("Disk space available before publishers are blocked",
             [("(rabbitmq_disk_space_available_bytes %s) - "
               "(rabbitmq_disk_space_available_limit_bytes %s)" % (JOIN, JOIN), leg)],
             unit="bytes", w=6)
    b.series("File descriptors available",
             [("(rabbitmq_process_max_fds %s) - (rabbitmq_process_open_fds %s)"
               % (JOIN, JOIN), leg)], w=6)
    b.series("TCP sockets available",
             [("(rabbitmq_process_max_tcp_sockets %s) - (rabbitmq_process_open_tcp_sockets %s)"
               % (JOIN, JOIN), leg)], w=6)

    b.row("QUEUED MESSAGES")
    b.series("Ready to be delivered", [(node("rabbitmq_queue_messages_ready"), leg)], w=12)
    b.series("Waiting for consumer acknowledgement",
             [(node("rabbitmq_queue_messages_unacked"), leg)], w=12)

    b.row("INCOMING")
    b.series("Published / s", [(node("rabbitmq_global_messages_received_total", True), leg)],
             unit="ops")
    b.series("Confirmed to publishers / s",
             [(node("rabbitmq_global_messages_confirmed_total", True), leg)], unit="ops")
    b.series("Routed to queues / s",
             [(node("rabbitmq_global_messages_routed_total", True), leg)], unit="ops")
    b.series("Not yet confirmed / s",
             [("sum(rate(rabbitmq_global_messages_received_confirm_total[1m]) %s - "
               "rate(rabbitmq_global_messages_confirmed_total[1m]) %s) by(rabbitmq_node)"
               % (JOIN, JOIN), leg)], unit="ops")
    b.series("Unroutable dropped / s",
             [(node("rabbitmq_global_messages_unroutable_dropped_total", True), leg)],
             unit="ops")
    b.series("Unroutable returned / s",
             [(node("rabbitmq_global_messages_unroutable_returned_total", True), leg)],
             unit="ops")

    b.row("OUTGOING")
    b.series("Delivered, manual ack / s",
             [(node("rabbitmq_global_messages_delivered_consume_manual_ack_total", True), leg)],
             unit="ops")
    b.series("Delivered, auto ack / s",
             [(node("rabbitmq_global_messages_delivered_consume_auto_ack_total", True), leg)],
             unit="ops")
    b.series("Acknowledged / s",
             [(node("rabbitmq_global_messages_acknowledged_total", True), leg)], unit="ops")
    b.series("Redelivered / s",
             [(node("rabbitmq_global_messages_redelivered_total", True), leg)], unit="ops")
    b.series("basic.get / s",
             [(node("rabbitmq_global_messages_delivered_get_manual_ack_total", True),
               "manual ack " + leg),
              (node("rabbitmq_global_messages_delivered_get_auto_ack_total", True),
               "auto ack " + leg)], unit="ops")
    b.series("basic.get that found nothing / s",
             [(node("rabbitmq_global_messages_get_empty_total", True), leg)], unit="ops")

    b.row("DEAD LETTERS AND DELIVERY LIMITS (Warren)")
    b.series("Dead-lettered / s, by reason",
             [(node("rabbitmq_global_messages_dead_lettered_%s_total" % r, True, by=None), r)
              for r in ("rejected", "expired", "maxlen", "delivery_limit")], unit="ops",
             description="Messages republished to their queue's dead-letter exchange")
    b.series("Past the delivery limit / s",
             [(node("warren_global_messages_delivery_limit_exceeded_total", True), leg)],
             unit="ops", description="Redelivered more often than x-delivery-limit allows: "
                                     "dead-lettered, or dropped without a dead-letter exchange")
    b.series("Expired / s", [(node("warren_global_messages_expired_total", True), leg)],
             unit="ops", description="Messages whose TTL passed in a queue")
    b.series("Messages in dead-letter queues",
             [("sum((rabbitmq_queue_messages_ready %s) and on(instance, vhost, queue) "
               "(warren_queue_messages_dead_lettered_in_total > 0)) by(vhost, queue)" % JOIN,
               "{{vhost}} {{queue}}")], w=12,
             description="Queues dead-lettered messages were routed to (needs /metrics/"
                         "per-object)")
    b.series("Dead letters arriving / s, by queue",
             [("sum(rate(warren_queue_messages_dead_lettered_in_total[1m]) %s) "
               "by(vhost, queue) > 0" % JOIN, "{{vhost}} {{queue}}")], unit="ops", w=12)

    b.row("QUEUES, CHANNELS, CONNECTIONS")
    b.series("Queues", [(node("rabbitmq_queues"), leg)], w=6)
    b.series("Queues declared, created, deleted / s",
             [(node("rabbitmq_queues_declared_total", True), "declared " + leg),
              (node("rabbitmq_queues_created_total", True), "created " + leg),
              (node("rabbitmq_queues_deleted_total", True), "deleted " + leg)], unit="ops",
             w=6)
    b.series("Channels", [(node("rabbitmq_channels"), leg)], w=6)
    b.series("Channels opened, closed / s",
             [(node("rabbitmq_channels_opened_total", True), "opened " + leg),
              (node("rabbitmq_channels_closed_total", True), "closed " + leg)], unit="ops",
             w=6)
    b.series("Connections", [(node("rabbitmq_connections"), leg)], w=8)
    b.series("Connections opened, closed / s",
             [(node("rabbitmq_connections_opened_total", True), "opened " + leg),
              (node("rabbitmq_connections_closed_total", True), "closed " + leg)], unit="ops")
    b.series("Channels without consumers",
             [("%s - %s" % (node("rabbitmq_channels", by=None),
                            node("rabbitmq_channel_consumers", by=None)), "channels")])
    return b


def queues():
    b = Board("warren-queues", "Warren Queues",
              "Per-queue figures from /metrics/per-object: depth, consumers, publish rate, "
              "consumer lag, dead-letter queues.")
    q = ('{vhost=~"$vhost", queue=~"$queue"} %s' % JOIN)
    for name, label in (("vhost", "Vhost"), ("queue", "Queue")):
        query = ("label_values(rabbitmq_queue_messages_ready, vhost)" if name == "vhost" else
                 'label_values(rabbitmq_queue_messages_ready{vhost=~"$vhost"}, queue)')
        b.variables.append({"name": name, "label": label, "type": "query", "datasource": DS,
                            "query": {"query": query, "refId": name}, "definition": query,
                            "refresh": 2, "multi": True, "includeAll": True, "allValue": ".*",
                            "sort": 1, "hide": 0, "current": {}})
    leg = "{{vhost}} {{queue}}"
    b.series("Ready", [("sum(rabbitmq_queue_messages_ready%s) by(vhost, queue)" % q, leg)],
             w=12)
    b.series("Unacknowledged",
             [("sum(rabbitmq_queue_messages_unacked%s) by(vhost, queue)" % q, leg)], w=12)
    b.series("Published / s",
             [("sum(rate(rabbitmq_queue_messages_published_total{vhost=~\"$vhost\", "
               "queue=~\"$queue\"}[1m]) %s) by(vhost, queue)" % JOIN, leg)], unit="ops")
    b.series("Consumers", [("sum(rabbitmq_queue_consumers%s) by(vhost, queue)" % q, leg)])
    b.series("Ready bytes",
             [("sum(rabbitmq_queue_messages_ready_bytes%s) by(vhost, queue)" % q, leg)],
             unit="bytes")
    b.series("Consumer lag: ready messages growing while consumed / s",
             [("sum(deriv(rabbitmq_queue_messages_ready{vhost=~\"$vhost\", queue=~\"$queue\"}"
               "[5m]) > 0 and on(instance, vhost, queue) rabbitmq_queue_consumers > 0) "
               "by(vhost, queue)", leg)], unit="ops", w=12,
             description="Queues whose backlog grows although they have consumers")
    b.series("Messages in queues without consumers",
             [("sum(rabbitmq_queue_messages_ready{vhost=~\"$vhost\", queue=~\"$queue\"} > 0 "
               "and on(instance, vhost, queue) rabbitmq_queue_consumers == 0) by(vhost, queue)",
               leg)], w=12)
    b.series("Dead-letter queues: messages",
             [("sum(rabbitmq_queue_messages_ready{vhost=~\"$vhost\", queue=~\"$queue\"} and "
               "on(instance, vhost, queue) warren_queue_messages_dead_lettered_in_total > 0) "
               "by(vhost, queue)", leg)], w=12)
    b.series("Dead letters arriving / s",
             [("sum(rate(warren_queue_messages_dead_lettered_in_total{vhost=~\"$vhost\", "
               "queue=~\"$queue\"}[1m])) by(vhost, queue) > 0", leg)], unit="ops", w=12)
    return b


def main():
    for b, name in ((overview(), "warren-overview.json"), (queues(), "warren-queues.json")):
        with open(os.path.join(HERE, name), "w") as f:
            json.dump(b.json(), f, indent=1, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
