/** `netanomaly beacons FILE…`: source → destination pairs ranked by the regularity of their connections. */
import { type Command, Option } from 'commander';
import type { BeaconPair } from '../../explain/beacons.ts';
import { BEACON_REPORT_DEFAULTS } from '../../explain/beacons.ts';
import { beaconReport, readAllowList } from '../../pipeline/beacons.ts';
import { intOption, numberOption } from '../options.ts';
import { bold, createProgress, formatTable } from '../progress.ts';

const TRAFFIC_FORMATS = ['auto', 'pcap', 'zeek', 'cic', 'netflow', 'goflow2'] as const;

export function registerBeaconCommands(program: Command): void {
  program
    .command('beacons')
    .description(
      'rank source → destination pairs by how regular their connections are (C2 check-ins), as RITA does; destinations polled regularly in --baseline are known pollers, ranked last',
    )
    .argument('<inputs...>', 'traffic files or directories (pcap, Zeek conn.log, CIC, flow exports)')
    .addOption(new Option('--format <format>', 'input format').choices([...TRAFFIC_FORMATS]).default('auto'))
    .option(
      '--baseline <paths...>',
      'benign traffic of the same network: destinations polled regularly there are known',
    )
    .option('--allow <entries>', 'known destinations: addresses, IPv4 CIDRs, domains (comma-separated)')
    .option('--allow-file <file>', 'known destinations, one per line (# comments)')
    .option(
      '--min-connections <n>',
      'pairs with fewer connections are left out',
      intOption(2),
      BEACON_REPORT_DEFAULTS.minConnections,
    )
    .option(
      '--min-interval <seconds>',
      'pairs whose median interval is shorter are bursts, left out',
      numberOption(0, 86_400),
      BEACON_REPORT_DEFAULTS.minInterval,
    )
    .option(
      '--known-dispersion <share>',
      'a baseline pair whose interval MAD is at most this share of its median interval makes its destination known',
      numberOption(0, 10),
      BEACON_REPORT_DEFAULTS.knownDispersion,
    )
    .option('--top <n>', 'pairs printed (text output)', intOption(1), 20)
    .option('--json', 'print every pair as JSON')
    .action(async (inputs: string[], o) => {
      const progress = createProgress();
      const allow = [
        ...(o.allow
          ? String(o.allow)
              .split(',')
              .map((s: string) => s.trim())
              .filter(Boolean)
          : []),
        ...(o.allowFile ? await readAllowList(o.allowFile) : []),
      ];
      progress.step(o.baseline ? 'reading the baseline, then the traffic' : 'reading the traffic');
      const r = await beaconReport({
        inputs,
        format: o.format,
        baseline: o.baseline,
        allow,
        minConnections: o.minConnections,
        minInterval: o.minInterval,
        knownDispersion: o.knownDispersion,
      });
      const unknown = r.pairs.filter((p) => p.known === null);
      progress.done(
        `${r.flows} flows in ${r.files} file(s), ${r.pairs_seen} pairs; ${r.pairs.length} with ≥ ${o.minConnections} connections ${o.minInterval} s or more apart, ${r.pairs.length - unknown.length} of them known`,
      );
      for (const f of r.failures) process.stderr.write(`warning: ${f}\n`);
      if (r.untracked_connections)
        process.stderr.write(
          `warning: ${r.untracked_connections} connections of pairs beyond the first ${r.pairs_seen} were not scored (memory bound)\n`,
        );
      if (o.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      process.stdout.write(describeBeacons(unknown.slice(0, o.top), unknown.length));
      const known = r.pairs.length - unknown.length;
      if (known)
        process.stdout.write(
          `\n${known} known pair(s) (baseline or allow-list) not shown; --json lists them\n`,
        );
    });
}

function describeBeacons(pairs: BeaconPair[], total: number): string {
  if (pairs.length === 0) return 'no pair with enough regular connections\n';
  const rows = pairs.map((p) => [
    p.ts_score,
    p.ds_score,
    p.score,
    p.connections,
    p.interval_s,
    p.interval_mad_s,
    p.bytes,
    `${p.src_ip} → ${p.dst_ip}${p.dst_ports.length ? `:${p.dst_ports.join(',')}` : ''}`,
    p.names.join(' ') || '—',
  ]);
  return `${bold(`beacons: ${pairs.length} of ${total} pairs, most regular timing first`)}\n${formatTable(
    ['timing', 'sizes', 'score', 'conns', 'interval s', 'MAD s', 'bytes', 'pair', 'names'],
    rows,
  )}\n`;
}
