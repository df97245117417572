/** Shared plumbing for the traffic readers: reports, bad-row policy, (gzip'd) line streams. */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ParseError } from '../../errors.ts';
import { type BadRowPolicy, emptyReport, type IngestReport } from '../table.ts';
import type { Counters } from './pcap.ts';

export type TrafficFormat = 'pcap' | 'zeek' | 'cic' | 'netflow' | 'goflow2';

export interface TrafficReport extends IngestReport {
  /** Everything counted on the way: packets, skipped packets by reason, flows, unset fields... */
  readonly counters: Counters;
  format: TrafficFormat | null;
  readonly policy: BadRowPolicy;
}

export function emptyTrafficReport(file: string, policy: BadRowPolicy = 'quarantine'): TrafficReport {
  return { ...emptyReport(file), counters: {}, format: null, policy };
}

export const QUARANTINE_CAP = 1000;

/** Apply the bad-row policy: throw (fail) or count (skip) or count and keep (quarantine). */
export function badRow(report: TrafficReport, line: number, reason: string, raw: string): void {
  if (report.policy === 'fail') throw new ParseError(`${report.file}:${line}: ${reason}`);
  report.rowsSkipped++;
  report.reasons[reason] = (report.reasons[reason] ?? 0) + 1;
  if (report.policy === 'quarantine' && report.quarantined.length < QUARANTINE_CAP) {
    report.quarantined.push({ line, reason, raw: raw.length > 4096 ? `${raw.slice(0, 4096)}…` : raw });
  }
}

/** Add a warning once per distinct text (warnings are capped at 100). */
export function warnOnce(report: TrafficReport, text: string): void {
  if (report.warnings.length < 100 && !report.warnings.includes(text)) report.warnings.push(text);
}

/** A Readable over content in memory (the `bytes` option of the readers: fuzzing, tests). */
export function memoryStream(bytes: Uint8Array): Readable {
  return Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)]);
}

/** First bytes of a file (or of `bytes`, the content in memory), gunzipped when it is gzip'd. */
export async function readHead(
  path: string,
  n = 8192,
  bytes?: Uint8Array,
): Promise<{ head: Buffer; gzip: boolean; raw: Buffer }> {
  let raw: Buffer;
  if (bytes) raw = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(n, bytes.length));
  else {
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(n);
      const { bytesRead } = await fh.read(buf, 0, n, 0);
      raw = buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }
  const gzip = raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b;
  if (!gzip) return { head: raw, gzip, raw };
  const chunks: Buffer[] = [];
  let total = 0;
  const stream = (bytes ? memoryStream(bytes) : createReadStream(path)).pipe(createGunzip());
  try {
    for await (const c of stream as AsyncIterable<Buffer>) {
      chunks.push(c);
      total += c.length;
      if (total >= n) break;
    }
  } catch {
    // a corrupt or truncated gzip stream: sniff what we got
  } finally {
    stream.destroy();
  }
  return { head: Buffer.concat(chunks).subarray(0, n), gzip, raw };
}

/**
 * Lines of a text file (gzip sniffed by magic), CRLF tolerated, last line without newline kept.
 * `bytes`: the content in memory instead of read from `path` (which then only names it).
 */
export async function* readLines(path: string, bytes?: Uint8Array): AsyncGenerator<string, void, undefined> {
  const { gzip } = await readHead(path, 2, bytes);
  let input: Readable = bytes ? memoryStream(bytes) : createReadStream(path);
  if (gzip) input = input.pipe(createGunzip());
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of rl) yield line;
  } catch (e) {
    throw new ParseError(`${path}: cannot read: ${(e as Error).message}`);
  } finally {
    rl.close();
    input.destroy();
  }
}

/** A number from text; NaN for empty, "-", "NaN"; null when it is not a number at all. */
export function parseNumber(s: string): number | null {
  const t = s.trim();
  if (t === '' || t === '-' || /^nan$/i.test(t)) return Number.NaN;
  if (/^[+]?(inf|infinity)$/i.test(t)) return Number.POSITIVE_INFINITY;
  if (/^-(inf|infinity)$/i.test(t)) return Number.NEGATIVE_INFINITY;
  const v = Number(t);
  if (Number.isNaN(v) || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return null;
  return v;
}
