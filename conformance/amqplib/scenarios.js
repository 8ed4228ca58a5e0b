'use strict';
// Conformance scenarios driven by amqplib (npm, version pinned in package.json).
// Run: node conformance/amqplib/scenarios.js   (env as in conformance/harness.py)
// Prints "ok - name" / "FAIL - name: why" / "skip - name (warren-only)" and
// "amqplib: N passed, M failed".

const amqp = require('amqplib');
const assert = require('node:assert/strict');

const URL = process.env.CONFORMANCE_URL || 'amqp://guest:guest@127.0.0.1:5673/';
const TARGET = process.env.CONFORMANCE_TARGET || 'rabbitmq';
const FILTER = process.env.CONFORMANCE_FILTER || '';
const TIMEOUT_MS = 1000 * Number(process.env.CONFORMANCE_TIMEOUT || 20);
const parsed = new globalThis.URL(URL);
const VHOST = parsed.pathname.length > 1 ? decodeURIComponent(parsed.pathname.slice(1)) : '/';
const USER = decodeURIComponent(parsed.username || 'guest');
const GEN_NAME = /^amq\.gen-[A-Za-z0-9_-]{22}$/;
const CTAG = /^amq\.ctag-[A-Za-z0-9_-]{22}$/;

const scenarios = [];
function scenario(name, fn, opts = {}) {
  scenarios.push({ name, fn, warrenOnly: !!opts.warrenOnly });
}

let counter = 0;
function unique(prefix) {
  counter += 1;
  return `conf.js.${prefix}.${process.pid}.${Date.now() % 100000000}.${counter}`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Every connection opened by a scenario is closed afterwards, whatever happened.
let open = [];
async function connect(opts) {
  const conn = await amqp.connect(opts ? { ...urlOptions(), ...opts } : URL);
  conn.errors = [];
  conn.on('error', (e) => conn.errors.push(e));
  conn.closed = new Promise((r) => conn.on('close', r));
  open.push(conn);
  return conn;
}

function urlOptions() {
  return {
    protocol: 'amqp',
    hostname: parsed.hostname,
    port: Number(parsed.port || 5672),
    username: USER,
    password: decodeURIComponent(parsed.password || 'guest'),
    vhost: VHOST,
  };
}

async function channel(conn, confirm = false) {
  const ch = confirm ? await conn.createConfirmChannel() : await conn.createChannel();
  ch.errors = [];
  ch.on('error', (e) => ch.errors.push(e));
  ch.closed = new Promise((r) => ch.on('close', r));
  return ch;
}

function splitClose(err) {
  const m = /(\d{3}) \([A-Z-]+\) with message "(.*)"$/s.exec(err.message);
  assert.ok(m, `unexpected error message: ${err.message}`);
  return { code: Number(m[1]), text: m[2] };
}

async function within(promise, ms, what) {
  let timer;
  const t = new Promise((_, rej) => {
    timer = setTimeout(() => rej(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, t]);
  } finally {
    clearTimeout(timer);
  }
}

// fn(ch) must make the server close ch with code/text.
async function expectChannelClose(conn, fn, code, text) {
  const ch = await channel(conn);
  try {
    await fn(ch);
  } catch (_e) {
    // the operation's own rejection; the close reason is checked below
  }
  await within(ch.closed, 3000, `channel close ${code}`);
  assert.ok(ch.errors.length > 0, `expected channel close ${code}, got a clean close`);
  const got = splitClose(ch.errors[0]);
  assert.equal(got.code, code, `reply code (${got.text})`);
  if (typeof text === 'string') assert.equal(got.text, text);
  else if (text) assert.match(got.text, text);
  assert.equal(conn.errors.length, 0, 'connection stays open');
}

async function expectConnectionClose(conn, fn, code, text) {
  try {
    await fn();
  } catch (_e) {
    // rejected by the close
  }
  await within(conn.closed, 3000, `connection close ${code}`);
  assert.ok(conn.errors.length > 0, 'expected a connection error');
  const got = splitClose(conn.errors[0]);
  assert.equal(got.code, code, `reply code (${got.text})`);
  if (text) assert.equal(got.text, text);
}

async function xq(ch) {
  return (await ch.assertQueue('', { exclusive: true })).queue;
}

async function drain(ch, q) {
  const out = [];
  for (;;) {
    const m = await ch.get(q, { noAck: true });
    if (!m) return out;
    out.push(m.content.toString());
  }
}

async function waitFor(cond, ms = 2000) {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await sleep(10);
}

const NOT_FOUND_Q = (q) => `NOT_FOUND - no queue '${q}' in vhost '${VHOST}'`;

// ------------------------------------------------------------------ connection

scenario('amqplib connects, sees the capabilities and closes', async () => {
  const conn = await connect();
  const props = conn.connection.serverProperties;
  assert.ok(props.product && props.version, 'product and version');
  for (const cap of ['publisher_confirms', 'exchange_exchange_bindings', 'basic.nack',
    'consumer_cancel_notify', 'connection.blocked', 'consumer_priorities',
    'authentication_failure_close', 'per_consumer_qos', 'direct_reply_to']) {
    assert.equal(props.capabilities[cap], true, `capability ${cap}`);
  }
  const ch = await conn.createChannel();
  await ch.close();
  await conn.close();
});

scenario('amqplib with heartbeat 2 stays connected while idle for 5 s', async () => {
  const conn = await connect({ heartbeat: 2 });
  assert.equal(conn.connection.heartbeat, 2, 'negotiated heartbeat');
  await sleep(5000);
  assert.equal(conn.errors.length, 0, 'no connection error');
  const ch = await channel(conn);
  await xq(ch);
});

// ------------------------------------------------------------------ exchanges

scenario('amqplib declares direct, fanout, topic and headers exchanges', async () => {
  const conn = await connect();
  const ch = await channel(conn);
  for (const type of ['direct', 'fanout', 'topic', 'headers']) {
    const x = unique('x');
    await ch.assertExchange(x, type, { durable: false });
    await ch.checkExchange(x);
    await ch.deleteExchange(x);
  }
});

scenario('amqplib passive declare of a missing exchange gives 404', async () => {
  const conn = await connect();
  const x = unique('nope');
  await expectChannelClose(conn, (ch) => ch.checkExchange(x), 404,
    `NOT_FOUND - no exchange '${x}' in vhost '${VHOST}'`);
});

scenario('amqplib exchange type mismatch gives 406 and delete if-unused gives 406', async () => {
  const conn = await connect();
  const ch = await channel(conn);
  const x = unique('x');
  await ch.assertExchange(x, 'direct', { durable: false });
  try {
    await expectChannelClose(conn, (c) => c.assertExchange(x, 'topic', { durable: false }), 406,
      `PRECONDITION_FAILED - inequivalent arg 'type' for exchange '${x}' in vhost '${VHOST}': ` +
      "received 'topic' but current is 'direct'");
    const q = await xq(ch);
    await ch.bindQueue(q, x, 'k');
    await expectChannelClose(conn, (c) => c.deleteExchange(x, { ifUnused: true }), 406,
      `PRECONDITION_FAILED - exchange '${x}' in vhost '${VHOST}' in use`);
  } finally {
    await ch.deleteExchange(x);
  }
});

scenario('amqplib amq.* exchange declare gives 403', async () => {
  const conn = await connect();
  await expectChannelClose(conn, (ch) => ch.assertExchange('amq.js', 'direct'), 403,
    "ACCESS_REFUSED - exchange name 'amq.js' contains reserved prefix 'amq.*'");
});

scenario('amqplib binding a queue to the default exchange gives 403', async () => {
  const conn = await connect();
  const ch = await channel(conn);
  const q = await xq(ch);
  await expectChannelClose(conn, (c) => c.bindQueue(q, '', q), 403,
    'ACCESS_REFUSED - operation not permitted on the default exchange');
});

scenario('amqplib unknown exchange type: 503 connection on RabbitMQ 3.10, 406 channel on Warren',
  async () => {
    const conn = await connect();
    const ch = await channel(conn);
    try {
      await ch.assertExchange(unique('x'), 'foo');
    } catch (_e) {
      // inspected below
    }
    await within(ch.closed, 3000, 'channel close');
    if (conn.errors.length > 0) {
      const got = splitClose(conn.errors[0]);
      assert.deepEqual(got, { code: 503, text: "COMMAND_INVALID - invalid exchange type 'foo'" });
    } else {
      const got = splitClose(ch.errors[0]);
      assert.equal(got.code, 406);
      assert.ok(got.text.includes("unknown exchange type 'foo'"), got.text);
    }
  });

scenario('amqplib exchange-to-exchange bindings route and unbind', async () => {
  const conn = await connect();
  const ch = await channel(conn);
  const src = unique('src');
  const dst = unique('dst');
  await ch.assertExchange(src, 'topic', { durable: false });
  await ch.assertExchange(dst, 'fanout', { durable: false });
  try {
    const q = await xq(ch);
    await ch.bindQueue(q, dst, '');
    await ch.bindExchange(dst, src, 'a.#');
    ch.publish(src, 'a.b.c', Buffer.from('yes'));
    ch.publish(src, 'b.a', Buffer.from('no'));
    await sleep(200);
    assert.deepEqual(await drain(ch, q), ['yes']);
    await ch.unbindExchange(dst, src, 'a.#');
    ch.publish(src, 'a.b.c', Buffer.from('after'));
    await sleep(200);
    assert.deepEqual(await drain(ch, q), []);
  } finally {
    await ch.deleteExchange(src);
    await ch.deleteExchange(dst);
  }
});

scenario('amqplib internal exchange publish gives 403; alternate exchange takes unroutables',
  async () => {
    const conn = await connect();
    const ch = await channel(conn);
    const internal = unique('int');
    const ae = unique('ae');
    const main = unique('main');
    await ch.assertExchange(internal, 'fanout', { durable: false, internal: true });
    await ch.assertExchange(ae, 'fanout', { durable: false });
    await ch.assertExchange(main, 'direct', { durable: false, alternateExchange: ae });
    try {
      const q = await xq(ch);
      await ch.bindQueue(q, ae, '');
      ch.publish(main, 'nobody', Buffer.from('to-ae'));
      await sleep(200);
      assert.deepEqual(await drain(ch, q), ['to-ae']);
      await expectChannelClose(conn, async (c) => {
        c.publish(internal, '', Buffer.from('x'));
        await c.checkQueue(q);
      }, 403,
      `ACCESS_REFUSED - cannot publish to internal exchange '${internal}' in vhost '${VHOST}'`);
    } finally {
      for (const x of [internal, ae, main]) await ch.deleteExchange(x);
    }
  });

scenario('amqplib topic and headers routing', async () => {
  const conn = await connect();
  const ch = await channel(conn);
  const t = unique('t');
  await ch.assertExchange(t, 'topic', { durable: false });
  try {
    const patterns = { '*.*': ['a.b', '.', 'a.'], 'a.#': ['a', 'a.b', 'a.'], '#.*': ['a', 'a.b', '.', 'a.'] };
    const qs = {};
    for (const p of Object.keys(patterns)) {
      qs[p] = await xq(ch);
      await ch.bindQueue(qs[p], t, p);
    }
    for (const k of ['a', 'a.b', '', '.', 'a.']) ch.publish(t, k, Buffer.from(`<${k}>`));
    const hq = await xq(ch);
    await ch.bindQueue(hq, 'amq.headers', '', { 'x-match': 'any', color: 'red', size: 3 });
    ch.publish('amq.headers', '', Buffer.from('red'), { headers: { color: 'red' } });
    ch.publish('amq.headers', '', Buffer.from('three'), { headers: { size: 3 } });
    ch.publish('amq.headers', '', Buffer.from('blue'), { headers: { color: 'blue' } });
    await sleep(250);
    for (const [p, want] of Object.entries(patterns)) {
      assert.deepEqual((await drain(ch, qs[p])).sort(), want.map((k) => `<${k}>`).sort(), p);
    }
    assert.deepEqual(await drain(ch, hq), ['red', 'three']);
  } finally {
    await ch.deleteExchange(t);
  }
});

// ------------------------------------------------------------------ queues

scenario('amqplib server-named queue and declare-ok counts', async () => {
  const conn = await connect();
  const ch = await channel(conn);
  const ok = await ch.assertQueue('', { exclusive: true });
  assert.match(ok.queue, GEN_NAME);
  assert.equal(ok.messageCount, 0);
  ch.sendToQueue(ok.queue, Buffer.from('1'));
  ch.sendToQueue(ok.queue, Buffer.from('2'));
  await sleep(150);
  await ch.consume(ok.queue, () => {}, { noAck: false });
  const ok2 = await (await channel(conn)).checkQueue(ok.queue);
  assert.equal(ok2.consumerCount, 1);
});

scenario('amqplib queue argument mismatch gives the exact 406 text', async () => {
  const conn = await connect();
  const ch = await channel(conn);
  const q = unique('q');
  await ch.assertQueue(q, { exclusive: true, arguments: { 'x-max-length': 10 } });
  await expectChannelClose(conn, (c) => c.assertQueue(q, { exclusive: true }), 406,
    `PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '${q}' in vhost '${VHOST}': ` +
    // amqplib encodes a small integer as a signed 8-bit field ('b'), which RabbitMQ names 'byte'.
    "received none but current is the value '10' of type 'byte'");
});

scenario('amqplib missing queue gives 404, amq.* gives 403, exclusive elsewhere gives 405',
  async () => {
    const conn = await connect();
    const other = await connect();
    const q = unique('nope');
    await expectChannelClose(conn, (ch) => ch.checkQueue(q), 404, NOT_FOUND_Q(q));
    await expectChannelClose(conn, (ch) => ch.assertQueue('amq.js'), 403,
      "ACCESS_REFUSED - queue name 'amq.js' contains reserved prefix 'amq.*'");
    const ex = await xq(await channel(other));
    await expectChannelClose(conn, (ch) => ch.purgeQueue(ex), 405,
      `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${ex}' in vhost ` +
      `'${VHOST}'. It could be originally declared on another connection or the exclusive ` +
      'property value does not match that of the original declaration.');
  });

scenario('amqplib purge, delete if-empty (406) and delete of a missing queue', async () => {
  const conn = await connect();
  const ch = await channel(conn);
  const q = await xq(ch);
  for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(`${i}`));
  await sleep(150);
  await expectChannelClose(conn, (c) => c.deleteQueue(q, { ifEmpty: true }), 406,
    `PRECONDITION_FAILED - queue '${q}' in vhost '${VHOST}' not empty`);
  assert.equal((await ch.purgeQueue(q)).messageCount, 3);
  assert.equal((await ch.deleteQueue(unique('nope'))).messageCount, 0);
});

scenario('amqplib auto-delete queue goes away after its last consumer cancels', async () => {
  const conn = await connect();
  const ch = await channel(conn);
  const q = unique('ad');
  await ch.assertQueue(q, { autoDelete: true, durable: false });
  const { consumerTag } = await ch.consume(q, () => {});
  await ch.cancel(consumerTag);
  await sleep(100);
  await expectChannelClose(conn, (c) => c.checkQueue(q), 404, NOT_FOUND_Q(q));
});

scenario('amqplib exclusive queue is deleted when its connection closes', async () => {
  const owner = await connect();
  const q = await xq(await channel(owner));
  await owner.close();
  await sleep(150);
  const conn = await connect();
  await expectChannelClose(conn, (ch) => ch.checkQueue(q), 404, NOT_FOUND_Q(q));
});

// ------------------------------------------------------------------ basic

scenario('amqplib publish/get keeps properties and get on an empty queue returns false',
  async () => {
    const conn = await connect();
    const ch = await channel(conn);
    const q = await xq(ch);
    ch.sendToQueue(q, Buffer.from('hello'), {
      contentType: 'text/plain', headers: { n: 1, s: 'x', arr: [1, 'b'] }, messageId: 'm1',
      correlationId: 'c1', persistent: true, priority: 4, timestamp: 1700000000, type: 't',
    });
    await sleep(150);
    const m = await ch.get(q);
    assert.ok(m, 'message');
    assert.equal(m.content.toString(), 'hello');
    assert.equal(m.fields.redelivered, false);
    const p = m.properties;
    assert.deepEqual([p.contentType, p.headers, p.messageId, p.correlationId, p.deliveryMode,
      p.priority, p.timestamp, p.type],
    ['text/plain', { n: 1, s: 'x', arr: [1, 'b'] }, 'm1', 'c1', 2, 4, 1700000000, 't']);
    ch.ack(m);
    assert.equal(await ch.get(q), false);
  });

scenario('amqplib consume with a server-generated tag, round-robin over two consumers',
  async () => {
    const conn = await connect();
    const ch = await channel(conn);
    const q = await xq(ch);
    const got = [];
    const a = await ch.consume(q, (m) => got.push(['a', m.content.toString()]), { noAck: true });
    const b = await ch.consume(q, (m) => got.push(['b', m.content.toString()]), { noAck: true });
    assert.match(a.consumerTag, CTAG);
    assert.match(b.consumerTag, CTAG);
    for (let i = 0; i < 4; i++) ch.sendToQueue(q, Buffer.from(`${i}`));
    await waitFor(() => got.length === 4);
    assert.deepEqual(got, [['a', '0'], ['b', '1'], ['a', '2'], ['b', '3']]);
    await ch.cancel(a.consumerTag);
    await ch.cancel(b.consumerTag);
  });

scenario('amqplib duplicate consumer tag closes the connection with 530', async () => {
  const conn = await connect();
  const ch = await channel(conn);
  const q = await xq(ch);
  await ch.consume(q, () => {}, { consumerTag: 'dup' });
  await expectConnectionClose(conn, () => ch.consume(q, () => {}, { consumerTag: 'dup' }), 530,
    "NOT_ALLOWED - attempt to reuse consumer tag 'dup'");
});

scenario('amqplib prefetch limits unacked deliveries per consumer and per channel', async () => {
  const conn = await connect();
  const ch = await channel(conn);
  const q = await xq(ch);
  await ch.prefetch(2);
  const got = { a: 0, b: 0 };
  await ch.consume(q, () => { got.a += 1; }, { consumerTag: 'a' });
  await ch.consume(q, () => { got.b += 1; }, { consumerTag: 'b' });
  for (let i = 0; i < 10; i++) ch.sendToQueue(q, Buffer.from(`${i}`));
  await sleep(400);
  assert.deepEqual(got, { a: 2, b: 2 });
  const ch2 = await channel(conn);
  const q2 = await xq(ch2);
  await ch2.prefetch(3, true);
  let n = 0;
  await ch2.consume(q2, () => { n += 1; });
  await ch2.consume(q2, () => { n += 1; });
  for (let i = 0; i < 10; i++) ch2.sendToQueue(q2, Buffer.from(`${i}`));
  await sleep(400);
  assert.equal(n, 3);
});

scenario('amqplib ackAll, nack multiple with requeue and reject', async () => {
  const conn = await connect();
  const ch = await channel(conn);
  const q = await xq(ch);
  for (let i = 0; i < 4; i++) ch.sendToQueue(q, Buffer.from(`${i}`));
  await sleep(150);
  const ms = [];
  for (let i = 0; i < 3; i++) ms.push(await ch.get(q));
  ch.nack(ms[2], true, true);
  await sleep(100);
  const again = [];
  for (let i = 0; i < 4; i++) {
    const m = await ch.get(q);
    again.push([m.content.toString(), m.fields.redelivered]);
    if (i === 3) ch.reject(m, false);
  }
  assert.deepEqual(again, [['0', true], ['1', true], ['2', true], ['3', false]]);
  ch.ackAll();
  await sleep(100);
  assert.equal((await ch.checkQueue(q)).messageCount, 0);
});

scenario('amqplib acking an unknown delivery tag gives 406', async () => {
  const conn = await connect();
  await expectChannelClose(conn, async (ch) => {
    ch.ack({ fields: { deliveryTag: 7 } });
    await ch.checkExchange('amq.direct');
  }, 406, 'PRECONDITION_FAILED - unknown delivery tag 7');
});

scenario('amqplib recover redelivers unacked messages with new tags', async () => {
  const conn = await connect();
  const ch = await channel(conn);
  const q = await xq(ch);
  const got = [];
  await ch.consume(q, (m) => got.push([m.fields.deliveryTag, m.fields.redelivered]));
  ch.sendToQueue(q, Buffer.from('x'));
  await waitFor(() => got.length === 1);
  await ch.recover();
  await waitFor(() => got.length === 2);
  assert.deepEqual(got, [[1, false], [2, true]]);
});

scenario('amqplib consumer is cancelled by the server when its queue is deleted', async () => {
  const conn = await connect();
  const ch = await channel(conn);
  const q = await xq(ch);
  const got = [];
  await ch.consume(q, (m) => got.push(m));
  await (await channel(conn)).deleteQueue(q);
  await waitFor(() => got.length === 1);
  assert.deepEqual(got, [null], 'amqplib signals a server cancel with a null message');
});

scenario('amqplib mandatory unroutable publish is returned with 312 NO_ROUTE', async () => {
  const conn = await connect();
  const ch = await channel(conn);
  const returned = [];
  ch.on('return', (m) => returned.push(m));
  const k = unique('nowhere');
  ch.publish('amq.direct', k, Buffer.from('r'), { mandatory: true });
  await waitFor(() => returned.length === 1);
  const f = returned[0].fields;
  assert.deepEqual([f.replyCode, f.replyText, f.exchange, f.routingKey,
    returned[0].content.toString()], [312, 'NO_ROUTE', 'amq.direct', k, 'r']);
});

scenario('amqplib exclusive consumer blocks others with 403', async () => {
  const conn = await connect();
  const ch = await channel(conn);
  const q = await xq(ch);
  await ch.consume(q, () => {}, { exclusive: true });
  await expectChannelClose(conn, (c) => c.consume(q, () => {}), 403,
    `ACCESS_REFUSED - queue '${q}' in vhost '${VHOST}' in exclusive use`);
});

scenario('amqplib CC routes a copy; user-id mismatch gives 406', async () => {
  const conn = await connect();
  const ch = await channel(conn);
  const qa = await xq(ch);
  const qb = await xq(ch);
  ch.sendToQueue(qa, Buffer.from('m'), { CC: [qb], userId: USER });
  await sleep(150);
  const b = await ch.get(qb, { noAck: true });
  assert.ok(b, 'CC copy');
  assert.deepEqual(b.properties.headers.CC, [qb]);
  assert.equal(b.properties.userId, USER);
  await expectChannelClose(conn, async (c) => {
    c.sendToQueue(qa, Buffer.from('m'), { userId: 'mallory' });
    await c.checkQueue(qa);
  }, 406, `PRECONDITION_FAILED - user_id property set to 'mallory' but authenticated user was '${USER}'`);
});

scenario('amqplib closing a connection with unacked messages requeues them', async () => {
  const a = await connect();
  const ch = await channel(a);
  const q = unique('q');
  await ch.assertQueue(q, { durable: false });
  try {
    const b = await connect();
    const chb = await channel(b);
    ch.sendToQueue(q, Buffer.from('x'));
    await sleep(150);
    const m = await chb.get(q);
    assert.equal(m.fields.redelivered, false);
    b.connection.stream.destroy(); // abrupt: no connection.close
    await sleep(300);
    const m2 = await ch.get(q, { noAck: true });
    assert.ok(m2, 'requeued');
    assert.equal(m2.fields.redelivered, true);
  } finally {
    await ch.deleteQueue(q);
  }
});

// ------------------------------------------------------------------ confirms, tx, reply-to

scenario('amqplib confirm channel acks every publish and waitForConfirms resolves', async () => {
  const conn = await connect();
  const ch = await channel(conn, true);
  const q = await xq(ch);
  const acks = [];
  for (let i = 0; i < 50; i++) {
    ch.sendToQueue(q, Buffer.from(`${i}`), {}, (err) => acks.push(err));
  }
  await ch.waitForConfirms();
  assert.equal(acks.length, 50);
  assert.ok(acks.every((e) => e === null || e === undefined), 'all acked');
  assert.equal((await ch.checkQueue(q)).messageCount, 50);
});

scenario('amqplib confirm of a mandatory unroutable publish comes after its return', async () => {
  const conn = await connect();
  const ch = await channel(conn, true);
  const events = [];
  ch.on('return', () => events.push('return'));
  ch.publish('amq.direct', unique('nowhere'), Buffer.from('r'), { mandatory: true },
    (err) => events.push(err ? 'nack' : 'ack'));
  await ch.waitForConfirms();
  await waitFor(() => events.length === 2);
  assert.deepEqual(events, ['return', 'ack']);
});

scenario('amqplib direct reply-to RPC round trip', async () => {
  const conn = await connect();
  const ch = await channel(conn);
  const server = await channel(conn);
  const rq = await xq(server);
  await server.consume(rq, (m) => {
    server.sendToQueue(m.properties.replyTo, Buffer.from(`re:${m.content}`),
      { correlationId: m.properties.correlationId });
  }, { noAck: true });
  const replies = [];
  await ch.consume('amq.rabbitmq.reply-to', (m) => replies.push(m), { noAck: true });
  ch.sendToQueue(rq, Buffer.from('ping'), { replyTo: 'amq.rabbitmq.reply-to', correlationId: 'c9' });
  await waitFor(() => replies.length === 1);
  assert.equal(replies.length, 1, 'reply');
  assert.equal(replies[0].content.toString(), 're:ping');
  assert.equal(replies[0].properties.correlationId, 'c9');
  assert.ok(replies[0].fields.routingKey.startsWith('amq.rabbitmq.reply-to.'));
  await expectChannelClose(conn, (c) => c.consume('amq.rabbitmq.reply-to', () => {},
    { noAck: false }), 406, 'PRECONDITION_FAILED - reply consumer cannot acknowledge');
});

scenario('amqplib a channel error leaves other channels working', async () => {
  const conn = await connect();
  const ch = await channel(conn);
  const q = await xq(ch);
  await expectChannelClose(conn, (c) => c.checkQueue(unique('nope')), 404);
  ch.sendToQueue(q, Buffer.from('still'));
  await sleep(100);
  assert.deepEqual(await drain(ch, q), ['still']);
});

// Queue features (TTL, priorities, dead-lettering, ...) live in their own file.
require('./queue_features.js')({
  scenario, connect, channel, unique, sleep, waitFor, expectChannelClose, VHOST,
});
// Streams and quorum queues too.
require('./streams_quorum.js')({
  scenario, connect, channel, unique, sleep, waitFor, expectChannelClose, expectConnectionClose,
  VHOST,
});

// ------------------------------------------------------------------ runner

async function main() {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const s of scenarios) {
    if (FILTER && !s.name.includes(FILTER)) continue;
    if (s.warrenOnly && TARGET === 'rabbitmq') {
      console.log(`skip - ${s.name} (warren-only)`);
      skipped += 1;
      continue;
    }
    const start = Date.now();
    open = [];
    try {
      await within(s.fn(), TIMEOUT_MS, 'scenario');
      console.log(`ok - ${s.name} (${((Date.now() - start) / 1000).toFixed(2)}s)`);
      passed += 1;
    } catch (e) {
      console.log(`FAIL - ${s.name}: ${String(e && e.message).split('\n').slice(0, 6).join(' ')}`);
      failed += 1;
    }
    for (const c of open) {
      try {
        await within(c.close(), 2000, 'close');
      } catch (_e) {
        try {
          c.connection.stream.destroy();
        } catch (_e2) {
          // already gone
        }
      }
    }
  }
  console.log(`amqplib: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(failed ? 1 : 0);
}

process.on('unhandledRejection', (e) => {
  // A channel op rejected after its channel closed; the scenario itself reports failures.
  if (process.env.CONFORMANCE_DEBUG) console.error('unhandled rejection:', e && e.message);
});

main();
