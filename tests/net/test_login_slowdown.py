#!/usr/bin/python3
"""Repeated login failures from one address are slowed down: the first three are refused at once,
later ones only after a delay (250 ms doubling up to 5 s, on a libevent timer); a correct login
right after is not delayed, and the slow-down is logged once. Usage: test_login_slowdown.py WARREN"""
import os
import socket
import subprocess
import sys
import tempfile
import time

import pika

results = []


def check(name, fn):
    try:
        fn()
        results.append(True)
        print("ok -", name)
    except Exception as e:  # report and go on
        results.append(False)
        print("FAIL -", name, ":", repr(e))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    binary = sys.argv[1]
    d = tempfile.mkdtemp(prefix="warren-login-")
    port = free_port()
    log = open(os.path.join(d, "warren.log"), "w+")
    proc = subprocess.Popen([binary, "--port", str(port), "--mgmt-port", "0",
                             "--data-dir", os.path.join(d, "data")], stderr=log)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            log.seek(0)
            if "ready" in log.read():
                break
            time.sleep(0.05)

        def attempt(password):
            params = pika.ConnectionParameters("127.0.0.1", port, connection_attempts=1,
                                               credentials=pika.PlainCredentials("guest", password),
                                               blocked_connection_timeout=10, socket_timeout=10)
            t = time.monotonic()
            try:
                pika.BlockingConnection(params).close()
                ok = True
            except pika.exceptions.ProbableAuthenticationError:
                ok = False
            return ok, time.monotonic() - t

        times = []

        def six_wrong_passwords_slow_down():
            for _ in range(6):
                ok, t = attempt("wrong")
                assert not ok, "a wrong password logged in"
                times.append(t)
            print("# wrong-password refusals took", ["%.3f" % t for t in times])
            assert times[0] < 0.2, times
            assert times[5] >= 0.9, times  # the sixth waits 1 s (250, 500, 1000 ms)
            assert times[5] > times[0] + 0.7, times

        def a_correct_login_right_after_is_immediate():
            ok, t = attempt("guest")
            assert ok, "guest/guest was refused"
            assert t < 0.3, t

        def the_slow_down_is_logged_once():
            log.seek(0)
            n = log.read().count("repeated login failures from 127.0.0.1")
            assert n == 1, n

        check("six wrong passwords in a row take measurably longer than the first",
              six_wrong_passwords_slow_down)
        check("a correct login right after is not delayed", a_correct_login_right_after_is_immediate)
        check("the slow-down is logged once per address", the_slow_down_is_logged_once)
    finally:
        proc.terminate()
        rc = proc.wait(timeout=10)
        if rc != 0:
            log.seek(0)
            print(log.read())
            results.append(False)
            print("FAIL - broker exited with", rc)
    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
