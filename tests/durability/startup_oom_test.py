#!/usr/bin/python3
"""Start-up either recovers every message or does not start: a broker that runs out of memory
while loading a stored message exits non-zero with a log line naming the queue and message, and
writes nothing, so the next start (with memory) recovers every message. Bounded: about 2 s.

The shortage is made with failbig.so (LD_PRELOAD): allocations of WARREN_FAIL_ABOVE bytes or more
fail, so the 4 MiB message of big.q cannot be loaded while everything else can.

usage: startup_oom_test.py path/to/warren path/to/failbig.so
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, "/usr/lib/python3/dist-packages")
import pika  # noqa: E402

BIG = 4 << 20


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(warren, data, port, env=None):
    return subprocess.Popen(
        [warren, "--port", str(port), "--mgmt-port", "0", "--data-dir", data],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def wait_ready(proc, log):
    for line in proc.stdout:
        log.append(line)
        if " ready" in line:
            return True
    return False


def fail(msg, log):
    sys.stdout.write("".join(log[-20:]))
    raise SystemExit("FAIL: " + msg)


def main():
    warren, failbig = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="warren-startup-oom-")
    data = os.path.join(work, "data")
    procs = []
    try:
        port = free_port()
        log = []
        p = start(warren, data, port)
        procs.append(p)
        if not wait_ready(p, log):
            fail("the broker did not start", log)
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
        ch = conn.channel()
        ch.confirm_delivery()
        props = pika.BasicProperties(delivery_mode=2)
        for q in ("big.q", "small.q"):
            ch.queue_declare(q, durable=True)
        for i in range(3):
            ch.basic_publish("", "small.q", b"small-%d" % i, props)
        ch.basic_publish("", "big.q", b"first", props)
        ch.basic_publish("", "big.q", b"B" * BIG, props)
        ch.basic_publish("", "big.q", b"last", props)
        conn.close()
        p.terminate()
        p.wait(10)

        # 1. out of memory while loading big.q's second message: no start, a clear line
        env = dict(os.environ, LD_PRELOAD=failbig, WARREN_FAIL_ABOVE=str(BIG // 2))
        log = []
        p = start(warren, data, free_port(), env)
        procs.append(p)
        if wait_ready(p, log):
            fail("the broker started without a message it could not load", log)
        rc = p.wait(10)
        text = "".join(log)
        if rc == 0:
            fail("the broker exited with status 0", log)
        if "failbig: refused" not in text:
            fail("the allocation failure was never injected", log)
        want = "cannot start: out of memory loading message"
        line = next((ln for ln in log if want in ln), None)
        if not line or "'big.q'" not in line or "vhost '/'" not in line:
            fail("no log line naming the message and queue that could not be loaded", log)
        print("without memory: exit status %d" % rc)
        sys.stdout.write("".join(ln for ln in log if "[error]" in ln))

        # 2. with memory again: every message is there, the big one intact
        port = free_port()
        log = []
        p = start(warren, data, port)
        procs.append(p)
        if not wait_ready(p, log):
            fail("the broker did not start again", log)
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
        ch = conn.channel()
        got = {}
        for q in ("big.q", "small.q"):
            got[q] = []
            while True:
                m, _, body = ch.basic_get(q, auto_ack=True)
                if m is None:
                    break
                got[q].append(body)
        conn.close()
        if got["small.q"] != [b"small-%d" % i for i in range(3)]:
            fail("small.q came back as %r" % [b[:20] for b in got["small.q"]], log)
        if got["big.q"] != [b"first", b"B" * BIG, b"last"]:
            fail("big.q came back as %r" % [b[:20] for b in got["big.q"]], log)
        print("with memory: big.q 3 messages (4 MiB one intact), small.q 3 messages")
        print("startup-oom: ok")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
