/**
 * Scoring of distinct rows, stage by stage, to run under a profiler: KDD Cup 99 `corrected` with
 * duplicate lines removed (77,291 rows), the default detector (trained on the normal rows of the
 * 10 % set, its state cached in $TMPDIR so later runs skip the fit). Per call: CPU ms (user +
 * system of the process) and wall ms of readKdd, transformEncoded (distinct), nearestEncoded and
 * of readKdd + evaluateRows; the median of the calls is printed.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx benchmarks/score-profile.ts [calls] [engine]
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { kddFieldSpecs } from '../src/features/kdd-fields.ts';
import { resolveDataset } from '../src/ingest/datasets.ts';
import { readKdd } from '../src/ingest/kdd.ts';
import { takeRows } from '../src/ingest/table.ts';
import { AnomalyDetector, type DetectorState } from '../src/model/detector.ts';
import { type EngineName, getEngine } from '../src/model/engine.ts';

const calls = Number(process.argv[2] ?? 5);
const engineName = (process.argv[3] ?? 'onnx') as EngineName;
const statePath = join(tmpdir(), 'netanomaly-score-profile-state.json');

let detector: AnomalyDetector;
if (existsSync(statePath)) {
  detector = AnomalyDetector.fromState(JSON.parse(readFileSync(statePath, 'utf8')) as DetectorState);
} else {
  const train = await readKdd(await resolveDataset('kdd99/kddcup.data_10_percent'));
  const normals = takeRows(
    train.table,
    train.families.flatMap((f, i) => (f === 'normal' ? [i] : [])),
  );
  detector = await new AnomalyDetector(kddFieldSpecs(), { seed: 0 }).fit(normals);
  writeFileSync(statePath, JSON.stringify(detector.toState()));
}

const testPath = await resolveDataset('kdd99/corrected');
const text = gunzipSync(readFileSync(testPath)).toString('latin1');
const lines = [...new Set(text.split('\n').filter((l) => l.trim() !== ''))];
const distinctPath = join(mkdtempSync(join(tmpdir(), 'netanomaly-prof-')), 'corrected-distinct.txt');
writeFileSync(distinctPath, `${lines.join('\n')}\n`, 'latin1');

const engine = await getEngine(engineName);
const pre = (detector as unknown as { preprocessor: import('../src/features/preprocessor.ts').Preprocessor })
  .preprocessor;
const centers = detector.exportRuns().map((r) => ({
  data: r.centers,
  rows: r.k,
  cols: r.centers.length / r.k,
}));

const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
type Stage = 'read' | 'transformEncoded' | 'nearestEncoded' | 'read+evaluateRows';
const samples: Record<Stage, { cpu: number[]; wall: number[] }> = {
  read: { cpu: [], wall: [] },
  transformEncoded: { cpu: [], wall: [] },
  nearestEncoded: { cpu: [], wall: [] },
  'read+evaluateRows': { cpu: [], wall: [] },
};
async function timed<T>(stage: Stage, f: () => Promise<T> | T): Promise<T> {
  const c = process.cpuUsage();
  const t = performance.now();
  const out = await f();
  samples[stage].wall.push(performance.now() - t);
  samples[stage].cpu.push(cpuMs(process.cpuUsage(c)));
  return out;
}

await detector.evaluateRows((await readKdd(distinctPath)).table); // warm-up: sessions and tables
let rows = 0;
for (let r = 0; r < calls; r++) {
  const test = await timed('read', () => readKdd(distinctPath));
  const enc = await timed('transformEncoded', () => pre.transformEncoded(test.table, { distinct: true }));
  await timed('nearestEncoded', () => engine.nearestEncoded!(enc.E, centers));
  const s = await timed('read+evaluateRows', async () =>
    detector.evaluateRows((await readKdd(distinctPath)).table),
  );
  rows = s.anomalyScore.length;
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
console.log(`${rows} rows, ensemble k=${detector.runKs().join(',')}, engine ${engine.name}, ${calls} calls`);
for (const [stage, s] of Object.entries(samples)) {
  console.log(
    `${stage.padEnd(18)} CPU ${median(s.cpu).toFixed(0).padStart(5)} ms  wall ${median(s.wall).toFixed(0).padStart(5)} ms`,
  );
}
const e2e = median(samples['read+evaluateRows'].wall);
console.log(
  `end to end: ${Math.round(rows / (e2e / 1000))} rows/s (wall), ${Math.round(rows / (median(samples['read+evaluateRows'].cpu) / 1000))} rows per CPU second`,
);
