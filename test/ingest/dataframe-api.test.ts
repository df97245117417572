/**
 * danfo DataFrames at the public API's edges, on real NSL-KDD rows: the estimators give the same
 * results for a DataFrame as for the Table it came from, results come back as DataFrames aligned
 * with the input's index, and readKddFrame reads a file straight into a DataFrame.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { concat, DataFrame } from 'danfojs';
import { InputError } from '../../src/errors.ts';
import { kddFieldSpecs } from '../../src/features/kdd-fields.ts';
import {
  asMatrix,
  asTable,
  fromDataFrame,
  isDataFrame,
  readKddFrame,
  resultFrame,
  toDataFrame,
} from '../../src/ingest/dataframe.ts';
import { takeRows } from '../../src/ingest/table.ts';
import { AnomalyDetector } from '../../src/model/detector.ts';
import { KMeans } from '../../src/model/kmeans.ts';
import { dataFile, kdd } from '../helpers/data.ts';

describe('DataFrames in and out of the estimators', { timeout: 120_000 }, () => {
  test('AnomalyDetector: fit / evaluateRows / predict / scoreSamples / decisionFunction on a DataFrame = on the Table', async () => {
    const train = await kdd('nsl-kdd/KDDTrain+_20Percent.txt');
    const test_ = await kdd('nsl-kdd/KDDTest+.txt');
    const table = takeRows(
      train.table,
      Int32Array.from({ length: 3000 }, (_, i) => i),
    );
    const df = toDataFrame(table, { label: train.labels.slice(0, 3000) });
    const opts = { k: 8, ensembleK: [16], seed: 3 };
    const a = await new AnomalyDetector(kddFieldSpecs(), opts).fit(table);
    const b = await new AnomalyDetector(kddFieldSpecs(), opts).fit(df);
    assert.equal(a.threshold, b.threshold);
    const rows = takeRows(
      test_.table,
      Int32Array.from({ length: 500 }, (_, i) => i * 7),
    );
    const testDf = toDataFrame(rows);
    const ra = await a.evaluateRows(rows);
    const rb = await b.evaluateRows(testDf);
    assert.deepEqual(Array.from(rb.anomalyScore), Array.from(ra.anomalyScore));
    assert.deepEqual(Array.from(rb.cluster), Array.from(ra.cluster));
    assert.deepEqual(Array.from(await b.predict(testDf)), Array.from(await a.predict(rows)));
    assert.deepEqual(Array.from(await b.scoreSamples(testDf)), Array.from(await a.scoreSamples(rows)));
    assert.deepEqual(
      Array.from(await b.decisionFunction(testDf)),
      Array.from(await a.decisionFunction(rows)),
    );

    // Results as a DataFrame, aligned with a filtered input's index, ready for concat and query.
    const tcp = testDf.query(testDf.column('protocol_type').values.map((v) => v === 'tcp'));
    const scored = await b.evaluateRows(tcp);
    const res = resultFrame(scored, { index: tcp.index, risk: (s) => b.riskScore(s) });
    assert.deepEqual(res.index, tcp.index);
    assert.deepEqual(res.columns, ['anomaly_score', 'cluster', 'is_anomaly', 'verdict', 'risk_score']);
    const both = concat({ dfList: [tcp, res], axis: 1 }) as DataFrame;
    assert.equal(both.shape[0], tcp.shape[0]);
    const flagged = both.query(both.column('verdict').values.map((v) => v === 'anomaly'));
    assert.equal(flagged.shape[0], Array.from(scored.isAnomaly).filter((v) => v === 1).length);
    const firstTcp = tcp.index[0] as number;
    assert.equal(both.at(firstTcp, 'anomaly_score'), ra.anomalyScore[firstTcp]);
  });

  test('resultFrame: top fields of explained rows, checks lengths', () => {
    const res = resultFrame(
      { anomalyScore: [0.5, 3], cluster: [1, 0], isAnomaly: [0, 1] },
      {
        explanations: [
          {
            row: 1,
            top_fields: [
              { field: 'src_bytes', share: 0.624 },
              { field: 'service', share: 0.2 },
            ],
          },
        ],
      },
    );
    assert.deepEqual(res.column('top_fields').values, ['', 'src_bytes 62 %, service 20 %']);
    assert.deepEqual(res.column('verdict').values, ['normal', 'anomaly']);
    assert.throws(() => resultFrame({ anomalyScore: [1, 2], cluster: [0] }), InputError);
    assert.throws(() => resultFrame({ anomalyScore: [1], cluster: [0] }, { index: [1, 2] }), InputError);
  });

  test('KMeans.fit(df) = KMeans.fit(matrix); a string column is refused with its name', async () => {
    const df = new DataFrame({ x: [0, 0.1, 0.2, 5, 5.1, 5.2], y: [0, 0.2, 0.1, 5, 5.2, 4.9] });
    const X = asMatrix(df);
    assert.deepEqual([X.rows, X.cols], [6, 2]);
    const a = await new KMeans({ k: 2, seed: 1 }).fit(df);
    const b = await new KMeans({ k: 2, seed: 1 }).fit(X);
    assert.deepEqual(Array.from(a.labels), Array.from(b.labels));
    assert.deepEqual(Array.from(await a.predict(df)), Array.from(a.labels));
    const withText = new DataFrame({ x: [1, 2], s: ['a', 'b'] });
    assert.throws(() => asMatrix(withText), /column 's' holds strings/);
  });

  test('asTable / isDataFrame / fromDataFrame: Tables pass through, one-column frames convert', () => {
    const t = { nRows: 2, numeric: { a: Float64Array.of(1, 2) }, text: {} };
    assert.equal(asTable(t), t);
    assert.equal(isDataFrame(t), false);
    const one = fromDataFrame(new DataFrame({ a: [1.5, Number.NaN] }));
    assert.deepEqual(Array.from(one.numeric.a!), [1.5, Number.NaN]);
    const oneText = fromDataFrame(new DataFrame({ s: ['x', 'y'] }));
    assert.deepEqual(oneText.text.s, ['x', 'y']);
  });

  test('readKddFrame: the 41 features, label, family and difficulty as columns', async () => {
    const { df, report, format } = await readKddFrame(dataFile('nsl-kdd/KDDTest+.txt'));
    assert.equal(format, 'nsl-kdd');
    assert.deepEqual(df.shape, [22544, 44]);
    assert.equal(report.rowsKept, 22544);
    assert.deepEqual(df.columns.slice(-3), ['label', 'family', 'difficulty']);
    const fam = df.column('family').valueCounts();
    assert.ok((fam.at('normal') as number) > 9000);
  });
});
