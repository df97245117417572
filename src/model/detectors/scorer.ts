/** What every detector of the comparison is: fit on preprocessed rows, score rows (higher = more anomalous). */
import type { Matrix } from '../../ingest/table.ts';

export interface MatrixScorer {
  readonly name: string;
  fit(X: Matrix): Promise<void>;
  score(X: Matrix): Promise<Float64Array>;
}
