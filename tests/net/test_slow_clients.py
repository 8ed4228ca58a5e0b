#!/usr/bin/python3
"""Hostile-but-legal clients against one Warren over real sockets, each scenario bounded to ~10 s:

- partial bodies: content headers declaring large bodies on many channels, bodies trickled, hit
  max_partial_message_bytes_per_connection and get connection.close 506 RESOURCE_ERROR;
- slow-loris: the protocol header (or start-ok) one byte per second is dropped by the handshake
  timeout while a good client keeps working;
- never-reading consumers: the broker stops delivering when the connection's output buffer passes
  its watermark, so VmRSS stays bounded while a publisher pushes far more than that, and other
  clients are unaffected; a client that pipelines requests and never reads the replies is not
  read from either once its replies pile up;
- channel floods: channel_max channels opened and closed repeatedly, then one too many (530).

Frames are built by hand (struct), not with a client library, so the tests say exactly what goes
on the wire; a pika connection plays the good client. Usage: test_slow_clients.py WARREN_BINARY
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import pika

results = []
FRAME_END = b"\xce"
PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
MIB = 1 << 20


def check(name, fn):
    t = time.monotonic()
    try:
        fn()
        results.append(True)
        print("ok - %s (%.1f s)" % (name, time.monotonic() - t), flush=True)
    except Exception as e:  # report and go on
        results.append(False)
        print("FAIL - %s : %r" % (name, e), flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- hand-built frames ----

def shortstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("B", len(b)) + b


def longstr(b):
    return struct.pack(">I", len(b)) + b


def frame(ftype, chan, payload):
    return struct.pack(">BHI", ftype, chan, len(payload)) + payload + FRAME_END


def method(chan, cls, meth, args=b""):
    return frame(1, chan, struct.pack(">HH", cls, meth) + args)


def channel_open(chan):
    return method(chan, 20, 10, shortstr(""))


def channel_close(chan):
    return method(chan, 20, 40, struct.pack(">H", 200) + shortstr("bye") + struct.pack(">HH", 0, 0))


def publish(chan, exchange, key, body_size, body=b""):
    m = method(chan, 60, 40, struct.pack(">H", 0) + shortstr(exchange) + shortstr(key) + b"\x00")
    h = frame(2, chan, struct.pack(">HHQH", 60, 0, body_size, 0))
    return m + h + (frame(3, chan, body) if body else b"")


def queue_declare(chan, name, args=b""):
    return method(chan, 50, 10, struct.pack(">H", 0) + shortstr(name) + b"\x00" +
                  longstr(args))


def table_long(key, value):
    return shortstr(key) + b"I" + struct.pack(">i", value)


def basic_consume(chan, queue, no_ack=True):
    return method(chan, 60, 20, struct.pack(">H", 0) + shortstr(queue) + shortstr("") +
                  struct.pack("B", 2 if no_ack else 0) + longstr(b""))


class Raw:
    """A hand-driven AMQP connection: handshake as guest, then frames in and out."""

    def __init__(self, port, rcvbuf=None, handshake=True, timeout=10):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        if handshake:
            self.handshake()

    def handshake(self):
        self.sock.sendall(PROTOCOL_HEADER)
        self.expect(10, 10)  # start
        resp = b"\x00guest\x00guest"
        self.sock.sendall(method(0, 10, 11, longstr(b"") + shortstr("PLAIN") + longstr(resp) +
                                 shortstr("en_US")))
        args = self.expect(10, 30)  # tune
        self.channel_max, self.frame_max, _ = struct.unpack(">HIH", args[:8])
        self.sock.sendall(method(0, 10, 31, struct.pack(">HIH", self.channel_max, self.frame_max, 0)))
        self.sock.sendall(method(0, 10, 40, shortstr("/") + shortstr("") + b"\x00"))
        self.expect(10, 41)

    def read_frame(self):
        while True:
            if len(self.buf) >= 7:
                ftype, chan, size = struct.unpack(">BHI", self.buf[:7])
                if len(self.buf) >= size + 8:
                    payload = self.buf[7:7 + size]
                    self.buf = self.buf[size + 8:]
                    return ftype, chan, payload
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed by the broker")
            self.buf += data

    def read_method(self):
        while True:
            ftype, chan, payload = self.read_frame()
            if ftype == 1:
                cls, meth = struct.unpack(">HH", payload[:4])
                return chan, cls, meth, payload[4:]

    def expect(self, cls, meth):
        chan, c, m, args = self.read_method()
        if (c, m) == (10, 50):
            raise AssertionError("connection closed: %r" % (close_reason(args),))
        if (c, m) != (cls, meth):
            raise AssertionError("got %d.%d, want %d.%d" % (c, m, cls, meth))
        return args

    def until_close(self):
        """Reads until connection.close; returns (code, text)."""
        while True:
            chan, c, m, args = self.read_method()
            if (c, m) == (10, 50):
                return close_reason(args)

    def close(self):
        self.sock.close()


def close_reason(args):
    code = struct.unpack(">H", args[:2])[0]
    n = args[2]
    return code, args[3:3 + n].decode()


class Broker:
    def __init__(self, binary, *sets):
        self.dir = tempfile.mkdtemp(prefix="warren-slow-")
        self.port = free_port()
        self.log = open(os.path.join(self.dir, "warren.log"), "w+")
        argv = [binary, "--port", str(self.port), "--mgmt-port", "0",
                "--data-dir", os.path.join(self.dir, "data")]
        for s in sets:
            argv += ["--set", s]
        # ASan's quarantine (256 MiB by default) would hold freed bodies and hide the bound.
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"),
                                                     "quarantine_size_mb=8"]))
        self.proc = subprocess.Popen(argv, stderr=self.log, env=env)
        deadline = time.time() + 10
        while time.time() < deadline:
            self.log.seek(0)
            if "ready" in self.log.read():
                return
            time.sleep(0.05)
        raise RuntimeError("broker did not start")

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(timeout=10)
        self.log.seek(0)
        text = self.log.read()
        if "ERROR: AddressSanitizer" in text or "runtime error:" in text:
            raise AssertionError("sanitizer report in the broker log")
        return rc


def good_client_round_trip(port, queue="good-q"):
    """Publishes one message and gets it back on a fresh pika connection; returns seconds."""
    t = time.monotonic()
    c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port, socket_timeout=5,
                                                          blocked_connection_timeout=5,
                                                          connection_attempts=1))
    ch = c.channel()
    ch.queue_declare(queue, auto_delete=True)
    ch.basic_publish("", queue, b"ping")
    got = None
    for _ in range(50):
        got = ch.basic_get(queue, auto_ack=True)[2]
        if got:
            break
        time.sleep(0.01)
    c.close()
    assert got == b"ping", got
    return time.monotonic() - t


# ---- scenarios ----

def partial_bodies_over_the_cap_close_the_connection_with_506(b):
    cap = 8 * MIB
    r = Raw(b.port)
    for ch in range(1, 10):
        r.sock.sendall(channel_open(ch))
        r.expect(20, 11)
    # Eight 1 MiB bodies in progress, one byte each: exactly the cap, accepted.
    for ch in range(1, 9):
        r.sock.sendall(publish(ch, "", "nowhere", MIB, b"x"))
    r.sock.sendall(queue_declare(9, "", b""))  # round trip: nothing was refused
    r.expect(50, 11)
    r.sock.sendall(publish(9, "", "nowhere", 1, b""))
    code, text = r.until_close()
    want = ("RESOURCE_ERROR - message bodies being received on this connection would take %d "
            "bytes, more than max_partial_message_bytes_per_connection (%d)" % (cap + 1, cap))
    assert (code, text) == (506, want), (code, text)
    print("# close: %d %s" % (code, text))
    r.close()
    good_client_round_trip(b.port)


def completed_bodies_give_their_budget_back(b):
    r = Raw(b.port)
    r.sock.sendall(channel_open(1) + channel_open(2))
    r.expect(20, 11)
    r.expect(20, 11)
    body = b"y" * (r.frame_max - 8)
    # 40 complete 4 MiB messages in a row: never more than 4 MiB in progress.
    for _ in range(40):
        left = 4 * MIB
        r.sock.sendall(publish(1, "", "nowhere", left))
        while left:
            n = min(left, len(body))
            r.sock.sendall(frame(3, 1, body[:n]))
            left -= n
    # All of it is free again: one body of the whole cap fits.
    r.sock.sendall(publish(2, "", "nowhere", 8 * MIB, b"z"))
    r.sock.sendall(queue_declare(1, ""))
    r.expect(50, 11)
    r.close()


def the_default_cap_refuses_a_third_128_mib_body(b):
    r = Raw(b.port)
    for ch in (1, 2, 3):
        r.sock.sendall(channel_open(ch))
        r.expect(20, 11)
    r.sock.sendall(publish(1, "", "k", 128 * MIB, b"a") + publish(2, "", "k", 128 * MIB, b"b"))
    r.sock.sendall(queue_declare(3, ""))
    r.expect(50, 11)
    r.sock.sendall(publish(3, "", "k", 1))
    code, text = r.until_close()
    assert code == 506 and "(268435456)" in text, (code, text)
    r.close()


def slow_loris_header_is_dropped_by_the_handshake_timeout(b):
    """handshake_timeout = 3000 ms on this broker; the header goes one byte per second."""
    done = {}

    def loris(name, prefix):
        s = socket.create_connection(("127.0.0.1", b.port))
        s.settimeout(0.2)
        s.sendall(prefix)
        t = time.monotonic()
        i = 0
        while time.monotonic() - t < 8:
            try:
                if s.recv(4096) == b"":
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                break
            if i < len(PROTOCOL_HEADER):
                try:
                    s.send(PROTOCOL_HEADER[i:i + 1])
                except OSError:
                    break
                i += 1
            time.sleep(0.8)
        done[name] = time.monotonic() - t
        s.close()

    threads = [threading.Thread(target=loris, args=("header-%d" % i, b"")) for i in range(20)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    rtts = [good_client_round_trip(b.port) for _ in range(5)]
    for t in threads:
        t.join()
    print("# slow-loris drops after %s s; good client round trips %s s" %
          (sorted({"%.1f" % v for v in done.values()}), ["%.3f" % x for x in rtts]))
    assert all(2.5 <= v <= 4.5 for v in done.values()), done
    assert max(rtts) < 1.0, rtts


def slow_start_ok_is_dropped_by_the_handshake_timeout(b):
    s = socket.create_connection(("127.0.0.1", b.port))
    s.settimeout(0.2)
    t = time.monotonic()
    s.sendall(PROTOCOL_HEADER)
    start_ok = method(0, 10, 11, longstr(b"") + shortstr("PLAIN") + longstr(b"\x00guest\x00guest") +
                      shortstr("en_US"))
    closed_after = None
    for byte in start_ok:
        try:
            while True:
                if s.recv(4096) == b"":
                    closed_after = time.monotonic() - t
                    break
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed_after = time.monotonic() - t
        if closed_after is not None or time.monotonic() - t > 8:
            break
        try:
            s.send(bytes([byte]))
        except OSError:
            closed_after = time.monotonic() - t
            break
        time.sleep(0.3)
    s.close()
    assert closed_after is not None and 2.5 <= closed_after <= 4.5, closed_after


def never_reading_consumer_keeps_rss_bounded(b):
    """A no-ack consumer with a 4 KiB receive buffer never reads; 200 MiB is published to its
    queue (x-max-length 50, so the queue itself holds at most ~3 MiB). Without the output
    watermark every message would be written into the consumer's output buffer."""
    q = "never-read"
    args = table_long("x-max-length", 50)
    cons = Raw(b.port, rcvbuf=4096)
    cons.sock.sendall(channel_open(1) + queue_declare(1, q, args) + basic_consume(1, q))
    cons.expect(20, 11)
    cons.expect(50, 11)
    cons.expect(60, 21)
    pub = Raw(b.port)
    pub.sock.sendall(channel_open(1))
    pub.expect(20, 11)
    msg = publish(1, "", q, 65536, b"m" * 65536)
    base = b.rss_kib()
    peak = base
    rtts = []
    t = time.monotonic()
    for i in range(32):  # 32 x 100 x 64 KiB = 200 MiB
        pub.sock.sendall(msg * 100)
        if i % 8 == 7:
            rtts.append(good_client_round_trip(b.port))
        peak = max(peak, b.rss_kib())
    pub.sock.sendall(queue_declare(1, q, args))  # every publish was processed
    pub.expect(50, 11)
    peak = max(peak, b.rss_kib())
    print("# VmRSS %d KiB before, peak %d KiB (+%.1f MiB) after 200 MiB in %.1f s; "
          "good client round trips %s s" % (base, peak, (peak - base) / 1024.0,
                                            time.monotonic() - t, ["%.3f" % x for x in rtts]))
    assert peak - base < 48 * 1024, (base, peak)
    assert max(rtts) < 1.0, rtts
    pub.close()
    cons.close()


def never_reading_client_that_pipelines_gets_is_not_read(b):
    """basic.get + basic.reject(requeue) of one message with 100 KiB of headers, pipelined
    2000 times without reading: ~200 MiB of copied get-ok headers unless the broker stops
    reading a connection whose replies pile up."""
    q = "get-loop"
    r = Raw(b.port, rcvbuf=4096)
    headers = shortstr("pad") + b"S" + longstr(b"h" * 100000)
    props = struct.pack(">H", 0x2000) + longstr(headers)
    r.sock.sendall(channel_open(1) + queue_declare(1, q) +
                   method(1, 60, 40, struct.pack(">H", 0) + shortstr("") + shortstr(q) + b"\x00") +
                   frame(2, 1, struct.pack(">HHQ", 60, 0, 3) + props) + frame(3, 1, b"abc"))
    r.expect(20, 11)
    r.expect(50, 11)
    base = b.rss_kib()
    get = method(1, 60, 70, struct.pack(">H", 0) + shortstr(q) + b"\x00")
    r.sock.setblocking(False)
    t = time.monotonic()
    tag = 0
    pending = b""
    while tag < 2000 and time.monotonic() - t < 5:
        if not pending:
            tag += 1
            pending = get + method(1, 60, 90, struct.pack(">QB", tag, 1))
        try:
            n = r.sock.send(pending)
            pending = pending[n:]
        except BlockingIOError:
            time.sleep(0.01)
    time.sleep(0.3)
    peak = b.rss_kib()
    rtt = good_client_round_trip(b.port)
    print("# pipelined gets: %d sent in %.1f s, VmRSS %d -> %d KiB (+%.1f MiB), good client %.3f s" %
          (tag, time.monotonic() - t, base, peak, (peak - base) / 1024.0, rtt))
    assert peak - base < 64 * 1024, (base, peak)
    assert rtt < 1.0, rtt
    r.close()


def channel_flood_reaches_channel_max_then_530(b):
    r = Raw(b.port)
    n = r.channel_max
    t = time.monotonic()
    for _ in range(3):
        r.sock.sendall(b"".join(channel_open(i) for i in range(1, n + 1)))
        for _ in range(n):
            r.expect(20, 11)
        r.sock.sendall(b"".join(channel_close(i) for i in range(1, n + 1)))
        for _ in range(n):
            r.expect(20, 41)
    r.sock.sendall(b"".join(channel_open(i) for i in range(1, n + 1)))
    for _ in range(n):
        r.expect(20, 11)
    r.sock.sendall(channel_open(1))
    code, text = r.until_close()
    assert (code, text) == (504, "CHANNEL_ERROR - second 'channel.open' seen"), (code, text)
    r.close()
    # As in RabbitMQ, channel_max caps how many are open, whatever their numbers.
    r = Raw(b.port)
    r.sock.sendall(b"".join(channel_open(65535 - i) for i in range(n)))
    for _ in range(n):
        r.expect(20, 11)
    r.sock.sendall(channel_open(1))
    code, text = r.until_close()
    want = "NOT_ALLOWED - number of channels opened (%d) has reached the negotiated " \
        "channel_max (%d)" % (n, n)
    assert (code, text) == (530, want), (code, text)
    r.close()
    print("# %d channels opened and closed 3 times, then %d again, in %.1f s" %
          (n, n, time.monotonic() - t))
    good_client_round_trip(b.port)


def main():
    binary = sys.argv[1]
    small = Broker(binary, "max_partial_message_bytes_per_connection=8388608",
                   "handshake_timeout=3000")
    default = Broker(binary)
    try:
        check("partial bodies over the cap close the connection with 506",
              lambda: partial_bodies_over_the_cap_close_the_connection_with_506(small))
        check("completed bodies give their budget back",
              lambda: completed_bodies_give_their_budget_back(small))
        check("the default cap (256 MiB) refuses a third 128 MiB body",
              lambda: the_default_cap_refuses_a_third_128_mib_body(default))
        check("a slow-loris protocol header is dropped by the handshake timeout",
              lambda: slow_loris_header_is_dropped_by_the_handshake_timeout(small))
        check("a slow-loris start-ok is dropped by the handshake timeout",
              lambda: slow_start_ok_is_dropped_by_the_handshake_timeout(small))
        check("a never-reading consumer keeps the broker's RSS bounded",
              lambda: never_reading_consumer_keeps_rss_bounded(default))
        check("a never-reading client that pipelines gets is not read",
              lambda: never_reading_client_that_pipelines_gets_is_not_read(default))
        check("a channel flood reaches channel_max, then 530",
              lambda: channel_flood_reaches_channel_max_then_530(default))
        for br in (small, default):
            assert br.alive(), "the broker died"
    finally:
        for br in (small, default):
            if br.alive():
                rc = br.stop()
                if rc != 0:
                    results.append(False)
                    print("FAIL - broker exited with", rc)
    print("%d/%d passed" % (sum(results), len(results)))
    sys.exit(0 if results and all(results) else 1)


if __name__ == "__main__":
    main()
