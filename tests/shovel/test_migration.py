#!/usr/bin/python3
"""docs/migration.md, executed: a live application moves from RabbitMQ to Warren with definitions
import and shovels, and not one message is lost.

    test_migration.py WARREN_BINARY     (starts a private RabbitMQ with conformance/rabbitmq.sh;
                                         about 40 s; not in CI, which has no RabbitMQ)

The application: an "orders" topic exchange, two durable queues bound to it (one with a
dead-letter queue and a max-length policy), a user "app" with its own password. A publisher
publishes persistent messages with confirms, a consumer on each queue acknowledges what it
reads. Steps, as the document gives them: 1 export RabbitMQ's definitions and import them into
Warren; 2 start the consumers on Warren too; 3 create one shovel per queue (RabbitMQ queue ->
the same queue on Warren, on-confirm); 4 stop the consumers on RabbitMQ; 5 move the publisher to
Warren; 6 when RabbitMQ's queues are empty, delete the shovels. Every message published (to
either broker) must have been consumed (at least once) at the end.

Prints one line per check and "N passed, M failed" last; exits 1 on failure."""
import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, "/usr/lib/python3/dist-packages")
import pika  # noqa: E402
from test_shovel import Rabbit, Warren, api, check  # noqa: E402
import test_shovel  # noqa: E402

QUEUES = ("orders.eu", "orders.us")


class Publisher(threading.Thread):
    """Publishes order-N to exchange orders with confirms; switch() moves it to another broker
    between two messages (what a rolling restart of the application does)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.sent, self.stop, self.errors = port, [], False, []
        self.lock = threading.Lock()
        self.before_switch = None

    def switch(self, port):
        with self.lock:
            self.port = port
            self.before_switch = len(self.sent)

    def run(self):
        n, conn, port = 0, None, None
        while not self.stop:
            try:
                with self.lock:
                    if port != self.port:
                        if conn:
                            conn.close()
                        port = self.port
                        conn = pika.BlockingConnection(pika.ConnectionParameters(
                            "127.0.0.1", port,
                            credentials=pika.PlainCredentials("app", "app-secret")))
                        ch = conn.channel()
                        ch.confirm_delivery()
                    body = "order-%d" % n
                    ch.basic_publish("orders", "eu.new" if n % 2 else "us.new", body.encode(),
                                     pika.BasicProperties(delivery_mode=2))
                    self.sent.append(body)  # confirmed: basic_publish returned
                n += 1
                time.sleep(0.004)
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.errors.append(repr(e))
                return
        conn.close()


class Consumer(threading.Thread):
    def __init__(self, port, queue, got):
        super().__init__(daemon=True)
        self.port, self.queue, self.got, self.stop = port, queue, got, False

    def run(self):
        c = pika.BlockingConnection(pika.ConnectionParameters(
            "127.0.0.1", self.port, credentials=pika.PlainCredentials("app", "app-secret")))
        ch = c.channel()
        ch.basic_qos(prefetch_count=50)
        for m, p, b in ch.consume(self.queue, inactivity_timeout=0.2):
            if m:
                self.got.append(b.decode())
                ch.basic_ack(m.delivery_tag)
            if self.stop:
                break
        ch.cancel()
        c.close()


def curl(mport, method, path, data=None, user="guest:guest"):
    r = urllib.request.Request("http://127.0.0.1:%d/api%s" % (mport, path), method=method,
                               data=data)
    r.add_header("Content-Type", "application/json")
    r.add_header("Authorization", "Basic " + base64.b64encode(user.encode()).decode())
    with urllib.request.urlopen(r, timeout=30) as resp:
        return resp.status, resp.read()


def main():
    warren = Warren(sys.argv[1], "migration")
    rabbit = None
    try:
        rabbit = Rabbit()
        warren.start()
        # the application as it runs on RabbitMQ
        api(rabbit.mport, "PUT", "/users/app", {"password": "app-secret", "tags": ""})
        api(rabbit.mport, "PUT", "/permissions/%2f/app",
            {"configure": ".*", "write": ".*", "read": ".*"})
        c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", rabbit.port))
        ch = c.channel()
        ch.exchange_declare("orders", "topic", durable=True)
        ch.queue_declare("orders.dlq", durable=True)
        ch.queue_declare("orders.eu", durable=True,
                         arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key":
                                    "orders.dlq"})
        ch.queue_declare("orders.us", durable=True)
        ch.queue_bind("orders.eu", "orders", "eu.*")
        ch.queue_bind("orders.us", "orders", "us.*")
        c.close()
        api(rabbit.mport, "PUT", "/policies/%2f/orders-cap",
            {"pattern": "^orders\\.", "definition": {"max-length": 1000000},
             "apply-to": "queues"})
        got = []
        pub = Publisher(rabbit.port)
        pub.start()
        on_rabbit = [Consumer(rabbit.port, q, got) for q in QUEUES]
        for t in on_rabbit:
            t.start()
        time.sleep(1.5)

        # 1. definitions: RabbitMQ -> Warren
        st, defs = curl(rabbit.mport, "GET", "/definitions")
        st, _ = curl(warren.mport, "POST", "/definitions", defs)
        check("step 1: RabbitMQ's definitions import into Warren", st == 204, st)
        st, body = curl(warren.mport, "GET", "/queues/%2f/orders.eu")
        check("the queues, their arguments and the policy came along",
              json.loads(body)["arguments"].get("x-dead-letter-exchange") == "" and
              json.loads(body).get("policy") == "orders-cap", body[:300])
        # 2. consumers on Warren as well (with the imported user and password hash)
        on_warren = [Consumer(warren.port, q, got) for q in QUEUES]
        for t in on_warren:
            t.start()
        # 3. one shovel per queue, RabbitMQ -> Warren, on-confirm
        for q in QUEUES:
            st, _ = api(warren.mport, "PUT", "/parameters/shovel/%2f/migrate-" + q, {"value": {
                "src-uri": "amqp://app:app-secret@127.0.0.1:%d" % rabbit.port, "src-queue": q,
                "dest-uri": "amqp://", "dest-queue": q, "ack-mode": "on-confirm"}})
            check("step 3: shovel for %s created" % q, st == 201, st)
        time.sleep(1.0)
        # 4. the RabbitMQ consumers stop: the shovels now carry what arrives there
        for t in on_rabbit:
            t.stop = True
        for t in on_rabbit:
            t.join(10)
        time.sleep(1.5)
        # 5. the publisher moves to Warren
        pub.switch(warren.port)
        time.sleep(1.5)
        pub.stop = True
        pub.join(10)
        check("the publisher's every publish was confirmed", not pub.errors, pub.errors)
        # 6. RabbitMQ's queues drain; then the shovels go
        deadline = time.time() + 30
        left = None
        while time.time() < deadline:
            left = [json.loads(curl(rabbit.mport, "GET", "/queues/%2f/" + q)[1])
                    .get("messages", 1) for q in QUEUES]
            if left == [0, 0]:
                break
            time.sleep(0.5)
        check("step 6: RabbitMQ's queues are empty", left == [0, 0], left)
        for q in QUEUES:
            st, _ = api(warren.mport, "DELETE", "/shovels/vhost/%2f/migrate-" + q)
            check("step 6: shovel for %s deleted" % q, st == 204, st)
        deadline = time.time() + 15
        while time.time() < deadline and set(pub.sent) - set(got):
            time.sleep(0.2)
        for t in on_warren:
            t.stop = True
        for t in on_warren:
            t.join(10)
        missing = set(pub.sent) - set(got)
        check("no message lost: %d published (%d to RabbitMQ, %d to Warren), %d consumed, %d "
              "duplicates" % (len(pub.sent), pub.before_switch,
                              len(pub.sent) - pub.before_switch, len(got),
                              len(got) - len(set(got))),
              not missing, "missing %d, e.g. %s" % (len(missing), sorted(missing)[:5]))
    finally:
        warren.cleanup()
        if rabbit:
            rabbit.cleanup()
    print("%d passed, %d failed" % (test_shovel.passed, test_shovel.failed))
    sys.exit(1 if test_shovel.failed else 0)


if __name__ == "__main__":
    main()
