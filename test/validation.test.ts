import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { OptionError } from '../src/errors.ts';
import { AnomalyDetector } from '../src/model/detector.ts';
import { KMeans } from '../src/model/kmeans.ts';
import { parseOptions } from '../src/validation.ts';

test('option errors follow one template and name the option and the value', () => {
  const cases: [() => unknown, RegExp][] = [
    [() => new KMeans({ k: 0 }), /^The 'k' option of KMeans must be a number >= 1\. Got 0 instead\.$/],
    [
      () => new KMeans({ k: 3, engine: 'gpu' as 'js' }),
      /'engine' option of KMeans must be one of "auto", "onnx", "tfjs", "js"\. Got "gpu"/,
    ],
    [
      () => new AnomalyDetector([{ name: 'x', kind: 'numeric' }], { targetFpr: 0.7 }),
      /'targetFpr' option of AnomalyDetector must be a number < 0\.5\. Got 0\.7/,
    ],
    [
      () => parseOptions(z.object({ a: z.object({ b: z.string() }) }), 'Thing', { a: { b: 1 } }),
      /'a\.b' option of Thing must be of type string\. Got 1/,
    ],
  ];
  for (const [fn, re] of cases)
    assert.throws(fn, (e: Error) => e instanceof OptionError && re.test(e.message));
});
