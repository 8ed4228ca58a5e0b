#!/usr/bin/python3
"""Conformance scenarios for what RabbitMQ users install plugins for, through pika and the
management HTTP API: the consistent-hash exchange (rabbitmq_consistent_hash_exchange), the event
exchange (rabbitmq_event_exchange), message deduplication (rabbitmq-message-deduplication, not
in Debian: Warren-only here) and dynamic shovels (rabbitmq_shovel + rabbitmq_shovel_management).

Against RabbitMQ, a scenario whose plugin is not enabled is skipped (and said so);
`conformance/run.sh --rabbitmq --plugins` starts a node with the Debian ones enabled. Scenarios
that need the management API skip without CONFORMANCE_MGMT_URL."""

import base64
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

from harness import (URL, USER, VHOST, Failure, check, eq, main, scenario,  # noqa: E402
                     unique, url_parts)

MGMT_URL = os.environ.get("CONFORMANCE_MGMT_URL") or (
    "http://127.0.0.1:15673" if url_parts()["port"] == 5673 else "")
VQ = urllib.parse.quote(VHOST, safe="")


def connect(**kw):
    p = pika.URLParameters(URL)
    p.blocked_connection_timeout = None
    p.socket_timeout = 5
    p.connection_attempts = 1
    for k, v in kw.items():
        setattr(p, k, v)
    return pika.BlockingConnection(p)


def api(method, path, body=None):
    """(status, parsed JSON or text) from the management API."""
    auth = base64.b64encode(("%s:%s" % (USER, url_parts()["password"])).encode()).decode()
    req = urllib.request.Request(MGMT_URL + "/api" + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Basic " + auth,
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, text = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text.decode(errors="replace")


class Conn:
    """A connection closed at the end of a with-block; its queues and exchanges are deleted."""

    def __init__(self, **kw):
        self.conn = connect(**kw)
        self.queues = []
        self.exchanges = []

    def __enter__(self):
        return self

    def channel(self):
        return self.conn.channel()

    def queue(self, ch, name=None, **args):
        name = name or unique("pq")
        ch.queue_declare(name, arguments=args or None)
        self.queues.append(name)
        return name

    def exchange(self, ch, kind, arguments=None, **kw):
        name = unique("px")
        ch.exchange_declare(name, kind, arguments=arguments, **kw)
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
            c = connect()
            ch = c.channel()
            for q in self.queues:
                ch.queue_delete(q)
            for x in self.exchanges:
                ch.exchange_delete(x)
            c.close()
        except Exception:  # noqa: BLE001 - cleanup
            pass


def channel_error(fn, code, text=None):
    """fn() must close its channel with code (and exactly text when given)."""
    try:
        fn()
    except pex.ChannelClosedByBroker as e:
        eq(e.reply_code, code, "reply code")
        if text is not None:
            eq(e.reply_text, text, "reply text")
        return
    raise Failure("no channel error (wanted %d)" % code)


def drain(ch, q):
    """Every message now in q: [(method, properties, body)], through a consumer (one
    basic.get per message would take a round trip each)."""
    n = ch.queue_declare(q, passive=True).method.message_count
    out = []
    if n == 0:
        return out
    for m, p, b in ch.consume(q, auto_ack=True, inactivity_timeout=2.0):
        if m is None:
            break
        out.append((m, p, b))
        if len(out) >= n:
            break
    ch.cancel()
    return out


def wait_count(ch, q, want, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        n = ch.queue_declare(q, passive=True).method.message_count
        if n >= want or time.monotonic() > deadline:
            return n
        time.sleep(0.05)


# ---------------------------------------------------------------- what the broker has

_have = {}


def _probe_exchange_type(kind):
    if kind not in _have:
        try:
            c = connect()
            ch = c.channel()
            name = unique("probe")
            ch.exchange_declare(name, kind, arguments={"x-cache-size": 1, "x-delayed-type": "direct"},
                                auto_delete=True)
            ch.exchange_delete(name)
            c.close()
            _have[kind] = True
        except Exception:  # noqa: BLE001 - an unknown type closes the channel or connection
            _have[kind] = False
    return _have[kind]


def needs_chx():
    return None if _probe_exchange_type("x-consistent-hash") else \
        "rabbitmq_consistent_hash_exchange not enabled"


def needs_events():
    if "events" not in _have:
        try:
            c = connect()
            c.channel().exchange_declare("amq.rabbitmq.event", "topic", passive=True)
            c.close()
            _have["events"] = True
        except Exception:  # noqa: BLE001
            _have["events"] = False
    return None if _have["events"] else "rabbitmq_event_exchange not enabled"


def needs_mgmt():
    return None if MGMT_URL else "no CONFORMANCE_MGMT_URL"


def needs_events_mgmt():
    return needs_mgmt() or needs_events()


def needs_chx_mgmt():
    return needs_mgmt() or needs_chx()


# ---------------------------------------------------------------- consistent-hash exchange


def chx_setup(c, ch, weights, arguments=None):
    x = c.exchange(ch, "x-consistent-hash", arguments=arguments)
    qs = []
    for w in weights:
        q = c.queue(ch)
        ch.queue_bind(q, x, str(w))
        qs.append(q)
    return x, qs


def chx_placement(ch, x, qs, keys):
    """Publishes one message per key (routing key = body = key) and returns {key: queue
    index}. No confirms: the queues are polled until every message is in one."""
    for k in keys:
        ch.basic_publish(x, k, k.encode())
    deadline = time.monotonic() + 10
    while sum(ch.queue_declare(q, passive=True).method.message_count for q in qs) < len(keys):
        check(time.monotonic() < deadline, "not every message was routed")
        time.sleep(0.05)
    where = {}
    for i, q in enumerate(qs):
        for _m, _p, b in drain(ch, q):
            where[b.decode()] = i
    return where


@scenario("a consistent-hash exchange spreads keys over its queues in proportion to the "
          "binding weights", requires=needs_chx)
def _():
    with Conn() as c:
        ch = c.channel()
        x, qs = chx_setup(c, ch, [1, 1, 2])
        keys = ["key-%d" % i for i in range(4000)]
        where = chx_placement(ch, x, qs, keys)
        eq(len(where), 4000, "every message routed to exactly one queue")
        counts = [sum(1 for v in where.values() if v == i) for i in range(3)]
        for i, share in enumerate((0.25, 0.25, 0.5)):
            check(abs(counts[i] - 4000 * share) < 4000 * share * 0.2,
                  "queue %d holds %d of 4000 (weight share %.2f)" % (i, counts[i], share))


@scenario("a consistent-hash exchange sends the same routing key to the same queue every time",
          requires=needs_chx)
def _():
    with Conn() as c:
        ch = c.channel()
        x, qs = chx_setup(c, ch, [1, 1, 1])
        keys = ["order-%d" % (i % 50) for i in range(500)]
        ch.confirm_delivery()
        for k in keys:
            ch.basic_publish(x, k, k.encode())
        seen = {}
        for i, q in enumerate(qs):
            for _m, _p, b in drain(ch, q):
                seen.setdefault(b.decode(), set()).add(i)
        eq(len(seen), 50, "distinct keys")
        check(all(len(s) == 1 for s in seen.values()), "a key went to two queues")


@scenario("adding a queue to a consistent-hash exchange moves about 1/N of the keys, all to "
          "the new queue", requires=needs_chx)
def _():
    with Conn() as c:
        ch = c.channel()
        x, qs = chx_setup(c, ch, [1, 1, 1, 1])
        keys = ["user-%d" % i for i in range(2000)]
        before = chx_placement(ch, x, qs, keys)
        q5 = c.queue(ch)
        ch.queue_bind(q5, x, "1")
        after = chx_placement(ch, x, qs + [q5], keys)
        moved = [k for k in keys if before[k] != after[k]]
        check(all(after[k] == 4 for k in moved), "a key moved between two old queues")
        check(0.12 < len(moved) / 2000 < 0.28,
              "%d of 2000 keys moved (1/5 expected)" % len(moved))


@scenario("unbinding the last-bound queue of a consistent-hash exchange moves only its keys; "
          "unbinding another sends none of its keys back to it", requires=needs_chx)
def _():
    with Conn() as c:
        ch = c.channel()
        x, qs = chx_setup(c, ch, [1, 1, 1, 1])
        keys = ["k%d" % i for i in range(1000)]
        before = chx_placement(ch, x, qs, keys)
        ch.queue_unbind(qs[3], x, "1")
        after = chx_placement(ch, x, qs, keys)
        for k in keys:
            if before[k] != 3:
                eq(after[k], before[k], "key %s of a queue still bound" % k)
        check(all(after[k] != 3 for k in keys), "a key still goes to the unbound queue")
        # A binding in the middle of the ring: the buckets after it move down (as the plugin
        # renumbers them), so other keys move too, but none to the unbound queue.
        ch.queue_unbind(qs[1], x, "1")
        after = chx_placement(ch, x, qs, keys)
        check(all(after[k] in (0, 2) for k in keys), "a key went to an unbound queue")


@scenario("hash-header routes a consistent-hash exchange by a header, whatever the routing "
          "key", requires=needs_chx)
def _():
    with Conn() as c:
        ch = c.channel()
        x, qs = chx_setup(c, ch, [1, 1, 1], arguments={"hash-header": "h"})
        keys = ["tenant-%d" % (i % 40) for i in range(400)]
        ch.confirm_delivery()
        for i, k in enumerate(keys):
            ch.basic_publish(x, "rk-%d" % i, k.encode(), pika.BasicProperties(headers={"h": k}))
        seen = {}
        counts = []
        for i, q in enumerate(qs):
            got = drain(ch, q)
            counts.append(len(got))
            for _m, _p, b in got:
                seen.setdefault(b.decode(), set()).add(i)
        eq(sum(counts), 400, "messages routed")
        check(all(len(s) == 1 for s in seen.values()), "one header value went to two queues")
        check(sum(1 for n in counts if n) >= 2, "all header values went to one queue")
        # Messages without the header all go to one queue (the plugin hashes 'undefined').
        for i in range(30):
            ch.basic_publish(x, "no-header-%d" % i, b"n")
        eq(sorted(len(drain(ch, q)) for q in qs), [0, 0, 30], "messages without the header")


@scenario("hash-property message_id routes a consistent-hash exchange by the property",
          requires=needs_chx)
def _():
    with Conn() as c:
        ch = c.channel()
        x, qs = chx_setup(c, ch, [1, 1], arguments={"hash-property": "message_id"})
        ch.confirm_delivery()
        for i in range(200):
            mid = "m%d" % (i % 20)
            ch.basic_publish(x, "rk-%d" % i, mid.encode(), pika.BasicProperties(message_id=mid))
        seen = {}
        for i, q in enumerate(qs):
            for _m, _p, b in drain(ch, q):
                seen.setdefault(b.decode(), set()).add(i)
        eq(len(seen), 20, "message ids")
        check(all(len(s) == 1 for s in seen.values()), "one message_id went to two queues")


@scenario("hash-header and hash-property together are refused with 406", requires=needs_chx)
def _():
    with Conn() as c:
        ch = c.channel()
        channel_error(lambda: ch.exchange_declare(unique("px"), "x-consistent-hash", arguments={
            "hash-header": "h", "hash-property": "message_id"}), 406,
            "PRECONDITION_FAILED - hash-header and hash-property are mutually exclusive")
        ch = c.channel()
        channel_error(lambda: ch.exchange_declare(unique("px"), "x-consistent-hash", arguments={
            "hash-property": "app_id"}), 406, "PRECONDITION_FAILED - Unsupported property: app_id")


@scenario("a consistent-hash binding key must be an integer of at least 1 (406)",
          requires=needs_chx)
def _():
    with Conn() as c:
        ch = c.channel()
        x = c.exchange(ch, "x-consistent-hash")
        q = c.queue(ch)
        for key, text in (("abc", 'The binding key must be an integer: <<"abc">>'),
                          ("", "The binding key must be an integer: <<>>"),
                          (" 3", 'The binding key must be an integer: <<" 3">>'),
                          ("0", "The binding key must be greater than 0"),
                          ("-3", "The binding key must be greater than 0")):
            channel_error(lambda: ch.queue_bind(q, x, key), 406, "PRECONDITION_FAILED - " + text)
            ch = c.channel()
        ch.queue_bind(q, x, "+3")  # list_to_integer takes a sign


@scenario("a consistent-hash exchange is listed in the management API with its type and "
          "bindings", requires=needs_chx_mgmt)
def _():
    with Conn() as c:
        ch = c.channel()
        x, qs = chx_setup(c, ch, [3, 5])
        st, doc = api("GET", "/exchanges/%s/%s" % (VQ, x))
        eq(st, 200, "GET exchange")
        eq(doc["type"], "x-consistent-hash", "type")
        st, doc = api("GET", "/exchanges/%s/%s/bindings/source" % (VQ, x))
        eq(sorted((b["destination"], b["routing_key"]) for b in doc),
           sorted([(qs[0], "3"), (qs[1], "5")]), "bindings")
        st, doc = api("GET", "/overview")
        types = {t["name"]: t["description"] for t in doc["exchange_types"]}
        eq(types.get("x-consistent-hash"), "Consistent Hashing Exchange", "exchange type listed")
        st, doc = api("PUT", "/exchanges/%s/%s" % (VQ, unique("px")), {
            "type": "x-consistent-hash",
            "arguments": {"hash-header": "a", "hash-property": "message_id"}})
        eq(st, 400, "PUT with both hash arguments")
        eq(doc["reason"], "hash-header and hash-property are mutually exclusive", "reason")


# ---------------------------------------------------------------- event exchange


class EventTap:
    """A queue bound to amq.rabbitmq.event with key; next(key) waits for an event."""

    def __init__(self, key="#"):
        self.conn = connect()
        self.ch = self.conn.channel()
        self.q = self.ch.queue_declare("", exclusive=True).method.queue
        self.ch.queue_bind(self.q, "amq.rabbitmq.event", key)
        self.got = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001
            pass

    def wait(self, pred, what, timeout=5.0):
        """The first event (routing key, properties) pred accepts."""
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.got:
                if pred(*ev):
                    self.got.remove(ev)
                    return ev
            if time.monotonic() > deadline:
                raise Failure("no %s event (saw %s)" % (what, [k for k, _ in self.got]))
            m, p, b = self.ch.basic_get(self.q, auto_ack=True)
            if m is None:
                self.conn.sleep(0.05)
                continue
            eq(b, b"", "event body")
            self.got.append((m.routing_key, p))

    def event(self, key, name=None, field="name"):
        return self.wait(lambda k, p: k == key and (name is None or
                                                      p.headers.get(field) == name),
                         "%s %s" % (key, name or ""))[1]

    def keys(self):
        """Routing keys received so far (drains the queue)."""
        while True:
            m, p, b = self.ch.basic_get(self.q, auto_ack=True)
            if m is None:
                break
            self.got.append((m.routing_key, p))
        return [k for k, _ in self.got]


def text(v):
    return v.decode() if isinstance(v, bytes) else v


@scenario("amq.rabbitmq.event is an internal durable topic exchange clients cannot publish to",
          requires=needs_events)
def _():
    with Conn() as c:
        ch = c.channel()
        ch.exchange_declare("amq.rabbitmq.event", "topic", passive=True)
        ch.confirm_delivery()
        channel_error(lambda: ch.basic_publish("amq.rabbitmq.event", "x", b"x"), 403,
                      "ACCESS_REFUSED - cannot publish to internal exchange "
                      "'amq.rabbitmq.event' in vhost '%s'" % VHOST)


@scenario("declaring and deleting a queue publishes queue.created and queue.deleted with "
          "RabbitMQ's headers", requires=needs_events)
def _():
    with EventTap("queue.*") as tap, Conn() as c:
        ch = c.channel()
        q = unique("evq")
        ch.queue_declare(q, durable=False, arguments={"x-max-length": 10})
        p = tap.event("queue.created", q)
        h = p.headers
        eq(p.delivery_mode, 2, "delivery mode")
        check(p.timestamp and abs(p.timestamp - time.time()) < 60, "timestamp in seconds")
        eq((text(h["vhost"]), h["durable"], h["auto_delete"], h["exclusive"]),
           (VHOST, False, False, False), "queue.created flags")
        eq([text(a) for a in h["arguments"]], ['{<<"x-max-length">>,signedint,10}'],
           "arguments as Erlang terms")
        eq(text(h["user_who_performed_action"]), USER, "user_who_performed_action")
        check(abs(h["timestamp_in_ms"] - time.time() * 1000) < 60000, "timestamp_in_ms")
        ch.queue_delete(q)
        h = tap.event("queue.deleted", q).headers
        eq(text(h["vhost"]), VHOST, "queue.deleted vhost")
        eq(sorted(tap.keys()), [], "only queue events through queue.*")


@scenario("a connection publishes user.authentication.success, connection.created, "
          "channel.created, channel.closed and connection.closed", requires=needs_events)
def _():
    with EventTap("#") as tap:
        name = unique("evconn")
        c = connect(client_properties={"connection_name": name})
        ch = c.channel()
        ch.close()
        c.close()
        h = tap.event("connection.created", name, "user_provided_name").headers
        for k in ("name", "node", "pid", "peer_host", "peer_port", "host", "port", "protocol",
                  "auth_mechanism", "ssl", "type", "client_properties", "connected_at",
                  "channel_max", "frame_max", "timeout", "user", "vhost"):
            check(k in h, "connection.created has no %s" % k)
        eq(text(h["user"]), USER, "user")
        eq(text(h["protocol"]), "{0,9,1}", "protocol")
        check(any(text(t).startswith('{<<"product">>,longstr,') for t in h["client_properties"]),
              "client_properties as Erlang terms")
        conn_name = text(h["name"])
        tap.event("user.authentication.success", conn_name, "connection_name")
        ch_h = tap.event("channel.created", conn_name + " (1)").headers
        eq(ch_h["number"], 1, "channel number")
        tap.event("channel.closed", text(ch_h["pid"]), "pid")
        h = tap.event("connection.closed", conn_name).headers
        eq(text(h["user_provided_name"]), name, "user_provided_name")


@scenario("a refused login publishes user.authentication.failure", requires=needs_events)
def _():
    with EventTap("user.#") as tap:
        p = pika.URLParameters(URL)
        p.credentials = pika.PlainCredentials(USER, "certainly-wrong")
        p.connection_attempts = 1
        try:
            pika.BlockingConnection(p)
            raise Failure("login with a wrong password succeeded")
        except (pex.ProbableAuthenticationError, pex.AuthenticationError):
            pass
        h = tap.event("user.authentication.failure", USER).headers
        eq(text(h["auth_mechanism"]), "PLAIN", "mechanism")
        eq(bytes(h["error"]).decode() if isinstance(h["error"], bytes)
           else "".join(chr(x) for x in h["error"]),
           "user '%s' - invalid credentials" % USER, "error (an Erlang string)")


@scenario("exchanges, bindings and consumers publish their created and deleted events",
          requires=needs_events)
def _():
    with EventTap("#") as tap, Conn() as c:
        ch = c.channel()
        x = unique("evx")
        ch.exchange_declare(x, "topic")
        q = c.queue(ch)
        ch.queue_bind(q, x, "a.*")
        tag = ch.basic_consume(q, lambda *a: None)
        ch.basic_cancel(tag)
        ch.queue_unbind(q, x, "a.*")
        ch.exchange_delete(x)
        h = tap.event("exchange.created", x).headers
        eq((text(h["type"]), h["durable"], h["internal"], h["arguments"]),
           ("topic", False, False, []), "exchange.created")
        h = tap.event("binding.created", x, "source_name").headers
        eq((text(h["destination_name"]), text(h["destination_kind"]), text(h["routing_key"]),
            text(h["source_kind"])), (q, "queue", "a.*", "exchange"), "binding.created")
        h = tap.event("consumer.created", tag, "consumer_tag").headers
        eq((text(h["queue"]), h["ack_required"], h["exclusive"]), (q, True, False),
           "consumer.created")
        tap.event("consumer.deleted", tag, "consumer_tag")
        tap.event("binding.deleted", x, "source_name")
        tap.event("exchange.deleted", x)


@scenario("setting and clearing a policy publishes policy.set and policy.cleared",
          requires=needs_events_mgmt)
def _():
    with EventTap("policy.*") as tap:
        name = unique("evpol")
        st, _ = api("PUT", "/policies/%s/%s" % (VQ, name),
                    {"pattern": "^" + name, "definition": {"max-length": 5}, "priority": 3})
        eq(st, 201, "PUT policy")
        api("DELETE", "/policies/%s/%s" % (VQ, name))
        h = tap.event("policy.set", name).headers
        eq((text(h["pattern"]), text(h["apply-to"]), h["priority"], h["definition"]),
           ("^" + name, "all", 3, {"max-length": 5}), "policy.set")
        tap.event("policy.cleared", name)

# ---------------------------------------------------------------- message deduplication
# rabbitmq-message-deduplication is not in Debian: these follow its documentation and run on
# Warren only.


def dedup_exchange(c, ch, **args):
    args.setdefault("x-cache-size", 100)
    x = c.exchange(ch, "x-message-deduplication", arguments=args)
    q = c.queue(ch)
    ch.queue_bind(q, x, "")
    return x, q


def pub(ch, x, key=None, body=b"m", rk="", mandatory=False, **headers):
    h = dict(headers)
    if key is not None:
        h["x-deduplication-header"] = key
    ch.basic_publish(x, rk, body, pika.BasicProperties(headers=h or None), mandatory=mandatory)


@scenario("a deduplication exchange routes one message per x-deduplication-header value and "
          "confirms the duplicates", warren_only=True)
def _():
    with Conn() as c:
        ch = c.channel()
        x, q = dedup_exchange(c, ch)
        ch.confirm_delivery()
        for _ in range(5):
            pub(ch, x, "order-1")  # each confirmed (an unconfirmed one would raise)
        pub(ch, x, "order-2")
        pub(ch, x)
        pub(ch, x)  # no header: never deduplicated
        eq(wait_count(ch, q, 4), 4, "messages routed")
        eq(sorted(m[2] for m in drain(ch, q)), [b"m"] * 4, "bodies")


@scenario("a duplicate published as mandatory comes back as unroutable (312) and is still "
          "confirmed", warren_only=True)
def _():
    with Conn() as c:
        ch = c.channel()
        x, q = dedup_exchange(c, ch)
        ch.confirm_delivery()
        pub(ch, x, "k", mandatory=True)
        try:
            pub(ch, x, "k", mandatory=True)
            raise Failure("the duplicate was not returned")
        except pex.UnroutableError as e:
            eq(len(e.messages), 1, "returned messages")
            eq(e.messages[0].method.reply_code, 312, "reply code")
        eq(wait_count(ch, q, 1), 1, "messages routed")


@scenario("x-cache-ttl forgets a value after its milliseconds; a message's x-cache-ttl header "
          "overrides the exchange's", warren_only=True)
def _():
    with Conn() as c:
        ch = c.channel()
        x, q = dedup_exchange(c, ch, **{"x-cache-ttl": 300})
        ch.confirm_delivery()
        pub(ch, x, "a")
        pub(ch, x, "a")
        pub(ch, x, "b", **{"x-cache-ttl": 5000})
        eq(wait_count(ch, q, 2), 2, "within the TTL")
        time.sleep(0.5)
        pub(ch, x, "a")  # expired: routed again
        pub(ch, x, "b")  # its own 5 s TTL: still a duplicate
        eq(wait_count(ch, q, 3, timeout=1), 3, "after the exchange's TTL")


@scenario("x-cache-size bounds the cache: when it is full the oldest value is forgotten",
          warren_only=True)
def _():
    with Conn() as c:
        ch = c.channel()
        x, q = dedup_exchange(c, ch, **{"x-cache-size": 2})
        ch.confirm_delivery()
        for k in ("a", "b", "c"):  # a is evicted by c
            pub(ch, x, k)
        pub(ch, x, "c")
        pub(ch, x, "b")
        eq(wait_count(ch, q, 3), 3, "b and c remembered")
        pub(ch, x, "a")
        eq(wait_count(ch, q, 4), 4, "a forgotten")


@scenario("a deduplication exchange checks its arguments with the plugin's texts",
          warren_only=True)
def _():
    with Conn() as c:
        for args, text in (
                ({}, "Missing or invalid argument, 'x-cache-size' must be an integer greater "
                     "than 0"),
                ({"x-cache-size": -5}, "Missing or invalid argument, 'x-cache-size' must be an "
                                       "integer greater than 0"),
                ({"x-cache-size": "ten"}, "Missing or invalid argument, 'x-cache-size' must be "
                                          "an integer greater than 0"),
                ({"x-cache-size": 10, "x-cache-ttl": 0},
                 "Invalid argument, 'x-cache-ttl' must be an integer greater than 0"),
                ({"x-cache-size": 10, "x-cache-persistence": "tape"},
                 "Invalid argument, 'x-cache-persistence' must be either 'disk' or 'memory'")):
            ch = c.channel()
            channel_error(lambda: ch.exchange_declare(unique("px"), "x-message-deduplication",
                                                      arguments=args), 406,
                          "PRECONDITION_FAILED - " + text)
        ch = c.channel()
        x = c.exchange(ch, "x-message-deduplication", arguments={
            "x-cache-size": "10", "x-cache-ttl": 1000, "x-cache-persistence": "memory"})


@scenario("a queue with x-message-deduplication drops a duplicate while the original is in it "
          "and takes it again once the original is acked", warren_only=True)
def _():
    with Conn() as c:
        ch = c.channel()
        q = c.queue(ch, **{"x-message-deduplication": True})
        ch.confirm_delivery()
        for _ in range(3):
            ch.basic_publish("", q, b"1", pika.BasicProperties(
                headers={"x-deduplication-header": "job-1"}))
        ch.basic_publish("", q, b"2", pika.BasicProperties(
            headers={"x-deduplication-header": "job-2"}))
        eq(wait_count(ch, q, 2), 2, "one message per value")
        m, p, b = ch.basic_get(q)  # job-1, unacked: still held by the queue
        eq(b, b"1", "first message")
        ch.basic_publish("", q, b"1", pika.BasicProperties(
            headers={"x-deduplication-header": "job-1"}))
        eq(ch.queue_declare(q, passive=True).method.message_count, 1, "unacked still counts")
        ch.basic_ack(m.delivery_tag)
        ch.basic_publish("", q, b"1", pika.BasicProperties(
            headers={"x-deduplication-header": "job-1"}))
        eq(wait_count(ch, q, 2), 2, "after the ack the value is free")
        ch.queue_purge(q)
        ch.basic_publish("", q, b"2", pika.BasicProperties(
            headers={"x-deduplication-header": "job-2"}))
        eq(wait_count(ch, q, 1), 1, "after a purge the value is free")


# ---------------------------------------------------------------- shovels (rabbitmq_shovel)
# Dynamic shovels on this broker: "amqp://" (no host) is the broker itself on both.


def needs_shovel():
    if needs_mgmt():
        return needs_mgmt()
    if "shovel" not in _have:
        try:
            _have["shovel"] = api("GET", "/shovels")[0] == 200
        except OSError:
            _have["shovel"] = False
    return None if _have["shovel"] else "rabbitmq_shovel_management not enabled"


class Shovel:
    """A shovel defined for a with-block, deleted at its end."""

    def __init__(self, value, name=None):
        self.name = name or unique("shovel")
        self.path = "/parameters/shovel/%s/%s" % (VQ, urllib.parse.quote(self.name, safe=""))
        self.status, self.reply = api("PUT", self.path, {"value": value})

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        api("DELETE", self.path)

    def state(self):
        st, doc = api("GET", "/shovels/vhost/%s/%s" % (VQ, urllib.parse.quote(self.name,
                                                                              safe="")))
        return doc[0] if st == 200 and doc else None

    def wait_state(self, want, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            s = self.state()
            if s and s["state"] == want:
                return s
            if time.monotonic() > deadline:
                raise Failure("shovel %s not %s: %r" % (self.name, want, s))
            time.sleep(0.1)


def gone(path, timeout=10.0):
    deadline = time.monotonic() + timeout
    while api("GET", path)[0] != 404:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@scenario("a dynamic shovel moves messages between two queues and /api/shovels shows it "
          "running", requires=needs_shovel)
def _():
    with Conn() as c:
        ch = c.channel()
        src, dst = c.queue(ch, durable=False), unique("pq")
        c.queues.append(dst)
        for i in range(20):
            ch.basic_publish("", src, b"%d" % i, pika.BasicProperties(content_type="text/x",
                                                                      headers={"k": i}))
        with Shovel({"src-uri": "amqp://", "src-queue": src, "dest-uri": "amqp://",
                     "dest-queue": dst}) as sh:
            eq(sh.status, 201, "PUT shovel")
            s = sh.wait_state("running")
            for k, v in (("type", "dynamic"), ("vhost", VHOST), ("src_uri", "amqp://"),
                         ("dest_uri", "amqp://"), ("src_queue", src), ("dest_queue", dst),
                         ("src_protocol", "amqp091"), ("dest_protocol", "amqp091")):
                eq(s.get(k), v, "status " + k)
            check(s.get("node") and s.get("timestamp"), "node and timestamp")
            eq(wait_count(ch, dst, 20), 20, "messages moved (the destination queue declared)")
            got = drain(ch, dst)
            eq([b for _m, _p, b in got], [b"%d" % i for i in range(20)], "order and bodies")
            eq((got[3][1].content_type, got[3][1].headers), ("text/x", {"k": 3}), "properties")
            eq(ch.queue_declare(src, passive=True).method.message_count, 0, "source drained")
            ch.basic_publish("", src, b"later")
            eq(wait_count(ch, dst, 1), 1, "a message published later")
        check(gone("/shovels/vhost/%s/%s" % (VQ, sh.name)), "the shovel goes with its parameter")


@scenario("a shovel from an exchange forwards with the original routing key to dest-exchange",
          requires=needs_shovel)
def _():
    with Conn() as c:
        ch = c.channel()
        sx, dx = c.exchange(ch, "topic"), c.exchange(ch, "direct")
        q = c.queue(ch)
        ch.queue_bind(q, dx, "orders.eu")
        with Shovel({"src-uri": "amqp://", "src-exchange": sx, "src-exchange-key": "orders.#",
                     "dest-uri": "amqp://", "dest-exchange": dx}) as sh:
            s = sh.wait_state("running")
            eq((s.get("src_exchange"), s.get("src_exchange_key"), s.get("dest_exchange")),
               (sx, "orders.#", dx), "status")
            ch.basic_publish(sx, "orders.eu", b"1")
            ch.basic_publish(sx, "orders.us", b"2")   # routed by dx to nothing
            ch.basic_publish(sx, "payments.eu", b"3")  # not bound at the source
            eq(wait_count(ch, q, 1), 1, "forwarded with its routing key")
            time.sleep(0.3)
            eq([b for _m, _p, b in drain(ch, q)], [b"1"], "only the matching key")


@scenario("add-forward-headers adds x-shovelled and dest-add-timestamp-header "
          "x-shovelled-timestamp", requires=needs_shovel)
def _():
    with Conn() as c:
        ch = c.channel()
        src, dst = c.queue(ch), c.queue(ch)
        with Shovel({"src-uri": "amqp://", "src-queue": src, "dest-uri": "amqp://",
                     "dest-queue": dst, "add-forward-headers": True,
                     "dest-add-timestamp-header": True}) as sh:
            sh.wait_state("running")
            ch.basic_publish("", src, b"x", pika.BasicProperties(headers={"mine": "kept"}))
            eq(wait_count(ch, dst, 1), 1, "forwarded")
            _m, p, _b = drain(ch, dst)[0]
            h = p.headers
            eq(h.get("mine"), "kept", "the message's own header")
            check(abs(h["x-shovelled-timestamp"] - time.time()) < 60, "timestamp in seconds")
            eq(len(h["x-shovelled"]), 1, "one x-shovelled entry")
            fwd = h["x-shovelled"][0]
            for k, v in (("shovel-type", "dynamic"), ("shovel-name", sh.name),
                         ("shovel-vhost", VHOST), ("src-uri", "amqp://"), ("dest-uri", "amqp://"),
                         ("src-queue", src), ("dest-queue", dst)):
                eq(text(fwd.get(k)), v, "x-shovelled " + k)
            check("shovelled-by" in fwd, "shovelled-by")


@scenario("src-delete-after queue-length moves what was there and then deletes the shovel",
          requires=needs_shovel)
def _():
    with Conn() as c:
        ch = c.channel()
        src, dst = c.queue(ch), c.queue(ch)
        for i in range(30):
            ch.basic_publish("", src, b"%d" % i)
        with Shovel({"src-uri": "amqp://", "src-queue": src, "dest-uri": "amqp://",
                     "dest-queue": dst, "src-delete-after": "queue-length"}) as sh:
            check(gone(sh.path), "the shovel deleted its own parameter")
            eq(wait_count(ch, dst, 30), 30, "the 30 messages that were there moved")
            ch.basic_publish("", src, b"after")
            time.sleep(0.3)
            eq(ch.queue_declare(src, passive=True).method.message_count, 1,
               "a later message stays")


@scenario("src-delete-after N moves N messages and then deletes the shovel",
          requires=needs_shovel)
def _():
    with Conn() as c:
        ch = c.channel()
        src, dst = c.queue(ch), c.queue(ch)
        for i in range(12):
            ch.basic_publish("", src, b"%d" % i)
        with Shovel({"src-uri": "amqp://", "src-queue": src, "dest-uri": "amqp://",
                     "dest-queue": dst, "src-delete-after": 5, "prefetch-count": 2}) as sh:
            check(gone(sh.path), "the shovel deleted its own parameter")
            time.sleep(0.3)
            eq(ch.queue_declare(dst, passive=True).method.message_count, 5, "moved")
            eq(ch.queue_declare(src, passive=True).method.message_count, 7, "left")


@scenario("shovel definitions are checked with RabbitMQ's texts", requires=needs_shovel)
def _():
    name = unique("badshovel")
    path = "/parameters/shovel/%s/%s" % (VQ, name)
    for value, reason in (
            ({"src-uri": "amqp://", "src-queue": "a", "dest-uri": "amqp://", "foo": 1},
             "Unrecognised terms [{&lt;&lt;\"foo\"&gt;&gt;,1}] in %s" % name),
            ({"src-uri": "http://x", "src-queue": "a", "dest-uri": "amqp://"},
             "\"http://x\" not a valid URI: {{unexpected_uri_scheme,\"http\"},\"http://x\"}"),
            ({"src-uri": "amqp://", "dest-uri": "amqp://"},
             "Must specify 'src-exchange' or 'src-queue'"),
            ({"src-uri": "amqp://", "src-queue": "a", "src-exchange": "b", "dest-uri": "amqp://"},
             "Cannot specify 'src-exchange' and 'src-queue'"),
            ({"src-uri": "amqp://", "src-queue": "a", "dest-uri": "amqp://",
              "dest-exchange": "b", "dest-queue": "c"},
             "Cannot specify 'dest-exchange' and 'dest-queue'"),
            ({"src-uri": "amqp://", "src-queue": "a"},
             "Key \"dest-uri\" not found in %s" % name),
            ({"src-uri": "amqp://", "src-queue": "a", "dest-uri": "amqp://", "ack-mode": "x"},
             "ack-mode should be one of [&lt;&lt;\"no-ack\"&gt;&gt;,&lt;&lt;\"on-publish\"&gt;"
             "&gt;,&lt;&lt;\"on-confirm\"&gt;&gt;], actually was &lt;&lt;\"x\"&gt;&gt;"),
            ({"src-uri": "amqp://", "src-queue": "a", "dest-uri": "amqp://",
              "src-delete-after": -1},
             "src-delete-after should be a number greater than or equal to 0, \"never\" or "
             "\"queue-length\", actually was -1"),
            ({"src-uri": "amqp://", "src-queue": "a", "dest-uri": "amqp://",
              "ack-mode": "no-ack", "src-delete-after": 5},
             "Cannot specify 'no-ack' and numerical 'delete-after'"),
            ({"src-uri": "amqp://", "src-queue": "a", "dest-uri": "amqp://",
              "add-forward-headers": "yes"},
             "add-forward-headers should be boolean, actually was &lt;&lt;\"yes\"&gt;&gt;"),
            ({"src-uri": "amqp://", "src-queue": "a", "dest-uri": 3},
             "dest-uri should be list, actually was 3")):
        st, doc = api("PUT", path, {"value": value})
        eq(st, 400, "status for %r" % value)
        eq(doc["reason"], "Validation failed\n\n%s\n" % reason, "reason")
    st, doc = api("PUT", "/parameters/shovel/%s/%s" % (VQ, name), {"src-uri": "amqp://"})
    eq((st, doc["reason"]), (400, "[{key_missing,value}]"), "no value")
    eq(api("PUT", "/parameters/nope/%s/x" % VQ, {"value": {}})[1]["reason"],
       "Validation failed\n\ncomponent nope not found\n", "unknown component")
    eq(api("PUT", "/parameters/shovel/no-such-vhost/x", {"value": {}}),
       (404, {"error": "not_found", "reason": "vhost_not_found"}), "missing vhost")


@scenario("shovels are listed, restarted and deleted through /api/shovels and exported with "
          "the definitions", requires=needs_shovel)
def _():
    with Conn() as c:
        ch = c.channel()
        src, dst = c.queue(ch), c.queue(ch)
        value = {"src-uri": "amqp://", "src-queue": src, "dest-uri": "amqp://",
                 "dest-queue": dst, "prefetch-count": 10}
        with Shovel(value) as sh:
            sh.wait_state("running")
            st, doc = api("GET", "/parameters/shovel/%s/%s" % (VQ, sh.name))
            eq((st, doc["value"], doc["component"], doc["vhost"]),
               (200, value, "shovel", VHOST), "GET parameter")
            st, doc = api("GET", "/definitions")
            mine = [p for p in doc["parameters"] if p.get("name") == sh.name]
            eq(mine, [{"value": value, "vhost": VHOST, "component": "shovel",
                       "name": sh.name}], "exported")
            eq(api("DELETE", "/shovels/vhost/%s/%s/restart" % (VQ, sh.name))[0], 204, "restart")
            sh.wait_state("running")
            ch.basic_publish("", src, b"after-restart")
            eq(wait_count(ch, dst, 1), 1, "running after the restart")
            eq(api("DELETE", "/shovels/vhost/%s/no-such-shovel" % VQ)[0], 404, "missing")
            eq(api("DELETE", "/shovels/vhost/%s/%s" % (VQ, sh.name))[0], 204, "DELETE")
            check(gone(sh.path), "deleted with its parameter")
            check(all(s["name"] != sh.name for s in api("GET", "/shovels")[1]), "not listed")


@scenario("a shovel whose source refuses it shows the reply code and text and keeps retrying",
          warren_only=True, requires=needs_shovel)
def _():
    u = url_parts()
    bad = "amqp://%s:wrong-password@%s:%d" % (u["user"], u["host"], u["port"])
    with Shovel({"src-uri": bad, "src-queue": "a", "dest-uri": "amqp://",
                 "reconnect-delay": 1}) as sh:
        s = sh.wait_state("terminated")
        eq(s["reason"], "source amqp://%s:%d: 403 ACCESS_REFUSED - Login was refused using "
           "authentication mechanism PLAIN. For details see the broker logfile."
           % (u["host"], u["port"]), "reason")
        first = s["timestamp"]
        deadline = time.monotonic() + 5
        while sh.state()["timestamp"] == first:  # a new attempt, a new report
            check(time.monotonic() < deadline, "no retry within 5 s")
            time.sleep(0.2)


if __name__ == "__main__":
    main("plugins")
