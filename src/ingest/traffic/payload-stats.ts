/**
 * Byte statistics of a flow's payload, per direction, over its first `PAYLOAD_SAMPLE_BYTES` payload
 * bytes (accumulated over packets; TCP, UDP and ICMP/ICMPv6 after their 8-byte header):
 *
 * - Shannon entropy in bits per byte (0..8): compressed or encrypted data and random tunnel
 *   payloads sit near 8 over a full sample; text, fixed ping patterns and repeated messages lower;
 * - printable share: bytes 0x20..0x7e plus tab, CR, LF (plaintext protocols near 1).
 *
 * Both are NaN for a direction that carried no captured payload. The entropy of a short sample is
 * bounded by log2(bytes) (a 32-byte sample is at most 5 bits), which the model sees alongside the
 * payload sizes. Memory: one 512-entry Uint16Array per flow that carries payload, made at its
 * first payload packet.
 */

/** Payload bytes per direction that enter the statistics. */
export const PAYLOAD_SAMPLE_BYTES = 1024;

export class PayloadSample {
  /** Byte counts: originator in [0, 256), responder in [256, 512). */
  readonly hist = new Uint16Array(512);
  fwdN = 0;
  bwdN = 0;
  fwdPrintable = 0;
  bwdPrintable = 0;

  /** Empty again (the flow meter reuses samples of ended flows). */
  reset(): void {
    this.hist.fill(0);
    this.fwdN = 0;
    this.bwdN = 0;
    this.fwdPrintable = 0;
    this.bwdPrintable = 0;
  }

  /** Both directions have a full sample. */
  get full(): boolean {
    return this.fwdN >= PAYLOAD_SAMPLE_BYTES && this.bwdN >= PAYLOAD_SAMPLE_BYTES;
  }
}

const PRINTABLE = new Uint8Array(256);
for (let c = 0x20; c <= 0x7e; c++) PRINTABLE[c] = 1;
PRINTABLE[0x09] = PRINTABLE[0x0a] = PRINTABLE[0x0d] = 1;

/** Add the captured payload `d[off, off+len)` of one packet to its direction's sample. */
export function observeBytes(s: PayloadSample, fwd: boolean, d: Uint8Array, off: number, len: number): void {
  const have = fwd ? s.fwdN : s.bwdN;
  const k = Math.min(len, PAYLOAD_SAMPLE_BYTES - have, d.length - off);
  if (k <= 0) return;
  const base = fwd ? 0 : 256;
  const h = s.hist;
  let printable = 0;
  for (let i = off; i < off + k; i++) {
    const c = d[i]!;
    h[base + c]!++;
    printable += PRINTABLE[c]!;
  }
  if (fwd) {
    s.fwdN += k;
    s.fwdPrintable += printable;
  } else {
    s.bwdN += k;
    s.bwdPrintable += printable;
  }
}

/**
 * p·log2(p) for p = k/n, by sample size n (≤ PAYLOAD_SAMPLE_BYTES) then count k, computed on first
 * use (NaN: not yet): the same numbers as computed afresh, without a log per byte value and flow.
 * At most ~4 MiB when every size occurs.
 */
const terms = new Map<number, Float64Array>();

function entropyOf(h: Uint16Array, base: number, n: number): number {
  let t = terms.get(n);
  if (t === undefined) {
    t = new Float64Array(n + 1).fill(Number.NaN);
    terms.set(n, t);
  }
  let e = 0;
  for (let c = base; c < base + 256; c++) {
    const k = h[c]!;
    if (k) {
      let x = t[k]!;
      if (Number.isNaN(x)) {
        const p = k / n;
        x = p * Math.log2(p);
        t[k] = x;
      }
      e -= x;
    }
  }
  return e;
}

/** Fill `fwd_/bwd_payload_entropy` and `fwd_/bwd_printable_ratio` of `v` (NaN without payload). */
export function payloadStatsFeatures(s: PayloadSample | null, v: Record<string, number>): void {
  const fwdN = s?.fwdN ?? 0;
  const bwdN = s?.bwdN ?? 0;
  v.fwd_payload_entropy = fwdN ? entropyOf(s!.hist, 0, fwdN) : Number.NaN;
  v.bwd_payload_entropy = bwdN ? entropyOf(s!.hist, 256, bwdN) : Number.NaN;
  v.fwd_printable_ratio = fwdN ? s!.fwdPrintable / fwdN : Number.NaN;
  v.bwd_printable_ratio = bwdN ? s!.bwdPrintable / bwdN : Number.NaN;
}
