"""Conformance scenarios driven by aio-pika 8.2 over aiormq 6.4 (Debian python3-aio-pika,
python3-aiormq): asyncio clients, each scenario run in its own event loop.

Run: /usr/bin/python3 conformance/aio-pika/scenarios.py  (see conformance/harness.py for the
environment; CONFORMANCE_PROFILE=zero-limits runs the scenarios for a broker with channel_max = 0
and frame_max = 0)
"""

import asyncio
import functools
import logging
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import aio_pika  # noqa: E402
import aiormq  # noqa: E402

from harness import URL, Failure, check, eq, main, scenario, unique  # noqa: E402

DEFAULT_REFUSED = "ACCESS_REFUSED - operation not permitted on the default exchange"

# aiormq logs every connection the broker closes; the scenarios check those closes themselves.
logging.getLogger("aiormq").setLevel(logging.CRITICAL)
logging.getLogger("aio_pika").setLevel(logging.CRITICAL)


def run_async(fn):
    """Runs the coroutine function fn in a fresh event loop; its connections close afterwards."""
    @functools.wraps(fn)
    def wrapper():
        async def body():
            conns = []

            async def connect():
                c = await aio_pika.connect(URL, timeout=5)
                conns.append(c)
                return c
            try:
                await fn(connect)
            finally:
                for c in conns:
                    if not c.is_closed:
                        try:
                            await asyncio.wait_for(c.close(), 3)
                        except Exception:  # noqa: BLE001 - cleanup
                            pass
        asyncio.run(body())
    return wrapper


async def channel_error(coro, exc_class, text):
    """The awaited call must close its channel with this aiormq exception and reply text."""
    try:
        await coro
    except exc_class as e:
        eq(e.args[0] if e.args else None, text, "reply text")
        return
    except aiormq.exceptions.AMQPError as e:
        raise Failure("expected %s %r, got %r" % (exc_class.__name__, text, e))
    raise Failure("expected %s %r, got no error" % (exc_class.__name__, text))


async def get_one(queue):
    for _ in range(500):
        m = await queue.get(no_ack=True, fail=False)
        if m is not None:
            return m
        await asyncio.sleep(0.01)
    raise Failure("no message in %s after 5 s" % queue.name)


@scenario("a message published and fetched keeps its body and headers")
@run_async
async def roundtrip(connect):
    c = await connect()
    ch = await c.channel()
    q = await ch.declare_queue("", exclusive=True)
    await ch.default_exchange.publish(
        aio_pika.Message(b"hello from aio-pika", headers={"k": 7}, content_type="text/plain"),
        routing_key=q.name)
    m = await get_one(q)
    eq(m.body, b"hello from aio-pika", "body")
    eq(m.content_type, "text/plain", "content type")
    eq(m.headers.get("k"), 7, "header k")


@scenario("queue.unbind after the queue and the exchange were deleted answers unbind-ok")
@run_async
async def unbind_after_delete(connect):
    c = await connect()
    ch = await c.channel()
    x = await ch.declare_exchange(unique("aio.x"), aio_pika.ExchangeType.DIRECT, auto_delete=True)
    q = await ch.declare_queue(unique("aio.q"), auto_delete=True)
    await q.bind(x, "k")
    # A clean-up path: everything goes, then the unbind it always does.
    await q.delete(if_unused=False, if_empty=False)
    await q.unbind(x, "k")
    await x.delete()
    await q.unbind(x, "k")
    await ch.declare_queue("", exclusive=True)  # the channel is still open


@scenario("exchange.unbind of a missing source or destination answers unbind-ok")
@run_async
async def exchange_unbind_missing(connect):
    c = await connect()
    ch = await c.channel()
    x = await ch.declare_exchange(unique("aio.x"), aio_pika.ExchangeType.FANOUT, auto_delete=True)
    gone = await ch.get_exchange(unique("aio.gone"), ensure=False)
    await x.bind("amq.direct", "k")
    await x.unbind("amq.direct", "k")
    await x.unbind(gone, "k")
    await gone.unbind(x, "k")
    await x.delete()


@scenario("a passive declare of the default exchange is 403")
@run_async
async def passive_default_exchange(connect):
    c = await connect()
    ch = await c.channel()
    await channel_error(ch.get_exchange(""), aiormq.exceptions.ChannelAccessRefused,
                        DEFAULT_REFUSED)
    ch = await c.channel()
    await ch.get_exchange("amq.direct")


@scenario("channel numbers climb past 2047 when each new channel opens before the old one closes",
          timeout=60)
@run_async
async def rolling_channels(connect):
    # aiormq numbers a new channel one above the highest open one. RabbitMQ caps how many are
    # open (channel_max), not their numbers; Warren refused 2048 with 504.
    c = await connect()
    q = await (await c.channel()).declare_queue("", exclusive=True)
    old = await c.channel()
    for _ in range(2100):
        new = await c.channel()
        await old.close()
        old = new
    check(old.channel.number > 2047, "channel number %d" % old.channel.number)
    await old.default_exchange.publish(aio_pika.Message(b"late"), routing_key=q.name)
    eq((await get_one(q)).body, b"late", "body")


@scenario("one channel more than the negotiated channel_max closes the connection with 530",
          timeout=60)
@run_async
async def channel_max_count(connect):
    c = await connect()
    channels = []
    try:
        for _ in range(2048):
            channels.append(await c.channel())
    except aiormq.exceptions.ConnectionNotAllowed as e:
        eq(len(channels), 2047, "channels open before the refusal")
        eq(e.args[0], "NOT_ALLOWED - number of channels opened (2047) has reached the "
           "negotiated channel_max (2047)", "reply text")
        return
    raise Failure("2048 channels opened")


@scenario("closing a channel while the broker closes it keeps the connection and its other channels")
@run_async
async def crossing_close(connect):
    c = await connect()
    other = await c.channel()
    q = await other.declare_queue("", exclusive=True)
    for _ in range(3):
        # Without confirms the publish returns at once, and close() crosses the 404.
        ch = await c.channel(publisher_confirms=False)
        x = await ch.get_exchange(unique("aio.missing"), ensure=False)
        await x.publish(aio_pika.Message(b"lost"), routing_key="k")
        try:
            await ch.close()
        except aiormq.exceptions.AMQPError:
            pass  # the broker's 404, when it arrives first
        await other.default_exchange.publish(aio_pika.Message(b"still here"), routing_key=q.name)
        eq((await get_one(q)).body, b"still here", "body")
    check(not c.is_closed, "the connection was closed")


@scenario("tune offers channel_max 0 and frame_max 0, which aiormq echoes, and channels open",
          profile="zero-limits")
@run_async
async def zero_limits_echoed(connect):
    c = await connect()
    ch = await c.channel()
    q = await ch.declare_queue("", exclusive=True)
    body = b"z" * 300000
    await ch.default_exchange.publish(aio_pika.Message(body), routing_key=q.name)
    eq((await get_one(q)).body, body, "body")


if __name__ == "__main__":
    main("aio-pika")
