/**
 * The detector comparison on the real-traffic protocol (src/pipeline/evaluate-pcaps.ts): every
 * detector on the same preprocessed features, the same capture-grouped folds and the same grouped
 * calibration; one table row per detector. With --write, the table replaces the block between
 * the `detectors:begin` / `detectors:end` markers in docs/detection.md.
 *
 * Usage: NETANOMALY_DATA_DIR=../shared/datasets npx tsx benchmarks/detectors.ts [--folds 5] [--seed 0]
 *        [--detectors kmeans,iforest,gmm,knn,autoencoder] [--write] [--json FILE]
 *        [--from A.json,B.json]   (build the table from saved runs instead of running)
 * --json writes the runs so far after each detector.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DETECTOR_NAMES, type DetectorName } from '../src/model/detectors/index.ts';
import { evaluatePcaps, type PcapEvaluation } from '../src/pipeline/evaluate-pcaps.ts';

const data = process.env.NETANOMALY_DATA_DIR;
if (!data) throw new Error('set NETANOMALY_DATA_DIR');
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const folds = Number(arg('--folds', '5'));
const seed = Number(arg('--seed', '0'));
const names = arg('--detectors', DETECTOR_NAMES.join(',')).split(',') as DetectorName[];
const json = arg('--json', '');
const from = arg('--from', '');
const results: PcapEvaluation[] = from
  ? from.split(',').flatMap((f) => JSON.parse(readFileSync(f, 'utf8')) as PcapEvaluation[])
  : [];
for (const detector of from ? [] : names) {
  process.stderr.write(`${detector}…\n`);
  results.push(
    await evaluatePcaps({
      benignDir: join(data, 'pcaps', 'normal'),
      attackDir: join(data, 'pcaps', 'attack'),
      folds,
      seed,
      detector,
    }),
  );
  if (json) writeFileSync(json, JSON.stringify(results, null, 2));
}

const pm = (r: PcapEvaluation, k: string, pct = false) => {
  const v = r.summary[k];
  if (!v || !Number.isFinite(v.mean)) return '—';
  return pct
    ? `${(100 * v.mean).toFixed(2)} ± ${(100 * v.std).toFixed(2)}`
    : `${v.mean.toFixed(3)} ± ${v.std.toFixed(3)}`;
};
const header =
  '| detector | flow ROC-AUC | PR-AUC | DR@1% | mean per-capture ROC-AUC | capture ROC-AUC | FPR unseen benign flows % (pooled) | per-capture mean FPR % | benign host windows flagged % | benign captures with a flagged host % | attack captures with a flagged host (of 12) | s |\n' +
  '|---|---|---|---|---|---|---|---|---|---|---|---|';
const rows = results.map(
  (r) =>
    `| ${r.detector} | ${pm(r, 'roc_auc')} | ${pm(r, 'pr_auc')} | ${pm(r, 'dr_at_1pct')} | ${pm(r, 'roc_auc_per_capture_mean')} | ${pm(r, 'capture_roc_auc')} | ${pm(r, 'fpr_unseen', true)} (${(100 * r.pooled.fpr_unseen).toFixed(2)}) | ${pm(r, 'fpr_unseen_capture_mean', true)} | ${pm(r, 'host_fpr_unseen', true)} | ${pm(r, 'benign_captures_flagged', true)} | ${pm(r, 'attack_captures_detected')} | ${r.seconds.toFixed(0)} |`,
);
const captures = results[0]!.per_attack_capture.map((a) => a.capture);
const capHeader = `| attack capture | label | flows | hosts | ${results.map((r) => r.detector).join(' | ')} |\n|---|---|---|---|${results.map(() => '---').join('|')}|`;
const capRows = captures.map((c) => {
  const a = results[0]!.per_attack_capture.find((x) => x.capture === c)!;
  const cells = results.map((r) => {
    const x = r.per_attack_capture.find((y) => y.capture === c);
    return x ? `${x.detected_folds}/${r.folds} · ${(100 * x.flows_flagged_share).toFixed(0)} % flows` : '—';
  });
  return `| ${c} | ${a.label} | ${a.flows} | ${a.hosts} | ${cells.join(' | ')} |`;
});
const table = `Command: \`NETANOMALY_DATA_DIR=../shared/datasets npx tsx benchmarks/detectors.ts --folds ${folds} --seed ${seed} --write\`
(mean ± standard deviation over the ${folds} folds; s = wall-clock seconds of the whole run on the shared machine; ${results[0]!.benign.captures} benign captures, ${results[0]!.benign.flows} flows; ${results[0]!.attack?.flows ?? 0} attack flows).

${header}
${rows.join('\n')}

Per attack capture: folds in which a host of the capture was flagged · mean share of its flows flagged.

${capHeader}
${capRows.join('\n')}
`;
process.stdout.write(table);
if (process.argv.includes('--write')) {
  const path = new URL('../docs/detection.md', import.meta.url);
  const doc = readFileSync(path, 'utf8');
  const begin = '<!-- detectors:begin -->';
  const end = '<!-- detectors:end -->';
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error('docs/detection.md has no detectors:begin/end markers');
  writeFileSync(path, `${doc.slice(0, a + begin.length)}\n${table}${doc.slice(b)}`);
  process.stderr.write('docs/detection.md updated\n');
}
