"""Conformance scenarios driven by py-amqp 5 (Debian python3-amqp) and kombu 5 (python3-kombu).

Run: /usr/bin/python3 conformance/py-amqp/scenarios.py  (see conformance/harness.py)
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import amqp  # noqa: E402
from amqp import exceptions as aex  # noqa: E402

from harness import (URL, USER, VHOST, Failure, check, eq, main, matches,  # noqa: E402
                     scenario, unique, url_parts)

GEN_NAME = r"amq\.gen-[A-Za-z0-9_-]{22}"
CTAG = r"amq\.ctag-[A-Za-z0-9_-]{22}"


def connect(**kw):
    u = url_parts()
    c = amqp.Connection(host="%s:%d" % (u["host"], u["port"]), userid=u["user"],
                        password=u["password"], virtual_host=u["vhost"], connect_timeout=5, **kw)
    c.connect()
    return c


class Conn:
    def __init__(self, **kw):
        self.conn = connect(**kw)

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - cleanup
            pass


def pump(conn, secs=0.3, until=None):
    """Process incoming frames for up to secs, or until until() is true."""
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if until is not None and until():
            return
        try:
            conn.drain_events(timeout=0.05)
        except socket.timeout:
            pass


def channel_error(fn, code, text=None):
    try:
        fn()
    except aex.ConnectionError as e:
        raise Failure("expected channel close %d, got connection close %s %r"
                      % (code, e.reply_code, e.reply_text))
    except aex.ChannelError as e:
        eq(e.reply_code, code, "reply code (%s)" % e.reply_text)
        if text is not None:
            eq(e.reply_text, text, "reply text")
        return e
    raise Failure("expected channel close %d, got none" % code)


def connection_error(fn, code, text=None):
    try:
        fn()
    except aex.ConnectionError as e:
        eq(e.reply_code, code, "reply code (%s)" % e.reply_text)
        if text is not None:
            eq(e.reply_text, text, "reply text")
        return e
    raise Failure("expected connection close %d, got none" % code)


def msg(body, **props):
    return amqp.Message(body, **props)


def xq(ch):
    return ch.queue_declare("", exclusive=True).queue


def body(m):
    """py-amqp decodes text bodies to str; compare bytes."""
    return m.body.encode() if isinstance(m.body, str) else m.body


def drain(ch, q):
    out = []
    while True:
        m = ch.basic_get(q, no_ack=True)
        if m is None:
            return out
        out.append(body(m).decode())


def count(conn, q):
    ch = conn.channel()
    try:
        return ch.queue_declare(q, passive=True).message_count
    finally:
        ch.close()


# ---------------------------------------------------------------- connection


@scenario("py-amqp connects, reads server properties and capabilities, and closes")
def _():
    c = connect()
    props = c.server_properties
    check("product" in props and "version" in props, "server properties: %r" % props.keys())
    for cap in ("publisher_confirms", "exchange_exchange_bindings", "basic.nack",
                "consumer_cancel_notify", "connection.blocked", "consumer_priorities",
                "authentication_failure_close", "per_consumer_qos", "direct_reply_to"):
        eq(props["capabilities"].get(cap), True, "capability %s" % cap)
    ch = c.channel()
    ch.close()
    c.close()


@scenario("py-amqp negotiates heartbeat 2 and stays connected while idle for 5 s", timeout=20)
def _():
    with Conn(heartbeat=2) as c:
        eq(c.heartbeat, 2, "negotiated heartbeat")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            c.heartbeat_tick()
            try:
                c.drain_events(timeout=0.25)
            except socket.timeout:
                pass
        xq(c.channel())


@scenario("py-amqp connecting to a missing vhost is refused with 530")
def _():
    u = url_parts()
    c = amqp.Connection(host="%s:%d" % (u["host"], u["port"]), userid=u["user"],
                        password=u["password"], virtual_host="conf-no-such-vhost",
                        connect_timeout=5)
    try:
        c.connect()
    except aex.ConnectionError as e:
        eq((e.reply_code, e.reply_text), (530, "NOT_ALLOWED - vhost conf-no-such-vhost not found"),
           "close")
        return
    finally:
        try:
            c.collect()
        except Exception:  # noqa: BLE001
            pass
    raise Failure("opened a missing vhost")


# ---------------------------------------------------------------- exchanges and routing


@scenario("py-amqp declares every exchange type and a passive declare of a missing one gives 404")
def _():
    with Conn() as c:
        ch = c.channel()
        for t in ("direct", "fanout", "topic", "headers"):
            x = unique("x")
            ch.exchange_declare(x, t, auto_delete=False)
            ch.exchange_delete(x)
        x = unique("nope")
        channel_error(lambda: ch.exchange_declare(x, "direct", passive=True), 404,
                      "NOT_FOUND - no exchange '%s' in vhost '%s'" % (x, VHOST))


@scenario("py-amqp redeclaring an exchange with another type gives 406")
def _():
    with Conn() as c:
        ch = c.channel()
        x = unique("x")
        ch.exchange_declare(x, "direct", auto_delete=False)
        try:
            channel_error(lambda: ch.exchange_declare(x, "topic", auto_delete=False), 406,
                          "PRECONDITION_FAILED - inequivalent arg 'type' for exchange '%s' in "
                          "vhost '%s': received 'topic' but current is 'direct'" % (x, VHOST))
        finally:
            c.channel().exchange_delete(x)


@scenario("py-amqp: amq.* exchange declare gives 403 and default exchange delete gives 403")
def _():
    with Conn() as c:
        channel_error(lambda: c.channel().exchange_declare("amq.nope", "topic"), 403,
                      "ACCESS_REFUSED - exchange name 'amq.nope' contains reserved prefix 'amq.*'")
        channel_error(lambda: c.channel().exchange_delete(""), 403,
                      "ACCESS_REFUSED - operation not permitted on the default exchange")


@scenario("py-amqp: an unknown exchange type is refused (503 connection on 3.10, 406 channel)")
def _():
    with Conn() as c:
        try:
            c.channel().exchange_declare(unique("x"), "foo")
        except aex.ConnectionError as e:
            eq((e.reply_code, e.reply_text),
               (503, "COMMAND_INVALID - invalid exchange type 'foo'"), "connection close")
            return
        except aex.ChannelError as e:
            eq(e.reply_code, 406, "channel close code")
            check("unknown exchange type 'foo'" in e.reply_text, "text %r" % e.reply_text)
            return
        raise Failure("declared an exchange of type foo")


@scenario("py-amqp topic bindings route with * and #")
def _():
    with Conn() as c:
        ch = c.channel()
        x = unique("x.t")
        ch.exchange_declare(x, "topic", auto_delete=False)
        try:
            table = {"a.*": ["a.b", "a."], "#.b": ["a.b", "a.x.b", "b"], "*": ["a", "b"],
                     "": [""], "#": ["a.b", "a", "a.x.b", "b", "", "a."]}
            qs = {}
            for pattern in table:
                qs[pattern] = xq(ch)
                ch.queue_bind(qs[pattern], x, pattern)
            for key in ["a.b", "a", "a.x.b", "b", "", "a."]:
                ch.basic_publish(msg(key or "<empty>"), x, key)
            pump(c, 0.3)
            for pattern, want in table.items():
                eq(sorted(drain(ch, qs[pattern])), sorted(k or "<empty>" for k in want),
                   "pattern %r" % pattern)
        finally:
            c.channel().exchange_delete(x)


@scenario("py-amqp headers matching treats integer widths as equal values")
def _():
    with Conn() as c:
        ch = c.channel()
        q = xq(ch)
        # py-amqp sends small ints as 'I' (32-bit); the binding uses a 64-bit 'l' value.
        ch.queue_bind(q, "amq.headers", "", arguments={"x-match": "all", "n": 2 ** 40})
        q2 = xq(ch)
        ch.queue_bind(q2, "amq.headers", "", arguments={"x-match": "all", "n": 7})
        ch.basic_publish(msg("big", application_headers={"n": 2 ** 40}), "amq.headers", "")
        ch.basic_publish(msg("seven", application_headers={"n": 7}), "amq.headers", "")
        ch.basic_publish(msg("str", application_headers={"n": "7"}), "amq.headers", "")
        pump(c, 0.3)
        eq(drain(ch, q), ["big"], "64-bit binding")
        eq(drain(ch, q2), ["seven"], "32-bit binding, string does not match")


@scenario("py-amqp exchange-to-exchange binding routes and a queue gets one copy per message")
def _():
    with Conn() as c:
        ch = c.channel()
        src, dst = unique("x.s"), unique("x.d")
        ch.exchange_declare(src, "fanout", auto_delete=False)
        ch.exchange_declare(dst, "fanout", auto_delete=False)
        try:
            q = xq(ch)
            ch.exchange_bind(dst, src, "")
            ch.queue_bind(q, dst)
            ch.queue_bind(q, src)
            ch.basic_publish(msg("m"), src, "")
            pump(c, 0.3)
            eq(drain(ch, q), ["m"], "one copy")
            ch.exchange_unbind(dst, src, "")
        finally:
            c.channel().exchange_delete(src)
            c.channel().exchange_delete(dst)


# ---------------------------------------------------------------- queues


@scenario("py-amqp server-named queues, declare-ok counts and purge")
def _():
    with Conn() as c:
        ch = c.channel()
        ok = ch.queue_declare("", exclusive=True)
        matches(ok.queue, GEN_NAME, "server name")
        eq((ok.message_count, ok.consumer_count), (0, 0), "new queue counts")
        for i in range(4):
            ch.basic_publish(msg(str(i)), "", ok.queue)
        pump(c, 0.2)
        eq(ch.queue_declare(ok.queue, passive=True).message_count, 4, "count")
        eq(ch.queue_purge(ok.queue), 4, "purge count")


@scenario("py-amqp argument mismatch on redeclare gives the exact 406 text")
def _():
    with Conn() as c:
        ch = c.channel()
        q = unique("q")
        ch.queue_declare(q, exclusive=True, arguments={"x-max-length": 10})
        channel_error(lambda: ch.queue_declare(q, exclusive=True,
                                               arguments={"x-max-length": 20}), 406,
                      "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '%s' in "
                      "vhost '%s': received '20' but current is '10'" % (q, VHOST))


@scenario("py-amqp missing queue gives 404 and amq.* queue gives 403")
def _():
    with Conn() as c:
        q = unique("nope")
        channel_error(lambda: c.channel().queue_declare(q, passive=True), 404,
                      "NOT_FOUND - no queue '%s' in vhost '%s'" % (q, VHOST))
        channel_error(lambda: c.channel().queue_declare("amq.x"), 403,
                      "ACCESS_REFUSED - queue name 'amq.x' contains reserved prefix 'amq.*'")


@scenario("py-amqp exclusive queue from another connection gives 405")
def _():
    with Conn() as a, Conn() as b:
        q = xq(a.channel())
        channel_error(lambda: b.channel().basic_get(q), 405,
                      "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '%s' in "
                      "vhost '%s'. It could be originally declared on another connection or the "
                      "exclusive property value does not match that of the original "
                      "declaration." % (q, VHOST))


@scenario("py-amqp queue.delete if-empty and if-unused give 406, missing queue deletes with 0")
def _():
    with Conn() as c:
        ch = c.channel()
        q = xq(ch)
        ch.basic_publish(msg("m"), "", q)
        pump(c, 0.2)
        channel_error(lambda: ch.queue_delete(q, if_empty=True), 406,
                      "PRECONDITION_FAILED - queue '%s' in vhost '%s' not empty" % (q, VHOST))
        ch = c.channel()
        ch.basic_consume(q, callback=lambda m: None)
        channel_error(lambda: c.channel().queue_delete(q, if_unused=True), 406,
                      "PRECONDITION_FAILED - queue '%s' in vhost '%s' in use" % (q, VHOST))
        eq(c.channel().queue_delete(unique("nope")), 0, "missing queue delete-ok")


@scenario("py-amqp: an empty queue name means the last declared queue")
def _():
    with Conn() as c:
        ch = c.channel()
        q = xq(ch)
        k = unique("k")
        ch.queue_bind("", "amq.direct", k)
        ch.basic_publish(msg("m"), "amq.direct", k)
        pump(c, 0.2)
        m = ch.basic_get("", no_ack=True)
        check(m is not None and body(m) == b"m", "get '' from %s" % q)


# ---------------------------------------------------------------- basic


@scenario("py-amqp publish/get round trip keeps properties; get-empty returns None")
def _():
    with Conn() as c:
        ch = c.channel()
        q = xq(ch)
        ch.basic_publish(msg(b"\x00\x01binary", content_type="application/octet-stream",
                             application_headers={"i": 1, "s": "x", "b": True, "l": [1, "a"],
                                                  "t": {"n": 2}},
                             delivery_mode=2, priority=1), "", q)
        pump(c, 0.2)
        m = ch.basic_get(q)
        check(m is not None, "no message")
        eq(body(m), b"\x00\x01binary", "body")
        eq(m.properties.get("content_type"), "application/octet-stream", "content type")
        eq(m.properties["application_headers"],
           {"i": 1, "s": "x", "b": True, "l": [1, "a"], "t": {"n": 2}}, "headers")
        eq(m.delivery_info["redelivered"], False, "redelivered")
        ch.basic_ack(m.delivery_tag)
        check(ch.basic_get(q) is None, "get-empty")


@scenario("py-amqp large bodies are split into frames and reassembled")
def _():
    with Conn() as c:
        ch = c.channel()
        q = xq(ch)
        big = bytes(range(256)) * 2048  # 512 KiB: several frames of 128 KiB
        ch.basic_publish(msg(big), "", q)
        pump(c, 0.3)
        m = ch.basic_get(q, no_ack=True)
        eq(len(m.body), len(big), "length")
        check(m.body == big, "body differs")


@scenario("py-amqp consume with a server-generated tag, then cancel")
def _():
    with Conn() as c:
        ch = c.channel()
        q = xq(ch)
        got = []
        tag = ch.basic_consume(q, callback=lambda m: got.append(body(m)), no_ack=True)
        matches(tag, CTAG, "consumer tag")
        for i in range(3):
            ch.basic_publish(msg(str(i)), "", q)
        pump(c, 2, lambda: len(got) == 3)
        eq(got, [b"0", b"1", b"2"], "deliveries")
        ch.basic_cancel(tag)
        ch.basic_publish(msg("after"), "", q)
        pump(c, 0.2)
        eq(len(got), 3, "none after cancel")


@scenario("py-amqp reusing a consumer tag closes the connection with 530")
def _():
    with Conn() as c:
        ch = c.channel()
        q = xq(ch)
        ch.basic_consume(q, consumer_tag="dup", callback=lambda m: None)
        connection_error(lambda: (ch.basic_consume(q, consumer_tag="dup",
                                                   callback=lambda m: None), pump(c, 1)),
                         530, "NOT_ALLOWED - attempt to reuse consumer tag 'dup'")


@scenario("py-amqp prefetch per consumer and per channel")
def _():
    with Conn() as c:
        ch = c.channel()
        q = xq(ch)
        ch.basic_qos(0, 2, False)
        ch.basic_qos(0, 3, True)
        got = {"a": 0, "b": 0}
        for t in got:
            ch.basic_consume(q, consumer_tag=t,
                             callback=lambda m, t=t: got.__setitem__(t, got[t] + 1))
        for i in range(10):
            ch.basic_publish(msg(str(i)), "", q)
        pump(c, 0.5)
        eq(got, {"a": 2, "b": 1}, "per-consumer 2, channel 3")


@scenario("py-amqp reject with requeue sets redelivered; unknown tag gives 406")
def _():
    with Conn() as c:
        ch = c.channel()
        q = xq(ch)
        ch.basic_publish(msg("m"), "", q)
        pump(c, 0.2)
        m = ch.basic_get(q)
        ch.basic_reject(m.delivery_tag, requeue=True)
        m = ch.basic_get(q)
        eq(m.delivery_info["redelivered"], True, "redelivered")
        ch.basic_reject(m.delivery_tag, requeue=False)

        def go():
            ch.basic_ack(42)
            ch.queue_declare(q, passive=True)
        channel_error(go, 406, "PRECONDITION_FAILED - unknown delivery tag 42")


@scenario("py-amqp basic.recover requeue=true redelivers with new tags")
def _():
    with Conn() as c:
        ch = c.channel()
        q = xq(ch)
        got = []
        ch.basic_consume(q, callback=lambda m: got.append(
            (m.delivery_tag, m.delivery_info["redelivered"])))
        ch.basic_publish(msg("m"), "", q)
        pump(c, 2, lambda: len(got) == 1)
        ch.basic_recover(requeue=True)
        pump(c, 2, lambda: len(got) == 2)
        eq(got, [(1, False), (2, True)], "deliveries")


@scenario("py-amqp mandatory unroutable publish is returned with 312 NO_ROUTE")
def _():
    with Conn() as c:
        ch = c.channel()
        returned = []
        ch.events["basic_return"].add(
            lambda exc, exchange, routing_key, message: returned.append(
                (exc.reply_code, exc.reply_text, exchange, routing_key, body(message))))
        k = unique("nowhere")
        ch.basic_publish(msg("m"), "amq.topic", k, mandatory=True)
        pump(c, 2, lambda: returned)
        eq(returned, [(312, "NO_ROUTE", "amq.topic", k, b"m")], "return")


@scenario("py-amqp publish with immediate=true closes the connection with 540")
def _():
    with Conn() as c:
        ch = c.channel()
        q = xq(ch)
        connection_error(lambda: (ch.basic_publish(msg("m"), "", q, immediate=True),
                                  pump(c, 1)),
                         540, "NOT_IMPLEMENTED - immediate=true")


@scenario("py-amqp prefetch_size != 0 closes the connection with 540")
def _():
    with Conn() as c:
        connection_error(lambda: c.channel().basic_qos(1000, 0, False), 540,
                         "NOT_IMPLEMENTED - prefetch_size!=0 (1000)")


@scenario("py-amqp BCC routes a copy and is removed from delivered headers")
def _():
    with Conn() as c:
        ch = c.channel()
        qa, qb = xq(ch), xq(ch)
        ch.basic_publish(msg("m", application_headers={"BCC": [qb]}), "", qa)
        pump(c, 0.2)
        for q in (qa, qb):
            m = ch.basic_get(q, no_ack=True)
            check(m is not None, "no copy in %s" % q)
            check("BCC" not in (m.properties.get("application_headers") or {}), "BCC seen")


@scenario("py-amqp user-id mismatch gives 406")
def _():
    with Conn() as c:
        ch = c.channel()
        q = xq(ch)

        def go():
            ch.basic_publish(msg("m", user_id="mallory"), "", q)
            ch.queue_declare(q, passive=True)
        channel_error(go, 406, "PRECONDITION_FAILED - user_id property set to 'mallory' but "
                      "authenticated user was '%s'" % USER)


@scenario("py-amqp consumer cancel notification when its queue is deleted")
def _():
    with Conn() as c:
        ch = c.channel()
        q = xq(ch)
        cancelled = []
        tag = ch.basic_consume(q, callback=lambda m: None, on_cancel=cancelled.append)
        c.channel().queue_delete(q)
        pump(c, 2, lambda: cancelled)
        eq(cancelled, [tag], "cancelled tags")


# ---------------------------------------------------------------- confirms, tx, channels


@scenario("py-amqp publisher confirms deliver an ack for each publish")
def _():
    with Conn() as c:
        ch = c.channel()
        q = xq(ch)
        acks = []
        ch.events["basic_ack"].add(lambda tag, multiple: acks.append((tag, multiple)))
        ch.confirm_select()
        for i in range(10):
            ch.basic_publish(msg(str(i)), "", q)
        highest = lambda: max([t for t, _ in acks] or [0])  # noqa: E731
        pump(c, 3, lambda: highest() == 10)
        eq(highest(), 10, "highest acked tag")
        acked = set()
        for t, multiple in acks:
            acked |= set(range(1, t + 1)) if multiple else {t}
        eq(acked, set(range(1, 11)), "every publish acked")


@scenario("py-amqp basic.return arrives before the ack of a mandatory unroutable publish")
def _():
    with Conn() as c:
        ch = c.channel()
        events = []
        ch.events["basic_ack"].add(lambda tag, multiple: events.append(("ack", tag)))
        ch.events["basic_return"].add(lambda exc, x, rk, m: events.append(("return", 312)))
        ch.confirm_select()
        ch.basic_publish(msg("m"), "amq.direct", unique("nowhere"), mandatory=True)
        pump(c, 2, lambda: len(events) == 2)
        eq(events, [("return", 312), ("ack", 1)], "order")


@scenario("py-amqp tx commit and rollback; commit without select gives 406")
def _():
    with Conn() as c:
        ch = c.channel()
        q = xq(ch)
        ch.tx_select()
        ch.basic_publish(msg("a"), "", q)
        ch.tx_rollback()
        ch.basic_publish(msg("b"), "", q)
        ch.tx_commit()
        eq(drain(ch, q), ["b"], "committed only")
        channel_error(c.channel().tx_commit, 406,
                      "PRECONDITION_FAILED - channel is not transactional")
        ch = c.channel()
        ch.confirm_select()
        channel_error(ch.tx_select, 406,
                      "PRECONDITION_FAILED - cannot switch from confirm to tx mode")


@scenario("py-amqp direct reply-to round trip")
def _():
    with Conn() as c:
        ch = c.channel()
        rq = xq(ch)
        replies = []
        ch.basic_consume("amq.rabbitmq.reply-to", no_ack=True, callback=replies.append)
        ch.basic_publish(msg("ping", reply_to="amq.rabbitmq.reply-to"), "", rq)
        pump(c, 0.2)
        srv = c.channel()
        req = srv.basic_get(rq, no_ack=True)
        reply_to = req.properties["reply_to"]
        check(reply_to.startswith("amq.rabbitmq.reply-to."), "rewritten reply_to %r" % reply_to)
        srv.basic_publish(msg("pong"), "", reply_to)
        pump(c, 2, lambda: replies)
        eq([body(m) for m in replies], [b"pong"], "reply")


@scenario("py-amqp channel.flow: active=true ok, active=false closes the connection with 540")
def _():
    with Conn() as c:
        ch = c.channel()
        ch.flow(True)
        pump(c, 0.2)
        connection_error(lambda: (ch.flow(False), pump(c, 1)), 540,
                         "NOT_IMPLEMENTED - active=false")


@scenario("py-amqp a channel error leaves the connection usable")
def _():
    with Conn() as c:
        channel_error(lambda: c.channel().queue_declare(unique("nope"), passive=True), 404)
        ch = c.channel()
        q = xq(ch)
        ch.basic_publish(msg("ok"), "", q)
        pump(c, 0.2)
        eq(drain(ch, q), ["ok"], "after a channel error")


# ---------------------------------------------------------------- kombu (Celery-style)


def kombu_connection():
    import kombu
    return kombu.Connection(URL.replace("amqp://", "pyamqp://", 1), connect_timeout=5,
                            transport_options={"confirm_publish": True})


@scenario("kombu producer and consumer round trip a JSON task message (Celery-style)")
def _():
    import kombu
    ex = kombu.Exchange(unique("kx"), type="direct", durable=False, auto_delete=True)
    q = kombu.Queue(unique("kq"), ex, routing_key="tasks", durable=False, auto_delete=True)
    got = []
    with kombu_connection() as conn:
        with conn.Producer() as producer:
            producer.publish({"task": "add", "args": [2, 3], "id": "t-1"}, exchange=ex,
                             routing_key="tasks", declare=[q], serializer="json",
                             headers={"task": "add"}, retry=False)
        with conn.Consumer(q, callbacks=[lambda body, m: (got.append((body, m.headers)),
                                                          m.ack())], accept=["json"]):
            deadline = time.monotonic() + 3
            while not got and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=0.2)
                except socket.timeout:
                    pass
    eq(got, [({"task": "add", "args": [2, 3], "id": "t-1"}, {"task": "add"})], "received")


@scenario("kombu SimpleQueue put/get with ack and qsize")
def _():
    with kombu_connection() as conn:
        name = unique("kq.simple")
        sq = conn.SimpleQueue(name, queue_opts={"durable": False, "auto_delete": False})
        try:
            for i in range(3):
                sq.put({"n": i})
            deadline = time.monotonic() + 2
            while sq.qsize() < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            eq(sq.qsize(), 3, "qsize")
            got = []
            for _ in range(3):
                m = sq.get(block=True, timeout=2)
                got.append(m.payload["n"])
                m.ack()
            eq(got, [0, 1, 2], "payloads")
        finally:
            sq.close()
            with conn.channel() as ch:
                ch.queue_delete(name)
                ch.exchange_delete(name)  # SimpleQueue declares an exchange of the same name


@scenario("kombu reject with requeue redelivers and a fanout broadcast reaches every queue")
def _():
    import kombu
    with kombu_connection() as conn:
        ex = kombu.Exchange(unique("kfan"), type="fanout", durable=False, auto_delete=True)
        qs = [kombu.Queue(unique("kq"), ex, exclusive=True) for _ in range(2)]
        with conn.channel() as ch:
            bound = [q(ch) for q in qs]
            for b in bound:
                b.declare()
            kombu.Producer(ch).publish("hello", exchange=ex, routing_key="x")
            time.sleep(0.2)
            m = bound[0].get()
            eq(m.payload, "hello", "queue 0 payload")
            m.requeue()
            m = bound[0].get()
            eq(m.delivery_info["redelivered"], True, "redelivered")
            m.ack()
            eq(bound[1].get(no_ack=True).payload, "hello", "queue 1 payload")


if __name__ == "__main__":
    main("py-amqp")
