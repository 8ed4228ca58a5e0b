// tests/cluster/amqplib_publisher.js: amqplib's ConfirmChannel publishing persistent messages
// "<name>-<n>" to a queue with a window of unconfirmed publishes, as an application given every
// node's URL would: when the connection fails it moves to the next URL. Prints "C <id> <node>"
// for each confirm (the node the server properties name) and "R" for each reconnect. Usage: node amqplib_publisher.js NAME URL,URL,...
// QUEUE WINDOW
'use strict';
const amqp = require('amqplib');

const [name, urlList, queue, windowArg] = process.argv.slice(2);
const urls = urlList.split(',');
const window = Number(windowArg) || 100;
let n = 0;
let stopping = false;
process.on('SIGTERM', () => { stopping = true; process.exit(0); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function session(url, node) {
  return new Promise((resolve) => {
    let done = false;
    const finish = () => { if (!done) { done = true; resolve(); } };
    amqp.connect(url, { heartbeat: 5, timeout: 3000 }).then(async (conn) => {
      conn.on('error', () => {});
      conn.on('close', finish);
      const served = (conn.connection.serverProperties || {}).node || '?';
      const ch = await conn.createConfirmChannel();
      ch.on('error', () => {});
      ch.on('close', () => { conn.close().catch(() => {}); finish(); });
      let inflight = 0;
      const pump = () => {
        while (!done && !stopping && inflight < window) {
          const id = `${name}-${n++}`;
          inflight++;
          try {
            ch.sendToQueue(queue, Buffer.from(id), { persistent: true, messageId: id }, (err) => {
              inflight--;
              if (!err) process.stdout.write(`C ${id} ${served}\n`);
              setImmediate(pump);
            });
          } catch (e) {
            finish();
            return;
          }
        }
      };
      pump();
    }).catch(finish);
  });
}

(async () => {
  for (let k = 0; !stopping; k++) {
    const node = k % urls.length;
    await session(urls[node], node);
    process.stdout.write('R\n');
    await sleep(200);
  }
})();
