#!/usr/bin/python3
"""Durability under kill -9: confirmed persistent messages survive, settled acks stay settled.

Each round: publishers (separate processes, raw AMQP 0-9-1 over a socket, confirm mode, a window of
unconfirmed publishes) send persistent messages with unique ids into two durable queues (and, one
in five, through a durable fanout exchange into both); every other round a consumer acks while this
happens. At a random moment the broker gets SIGKILL. It is restarted on the same data directory and
a consumer drains both queues (acking each message); the drain is checked against what the
publishers saw confirmed and what the consumer acked. README.md explains the rules.

Usage: crash_test.py WARREN_BINARY [--rounds N] [--kill-min S] [--kill-max S] [--publishers N]
                     [--window N] [--seed N] [--keep]
Internal modes (the test starts them itself): --publisher ..., --consumer ...
"""
import argparse
import collections
import hashlib
import os
import random
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

QUEUES = ("crash.q0", "crash.q1")
FANOUT = "crash.fan"
FRAME_END = 0xCE
PERSISTENT_PROPS = b"\x10\x00\x02"  # property flags: delivery-mode only; delivery-mode 2


class Closed(Exception):
    """The broker went away (EOF, reset) or closed the connection/channel."""


# --- a tiny AMQP 0-9-1 client: just what the test needs, fast enough to pipeline ---------------

def shortstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!B", len(b)) + b


def longstr(b):
    return struct.pack("!I", len(b)) + b


EMPTY_TABLE = b"\0\0\0\0"


def frame(ftype, channel, payload):
    return struct.pack("!BHI", ftype, channel, len(payload)) + payload + b"\xce"


def method(channel, cls, mid, args=b""):
    return frame(1, channel, struct.pack("!HH", cls, mid) + args)


def read_shortstr(buf, off):
    n = buf[off]
    return bytes(buf[off + 1:off + 1 + n]), off + 1 + n


class Conn:
    """One connection, one channel (1). Frames are parsed into a queue of events:
    ("method", cls, mid, payload) or ("deliver", ctag, tag, redelivered, props, body)."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.queue = collections.deque()
        # the delivery being assembled: [tag, redelivered, ctag, props, bytes left, chunks]
        self.partial = None
        self.send(b"AMQP\x00\x00\x09\x01")
        self.expect(10, 10)
        self.send(method(0, 10, 11, EMPTY_TABLE + shortstr("PLAIN") + longstr(b"\0guest\0guest")
                         + shortstr("en_US")))
        tune = self.expect(10, 30)
        channel_max, frame_max, _ = struct.unpack_from("!HIH", tune, 4)
        self.send(method(0, 10, 31, struct.pack("!HIH", channel_max, frame_max, 0)))
        self.send(method(0, 10, 40, shortstr("/") + shortstr("") + b"\0"))
        self.expect(10, 41)
        self.send(method(1, 20, 10, shortstr("")))
        self.expect(20, 11)

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Closed(repr(e)) from e

    def fill(self, wait):
        """Read what is available, waiting up to `wait` seconds for it; parse complete frames."""
        r, _, _ = select.select([self.sock], [], [], wait)
        if not r:
            return
        try:
            data = self.sock.recv(1 << 20)
        except OSError as e:
            raise Closed(repr(e)) from e
        if not data:
            raise Closed("EOF")
        self.buf += data
        self.parse()

    def parse(self):
        buf, off, n = self.buf, 0, len(self.buf)
        try:
            while n - off >= 7:
                ftype, _, size = struct.unpack_from("!BHI", buf, off)
                if n - off < size + 8:
                    break
                if buf[off + 7 + size] != FRAME_END:
                    raise Closed("bad frame end")
                self.on_frame(ftype, bytes(buf[off + 7:off + 7 + size]))
                off += size + 8
        finally:
            del buf[:off]

    def on_frame(self, ftype, payload):
        if ftype == 1:
            cls, mid = struct.unpack_from("!HH", payload)
            if (cls, mid) in ((10, 50), (20, 40)):
                code = struct.unpack_from("!H", payload, 4)[0]
                text, _ = read_shortstr(payload, 6)
                raise Closed("closed by broker: %d %s" % (code, text.decode(errors="replace")))
            if (cls, mid) == (60, 60):
                ctag, off = read_shortstr(payload, 4)
                tag, bits = struct.unpack_from("!QB", payload, off)
                self.partial = [tag, bool(bits & 1), ctag.decode(), None, 0, []]
            else:
                self.queue.append(("method", cls, mid, payload))
        elif ftype == 2:
            self.partial[3] = payload[12:]
            self.partial[4] = struct.unpack_from("!Q", payload, 4)[0]
            if self.partial[4] == 0:
                self.delivered()
        elif ftype == 3:
            self.partial[5].append(payload)
            self.partial[4] -= len(payload)
            if self.partial[4] <= 0:
                self.delivered()

    def delivered(self):
        tag, redelivered, ctag, props, _, chunks = self.partial
        self.partial = None
        self.queue.append(("deliver", ctag, tag, redelivered, props, b"".join(chunks)))

    def events(self, wait):
        """Every event parsed so far, reading (up to `wait` seconds) only when there is none."""
        if not self.queue:
            self.fill(wait)
        out = list(self.queue)
        self.queue.clear()
        return out

    def expect(self, cls, mid, deliveries=None, timeout=10.0):
        """Wait for one method; deliveries arriving meanwhile are appended to `deliveries`."""
        deadline = time.monotonic() + timeout
        while True:
            while self.queue:
                ev = self.queue.popleft()
                if ev[0] == "deliver" and deliveries is not None:
                    deliveries.append(ev)
                elif ev[0] == "method" and ev[1:3] == (cls, mid):
                    return ev[3]
                else:
                    raise Closed("expected %d.%d, got %r" % (cls, mid, ev[:3]))
            if time.monotonic() > deadline:
                raise Closed("timeout waiting for %d.%d" % (cls, mid))
            self.fill(max(0.0, deadline - time.monotonic()))

    def declare_queue(self, name, passive=False):
        bits = 1 if passive else 2  # passive | durable
        self.send(method(1, 50, 10, struct.pack("!H", 0) + shortstr(name) + bytes([bits])
                         + EMPTY_TABLE))
        ok = self.expect(50, 11)
        _, off = read_shortstr(ok, 4)
        return struct.unpack_from("!II", ok, off)  # message count, consumer count

    def declare_topology(self):
        self.send(method(1, 40, 10, struct.pack("!H", 0) + shortstr(FANOUT) + shortstr("fanout")
                         + b"\x02" + EMPTY_TABLE))
        self.expect(40, 11)
        for q in QUEUES:
            self.declare_queue(q)
            self.send(method(1, 50, 20, struct.pack("!H", 0) + shortstr(q) + shortstr(FANOUT)
                             + shortstr("") + b"\0" + EMPTY_TABLE))
            self.expect(50, 21)

    def qos(self, prefetch, deliveries=None):
        self.send(method(1, 60, 10, struct.pack("!IHB", 0, prefetch, 0)))
        self.expect(60, 11, deliveries)

    def consume(self, queue, ctag, deliveries):
        self.send(method(1, 60, 20, struct.pack("!H", 0) + shortstr(queue) + shortstr(ctag)
                         + b"\0" + EMPTY_TABLE))
        self.expect(60, 21, deliveries)

    def close(self):
        try:
            self.send(method(0, 10, 50, struct.pack("!H", 200) + shortstr("bye")
                             + struct.pack("!HH", 0, 0)))
            self.expect(10, 51, deliveries=[], timeout=2)
        except Closed:
            pass
        self.sock.close()


def ack_frame(tag):
    return method(1, 60, 80, struct.pack("!QB", tag, 0))


# --- message ids and bodies ---------------------------------------------------------------------

def msg_id(rnd, pub, seq):
    return "r%03d-p%d-%07d" % (rnd, pub, seq)


def msg_dest(seq):
    """Which queues a message goes to: one in five through the fanout into both."""
    if seq % 5 == 0:
        return QUEUES
    return (QUEUES[seq % 2],)


def msg_body(mid):
    """The id, then 0..2999 bytes derived from it, so a recovered body can be checked exactly."""
    b = mid.encode()
    n = zlib.crc32(b) % 3000
    pad = hashlib.sha256(b).digest()
    return b + b"|" + (pad * (n // 32 + 1))[:n]


def body_id(body):
    return body.split(b"|", 1)[0].decode(errors="replace")


def parse_id(mid):
    """(round, publisher, seq) or None."""
    try:
        r, p, s = mid.split("-")
        return int(r[1:]), int(p[1:]), int(s)
    except ValueError:
        return None


# --- publisher process --------------------------------------------------------------------------

def run_publisher(port, rnd, pub, window, out_path, max_seconds):
    """Publish until the connection drops (or max_seconds). Writes to out_path, flushed as it goes:
    READY, then "C seq send_time" for each confirmed id and "N seq" for each nacked one, and at
    the end "END highest_seq_handed_to_the_socket reason"."""
    out = open(out_path, "w", buffering=1)
    seq = 0
    reason = "time"
    try:
        c = Conn(port)
        c.send(method(1, 85, 10, b"\0"))
        c.expect(85, 11)
        out.write("READY\n")
        out.flush()
        sent_at = {}  # delivery tag (== seq) -> monotonic time just before the send
        confirmed_to = 0  # every tag <= this is settled (acked or nacked)
        deadline = time.monotonic() + max_seconds
        while time.monotonic() < deadline:
            chunk = []
            while seq - confirmed_to < window and len(chunk) < 20:
                seq += 1
                mid = msg_id(rnd, pub, seq)
                dest = msg_dest(seq)
                exchange, rkey = (FANOUT, "") if len(dest) > 1 else ("", dest[0])
                body = msg_body(mid)
                chunk.append(method(1, 60, 40, struct.pack("!H", 0) + shortstr(exchange)
                                    + shortstr(rkey) + b"\0"))
                chunk.append(frame(2, 1, struct.pack("!HHQ", 60, 0, len(body)) + PERSISTENT_PROPS))
                chunk.append(frame(3, 1, body))
                sent_at[seq] = time.monotonic()
            if chunk:
                c.send(b"".join(chunk))
            lines = []
            for ev in c.events(0.05 if seq - confirmed_to >= window else 0):
                if ev[0] != "method":
                    continue
                _, cls, mid_, payload = ev
                if (cls, mid_) not in ((60, 80), (60, 120)):
                    continue
                tag, bits = struct.unpack_from("!QB", payload, 4)
                kind = "C" if mid_ == 80 else "N"
                if bits & 1:
                    tags = [t for t in sent_at if t <= tag]
                else:
                    tags = [tag] if tag in sent_at else []
                for t in tags:
                    lines.append("%s %d %.6f\n" % (kind, t, sent_at.pop(t)))
                # sent_at is in tag order: its first key is the lowest unsettled publish
                confirmed_to = next(iter(sent_at)) - 1 if sent_at else seq
            if lines:
                out.write("".join(lines))
                out.flush()
    except Closed as e:
        reason = "closed(%s)" % e
    except OSError as e:
        reason = "oserror(%r)" % e
    finally:
        out.write("END %d %s\n" % (seq, reason.replace(" ", "_")))
        out.close()


# --- live consumer process (the variant rounds) ------------------------------------------------

def run_consumer(port, out_path, max_seconds, seed):
    """Consume both queues, ack each delivery after holding it 0..40 ms, and every ~50 ms make a
    basic.qos round trip: its reply proves every ack written before it was processed. Writes
    "D queue id tag", "A queue id" (before the ack is sent), "S acks_count time" (after qos-ok)."""
    rng = random.Random(seed)
    out = open(out_path, "w", buffering=1)
    acked = 0
    try:
        c = Conn(port)
        c.qos(200)
        early = []
        for i, q in enumerate(QUEUES):
            c.consume(q, "q%d" % i, early)
        out.write("READY\n")
        out.flush()
        held = []  # (release time, tag, queue, id)
        last_sync = time.monotonic()
        deadline = time.monotonic() + max_seconds
        while time.monotonic() < deadline:
            lines = []
            now = time.monotonic()
            evs = early + c.events(0.01)
            early = []
            for ev in evs:
                if ev[0] != "deliver":
                    continue
                _, ctag, tag, _, _, body = ev
                q = QUEUES[int(ctag[1:])]
                mid = body_id(body)
                lines.append("D %s %s %d\n" % (q, mid, tag))
                held.append((now + rng.uniform(0, 0.04), tag, q, mid))
            release = [h for h in held if h[0] <= now]
            held = [h for h in held if h[0] > now]
            for _, tag, q, mid in release:
                lines.append("A %s %s\n" % (q, mid))
            if lines:
                out.write("".join(lines))
                out.flush()
            if release:
                c.send(b"".join(ack_frame(tag) for _, tag, _, _ in release))
                acked += len(release)
            if now - last_sync > 0.05:
                count = acked
                got = []
                c.qos(200, got)  # its reply proves the first `count` acks were processed
                early = got
                out.write("S %d %.6f\n" % (count, time.monotonic()))
                out.flush()
                last_sync = time.monotonic()
    except (Closed, OSError) as e:
        out.write("END %s\n" % repr(e).replace(" ", "_"))
    finally:
        out.close()


# --- the broker ---------------------------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Broker:
    def __init__(self, binary, data_dir, log_dir):
        self.binary, self.data_dir, self.log_dir = binary, data_dir, log_dir
        self.proc = None
        self.starts = 0
        self.log_path = None

    def start(self):
        self.starts += 1
        self.port = free_port()
        self.log_path = os.path.join(self.log_dir, "broker-%02d.log" % self.starts)
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--mgmt-port", "0",
                                      "--data-dir", self.data_dir], stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with open(self.log_path) as f:
                if "ready" in f.read():
                    return
            if self.proc.poll() is not None:
                raise RuntimeError("warren exited with %s at start; log %s" % (self.proc.returncode,
                                                                                self.log_path))
            time.sleep(0.02)
        raise RuntimeError("warren did not log 'ready' within 20 s; log %s" % self.log_path)

    def start_and_kill(self, delay):
        """Start the broker and SIGKILL it after `delay` s, whether or not it is ready by then
        (with a large log it is still recovering). Returns whether it had logged 'ready'."""
        self.starts += 1
        self.log_path = os.path.join(self.log_dir, "broker-%02d-killed.log" % self.starts)
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen([self.binary, "--port", str(free_port()), "--mgmt-port",
                                          "0", "--data-dir", self.data_dir], stdout=log, stderr=log)
        time.sleep(delay)
        self.kill(signal.SIGKILL)
        with open(self.log_path) as f:
            return "ready" in f.read()

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def recovery_line(self):
        with open(self.log_path) as f:
            for line in f:
                if "recovered" in line and "into their queues" in line:
                    return line.strip().split("] ", 1)[-1]
        return "(no recovery line)"

    def log_lines(self, words=("warn", "error", "corrupt", "torn", "recover")):
        with open(self.log_path) as f:
            return [line.rstrip() for line in f if any(w in line for w in words)]


def sabotage(kind, rnd, data_dir, work):
    """Break the store on purpose between kill and restart, to show that the checks catch it:
    truncate: round 1 loses the last 256 KiB of the log (confirmed messages must be reported lost);
    rollback: the log after round 1's kill comes back after round 2's kill (round 1's drained,
    settled messages must be reported resurrected, round 2's confirmed ones lost)."""
    msgs = os.path.join(data_dir, "msgs")
    snap = os.path.join(work, "msgs-after-round-1")
    if kind == "truncate" and rnd == 1:
        last = os.path.join(msgs, sorted(os.listdir(msgs))[-1])
        size = os.path.getsize(last)
        os.truncate(last, max(0, size - 256 * 1024))
        print("SABOTAGE: truncated %s from %d to %d bytes" % (last, size, os.path.getsize(last)))
    elif kind == "rollback" and rnd == 1:
        shutil.copytree(msgs, snap)
    elif kind == "rollback" and rnd == 2:
        shutil.rmtree(msgs)
        shutil.copytree(snap, msgs)
        print("SABOTAGE: put back the message log as it was after round 1's kill")


# --- one round ----------------------------------------------------------------------------------

def read_lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def wait_ready(paths, procs, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all("READY" in read_lines(p)[:1] for p in paths):
            return True
        if any(p.poll() is not None for p in procs):
            return False
        time.sleep(0.01)
    return False


def spawn(args):
    return subprocess.Popen([sys.executable, os.path.abspath(__file__)] + [str(a) for a in args])


def reap(procs, timeout=10):
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def drain(port):
    """Consume both queues to empty, ack each message. Returns (deliveries, end_time, counts)
    where deliveries are (queue, id, redelivered, body_ok) and end_time is a monotonic time after
    which every ack had been processed (the reply to a qos round trip)."""
    c = Conn(port, timeout=30)
    try:
        counts = [c.declare_queue(q, passive=True)[0] for q in QUEUES]
        c.qos(2000)
        early = []
        for i, q in enumerate(QUEUES):
            c.consume(q, "q%d" % i, early)
        got = []
        idle_since = time.monotonic()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            evs = early + c.events(0.05)
            early = []
            acks = []
            for ev in evs:
                if ev[0] != "deliver":
                    continue
                _, ctag, tag, redelivered, props, body = ev
                q = QUEUES[int(ctag[1:])]
                mid = body_id(body)
                intact = props == PERSISTENT_PROPS and body == msg_body(mid)
                got.append((q, mid, redelivered, intact))
                acks.append(ack_frame(tag))
            if acks:
                c.send(b"".join(acks))
                idle_since = time.monotonic()
            elif len(got) >= sum(counts) and time.monotonic() - idle_since > 0.3:
                break
        late = []
        c.qos(2000, late)
        if late:
            raise Closed("deliveries after the drain looked finished")
        end_time = time.monotonic()
        left = [c.declare_queue(q, passive=True)[0] for q in QUEUES]
        return got, end_time, counts, left
    finally:
        c.close()


class Run:
    """What the rounds remember about each other."""

    def __init__(self):
        self.pending_drain = set()  # (queue, id) acked by the last drain, not yet proven durable
        self.pending_drain_end = 0.0
        self.ever_published = {}  # round -> {publisher: highest seq handed to the socket}


def round_run(args, rnd, broker, run, work, rng):
    variant = rnd % 2 == 0
    rdir = os.path.join(work, "round-%02d" % rnd)
    os.makedirs(rdir)
    failures = []

    c = Conn(broker.port)
    c.declare_topology()
    c.close()

    pub_paths = [os.path.join(rdir, "pub-%d.txt" % p) for p in range(args.publishers)]
    max_seconds = args.kill_max + 15
    procs = [spawn(["--publisher", broker.port, rnd, p, args.window, pub_paths[p], max_seconds])
             for p in range(args.publishers)]
    cons_path = os.path.join(rdir, "consumer.txt")
    if variant:
        procs.append(spawn(["--consumer", broker.port, cons_path, max_seconds,
                            rng.randrange(1 << 30)]))
    try:
        if not wait_ready(pub_paths + ([cons_path] if variant else []), procs):
            raise RuntimeError("publishers/consumer did not start")
        kill_after = rng.uniform(args.kill_min, args.kill_max)
        time.sleep(kill_after)
        broker.kill(signal.SIGKILL)
        reap(procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    if args.sabotage:
        sabotage(args.sabotage, rnd, broker.data_dir, work)

    # What the publishers saw.
    confirmed = {}  # (queue, id) -> send time
    published = 0
    nacked = 0
    highest = {}
    max_confirm_send = 0.0
    for p, path in enumerate(pub_paths):
        lines = read_lines(path)
        end = [line for line in lines if line.startswith("END ")]
        if not end:
            failures.append("publisher %d wrote no END line" % p)
            continue
        highest[p] = int(end[0].split()[1])
        published += highest[p]
        for line in lines:
            if line.startswith("C "):
                _, seq, t = line.split()
                seq, t = int(seq), float(t)
                max_confirm_send = max(max_confirm_send, t)
                for q in msg_dest(seq):
                    confirmed[(q, msg_id(rnd, p, seq))] = t
            elif line.startswith("N "):
                nacked += 1
    run.ever_published[rnd] = highest
    confirmed_ids = {mid for _, mid in confirmed}

    # The previous drain's acks: proven durable if any publish sent after that drain finished was
    # confirmed (one store, tickets complete in order: the fdatasync behind that confirm covered
    # the dequeue records appended before the publish arrived).
    if max_confirm_send > run.pending_drain_end:
        allowed_old = set()
    else:
        allowed_old = run.pending_drain

    # What the live consumer saw.
    live_delivered, live_acked, settled = set(), set(), set()
    if variant:
        acks_in_order = []
        for line in read_lines(cons_path):
            parts = line.split()
            if parts[0] == "D":
                live_delivered.add((parts[1], parts[2]))
            elif parts[0] == "A":
                acks_in_order.append((parts[1], parts[2]))
                live_acked.add((parts[1], parts[2]))
            elif parts[0] == "S" and float(parts[2]) < max_confirm_send:
                # every ack before this sync point was processed before some publish that was
                # later confirmed was even sent: its dequeue record is on disk
                settled = set(acks_in_order[:int(parts[1])])

    # Every third round, kill the broker once more while it recovers, then restart, drain, check.
    recovery_kill = ""
    if rnd % 3 == 0:
        delay = rng.uniform(0.02, 0.4)
        was_ready = broker.start_and_kill(delay)
        recovery_kill = " (killed again %.2fs into %s)" % (
            delay, "its restart, after ready" if was_ready else "its recovery")
    broker.start()
    recovery = broker.recovery_line()
    got, drain_end, counts, left = drain(broker.port)
    seen = {}
    phantom, corrupt, resurrected, not_redelivered = [], [], [], []
    for q, mid, redelivered, body_ok in got:
        key = (q, mid)
        seen[key] = seen.get(key, 0) + 1
        ident = parse_id(mid)
        if ident is None or ident[0] not in run.ever_published or \
                ident[2] > run.ever_published[ident[0]].get(ident[1], 0) or \
                ident[2] < 1 or q not in msg_dest(ident[2]):
            phantom.append(key)
            continue
        if not body_ok:
            corrupt.append(key)
        if not redelivered:
            not_redelivered.append(key)
        if ident[0] == rnd:
            if key in settled:
                resurrected.append(key)  # acked, ack proven processed and synced, came back
        elif key not in allowed_old:
            resurrected.append(key)  # from an earlier round and not an unproven drain ack
    dup_in_drain = [k for k, n in seen.items() if n > 1]
    lost = sorted(k for k in confirmed if k not in seen and k not in live_acked)
    duplicates = sum(1 for k in seen if k in live_delivered or k in allowed_old)
    ack_returned = sum(1 for k in seen if k in live_acked)

    if lost:
        failures.append("LOST %d confirmed: %s" % (len(lost), lost[:10]))
    if phantom:
        failures.append("PHANTOM %d never published: %s" % (len(phantom), phantom[:10]))
    if corrupt:
        failures.append("CORRUPT %d (body or properties differ): %s" % (len(corrupt), corrupt[:10]))
    if resurrected:
        failures.append("RESURRECTED %d settled acks came back: %s"
                        % (len(resurrected), resurrected[:10]))
    if dup_in_drain:
        failures.append("DELIVERED TWICE in one drain %d: %s"
                        % (len(dup_in_drain), dup_in_drain[:10]))
    if not_redelivered:
        failures.append("NOT REDELIVERED %d recovered without the redelivered flag: %s"
                        % (len(not_redelivered), not_redelivered[:10]))
    if len(got) != sum(counts):
        failures.append("declare-ok counted %s ready but the drain got %d" % (counts, len(got)))
    if any(left):
        failures.append("queues not empty after the drain: %s" % left)

    run.pending_drain = set(seen)
    run.pending_drain_end = drain_end

    line = ("round %2d %-8s kill at %.2fs%s: published=%d confirmed=%d nacked=%d | "
            "copies: confirmed=%d recovered=%d lost=%d duplicates=%d" % (
                rnd, "consumer" if variant else "plain", kill_after, recovery_kill, published,
                len(confirmed_ids),
                nacked, len(confirmed), len(got), len(lost), duplicates))
    if variant:
        line += " live_delivered=%d live_acked=%d settled_acks=%d ack_came_back=%d" % (
            len(live_delivered), len(live_acked), len(settled), ack_returned)
    print(line + (" -> ok" if not failures else " -> FAIL"), flush=True)
    if failures or args.verbose:
        print("    recovery: %s" % recovery)
    for f in failures:
        print("    " + f, flush=True)
    if failures:
        for entry in broker.log_lines():
            print("    log: " + entry)
    return not failures


def final_check(broker):
    """After the last drain: a clean stop (SIGTERM) and restart must bring back nothing."""
    broker.kill(signal.SIGTERM)
    broker.start()
    got, _, counts, left = drain(broker.port)
    ok = not got and not any(counts) and not any(left)
    print("final    clean restart after the last drain: %d messages came back -> %s"
          % (len(got), "ok" if ok else "FAIL"), flush=True)
    if not ok:
        print("    came back: %s" % [(q, mid) for q, mid, _, _ in got[:10]])
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--kill-min", type=float, default=0.5, help="earliest kill, s after start")
    ap.add_argument("--kill-max", type=float, default=2.5, help="latest kill, s after start")
    ap.add_argument("--publishers", type=int, default=3)
    ap.add_argument("--window", type=int, default=100, help="unconfirmed publishes per publisher")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--sabotage", choices=("truncate", "rollback"),
                    help="damage the log on purpose to see the checks fail (see README.md)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="warren-crash-")
    print("crash test: %d rounds, %d publishers, window %d, kill in [%.1f, %.1f] s, seed %d, "
          "work %s"
          % (args.rounds, args.publishers, args.window, args.kill_min, args.kill_max, seed, work),
          flush=True)
    broker = Broker(args.binary, os.path.join(work, "data"), work)
    run = Run()
    passed = failed = 0
    started = time.monotonic()
    try:
        broker.start()
        for rnd in range(1, args.rounds + 1):
            try:
                ok = round_run(args, rnd, broker, run, work, rng)
            except (Closed, RuntimeError, OSError) as e:
                print("round %2d error: %r -> FAIL" % (rnd, e), flush=True)
                ok = False
                broker.kill()
                broker.start()
                run.pending_drain, run.pending_drain_end = set(), 0.0
            passed, failed = passed + ok, failed + (not ok)
        try:
            ok = final_check(broker)
        except (Closed, RuntimeError, OSError) as e:
            print("final    error: %r -> FAIL" % (e,), flush=True)
            ok = False
        passed, failed = passed + ok, failed + (not ok)
    finally:
        broker.kill(signal.SIGTERM)
    print("%.1f s; %d passed, %d failed" % (time.monotonic() - started, passed, failed))
    if failed or args.keep:
        print("work directory kept: %s" % work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--publisher":
        a = sys.argv[2:]
        run_publisher(int(a[0]), int(a[1]), int(a[2]), int(a[3]), a[4], float(a[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--consumer":
        a = sys.argv[2:]
        run_consumer(int(a[0]), a[1], float(a[2]), int(a[3]))
    else:
        sys.exit(main())
