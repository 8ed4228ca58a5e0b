#!/usr/bin/python3
"""Record the bytes real pika clients send to Warren, for fuzz_net.py to mutate.

Usage: make_captures.py WARREN_BINARY [OUT_DIR]   (OUT_DIR defaults to tests/net/captures)

Starts Warren on a free port, puts a small TCP proxy in front of it, runs each session below with
pika through the proxy and writes what the client sent, one file per session, as OUT_DIR/NAME.wcap.

File format (all integers big-endian):
    b"WCAP" version:u8=1
    then records until end of file: length:u32, replied:u8, bytes
Each record is what the proxy received from the client in one read, so the records follow the
client's writes closely; replied is 1 when the broker sent something before the client's next
write (the client was waiting for an answer). fuzz_net.py replays the records one by one, waiting
for an answer where the real client did, or all at once, or in many tiny writes.

Queue and exchange names hold the 9-byte placeholder FUZZTOKEN, which fuzz_net.py replaces with a
same-length per-conversation number so that concurrent replays do not collide and frame lengths
stay right. Every queue is exclusive, so a replay leaves no queue behind (exchanges are deleted at
the end of the session, unless a mutation cuts the conversation short).

Re-run this script (and commit the files) when a session changes; the fuzz test reads the
committed files and only records afresh into a temporary directory if they are missing.
"""
import datetime
import decimal
import os
import socket
import sys
import tempfile
import threading

import pika

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fuzz_net  # noqa: E402  (broker start-up and the capture file format live there)

TOKEN = fuzz_net.TOKEN.decode()


class Proxy:
    """Accepts one client at a time on a free port, forwards to the broker, keeps client bytes."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.chunks = []
        self.done = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        import selectors
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sel = selectors.DefaultSelector()
            sel.register(client, selectors.EVENT_READ, upstream)
            sel.register(upstream, selectors.EVENT_READ, client)
            open_count = 2
            while open_count:
                for key, _ in sel.select():
                    src, dst = key.fileobj, key.data
                    try:
                        data = src.recv(1 << 20)
                    except OSError:
                        data = b""
                    if not data:
                        sel.unregister(src)
                        open_count -= 1
                        try:
                            dst.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        continue
                    if src is client:
                        self.chunks.append([data, 0])
                    elif self.chunks:
                        self.chunks[-1][1] = 1
                    try:
                        dst.sendall(data)
                    except OSError:
                        pass
            client.close()
            upstream.close()
            self.done.set()

    def take(self):
        self.done.wait(10)
        self.done.clear()
        chunks, self.chunks = self.chunks, []
        return [(bytes(data), replied) for data, replied in chunks]


def params(port, **kw):
    return pika.ConnectionParameters("127.0.0.1", port, connection_attempts=1, **kw)


def q(name):
    return "fuzz.%s.%s" % (name, TOKEN)


def session_publish_consume_ack(port):
    c = pika.BlockingConnection(params(port))
    ch = c.channel()
    name = ch.queue_declare(q("pca"), exclusive=True).method.queue
    for i in range(5):
        ch.basic_publish("", name, b"message %d" % i,
                         pika.BasicProperties(content_type="text/plain", delivery_mode=1,
                                              correlation_id="c%d" % i, message_id="m%d" % i,
                                              priority=i, reply_to=name, expiration="60000"))
    ch.basic_qos(prefetch_count=3)
    got = []

    def on_message(chan, method, props, body):
        got.append(body)
        chan.basic_ack(method.delivery_tag)
        if len(got) == 5:
            chan.stop_consuming()
    tag = ch.basic_consume(name, on_message, consumer_tag="fuzz-ctag")
    ch.start_consuming()
    ch.basic_cancel(tag)
    ch.close()
    c.close()


def session_confirms(port):
    c = pika.BlockingConnection(params(port))
    ch = c.channel()
    ch.confirm_delivery()
    name = ch.queue_declare(q("cfm"), exclusive=True).method.queue
    for i in range(10):
        ch.basic_publish("", name, b"confirmed %d" % i, pika.BasicProperties(delivery_mode=2))
    try:
        ch.basic_publish("", "no.such.queue." + TOKEN, b"unroutable", mandatory=True)
    except pika.exceptions.UnroutableError:
        pass
    ch.basic_get(name, auto_ack=True)
    ch.queue_purge(name)
    c.close()


def session_declares_binds(port):
    c = pika.BlockingConnection(params(port))
    ch = c.channel()
    xs = {}
    for kind in ("direct", "topic", "fanout", "headers"):
        xs[kind] = "fuzz.x.%s.%s" % (kind[:3], TOKEN)
        ch.exchange_declare(xs[kind], kind, auto_delete=True,
                            arguments={"alternate-exchange": "amq.fanout"})
    ch.exchange_declare(xs["direct"], "direct", passive=True)
    ch.exchange_bind(xs["fanout"], xs["topic"], routing_key="a.*.c")
    name = ch.queue_declare(q("dcl"), exclusive=True, arguments={
        "x-message-ttl": 60000, "x-max-length": 100, "x-overflow": "reject-publish",
        "x-dead-letter-exchange": xs["fanout"], "x-dead-letter-routing-key": "dead",
        "x-max-priority": 5, "x-queue-mode": "default"}).method.queue
    ch.queue_declare(q("dcl"), passive=True)
    ch.queue_bind(name, xs["direct"], routing_key="key")
    ch.queue_bind(name, xs["topic"], routing_key="#.x")
    ch.queue_bind(name, xs["fanout"])
    ch.queue_bind(name, xs["headers"], arguments={"x-match": "any", "a": 1, "b": "two"})
    ch.basic_publish(xs["topic"], "a.b.c", b"to fanout via topic")
    ch.queue_unbind(name, xs["direct"], routing_key="key")
    ch.exchange_unbind(xs["fanout"], xs["topic"], routing_key="a.*.c")
    ch.queue_purge(name)
    for kind in ("direct", "topic"):
        ch.exchange_delete(xs[kind])
    ch.queue_delete(name, if_unused=False, if_empty=False)
    ch.exchange_delete(xs["fanout"], if_unused=True)
    c.close()


def session_basic_get(port):
    c = pika.BlockingConnection(params(port))
    ch = c.channel()
    name = ch.queue_declare(q("get"), exclusive=True).method.queue
    for i in range(6):
        ch.basic_publish("", name, b"get me %d" % i)
    m, _, _ = ch.basic_get(name, auto_ack=True)
    m, _, _ = ch.basic_get(name)
    ch.basic_ack(m.delivery_tag)
    m, _, _ = ch.basic_get(name)
    ch.basic_reject(m.delivery_tag, requeue=True)
    m1, _, _ = ch.basic_get(name)
    m2, _, _ = ch.basic_get(name)
    ch.basic_nack(m2.delivery_tag, multiple=True, requeue=False)
    m, _, _ = ch.basic_get(name)
    ch.basic_recover(requeue=True)
    ch.queue_purge(name)
    ch.basic_get(name)  # get-empty
    c.close()


def session_tx(port):
    c = pika.BlockingConnection(params(port))
    ch = c.channel()
    name = ch.queue_declare(q("tx"), exclusive=True).method.queue
    ch.tx_select()
    for i in range(3):
        ch.basic_publish("", name, b"tx %d" % i)
    ch.tx_commit()
    ch.basic_publish("", name, b"rolled back")
    ch.tx_rollback()
    m, _, _ = ch.basic_get(name)
    ch.basic_ack(m.delivery_tag)
    ch.tx_commit()
    c.close()


def session_headers_tables(port):
    c = pika.BlockingConnection(params(port, client_properties={
        "connection_name": "fuzz capture",
        "nested": {"list": [1, "two", decimal.Decimal("3.5"), True, None]}}))
    ch = c.channel()
    x = "fuzz.x.hdr.%s" % TOKEN
    ch.exchange_declare(x, "headers", auto_delete=True)
    name = ch.queue_declare(q("hdr"), exclusive=True).method.queue
    table = {"x-match": "all", "int": 7, "long": 1 << 40, "neg": -5, "str": "text",
             "bool": True, "bytes": b"\x00\x01\xff", "dec": decimal.Decimal("3.14"),
             "time": datetime.datetime(2024, 1, 2, 3, 4, 5), "none": None,
             "table": {"inner": "v", "n": 1}, "array": [1, "a", {"t": 2}, [3]]}
    ch.queue_bind(name, x, arguments=table)
    headers = dict(table)
    del headers["x-match"]
    ch.basic_publish(x, "", b"matched", pika.BasicProperties(headers=headers, app_id="fuzz",
                                                             user_id="guest", type="t",
                                                             timestamp=1700000000))
    ch.basic_publish(x, "", b"unmatched", pika.BasicProperties(headers={"int": 8}))
    ch.basic_get(name, auto_ack=True)
    ch.queue_unbind(name, x, arguments=table)
    c.close()


def session_large_small_frames(port):
    c = pika.BlockingConnection(params(port, frame_max=4096))
    ch = c.channel()
    name = ch.queue_declare(q("lsf"), exclusive=True).method.queue
    ch.basic_publish("", name, bytes(range(256)) * 160)  # 40 KiB over 11 body frames
    m, _, body = ch.basic_get(name)
    ch.basic_ack(m.delivery_tag)
    c.close()


def session_large_default_frames(port):
    c = pika.BlockingConnection(params(port))
    ch = c.channel()
    ch.confirm_delivery()
    name = ch.queue_declare(q("ldf"), exclusive=True).method.queue
    ch.basic_publish("", name, b"L" * 300000)  # 3 body frames at frame_max 131072
    ch.basic_publish("", name, b"")  # an empty body: no body frame at all
    m, _, body = ch.basic_get(name, auto_ack=True)
    c.close()


def session_channels_qos(port):
    c = pika.BlockingConnection(params(port))
    chans = [c.channel() for _ in range(3)]
    name = chans[0].queue_declare(q("chn"), exclusive=True).method.queue
    for ch in chans:
        ch.basic_qos(prefetch_count=1, global_qos=False)
    for i in range(4):
        chans[1].basic_publish("", name, b"%d" % i)
    seen = []

    def on_message(chan, method, props, body):
        seen.append(body)
        chan.basic_ack(method.delivery_tag)
    chans[2].basic_consume(name, on_message)
    while len(seen) < 4:
        c.process_data_events(time_limit=0.1)
    chans[1].close()
    c.close()


SESSIONS = [(fn.__name__[len("session_"):], fn) for fn in (
    session_publish_consume_ack, session_confirms, session_declares_binds, session_basic_get,
    session_tx, session_headers_tables, session_large_small_frames, session_large_default_frames,
    session_channels_qos)]


def record_all(binary, out_dir):
    """Record every session into out_dir; returns the list of written paths."""
    os.makedirs(out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="warren-capture-")
    broker = fuzz_net.Broker(binary, work)
    paths = []
    try:
        proxy = Proxy(broker.port)
        for name, fn in SESSIONS:
            fn(proxy.port)
            chunks = proxy.take()
            path = os.path.join(out_dir, name + ".wcap")
            fuzz_net.capture_write(path, chunks)
            paths.append(path)
            print("recorded %-22s %3d writes %7d bytes"
                  % (name, len(chunks), sum(len(d) for d, _ in chunks)))
        proxy.listener.close()
    finally:
        broker.stop()
    return paths


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    record_all(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "captures"))
