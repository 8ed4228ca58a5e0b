#!/usr/bin/python3
"""Crash consistency under power loss (issue 19): Warren keeps every promise its clients were given
before the power went, in every state the disk can be left in.

For each workload (workloads.py): start Warren under recorder.so (LD_PRELOAD), which logs every
write, truncate, fsync, create, rename, link and unlink under the data directory with the data,
while the workload's clients append a MARK to the same log each time they are told something
(publisher confirms, declare-oks, bind-oks) or are about to do something (acks, unbinds, deletes).
Then choose crash points in that log (before and after every fsync, after every mark, a few at
random), build with crashfs.py the data directories a power cut there could leave (what completed
fsyncs cover; each later write present, missing or torn at a 512-byte boundary; each directory
change not yet followed by an fsync of its directory done or not; several random combinations per
point, plus "nothing more" and "everything"), start Warren on each and check, over AMQP:

  - it starts (it may log and skip torn records; never refuse to start or crash);
  - every message whose confirm the client had received is there (in one of the queues it may be
    in), unless the client had sent an ack for it or deleted its queue;
  - every exchange and queue whose declare-ok had arrived exists, and every binding whose bind-ok
    had arrived routes, unless an unbind or delete had been sent;
  - no settled ack came back (at-least-once allows only acks not yet proven durable), no message
    of a deleted queue came back in a queue of the same name declared again, no copy was
    delivered twice without redelivered set, and nothing unknown or corrupt appeared;
  - each stream, read from its first offset, holds every confirmed message at the offset it
    had, with no gap and no message twice (retention may only have dropped its start).

Usage: powerloss.py WARREN RECORDER.so [--deep] [--workloads a,b] [--seed N] [--jobs 2]
       [--states-per-point N] [--max-points N] [--keep] [--verbose]
Prints per workload a line, then
  powerloss: N crash states checked, 0 confirmed lost, 0 declared lost, 0 failed starts
and exits 1 if anything failed (failing states are kept under the work directory).
"""
import argparse
import collections
import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import amqp_mini as amqp  # noqa: E402
import crashfs  # noqa: E402
import workloads  # noqa: E402

FAILURES = ("confirmed_lost", "declared_lost", "failed_start", "acked_back", "deleted_back",
            "duplicated", "phantom", "corrupt", "stream_order", "check_error")


PORTS_LOCK = threading.Lock()
PORTS_TAKEN = set()


def die_with_parent():
    """preexec_fn: the broker gets SIGKILL if this driver dies, however it dies."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def free_port():
    """A port nobody listens on now and that no other checker thread was given recently."""
    with PORTS_LOCK:
        while True:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
            if port not in PORTS_TAKEN:
                PORTS_TAKEN.add(port)
                if len(PORTS_TAKEN) > 512:
                    PORTS_TAKEN.clear()
                    PORTS_TAKEN.add(port)
                return port


class Broker:
    """A Warren process on a data directory; `log` holds its output."""

    def __init__(self, warren, data, settings=(), env=None, log_path=None):
        self.warren, self.data, self.settings, self.env = warren, data, settings, env
        self.log_path = log_path
        self.proc = None
        self.port = None

    def start(self, timeout=10.0):
        for _ in range(5):
            self.port = free_port()
            args = [self.warren, "--data-dir", self.data, "--port", str(self.port),
                    "--mgmt-port", "0"]
            for s in self.settings:
                args += ["--set", s]
            out = open(self.log_path, "w") if self.log_path else subprocess.DEVNULL
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                         env=self.env, preexec_fn=die_with_parent)
            if out is not subprocess.DEVNULL:
                out.close()
            # ready when *this* process says so (its "ready" line names its port): another
            # one may hold the port
            ready = re.compile(r"\bready\b.*:%d\b" % self.port)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if ready.search(self.output()):
                    return True
                time.sleep(0.003)
            self.kill()
            if "Address already in use" not in self.output():
                return False
        return False

    def output(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait()
        return self.proc.returncode if self.proc else None


# --- promises ----------------------------------------------------------------------------------

class Promises:
    """What the clients had been told (or had started doing) before a point of the log."""

    def __init__(self):
        self.confirmed = set()
        self.acksent = set()
        self.settled = set()
        self.objects = {}          # (kind, name) -> True while declared and not being deleted
        self.bindings = set()
        self.deleting = set()      # (kind, name, gen)
        self.deleted = set()       # (kind, name, gen)

    def apply(self, m):
        self.confirmed.update(m.get("confirmed", ()))
        self.acksent.update(tuple(p) for p in m.get("acksent", ()))
        self.settled.update(tuple(p) for p in m.get("settled", ()))
        for kind, name in m.get("declared", ()):
            self.objects[(kind, name)] = True
        self.bindings.update(tuple(b) for b in m.get("bound", ()))
        for b in m.get("unbinding", ()):
            self.bindings.discard(tuple(b))
        for kind, name, gen in m.get("deleting", ()):
            self.objects.pop((kind, name), None)
            self.deleting.add((kind, name, gen))
            self.bindings = {b for b in self.bindings
                             if (kind == "queue" and b[1] != name)
                             or (kind == "exchange" and b[0] != name)}
        for kind, name, gen in m.get("deleted", ()):
            self.deleted.add((kind, name, gen))

    def snapshot(self):
        p = Promises()
        p.confirmed = set(self.confirmed)
        p.acksent = set(self.acksent)
        p.settled = set(self.settled)
        p.objects = dict(self.objects)
        p.bindings = set(self.bindings)
        p.deleting = set(self.deleting)
        p.deleted = set(self.deleted)
        return p


# --- the check of one crash state ---------------------------------------------------------------

def drain(port, rec, promises, delayed, moving=False):
    """Everything the broker holds for the workload's queues: {queue: [(id, redelivered, body)]},
    the missing declared objects, and the bindings that do not route. moving: messages may move
    between queues while the counts are taken (a TTL dead-lettering into another queue), so a
    message can be missed by both counts and the total reached before every queue delivered:
    read on until the deliveries stop for a moment."""
    c = amqp.Conn(port)
    if delayed:
        # held messages whose time has come are routed right after the start
        time.sleep(0.03)
    missing, counts = [], {}
    for (kind, name) in sorted(promises.objects):
        try:
            if kind == "queue":
                c.declare_queue(name, passive=True)
            else:
                c.declare_exchange(name, "direct", passive=True)
        except amqp.Closed as e:
            if e.code != 404:
                raise
            missing.append((kind, name))
            c.open_channel(1)
    for q in sorted(rec["queues"]):
        try:
            counts[q] = c.declare_queue(q, passive=True)[0]
        except amqp.Closed as e:
            if e.code != 404:
                raise
            c.open_channel(1)
    got = collections.defaultdict(list)
    for q in counts:
        c.consume(q, q, no_ack=True)
    want = sum(counts.values())
    n = 0
    deadline = time.monotonic() + 10
    quiet = None
    while time.monotonic() < deadline:
        while c.events:
            ev = c.events.popleft()
            if ev[0] == "deliver":
                _, _, ctag, _, redelivered, _, body = ev
                got[ctag].append((body.split(b"|", 1)[0].decode(errors="replace"), redelivered,
                                  body))
                n += 1
        if n >= want:
            # a little longer: delayed messages may still be on their way
            if quiet is None:
                quiet = time.monotonic() + (0.05 if delayed or moving else 0.0)
            if time.monotonic() >= quiet:
                break
        c.fill(0.02)
    # bindings: a probe through each must reach its queue's consumer
    unrouted = []
    for i, (x, q, key) in enumerate(sorted(promises.bindings)):
        if q not in counts:
            unrouted.append((x, q, key))
            continue
        probe = b"probe-%d" % i
        c.send(amqp.Conn.publish_frames(x, key, probe, amqp.props(False), mandatory=True))
        ok = False
        end = time.monotonic() + 2
        while time.monotonic() < end and not ok:
            c.fill(0.02)
            while c.events:
                ev = c.events.popleft()
                if ev[0] == "deliver" and ev[-1] == probe and ev[2] == q:
                    ok = True
                elif ev[0] == "return" and ev[-1] == probe:
                    end = 0
                elif ev[0] == "method" and ev[2:4] == (20, 40):
                    raise amqp.Closed("channel closed during the binding probes")
        if not ok:
            unrouted.append((x, q, key))
    c.close()
    return got, missing, unrouted


def drain_streams(port, rec):
    """Each stream read from its first offset as a client would (prefetch, acks):
    {stream: [(offset, id, body)]}. A stream that is not there is left out (the declare check
    reports it if it was promised)."""
    out = {}
    for name in sorted(rec["streams"]):
        c = amqp.Conn(port)
        try:
            try:
                count = c.declare_queue(name, passive=True)[0]
            except amqp.Closed as e:
                if e.code != 404:
                    raise
                continue
            c.qos(100)
            c.consume(name, "check", args={"x-stream-offset": "first"})
            items = []
            deadline = time.monotonic() + 10
            while True:
                # deliveries can come with consume-ok, before any fill
                tag = None
                while c.events:
                    ev = c.events.popleft()
                    if ev[0] == "deliver":
                        _, _, _, tag, _, props, body = ev
                        off = amqp.headers_of(props).get("x-stream-offset")
                        items.append((off, body.split(b"|", 1)[0].decode(errors="replace"),
                                      body))
                if tag is not None:
                    c.send(amqp.Conn.ack_frame(tag, multiple=True))
                if len(items) >= count or time.monotonic() >= deadline:
                    break
                if not c.fill(0.25):
                    break  # a quarter of a second without a delivery: that is all there is
            out[name] = items
        finally:
            c.close()
    return out


def judge_streams(rec, promises, streams):
    """Failures of the streams of one state: each confirmed message there at the offset it was
    read at while the workload ran, the offsets one after another, each message once. Retention
    (x-max-length-bytes) drops whole segments from the head, while the workload ran and again
    when the broker starts on the state, so in such a stream a confirmed message may be missing
    only from before the first offset that is there: never from the middle or the end."""
    fail = collections.defaultdict(list)
    msgs, offsets = rec["msgs"], rec["offsets"]
    present = collections.defaultdict(set)
    first = {}  # stream -> the first offset there
    for name, items in streams.items():
        offs = [off for off, _, _ in items if off is not None]
        if offs:
            first[name] = min(offs)
        prev = None
        seen = collections.Counter()
        for off, mid, body in items:
            m = msgs.get(mid)
            if m is None:
                fail["phantom"].append("%s in %s" % (mid[:40], name))
                continue
            gens = [g for slot in m["slots"] for (q, g) in slot if q == name]
            if not gens:
                fail["phantom"].append("%s in %s (never published there)" % (mid, name))
                continue
            if body != m["body"]:
                fail["corrupt"].append("%s in %s" % (mid, name))
            if all(("queue", name, g) in promises.deleted for g in gens):
                fail["deleted_back"].append("%s in %s" % (mid, name))
            seen[mid] += 1
            present[name].add(mid)
            if off is None:
                fail["stream_order"].append("%s in %s without x-stream-offset" % (mid, name))
            elif mid in offsets and offsets[mid] != off:
                fail["stream_order"].append("%s in %s at offset %s, was at %d"
                                            % (mid, name, off, offsets[mid]))
            if prev is not None and off is not None and off != prev + 1:
                fail["stream_order"].append("%s: offset %s follows %s" % (name, off, prev))
            prev = off
        for mid, n in seen.items():
            if n > 1:
                fail["duplicated"].append("%s in %s x%d" % (mid, name, n))
    for mid in promises.confirmed:
        slot = msgs[mid]["slots"][0]
        name, gen = slot[0]
        if name not in rec["streams"]:
            continue
        if ("queue", name, gen) in promises.deleting or mid in present[name]:
            continue
        info = [i for i in rec["streams"][name] if i["gen"] == gen][0]
        if info["trim"] and mid in offsets and name in first and offsets[mid] < first[name]:
            continue  # dropped by retention
        fail["confirmed_lost"].append("%s (in %s at %s)" % (mid, name, offsets.get(mid, "?")))
    return fail


def judge(rec, promises, got):
    """Failures of one drained state: {kind: [details]}."""
    fail = collections.defaultdict(list)
    msgs = rec["msgs"]
    where = collections.defaultdict(set)
    copies = collections.Counter()
    for q, items in got.items():
        for mid, redelivered, body in items:
            m = msgs.get(mid)
            if m is None:
                fail["phantom"].append("%s in %s" % (mid[:40], q))
                continue
            slot_gens = [g for slot in m["slots"] for (sq, g) in slot if sq == q]
            if not slot_gens:
                fail["phantom"].append("%s in %s (never routed there)" % (mid, q))
                continue
            if body != m["body"]:
                fail["corrupt"].append("%s in %s" % (mid, q))
            if all(("queue", q, g) in promises.deleted for g in slot_gens):
                fail["deleted_back"].append("%s in %s" % (mid, q))
            where[mid].add(q)
            if not redelivered:
                copies[(mid, q)] += 1
    for (mid, q), n in copies.items():
        if n > 1:
            fail["duplicated"].append("%s in %s x%d without redelivered" % (mid, q, n))
    for mid in promises.confirmed:
        for slot in msgs[mid]["slots"]:
            names = [q for q, _ in slot]
            if names[0] in rec["streams"]:
                continue  # judge_streams
            if any((mid, q) in promises.acksent for q in names):
                continue
            if any(("queue", q, g) in promises.deleting for q, g in slot):
                continue
            if not where[mid] & set(names):
                fail["confirmed_lost"].append("%s (in %s)" % (mid, "|".join(names)))
    for mid, q in promises.settled:
        for slot in msgs[mid]["slots"]:
            names = [sq for sq, _ in slot]
            if q in names and where[mid] & set(names):
                fail["acked_back"].append("%s (acked from %s) in %s"
                                          % (mid, q, ",".join(sorted(where[mid] & set(names)))))
    return fail


def check_state(warren, state_dir, settings, rec, promises, delayed, moving=False):
    data = os.path.join(state_dir, "data")
    b = Broker(warren, data, settings, log_path=os.path.join(state_dir, "broker.log"))
    fail = collections.defaultdict(list)
    try:
        if not b.start():
            rc = b.kill()
            tail = b.output().strip().splitlines()[-3:]
            fail["failed_start"].append("exit %s: %s" % (rc, " / ".join(tail)))
            return fail
        held = re.search(r"and (\d+) into delayed exchanges", b.output())
        try:
            got, missing, unrouted = drain(b.port, rec, promises,
                                           delayed and (not held or held.group(1) != "0"),
                                           moving)
        except amqp.Closed as e:
            if b.proc.poll() is not None:
                fail["failed_start"].append("died during the check (exit %s)" % b.proc.returncode)
            else:
                fail["check_error"].append(str(e))
            return fail
        for kind, name in missing:
            fail["declared_lost"].append("%s %s" % (kind, name))
        for x, q, key in unrouted:
            fail["declared_lost"].append("binding %s -> %s (%s)" % (x, q, key))
        for k, v in judge(rec, promises, got).items():
            fail[k].extend(v)
        if rec["streams"]:
            for k, v in judge_streams(rec, promises, drain_streams(b.port, rec)).items():
                fail[k].extend(v)
        if b.proc.poll() is not None:
            fail["failed_start"].append("exited during the check (%s)" % b.proc.returncode)
    finally:
        b.kill()
        if "ERROR: AddressSanitizer" in b.output() or "runtime error:" in b.output():
            fail["failed_start"].append("sanitizer report")
    return fail


# --- one workload -------------------------------------------------------------------------------

def record(args, name, work):
    fn, n, settings, recenv = workloads.WORKLOADS[name][:4]
    if args.deep:
        n *= args.deep_factor
    root = os.path.join(work, name, "rec")
    os.makedirs(root)
    log = os.path.join(work, name, "writes.log")
    env = dict(os.environ, LD_PRELOAD=args.recorder, WARREN_RECORD_ROOT=root,
               WARREN_RECORD_LOG=log, **recenv)
    if args.sabotage:
        env["WARREN_RECORD_SABOTAGE"] = args.sabotage
    b = Broker(args.warren, os.path.join(root, "data"), settings, env=env,
               log_path=os.path.join(work, name, "recorded-broker.log"))
    if not b.start():
        raise SystemExit("powerloss: %s: the recorded broker did not start:\n%s"
                         % (name, b.output()))
    rec = workloads.Recording(log)
    rng = random.Random(args.seed * 1000 + len(name))
    try:
        fn(rec, b.port, rng, n)
    finally:
        b.kill()  # the last moment of the recording is as good as any other
    return rec, crashfs.read_log(log), settings


def spread(points, n):
    """n of the sorted points, evenly spread."""
    if len(points) <= n:
        return list(points)
    step = len(points) / n
    return [points[int(k * step)] for k in range(n)]


def choose_points(entries, rng, max_points, extra):
    syncs = crashfs.sync_points(entries)
    marks = [i for i, e in enumerate(entries) if e.op == crashfs.MARK]
    # just after a directory change, before the fsync of its directory: where the order of
    # unlinks, renames and creates matters
    names = {i + 1 for i, e in enumerate(entries)
             if e.op in (crashfs.UNLINK, crashfs.RENAME, crashfs.LINK, crashfs.MKDIR)
             or (e.op == crashfs.OPEN and e.flags & 1)}
    points = set(names)
    for i in syncs:
        points.add(i)      # every write before it, the sync itself not done
        points.add(i + 1)  # just after it
    for i in marks:
        points.add(i + 1)  # just after the client was told
    for _ in range(extra):
        points.add(rng.randrange(len(entries) + 1))
    if not max_points or len(points) <= max_points:
        return sorted(points)
    # a bounded run keeps up to half its points for directory changes, the rest spread evenly
    keep = set(spread(sorted(names), max_points // 2))
    keep.update(spread(sorted(points - keep), max_points - len(keep)))
    return sorted(keep)


def run_workload(args, name, work, totals):
    t0 = time.monotonic()
    rec, entries, settings = record(args, name, work)
    rng = random.Random(args.seed)
    recinfo = {"msgs": rec.msgs, "queues": set(rec.queues) - set(rec.streams),
               "streams": rec.streams, "offsets": dict(rec.offsets)}
    share = (workloads.WORKLOADS[name][4:] or [1])[0]
    points = choose_points(entries, rng, int(args.max_points * share), args.extra_points)
    model = crashfs.Model(entries)
    promises = Promises()
    seen = set()
    jobs = queue.Queue(maxsize=2 * args.jobs)
    results = collections.Counter()
    examples = collections.defaultdict(list)
    lock = threading.Lock()
    failed_dirs = []
    delayed = name == "delayed"
    moving = name == "deadletter"  # dl.ttl's messages expire into dl.dead during the check

    def worker():
        while True:
            item = jobs.get()
            if item is None:
                return
            sdir, k, prom = item
            try:
                fail = check_state(args.warren, sdir, settings, recinfo, prom, delayed, moving)
            except Exception as e:  # a checker bug must not pass as a clean state
                fail = {"check_error": ["%s: %s" % (type(e).__name__, e)]}
            with lock:
                results["states"] += 1
                bad = False
                for kind in FAILURES:
                    if fail.get(kind):
                        results[kind] += 1
                        bad = True
                        if len(examples[kind]) < 3:
                            examples[kind].append("point %d: %s" % (k, "; ".join(fail[kind][:3])))
                if bad and len(failed_dirs) < args.keep_failures:
                    failed_dirs.append(sdir)
                    with open(os.path.join(sdir, "failure.json"), "w") as f:
                        json.dump({"point": k, "fail": fail}, f, indent=1)
                elif not args.keep:
                    shutil.rmtree(sdir, ignore_errors=True)

    threads = [threading.Thread(target=worker) for _ in range(args.jobs)]
    for t in threads:
        t.start()
    mark_at = {i: json.loads(e.data) for i, e in enumerate(entries) if e.op == crashfs.MARK}
    made = 0
    last_mark = -1
    try:
        for k in points:
            while model.pos < k:
                if model.pos in mark_at:
                    promises.apply(mark_at[model.pos])
                    last_mark = model.pos
                model.advance(model.pos + 1)
            choices = ["none", "all"] + ["random"] * args.states_per_point
            for choice in choices:
                st = model.state(rng, choice)
                # the same disk under the same promises need not be checked twice
                d = (crashfs.digest(st), last_mark)
                if d in seen:
                    continue
                seen.add(d)
                sdir = os.path.join(work, name, "state-%05d-%d" % (k, made))
                os.makedirs(sdir)
                crashfs.materialise(st, sdir)  # the recorded root holds data/
                made += 1
                jobs.put((sdir, k, promises.snapshot()))
    finally:
        for _ in threads:
            jobs.put(None)
        for t in threads:
            t.join()
    syncs = len(crashfs.sync_points(entries))
    line = ("%-11s %5d log entries, %4d fsyncs, %4d points, %5d states: confirmed=%d acked=%d "
            "settled=%d declared=%d | lost=%d declared_lost=%d failed_starts=%d other=%d "
            "(%.0fs)" % (
                name, len(entries), syncs, len(points), results["states"],
                rec.counts["confirmed"], rec.counts["acked"], rec.counts["settled"],
                rec.counts["declared"], results["confirmed_lost"], results["declared_lost"],
                results["failed_start"],
                sum(results[k] for k in FAILURES[3:]), time.monotonic() - t0))
    extra = ["%s=%d" % (k, rec.counts[k]) for k in ("requeued", "rejected", "read", "nacked",
                                                    "stream_skips") if rec.counts[k]]
    if extra:
        line += "\n            also " + " ".join(extra)
    print(line, flush=True)
    for kind in FAILURES:
        for ex in examples[kind]:
            print("  %s: %s" % (kind.upper(), ex), flush=True)
    for d in failed_dirs:
        print("  kept: %s" % d, flush=True)
    for k, v in results.items():
        totals[k] += v
    return results


def main():
    # a timeout's SIGTERM unwinds like an error: brokers are killed, threads joined
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("warren")
    ap.add_argument("recorder")
    ap.add_argument("--workloads", default=",".join(workloads.WORKLOADS))
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--states-per-point", type=int, default=5,
                    help="random combinations per crash point, besides none and all")
    ap.add_argument("--max-points", type=int, default=400,
                    help="crash points per workload (0: every candidate)")
    ap.add_argument("--extra-points", type=int, default=20)
    ap.add_argument("--deep", action="store_true",
                    help="benchmark-style run: longer workloads, every point, more combinations")
    ap.add_argument("--deep-factor", type=int, default=4)
    ap.add_argument("--keep", action="store_true", help="keep every state and log")
    ap.add_argument("--keep-failures", type=int, default=5)
    ap.add_argument("--workdir")
    ap.add_argument("--sabotage", choices=["fdatasync"],
                    help="checking the checker: the recorded broker's fdatasync does nothing; "
                    "the run must then report confirmed messages lost (exit 1)")
    args = ap.parse_args()
    if args.deep:
        args.max_points = 0
        args.states_per_point = max(args.states_per_point, 6)
        args.extra_points = 200
    if args.seed is None:
        args.seed = int(time.time()) % 100000
    args.recorder = os.path.abspath(args.recorder)
    # in memory when possible: thousands of small data directories and the recorded broker's
    # fsyncs would otherwise load the disk other tests are timing
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    work = args.workdir or tempfile.mkdtemp(prefix="warren-powerloss-", dir=shm)
    os.makedirs(work, exist_ok=True)
    print("powerloss: seed %d, work directory %s" % (args.seed, work), flush=True)
    totals = collections.Counter()
    t0 = time.monotonic()
    for name in args.workloads.split(","):
        run_workload(args, name, work, totals)
    bad = sum(totals[k] for k in FAILURES)
    print("powerloss: %d crash states checked, %d confirmed lost, %d declared lost, "
          "%d failed starts" % (totals["states"], totals["confirmed_lost"],
                                totals["declared_lost"], totals["failed_start"]))
    print("powerloss: also %d with acked messages back, %d with deleted messages back, "
          "%d duplicated, %d phantom, %d corrupt, %d with stream offsets out of order, "
          "%d checker errors; %.0f s"
          % (totals["acked_back"], totals["deleted_back"], totals["duplicated"],
             totals["phantom"], totals["corrupt"], totals["stream_order"], totals["check_error"],
             time.monotonic() - t0), flush=True)
    if not args.keep and not (bad and args.keep_failures > 0):
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
