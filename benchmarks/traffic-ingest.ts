/**
 * Throughput of the traffic reader (pcap → canonical flows with window features) and of pcap →
 * scored flows (a model trained on the normal captures) over the shared captures, against tshark's own conversation statistics (`-qz conv,tcp -z conv,udp`) on the
 * same files in the same run when tshark is installed (tshark's time includes its start-up per
 * file, as a user running it per capture would see). Prints the process RSS after each repeat:
 * a flat series means no memory grows across repeated reads.
 *
 * Usage: NETANOMALY_DATA_DIR=../shared/datasets npx tsx benchmarks/traffic-ingest.ts [repeats]
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { flowFieldSpecs } from '../src/features/flow-fields.ts';
import { readTraffic } from '../src/ingest/traffic/index.ts';
import { readTrafficMany } from '../src/ingest/traffic/many.ts';
import { AnomalyDetector } from '../src/model/detector.ts';

const data = process.env.NETANOMALY_DATA_DIR;
if (!data) throw new Error('set NETANOMALY_DATA_DIR');
const dirs = ['normal', 'attack', 'malformed'].map((d) => join(data, 'pcaps', d));
const files = dirs.flatMap((d) => readdirSync(d).map((n) => join(d, n)));
const repeats = Number(process.argv[2] ?? 5);
let best = Number.POSITIVE_INFINITY;
let packets = 0;
let flows = 0;
const rss: number[] = [];
for (let r = 0; r < repeats; r++) {
  packets = 0;
  flows = 0;
  const t0 = performance.now();
  for (const f of files) {
    const { report, table } = await readTraffic(f);
    packets += report.counters.packets ?? 0;
    flows += table.nRows;
  }
  best = Math.min(best, (performance.now() - t0) / 1000);
  rss.push(Math.round(process.memoryUsage().rss / 2 ** 20));
}

// pcap → scored flows: a model trained on the normal captures, then read + score every capture.
const normal = await readTrafficMany([join(data, 'pcaps', 'normal')]);
const detector = await new AnomalyDetector(flowFieldSpecs(), { k: 16 }).fit(normal.table);
let bestScored = Number.POSITIVE_INFINITY;
for (let r = 0; r < repeats; r++) {
  const t0 = performance.now();
  for (const f of files) {
    const { table } = await readTraffic(f);
    if (table.nRows > 0) await detector.evaluateRows(table);
  }
  bestScored = Math.min(bestScored, (performance.now() - t0) / 1000);
}

let tshark: { seconds: number; packets_per_s: number } | null = null;
try {
  execFileSync('tshark', ['--version'], { stdio: 'ignore' });
  let bestT = Number.POSITIVE_INFINITY;
  for (let r = 0; r < Math.min(3, repeats); r++) {
    const t0 = performance.now();
    for (const f of files) {
      try {
        execFileSync('tshark', ['-n', '-r', f, '-qz', 'conv,tcp', '-z', 'conv,udp'], { stdio: 'ignore' });
      } catch {
        // tshark exits non-zero on some malformed captures; its time still counts
      }
    }
    bestT = Math.min(bestT, (performance.now() - t0) / 1000);
  }
  tshark = { seconds: Number(bestT.toFixed(3)), packets_per_s: Math.round(packets / bestT) };
} catch {
  // tshark not installed: no baseline
}

console.log(
  JSON.stringify({
    files: files.length,
    packets,
    flows,
    seconds: Number(best.toFixed(3)),
    packets_per_s: Math.round(packets / best),
    flows_per_s: Math.round(flows / best),
    rss_mb_after_each_repeat: rss,
    scored_seconds: Number(bestScored.toFixed(3)),
    scored_packets_per_s: Math.round(packets / bestScored),
    scored_flows_per_s: Math.round(flows / bestScored),
    ensemble_runs: detector.ensembleSize,
    tshark_conv_seconds: tshark?.seconds ?? null,
    tshark_packets_per_s: tshark?.packets_per_s ?? null,
    speedup_vs_tshark: tshark ? Number((tshark.seconds / best).toFixed(2)) : null,
  }),
);
