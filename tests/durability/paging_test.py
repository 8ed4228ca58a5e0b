#!/usr/bin/env python3
"""Paged queues behave like any queue: priorities, TTL and dead-lettering, requeue, purge and
restarts work on messages whose bodies are only on disk. Each queue holds more than
QUEUE_WINDOW (2048) messages so most of it is paged out. Bounded: about 15 s.

usage: paging_test.py path/to/warren
"""
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, "/usr/lib/python3/dist-packages")
import pika  # noqa: E402

N = 5000


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Broker:
    def __init__(self, warren, data):
        self.warren, self.data, self.port = warren, data, free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [self.warren, "--port", str(self.port), "--mgmt-port", "0", "--data-dir", self.data],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in self.proc.stdout:
            if " ready" in line:
                return
        raise SystemExit("FAIL: the broker did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)

    def channel(self):
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.port))
        ch = conn.channel()
        return conn, ch


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)
    print("ok   " + what)


def drain(ch, q):
    out = []
    for method, props, body in ch.consume(q, auto_ack=True, inactivity_timeout=0.5):
        if method is None:
            break
        out.append((props, body))
    ch.cancel()
    return out


def depth(ch, q):
    return ch.queue_declare(q, passive=True).method.message_count


def main():
    data = tempfile.mkdtemp(prefix="warren-paging-test-")
    b = Broker(sys.argv[1], data)
    try:
        b.start()
        conn, ch = b.channel()

        # priorities: every level pages on its own; the highest comes out first
        ch.queue_declare("p", durable=True, arguments={"x-max-priority": 5})
        for i in range(N):
            ch.basic_publish("", "p", b"%d" % i,
                             pika.BasicProperties(delivery_mode=2, priority=i % 6))
        got = drain(ch, "p")
        prios = [p.priority or 0 for p, _ in got]
        check(len(got) == N and prios == sorted(prios, reverse=True),
              "%d paged messages of a priority queue come out highest priority first" % N)
        firsts = [int(body) for p, body in got if (p.priority or 0) == 5]
        check(firsts == sorted(firsts), "and in publish order within a priority")

        # TTL: paged messages expire and are dead-lettered
        ch.queue_declare("dlx-target", durable=True)
        ch.queue_declare("ttl", durable=True, arguments={
            "x-message-ttl": 300, "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "dlx-target"})
        for i in range(N):
            ch.basic_publish("", "ttl", b"t%d" % i, pika.BasicProperties(delivery_mode=2))
        deadline = time.time() + 10
        while time.time() < deadline and depth(ch, "dlx-target") < N:
            time.sleep(0.1)
        check(depth(ch, "ttl") == 0 and depth(ch, "dlx-target") == N,
              "%d paged messages with a 300 ms TTL all expire into the dead-letter queue" % N)
        dead = drain(ch, "dlx-target")
        check([b for _, b in dead] == [b"t%d" % i for i in range(N)],
              "dead-lettered in order with their bodies")

        # requeue: a paged message taken and rejected goes back to its place
        ch.queue_declare("rq", durable=True)
        for i in range(N):
            ch.basic_publish("", "rq", b"r%d" % i, pika.BasicProperties(delivery_mode=2))
        taken = []
        for _ in range(3):
            method, _, body = ch.basic_get("rq")
            taken.append((method.delivery_tag, body))
        for tag, _ in reversed(taken):
            ch.basic_nack(tag, requeue=True)
        again = drain(ch, "rq")
        check([b for _, b in again] == [b"r%d" % i for i in range(N)],
              "requeued messages go back to their place ahead of the paged ones")

        # transient and persistent mixed in a durable queue; purge of a paged queue
        ch.queue_declare("mixed", durable=True)
        for i in range(N):
            ch.basic_publish("", "mixed", b"m%d" % i,
                             pika.BasicProperties(delivery_mode=2 if i % 2 else 1))
        ch.queue_declare("purged", durable=True)
        for i in range(N):
            ch.basic_publish("", "purged", b"x", pika.BasicProperties(delivery_mode=2))
        check(ch.queue_purge("purged").method.message_count == N,
              "purging a paged queue reports all %d messages" % N)
        conn.close()

        b.stop()
        b.start()
        conn, ch = b.channel()
        check(depth(ch, "purged") == 0, "a purged paged queue stays empty after a restart")
        got = drain(ch, "mixed")
        check([b for _, b in got] == [b"m%d" % i for i in range(1, N, 2)],
              "after a restart only the persistent half of a paged queue comes back, in order")
        conn.close()
    finally:
        if b.proc and b.proc.poll() is None:
            b.stop()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
