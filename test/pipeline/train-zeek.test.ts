/**
 * Every input trains on what it carries (issue 15): a real Zeek conn.log (TSV and JSON, written by
 * Zeek) has no packet-length or inter-arrival statistics, so those fields are left out of the
 * model and named in the model card; `info` shows them; the bundle's model.json recipe and ONNX
 * graph still reproduce the library's scores; scoring data that has those fields ignores them;
 * and the watcher scores the log with the model (`train` → `watch`, as the README's Zeek workflow).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readInput } from '../../src/ingest/read-input.ts';
import type { Table } from '../../src/ingest/table.ts';
import { loadModel, type ModelFile, saveModel } from '../../src/model/bundle.ts';
import { trainFromFile } from '../../src/pipeline/train.ts';
import { watch } from '../../src/stream/watcher.ts';
import { cli, errorLines } from '../helpers/cli.ts';
import { dataFile, tempDir } from '../helpers/data.ts';

/** The README's recipe: model.json's preprocessor applied by hand (NaN → the training mean). */
function recipe(file: ModelFile, table: Table): { data: Float32Array; rows: number; cols: number } {
  const p = file.detector.preprocessor;
  const cols: ((i: number) => number)[] = [];
  for (const f of p.fields) {
    if (f.kind === 'numeric') {
      const col = table.numeric[f.name]!;
      cols.push((i) => {
        const v = col[i]!;
        if (Number.isNaN(v)) return 0;
        const t = f.transform === 'log1p' ? Math.sign(v) * Math.log1p(Math.abs(v) / (f.logUnit ?? 1)) : v;
        return ((t - p.means[f.name]!) / p.scales[f.name]!) * f.weight;
      });
    } else {
      const vocab = p.vocabularies[f.name]!;
      const col = table.text[f.name]!;
      for (let j = 0; j <= vocab.length; j++) {
        cols.push((i) => {
          const k = vocab.indexOf(col[i]!);
          return (k === -1 ? vocab.length : k) === j ? f.weight : 0;
        });
      }
    }
  }
  const data = new Float32Array(table.nRows * cols.length);
  for (let i = 0; i < table.nRows; i++)
    for (let c = 0; c < cols.length; c++) data[i * cols.length + c] = cols[c]!(i);
  return { data, rows: table.nRows, cols: cols.length };
}

/** Numeric fields of the input with no value in any row: what the model must leave out. */
function emptyFields(table: Table, names: readonly string[]): string[] {
  return names.filter((n) => n in table.numeric && table.numeric[n]!.every((v) => Number.isNaN(v)));
}

describe('training on a Zeek conn.log', { timeout: 300_000 }, () => {
  const dir = tempDir();

  test('TSV through the CLI: train, info names the fields left out, watch scores the log', async () => {
    const conn = dataFile('zeek/tsv/conn.log');
    const model = join(dir, 'zeek-tsv');
    const t = await cli(['train', conn, '--format', 'zeek', '--train-on', 'all', '-o', model, '--json']);
    assert.equal(t.code, 0, t.stderr);
    const input = await readInput(conn, 'zeek', 'fail');
    const expected = emptyFields(
      input.table,
      input.fields.map((f) => f.name),
    );
    assert.ok(expected.includes('pkt_len_min') && expected.includes('flow_iat_mean'), expected.join());
    const info = await cli(['info', model, '--json']);
    assert.equal(info.code, 0, info.stderr);
    const parsed = JSON.parse(info.stdout);
    assert.deepEqual(
      parsed.fieldsLeftOut.map((f: { name: string }) => f.name),
      expected,
    );
    assert.equal(parsed.fields.length, input.fields.length - expected.length);
    for (const name of expected) assert.ok(!parsed.fields.includes(name), name);
    const text = await cli(['info', model]);
    assert.match(text.stdout, /left out: pkt_len_min, .*\(no value in any training row\)/);

    const alerts = join(dir, 'alerts-tsv.jsonl');
    const w = await cli(['watch', conn, '--model', model, '--alerts', alerts, '--once', '--min-score', '0']);
    assert.equal(w.code, 0, w.stderr);
    assert.deepEqual(
      // informational lines: the stop summary, and the app logs found beside conn.log
      errorLines(w.stderr).filter(
        (l) => !l.startsWith('watch stopped') && !l.startsWith('joining the Zeek application logs beside'),
      ),
      [],
    );
    const records = readFileSync(alerts, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    // flow alerts (host alerts, event.dataset netanomaly.host, come beside them)
    const alertRecords = records.filter(
      (r) => r.event?.kind === 'alert' && r.event.dataset !== 'netanomaly.host',
    );
    assert.equal(alertRecords.length, input.table.nRows);
    assert.ok(alertRecords.every((r) => typeof r.network?.community_id === 'string'));
  });

  test('JSON: the card, the recipe and ONNX hold, extra fields are ignored, the watcher scores it', async () => {
    const conn = dataFile('zeek/json/conn.log');
    const input = await readInput(conn, 'zeek', 'fail');
    const r = await trainFromFile(conn, { format: 'zeek', trainOn: 'all', reader: readInput });
    const expected = emptyFields(
      input.table,
      input.fields.map((f) => f.name),
    );
    assert.ok(expected.length > 0);
    assert.deepEqual(
      r.card.fieldsLeftOut?.map((f) => f.name),
      expected,
    );
    assert.deepEqual([...r.detector.preprocessor.droppedFields()], expected);

    const dirModel = join(dir, 'zeek-json');
    await saveModel(dirModel, r.detector, r.card);
    const loaded = await loadModel(dirModel);
    assert.deepEqual(loaded.file.detector.preprocessor.droppedFields, expected);
    assert.deepEqual(
      loaded.file.detector.preprocessor.fields.map((f) => f.name),
      input.fields.map((f) => f.name).filter((n) => !expected.includes(n)),
    );
    const lib = await loaded.detector.evaluateRows(input.table);
    // model.json by hand + model.onnx in onnxruntime = the library
    const X = recipe(loaded.file, input.table);
    assert.equal(X.cols, loaded.detector.preprocessor.nOutputs);
    const session = await ort.InferenceSession.create(join(dirModel, 'model.onnx'));
    const out = await session.run({ features: new ort.Tensor('float32', X.data, [X.rows, X.cols]) });
    const onnxScore = out.anomaly_score!.data as Float32Array;
    // compared as squared distances: float32 ‖x‖² − 2x·c + ‖c‖² loses ~1e-6 absolute, which the
    // square root turns into ~1e-3 for a flow on its centre (score 0)
    // A model with a field tail says its graph is the K-Means part alone: the same score where the
    // rarity did not set it, a lower one where it did
    assert.equal(loaded.file.onnx.scores, loaded.detector.fieldTail ? 'kmeans-only' : 'detector');
    for (let i = 0; i < X.rows; i++) {
      const o2 = onnxScore[i]! ** 2;
      const l2 = lib.anomalyScore[i]! ** 2;
      if (lib.rarity?.drives[i]) {
        assert.ok(
          o2 <= l2 * (1 + 1e-4),
          `row ${i}: onnx ${onnxScore[i]} above the library's ${lib.anomalyScore[i]}`,
        );
        continue;
      }
      assert.ok(
        Math.abs(o2 - l2) <= 1e-4 * Math.max(1, l2),
        `row ${i}: onnx ${onnxScore[i]}, library ${lib.anomalyScore[i]}`,
      );
    }
    // the left-out fields present with values (as a pcap would give them) change nothing
    const numeric: Record<string, Float64Array> = { ...input.table.numeric };
    for (const [j, name] of expected.entries())
      numeric[name] = Float64Array.from({ length: input.table.nRows }, (_, i) => ((i * 31 + j) % 97) * 13);
    const withValues: Table = { ...input.table, numeric };
    const again = await loaded.detector.evaluateRows(withValues);
    assert.deepEqual([...again.anomalyScore], [...lib.anomalyScore]);
    for (const name of expected) assert.equal(again.report.imputed[name], undefined);

    const alerts = join(dir, 'alerts-json.jsonl');
    const result = await watch({ source: conn, model: loaded, alerts, once: true, minScore: 0, pollMs: 20 });
    assert.equal(result.counters.scored, input.table.nRows);
    assert.equal(result.counters.alerts, input.table.nRows);
  });
});
