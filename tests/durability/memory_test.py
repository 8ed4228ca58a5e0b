#!/usr/bin/env python3
"""Queues larger than memory: the broker's RSS stays under its memory limit plus a fixed
overhead while queues hold several times that limit, and every message drains intact.

Starts warren with vm_memory_high_watermark.absolute = LIMIT, fills a durable queue with
persistent and transient messages and a non-durable queue with transient ones (FILL bytes in
all, three times LIMIT), samples VmRSS every 20 ms throughout, then drains both queues checking
every body, and fails if the highest RSS seen passes LIMIT + OVERHEAD. Bounded: about 20 s.

usage: memory_test.py path/to/warren
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, "/usr/lib/python3/dist-packages")
import pika  # noqa: E402

LIMIT = 96 << 20
OVERHEAD = 48 << 20       # code, libraries, buffers, the store's batch: independent of depth
FILL = 3 * LIMIT
BODY = 32 << 10
DEADLINE_S = 120


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.max, self.stop = pid, 0, False

    def run(self):
        while not self.stop:
            try:
                self.max = max(self.max, rss_bytes(self.pid))
            except OSError:
                return
            time.sleep(0.02)


def body_for(queue, i):
    head = ("%s:%d:" % (queue, i)).encode()
    return (head * (BODY // len(head) + 1))[:BODY]


def main():
    warren = sys.argv[1]
    data = tempfile.mkdtemp(prefix="warren-memory-test-")
    port = free_port()
    sanitizer = bool(os.environ.get("ASAN_OPTIONS"))
    if sanitizer:
        # ASan's shadow memory and quarantine keep RSS above any small limit, and the alarm
        # would block the publisher for good: page from the start instead, alarm far away
        limits = ["vm_memory_high_watermark.absolute=%d" % (4 << 30),
                  "vm_memory_high_watermark_paging_ratio=0.001"]
    else:
        limits = ["vm_memory_high_watermark.absolute=%d" % LIMIT]
    proc = subprocess.Popen(
        [warren, "--port", str(port), "--mgmt-port", "0", "--data-dir", data]
        + [arg for kv in limits for arg in ("--set", kv)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = []
    try:
        for line in proc.stdout:
            log.append(line)
            if " ready" in line:
                break
        threading.Thread(target=lambda: log.extend(proc.stdout), daemon=True).start()
        sampler = Sampler(proc.pid)
        sampler.start()
        t0 = time.time()
        params = pika.ConnectionParameters("127.0.0.1", port, blocked_connection_timeout=60)
        conn = pika.BlockingConnection(params)
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare("big-durable", durable=True)
        ch.queue_declare("big-transient", durable=False)
        per_queue = {"big-durable": FILL * 2 // 3 // BODY, "big-transient": FILL // 3 // BODY}
        for q, n in per_queue.items():
            for i in range(n):
                mode = 2 if (q == "big-durable" and i % 2 == 0) else 1
                ch.basic_publish("", q, body_for(q, i),
                                 pika.BasicProperties(delivery_mode=mode, message_id=str(i)))
                if time.time() - t0 > DEADLINE_S:
                    raise SystemExit("FAIL: filling took over %d s" % DEADLINE_S)
        fill_s = time.time() - t0
        rss_full = rss_bytes(proc.pid)
        for q, n in per_queue.items():
            depth = ch.queue_declare(q, passive=True).method.message_count
            if depth != n:
                raise SystemExit("FAIL: %s holds %d messages, expected %d" % (q, depth, n))
        conn.close()
        # a connection that published while the alarm was up is not read until it clears
        # (RabbitMQ's rule), so consumers use their own, as RabbitMQ's docs advise
        conn = pika.BlockingConnection(params)
        ch = conn.channel()
        ch.basic_qos(prefetch_count=64)
        for q, n in per_queue.items():
            seen = 0
            for method, props, body in ch.consume(q, inactivity_timeout=10):
                if method is None:
                    depth = ch.queue_declare(q, passive=True).method.message_count
                    print("".join(log[-20:]))
                    raise SystemExit("FAIL: %s stalled after %d of %d (%d ready)" % (q, seen, n, depth))
                i = int(props.message_id)
                if i != seen or body != body_for(q, i):
                    raise SystemExit("FAIL: %s message %d came back as %s (%d bytes)"
                                     % (q, seen, props.message_id, len(body)))
                ch.basic_ack(method.delivery_tag)
                seen += 1
                if seen == n:
                    break
            ch.cancel()
        conn.close()
        sampler.stop = True
        sampler.join()
        total = sum(per_queue.values())
        print("filled %d MiB (%d messages of %d KiB) in %.1f s with %s; "
              "RSS when full %.1f MiB; highest RSS %.1f MiB (limit + overhead = %d MiB); "
              "drained and checked in %.1f s"
              % (total * BODY >> 20, total, BODY >> 10, fill_s, " and ".join(limits),
                 rss_full / 2**20, sampler.max / 2**20, (LIMIT + OVERHEAD) >> 20,
                 time.time() - t0 - fill_s))
        if sanitizer:
            print("(sanitizer build: its shadow memory and quarantine make RSS no measure; "
                  "the bound is not checked)")
        elif sampler.max > LIMIT + OVERHEAD:
            raise SystemExit("FAIL: RSS reached %.1f MiB" % (sampler.max / 2**20))
        print("ok")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.returncode not in (0, None, -15):
            print("".join(log[-30:]))
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
