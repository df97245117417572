// The lab's outside hosts: an HTTPS server that accepts uploads (and discards them), answers
// beacons with a small task list, and serves `/page?size=N` as N bytes of text (the sites the
// clients browse; at most 4 MB). Usage: node https-sink.mjs ADDRESS PORT CERT KEY
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

const [host, port, cert, key] = process.argv.slice(2);
createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (req, res) => {
  let n = 0;
  req.on('data', (c) => {
    n += c.length;
  });
  req.on('end', () => {
    const page = /^\/page\?size=(\d+)/.exec(req.url ?? '');
    if (page) {
      const size = Math.min(4 << 20, Number(page[1]));
      res.setHeader('content-type', 'text/html');
      res.end('<p>lab page</p>\n'.repeat(Math.ceil(size / 16)).slice(0, size));
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok: true, received: n, tasks: n > 0 ? [] : ['sleep'] }));
  });
  req.on('error', () => {});
}).listen(Number(port), host);
