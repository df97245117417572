/**
 * A small, fast, seeded pseudo-random generator (xoshiro128**, seeded through splitmix32), so that
 * sampling, K-Means seeding and shuffles are reproducible from one integer seed on every platform.
 * Not cryptographic.
 */
import { optionError } from '../errors.ts';

const TWO_POW_32 = 4294967296;
/** 2^-53: turns a 53-bit integer into a double in [0, 1). */
const TWO_POW_M53 = 1 / 9007199254740992;

/** Dense Fisher-Yates up to this many items; above it, a sparse (Map) simulation of the same shuffle. */
const DENSE_SAMPLE_LIMIT = 1 << 20;

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare = Number.NaN;

  /**
   * @param seed any finite number; its integer part (low 32 bits and the bits above them) picks the
   *   stream. Equal seeds give equal streams.
   */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw optionError('Rng', 'seed', 'a finite number', seed);
    const whole = Math.trunc(seed);
    const lo = whole >>> 0;
    const hi = Math.floor(whole / TWO_POW_32) >>> 0;
    // splitmix32 over (lo, hi) fills the 128-bit state; it is never all-zero in practice, but guard it.
    let z = (lo ^ Math.imul(hi, 0x9e3779b9)) >>> 0;
    const next = (): number => {
      z = (z + 0x9e3779b9) | 0;
      let t = z ^ (z >>> 16);
      t = Math.imul(t, 0x21f0aaad);
      t ^= t >>> 15;
      t = Math.imul(t, 0x735a2d97);
      t ^= t >>> 15;
      return t >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next raw 32-bit output of xoshiro128**. */
  private u32(): number {
    const s1 = this.s1;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r >>> 0;
  }

  /** A uniform double in [0, 1) with 53 random bits (two 32-bit draws). */
  next(): number {
    const a = this.u32() >>> 5; // 27 bits
    const b = this.u32() >>> 6; // 26 bits
    return (a * 67108864 + b) * TWO_POW_M53;
  }

  /** A uniform integer in [0, n); n must be a positive integer (bias below 2^-20 for n < 2^32). */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1) throw optionError('Rng.int', 'n', 'an integer >= 1', n);
    return Math.floor(this.next() * n);
  }

  /** A standard normal deviate (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare;
      this.spare = Number.NaN;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * v;
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** Shuffles `a` in place (Fisher-Yates) and returns it. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const tmp = a[i]!;
      a[i] = a[j]!;
      a[j] = tmp;
    }
    return a;
  }

  /**
   * k distinct indices drawn uniformly from [0, n), in random order (the first k steps of a
   * Fisher-Yates shuffle of 0..n-1). Memory is O(k) for large n; the result for a given seed does not
   * depend on which internal path is taken.
   */
  sample(n: number, k: number): Int32Array {
    if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) {
      throw optionError('Rng.sample', 'n', 'an integer in [0, 2147483647]', n);
    }
    if (!Number.isInteger(k) || k < 0 || k > n)
      throw optionError('Rng.sample', 'k', `an integer in [0, ${n}]`, k);
    const out = new Int32Array(k);
    if (n <= DENSE_SAMPLE_LIMIT) {
      const pool = new Int32Array(n);
      for (let i = 0; i < n; i++) pool[i] = i;
      for (let i = 0; i < k; i++) {
        const j = i + Math.floor(this.next() * (n - i));
        const vj = pool[j]!;
        pool[j] = pool[i]!;
        out[i] = vj;
      }
      return out;
    }
    const moved = new Map<number, number>();
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(this.next() * (n - i));
      const vi = moved.get(i) ?? i;
      const vj = moved.get(j) ?? j;
      out[i] = vj;
      moved.set(j, vi);
    }
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
