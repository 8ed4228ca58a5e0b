#!/usr/bin/python3
"""A client reconnecting through a proxy that cuts the server-to-client stream after 64, 128,
192, ... bytes (the k-th connection gets 64*k bytes, then the cut) must connect as soon as a cut
leaves it the whole conversation, and the broker must not keep anything of the connections that
were cut.

The proxy cuts in four ways: `close` (both sockets closed), `rst` (both reset), `keep-upstream`
(the client's socket closed, the broker's left open and silent: a half-open connection the broker
can only find by its timeouts) and `stall` (nothing forwarded any more, nothing closed). The
client is hand-built (struct, no library), as careful as a client should be: every read has a
1 s limit, EOF or a timeout ends the attempt, it negotiates a 2 s heartbeat, and a connection
counts as made once a queue.declare on a new channel is answered.

Checked per mode: the reconnect loop connects at the first cut that holds the whole
conversation (found from one uncut run) and within 30 s; every attempt ends within its read
limit; and afterwards the broker lists only the live connection: at once for close and rst,
within the handshake timeout or two heartbeats for keep-upstream and stall.

Usage: test_cut_stream.py WARREN_BINARY, or test_cut_stream.py --rabbitmq AMQP_PORT MGMT_PORT
(the connection checks then allow RabbitMQ's own timeouts: handshake 10 s).
"""
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nettest  # noqa: E402
from nettest import check  # noqa: E402

FRAME_END = b"\xce"
STEP = 64
READ_LIMIT = 1.0
HEARTBEAT = 2
HANDSHAKE_TIMEOUT_MS = 3000  # given to Warren so that the keep-upstream check stays short


def shortstr(s):
    b = s.encode()
    return struct.pack("B", len(b)) + b


def longstr(b):
    return struct.pack(">I", len(b)) + b


def method(chan, cls, meth, args=b""):
    payload = struct.pack(">HH", cls, meth) + args
    return struct.pack(">BHI", 1, chan, len(payload)) + payload + FRAME_END


class Ended(Exception):
    """The attempt ended: EOF, reset or a read that timed out."""


class Client:
    """One attempt: the handshake, channel 1, a queue.declare. Counts the bytes it read."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=READ_LIMIT)
        self.buf = b""
        self.received = 0

    def read_method(self):
        while True:
            if len(self.buf) >= 7:
                ftype, chan, size = struct.unpack(">BHI", self.buf[:7])
                if len(self.buf) >= size + 8:
                    payload, self.buf = self.buf[7:7 + size], self.buf[size + 8:]
                    if ftype == 8:
                        continue
                    return chan, struct.unpack(">HH", payload[:4]), payload[4:]
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, OSError) as e:
                raise Ended(repr(e))
            if not data:
                raise Ended("EOF")
            self.received += len(data)
            self.buf += data

    def expect(self, chan, ids):
        got_chan, got_ids, args = self.read_method()
        if (got_chan, got_ids) != (chan, ids):
            raise AssertionError("expected %r on %d, got %r on %d" % (ids, chan, got_ids, got_chan))
        return args

    def conversation(self):
        s = self.sock
        s.sendall(b"AMQP\x00\x00\x09\x01")
        self.expect(0, (10, 10))
        s.sendall(method(0, 10, 11, longstr(b"") + shortstr("PLAIN") +
                         longstr(b"\x00guest\x00guest") + shortstr("en_US")))
        channel_max, frame_max, _ = struct.unpack(">HIH", self.expect(0, (10, 30))[:8])
        s.sendall(method(0, 10, 31, struct.pack(">HIH", channel_max, frame_max, HEARTBEAT)) +
                  method(0, 10, 40, shortstr("/") + shortstr("") + b"\x00"))
        self.expect(0, (10, 41))
        s.sendall(method(1, 20, 10, shortstr("")))
        self.expect(1, (20, 11))
        s.sendall(method(1, 50, 10, struct.pack(">H", 0) + shortstr("") + b"\x04" +
                         longstr(b"")))
        self.expect(1, (50, 11))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class CutProxy:
    """Forwards client->server in full and server->client up to STEP*k bytes on the k-th
    connection, then cuts the way `mode` says."""

    def __init__(self, upstream_port, mode, step=STEP):
        self.upstream_port, self.mode, self.step = upstream_port, mode, step
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.count = 0
        self.held = []  # sockets a cut leaves open
        self.lock = threading.Lock()
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.count += 1
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            limit = self.step * self.count
            threading.Thread(target=self.client_to_server, args=(client, upstream),
                             daemon=True).start()
            threading.Thread(target=self.server_to_client, args=(client, upstream, limit),
                             daemon=True).start()

    def client_to_server(self, client, upstream):
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                upstream.sendall(data)
        except OSError:
            pass
        if self.mode not in ("keep-upstream", "stall"):
            try:
                upstream.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def server_to_client(self, client, upstream, limit):
        sent = 0
        try:
            while sent < limit:
                data = upstream.recv(min(65536, limit - sent))
                if not data:
                    break
                client.sendall(data)
                sent += len(data)
        except OSError:
            pass
        if sent < limit:  # the conversation ended before the cut
            for s in (client, upstream):
                s.close()
            return
        if self.mode == "stall":
            with self.lock:
                self.held += [client, upstream]
            return
        if self.mode == "rst":
            for s in (client, upstream):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        try:
            client.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        client.close()
        if self.mode == "keep-upstream":
            with self.lock:
                self.held.append(upstream)
            # The broker's further output is read and dropped, so it never blocks on us.
            try:
                while upstream.recv(65536):
                    pass
            except OSError:
                pass
            return
        try:
            upstream.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        upstream.close()

    def close(self):
        self.listener.close()
        with self.lock:
            for s in self.held:
                try:
                    s.close()
                except OSError:
                    pass


def bytes_needed(port):
    """What the whole conversation reads from this broker, through no proxy."""
    c = Client(port)
    c.conversation()
    c.close()
    return c.received


def open_connections(api):
    status, conns = api.call("GET", "/connections")
    if status != 200:
        raise AssertionError("GET /api/connections: %d" % status)
    return len(conns)


def wait_for_connections(api, want, seconds):
    deadline = time.monotonic() + seconds
    got = open_connections(api)
    while got > want and time.monotonic() < deadline:
        time.sleep(0.1)
        got = open_connections(api)
    return got


def reconnect_through(port, api, mode, needed, rabbitmq):
    baseline = open_connections(api)
    proxy = CutProxy(port, mode)
    want_k = -(-needed // STEP)  # the first cut that holds the whole conversation
    start = time.monotonic()
    live = None
    attempts = []
    try:
        while time.monotonic() - start < 30:
            t = time.monotonic()
            c = Client(proxy.port)
            try:
                c.conversation()
                live = c
                break
            except Ended as e:
                took = time.monotonic() - t
                attempts.append(took)
                assert took < READ_LIMIT + 1, "attempt %d took %.1f s (%s)" % (
                    len(attempts), took, e)
                c.close()
        took = time.monotonic() - start
        assert live is not None, "no connection in 30 s after %d attempts" % len(attempts)
        assert len(attempts) + 1 == want_k, "connected on attempt %d, want %d (%d bytes)" % (
            len(attempts) + 1, want_k, needed)
        live.close()
        live = None
        # Nothing of the cut connections stays: at once when they were closed or reset, else
        # within the handshake timeout (or two heartbeats for one cut after connection.open).
        # RabbitMQ's management API lists connections up to 5 s late (its statistics interval).
        if mode in ("close", "rst"):
            allow = 2
        else:
            allow = (10 if rabbitmq else HANDSHAKE_TIMEOUT_MS / 1000) + 2 * HEARTBEAT + 2
        if rabbitmq:
            allow += 6
        left = wait_for_connections(api, baseline, allow)
        assert left == baseline, "%d connections listed %.0f s later, want %d" % (
            left, allow, baseline)
        print("# %s: connected on attempt %d after %.1f s (%d bytes needed), slowest failed "
              "attempt %.2f s, cut connections gone" % (mode, len(attempts) + 1, took, needed,
                                                       max(attempts or [0])))
    finally:
        if live:
            live.close()
        proxy.close()


def run(port, api, rabbitmq):
    needed = bytes_needed(port)
    for mode in ("close", "rst", "keep-upstream", "stall"):
        check("a client reconnecting through a proxy that cuts (%s) connects and leaves "
              "nothing behind" % mode,
              lambda mode=mode: reconnect_through(port, api, mode, needed, rabbitmq))


if __name__ == "__main__":
    nettest.main(run, "warren-cut-stream-",
                 args=("--set", "handshake_timeout=%d" % HANDSHAKE_TIMEOUT_MS))
