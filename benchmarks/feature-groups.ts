/**
 * What the traffic feature groups buy, measured on capture-grouped folds (issue 15, item 3).
 *
 * Train with the CLI's defaults (`--train-on all`, k = auto by the elbow, default ensemble and
 * threshold) on the benign captures of 4 of 5 folds of `pcaps/normal` (fold = FNV-1a of the file
 * name mod 5, so a capture never straddles folds), then score the left-out benign captures and
 * every attack capture. Reported per feature set: flow ROC-AUC attack vs left-out benign (mean and
 * spread over folds), detection rate at the 1 % FPR point of the left-out benign scores, the share
 * of left-out benign flows over the model's own threshold, and per attack capture the AUC.
 * Nothing is chosen on the attack captures: the feature sets are fixed groups of the schema.
 *
 *   node_modules/.bin/tsx benchmarks/feature-groups.ts [--sets base,all,...] [--folds 5] [--k auto|N] [--json]
 *
 * Sets: base (the fields before issue 15), base+app, base+first, base+host, all, all-app, all-first,
 * all-host.
 */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { flowFieldSpecs } from '../src/features/flow-fields.ts';
import type { FieldSpec } from '../src/features/preprocessor.ts';
import { concatTables, type Table } from '../src/ingest/table.ts';
import { readTraffic } from '../src/ingest/traffic/index.ts';
import { trainFromFile } from '../src/pipeline/train.ts';

const DATA = process.env.NETANOMALY_DATA_DIR ?? join(import.meta.dirname, '..', '..', 'shared', 'datasets');
const args = process.argv.slice(2);
const opt = (name: string, d: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : d;
};
const FOLDS = Number(opt('--folds', '5'));
const SETS = opt('--sets', 'base,base+app,base+first,base+host,all').split(',');
const SEED = Number(opt('--seed', '0'));
/** k: 'auto' (the elbow, as the CLI) or a number (faster; the same for every set and fold). */
const K = opt('--k', 'auto') === 'auto' ? ('auto' as const) : Number(opt('--k', 'auto'));

const GROUPS: Record<string, (n: string) => boolean> = {
  app: (n) => /^(app_proto|dns_|tls_|http_)/.test(n),
  first: (n) => /^first_data_/.test(n) || n === 'resp_delay',
  host: (n) => /^(src_60s_|src_10m_|pair_)/.test(n),
};
const isNew = (n: string) => Object.values(GROUPS).some((g) => g(n));

function fieldsOf(set: string): FieldSpec[] {
  const all = flowFieldSpecs();
  if (set === 'all') return all;
  if (set.startsWith('all-')) {
    // all-app: every field but one group
    const drop = GROUPS[set.slice(4)]!;
    return all.filter((f) => !drop(f.name));
  }
  const parts = set.split('+');
  return all.filter((f) => !isNew(f.name) || parts.slice(1).some((g) => GROUPS[g]!(f.name)));
}

function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** ROC-AUC of positives vs negatives (Mann-Whitney, ties counted half). */
function auc(pos: Float64Array, neg: Float64Array): number {
  const all = [...Array.from(pos, (v) => [v, 1] as const), ...Array.from(neg, (v) => [v, 0] as const)];
  all.sort((a, b) => a[0] - b[0]);
  let rankSum = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j]![0] === all[i]![0]) j++;
    const r = (i + j + 1) / 2;
    for (let k = i; k < j; k++) if (all[k]![1]) rankSum += r;
    i = j;
  }
  return (rankSum - (pos.length * (pos.length + 1)) / 2) / (pos.length * neg.length);
}

async function readDir(sub: string): Promise<{ name: string; table: Table }[]> {
  const dir = join(DATA, 'pcaps', sub);
  const out: { name: string; table: Table }[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!/\.(pcap|pcapng)$/.test(name)) continue;
    try {
      const { table } = await readTraffic(join(dir, name), { format: 'pcap' });
      if (table.nRows > 0) out.push({ name, table });
    } catch (e) {
      process.stderr.write(`  skipped ${sub}/${name}: ${(e as Error).message.split('\n')[0]}\n`);
    }
  }
  return out;
}

const normal = await readDir('normal');
const attack = await readDir('attack');
process.stderr.write(
  `${normal.length} benign captures (${normal.reduce((s, c) => s + c.table.nRows, 0)} flows), ${attack.length} attack captures (${attack.reduce((s, c) => s + c.table.nRows, 0)} flows)\n`,
);
const attackTable = concatTables(attack.map((a) => a.table));

const results: Record<string, unknown>[] = [];
for (const set of SETS) {
  const fields = fieldsOf(set);
  const per: { auc: number; dr1: number; fpr: number; k: number; perCapture: Record<string, number> }[] = [];
  for (let fold = 0; fold < FOLDS; fold++) {
    const train = normal.filter((c) => fnv(c.name) % FOLDS !== fold);
    const held = normal.filter((c) => fnv(c.name) % FOLDS === fold);
    const trainTable = concatTables(train.map((c) => c.table));
    const r = await trainFromFile(`fold${fold}`, {
      format: 'pcap',
      trainOn: 'all',
      k: K,
      detector: { seed: SEED },
      reader: async () => ({
        table: trainTable,
        labels: null,
        families: null,
        report: {
          file: '',
          rowsRead: 0,
          rowsKept: 0,
          rowsSkipped: 0,
          reasons: {},
          quarantined: [],
          warnings: [],
        },
        format: 'pcap',
        fields,
      }),
    });
    const det = r.detector;
    const h = await det.evaluateRows(concatTables(held.map((c) => c.table)));
    const a = await det.evaluateRows(attackTable);
    const benign = h.anomalyScore;
    const sorted = Float64Array.from(benign).sort();
    const t1 = sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))]!;
    const dr1 = a.anomalyScore.filter((v) => v > t1).length / a.anomalyScore.length;
    const fpr = h.isAnomaly.reduce((s, v) => s + v, 0) / h.isAnomaly.length;
    const perCapture: Record<string, number> = {};
    let o = 0;
    for (const c of attack) {
      perCapture[basename(c.name)] = auc(a.anomalyScore.subarray(o, o + c.table.nRows), benign);
      o += c.table.nRows;
    }
    per.push({ auc: auc(a.anomalyScore, benign), dr1, fpr, k: det.k, perCapture });
    process.stderr.write(
      `  ${set} fold ${fold}: k=${det.k} AUC ${per.at(-1)!.auc.toFixed(3)} DR@1% ${dr1.toFixed(3)} FPR@thr ${fpr.toFixed(3)} (${held.length} held-out captures, ${h.anomalyScore.length} flows)\n`,
    );
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const sd = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
  const aucs = per.map((p) => p.auc);
  const perCapture = Object.fromEntries(
    attack.map((c) => [c.name, Number(mean(per.map((p) => p.perCapture[c.name]!)).toFixed(3))]),
  );
  const caps = Object.values(perCapture);
  results.push({
    set,
    perCaptureMean: Number(mean(caps).toFixed(3)),
    fields: fields.length,
    auc: Number(mean(aucs).toFixed(3)),
    aucSd: Number(sd(aucs).toFixed(3)),
    dr1: Number(mean(per.map((p) => p.dr1)).toFixed(3)),
    fprAtThreshold: Number(mean(per.map((p) => p.fpr)).toFixed(3)),
    perCapture,
  });
}
if (args.includes('--json')) console.log(JSON.stringify(results, null, 1));
else
  for (const r of results)
    console.log(
      `${String(r.set).padEnd(12)} fields ${r.fields}  AUC ${r.auc} ± ${r.aucSd}  mean per-capture AUC ${r.perCaptureMean}  DR@1%FPR ${r.dr1}  FPR@threshold ${r.fprAtThreshold}\n  ${JSON.stringify(r.perCapture)}`,
    );
