#!/usr/bin/python3
"""The broker as a systemd service, without systemd: what warren.service relies on, checked by
playing systemd's part. READY=1 on $NOTIFY_SOCKET only once every listener accepts; WATCHDOG=1
keep-alives at half of $WATCHDOG_USEC; SIGHUP (ExecReload) re-reads the configuration and
applies log levels, log.file, the AMQPS certificate and load_definitions, and survives a broken
file; SIGUSR1 reopens log.file after logrotate moved it; console lines carry "<N>" priorities
when stderr is the journal ($JOURNAL_STREAM) and a timestamp otherwise.
Usage: test_service.py WARREN_BINARY"""
import base64
import hashlib
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

import pika

BINARY = None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


def rabbit_hash(password):
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    salt = os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def definitions(*users):
    import json
    return json.dumps({
        "users": [{"name": u, "password_hash": rabbit_hash(p),
                   "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ""}
                  for u, p in users],
        "vhosts": [{"name": "/"}],
        "permissions": [{"user": u, "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}
                        for u, _ in users],
    })


def can_log_in(port, user, password):
    try:
        c = pika.BlockingConnection(pika.ConnectionParameters(
            "127.0.0.1", port, "/", pika.PlainCredentials(user, password),
            connection_attempts=1, socket_timeout=5))
        c.close()
        return True
    except pika.exceptions.AMQPError:
        return False


class Broker:
    """A broker on free ports with its own data dir, config file, notify socket and stderr."""

    def __init__(self, test, config="", env=None, stderr_fd=None, port=None):
        self.dir = tempfile.mkdtemp(prefix="warren-service-")
        test.addCleanup(subprocess.run, ["rm", "-rf", self.dir])
        self.port, self.mgmt_port = port or free_port(), free_port()
        self.conf = os.path.join(self.dir, "warren.conf")
        self.write_config(config)
        self.notify_path = os.path.join(self.dir, "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        test.addCleanup(self.notify.close)
        e = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        e.update(env or {})
        self.errlog = os.path.join(self.dir, "stderr")
        err = stderr_fd if stderr_fd is not None else open(self.errlog, "wb")
        self.proc = subprocess.Popen(
            [BINARY, "--config", self.conf, "--data-dir", os.path.join(self.dir, "data"),
             "--port", str(self.port), "--mgmt-port", str(self.mgmt_port)],
            env=e, stdout=subprocess.DEVNULL, stderr=err)
        if stderr_fd is None:
            err.close()
        test.addCleanup(self.stop)

    def write_config(self, text):
        with open(self.conf + ".tmp", "w") as f:
            f.write(text)
        os.rename(self.conf + ".tmp", self.conf)

    def messages(self, timeout):
        """Every datagram received within timeout seconds."""
        out, end = [], time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.notify], [], [], left)[0]:
                return out
            out.append(self.notify.recv(4096).decode())

    def wait_for(self, assignment, timeout=10):
        """The messages up to and including the first one with this assignment line."""
        seen, end = [], time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError("broker exited %d: %s" % (self.proc.returncode, self.stderr()))
            for m in self.messages(0.1):
                seen.append(m)
                if assignment in m.split("\n"):
                    return seen
        raise AssertionError("no %s in %r; stderr: %s" % (assignment, seen, self.stderr()))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stderr(self):
        with open(self.errlog, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def wait_until(fn, timeout=5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if fn():
            return True
        time.sleep(0.05)
    return fn()


class Readiness(unittest.TestCase):
    def test_ready_is_sent_once_and_only_when_amqp_and_management_accept(self):
        b = Broker(self)
        msgs = b.wait_for("READY=1")
        # at the moment READY=1 arrives both listeners take connections
        self.assertTrue(accepts(b.port))
        self.assertTrue(accepts(b.mgmt_port))
        self.assertEqual(len([m for m in msgs if "READY=1" in m.split("\n")]), 1)
        self.assertIn("STATUS=Accepting AMQP connections on 127.0.0.1:%d" % b.port, msgs[-1])
        self.assertEqual(b.messages(0.5), [])  # nothing else without a watchdog

    def test_stopping_is_sent_on_sigterm_and_the_broker_exits_0(self):
        b = Broker(self)
        b.wait_for("READY=1")
        b.signal(signal.SIGTERM)
        b.wait_for("STOPPING=1")
        self.assertEqual(b.stop(), 0)

    def test_a_broker_that_cannot_listen_sends_no_ready_and_exits_non_zero(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        self.addCleanup(busy.close)
        b = Broker(self, port=busy.getsockname()[1])
        self.assertEqual(b.proc.wait(10), 1)
        self.assertIn("Address already in use", b.stderr())
        self.assertEqual(b.messages(0.1), [])


class Watchdog(unittest.TestCase):
    def test_keep_alives_come_at_half_the_watchdog_timeout(self):
        b = Broker(self, env={"WATCHDOG_USEC": "400000"})
        b.wait_for("READY=1")
        t0 = time.monotonic()
        keepalives = [m for m in b.messages(1.1) if m == "WATCHDOG=1"]
        # one every 200 ms: five in 1.1 s, allowing one early or late
        self.assertGreaterEqual(len(keepalives), 4, keepalives)
        self.assertLessEqual(len(keepalives), 6, keepalives)
        self.assertLess(time.monotonic() - t0, 2)
        self.assertIn("systemd watchdog: a keep-alive every 200 ms", b.stderr())

    def test_a_watchdog_meant_for_another_process_is_ignored(self):
        b = Broker(self, env={"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
        b.wait_for("READY=1")
        self.assertEqual(b.messages(0.5), [])


class Reload(unittest.TestCase):
    def test_sighup_applies_a_new_console_level_and_reports_reloading_then_ready(self):
        b = Broker(self, config="log.console.level = info\n")
        b.wait_for("READY=1")
        self.assertTrue(accepts(b.port))
        self.assertNotIn("accepting AMQP connection", b.stderr())  # a debug line
        b.write_config("log.console.level = debug\n")
        b.signal(signal.SIGHUP)
        msgs = b.wait_for("READY=1")
        self.assertIn("RELOADING=1", msgs[0].split("\n"))
        self.assertTrue(any(line.startswith("MONOTONIC_USEC=") for line in msgs[0].split("\n")))
        self.assertTrue(accepts(b.port))
        self.assertTrue(wait_until(lambda: "accepting AMQP connection" in b.stderr()))

    def test_a_broken_file_on_sighup_keeps_the_running_settings(self):
        b = Broker(self, config="log.console.level = info\n")
        b.wait_for("READY=1")
        b.write_config("log.console.level = info\nno.such.key = 1\n")
        b.signal(signal.SIGHUP)
        b.wait_for("READY=1")
        self.assertIn("reload: %s:2: unknown key 'no.such.key'; the running settings stay" % b.conf,
                      b.stderr())
        self.assertTrue(can_log_in(b.port, "guest", "guest"))
        self.assertIsNone(b.proc.poll())

    def test_sighup_imports_load_definitions_again(self):
        d = tempfile.mkdtemp(prefix="warren-defs-")
        self.addCleanup(subprocess.run, ["rm", "-rf", d])
        defs = os.path.join(d, "definitions.json")
        with open(defs, "w") as f:
            f.write(definitions(("alice", "a-secret")))
        b = Broker(self, config="load_definitions = %s\n" % defs)
        b.wait_for("READY=1")
        self.assertTrue(can_log_in(b.port, "alice", "a-secret"))
        self.assertFalse(can_log_in(b.port, "bob", "b-secret"))
        with open(defs, "w") as f:
            f.write(definitions(("alice", "new-secret"), ("bob", "b-secret")))
        b.signal(signal.SIGHUP)
        b.wait_for("READY=1")
        self.assertTrue(can_log_in(b.port, "bob", "b-secret"))
        self.assertTrue(can_log_in(b.port, "alice", "new-secret"))
        self.assertFalse(can_log_in(b.port, "alice", "a-secret"))
        self.assertIn("reload: definitions imported from %s" % defs, b.stderr())

    def test_a_broken_definitions_file_at_start_is_a_clear_error(self):
        d = tempfile.mkdtemp(prefix="warren-defs-")
        self.addCleanup(subprocess.run, ["rm", "-rf", d])
        defs = os.path.join(d, "definitions.json")
        with open(defs, "w") as f:
            f.write('{"users": [')
        b = Broker(self, config="load_definitions = %s\n" % defs)
        self.assertEqual(b.proc.wait(10), 1)
        self.assertIn("load_definitions: %s:1:" % defs, b.stderr())
        self.assertEqual(b.messages(0.1), [])  # never READY

    def test_sighup_loads_a_new_amqps_certificate_for_new_connections(self):
        d = tempfile.mkdtemp(prefix="warren-certs-")
        self.addCleanup(subprocess.run, ["rm", "-rf", d])

        def make_cert(cn):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=" + cn, "-keyout", os.path.join(d, "key.pem.new"),
                            "-out", os.path.join(d, "cert.pem.new")],
                           check=True, capture_output=True)
            for name in ("key.pem", "cert.pem"):
                os.rename(os.path.join(d, name + ".new"), os.path.join(d, name))

        def served_cn(port):
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with ctx.wrap_socket(raw) as s:
                    der = s.getpeercert(binary_form=True)
            text = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject"],
                                  input=der, capture_output=True, check=True).stdout.decode()
            return text.strip().split("CN = ")[-1].split("CN=")[-1]

        make_cert("first.example")
        tls_port = free_port()
        b = Broker(self, config="listeners.ssl.default = %d\nssl_options.certfile = %s\n"
                   "ssl_options.keyfile = %s\n" % (tls_port, os.path.join(d, "cert.pem"),
                                                     os.path.join(d, "key.pem")))
        b.wait_for("READY=1")
        self.assertEqual(served_cn(tls_port), "first.example")
        make_cert("second.example")
        self.assertEqual(served_cn(tls_port), "first.example")  # nothing reloads by itself
        b.signal(signal.SIGHUP)
        b.wait_for("READY=1")
        self.assertEqual(served_cn(tls_port), "second.example")

        os.unlink(os.path.join(d, "key.pem"))  # a broken reload keeps the certificate
        b.signal(signal.SIGHUP)
        b.wait_for("READY=1")
        self.assertIn("AMQPS keeps its current certificate", b.stderr())
        self.assertEqual(served_cn(tls_port), "second.example")


class Logging(unittest.TestCase):
    def test_console_lines_carry_journal_priorities_when_stderr_is_the_journal(self):
        r, w = os.pipe()
        st = os.fstat(w)
        b = Broker(self, env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)}, stderr_fd=w,
                   config="log.console.level = debug\n")
        os.close(w)
        b.wait_for("READY=1")
        accepts(b.port)
        b.stop()
        with os.fdopen(r, errors="replace") as f:
            lines = f.read().splitlines()
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, r"^<[3467]>[^<]")
        self.assertIn("<6>Warren", "\n".join(lines))
        self.assertIn("<7>accepting AMQP connection", "\n".join(lines))

    def test_console_lines_are_plain_when_journal_stream_names_another_file(self):
        b = Broker(self, env={"JOURNAL_STREAM": "1:1"})
        b.wait_for("READY=1")
        b.stop()
        for line in b.stderr().splitlines():
            self.assertRegex(line, r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[(info|warning|error)\] ")

    def test_log_file_is_reopened_on_sigusr1_after_logrotate_moves_it(self):
        d = tempfile.mkdtemp(prefix="warren-logs-")
        self.addCleanup(subprocess.run, ["rm", "-rf", d])
        b = Broker(self, config="log.console = false\nlog.dir = %s\nlog.file = warren.log\n" % d)
        log = os.path.join(d, "warren.log")
        b.wait_for("READY=1")
        self.assertEqual(b.stderr(), "")  # log.console = false
        with open(log) as f:
            self.assertIn("ready: AMQP on 127.0.0.1:%d" % b.port, f.read())
        self.assertEqual(os.stat(log).st_mode & 0o777, 0o640)
        os.rename(log, log + ".1")
        b.signal(signal.SIGUSR1)
        self.assertTrue(wait_until(lambda: os.path.exists(log)))
        self.assertTrue(wait_until(lambda: "log file reopened" in read(log)))
        b.stop()
        with open(log) as f:
            self.assertIn("stopped", f.read())
        with open(log + ".1") as f:
            self.assertNotIn("stopped", f.read())

    def test_file_level_and_console_level_are_separate(self):
        d = tempfile.mkdtemp(prefix="warren-logs-")
        self.addCleanup(subprocess.run, ["rm", "-rf", d])
        log = os.path.join(d, "w.log")
        b = Broker(self, config="log.console.level = warning\nlog.file = %s\n"
                   "log.file.level = debug\n" % log)
        b.wait_for("READY=1")
        accepts(b.port)
        self.assertTrue(wait_until(lambda: "accepting AMQP connection" in read(log)))
        self.assertNotIn("ready", b.stderr())

    def test_an_unwritable_log_file_stops_the_start_with_a_clear_error(self):
        b = Broker(self, config="log.file = /nonexistent-dir/warren.log\n")
        self.assertEqual(b.proc.wait(10), 1)
        self.assertIn("warren: cannot open log file /nonexistent-dir/warren.log: "
                      "No such file or directory", b.stderr())


if __name__ == "__main__":
    BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
