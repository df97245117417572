/**
 * In-process A/B of end-to-end scoring (readKdd + evaluateRows) between this checkout and another
 * one (e.g. `git archive <commit> src package.json | tar -x -C /tmp/base`, with a node_modules
 * link): both load the same saved detector state (written by benchmarks/score-profile.ts) and
 * alternate calls in one process, so load on a shared machine hits both alike. Prints the
 * largest relative score difference, differing clusters and verdicts, and the median CPU ms.
 *
 *   npx tsx benchmarks/score-ab.ts /tmp/base <kdd file> [calls]
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readKdd } from '../src/ingest/kdd.ts';
import { AnomalyDetector, type Scored } from '../src/model/detector.ts';

const [otherRoot, path, callsArg] = process.argv.slice(2);
if (!otherRoot || !path) throw new Error('usage: score-ab.ts <other checkout> <kdd file> [calls]');
const calls = Number(callsArg ?? 8);
const state = JSON.parse(readFileSync(join(tmpdir(), 'netanomaly-score-profile-state.json'), 'utf8'));
const other = {
  readKdd: (await import(resolve(otherRoot, 'src/ingest/kdd.ts'))).readKdd as typeof readKdd,
  Detector: (await import(resolve(otherRoot, 'src/model/detector.ts')))
    .AnomalyDetector as typeof AnomalyDetector,
};
const variants = {
  other: { det: other.Detector.fromState(state), read: other.readKdd },
  this: { det: AnomalyDetector.fromState(state), read: readKdd },
};
const run = async (v: (typeof variants)['this']): Promise<Scored> =>
  v.det.evaluateRows((await v.read(path)).table);
const a = await run(variants.other);
const b = await run(variants.this);
let maxRel = 0;
let clusters = 0;
let verdicts = 0;
for (let i = 0; i < a.anomalyScore.length; i++) {
  maxRel = Math.max(maxRel, Math.abs(a.anomalyScore[i]! - b.anomalyScore[i]!) / Math.abs(a.anomalyScore[i]!));
  if (a.cluster[i] !== b.cluster[i]) clusters++;
  if (a.isAnomaly[i] !== b.isAnomaly[i]) verdicts++;
}
console.log(
  `${a.anomalyScore.length} rows: largest relative score difference ${maxRel}, ${clusters} clusters and ${verdicts} verdicts differ`,
);
const cpu: Record<string, number[]> = { other: [], this: [] };
for (let r = 0; r < calls; r++) {
  for (const [name, v] of Object.entries(variants)) {
    const c = process.cpuUsage();
    await run(v);
    const u = process.cpuUsage(c);
    cpu[name]!.push((u.user + u.system) / 1000);
  }
}
const median = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)]!;
for (const [name, x] of Object.entries(cpu))
  console.log(`${name}: median ${median(x).toFixed(0)} CPU ms [${x.map((v) => v.toFixed(0)).join(' ')}]`);
console.log(`CPU ratio this/other: ${(median(cpu.this!) / median(cpu.other!)).toFixed(3)}`);
