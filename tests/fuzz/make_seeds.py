#!/usr/bin/python3
"""tests/fuzz/make_seeds.py: writes the seed corpus for the amqp/ fuzz targets.

Usage: make_seeds.py [CORPUS_DIR]   (default: corpus/ next to this script)

Standard library only. Frames are built here with struct, independently of the C codec, from
what real clients send (pika's connection.start-ok, RabbitMQ's connection.start, publishes
with properties and headers), plus a few broken ones. Files are named seed-*; crashers and
interesting inputs found by libFuzzer are added next to them with other names.
"""

import os
import struct
import sys


def shortstr(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack(">B", len(s)) + s


def longstr(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack(">I", len(s)) + s


def value(v):
    if isinstance(v, bool):
        return b"t" + struct.pack(">B", int(v))
    if isinstance(v, int):
        if -2**31 <= v < 2**31:
            return b"I" + struct.pack(">i", v)
        return b"l" + struct.pack(">q", v)
    if isinstance(v, float):
        return b"d" + struct.pack(">d", v)
    if isinstance(v, (str, bytes)):
        return b"S" + longstr(v)
    if isinstance(v, dict):
        return b"F" + longstr(table(v))
    if isinstance(v, list):
        return b"A" + longstr(b"".join(value(x) for x in v))
    if v is None:
        return b"V"
    if isinstance(v, tuple):  # (type octet, raw bytes)
        return v[0] + v[1]
    raise TypeError(v)


def table(d):
    return b"".join(shortstr(k) + value(v) for k, v in d.items())


def bits(*flags):
    return struct.pack(">B", sum(1 << i for i, f in enumerate(flags) if f))


def method(cls, mth, args=b""):
    return struct.pack(">HH", cls, mth) + args


def frame(ftype, channel, payload, end=0xCE):
    return struct.pack(">BHI", ftype, channel, len(payload)) + payload + bytes([end])


def props(flags, fields):
    return struct.pack(">H", flags) + fields


def header(body_size, prop_bytes=b"\x00\x00", cls=60):
    return struct.pack(">HHQ", cls, 0, body_size) + prop_bytes


CAPS = {"publisher_confirms": True, "exchange_exchange_bindings": True, "basic.nack": True,
        "consumer_cancel_notify": True, "connection.blocked": True,
        "consumer_priorities": True, "authentication_failure_close": True,
        "per_consumer_qos": True, "direct_reply_to": True}
SERVER_PROPS = {"capabilities": CAPS, "cluster_name": "rabbit@host",
                "copyright": "Copyright (c) 2007-2022 VMware, Inc. or its affiliates.",
                "information": "Licensed under the MPL 2.0.", "platform": "Erlang/OTP 25.2",
                "product": "RabbitMQ", "version": "3.10.8"}
PIKA_PROPS = {"product": "Pika Python Client Library", "platform": "Python 3.11.2",
              "capabilities": {"authentication_failure_close": True, "basic.nack": True,
                               "connection.blocked": True, "consumer_cancel_notify": True,
                               "publisher_confirms": True},
              "information": "See http://pika.rtfd.org", "version": "1.2.0"}
QUEUE_ARGS = {"x-message-ttl": 60000, "x-max-length": 10, "x-dead-letter-exchange": "dlx",
              "x-queue-type": "classic", "x-overflow": "reject-publish"}
ALL_TYPES = {"t": True, "b": (b"b", b"\xfe"), "B": (b"B", b"\xfe"), "s": (b"s", b"\xff\xfd"),
             "u": (b"u", b"\xff\xfd"), "I": -4, "i": (b"i", b"\xff\xff\xff\xfc"),
             "l": -2**40, "f": (b"f", struct.pack(">f", 1.5)), "d": 2.5,
             "D": (b"D", b"\x02\x00\x00\x30\x39"), "S": "abc", "A": [1, "z", [True]],
             "T": (b"T", struct.pack(">Q", 1700000000)), "F": {"k": None}, "V": None,
             "x": (b"x", longstr(b"\x00\xff"))}


def methods():
    m = {}
    m["connection-start"] = method(10, 10, b"\x00\x09" + longstr(table(SERVER_PROPS)) +
                                   longstr("AMQPLAIN PLAIN") + longstr("en_US"))
    m["connection-start-ok-pika"] = method(10, 11, longstr(table(PIKA_PROPS)) +
                                           shortstr("PLAIN") + longstr("\0guest\0guest") +
                                           shortstr("en_US"))
    m["connection-tune"] = method(10, 30, struct.pack(">HIH", 2047, 131072, 60))
    m["connection-tune-ok"] = method(10, 31, struct.pack(">HIH", 2047, 131072, 60))
    m["connection-open"] = method(10, 40, shortstr("/") + shortstr("") + bits(False))
    m["connection-close"] = method(10, 50, struct.pack(">H", 320) +
                                   shortstr("CONNECTION_FORCED - shutdown") +
                                   struct.pack(">HH", 0, 0))
    m["connection-blocked"] = method(10, 60, shortstr("low on memory"))
    m["connection-update-secret"] = method(10, 70, longstr("token") + shortstr("refresh"))
    m["channel-open"] = method(20, 10, shortstr(""))
    m["channel-open-ok"] = method(20, 11, longstr(""))
    m["channel-flow"] = method(20, 20, bits(True))
    m["channel-close"] = method(20, 40, struct.pack(">H", 404) +
                                shortstr("NOT_FOUND - no queue 'q'") + struct.pack(">HH", 50, 10))
    m["exchange-declare"] = method(40, 10, struct.pack(">H", 0) + shortstr("ex") +
                                   shortstr("topic") + bits(False, True, False, False, False) +
                                   longstr(table({"alternate-exchange": "ae"})))
    m["exchange-bind"] = method(40, 30, struct.pack(">H", 0) + shortstr("dst") +
                                shortstr("src") + shortstr("a.#") + bits(False) + longstr(b""))
    m["queue-declare"] = method(50, 10, struct.pack(">H", 0) + shortstr("q.args") +
                                bits(False, True, False, False, False) +
                                longstr(table(QUEUE_ARGS)))
    m["queue-declare-ok"] = method(50, 11, shortstr("amq.gen-abc") + struct.pack(">II", 3, 1))
    m["queue-bind-headers"] = method(50, 20, struct.pack(">H", 0) + shortstr("q") +
                                     shortstr("amq.headers") + shortstr("") + bits(True) +
                                     longstr(table({"x-match": "all", "a": 1, "b": "two"})))
    m["queue-delete"] = method(50, 40, struct.pack(">H", 0) + shortstr("q") +
                               bits(True, True, False))
    m["basic-qos"] = method(60, 10, struct.pack(">IH", 0, 10) + bits(False))
    m["basic-consume"] = method(60, 20, struct.pack(">H", 0) + shortstr("q") +
                                shortstr("ctag") + bits(False, False, True, False) +
                                longstr(table({"x-priority": 5})))
    m["basic-publish"] = method(60, 40, struct.pack(">H", 0) + shortstr("amq.direct") +
                                shortstr("rk") + bits(True, False))
    m["basic-return"] = method(60, 50, struct.pack(">H", 312) + shortstr("NO_ROUTE") +
                               shortstr("ex") + shortstr("rk"))
    m["basic-deliver"] = method(60, 60, shortstr("ctag") + struct.pack(">Q", 1) + bits(True) +
                                shortstr("") + shortstr("q"))
    m["basic-get-ok"] = method(60, 71, struct.pack(">Q", 7) + bits(False) + shortstr("") +
                               shortstr("q") + struct.pack(">I", 0))
    m["basic-ack"] = method(60, 80, struct.pack(">Q", 5) + bits(True))
    m["basic-nack"] = method(60, 120, struct.pack(">Q", 5) + bits(False, True))
    m["basic-recover"] = method(60, 110, bits(True))
    m["confirm-select"] = method(85, 10, bits(False))
    m["tx-select"] = method(90, 10)
    m["access-request"] = method(30, 10, shortstr("/data") + bits(False, True, True, True, True))
    # broken ones
    m["bad-unknown-class"] = method(99, 10, b"\x00")
    m["bad-truncated-publish"] = m["basic-publish"][:-3]
    m["bad-trailing-byte"] = m["basic-ack"] + b"\x00"
    m["bad-table-type"] = method(50, 10, struct.pack(">H", 0) + shortstr("q") + bits() +
                                 longstr(b"\x01kZ"))
    m["bad-huge-longstr"] = method(10, 21, b"\xff\xff\xff\xf0abc")
    return m


PROPS_ALL = props(0xFFFC, shortstr("application/json") + shortstr("gzip") +
                  longstr(table({"h": "v", "n": 1})) + b"\x02" + b"\x05" + shortstr("corr") +
                  shortstr("amq.rabbitmq.reply-to") + shortstr("60000") + shortstr("m-1") +
                  struct.pack(">Q", 1700000000) + shortstr("type") + shortstr("guest") +
                  shortstr("app") + shortstr("cluster"))


def headers():
    h = {}
    h["empty"] = header(0)
    h["body-5"] = header(5)
    h["persistent"] = header(12, props(0x1000, b"\x02"))
    h["pika-text"] = header(5, props(0xB000, shortstr("text/plain") +
                                     longstr(table({"a": 1})) + b"\x02"))
    h["all"] = header(100, PROPS_ALL)
    h["x-death"] = header(3, props(0x2000, longstr(table({"x-death": [{
        "count": 1, "reason": "expired", "queue": "q", "time": (b"T", struct.pack(">Q", 1)),
        "exchange": "", "routing-keys": ["q"]}]}))))
    h["cc-bcc"] = header(1, props(0x2000, longstr(table({"CC": ["a", "b"], "BCC": ["c"]}))))
    h["expiration"] = header(1, props(0x0100, shortstr("1000")))
    h["bad-continuation"] = header(1, props(0x0001, b""))
    h["bad-truncated"] = header(1, props(0x8000, b"\x05ab"))
    h["bad-trailing"] = header(1, props(0x0000, b"\x00"))
    h["bad-class"] = header(1, cls=50)
    h["bad-short"] = header(1)[:13]
    return h


def write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "seed-" + name), "wb") as f:
        f.write(data)


def main(argv):
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    ms = methods()
    hs = headers()
    for name, payload in ms.items():
        write(os.path.join(root, "method"), name, payload)
    for name, payload in hs.items():
        write(os.path.join(root, "props"), name, payload)

    tables = {"server-properties": table(SERVER_PROPS), "pika-client": table(PIKA_PROPS),
              "queue-args": table(QUEUE_ARGS), "all-types": table(ALL_TYPES),
              "empty": b"", "headers-match": table({"x-match": "any", "a": 1}),
              "empty-key": table({"": None}), "bad-type": b"\x01kZ",
              "bad-length": b"\x01kS\x00\x00\x00\x09ab", "bad-key": b"\x09kV"}
    nested = {}
    for _ in range(31):
        nested = {"n": nested}
    tables["nested-32"] = table(nested)
    tables["nested-33"] = table({"n": nested})
    for name, t in tables.items():
        write(os.path.join(root, "table"), "t-" + name, b"\x00" + t)
    arrays = {"mixed": b"".join(value(v) for v in [1, "a", True, None, [2.5], {"k": "v"}]),
              "empty": b"", "bad": b"Z"}
    for name, a in arrays.items():
        write(os.path.join(root, "table"), "a-" + name, b"\x01" + a)

    # frame streams: first byte picks frame_max (0: none, 1: 4096, 2: 131072, 3: 8)
    hb = frame(8, 0, b"")
    fr = {
        "protocol-header": b"\x00AMQP\x00\x00\x09\x01",
        "heartbeat": b"\x01" + hb,
        "start-ok": b"\x01" + frame(1, 0, ms["connection-start-ok-pika"]),
        "publish": b"\x02" + frame(1, 1, ms["basic-publish"]) + frame(2, 1, hs["body-5"]) +
                   frame(3, 1, b"hello") + hb,
        "handshake": b"\x01" + frame(1, 0, ms["connection-start-ok-pika"]) +
                     frame(1, 0, ms["connection-tune-ok"]) + frame(1, 0, ms["connection-open"]) +
                     frame(1, 1, ms["channel-open"]),
        "bad-end": b"\x01" + frame(1, 0, ms["channel-open"], end=0),
        "bad-type": b"\x01" + frame(9, 0, b"x"),
        "too-large": b"\x01" + struct.pack(">BHI", 1, 0, 5020),
        "huge": b"\x00" + struct.pack(">BHI", 3, 1, 0xFFFFFFFF),
        "partial": b"\x02" + frame(1, 1, ms["queue-declare"])[:-5],
        "tiny-max": b"\x03" + hb + hb,
    }
    for name, data in fr.items():
        write(os.path.join(root, "frame"), name, data)

    body = b"x" * 300
    asm = {
        "publish-one-body": frame(1, 1, ms["basic-publish"]) + frame(2, 1, header(300)) +
                            frame(3, 1, body),
        "publish-chunks": frame(1, 1, ms["basic-publish"]) + frame(2, 1, header(300, PROPS_ALL)) +
                          frame(3, 1, body[:100]) + frame(3, 1, b"") + frame(3, 1, body[100:]),
        "publish-empty": frame(1, 1, ms["basic-publish"]) + frame(2, 1, header(0)) +
                         frame(1, 1, ms["basic-ack"]),
        "methods": frame(1, 1, ms["basic-qos"]) + frame(1, 1, ms["basic-consume"]) +
                   frame(1, 1, ms["basic-nack"]) + frame(1, 1, ms["confirm-select"]),
        "header-first": frame(2, 1, header(1)) + frame(1, 1, ms["tx-select"]),
        "body-first": frame(3, 1, b"abc") + frame(1, 1, ms["tx-select"]),
        "method-for-header": frame(1, 1, ms["basic-publish"]) + frame(1, 1, ms["basic-ack"]),
        "wrong-class": frame(1, 1, ms["basic-publish"]) + frame(2, 1, hs["bad-class"]),
        "short-header": frame(1, 1, ms["basic-publish"]) + frame(2, 1, hs["bad-short"]),
        "bad-props": frame(1, 1, ms["basic-publish"]) + frame(2, 1, hs["bad-truncated"]),
        "body-too-long": frame(1, 1, ms["basic-publish"]) + frame(2, 1, header(2)) +
                         frame(3, 1, b"abc"),
        "unknown": frame(1, 1, ms["bad-unknown-class"]),
        "malformed": frame(1, 1, ms["bad-truncated-publish"]),
        "heartbeat-between": frame(1, 1, ms["basic-publish"]) + hb + frame(2, 1, header(1)) +
                             hb + frame(3, 1, b"z"),
    }
    for name, data in asm.items():
        write(os.path.join(root, "assembler"), name, data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
