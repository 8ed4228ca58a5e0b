#!/usr/bin/python3
"""TLS on the AMQP listener: pika over TLS with PLAIN, SASL EXTERNAL with a client certificate
whose CN names the user, TLS 1.1 and plaintext refused. The management API over HTTPS
(management.ssl.*): GET /api/overview with urllib and the test CA; plain HTTP there gets nothing. Certificates are made at test time with
the openssl CLI. Usage: test_tls.py WARREN_BINARY"""
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

import pika
from pika.credentials import ExternalCredentials

results = []


def check(name, fn):
    try:
        fn()
        results.append(True)
        print("ok -", name)
    except Exception as e:  # report and go on
        results.append(False)
        print("FAIL -", name, ":", repr(e))


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(d):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=warren-test-ca",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    for name, cn in (("server", "localhost"), ("client", "guest"), ("stranger", "nobody")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + cn,
                "-keyout", name + ".key", "-out", name + ".csr", cwd=d)
        ext = os.path.join(d, name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n" if name == "server" else "extendedKeyUsage=clientAuth\n")
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", name + ".pem", cwd=d)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    binary = sys.argv[1]
    d = tempfile.mkdtemp(prefix="warren-tls-")
    make_certs(d)
    port, tls_port, mgmt_port, mgmt_tls_port = free_port(), free_port(), free_port(), free_port()
    log = open(os.path.join(d, "warren.log"), "w+")
    proc = subprocess.Popen([binary, "--port", str(port), "--tls-port", str(tls_port), "--mgmt-port", str(mgmt_port),
                             "--data-dir", os.path.join(d, "data"),
                             "--set", "ssl_options.certfile=" + os.path.join(d, "server.pem"),
                             "--set", "ssl_options.keyfile=" + os.path.join(d, "server.key"),
                             "--set", "ssl_options.cacertfile=" + os.path.join(d, "ca.pem"),
                             "--set", "ssl_options.verify=verify_peer",
                             "--set", "management.ssl.port=" + str(mgmt_tls_port),
                             "--set", "management.ssl.certfile=" + os.path.join(d, "server.pem"),
                             "--set", "management.ssl.keyfile=" + os.path.join(d, "server.key"),
                             "--set", "management.ssl.cacertfile=" + os.path.join(d, "ca.pem")],
                            stderr=log)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            log.seek(0)
            if "ready" in log.read():
                break
            time.sleep(0.05)

        def ctx(cert=None, max_version=None):
            c = ssl.create_default_context(cafile=os.path.join(d, "ca.pem"))
            if cert:
                c.load_cert_chain(os.path.join(d, cert + ".pem"), os.path.join(d, cert + ".key"))
            if max_version:
                c.minimum_version = ssl.TLSVersion.TLSv1
                c.maximum_version = max_version
            return c

        def params(**kw):
            return pika.ConnectionParameters("127.0.0.1", tls_port, connection_attempts=1,
                                             ssl_options=pika.SSLOptions(kw.pop("context"), "localhost"), **kw)

        def plain_over_tls():
            c = pika.BlockingConnection(params(context=ctx()))
            ch = c.channel()
            q = ch.queue_declare("", exclusive=True).method.queue
            ch.basic_publish("", q, b"over tls")
            m = ch.basic_get(q, auto_ack=True)
            assert m[2] == b"over tls", m
            c.close()

        def external_with_client_cert():
            c = pika.BlockingConnection(params(context=ctx("client"), credentials=ExternalCredentials()))
            assert c.channel().queue_declare("", exclusive=True).method.queue.startswith("amq.gen-")
            c.close()

        def external_for_unknown_user_is_refused():
            try:
                pika.BlockingConnection(params(context=ctx("stranger"), credentials=ExternalCredentials()))
            except pika.exceptions.AMQPConnectionError:
                return
            raise AssertionError("a certificate for an unknown user logged in")

        def tls_1_1_is_refused():
            c = ctx(max_version=ssl.TLSVersion.TLSv1_1)
            c.set_ciphers("DEFAULT:@SECLEVEL=0")
            try:
                with socket.create_connection(("127.0.0.1", tls_port), timeout=5) as s:
                    with c.wrap_socket(s, server_hostname="localhost"):
                        pass
            except (ssl.SSLError, OSError):
                return
            raise AssertionError("TLS 1.1 handshake succeeded")

        def plaintext_on_the_tls_port_gets_nothing_amqp():
            with socket.create_connection(("127.0.0.1", tls_port), timeout=5) as s:
                s.sendall(b"AMQP\x00\x00\x09\x01")
                s.settimeout(3)
                try:
                    data = s.recv(100)
                except (socket.timeout, ConnectionResetError):
                    data = b""
                assert not data.startswith(b"\x01\x00\x00"), data  # no connection.start frame

        def plain_listener_still_works():
            c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
            c.close()

        def auth_header():
            return {"Authorization": "Basic Z3Vlc3Q6Z3Vlc3Q="}  # guest:guest

        def mgmt_overview_over_https():
            req = urllib.request.Request("https://localhost:%d/api/overview" % mgmt_tls_port,
                                         headers=auth_header())
            with urllib.request.urlopen(req, context=ctx(), timeout=5) as r:
                assert r.status == 200, r.status
                body = r.read()
            assert b'"management_version"' in body or b'"rabbitmq_version"' in body, body[:200]

        def plain_http_on_the_https_port_fails():
            req = urllib.request.Request("http://127.0.0.1:%d/api/overview" % mgmt_tls_port,
                                         headers=auth_header())
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    raise AssertionError("plain HTTP got status %d on the HTTPS port" % r.status)
            except AssertionError:
                raise
            except Exception:  # refused, reset, or not HTTP: all mean no plaintext reply
                return

        def mgmt_plain_http_port_still_works():
            req = urllib.request.Request("http://127.0.0.1:%d/api/overview" % mgmt_port,
                                         headers=auth_header())
            with urllib.request.urlopen(req, timeout=5) as r:
                assert r.status == 200, r.status

        check("PLAIN login over TLS publishes and gets", plain_over_tls)
        check("EXTERNAL logs in as the client certificate's CN", external_with_client_cert)
        check("EXTERNAL with a certificate naming no user is refused", external_for_unknown_user_is_refused)
        check("a TLS 1.1 client is refused", tls_1_1_is_refused)
        check("plaintext AMQP on the TLS port gets no connection.start", plaintext_on_the_tls_port_gets_nothing_amqp)
        check("the plain listener keeps working beside TLS", plain_listener_still_works)
        check("GET /api/overview over HTTPS with the test CA", mgmt_overview_over_https)
        check("plain HTTP on the management HTTPS port gets no reply", plain_http_on_the_https_port_fails)
        check("the plain management port keeps working beside HTTPS", mgmt_plain_http_port_still_works)
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
