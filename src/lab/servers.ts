/**
 * The lab's servers, each from its Debian package with its own configuration in the run's private
 * directory (never the system's): nginx (HTTP + HTTPS with a self-signed certificate made by
 * openssl now, basic auth on /admin/, the simulated vulnerable app on /app/), dnsmasq (the lab
 * zone), sshd (own host key, key login), vsftpd (anonymous downloads and uploads), a small SMTP
 * sink and the outside hosts' HTTPS sink (Node scripts in ./daemons).
 */
import { chownSync, existsSync, mkdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXTRA_RECORDS } from './benign.ts';
import { C2_NAME, INTERNET_SITES, LAB_DOMAIN, nsName, OUTSIDE, SERVERS } from './plan.ts';
import { must, type ProcessGroup, run, sleep } from './procs.ts';
import { TUNNEL_SERVER, TUNNEL_ZONE } from './scenarios.ts';

const DAEMONS = join(import.meta.dirname, 'daemons');
export const PAGE_SIZES = [600, 2_400, 9_000, 30_000, 120_000, 480_000, 1_500_000];

export interface PreparedFiles {
  pages: string[];
  ftpFiles: string[];
  sshFiles: string[];
  sshKey: string;
  cert: string;
  key: string;
}

function filler(size: number, tag: string): string {
  const line = `${tag} lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor\n`;
  return line.repeat(Math.ceil(size / line.length)).slice(0, size);
}

/** Writes content, keys and certificates into the run directory. */
export async function prepareFiles(work: string): Promise<PreparedFiles> {
  for (const d of [
    'www/admin',
    'tls',
    'nginx',
    'ssh/files',
    'ssh/incoming',
    'ftp/root/pub',
    'ftp/root/incoming',
    'logs',
    'scripts',
    'attacks',
    'downloads',
  ]) {
    await mkdir(join(work, d), { recursive: true });
  }
  const pages: string[] = [];
  for (const [i, size] of PAGE_SIZES.entries()) {
    const name = `page-${i}.html`;
    await writeFile(join(work, 'www', name), filler(size, `page ${i}`));
    pages.push(name);
  }
  await writeFile(join(work, 'www', 'index.html'), filler(5_000, 'index'));
  await writeFile(join(work, 'www', 'check.json'), '{"latest":"1.4.2","channel":"stable"}\n');
  await writeFile(join(work, 'www', 'big.bin'), filler(4_000_000, 'big'));
  await writeFile(join(work, 'www', 'admin', 'index.html'), 'admin console\n');
  const ftpFiles: string[] = [];
  for (const [i, size] of [4_000, 40_000, 400_000, 1_200_000].entries()) {
    await writeFile(join(work, 'ftp/root/pub', `file-${i}.dat`), filler(size, `ftp ${i}`));
    ftpFiles.push(`file-${i}.dat`);
  }
  const sshFiles: string[] = [];
  for (const [i, size] of [3_000, 60_000, 700_000].entries()) {
    await writeFile(join(work, 'ssh/files', `blob-${i}.txt`), filler(size, `blob ${i}`));
    sshFiles.push(`blob-${i}.txt`);
  }
  await writeFile(join(work, 'ssh/files', 'notes.txt'), 'deploy at 10:00\n');
  // vsftpd: the anonymous root must not be writable; uploads go to incoming/ owned by ftp.
  const ftpUser = await run('id', ['-u', 'ftp']);
  const ftpGid = await run('id', ['-g', 'ftp']);
  if (ftpUser.code === 0)
    chownSync(join(work, 'ftp/root/incoming'), Number(ftpUser.stdout), Number(ftpGid.stdout));
  const cert = join(work, 'tls', 'cert.pem');
  const key = join(work, 'tls', 'key.pem');
  await must('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=www.${LAB_DOMAIN}`,
    '-addext',
    `subjectAltName=DNS:*.${LAB_DOMAIN},IP:${SERVERS.web.ip},IP:${OUTSIDE.drop.ip},IP:${OUTSIDE.c2.ip}`,
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  const pw = (await must('openssl', ['passwd', '-apr1', 'Lab-Only-9f3c2e'])).trim();
  await writeFile(join(work, 'nginx', 'htpasswd'), `ops:${pw}\n`);
  await must('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-f',
    join(work, 'ssh', 'host_ed25519'),
    '-C',
    'nalab-host',
  ]);
  const sshKey = join(work, 'ssh', 'client_ed25519');
  await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', sshKey, '-C', 'nalab-client']);
  await writeFile(join(work, 'ssh', 'authorized_keys'), await readFile(`${sshKey}.pub`));
  return { pages, ftpFiles, sshFiles, sshKey, cert, key };
}

function nginxConf(work: string, f: PreparedFiles): string {
  const w = (p: string) => join(work, p);
  return `worker_processes 1;
user root;
pid ${w('nginx/nginx.pid')};
error_log ${w('logs/nginx-error.log')} warn;
events { worker_connections 2048; }
http {
  access_log ${w('logs/nginx-access.log')};
  default_type application/octet-stream;
  client_body_temp_path ${w('nginx/body')};
  proxy_temp_path ${w('nginx/proxy')};
  fastcgi_temp_path ${w('nginx/fastcgi')};
  uwsgi_temp_path ${w('nginx/uwsgi')};
  scgi_temp_path ${w('nginx/scgi')};
  keepalive_timeout 5;
  server {
    listen ${SERVERS.web.ip}:80;
    listen ${SERVERS.web.ip}:443 ssl;
    ssl_certificate ${f.cert};
    ssl_certificate_key ${f.key};
    root ${w('www')};
    location /admin/ { auth_basic "lab"; auth_basic_user_file ${w('nginx/htpasswd')}; }
    location /app/ { proxy_pass http://127.0.0.1:8080; }
  }
}
`;
}

function sshdConf(work: string): string {
  return `ListenAddress ${SERVERS.ssh.ip}
Port 22
HostKey ${join(work, 'ssh', 'host_ed25519')}
PidFile ${join(work, 'ssh', 'sshd.pid')}
AuthorizedKeysFile ${join(work, 'ssh', 'authorized_keys')}
PermitRootLogin prohibit-password
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxStartups 200:30:400
MaxAuthTries 6
LoginGraceTime 20
UseDNS no
Subsystem sftp /usr/lib/openssh/sftp-server
`;
}

function vsftpdConf(work: string): string {
  return `listen=YES
listen_ipv6=NO
listen_address=${SERVERS.ftp.ip}
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=${join(work, 'ftp', 'root')}
write_enable=YES
anon_upload_enable=YES
anon_umask=022
local_enable=YES
pam_service_name=vsftpd
secure_chroot_dir=/var/run/vsftpd/empty
pasv_enable=YES
pasv_min_port=30000
pasv_max_port=30999
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
xferlog_enable=NO
max_login_fails=1
max_per_ip=0
max_clients=0
`;
}

export interface Listener {
  ns: string;
  ip: string;
  port: number;
  name: string;
}

/** sshd's privilege-separation directory; returns whether it had to be created (and so must be removed). */
export function ensureSshdPrivsepDir(): boolean {
  if (existsSync(SSHD_PRIVSEP)) return false;
  mkdirSync(SSHD_PRIVSEP, { recursive: true, mode: 0o755 });
  return true;
}
export const SSHD_PRIVSEP = '/run/sshd';

/** Starts every server; returns the (address, port) pairs that must accept connections. */
export async function startServers(work: string, f: PreparedFiles, procs: ProcessGroup): Promise<Listener[]> {
  const log = (n: string) => join(work, 'logs', `${n}.log`);
  const ns = {
    web: nsName(SERVERS.web),
    dns: nsName(SERVERS.dns),
    ssh: nsName(SERVERS.ssh),
    ftp: nsName(SERVERS.ftp),
    mail: nsName(SERVERS.mail),
  };
  const records: string[] = [];
  for (const s of Object.values(SERVERS))
    for (const n of s.names) records.push(`--host-record=${n}.${LAB_DOMAIN},${s.ip}`);
  for (const [n, ip] of Object.entries(EXTRA_RECORDS)) records.push(`--host-record=${n}.${LAB_DOMAIN},${ip}`);
  for (const site of INTERNET_SITES) records.push(`--host-record=${site.name},${site.host.ip}`);
  records.push(`--host-record=${C2_NAME},${OUTSIDE.c2.ip}`);
  procs.start(
    'dnsmasq',
    ns.dns,
    'dnsmasq',
    [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--no-poll',
      '--bind-interfaces',
      `--listen-address=${SERVERS.dns.ip}`,
      `--pid-file=${join(work, 'logs', 'dnsmasq.pid')}`,
      '--cache-size=0',
      `--local=/${LAB_DOMAIN}/`,
      '--local=/corp-sync.example/',
      `--server=/${TUNNEL_ZONE}/${TUNNEL_SERVER.ip}`,
      ...records,
    ],
    log('dnsmasq'),
  );
  await writeFile(join(work, 'nginx', 'nginx.conf'), nginxConf(work, f));
  procs.start(
    'vuln-app',
    ns.web,
    process.execPath,
    [join(DAEMONS, 'vuln-app.mjs'), '8080', work],
    log('vuln-app'),
  );
  procs.start(
    'nginx',
    ns.web,
    'nginx',
    ['-c', join(work, 'nginx', 'nginx.conf'), '-p', join(work, 'nginx'), '-g', 'daemon off;'],
    log('nginx'),
  );
  await writeFile(join(work, 'ssh', 'sshd_config'), sshdConf(work));
  procs.start(
    'sshd',
    ns.ssh,
    '/usr/sbin/sshd',
    ['-D', '-e', '-f', join(work, 'ssh', 'sshd_config')],
    log('sshd'),
  );
  await writeFile(join(work, 'ftp', 'vsftpd.conf'), vsftpdConf(work), { mode: 0o600 });
  procs.start('vsftpd', ns.ftp, 'vsftpd', [join(work, 'ftp', 'vsftpd.conf')], log('vsftpd'));
  procs.start(
    'smtp-sink',
    ns.mail,
    process.execPath,
    [join(DAEMONS, 'smtp-sink.mjs'), SERVERS.mail.ip, '25', work],
    log('smtp'),
  );
  const outside = [...Object.values(OUTSIDE), ...INTERNET_SITES.map((site) => site.host)];
  for (const o of outside) {
    procs.start(
      `https-${o.id}`,
      nsName(o),
      process.execPath,
      [join(DAEMONS, 'https-sink.mjs'), o.ip, '443', f.cert, f.key, work],
      log(`https-${o.id}`),
    );
  }
  return [
    { ns: ns.web, ip: SERVERS.web.ip, port: 80, name: 'nginx http' },
    { ns: ns.web, ip: SERVERS.web.ip, port: 443, name: 'nginx https' },
    { ns: ns.web, ip: '127.0.0.1', port: 8080, name: 'vulnerable app' },
    { ns: ns.ssh, ip: SERVERS.ssh.ip, port: 22, name: 'sshd' },
    { ns: ns.ftp, ip: SERVERS.ftp.ip, port: 21, name: 'vsftpd' },
    { ns: ns.mail, ip: SERVERS.mail.ip, port: 25, name: 'smtp sink' },
    { ns: ns.dns, ip: SERVERS.dns.ip, port: 53, name: 'dnsmasq' },
    ...outside.map((o) => ({ ns: nsName(o), ip: o.ip, port: 443, name: `https ${o.id}` })),
  ];
}

/** Waits until every listener is bound (checked with `ss` inside its own namespace: no packets). */
export async function waitListening(listeners: Listener[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(listeners);
  while (pending.size > 0) {
    for (const l of [...pending]) {
      const r = await run('ip', [
        'netns',
        'exec',
        l.ns,
        'ss',
        '-Hltnu',
        'src',
        l.ip,
        'sport',
        '=',
        `:${l.port}`,
      ]);
      if (r.code === 0 && r.stdout.trim() !== '') pending.delete(l);
    }
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      const names = [...pending].map((l) => `${l.name} (${l.ip}:${l.port})`).join(', ');
      throw new Error(`servers did not start: ${names} (see the logs of the run directory)`);
    }
    await sleep(200);
  }
}
