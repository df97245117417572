// The lab's "deliberately vulnerable" web endpoint, behind nginx on loopback. It only *pretends*:
// patterns of SQL injection, path traversal and command injection get the answers a vulnerable
// application would give (fake rows, a fake passwd file, fake command output); nothing is ever
// executed or read from disk. Usage: node vuln-app.mjs PORT
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
const rows = Array.from({ length: 40 }, (_, i) => `${i + 1},user${i + 1},user${i + 1}@lab.example`);
const passwd = 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n';

createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const q = decodeURIComponent(url.search);
  let body;
  if (url.pathname.endsWith('/search')) {
    const injected = /('|--|union|select|or\s+1=1|sleep\()/i.test(q);
    body = injected ? rows.join('\n') : rows.slice(0, 2).join('\n');
    if (/sleep\(/i.test(q)) {
      setTimeout(() => res.end(body), 300);
      return;
    }
  } else if (url.pathname.endsWith('/file')) {
    body = /\.\.|%2e|etc\/passwd/i.test(q) ? passwd : 'report for Q3\n';
  } else if (url.pathname.endsWith('/ping')) {
    body = /[;|&`$]/.test(q) ? 'PING ok\nuid=33(www-data) gid=33(www-data)\n' : 'PING ok\n';
  } else {
    res.statusCode = 404;
    body = 'not found\n';
  }
  res.setHeader('content-type', 'text/plain');
  res.end(body);
}).listen(port, '127.0.0.1');
