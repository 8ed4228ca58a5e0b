#!/usr/bin/python3
"""Shovels move every message while their destination is killed and restarted; amqps://
shovels verify the server's certificate (PLAIN and EXTERNAL logins) and report a failed
verification.

    test_shovel.py WARREN_BINARY               Warren -> Warren (CI; about 10 s)
    test_shovel.py WARREN_BINARY --rabbitmq    also Warren -> RabbitMQ and RabbitMQ -> Warren,
                                               with a private RabbitMQ 3.10 node
                                               (conformance/rabbitmq.sh; about a minute more)

Each scenario: a dynamic shovel (ack-mode on-confirm, reconnect-delay 1) from a durable source
queue to a durable destination queue; a publisher sends persistent messages with unique bodies
to the source at a steady pace; meanwhile the destination broker is killed with SIGKILL and
started again on the same data. At the end every body must be in the destination queue (at
least once: a message whose confirm was lost in the kill may come twice) and the source must be
empty. The shovel runs in Warren: in the source Warren for Warren -> X, in the destination
Warren for RabbitMQ -> Warren (which then also shows the shovel coming back with its broker).

Prints one "ok"/"FAIL" line per check and "N passed, M failed" last; exits 1 on failure."""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, "/usr/lib/python3/dist-packages")
import pika  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RMQ_SH = os.path.join(HERE, "..", "..", "conformance", "rabbitmq.sh")
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   %s" % name, flush=True)
    else:
        failed += 1
        print("FAIL %s %s" % (name, detail), flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def api(mport, method, path, body=None):
    r = urllib.request.Request("http://127.0.0.1:%d/api%s" % (mport, path), method=method,
                               data=json.dumps(body).encode() if body is not None else None)
    r.add_header("Content-Type", "application/json")
    r.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            text = resp.read()
            return resp.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Warren:
    def __init__(self, binary, name, extra=()):
        self.binary = binary
        self.name = name
        self.extra = list(extra)
        self.data = tempfile.mkdtemp(prefix="warren-shovel-%s-" % name)
        self.port, self.mport = free_port(), free_port()
        self.proc = None
        self.log = open(os.path.join(self.data, "log"), "a")

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--mgmt-port", str(self.mport),
             "--data-dir", os.path.join(self.data, "d")] + self.extra,
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            with open(os.path.join(self.data, "log")) as f:
                if " ready" in f.read():
                    return
            time.sleep(0.05)
        raise SystemExit("warren did not start")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        """SIGTERM; the exit status (0 for a clean shutdown; sanitizer reports fail it)."""
        if not self.proc or self.proc.poll() is not None:
            return None
        self.proc.terminate()
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9

    def cleanup(self):
        rc = self.stop()
        if rc is not None:
            check("warren %s shuts down cleanly" % self.name, rc == 0,
                  "exit status %s; log tail:\n%s" % (rc, self.tail()))
        shutil.rmtree(self.data, ignore_errors=True)

    def tail(self):
        with open(os.path.join(self.data, "log")) as f:
            return "".join(f.readlines()[-30:])

    def uri(self):
        return "amqp://guest:guest@127.0.0.1:%d" % self.port


class Rabbit:
    def __init__(self):
        out = subprocess.run([RMQ_SH, "start"], capture_output=True, text=True, check=True)
        env = dict(line.split("=", 1) for line in out.stdout.split())
        self.port, self.mport = int(env["AMQP_PORT"]), int(env["MGMT_PORT"])
        self.dir = env["RABBITMQ_DIR"]

    def kill(self):
        subprocess.run([RMQ_SH, "kill", self.dir], check=True, capture_output=True)

    def start(self):
        subprocess.run([RMQ_SH, "resume", self.dir], check=True, capture_output=True)

    def cleanup(self):
        subprocess.run([RMQ_SH, "stop", self.dir], capture_output=True)

    def uri(self):
        return "amqp://guest:guest@127.0.0.1:%d" % self.port


def channel(port):
    p = pika.ConnectionParameters("127.0.0.1", port, connection_attempts=30, retry_delay=0.2,
                                  blocked_connection_timeout=30)
    c = pika.BlockingConnection(p)
    return c, c.channel()


def count(port, q):
    c, ch = channel(port)
    n = ch.queue_declare(q, passive=True).method.message_count
    c.close()
    return n


def run(title, src, dst, shovel_on, src_uri, dst_uri, n=4000, pace=1.5, down=1.0):
    """Shovel from src to dst (brokers with .port), defined on Warren shovel_on; dst is
    killed while messages flow and started again."""
    sq, dq = "sh.src." + title, "sh.dst." + title
    for b, q in ((src, sq), (dst, dq)):
        c, ch = channel(b.port)
        ch.queue_declare(q, durable=True)
        c.close()
    name = "sh-" + title
    st, _ = api(shovel_on.mport, "PUT", "/parameters/shovel/%2f/" + name, {"value": {
        "src-uri": src_uri, "src-queue": sq, "dest-uri": dst_uri, "dest-queue": dq,
        "ack-mode": "on-confirm", "reconnect-delay": 1, "prefetch-count": 100}})
    check("%s: the shovel is created" % title, st == 201, st)

    bodies = ["%s-%d" % (title, i) for i in range(n)]
    errors = []

    def publish():
        try:
            # no confirms: the source is never killed, and an unthrottled publisher keeps many
            # messages in flight through the shovel when the destination dies
            c, ch = channel(src.port)
            t0 = time.time()
            for i, body in enumerate(bodies):
                ch.basic_publish("", sq, body.encode(), pika.BasicProperties(delivery_mode=2))
                lag = t0 + pace * (i + 1) / n - time.time()
                if lag > 0:
                    time.sleep(lag)
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    t = threading.Thread(target=publish)
    t.start()
    time.sleep(pace / 2)
    dst.kill()
    time.sleep(down)
    dst.start()
    t.join()
    check("%s: every message was published to the source" % title, not errors, errors)
    deadline = time.time() + 60
    got = dst_count = src_count = None
    while time.time() < deadline:
        try:
            src_count, dst_count = count(src.port, sq), count(dst.port, dq)
        except Exception:  # noqa: BLE001 - a broker still starting
            time.sleep(0.5)
            continue
        if src_count == 0 and dst_count >= n:
            break
        time.sleep(0.3)
    c, ch = channel(dst.port)
    got = []
    for m, p, b in ch.consume(dq, auto_ack=True, inactivity_timeout=2.0):
        if m is None:
            break
        got.append(b.decode())
    ch.cancel()
    c.close()
    missing = set(bodies) - set(got)
    check("%s: no message lost across the destination's kill -9 (%d published, %d arrived, "
          "%d duplicates)" % (title, n, len(got), len(got) - len(set(got))),
          not missing, "missing %d, e.g. %s" % (len(missing), sorted(missing)[:5]))
    check("%s: the source queue is empty" % title, src_count == 0, src_count)
    st, shovels = api(shovel_on.mport, "GET", "/shovels")
    mine = [s for s in shovels if s["name"] == name] if st == 200 else []
    check("%s: the shovel is running again" % title,
          len(mine) == 1 and mine[0]["state"] == "running", mine)
    api(shovel_on.mport, "DELETE", "/parameters/shovel/%2f/" + name)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(d):
    """A CA, a server certificate for localhost/127.0.0.1, a client certificate for CN=guest,
    and a second CA that signed none of them."""
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                "/CN=warren-shovel-test-" + ca, "-keyout", ca + ".key", "-out", ca + ".pem", cwd=d)
    for name, cn in (("server", "localhost"), ("client", "guest")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + cn,
                "-keyout", name + ".key", "-out", name + ".csr", cwd=d)
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n" if name == "server" else
                    "extendedKeyUsage=clientAuth\n")
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", name + ".ext", "-out",
                name + ".pem", cwd=d)


def shovel_state(w, name, want, timeout=10):
    deadline = time.time() + timeout
    while True:
        st, doc = api(w.mport, "GET", "/shovels/vhost/%2f/" + name)
        if st == 200 and doc and doc[0]["state"] == want:
            return doc[0]
        if time.time() > deadline:
            return doc
        time.sleep(0.1)


def run_tls(a, b, certs, tls_port):
    """amqps:// shovels: verified against the CA (PLAIN and EXTERNAL with a client
    certificate), and refused by a CA that did not sign the server's certificate."""
    c, ch = channel(a.port)
    ch.queue_declare("sh.tls.src", durable=True)
    c.close()
    base = "amqps://localhost:%d?cacertfile=%s&verify=verify_peer" % (
        tls_port, os.path.join(certs, "ca.pem"))
    external = base.replace("amqps://", "amqps://guest@") + (
        "&auth_mechanism=external&certfile=%s&keyfile=%s" % (
            os.path.join(certs, "client.pem"), os.path.join(certs, "client.key")))
    for title, uri, dq in (("tls", base.replace("amqps://", "amqps://guest:guest@"),
                            "sh.tls.dst"),
                           ("tls-external", external, "sh.tls.ext")):
        st, _ = api(a.mport, "PUT", "/parameters/shovel/%2f/" + title, {"value": {
            "src-uri": "amqp://", "src-queue": "sh.tls.src", "dest-uri": uri,
            "dest-queue": dq, "reconnect-delay": 1}})
        s = shovel_state(a, title, "running")
        check("%s: the shovel runs over amqps:// (certificate verified)" % title,
              isinstance(s, dict) and s.get("state") == "running", s)
        c, ch = channel(a.port)
        for i in range(200):
            ch.basic_publish("", "sh.tls.src", b"%d" % i, pika.BasicProperties(delivery_mode=2))
        c.close()
        deadline = time.time() + 10
        while time.time() < deadline and count(b.port, dq) < 200:
            time.sleep(0.1)
        check("%s: 200 messages crossed" % title, count(b.port, dq) == 200, count(b.port, dq))
        api(a.mport, "DELETE", "/parameters/shovel/%2f/" + title)
    bad = base.replace("ca.pem", "other-ca.pem").replace("amqps://", "amqps://guest:guest@")
    api(a.mport, "PUT", "/parameters/shovel/%2f/tls-bad", {"value": {
        "src-uri": "amqp://", "src-queue": "sh.tls.src", "dest-uri": bad,
        "dest-queue": "sh.tls.dst", "reconnect-delay": 1}})
    s = shovel_state(a, "tls-bad", "terminated")
    check("a server certificate the CA did not sign terminates the shovel with the TLS error",
          isinstance(s, dict) and "certificate verify failed" in s.get("reason", ""), s)
    api(a.mport, "DELETE", "/parameters/shovel/%2f/tls-bad")


def main():
    binary = sys.argv[1]
    with_rabbit = "--rabbitmq" in sys.argv[2:]
    certs = tempfile.mkdtemp(prefix="warren-shovel-certs-")
    make_certs(certs)
    tls_port = free_port()
    a = Warren(binary, "a")
    b = Warren(binary, "b", [
        "--tls-port", str(tls_port),
        "--set", "ssl_options.certfile=" + os.path.join(certs, "server.pem"),
        "--set", "ssl_options.keyfile=" + os.path.join(certs, "server.key"),
        "--set", "ssl_options.cacertfile=" + os.path.join(certs, "ca.pem"),
        "--set", "ssl_options.verify=verify_peer",
        "--set", "ssl_options.fail_if_no_peer_cert=false"])
    rabbit = None
    try:
        a.start()
        b.start()
        run("w2w", a, b, a, "amqp://", b.uri())
        run_tls(a, b, certs, tls_port)
        if with_rabbit:
            rabbit = Rabbit()
            run("w2r", a, rabbit, a, "amqp://", rabbit.uri(), down=0.5)
            run("r2w", rabbit, b, b, rabbit.uri(), "amqp://", down=0.5)
    finally:
        a.cleanup()
        b.cleanup()
        shutil.rmtree(certs, ignore_errors=True)
        if rabbit:
            rabbit.cleanup()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
