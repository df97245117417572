/**
 * k-nearest-neighbour distance: a row's score is its Euclidean distance to the k-th nearest
 * training row (brute force over the distinct training rows, each weighted by its count, so
 * duplicated flows count as several neighbours).
 */
import type { Matrix } from '../../ingest/table.ts';
import type { MatrixScorer } from './scorer.ts';

export class KnnDistance implements MatrixScorer {
  readonly name = 'knn';
  private train: Matrix | null = null;
  private counts: Int32Array = new Int32Array(0);

  constructor(private readonly k = 5) {}

  async fit(X: Matrix): Promise<void> {
    const seen = new Map<string, number>();
    const rows: number[] = [];
    const counts: number[] = [];
    for (let i = 0; i < X.rows; i++) {
      const key = X.data.subarray(i * X.cols, (i + 1) * X.cols).join(',');
      const j = seen.get(key);
      if (j === undefined) {
        seen.set(key, rows.length);
        rows.push(i);
        counts.push(1);
      } else counts[j]!++;
    }
    const data = new Float32Array(rows.length * X.cols);
    rows.forEach((r, j) => {
      data.set(X.data.subarray(r * X.cols, (r + 1) * X.cols), j * X.cols);
    });
    this.train = { data, rows: rows.length, cols: X.cols };
    this.counts = Int32Array.from(counts);
  }

  async score(X: Matrix): Promise<Float64Array> {
    const T = this.train!;
    const d = X.cols;
    const k = this.k;
    const out = new Float64Array(X.rows);
    // the k smallest distances (each distinct row with its count), kept sorted ascending
    const bestD = new Float64Array(k);
    const bestC = new Int32Array(k);
    for (let i = 0; i < X.rows; i++) {
      const xo = i * d;
      let m = 0;
      for (let j = 0; j < T.rows; j++) {
        const to = j * d;
        let s = 0;
        for (let c = 0; c < d; c++) {
          const diff = X.data[xo + c]! - T.data[to + c]!;
          s += diff * diff;
        }
        if (m === k && s >= bestD[k - 1]!) continue;
        let p = m < k ? m++ : k - 1;
        while (p > 0 && bestD[p - 1]! > s) {
          bestD[p] = bestD[p - 1]!;
          bestC[p] = bestC[p - 1]!;
          p--;
        }
        bestD[p] = s;
        bestC[p] = this.counts[j]!;
      }
      let covered = 0;
      let kth = 0;
      for (let p = 0; p < m; p++) {
        covered += bestC[p]!;
        kth = bestD[p]!;
        if (covered >= k) break;
      }
      out[i] = Math.sqrt(kth);
    }
    return out;
  }
}
