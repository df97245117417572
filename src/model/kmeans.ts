/**
 * K-Means on a row-major float32 matrix, scikit-learn shaped: `fit`, `predict`, `transform`
 * (distances to every centre), `score` (−inertia), with k-means++ seeding (greedy, as
 * scikit-learn), Lloyd iterations whose batched distance step runs on a pluggable engine
 * (engine.ts), empty clusters moved to the farthest points, `nInit` restarts and a mini-batch
 * variant for large data and fast sweeps. A seed makes every result reproduce.
 *
 * Centres are updated in float64; the distance step runs in float32 on the engine, and the
 * reported inertia is recomputed exactly (float64) for the final centres.
 *
 * `fit` also takes encoded rows (features/encoded.ts, e.g. `Preprocessor.transformEncoded` or
 * `encodeDense`): Lloyd then runs on the distinct rows weighted by their counts, with the
 * numeric-columns product and category lookups of the scoring path (kmeans-encoded.ts): the
 * same algorithm and seeding on less data, for the dense matrix those rows stand for.
 */
import { z } from 'zod';
import { InputError, NotFittedError, optionError } from '../errors.ts';
import { checkEncoded, type EncodedMatrix, expandEncoded } from '../features/encoded.ts';
import { asMatrix, type MatrixInput } from '../ingest/dataframe.ts';
import type { Matrix } from '../ingest/table.ts';
import { parseOptions } from '../validation.ts';
import { type DistanceEngine, type EngineName, getEngine, rowSlice, sumByLabel } from './engine.ts';
import {
  centerShift,
  type EncodedEngine,
  expandLabels,
  initialCentersEncoded,
  lloydEncoded,
  meanVarianceEncoded,
  searchSorted,
  topIndices,
  weightedRows,
} from './kmeans-encoded.ts';
import { Rng } from './random.ts';

export const KMeansOptionsSchema = z.object({
  k: z.number().int().min(1),
  nInit: z.number().int().min(1).default(1),
  maxIter: z.number().int().min(1).default(300),
  tol: z.number().min(0).default(1e-4),
  seed: z.number().int().default(0),
  engine: z.enum(['auto', 'onnx', 'tfjs', 'js']).default('auto'),
  init: z.enum(['k-means++', 'random']).default('k-means++'),
  algorithm: z.enum(['lloyd', 'minibatch']).default('lloyd'),
  /** Mini-batch: rows per step. */
  batchSize: z.number().int().min(1).default(4096),
  /** Mini-batch: stop after this many steps without improvement of the smoothed batch inertia. */
  maxNoImprovement: z.number().int().min(1).default(10),
});
export type KMeansOptions = z.input<typeof KMeansOptionsSchema>;
type Options = z.output<typeof KMeansOptionsSchema>;

/** The fitted state, plain data. */
export interface KMeansState {
  k: number;
  nFeatures: number;
  centers: number[];
  inertia: number;
  nIter: number;
}

export class KMeans {
  readonly options: Options;
  private centers_: Matrix | null = null;
  private labels_: Int32Array | null = null;
  private inertia_ = Number.NaN;
  private nIter_ = 0;
  private engine_: DistanceEngine | null = null;
  private readonly initCenters: Matrix | null;

  /** `init` may also be a matrix of k starting centres (then nInit is 1). */
  constructor(options: KMeansOptions, initCenters?: Matrix) {
    this.options = parseOptions(KMeansOptionsSchema, 'KMeans', options);
    this.initCenters = initCenters ?? null;
    if (initCenters && initCenters.rows !== this.options.k) {
      throw optionError('KMeans', 'init', `a matrix of k=${this.options.k} rows`, `${initCenters.rows} rows`);
    }
  }

  static fromState(state: KMeansState, options: Partial<KMeansOptions> = {}): KMeans {
    const km = new KMeans({ ...options, k: state.k });
    km.centers_ = { data: Float32Array.from(state.centers), rows: state.k, cols: state.nFeatures };
    km.inertia_ = state.inertia;
    km.nIter_ = state.nIter;
    return km;
  }

  toState(): KMeansState {
    const c = this.clusterCenters;
    return {
      k: c.rows,
      nFeatures: c.cols,
      centers: Array.from(c.data),
      inertia: this.inertia_,
      nIter: this.nIter_,
    };
  }

  get clusterCenters(): Matrix {
    if (!this.centers_) throw new NotFittedError('This KMeans is not fitted yet; call fit() first.');
    return this.centers_;
  }
  /** Labels of the training rows (set by fit). */
  get labels(): Int32Array {
    if (!this.labels_) throw new NotFittedError('This KMeans is not fitted yet; call fit() first.');
    return this.labels_;
  }
  /** Sum of squared distances of the training rows to their centre. */
  get inertia(): number {
    this.clusterCenters;
    return this.inertia_;
  }
  get nIter(): number {
    return this.nIter_;
  }

  async fit(input: MatrixInput | EncodedMatrix): Promise<this> {
    if (isEncodedMatrix(input)) return this.fitEncoded(input);
    const X = asMatrix(input);
    checkMatrix(X, 'KMeans.fit');
    const { k } = this.options;
    if (X.rows < k) throw new InputError(`n_samples=${X.rows} should be >= k=${k}`);
    const engine = await this.engine();
    const distinct = countDistinctRows(X, k);
    if (distinct < k) throw new InputError(`need at least k=${k} distinct rows to fit, found ${distinct}`);
    const tolAbs = this.options.tol * meanVariance(X);
    const seeds = new Rng(this.options.seed);
    let best: { centers: Matrix; labels: Int32Array; inertia: number; nIter: number } | null = null;
    const nInit = this.initCenters ? 1 : this.options.nInit;
    for (let run = 0; run < nInit; run++) {
      const rng = new Rng(seeds.int(2 ** 31));
      const result =
        this.options.algorithm === 'minibatch'
          ? await this.miniBatch(X, engine, rng)
          : await this.lloyd(X, engine, rng, tolAbs);
      if (!best || result.inertia < best.inertia) best = result;
    }
    this.centers_ = best!.centers;
    this.labels_ = best!.labels;
    this.inertia_ = best!.inertia;
    this.nIter_ = best!.nIter;
    return this;
  }

  /** fit on encoded rows: the distinct rows, weighted (see the module comment). */
  private async fitEncoded(E: EncodedMatrix): Promise<this> {
    checkEncoded(E, 'KMeans.fit');
    const { k } = this.options;
    if (E.rows < k) throw new InputError(`n_samples=${E.rows} should be >= k=${k}`);
    const engine = await this.engine();
    if (!engine.nearestEncoded || this.options.algorithm === 'minibatch') return this.fit(expandEncoded(E));
    const W = weightedRows(E);
    if (W.U.rows < k) throw new InputError(`need at least k=${k} distinct rows to fit, found ${W.U.rows}`);
    const tolAbs = this.options.tol * meanVarianceEncoded(W);
    const seeds = new Rng(this.options.seed);
    let best: Awaited<ReturnType<typeof lloydEncoded>> | null = null;
    const nInit = this.initCenters ? 1 : this.options.nInit;
    for (let run = 0; run < nInit; run++) {
      const rng = new Rng(seeds.int(2 ** 31));
      const start = this.initCenters ?? (await initialCentersEncoded(W, k, this.options.init, engine, rng));
      const result = await lloydEncoded(W, start, engine as EncodedEngine, this.options.maxIter, tolAbs);
      if (!best || result.inertia < best.inertia) best = result;
    }
    this.centers_ = best!.centers;
    this.labels_ = expandLabels(W, best!.labels);
    this.inertia_ = best!.inertia;
    this.nIter_ = best!.nIter;
    return this;
  }

  async predict(input: MatrixInput): Promise<Int32Array> {
    const X = asMatrix(input);
    checkMatrix(X, 'KMeans.predict', this.clusterCenters.cols);
    return (await (await this.engine()).nearest(X, this.clusterCenters)).labels;
  }

  async fitPredict(X: MatrixInput): Promise<Int32Array> {
    await this.fit(X);
    return this.labels;
  }

  /** Euclidean distances from each row to every centre: rows × k, row-major. */
  async transform(input: MatrixInput): Promise<Float32Array> {
    const X = asMatrix(input);
    checkMatrix(X, 'KMeans.transform', this.clusterCenters.cols);
    const d2 = await (await this.engine()).distances(X, this.clusterCenters);
    for (let i = 0; i < d2.length; i++) d2[i] = Math.sqrt(d2[i]!);
    return d2;
  }

  /** Nearest centre and exact (float64) squared distance to it, per row. */
  async nearest(X: Matrix): Promise<{ labels: Int32Array; dist2: Float64Array }> {
    checkMatrix(X, 'KMeans.nearest', this.clusterCenters.cols);
    const { labels } = await (await this.engine()).nearest(X, this.clusterCenters);
    return { labels, dist2: exactDist2(X, this.clusterCenters, labels) };
  }

  /** Opposite of the inertia of X against the fitted centres (higher is better), as scikit-learn. */
  async score(X: Matrix): Promise<number> {
    const { dist2 } = await this.nearest(X);
    let s = 0;
    for (let i = 0; i < dist2.length; i++) s += dist2[i]!;
    return -s;
  }

  private async engine(): Promise<DistanceEngine> {
    if (!this.engine_) this.engine_ = await getEngine(this.options.engine as EngineName | 'auto');
    return this.engine_;
  }

  private async lloyd(X: Matrix, engine: DistanceEngine, rng: Rng, tolAbs: number) {
    const k = this.options.k;
    let centers = this.initCenters ?? (await initialCenters(X, k, this.options.init, engine, rng));
    let previous: Int32Array | null = null;
    let sums: Float64Array = new Float64Array(0);
    let counts: Float64Array = new Float64Array(0);
    let nIter = 0;
    for (let it = 0; it < this.options.maxIter; it++) {
      nIter = it + 1;
      const { labels, minDist2 } = await engine.nearest(X, centers);
      // Per-centre sums are kept across iterations and updated only for rows that changed
      // cluster (few after the first iterations); a full recount every 25 iterations.
      if (!previous || it % 25 === 0) ({ sums, counts } = sumByLabel(X, labels, k));
      else if (moveRows(X, previous, labels, sums, counts) === 0) break; // labels stable: converged
      const next = updateCenters(X, sums, counts, minDist2);
      const shift = centerShift(centers, next);
      centers = next;
      previous = labels;
      if (shift <= tolAbs) break;
    }
    const { labels } = await engine.nearest(X, centers);
    const dist2 = exactDist2(X, centers, labels);
    return { centers, labels, inertia: sum(dist2), nIter };
  }

  private async miniBatch(X: Matrix, engine: DistanceEngine, rng: Rng) {
    const { k, batchSize, maxNoImprovement, maxIter } = this.options;
    const b = Math.min(batchSize, X.rows);
    const initSize = Math.min(X.rows, Math.max(3 * b, 3 * k));
    const initRows = takeRows(X, rng.sample(X.rows, initSize));
    const start = this.initCenters ?? (await initialCenters(initRows, k, this.options.init, engine, rng));
    const centers = Float64Array.from(start.data);
    const counts = new Float64Array(k);
    const d = X.cols;
    const steps = Math.max(1, Math.ceil((maxIter * X.rows) / b));
    let ewa = Number.NaN;
    let bestEwa = Number.POSITIVE_INFINITY;
    let stale = 0;
    let nIter = 0;
    for (let step = 0; step < steps; step++) {
      nIter = step + 1;
      const batch = takeRows(X, rng.sample(X.rows, b));
      const current = { data: Float32Array.from(centers), rows: k, cols: d };
      const { labels, minDist2 } = await engine.nearest(batch, current);
      // Per-centre learning rate 1/count, as scikit-learn's MiniBatchKMeans.
      for (let i = 0; i < b; i++) {
        const c = labels[i]!;
        counts[c]! += 1;
        const eta = 1 / counts[c]!;
        for (let j = 0; j < d; j++) {
          const p = c * d + j;
          centers[p] = centers[p]! + eta * (batch.data[i * d + j]! - centers[p]!);
        }
      }
      const batchInertia = sum(minDist2) / b;
      ewa = Number.isNaN(ewa)
        ? batchInertia
        : ewa * (1 - b / X.rows) + batchInertia * Math.min(1, b / X.rows);
      if (ewa < bestEwa) {
        bestEwa = ewa;
        stale = 0;
      } else if (++stale >= maxNoImprovement) break;
    }
    const final = { data: Float32Array.from(centers), rows: k, cols: d };
    const { labels } = await engine.nearest(X, final);
    return { centers: final, labels, inertia: sum(exactDist2(X, final, labels)), nIter };
  }
}

/** k-means++ (greedy: 2 + ln k trials per centre, the best kept, as scikit-learn) or random rows. */
export async function initialCenters(
  X: Matrix,
  k: number,
  init: 'k-means++' | 'random',
  engine: DistanceEngine,
  rng: Rng,
): Promise<Matrix> {
  const d = X.cols;
  if (init === 'random') return takeRows(X, rng.sample(X.rows, k));
  const centers = new Float32Array(k * d);
  const first = rng.int(X.rows);
  centers.set(X.data.subarray(first * d, (first + 1) * d), 0);
  const closest = Float64Array.from(
    await engine.distances(X, { data: centers.subarray(0, d), rows: 1, cols: d }),
  );
  let pot = sum(closest);
  const trials = 2 + Math.floor(Math.log(k));
  const cumulative = new Float64Array(X.rows);
  for (let c = 1; c < k; c++) {
    let acc = 0;
    for (let i = 0; i < X.rows; i++) {
      acc += closest[i]!;
      cumulative[i] = acc;
    }
    const candidates = new Int32Array(trials);
    for (let t = 0; t < trials; t++) {
      candidates[t] = Math.min(X.rows - 1, searchSorted(cumulative, rng.next() * pot));
    }
    const cand = takeRows(X, candidates);
    const dist = await engine.distances(X, cand);
    let bestT = 0;
    let bestPot = Number.POSITIVE_INFINITY;
    for (let t = 0; t < trials; t++) {
      let p = 0;
      for (let i = 0; i < X.rows; i++) p += Math.min(closest[i]!, dist[i * trials + t]!);
      if (p < bestPot) {
        bestPot = p;
        bestT = t;
      }
    }
    for (let i = 0; i < X.rows; i++) closest[i] = Math.min(closest[i]!, dist[i * trials + bestT]!);
    pot = bestPot;
    centers.set(cand.data.subarray(bestT * d, (bestT + 1) * d), c * d);
  }
  return { data: centers, rows: k, cols: d };
}

/** Mean of each cluster's rows; empty clusters take the rows farthest from their centre. */
function updateCenters(X: Matrix, sums: Float64Array, counts: Float64Array, minDist2: Float32Array): Matrix {
  const d = X.cols;
  const k = counts.length;
  const out = new Float32Array(k * d);
  const empty: number[] = [];
  for (let c = 0; c < k; c++) {
    if (counts[c]! < 0.5) {
      empty.push(c);
      continue;
    }
    for (let j = 0; j < d; j++) out[c * d + j] = sums[c * d + j]! / counts[c]!;
  }
  if (empty.length > 0) {
    const far = topIndices(minDist2, empty.length);
    empty.forEach((c, e) => {
      out.set(X.data.subarray(far[e]! * d, (far[e]! + 1) * d), c * d);
    });
  }
  return { data: out, rows: k, cols: d };
}

/** Moves the rows whose label changed from their old centre's sums to the new one's. */
function moveRows(
  X: Matrix,
  before: Int32Array,
  after: Int32Array,
  sums: Float64Array,
  counts: Float64Array,
): number {
  const d = X.cols;
  let moved = 0;
  for (let i = 0; i < after.length; i++) {
    const a = before[i]!;
    const b = after[i]!;
    if (a === b) continue;
    moved++;
    counts[a]! -= 1;
    counts[b]! += 1;
    const xo = i * d;
    for (let j = 0; j < d; j++) {
      const v = X.data[xo + j]!;
      sums[a * d + j]! -= v;
      sums[b * d + j]! += v;
    }
  }
  return moved;
}

function sum(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]!;
  return s;
}

/** Exact squared distance (float64) from each row to its assigned centre. */
export function exactDist2(X: Matrix, C: Matrix, labels: Int32Array): Float64Array {
  const d = X.cols;
  const out = new Float64Array(X.rows);
  for (let i = 0; i < X.rows; i++) {
    const co = labels[i]! * d;
    const xo = i * d;
    let s = 0;
    for (let j = 0; j < d; j++) {
      const t = X.data[xo + j]! - C.data[co + j]!;
      s += t * t;
    }
    out[i] = s;
  }
  return out;
}

/** Mean over features of the per-feature variance (scikit-learn's tolerance scale). */
function meanVariance(X: Matrix): number {
  const d = X.cols;
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  for (let i = 0; i < X.rows; i++) {
    for (let j = 0; j < d; j++) {
      const v = X.data[i * d + j]!;
      mean[j]! += v;
      sq[j]! += v * v;
    }
  }
  let total = 0;
  for (let j = 0; j < d; j++) {
    const m = mean[j]! / X.rows;
    total += Math.max(0, sq[j]! / X.rows - m * m);
  }
  return total / d;
}

/** Distinct rows, counting up to `limit` (enough to know whether k clusters are possible). */
function countDistinctRows(X: Matrix, limit: number): number {
  const seen = new Set<string>();
  const d = X.cols;
  const bytes = new Uint8Array(X.data.buffer, X.data.byteOffset, X.data.byteLength);
  for (let i = 0; i < X.rows && seen.size < limit; i++) {
    seen.add(Buffer.from(bytes.subarray(i * d * 4, (i + 1) * d * 4)).toString('latin1'));
  }
  return seen.size;
}

export function takeRows(X: Matrix, index: ArrayLike<number>): Matrix {
  const d = X.cols;
  const out = new Float32Array(index.length * d);
  for (let i = 0; i < index.length; i++) out.set(X.data.subarray(index[i]! * d, (index[i]! + 1) * d), i * d);
  return { data: out, rows: index.length, cols: d };
}

function isEncodedMatrix(input: MatrixInput | EncodedMatrix): input is EncodedMatrix {
  return 'codes' in input && 'layout' in input;
}

/** Matrices already scanned for non-finite values (an ensemble scores one matrix with every run). */
const finiteChecked = new WeakSet<Float32Array>();

function checkMatrix(X: Matrix, where: string, cols?: number): void {
  if (X.data.length !== X.rows * X.cols) {
    throw new InputError(`${where}: matrix data has ${X.data.length} values, expected ${X.rows}×${X.cols}`);
  }
  if (cols !== undefined && X.cols !== cols) {
    throw new InputError(`${where}: X has ${X.cols} features, but the model was fitted with ${cols}`);
  }
  if (finiteChecked.has(X.data)) return;
  for (let i = 0; i < X.data.length; i++) {
    if (!Number.isFinite(X.data[i]!)) {
      throw new InputError(
        `${where}: row ${Math.floor(i / X.cols)} holds a non-finite value; NaN/inf never reach K-Means`,
      );
    }
  }
  finiteChecked.add(X.data);
}

export { rowSlice };
