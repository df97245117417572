// The lab's outside hosts: an HTTPS server that accepts uploads (and discards them) and answers
// beacons with a small task list. Usage: node https-sink.mjs ADDRESS PORT CERT KEY
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

const [host, port, cert, key] = process.argv.slice(2);
createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (req, res) => {
  let n = 0;
  req.on('data', (c) => {
    n += c.length;
  });
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok: true, received: n, tasks: n > 0 ? [] : ['sleep'] }));
  });
  req.on('error', () => {});
}).listen(Number(port), host);
