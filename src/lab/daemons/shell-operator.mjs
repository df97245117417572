// The operator's end of a reverse shell for the traffic lab: accepts one connection, sends a fixed
// list of harmless commands at typing-like intervals, reads what comes back, then sends `exit`.
// Usage: node shell-operator.mjs ADDRESS PORT SEED COUNT COMMAND...
import { createServer } from 'node:net';
import { seededRandom } from './seeded.mjs';

const [host, port, seedArg, countArg, ...COMMANDS] = process.argv.slice(2);
const next = seededRandom(seedArg, 1);
const count = Math.min(200, Number(countArg) || 20);
const server = createServer((sock) => {
  server.close();
  sock.on('data', () => {});
  sock.on('error', () => {});
  let sent = 0;
  const step = () => {
    if (sock.destroyed) return;
    if (sent >= count) {
      sock.end('exit\n');
      return;
    }
    sock.write(`${COMMANDS[Math.floor(next() * COMMANDS.length)]}\n`);
    sent++;
    setTimeout(step, 600 + next() * 2400);
  };
  setTimeout(step, 800);
});
server.listen(Number(port), host);
setTimeout(() => process.exit(0), 10 * 60_000).unref();
