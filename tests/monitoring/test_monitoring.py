#!/usr/bin/python3
"""The monitoring kit in docs/monitoring/ works against Warren's /metrics.

usage: test_monitoring.py WARREN_BINARY

- Every metric RabbitMQ's published "RabbitMQ-Overview" Grafana dashboard (3.10.8) queries is in
  Warren's /metrics, with the rabbitmq_identity_info labels it joins on, so that dashboard works
  with no edits.
- Every metric Warren's own dashboards (docs/monitoring/grafana/*.json) and alert rules
  (docs/monitoring/prometheus/warren-alerts.yml) use is in /metrics/per-object, and the
  dashboards are what make_dashboards.py writes.
- The counters behind them move: confirms, routing, basic.get with and without ack and empty,
  auto- and manual-ack deliveries, dead-lettering by reason, delivery limits, dead-letter queues.
- With promtool (Debian's prometheus package): the rules load (`check rules`), their unit tests
  pass (`test rules`), and every dashboard expression parses. Without it those checks are
  skipped with a message: the package (96 MB) is not part of scripts/setup.sh.

Prints one line per check and "N passed, M failed" last; exits 1 on failure."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, "/usr/lib/python3/dist-packages")
import pika  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MON = os.path.join(HERE, "..", "..", "docs", "monitoring")
passed = failed = 0

# The metric names RabbitMQ-Overview.json (rabbitmq-server v3.10.8,
# deps/rabbitmq_prometheus/docker/grafana/dashboards/) queries: the names only.
RABBITMQ_OVERVIEW = """
rabbitmq_build_info rabbitmq_channel_consumers rabbitmq_channels rabbitmq_channels_closed_total
rabbitmq_channels_opened_total rabbitmq_connections rabbitmq_connections_closed_total
rabbitmq_connections_opened_total rabbitmq_consumers rabbitmq_disk_space_available_bytes
rabbitmq_global_messages_acknowledged_total rabbitmq_global_messages_confirmed_total
rabbitmq_global_messages_delivered_consume_auto_ack_total
rabbitmq_global_messages_delivered_consume_manual_ack_total
rabbitmq_global_messages_delivered_get_auto_ack_total
rabbitmq_global_messages_delivered_get_manual_ack_total rabbitmq_global_messages_get_empty_total
rabbitmq_global_messages_received_confirm_total rabbitmq_global_messages_received_total
rabbitmq_global_messages_redelivered_total rabbitmq_global_messages_routed_total
rabbitmq_global_messages_unroutable_dropped_total rabbitmq_global_messages_unroutable_returned_total
rabbitmq_identity_info rabbitmq_process_max_fds rabbitmq_process_max_tcp_sockets
rabbitmq_process_open_fds rabbitmq_process_open_tcp_sockets rabbitmq_process_resident_memory_bytes
rabbitmq_queue_messages_ready rabbitmq_queue_messages_unacked rabbitmq_queues
rabbitmq_queues_created_total rabbitmq_queues_declared_total rabbitmq_queues_deleted_total
rabbitmq_resident_memory_limit_bytes
""".split()
LABELS = {"rabbitmq_cluster", "rabbitmq_node", "rabbitmq_endpoint"}


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + name, flush=True)
    else:
        failed += 1
        print("FAIL %s %s" % (name, detail), flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def scrape(mport, path):
    """{name: [(labels dict, value)]}"""
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (mport, path), timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out.setdefault(m.group(1), []).append((labels, float(m.group(4))))
    return out


def value(metrics, name, **labels):
    for lb, v in metrics.get(name, []):
        if all(lb.get(k) == w for k, w in labels.items()):
            return v
    return None


def metric_names(text):
    return {n for n in re.findall(r"\b((?:rabbitmq|warren)_[a-z0-9_]+)\b", text)} - LABELS


def traffic(port):
    """Confirms, routing, gets, both ack modes and every dead-letter reason."""
    c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
    ch = c.channel()
    ch.confirm_delivery()
    ch.queue_declare("mon.dlq")
    ch.queue_declare("mon.work", arguments={"x-dead-letter-exchange": "",
                                             "x-dead-letter-routing-key": "mon.dlq",
                                             "x-max-length": 5, "x-delivery-limit": 1})
    ch.queue_declare("mon.ttl", arguments={"x-dead-letter-exchange": "",
                                            "x-dead-letter-routing-key": "mon.dlq",
                                            "x-message-ttl": 1})
    ch.queue_declare("mon.work", passive=True)  # a declare that creates nothing
    for i in range(8):  # 3 dropped by max-length: dead-lettered maxlen
        ch.basic_publish("", "mon.work", b"%d" % i)
    ch.basic_publish("", "mon.ttl", b"t")  # expires: dead-lettered expired
    ch.basic_publish("", "mon.nowhere", b"x")  # unroutable
    m, _, _ = ch.basic_get("mon.work")  # manual ack get
    ch.basic_reject(m.delivery_tag, requeue=False)  # dead-lettered rejected
    ch.basic_get("mon.work", auto_ack=True)  # auto ack get
    m, _, _ = ch.basic_get("mon.work")
    ch.basic_nack(m.delivery_tag, requeue=True)
    m, _, _ = ch.basic_get("mon.work")  # delivered twice: over the limit when requeued
    ch.basic_nack(m.delivery_tag, requeue=True)  # dead-lettered delivery_limit
    ch.queue_declare("mon.empty")
    ch.basic_get("mon.empty")  # get-empty
    got = []
    ch.basic_consume("mon.work", lambda c_, m_, p_, b_: got.append(b_), auto_ack=True)
    ch2 = c.channel()
    seen = []
    ch2.queue_declare("mon.manual")
    ch.basic_publish("", "mon.manual", b"m")
    ch2.basic_consume("mon.manual", lambda c_, m_, p_, b_: (seen.append(b_),
                                                             c_.basic_ack(m_.delivery_tag)))
    deadline = time.time() + 5
    while (len(got) < 2 or not seen) and time.time() < deadline:
        c.process_data_events(0.1)
    time.sleep(0.2)
    c.close()


def promtool_checks(dashboards):
    promtool = shutil.which("promtool")
    if not promtool:
        print("SKIP promtool checks: promtool is not installed (Debian's prometheus package, "
              "96 MB, is not in scripts/setup.sh; `apt-get install prometheus` to run them)")
        return
    prom = os.path.join(MON, "prometheus")
    p = subprocess.run([promtool, "check", "rules", "warren-alerts.yml"], cwd=prom,
                       capture_output=True, text=True)
    check("promtool check rules accepts warren-alerts.yml", p.returncode == 0,
          p.stdout + p.stderr)
    p = subprocess.run([promtool, "test", "rules", "warren-alerts.test.yml"], cwd=prom,
                       capture_output=True, text=True)
    check("promtool test rules: every alert fires where it should and only there",
          p.returncode == 0, p.stdout + p.stderr)
    # every dashboard expression, variables filled in, as a recording rule promtool parses
    rules, n = [], 0
    for exprs in dashboards.values():
        for e in exprs:
            m = re.match(r"^label_values\((.*), *\w+\)$", e)  # Grafana's, not PromQL
            e = m.group(1) if m else e
            e = (e.replace("$rabbitmq_cluster", "c").replace("$vhost", ".*")
                 .replace("$queue", ".*").replace("$namespace", ""))
            rules.append({"record": "dashboard:expr_%d" % n, "expr": e})
            n += 1
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        json.dump({"groups": [{"name": "dashboards", "rules": rules}]}, f)
    p = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
    os.unlink(f.name)
    check("every dashboard expression (%d) parses as PromQL" % n, p.returncode == 0,
          p.stdout + p.stderr)


def main():
    data = tempfile.mkdtemp(prefix="warren-monitoring-")
    port, mport = free_port(), free_port()
    log = open(os.path.join(data, "log"), "w")
    proc = subprocess.Popen([sys.argv[1], "--port", str(port), "--mgmt-port", str(mport),
                             "--data-dir", os.path.join(data, "d")], stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 10
        while "ready" not in open(os.path.join(data, "log")).read():
            if time.time() > deadline or proc.poll() is not None:
                raise SystemExit("warren did not start")
            time.sleep(0.05)
        before = scrape(mport, "/metrics")
        traffic(port)
        agg, per = scrape(mport, "/metrics"), scrape(mport, "/metrics/per-object")

        missing = [n for n in RABBITMQ_OVERVIEW if n not in agg]
        check("every metric RabbitMQ-Overview queries is in /metrics", not missing, missing)
        ident = agg.get("rabbitmq_identity_info", [({}, 0)])[0]
        check("rabbitmq_identity_info has the rabbitmq_node and rabbitmq_cluster labels",
              ident[1] == 1 and ident[0].get("rabbitmq_node") and
              ident[0].get("rabbitmq_cluster"), ident)

        dashboards = {}
        for name in sorted(os.listdir(os.path.join(MON, "grafana"))):
            if not name.endswith(".json"):
                continue
            doc = json.load(open(os.path.join(MON, "grafana", name)))
            exprs = []
            for p in doc["panels"]:
                exprs += [t["expr"] for t in p.get("targets", [])]
            for v in doc["templating"]["list"]:
                if isinstance(v.get("query"), dict):
                    exprs.append(v["query"]["query"])
            dashboards[name] = exprs
            used = set().union(*(metric_names(e) for e in exprs))
            missing = sorted(n for n in used if n not in per)
            check("every metric %s queries (%d) is in /metrics/per-object" % (name, len(used)),
                  not missing, missing)
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy(os.path.join(MON, "grafana", "make_dashboards.py"), tmp)
            subprocess.run([sys.executable, os.path.join(tmp, "make_dashboards.py")], check=True)
            stale = [n for n in dashboards if open(os.path.join(tmp, n)).read() !=
                     open(os.path.join(MON, "grafana", n)).read()]
        check("the dashboards are what make_dashboards.py writes", not stale, stale)
        rules = open(os.path.join(MON, "prometheus", "warren-alerts.yml")).read()
        missing = sorted(n for n in metric_names(rules) if n not in per)
        check("every metric the alert rules use is in /metrics/per-object", not missing,
              missing)

        def moved(name, want, **labels):
            b = value(before, name, **labels) or 0
            a = value(per if labels else agg, name, **labels)
            check("%s counts what happened (%s -> %s, want +%d)" % (name, b, a, want),
                  a is not None and a - b == want)
        moved("rabbitmq_global_messages_received_confirm_total", 11)
        moved("rabbitmq_global_messages_routed_total", 10)
        moved("rabbitmq_global_messages_unroutable_dropped_total", 1)
        moved("rabbitmq_global_messages_delivered_get_manual_ack_total", 3)
        moved("rabbitmq_global_messages_delivered_get_auto_ack_total", 1)
        moved("rabbitmq_global_messages_get_empty_total", 1)
        moved("rabbitmq_global_messages_delivered_consume_auto_ack_total", 2)
        moved("rabbitmq_global_messages_delivered_consume_manual_ack_total", 1)
        moved("rabbitmq_global_messages_dead_lettered_maxlen_total", 3)
        moved("rabbitmq_global_messages_dead_lettered_rejected_total", 1)
        moved("rabbitmq_global_messages_dead_lettered_expired_total", 1)
        moved("rabbitmq_global_messages_dead_lettered_delivery_limit_total", 1)
        moved("warren_global_messages_delivery_limit_exceeded_total", 1)
        moved("rabbitmq_queues_created_total", 5)
        moved("rabbitmq_queues_declared_total", 6)
        moved("warren_queue_messages_dead_lettered_in_total", 6, vhost="/", queue="mon.dlq")
        check("only the dead-letter queue has dead-lettered messages routed in",
              value(per, "warren_queue_messages_dead_lettered_in_total", queue="mon.work") == 0)
        check("warren_connections_blocked is 0 without an alarm",
              value(agg, "warren_connections_blocked") == 0)
        fds = value(agg, "rabbitmq_process_open_fds")
        check("open file descriptors are counted", fds and 0 < fds < value(
            agg, "rabbitmq_process_max_fds"), fds)
        promtool_checks(dashboards)
    finally:
        proc.terminate()
        rc = proc.wait(10)
        check("warren shuts down cleanly", rc == 0, rc)
        shutil.rmtree(data, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
