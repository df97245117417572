/**
 * Gaussian mixture with diagonal covariances, fitted by EM from a K-Means start; the score is the
 * negative log-likelihood −log p(x) (higher = more anomalous). Variances are floored at
 * `varFloor` (features are standardised, so 1e-2 is a hundredth of a training std²).
 */
import type { Matrix } from '../../ingest/table.ts';
import { KMeans } from '../kmeans.ts';
import type { MatrixScorer } from './scorer.ts';

export interface GmmOptions {
  components?: number;
  maxIter?: number;
  varFloor?: number;
  seed?: number;
}

export class DiagonalGmm implements MatrixScorer {
  readonly name = 'gmm';
  private readonly o: Required<GmmOptions>;
  private means = new Float64Array(0);
  private vars = new Float64Array(0);
  private logWeights = new Float64Array(0);
  private k = 0;
  private d = 0;

  constructor(options: GmmOptions = {}) {
    this.o = { components: 16, maxIter: 50, varFloor: 1e-2, seed: 0, ...options };
  }

  async fit(X: Matrix): Promise<void> {
    const n = X.rows;
    const d = X.cols;
    const k = Math.max(1, Math.min(this.o.components, Math.floor(n / 5)));
    const km = await new KMeans({ k, seed: this.o.seed, engine: 'js' }).fit(X);
    this.k = k;
    this.d = d;
    const resp = new Float64Array(n * k);
    km.labels.forEach((l, i) => {
      resp[i * k + l] = 1;
    });
    let prev = Number.NEGATIVE_INFINITY;
    for (let it = 0; it < this.o.maxIter; it++) {
      this.mStep(X, resp);
      const ll = this.eStep(X, resp);
      if (Math.abs(ll - prev) < 1e-4 * Math.abs(ll)) break;
      prev = ll;
    }
  }

  private mStep(X: Matrix, resp: Float64Array): void {
    const { k, d } = this;
    const n = X.rows;
    const nk = new Float64Array(k);
    const mu = new Float64Array(k * d);
    const v = new Float64Array(k * d);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < k; j++) {
        const r = resp[i * k + j]!;
        if (r === 0) continue;
        nk[j]! += r;
        for (let c = 0; c < d; c++) mu[j * d + c]! += r * X.data[i * d + c]!;
      }
    for (let j = 0; j < k; j++) for (let c = 0; c < d; c++) mu[j * d + c]! /= Math.max(nk[j]!, 1e-12);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < k; j++) {
        const r = resp[i * k + j]!;
        if (r === 0) continue;
        for (let c = 0; c < d; c++) {
          const diff = X.data[i * d + c]! - mu[j * d + c]!;
          v[j * d + c]! += r * diff * diff;
        }
      }
    for (let j = 0; j < k; j++)
      for (let c = 0; c < d; c++)
        v[j * d + c] = Math.max(this.o.varFloor, v[j * d + c]! / Math.max(nk[j]!, 1e-12));
    this.means = mu;
    this.vars = v;
    this.logWeights = Float64Array.from(nk, (x) => Math.log(Math.max(x, 1e-12) / n));
  }

  /** Component log-densities of row i (with weights) into `out`; returns log p(x). */
  private rowLog(X: Matrix, i: number, out: Float64Array): number {
    const { k, d } = this;
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < k; j++) {
      let s = this.logWeights[j]!;
      for (let c = 0; c < d; c++) {
        const v = this.vars[j * d + c]!;
        const diff = X.data[i * d + c]! - this.means[j * d + c]!;
        s -= 0.5 * (Math.log(2 * Math.PI * v) + (diff * diff) / v);
      }
      out[j] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(out[j]! - max);
    return max + Math.log(sum);
  }

  private eStep(X: Matrix, resp: Float64Array): number {
    const k = this.k;
    const buf = new Float64Array(k);
    let ll = 0;
    for (let i = 0; i < X.rows; i++) {
      const lp = this.rowLog(X, i, buf);
      ll += lp;
      for (let j = 0; j < k; j++) resp[i * k + j] = Math.exp(buf[j]! - lp);
    }
    return ll;
  }

  async score(X: Matrix): Promise<Float64Array> {
    const buf = new Float64Array(this.k);
    return Float64Array.from({ length: X.rows }, (_, i) => -this.rowLog(X, i, buf));
  }
}
