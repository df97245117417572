/**
 * A 2-D map of traffic for plotting: PCA (ml-pca) fitted on a seeded sample of the model-space
 * matrix (the preprocessed, scaled features K-Means clusters), then flows and centroids projected
 * onto the first two components. Fitting on a sample keeps it fast on millions of rows; the
 * projection of any row is exact for the fitted components.
 */
import { PCA } from 'ml-pca';
import { InputError, optionError } from '../errors.ts';
import type { Matrix } from '../ingest/table.ts';
import { Rng } from '../model/random.ts';

export interface PcaOptions {
  /** Rows used to fit the components (default 5000). */
  sampleSize?: number;
  seed?: number;
}

export interface Projection2D {
  x: number[];
  y: number[];
}

export interface Pca2D {
  /** Share of the variance of the fitting sample along each of the two components. */
  explained: [number, number];
  /** Rows used for the fit. */
  fitRows: number;
  project(X: Matrix): Projection2D;
  /** Serialisable model (ml-pca's JSON). */
  toJSON(): unknown;
}

function toRows(X: Matrix, index?: ArrayLike<number>): number[][] {
  const n = index ? index.length : X.rows;
  const out = new Array<number[]>(n);
  for (let i = 0; i < n; i++) {
    const r = index ? index[i]! : i;
    out[i] = Array.from(X.data.subarray(r * X.cols, (r + 1) * X.cols));
  }
  return out;
}

/** Seeded sample of at most `size` row indices (all rows, in order, when there are fewer). */
export function sampleIndices(nRows: number, size: number, seed = 0): Int32Array {
  if (nRows <= size) return Int32Array.from({ length: nRows }, (_, i) => i);
  const idx = Int32Array.from(new Rng(seed).sample(nRows, size));
  return idx.sort();
}

/** Fit a 2-component PCA on a seeded sample of X (centred, not rescaled: X is already scaled). */
export function fitPca2D(X: Matrix, options: PcaOptions = {}): Pca2D {
  const sampleSize = options.sampleSize ?? 5000;
  if (!Number.isInteger(sampleSize) || sampleSize < 3)
    throw optionError('fitPca2D', 'sampleSize', 'an integer >= 3', sampleSize);
  if (X.rows < 3) throw new InputError(`PCA needs at least 3 rows, got ${X.rows}`);
  if (X.cols < 2) throw new InputError(`PCA to 2-D needs at least 2 columns, got ${X.cols}`);
  const idx = sampleIndices(X.rows, sampleSize, options.seed ?? 0);
  // The covariance method is fast when rows >> columns (d ≈ 100 here).
  const pca = new PCA(toRows(X, idx), { center: true, scale: false, method: 'covarianceMatrix' });
  const ev = pca.getExplainedVariance();
  return {
    explained: [ev[0] ?? 0, ev[1] ?? 0],
    fitRows: idx.length,
    project(M: Matrix): Projection2D {
      if (M.cols !== X.cols)
        throw new InputError(`PCA was fitted on ${X.cols} columns, got a matrix with ${M.cols}`);
      if (M.rows === 0) return { x: [], y: [] };
      const P = pca.predict(toRows(M), { nComponents: 2 });
      const x = new Array<number>(M.rows);
      const y = new Array<number>(M.rows);
      for (let i = 0; i < M.rows; i++) {
        x[i] = P.get(i, 0);
        y[i] = P.get(i, 1);
      }
      return { x, y };
    },
    toJSON: () => pca.toJSON(),
  };
}
