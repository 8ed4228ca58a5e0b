'use strict';
// Queue feature scenarios driven by amqplib: TTL, priorities, dead-lettering and x-death,
// reject-publish nacks, single active consumer, and Warren's delivery limit and delayed exchange
// (warren-only). Expectations are RabbitMQ 3.10.8's (see
// /work/shared/reference/rabbitmq-semantics.md sections 2, 3, 4 and 6).
// Registered by scenarios.js: require('./queue_features.js')(helpers).

const assert = require('node:assert/strict');

module.exports = function register(h) {
  const { scenario, connect, channel, unique, sleep, waitFor, expectChannelClose, VHOST } = h;

  // A scenario body run with one connection and channel; the queues and exchanges it makes
  // through q() and x() are deleted afterwards on a fresh channel.
  function withObjects(fn) {
    return async () => {
      const conn = await connect();
      const ch = await channel(conn);
      const queues = [];
      const exchanges = [];
      const ctx = {
        conn,
        ch,
        async q(args = {}) {
          const name = unique('qf');
          await ch.assertQueue(name, { durable: false, arguments: args });
          queues.push(name);
          return name;
        },
        async x(type = 'fanout', args = {}) {
          const name = unique('qfx');
          await ch.assertExchange(name, type, { durable: false, arguments: args });
          exchanges.push(name);
          return name;
        },
      };
      try {
        await fn(ctx);
      } finally {
        try {
          const tidy = await connect();
          const tch = await tidy.createChannel();
          for (const name of queues) await tch.deleteQueue(name);
          for (const name of exchanges) await tch.deleteExchange(name);
          await tidy.close();
        } catch (_e) {
          // best effort
        }
      }
    };
  }

  const put = (ch, rk, body, opts = {}, exchange = '') =>
    ch.publish(exchange, rk, Buffer.from(body), opts);
  const count = async (ch, q) => (await ch.checkQueue(q)).messageCount;

  async function waitCount(ch, q, want, ms = 3000) {
    const deadline = Date.now() + ms;
    let n = await count(ch, q);
    while (n !== want && Date.now() < deadline) {
      await sleep(30);
      n = await count(ch, q);
    }
    return n;
  }

  async function waitGet(ch, q, noAck = true, ms = 3000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = await ch.get(q, { noAck });
      if (m) return m;
      assert.ok(Date.now() < deadline, `no message in ${q}`);
      await sleep(30);
    }
  }

  async function bodies(ch, q) {
    const out = [];
    for (;;) {
      const m = await ch.get(q, { noAck: true });
      if (!m) return out;
      out.push(m.content.toString());
    }
  }

  const summary = (m) => m.properties.headers['x-death'].map((d) => [d.queue, d.reason, d.count]);

  // ---------------------------------------------------------------- TTL

  scenario('amqplib an expired message behind a longer-lived head waits for the head',
    withObjects(async ({ ch, q }) => {
      const name = await q();
      put(ch, name, 'long', { expiration: '100000' });
      put(ch, name, 'short', { expiration: '10' });
      await sleep(300);
      assert.equal(await count(ch, name), 2, 'count with the long-lived message at the head');
      const m = await ch.get(name, { noAck: true });
      assert.equal(m.content.toString(), 'long');
      assert.equal(m.properties.expiration, '100000', 'head keeps its expiration');
      assert.equal(await waitCount(ch, name, 0, 1000), 0, 'expired message gone at the head');
      assert.equal(await ch.get(name, { noAck: true }), false, 'never delivered');
    }));

  scenario('amqplib queue TTL vs message TTL: the smaller wins; TTL 0 without a consumer drops',
    withObjects(async ({ ch, q }) => {
      const q1 = await q({ 'x-message-ttl': 50 });
      const q2 = await q({ 'x-message-ttl': 100000 });
      const q3 = await q({ 'x-message-ttl': 0 });
      put(ch, q1, 'queue-ttl-smaller', { expiration: '100000' });
      put(ch, q2, 'message-ttl-smaller', { expiration: '50' });
      put(ch, q3, 'zero');
      assert.equal(await waitCount(ch, q1, 0), 0, 'queue TTL 50, message TTL 100000');
      assert.equal(await waitCount(ch, q2, 0), 0, 'queue TTL 100000, message TTL 50');
      assert.equal(await count(ch, q3), 0, 'TTL 0 with no consumer');
    }));

  // ---------------------------------------------------------------- priorities

  scenario('amqplib priority queue (max 5) delivers 5,9,255,3,3,1,none,0 under prefetch 1',
    withObjects(async ({ conn, ch, q }) => {
      const name = await q({ 'x-max-priority': 5 });
      const pris = [undefined, 0, 1, 3, 5, 9, 255, 3];
      for (const p of pris) put(ch, name, `p${p}`, p === undefined ? {} : { priority: p });
      assert.equal(await waitCount(ch, name, 8), 8, 'ready');
      const cch = await channel(conn);
      await cch.prefetch(1);
      const got = [];
      await cch.consume(name, (m) => {
        got.push(m.properties.priority);
        cch.ack(m);
      });
      await waitFor(() => got.length === 8, 3000);
      assert.deepEqual(got, [5, 9, 255, 3, 3, 1, undefined, 0]);
    }));

  // ---------------------------------------------------------------- dead-lettering

  scenario('amqplib x-death after rejected then expired: newest first, x-first-death-* once',
    withObjects(async ({ ch, q, x }) => {
      const x1 = await x();
      const x2 = await x();
      const final = await q();
      const q2 = await q({ 'x-message-ttl': 50, 'x-dead-letter-exchange': x2 });
      const q1 = await q({ 'x-dead-letter-exchange': x1 });
      await ch.bindQueue(q2, x1, '');
      await ch.bindQueue(final, x2, '');
      put(ch, q1, 'hop', { expiration: '100000', headers: { keep: 'me' } });
      const m1 = await waitGet(ch, q1, false);
      ch.reject(m1, false);
      const m = await waitGet(ch, final);
      assert.equal(m.fields.exchange, x2, 'delivered from the last DLX');
      assert.equal(m.fields.routingKey, q1, 'original routing key kept');
      assert.equal(m.properties.expiration, undefined, 'expiration removed');
      assert.equal(m.properties.headers.keep, 'me', 'other headers kept');
      const d = m.properties.headers['x-death'];
      assert.deepEqual(d.map((e) => [e.queue, e.reason, e.count, e.exchange, e['routing-keys']]),
        [[q2, 'expired', 1, x1, [q1]], [q1, 'rejected', 1, '', [q1]]]);
      assert.equal(d[1]['original-expiration'], '100000', 'original-expiration');
      assert.equal(d[0].time['!'], 'timestamp', 'time is a timestamp');
      const hd = m.properties.headers;
      assert.deepEqual([hd['x-first-death-queue'], hd['x-first-death-reason'],
        hd['x-first-death-exchange']], [q1, 'rejected', '']);
    }));

  scenario('amqplib repeated rejects through a self dead-letter cycle increment one count',
    withObjects(async ({ ch, q, x }) => {
      const loop = await x();
      const name = await q({ 'x-dead-letter-exchange': loop });
      await ch.bindQueue(name, loop, '');
      put(ch, name, 'again');
      for (let i = 0; i < 3; i += 1) ch.reject(await waitGet(ch, name, false), false);
      const m = await waitGet(ch, name);
      assert.deepEqual(summary(m), [[name, 'rejected', 3]]);
    }));

  scenario('amqplib x-max-length drop-head dead-letters the oldest with reason maxlen',
    withObjects(async ({ ch, q }) => {
      const dead = await q();
      const name = await q({ 'x-max-length': 2, 'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': dead });
      for (const b of ['1', '2', '3']) put(ch, name, b);
      const m = await waitGet(ch, dead);
      assert.equal(m.content.toString(), '1');
      assert.deepEqual(summary(m), [[name, 'maxlen', 1]]);
      assert.deepEqual(await bodies(ch, name), ['2', '3']);
    }));

  scenario('amqplib x-overflow reject-publish nacks the publish into a full queue',
    withObjects(async ({ conn, q }) => {
      const name = await q({ 'x-max-length': 1, 'x-overflow': 'reject-publish' });
      const cch = await channel(conn, true);
      const outcome = (body) => new Promise((resolve) => {
        cch.publish('', name, Buffer.from(body), {}, (err) => resolve(err ? 'nack' : 'ack'));
      });
      assert.equal(await outcome('fits'), 'ack');
      assert.equal(await outcome('rejected'), 'nack');
      assert.deepEqual(await bodies(cch, name), ['fits']);
    }));

  scenario('amqplib invalid queue arguments get RabbitMQ\'s exact 406 texts',
    withObjects(async ({ conn }) => {
      const cases = [
        [{ 'x-message-ttl': -1 }, 'x-message-ttl', '{value_negative,-1}'],
        [{ 'x-expires': 0 }, 'x-expires', '{value_zero,0}'],
        [{ 'x-max-priority': 256 }, 'x-max-priority', '{max_value_exceeded,256}'],
        [{ 'x-overflow': 'bogus' }, 'x-overflow', 'invalid_overflow'],
        [{ 'x-dead-letter-routing-key': 'k' }, 'x-dead-letter-routing-key',
          'routing_key_but_no_dlx_defined'],
      ];
      for (const [args, key, reason] of cases) {
        const name = unique('qbad');
        await expectChannelClose(conn, (c) => c.assertQueue(name, { arguments: args }), 406,
          `PRECONDITION_FAILED - invalid arg '${key}' for queue '${name}' in vhost '${VHOST}': ` +
          reason);
      }
    }));

  // ---------------------------------------------------------------- consumers

  scenario('amqplib single active consumer fails over in registration order',
    withObjects(async ({ ch, q }) => {
      const name = await q({ 'x-single-active-consumer': true });
      const conns = [await connect(), await connect(), await connect()];
      const got = [[], [], []];
      for (let i = 0; i < 3; i += 1) {
        const c = await channel(conns[i]);
        await c.consume(name, (m) => got[i].push(m.content.toString()), { noAck: true });
      }
      for (const b of ['m0', 'm1']) put(ch, name, b);
      await sleep(300);
      assert.deepEqual(got, [['m0', 'm1'], [], []], 'before failover');
      await conns[0].close();
      await sleep(200);
      put(ch, name, 'm2');
      await sleep(300);
      assert.deepEqual(got, [['m0', 'm1'], ['m2'], []], 'after failover');
    }));

  // ---------------------------------------------------------------- Warren-only

  scenario('amqplib x-delivery-limit on a classic queue dead-letters with delivery_limit',
    withObjects(async ({ ch, q }) => {
      const dead = await q();
      const name = await q({ 'x-delivery-limit': 1, 'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': dead });
      put(ch, name, 'limited');
      for (const want of [0, 1]) {
        const m = await waitGet(ch, name, false);
        assert.equal(m.properties.headers['x-delivery-count'], want, 'x-delivery-count');
        ch.nack(m, false, true);
      }
      const m = await waitGet(ch, dead);
      assert.deepEqual(summary(m), [[name, 'delivery_limit', 1]]);
      assert.equal(await count(ch, name), 0, 'gone from the queue');
    }), { warrenOnly: true });

  scenario('amqplib x-delayed-message exchange delivers after x-delay, shortest first',
    withObjects(async ({ ch, q, x }) => {
      const ex = await x('x-delayed-message', { 'x-delayed-type': 'direct' });
      const name = await q();
      await ch.bindQueue(name, ex, 'k');
      put(ch, 'k', 'late', { headers: { 'x-delay': 500 } }, ex);
      put(ch, 'k', 'soon', { headers: { 'x-delay': 150 } }, ex);
      await sleep(50);
      assert.equal(await count(ch, name), 0, 'held');
      const first = await waitGet(ch, name);
      const second = await waitGet(ch, name);
      assert.deepEqual([first.content.toString(), second.content.toString()], ['soon', 'late']);
      assert.equal(second.fields.exchange, ex);
    }), { warrenOnly: true });
};
