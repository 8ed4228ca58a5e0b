#!/usr/bin/python3
"""Resource permissions and direct reply-to capabilities over real sockets, against Warren (or
RabbitMQ with --rabbitmq AMQP_PORT MGMT_PORT, which proves the expectations; the Warren-only
checks are skipped there):
- the default exchange is checked as 'amq.default' (publish, bind, exchange.bind), so a
  pattern such as '^$' never grants it;
- the management API acts as the requesting user: publish, get, declare, delete, purge, bind
  and unbind need the same permissions as over AMQP, administrators included, with RabbitMQ's
  statuses and texts;
- a direct reply-to token cannot be predicted from the names the broker hands out, and does not
  reach across vhosts.
Usage: test_permissions.py WARREN_BINARY | test_permissions.py --rabbitmq AMQP_PORT MGMT_PORT"""
import os
import time

import pika
from pika.exceptions import ChannelClosedByBroker

from nettest import check, expect, main

PID = os.getpid()
VHOST, OTHER = "perm-test-%d" % PID, "perm-other-%d" % PID
RO, ADM = "perm-ro-%d" % PID, "perm-adm-%d" % PID


def connect(port, user, vhost):
    return pika.BlockingConnection(pika.ConnectionParameters(
        "127.0.0.1", port, vhost, pika.PlainCredentials(user, "pw"), connection_attempts=1))


def channel_error(fn):
    """fn(channel) must end in a channel error; returns (code, text)."""
    def run(conn):
        ch = conn.channel()
        try:
            fn(ch)
            ch.basic_qos(prefetch_count=1)  # a round trip: an error must have arrived by now
        except ChannelClosedByBroker as e:
            return e.reply_code, e.reply_text
        raise AssertionError("the channel was not closed")
    return run


# ---- xoshiro256** state recovery: what a client could do with server-generated names ----

M64 = (1 << 64) - 1


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class Sym:
    """A 64-bit word whose bits are GF(2) combinations (256-bit masks) of the unknown state."""

    def __init__(self, bits):
        self.b = bits  # b[i]: mask of bit i

    @staticmethod
    def var(word):
        return Sym([1 << (64 * word + i) for i in range(64)])

    def __xor__(self, o):
        return Sym([a ^ b for a, b in zip(self.b, o.b)])

    def shl(self, k):
        return Sym([0] * k + self.b[:64 - k])

    def rotl(self, k):
        return Sym([self.b[(i - k) % 64] for i in range(64)])


def xoshiro_s1_masks(steps):
    """For each of `steps` consecutive outputs, the masks of s1 at that output (the output is
    rotl(s1 * 5, 7) * 9, a bijection of s1)."""
    s = [Sym.var(i) for i in range(4)]
    out = []
    for _ in range(steps):
        out.append(s[1].b)
        t = s[1].shl(17)
        s[2] = s[2] ^ s[0]
        s[3] = s[3] ^ s[1]
        s[1] = s[1] ^ s[2]
        s[0] = s[0] ^ s[3]
        s[2] = s[2] ^ t
        s[3] = s[3].rotl(45)
    return out


def xoshiro_solve(known, steps):
    """known: {step: s1 value}. Returns the 256-bit initial state, or None if underdetermined."""
    masks = xoshiro_s1_masks(steps)
    rows = {}  # pivot bit -> (mask, value)
    for k, s1 in known.items():
        for i in range(64):
            m, v = masks[k][i], (s1 >> i) & 1
            while m:
                p = m.bit_length() - 1
                if p not in rows:
                    rows[p] = (m, v)
                    break
                m ^= rows[p][0]
                v ^= rows[p][1]
    if len(rows) < 256:
        return None
    x = 0
    for p in sorted(rows):  # back substitution from the lowest pivot up
        m, v = rows[p]
        rest = m & ~(1 << p)
        v ^= bin(rest & x).count("1") & 1
        x |= v << p
    return [(x >> (64 * i)) & M64 for i in range(4)]


def xoshiro_outputs(state, n):
    s = list(state)
    out = []
    for _ in range(n):
        out.append((rotl((s[1] * 5) & M64, 7) * 9) & M64)
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
    return out


def s1_of_output(out):
    inv9, inv5 = pow(9, -1, 1 << 64), pow(5, -1, 1 << 64)
    x = (out * inv9) & M64
    return (((x >> 7) | (x << 57)) & M64) * inv5 & M64


B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def name_words(name, prefix):
    """The two 64-bit outputs behind a 22-character name (16 bytes, little-endian words)."""
    bits = 0
    for c in name[len(prefix):]:
        bits = (bits << 6) | B64.index(c)
    raw = (bits >> 4).to_bytes(16, "big")  # 132 bits, the last 4 padding
    return int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:], "little")


def name_of_words(prefix, w0, w1, w2=0):
    """w2: the word whose first byte fills the last character's padding bits (a generator
    that spent a third output per name)."""
    raw = w0.to_bytes(8, "little") + w1.to_bytes(8, "little")
    bits = int.from_bytes(raw, "big") << 4 | (w2 & 0xff) >> 4
    return prefix + "".join(B64[(bits >> (6 * (21 - i))) & 63] for i in range(22))


def run(port, api, is_rabbitmq):
    ro_api, adm_api = api.as_user(RO, "pw"), api.as_user(ADM, "pw")
    expect(api.call("PUT", "/vhosts/" + VHOST, {})[0], 201)
    expect(api.call("PUT", "/vhosts/" + OTHER, {})[0], 201)
    expect(api.call("PUT", "/users/" + RO, {"password": "pw", "tags": "management"})[0], 201)
    expect(api.call("PUT", "/users/" + ADM, {"password": "pw", "tags": "administrator"})[0], 201)
    expect(api.call("PUT", "/permissions/%s/%s" % (VHOST, RO),
                    {"configure": "^$", "write": "^$", "read": "^$"})[0], 201)
    expect(api.call("PUT", "/permissions/%s/%s" % (OTHER, "guest"),
                    {"configure": ".*", "write": ".*", "read": ".*"})[0] in (201, 204), True)
    expect(api.call("PUT", "/queues/%s/q1" % VHOST, {"durable": False})[0], 201)
    refused = "access to exchange 'amq.default' in vhost '%s' refused for user '%s'" % (VHOST, RO)

    def set_ro(configure, write, read):
        expect(api.call("PUT", "/permissions/%s/%s" % (VHOST, RO),
                        {"configure": configure, "write": write, "read": read})[0], 204)

    def publishing_to_the_default_exchange_needs_write_on_amq_default():
        conn = connect(port, RO, VHOST)
        try:
            code, text = channel_error(lambda ch: ch.basic_publish("", "q1", b"x"))(conn)
            expect((code, text), (403, "ACCESS_REFUSED - " + refused))
        finally:
            conn.close()
        set_ro("^$", "^amq\\.default$", "^$")
        conn = connect(port, RO, VHOST)
        try:
            ch = conn.channel()
            ch.confirm_delivery()
            ch.basic_publish("", "q1", b"granted")  # raises if nacked or the channel closes
        finally:
            conn.close()
            set_ro("^$", "^$", "^$")
        _, msgs = api.call("POST", "/queues/%s/q1/get" % VHOST,
                           {"count": 5, "ackmode": "ack_requeue_false", "encoding": "auto"})
        expect([m["payload"] for m in msgs], ["granted"])

    def binding_a_queue_to_the_default_exchange_is_refused_before_the_read_check():
        set_ro(".*", ".*", "^$")
        conn = connect(port, RO, VHOST)
        try:
            code, text = channel_error(lambda ch: ch.queue_bind("q1", ""))(conn)
            expect((code, text),
                   (403, "ACCESS_REFUSED - operation not permitted on the default exchange"))
        finally:
            conn.close()
            set_ro("^$", "^$", "^$")

    def binding_to_the_default_exchange_as_destination_checks_write_on_amq_default():
        set_ro(".*", "^$", ".*")
        conn = connect(port, RO, VHOST)
        try:
            code, text = channel_error(
                lambda ch: ch.exchange_bind(destination="", source="amq.direct"))(conn)
            expect((code, text), (403, "ACCESS_REFUSED - " + refused))
        finally:
            conn.close()
            set_ro("^$", "^$", "^$")

    pub = {"properties": {}, "routing_key": "q1", "payload": "x", "payload_encoding": "string"}
    get = {"count": 1, "ackmode": "ack_requeue_true", "encoding": "auto"}
    denied = (401, {"error": "not_authorised", "reason": "Access refused."})

    def the_api_publishes_only_with_write_permission():
        expect(ro_api.call("POST", "/exchanges/%s/amq.default/publish" % VHOST, pub),
               (400, {"error": "bad_request", "reason": "403 ACCESS_REFUSED - " + refused}))
        got = ro_api.call("POST", "/exchanges/%s/amq.direct/publish" % VHOST, pub)
        expect(got[0], 400)
        expect(got[1]["reason"], "403 ACCESS_REFUSED - access to exchange 'amq.direct' in "
               "vhost '%s' refused for user '%s'" % (VHOST, RO))

    def the_api_gets_only_with_read_permission():
        expect(api.call("POST", "/exchanges/%s/amq.default/publish" % VHOST, pub),
               (200, {"routed": True}))
        expect(ro_api.call("POST", "/queues/%s/q1/get" % VHOST, get),
               (401, {"error": "not_authorised",
                      "reason": "ACCESS_REFUSED - access to queue 'q1' in vhost '%s' refused "
                                "for user '%s'" % (VHOST, RO)}))

    def the_api_declares_deletes_purges_and_binds_only_with_permission():
        expect(ro_api.call("PUT", "/queues/%s/q2" % VHOST, {}), denied)
        expect(ro_api.call("DELETE", "/queues/%s/q1" % VHOST), denied)
        expect(ro_api.call("DELETE", "/queues/%s/q1/contents" % VHOST), denied)
        expect(ro_api.call("PUT", "/exchanges/%s/x2" % VHOST, {"type": "direct"}), denied)
        expect(ro_api.call("DELETE", "/exchanges/%s/amq.direct" % VHOST), denied)
        expect(ro_api.call("POST", "/bindings/%s/e/amq.direct/q/q1" % VHOST,
                           {"routing_key": "k"}), denied)
        expect(api.call("GET", "/queues/%s/q2" % VHOST)[0], 404)
        expect(api.call("POST", "/bindings/%s/e/amq.direct/q/q1" % VHOST,
                        {"routing_key": "k"})[0], 201)
        expect(ro_api.call("DELETE", "/bindings/%s/e/amq.direct/q/q1/k" % VHOST), denied)
        expect(len(api.call("GET", "/bindings/%s/e/amq.direct/q/q1" % VHOST)[1]), 1)

    def an_administrator_without_vhost_permissions_is_refused_too():
        expect(adm_api.call("PUT", "/queues/%s/qa" % VHOST, {}), denied)
        expect(adm_api.call("POST", "/queues/%s/q1/get" % VHOST, get)[0], 401)
        expect(api.call("PUT", "/permissions/%s/%s" % (VHOST, ADM),
                        {"configure": ".*", "write": ".*", "read": ".*"})[0], 201)
        expect(adm_api.call("PUT", "/queues/%s/qa" % VHOST, {})[0], 201)
        expect(adm_api.call("DELETE", "/queues/%s/qa" % VHOST)[0], 204)

    def topic_permissions_apply_to_api_bindings_and_publishes():
        set_ro(".*", ".*", ".*")
        expect(api.call("PUT", "/topic-permissions/%s/%s" % (VHOST, RO),
                        {"exchange": "amq.topic", "write": "^a$", "read": "^a$"})[0], 201)
        try:
            expect(ro_api.call("POST", "/bindings/%s/e/amq.topic/q/q1" % VHOST,
                               {"routing_key": "b"}), denied)
            expect(ro_api.call("POST", "/bindings/%s/e/amq.topic/q/q1" % VHOST,
                               {"routing_key": "a"})[0], 201)
            got = ro_api.call("POST", "/exchanges/%s/amq.topic/publish" % VHOST,
                              dict(pub, routing_key="b"))
            expect(got, (400, {"error": "bad_request",
                               "reason": "403 ACCESS_REFUSED - access to topic 'b' in exchange "
                                         "'amq.topic' in vhost '%s' refused for user '%s'" %
                                         (VHOST, RO)}))
        finally:
            api.call("DELETE", "/topic-permissions/%s/%s" % (VHOST, RO))
            set_ro("^$", "^$", "^$")

    def a_reply_to_token_is_not_predictable_from_server_generated_names():
        # The attacker (guest, same vhost) collects server-generated queue names, recovers the
        # name generator's state if it can, and tries every token it predicts; the victim's
        # reply consumer must receive nothing.
        prefix, rt = "amq.gen-", "amq.rabbitmq.reply-to"
        attacker, victim = connect_guest(port, VHOST), connect_guest(port, VHOST)
        try:
            ach = attacker.channel()
            words = []
            for _ in range(3):
                name = ach.queue_declare("", exclusive=True).method.queue
                words.append(name_words(name, prefix))
            vch = victim.channel()
            got = []
            vch.basic_consume(rt, lambda c, m, p, b: got.append(b), auto_ack=True)
            vch.basic_publish("", "q1", b"request", pika.BasicProperties(reply_to=rt))
            victim.process_data_events(time_limit=0.1)
            # Warren before the fix spent three outputs per name (the third for two bytes):
            # try both spacings, and every offset the victim's token may be at.
            tried = 0
            for spacing in (3, 2):
                known = {}
                for i, (w0, w1) in enumerate(words):
                    known[spacing * i] = s1_of_output(w0)
                    known[spacing * i + 1] = s1_of_output(w1)
                state = xoshiro_solve(known, 3 * spacing)
                if state is None:
                    continue
                outs = xoshiro_outputs(state, 3 * spacing + 41)
                for j in range(3 * spacing, 3 * spacing + 38):
                    token = name_of_words(rt + ".", outs[j], outs[j + 1],
                                          outs[j + 2] if spacing == 3 else 0)
                    ach.basic_publish("", token, b"forged %d" % j)
                    tried += 1
            attacker.process_data_events(time_limit=0.05)
            deadline = time.time() + 0.5
            while time.time() < deadline:
                victim.process_data_events(time_limit=0.05)
            if got:
                raise AssertionError("a predicted token delivered %r (of %d tried)" % (got, tried))
        finally:
            attacker.close()
            victim.close()

    def a_reply_to_token_does_not_reach_into_another_vhost():
        rt = "amq.rabbitmq.reply-to"
        requester, server = connect_guest(port, VHOST), connect_guest(port, VHOST)
        outsider = connect_guest(port, OTHER)
        try:
            sch = server.channel()
            sch.queue_declare("rpc-%d" % PID, exclusive=True)
            rch = requester.channel()
            replies = []
            rch.basic_consume(rt, lambda c, m, p, b: replies.append(b), auto_ack=True)
            rch.basic_publish("", "rpc-%d" % PID, b"req", pika.BasicProperties(reply_to=rt))
            token = None
            for _ in range(50):
                m, props, _ = sch.basic_get("rpc-%d" % PID, auto_ack=True)
                if m:
                    token = props.reply_to
                    break
                requester.process_data_events(time_limit=0.02)
            if not token or not token.startswith(rt):
                raise AssertionError("no request with a reply-to token: %r" % token)
            och = outsider.channel()
            returned = []
            och.add_on_return_callback(lambda c, m, p, b: returned.append(m.reply_code))
            och.basic_publish("", token, b"from another vhost", mandatory=True)
            sch.basic_publish("", token, b"from the same vhost")
            deadline = time.time() + 0.5
            while time.time() < deadline:
                requester.process_data_events(time_limit=0.05)
                outsider.process_data_events(time_limit=0.01)
            expect(replies, [b"from the same vhost"])
            expect(returned, [312])
        finally:
            for c in (requester, server, outsider):
                c.close()

    try:
        check("publishing to the default exchange needs write permission on amq.default",
              publishing_to_the_default_exchange_needs_write_on_amq_default)
        check("binding a queue to the default exchange is refused before the read check",
              binding_a_queue_to_the_default_exchange_is_refused_before_the_read_check)
        check("exchange.bind to the default exchange checks write on amq.default first",
              binding_to_the_default_exchange_as_destination_checks_write_on_amq_default)
        check("the management API publishes only with write permission",
              the_api_publishes_only_with_write_permission)
        check("the management API gets messages only with read permission",
              the_api_gets_only_with_read_permission)
        check("the management API declares, deletes, purges and binds only with permission",
              the_api_declares_deletes_purges_and_binds_only_with_permission)
        check("an administrator without permissions on a vhost is refused there too",
              an_administrator_without_vhost_permissions_is_refused_too)
        check("topic permissions apply to bindings and publishes through the management API",
              topic_permissions_apply_to_api_bindings_and_publishes)
        if not is_rabbitmq:  # Warren only: RabbitMQ's tokens encode the channel's pid
            check("a direct reply-to token cannot be predicted from server-generated names",
                  a_reply_to_token_is_not_predictable_from_server_generated_names)
            # RabbitMQ 3.10 delivers across vhosts: Warren scopes tokens deliberately
            check("a direct reply-to token does not reach into another vhost",
                  a_reply_to_token_does_not_reach_into_another_vhost)
    finally:
        for v in (VHOST, OTHER):
            api.call("DELETE", "/vhosts/" + v)
        for u in (RO, ADM):
            api.call("DELETE", "/users/" + u)


def connect_guest(port, vhost):
    return pika.BlockingConnection(pika.ConnectionParameters(
        "127.0.0.1", port, vhost, pika.PlainCredentials("guest", "guest"), connection_attempts=1))


if __name__ == "__main__":
    main(run, "warren-permissions-")
