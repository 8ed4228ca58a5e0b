#!/usr/bin/python3
"""Benchmarks of the replicated cluster (not timed tests; docs/benchmarks.md has the figures).

  confirm    confirmed persistent publishing through warren-perf (window 1000, 16 B and 1 KiB
             bodies): one node without clustering, then three nodes with
             clustering.min_insync_replicas 1 and 2, all on the same machine, each node on its
             own address (network namespaces where available)
  failover   kill -9 of the leader during confirmed publishing, --rounds times: the time from the
             kill to the first publish the new leader confirms (pika, with every node's address)
  catchup    a follower joins a cluster holding --sync-mb MB: time until it is in sync, MB/s

Usage: bench_cluster.py WARREN WARREN_PERF [--what confirm,failover,catchup] [--duration S]
                        [--rounds N] [--sync-mb N] [--reps N]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import test_cluster  # noqa: E402


def perf(perf_bin, host, size, duration, publishers):
    out = subprocess.run([perf_bin, "--uri", "amqp://guest:guest@%s:5672/" % host,
                          "--scenario", "confirm", "--confirm", "1000", "--persistent",
                          "--size", str(size), "--duration", str(duration),
                          "--publishers", str(publishers), "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         timeout=duration + 120)
    if out.returncode != 0:
        raise RuntimeError("warren-perf: %s %s" % (out.stdout, out.stderr))
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_confirm(args):
    """Every setup once per repetition, in turn, so that a machine busy with something else
    for a while slows all of them rather than one."""
    setups = ("single", "min_insync=1", "min_insync=2")
    rates = {(st, size): [] for st in setups for size in (16, 1024)}
    for rep in range(args.reps):
        for setup in setups:
            if setup == "single":
                c = harness.Cluster(args.warren, nodes=1, etcd_members=1)
            else:
                c = harness.Cluster(args.warren, min_insync=setup.split("=")[1])
            try:
                if setup == "single":
                    c.start_single(0)
                    harness.wait_port(c.ip(0), 5672, 20)
                    host = c.ip(0)
                else:
                    c.start_all()
                    host = c.ip(c.wait_leader(20))
                for size in (16, 1024):
                    r = perf(args.perf, host, size, args.duration, args.publishers)
                    rate = r["confirmed"] / r["wall_s"]
                    rates[(setup, size)].append(rate)
                    print("%s %d B rep %d: %.0f confirmed/s, confirm latency p50 %.1f ms, "
                          "p99 %.1f ms" % (setup, size, rep + 1, rate,
                                           r["confirm_latency"]["p50_us"] / 1000,
                                           r["confirm_latency"]["p99_us"] / 1000), flush=True)
            finally:
                c.close()
    print("\n| setup | body | confirmed msgs/s (median of %d) | min–max | vs single |\n"
          "|---|---|---|---|---|" % args.reps)
    for setup in setups:
        for size in (16, 1024):
            v = rates[(setup, size)]
            base = statistics.median(rates[("single", size)])
            print("| %s | %d B | %.0f | %.0f–%.0f | %.2f |" % (
                setup, size, statistics.median(v), min(v), max(v), statistics.median(v) / base))
    return rates


def bench_failover(args):
    c = harness.Cluster(args.warren)
    try:
        a = argparse.Namespace(rounds=args.rounds, sync_mb=0)
        test_cluster.scenario_kill_leader(c, a)
    finally:
        c.close()


def bench_catchup(args):
    c = harness.Cluster(args.warren)
    try:
        test_cluster.scenario_join(c, argparse.Namespace(sync_mb=args.sync_mb, rounds=0))
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("warren")
    ap.add_argument("perf")
    ap.add_argument("--what", default="confirm,failover,catchup")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--publishers", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--sync-mb", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=1)
    args = ap.parse_args()
    for what in args.what.split(","):
        print("=== %s" % what, flush=True)
        {"confirm": bench_confirm, "failover": bench_failover, "catchup": bench_catchup}[what](args)


if __name__ == "__main__":
    main()
