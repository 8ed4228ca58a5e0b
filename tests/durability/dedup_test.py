#!/usr/bin/env python3
"""Deduplication caches survive restarts: a durable x-message-deduplication exchange with
x-cache-persistence "disk" still drops a duplicate of a value confirmed before a clean restart or
a kill -9; with "memory" (the default) the cache starts empty; a value past its x-cache-ttl is
forgotten while the broker is down; deleting the exchange forgets its cache for good; a
deduplicating queue knows the values of its recovered messages. Bounded: about 10 s.

usage: dedup_test.py path/to/warren
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, "/usr/lib/python3/dist-packages")
import pika  # noqa: E402
from delayed_test import Broker, check  # noqa: E402


def setup(ch, x, q, persistence):
    ch.exchange_declare(x, "x-message-deduplication", durable=True, arguments={
        "x-cache-size": 100, "x-cache-persistence": persistence})
    ch.queue_declare(q, durable=True)
    ch.queue_bind(q, x, "")


def publish(ch, x, key, ttl=None):
    h = {"x-deduplication-header": key}
    if ttl:
        h["x-cache-ttl"] = ttl
    ch.basic_publish(x, "", key.encode(), pika.BasicProperties(delivery_mode=2, headers=h))


def count(ch, q):
    return ch.queue_declare(q, passive=True).method.message_count


def main():
    data = tempfile.mkdtemp(prefix="warren-dedup-test-")
    b = Broker(sys.argv[1], data)
    try:
        b.start()
        conn, ch = b.channel()
        ch.confirm_delivery()
        setup(ch, "dd", "dq", "disk")
        setup(ch, "dm", "mq", "memory")
        ch.queue_declare("qd", durable=True, arguments={"x-message-deduplication": True})
        publish(ch, "dd", "a")
        publish(ch, "dd", "short", ttl=800)
        publish(ch, "dm", "a")
        ch.basic_publish("", "qd", b"j", pika.BasicProperties(
            delivery_mode=2, headers={"x-deduplication-header": "job"}))
        conn.close()
        b.stop()

        b.start()
        conn, ch = b.channel()
        ch.confirm_delivery()
        publish(ch, "dd", "a")
        publish(ch, "dm", "a")
        ch.basic_publish("", "qd", b"j", pika.BasicProperties(
            delivery_mode=2, headers={"x-deduplication-header": "job"}))
        time.sleep(0.2)
        check(count(ch, "dq") == 2, "a disk cache still knows a value after a clean restart")
        check(count(ch, "mq") == 2, "a memory cache starts empty after a restart")
        check(count(ch, "qd") == 1,
              "a deduplicating queue knows the values of the messages it recovered")
        time.sleep(0.8)
        publish(ch, "dd", "short")
        time.sleep(0.1)
        check(count(ch, "dq") == 3, "a value whose x-cache-ttl passed is forgotten")

        # kill -9 right after the confirm
        publish(ch, "dd", "k")
        b.kill()
        b.start()
        conn, ch = b.channel()
        ch.confirm_delivery()
        publish(ch, "dd", "k")
        publish(ch, "dd", "a")
        time.sleep(0.2)
        check(count(ch, "dq") == 4, "a value confirmed just before a kill -9 is still known")

        # deleted and declared again: the old cache does not come back
        ch.exchange_delete("dd")
        setup(ch, "dd", "dq", "disk")
        b.kill()
        b.start()
        conn, ch = b.channel()
        ch.confirm_delivery()
        publish(ch, "dd", "a")
        time.sleep(0.2)
        check(count(ch, "dq") == 5, "a deleted exchange's cache does not come back")
        conn.close()
        b.stop()
        print("PASS")
    finally:
        if b.proc and b.proc.poll() is None:
            b.proc.kill()
            b.proc.wait()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
