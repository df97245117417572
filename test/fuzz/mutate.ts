/**
 * Input generators for the fuzz targets (fast-check arbitraries): mutations of real samples
 * (bit flips, interesting 16/32-bit values, inserted tokens, deleted / duplicated / spliced ranges,
 * truncation, rare growth past the 1 MiB reader chunk) and inputs generated from scratch.
 */
import fc from 'fast-check';

/** Values that sit on length and sign boundaries (libFuzzer's and AFL's "interesting" values). */
const INTERESTING32 = [
  0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x40000, 0x40001, 0xfffff, 0x100000,
  0x1000000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
];

/** Tokens for text formats: separators, missing markers, numbers at the edges, quotes, huge fields. */
export const TEXT_TOKENS = [
  ',',
  '\t',
  '\n',
  '\r\n',
  '"',
  '""',
  '-',
  '',
  'NaN',
  'nan',
  'Infinity',
  '-Infinity',
  'inf',
  '1e309',
  '-1e309',
  '1e-400',
  '-0',
  '0x1f',
  '1,234',
  '9007199254740993',
  '-1',
  '65536',
  '4294967296',
  '\u0000',
  '\uFEFF',
  '\u00e9',
  '\uD800',
  '#fields',
  '#separator \\x09',
  '#types',
  '#close',
  '#path\tweird',
  '{',
  '}',
  '[',
  ']',
  '{"id.orig_h":"10.0.0.1"}',
  '"ts":',
  'null',
  'true',
  'tcp',
  'udp',
  'icmp',
  'normal',
  'normal.',
  'SF',
  'S0',
  'http',
  'x'.repeat(5000),
  ','.repeat(300),
];

export type Op =
  | { k: 'flip'; at: number; bit: number }
  | { k: 'set'; at: number; v: number }
  | { k: 'u32'; at: number; v: number; le: boolean }
  | { k: 'u16'; at: number; v: number; le: boolean }
  | { k: 'insert'; at: number; bytes: Uint8Array }
  | { k: 'token'; at: number; t: string }
  | { k: 'replaceField'; at: number; t: string }
  | { k: 'delete'; at: number; n: number }
  | { k: 'dup'; at: number; n: number; times: number }
  | { k: 'truncate'; at: number }
  | { k: 'splice'; at: number; other: number; from: number; n: number }
  | { k: 'grow'; headerBytes: number };

export function opArbitrary(text: boolean, tokens: readonly string[]): fc.Arbitrary<Op> {
  const at = fc.nat();
  const binary: fc.WeightedArbitrary<Op>[] = [
    { weight: 4, arbitrary: fc.record({ k: fc.constant('flip' as const), at, bit: fc.nat(7) }) },
    { weight: 3, arbitrary: fc.record({ k: fc.constant('set' as const), at, v: fc.nat(255) }) },
    {
      weight: 3,
      arbitrary: fc.record({
        k: fc.constant('u32' as const),
        at,
        v: fc.constantFrom(...INTERESTING32),
        le: fc.boolean(),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        k: fc.constant('u16' as const),
        at,
        v: fc.constantFrom(0, 1, 0xff, 0x7fff, 0x8000, 0xffff, 0x0800, 0x86dd, 0x8100, 0x8847, 0x8864),
        le: fc.boolean(),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        k: fc.constant('insert' as const),
        at,
        bytes: fc.uint8Array({ maxLength: 16 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ k: fc.constant('delete' as const), at, n: fc.integer({ min: 1, max: 64 }) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        k: fc.constant('dup' as const),
        at,
        n: fc.integer({ min: 1, max: 256 }),
        times: fc.integer({ min: 1, max: 8 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('truncate' as const), at }) },
    {
      weight: 1,
      arbitrary: fc.record({
        k: fc.constant('splice' as const),
        at,
        other: fc.nat(),
        from: fc.nat(),
        n: fc.integer({ min: 1, max: 512 }),
      }),
    },
  ];
  if (text) {
    binary.push(
      {
        weight: 6,
        arbitrary: fc.record({ k: fc.constant('token' as const), at, t: fc.constantFrom(...tokens) }),
      },
      {
        weight: 6,
        arbitrary: fc.record({ k: fc.constant('replaceField' as const), at, t: fc.constantFrom(...tokens) }),
      },
    );
  }
  return fc.oneof(...binary);
}

const enc = new TextEncoder();

function writeInt(b: Uint8Array, at: number, v: number, bytes: number, le: boolean): void {
  for (let i = 0; i < bytes && at + i < b.length; i++) {
    const shift = le ? i * 8 : (bytes - 1 - i) * 8;
    b[at + i] = Math.floor(v / 2 ** shift) & 0xff;
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Apply one mutation; positions are taken modulo the current length. */
export function applyOp(input: Uint8Array, op: Op, seeds: readonly Uint8Array[]): Uint8Array {
  const len = input.length;
  const pos = (at: number, extra = 0) => (len + extra === 0 ? 0 : at % (len + extra));
  switch (op.k) {
    case 'flip': {
      if (len === 0) return input;
      const b = new Uint8Array(input); // a copy (Buffer#slice would be a view of the seed)
      b[pos(op.at)]! ^= 1 << op.bit;
      return b;
    }
    case 'set': {
      if (len === 0) return input;
      const b = new Uint8Array(input); // a copy (Buffer#slice would be a view of the seed)
      b[pos(op.at)] = op.v;
      return b;
    }
    case 'u32':
    case 'u16': {
      if (len === 0) return input;
      const b = new Uint8Array(input); // a copy (Buffer#slice would be a view of the seed)
      writeInt(b, pos(op.at), op.v, op.k === 'u32' ? 4 : 2, op.le);
      return b;
    }
    case 'insert': {
      const p = pos(op.at, 1);
      return concat(input.subarray(0, p), op.bytes, input.subarray(p));
    }
    case 'token': {
      const p = pos(op.at, 1);
      return concat(input.subarray(0, p), enc.encode(op.t), input.subarray(p));
    }
    case 'replaceField': {
      // Replace the text between two separators (, \t \n) around a position by a token.
      if (len === 0) return enc.encode(op.t);
      const p = pos(op.at);
      const isSep = (c: number) => c === 44 || c === 9 || c === 10;
      let s = p;
      while (s > 0 && !isSep(input[s - 1]!)) s--;
      let e = p;
      while (e < len && !isSep(input[e]!)) e++;
      return concat(input.subarray(0, s), enc.encode(op.t), input.subarray(e));
    }
    case 'delete': {
      if (len === 0) return input;
      const p = pos(op.at);
      return concat(input.subarray(0, p), input.subarray(Math.min(len, p + op.n)));
    }
    case 'dup': {
      if (len === 0) return input;
      const p = pos(op.at);
      const piece = input.subarray(p, Math.min(len, p + op.n));
      return concat(input.subarray(0, p), ...Array(op.times).fill(piece), input.subarray(p));
    }
    case 'truncate':
      return input.subarray(0, pos(op.at, 1));
    case 'splice': {
      const other = seeds[op.other % seeds.length]!;
      if (other.length === 0) return input;
      const from = op.from % other.length;
      const p = pos(op.at, 1);
      return concat(input.subarray(0, p), other.subarray(from, from + op.n), input.subarray(p));
    }
    case 'grow': {
      const head = input.subarray(0, Math.min(op.headerBytes, len));
      const body = input.subarray(head.length);
      if (body.length === 0) return input;
      const total = head.length + Math.ceil((1.1 * 1024 * 1024) / body.length) * body.length;
      const out = new Uint8Array(total);
      out.set(head);
      for (let o = head.length; o < total; o += body.length) out.set(body, o);
      return out;
    }
  }
}

/** Inputs are cut to 4 MiB: past the readers' 1 MiB chunk, yet a batch of them stays small. */
export const MAX_INPUT = 4 * 1024 * 1024;

export interface InputOptions {
  /** Text formats get token insertion and field replacement. */
  text: boolean;
  /** Binary containers read in chunks: some inputs grow past 1 MiB (chunk-boundary bugs). */
  grow?: boolean;
  tokens?: readonly string[];
  /** Inputs made from scratch for this format (beside random bytes). */
  generated?: fc.Arbitrary<Uint8Array>;
}

/** Inputs for one target: mostly mutated seeds, some verbatim prefixes, some generated. */
export function inputArbitrary(given: readonly Uint8Array[], opts: InputOptions): fc.Arbitrary<Uint8Array> {
  if (given.length === 0) throw new Error('a fuzz target needs at least one seed');
  // Own copies as plain Uint8Arrays: the seeds are often Buffers (readFile), and no mutation may
  // ever write into them (they would drift a little with every input).
  const seeds: Uint8Array[] = given.map((b) => new Uint8Array(b));
  const ops = fc.array(opArbitrary(opts.text, opts.tokens ?? TEXT_TOKENS), { minLength: 1, maxLength: 6 });
  const mutated = fc
    .record({ seed: fc.nat(seeds.length - 1), ops })
    .map(({ seed, ops: list }) => list.reduce((b, op) => applyOp(b, op, seeds), seeds[seed]!));
  const prefix = fc
    .record({ seed: fc.nat(seeds.length - 1), cut: fc.nat() })
    .map(({ seed, cut }) => seeds[seed]!.subarray(0, cut % (seeds[seed]!.length + 1)));
  const arbs: fc.WeightedArbitrary<Uint8Array>[] = [
    { weight: 32, arbitrary: mutated },
    { weight: 2, arbitrary: prefix },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 512 }) },
  ];
  if (opts.generated) arbs.push({ weight: 6, arbitrary: opts.generated });
  if (opts.grow) {
    // Now and then: a mutated seed whose records repeat past the readers' 1 MiB chunk.
    const grown = fc
      .record({ base: mutated, headerBytes: fc.constantFrom(24, 28, 32, 0) })
      .map(({ base, headerBytes }) => applyOp(base, { k: 'grow', headerBytes }, seeds));
    arbs.push({ weight: 1, arbitrary: grown });
  }
  return fc.oneof(...arbs).map((b) => (b.length > MAX_INPUT ? b.subarray(0, MAX_INPUT) : b));
}

export const utf8 = (s: string): Uint8Array => enc.encode(s);
