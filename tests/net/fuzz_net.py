#!/usr/bin/python3
"""Network fuzz test: hostile clients against one running Warren.

Usage: fuzz_net.py WARREN_BINARY [--seed N] [--count 10000] [--concurrency 8] [--budget 240]
                   [--rss-limit-mb 300] [--captures DIR] [--crash-dir DIR]
                   [--mgmt-json] [--conv I ...] [--dump DIR] [--replay-file FILE ...]

Replays mutated copies of real pika conversations (tests/net/captures/*.wcap, recorded by
make_captures.py) against one broker while a well-behaved pika client publishes and consumes with
confirms on its own connection. Every conversation is derived from (seed, index) alone, so
`--seed N` replays a whole run and `--seed N --conv I` replays one conversation (`--dump DIR` also
writes its bytes); `--replay-file F` plays a saved input (a crasher) alone. Checks: the broker
stays alive and accepts a fresh connection at the end, the good client sees no error and gets
every message back, RSS stays under the limit, all conversations ran in the budget, the broker
exits 0 on SIGTERM. A crash or hang saves the inputs that were in flight under
captures/crashers/ and tries each alone on a fresh broker to name the one that reproduces it.
"""
import argparse
import atexit
import collections
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURE_DIR = os.path.join(HERE, "captures")
CRASHER_DIR = os.path.join(CAPTURE_DIR, "crashers")
TOKEN = b"FUZZTOKEN"
MAGIC = b"WCAP\x01"
PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
FRAME_END = 0xCE
ALLOWED_CLOSE_CODES = (501, 502, 503, 504, 505, 530, 540)


# ---------------------------------------------------------------------------------------------
# The broker under test


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def brokers_kill_leftovers():
    for b in Broker.started:
        if b.proc.poll() is None:
            b.proc.kill()
            b.proc.wait()


class Broker:
    """One warren process on a free port with its own data directory."""

    started = []  # killed at exit if still running (an exception must not leave brokers behind)

    def __init__(self, binary, work_dir, mgmt=False):
        self.port = free_port()
        self.mgmt_port = free_port() if mgmt else 0
        self.log_path = os.path.join(work_dir, "warren-%d.log" % self.port)
        self.log = open(self.log_path, "w+")
        env = dict(os.environ)
        # An ASan build keeps 256 MB of freed memory in quarantine by default: that is not growth.
        env.setdefault("ASAN_OPTIONS", "quarantine_size_mb=16:detect_leaks=1")
        self.proc = subprocess.Popen([binary, "--port", str(self.port),
                                      "--mgmt-port", str(self.mgmt_port),
                                      "--data-dir", os.path.join(work_dir, "data-%d" % self.port)],
                                     stdout=self.log, stderr=self.log, env=env)
        Broker.started.append(self)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("warren exited at start-up:\n" + self.log_tail())
            self.log.seek(0)
            if "ready" in self.log.read():
                return
            time.sleep(0.05)
        raise RuntimeError("warren did not log 'ready' in 20 s:\n" + self.log_tail())

    def is_alive(self):
        return self.proc.poll() is None

    def rss_kb(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def log_tail(self, n=40):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def stop(self, timeout=20):
        """SIGTERM, wait; returns the exit status (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


# ---------------------------------------------------------------------------------------------
# Captures: what real clients sent


def capture_write(path, chunks):
    with open(path, "wb") as f:
        f.write(MAGIC)
        for data, replied in chunks:
            f.write(struct.pack(">IB", len(data), replied))
            f.write(data)


def capture_read(path):
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.startswith(MAGIC):
        raise ValueError("%s is not a capture file" % path)
    chunks, pos = [], len(MAGIC)
    while pos < len(raw):
        n, replied = struct.unpack_from(">IB", raw, pos)
        pos += 5
        chunks.append((raw[pos:pos + n], replied))
        pos += n
    return chunks


def captures_load(directory, binary):
    wanted = directory
    names = sorted(n for n in os.listdir(directory) if n.endswith(".wcap")) \
        if os.path.isdir(directory) else []
    if not names:
        import make_captures  # records afresh with pika through a proxy
        directory = tempfile.mkdtemp(prefix="warren-captures-")
        print("no captures in %s: recording them into %s" % (wanted, directory))
        make_captures.record_all(binary, directory)
        names = sorted(n for n in os.listdir(directory) if n.endswith(".wcap"))
    return [(n[:-5], capture_read(os.path.join(directory, n))) for n in names]


# ---------------------------------------------------------------------------------------------
# A byte stream with write boundaries, and the mutations


class Stream:
    """Client bytes plus where the writes were cut; edits keep the cuts in place."""

    def __init__(self, chunks):
        self.data = bytearray()
        self.cuts = []  # (offset of the end of a write, the client waited for a reply there)
        for data, replied in chunks:
            self.data += data
            self.cuts.append((len(self.data), replied))

    def replace(self, pos, n, new):
        self.data[pos:pos + n] = new
        delta = len(new) - n
        self.cuts = [(c if c <= pos else max(pos, c + delta), w) for c, w in self.cuts]

    def truncate(self, pos):
        del self.data[pos:]
        self.cuts = [(c, w) for c, w in self.cuts if c < pos] + [(pos, 0)]

    def pieces(self):
        """[(bytes, wait_after)] following the recorded write boundaries."""
        out, start = [], 0
        for c, w in sorted(set(self.cuts)):
            c = min(c, len(self.data))
            if c > start:
                out.append((bytes(self.data[start:c]), w))
                start = c
        if start < len(self.data):
            out.append((bytes(self.data[start:]), 0))
        return out


def frames_find(data):
    """[(offset, type, channel, size)] of the whole frames after the protocol header."""
    out = []
    pos = 8 if data[:4] == b"AMQP" else 0
    while pos + 7 <= len(data):
        ftype, chan, size = struct.unpack_from(">BHI", data, pos)
        if pos + 8 + size > len(data):
            break
        out.append((pos, ftype, chan, size))
        pos += 8 + size
    return out


def pick_frame(r, s, want=None, min_size=0):
    fs = [f for f in frames_find(s.data) if (want is None or f[1] == want) and f[3] >= min_size]
    return r.choice(fs) if fs else None


INTERESTING_U32 = (0, 1, 2, 7, 8, 0x7F, 0xFF, 0xFFFF, 0x10000, 4088, 4096, 131064, 131065,
                   131072, 131073, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)


def mutate_byte_flips(r, s):
    n = r.choice((1, 1, 1, 2, 3, 4, 8, 16))
    for _ in range(n):
        if not s.data:
            break
        pos = r.randrange(len(s.data))
        how = r.randrange(3)
        if how == 0:
            s.data[pos] ^= 1 << r.randrange(8)
        elif how == 1:
            s.data[pos] = r.randrange(256)
        else:
            s.data[pos] = r.choice((0, 1, 0x7F, 0x80, 0xFF, FRAME_END))
    return "%d byte(s)" % n


def mutate_ranges(r, s):
    if len(s.data) < 2:
        return "too short"
    how = r.randrange(4)
    a = r.randrange(len(s.data))
    n = min(len(s.data) - a, r.choice((1, 2, 4, 8, 64, 512, 4096)))
    if how == 0:
        new = bytes(r.randrange(256) for _ in range(r.choice((1, 3, 16, 100, 1000))))
        s.replace(a, 0, new)
        return "insert %d random" % len(new)
    if how == 1:
        s.replace(a, n, b"")
        return "delete %d" % n
    if how == 2:
        chunk = bytes(s.data[a:a + n])
        s.replace(r.randrange(len(s.data) + 1), 0, chunk * r.choice((1, 1, 2, 10)))
        return "duplicate %d" % n
    b = r.randrange(len(s.data))
    m = min(len(s.data) - b, n)
    s.data[a:a + m], s.data[b:b + m] = bytes(s.data[b:b + m]), bytes(s.data[a:a + m])
    return "swap %d" % m


def mutate_length_fields(r, s):
    f = pick_frame(r, s)
    if f is None:
        return "no frame"
    off, ftype, chan, size = f
    if r.random() < 0.7 or size < 8:
        v = r.choice(INTERESTING_U32 + (size - 1, size + 1, r.getrandbits(32))) & 0xFFFFFFFF
        struct.pack_into(">I", s.data, off + 3, v)
        return "frame size %d -> %d" % (size, v)
    # A length inside the payload: short string (1 octet) or long string / table (4 octets).
    pos = off + 7 + r.randrange(4, size)
    if r.random() < 0.5 or pos + 4 > off + 7 + size:
        s.data[pos] = r.choice((0, 1, 0x7F, 0xFF))
        return "short length in type %d frame" % ftype
    struct.pack_into(">I", s.data, pos, r.choice(INTERESTING_U32))
    return "long length in type %d frame" % ftype


def mutate_content_header(r, s):
    f = pick_frame(r, s, want=2, min_size=14)
    if f is None:
        return mutate_length_fields(r, s)
    off, _, _, size = f
    p = off + 7
    how = r.randrange(4)
    if how == 0:
        v = r.choice((0, 1, 0xFFFFFFFF, 1 << 32, 1 << 40, (1 << 63) - 1, (1 << 64) - 1, 134217729))
        struct.pack_into(">Q", s.data, p + 4, v)
        return "body size %d" % v
    if how == 1:
        struct.pack_into(">H", s.data, p, r.choice((0, 10, 20, 50, 60, 85, 90, 0xFFFF)))
        return "class id"
    if how == 2:
        struct.pack_into(">H", s.data, p + 12, r.getrandbits(16))
        return "property flags"
    struct.pack_into(">H", s.data, p + 2, r.getrandbits(16))
    return "weight"


def mutate_frame_types(r, s):
    f = pick_frame(r, s)
    if f is None:
        return "no frame"
    v = r.choice((0, 1, 2, 3, 4, 5, 8, 9, 0xCE, 0xFF, r.randrange(256)))
    s.data[f[0]] = v
    return "type %d -> %d" % (f[1], v)


def mutate_method_ids(r, s):
    f = pick_frame(r, s, want=1, min_size=4)
    if f is None:
        return "no method frame"
    p = f[0] + 7
    cls, meth = struct.unpack_from(">HH", s.data, p)
    known = (10, 20, 40, 50, 60, 85, 90)
    if r.random() < 0.5:
        cls = r.choice(known + (0, 30, 70, 0xFFFF))
    if r.random() < 0.7:
        meth = r.choice((0, 10, 11, 20, 21, 30, 31, 40, 41, 50, 51, 60, 70, 71, 80, 90, 100, 110,
                         111, 120, 0xFFFF, r.getrandbits(16)))
    struct.pack_into(">HH", s.data, p, cls, meth)
    return "method %d.%d" % (cls, meth)


def mutate_channels(r, s):
    f = pick_frame(r, s)
    if f is None:
        return "no frame"
    v = r.choice((0, 1, 2, 2047, 2048, 65535, r.getrandbits(16)))
    struct.pack_into(">H", s.data, f[0] + 1, v)
    return "channel %d -> %d" % (f[2], v)


def mutate_frame_end(r, s):
    f = pick_frame(r, s)
    if f is None:
        return "no frame"
    pos = f[0] + 7 + f[3]
    s.data[pos] = r.choice((0, 0xCD, 0xCF, 0xFF, r.randrange(256)))
    return "end octet 0x%02x" % s.data[pos]


def mutate_truncation(r, s):
    fs = frames_find(s.data)
    if fs and r.random() < 0.4:
        f = r.choice(fs)
        pos = f[0] + r.choice((0, 1, 3, 7, 8, f[3] + 7))
    else:
        pos = r.randrange(len(s.data) + 1)
    pos = min(pos, len(s.data))
    s.truncate(pos)
    return "at %d" % pos


def mutate_frame_order(r, s):
    fs = frames_find(s.data)
    if len(fs) < 2:
        return "too few frames"
    spans = [(o, o + 8 + n) for o, _, _, n in fs]
    i = r.randrange(len(spans))
    a, b = spans[i]
    how = r.randrange(4)
    if how == 0:
        s.replace(a, b - a, b"")
        return "drop frame %d" % i
    if how == 1:
        times = r.choice((1, 2, 10, 100))
        times = max(1, min(times, (2 << 20) // (b - a)))
        s.replace(b, 0, bytes(s.data[a:b]) * times)
        return "repeat frame %d x%d" % (i, times)
    if how == 2:
        j = r.randrange(len(spans))
        c, d = spans[j]
        if j < i:
            (a, b, i), (c, d, j) = (c, d, j), (a, b, i)
        if i == j:
            return "swap nothing"
        first, second = bytes(s.data[a:b]), bytes(s.data[c:d])
        s.replace(c, d - c, first)
        s.replace(a, b - a, second)
        return "swap frames %d,%d" % (i, j)
    j = r.randrange(len(spans))
    c, _ = spans[j]
    frame = bytes(s.data[a:b])
    s.replace(c, 0, frame)
    return "copy frame %d before %d" % (i, j)


def mutate_protocol_header(r, s):
    headers = (b"AMQP\x00\x00\x09\x00", b"AMQP\x01\x01\x00\x09", b"AMQP\x00\x00\x08\x00",
               b"AMQP\x00\x01\x00\x00", b"AMQP", b"AMQ", b"", b"GET / HTTP/1.1\r\n\r\n",
               b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b"AMQP\x00\x00\x09\x01" * 2,
               b"amqp\x00\x00\x09\x01", b"\x00" * 8)
    new = r.choice(headers)
    if r.random() < 0.2:
        new = bytes(r.randrange(256) for _ in range(8))
    s.replace(0, 8, new)
    return repr(new[:12])


def mutate_field_values(r, s):
    f = pick_frame(r, s, want=r.choice((1, 1, 2)), min_size=12)
    if f is None:
        return mutate_byte_flips(r, s)
    off, ftype, _, size = f
    pos = off + 7 + r.randrange(4, size)
    v = r.choice(b"tbBUuIiLlfdDsSATFVxa" + bytes((0, 0xFF, 0x80)))
    s.data[pos] = v
    return "type tag %r in type %d frame" % (chr(v), ftype)


def mutate_splice(r, s, other):
    t = Stream(other)
    fs_a, fs_b = frames_find(s.data), frames_find(t.data)
    if r.random() < 0.7 and fs_a and fs_b:
        a = r.choice(fs_a)[0]
        b = r.choice(fs_b)[0]
        how = "frame boundaries"
    else:
        a, b = r.randrange(len(s.data) + 1), r.randrange(len(t.data) + 1)
        how = "random offsets"
    tail = t.data[b:]
    s.truncate(a)
    base = len(s.data)
    s.data += tail
    s.cuts += [(base + c - b, w) for c, w in t.cuts if c > b]
    return how


def frame_bytes(ftype, chan, payload):
    return struct.pack(">BHI", ftype, chan, len(payload)) + payload + bytes((FRAME_END,))


def method_frames(data, cls, meth):
    """[(offset, channel, size)] of the method frames for class.method."""
    return [(o, c, n) for o, t, c, n in frames_find(data)
            if t == 1 and n >= 4 and struct.unpack_from(">HH", data, o + 7) == (cls, meth)]


def nested_table(r, depth):
    """A field table holding tables and arrays nested `depth` deep, built outside in."""
    kinds = [r.choice(b"FA") for _ in range(depth)]
    parents = [ord("F")] + kinds[:-1]
    entry_len = [0] * (depth + 1)  # entry_len[i]: bytes of level i as an entry of its parent
    for i in reversed(range(depth)):
        entry_len[i] = (2 if parents[i] == ord("F") else 0) + 5 + entry_len[i + 1]
    out = [struct.pack(">I", entry_len[0])]
    for i in range(depth):
        out.append((b"\x01k" if parents[i] == ord("F") else b"") + bytes((kinds[i],)) +
                   struct.pack(">I", entry_len[i + 1]))
    return b"".join(out)


def mutate_deep_nesting(r, s):
    depth = r.choice((2, 31, 32, 33, 64, 1000, 15000))
    table = nested_table(r, depth)
    where = r.randrange(3)
    opens = method_frames(s.data, 20, 10)
    if where == 0 or not opens:
        f = method_frames(s.data, 10, 11)
        if not f:
            return "no start-ok"
        off, _, size = f[0]
        old_len = struct.unpack_from(">I", s.data, off + 11)[0]
        rest = bytes(s.data[off + 15 + old_len:off + 7 + size])
        s.replace(off, 8 + size, frame_bytes(1, 0, struct.pack(">HH", 10, 11) + table + rest))
        return "client-properties %d deep" % depth
    off, chan, size = opens[0]
    if where == 1:
        payload = struct.pack(">HHH", 50, 10, 0) + b"\x0afuzz.deep." + b"\x04" + table
        new = frame_bytes(1, chan, payload)
        what = "queue.declare arguments"
    else:
        publish = struct.pack(">HHH", 60, 40, 0) + b"\x00\x09fuzz.none" + b"\x00"
        header = struct.pack(">HHQH", 60, 0, 0, 0x2000) + table
        new = frame_bytes(1, chan, publish) + frame_bytes(2, chan, header)
        what = "message headers"
    s.replace(off + 8 + size, 0, new)
    return "%s %d deep" % (what, depth)


def mutate_channel_flood(r, s):
    opens = method_frames(s.data, 20, 10)
    if not opens:
        return "no channel.open"
    off, chan, size = opens[0]
    count = r.choice((50, 2046, 2047, 2100))
    frame = bytes(s.data[off:off + 8 + size])
    # Channel ids are 16 bits: an earlier mutation may already have put chan near the top.
    flood = b"".join(frame[:1] + struct.pack(">H", c & 0xFFFF) + frame[3:]
                     for c in range(chan + 1, chan + 1 + count))
    s.replace(off + 8 + size, 0, flood)
    return "%d more channel.open after channel %d" % (count, chan)


FAMILIES = [  # name, weight, mutation
    ("byte flips", 3, mutate_byte_flips),
    ("ranges", 2, mutate_ranges),
    ("length fields", 3, mutate_length_fields),
    ("content header", 1, mutate_content_header),
    ("frame types", 2, mutate_frame_types),
    ("method ids", 2, mutate_method_ids),
    ("channel numbers", 1, mutate_channels),
    ("channel flood", 0.5, mutate_channel_flood),
    ("deep nesting", 1, mutate_deep_nesting),
    ("frame end", 1, mutate_frame_end),
    ("field values", 2, mutate_field_values),
    ("truncation", 2, mutate_truncation),
    ("frame order", 2, mutate_frame_order),
    ("protocol header", 1, mutate_protocol_header),
    ("splice", 2, None),
    ("write splitting", 1, None),
    ("stacked", 2, None),
    ("unmutated", 0.5, None),
]
SIMPLE = [f for f in FAMILIES if f[2] is not None]


class Conversation:
    def __init__(self, seed, index, captures):
        r = random.Random("%d/%d" % (seed, index))
        self.index = index
        token = b"%09d" % (index % 1000000000)
        name, chunks = r.choice(captures)
        chunks = [(d.replace(TOKEN, token), w) for d, w in chunks]
        s = Stream(chunks)
        self.capture = name
        self.family = r.choices([f[0] for f in FAMILIES], [f[1] for f in FAMILIES])[0]
        self.pacing = r.choices(("paced", "burst", "dribble"), (50, 35, 15))[0]
        if self.family == "splice":
            other_name, other = r.choice(captures)
            other = [(d.replace(TOKEN, token), w) for d, w in other]
            self.detail = "%s + %s at %s" % (name, other_name, mutate_splice(r, s, other))
        elif self.family == "write splitting":
            self.pacing = r.choice(("dribble", "dribble", "coalesce"))
            self.detail = name
        elif self.family == "stacked":
            picks = [r.choice(SIMPLE) for _ in range(r.randint(2, 4))]
            self.detail = "; ".join("%s: %s" % (f[0], f[2](r, s)) for f in picks)
        elif self.family == "unmutated":
            self.detail = name
        else:
            fam = next(f for f in FAMILIES if f[0] == self.family)
            self.detail = "%s: %s" % (name, fam[2](r, s))
        self.data = bytes(s.data)
        self.pieces = self.cut(r, s)
        self.shut_wr = r.random() < 0.85  # otherwise hold the connection open until idle
        self.reply_close_ok = r.random() < 0.5

    def cut(self, r, s):
        if self.pacing == "paced":
            return s.pieces()
        if self.pacing == "burst":
            return [(self.data, 0)] if self.data else []
        if self.pacing == "coalesce":  # random write boundaries at frame boundaries
            offs = sorted(set([0, len(self.data)] + [o for o, _, _, _ in frames_find(self.data)
                                                     if r.random() < 0.3]))
        else:  # dribble: many small writes
            step_max = max(7, len(self.data) // 400)
            offs, pos = [0], 0
            while pos < len(self.data):
                pos = min(len(self.data), pos + r.randint(1, step_max))
                offs.append(pos)
        return [(self.data[a:b], 0) for a, b in zip(offs, offs[1:]) if b > a]

    def describe(self):
        return "conversation %d: %s (%s), %s writes, %s; %d bytes" % (
            self.index, self.family, self.detail, self.pacing,
            "then shutdown(SHUT_WR)" if self.shut_wr else "held open", len(self.data))


# ---------------------------------------------------------------------------------------------
# Talking to the broker


class FileConversation:
    """A saved input (e.g. captures/crashers/*.bin) played as one burst, then shutdown(SHUT_WR)."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        self.index, self.family, self.detail, self.pacing = -1, "file", path, "burst"
        self.pieces = [(self.data, 0)]
        self.shut_wr, self.reply_close_ok = True, False

    def describe(self):
        return "%s: %d bytes in one write, then shutdown(SHUT_WR)" % (self.detail, len(self.data))


class ServerReader:
    """Parses what the broker sends: connection.close code, close-ok, channel.close codes."""

    def __init__(self):
        self.buf = bytearray()
        self.conn_close = None  # (code, text)
        self.close_ok = False
        self.header_reply = False
        self.chan_codes = []
        self.chan_texts = []
        self.malformed = None

    def feed(self, data):
        self.buf += data
        if self.buf[:4] == b"AMQP":
            self.header_reply = True
            return
        pos = 0
        while pos + 7 <= len(self.buf) and not self.malformed:
            ftype, chan, size = struct.unpack_from(">BHI", self.buf, pos)
            if ftype not in (1, 2, 3, 8):
                self.malformed = "frame type %d from the broker" % ftype
                break
            if pos + 8 + size > len(self.buf):
                break
            if self.buf[pos + 7 + size] != FRAME_END:
                self.malformed = "bad frame end from the broker"
                break
            if ftype == 1 and size >= 4:
                cls, meth = struct.unpack_from(">HH", self.buf, pos + 7)
                if chan == 0 and (cls, meth) == (10, 50) and size >= 7:
                    code = struct.unpack_from(">H", self.buf, pos + 11)[0]
                    n = self.buf[pos + 13]
                    text = bytes(self.buf[pos + 14:pos + 14 + n]).decode("latin-1")
                    self.conn_close = (code, text)
                elif chan == 0 and (cls, meth) == (10, 51):
                    self.close_ok = True
                elif (cls, meth) == (20, 40) and size >= 6:
                    code = struct.unpack_from(">H", self.buf, pos + 11)[0]
                    n = self.buf[pos + 13]
                    self.chan_codes.append(code)
                    self.chan_texts.append(bytes(self.buf[pos + 14:pos + 14 + n]).decode("latin-1"))
            pos += 8 + size
        del self.buf[:pos]

    def done(self):
        return self.conn_close is not None or self.close_ok or self.header_reply


CLOSE_OK_FRAME = struct.pack(">BHIHH", 1, 0, 4, 10, 51) + bytes((FRAME_END,))


def converse(port, conv, idle=0.2, hard=3.0, pace_wait=0.05, pace_budget=0.25, quiet=0.002):
    """Plays one conversation; returns (outcome label, ServerReader, seconds)."""
    start = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError as e:
        why = e.strerror or type(e).__name__
        return "connect failed: %s" % why, ServerReader(), time.monotonic() - start
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    reader = ServerReader()
    pieces = collections.deque(conv.pieces)
    out, wait_after, wait_until = b"", 0, 0.0
    pace_end = start + (pace_budget if conv.pacing == "paced" else 0.0)
    last = start
    shut = False
    ended = None
    try:
        while not reader.done():
            now = time.monotonic()
            if now - start > hard:
                break
            if not out and pieces and now >= wait_until:
                out, wait_after = pieces.popleft()
            if not out and not pieces and not shut:
                shut = True
                last = now
                if conv.shut_wr:
                    s.shutdown(socket.SHUT_WR)
            if out:
                timeout = 0.1
            elif pieces:
                timeout = max(0.0, wait_until - now)
            else:
                timeout = idle - (now - last)
                if timeout <= 0:
                    break
            r, w, _ = select.select([s], [s] if out else [], [], timeout)
            if r:
                data = s.recv(262144)
                if not data:
                    ended = "eof"
                    break
                reader.feed(data)
                last = time.monotonic()
                if wait_until:  # an answer came: go on once the broker has been quiet a moment
                    wait_until = last + quiet
            if w and out:
                n = s.send(out)
                out = out[n:]
                last = time.monotonic()
                if not out and wait_after and last < pace_end:
                    wait_until = min(last + pace_wait, pace_end)
        if reader.conn_close and conv.reply_close_ok:
            s.setblocking(True)
            s.settimeout(0.2)
            s.sendall(CLOSE_OK_FRAME)
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        ended = "reset"
    except OSError as e:
        ended = "error %s" % e.strerror
    finally:
        s.close()
    if reader.conn_close:
        label = str(reader.conn_close[0])
    elif reader.close_ok:
        label = "close-ok"
    elif reader.header_reply:
        label = "protocol header"
    elif ended:
        label = "socket closed"
    else:
        label = "open at timeout"
    return label, reader, time.monotonic() - start


def fresh_connection_works(port):
    import pika
    c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port, connection_attempts=3,
                                                          blocked_connection_timeout=10))
    ch = c.channel()
    q = ch.queue_declare("", exclusive=True).method.queue
    ch.basic_publish("", q, b"after the storm")
    m = ch.basic_get(q, auto_ack=True)
    assert m[2] == b"after the storm", m
    c.close()


def mgmt_json_problems(port):
    """GETs the listings a management client reads after the storm; returns what is not JSON."""
    import base64
    import json
    import urllib.request
    problems = []
    for path in ("overview", "exchanges", "queues", "bindings", "connections", "channels",
                 "definitions"):
        req = urllib.request.Request("http://127.0.0.1:%d/api/%s" % (port, path))
        req.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
        try:
            raw = urllib.request.urlopen(req, timeout=10).read()
            json.loads(raw)
        except ValueError as e:
            problems.append("/api/%s: %s near %r" % (path, e, raw[max(0, e.pos - 60):e.pos + 20]))
        except OSError as e:
            problems.append("/api/%s: %r" % (path, e))
    return problems


def liveness_probe(port, timeout=5.0):
    """Seconds until a new connection gets connection.start, or None."""
    start = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(PROTOCOL_HEADER)
            data = b""
            while len(data) < 7:
                chunk = s.recv(4096)
                if not chunk:
                    return None
                data += chunk
            if data[:3] != b"\x01\x00\x00":
                return None
    except OSError:
        return None
    return time.monotonic() - start


# ---------------------------------------------------------------------------------------------
# The well-behaved client


class GoodClient(threading.Thread):
    def __init__(self, port, stop):
        super().__init__(daemon=True)
        self.port, self.stop = port, stop
        self.sent = self.received = self.bytes = 0
        self.errors = []
        self.max_batch = 0.0
        self.seconds = 0.0

    def run(self):
        import pika
        start = time.monotonic()
        r = random.Random(7)
        try:
            c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.port,
                                                                  heartbeat=30))
            ch = c.channel()
            ch.confirm_delivery()
            q = ch.queue_declare("good.client.%d" % os.getpid(), exclusive=True).method.queue
            expected = collections.OrderedDict()

            def on_message(chan, method, props, body):
                seq = props.headers.get("seq") if props.headers else None
                want = expected.pop(seq, None)
                if want is None or want != body or method.redelivered:
                    self.errors.append("message %r came back wrong (redelivered=%s)"
                                       % (seq, method.redelivered))
                self.received += 1
                chan.basic_ack(method.delivery_tag)
            ch.basic_qos(prefetch_count=50)
            ch.basic_consume(q, on_message)
            while not self.stop.is_set() and not self.errors:
                t0 = time.monotonic()
                for _ in range(20):
                    seq = self.sent
                    body = bytes([seq & 0xFF]) * r.choice((0, 10, 1000, 20000, 140000))
                    expected[seq] = body
                    ch.basic_publish("", q, body, pika.BasicProperties(
                        headers={"seq": seq, "tbl": {"a": [1, "b"]}}, delivery_mode=1,
                        message_id=str(seq)), mandatory=True)
                    self.sent += 1
                    self.bytes += len(body)
                deadline = time.monotonic() + 10
                while expected and time.monotonic() < deadline:
                    c.process_data_events(time_limit=0.05)
                if expected:
                    self.errors.append("%d messages did not come back in 10 s" % len(expected))
                self.max_batch = max(self.max_batch, time.monotonic() - t0)
            c.close()
        except Exception as e:  # any error is a failure of the check
            self.errors.append(repr(e))
        self.seconds = time.monotonic() - start


# ---------------------------------------------------------------------------------------------
# The run


class Run:
    def __init__(self, args, captures):
        self.args, self.captures = args, captures
        self.work = tempfile.mkdtemp(prefix="warren-netfuzz-")
        self.broker = Broker(args.binary, self.work, mgmt=args.mgmt_json)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.next_index = 0
        self.done_count = 0
        self.in_flight = {}
        self.recent = collections.deque(maxlen=32)
        self.table = collections.defaultdict(collections.Counter)
        self.chan_table = collections.defaultdict(collections.Counter)
        self.odd = []  # broker misbehaviours that are not crashes
        self.max_rss = 0
        self.rss_by_quarter = {}  # 0..4 -> RSS in kB when that share of the run was first done
        self.max_probe = 0.0
        self.probe_failures = 0
        self.died = False
        self.slowest = (0.0, None)

    def worker(self):
        while not self.stop.is_set():
            with self.lock:
                i = self.next_index
                if i >= self.args.count:
                    return
                self.next_index += 1
            conv = Conversation(self.args.seed, i, self.captures)
            with self.lock:
                self.in_flight[i] = conv
            label, reader, secs = converse(self.broker.port, conv)
            with self.lock:
                del self.in_flight[i]
                self.recent.append(i)
                self.done_count += 1
                self.table[conv.family][label] += 1
                for code in reader.chan_codes:
                    self.chan_table[conv.family][code] += 1
                if reader.malformed:
                    self.odd.append("%s: %s" % (conv.describe(), reader.malformed))
                if secs > self.slowest[0]:
                    self.slowest = (secs, i)
            if label.startswith("connect failed") and not self.broker.is_alive():
                self.stop.set()

    def monitor(self):
        last_probe = 0.0
        while not self.stop.is_set():
            rss = self.broker.rss_kb()
            self.max_rss = max(self.max_rss, rss)
            quarter = self.done_count * 4 // max(1, self.args.count)
            if rss and quarter not in self.rss_by_quarter:
                self.rss_by_quarter[quarter] = rss
            if not self.broker.is_alive():
                self.died = True
                self.stop.set()
                return
            now = time.monotonic()
            if now - last_probe > 0.5:
                last_probe = now
                secs = liveness_probe(self.broker.port)
                if secs is None:
                    self.probe_failures += 1
                    if not self.broker.is_alive():
                        continue
                    if self.probe_failures >= 2:
                        self.stop.set()
                        return
                else:
                    self.max_probe = max(self.max_probe, secs)
            time.sleep(0.1)


def save_inputs(directory, prefix, convs, note):
    os.makedirs(directory, exist_ok=True)
    saved = []
    for conv in convs:
        base = os.path.join(directory, "%s-conv%d" % (prefix, conv.index))
        with open(base + ".bin", "wb") as f:
            f.write(conv.data)
        with open(base + ".txt", "w") as f:
            f.write(conv.describe() + "\n" + note + "\n")
        saved.append(base + ".bin")
    return saved


def reproduce(args, captures, indices):
    """Plays each conversation alone on a fresh broker; returns the ones that kill or hang it."""
    culprits = []
    for i in indices:
        conv = Conversation(args.seed, i, captures)
        b = Broker(args.binary, tempfile.mkdtemp(prefix="warren-repro-"))
        try:
            for _ in range(3):
                converse(b.port, conv)
            time.sleep(0.3)
            if not b.is_alive():
                culprits.append((conv, "crash", b.log_tail(60)))
            elif liveness_probe(b.port) is None:
                culprits.append((conv, "hang", b.log_tail(60)))
        finally:
            b.stop(timeout=5)
    return culprits


def format_counter(counter, fmt=str):
    return ", ".join("%s x %d" % (fmt(k), n) for k, n in counter.most_common())


def print_table(run):
    rows = []
    for fam, _, _ in FAMILIES:
        if fam in run.table:
            c = run.table[fam]
            rows.append((fam, sum(c.values()), format_counter(c),
                         format_counter(run.chan_table[fam]) or "-"))
    w0 = max(len(r[0]) for r in rows + [("family", 0, "", "")])
    w2 = max(len(r[2]) for r in rows + [("", 0, "outcome", "")])
    print("\n%-*s  %6s  %-*s  %s" % (w0, "family", "convs", w2,
                                     "broker's answer (connection.close code, or what happened)",
                                     "channel.close codes"))
    for fam, n, outcomes, chans in rows:
        print("%-*s  %6d  %-*s  %s" % (w0, fam, n, w2, outcomes, chans))
    total = collections.Counter()
    for c in run.table.values():
        total.update(c)
    print("%-*s  %6d  %s" % (w0, "all", sum(total.values()), format_counter(total)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--budget", type=float, default=240.0, help="seconds for the fuzzing phase")
    ap.add_argument("--rss-limit-mb", type=int, default=300)
    ap.add_argument("--captures", default=CAPTURE_DIR)
    ap.add_argument("--crash-dir", default=CRASHER_DIR, help="where crash/hang inputs are saved")
    ap.add_argument("--mgmt-json", action="store_true",
                    help="also run the management API and check its listings are valid JSON")
    ap.add_argument("--conv", type=int, action="append", help="replay only these conversations")
    ap.add_argument("--replay-file", action="append", default=[],
                    help="play a saved input file (e.g. a crasher) alone on a fresh broker")
    ap.add_argument("--dump", help="write each --conv conversation's bytes into this directory")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = int.from_bytes(os.urandom(4), "big")
    print("seed %d (replay with --seed %d)" % (args.seed, args.seed), flush=True)
    captures = captures_load(args.captures, args.binary)
    print("captures: %s" % ", ".join("%s (%d B)" % (n, sum(len(d) for d, _ in c))
                                    for n, c in captures))
    if args.conv or args.replay_file:
        return replay_only(args, captures)

    run = Run(args, captures)
    rss_start = run.broker.rss_kb()
    good = GoodClient(run.broker.port, run.stop)
    t0 = time.monotonic()
    good.start()
    threading.Thread(target=run.monitor, daemon=True).start()
    workers = [threading.Thread(target=run.worker, daemon=True) for _ in range(args.concurrency)]
    for w in workers:
        w.start()
    deadline = t0 + args.budget
    while any(w.is_alive() for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    timed_out = any(w.is_alive() for w in workers)
    fuzz_secs = time.monotonic() - t0
    stopped_early = run.stop.is_set()
    run.stop.set()
    for w in workers:
        w.join(5)
    good.join(20)
    print("\n%d conversations in %.1f s (%.0f/s), concurrency %d; slowest %.2f s (conversation %s)"
          % (run.done_count, fuzz_secs, run.done_count / max(fuzz_secs, 0.001), args.concurrency,
             run.slowest[0], run.slowest[1]))
    print_table(run)
    odd = collections.Counter()
    for fam, c in run.table.items():
        for label in c:
            if label.isdigit() and int(label) not in ALLOWED_CLOSE_CODES:
                odd[label] += c[label]
    if odd:
        print("connection.close codes outside %s: %s" % (ALLOWED_CLOSE_CODES, format_counter(odd)))
    for line in run.odd[:10]:
        print("odd:", line)

    results = []

    def check(name, ok, detail=""):
        results.append(bool(ok))
        print("%s - %s%s" % ("ok" if ok else "FAIL", name, (": " + detail) if detail else ""))

    print()
    alive = run.broker.is_alive() and not run.died and run.probe_failures < 2
    problem = None
    if not alive:
        problem = "crash" if not run.broker.is_alive() else "hang"
        suspects = sorted(set(run.in_flight) | set(run.recent))
        prefix = "%s-seed%d" % (problem, args.seed)
        note = "broker log tail:\n" + run.broker.log_tail(60)
        convs = [Conversation(args.seed, i, captures) for i in suspects]
        print("broker %s during the run; %d conversations were in flight or just done" % (
            "died" if problem == "crash" else "stopped answering", len(suspects)))
        print(run.broker.log_tail(60))
        culprits = reproduce(args, captures, suspects)
        if culprits:
            for conv, what, log in culprits:
                saved = save_inputs(args.crash_dir, prefix, [conv],
                                    "reproduces alone: %s\n%s" % (what, log))
                print("REPRODUCES (%s): %s -> %s" % (what, conv.describe(), saved[0]))
        else:
            saved = save_inputs(args.crash_dir, "suspect-" + prefix, convs, note)
            print("no single conversation reproduces it alone; saved %d suspects in %s"
                  % (len(saved), args.crash_dir))
    check("broker alive through the run (process up, liveness probes answered; worst %.3f s)"
          % run.max_probe, alive, problem or "")
    fresh_ok, fresh_err = True, ""
    if run.broker.is_alive():
        try:
            fresh_connection_works(run.broker.port)
        except Exception as e:
            fresh_ok, fresh_err = False, repr(e)
    else:
        fresh_ok, fresh_err = False, "broker not running"
    check("a fresh connection works after the fuzzing", fresh_ok, fresh_err)
    if args.mgmt_json:
        problems = mgmt_json_problems(run.broker.mgmt_port) if run.broker.is_alive() else ["down"]
        check("the management API still answers valid JSON", not problems, "; ".join(problems))
    mb = good.bytes / 1e6
    gsecs = max(good.seconds, 0.001)
    print("good client: %d published with confirms, %d consumed and acked, %.1f msg/s, %.1f MB/s, "
          "slowest batch of 20 %.2f s" % (good.sent, good.received, good.received / gsecs,
                                          mb / gsecs, good.max_batch))
    check("the good client saw no error and every message came back",
          not good.errors and good.sent > 0 and good.sent == good.received,
          "; ".join(good.errors[:3]))
    rss_end = run.broker.rss_kb()
    print("broker RSS as the run went: %s" % ", ".join(
        "%d%% %.1f MB" % (q * 25, kb / 1024) for q, kb in sorted(run.rss_by_quarter.items())))
    check("broker RSS stayed under %d MB (start %.1f MB, max %.1f MB, end %.1f MB)"
          % (args.rss_limit_mb, rss_start / 1024, run.max_rss / 1024, rss_end / 1024),
          0 < run.max_rss < args.rss_limit_mb * 1024)
    check("all %d conversations ran within %.0f s" % (args.count, args.budget),
          run.done_count == args.count and not timed_out,
          "" if not stopped_early else "stopped early after %d" % run.done_count)
    rc = run.broker.stop()
    check("the broker exits 0 on SIGTERM", rc == 0,
          "exit status %s" % (rc if rc is not None else "none: killed after 20 s"))
    if rc != 0:
        print(run.broker.log_tail(40))
    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    return 0 if all(results) else 1


def replay_only(args, captures):
    b = Broker(args.binary, tempfile.mkdtemp(prefix="warren-replay-"))
    try:
        convs = [Conversation(args.seed, i, captures) for i in args.conv or []]
        convs += [FileConversation(path) for path in args.replay_file]
        for conv in convs:
            i = conv.index
            print(conv.describe())
            if args.dump and i >= 0:
                os.makedirs(args.dump, exist_ok=True)
                with open(os.path.join(args.dump, "conv%d.bin" % i), "wb") as f:
                    f.write(conv.data)
            label, reader, secs = converse(b.port, conv)
            print("  -> %s%s in %.3f s; channel.close %s; broker %s" % (
                label, (" %r" % reader.conn_close[1]) if reader.conn_close else "", secs,
                reader.chan_codes or "-", "alive" if b.is_alive() else "DEAD"))
    finally:
        rc = b.stop()
        print("broker exit status", rc)
        if rc != 0:
            print(b.log_tail(40))
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    atexit.register(brokers_kill_leftovers)
    sys.exit(main())
