/** Synthetic flows where the answer is known: three groups that differ only in `signal`. */
import type { FieldSpec } from '../../src/features/preprocessor.ts';
import type { Table } from '../../src/ingest/table.ts';
import { Rng } from '../../src/model/random.ts';

export const SYN_FIELDS: FieldSpec[] = [
  // weight 3: the groups sit 3.7 std apart after scaling, well beyond the unit-variance noise
  { name: 'signal', kind: 'numeric', weight: 3 },
  { name: 'noise1', kind: 'numeric' },
  { name: 'noise2', kind: 'numeric' },
  { name: 'colour', kind: 'categorical' },
];

/** n rows; group g = i % 3 puts `signal` at 20 g (±0.5); noise fields N(0,1); colour random. */
export function syntheticTable(n: number, seed = 1): { table: Table; group: string[] } {
  const rng = new Rng(seed);
  const signal = new Float64Array(n);
  const noise1 = new Float64Array(n);
  const noise2 = new Float64Array(n);
  const colour: string[] = [];
  const group: string[] = [];
  for (let i = 0; i < n; i++) {
    const g = i % 3;
    signal[i] = 20 * g + (rng.next() - 0.5);
    noise1[i] = rng.normal();
    noise2[i] = rng.normal();
    colour.push(rng.next() < 0.5 ? 'red' : 'blue');
    group.push(['normal', 'dos', 'probe'][g]!);
  }
  return { table: { nRows: n, numeric: { signal, noise1, noise2 }, text: { colour } }, group };
}
