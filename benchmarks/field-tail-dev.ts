/**
 * Development harness of the per-field rarity part (src/model/field-tail.ts): the settings were
 * chosen with it, on development data only — the lab's dev runs (train on d, benign seed 4; test
 * on c, every scenario seed 3) and the benign captures of `pcaps/normal` whose name hashes even
 * (FNV-1a), under the capture-fold protocol without attack captures. Never the shared attack
 * captures nor lab run b.
 *
 *   NETANOMALY_DATA_DIR=../shared/datasets npx tsx benchmarks/field-tail-dev.ts --lab ../lab-runs/d --test ../lab-runs/c --field-tail on --tails upper
 *   NETANOMALY_DATA_DIR=../shared/datasets npx tsx benchmarks/field-tail-dev.ts --pcaps ../shared/datasets/pcaps/normal --field-tail on
 */
import { mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { evaluateLab } from '../src/pipeline/evaluate-lab.ts';
import { evaluatePcaps } from '../src/pipeline/evaluate-pcaps.ts';

const { values: a } = parseArgs({
  options: {
    lab: { type: 'string' },
    test: { type: 'string' },
    pcaps: { type: 'string' },
    folds: { type: 'string', default: '5' },
    'field-tail': { type: 'string', default: 'auto' },
    tails: { type: 'string', default: 'both' },
  },
});
const detector = {
  fieldTail: a['field-tail'] as 'auto' | 'on' | 'off',
  fieldTailTails: a.tails as 'upper' | 'both',
};

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

if (a.lab) {
  const r = await evaluateLab({ train: a.lab, test: a.test!, detector });
  const recall = Object.fromEntries(
    Object.entries(r.recall_by_scenario).map(([k, v]) => [k, Number(v.share.toFixed(3))]),
  );
  const hosts = r.hosts[Object.keys(r.hosts)[0]!]!;
  console.log(
    JSON.stringify({
      setting: detector,
      roc_auc: r.roc_auc,
      fpr: r.fpr,
      threshold: r.train.threshold,
      expected_fpr: r.calibration.expected_fpr?.fpr,
      recall,
      host_benign: hosts.benign,
      host_scenarios: hosts.scenarios_detected,
    }),
  );
} else if (a.pcaps) {
  const dev = join(tmpdir(), `field-tail-dev-${process.pid}`);
  mkdirSync(dev);
  for (const f of readdirSync(a.pcaps))
    if (/\.(pcap|pcapng|cap)$/i.test(f) && fnv1a(f) % 2 === 0) symlinkSync(resolve(a.pcaps, f), join(dev, f));
  try {
    const r = await evaluatePcaps({ benignDir: dev, folds: Number(a.folds), kmeans: detector });
    const pick = ['fpr_unseen', 'fpr_unseen_capture_mean', 'host_fpr_unseen', 'benign_captures_flagged'];
    console.log(
      JSON.stringify({
        setting: detector,
        pooled: r.pooled,
        summary: Object.fromEntries(pick.map((k) => [k, r.summary[k]])),
        false_alarms: r.benign_false_alarms.sort((x, y) => y.flagged_flows - x.flagged_flows).slice(0, 8),
      }),
    );
  } finally {
    rmSync(dev, { recursive: true, force: true });
  }
}
