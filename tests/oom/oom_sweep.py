#!/usr/bin/python3
"""Out-of-memory sweep: one broker with the allocation fault injector (failmalloc.c), one
connection per n, where connection k fails allocation number n = first + k counted from its
accept. Each connection runs the same scenario with hand-built frames: handshake, channel.open,
exchange.declare, queue.declare, queue.bind, confirm.select, three confirmed publishes,
basic.consume, three deliveries acked, a passive declare showing the queue empty,
connection.close. The sweep goes on until a scenario finishes without reaching its failure (n is
past the scenario's allocations), or the time budget ends.

Checks: the broker never dies; every scenario either completes or ends cleanly (connection.close
or channel.close from the broker, or the socket closed) within the reply timeout - a lost reply
is a hang and fails the test; afterwards a good client works, and SIGTERM exits 0 with no
sanitizer report (leaks included, in a sanitizer build).

Usage: oom_sweep.py --preload LIBFAILMALLOC.so WARREN | oom_sweep.py WARREN_OOM (the --wrap build)
       [--first N] [--last N] [--budget SECONDS] [--timeout SECONDS]"""
import argparse
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "net"))
from test_slow_clients import (Raw, channel_open, close_reason, free_port, frame,  # noqa: E402
                               longstr, method, publish, shortstr)


class Closed(Exception):
    """The broker ended the scenario cleanly."""


def read_method(r):
    try:
        chan, cls, meth, args = r.read_method()
    except EOFError:
        raise Closed("socket closed")
    except ConnectionResetError:
        raise Closed("connection reset")
    if (cls, meth) == (10, 50):
        raise Closed("connection.close %d %s" % close_reason(args))
    if (cls, meth) == (20, 40):
        raise Closed("channel.close %d %s" % close_reason(args))
    return cls, meth, args


def expect(r, cls, meth):
    got = read_method(r)
    if got[:2] != (cls, meth):
        raise AssertionError("got %d.%d, want %d.%d" % (got[0], got[1], cls, meth))
    return got[2]


def scenario(port, k, timeout):
    try:
        # A failure inside libevent's socket setup can leave a new connection unread: the
        # handshake timeout (1 s here) must then close it, so wait longer than that.
        r = Raw(port, timeout=2.5, handshake=False)
    except (ConnectionRefusedError, socket.timeout) as e:
        raise AssertionError("cannot connect: %r" % e)
    try:
        try:
            r.handshake()
        except AssertionError as e:  # Raw.expect saw connection.close
            raise Closed(str(e))
        except (EOFError, ConnectionResetError):
            raise Closed("socket closed in the handshake")
        r.sock.settimeout(timeout)
        x, q, key = "oom-x-%d" % k, "oom-q-%d" % k, "k"
        r.sock.sendall(channel_open(1))
        expect(r, 20, 11)
        r.sock.sendall(method(1, 40, 10, struct.pack(">H", 0) + shortstr(x) + shortstr("direct") +
                              b"\x04" + longstr(b"")))  # auto-delete
        expect(r, 40, 11)
        r.sock.sendall(method(1, 50, 10, struct.pack(">H", 0) + shortstr(q) + b"\x04" +
                              longstr(b"")))  # exclusive
        expect(r, 50, 11)
        r.sock.sendall(method(1, 50, 20, struct.pack(">H", 0) + shortstr(q) + shortstr(x) +
                              shortstr(key) + b"\x00" + longstr(b"")))
        expect(r, 50, 21)
        r.sock.sendall(method(1, 85, 10, b"\x00"))
        expect(r, 85, 11)
        for i in range(3):
            r.sock.sendall(publish(1, x, key, 5, b"msg-%d" % i))
        confirmed = 0
        while confirmed < 3:
            cls, meth, args = read_method(r)
            if (cls, meth) == (60, 120):
                raise AssertionError("publish nacked")
            if (cls, meth) != (60, 80):
                raise AssertionError("got %d.%d, want basic.ack" % (cls, meth))
            tag, multiple = struct.unpack(">QB", args[:9])
            confirmed = tag if multiple & 1 else max(confirmed, tag)
        r.sock.sendall(method(1, 60, 20, struct.pack(">H", 0) + shortstr(q) + shortstr("c") +
                              b"\x00" + longstr(b"")))
        expect(r, 60, 21)
        for _ in range(3):
            args = expect(r, 60, 60)
            tag = struct.unpack(">Q", args[1 + args[0]:9 + args[0]])[0]
            while True:  # header and body
                ftype, _, payload = r.read_frame()
                if ftype == 3:
                    break
            r.sock.sendall(method(1, 60, 80, struct.pack(">QB", tag, 0)))
        r.sock.sendall(method(1, 50, 10, struct.pack(">H", 0) + shortstr(q) + b"\x01" +
                              longstr(b"")))  # passive
        args = expect(r, 50, 11)
        n = args[0]
        count = struct.unpack(">I", args[1 + n:5 + n])[0]
        if count != 0:
            raise AssertionError("%d messages left after three acks" % count)
        r.sock.sendall(method(0, 10, 50, struct.pack(">H", 200) + shortstr("bye") +
                              struct.pack(">HH", 0, 0)))
        expect(r, 10, 51)
        return "ok"
    finally:
        r.close()


def good_client(port):
    r = Raw(port, timeout=5)
    r.sock.sendall(channel_open(1) + method(1, 50, 10, struct.pack(">H", 0) + shortstr("after") +
                                            b"\x08" + longstr(b"")))
    expect(r, 20, 11)
    expect(r, 50, 11)
    r.sock.sendall(publish(1, "", "after", 2, b"ok") +
                   method(1, 60, 70, struct.pack(">H", 0) + shortstr("after") + b"\x01"))
    expect(r, 60, 71)
    r.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("broker")
    ap.add_argument("--preload")
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--last", type=int, default=100000)
    ap.add_argument("--budget", type=float, default=45)
    ap.add_argument("--timeout", type=float, default=2.0)
    args = ap.parse_args()

    d = tempfile.mkdtemp(prefix="warren-oom-")
    port = free_port()
    logpath = os.path.join(d, "warren.log")
    log = open(logpath, "w+")
    env = dict(os.environ, WARREN_FAIL_NTH=str(args.first), WARREN_FAIL_LAST=str(args.last))
    if args.preload:
        env["LD_PRELOAD"] = os.path.abspath(args.preload)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    proc = subprocess.Popen([args.broker, "--port", str(port), "--mgmt-port", "0",
                             "--data-dir", os.path.join(d, "data"), "--set", "heartbeat=0",
                             "--set", "handshake_timeout=1000"],
                            stderr=log, env=env)
    deadline = time.time() + 20
    while time.time() < deadline and "ready" not in open(logpath).read():
        time.sleep(0.05)
    failures = []
    outcomes = {"ok": 0, "closed": 0}
    closes = {}
    t0 = time.monotonic()
    k = 0
    n = args.first
    finished = False
    while n <= args.last and time.monotonic() - t0 < args.budget:
        try:
            outcome = scenario(port, k, args.timeout)
            outcomes["ok"] += 1
        except Closed as e:
            outcome = "closed"
            outcomes["closed"] += 1
            reason = str(e).split(" - ")[0]
            closes[reason] = closes.get(reason, 0) + 1
        except (BrokenPipeError, ConnectionResetError) as e:  # closed while we were sending
            outcome = "closed"
            outcomes["closed"] += 1
            closes["socket closed"] = closes.get("socket closed", 0) + 1
        except socket.timeout:
            outcome = "hang"
            failures.append("n=%d: no reply within %.1f s (a lost reply)" % (n, args.timeout))
        except Exception as e:  # a wrong reply
            outcome = "bad"
            failures.append("n=%d: %r" % (n, e))
        if proc.poll() is not None:
            failures.append("n=%d: the broker died (exit %s)" % (n, proc.returncode))
            break
        fired = ("failmalloc: connection %d:" % k) in open(logpath).read()
        if outcome != "ok" and not fired:
            failures.append("n=%d: %s without an injected failure" % (n, outcome))
        if outcome == "ok" and not fired:
            finished = True  # n is past every allocation of the scenario
            break
        k += 1
        n += 1
    elapsed = time.monotonic() - t0
    if proc.poll() is None:
        try:
            good_client(port)
        except Exception as e:
            failures.append("a good client failed after the sweep: %r" % e)
        proc.terminate()
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = "hung on SIGTERM"
        if rc != 0:
            failures.append("the broker exited with %s on SIGTERM" % rc)
    text = open(logpath).read()
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        if marker in text:
            i = text.index(marker)
            failures.append("sanitizer report:\n" + text[i:i + 3000])
            break
    print("# n = %d..%d in %.1f s (%s): %d completed, %d closed cleanly %s" %
          (args.first, n, elapsed, "every allocation of the scenario" if finished else "budget",
           outcomes["ok"], outcomes["closed"], sorted(closes.items())))
    for f in failures[:30]:
        print("FAIL -", f)
    if failures:
        print("# broker log:", logpath)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
