'use strict';
// Stream and quorum queue scenarios driven by amqplib: x-stream-offset and its header, credit by
// prefetch, replay, the stream refusals (no prefetch, basic.get, nack); quorum x-delivery-count,
// requeue to the back, reject-publish one message late, global qos refused. Expectations are
// RabbitMQ 3.10.8's (checked with conformance/rabbitmq.sh); the warren-only ones are a Warren
// answer where RabbitMQ 3.10 crashes the connection with 541, and RabbitMQ 3.13's stream
// filtering (which Warren applies exactly).
// Registered by scenarios.js: require('./streams_quorum.js')(helpers).

const assert = require('node:assert/strict');

module.exports = function register(h) {
  const {
    scenario, connect, channel, unique, sleep, waitFor, expectChannelClose,
    expectConnectionClose, VHOST,
  } = h;

  // A scenario body with one connection and channel; the queues it declares through
  // q(type, args) are deleted afterwards on a fresh connection.
  function withQueues(fn) {
    return async () => {
      const conn = await connect();
      const ch = await channel(conn);
      const queues = [];
      const ctx = {
        conn,
        ch,
        async q(type, args = {}) {
          const name = unique(type);
          await ch.assertQueue(name, { durable: true, arguments: { 'x-queue-type': type, ...args } });
          queues.push(name);
          return name;
        },
      };
      try {
        await fn(ctx);
      } finally {
        const c = await connect();
        const cc = await channel(c);
        for (const q of queues) await cc.deleteQueue(q);
        await c.close();
      }
    };
  }

  async function publishConfirmed(conn, q, bodies) {
    const ch = await channel(conn, true);
    const out = [];
    for (const b of bodies) {
      ch.sendToQueue(q, Buffer.from(b));
      try {
        await ch.waitForConfirms();
        out.push('ack');
      } catch (_e) {
        out.push('nack');
      }
    }
    await ch.close();
    return out;
  }

  async function reader(conn, q, offset, prefetch = 100) {
    const ch = await channel(conn);
    await ch.prefetch(prefetch);
    const got = [];
    const args = offset === undefined ? {} : { 'x-stream-offset': offset };
    const { consumerTag } = await ch.consume(q, (m) => got.push(m), { arguments: args });
    return { ch, got, consumerTag };
  }

  const offsets = (got) => got.map((m) => [m.content.toString(), Number(m.properties.headers['x-stream-offset'])]);

  scenario('amqplib stream consumers read from first, last, an offset and next with x-stream-offset headers',
    withQueues(async ({ conn, q }) => {
      const s = await q('stream');
      await publishConfirmed(conn, s, ['m0', 'm1', 'm2', 'm3']);
      const all = [['m0', 0], ['m1', 1], ['m2', 2], ['m3', 3]];
      for (const [offset, want] of [['first', all], ['last', all.slice(3)], [1, all.slice(1)]]) {
        const r = await reader(conn, s, offset);
        await waitFor(() => r.got.length >= want.length);
        await sleep(100);
        assert.deepEqual(offsets(r.got), want, `x-stream-offset ${offset}`);
        await r.ch.close();
      }
      const r = await reader(conn, s, 'next');
      await publishConfirmed(conn, s, ['m4']);
      await waitFor(() => r.got.length >= 1);
      assert.deepEqual(offsets(r.got), [['m4', 4]], 'next');
    }));

  scenario('amqplib stream consumer gets no more than its prefetch until it acks, and acks remove nothing',
    withQueues(async ({ conn, q }) => {
      const s = await q('stream');
      await publishConfirmed(conn, s, ['a', 'b', 'c', 'd']);
      const r = await reader(conn, s, 'first', 2);
      await waitFor(() => r.got.length >= 2);
      await sleep(200);
      assert.equal(r.got.length, 2, 'prefetch 2');
      r.ch.ack(r.got[1], true);
      await waitFor(() => r.got.length >= 4);
      r.ch.ackAll();
      assert.deepEqual(r.got.map((m) => m.content.toString()), ['a', 'b', 'c', 'd']);
      const again = await reader(conn, s, 'first');
      await waitFor(() => again.got.length >= 4);
      assert.deepEqual(again.got.map((m) => m.content.toString()), ['a', 'b', 'c', 'd'], 'replay');
    }));

  scenario('amqplib stream consume without prefetch closes the channel with 406', withQueues(async ({ conn, q }) => {
    const s = await q('stream');
    await expectChannelClose(conn, (c) => c.consume(s, () => {}), 406,
      `PRECONDITION_FAILED - consumer prefetch count is not set for 'queue '${s}' in vhost '${VHOST}''`);
  }));

  scenario('amqplib stream basic.get and nack close the connection with 540', withQueues(async ({ conn, q }) => {
    const s = await q('stream');
    await publishConfirmed(conn, s, ['x']);
    const c1 = await connect();
    const ch1 = await channel(c1);
    await expectConnectionClose(c1, () => ch1.get(s), 540,
      `NOT_IMPLEMENTED - basic.get not supported by stream queues queue '${s}' in vhost '${VHOST}'`);
    const c2 = await connect();
    const r = await reader(c2, s, 'first');
    await waitFor(() => r.got.length >= 1);
    await expectConnectionClose(c2, async () => { r.ch.nack(r.got[0], false, true); await sleep(500); }, 540,
      `NOT_IMPLEMENTED - basic.nack and basic.reject not supported by stream queues queue '${s}' in vhost '${VHOST}'`);
  }));

  scenario('amqplib stream consume with an unparsable x-stream-offset gets a 406', withQueues(async ({ conn, q }) => {
    const s = await q('stream');
    await expectChannelClose(conn, async (c) => { await c.prefetch(10); await c.consume(s, () => {}, { arguments: { 'x-stream-offset': 'bogus' } }); }, 406,
      /^PRECONDITION_FAILED - invalid arg 'x-stream-offset' for queue '.*' in vhost '.*': /);
  }), { warrenOnly: true });

  scenario('amqplib stream consumer with x-stream-filter (an array) and x-stream-match-unfiltered gets exactly the matching messages',
    withQueues(async ({ conn, q }) => {
      const s = await q('stream');
      const pch = await channel(conn, true);
      for (const [body, value] of [['e1', 'emea'], ['a1', 'apac'], ['n1', null], ['m1', 'amer'], ['e2', 'emea']]) {
        const headers = value === null ? {} : { 'x-stream-filter-value': value };
        pch.sendToQueue(s, Buffer.from(body), { headers });
        await pch.waitForConfirms();
      }
      await pch.close();
      const ch = await channel(conn);
      await ch.prefetch(10);
      const got = [];
      await ch.consume(s, (m) => got.push(m.content.toString()), {
        arguments: { 'x-stream-offset': 'first', 'x-stream-filter': ['emea', 'amer'], 'x-stream-match-unfiltered': true },
      });
      await waitFor(() => got.length >= 4);
      await sleep(200);
      assert.deepEqual(got, ['e1', 'n1', 'm1', 'e2']);
      await ch.close();
    }), { warrenOnly: true });

  scenario('amqplib quorum queue: x-delivery-count on get and redelivery, requeue to the back',
    withQueues(async ({ conn, ch, q }) => {
      const qq = await q('quorum');
      await publishConfirmed(conn, qq, ['m0', 'm1']);
      const first = await ch.get(qq);
      assert.equal(Number(first.properties.headers['x-delivery-count']), 0, 'first get');
      ch.nack(first, false, true);
      await sleep(100);
      await ch.prefetch(1);
      const got = [];
      await ch.consume(qq, (m) => { got.push(m); ch.ack(m); });
      await waitFor(() => got.length >= 2);
      assert.deepEqual(got.map((m) => [m.content.toString(), m.properties.headers['x-delivery-count'] === undefined ? null : Number(m.properties.headers['x-delivery-count'])]),
        [['m1', null], ['m0', 1]]);
    }));

  scenario('amqplib quorum queue x-max-length 1 reject-publish nacks from the third message',
    withQueues(async ({ conn, q }) => {
      const qq = await q('quorum', { 'x-max-length': 1, 'x-overflow': 'reject-publish' });
      assert.deepEqual(await publishConfirmed(conn, qq, ['a', 'b', 'c']), ['ack', 'ack', 'nack']);
    }));

  scenario('amqplib quorum queue consumer with global qos closes the connection with 540',
    withQueues(async ({ q }) => {
      const qq = await q('quorum');
      const c = await connect();
      const ch = await channel(c);
      await ch.prefetch(5, true);
      await expectConnectionClose(c, () => ch.consume(qq, () => {}), 540,
        `NOT_IMPLEMENTED - queue '${qq}' in vhost '${VHOST}' does not support global qos`);
    }));
};
