#!/usr/bin/python3
"""Clients for the cluster tests, given the addresses of every node as real applications would
be: pika publishers and consumers on threads, and an amqplib publisher (node) in a process.
Each reconnects to the next address when its connection fails, and records what the broker
confirmed (publishers) or delivered (consumers), with the node and the time."""
import json
import os
import subprocess
import threading
import time

import pika

HERE = os.path.dirname(os.path.abspath(__file__))
AMQPLIB = os.path.join(HERE, "..", "..", "conformance", "amqplib", "node_modules")


def params(addr, heartbeat=5):
    return pika.ConnectionParameters(
        host=addr[0], port=addr[1], heartbeat=heartbeat, blocked_connection_timeout=30,
        socket_timeout=5, connection_attempts=1, stack_timeout=10,
        credentials=pika.PlainCredentials("guest", "guest"))


class Publisher(threading.Thread):
    """Publishes persistent messages "<name>-<n>" to queue (or exchange) with confirms, one at
    a time (pika's BlockingConnection waits for each confirm)."""

    def __init__(self, name, addresses, queue, exchange="", rate=None, pad=0):
        super().__init__(daemon=True)
        self.name_, self.addresses, self.queue, self.exchange = name, addresses, queue, exchange
        self.rate = rate
        self.pad = b" " * pad  # after the id: bigger bodies
        self.stop_flag = threading.Event()
        self.confirmed = []        # (id, node that served it ("warren@n1"), time)
        self.nacked = 0
        self.sent = 0
        self.reconnects = 0
        self.errors = []
        self.lock = threading.Lock()

    def run(self):
        k = hash(self.name_) % len(self.addresses)
        n = 0
        while not self.stop_flag.is_set():
            node = k % len(self.addresses)
            k += 1
            try:
                conn = pika.BlockingConnection(params(self.addresses[node]))
            except Exception as e:  # noqa: BLE001 - any failure: next address
                self.errors.append(repr(e))
                time.sleep(0.2)
                continue
            try:
                served = conn._impl.server_properties.get("node", "?")
                if isinstance(served, bytes):
                    served = served.decode()
                ch = conn.channel()
                ch.confirm_delivery()
                while not self.stop_flag.is_set():
                    mid = "%s-%d" % (self.name_, n)
                    n += 1
                    self.sent += 1
                    try:
                        ch.basic_publish(self.exchange, self.queue, mid.encode() + self.pad,
                                         pika.BasicProperties(delivery_mode=2, message_id=mid),
                                         mandatory=False)
                    except pika.exceptions.NackError:
                        self.nacked += 1
                        continue
                    with self.lock:
                        self.confirmed.append((mid, served, time.time()))
                    if self.rate:
                        time.sleep(1.0 / self.rate)
            except Exception as e:  # noqa: BLE001
                self.errors.append(repr(e))
                self.reconnects += 1
            finally:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001
                    pass

    def stop(self):
        self.stop_flag.set()
        self.join(30)

    def ids(self):
        with self.lock:
            return [c[0] for c in self.confirmed]


class Consumer(threading.Thread):
    """Consumes with manual acks (prefetch 50) and records every delivery."""

    def __init__(self, name, addresses, queue):
        super().__init__(daemon=True)
        self.name_, self.addresses, self.queue = name, addresses, queue
        self.stop_flag = threading.Event()
        self.delivered = []  # (id, redelivered)
        self.lock = threading.Lock()
        self.errors = []

    def run(self):
        k = hash(self.name_) % len(self.addresses)
        while not self.stop_flag.is_set():
            addr = self.addresses[k % len(self.addresses)]
            k += 1
            try:
                conn = pika.BlockingConnection(params(addr))
            except Exception as e:  # noqa: BLE001
                self.errors.append(repr(e))
                time.sleep(0.2)
                continue
            try:
                ch = conn.channel()
                ch.basic_qos(prefetch_count=50)
                for method, props, body in ch.consume(self.queue, inactivity_timeout=0.2):
                    if self.stop_flag.is_set():
                        break
                    if method is None:
                        continue
                    with self.lock:
                        self.delivered.append((body_id(body), method.redelivered))
                    ch.basic_ack(method.delivery_tag)
            except Exception as e:  # noqa: BLE001
                self.errors.append(repr(e))
            finally:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001
                    pass

    def stop(self):
        self.stop_flag.set()
        self.join(30)

    def ids(self):
        with self.lock:
            return [d[0] for d in self.delivered]


def body_id(body):
    """A message's id: its body up to the first space (publishers may pad it)."""
    return body.split(b" ", 1)[0].decode()


def drain(addresses, queue, idle=2.0, timeout=120):
    """Consumes (acking) until the queue stays empty for `idle` seconds. Returns the ids."""
    got = []
    deadline = time.time() + timeout
    k = 0
    while time.time() < deadline:
        try:
            conn = pika.BlockingConnection(params(addresses[k % len(addresses)]))
        except Exception:  # noqa: BLE001
            k += 1
            time.sleep(0.2)
            continue
        try:
            ch = conn.channel()
            ch.basic_qos(prefetch_count=500)
            last = time.time()
            for method, props, body in ch.consume(queue, inactivity_timeout=0.2):
                if method is None:
                    if time.time() - last > idle:
                        break
                    continue
                last = time.time()
                got.append(body_id(body))
                ch.basic_ack(method.delivery_tag)
            conn.close()
            return got
        except Exception:  # noqa: BLE001
            k += 1
            time.sleep(0.2)
    raise RuntimeError("could not drain %s within %d s" % (queue, timeout))


def declare(addresses, queue, timeout=30):
    deadline = time.time() + timeout
    k = 0
    last = None
    while time.time() < deadline:
        try:
            conn = pika.BlockingConnection(params(addresses[k % len(addresses)]))
            conn.channel().queue_declare(queue, durable=True)
            conn.close()
            return
        except Exception as e:  # noqa: BLE001
            last = e
            k += 1
            time.sleep(0.2)
    raise RuntimeError("declare %s: %r" % (queue, last))


def depth(addresses, queue):
    for addr in addresses:
        try:
            conn = pika.BlockingConnection(params(addr))
            n = conn.channel().queue_declare(queue, durable=True, passive=True).method.message_count
            conn.close()
            return n
        except Exception:  # noqa: BLE001
            continue
    return None


class AmqplibPublisher:
    """amqplib's ConfirmChannel in a node process (amqplib_publisher.js): a window of
    unconfirmed publishes, reconnecting through the address list. Prints 'C id node' per
    confirm, node being the serving node the connection's server properties name."""

    def __init__(self, name, addresses, queue, window=100):
        urls = ",".join("amqp://guest:guest@%s:%d" % a for a in addresses)
        env = dict(os.environ, NODE_PATH=AMQPLIB)
        self.p = subprocess.Popen(["node", os.path.join(HERE, "amqplib_publisher.js"), name, urls,
                                   queue, str(window)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env)
        self.confirmed = []
        self.reconnects = 0
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "C":
                with self.lock:
                    self.confirmed.append((parts[1], parts[2], time.time()))
            elif parts and parts[0] == "R":
                self.reconnects += 1

    def stop(self):
        try:
            self.p.stdin and self.p.stdin.close()
        except Exception:  # noqa: BLE001
            pass
        self.p.terminate()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
        self.t.join(10)

    def ids(self):
        with self.lock:
            return [c[0] for c in self.confirmed]


def dump(obj):
    return json.dumps(obj, indent=1, default=str)
