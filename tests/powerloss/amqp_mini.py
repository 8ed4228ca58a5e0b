"""A small AMQP 0-9-1 client on a raw socket for the power-loss test: pipelined confirmed
publishing, consumers, declares, binds, deletes, and nothing else. Frames are built by hand (not
with Warren's codec), as in tests/durability/crash_test.py.

Every event the broker sends is parsed into Conn.events: ("method", channel, class, method,
payload), ("deliver", channel, ctag, tag, redelivered, props, body), ("get", channel, tag,
redelivered, props, body), ("return", channel, code, props, body).
"""
import collections
import select
import socket
import struct
import time

FRAME_END = 0xCE


class Closed(Exception):
    """The broker closed the connection or channel, or went away."""

    def __init__(self, msg, code=None):
        super().__init__(msg)
        self.code = code


def shortstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!B", len(b)) + b


def longstr(b):
    b = b.encode() if isinstance(b, str) else b
    return struct.pack("!I", len(b)) + b


def table(d):
    out = b""
    for k, v in (d or {}).items():
        out += shortstr(k)
        if isinstance(v, bool):
            out += b"t" + struct.pack("!B", 1 if v else 0)
        elif isinstance(v, int):
            out += b"l" + struct.pack("!q", v)
        else:
            out += b"S" + longstr(v)
    return struct.pack("!I", len(out)) + out


def frame(ftype, channel, payload):
    return struct.pack("!BHI", ftype, channel, len(payload)) + payload + bytes([FRAME_END])


def method(channel, cls, mid, args=b""):
    return frame(1, channel, struct.pack("!HH", cls, mid) + args)


def props(persistent=True, headers=None, expiration=None):
    """Content-header property flags and list: delivery-mode, headers, expiration."""
    flags, body = 0, b""
    if headers:
        flags |= 1 << 13
        body += table(headers)
    if persistent:
        flags |= 1 << 12
        body += b"\x02"
    if expiration is not None:
        flags |= 1 << 8
        body += shortstr(str(expiration))
    return struct.pack("!H", flags) + body


def read_table(buf, off):
    """A field table at off: (dict, offset after it). Only the types Warren sends."""
    size = struct.unpack_from("!I", buf, off)[0]
    off += 4
    end = off + size
    out = {}
    while off < end:
        key, off = read_shortstr(buf, off)
        kind = chr(buf[off])
        off += 1
        if kind in "lL":
            v = struct.unpack_from("!q" if kind == "l" else "!Q", buf, off)[0]
            off += 8
        elif kind in "iI":
            v = struct.unpack_from("!i" if kind == "i" else "!I", buf, off)[0]
            off += 4
        elif kind in "sU":
            v = struct.unpack_from("!h", buf, off)[0]
            off += 2
        elif kind in "bBt":
            v = buf[off]
            off += 1
        elif kind in "SV":
            n = struct.unpack_from("!I", buf, off)[0] if kind == "S" else 0
            v = bytes(buf[off + 4:off + 4 + n]) if kind == "S" else None
            off += 4 + n if kind == "S" else 0
        elif kind == "F":
            v, off = read_table(buf, off)
        elif kind == "T":
            v = struct.unpack_from("!Q", buf, off)[0]
            off += 8
        else:
            raise ValueError("field type %r not understood" % kind)
        out[key.decode()] = v
    return out, end


def headers_of(prop_bytes):
    """The headers table of content-header properties (as props() lays them out), or {}."""
    flags = struct.unpack_from("!H", prop_bytes, 0)[0]
    off = 2
    if flags & (1 << 15):  # content-type
        _, off = read_shortstr(prop_bytes, off)
    if flags & (1 << 14):  # content-encoding
        _, off = read_shortstr(prop_bytes, off)
    if not flags & (1 << 13):
        return {}
    return read_table(prop_bytes, off)[0]


def read_shortstr(buf, off):
    n = buf[off]
    return bytes(buf[off + 1:off + 1 + n]), off + 1 + n


class Conn:
    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.events = collections.deque()
        self.partial = {}  # channel -> [kind, fields..., props, left, chunks]
        self.out = []
        self.send(b"AMQP\x00\x00\x09\x01")
        self.expect(0, 10, 10)
        self.send(method(0, 10, 11, table({}) + shortstr("PLAIN")
                         + longstr(b"\0guest\0guest") + shortstr("en_US")))
        tune = self.expect(0, 10, 30)
        channel_max, frame_max, _ = struct.unpack_from("!HIH", tune, 4)
        self.frame_max = frame_max
        self.send(method(0, 10, 31, struct.pack("!HIH", channel_max, frame_max, 0)))
        self.send(method(0, 10, 40, shortstr("/") + shortstr("") + b"\0"))
        self.expect(0, 10, 41)
        self.open_channel(1)

    # -- I/O ---------------------------------------------------------------------------------

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Closed(repr(e)) from e

    def fileno(self):
        return self.sock.fileno()

    def fill(self, wait):
        r, _, _ = select.select([self.sock], [], [], wait)
        if not r:
            return False
        try:
            data = self.sock.recv(1 << 20)
        except OSError as e:
            raise Closed(repr(e)) from e
        if not data:
            raise Closed("EOF")
        self.buf += data
        self.parse()
        return True

    def parse(self):
        buf, off, n = self.buf, 0, len(self.buf)
        try:
            while n - off >= 7:
                ftype, ch, size = struct.unpack_from("!BHI", buf, off)
                if n - off < size + 8:
                    break
                if buf[off + 7 + size] != FRAME_END:
                    raise Closed("bad frame end")
                self.on_frame(ftype, ch, bytes(buf[off + 7:off + 7 + size]))
                off += size + 8
        finally:
            del buf[:off]

    def on_frame(self, ftype, ch, payload):
        if ftype == 1:
            cls, mid = struct.unpack_from("!HH", payload)
            if (cls, mid) == (10, 50):
                code = struct.unpack_from("!H", payload, 4)[0]
                text, _ = read_shortstr(payload, 6)
                raise Closed("connection closed by broker: %d %s" % (code, text.decode()), code)
            if (cls, mid) == (60, 60):  # deliver
                ctag, off = read_shortstr(payload, 4)
                tag, bits = struct.unpack_from("!QB", payload, off)
                self.partial[ch] = ["deliver", ctag.decode(), tag, bool(bits & 1)]
            elif (cls, mid) == (60, 71):  # get-ok
                tag, bits = struct.unpack_from("!QB", payload, 4)
                self.partial[ch] = ["get", tag, bool(bits & 1)]
            elif (cls, mid) == (60, 50):  # return
                code = struct.unpack_from("!H", payload, 4)[0]
                self.partial[ch] = ["return", code]
            else:
                self.events.append(("method", ch, cls, mid, payload))
        elif ftype == 2:
            p = self.partial[ch]
            size = struct.unpack_from("!Q", payload, 4)[0]
            p += [payload[12:], size, []]
            if size == 0:
                self.done_content(ch)
        elif ftype == 3:
            p = self.partial[ch]
            p[-1].append(payload)
            p[-2] -= len(payload)
            if p[-2] <= 0:
                self.done_content(ch)

    def done_content(self, ch):
        p = self.partial.pop(ch)
        body = b"".join(p[-1])
        self.events.append(tuple([p[0], ch] + p[1:-3] + [p[-3], body]))

    def expect(self, ch, cls, mid, timeout=10.0, keep=None):
        """Waits for one method on channel ch; other events go to `keep` (a list) if given,
        else stay queued. A channel.close on ch raises Closed (after close-ok)."""
        deadline = time.monotonic() + timeout
        skipped = []
        try:
            while True:
                while self.events:
                    ev = self.events.popleft()
                    if ev[0] == "method" and ev[1] == ch and ev[2:4] == (cls, mid):
                        return ev[4]
                    if ev[0] == "method" and ev[1] == ch and ev[2:4] == (20, 40):
                        code = struct.unpack_from("!H", ev[4], 4)[0]
                        text, _ = read_shortstr(ev[4], 6)
                        self.send(method(ch, 20, 41))
                        raise Closed("channel closed: %d %s" % (code, text.decode()), code)
                    (keep if keep is not None else skipped).append(ev)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Closed("timeout waiting for %d.%d" % (cls, mid))
                self.fill(left)
        finally:
            self.events.extendleft(reversed(skipped))

    def close(self):
        try:
            self.send(method(0, 10, 50, struct.pack("!H", 200) + shortstr("bye")
                             + struct.pack("!HH", 0, 0)))
            self.expect(0, 10, 51, timeout=2, keep=[])
        except Closed:
            pass
        self.sock.close()

    # -- methods -----------------------------------------------------------------------------

    def open_channel(self, ch):
        self.send(method(ch, 20, 10, shortstr("")))
        self.expect(ch, 20, 11)

    def confirm_select(self, ch=1):
        self.send(method(ch, 85, 10, b"\0"))
        self.expect(ch, 85, 11)

    def declare_queue(self, name, durable=True, args=None, passive=False, ch=1):
        bits = (1 if passive else 0) | (2 if durable else 0)
        self.send(method(ch, 50, 10, struct.pack("!H", 0) + shortstr(name) + bytes([bits])
                         + table(args)))
        ok = self.expect(ch, 50, 11)
        _, off = read_shortstr(ok, 4)
        return struct.unpack_from("!II", ok, off)

    def declare_exchange(self, name, kind, durable=True, args=None, passive=False, ch=1):
        bits = (1 if passive else 0) | (2 if durable else 0)
        self.send(method(ch, 40, 10, struct.pack("!H", 0) + shortstr(name) + shortstr(kind)
                         + bytes([bits]) + table(args)))
        self.expect(ch, 40, 11)

    def bind(self, queue, exchange, key, ch=1):
        self.send(method(ch, 50, 20, struct.pack("!H", 0) + shortstr(queue) + shortstr(exchange)
                         + shortstr(key) + b"\0" + table({})))
        self.expect(ch, 50, 21)

    def unbind(self, queue, exchange, key, ch=1):
        self.send(method(ch, 50, 50, struct.pack("!H", 0) + shortstr(queue) + shortstr(exchange)
                         + shortstr(key) + table({})))
        self.expect(ch, 50, 51)

    def delete_queue(self, name, ch=1):
        self.send(method(ch, 50, 40, struct.pack("!H", 0) + shortstr(name) + b"\0"))
        self.expect(ch, 50, 41)

    def delete_exchange(self, name, ch=1):
        self.send(method(ch, 40, 20, struct.pack("!H", 0) + shortstr(name) + b"\0"))
        self.expect(ch, 40, 21)

    def qos(self, prefetch, ch=1, keep=None):
        self.send(method(ch, 60, 10, struct.pack("!IHB", 0, prefetch, 0)))
        self.expect(ch, 60, 11, keep=keep)

    def consume(self, queue, ctag, no_ack=False, ch=1, keep=None, args=None):
        self.send(method(ch, 60, 20, struct.pack("!H", 0) + shortstr(queue) + shortstr(ctag)
                         + bytes([2 if no_ack else 0]) + table(args)))
        self.expect(ch, 60, 21, keep=keep)

    @staticmethod
    def publish_frames(exchange, key, body, prop_bytes, ch=1, mandatory=False, frame_max=131072):
        out = [method(ch, 60, 40, struct.pack("!H", 0) + shortstr(exchange) + shortstr(key)
                      + bytes([1 if mandatory else 0])),
               frame(2, ch, struct.pack("!HHQ", 60, 0, len(body)) + prop_bytes)]
        step = frame_max - 8
        for i in range(0, len(body), step):
            out.append(frame(3, ch, body[i:i + step]))
        return b"".join(out)

    @staticmethod
    def ack_frame(tag, multiple=False, ch=1):
        return method(ch, 60, 80, struct.pack("!QB", tag, 1 if multiple else 0))

    @staticmethod
    def reject_frame(tag, requeue, ch=1):
        return method(ch, 60, 90, struct.pack("!QB", tag, 1 if requeue else 0))
