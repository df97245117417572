/**
 * What danfo DataFrames cost at the API's edges, per 100 k rows of KDD Cup 99 10 % (494,021 rows ×
 * 41 features + label + family): readKdd (the Table, the fast path), toDataFrame, fromDataFrame
 * (= asTable(df), what the estimators pay when given a DataFrame) and resultFrame (scores back as
 * a DataFrame). Median of 3 runs each. Usage: tsx benchmarks/dataframe-conversion.ts [file]
 */
import { join } from 'node:path';
import { fromDataFrame, resultFrame, toDataFrame } from '../src/ingest/dataframe.ts';
import { readKdd } from '../src/ingest/kdd.ts';

const file =
  process.argv[2] ??
  join(process.env.NETANOMALY_DATA_DIR ?? '../shared/datasets', 'kddcup99/kddcup.data_10_percent.gz');

async function time<T>(fn: () => T | Promise<T>): Promise<{ ms: number; value: T }> {
  const runs: number[] = [];
  let value: T | undefined;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    value = await fn();
    runs.push(performance.now() - t0);
  }
  runs.sort((a, b) => a - b);
  return { ms: runs[1]!, value: value! };
}

const read = await time(() => readKdd(file));
const d = read.value;
const n = d.table.nRows;
const to = await time(() => toDataFrame(d.table, { label: d.labels, family: d.families }));
const from = await time(() => fromDataFrame(to.value));
const scores = {
  anomalyScore: new Float64Array(n).fill(1.5),
  cluster: new Int32Array(n),
  isAnomaly: new Uint8Array(n),
};
const res = await time(() => resultFrame(scores));
const per100k = (ms: number) => Number(((ms / n) * 1e5).toFixed(0));
console.log(
  JSON.stringify({
    file,
    rows: n,
    ms_per_100k_rows: {
      readKdd_table: per100k(read.ms),
      toDataFrame: per100k(to.ms),
      fromDataFrame_asTable: per100k(from.ms),
      resultFrame_4_columns: per100k(res.ms),
    },
  }),
);
