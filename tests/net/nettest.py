"""Shared pieces of the real-socket tests in tests/net/: named checks with a summary, free ports,
a management API client, and a Warren started on free ports for the duration of a run (or a
RabbitMQ given by its ports, to prove the expectations)."""
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

results = []


def check(name, fn):
    """Runs one named check; a failure is reported and the run goes on."""
    try:
        fn()
        results.append(True)
        print("ok -", name)
    except Exception as e:  # report and go on
        results.append(False)
        print("FAIL -", name, ":", repr(e))


def expect(got, want):
    if got != want:
        raise AssertionError("got %r, want %r" % (got, want))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Api:
    """The management HTTP API as one user (guest by default)."""

    def __init__(self, port, user="guest", password="guest"):
        self.port = port
        self.base = "http://127.0.0.1:%d/api" % port
        self.auth = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()

    def as_user(self, user, password):
        return Api(self.port, user, password)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, method=method, data=data,
                                     headers={"Authorization": self.auth,
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw else None


def main(run, prefix, args=()):
    """`script WARREN_BINARY` starts Warren on free ports (with further arguments args) for
    run(amqp_port, api, is_rabbitmq); `script --rabbitmq AMQP_PORT MGMT_PORT` runs against a
    RabbitMQ. Exits 1 on any failure."""
    if len(sys.argv) == 4 and sys.argv[1] == "--rabbitmq":
        run(int(sys.argv[2]), Api(int(sys.argv[3])), True)
    else:
        binary = sys.argv[1]
        d = tempfile.mkdtemp(prefix=prefix)
        port, mgmt_port = free_port(), free_port()
        log = open(os.path.join(d, "warren.log"), "w+")
        proc = subprocess.Popen([binary, "--port", str(port), "--mgmt-port", str(mgmt_port),
                                 "--data-dir", os.path.join(d, "data"), *args], stderr=log)
        try:
            deadline = time.time() + 10
            while time.time() < deadline:
                log.seek(0)
                if "ready" in log.read():
                    break
                time.sleep(0.05)
            run(port, Api(mgmt_port), False)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print("%d/%d passed" % (sum(results), len(results)))
    sys.exit(0 if results and all(results) else 1)
