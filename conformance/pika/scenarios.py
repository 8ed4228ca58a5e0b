"""Conformance scenarios driven by pika 1.2 (Debian python3-pika): the broadest set.

Run: /usr/bin/python3 conformance/pika/scenarios.py  (see conformance/harness.py for the environment)
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import pika  # noqa: E402
from pika import exceptions as pex  # noqa: E402
from pika import spec  # noqa: E402

from harness import (URL, USER, VHOST, Failure, check, eq, main, matches,  # noqa: E402
                     scenario, unique)

GEN_NAME = r"amq\.gen-[A-Za-z0-9_-]{22}"
CTAG = r"amq\.ctag-[A-Za-z0-9_-]{22}"


def connect(**params):
    p = pika.URLParameters(URL)
    p.blocked_connection_timeout = None
    p.socket_timeout = 5
    p.connection_attempts = 1
    for k, v in params.items():
        setattr(p, k, v)
    return pika.BlockingConnection(p)


class Conn:
    """A connection closed at the end of a with-block, whatever its state."""

    def __init__(self, **params):
        self.conn = connect(**params)

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        try:
            if self.conn.is_open:
                self.conn.close()
        except Exception:  # noqa: BLE001 - cleanup
            pass


def channel_error(fn, code, text=None, pattern=None):
    """fn() must close its channel with code and text (exact) or pattern (regex)."""
    try:
        fn()
    except pex.ChannelClosedByBroker as e:
        eq(e.reply_code, code, "reply code (%s)" % e.reply_text)
        if text is not None:
            eq(e.reply_text, text, "reply text")
        if pattern is not None:
            matches(e.reply_text, pattern, "reply text")
        return e
    raise Failure("expected channel close %d, got none" % code)


def connection_error(fn, code, text=None):
    try:
        fn()
    except pex.ConnectionClosedByBroker as e:
        eq(e.reply_code, code, "reply code (%s)" % e.reply_text)
        if text is not None:
            eq(e.reply_text, text, "reply text")
        return e
    raise Failure("expected connection close %d, got none" % code)


def drain(ch, queue):
    out = []
    while True:
        m, p, body = ch.basic_get(queue, auto_ack=True)
        if m is None:
            return out
        out.append(body.decode())


def publish(ch, rk, body, exchange="", **props):
    ch.basic_publish(exchange, rk, body.encode() if isinstance(body, str) else body,
                     pika.BasicProperties(**props) if props else None)


def collect(conn, sink, want, limit=2.0):
    """Run the I/O loop until sink holds want entries or limit seconds pass."""
    deadline = time.monotonic() + limit
    while len(sink) < want and time.monotonic() < deadline:
        conn.process_data_events(time_limit=0.05)
    return sink


def settle(conn, secs=0.3):
    """Let the I/O loop run for secs (process_data_events alone may return early)."""
    conn.sleep(secs)


def queue_exists(name):
    with Conn() as c:
        try:
            c.channel().queue_declare(name, passive=True)
            return True
        except pex.ChannelClosedByBroker as e:
            eq(e.reply_code, 404, "passive declare code")
            return False


def exchange_exists(name):
    with Conn() as c:
        try:
            c.channel().exchange_declare(name, passive=True)
            return True
        except pex.ChannelClosedByBroker as e:
            eq(e.reply_code, 404, "passive declare code")
            return False


def tmp_queue(ch, **kw):
    name = unique("q")
    ch.queue_declare(name, auto_delete=False, **kw)
    return name


def cleanup_queues(*names):
    with Conn() as c:
        ch = c.channel()
        for n in names:
            ch.queue_delete(n)


def cleanup_exchanges(*names):
    with Conn() as c:
        ch = c.channel()
        for n in names:
            ch.exchange_delete(n)


# ---------------------------------------------------------------- connection


@scenario("a client connects, opens a channel and disconnects cleanly")
def _():
    c = connect()
    ch = c.channel()
    check(ch.is_open, "channel open")
    ch.close()
    c.close()
    check(c.is_closed, "connection closed")


@scenario("connection.start carries server properties and the nine capabilities")
def _():
    with Conn() as c:
        props = c._impl.server_properties
        for key in ("product", "version", "platform", "copyright", "information"):
            check(key in props, "server property %s missing: %r" % (key, props.keys()))
        caps = props["capabilities"]
        for cap in ("publisher_confirms", "exchange_exchange_bindings", "basic.nack",
                    "consumer_cancel_notify", "connection.blocked", "consumer_priorities",
                    "authentication_failure_close", "per_consumer_qos", "direct_reply_to"):
            eq(caps.get(cap), True, "capability %s" % cap)


@scenario("a heartbeat of 2 s keeps an idle connection open for 5 s", timeout=20)
def _():
    with Conn(heartbeat=2) as c:
        eq(c._impl.params.heartbeat, 2, "negotiated heartbeat")
        c.sleep(5)
        check(c.is_open, "connection still open")
        ch = c.channel()
        ch.queue_declare("", exclusive=True)


@scenario("a wrong password is refused with 403 ACCESS_REFUSED")
def _():
    p = pika.URLParameters(URL)
    p.credentials = pika.PlainCredentials(USER, "definitely-wrong")
    p.connection_attempts = 1
    try:
        pika.BlockingConnection(p)
    except pex.ProbableAuthenticationError as e:
        check("ACCESS_REFUSED" in str(e), "text: %s" % e)
        return
    raise Failure("connection with a wrong password succeeded")


# ---------------------------------------------------------------- exchanges


@scenario("each exchange type (direct, fanout, topic, headers) can be declared and deleted")
def _():
    with Conn() as c:
        ch = c.channel()
        for t in ("direct", "fanout", "topic", "headers"):
            x = unique("x." + t)
            ch.exchange_declare(x, t)
            ch.exchange_declare(x, t, passive=True)
            ch.exchange_delete(x)
            check(not exchange_exists(x), "%s exchange still exists" % t)


@scenario("a passive declare of a missing exchange closes the channel with 404")
def _():
    x = unique("nope")
    with Conn() as c:
        ch = c.channel()
        channel_error(lambda: ch.exchange_declare(x, passive=True), 404,
                      "NOT_FOUND - no exchange '%s' in vhost '%s'" % (x, VHOST))


@scenario("redeclaring an exchange with another type gives 406 inequivalent arg 'type'")
def _():
    x = unique("x")
    with Conn() as c:
        ch = c.channel()
        ch.exchange_declare(x, "direct")
        try:
            channel_error(lambda: ch.exchange_declare(x, "fanout"), 406,
                          "PRECONDITION_FAILED - inequivalent arg 'type' for exchange '%s' in "
                          "vhost '%s': received 'fanout' but current is 'direct'" % (x, VHOST))
        finally:
            cleanup_exchanges(x)


@scenario("redeclaring an exchange with another durable flag gives 406 inequivalent arg 'durable'")
def _():
    x = unique("x")
    with Conn() as c:
        ch = c.channel()
        ch.exchange_declare(x, "direct", auto_delete=False)
        try:
            channel_error(lambda: ch.exchange_declare(x, "direct", durable=True), 406,
                          "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange '%s' in "
                          "vhost '%s': received 'true' but current is 'false'" % (x, VHOST))
        finally:
            cleanup_exchanges(x)


@scenario("exchange.delete if-unused on an exchange with bindings gives 406 in use")
def _():
    x = unique("x")
    with Conn() as c:
        ch = c.channel()
        ch.exchange_declare(x, "direct")
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(q, x, "k")
        try:
            channel_error(lambda: ch.exchange_delete(x, if_unused=True), 406,
                          "PRECONDITION_FAILED - exchange '%s' in vhost '%s' in use" % (x, VHOST))
        finally:
            cleanup_exchanges(x)


@scenario("declaring an exchange named amq.* is refused with 403")
def _():
    with Conn() as c:
        ch = c.channel()
        channel_error(lambda: ch.exchange_declare("amq.conf-test", "direct"), 403,
                      "ACCESS_REFUSED - exchange name 'amq.conf-test' contains reserved prefix "
                      "'amq.*'")


@scenario("redeclaring amq.direct as a durable direct exchange is allowed")
def _():
    with Conn() as c:
        c.channel().exchange_declare("amq.direct", "direct", durable=True)


@scenario("deleting the system exchange amq.direct is refused with 403")
def _():
    with Conn() as c:
        ch = c.channel()
        channel_error(lambda: ch.exchange_delete("amq.direct"), 403,
                      "ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '%s' "
                      "not allowed" % VHOST)


@scenario("declaring, deleting or binding to the default exchange is refused with 403")
def _():
    text = "ACCESS_REFUSED - operation not permitted on the default exchange"
    with Conn() as c:
        ch = c.channel()
        channel_error(lambda: ch.exchange_declare("", "direct"), 403, text)
        ch = c.channel()
        channel_error(lambda: ch.exchange_delete(""), 403, text)
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        channel_error(lambda: ch.queue_bind(q, "", q), 403, text)
        ch = c.channel()
        channel_error(lambda: ch.queue_unbind(q, "", q), 403, text)


@scenario("exchange.delete of a missing exchange succeeds")
def _():
    with Conn() as c:
        c.channel().exchange_delete(unique("nope"))


@scenario("an exchange-to-exchange binding routes, and unbinding stops it")
def _():
    src, dst = unique("x.src"), unique("x.dst")
    with Conn() as c:
        ch = c.channel()
        ch.exchange_declare(src, "topic")
        ch.exchange_declare(dst, "direct")
        try:
            q = ch.queue_declare("", exclusive=True).method.queue
            ch.queue_bind(q, dst, "k.1")
            ch.exchange_bind(dst, src, "k.*")
            publish(ch, "k.1", "one", src)
            publish(ch, "k.2", "dropped-by-dst", src)
            publish(ch, "z.1", "dropped-by-src", src)
            settle(c)
            eq(drain(ch, q), ["one"], "routed through e2e binding")
            ch.exchange_unbind(dst, src, "k.*")
            publish(ch, "k.1", "two", src)
            settle(c)
            eq(drain(ch, q), [], "after unbind")
        finally:
            cleanup_exchanges(src, dst)


@scenario("publishing to an internal exchange is refused with 403")
def _():
    x = unique("x.int")
    with Conn() as c:
        ch = c.channel()
        ch.exchange_declare(x, "fanout", internal=True)
        try:
            def go():
                publish(ch, "", "m", x)
                ch.queue_declare("", exclusive=True)
            channel_error(go, 403, "ACCESS_REFUSED - cannot publish to internal exchange '%s' in "
                          "vhost '%s'" % (x, VHOST))
        finally:
            cleanup_exchanges(x)


@scenario("an alternate exchange receives what the main exchange cannot route")
def _():
    main_x, ae = unique("x.main"), unique("x.ae")
    with Conn() as c:
        ch = c.channel()
        ch.exchange_declare(ae, "fanout")
        ch.exchange_declare(main_x, "direct", arguments={"alternate-exchange": ae})
        try:
            q_main = ch.queue_declare("", exclusive=True).method.queue
            q_ae = ch.queue_declare("", exclusive=True).method.queue
            ch.queue_bind(q_main, main_x, "known")
            ch.queue_bind(q_ae, ae, "")
            returned = []
            ch.add_on_return_callback(lambda *a: returned.append(a))
            ch.basic_publish(main_x, "known", b"k", mandatory=True)
            ch.basic_publish(main_x, "unknown", b"u", mandatory=True)
            settle(c)
            eq(drain(ch, q_main), ["k"], "main queue")
            eq(drain(ch, q_ae), ["u"], "alternate queue")
            eq(returned, [], "an AE counts as a route: no basic.return")
        finally:
            cleanup_exchanges(main_x, ae)


@scenario("an unknown exchange type is refused: RabbitMQ 3.10 503 connection, Warren 406 channel")
def _():
    x = unique("x.bad")
    with Conn() as c:
        ch = c.channel()
        try:
            ch.exchange_declare(x, "foo")
        except pex.ConnectionClosedByBroker as e:
            eq((e.reply_code, e.reply_text),
               (503, "COMMAND_INVALID - invalid exchange type 'foo'"), "connection close")
            return
        except pex.ChannelClosedByBroker as e:
            eq(e.reply_code, 406, "channel close code")
            check("unknown exchange type 'foo'" in e.reply_text, "text: %r" % e.reply_text)
            check(c.is_open, "connection stays open")
            return
        raise Failure("exchange of type foo was declared")


@scenario("publishing to a missing exchange closes the channel with 404")
def _():
    x = unique("nope")
    with Conn() as c:
        ch = c.channel()

        def go():
            publish(ch, "k", "m", x)
            ch.queue_declare("", exclusive=True)
        channel_error(go, 404, "NOT_FOUND - no exchange '%s' in vhost '%s'" % (x, VHOST))


@scenario("an auto-delete exchange disappears when its last binding is removed")
def _():
    x = unique("x.ad")
    with Conn() as c:
        ch = c.channel()
        ch.exchange_declare(x, "direct", auto_delete=True)
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(q, x, "k")
        ch.queue_unbind(q, x, "k")
        check(not exchange_exists(x), "auto-delete exchange still exists")


# ---------------------------------------------------------------- routing

TOPIC_KEYS = ["a.b", "a", "a.b.c", "a.x.b", "a.x.y.b", "", "a..b", ".", "a.b.", "b", "..", "a.",
              ".a"]
TOPIC_TABLE = {
    "a.b": ["a.b"],
    "a.*": ["a.b", "a."],
    "*.b": ["a.b"],
    "*": ["a", "b"],
    "*.*": ["a.b", ".", "a.", ".a"],
    "#": TOPIC_KEYS,
    "#.#": TOPIC_KEYS,
    "a.#": ["a.b", "a", "a.b.c", "a.x.b", "a.x.y.b", "a..b", "a.b.", "a."],
    "#.b": ["a.b", "a.x.b", "a.x.y.b", "a..b", "b"],
    "a.#.b": ["a.b", "a.x.b", "a.x.y.b", "a..b"],
    "a.*.b": ["a.x.b", "a..b"],
    "a.*.#": ["a.b", "a.b.c", "a.x.b", "a.x.y.b", "a..b", "a.b.", "a."],
    "#.*": [k for k in TOPIC_KEYS if k != ""],
    "#.a.#": [k for k in TOPIC_KEYS if "a" in k.split(".")],
    "": [""],
    "a..b": ["a..b"],
    "a.b.": ["a.b."],
    ".": ["."],
    "..": [".."],
}


@scenario("topic routing follows RabbitMQ's * and # rules, including empty words")
def _():
    x = unique("x.topic")
    with Conn() as c:
        ch = c.channel()
        ch.exchange_declare(x, "topic")
        try:
            queues = {}
            for pattern in TOPIC_TABLE:
                q = ch.queue_declare("", exclusive=True).method.queue
                ch.queue_bind(q, x, pattern)
                queues[pattern] = q
            for key in TOPIC_KEYS:
                publish(ch, key, "<%s>" % key, x)
            settle(c)
            for pattern, want in TOPIC_TABLE.items():
                got = sorted(drain(ch, queues[pattern]))
                eq(got, sorted("<%s>" % k for k in want), "pattern %r" % pattern)
        finally:
            cleanup_exchanges(x)


HEADER_BINDINGS = {
    "all a=1 b=2": {"x-match": "all", "a": 1, "b": 2},
    "any a=1 b=2": {"x-match": "any", "a": 1, "b": 2},
    "all x-k only": {"x-match": "all", "x-k": "v"},
    "any x-k only": {"x-match": "any", "x-k": "v"},
    "any x-k a=1": {"x-match": "any", "x-k": "v", "a": 1},
    "all-with-x a=1 x-k": {"x-match": "all-with-x", "a": 1, "x-k": "v"},
    "any-with-x x-k": {"x-match": "any-with-x", "x-k": "v"},
    "default a=1": {"a": 1},
}
HEADER_MESSAGES = {
    "none": None,
    "a1": {"a": 1},
    "a1b2": {"a": 1, "b": 2},
    "a-str": {"a": "1"},
    "b2": {"b": 2},
    "a1xk": {"a": 1, "x-k": "v"},
    "xk": {"x-k": "v"},
    "a1b2c3": {"a": 1, "b": 2, "c": 3},
}
HEADER_TABLE = {
    "all a=1 b=2": ["a1b2", "a1b2c3"],
    "any a=1 b=2": ["a1", "a1b2", "b2", "a1xk", "a1b2c3"],
    "all x-k only": list(HEADER_MESSAGES),
    "any x-k only": [],
    "any x-k a=1": ["a1", "a1b2", "a1xk", "a1b2c3"],
    "all-with-x a=1 x-k": ["a1xk"],
    "any-with-x x-k": ["a1xk", "xk"],
    "default a=1": ["a1", "a1b2", "a1xk", "a1b2c3"],
}


@scenario("headers exchange matching follows x-match all, any, all-with-x and any-with-x")
def _():
    x = unique("x.headers")
    with Conn() as c:
        ch = c.channel()
        ch.exchange_declare(x, "headers")
        try:
            queues = {}
            for name, args in HEADER_BINDINGS.items():
                q = ch.queue_declare("", exclusive=True).method.queue
                ch.queue_bind(q, x, "", arguments=args)
                queues[name] = q
            for name, headers in HEADER_MESSAGES.items():
                publish(ch, "", name, x, headers=headers)
            settle(c)
            for name, want in HEADER_TABLE.items():
                eq(sorted(drain(ch, queues[name])), sorted(want), "binding %s" % name)
        finally:
            cleanup_exchanges(x)


@scenario("a headers binding with a bad x-match is refused with 406")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        channel_error(lambda: ch.queue_bind(q, "amq.headers", "", arguments={"x-match": "bogus"}),
                      406, 'PRECONDITION_FAILED - Invalid x-match field value <<"bogus">>; '
                      "expected all, any, all-with-x, or any-with-x")


@scenario("a fanout exchange copies a message to every bound queue, ignoring the key")
def _():
    x = unique("x.fanout")
    with Conn() as c:
        ch = c.channel()
        ch.exchange_declare(x, "fanout")
        try:
            qs = [ch.queue_declare("", exclusive=True).method.queue for _ in range(3)]
            for q in qs:
                ch.queue_bind(q, x, "whatever-%s" % q)
            publish(ch, "any.key", "m", x)
            settle(c)
            for q in qs:
                eq(drain(ch, q), ["m"], "fanout copy")
        finally:
            cleanup_exchanges(x)


@scenario("a direct exchange routes by exact routing key")
def _():
    with Conn() as c:
        ch = c.channel()
        q1 = ch.queue_declare("", exclusive=True).method.queue
        q2 = ch.queue_declare("", exclusive=True).method.queue
        k = unique("k")
        ch.queue_bind(q1, "amq.direct", k + ".one")
        ch.queue_bind(q2, "amq.direct", k + ".two")
        publish(ch, k + ".one", "1", "amq.direct")
        publish(ch, k + ".two", "2", "amq.direct")
        publish(ch, k + ".ONE", "x", "amq.direct")
        settle(c)
        eq(drain(ch, q1), ["1"], "q1")
        eq(drain(ch, q2), ["2"], "q2")


@scenario("a queue reachable by two paths receives one copy")
def _():
    src, mid = unique("x.src"), unique("x.mid")
    with Conn() as c:
        ch = c.channel()
        ch.exchange_declare(src, "topic")
        ch.exchange_declare(mid, "fanout")
        try:
            q = ch.queue_declare("", exclusive=True).method.queue
            ch.queue_bind(q, src, "a.*")
            ch.queue_bind(q, src, "#")
            ch.queue_bind(q, mid, "")
            ch.exchange_bind(mid, src, "a.b")
            publish(ch, "a.b", "once", src)
            settle(c)
            eq(drain(ch, q), ["once"], "one copy")
        finally:
            cleanup_exchanges(src, mid)


# ---------------------------------------------------------------- queues


@scenario("queues can be declared durable, exclusive and auto-delete")
def _():
    with Conn() as c:
        ch = c.channel()
        d, e, a = unique("q.durable"), unique("q.excl"), unique("q.ad")
        try:
            eq(ch.queue_declare(d, durable=True).method.queue, d, "durable name")
            eq(ch.queue_declare(e, exclusive=True).method.queue, e, "exclusive name")
            eq(ch.queue_declare(a, auto_delete=True).method.queue, a, "auto-delete name")
            ch.queue_declare(d, durable=True, passive=True)
        finally:
            ch.queue_delete(d)
            ch.queue_delete(a)


@scenario("a server-named queue is amq.gen- followed by 22 characters")
def _():
    with Conn() as c:
        ch = c.channel()
        matches(ch.queue_declare("", exclusive=True).method.queue, GEN_NAME, "exclusive name")
        q = ch.queue_declare("").method.queue
        matches(q, GEN_NAME, "non-exclusive name")
        ch.queue_delete(q)


ARGS_TEXT = ("PRECONDITION_FAILED - inequivalent arg '%s' for queue '%s' in vhost '" + VHOST
             + "': %s")


@scenario("redeclaring a queue with another x-max-length gives the exact 406 text")
def _():
    with Conn() as c:
        ch = c.channel()
        q = unique("q.args")
        ch.queue_declare(q, exclusive=True, arguments={"x-max-length": 10})
        channel_error(lambda: ch.queue_declare(q, exclusive=True, arguments={"x-max-length": 20}),
                      406, ARGS_TEXT % ("x-max-length", q, "received '20' but current is '10'"))


@scenario("redeclaring a queue without its argument gives the 'received none' 406 text")
def _():
    with Conn() as c:
        ch = c.channel()
        q = unique("q.args")
        ch.queue_declare(q, exclusive=True, arguments={"x-max-length": 10})
        channel_error(lambda: ch.queue_declare(q, exclusive=True), 406,
                      ARGS_TEXT % ("x-max-length", q, "received none but current is the value "
                                   "'10' of type 'signedint'"))


@scenario("redeclaring a queue with an extra argument gives the 'current is none' 406 text")
def _():
    with Conn() as c:
        ch = c.channel()
        q = unique("q.args")
        ch.queue_declare(q, exclusive=True)
        channel_error(lambda: ch.queue_declare(q, exclusive=True,
                                               arguments={"x-message-ttl": 5}), 406,
                      ARGS_TEXT % ("x-message-ttl", q, "received the value '5' of type "
                                   "'signedint' but current is none"))


@scenario("redeclaring a queue with another durable flag gives 406 inequivalent arg 'durable'")
def _():
    with Conn() as c:
        ch = c.channel()
        q = tmp_queue(ch)
        try:
            channel_error(lambda: ch.queue_declare(q, durable=True), 406,
                          ARGS_TEXT % ("durable", q, "received 'true' but current is 'false'"))
        finally:
            cleanup_queues(q)


@scenario("an unknown x- argument is not compared on redeclare, nor arguments on passive declare")
def _():
    with Conn() as c:
        ch = c.channel()
        q = unique("q.args")
        ch.queue_declare(q, exclusive=True, arguments={"x-foo": 1, "x-max-length": 10})
        ch.queue_declare(q, exclusive=True, arguments={"x-foo": 2, "x-max-length": 10})
        ch.queue_declare(q, passive=True, arguments={"x-max-length": 99})


@scenario("declaring a queue named amq.* is refused with 403, passively with 404")
def _():
    with Conn() as c:
        ch = c.channel()
        channel_error(lambda: ch.queue_declare("amq.foo"), 403,
                      "ACCESS_REFUSED - queue name 'amq.foo' contains reserved prefix 'amq.*'")
        ch = c.channel()
        channel_error(lambda: ch.queue_declare("amq.foo", passive=True), 404,
                      "NOT_FOUND - no queue 'amq.foo' in vhost '%s'" % VHOST)


@scenario("a passive declare of a missing queue closes the channel with 404")
def _():
    q = unique("nope")
    with Conn() as c:
        ch = c.channel()
        channel_error(lambda: ch.queue_declare(q, passive=True), 404,
                      "NOT_FOUND - no queue '%s' in vhost '%s'" % (q, VHOST))


@scenario("get, consume, purge, bind and delete of a missing queue give 404")
def _():
    q = unique("nope")
    text = "NOT_FOUND - no queue '%s' in vhost '%s'" % (q, VHOST)
    with Conn() as c:
        channel_error(lambda: c.channel().basic_get(q), 404, text)
        channel_error(lambda: c.channel().basic_consume(q, lambda *a: None), 404, text)
        channel_error(lambda: c.channel().queue_purge(q), 404, text)
        channel_error(lambda: c.channel().queue_bind(q, "amq.direct", "k"), 404, text)


@scenario("an exclusive queue used from another connection gives 405 RESOURCE_LOCKED")
def _():
    with Conn() as owner, Conn() as other:
        q = owner.channel().queue_declare("", exclusive=True).method.queue
        text = ("RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '%s' in vhost "
                "'%s'. It could be originally declared on another connection or the exclusive "
                "property value does not match that of the original declaration." % (q, VHOST))
        channel_error(lambda: other.channel().queue_declare(q, passive=True), 405, text)
        channel_error(lambda: other.channel().basic_consume(q, lambda *a: None), 405, text)
        channel_error(lambda: other.channel().basic_get(q), 405, text)
        channel_error(lambda: other.channel().queue_purge(q), 405, text)
        channel_error(lambda: other.channel().queue_delete(q), 405, text)
        channel_error(lambda: other.channel().queue_bind(q, "amq.fanout"), 405, text)
        channel_error(lambda: other.channel().queue_declare(q), 403,
                      "ACCESS_REFUSED - queue name '%s' contains reserved prefix 'amq.*'" % q)


@scenario("queue bind and unbind control routing; unbinding a missing binding succeeds")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        k = unique("k")
        ch.queue_bind(q, "amq.direct", k)
        publish(ch, k, "bound", "amq.direct")
        settle(c)
        eq(drain(ch, q), ["bound"], "while bound")
        ch.queue_unbind(q, "amq.direct", k)
        publish(ch, k, "unbound", "amq.direct")
        settle(c)
        eq(drain(ch, q), [], "after unbind")
        ch.queue_unbind(q, "amq.direct", k + ".never")


@scenario("queue.purge removes ready messages and returns their count")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        for i in range(5):
            publish(ch, q, str(i))
        settle(c)
        eq(ch.queue_purge(q).method.message_count, 5, "purged")
        eq(ch.queue_declare(q, passive=True).method.message_count, 0, "after purge")


@scenario("queue.delete if-unused with a consumer gives 406 in use")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.basic_consume(q, lambda *a: None)
        ch2 = c.channel()
        channel_error(lambda: ch2.queue_delete(q, if_unused=True), 406,
                      "PRECONDITION_FAILED - queue '%s' in vhost '%s' in use" % (q, VHOST))


@scenario("queue.delete if-empty with messages gives 406 not empty")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        publish(ch, q, "m")
        settle(c)
        channel_error(lambda: ch.queue_delete(q, if_empty=True), 406,
                      "PRECONDITION_FAILED - queue '%s' in vhost '%s' not empty" % (q, VHOST))


@scenario("queue.delete returns the message count; a missing queue gives 0")
def _():
    with Conn() as c:
        ch = c.channel()
        q = tmp_queue(ch)
        for i in range(3):
            publish(ch, q, str(i))
        settle(c)
        eq(ch.queue_delete(q).method.message_count, 3, "delete-ok count")
        eq(ch.queue_delete(unique("nope")).method.message_count, 0, "missing queue")


@scenario("queue.declare-ok reports message and consumer counts")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        for i in range(3):
            publish(ch, q, str(i))
        settle(c)
        ok = ch.queue_declare(q, passive=True).method
        eq((ok.message_count, ok.consumer_count), (3, 0), "before consume")
        ch.basic_qos(prefetch_count=1)
        ch.basic_consume(q, lambda *a: None)
        ch.basic_consume(q, lambda *a: None)
        settle(c)
        ok = c.channel().queue_declare(q, passive=True).method
        eq((ok.message_count, ok.consumer_count), (1, 2), "two consumers, prefetch 1 each")


@scenario("an auto-delete queue is deleted when its last consumer cancels")
def _():
    q = unique("q.ad")
    with Conn() as c:
        ch = c.channel()
        ch.queue_declare(q, auto_delete=True)
        t1 = ch.basic_consume(q, lambda *a: None)
        t2 = ch.basic_consume(q, lambda *a: None)
        ch.basic_cancel(t1)
        check(queue_exists(q), "deleted after the first of two consumers cancelled")
        ch.basic_cancel(t2)
        settle(c, 0.2)
        check(not queue_exists(q), "auto-delete queue still exists after last cancel")


@scenario("an auto-delete queue that never had a consumer stays")
def _():
    q = unique("q.ad")
    with Conn() as c:
        c.channel().queue_declare(q, auto_delete=True)
    try:
        check(queue_exists(q), "auto-delete queue vanished without ever having a consumer")
    finally:
        cleanup_queues(q)


@scenario("an exclusive queue is deleted when its connection closes")
def _():
    with Conn() as c:
        q = c.channel().queue_declare("", exclusive=True).method.queue
    time.sleep(0.2)
    check(not queue_exists(q), "exclusive queue survived its connection")


@scenario("an empty queue name means the last queue declared on the channel")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        k = unique("k")
        ch.queue_bind("", "amq.direct", k)
        publish(ch, k, "via-bind", "amq.direct")
        publish(ch, q, "direct")
        settle(c)
        m, p, body = ch.basic_get("", auto_ack=True)
        eq(body, b"via-bind", "basic.get ''")
        eq(ch.queue_purge("").method.message_count, 1, "queue.purge ''")
        ch.queue_unbind("", "amq.direct", k)
        publish(ch, k, "unbound", "amq.direct")
        settle(c)
        eq(drain(ch, q), [], "after unbind ''")
        channel_error(lambda: ch.queue_declare("", passive=True), 404,
                      "NOT_FOUND - no queue '' in vhost '%s'" % VHOST)


@scenario("an empty queue name with no previous declare gives 404 no previously declared queue")
def _():
    with Conn() as c:
        ch = c.channel()
        channel_error(lambda: ch.queue_bind("", "amq.direct", "k"), 404,
                      "NOT_FOUND - no previously declared queue")


# ---------------------------------------------------------------- basic


@scenario("publish then get returns the message, and get-empty once drained")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        publish(ch, q, "hello", content_type="text/plain", headers={"h": "v"}, priority=3,
                correlation_id="cid", message_id="mid", delivery_mode=2, app_id="app",
                type="t", expiration="60000", timestamp=1700000000)
        settle(c)
        m, p, body = ch.basic_get(q)
        eq(body, b"hello", "body")
        eq((m.redelivered, m.exchange, m.routing_key, m.message_count), (False, "", q, 0),
           "get-ok fields")
        eq((p.content_type, p.headers, p.priority, p.correlation_id, p.message_id,
            p.delivery_mode, p.app_id, p.type, p.expiration, p.timestamp),
           ("text/plain", {"h": "v"}, 3, "cid", "mid", 2, "app", "t", "60000", 1700000000),
           "properties")
        ch.basic_ack(m.delivery_tag)
        eq(ch.basic_get(q), (None, None, None), "get-empty")


@scenario("a consumer receives messages in order and none after cancel")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        got = []
        tag = ch.basic_consume(q, lambda ch_, m, p, b: (got.append(b.decode()),
                                                       ch_.basic_ack(m.delivery_tag)))
        for i in range(5):
            publish(ch, q, str(i))
        collect(c, got, 5)
        eq(got, ["0", "1", "2", "3", "4"], "delivered")
        ch.basic_cancel(tag)
        publish(ch, q, "after")
        settle(c)
        eq(len(got), 5, "no delivery after cancel")
        eq(drain(ch, q), ["after"], "left in queue")


@scenario("a no-ack consumer leaves nothing unacked")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        got = []
        tag = ch.basic_consume(q, lambda ch_, m, p, b: got.append(b), auto_ack=True)
        for i in range(3):
            publish(ch, q, str(i))
        collect(c, got, 3)
        eq(len(got), 3, "delivered")
        ch.basic_cancel(tag)
        ch.close()
        ok = c.channel().queue_declare(q, passive=True).method
        eq(ok.message_count, 0, "nothing requeued on channel close")


@scenario("a server-generated consumer tag is amq.ctag- followed by 22 characters")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        tags = []
        # pika makes up its own tags, so send an empty one directly.
        ch._impl._rpc(spec.Basic.Consume(queue=q, consumer_tag=""),
                      lambda frame: tags.append(frame.method.consumer_tag),
                      [spec.Basic.ConsumeOk])
        collect(c, tags, 1)
        eq(len(tags), 1, "consume-ok")
        matches(tags[0], CTAG, "consumer tag")


@scenario("reusing a consumer tag on a channel closes the connection with 530")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.basic_consume(q, lambda *a: None, consumer_tag="dup")

        def go():
            # pika refuses a duplicate tag itself, so send the method directly.
            ch._impl._send_method(spec.Basic.Consume(queue=q, consumer_tag="dup"))
            c.process_data_events(time_limit=2)
            ch.queue_declare(q, passive=True)
        connection_error(go, 530, "NOT_ALLOWED - attempt to reuse consumer tag 'dup'")


def unacked_by_consumer(conn, ch, q, consumers=2, n=10, limit=0.5):
    counts = {}
    tags = []
    for i in range(consumers):
        tag = "c%d" % i
        counts[tag] = 0
        tags.append(tag)

        def cb(ch_, m, p, b, tag=tag):
            counts[tag] += 1
        ch.basic_consume(q, cb, consumer_tag=tag)
    for i in range(n):
        publish(ch, q, str(i))
    settle(conn, limit)
    return [counts[t] for t in tags]


@scenario("prefetch with global=false limits each consumer")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.basic_qos(prefetch_count=2, global_qos=False)
        eq(unacked_by_consumer(c, ch, q), [2, 2], "unacked per consumer")


@scenario("prefetch with global=true limits the whole channel")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.basic_qos(prefetch_count=3, global_qos=True)
        got = unacked_by_consumer(c, ch, q)
        eq(sum(got), 3, "unacked on channel (%r)" % got)


@scenario("per-consumer and per-channel prefetch both apply")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.basic_qos(prefetch_count=2, global_qos=False)
        ch.basic_qos(prefetch_count=3, global_qos=True)
        eq(unacked_by_consumer(c, ch, q, consumers=2), [2, 1], "per consumer 2, channel 3")
        ch2 = c.channel()
        q2 = ch2.queue_declare("", exclusive=True).method.queue
        ch2.basic_qos(prefetch_count=1, global_qos=False)
        ch2.basic_qos(prefetch_count=3, global_qos=True)
        eq(unacked_by_consumer(c, ch2, q2, consumers=2), [1, 1], "per consumer 1, channel 3")


@scenario("a per-consumer qos after a global qos lifts the channel limit (RabbitMQ 3.10)")
def _():
    # rabbit_channel resets the channel-wide limiter on basic.qos(global=false).
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.basic_qos(prefetch_count=3, global_qos=True)
        ch.basic_qos(prefetch_count=2, global_qos=False)
        eq(unacked_by_consumer(c, ch, q, consumers=3), [2, 2, 2], "unacked per consumer")


@scenario("qos after consume does not change existing consumers")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        got = []
        ch.basic_consume(q, lambda *a: got.append(1))
        ch.basic_qos(prefetch_count=1)
        for i in range(10):
            publish(ch, q, str(i))
        collect(c, got, 10)
        eq(len(got), 10, "unlimited consumer after qos 1")
        ch2 = c.channel()
        q2 = ch2.queue_declare("", exclusive=True).method.queue
        got2 = []
        ch2.basic_qos(prefetch_count=1)
        ch2.basic_consume(q2, lambda *a: got2.append(1))
        ch2.basic_qos(prefetch_count=3)
        for i in range(5):
            publish(ch2, q2, str(i))
        settle(c, 0.5)
        eq(len(got2), 1, "consumer created with prefetch 1, then qos 3")


@scenario("basic.get ignores prefetch")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.basic_qos(prefetch_count=1)
        for i in range(3):
            publish(ch, q, str(i))
        settle(c)
        for i in range(3):
            m, p, b = ch.basic_get(q)
            eq(b, str(i).encode(), "get %d" % i)


@scenario("consumers on one queue receive messages round-robin")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        got = []
        for tag in ("a", "b", "c"):
            ch.basic_consume(q, lambda ch_, m, p, b, tag=tag: got.append((tag, b.decode())),
                             consumer_tag=tag, auto_ack=True)
        for i in range(6):
            publish(ch, q, str(i))
        collect(c, got, 6)
        eq(got, [("a", "0"), ("b", "1"), ("c", "2"), ("a", "3"), ("b", "4"), ("c", "5")],
           "deliveries")


def fill_and_get(ch, conn, n):
    q = ch.queue_declare("", exclusive=True).method.queue
    for i in range(n):
        publish(ch, q, str(i))
    settle(conn, 0.2)
    return q


@scenario("ack with multiple acknowledges every tag up to the given one")
def _():
    with Conn() as c:
        ch = c.channel()
        q = fill_and_get(ch, c, 4)
        tags = [ch.basic_get(q)[0].delivery_tag for _ in range(4)]
        eq(tags, [1, 2, 3, 4], "delivery tags start at 1 and increase")
        ch.basic_ack(3, multiple=True)
        ch.basic_ack(4)
        ch.close()
        eq(c.channel().queue_declare(q, passive=True).method.message_count, 0, "all acked")


@scenario("nack with multiple and requeue puts messages back in original order, redelivered")
def _():
    with Conn() as c:
        ch = c.channel()
        q = fill_and_get(ch, c, 4)
        for _ in range(3):
            ch.basic_get(q)
        ch.basic_nack(3, multiple=True, requeue=True)
        settle(c, 0.1)
        got = []
        for _ in range(4):
            m, p, b = ch.basic_get(q, auto_ack=True)
            got.append((b.decode(), m.redelivered))
        eq(got, [("0", True), ("1", True), ("2", True), ("3", False)], "order after nack")


@scenario("reject with requeue puts a message back at its original position")
def _():
    with Conn() as c:
        ch = c.channel()
        q = fill_and_get(ch, c, 3)
        t0 = ch.basic_get(q)[0].delivery_tag
        t1 = ch.basic_get(q)[0].delivery_tag
        ch.basic_reject(t1, requeue=True)
        ch.basic_reject(t0, requeue=True)
        settle(c, 0.1)
        got = []
        for _ in range(3):
            m, p, b = ch.basic_get(q, auto_ack=True)
            got.append((b.decode(), m.redelivered))
        eq(got, [("0", True), ("1", True), ("2", False)], "order after reject")


@scenario("reject and nack without requeue drop the message")
def _():
    with Conn() as c:
        ch = c.channel()
        q = fill_and_get(ch, c, 2)
        ch.basic_reject(ch.basic_get(q)[0].delivery_tag, requeue=False)
        ch.basic_nack(ch.basic_get(q)[0].delivery_tag, requeue=False)
        settle(c, 0.1)
        eq(ch.queue_declare(q, passive=True).method.message_count, 0, "dropped")


@scenario("acking, nacking or rejecting an unknown delivery tag gives 406")
def _():
    with Conn() as c:
        for op in ("ack", "nack", "reject"):
            ch = c.channel()

            def go():
                getattr(ch, "basic_" + op)(99)
                ch.queue_declare("", exclusive=True)
            channel_error(go, 406, "PRECONDITION_FAILED - unknown delivery tag 99")
        ch = c.channel()
        ch.basic_ack(0, multiple=True)
        ch.queue_declare("", exclusive=True)


@scenario("acking a delivery tag twice gives 406 unknown delivery tag")
def _():
    with Conn() as c:
        ch = c.channel()
        q = fill_and_get(ch, c, 1)
        tag = ch.basic_get(q)[0].delivery_tag

        def go():
            ch.basic_ack(tag)
            ch.basic_ack(tag)
            ch.queue_declare("", exclusive=True)
        channel_error(go, 406, "PRECONDITION_FAILED - unknown delivery tag %d" % tag)


@scenario("basic.recover with requeue redelivers unacked messages with new tags")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        got = []
        ch.basic_consume(q, lambda ch_, m, p, b: got.append((m.delivery_tag, m.redelivered,
                                                             b.decode())))
        publish(ch, q, "a")
        publish(ch, q, "b")
        collect(c, got, 2)
        eq(got, [(1, False, "a"), (2, False, "b")], "first deliveries")
        ch.basic_recover(requeue=True)
        collect(c, got, 4)
        eq(got[2:], [(3, True, "a"), (4, True, "b")], "redeliveries")


@scenario("basic.recover with requeue=false closes the connection with 540")
def _():
    with Conn() as c:
        ch = c.channel()
        connection_error(lambda: ch.basic_recover(requeue=False), 540,
                         "NOT_IMPLEMENTED - requeue=false")


@scenario("deleting a queue sends basic.cancel to its consumers")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        cancelled = []
        ch.add_on_cancel_callback(lambda frame: cancelled.append(frame.method.consumer_tag))
        tag = ch.basic_consume(q, lambda *a: None)
        c.channel().queue_delete(q)
        collect(c, cancelled, 1)
        eq(cancelled, [tag], "cancel notification")
        check(ch.is_open, "channel stays open")


@scenario("a mandatory unroutable publish comes back as basic.return 312 NO_ROUTE")
def _():
    with Conn() as c:
        ch = c.channel()
        returned = []
        ch.add_on_return_callback(lambda ch_, m, p, b: returned.append(
            (m.reply_code, m.reply_text, m.exchange, m.routing_key, b)))
        k = unique("nowhere")
        ch.basic_publish("amq.direct", k, b"lost", mandatory=True)
        ch.basic_publish("amq.direct", k, b"silent", mandatory=False)
        collect(c, returned, 1)
        settle(c, 0.2)
        eq(returned, [(312, "NO_ROUTE", "amq.direct", k, b"lost")], "returns")


@scenario("publish with immediate=true closes the connection with 540")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue

        def go():
            ch._impl._send_method(spec.Basic.Publish(exchange="", routing_key=q, immediate=True),
                                  (spec.BasicProperties(), b"x"))
            c.process_data_events(time_limit=2)
            ch.queue_declare(q, passive=True)
        connection_error(go, 540, "NOT_IMPLEMENTED - immediate=true")


@scenario("an exclusive consumer makes other consumes fail with 403, and the reverse")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.basic_consume(q, lambda *a: None, exclusive=True)
        text = "ACCESS_REFUSED - queue '%s' in vhost '%s' in exclusive use" % (q, VHOST)
        channel_error(lambda: c.channel().basic_consume(q, lambda *a: None), 403, text)
        ch2 = c.channel()
        q2 = ch2.queue_declare("", exclusive=True).method.queue
        ch2.basic_consume(q2, lambda *a: None)
        text = "ACCESS_REFUSED - queue '%s' in vhost '%s' in exclusive use" % (q2, VHOST)
        channel_error(lambda: c.channel().basic_consume(q2, lambda *a: None, exclusive=True),
                      403, text)


@scenario("basic.qos with prefetch_size != 0 closes the connection with 540")
def _():
    with Conn() as c:
        ch = c.channel()
        connection_error(lambda: ch.basic_qos(prefetch_size=1000, prefetch_count=1), 540,
                         "NOT_IMPLEMENTED - prefetch_size!=0 (1000)")


@scenario("CC and BCC headers add routes and BCC is removed from delivered headers")
def _():
    with Conn() as c:
        ch = c.channel()
        qa = ch.queue_declare("", exclusive=True).method.queue
        qb = ch.queue_declare("", exclusive=True).method.queue
        qc = ch.queue_declare("", exclusive=True).method.queue
        publish(ch, qa, "m", headers={"CC": [qb], "BCC": [qc], "keep": "yes"})
        settle(c)
        for q in (qa, qb, qc):
            m, p, b = ch.basic_get(q, auto_ack=True)
            check(m is not None, "queue %s got no copy" % q)
            eq(b, b"m", "body")
            eq(m.routing_key, qa, "routing key")
            check("BCC" not in p.headers, "BCC delivered: %r" % p.headers)
            eq(p.headers.get("CC"), [qb], "CC header kept")
            eq(p.headers.get("keep"), "yes", "other header kept")


@scenario("a CC header that is not an array gives 406")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue

        def go():
            publish(ch, q, "m", headers={"CC": "notalist"})
            ch.queue_declare("", exclusive=True)
        channel_error(go, 406, "PRECONDITION_FAILED - invalid message: "
                      "{unacceptable_type_in_header,\"CC\",longstr}")


@scenario("a user-id property that is not the authenticated user gives 406")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        publish(ch, q, "ok", user_id=USER)
        settle(c)
        m, p, b = ch.basic_get(q, auto_ack=True)
        eq(p.user_id, USER, "matching user-id delivered")

        def go():
            publish(ch, q, "m", user_id="mallory")
            ch.queue_declare("", exclusive=True)
        channel_error(go, 406, "PRECONDITION_FAILED - user_id property set to 'mallory' but "
                      "authenticated user was '%s'" % USER)


ABRUPT = r"""
import os, sys, pika
c = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
ch = c.channel()
for i in range(2):
    m, p, b = ch.basic_get(sys.argv[2])
    assert m is not None
print("got", flush=True)
os._exit(0)
"""


@scenario("an abrupt disconnect requeues unacked messages as redelivered")
def _():
    with Conn() as c:
        ch = c.channel()
        q = tmp_queue(ch)
        try:
            for i in range(3):
                publish(ch, q, str(i))
            settle(c)
            out = subprocess.run([sys.executable, "-c", ABRUPT, URL, q], capture_output=True,
                                 timeout=10, text=True)
            eq(out.stdout.strip(), "got", "child (%s)" % out.stderr.strip()[-200:])
            deadline = time.monotonic() + 3
            while ch.queue_declare(q, passive=True).method.message_count < 3:
                check(time.monotonic() < deadline, "unacked messages not requeued")
                time.sleep(0.05)
            got = []
            for _ in range(3):
                m, p, b = ch.basic_get(q, auto_ack=True)
                got.append((b.decode(), m.redelivered))
            eq(got, [("0", True), ("1", True), ("2", False)], "after disconnect")
        finally:
            ch.queue_delete(q)


@scenario("basic.cancel with an unknown consumer tag succeeds")
def _():
    with Conn() as c:
        ch = c.channel()
        ch._impl._send_method(spec.Basic.Cancel(consumer_tag="never-existed"))
        c.process_data_events(time_limit=0.3)
        ch.queue_declare("", exclusive=True)
        check(ch.is_open, "channel open")


# ---------------------------------------------------------------- confirms and tx


@scenario("publisher confirms ack every publish")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.confirm_delivery()
        for i in range(20):
            ch.basic_publish("", q, str(i).encode())
        ch.basic_publish("amq.direct", unique("nowhere"), b"unroutable-not-mandatory")
        eq(ch.queue_declare(q, passive=True).method.message_count, 20, "queued")


@scenario("with confirms, a mandatory unroutable publish is returned before it is acked")
def _():
    with Conn() as c:
        ch = c.channel()
        ch.confirm_delivery()
        try:
            ch.basic_publish("amq.direct", unique("nowhere"), b"m", mandatory=True)
        except pex.UnroutableError as e:
            eq(len(e.messages), 1, "returned messages")
            eq(e.messages[0].method.reply_code, 312, "reply code")
            return
        raise Failure("no basic.return before basic.ack")


@scenario("tx.commit delivers buffered publishes and tx.rollback discards them")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.tx_select()
        publish(ch, q, "a")
        publish(ch, q, "b")
        eq(c.channel().queue_declare(q, passive=True).method.message_count, 0, "before commit")
        ch.tx_commit()
        eq(c.channel().queue_declare(q, passive=True).method.message_count, 2, "after commit")
        publish(ch, q, "c")
        ch.tx_rollback()
        ch.tx_commit()
        eq(c.channel().queue_declare(q, passive=True).method.message_count, 2, "after rollback")


@scenario("acks inside a transaction take effect only on commit")
def _():
    with Conn() as c:
        ch = c.channel()
        q = fill_and_get(ch, c, 2)
        ch.tx_select()
        t = ch.basic_get(q)[0].delivery_tag
        ch.basic_ack(t)
        ch.tx_rollback()
        ch.close()
        eq(c.channel().queue_declare(q, passive=True).method.message_count, 2, "ack rolled back")
        ch = c.channel()
        ch.tx_select()
        t = ch.basic_get(q)[0].delivery_tag
        ch.basic_ack(t)
        ch.tx_commit()
        ch.close()
        eq(c.channel().queue_declare(q, passive=True).method.message_count, 1, "ack committed")


@scenario("switching between tx and confirm mode gives 406")
def _():
    with Conn() as c:
        ch = c.channel()
        ch.tx_select()
        channel_error(ch.confirm_delivery, 406,
                      "PRECONDITION_FAILED - cannot switch from tx to confirm mode")
        ch = c.channel()
        ch.confirm_delivery()
        channel_error(ch.tx_select, 406,
                      "PRECONDITION_FAILED - cannot switch from confirm to tx mode")


@scenario("tx.commit or tx.rollback without tx.select gives 406")
def _():
    with Conn() as c:
        channel_error(c.channel().tx_commit, 406,
                      "PRECONDITION_FAILED - channel is not transactional")
        channel_error(c.channel().tx_rollback, 406,
                      "PRECONDITION_FAILED - channel is not transactional")


# ---------------------------------------------------------------- direct reply-to

REPLY_TO = "amq.rabbitmq.reply-to"


@scenario("direct reply-to carries an RPC round trip")
def _():
    with Conn() as client, Conn() as server:
        sch = server.channel()
        rq = sch.queue_declare("", exclusive=True).method.queue
        cch = client.channel()
        cch.queue_declare(REPLY_TO, passive=True)
        replies = []
        cch.basic_consume(REPLY_TO, lambda ch_, m, p, b: replies.append((m, p, b)),
                          auto_ack=True)
        cch.basic_publish("", rq, b"ping", pika.BasicProperties(reply_to=REPLY_TO,
                                                                correlation_id="42"))
        m, p, b = None, None, None
        deadline = time.monotonic() + 3
        while m is None and time.monotonic() < deadline:
            m, p, b = sch.basic_get(rq, auto_ack=True)
        check(m is not None, "request not received")
        check(p.reply_to.startswith(REPLY_TO + "."), "reply_to rewritten: %r" % p.reply_to)
        sch.basic_publish("", p.reply_to, b"pong", pika.BasicProperties(
            correlation_id=p.correlation_id))
        collect(client, replies, 1)
        eq(len(replies), 1, "replies")
        m, p2, b = replies[0]
        eq((b, p2.correlation_id, m.exchange, m.routing_key), (b"pong", "42", "", p.reply_to),
           "reply")


@scenario("direct reply-to without a reply consumer, or with acks, gives 406")
def _():
    with Conn() as c:
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue

        def go():
            ch.basic_publish("", q, b"x", pika.BasicProperties(reply_to=REPLY_TO))
            ch.queue_declare("", exclusive=True)
        channel_error(go, 406, "PRECONDITION_FAILED - fast reply consumer does not exist")
        channel_error(lambda: c.channel().basic_consume(REPLY_TO, lambda *a: None,
                                                        auto_ack=False), 406,
                      "PRECONDITION_FAILED - reply consumer cannot acknowledge")


# ---------------------------------------------------------------- channels


@scenario("channel.flow active=true is answered with flow-ok active")
def _():
    with Conn() as c:
        eq(c.channel().flow(True), True, "flow-ok active")


@scenario("channel.flow active=false closes the connection with 540")
def _():
    with Conn() as c:
        ch = c.channel()
        connection_error(lambda: ch.flow(False), 540, "NOT_IMPLEMENTED - active=false")


@scenario("a channel error closes only that channel; the connection keeps working")
def _():
    with Conn() as c:
        good = c.channel()
        q = good.queue_declare("", exclusive=True).method.queue
        bad = c.channel()
        channel_error(lambda: bad.queue_declare(unique("nope"), passive=True), 404)
        check(bad.is_closed, "bad channel closed")
        check(c.is_open and good.is_open, "connection and other channel open")
        publish(good, q, "still")
        settle(c)
        eq(drain(good, q), ["still"], "other channel works")
        fresh = c.channel()
        fresh.queue_declare(q, passive=True)


@scenario("a channel number can be opened again after close-ok")
def _():
    with Conn() as c:
        ch = c.channel(channel_number=7)
        channel_error(lambda: ch.queue_declare(unique("nope"), passive=True), 404)
        ch = c.channel(channel_number=7)
        eq(ch.channel_number, 7, "channel number")
        ch.queue_declare("", exclusive=True)
        ch.close()
        ch = c.channel(channel_number=7)
        ch.queue_declare("", exclusive=True)


@scenario("many channels on one connection work independently")
def _():
    with Conn() as c:
        chans = [c.channel() for _ in range(20)]
        qs = [ch.queue_declare("", exclusive=True).method.queue for ch in chans]
        for ch, q in zip(chans, qs):
            publish(ch, q, q)
        settle(c)
        for ch, q in zip(chans, qs):
            eq(drain(ch, q), [q], "channel %d" % ch.channel_number)


# Queue features (priorities, TTL, limits, dead-lettering, ...) live in their own file.
import queue_features  # noqa: E402,F401
import quorum_queues  # noqa: E402,F401
import streams  # noqa: E402,F401

if __name__ == "__main__":
    main("pika")
