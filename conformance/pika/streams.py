"""Stream scenarios driven by pika: RabbitMQ 3.10's stream queues over AMQP 0-9-1: declare rules,
x-stream-offset (first, last, next, an offset, a timestamp, an interval), the x-stream-offset
header, credit by prefetch, independent consumers and replay, the refusals (no prefetch,
auto-ack, basic.get, purge, nack, reject) and retention by x-max-length-bytes.

Checked against RabbitMQ 3.10.8; the warren_only ones are Warren's answers where RabbitMQ 3.10
crashes the connection (541 on a bad x-max-age or x-stream-offset) or reports 0 (declare-ok's
message_count of a stream). Imported by scenarios.py.
"""

import base64
import datetime
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import pika  # noqa: E402
from pika import exceptions as pex  # noqa: E402

from harness import USER, VHOST, Failure, check, eq, scenario, unique, url_parts  # noqa: E402
from queue_features import MGMT_URL, Policy, QConn, channel_error, qf_connect  # noqa: E402

S = {"x-queue-type": "stream"}


def stream(c, ch, **args):
    name = unique("st")
    ch.queue_declare(name, durable=True, arguments=dict(S, **args))
    c.queues.append(name)
    return name


def publish(q, bodies):
    """Publishes each body with a confirm (one chunk each); returns after the last confirm."""
    conn = qf_connect()
    ch = conn.channel()
    ch.confirm_delivery()
    for b in bodies:
        ch.basic_publish("", q, b.encode())
    conn.close()


def offsets_of(got):
    return [(b, p.headers["x-stream-offset"]) for m, p, b in got]


class Reader:
    """A stream consumer on its own channel: qos prefetch, manual acks (none sent unless asked)."""

    def __init__(self, c, q, offset=None, prefetch=100, ack=False):
        self.c = c
        self.ch = c.channel()
        self.ch.basic_qos(prefetch_count=prefetch)
        self.got = []
        self.ack = ack
        args = {} if offset is None else {"x-stream-offset": offset}
        self.tag = self.ch.basic_consume(q, self.on, arguments=args)

    def on(self, chan, m, p, b):
        self.got.append((m, p, b.decode()))
        if self.ack:
            chan.basic_ack(m.delivery_tag)

    def wait(self, n, limit=3.0):
        deadline = time.monotonic() + limit
        while len(self.got) < n and time.monotonic() < deadline:
            self.c.conn.process_data_events(time_limit=0.05)
        return self.got

    def settle(self, t=0.3):
        deadline = time.monotonic() + t
        while time.monotonic() < deadline:
            self.c.conn.process_data_events(time_limit=0.05)
        return self.got

    def cancel(self):
        self.ch.basic_cancel(self.tag)


def connection_error(c, fn, code, text):
    try:
        fn()
        c.conn.process_data_events(time_limit=0.5)
    except pex.ConnectionClosedByBroker as e:
        eq((e.reply_code, e.reply_text), (code, text), "connection close")
        return
    raise Failure("expected connection close %d %r, got none" % (code, text))


@scenario("stream declare refuses non-durable, exclusive and auto-delete with RabbitMQ's texts")
def _():
    with QConn() as c:
        for kw, prop in [({"durable": False}, "non-durable"),
                         ({"durable": False, "exclusive": True}, "exclusive-owner"),
                         ({"durable": True, "exclusive": True}, "exclusive-owner"),
                         ({"durable": True, "auto_delete": True}, "auto-delete")]:
            ch = c.channel()
            name = unique("st")
            channel_error(lambda: ch.queue_declare(name, arguments=S, **kw), 406,
                          "PRECONDITION_FAILED - invalid property '%s' for queue '%s' in vhost "
                          "'%s'" % (prop, name, VHOST))


@scenario("stream declare refuses classic-only arguments as rabbit_stream_queue and accepts its "
          "retention arguments")
def _():
    with QConn() as c:
        for arg, val in [("x-expires", 1000), ("x-single-active-consumer", True),
                         ("x-max-priority", 5), ("x-overflow", "drop-head"),
                         ("x-message-ttl", 1000), ("x-max-length", 10),
                         ("x-dead-letter-exchange", "x"), ("x-delivery-limit", 3),
                         ("x-queue-mode", "lazy")]:
            ch = c.channel()
            name = unique("st")
            channel_error(lambda: ch.queue_declare(name, durable=True,
                                                   arguments=dict(S, **{arg: val})), 406,
                          "PRECONDITION_FAILED - invalid arg '%s' for queue '%s' in vhost '%s' "
                          "of queue type rabbit_stream_queue" % (arg, name, VHOST))
        ch = c.channel()
        stream(c, ch, **{"x-max-length-bytes": 1000000, "x-max-age": "7D",
                         "x-stream-max-segment-size-bytes": 100000,
                         "x-queue-leader-locator": "balanced"})
        for val, reason in [("7X", "invalid_max_age"), ("0s", "invalid_max_age"),
                            ("10", "invalid_max_age"), (5, "{unacceptable_type,signedint}")]:
            name = unique("st")
            channel_error(lambda: ch.queue_declare(name, durable=True, arguments=dict(
                S, **{"x-max-age": val})), 406,
                "PRECONDITION_FAILED - invalid arg 'x-max-age' for queue '%s' in vhost '%s': %s"
                % (name, VHOST, reason))
            ch = c.channel()


@scenario("stream declare with an unparsable x-max-age gets a 406 (RabbitMQ 3.10 crashes with "
          "541)", warren_only=True)
def _():
    with QConn() as c:
        for val in ("bogus", "-1D"):
            ch = c.channel()
            name = unique("st")
            channel_error(lambda: ch.queue_declare(name, durable=True, arguments=dict(
                S, **{"x-max-age": val})), 406,
                "PRECONDITION_FAILED - invalid arg 'x-max-age' for queue '%s' in vhost '%s': "
                "invalid_max_age" % (name, VHOST))


@scenario("stream consumer reads from first, last, next, an offset, a negative offset, a "
          "timestamp and an interval, each delivery carrying x-stream-offset")
def _():
    with QConn() as c:
        ch = c.channel()
        q = stream(c, ch)
        publish(q, ["m%d" % i for i in range(5)])
        every = [("m%d" % i, i) for i in range(5)]
        cases = [("first", every), ("last", every[4:]), ("next", []), (2, every[2:]),
                 (-3, every), (datetime.datetime(2020, 1, 1), every), ("10m", every)]
        for offset, want in cases:
            r = Reader(c, q, offset)
            got = r.wait(len(want)) if want else r.settle()
            eq(offsets_of(got), want, "x-stream-offset %r" % (offset,))
            eq([m.redelivered for m, p, b in got], [False] * len(want), "redelivered")
            r.cancel()
        r = Reader(c, q)  # the default is next: only what comes after
        publish(q, ["m5"])
        eq(offsets_of(r.wait(1)), [("m5", 5)], "default offset")


@scenario("stream consumer from an offset past the end waits for that offset")
def _():
    with QConn() as c:
        ch = c.channel()
        q = stream(c, ch)
        publish(q, ["a", "b"])
        r = Reader(c, q, 3)
        eq(r.settle(), [], "nothing yet")
        publish(q, ["c", "d", "e"])
        eq(offsets_of(r.wait(2)), [("d", 3), ("e", 4)], "from offset 3")


@scenario("stream consumers read the same messages independently; acks only give credit back; "
          "a new consumer replays history")
def _():
    with QConn() as c:
        ch = c.channel()
        q = stream(c, ch)
        publish(q, ["m%d" % i for i in range(6)])
        a = Reader(c, q, "first", prefetch=2)
        b = Reader(c, q, "first", prefetch=10, ack=True)
        eq([x[2] for x in b.wait(6)], ["m%d" % i for i in range(6)], "second consumer")
        eq([x[2] for x in a.settle()], ["m0", "m1"], "prefetch 2 without acks")
        a.ch.basic_ack(a.got[1][0].delivery_tag, multiple=True)
        eq([x[2] for x in a.wait(4)], ["m0", "m1", "m2", "m3"], "two more after the acks")
        a.cancel()
        again = Reader(c, q, "first", ack=True)
        eq([x[2] for x in again.wait(6)], ["m%d" % i for i in range(6)], "replay")


@scenario("stream consume without prefetch closes the channel with 406")
def _():
    with QConn() as c:
        ch = c.channel()
        q = stream(c, ch)
        ch = c.channel()
        channel_error(lambda: (ch.basic_consume(q, lambda *a: None),
                               c.conn.process_data_events(time_limit=0.5)), 406,
                      "PRECONDITION_FAILED - consumer prefetch count is not set for 'queue '%s' "
                      "in vhost '%s''" % (q, VHOST))


@scenario("stream auto-ack consume, basic.get and queue.purge close the connection with 540")
def _():
    with QConn() as c:
        ch = c.channel()
        q = stream(c, ch)
        refusals = [
            (lambda ch: (ch.basic_qos(prefetch_count=10),
                         ch.basic_consume(q, lambda *a: None, auto_ack=True)),
             "automatic acknowledgement not supported by stream queues"),
            (lambda ch: ch.basic_get(q), "basic.get not supported by stream queues"),
            (lambda ch: ch.basic_get(q, auto_ack=True),
             "basic.get not supported by stream queues"),
            (lambda ch: ch.queue_purge(q), "queue.purge not supported by stream queues"),
        ]
        for fn, what in refusals:
            c.conn = qf_connect()
            ch = c.channel()
            connection_error(c, lambda: fn(ch), 540, "NOT_IMPLEMENTED - %s queue '%s' in vhost "
                             "'%s'" % (what, q, VHOST))


@scenario("stream basic.nack and basic.reject close the connection with 540")
def _():
    with QConn() as c:
        ch = c.channel()
        q = stream(c, ch)
        publish(q, ["x"])
        for settle in (lambda ch, t: ch.basic_nack(t, requeue=True),
                       lambda ch, t: ch.basic_nack(t, requeue=False),
                       lambda ch, t: ch.basic_reject(t, requeue=True)):
            c.conn = qf_connect()
            r = Reader(c, q, "first")
            m = r.wait(1)[0][0]
            connection_error(c, lambda: settle(r.ch, m.delivery_tag), 540,
                             "NOT_IMPLEMENTED - basic.nack and basic.reject not supported by "
                             "stream queues queue '%s' in vhost '%s'" % (q, VHOST))


@scenario("stream retention by x-max-length-bytes drops whole segments: first starts past 0")
def _():
    with QConn() as c:
        ch = c.channel()
        q = stream(c, ch, **{"x-max-length-bytes": 20000,
                             "x-stream-max-segment-size-bytes": 5000})
        conn = qf_connect()
        pch = conn.channel()
        pch.confirm_delivery()
        for _ in range(200):
            pch.basic_publish("", q, b"x" * 200)
        conn.close()
        r = Reader(c, q, "first", prefetch=1000, ack=True)
        got = r.settle(1.5)
        check(got, "nothing delivered from first")
        first = got[0][1].headers["x-stream-offset"]
        check(first > 0, "first offset %d: nothing was dropped" % first)
        check(len(got) < 200, "all 200 kept")
        offs = [p.headers["x-stream-offset"] for m, p, b in got]
        eq(offs, sorted(offs), "offsets in order")


@scenario("stream declare-ok reports the stored messages; an unparsable x-stream-offset gets a "
          "406", warren_only=True)
def _():
    with QConn() as c:
        ch = c.channel()
        q = stream(c, ch)
        publish(q, ["a", "b", "c"])
        eq(ch.queue_declare(q, passive=True).method.message_count, 3, "message_count")
        for val, reason in [("bogus", "\"expected first, last, next, an offset, a timestamp or "
                                      "an interval such as 10m, got 'bogus'\""),
                            (True, "{unacceptable_type,bool}")]:
            ch = c.channel()
            ch.basic_qos(prefetch_count=10)
            channel_error(lambda: (ch.basic_consume(q, lambda *a: None,
                                                    arguments={"x-stream-offset": val}),
                                   c.conn.process_data_events(time_limit=0.5)), 406,
                          "PRECONDITION_FAILED - invalid arg 'x-stream-offset' for queue '%s' in "
                          "vhost '%s': %s" % (q, VHOST, reason))



@scenario("basic.recover with requeue=false on a channel with stream deliveries closes the "
          "connection with 540 requeue=false")
def _():
    with QConn() as c:
        ch = c.channel()
        q = stream(c, ch)
        publish(q, ["a", "b"])
        r = Reader(c, q, "first")
        eq(len(r.wait(2)), 2, "delivered")
        connection_error(c, lambda: r.ch.basic_recover(requeue=False), 540,
                         "NOT_IMPLEMENTED - requeue=false")


@scenario("basic.recover on a channel with stream deliveries closes the connection with 540 "
          "(RabbitMQ 3.10 crashes it with 541 INTERNAL_ERROR)", warren_only=True)
def _():
    with QConn() as c:
        ch = c.channel()
        q = stream(c, ch)
        publish(q, ["a", "b"])
        r = Reader(c, q, "first")
        eq(len(r.wait(2)), 2, "delivered")
        connection_error(c, lambda: r.ch.basic_recover(requeue=True), 540,
                         "NOT_IMPLEMENTED - basic.recover not supported by stream queues queue "
                         "'%s' in vhost '%s'" % (q, VHOST))
        # once the stream deliveries are acked, recover has nothing of the stream's to requeue
        c.conn = qf_connect()
        r = Reader(c, q, "first", ack=True)
        eq(len(r.wait(2)), 2, "delivered again")
        r.settle(0.2)
        r.ch.basic_recover(requeue=True)
        eq(len(r.settle(0.3)), 2, "nothing redelivered")


# ------------------------------------------------------------ filtering (RabbitMQ 3.13, warren-only)


def publish_tagged(q, items):
    """Publishes (body, filter value or None) pairs with confirms, one publish per chunk."""
    conn = qf_connect()
    ch = conn.channel()
    ch.confirm_delivery()
    for body, value in items:
        headers = {"x-stream-filter-value": value} if value is not None else None
        ch.basic_publish("", q, body.encode(), pika.BasicProperties(headers=headers))
    conn.close()


def filtered(c, q, filt, unfiltered=None, n=0, offset="first"):
    args = {"x-stream-offset": offset, "x-stream-filter": filt}
    if unfiltered is not None:
        args["x-stream-match-unfiltered"] = unfiltered
    ch = c.channel()
    ch.basic_qos(prefetch_count=100)
    got = []
    ch.basic_consume(q, lambda chan, m, p, b: got.append((b.decode(), p)), arguments=args)
    deadline = time.monotonic() + 3.0
    while len(got) < n and time.monotonic() < deadline:
        c.conn.process_data_events(time_limit=0.05)
    c.conn.process_data_events(time_limit=0.3)  # and nothing more
    ch.close()
    return got


@scenario("stream consumer with x-stream-filter gets only the messages with its values, "
          "with x-stream-match-unfiltered also those without one (RabbitMQ 3.13's filtering; "
          "Warren drops the non-matching messages of the chunks it reads too)",
          warren_only=True)
def _():
    with QConn() as c:
        ch = c.channel()
        q = stream(c, ch)
        items = [("e1", "emea"), ("a1", "apac"), ("n1", None), ("e2", "emea"),
                 ("m1", "amer"), ("n2", None), ("a2", "apac")]
        publish_tagged(q, items)
        got = filtered(c, q, "emea", n=2)
        eq([(b, p.headers["x-stream-filter-value"]) for b, p in got],
           [("e1", "emea"), ("e2", "emea")], "a string filter")
        eq([p.headers["x-stream-offset"] for b, p in got], [0, 3], "offsets keep their gaps")
        got = filtered(c, q, ["apac", "amer"], n=3)
        eq([b for b, p in got], ["a1", "m1", "a2"], "an array of values")
        got = filtered(c, q, "apac", unfiltered=True, n=4)
        eq([b for b, p in got], ["a1", "n1", "n2", "a2"], "with the unfiltered ones")
        got = filtered(c, q, "none-of-these", n=0)
        eq(got, [], "a value no message has")
        # a live consumer at the tail, filtering as messages arrive
        ch2 = c.channel()
        ch2.basic_qos(prefetch_count=10)
        live = []
        ch2.basic_consume(q, lambda chan, m, p, b: live.append(b.decode()),
                          arguments={"x-stream-filter": "emea"})
        publish_tagged(q, [("x1", "apac"), ("e3", "emea"), ("y1", None)])
        deadline = time.monotonic() + 3.0
        while len(live) < 1 and time.monotonic() < deadline:
            c.conn.process_data_events(time_limit=0.05)
        c.conn.process_data_events(time_limit=0.3)
        eq(live, ["e3"], "a consumer at the tail")


def mgmt_json(path):
    auth = base64.b64encode(("%s:%s" % (USER, url_parts()["password"])).encode()).decode()
    req = urllib.request.Request(MGMT_URL + path, headers={"Authorization": "Basic " + auth})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


if MGMT_URL:
    @scenario("stream filter skips whole chunks on disk without reading them (the management "
              "API's chunks_read and chunks_skipped)", warren_only=True)
    def _():
        with QConn() as c:
            ch = c.channel()
            q = stream(c, ch)
            # 200 KB messages, one chunk each: the first ones are past the 8 MiB kept in memory,
            # so the reader from first reads the log
            big = "x" * 200000
            publish_tagged(q, [("%02d" % i + big, "r" if i % 10 == 0 else "b")
                               for i in range(60)])
            path = "/api/queues/%s/%s" % (urllib.parse.quote(VHOST, safe=""), q)
            before = mgmt_json(path)
            got = filtered(c, q, "r", n=6)
            eq([b[:2] for b, p in got], ["00", "10", "20", "30", "40", "50"], "the 'r' ones")
            after = mgmt_json(path)
            skipped = after["chunks_skipped"] - before["chunks_skipped"]
            read = after["chunks_read"] - before["chunks_read"]
            # the reader reads on from the log once it is there: it reads the six wanted chunks
            # and passes over the 45 others between them (a Bloom false positive could add one)
            check(skipped >= 44, "only %d chunks skipped" % skipped)
            check(read <= 7, "%d chunks read for 6 wanted" % read)


@scenario("stream consumer with a non-string x-stream-filter or a non-bool "
          "x-stream-match-unfiltered gets a 406 (RabbitMQ 3.13 ignores them)", warren_only=True)
def _():
    with QConn() as c:
        ch = c.channel()
        q = stream(c, ch)
        for args, arg, reason in [
                ({"x-stream-filter": 5}, "x-stream-filter", "{unacceptable_type,signedint}"),
                ({"x-stream-filter": ["a", 1]}, "x-stream-filter",
                 "{unacceptable_type,signedint}"),
                ({"x-stream-filter": "a", "x-stream-match-unfiltered": "yes"},
                 "x-stream-match-unfiltered", "{unacceptable_type,longstr}")]:
            ch = c.channel()
            ch.basic_qos(prefetch_count=10)
            channel_error(lambda: (ch.basic_consume(q, lambda *a: None, arguments=args),
                                   c.conn.process_data_events(time_limit=0.5)), 406,
                          "PRECONDITION_FAILED - invalid arg '%s' for queue '%s' in vhost '%s': "
                          "%s" % (arg, q, VHOST, reason))
        ch = c.channel()
        name = unique("st")
        channel_error(lambda: ch.queue_declare(name, durable=True, arguments=dict(
            S, **{"x-stream-filter-size-bytes": 8})), 406,
            "PRECONDITION_FAILED - Invalid value for  x-stream-filter-size-bytes")
        ch = c.channel()
        stream(c, ch, **{"x-stream-filter-size-bytes": 64})


# ------------------------------------------------------------------------ policies (HTTP API)


def policy_stream(c, ch, pol, **args):
    name = pol.prefix + unique("st")
    ch.queue_declare(name, durable=True, arguments=dict(S, **args))
    c.queues.append(name)
    return name


def publish_many(q, n, size=200):
    conn = qf_connect()
    pch = conn.channel()
    pch.confirm_delivery()
    for _ in range(n):
        pch.basic_publish("", q, b"x" * size)
    conn.close()


def first_offset(c, q):
    r = Reader(c, q, "first", prefetch=1000, ack=True)
    got = r.wait(1, 2.0)
    r.settle(0.2)
    r.ch.close()
    check(got, "nothing delivered from first")
    return got[0][1].headers["x-stream-offset"]


if MGMT_URL:
    @scenario("a policy's max-length-bytes and stream-max-segment-size-bytes retain a stream "
              "declared without them, and win over the stream's own arguments, smaller or not")
    def _():
        with QConn() as c:
            ch = c.channel()
            with Policy({"max-length-bytes": 20000,
                         "stream-max-segment-size-bytes": 5000}) as pol:
                plain = policy_stream(c, ch, pol)
                own = policy_stream(c, ch, pol, **{"x-max-length-bytes": 1000000000,
                                                   "x-stream-max-segment-size-bytes": 100000000})
                for q in (plain, own):
                    publish_many(q, 200)
                    check(first_offset(c, q) > 0, "%s: nothing was dropped" % q)
            # the policy wins even when the argument is the smaller (not the smallest, as for
            # classic queues)
            with Policy({"max-length-bytes": 1000000000,
                         "stream-max-segment-size-bytes": 5000}) as pol:
                q = policy_stream(c, ch, pol, **{"x-max-length-bytes": 20000})
                publish_many(q, 200)
                eq(first_offset(c, q), 0, "the argument's 20000 bytes applied")

    @scenario("a policy's max-age drops a stream's old segments once newer ones are written")
    def _():
        with QConn() as c:
            ch = c.channel()
            with Policy({"max-age": "1s", "stream-max-segment-size-bytes": 5000}) as pol:
                q = policy_stream(c, ch, pol)
                publish_many(q, 100)
                eq(first_offset(c, q), 0, "nothing old yet")
                c.conn.sleep(2.5)
                publish_many(q, 100)
                check(first_offset(c, q) >= 50, "the first 100 were kept past max-age")

    @scenario("a policy with a negative stream-max-segment-size-bytes is refused with 400 and "
              "RabbitMQ's reason")
    def _():
        try:
            Policy({"stream-max-segment-size-bytes": -1})
        except urllib.error.HTTPError as e:
            eq(e.code, 400, "status")
            eq(json.loads(e.read())["reason"],
               "Validation failed\n\n-1 is not a valid segment size\n", "reason")
            return
        raise Failure("a segment size of -1 was accepted")

    @scenario("a policy with an unparsable max-age is refused with a 400 (RabbitMQ 3.10 "
              "answers 500)", warren_only=True)
    def _():
        try:
            Policy({"max-age": "bogus"})
        except urllib.error.HTTPError as e:
            eq(e.code, 400, "status")
            body = json.loads(e.read())
            eq(body["reason"], "Validation failed\n\n<<\"bogus\">> is not a valid max age\n",
               "reason")
            return
        raise Failure("a max-age of 'bogus' was accepted")
