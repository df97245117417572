// A miner's Stratum v1 session for the traffic lab: subscribe, authorize, then submit a share at
// random intervals (mean 5 s) for SECONDS, on one long-lived TCP connection. Nothing is mined.
// Usage: node stratum-miner.mjs HOST PORT SECONDS SEED (the seed fixes the share times)
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { seededRandom } from './seeded.mjs';

const [host, port, secondsArg, seedArg] = process.argv.slice(2);
const next = seededRandom(seedArg, 7);
const until = Date.now() + Math.min(3600, Number(secondsArg) || 30) * 1000;
const hex = (n) => randomBytes(n).toString('hex');
let id = 1;
let job = '00000000';
const sock = connect(Number(port), host);
sock.setEncoding('utf8');
const send = (method, params) => sock.write(`${JSON.stringify({ id: id++, method, params })}\n`);
let buf = '';
sock.on('data', (chunk) => {
  buf += chunk;
  for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
    try {
      const msg = JSON.parse(buf.slice(0, nl));
      if (msg.method === 'mining.notify') job = msg.params[0];
    } catch {}
    buf = buf.slice(nl + 1);
  }
});
sock.on('error', () => process.exit(0));
sock.on('connect', () => {
  send('mining.subscribe', ['labminer/1.0']);
  send('mining.authorize', ['4A1abcLabWallet.rig1', 'x']);
  const share = () => {
    if (Date.now() >= until) {
      sock.end();
      return;
    }
    send('mining.submit', [
      '4A1abcLabWallet.rig1',
      job,
      hex(4),
      Math.floor(Date.now() / 1000).toString(16),
      hex(4),
    ]);
    setTimeout(share, -Math.log(1 - next()) * 5000);
  };
  setTimeout(share, 1500);
});
setTimeout(() => process.exit(0), until - Date.now() + 5000).unref();
