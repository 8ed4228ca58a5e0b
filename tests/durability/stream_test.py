#!/usr/bin/env python3
"""Streams and quorum queues survive kill -9: every message a publisher had confirmed into a
stream is there after a restart, in order, at the offset it had; a torn write at the end of a
segment is cut at start-up and the stream goes on after the last whole chunk; confirmed
persistent messages of a quorum queue survive; deleting a stream removes its files.
Bounded: 3 rounds of about a second of traffic, about 10 s in all.

usage: stream_test.py path/to/warren
"""
import glob
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
        raise SystemExit("FAIL: the broker did not start:\n" + "".join(self.log[-20:]))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.extend(self.proc.stdout.readlines())

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.log.extend(self.proc.stdout.readlines())

    def channel(self):
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.port))
        return conn, conn.channel()


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)
    print("ok   " + what, flush=True)


def read_all(b, q):
    """Every message of stream q from first: [(offset, body)]."""
    conn, ch = b.channel()
    ch.basic_qos(prefetch_count=1000)
    got = []

    def on(chan, m, p, body):
        got.append((p.headers["x-stream-offset"], body.decode()))
        chan.basic_ack(m.delivery_tag)
    ch.basic_consume(q, on, arguments={"x-stream-offset": "first"})
    idle = time.monotonic()
    n = -1
    while time.monotonic() - idle < 0.5:
        conn.process_data_events(time_limit=0.05)
        if len(got) != n:
            n, idle = len(got), time.monotonic()
    conn.close()
    return got


def publish_until_killed(b, q, start, seconds):
    """Publishes m<start>, m<start+1>, ... with confirms, then kills the broker mid-stream.
    Returns the bodies confirmed before the kill."""
    conn, ch = b.channel()
    ch.confirm_delivery()
    confirmed = []
    deadline = time.monotonic() + seconds
    i = start
    try:
        while time.monotonic() < deadline:
            body = "m%d" % i
            ch.basic_publish("", q, body.encode())
            confirmed.append(body)
            i += 1
        b.kill()
        ch.basic_publish("", q, b"after")
    except (pika.exceptions.AMQPError, OSError):
        pass
    if b.proc.poll() is None:
        b.kill()
    return confirmed


def main():
    warren = sys.argv[1]
    data = tempfile.mkdtemp(prefix="warren-stream-durability-")
    b = Broker(warren, os.path.join(data, "d"))
    try:
        b.start()
        conn, ch = b.channel()
        ch.queue_declare("dur.stream", durable=True, arguments={
            "x-queue-type": "stream", "x-stream-max-segment-size-bytes": 20000})
        ch.queue_declare("dur.quorum", durable=True, arguments={"x-queue-type": "quorum"})
        ch.confirm_delivery()
        for i in range(50):
            ch.basic_publish("", "dur.quorum", b"q%d" % i,
                             pika.BasicProperties(delivery_mode=2))
        conn.close()
        expected = []
        for rnd in range(3):
            expected += publish_until_killed(b, "dur.stream", len(expected), 0.8)
            b.start()
            got = read_all(b, "dur.stream")
            bodies = [body for off, body in got]
            check(bodies[:len(expected)] == expected,
                  "round %d: the %d confirmed messages are there in order (%d read)" % (
                      rnd, len(expected), len(got)))
            check([off for off, body in got] == list(range(len(got))),
                  "round %d: offsets run 0..%d without a gap" % (rnd, len(got) - 1))
            expected = bodies  # unconfirmed ones that made it stay, at their offsets
            if rnd == 1:
                # a torn write: half a chunk at the end of the newest segment
                b.stop()
                segs = sorted(glob.glob(os.path.join(b.data, "streams", "*", "*.log")))
                with open(segs[-1], "ab") as f:
                    f.write(b"WSCH" + b"\x00" * 20)
                b.start()
                check(any("torn or corrupt" in line for line in b.log),
                      "a torn tail is cut at start-up, with a log line")
                got = read_all(b, "dur.stream")
                check([body for off, body in got] == expected, "and nothing before it is lost")
                b.kill()
                b.start()
        conn, ch = b.channel()
        check(ch.queue_declare("dur.quorum", passive=True).method.message_count == 50,
              "the quorum queue's 50 confirmed persistent messages survive kill -9")
        ch.queue_delete("dur.stream")
        conn.close()
        check(not glob.glob(os.path.join(b.data, "streams", "*", "*.log")),
              "deleting the stream removes its files")
        b.stop()
    finally:
        if b.proc and b.proc.poll() is None:
            b.kill()
        shutil.rmtree(data, ignore_errors=True)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
