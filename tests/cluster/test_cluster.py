#!/usr/bin/python3
"""The replicated cluster, end to end: real etcd, three real Warren nodes each on its own
address (network namespaces joined by a bridge where the test may create them, else loopback
addresses), real pika and amqplib clients given every node's address.

Usage: test_cluster.py WARREN_BINARY SCENARIO [--rounds N] [--sync-mb N] [--keep]

Scenarios (meson runs each as its own test, in CI sizes; docs/clustering.md gives the deep
sizes, run by hand):
  election     one leader; followers forward AMQP and HTTP to it; /api/nodes shows the roles;
               a node with the wrong clustering.password is refused on both sides
  etcd-down    etcd unreachable at start: said once per attempt with the URL, nothing served;
               a leader that cannot renew its lease steps down (clients get 320) and rejoins
  kill-leader  kill -9 the leader during confirmed publishing, --rounds times: nothing
               confirmed is lost, every survivor is delivered, clients reconnect and go on
  partition    the leader's link goes down while publishing: never two nodes accepting
               publishes, nothing confirmed lost, the old leader rejoins as a follower
  follower     kill a follower and bring it back while publishing: it catches up and rejoins
               the in-sync set
  restart      stop and start the whole cluster: everything recovered
  join         a follower joins a cluster holding --sync-mb MB of messages, syncs, is in sync
  disk-full    a follower's disk fills while publishing: it leaves the in-sync set, the leader
               keeps confirming with the other follower, and it rejoins when space returns
  tls          clustering.ssl: replication over TLS; a follower that does not trust the
               leader's certificate never follows it
  stream       a stream queue's messages (kept in the stream's own log files) reach a
               follower that joins late, survive the leader's kill in order, and a
               deleted stream's files go from every node
"""
import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from clients import (AmqplibPublisher, Consumer, Publisher, declare, depth,  # noqa: E402
                     drain)

import pika  # noqa: E402


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def note(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def grep(c, i, text):
    return [line for line in c.log_lines(i) if text in line]


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def check_no_loss(confirmed, delivered, what):
    lost = set(confirmed) - set(delivered)
    check(not lost, "%s: %d confirmed messages lost, e.g. %s" % (what, len(lost),
                                                                sorted(lost)[:5]))


def check_never_two_leaders(c):
    """No two nodes' logs show them accepting publishes at the same time."""
    spans = []
    for i in range(c.node_count):
        for start, end in harness.serving_intervals(c.log_lines(i)):
            spans.append((start, end if end is not None else float("inf"), i))
    spans.sort()
    for a, b in zip(spans, spans[1:]):
        check(a[1] <= b[0] or a[2] == b[2],
              "n%d accepted publishes from %.3f until %.3f, n%d from %.3f" %
              (a[2] + 1, a[0], a[1], b[2] + 1, b[0]))
    return spans


# ---- scenarios ----

def scenario_election(c, args):
    c.start_all()
    leader = c.wait_leader(20)
    # through a follower (forwarded); the leader reads membership from etcd a few times a
    # second, so its answer may lag etcd's by a poll
    nodes = wait_for(lambda: [n for n in [c.nodes_api((leader + 1) % 3)]
                              if len(n) == 3 and all(x["in_sync"] for x in n)], 5,
                     "/api/nodes to show three nodes in sync")[0]
    roles = {n["name"]: n["role"] for n in nodes}
    note("roles: %s" % roles)
    check(sum(1 for r in roles.values() if r == "leader") == 1, "exactly one leader: %s" % roles)
    check(roles.get("warren@n%d" % (leader + 1)) == "leader", "etcd's leader is the API's")
    check(len(roles) == 3 and all(n["in_sync"] for n in nodes), "three nodes in sync: %s" % nodes)
    for n in nodes:
        for key in ("running", "lag_records", "lag_bytes", "uptime"):
            check(key in n, "/api/nodes has %s" % key)
    ov = c.api((leader + 2) % 3, "/api/overview")
    check(ov["cluster_name"] == "warren" and ov["cluster_leader"] == "warren@n%d" % (leader + 1),
          "the overview names the cluster and the leader: %s %s" % (ov["cluster_name"],
                                                                    ov["cluster_leader"]))
    # a publish through one follower is consumed through the other
    f1, f2 = [i for i in range(3) if i != leader]
    conn = pika.BlockingConnection(pika.ConnectionParameters(c.ip(f1), 5672, heartbeat=5))
    ch = conn.channel()
    ch.confirm_delivery()
    ch.queue_declare("via-follower", durable=True)
    ch.basic_publish("", "via-follower", b"hello", pika.BasicProperties(delivery_mode=2))
    conn.close()
    conn = pika.BlockingConnection(pika.ConnectionParameters(c.ip(f2), 5672, heartbeat=5))
    method, _, body = conn.channel().basic_get("via-follower", auto_ack=True)
    conn.close()
    check(body == b"hello", "forwarded publish and get: %r" % body)
    metrics = None
    import urllib.request
    with urllib.request.urlopen("http://%s:15672/metrics" % c.ip(f2), timeout=3) as r:
        metrics = r.read().decode()
    check("warren_cluster_leader{node=\"warren@n%d\"} 1" % (leader + 1) in metrics,
          "metrics name the leader")
    check("warren_cluster_follower_lag_bytes" in metrics, "metrics show the lag")
    # the wrong password: refused, with a line on both sides
    c.stop(f2)
    c.start(f2, extra=["clustering.password=wrong"])
    wait_for(lambda: grep(c, f2, "refused this node") or grep(c, f2, "does not know"), 15,
             "the follower's refusal line")
    wait_for(lambda: grep(c, leader, "wrong clustering.password"), 15,
             "the leader's refusal line")
    check("n%d" % (f2 + 1) not in c.insync(), "a refused follower is not in sync")
    note("wrong password refused on both sides")
    # a node of another cluster (another etcd prefix) pointed at this leader: refused both ways
    c.stop(f2)
    b64 = lambda t: harness.base64.b64encode(t.encode()).decode()
    leader_json = harness.json.dumps({"name": "n%d" % (leader + 1), "address": c.ip(leader),
                                      "amqp_port": 5672, "http_port": 15672, "repl_port": 5679})
    c.etcd_call("/v3/kv/put", {"key": b64("other/leader"), "value": b64(leader_json)})
    c.start(f2, extra=["clustering.etcd_prefix=other"])
    wait_for(lambda: grep(c, f2, "belongs to cluster"), 15, "the other cluster's refusal line")
    wait_for(lambda: grep(c, leader, "refused this leader"), 15, "the leader's line")
    note("another cluster's node: %s / %s" % (grep(c, f2, "belongs to cluster")[0][24:120],
                                              grep(c, leader, "refused this leader")[0][24:120]))
    c.stop(f2)
    c.start(f2)
    c.wait_in_sync(["n%d" % (f2 + 1)], 20)
    check_never_two_leaders(c)


def scenario_etcd_down(c, args):
    # etcd stopped before any node starts
    for p in c.etcd:
        p.signal(signal.SIGSTOP)
    c.start(0)
    time.sleep(2.5)
    lines = grep(c, 0, "etcd lease failed")
    note("while etcd is stopped: %d failed attempts logged" % len(lines))
    check(len(lines) >= 1, "each attempt says etcd is unreachable")
    check(all("http://%s:2379" % c.etcd_hosts[0].ip in line for line in lines),
          "the line names the URL: %s" % lines[:1])
    check(not grep(c, 0, "accepting publishes"), "no leader without a lease")
    served = False
    try:
        conn = pika.BlockingConnection(pika.ConnectionParameters(c.ip(0), 5672,
                                                                 socket_timeout=1,
                                                                 blocked_connection_timeout=1,
                                                                 stack_timeout=2))
        conn.close()
        served = True
    except Exception:  # noqa: BLE001 - refused, or held unanswered: either way not served
        pass
    check(not served, "a node without a lease served AMQP")
    for p in c.etcd:
        p.signal(signal.SIGCONT)
    leader = c.wait_leader(20)
    check(leader == 0, "n1 leads once etcd answers")
    c.start(1)
    c.start(2)
    c.wait_settled(30)
    # the leader loses etcd: it steps down before its lease could lapse, clients get 320
    declare(c.addresses(), "stepdown")
    conn = pika.BlockingConnection(pika.ConnectionParameters(c.ip(leader), 5672, heartbeat=5))
    ch = conn.channel()
    t0 = time.time()
    for p in c.etcd:
        p.signal(signal.SIGSTOP)
    closed = None
    try:
        while time.time() - t0 < 15:
            conn.process_data_events(time_limit=0.2)
    except pika.exceptions.ConnectionClosedByBroker as e:
        closed = e
    for p in c.etcd:
        p.signal(signal.SIGCONT)
    check(closed is not None and closed.reply_code == 320,
          "the client is closed with 320 CONNECTION_FORCED: %r" % closed)
    note("client closed with %d %s after %.1f s" % (closed.reply_code, closed.reply_text,
                                                    time.time() - t0))
    check(time.time() - t0 < c.lease_ttl + 1, "it stepped down within the lease TTL")
    check(grep(c, leader, "steps down"), "the step-down is logged")
    c.wait_leader(30)
    wait_for(lambda: grep(c, leader, "following leader") or grep(c, leader, "accepting publishes"),
             30, "the old leader to rejoin")
    c.wait_settled(30)
    check_never_two_leaders(c)


def publishers_for(c, queue, n_pika=3, with_amqplib=True, pad=0):
    pubs = [Publisher("p%d" % k, c.addresses(), queue, pad=pad) for k in range(n_pika)]
    for p in pubs:
        p.start()
    js = AmqplibPublisher("js", c.addresses(), queue) if with_amqplib else None
    return pubs, js


def stop_publishers(pubs, js):
    for p in pubs:
        p.stop_flag.set()
    for p in pubs:
        p.join(30)
    if js:
        js.stop()


def all_confirms(pubs, js):
    out = []
    for p in pubs:
        with p.lock:
            out += list(p.confirmed)
    if js:
        with js.lock:
            out += list(js.confirmed)
    return out


def check_confirm_runs(pubs, js, max_runs):
    """From the publishers' side: each publisher's confirms, in the order it received them,
    change serving node at most max_runs - 1 times. Per publisher, because arrival times taken
    by different client threads do not order events between nodes (a thread scheduled late can
    record an old leader's last confirm after another thread's first confirm from the new one);
    that two nodes never served at once is checked from the nodes' logs
    (check_never_two_leaders). Returns the runs over all publishers, for the notes."""
    sources = []
    for p in pubs + ([js] if js else []):
        with p.lock:
            sources.append(list(p.confirmed))
    for k, confirms in enumerate(sources):
        runs = []
        for (_, node, _) in sorted(confirms, key=lambda c: c[2]):
            if not runs or runs[-1][0] != node:
                runs.append([node, 0])
            runs[-1][1] += 1
        check(len(runs) <= max_runs, "publisher %d: confirms from %d runs of nodes: %s"
              % (k, len(runs), runs[:20]))
    runs = []
    for (_, node, _) in sorted(all_confirms(pubs, js), key=lambda c: c[2]):
        if not runs or runs[-1][0] != node:
            runs.append([node, 0])
        runs[-1][1] += 1
    return runs


def confirmed_ids(pubs, js):
    ids = []
    for p in pubs:
        ids += p.ids()
    if js:
        ids += js.ids()
    return ids


def scenario_kill_leader(c, args):
    c.start_all()
    declare(c.addresses(), "orders")
    pubs, js = publishers_for(c, "orders")
    cons = [Consumer("c%d" % k, c.addresses(), "orders") for k in range(2)]
    for k in cons:
        k.start()
    failovers = []
    try:
        time.sleep(2)
        for r in range(args.rounds):
            leader, rev = c.etcd_leader()
            before = len(confirmed_ids(pubs, js))
            time.sleep(1.0)
            t_kill = time.time()
            c.kill(leader)
            new = c.wait_leader(30, exclude=leader, min_revision=rev)
            # the first publish confirmed by the new leader
            label = "warren@n%d" % (new + 1)
            first = wait_for(lambda: min([t for (_, node, t) in all_confirms(pubs, js)
                                          if node == label and t > t_kill] or [0]) or None,
                             30, "a confirm from the new leader")
            failovers.append(first - t_kill)
            note("round %d: killed n%d, n%d leads, first confirm after %.2f s; %d confirmed so "
                 "far" % (r + 1, leader + 1, new + 1, first - t_kill,
                          len(confirmed_ids(pubs, js))))
            check(len(confirmed_ids(pubs, js)) > before, "publishing goes on")
            c.start(leader)
            c.wait_in_sync(["n%d" % (leader + 1)], 60)
        time.sleep(1)
    finally:
        stop_publishers(pubs, js)
        for k in cons:
            k.stop()
    confirmed = confirmed_ids(pubs, js)
    rest = drain(c.addresses(), "orders")
    delivered = set(rest)
    for k in cons:
        delivered |= set(k.ids())
    redelivered = sum(1 for k in cons for (_, red) in k.delivered if red)
    note("%d confirmed (%d by amqplib), %d delivered (%d redelivered), %d left at the end" %
         (len(confirmed), len(js.ids()) if js else 0, len(delivered), redelivered, len(rest)))
    check_no_loss(confirmed, delivered, "kill -9 the leader")
    for p in pubs:
        check(p.confirmed and p.confirmed[-1][2] > t_kill, "pika %s went on after the last kill"
              % p.name_)
    if js:
        check(js.confirmed and js.confirmed[-1][2] > t_kill, "amqplib went on after the last kill")
    check_never_two_leaders(c)
    check_confirm_runs(pubs, js, args.rounds + 1)
    failovers.sort()
    note("failover (kill -9 to the first confirm by the new leader): median %.2f s, max %.2f s"
         % (failovers[len(failovers) // 2], failovers[-1]))


def scenario_partition(c, args):
    if not c.netns:
        note("SKIP: partitions need network namespaces (run as root)")
        sys.exit(77)
    c.start_all()
    declare(c.addresses(), "events")
    pubs, js = publishers_for(c, "events")
    try:
        time.sleep(2)
        leader, rev = c.etcd_leader()
        t_cut = time.time()
        c.partition(leader)
        note("n%d cut off at %.3f" % (leader + 1, t_cut))
        new = c.wait_leader(40, exclude=leader, min_revision=rev)
        wait_for(lambda: grep(c, leader, "steps down"), 30, "the old leader to step down")
        note("n%d leads; the old leader stepped down: %s" % (new + 1,
                                                             grep(c, leader, "steps down")[0][:80]))
        time.sleep(2)
        c.heal(leader)
        wait_for(lambda: [line for line in c.log_lines(leader)
                          if "following leader n%d" % (new + 1) in line], 40,
                 "the old leader to follow the new one")
        c.wait_in_sync(["n%d" % (leader + 1)], 60)
        time.sleep(1)
    finally:
        stop_publishers(pubs, js)
    spans = check_never_two_leaders(c)
    note("serving intervals: %s" % [(round(a, 3), round(b, 3), "n%d" % (i + 1))
                                    for a, b, i in spans])
    # the publishers' side: the old leader's confirms, then the new leader's, never mixed
    runs = check_confirm_runs(pubs, js, 2)
    note("confirms by serving node, in order: %s" % runs)
    label = "warren@n%d" % (new + 1)
    first = min([t for (_, node, t) in all_confirms(pubs, js) if node == label and t > t_cut]
                or [0])
    if first:
        note("from the cut to the first confirm by the new leader: %.2f s" % (first - t_cut))
    confirmed = confirmed_ids(pubs, js)
    delivered = drain(c.addresses(), "events")
    note("%d confirmed, %d delivered" % (len(confirmed), len(delivered)))
    check_no_loss(confirmed, delivered, "partition")


def scenario_follower(c, args):
    c.start_all()
    declare(c.addresses(), "jobs")
    leader, _ = c.etcd_leader()
    follower = (leader + 1) % 3
    pubs, js = publishers_for(c, "jobs", n_pika=2)
    try:
        time.sleep(2)
        c.kill(follower)
        note("killed follower n%d" % (follower + 1))
        before = len(confirmed_ids(pubs, js))
        time.sleep(2)
        check(len(confirmed_ids(pubs, js)) > before, "publishing goes on without the follower")
        wait_for(lambda: "n%d" % (follower + 1) not in c.insync(), 10,
                 "the dead follower to leave the in-sync set")
        c.start(follower)
        t0 = time.time()
        c.wait_in_sync(["n%d" % (follower + 1)], 60)
        note("n%d back in sync after %.2f s while publishing went on" % (follower + 1,
                                                                        time.time() - t0))
        before = len(confirmed_ids(pubs, js))
        time.sleep(1)
        check(len(confirmed_ids(pubs, js)) > before, "publishing goes on")
    finally:
        stop_publishers(pubs, js)
    confirmed = confirmed_ids(pubs, js)
    # the follower's copy is whole: make it the leader and read everything from it
    c.kill(leader)
    new = c.wait_leader(30, exclude=leader)
    note("n%d leads after the old leader was killed" % (new + 1))
    delivered = drain(c.addresses(), "jobs")
    note("%d confirmed, %d delivered" % (len(confirmed), len(delivered)))
    check_no_loss(confirmed, delivered, "follower kill and return")


def scenario_restart(c, args):
    c.start_all()
    declare(c.addresses(), "keep")
    pubs, js = publishers_for(c, "keep", n_pika=2)
    time.sleep(3)
    stop_publishers(pubs, js)
    confirmed = confirmed_ids(pubs, js)
    leader, _ = c.etcd_leader()
    for i in range(3):
        c.stop(i)
    note("stopped all three (leader was n%d); %d confirmed" % (leader + 1, len(confirmed)))
    for i in (2, 1, 0):
        c.start(i)
        time.sleep(0.3)
    new = c.wait_leader(30)
    c.wait_settled(40)
    note("restarted: n%d leads" % (new + 1))
    n = depth(c.addresses(), "keep")
    check(n is not None and n >= len(confirmed), "the queue holds %s of %d" % (n, len(confirmed)))
    delivered = drain(c.addresses(), "keep")
    check_no_loss(confirmed, delivered, "whole-cluster restart")
    check_never_two_leaders(c)


def scenario_join(c, args):
    c.start(0)
    c.start(1)
    c.wait_leader(20)
    c.wait_in_sync(["n1", "n2"], 20)
    declare(c.addresses()[:2], "bulk")
    leader, _ = c.etcd_leader()
    body = os.urandom(64 * 1024)
    target = args.sync_mb << 20
    conn = pika.BlockingConnection(pika.ConnectionParameters(c.ip(leader), 5672, heartbeat=30))
    ch = conn.channel()
    ch.confirm_delivery()
    sent = 0
    t0 = time.time()
    while sent < target:
        ch.basic_publish("", "bulk", body, pika.BasicProperties(delivery_mode=2))
        sent += len(body)
    conn.close()
    note("published %d MB in %.1f s" % (sent >> 20, time.time() - t0))
    t0 = time.time()
    c.start(2)
    c.wait_in_sync(["n3"], max(60, args.sync_mb / 5))
    took = time.time() - t0
    synced = [line for line in c.log_lines(2) if "sync from leader" in line and "done" in line]
    note("n3 in sync after %.2f s (%.1f MB/s): %s" % (took, (sent >> 20) / took,
                                                      synced[0][24:] if synced else "?"))
    msgs_l = os.path.join(c.data_dir(leader), "msgs")
    msgs_3 = os.path.join(c.data_dir(2), "msgs")
    same = sorted(os.listdir(msgs_3)) and all(
        open(os.path.join(msgs_3, f), "rb").read() ==
        open(os.path.join(msgs_l, f), "rb").read()[:os.path.getsize(os.path.join(msgs_3, f))]
        for f in os.listdir(msgs_3))
    check(same, "n3's segments are the leader's bytes")
    n = depth(c.addresses(), "bulk")
    check(n == sent // len(body), "all %d messages there: %s" % (sent // len(body), n))


def scenario_disk_full(c, args):
    if os.geteuid() != 0:
        note("SKIP: a small tmpfs for the follower's data needs root")
        sys.exit(77)
    full = 2
    mnt = c.data_dir(full)
    os.makedirs(mnt, exist_ok=True)
    harness.run("mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", mnt)
    c.cleanups.append(lambda: harness.run("umount", "-l", mnt, check=False))
    c.start_all()
    declare(c.addresses(), "big")
    pubs, js = publishers_for(c, "big", n_pika=3, with_amqplib=False, pad=2048)
    try:
        wait_for(lambda: grep(c, full, "disk full") or grep(c, full, "No space left"), 60,
                 "the follower to run out of disk")
        note("n%d ran out of space: %s" % (full + 1, (grep(c, full, "disk full") or
                                                    grep(c, full, "No space"))[0][24:140]))
        wait_for(lambda: "n%d" % (full + 1) not in c.insync(), 15,
                 "the full follower to leave the in-sync set")
        before = len(confirmed_ids(pubs, js))
        time.sleep(2)
        check(len(confirmed_ids(pubs, js)) > before,
              "the leader keeps confirming with the other follower")
        note("n%d left the in-sync set; confirms go on (%d more in 2 s)" %
             (full + 1, len(confirmed_ids(pubs, js)) - before))
        harness.run("mount", "-o", "remount,size=512m", mnt)
        t0 = time.time()
        c.wait_in_sync(["n%d" % (full + 1)], 60)
        note("space returned: n%d back in sync after %.1f s" % (full + 1, time.time() - t0))
    finally:
        stop_publishers(pubs, js)
    confirmed = confirmed_ids(pubs, js)
    delivered = drain(c.addresses(), "big", timeout=180)
    note("%d confirmed, %d delivered" % (len(confirmed), len(delivered)))
    check_no_loss(confirmed, delivered, "disk full on a follower")


def make_certs(d, name):
    """A CA and a certificate it signed, with openssl(1)."""
    def ossl(*a):
        harness.run("openssl", *a)
    ca_key, ca = os.path.join(d, name + "-ca.key"), os.path.join(d, name + "-ca.pem")
    key, csr = os.path.join(d, name + ".key"), os.path.join(d, name + ".csr")
    cert = os.path.join(d, name + ".pem")
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
         "-days", "2", "-subj", "/CN=%s test CA" % name)
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj",
         "/CN=warren-node")
    ossl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out",
         cert, "-days", "2")
    return ca, cert, key


def scenario_tls(c, args):
    ca, cert, key = make_certs(c.dir, "good")
    other_ca, _, _ = make_certs(c.dir, "other")
    tls = ["clustering.ssl=true", "ssl_options.certfile=" + cert, "ssl_options.keyfile=" + key,
           "ssl_options.cacertfile=" + ca]
    c.extra += tls
    c.start_all()
    leader = c.wait_leader(20)
    check(grep(c, leader, "TLS on the replication port"), "the leader serves TLS")
    declare(c.addresses(), "secure")
    pubs, js = publishers_for(c, "secure", n_pika=1, with_amqplib=False)
    time.sleep(2)
    stop_publishers(pubs, js)
    confirmed = confirmed_ids(pubs, js)
    check(confirmed, "confirms through a TLS replication stream")
    # a follower that does not trust the leader's CA never follows it
    f = (leader + 1) % 3
    c.stop(f)
    c.start(f, extra=["ssl_options.cacertfile=" + other_ca])
    wait_for(lambda: grep(c, f, "TLS handshake"), 15, "the follower's handshake failure line")
    note("a follower with another CA: %s" % grep(c, f, "TLS handshake")[0][24:150])
    check("n%d" % (f + 1) not in c.insync(), "it is not in sync")
    c.stop(f)
    c.start(f)
    c.wait_in_sync(["n%d" % (f + 1)], 30)
    delivered = drain(c.addresses(), "secure")
    check_no_loss(confirmed, delivered, "TLS replication")
    note("%d confirmed and delivered over TLS replication" % len(confirmed))


def stream_files(c, i):
    """Node i's streams' files: path under streams/ -> bytes."""
    root = os.path.join(c.data_dir(i), "streams")
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = fh.read()
    return out


def publish_stream(c, i, queue, first, n):
    conn = pika.BlockingConnection(pika.ConnectionParameters(c.ip(i), 5672, heartbeat=10))
    ch = conn.channel()
    ch.queue_declare(queue, durable=True, arguments={"x-queue-type": "stream"})
    ch.confirm_delivery()
    for k in range(first, first + n):
        body = ("s-%d " % k).encode() + b"x" * (k % 700)
        ch.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2))
    conn.close()
    return ["s-%d" % k for k in range(first, first + n)]


def scenario_stream(c, args):
    """Streams keep their messages in logs of their own (streams/<id>/): they replicate too.
    A follower that joins late gets the files that exist already; a new leader reads every
    confirmed message in order; a deleted stream's files go from every node."""
    c.start(0)
    c.start(1)
    leader = c.wait_leader(20)
    c.wait_in_sync(["n1", "n2"], 20)
    sent = publish_stream(c, 1 - leader, "events-stream", 0, 1500)
    note("1500 messages confirmed into a stream through follower n%d" % (2 - leader))
    # n3 joins late: the catch-up brings the stream's files as they are
    c.start(2)
    c.wait_in_sync(["n3"], 30)
    files = wait_for(lambda: stream_files(c, 2) == stream_files(c, leader) and
                     stream_files(c, 2), 10, "n3's streams' files to be the leader's")
    note("n3 joined late and holds the leader's %d stream files (%d bytes)" %
         (len(files), sum(len(v) for v in files.values())))
    sent += publish_stream(c, 2, "events-stream", 1500, 1500)
    note("1500 more confirmed through n3")
    rev = c.etcd_leader()[1]
    c.kill(leader)
    new = c.wait_leader(30, exclude=leader, min_revision=rev)
    note("killed n%d; n%d leads" % (leader + 1, new + 1))
    conn = pika.BlockingConnection(pika.ConnectionParameters(c.ip(new), 5672, heartbeat=10))
    ch = conn.channel()
    ch.basic_qos(prefetch_count=500)
    got = []
    for method, _, body in ch.consume("events-stream", inactivity_timeout=2,
                                      arguments={"x-stream-offset": "first"}):
        if method is None:
            break
        got.append(body.split(b" ", 1)[0].decode())
        ch.basic_ack(method.delivery_tag)
        if len(got) == len(sent):
            break
    conn.close()
    check(got == sent, "the new leader's stream has the %d confirmed messages in order (got %d)"
          % (len(sent), len(got)))
    note("all %d read back from the new leader, in order" % len(got))
    # the killed node comes back and follows: its stream files become the leader's
    c.start(leader)
    c.wait_in_sync(["n%d" % (leader + 1)], 40)
    wait_for(lambda: all(stream_files(c, i) == stream_files(c, new) for i in range(3)), 10,
             "every node's streams' files to be the leader's")
    note("n%d rejoined; the three nodes' stream files are the same" % (leader + 1))
    # deleted: the files and the stream's directory go everywhere
    dirs = {os.path.dirname(f) for f in stream_files(c, new)}
    conn = pika.BlockingConnection(pika.ConnectionParameters(c.ip(leader), 5672, heartbeat=10))
    conn.channel().queue_delete("events-stream")
    conn.close()
    wait_for(lambda: not any(os.path.exists(os.path.join(c.data_dir(i), "streams", d))
                             for i in range(3) for d in dirs), 10,
             "the deleted stream's files to go from every node")
    note("the deleted stream's files went from all three nodes")


SCENARIOS = {
    "election": scenario_election,
    "etcd-down": scenario_etcd_down,
    "kill-leader": scenario_kill_leader,
    "partition": scenario_partition,
    "follower": scenario_follower,
    "restart": scenario_restart,
    "join": scenario_join,
    "disk-full": scenario_disk_full,
    "tls": scenario_tls,
    "stream": scenario_stream,
}


def main():
    if not harness.shutil.which("etcd") and not os.path.exists(harness.ETCD_BIN):
        note("SKIP: etcd is not installed (Debian's etcd-server)")
        sys.exit(77)
    ap = argparse.ArgumentParser()
    ap.add_argument("warren")
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sync-mb", type=int, default=32)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--loopback", action="store_true", help="no network namespaces")
    args = ap.parse_args()
    etcd_members = 3 if args.scenario == "partition" else 1
    c = harness.Cluster(args.warren, etcd_members=etcd_members, keep=args.keep,
                        netns=False if args.loopback else None)
    note("cluster in %s (%s)" % (c.dir, "network namespaces" if c.netns else "loopback addresses"))
    ok = False
    try:
        SCENARIOS[args.scenario](c, args)
        for i in range(c.node_count):
            c.stop(i)  # a clean stop: a sanitizer build reports leaks now
        reports = c.sanitizer_reports()
        check(not reports, "sanitizer reports: %s" % reports[:5])
        ok = True
    finally:
        if not ok:
            c.keep = True
            note("FAILED: logs kept in %s" % c.dir)
        c.close()
    note("PASS %s" % args.scenario)


if __name__ == "__main__":
    main()
