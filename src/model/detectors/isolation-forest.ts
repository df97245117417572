/**
 * Isolation Forest (Liu, Ting & Zhou 2008): random axis-parallel splits isolate odd rows in few
 * steps. Each tree is grown on a seeded subsample of `maxSamples` rows to depth ⌈log2 ψ⌉; the
 * score is 2^(−E[h(x)] / c(ψ)), higher = more anomalous (0.5 ≈ average).
 */
import type { Matrix } from '../../ingest/table.ts';
import { Rng } from '../random.ts';
import type { MatrixScorer } from './scorer.ts';

export interface IsolationForestOptions {
  nTrees?: number;
  maxSamples?: number;
  seed?: number;
}

/** Average path length of an unsuccessful search in a binary search tree of n items. */
function c(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + 0.5772156649) - (2 * (n - 1)) / n;
}

/** Flat tree: per node the split feature (−1 = leaf), threshold, children, and leaf size. */
interface Tree {
  feature: Int32Array;
  split: Float64Array;
  left: Int32Array;
  right: Int32Array;
  size: Int32Array;
}

export class IsolationForest implements MatrixScorer {
  readonly name = 'isolation-forest';
  private trees: Tree[] = [];
  private psi = 0;
  private readonly o: Required<IsolationForestOptions>;

  constructor(options: IsolationForestOptions = {}) {
    this.o = { nTrees: 100, maxSamples: 256, seed: 0, ...options };
  }

  async fit(X: Matrix): Promise<void> {
    const rng = new Rng(this.o.seed);
    this.psi = Math.min(this.o.maxSamples, X.rows);
    const maxDepth = Math.ceil(Math.log2(Math.max(2, this.psi)));
    this.trees = [];
    for (let t = 0; t < this.o.nTrees; t++) {
      const rows = Array.from(rng.sample(X.rows, this.psi));
      this.trees.push(grow(X, rows, maxDepth, rng));
    }
  }

  async score(X: Matrix): Promise<Float64Array> {
    const out = new Float64Array(X.rows);
    const cn = c(this.psi);
    for (let i = 0; i < X.rows; i++) {
      const off = i * X.cols;
      let total = 0;
      for (const tree of this.trees) {
        let node = 0;
        let depth = 0;
        while (tree.feature[node]! >= 0) {
          node =
            X.data[off + tree.feature[node]!]! < tree.split[node]! ? tree.left[node]! : tree.right[node]!;
          depth++;
        }
        total += depth + c(tree.size[node]!);
      }
      out[i] = 2 ** (-(total / this.trees.length) / cn);
    }
    return out;
  }
}

function grow(X: Matrix, rows: number[], maxDepth: number, rng: Rng): Tree {
  const feature: number[] = [];
  const split: number[] = [];
  const left: number[] = [];
  const right: number[] = [];
  const size: number[] = [];
  const build = (idx: number[], depth: number): number => {
    const node = feature.length;
    feature.push(-1);
    split.push(0);
    left.push(-1);
    right.push(-1);
    size.push(idx.length);
    if (depth >= maxDepth || idx.length <= 1) return node;
    // features that still vary among these rows
    const candidates: { f: number; lo: number; hi: number }[] = [];
    for (let f = 0; f < X.cols; f++) {
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      for (const i of idx) {
        const v = X.data[i * X.cols + f]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (hi > lo) candidates.push({ f, lo, hi });
    }
    if (candidates.length === 0) return node;
    const pick = candidates[rng.int(candidates.length)]!;
    const s = pick.lo + rng.next() * (pick.hi - pick.lo);
    const l: number[] = [];
    const r: number[] = [];
    for (const i of idx) (X.data[i * X.cols + pick.f]! < s ? l : r).push(i);
    if (l.length === 0 || r.length === 0) return node;
    feature[node] = pick.f;
    split[node] = s;
    left[node] = build(l, depth + 1);
    right[node] = build(r, depth + 1);
    return node;
  };
  build(rows, 0);
  return {
    feature: Int32Array.from(feature),
    split: Float64Array.from(split),
    left: Int32Array.from(left),
    right: Int32Array.from(right),
    size: Int32Array.from(size),
  };
}
