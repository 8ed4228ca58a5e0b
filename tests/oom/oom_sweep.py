#!/usr/bin/python3
"""Out-of-memory sweep: per scenario, one broker with the allocation fault injector
(failmalloc.c), one connection per n, where connection k fails allocation number n = first + k
counted from its accept. Each connection runs the scenario with hand-built frames. The sweep of
a scenario goes on until it finishes without reaching its failure (n is past the scenario's
allocations), or its time budget ends. Scenarios:
  basic       handshake, channel.open, exchange.declare, queue.declare, queue.bind,
              confirm.select, three confirmed publishes, basic.consume, three deliveries acked,
              a passive declare showing the queue empty, connection.close
  autodelete  the only consumer of an auto-delete queue receives three messages: a failure
              while delivering fails the connection, whose release deletes the queue the
              dispatch loop is still working on
  tx          tx.select, three publishes and a commit, three deliveries acked and a commit: a
              failure while committing fails the connection under the commit loop
  confirms    confirmed publishes alternating between a queue that accepts and one that
              refuses (reject-publish), so the confirm ranges grow mid-turn

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
from test_slow_clients import (Raw, channel_open, close_reason, free_port,  # noqa: E402
                               longstr, method, publish, shortstr, table_long)


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


def connect(port, timeout):
    try:
        # A failure inside libevent's socket setup can leave a new connection unread: the
        # handshake timeout (1 s here) must then close it, so wait longer than that.
        r = Raw(port, timeout=2.5, handshake=False)
    except (ConnectionRefusedError, socket.timeout) as e:
        raise AssertionError("cannot connect: %r" % e)
    try:
        r.handshake()
    except AssertionError as e:  # Raw.expect saw connection.close
        r.close()
        raise Closed(str(e))
    except (EOFError, ConnectionResetError):
        r.close()
        raise Closed("socket closed in the handshake")
    r.sock.settimeout(timeout)
    return r


def declare(r, q, flags, args=b""):
    r.sock.sendall(method(1, 50, 10, struct.pack(">H", 0) + shortstr(q) + bytes([flags]) +
                          longstr(args)))
    return expect(r, 50, 11)


def consume(r, q, no_ack):
    r.sock.sendall(method(1, 60, 20, struct.pack(">H", 0) + shortstr(q) + shortstr("c") +
                          (b"\x02" if no_ack else b"\x00") + longstr(b"")))
    expect(r, 60, 21)


def receive(r, count):
    """count deliveries (method, header, body); returns their tags."""
    tags = []
    for _ in range(count):
        args = expect(r, 60, 60)
        tags.append(struct.unpack(">Q", args[1 + args[0]:9 + args[0]])[0])
        while True:  # header and body
            ftype, _, payload = r.read_frame()
            if ftype == 3:
                break
    return tags


def ack(tag):
    return method(1, 60, 80, struct.pack(">QB", tag, 0))


def close_connection(r):
    r.sock.sendall(method(0, 10, 50, struct.pack(">H", 200) + shortstr("bye") +
                          struct.pack(">HH", 0, 0)))
    expect(r, 10, 51)


def queue_count(r, q):
    args = declare(r, q, 0x01)  # passive
    n = args[0]
    return struct.unpack(">I", args[1 + n:5 + n])[0]


def scenario_basic(r, k):
    x, q, key = "oom-x-%d" % k, "oom-q-%d" % k, "k"
    r.sock.sendall(method(1, 40, 10, struct.pack(">H", 0) + shortstr(x) + shortstr("direct") +
                          b"\x04" + longstr(b"")))  # auto-delete
    expect(r, 40, 11)
    declare(r, q, 0x04)  # exclusive
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
    consume(r, q, no_ack=False)
    for tag in receive(r, 3):
        r.sock.sendall(ack(tag))
    count = queue_count(r, q)
    if count != 0:
        raise AssertionError("%d messages left after three acks" % count)


def scenario_autodelete(r, k):
    q = "oom-ad-%d" % k
    declare(r, q, 0x08)  # auto-delete, not exclusive: only its consumer keeps it
    consume(r, q, no_ack=True)
    r.sock.sendall(b"".join(publish(1, "", q, 5, b"msg-%d" % i) for i in range(3)))
    receive(r, 3)


def scenario_tx(r, k):
    q = "oom-tx-%d" % k
    declare(r, q, 0x04)
    r.sock.sendall(method(1, 90, 10))
    expect(r, 90, 11)
    r.sock.sendall(b"".join(publish(1, "", q, 5, b"msg-%d" % i) for i in range(3)) +
                   method(1, 90, 20))
    expect(r, 90, 21)
    consume(r, q, no_ack=False)
    tags = receive(r, 3)
    r.sock.sendall(b"".join(ack(t) for t in tags) + method(1, 90, 20))
    expect(r, 90, 21)
    count = queue_count(r, q)
    if count != 0:
        raise AssertionError("%d messages left after a committed ack of three" % count)


def scenario_confirms(r, k):
    ok_q, full_q = "oom-cf-ok-%d" % k, "oom-cf-full-%d" % k
    declare(r, ok_q, 0x04)
    declare(r, full_q, 0x04, table_long("x-max-length", 0) +
            shortstr("x-overflow") + b"S" + longstr(b"reject-publish"))
    r.sock.sendall(method(1, 85, 10, b"\x00"))
    expect(r, 85, 11)
    n = 12  # alternating ack and nack ranges: more than the first 8 slots
    r.sock.sendall(b"".join(publish(1, "", full_q if i % 2 else ok_q, 5, b"m-%03d" % i)
                            for i in range(n)))
    seen = {}
    while len(seen) < n:
        cls, meth, args = read_method(r)
        if (cls, meth) not in ((60, 80), (60, 120)):
            raise AssertionError("got %d.%d, want basic.ack or basic.nack" % (cls, meth))
        tag, multiple = struct.unpack(">QB", args[:9])
        for t in (range(1, tag + 1) if multiple & 1 else [tag]):
            seen.setdefault(t, meth)
    wrong = [t for t, m in seen.items() if m != (120 if (t - 1) % 2 else 80)]
    if wrong:
        raise AssertionError("wrong confirm for publishes %s" % wrong)


SCENARIOS = {"basic": scenario_basic, "autodelete": scenario_autodelete, "tx": scenario_tx,
             "confirms": scenario_confirms}


def scenario(fn, port, k, timeout):
    r = connect(port, timeout)
    try:
        r.sock.sendall(channel_open(1))
        expect(r, 20, 11)
        fn(r, k)
        close_connection(r)
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


def sweep(args, name, fn):
    """Sweeps one scenario on a fresh broker; returns the failures."""
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
            outcome = scenario(fn, port, k, args.timeout)
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
    print("# %s: n = %d..%d in %.1f s (%s): %d completed, %d closed cleanly %s" %
          (name, args.first, n, elapsed,
           "every allocation of the scenario" if finished else "budget",
           outcomes["ok"], outcomes["closed"], sorted(closes.items())))
    failures = ["%s: %s" % (name, f) for f in failures]
    if failures:
        failures.append("%s: broker log: %s" % (name, logpath))
    return failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("broker")
    ap.add_argument("--preload")
    ap.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                    help="run only these (repeatable; default: all)")
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--last", type=int, default=100000)
    ap.add_argument("--budget", type=float, default=45, help="seconds per scenario")
    ap.add_argument("--timeout", type=float, default=2.0)
    args = ap.parse_args()
    failures = []
    for name in args.scenario or list(SCENARIOS):
        failures += sweep(args, name, SCENARIOS[name])
    for f in failures[:40]:
        print("FAIL -", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
