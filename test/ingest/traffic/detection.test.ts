/**
 * Issue 5's detection check on the shared captures: train on the normal pcaps (every 5th file,
 * sorted by name, is left out), score the SYN scan and the left-out normal pcaps.
 * Must show: ≥ 90 % of the scan's flows flagged, ≤ 5 % of the left-out normal flows flagged.
 *
 * Recipe: the CLI defaults, as a user with unlabelled captures runs them (--train-on all,
 * k = auto by the elbow, target FPR 0.01, the default score ensemble, leave-one-out threshold),
 * seeds 0, 1 and 2. Measured (scan flagged / left-out normal flagged, 62 flows of 8 pcaps):
 *   defaults, seeds 0-4:                   98.2 / 98.2 / 98.6 / 98.3 / 98.5 %; 2 of 62 (3.2 %) each
 *   primary run alone (ensembleK []):      75.3 / 87.6 / 84.6 / 83.7 / 73.4 %  (misses 90 %)
 *   earlier detector (hold-out threshold from 134 rows, no ensemble): 82.5 / 95.6 / 0.2 % — the
 *   99th percentile of 134 calibration scores is set by 1–2 flows and swung with the seed.
 * The two left-out flows flagged are one Kerberos and one NetBIOS flow, unlike any training flow.
 * Window features carry the scan: they lead the explanation of most flagged scan flows.
 *
 * With the 406 shared captures (324 train / 80 left out by the same rule), the application and
 * host-behaviour features and the capture-grouped threshold (2026-12-01, seeds 0 / 1): k = 9 / 10
 * by the elbow, scan 97.8 / 98.0 % flagged, left-out normal 0 of 1,521 flows flagged. One seed
 * runs here (the run reads every capture); the 5-fold protocol is `evaluate --pcaps`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { readTraffic } from '../../../src/ingest/traffic/index.ts';
import { expandInputs, readInputMany } from '../../../src/ingest/traffic/many.ts';
import { trainFromFile } from '../../../src/pipeline/train.ts';

const DATA = process.env.NETANOMALY_DATA_DIR ?? '';

for (const seed of [0])
  test(`seed ${seed}: trained on normal pcaps, ≥ 90 % of the SYN scan flagged, ≤ 5 % of left-out normal flows`, async () => {
    assert.ok(DATA, 'NETANOMALY_DATA_DIR must point at the shared datasets');
    const normal = (await expandInputs([join(DATA, 'pcaps', 'normal')])).filter((p) =>
      /\.(pcap|pcapng)$/.test(p),
    );
    assert.ok(normal.length >= 40, `expected the shared normal pcaps, found ${normal.length}`);
    const train = normal.filter((_, i) => i % 5 !== 4);
    const held = normal.filter((_, i) => i % 5 === 4);
    const r = await trainFromFile(join(DATA, 'pcaps', 'normal'), {
      format: 'pcap',
      trainOn: 'all',
      k: 'auto',
      detector: { seed },
      reader: (_p, f, b) => readInputMany(train, f, b),
    });
    const det = r.detector;
    const scan = await readTraffic(join(DATA, 'pcaps', 'attack', 'synscan.pcap'), { format: 'pcap' });
    const heldOut = await readInputMany(held, 'pcap', 'quarantine');
    assert.ok(scan.table.nRows > 1900, `scan flows: ${scan.table.nRows}`);
    assert.ok(heldOut.table.nRows >= 50, `left-out flows: ${heldOut.table.nRows}`);
    const s = await det.evaluateRows(scan.table);
    const h = await det.evaluateRows(heldOut.table);
    const flagged = (x: Uint8Array) => x.reduce((a, v) => a + v, 0);
    const scanRate = flagged(s.isAnomaly) / s.isAnomaly.length;
    const fpRate = flagged(h.isAnomaly) / h.isAnomaly.length;
    process.stderr.write(
      `  detection (seed ${seed}): k=${det.k}, threshold ${det.threshold.toFixed(3)}, trained on ${r.card.data.rows} flows of ${train.length} pcaps; ` +
        `scan ${flagged(s.isAnomaly)}/${s.isAnomaly.length} = ${(100 * scanRate).toFixed(1)} % flagged; ` +
        `left-out normal ${flagged(h.isAnomaly)}/${h.isAnomaly.length} = ${(100 * fpRate).toFixed(1)} % flagged (${held.length} pcaps)\n`,
    );
    assert.ok(scanRate >= 0.9, `scan flagged ${(100 * scanRate).toFixed(1)} % < 90 %`);
    assert.ok(fpRate <= 0.05, `left-out normal flagged ${(100 * fpRate).toFixed(1)} % > 5 %`);
    // the scan is caught by its window features: they lead the explanation of flagged scan flows
    const pre = det.preprocessor;
    const of = pre.outputField();
    const names = pre.fieldSpecs().map((f) => f.name);
    const { X } = pre.transform(scan.table);
    const C = det.primary.clusterCenters;
    let windowLed = 0;
    let n = 0;
    for (let i = 0; i < X.rows; i++) {
      if (!s.isAnomaly[i]) continue;
      const per = new Map<string, number>();
      const c = s.cluster[i]!;
      for (let j = 0; j < X.cols; j++) {
        const d = X.data[i * X.cols + j]! - C.data[c * C.cols + j]!;
        const name = names[of[j]!]!;
        per.set(name, (per.get(name) ?? 0) + d * d);
      }
      const top = [...per.entries()].sort((a, b) => b[1] - a[1])[0]![0];
      if (/^(src_t_|src_n_|src_60s_|src_10m_|pair_)/.test(top)) windowLed++;
      n++;
    }
    process.stderr.write(`  ${windowLed}/${n} flagged scan flows have a window feature as top field\n`);
    assert.ok(windowLed / n > 0.5);
  });
