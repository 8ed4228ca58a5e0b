"""Queue feature scenarios driven by pika: priorities, TTL, length limits, dead-lettering, single
active consumer, consumer priorities, and Warren's delivery limit, delayed exchange and per-queue
consumer timeout (warren_only).

Expectations come from /work/shared/reference/rabbitmq-semantics.md sections 0, 2, 3, 4 and 6 and
were checked against RabbitMQ 3.10.8. Imported by conformance/pika/scenarios.py (so run.sh runs
them), or run alone: /usr/bin/python3 conformance/pika/queue_features.py
"""

import base64
import datetime
import json
import os
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import pika  # noqa: E402
from pika import exceptions as pex  # noqa: E402

from harness import (URL, USER, VHOST, Failure, check, eq, main, scenario,  # noqa: E402
                     unique, url_parts)

# Policies are set through the management HTTP API: CONFORMANCE_MGMT_URL (e.g.
# http://127.0.0.1:15672), or the dev RabbitMQ's when URL is the dev RabbitMQ. Without one the
# policy scenarios are not registered.
MGMT_URL = os.environ.get("CONFORMANCE_MGMT_URL") or (
    "http://127.0.0.1:15673" if url_parts()["port"] == 5673 else "")

INVALID_ARG = "PRECONDITION_FAILED - invalid arg '%s' for queue '%s' in vhost '%s': %s"


def qf_connect():
    p = pika.URLParameters(URL)
    p.blocked_connection_timeout = None
    p.socket_timeout = 5
    p.connection_attempts = 1
    return pika.BlockingConnection(p)


class QConn:
    """A connection closed at the end of a with-block; its queues and exchanges are deleted."""

    def __init__(self):
        self.conn = qf_connect()
        self.queues = []
        self.exchanges = []

    def __enter__(self):
        return self

    def channel(self):
        return self.conn.channel()

    def queue(self, ch, **args):
        """A fresh durable-false, non-exclusive queue with x-arguments args."""
        name = unique("qf")
        ch.queue_declare(name, arguments=args or None)
        self.queues.append(name)
        return name

    def exchange(self, ch, kind="fanout", **kw):
        name = unique("qfx")
        ch.exchange_declare(name, kind, **kw)
        self.exchanges.append(name)
        return name

    def __exit__(self, *exc):
        try:
            if self.conn.is_open:
                self.conn.close()
        except Exception:  # noqa: BLE001 - cleanup
            pass
        if not (self.queues or self.exchanges):
            return
        try:
            c = qf_connect()
            ch = c.channel()
            for q in self.queues:
                ch.queue_delete(q)
            for x in self.exchanges:
                ch.exchange_delete(x)
            c.close()
        except Exception:  # noqa: BLE001 - cleanup
            pass


def put(ch, rk, body, exchange="", **props):
    ch.basic_publish(exchange, rk, body.encode(), pika.BasicProperties(**props))


def count(ch, q):
    return ch.queue_declare(q, passive=True).method.message_count


def wait_count(c, ch, q, want, limit=3.0):
    """Poll q's message count until it is want or limit seconds pass; returns the last count."""
    deadline = time.monotonic() + limit
    n = count(ch, q)
    while n != want and time.monotonic() < deadline:
        c.conn.sleep(0.05)
        n = count(ch, q)
    return n


def get(ch, q, auto_ack=True):
    """(method, properties, body-as-str) or None when q is empty."""
    m, p, b = ch.basic_get(q, auto_ack=auto_ack)
    return None if m is None else (m, p, b.decode())


def wait_get(c, ch, q, limit=3.0):
    deadline = time.monotonic() + limit
    while True:
        r = get(ch, q)
        if r is not None or time.monotonic() > deadline:
            return r
        c.conn.sleep(0.05)


def wait_held(c, ch, q, what=None, limit=3.0):
    """basic.get without auto-ack, polling until a message comes; fails after limit seconds."""
    deadline = time.monotonic() + limit
    while True:
        m, p, b = ch.basic_get(q, auto_ack=False)
        if m is not None:
            return m, p, b.decode()
        if time.monotonic() > deadline:
            raise Failure(what or "no message in %s" % q)
        c.conn.sleep(0.05)


def bodies(ch, q):
    out = []
    while True:
        r = get(ch, q)
        if r is None:
            return out
        out.append(r[2])


def channel_error(fn, code, text):
    try:
        fn()
    except pex.ChannelClosedByBroker as e:
        eq((e.reply_code, e.reply_text), (code, text), "channel close")
        return
    raise Failure("expected channel close %d %r, got none" % (code, text))


def deaths(props):
    h = props.headers or {}
    check("x-death" in h, "no x-death header in %r" % (h,))
    return h["x-death"]


def death_summary(props):
    return [(d["queue"], d["reason"], d["count"]) for d in deaths(props)]


# ---------------------------------------------------------------- priorities

PRIORITY_IN = [None, 0, 1, 3, 5, 9, 255, 3]
PRIORITY_OUT = [5, 9, 255, 3, 3, 1, None, 0]


@scenario("a priority queue of max 5 delivers None,0,1,3,5,9,255,3 as 5,9,255,3,3,1,None,0 "
          "under prefetch 1")
def _():
    with QConn() as c:
        ch = c.channel()
        q = c.queue(ch, **{"x-max-priority": 5})
        for i, pr in enumerate(PRIORITY_IN):
            put(ch, q, "%d:%s" % (i, pr), priority=pr)
        eq(wait_count(c, ch, q, 8), 8, "messages ready")
        ch.basic_qos(prefetch_count=1)
        got = []

        def on(chan, m, p, b):
            got.append(p.priority)
            chan.basic_ack(m.delivery_tag)
        ch.basic_consume(q, on)
        deadline = time.monotonic() + 3
        while len(got) < 8 and time.monotonic() < deadline:
            c.conn.process_data_events(time_limit=0.05)
        eq(got, PRIORITY_OUT, "delivered priorities (kept as published)")


@scenario("basic.get from a priority queue takes the highest waiting priority, FIFO within one")
def _():
    with QConn() as c:
        ch = c.channel()
        q = c.queue(ch, **{"x-max-priority": 5})
        for i, pr in enumerate(PRIORITY_IN):
            put(ch, q, "%d" % i, priority=pr)
        eq(wait_count(c, ch, q, 8), 8, "messages ready")
        eq(bodies(ch, q), ["4", "5", "6", "3", "7", "2", "0", "1"], "get order (publish index)")


@scenario("with prefetch 1 priority applies only to messages still waiting in the queue")
def _():
    with QConn() as c:
        ch = c.channel()
        q = c.queue(ch, **{"x-max-priority": 5})
        put(ch, q, "low1")
        put(ch, q, "low2")
        eq(wait_count(c, ch, q, 2), 2, "ready")
        ch.basic_qos(prefetch_count=1)
        got = []
        ch.basic_consume(q, lambda chan, m, p, b: got.append((m.delivery_tag, b.decode())))
        deadline = time.monotonic() + 2
        while not got and time.monotonic() < deadline:
            c.conn.process_data_events(time_limit=0.05)
        eq([b for _, b in got], ["low1"], "first delivery")
        pub = c.conn.channel()
        put(pub, q, "high", priority=5)
        c.conn.sleep(0.3)
        eq([b for _, b in got], ["low1"], "in-flight message is not pre-empted")
        ch.basic_ack(got[0][0])
        deadline = time.monotonic() + 2
        while len(got) < 2 and time.monotonic() < deadline:
            c.conn.process_data_events(time_limit=0.05)
        ch.basic_ack(got[1][0])
        deadline = time.monotonic() + 2
        while len(got) < 3 and time.monotonic() < deadline:
            c.conn.process_data_events(time_limit=0.05)
        eq([b for _, b in got], ["low1", "high", "low2"], "deliveries")


@scenario("a requeued message in a priority queue goes back to its place in the order")
def _():
    with QConn() as c:
        ch = c.channel()
        q = c.queue(ch, **{"x-max-priority": 3})
        for b in ("a", "b", "c"):
            put(ch, q, b, priority=2)
        put(ch, q, "z", priority=1)
        eq(wait_count(c, ch, q, 4), 4, "ready")
        ta = get(ch, q, auto_ack=False)
        tb = get(ch, q, auto_ack=False)
        eq((ta[2], tb[2]), ("a", "b"), "first two gets")
        ch.basic_nack(tb[0].delivery_tag, requeue=True)
        ch.basic_nack(ta[0].delivery_tag, requeue=True)
        eq(bodies(ch, q), ["a", "b", "c", "z"], "order after requeue")


@scenario("a queue without x-max-priority ignores the priority property and stays FIFO")
def _():
    with QConn() as c:
        ch = c.channel()
        q = c.queue(ch)
        for i, pr in enumerate(PRIORITY_IN):
            put(ch, q, str(i), priority=pr)
        eq(wait_count(c, ch, q, 8), 8, "ready")
        eq(bodies(ch, q), [str(i) for i in range(8)], "FIFO order")


# ---------------------------------------------------------------- TTL


@scenario("an expired message behind a longer-lived head stays until it reaches the head")
def _():
    with QConn() as c:
        ch = c.channel()
        q = c.queue(ch)
        put(ch, q, "long", expiration="100000")
        put(ch, q, "short", expiration="10")
        c.conn.sleep(0.3)
        eq(count(ch, q), 2, "count while the long-lived message is at the head")
        r = get(ch, q)
        eq((r[2], r[1].expiration), ("long", "100000"), "head keeps its expiration")
        eq(wait_count(c, ch, q, 0, 1.0), 0, "count once the expired message is at the head")
        eq(get(ch, q), None, "the expired message is never delivered")


@scenario("queue TTL and per-message expiration: the smaller one wins")
def _():
    with QConn() as c:
        ch = c.channel()
        q1 = c.queue(ch, **{"x-message-ttl": 50})
        q2 = c.queue(ch, **{"x-message-ttl": 100000})
        q3 = c.queue(ch, **{"x-message-ttl": 100000})
        put(ch, q1, "queue-ttl-smaller", expiration="100000")
        put(ch, q2, "message-ttl-smaller", expiration="50")
        put(ch, q3, "neither", expiration="100000")
        eq(wait_count(c, ch, q1, 0), 0, "queue TTL 50 with message TTL 100000")
        eq(wait_count(c, ch, q2, 0), 0, "queue TTL 100000 with message TTL 50")
        eq(count(ch, q3), 1, "both long")
        r = get(ch, q3)
        eq(r[1].expiration, "100000", "a delivered message keeps its expiration")


@scenario("TTL 0 without a consumer drops the message at once (x-message-ttl and expiration)")
def _():
    with QConn() as c:
        ch = c.channel()
        q1 = c.queue(ch, **{"x-message-ttl": 0})
        q2 = c.queue(ch)
        put(ch, q1, "a")
        put(ch, q2, "b", expiration="0")
        c.conn.sleep(0.2)
        eq((count(ch, q1), count(ch, q2)), (0, 0), "counts")
        eq((get(ch, q1), get(ch, q2)), (None, None), "gets")


@scenario("TTL 0 is delivered only to a consumer that can take it now")
def _():
    with QConn() as c:
        ch = c.channel()
        q = c.queue(ch, **{"x-message-ttl": 0})
        auto = []
        tag = ch.basic_consume(q, lambda chan, m, p, b: auto.append(b.decode()), auto_ack=True)
        put(ch, q, "now")
        deadline = time.monotonic() + 2
        while not auto and time.monotonic() < deadline:
            c.conn.process_data_events(time_limit=0.05)
        eq(auto, ["now"], "auto-ack consumer receives it")
        ch.basic_cancel(tag)
        ch.basic_qos(prefetch_count=1)
        held = []
        ch.basic_consume(q, lambda chan, m, p, b: held.append((m.delivery_tag, b.decode())))
        put(ch, q, "first")
        put(ch, q, "second")
        c.conn.sleep(0.4)
        eq([b for _, b in held], ["first"], "prefetch-1 consumer gets only the first")
        ch.basic_ack(held[0][0])
        c.conn.sleep(0.3)
        eq([b for _, b in held], ["first"], "the second was dropped, not queued")
        eq(count(ch, q), 0, "nothing left")


@scenario("TTL 0 with a dead-letter exchange dead-letters at once with reason expired")
def _():
    with QConn() as c:
        ch = c.channel()
        dead = c.queue(ch)
        q = c.queue(ch, **{"x-message-ttl": 0, "x-dead-letter-exchange": "",
                           "x-dead-letter-routing-key": dead})
        put(ch, q, "zero")
        r = wait_get(c, ch, dead)
        check(r is not None, "dead-lettered message arrives")
        eq(death_summary(r[1]), [(q, "expired", 1)], "x-death")


@scenario("x-expires deletes a queue left unused, but not while it has a consumer")
def _():
    with QConn() as c:
        ch = c.channel()
        q1 = c.queue(ch, **{"x-expires": 200})
        q2 = c.queue(ch, **{"x-expires": 200})
        tag = ch.basic_consume(q2, lambda *a: None, auto_ack=True)
        c.conn.sleep(0.7)
        check2 = c.channel()
        try:
            check2.queue_declare(q1, passive=True)
            raise Failure("unused queue still exists after 700 ms")
        except pex.ChannelClosedByBroker as e:
            eq(e.reply_code, 404, "passive declare of the expired queue")
        eq(count(ch, q2), 0, "queue with a consumer still exists")
        ch.basic_cancel(tag)
        c.conn.sleep(0.7)
        try:
            c.channel().queue_declare(q2, passive=True)
            raise Failure("queue still exists 700 ms after its consumer left")
        except pex.ChannelClosedByBroker as e:
            eq(e.reply_code, 404, "passive declare after the consumer left")


@scenario("a requeued message keeps its original expiry time")
def _():
    with QConn() as c:
        ch = c.channel()
        dead = c.queue(ch)
        q = c.queue(ch, **{"x-message-ttl": 300, "x-dead-letter-exchange": "",
                           "x-dead-letter-routing-key": dead})
        put(ch, q, "held")
        m = wait_held(c, ch, q)
        c.conn.sleep(0.5)
        ch.basic_nack(m[0].delivery_tag, requeue=True)
        r = wait_get(c, ch, dead, 1.0)
        check(r is not None, "requeued message past its TTL was dead-lettered")
        eq(death_summary(r[1]), [(q, "expired", 1)], "x-death")
        eq(count(ch, q), 0, "nothing left")


@scenario("basic.get keeps an x-expires queue alive")
def _():
    with QConn() as c:
        ch = c.channel()
        q = c.queue(ch, **{"x-expires": 400})
        for _ in range(6):
            c.conn.sleep(0.15)
            ch.basic_get(q, auto_ack=True)
        c.conn.sleep(0.8)
        try:
            c.channel().queue_declare(q, passive=True)
            raise Failure("queue still exists 800 ms after its last use")
        except pex.ChannelClosedByBroker as e:
            eq(e.reply_code, 404, "passive declare after the gets stopped")


@scenario("queue TTL expiry dead-letters in order with reason expired and no original-expiration")
def _():
    with QConn() as c:
        ch = c.channel()
        dead = c.queue(ch)
        q = c.queue(ch, **{"x-message-ttl": 100, "x-dead-letter-exchange": "",
                           "x-dead-letter-routing-key": dead})
        for b in ("1", "2", "3"):
            put(ch, q, b)
        eq(wait_count(c, ch, dead, 3), 3, "dead-lettered count")
        got = []
        for _ in range(3):
            m, p, b = ch.basic_get(dead, auto_ack=True)
            got.append(b.decode())
            d = deaths(p)
            eq((d[0]["queue"], d[0]["reason"]), (q, "expired"), "x-death[0]")
            check("original-expiration" not in d[0], "no original-expiration: %r" % d[0])
        eq(got, ["1", "2", "3"], "order")


# ---------------------------------------------------------------- length limits


@scenario("x-max-length drop-head drops the oldest and dead-letters it with reason maxlen")
def _():
    with QConn() as c:
        ch = c.channel()
        dead = c.queue(ch)
        q = c.queue(ch, **{"x-max-length": 2, "x-dead-letter-exchange": "",
                           "x-dead-letter-routing-key": dead})
        for b in ("1", "2", "3"):
            put(ch, q, b)
        eq(wait_count(c, ch, q, 2), 2, "queue length")
        r = wait_get(c, ch, dead)
        check(r is not None, "dropped head dead-lettered")
        eq(r[2], "1", "dropped message")
        eq(death_summary(r[1]), [(q, "maxlen", 1)], "x-death")
        eq(bodies(ch, q), ["2", "3"], "kept messages")


@scenario("x-max-length-bytes counts body bytes and drops from the head")
def _():
    with QConn() as c:
        ch = c.channel()
        q = c.queue(ch, **{"x-max-length-bytes": 10})
        for b in ("aaaa", "bbbb", "cccc"):
            put(ch, q, b)
        eq(wait_count(c, ch, q, 2), 2, "queue length")
        eq(bodies(ch, q), ["bbbb", "cccc"], "kept messages")


@scenario("x-overflow reject-publish nacks a publish into a full queue and does not dead-letter")
def _():
    with QConn() as c:
        ch = c.channel()
        dead = c.queue(ch)
        q = c.queue(ch, **{"x-max-length": 1, "x-overflow": "reject-publish",
                           "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead})
        ch.confirm_delivery()
        put(ch, q, "fits")
        try:
            put(ch, q, "rejected")
            raise Failure("second publish was acked, want nack")
        except pex.NackError:
            pass
        eq(bodies(ch, q), ["fits"], "queue contents")
        put(ch, q, "fits-again")
        eq(bodies(ch, q), ["fits-again"], "room again after a get")
        eq(count(ch, dead), 0, "nothing dead-lettered")


@scenario("x-overflow reject-publish-dlx nacks the new message and dead-letters it with maxlen")
def _():
    with QConn() as c:
        ch = c.channel()
        dead = c.queue(ch)
        q = c.queue(ch, **{"x-max-length": 1, "x-overflow": "reject-publish-dlx",
                           "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead})
        ch.confirm_delivery()
        put(ch, q, "fits")
        try:
            put(ch, q, "overflow")
            raise Failure("second publish was acked, want nack")
        except pex.NackError:
            pass
        eq(bodies(ch, q), ["fits"], "queue contents")
        r = wait_get(c, ch, dead)
        check(r is not None, "rejected message dead-lettered")
        eq(r[2], "overflow", "dead-lettered message")
        eq(death_summary(r[1]), [(q, "maxlen", 1)], "x-death")


@scenario("x-max-length 0 with drop-head dead-letters every message at once")
def _():
    with QConn() as c:
        ch = c.channel()
        dead = c.queue(ch)
        q = c.queue(ch, **{"x-max-length": 0, "x-dead-letter-exchange": "",
                           "x-dead-letter-routing-key": dead})
        put(ch, q, "a")
        put(ch, q, "b")
        eq(wait_count(c, ch, dead, 2), 2, "dead-lettered")
        eq(count(ch, q), 0, "queue stays empty")


@scenario("a publish routed to a full reject-publish queue and an open queue is nacked, and the "
          "open queue still gets it")
def _():
    with QConn() as c:
        ch = c.channel()
        fan = c.exchange(ch)
        full = c.queue(ch, **{"x-max-length": 0, "x-overflow": "reject-publish"})
        other = c.queue(ch)
        ch.queue_bind(full, fan)
        ch.queue_bind(other, fan)
        ch.confirm_delivery()
        try:
            put(ch, "", "both", exchange=fan)
            raise Failure("publish was acked, want nack")
        except pex.NackError:
            pass
        eq((count(ch, full), count(ch, other)), (0, 1), "(full, open) counts")


# ---------------------------------------------------------------- dead-lettering


@scenario("two dead-letterings (rejected, then expired) give x-death newest first and "
          "x-first-death-* from the first")
def _():
    with QConn() as c:
        ch = c.channel()
        x1 = c.exchange(ch)
        x2 = c.exchange(ch)
        final = c.queue(ch)
        q2 = c.queue(ch, **{"x-message-ttl": 50, "x-dead-letter-exchange": x2})
        q1 = c.queue(ch, **{"x-dead-letter-exchange": x1})
        ch.queue_bind(q2, x1)
        ch.queue_bind(final, x2)
        put(ch, q1, "hop", headers={"keep": "me"})
        m = wait_held(c, ch, q1)
        ch.basic_reject(m[0].delivery_tag, requeue=False)
        r = wait_get(c, ch, final)
        check(r is not None, "message reached the final queue")
        m, p, b = r
        eq((b, m.exchange, m.routing_key), ("hop", x2, q1), "delivery")
        eq(p.headers.get("keep"), "me", "other headers kept")
        d = deaths(p)
        eq(len(d), 2, "x-death entries")
        eq((d[0]["queue"], d[0]["reason"], d[0]["count"], d[0]["exchange"],
            d[0]["routing-keys"]), (q2, "expired", 1, x1, [q1]), "newest entry")
        eq((d[1]["queue"], d[1]["reason"], d[1]["count"], d[1]["exchange"],
            d[1]["routing-keys"]), (q1, "rejected", 1, "", [q1]), "older entry")
        for e in d:
            check(isinstance(e["time"], datetime.datetime), "time is a timestamp: %r" % e["time"])
            check("original-expiration" not in e, "no original-expiration without expiration")
        h = p.headers
        eq((h["x-first-death-queue"], h["x-first-death-reason"], h["x-first-death-exchange"]),
           (q1, "rejected", ""), "x-first-death-*")


@scenario("three dead-letterings: the newest x-death entry is first and all three are present")
def _():
    with QConn() as c:
        ch = c.channel()
        final = c.queue(ch)
        q3 = c.queue(ch, **{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": final})
        q2 = c.queue(ch, **{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": q3})
        q1 = c.queue(ch, **{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": q2})
        put(ch, q1, "m")
        for q in (q1, q2, q3):
            r = wait_held(c, ch, q, "message reached %s" % q)
            ch.basic_reject(r[0].delivery_tag, requeue=False)
        r = wait_get(c, ch, final)
        check(r is not None, "message reached the final queue")
        d = deaths(r[1])
        eq(d[0]["queue"], q3, "newest entry first")
        eq(sorted((e["queue"], e["reason"], e["count"]) for e in d),
           sorted([(q1, "rejected", 1), (q2, "rejected", 1), (q3, "rejected", 1)]),
           "set of entries")
        h = r[1].headers
        eq((h["x-first-death-queue"], h["x-first-death-reason"]), (q1, "rejected"),
           "x-first-death-*")


@scenario("rejecting the same message again from the same queue increments count in one entry; "
          "x-first-death-* never change")
def _():
    with QConn() as c:
        ch = c.channel()
        loop = c.exchange(ch)
        q = c.queue(ch, **{"x-dead-letter-exchange": loop})
        ch.queue_bind(q, loop)
        put(ch, q, "again")
        for want in (1, 2, 3):
            r = wait_held(c, ch, q, "message back in the queue (round %d)" % want)
            if want > 1:
                eq(death_summary(r[1]), [(q, "rejected", want - 1)], "x-death")
                h = r[1].headers
                eq((h["x-first-death-queue"], h["x-first-death-reason"],
                    h["x-first-death-exchange"]), (q, "rejected", ""), "x-first-death-*")
            ch.basic_reject(r[0].delivery_tag, requeue=False)
        r = wait_get(c, ch, q)
        eq(death_summary(r[1]), [(q, "rejected", 3)], "x-death after three rejects")


@scenario("a rejection cycle between two queues is allowed")
def _():
    with QConn() as c:
        ch = c.channel()
        qa = unique("qf")
        qb = unique("qf")
        c.queues += [qa, qb]
        ch.queue_declare(qa, arguments={"x-dead-letter-exchange": "",
                                        "x-dead-letter-routing-key": qb})
        ch.queue_declare(qb, arguments={"x-dead-letter-exchange": "",
                                        "x-dead-letter-routing-key": qa})
        put(ch, qa, "ping-pong")
        for q in (qa, qb, qa):
            r = wait_held(c, ch, q, "message reached %s" % q)
            ch.basic_reject(r[0].delivery_tag, requeue=False)
        r = wait_get(c, ch, qb)
        check(r is not None, "message back in the second queue after three rejects")
        eq(sorted(death_summary(r[1])), sorted([(qa, "rejected", 2), (qb, "rejected", 1)]),
           "x-death")


@scenario("a fully automatic dead-letter cycle drops the message for the queue it came from")
def _():
    with QConn() as c:
        ch = c.channel()
        fan = c.exchange(ch)
        monitor = c.queue(ch)
        q = c.queue(ch, **{"x-message-ttl": 50, "x-dead-letter-exchange": fan})
        ch.queue_bind(q, fan)
        ch.queue_bind(monitor, fan)
        put(ch, q, "cycle")
        c.conn.sleep(0.8)
        eq((count(ch, q), count(ch, monitor)), (0, 1), "(cycling queue, monitor) counts")
        r = get(ch, monitor)
        eq(death_summary(r[1]), [(q, "expired", 1)], "x-death")


@scenario("dead-lettering to a missing exchange drops the message")
def _():
    with QConn() as c:
        ch = c.channel()
        q = c.queue(ch, **{"x-dead-letter-exchange": unique("missing")})
        put(ch, q, "lost")
        m = wait_held(c, ch, q)
        ch.basic_reject(m[0].delivery_tag, requeue=False)
        c.conn.sleep(0.2)
        eq(count(ch, q), 0, "queue empty after the reject")
        check(ch.is_open, "channel still open")


@scenario("dead-lettering removes expiration and records it as original-expiration")
def _():
    with QConn() as c:
        ch = c.channel()
        dead = c.queue(ch)
        q = c.queue(ch, **{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead})
        put(ch, q, "expires", expiration="50")
        put(ch, q, "rejected", expiration="100000")
        r = wait_get(c, ch, dead)
        check(r is not None, "expired message dead-lettered")
        eq((r[2], r[1].expiration), ("expires", None), "expired message, expiration removed")
        d = deaths(r[1])
        eq((d[0]["reason"], d[0].get("original-expiration")), ("expired", "50"), "x-death[0]")
        m = wait_held(c, ch, q)
        eq(m[2], "rejected", "second message")
        ch.basic_reject(m[0].delivery_tag, requeue=False)
        r = wait_get(c, ch, dead)
        check(r is not None, "rejected message dead-lettered")
        eq((r[2], r[1].expiration), ("rejected", None), "rejected message, expiration removed")
        d = deaths(r[1])
        eq((d[0]["reason"], d[0].get("original-expiration")), ("rejected", "100000"),
           "x-death[0]")


@scenario("with x-dead-letter-routing-key set, CC is removed but routing-keys still list it")
def _():
    with QConn() as c:
        ch = c.channel()
        src = c.exchange(ch, "direct")
        dlx = c.exchange(ch, "direct")
        dead = c.queue(ch)
        dead_b = c.queue(ch)
        qa = c.queue(ch, **{"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": "dl"})
        qb = c.queue(ch)
        ch.queue_bind(qa, src, "a")
        ch.queue_bind(qb, src, "b")
        ch.queue_bind(dead, dlx, "dl")
        ch.queue_bind(dead_b, dlx, "b")
        put(ch, "a", "cc", exchange=src, headers={"CC": ["b"], "keep": 1})
        m = wait_held(c, ch, qa)
        ch.basic_reject(m[0].delivery_tag, requeue=False)
        r = wait_get(c, ch, dead)
        check(r is not None, "dead-lettered message arrives")
        mth, p, _ = r
        eq(mth.routing_key, "dl", "routing key")
        check("CC" not in p.headers, "CC removed: %r" % p.headers)
        eq(p.headers.get("keep"), 1, "other headers kept")
        eq(deaths(p)[0]["routing-keys"], ["a", "b"], "routing-keys")
        c.conn.sleep(0.2)
        eq(count(ch, dead_b), 0, "no copy routed by the old CC key")


@scenario("without x-dead-letter-routing-key the message keeps its routing keys, CC included")
def _():
    with QConn() as c:
        ch = c.channel()
        src = c.exchange(ch, "direct")
        dlx = c.exchange(ch, "direct")
        dead_a = c.queue(ch)
        dead_b = c.queue(ch)
        qa = c.queue(ch, **{"x-dead-letter-exchange": dlx})
        ch.queue_bind(qa, src, "a")
        ch.queue_bind(dead_a, dlx, "a")
        ch.queue_bind(dead_b, dlx, "b")
        put(ch, "a", "cc", exchange=src, headers={"CC": ["b"]})
        m = wait_held(c, ch, qa)
        ch.basic_reject(m[0].delivery_tag, requeue=False)
        ra = wait_get(c, ch, dead_a)
        rb = wait_get(c, ch, dead_b)
        check(ra is not None and rb is not None, "a copy by each routing key")
        eq((ra[0].routing_key, ra[0].exchange), ("a", dlx), "delivery")
        eq(ra[1].headers.get("CC"), ["b"], "CC kept")
        eq(deaths(ra[1])[0]["routing-keys"], ["a", "b"], "routing-keys")


# ---------------------------------------------------------------- argument validation

BAD_ARGS = [
    ("x-message-ttl", -1, "{value_negative,-1}"),
    ("x-message-ttl", "100", '"expected integer, got longstr"'),
    ("x-expires", 0, "{value_zero,0}"),
    ("x-expires", -5, "{value_negative,-5}"),
    ("x-max-length", -1, "{value_negative,-1}"),
    ("x-max-length-bytes", -1, "{value_negative,-1}"),
    ("x-max-priority", 256, "{max_value_exceeded,256}"),
    ("x-max-priority", -1, "{value_negative,-1}"),
    ("x-overflow", "bogus", "invalid_overflow"),
    ("x-queue-type", "bogus", "\"unsupported queue type 'bogus'\""),
    ("x-queue-mode", "bogus", "\"unsupported queue mode 'bogus'\""),
    ("x-queue-version", 3, "\"unsupported queue version '3'\""),
    ("x-single-active-consumer", "yes", "{unacceptable_type,longstr}"),
    ("x-dead-letter-routing-key", "rk", "routing_key_but_no_dlx_defined"),
]


@scenario("every invalid queue argument in the reference table gets RabbitMQ's exact 406 text")
def _():
    with QConn() as c:
        for key, value, reason in BAD_ARGS:
            q = unique("qbad")
            ch = c.channel()
            channel_error(lambda: ch.queue_declare(q, arguments={key: value}), 406,
                          INVALID_ARG % (key, q, VHOST, reason))
        q = unique("qbad")
        ch = c.channel()
        channel_error(lambda: ch.queue_declare(q, arguments={"x-dead-letter-exchange": 5}), 406,
                      "PRECONDITION_FAILED - invalid type 'signedint' for arg "
                      "'x-dead-letter-exchange' in queue '%s' in vhost '%s'" % (q, VHOST))
        check(c.conn.is_open, "connection stays open")


@scenario("boundary queue argument values are accepted")
def _():
    with QConn() as c:
        ch = c.channel()
        for args in ({"x-max-priority": 0}, {"x-max-priority": 255}, {"x-message-ttl": 0},
                     {"x-max-length": 0}, {"x-queue-mode": "lazy"},
                     {"x-overflow": "reject-publish-dlx"}, {"x-expires": 1000},
                     {"x-single-active-consumer": True}):
            c.queue(ch, **args)


@scenario("an invalid expiration property gets the exact 406 text; +5 and 0 are accepted")
def _():
    with QConn() as c:
        q = c.queue(c.channel())
        for value, reason in (("abc", "no_integer"), ("", "no_integer"), (" 5", "no_integer"),
                              ("-1", "{value_negative,-1}"), ("1.5", '{leftover_string,".5"}')):
            ch = c.channel()

            def go():
                put(ch, q, "x", expiration=value)
                ch.queue_declare(q, passive=True)
            channel_error(go, 406, "PRECONDITION_FAILED - invalid expiration '%s': %s" %
                          (value, reason))
        ch = c.channel()
        put(ch, q, "plus", expiration="+5")
        put(ch, q, "zero", expiration="0")
        ch.queue_declare(q, passive=True)
        check(ch.is_open, "channel open after +5 and 0")


# ---------------------------------------------------------------- consumers


@scenario("single active consumer: only the first consumer receives, then the next in "
          "registration order takes over")
def _():
    with QConn() as c:
        ch = c.channel()
        q = c.queue(ch, **{"x-single-active-consumer": True})
        conns = [qf_connect() for _ in range(3)]
        try:
            got = [[], [], []]
            for i, cn in enumerate(conns):
                cn.channel().basic_consume(
                    q, lambda chan, m, p, b, i=i: got[i].append(b.decode()), auto_ack=True)
                cn.sleep(0.05)

            def pump(secs):
                end = time.monotonic() + secs
                while time.monotonic() < end:
                    for cn in conns:
                        if cn.is_open:
                            cn.process_data_events(time_limit=0.02)
            for i in range(3):
                put(ch, q, "m%d" % i)
            pump(0.5)
            eq(got, [["m0", "m1", "m2"], [], []], "deliveries before failover")
            conns[0].close()
            c.conn.sleep(0.2)
            for i in range(3, 5):
                put(ch, q, "m%d" % i)
            pump(0.5)
            eq(got, [["m0", "m1", "m2"], ["m3", "m4"], []], "deliveries after failover")
        finally:
            for cn in conns:
                if cn.is_open:
                    cn.close()


@scenario("single active consumer: after a cancel the next consumer takes new messages, and "
          "gets the old one's unacked messages when its channel closes")
def _():
    with QConn() as c:
        ch = c.channel()
        q = c.queue(ch, **{"x-single-active-consumer": True})
        first, second = c.channel(), c.channel()
        got1, got2 = [], []
        tag1 = first.basic_consume(q, lambda chan, m, p, b: got1.append(b.decode()))
        second.basic_consume(q, lambda chan, m, p, b: got2.append((b.decode(), m.redelivered)))
        for i in range(3):
            put(ch, q, "m%d" % i)
        c.conn.sleep(0.3)
        eq((got1, got2), (["m0", "m1", "m2"], []), "before cancel")
        first.basic_cancel(tag1)
        put(ch, q, "m3")
        c.conn.sleep(0.3)
        eq(got2, [("m3", False)], "new message after the cancel")
        first.close()
        deadline = time.monotonic() + 2
        while len(got2) < 4 and time.monotonic() < deadline:
            c.conn.process_data_events(time_limit=0.05)
        eq(got2, [("m3", False), ("m0", True), ("m1", True), ("m2", True)],
           "the next consumer's deliveries")


@scenario("consumer priorities: the higher x-priority consumer fills its prefetch first")
def _():
    with QConn() as c:
        ch = c.channel()
        q = c.queue(ch)
        got = {"low": [], "high": []}
        low = c.channel()
        low.basic_qos(prefetch_count=2)
        low.basic_consume(q, lambda chan, m, p, b: got["low"].append(b), arguments={
            "x-priority": 1})
        high = c.channel()
        high.basic_qos(prefetch_count=2)
        high.basic_consume(q, lambda chan, m, p, b: got["high"].append(b), arguments={
            "x-priority": 10})
        for i in range(6):
            put(ch, q, str(i))
        c.conn.sleep(0.5)
        eq((len(got["high"]), len(got["low"])), (2, 2), "(high, low) deliveries")
        eq(got["high"], [b"0", b"1"], "the high-priority consumer got the first messages")
        eq(count(ch, q), 2, "ready")


@scenario("a non-integer x-priority on basic.consume gets RabbitMQ's exact 406 text")
def _():
    with QConn() as c:
        ch = c.channel()
        q = c.queue(ch)
        channel_error(lambda: ch.basic_consume(q, lambda *a: None,
                                               arguments={"x-priority": "high"}), 406,
                      INVALID_ARG % ("x-priority", q, VHOST, '"expected integer, got longstr"'))


# ---------------------------------------------------------------- policies (HTTP API)


def mgmt(method, path, body=None):
    auth = base64.b64encode(("%s:%s" % (USER, url_parts()["password"])).encode()).decode()
    req = urllib.request.Request(MGMT_URL + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Basic " + auth,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status


class Policy:
    """A policy on names starting with a fresh prefix, deleted at the end of the with-block."""

    def __init__(self, definition):
        self.name = unique("pol")
        self.prefix = self.name + "."
        self.path = "/api/policies/%s/%s" % (urllib.parse.quote(VHOST, safe=""), self.name)
        mgmt("PUT", self.path, {"pattern": "^" + self.prefix.replace(".", "\\."),
                                "definition": definition, "apply-to": "queues",
                                "priority": 7})

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            mgmt("DELETE", self.path)
        except Exception:  # noqa: BLE001 - cleanup
            pass


def policy_queue(c, ch, pol, **args):
    name = pol.prefix + unique("q")
    ch.queue_declare(name, arguments=args or None)
    c.queues.append(name)
    return name


if MGMT_URL:
    @scenario("a policy supplies max-length, message-ttl and dead-lettering to a queue "
              "without arguments")
    def _():
        with QConn() as c:
            ch = c.channel()
            dead = c.queue(ch)
            with Policy({"max-length": 2, "message-ttl": 200, "dead-letter-exchange": "",
                         "dead-letter-routing-key": dead}) as pol:
                q = policy_queue(c, ch, pol)
                c.conn.sleep(0.5)
                for b in ("1", "2", "3"):
                    put(ch, q, b)
                eq(wait_count(c, ch, q, 2, 1.0), 2, "max-length from the policy")
                eq(wait_count(c, ch, q, 0), 0, "message-ttl from the policy")
                eq(wait_count(c, ch, dead, 3), 3, "dead-lettered through the policy's DLX")
                reasons = []
                while True:
                    m, p, b = ch.basic_get(dead, auto_ack=True)
                    if m is None:
                        break
                    reasons.append((b.decode(), deaths(p)[0]["reason"]))
                eq(reasons, [("1", "maxlen"), ("2", "expired"), ("3", "expired")], "reasons")

    @scenario("between a queue argument and a policy the smaller max-length and message-ttl win")
    def _():
        with QConn() as c, Policy({"max-length": 1}) as len_pol, \
                Policy({"message-ttl": 50}) as ttl_pol:
            ch = c.channel()
            q1 = policy_queue(c, ch, len_pol, **{"x-max-length": 5})
            q2 = policy_queue(c, ch, len_pol, **{"x-max-length": 0})
            q3 = policy_queue(c, ch, ttl_pol, **{"x-message-ttl": 100000})
            c.conn.sleep(0.5)
            for b in ("1", "2", "3"):
                put(ch, q1, b)
                put(ch, q2, b)
                put(ch, q3, b)
            eq(wait_count(c, ch, q1, 1, 1.0), 1, "max-length 1 (policy) beats 5 (argument)")
            eq(count(ch, q2), 0, "max-length 0 (argument) beats 1 (policy)")
            eq(wait_count(c, ch, q3, 0, 1.0), 0, "message-ttl 50 (policy) beats 100000 (argument)")

    @scenario("a queue's x-dead-letter-exchange wins over the policy's")
    def _():
        with QConn() as c, Policy({"dead-letter-exchange": unique("missing")}) as pol:
            ch = c.channel()
            dead = c.queue(ch)
            q = policy_queue(c, ch, pol, **{"x-dead-letter-exchange": "",
                                            "x-dead-letter-routing-key": dead})
            c.conn.sleep(0.3)
            put(ch, q, "x")
            m = wait_held(c, ch, q)
            ch.basic_reject(m[0].delivery_tag, requeue=False)
            check(wait_get(c, ch, dead) is not None, "dead-lettered through the argument's DLX")


# ---------------------------------------------------------------- Warren-only


@scenario("x-delivery-limit on a classic queue counts deliveries and dead-letters with "
          "delivery_limit", warren_only=True)
def _():
    with QConn() as c:
        ch = c.channel()
        dead = c.queue(ch)
        q = c.queue(ch, **{"x-delivery-limit": 1, "x-dead-letter-exchange": "",
                           "x-dead-letter-routing-key": dead})
        put(ch, q, "limited")
        for want in (0, 1):
            m = wait_held(c, ch, q, "delivery %d" % want)
            eq(m[1].headers.get("x-delivery-count"), want, "x-delivery-count")
            ch.basic_nack(m[0].delivery_tag, requeue=True)
        r = wait_get(c, ch, dead)
        check(r is not None, "dead-lettered after the limit")
        eq(count(ch, q), 0, "gone from the queue")
        eq(death_summary(r[1]), [(q, "delivery_limit", 1)], "x-death")


@scenario("an x-delayed-message exchange holds each message for its x-delay", warren_only=True)
def _():
    with QConn() as c:
        ch = c.channel()
        x = c.exchange(ch, "x-delayed-message", arguments={"x-delayed-type": "direct"})
        q = c.queue(ch)
        ch.queue_bind(q, x, "k")
        put(ch, "k", "late", exchange=x, headers={"x-delay": 600})
        put(ch, "k", "soon", exchange=x, headers={"x-delay": 200})
        put(ch, "k", "now", exchange=x)
        put(ch, "other", "unrouted", exchange=x, headers={"x-delay": 50})
        c.conn.sleep(0.1)
        eq(bodies(ch, q), ["now"], "before any delay ends")
        c.conn.sleep(0.3)
        eq(bodies(ch, q), ["soon"], "after 400 ms")
        r = wait_get(c, ch, q)
        check(r is not None, "late message arrives")
        eq((r[2], r[0].exchange, r[0].routing_key), ("late", x, "k"), "late delivery")
        eq(count(ch, q), 0, "nothing else")


@scenario("x-consumer-timeout closes the channel of a consumer that does not ack in time",
          warren_only=True)
def _():
    with QConn() as c:
        ch = c.channel()
        q = c.queue(ch, **{"x-consumer-timeout": 300})
        put(ch, q, "slow")
        cch = c.channel()
        closes = []
        cch._impl.add_on_close_callback(lambda chan, reason: closes.append(reason))
        cch.basic_consume(q, lambda *a: None)
        deadline = time.monotonic() + 5
        try:
            while not closes and time.monotonic() < deadline:
                c.conn.process_data_events(time_limit=0.05)
        except pex.ChannelClosedByBroker:
            pass
        check(closes, "channel still open after 5 s")
        e = closes[0]
        eq((getattr(e, "reply_code", None), getattr(e, "reply_text", None)),
           (406, "PRECONDITION_FAILED - delivery acknowledgement on channel %d timed out. "
            "Timeout value used: 300 ms. This timeout value can be configured, see consumers "
            "doc guide to learn more" % cch.channel_number), "channel close")
        check(c.conn.is_open, "connection stays open")
        eq(wait_count(c, ch, q, 1), 1, "the unacked message is requeued")


if __name__ == "__main__":
    main("pika")
