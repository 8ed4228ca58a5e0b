#!/usr/bin/python3
"""channel_max = 0 and frame_max = 0 through real clients: starts Warren with both set to 0 and
runs the conformance scenarios of that profile (conformance/run.sh --profile zero-limits):
amqp091-go opens 3000 channels and sends a 1 MiB body as one frame; aio-pika, whose aiormq
echoes the 0s in tune-ok, opens channels and moves a 300000-byte body.

Usage: test_zero_limits.py WARREN_BINARY. Against RabbitMQ 3.10 the same scenarios run with
`conformance/run.sh --rabbitmq --profile zero-limits` (a node started with the two settings).
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nettest import free_port  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def main():
    binary = sys.argv[1]
    d = tempfile.mkdtemp(prefix="warren-zero-limits-")
    port = free_port()
    log = open(os.path.join(d, "warren.log"), "w+")
    proc = subprocess.Popen([binary, "--port", str(port), "--mgmt-port", "0",
                             "--data-dir", os.path.join(d, "data"),
                             "--set", "channel_max=0", "--set", "frame_max=0"], stderr=log)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            log.seek(0)
            if "ready" in log.read():
                break
            time.sleep(0.05)
        rc = subprocess.call([os.path.join(ROOT, "conformance", "run.sh"), "--profile",
                              "zero-limits", "--url", "amqp://guest:guest@127.0.0.1:%d/" % port])
    finally:
        proc.terminate()
        status = proc.wait(timeout=10)
    if status != 0:
        log.seek(0)
        print("warren exited with status %d; its log:\n%s" % (status, log.read()[-4000:]))
        rc = 1
    sys.exit(rc)


if __name__ == "__main__":
    main()
