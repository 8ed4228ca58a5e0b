"""Quorum queue scenarios driven by pika: RabbitMQ 3.10's quorum queue on one node as a client
sees it: declare rules and texts, x-delivery-count, requeue to the back, x-delivery-limit,
x-overflow (reject-publish one message late), at-least-once dead-lettering, global qos refused.

Every expectation was checked against RabbitMQ 3.10.8 (conformance/rabbitmq.sh); the one marked
warren_only (an at-least-once dead letter reaching a target that appears later, within seconds)
is a Warren behaviour RabbitMQ 3.10 does not show in that time. Imported by scenarios.py.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from pika import exceptions as pex  # noqa: E402

from harness import VHOST, Failure, check, eq, scenario, unique  # noqa: E402
from queue_features import QConn, channel_error, put, qf_connect, wait_count  # noqa: E402

Q = {"x-queue-type": "quorum"}


def quorum(c, ch, **args):
    """A fresh durable quorum queue with x-arguments args, deleted at the end of c."""
    name = unique("qq")
    ch.queue_declare(name, durable=True, arguments=dict(Q, **args))
    c.queues.append(name)
    return name


def connection_error(fn, code, text):
    try:
        fn()
    except pex.ConnectionClosedByBroker as e:
        eq((e.reply_code, e.reply_text), (code, text), "connection close")
        return
    raise Failure("expected connection close %d %r, got none" % (code, text))


def held(c, ch, q, limit=3.0):
    """basic.get without auto-ack, polling until a message comes."""
    deadline = time.monotonic() + limit
    while True:
        m, p, b = ch.basic_get(q, auto_ack=False)
        if m is not None:
            return m, p, b.decode()
        if time.monotonic() > deadline:
            raise Failure("no message in %s" % q)
        c.conn.sleep(0.05)


def count_of(p):
    return (p.headers or {}).get("x-delivery-count")


@scenario("quorum queue declare refuses non-durable, exclusive and auto-delete with RabbitMQ's "
          "texts, exclusive-owner reported first")
def _():
    with QConn() as c:
        for kw, prop in [({"durable": False}, "non-durable"),
                         ({"durable": False, "exclusive": True}, "exclusive-owner"),
                         ({"durable": True, "exclusive": True}, "exclusive-owner"),
                         ({"durable": True, "auto_delete": True}, "auto-delete")]:
            ch = c.channel()
            name = unique("qq")
            channel_error(lambda: ch.queue_declare(name, arguments=Q, **kw), 406,
                          "PRECONDITION_FAILED - invalid property '%s' for queue '%s' in vhost "
                          "'%s'" % (prop, name, VHOST))


@scenario("quorum queue declare refuses classic-only arguments as rabbit_quorum_queue and "
          "accepts its own")
def _():
    with QConn() as c:
        for arg, val in [("x-max-priority", 5), ("x-queue-mode", "lazy"),
                         ("x-queue-master-locator", "client-local"), ("x-queue-version", 2),
                         ("x-max-age", "1D"), ("x-stream-max-segment-size-bytes", 1000)]:
            ch = c.channel()
            name = unique("qq")
            channel_error(lambda: ch.queue_declare(name, durable=True,
                                                   arguments=dict(Q, **{arg: val})), 406,
                          "PRECONDITION_FAILED - invalid arg '%s' for queue '%s' in vhost '%s' "
                          "of queue type rabbit_quorum_queue" % (arg, name, VHOST))
        ch = c.channel()
        quorum(c, ch, **{"x-delivery-limit": 3, "x-max-length": 10, "x-message-ttl": 1000,
                         "x-overflow": "reject-publish-dlx", "x-single-active-consumer": True,
                         "x-dead-letter-strategy": "at-least-once",
                         "x-queue-leader-locator": "balanced"})
        name = unique("qq")
        channel_error(lambda: ch.queue_declare(name, durable=True, arguments=dict(
            Q, **{"x-dead-letter-strategy": "bogus"})), 406,
            "PRECONDITION_FAILED - invalid arg 'x-dead-letter-strategy' for queue '%s' in vhost "
            "'%s': invalid_dlx_strategy" % (name, VHOST))


@scenario("quorum queue: basic.get shows x-delivery-count 0 then 1 after a nack; a requeued "
          "message goes to the back")
def _():
    with QConn() as c:
        ch = c.channel()
        q = quorum(c, ch)
        for i in range(3):
            put(ch, q, "m%d" % i)
        eq(wait_count(c, ch, q, 3), 3, "declare-ok count")
        m, p, b = held(c, ch, q)
        eq((b, count_of(p), m.redelivered), ("m0", 0, False), "first get")
        ch.basic_nack(m.delivery_tag, requeue=True)
        got = []
        for _ in range(3):
            m, p, b = held(c, ch, q)
            got.append((b, count_of(p), m.redelivered))
            ch.basic_ack(m.delivery_tag)
        eq(got, [("m1", 0, False), ("m2", 0, False), ("m0", 1, True)], "order after requeue")


@scenario("quorum queue: a consumer's first delivery has no x-delivery-count, its redelivery "
          "has 1 and comes after the others")
def _():
    with QConn() as c:
        ch = c.channel()
        q = quorum(c, ch)
        put(ch, q, "c0")
        put(ch, q, "c1")
        eq(wait_count(c, ch, q, 2), 2, "ready")
        ch.basic_qos(prefetch_count=1)
        got = []
        ch.basic_consume(q, lambda chan, m, p, b: got.append((m, p, b.decode())))

        def wait(n):
            deadline = time.monotonic() + 3
            while len(got) < n and time.monotonic() < deadline:
                c.conn.process_data_events(time_limit=0.05)
            check(len(got) >= n, "only %d deliveries" % len(got))
        wait(1)
        eq((got[0][2], got[0][1].headers, got[0][0].redelivered), ("c0", None, False), "first")
        ch.basic_reject(got[0][0].delivery_tag, requeue=True)
        wait(2)
        eq((got[1][2], count_of(got[1][1])), ("c1", None), "second")
        ch.basic_ack(got[1][0].delivery_tag)
        wait(3)
        eq((got[2][2], count_of(got[2][1]), got[2][0].redelivered), ("c0", 1, True),
           "redelivery")
        ch.basic_ack(got[2][0].delivery_tag)


@scenario("quorum queue x-delivery-limit 1: delivered twice, then dead-lettered as "
          "delivery_limit without the source's x-delivery-count; without a DLX it is dropped")
def _():
    with QConn() as c:
        ch = c.channel()
        dlq = c.queue(ch)
        q = quorum(c, ch, **{"x-delivery-limit": 1, "x-dead-letter-exchange": "",
                             "x-dead-letter-routing-key": dlq})
        drop = quorum(c, ch, **{"x-delivery-limit": 1})
        for name in (q, drop):
            put(ch, name, "d", headers={"a": 1})
            for want in (0, 1):
                m, p, b = held(c, ch, name)
                eq(count_of(p), want, "x-delivery-count of delivery %d" % want)
                ch.basic_nack(m.delivery_tag, requeue=True)
        eq(wait_count(c, ch, q, 0), 0, "source after the limit")
        eq(wait_count(c, ch, drop, 0), 0, "dropped without a DLX")
        m, p, b = held(c, ch, dlq)
        h = p.headers
        eq((h.get("a"), h["x-death"][0]["reason"], h["x-first-death-reason"],
            "x-delivery-count" in h), (1, "delivery_limit", "delivery_limit", False),
           "dead-lettered copy")
        ch.basic_ack(m.delivery_tag)


def publish_confirmed(c, q, n):
    """Publishes n messages o0..o<n-1> with confirms; returns 'ack' or 'nack' for each."""
    conn = qf_connect()
    ch = conn.channel()
    ch.confirm_delivery()
    out = []
    for i in range(n):
        try:
            ch.basic_publish("", q, ("o%d" % i).encode())
            out.append("ack")
        except pex.NackError:
            out.append("nack")
    conn.close()
    return out


def all_bodies(ch, q):
    out = []
    while True:
        m, p, b = ch.basic_get(q, auto_ack=True)
        if m is None:
            return out
        reason = p.headers["x-death"][0]["reason"] if p.headers and "x-death" in p.headers \
            else None
        out.append((b.decode(), reason) if reason else b.decode())


@scenario("quorum queue x-max-length 1 reject-publish holds 2 before it nacks (one message late)")
def _():
    with QConn() as c:
        ch = c.channel()
        dlq = c.queue(ch)
        q = quorum(c, ch, **{"x-max-length": 1, "x-overflow": "reject-publish",
                             "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq})
        eq(publish_confirmed(c, q, 4), ["ack", "ack", "nack", "nack"], "confirms")
        eq(wait_count(c, ch, q, 2), 2, "held")
        eq(all_bodies(ch, q), ["o0", "o1"], "kept")
        eq(all_bodies(ch, dlq), [], "nothing dead-lettered")


@scenario("quorum queue x-max-length 1 drop-head and reject-publish-dlx both keep the newest and "
          "dead-letter the heads as maxlen")
def _():
    with QConn() as c:
        for overflow in ("drop-head", "reject-publish-dlx"):
            ch = c.channel()
            dlq = c.queue(ch)
            q = quorum(c, ch, **{"x-max-length": 1, "x-overflow": overflow,
                                 "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq})
            eq(publish_confirmed(c, q, 4), ["ack"] * 4, "confirms (%s)" % overflow)
            eq(wait_count(c, ch, q, 1), 1, "held (%s)" % overflow)
            eq(all_bodies(ch, q), ["o3"], "kept (%s)" % overflow)
            eq(wait_count(c, ch, dlq, 3), 3, "dead-lettered (%s)" % overflow)
            eq(all_bodies(ch, dlq), [("o0", "maxlen"), ("o1", "maxlen"), ("o2", "maxlen")],
               "dead letters (%s)" % overflow)


@scenario("quorum queue at-least-once: a dead letter no queue takes stays out of the count")
def _():
    with QConn() as c:
        ch = c.channel()
        q = quorum(c, ch, **{"x-dead-letter-strategy": "at-least-once",
                             "x-overflow": "reject-publish",
                             "x-dead-letter-exchange": unique("nowhere")})
        for i in range(3):
            put(ch, q, "a%d" % i)
        eq(wait_count(c, ch, q, 3), 3, "ready")
        for _ in range(2):
            m, p, b = held(c, ch, q)
            ch.basic_reject(m.delivery_tag, requeue=False)
        eq(wait_count(c, ch, q, 1), 1, "count (dead letters kept apart)")


@scenario("quorum queue at-least-once: a kept dead letter reaches a target declared later",
          warren_only=True)
def _():
    with QConn() as c:
        ch = c.channel()
        dlx = c.exchange(ch, "fanout")
        ch.exchange_delete(dlx)  # not there when the messages die
        q = quorum(c, ch, **{"x-dead-letter-strategy": "at-least-once",
                             "x-overflow": "reject-publish", "x-dead-letter-exchange": dlx})
        put(ch, q, "kept")
        m, p, b = held(c, ch, q)
        ch.basic_reject(m.delivery_tag, requeue=False)
        c.conn.sleep(0.3)
        ch.exchange_declare(dlx, "fanout")
        target = c.queue(ch)
        ch.queue_bind(target, dlx)
        eq(wait_count(c, ch, target, 1, limit=4.0), 1, "target")
        eq(all_bodies(ch, target), [("kept", "rejected")], "dead letter")


@scenario("quorum queue consumer on a channel with global qos closes the connection with 540")
def _():
    with QConn() as c:
        ch = c.channel()
        q = quorum(c, ch)
        ch.basic_qos(prefetch_count=10)
        ch.basic_qos(prefetch_count=10, global_qos=True)
        connection_error(lambda: (ch.basic_consume(q, lambda *a: None),
                                  c.conn.process_data_events(time_limit=0.5)), 540,
                         "NOT_IMPLEMENTED - queue '%s' in vhost '%s' does not support global qos"
                         % (q, VHOST))
