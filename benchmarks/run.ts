/**
 * Speed benchmarks, each a ratio measured in one run on the same data:
 *   1. K-Means fit on KDD Cup 99 10 % (494,021 rows): netanomaly vs scikit-learn (Debian
 *      python3-sklearn, same initial centres, same iteration budget) vs ml-kmeans (pure JS);
 *   2. end-to-end scoring (file → features → score) rows/s on KDD Cup 99 `corrected` (all rows and
 *      distinct lines), with a scikit-learn pipeline doing the same work in the same run;
 *   3. fast vs exhaustive elbow sweep on the 10 % set (time, recommended k = middle of the knee
 *      region, and Kneedle's own knee) — with --elbow;
 *      --elbow-seeds 0,1,2 repeats both sweeps per seed and prints both inertia curves;
 *   4. with --scaling: fit time against scikit-learn at 1×, 2×, 4× the rows and at k = 8, 32, 128.
 *
 * The fit runs on the encoded rows (numeric block + category codes, distinct rows weighted:
 * src/model/kmeans-encoded.ts), timed from the dense matrix (encoding included); the dense fit
 * from the same centres is timed too (fit_dense_seconds) and the labels compared.
 *
 * Usage: npx tsx benchmarks/run.ts [--json] [--elbow] [--elbow-seeds 0,1,2] [--scaling] [--skip-score] [--skip-mlkmeans] [--k 32] [--iters 30]
 * Prints a human summary on stderr and, with --json, one JSON object on stdout.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { kmeans as mlKmeans } from 'ml-kmeans';
import { encodeDense } from '../src/features/encoded.ts';
import { kddFieldSpecs } from '../src/features/kdd-fields.ts';
import { Preprocessor } from '../src/features/preprocessor.ts';
import { resolveDataset } from '../src/ingest/datasets.ts';
import { readKdd } from '../src/ingest/kdd.ts';
import { type Matrix, takeRows } from '../src/ingest/table.ts';
import { AnomalyDetector, type DetectorOptions } from '../src/model/detector.ts';
import { getEngine } from '../src/model/engine.ts';
import { initialCenters, KMeans } from '../src/model/kmeans.ts';
import { Rng } from '../src/model/random.ts';
import { elbowSweep } from '../src/model/select-k.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const num = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const K = num('--k', 32);
const ITERS = num('--iters', 30);
const log = (s: string) => process.stderr.write(`${s}\n`);

function sklearnFit(
  X: Matrix,
  init: Matrix,
  iters = ITERS,
): { seconds: number; inertia: number; iters: number } {
  const dir = mkdtempSync(join(tmpdir(), 'netanomaly-bench-'));
  writeFileSync(join(dir, 'x.f32'), Buffer.from(X.data.buffer, X.data.byteOffset, X.data.byteLength));
  writeFileSync(
    join(dir, 'c.f32'),
    Buffer.from(init.data.buffer, init.data.byteOffset, init.data.byteLength),
  );
  const py = `
import json, time, numpy as np
from sklearn.cluster import KMeans
X = np.fromfile("${dir}/x.f32", dtype=np.float32).reshape(${X.rows}, ${X.cols})
C = np.fromfile("${dir}/c.f32", dtype=np.float32).reshape(${init.rows}, ${X.cols})
KMeans(n_clusters=${init.rows}, init=C, n_init=1, max_iter=2, tol=0, algorithm="lloyd").fit(X[:5000])  # warm-up
t = time.perf_counter()
km = KMeans(n_clusters=${init.rows}, init=C, n_init=1, max_iter=${iters}, tol=0, algorithm="lloyd").fit(X)
print(json.dumps({"seconds": time.perf_counter() - t, "inertia": float(km.inertia_), "iters": int(km.n_iter_)}))`;
  return JSON.parse(
    execFileSync('/usr/bin/python3', ['-c', py], { encoding: 'utf8' }).trim().split('\n').pop()!,
  );
}

async function main() {
  const out: Record<string, unknown> = { k: K, max_iter: ITERS };
  const trainPath = await resolveDataset('kdd99/kddcup.data_10_percent');
  const train = await readKdd(trainPath);
  const pre = new Preprocessor(kddFieldSpecs()).fit(train.table);
  const { X } = pre.transform(train.table);
  const layout = pre.encodedLayout();
  out.rows = X.rows;
  out.features = X.cols;
  log(`KDD Cup 99 10 %: ${X.rows} rows × ${X.cols} features, k=${K}, ${ITERS} Lloyd iterations at most`);

  const init = await initialCenters(X, K, 'k-means++', await getEngine('onnx'), new Rng(0));
  // 1. fit time: same initial centres, same iteration budget, tol 0 (stops only on stable labels).
  await new KMeans({ k: K, engine: 'onnx', maxIter: 2, tol: 0 }, init).fit(takeMatrixRows(X, 5000)); // warm-up
  let t = performance.now();
  const dense = await new KMeans({ k: K, engine: 'onnx', maxIter: ITERS, tol: 0 }, init).fit(X);
  out.fit_dense_seconds = (performance.now() - t) / 1000;
  t = performance.now();
  const ours = await new KMeans({ k: K, engine: 'onnx', maxIter: ITERS, tol: 0 }, init).fit(
    encodeDense(X, layout) ?? X,
  );
  out.fit_seconds = (performance.now() - t) / 1000;
  out.fit_iters = ours.nIter;
  out.fit_inertia = ours.inertia;
  out.fit_dense_inertia = dense.inertia;
  out.fit_labels_differ_from_dense = ours.labels.filter((l, i) => l !== dense.labels[i]).length;
  log(
    `netanomaly (onnx engine, encoded rows): ${(out.fit_seconds as number).toFixed(2)} s, ${ours.nIter} iterations, inertia ${ours.inertia.toExponential(4)}; dense fit ${(out.fit_dense_seconds as number).toFixed(2)} s, ${out.fit_labels_differ_from_dense} labels differ`,
  );

  const sk = sklearnFit(X, init);
  out.sklearn_fit_seconds = sk.seconds;
  out.sklearn_iters = sk.iters;
  out.sklearn_inertia = sk.inertia;
  log(
    `scikit-learn: ${sk.seconds.toFixed(2)} s, ${sk.iters} iterations, inertia ${sk.inertia.toExponential(4)}`,
  );

  if (!flag('--skip-mlkmeans')) {
    const rows: number[][] = [];
    for (let i = 0; i < X.rows; i++) rows.push(Array.from(X.data.subarray(i * X.cols, (i + 1) * X.cols)));
    const initRows: number[][] = [];
    for (let c = 0; c < K; c++) initRows.push(Array.from(init.data.subarray(c * X.cols, (c + 1) * X.cols)));
    t = performance.now();
    const ml = mlKmeans(rows, K, { initialization: initRows, maxIterations: ITERS, tolerance: 0 });
    out.mlkmeans_fit_seconds = (performance.now() - t) / 1000;
    out.mlkmeans_iters = ml.iterations;
    log(`ml-kmeans: ${(out.mlkmeans_fit_seconds as number).toFixed(2)} s, ${ml.iterations} iterations`);
  }

  for (const engine of ['tfjs', 'js'] as const) {
    if (flag(`--with-${engine}`)) {
      t = performance.now();
      await new KMeans({ k: K, engine, maxIter: ITERS, tol: 0 }, init).fit(X);
      out[`${engine}_fit_seconds`] = (performance.now() - t) / 1000;
      log(`netanomaly (${engine} engine): ${(out[`${engine}_fit_seconds`] as number).toFixed(2)} s`);
    }
  }
  out.fit_ratio_vs_sklearn = (out.fit_seconds as number) / sk.seconds;
  out.speedup_vs_mlkmeans = (out.mlkmeans_fit_seconds as number) / (out.fit_seconds as number);

  if (flag('--scaling')) await scaling(X, layout, out);

  // 2. end-to-end scoring on corrected: read the file, preprocess, score.
  if (!flag('--skip-score')) await scoring(train, out);
  await elbows(X, layout, out);
  if (flag('--json')) process.stdout.write(`${JSON.stringify(out)}\n`);
}

async function scoring(train: Awaited<ReturnType<typeof readKdd>>, out: Record<string, unknown>) {
  let t: number;
  const normals = takeRows(
    train.table,
    train.families.flatMap((f, i) => (f === 'normal' ? [i] : [])),
  );
  const testPath = await resolveDataset('kdd99/corrected');
  // Scoring works once per distinct row (an exact cache; floods repeat records): the same file
  // with its duplicate lines removed shows the rate when nothing repeats. The first call on a
  // fitted model also builds its ONNX session and lookup tables; later calls reuse them.
  const distinctPath = distinctLinesFile(testPath);
  const variants: [string, DetectorOptions, string][] = [
    ['_first_call', { seed: 0 }, testPath],
    ['', { seed: 0 }, testPath],
    ['_distinct_lines', { seed: 0 }, distinctPath],
    ['_single_run', { seed: 0, k: 32, ensembleK: [] }, testPath],
  ];
  const detectors = new Map<string, AnomalyDetector>();
  for (const [name, options, path] of variants) {
    const key = JSON.stringify(options);
    let detector = detectors.get(key);
    if (!detector) {
      detector = await new AnomalyDetector(kddFieldSpecs(), options).fit(normals);
      if (name !== '_first_call') await detector.evaluateRows(takeRows(normals, [0]));
      detectors.set(key, detector);
    }
    t = performance.now();
    const test = await readKdd(path);
    const read = performance.now();
    const scored = await detector.evaluateRows(test.table);
    const seconds = (performance.now() - t) / 1000;
    out[`score${name}_rows`] = scored.anomalyScore.length;
    out[`score${name}_seconds`] = seconds;
    out[`score${name}_read_seconds`] = (read - t) / 1000;
    out[`score${name}_rows_per_s`] = scored.anomalyScore.length / seconds;
    const what =
      name === '_single_run'
        ? 'one k=32 run'
        : `ensemble k=${detector.runKs().join(',')}${name === '_distinct_lines' ? ', duplicate lines removed' : name === '_first_call' ? ', first call' : ''}`;
    log(
      `end-to-end scoring of corrected (${what}): ${test.table.nRows} rows in ${seconds.toFixed(2)} s (read ${((read - t) / 1000).toFixed(2)} s) = ${Math.round(scored.anomalyScore.length / seconds)} rows/s`,
    );
  }
  let sk: ReturnType<typeof sklearnScoring> = {};
  try {
    sk = sklearnScoring(await resolveDataset('kdd99/kddcup.data_10_percent'), testPath, distinctPath);
  } catch (err) {
    log(`scikit-learn scoring anchor failed: ${(err as Error).message.split('\n')[0]}`);
  }
  for (const [name, r] of Object.entries(sk)) {
    out[`sklearn_score${name}_rows_per_s`] = r.rows / r.seconds;
    out[`sklearn_score${name}_seconds`] = r.seconds;
    log(
      `scikit-learn pipeline scoring of corrected${name ? ', duplicate lines removed' : ''}: ${r.rows} rows in ${r.seconds.toFixed(2)} s = ${Math.round(r.rows / r.seconds)} rows/s`,
    );
  }
  out.score_load_average = loadavg();
}

/**
 * The scikit-learn anchor for scoring (Debian python3-sklearn, numpy; no pandas here): a
 * Pipeline of log1p + StandardScaler on the numeric columns and OneHotEncoder
 * (handle_unknown='ignore') on the three categorical ones, then five KMeans (k = 16…256, fitted
 * untimed on the normal rows among the first 100,000 of the 10 % file, 5 iterations: the fit
 * does not change the cost of scoring) whose nearest-centre distances are averaged.
 * Timed: reading the file (gzip or text) with Python's csv module into numpy arrays, the
 * transform and the five distance passes. Same shape of work as netanomaly's scoring, not the
 * same scores.
 */
function sklearnScoring(
  trainPath: string,
  testPath: string,
  distinctPath: string,
): Record<string, { rows: number; seconds: number }> {
  const py = `
import csv, gzip, itertools, json, sys, time, numpy as np
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
CAT = [1, 2, 3]
NUM = [j for j in range(41) if j not in CAT]
def read(path, limit=None):
    f = gzip.open(path, "rt", encoding="latin1") if path.endswith(".gz") else open(path, encoding="latin1")
    rows = [r for r in itertools.islice(csv.reader(f), limit) if r]
    a = np.array([r[:41] for r in rows], dtype=object)
    labels = np.array([r[41] if len(r) > 41 else "" for r in rows])
    return np.asarray(a[:, NUM], dtype=np.float64), a[:, CAT].astype(str), labels
num, cat, labels = read(sys.argv[1], 100000)
keep = labels == "normal."
pre = ColumnTransformer([
    ("num", make_pipeline(FunctionTransformer(lambda x: np.log1p(np.asarray(x, dtype=np.float64))), StandardScaler()), list(range(len(NUM)))),
    ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(range(len(NUM), len(NUM) + 3))),
])
def table(num, cat):
    return np.concatenate([num, cat], axis=1).astype(object)
Xtr = pre.fit_transform(table(num[keep], cat[keep])).astype(np.float32)
models = [KMeans(n_clusters=k, n_init=1, max_iter=5, random_state=0).fit(Xtr) for k in (16, 32, 64, 128, 256)]
scales = [np.median(m.transform(Xtr).min(axis=1)) or 1.0 for m in models]
out = {}
for name, path in (("", sys.argv[2]), ("_distinct_lines", sys.argv[3])):
    t = time.perf_counter()
    n2, c2, _ = read(path)
    X = pre.transform(table(n2, c2)).astype(np.float32)
    score = sum(m.transform(X).min(axis=1) / s for m, s in zip(models, scales)) / len(models)
    out[name] = {"rows": int(X.shape[0]), "seconds": time.perf_counter() - t}
print(json.dumps(out))`;
  return JSON.parse(
    execFileSync('/usr/bin/python3', ['-c', py, trainPath, testPath, distinctPath], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    })
      .trim()
      .split('\n')
      .pop()!,
  );
}

/**
 * 3. fast vs exhaustive elbow sweep (k = 2…30, 3 inits per k) per seed, both curves, and how far
 * the fast curve is from the exhaustive one (largest relative gap over k, and the largest gap of
 * the min-max normalised curves the knee rule sees).
 */
async function elbows(
  X: Matrix,
  layout: ReturnType<Preprocessor['encodedLayout']>,
  out: Record<string, unknown>,
) {
  if (!flag('--elbow')) return;
  const i = args.indexOf('--elbow-seeds');
  const seeds = i >= 0 ? args[i + 1]!.split(',').map(Number) : [0];
  const curves: Record<string, unknown>[] = [];
  for (const seed of seeds) {
    const row: Record<string, unknown> = { seed };
    const inertia: Record<string, number[]> = {};
    for (const mode of ['fast', 'exhaustive'] as const) {
      const t = performance.now();
      const r = await elbowSweep(X, { mode, kMin: 2, kMax: 30, seed, nInit: 3, layout });
      const seconds = (performance.now() - t) / 1000;
      inertia[mode] = r.rows.map((x) => x.inertia);
      row[`${mode}_seconds`] = seconds;
      row[`${mode}_k`] = r.recommended;
      row[`${mode}_kneedle_knee`] = r.knee;
      row[`${mode}_inertia`] = inertia[mode];
      if (seed === seeds[0]) {
        out[`elbow_${mode}_seconds`] = seconds;
        out[`elbow_${mode}_k`] = r.recommended;
      }
      log(
        `elbow ${mode}, seed ${seed}: k=${r.recommended} in ${seconds.toFixed(1)} s (load average ${loadavg()[0]!.toFixed(1)})`,
      );
    }
    const f = inertia.fast!;
    const e = inertia.exhaustive!;
    row.max_relative_gap = Math.max(...f.map((v, j) => Math.abs(v - e[j]!) / e[j]!));
    const norm = (a: number[]) => a.map((v) => (v - Math.min(...a)) / (Math.max(...a) - Math.min(...a)));
    const fn = norm(f);
    const en = norm(e);
    row.max_normalised_gap = Math.max(...fn.map((v, j) => Math.abs(v - en[j]!)));
    row.load_average = loadavg()[0];
    curves.push(row);
    log(`elbow seed ${seed}: ${JSON.stringify(row)}`);
  }
  out.elbow_seeds = curves;
}

/**
 * 4. fit cost against scikit-learn (same centres, ITERS/3 iterations) as rows grow (1×, 2×, 4×
 * the 10 % file: each extra copy has its numeric values scaled per row by 1 + 1e-3·u, u uniform
 * in [−1, 1], so copies are new distinct rows, not duplicates) and as k grows (8, 32, 128 at 1×).
 */
async function scaling(
  X: Matrix,
  layout: ReturnType<Preprocessor['encodedLayout']>,
  out: Record<string, unknown>,
) {
  const iters = Math.max(1, Math.round(ITERS / 3));
  const engine = await getEngine('onnx');
  const cases: [number, number][] = [
    [1, 8],
    [1, 32],
    [1, 128],
    [2, 32],
    [4, 32],
  ];
  const results: Record<string, number>[] = [];
  for (const [times, k] of cases) {
    const M = times === 1 ? X : jitteredCopies(X, layout, times);
    const init = await initialCenters(M, k, 'k-means++', engine, new Rng(0));
    const t = performance.now();
    const ours = await new KMeans({ k, engine: 'onnx', maxIter: iters, tol: 0 }, init).fit(
      encodeDense(M, layout) ?? M,
    );
    const seconds = (performance.now() - t) / 1000;
    const sk = sklearnFit(M, init, iters);
    results.push({
      rows: M.rows,
      k,
      iters,
      seconds,
      sklearn_seconds: sk.seconds,
      ratio: seconds / sk.seconds,
      inertia_ratio: ours.inertia / sk.inertia,
    });
    log(
      `scaling: ${M.rows} rows, k=${k}: ${seconds.toFixed(2)} s vs scikit-learn ${sk.seconds.toFixed(2)} s`,
    );
  }
  out.fit_scaling = results;
}

function jitteredCopies(X: Matrix, layout: ReturnType<Preprocessor['encodedLayout']>, times: number): Matrix {
  const d = X.cols;
  const data = new Float32Array(X.rows * times * d);
  const rng = new Rng(99);
  for (let c = 0; c < times; c++) {
    data.set(X.data, c * X.rows * d);
    if (c === 0) continue;
    for (let i = 0; i < X.rows; i++) {
      const f = 1 + 1e-3 * (2 * rng.next() - 1);
      const o = (c * X.rows + i) * d;
      for (const j of layout.numericColumns) data[o + j] = data[o + j]! * f;
    }
  }
  return { data, rows: X.rows * times, cols: d };
}

/** A temporary plain-text copy of a (gzip) KDD file keeping the first copy of each line. */
function distinctLinesFile(path: string): string {
  const text = gunzipSync(readFileSync(path)).toString('latin1');
  const lines = [...new Set(text.split('\n').filter((l) => l.trim() !== ''))];
  const out = join(mkdtempSync(join(tmpdir(), 'netanomaly-bench-')), 'corrected-distinct.txt');
  writeFileSync(out, `${lines.join('\n')}\n`, 'latin1');
  log(`distinct lines of ${path}: ${lines.length}`);
  return out;
}

function takeMatrixRows(X: Matrix, n: number): Matrix {
  return { data: X.data.subarray(0, n * X.cols), rows: n, cols: X.cols };
}

main().catch((err) => {
  process.stderr.write(`benchmark failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
