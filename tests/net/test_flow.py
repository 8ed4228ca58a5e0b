#!/usr/bin/python3
"""Publisher flow control and fair reading over real sockets, against one Warren started with
queue_flow_threshold = 1000 (so the bounds show with few messages), each scenario a few seconds:

- a flooding publisher and a consumer that acks every message (prefetch 100): the consumer is
  served while the publisher runs, the queue's ready messages stay bounded near the threshold,
  the publisher's connection shows state "flow" in the management API, and /metrics counts the
  time spent in flow; every message published arrives;
- a publisher to a queue nobody consumes is never held (the memory alarm covers that case);
- one connection that publishes on one channel and consumes with manual acks on another, from
  the same queue, is never held waiting for acks only it could send: everything arrives;
- a consumer that stops acking (prefetch full) holds its publisher for about a second at most:
  the queue's consumers are stalled and the publisher goes on.

Frames are built by hand (struct); the consumer parses them itself, so it keeps up with tens of
thousands of messages a second. Usage: test_flow.py WARREN_BINARY
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nettest  # noqa: E402

THRESHOLD = 1000
FRAME_END = b"\xce"
PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"


def shortstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("B", len(b)) + b


def longstr(b):
    return struct.pack(">I", len(b)) + b


def frame(ftype, chan, payload):
    return struct.pack(">BHI", ftype, chan, len(payload)) + payload + FRAME_END


def method(chan, cls, meth, args=b""):
    return frame(1, chan, struct.pack(">HH", cls, meth) + args)


def publish(chan, key, body):
    m = method(chan, 60, 40, struct.pack(">H", 0) + shortstr("") + shortstr(key) + b"\x00")
    h = frame(2, chan, struct.pack(">HHQH", 60, 0, len(body), 0))
    return m + h + frame(3, chan, body)


def ack(chan, tag, multiple=False):
    return method(chan, 60, 80, struct.pack(">QB", tag, 1 if multiple else 0))


class Raw:
    """A hand-driven AMQP connection (guest on "/")."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.sock.sendall(PROTOCOL_HEADER)
        self.expect(10, 10)
        self.sock.sendall(method(0, 10, 11, longstr(b"") + shortstr("PLAIN") +
                                 longstr(b"\x00guest\x00guest") + shortstr("en_US")))
        args = self.expect(10, 30)
        channel_max, frame_max, _ = struct.unpack(">HIH", args[:8])
        self.sock.sendall(method(0, 10, 31, struct.pack(">HIH", channel_max, frame_max, 0)))
        self.sock.sendall(method(0, 10, 40, shortstr("/") + shortstr("") + b"\x00"))
        self.expect(10, 41)

    def frames(self):
        """Every complete frame buffered now: (type, channel, payload)."""
        out, at = [], 0
        while len(self.buf) - at >= 7:
            ftype, chan, size = struct.unpack_from(">BHI", self.buf, at)
            if len(self.buf) - at < size + 8:
                break
            out.append((ftype, chan, bytes(self.buf[at + 7:at + 7 + size])))
            at += size + 8
        del self.buf[:at]
        return out

    def fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("connection closed by the broker")
        self.buf += data

    def expect(self, cls, meth):
        """Skips frames up to method cls.meth and returns its arguments; the frames after it
        stay buffered (deliveries right after consume-ok)."""
        while True:
            while len(self.buf) >= 7:
                ftype, chan, size = struct.unpack_from(">BHI", self.buf, 0)
                if len(self.buf) < size + 8:
                    break
                payload = bytes(self.buf[7:7 + size])
                del self.buf[:size + 8]
                if ftype != 1:
                    continue
                c, m = struct.unpack(">HH", payload[:4])
                if (c, m) == (10, 50):
                    raise AssertionError("connection closed: %r" % payload[4:])
                if (c, m) == (cls, meth):
                    return payload[4:]
            self.fill()

    def rpc(self, data, cls, meth):
        self.sock.sendall(data)
        return self.expect(cls, meth)

    def open_channel(self, chan):
        self.rpc(method(chan, 20, 10, shortstr("")), 20, 11)

    def declare(self, chan, name):
        self.rpc(method(chan, 50, 10, struct.pack(">H", 0) + shortstr(name) + b"\x00" +
                        longstr(b"")), 50, 11)

    def qos(self, chan, prefetch):
        self.rpc(method(chan, 60, 10, struct.pack(">IHB", 0, prefetch, 0)), 60, 11)

    def consume(self, chan, queue, no_ack=False):
        self.rpc(method(chan, 60, 20, struct.pack(">H", 0) + shortstr(queue) + shortstr("") +
                        struct.pack("B", 2 if no_ack else 0) + longstr(b"")), 60, 21)

    def close(self):
        self.sock.close()


class Consumer(threading.Thread):
    """Consumes queue on its own connection; acks each delivery unless `acking` is cleared."""

    def __init__(self, port, queue, prefetch, acking=True):
        super().__init__(daemon=True)
        self.conn = Raw(port)
        self.conn.open_channel(1)
        self.conn.qos(1, prefetch)
        self.conn.consume(1, queue)
        self.acking = acking
        self.received = 0
        self.stop = False
        self.error = None

    def run(self):
        try:
            self.conn.sock.settimeout(0.2)
            while not self.stop:
                try:
                    self.conn.fill()
                except socket.timeout:
                    continue
                acks = []
                for ftype, chan, payload in self.conn.frames():
                    if ftype == 1 and payload[:4] == struct.pack(">HH", 60, 60):
                        n = payload[4]
                        tag = struct.unpack_from(">Q", payload, 5 + n)[0]
                        if self.acking:
                            acks.append(ack(1, tag))
                    elif ftype == 3:
                        self.received += 1
                if acks:
                    self.conn.sock.sendall(b"".join(acks))
        except Exception as e:  # reported by the check
            self.error = e


def flood(port, queue, seconds=None, count=None, conn=None, chan=1):
    """Publishes 16-byte messages to queue as fast as the socket takes them, for `seconds` or
    `count` messages. Returns the number of messages handed to the socket."""
    c = conn or Raw(port)
    if conn is None:
        c.open_channel(chan)
    msg = publish(chan, queue, b"0123456789abcdef")
    batch = msg * 1000
    sent = 0
    end = time.monotonic() + seconds if seconds else None
    c.sock.settimeout(10)
    while (end is None or time.monotonic() < end) and (count is None or sent < count):
        n = 1000 if count is None else min(1000, count - sent)
        c.sock.sendall(batch if n == 1000 else msg * n)
        sent += n
    if conn is None:
        c.close()
    return sent


def queue_ready(api, name):
    status, q = api.call("GET", "/queues/%2F/" + name)
    nettest.expect(status, 200)
    return q.get("messages_ready", 0)


def states(api):
    status, conns = api.call("GET", "/connections")
    nettest.expect(status, 200)
    return [c["state"] for c in conns]


def metric(port, name):
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError("no metric " + name)


def wait_for(what, fn, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def run(port, api, mgmt_port):
    setup = Raw(port)
    setup.open_channel(1)

    def flood_with_acking_consumer():
        setup.declare(1, "flow-acked")
        cons = Consumer(port, "flow-acked", 100)
        cons.start()
        done = []
        pub = threading.Thread(target=lambda: done.append(flood(port, "flow-acked", seconds=3)))
        flow_before = metric(mgmt_port, "warren_connection_flow_seconds_total")
        pub.start()
        max_ready, seen, received_during = 0, set(), 0
        time.sleep(0.3)
        while pub.is_alive():
            max_ready = max(max_ready, queue_ready(api, "flow-acked"))
            seen.update(states(api))
            received_during = cons.received
            time.sleep(0.05)
        pub.join()
        sent = done[0]
        wait_for("every message to arrive", lambda: cons.received >= sent, 30)
        cons.stop = True
        cons.join()
        if cons.error:
            raise cons.error
        nettest.expect(cons.received, sent)
        # bounded near the threshold; without flow control it grows by millions
        if max_ready > 3 * THRESHOLD:
            raise AssertionError("the queue grew to %d ready messages" % max_ready)
        if "flow" not in seen:
            raise AssertionError("the publisher was never in flow: states %r" % (seen,))
        if received_during < sent // 10:
            raise AssertionError("the consumer got %d of %d messages while the publisher ran"
                                 % (received_during, sent))
        if metric(mgmt_port, "warren_connection_flow_seconds_total") <= flow_before:
            raise AssertionError("no time counted in flow")
        print("  published %d, consumed %d during the flood, max ready %d"
              % (sent, received_during, max_ready))

    def no_consumer_no_flow():
        setup.declare(1, "flow-idle")
        seen = set()
        done = []
        pub = threading.Thread(target=lambda: done.append(
            flood(port, "flow-idle", count=100 * THRESHOLD)))
        pub.start()
        while pub.is_alive():
            seen.update(states(api))
            time.sleep(0.02)
        pub.join()
        wait_for("the queue to hold every message",
                 lambda: queue_ready(api, "flow-idle") == 100 * THRESHOLD, 20)
        if "flow" in seen:
            raise AssertionError("a publisher to a queue without consumers was held")

    def one_connection_publishes_and_acks():
        setup.declare(1, "flow-self")
        c = Raw(port)
        c.open_channel(1)
        c.open_channel(2)
        c.qos(2, 10)
        c.consume(2, "flow-self")
        total = 20 * THRESHOLD
        received = [0]

        def consume():
            c.sock.settimeout(0.5)
            while received[0] < total:
                c.fill()
                acks = []
                for ftype, chan, payload in c.frames():
                    if ftype == 1 and payload[:4] == struct.pack(">HH", 60, 60):
                        n = payload[4]
                        acks.append(ack(2, struct.unpack_from(">Q", payload, 5 + n)[0]))
                    elif ftype == 3:
                        received[0] += 1
                if acks:
                    c.sock.sendall(b"".join(acks))

        t = threading.Thread(target=consume, daemon=True)
        t.start()
        flood(port, "flow-self", count=total, conn=c, chan=1)
        t.join(30)
        c.close()
        nettest.expect(received[0], total)

    def stalled_consumer_lets_the_publisher_go():
        setup.declare(1, "flow-stalled")
        cons = Consumer(port, "flow-stalled", 1, acking=False)
        cons.start()
        t0 = time.monotonic()
        sent = flood(port, "flow-stalled", count=20 * THRESHOLD)
        wait_for("the stalled queue to take every message",
                 lambda: queue_ready(api, "flow-stalled") == sent - 1, 15)
        took = time.monotonic() - t0
        cons.stop = True
        cons.join()
        nettest.expect(cons.received, 1)
        print("  %d messages past a stalled consumer in %.1f s" % (sent, took))

    nettest.check("a flooding publisher is held near its acking consumer's pace",
                  flood_with_acking_consumer)
    nettest.check("a publisher to a queue without consumers is never held", no_consumer_no_flow)
    nettest.check("a connection that publishes and acks on the same queue is never stuck",
                  one_connection_publishes_and_acks)
    nettest.check("a consumer that stops acking holds its publisher a second at most",
                  stalled_consumer_lets_the_publisher_go)
    setup.close()


def main():
    binary = sys.argv[1]
    d = tempfile.mkdtemp(prefix="warren-flow-")
    port, mgmt_port = nettest.free_port(), nettest.free_port()
    log = open(os.path.join(d, "warren.log"), "w+")
    proc = subprocess.Popen([binary, "--port", str(port), "--mgmt-port", str(mgmt_port),
                             "--data-dir", os.path.join(d, "data"),
                             "--set", "queue_flow_threshold=%d" % THRESHOLD], stderr=log)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            log.seek(0)
            if "ready" in log.read():
                break
            time.sleep(0.05)
        run(port, nettest.Api(mgmt_port), mgmt_port)
    finally:
        proc.terminate()
        proc.wait(10)
    failed = nettest.results.count(False)
    print("%d passed, %d failed" % (nettest.results.count(True), failed))
    sys.exit(1 if failed or not nettest.results else 0)


if __name__ == "__main__":
    main()
