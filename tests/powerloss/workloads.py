"""The workloads of the power-loss test. Each drives a recorded broker through real AMQP traffic
and appends MARK entries to the recorder's log at the moments its client learns something:

  {"confirmed": [ids], "settled": [[id, queue], ...]}   publisher confirms (basic.ack) arrived
  {"acksent": [[id, queue], ...]}         written *before* those acks go to the socket
  {"declared": [[kind, name], ...]}       declare-ok arrived (kind: queue | exchange)
  {"bound": [[exchange, queue, key]]}     bind-ok arrived
  {"unbinding": [[exchange, queue, key]]} written before the unbind is sent
  {"deleting": [[kind, name, gen]]}       written before the delete is sent
  {"deleted": [[kind, name, gen]]}        delete-ok arrived

A message is published once with a unique id at the front of its body; `Recording.msgs` says where
it may be: a list of slots, each a list of [queue, gen] pairs it may be found in (a fanout copy per
queue is one slot each; a message that can be dead-lettered from A to B is one slot [A, B]). `gen`
counts how many times that queue name was declared after a delete.

Streams keep their own table: `Recording.streams` names each stream's directory and
`Recording.offsets` the offset each message was read back at while the workload ran (a stream
consumer in the workload reads everything, as a client would). A stream message's slot is the
stream; acks do not remove anything from a stream.

An ack is *settled* when a publish sent after the ack was proven processed (the reply to a later
basic.qos on the same channel arrived) has been confirmed: Warren appends the dequeue record when
it handles the ack and its group commits complete in order, so that confirm proves the dequeue
durable (tests/durability/README.md explains the same rule for kill -9). Settled copies must never
come back.
"""
import collections
import hashlib
import json
import os
import select
import struct
import time

import amqp_mini as amqp
import crashfs


class Recording:
    def __init__(self, log_path):
        self.fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.msgs = {}     # id -> {"slots": [[[q, gen], ...], ...], "body": bytes}
        self.queues = set()  # every queue name the workload touched
        self.gen = collections.Counter()
        self.sent = 0      # publishes handed to sockets so far (the stamp of the next one)
        self.acked_pending = []  # (stamp at qos-ok, [(id, q), ...]) not yet settled
        self.counts = collections.Counter()
        self.streams = {}  # stream name -> [{"gen": g, "trim": retention on}], per declare
        self.offsets = {}  # id -> offset it was read back at (stream messages)

    def mark(self, **kw):
        os.write(self.fd, crashfs.mark_bytes(json.dumps(kw, separators=(",", ":"))))

    def body(self, mid, size):
        b = mid.encode()
        pad = hashlib.sha256(b).digest()
        return b + b"|" + (pad * (size // 32 + 1))[:size]

    def new_message(self, mid, slots, size):
        body = self.body(mid, size)
        self.msgs[mid] = {"slots": [[[q, self.gen[q]] for q in slot] for slot in slots],
                          "body": body}
        for slot in slots:
            self.queues.update(slot)
        return body

    def acks_processed(self, pairs):
        """The reply to a basic.qos sent after these acks arrived."""
        if pairs:
            self.acked_pending.append((self.sent, pairs))

    def confirmed(self, ids, stamps):
        """Confirms arrived for ids, published with these send stamps."""
        top = max(stamps) if stamps else -1
        settled, keep = [], []
        for stamp, pairs in self.acked_pending:
            (settled if stamp < top else keep).append((stamp, pairs))
        self.acked_pending = keep
        flat = [list(p) for _, pairs in settled for p in pairs]
        self.mark(confirmed=ids, settled=flat)
        self.counts["confirmed"] += len(ids)
        self.counts["settled"] += len(flat)


class Publisher:
    """One connection in confirm mode with a window of unconfirmed publishes."""

    def __init__(self, port, rec, window=16):
        self.c = amqp.Conn(port)
        self.c.confirm_select()
        self.rec = rec
        self.window = window
        self.next_tag = 1
        self.unconfirmed = collections.OrderedDict()  # tag -> (id, stamp)

    def can_send(self):
        return len(self.unconfirmed) < self.window

    def publish(self, exchange, key, mid, slots, size=60, headers=None, persistent=True):
        body = self.rec.new_message(mid, slots, size)
        self.c.send(amqp.Conn.publish_frames(exchange, key, body,
                                             amqp.props(persistent, headers)))
        self.unconfirmed[self.next_tag] = (mid, self.rec.sent)
        self.rec.sent += 1
        self.next_tag += 1

    def on_events(self):
        ids, stamps = [], []
        while self.c.events:
            ev = self.c.events.popleft()
            if ev[0] != "method" or ev[2] != 60 or ev[3] not in (80, 120):
                continue
            tag, bits = struct.unpack_from("!QB", ev[4], 4)
            tags = [t for t in self.unconfirmed if t <= tag] if bits & 1 else [tag]
            for t in tags:
                mid, stamp = self.unconfirmed.pop(t)
                if ev[3] == 80:
                    ids.append(mid)
                    stamps.append(stamp)
                else:
                    self.rec.counts["nacked"] += 1
        if ids:
            self.rec.confirmed(ids, stamps)

    def drain(self, timeout=3.0):
        deadline = time.monotonic() + timeout
        while self.unconfirmed and time.monotonic() < deadline:
            self.c.fill(0.05)
            self.on_events()


class Consumer:
    """Consumes queues on one channel; acks (or rejects) what it holds when step() is called,
    then proves the acks processed with a basic.qos round trip."""

    def __init__(self, port, rec, queues, prefetch=20, reject=(), requeue=None):
        self.c = amqp.Conn(port)
        self.rec = rec
        self.held = []  # (tag, id, queue)
        self.reject = set(reject)  # queues whose deliveries are rejected (dead-lettered)
        self.requeue = dict(requeue or {})  # queue -> share of its deliveries sent back
        self.prefetch = prefetch
        self.c.qos(prefetch)
        for q in queues:
            self.c.consume(q, q)

    def on_events(self):
        keep = collections.deque()
        while self.c.events:
            ev = self.c.events.popleft()
            if ev[0] == "deliver":
                _, _, ctag, tag, _, _, body = ev
                self.held.append((tag, body.split(b"|", 1)[0].decode(), ctag))
            else:
                keep.append(ev)
        self.c.events.extend(keep)

    def step(self, rng, fraction=0.7):
        if not self.held:
            return
        n = max(1, int(len(self.held) * fraction))
        take, self.held = self.held[:n], self.held[n:]
        back = {tag for tag, _, q in take if rng.random() < self.requeue.get(q, 0)}
        acks = [(mid, q) for tag, mid, q in take if q not in self.reject and tag not in back]
        if acks:
            self.rec.mark(acksent=[list(a) for a in acks])
            self.rec.counts["acked"] += len(acks)
        frames = [amqp.Conn.reject_frame(tag, tag in back) if q in self.reject or tag in back
                  else amqp.Conn.ack_frame(tag) for tag, _, q in take]
        self.rec.counts["requeued"] += len(back)
        self.rec.counts["rejected"] += len(take) - len(acks) - len(back)
        self.c.send(b"".join(frames))
        keep = []
        self.c.qos(self.prefetch, keep=keep)
        self.c.events.extend(keep)
        self.on_events()
        self.rec.acks_processed(acks)


class StreamReader:
    """Reads streams from their first offset on one channel (prefetch as credit, acks given
    back as it goes), recording the offset each message was delivered at."""

    def __init__(self, port, rec, streams, prefetch=40):
        self.c = amqp.Conn(port)
        self.rec = rec
        self.c.qos(prefetch)
        self.last = {}  # stream -> the last offset read
        for q in streams:
            self.c.consume(q, q, args={"x-stream-offset": "first"})

    def on_events(self):
        keep = collections.deque()
        tag = None
        while self.c.events:
            ev = self.c.events.popleft()
            if ev[0] != "deliver":
                keep.append(ev)
                continue
            _, _, q, tag, _, props, body = ev
            off = amqp.headers_of(props)["x-stream-offset"]
            mid = body.split(b"|", 1)[0].decode()
            prev = self.last.get(q)
            if prev is not None and off != prev + 1:
                # retention can move a reader on past what it dropped; nothing else can
                self.rec.counts["stream_skips"] += 1
            self.last[q] = off
            self.rec.offsets[mid] = off
            self.rec.counts["read"] += 1
        self.c.events.extend(keep)
        if tag is not None:
            self.c.send(amqp.Conn.ack_frame(tag, multiple=True))


def declare_stream(rec, c, name, args):
    declare(rec, c, "queue", name, args=dict(args, **{"x-queue-type": "stream"}))
    rec.streams.setdefault(name, []).append({"gen": rec.gen[name],
                                             "trim": "x-max-length-bytes" in args})


def pump(conns, wait):
    """Reads whatever the connections have (waiting up to `wait` for the first bytes)."""
    socks = {c.c.sock: c for c in conns}
    r, _, _ = select.select(list(socks), [], [], wait)
    for s in r:
        socks[s].c.fill(0)
    for c in conns:
        c.on_events()


def declare(rec, c, what, name, **kw):
    """what: queue | exchange (then kw has the exchange type as `kind`)."""
    if what == "queue":
        c.declare_queue(name, **kw)
        rec.queues.add(name)
    else:
        c.declare_exchange(name, **kw)
    rec.mark(declared=[[what, name]])
    rec.counts["declared"] += 1


def run_publishing(rec, port, rng, n):
    """Confirmed persistent publishing to three durable queues (one message in four through a
    durable fanout into two of them) while a consumer acks."""
    setup = amqp.Conn(port)
    qs = ["pub.q0", "pub.q1", "pub.q2"]
    declare(rec, setup, "exchange", "pub.fan", kind="fanout")
    for q in qs:
        declare(rec, setup, "queue", q)
    for q in qs[:2]:
        setup.bind(q, "pub.fan", "")
        rec.mark(bound=[["pub.fan", q, ""]])
    pubs = [Publisher(port, rec), Publisher(port, rec)]
    cons = Consumer(port, rec, qs)
    for i in range(n):
        p = pubs[i % 2]
        while not p.can_send():
            pump(pubs + [cons], 0.05)
        mid = "pub-%05d" % i
        if i % 4 == 0:
            p.publish("pub.fan", "", mid, [[qs[0]], [qs[1]]], size=rng.randrange(10, 700))
        else:
            q = qs[i % 3]
            p.publish("", q, mid, [[q]], size=rng.randrange(10, 700))
        pump(pubs + [cons], 0)
        if i % 7 == 6:
            cons.step(rng)
    for p in pubs:
        p.drain()
    cons.step(rng, 1.0)
    for p in pubs:
        p.drain()
    for x in pubs + [cons]:
        x.c.close()
    setup.close()


def run_topology(rec, port, rng, n):
    """Declares, binds, unbinds and deletes of durable exchanges and queues (each one rewrites
    the definitions file), with confirmed publishes through the bindings; deleted queue names
    are declared again later."""
    c = amqp.Conn(port)
    pub = Publisher(port, rec, window=8)
    live = []
    seq = 0
    for i in range(n):
        x, q = "top.x%d" % (i % 5), "top.q%d" % (i % 4)
        key = "to-" + q  # one queue per (exchange, key): a publish's destination is known
        declare(rec, c, "exchange", x, kind="direct")
        declare(rec, c, "queue", q)
        c.bind(q, x, key)
        rec.mark(bound=[[x, q, key]])
        live.append((x, q, key))
        for _ in range(rng.randrange(1, 4)):
            mid = "top-%05d" % seq
            seq += 1
            pub.publish(x, key, mid, [[q]], size=rng.randrange(10, 300))
            while not pub.can_send():
                pump([pub], 0.05)
        pump([pub], 0)
        r = rng.random()
        if r < 0.55:
            # the publishes (on another connection) must be routed before the routing changes
            pub.drain()
        if r < 0.25 and live:
            bx, bq, bk = live.pop(rng.randrange(len(live)))
            rec.mark(unbinding=[[bx, bq, bk]])
            c.unbind(bq, bx, bk)
        elif r < 0.45:
            gen = rec.gen[q]
            rec.mark(deleting=[["queue", q, gen]])
            c.delete_queue(q)
            rec.gen[q] += 1
            rec.mark(deleted=[["queue", q, gen]])
            live = [b for b in live if b[1] != q]
            if rng.random() < 0.6:
                # the same name again at once: the deleted queue's messages must stay gone
                declare(rec, c, "queue", q)
                c.bind(q, x, key)
                rec.mark(bound=[[x, q, key]])
                live.append((x, q, key))
        elif r < 0.55:
            rec.mark(deleting=[["exchange", x, 0]])
            c.delete_exchange(x)
            rec.mark(deleted=[["exchange", x, 0]])
            live = [b for b in live if b[0] != x]
    pub.drain()
    pub.c.close()
    c.close()


def run_deadletter(rec, port, rng, n):
    """Dead-lettering between durable queues: dl.work's consumer rejects every delivery (to
    dl.dead through the default exchange), dl.ttl's messages expire after 30 ms (to dl.dead), and
    dl.dead's consumer acks."""
    c = amqp.Conn(port)
    declare(rec, c, "queue", "dl.dead")
    declare(rec, c, "queue", "dl.work", args={"x-dead-letter-exchange": "",
                                              "x-dead-letter-routing-key": "dl.dead"})
    declare(rec, c, "queue", "dl.ttl", args={"x-dead-letter-exchange": "",
                                             "x-dead-letter-routing-key": "dl.dead",
                                             "x-message-ttl": 30})
    pub = Publisher(port, rec)
    work = Consumer(port, rec, ["dl.work"], reject=["dl.work"])
    dead = Consumer(port, rec, ["dl.dead"])
    for i in range(n):
        while not pub.can_send():
            pump([pub, work, dead], 0.05)
        mid = "dl-%05d" % i
        q = "dl.ttl" if i % 3 == 0 else "dl.work"
        pub.publish("", q, mid, [[q, "dl.dead"]], size=rng.randrange(10, 400))
        pump([pub, work, dead], 0)
        if i % 5 == 4:
            work.step(rng, 1.0)
        if i % 9 == 8:
            dead.step(rng, 0.6)
    pub.drain()
    time.sleep(0.05)
    pump([pub, work, dead], 0.05)
    work.step(rng, 1.0)
    pump([pub, work, dead], 0.05)
    dead.step(rng, 0.5)
    pub.drain()
    for x in (pub, work, dead):
        x.c.close()
    c.close()


def run_delayed(rec, port, rng, n):
    """Persistent messages through a durable x-delayed-message exchange into a durable queue
    (delays of 0-150 ms, so many are routed while the workload runs), with an acking consumer."""
    c = amqp.Conn(port)
    declare(rec, c, "exchange", "dx", kind="x-delayed-message",
            args={"x-delayed-type": "direct"})
    declare(rec, c, "queue", "dx.q")
    c.bind("dx.q", "dx", "k")
    rec.mark(bound=[["dx", "dx.q", "k"]])
    pub = Publisher(port, rec)
    cons = Consumer(port, rec, ["dx.q"])
    for i in range(n):
        while not pub.can_send():
            pump([pub, cons], 0.05)
        pub.publish("dx", "k", "dx-%05d" % i, [["dx.q"]], size=rng.randrange(10, 300),
                    headers={"x-delay": rng.randrange(0, 150)})
        pump([pub, cons], 0.005)
        if i % 6 == 5:
            cons.step(rng, 0.5)
    pub.drain()
    time.sleep(0.2)
    pump([pub, cons], 0.05)
    cons.step(rng, 0.5)
    pub.drain()
    for x in (pub, cons):
        x.c.close()
    c.close()


def run_compaction(rec, port, rng, n):
    """With 4 KiB segments: a few messages stay queued in cmp.keep while cmp.churn's traffic is
    acked, so segments roll, fill with dead records, are compacted (the kept messages are moved
    forward) and deleted while the workload runs."""
    c = amqp.Conn(port)
    declare(rec, c, "queue", "cmp.keep")
    declare(rec, c, "queue", "cmp.churn")
    pub = Publisher(port, rec, window=8)
    cons = Consumer(port, rec, ["cmp.churn"], prefetch=50)
    for i in range(n):
        while not pub.can_send():
            pump([pub, cons], 0.05)
        if i % 40 == 0:
            pub.publish("", "cmp.keep", "cmp-%05d" % i, [["cmp.keep"]], size=200)
        else:
            pub.publish("", "cmp.churn", "cmp-%05d" % i, [["cmp.churn"]],
                        size=rng.randrange(50, 400))
        pump([pub, cons], 0)
        if i % 4 == 3:
            cons.step(rng, 1.0)
    pub.drain()
    pump([pub, cons], 0.05)
    cons.step(rng, 1.0)
    pub.drain()
    # then the kept messages are acked too: every old segment is dead at once and one pass
    # deletes them all; a last confirmed publish settles those acks
    keep = Consumer(port, rec, ["cmp.keep"], prefetch=100)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and len(keep.held) < n // 40:
        pump([keep], 0.05)
    keep.step(rng, 1.0)
    for i in range(3):
        pub.publish("", "cmp.churn", "cmp-end-%d" % i, [["cmp.churn"]], size=100)
        pub.drain()
        pump([pub, cons, keep], 0.02)
    cons.step(rng, 1.0)
    pub.drain()
    for x in (pub, cons, keep):
        x.c.close()
    c.close()


def run_stream(rec, port, rng, n):
    """Confirmed publishing by three publishers into durable streams with 4 KiB segments, read
    back from the first offset while it runs: st.keep keeps everything (segments roll), st.trim
    keeps about 16 KiB (x-max-length-bytes: old segments are deleted while publishing goes on),
    and st.again is deleted half-way and declared again under its name."""
    c = amqp.Conn(port)
    seg = {"x-stream-max-segment-size-bytes": 4096}
    declare_stream(rec, c, "st.keep", seg)
    declare_stream(rec, c, "st.trim", dict(seg, **{"x-max-length-bytes": 16384}))
    declare_stream(rec, c, "st.again", seg)
    pubs = [Publisher(port, rec, window=8) for _ in range(3)]
    reader = StreamReader(port, rec, ["st.keep", "st.trim", "st.again"])
    for i in range(n):
        p = pubs[i % 3]
        while not p.can_send():
            pump(pubs + [reader], 0.05)
        r = rng.random()
        q = "st.keep" if r < 0.45 else "st.trim" if r < 0.9 else "st.again"
        p.publish("", q, "st-%05d" % i, [[q]], size=rng.randrange(20, 600))
        pump(pubs + [reader], 0)
        if i == n // 2:
            for x in pubs:
                x.drain()
            gen = rec.gen["st.again"]
            rec.mark(deleting=[["queue", "st.again", gen]])
            c.delete_queue("st.again")
            rec.gen["st.again"] += 1
            rec.mark(deleted=[["queue", "st.again", gen]])
            declare_stream(rec, c, "st.again", seg)
            keep = []
            reader.c.consume("st.again", "st.again", args={"x-stream-offset": "first"},
                             keep=keep)
            reader.c.events.extend(keep)
    for p in pubs:
        p.drain()
    # the reader reads to the end, so every message's offset is known
    deadline = time.monotonic() + 3
    seen = -1
    while time.monotonic() < deadline and rec.counts["read"] != seen:
        seen = rec.counts["read"]
        pump([reader], 0.3)
    for x in pubs + [reader]:
        x.c.close()
    c.close()


def run_quorum(rec, port, rng, n):
    """Quorum queues: confirmed persistent publishing into qq.plain (a consumer acks) and
    qq.work (x-delivery-limit 2: its consumer acks some deliveries and sends the others back,
    so a message sent back three times is dead-lettered to the quorum queue qq.dead, whose
    consumer acks)."""
    c = amqp.Conn(port)
    quorum = {"x-queue-type": "quorum"}
    declare(rec, c, "queue", "qq.dead", args=quorum)
    declare(rec, c, "queue", "qq.work", args=dict(quorum, **{
        "x-delivery-limit": 2, "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "qq.dead"}))
    declare(rec, c, "queue", "qq.plain", args=quorum)
    pubs = [Publisher(port, rec), Publisher(port, rec)]
    work = Consumer(port, rec, ["qq.work"], requeue={"qq.work": 0.6})
    cons = Consumer(port, rec, ["qq.plain", "qq.dead"])
    for i in range(n):
        p = pubs[i % 2]
        while not p.can_send():
            pump(pubs + [work, cons], 0.05)
        if i % 3 == 0:
            p.publish("", "qq.plain", "qq-%05d" % i, [["qq.plain"]], size=rng.randrange(10, 500))
        else:
            p.publish("", "qq.work", "qq-%05d" % i, [["qq.work", "qq.dead"]],
                      size=rng.randrange(10, 500))
        pump(pubs + [work, cons], 0)
        if i % 4 == 3:
            work.step(rng, 1.0)
        if i % 7 == 6:
            cons.step(rng, 0.7)
    for p in pubs:
        p.drain()
    for _ in range(4):
        pump(pubs + [work, cons], 0.05)
        work.step(rng, 1.0)
    pump(pubs + [work, cons], 0.05)
    cons.step(rng, 1.0)
    for p in pubs:
        p.publish("", "qq.plain", "qq-end-%d" % pubs.index(p), [["qq.plain"]], size=50)
        p.drain()
    for x in pubs + [work, cons]:
        x.c.close()
    c.close()


WORKLOADS = {
    # name: (function, messages in the quick run, extra broker settings, recorder settings[,
    #        share of --max-points it checks: the stream workload's states take longer])
    "publishing": (run_publishing, 240, [], {}),
    # a slow fdatasync lets a definitions save overtake a sync of the log in flight
    "topology": (run_topology, 36, [], {"WARREN_RECORD_FDATASYNC_DELAY_US": "20000"}),
    "deadletter": (run_deadletter, 150, [], {}),
    "delayed": (run_delayed, 90, [], {}),
    "compaction": (run_compaction, 320, ["msg_store_file_size_limit=4096"], {}),
    "stream": (run_stream, 300, [], {}, 0.3),
    "quorum": (run_quorum, 200, [], {}, 0.5),
}
