/** The reference engine: plain loops, float64 accumulation. Exact, portable, slow on big data. */
import type { Matrix } from '../ingest/table.ts';
import type { DistanceEngine, Nearest, NearestEncoded } from './engine.ts';
import { nearestEncodedJs } from './engine-encoded.ts';

function sqDist(x: Float32Array, xo: number, c: Float32Array, co: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) {
    const t = x[xo + j]! - c[co + j]!;
    s += t * t;
  }
  return s;
}

export function createJsEngine(): DistanceEngine {
  return {
    name: 'js',
    async nearest(X: Matrix, C: Matrix): Promise<Nearest> {
      const labels = new Int32Array(X.rows);
      const minDist2 = new Float32Array(X.rows);
      const d = X.cols;
      for (let i = 0; i < X.rows; i++) {
        let best = Number.POSITIVE_INFINITY;
        let arg = 0;
        for (let c = 0; c < C.rows; c++) {
          const s = sqDist(X.data, i * d, C.data, c * d, d);
          if (s < best) {
            best = s;
            arg = c;
          }
        }
        labels[i] = arg;
        minDist2[i] = best;
      }
      return { labels, minDist2 };
    },
    async distances(X: Matrix, C: Matrix): Promise<Float32Array> {
      const out = new Float32Array(X.rows * C.rows);
      const d = X.cols;
      for (let i = 0; i < X.rows; i++) {
        for (let c = 0; c < C.rows; c++) out[i * C.rows + c] = sqDist(X.data, i * d, C.data, c * d, d);
      }
      return out;
    },
    async nearestEncoded(E, centers): Promise<NearestEncoded[]> {
      return nearestEncodedJs(E, centers);
    },
  };
}
