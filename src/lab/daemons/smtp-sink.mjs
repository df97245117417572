// A minimal SMTP sink for the traffic lab: accepts any mail and discards it.
// Usage: node smtp-sink.mjs ADDRESS PORT
import { createServer } from 'node:net';

const [host, port] = process.argv.slice(2);
const server = createServer((sock) => {
  sock.setEncoding('utf8');
  sock.setTimeout(30_000, () => sock.destroy());
  let data = false;
  let buf = '';
  sock.write('220 mail.lab.example ESMTP sink\r\n');
  sock.on('data', (chunk) => {
    buf += chunk;
    if (buf.length > 1 << 22) buf = buf.slice(-1024);
    for (;;) {
      if (data) {
        const end = buf.indexOf('\r\n.\r\n');
        if (end < 0) return;
        buf = buf.slice(end + 5);
        data = false;
        sock.write('250 2.0.0 queued\r\n');
        continue;
      }
      const nl = buf.indexOf('\r\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 2);
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') sock.write('250-mail.lab.example\r\n250-SIZE 10485760\r\n250 8BITMIME\r\n');
      else if (verb === 'HELO') sock.write('250 mail.lab.example\r\n');
      else if (verb === 'DATA') {
        data = true;
        sock.write('354 end with <CRLF>.<CRLF>\r\n');
        if (buf.startsWith('.\r\n')) buf = `\r\n${buf}`;
      } else if (verb === 'QUIT') {
        sock.end('221 2.0.0 bye\r\n');
        return;
      } else sock.write('250 2.0.0 ok\r\n');
    }
  });
  sock.on('error', () => {});
});
server.listen(Number(port), host);
