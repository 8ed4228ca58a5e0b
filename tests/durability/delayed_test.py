#!/usr/bin/env python3
"""Delayed messages survive restarts: a persistent message published with confirms to a durable
x-delayed-message exchange is routed at its original due time after a clean restart or a
kill -9 (at once when it fell due while the broker was down); transient ones are lost; a routed
message or a deleted exchange's messages never come back. Bounded: about 15 s.

usage: delayed_test.py path/to/warren
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, "/usr/lib/python3/dist-packages")
import pika  # noqa: E402

EARLY = 0.05  # a message may come this early (clock granularity), never more
LATE = 1.0    # scheduling and restart slack


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
        self.log = []

    def start(self):
        self.proc = subprocess.Popen(
            [self.warren, "--port", str(self.port), "--mgmt-port", "0", "--data-dir", self.data],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in self.proc.stdout:
            self.log.append(line)
            if " ready" in line:
                return
        raise SystemExit("FAIL: the broker did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.extend(self.proc.stdout.readlines())

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def channel(self):
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.port))
        ch = conn.channel()
        return conn, ch


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)
    print("ok   " + what)


def setup(ch, x, q):
    ch.exchange_declare(x, "x-delayed-message", durable=True,
                        arguments={"x-delayed-type": "direct"})
    ch.queue_declare(q, durable=True)
    ch.queue_bind(q, x, routing_key="k")


def publish(ch, x, body, delay, persistent=True):
    ch.basic_publish(x, "k", body, pika.BasicProperties(
        delivery_mode=2 if persistent else 1, headers={"x-delay": delay}))


def collect(ch, q, until):
    """(arrival time, body) of every message of q until the wall clock reaches until."""
    out = []
    for method, _, body in ch.consume(q, auto_ack=True, inactivity_timeout=0.02):
        if method is not None:
            out.append((time.time(), body))
        if time.time() >= until:
            break
    ch.cancel()
    return out


def on_time(got, body, due):
    at = [t for t, b in got if b == body]
    if len(at) == 1:
        print("     %s came %+d ms from its due time" % (body.decode(), (at[0] - due) * 1000))
    return len(at) == 1 and due - EARLY <= at[0] <= due + LATE


def main():
    data = tempfile.mkdtemp(prefix="warren-delayed-test-")
    b = Broker(sys.argv[1], data)
    try:
        b.start()
        conn, ch = b.channel()
        ch.confirm_delivery()
        setup(ch, "dx", "dq")

        # clean restart before they are due
        t0 = time.time()
        publish(ch, "dx", b"p1500", 1500)
        publish(ch, "dx", b"p4000", 4000)
        publish(ch, "dx", b"t1500", 1500, persistent=False)
        publish(ch, "dx", b"t4000", 4000, persistent=False)
        conn.close()
        b.stop()
        with open(os.path.join(data, "definitions.json")) as f:
            saved = [x for x in json.load(f)["exchanges"] if x["name"] == "dx"]
        check(saved and saved[0]["type"] == "x-delayed-message"
              and saved[0]["arguments"].get("x-delayed-type") == "direct",
              "the definitions keep the exchange as x-delayed-message with its x-delayed-type")
        b.start()
        conn, ch = b.channel()
        check(ch.queue_declare("dq", passive=True).method.message_count == 0,
              "after a clean restart nothing is routed before it is due")
        got = collect(ch, "dq", t0 + 4.0 + LATE)
        check(on_time(got, b"p1500", t0 + 1.5),
              "a persistent message held 1500 ms across a restart comes at its due time")
        check(on_time(got, b"p4000", t0 + 4.0),
              "a persistent message held 4000 ms across a restart comes at its due time")
        check(sorted(b for _, b in got) == [b"p1500", b"p4000"],
              "transient delayed messages are lost at restart")

        # routed and consumed: another restart brings nothing back
        conn.close()
        b.stop()
        b.start()
        conn, ch = b.channel()
        time.sleep(0.3)
        check(ch.queue_declare("dq", passive=True).method.message_count == 0,
              "messages routed before a restart do not come back after it")
        ch.confirm_delivery()

        # kill -9 right after the confirms; one falls due while the broker is down
        t0 = time.time()
        publish(ch, "dx", b"k300", 300)
        publish(ch, "dx", b"k2500", 2500)
        b.kill()
        time.sleep(0.8)
        b.start()
        started = time.time()
        conn, ch = b.channel()
        got = collect(ch, "dq", t0 + 2.5 + LATE)
        check(on_time(got, b"k300", started),
              "a confirmed message that fell due during a kill -9 downtime comes right after "
              "start-up")
        check(on_time(got, b"k2500", t0 + 2.5),
              "a confirmed message held across a kill -9 comes at its due time")
        check(len(got) == 2, "and nothing else")

        # deleting the exchange drops its held messages durably, even when it is declared
        # again under the same name
        ch.confirm_delivery()
        setup(ch, "dx2", "dq2")
        publish(ch, "dx2", b"gone", 1000)
        ch.exchange_delete("dx2")
        setup(ch, "dx2", "dq2")
        t0 = time.time()
        publish(ch, "dx2", b"kept", 1000)
        b.kill()
        b.start()
        conn, ch = b.channel()
        got = collect(ch, "dq2", t0 + 1.0 + LATE)
        check([body for _, body in got] == [b"kept"],
              "a deleted exchange's held messages do not come back after a kill -9")
        conn.close()
        b.stop()
        check(any("into delayed exchanges" in line for line in b.log),
              "start-up logs the delayed messages it recovered")
        print("PASS")
    finally:
        if b.proc and b.proc.poll() is None:
            b.proc.kill()
            b.proc.wait()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
