/**
 * The flow meter's table (typed-array slots, open addressing, recency lists) behaves as the two
 * insertion-ordered Maps it replaced: the same flow for either direction of a 5-tuple, nothing
 * merged on a hash collision (hashes drawn from 64 values, so long runs and backward shifts are
 * exercised), and the same order in the open and closing lists after any mix of operations.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLOSING, FlowTable, OPEN } from '../../../src/ingest/traffic/flow-table.ts';

type Tuple = [src: string, dst: string, sport: number, dport: number, proto: number];
const keyOf = ([s, d, sp, dp, p]: Tuple) => {
  const a = `${s}|${sp}`;
  const b = `${d}|${dp}`;
  return a < b ? `${p}|${a}|${b}` : `${p}|${b}|${a}`;
};

function listOf(t: FlowTable, l: number): number[] {
  const out: number[] = [];
  for (let i = t.head[l]!; i >= 0; i = t.next[i]!) out.push(i);
  return out;
}

test('FlowTable: lookups, collisions, deletions and recency order equal the Map model', () => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const t = new FlowTable();
  // model: key → slot, and the two lists as insertion-ordered maps of keys
  const slotOf = new Map<string, number>();
  const lists = [new Map<string, true>(), new Map<string, true>()];
  const hashOf = new Map<string, number>();
  let finds = 0;
  for (let step = 0; step < 60_000; step++) {
    const tup: Tuple = [`10.0.0.${rnd(20)}`, `10.0.1.${rnd(20)}`, rnd(6), rnd(3), rnd(2) ? 6 : 17];
    const dir: Tuple = rnd(2) ? tup : [tup[1], tup[0], tup[3], tup[2], tup[4]];
    const k = keyOf(tup);
    if (!hashOf.has(k)) hashOf.set(k, rnd(64));
    const h = hashOf.get(k)!;
    const found = t.find(h, ...dir);
    finds++;
    const want = slotOf.get(k);
    assert.equal(found, want ?? -1, `step ${step}: find ${k}`);
    const op = rnd(10);
    if (want === undefined) {
      const i = t.insert(h, ...dir, step);
      slotOf.set(k, i);
      lists[OPEN]!.set(k, true);
    } else if (op < 3) {
      t.remove(want);
      t.free(want);
      slotOf.delete(k);
      lists[OPEN]!.delete(k);
      lists[CLOSING]!.delete(k);
    } else if (op < 5 && lists[OPEN]!.has(k)) {
      t.moveTo(want, CLOSING);
      lists[OPEN]!.delete(k);
      lists[CLOSING]!.set(k, true);
    } else {
      t.touch(want);
      const l = lists[OPEN]!.has(k) ? lists[OPEN]! : lists[CLOSING]!;
      l.delete(k);
      l.set(k, true);
    }
    if (step % 97 === 0) {
      for (const l of [OPEN, CLOSING])
        assert.deepEqual(
          listOf(t, l),
          [...lists[l]!.keys()].map((x) => slotOf.get(x)!),
          `step ${step}: list ${l}`,
        );
      assert.equal(t.count, slotOf.size);
    }
  }
  assert.ok(
    finds === 60_000 && t.capacity > 1024,
    `${slotOf.size} flows held, capacity ${t.capacity} (grown once at least)`,
  );
});
