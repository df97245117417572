// A mining pool for the traffic lab (Stratum v1: newline-delimited JSON-RPC over TCP): answers
// subscribe / authorize / submit and pushes a new job every 4-8 s. Nothing is mined.
// Usage: node stratum-pool.mjs ADDRESS PORT SEED (the seed fixes the job times)
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { seededRandom } from './seeded.mjs';

const [host, port, seedArg] = process.argv.slice(2);
const next = seededRandom(seedArg, 3);
const hex = (n) => randomBytes(n).toString('hex');
const server = createServer((sock) => {
  sock.setEncoding('utf8');
  sock.on('error', () => {});
  let buf = '';
  let timer = null;
  const send = (o) => sock.destroyed || sock.write(`${JSON.stringify(o)}\n`);
  const notify = () => {
    send({
      id: null,
      method: 'mining.notify',
      params: [hex(4), hex(32), hex(60), hex(40), [hex(32), hex(32)], '20000000', '1a0fffff', hex(4), true],
    });
    timer = setTimeout(notify, 4000 + next() * 4000);
  };
  sock.on('close', () => clearTimeout(timer));
  sock.on('data', (chunk) => {
    buf += chunk;
    if (buf.length > 1 << 16) buf = buf.slice(-1024);
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        continue;
      }
      if (msg.method === 'mining.subscribe') {
        send({ id: msg.id, result: [[['mining.notify', hex(8)]], hex(4), 4], error: null });
      } else if (msg.method === 'mining.authorize') {
        send({ id: msg.id, result: true, error: null });
        send({ id: null, method: 'mining.set_difficulty', params: [16384] });
        notify();
      } else send({ id: msg.id, result: true, error: null });
    }
  });
});
server.listen(Number(port), host);
