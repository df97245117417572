/**
 * Block coverage of the project's own code (src/) from V8's precise coverage, for the
 * coverage-guided fuzz mode (scripts/fuzz-guided.ts). After each input `take()` reads the block
 * counts since the last call (V8 resets them) and reports whether the input reached code, or a
 * hit-count bucket of a block, that no earlier input did: libFuzzer's "new coverage" signal, here
 * without instrumenting the code (V8 counts the blocks itself once precise coverage is on).
 */
import { Session } from 'node:inspector/promises';

/** AFL's hit-count buckets: 1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128+. */
function bucket(count: number): number {
  if (count <= 3) return count;
  if (count < 8) return 4;
  if (count < 16) return 5;
  if (count < 32) return 6;
  if (count < 128) return 7;
  return 8;
}

interface Range {
  startOffset: number;
  endOffset: number;
  count: number;
}

interface ScriptCoverage {
  url: string;
  functions: { ranges: Range[] }[];
}

/** What one input added: code (bytes of src/ as loaded) and (block, hit-count bucket) features. */
export interface CoverageGain {
  newBytes: number;
  newFeatures: number;
}

export class BlockCoverage {
  private readonly session = new Session();
  /** Per script URL: which bytes of its code ran at least once. */
  private readonly covered = new Map<string, Uint8Array>();
  /** Per script URL: the (range start, range end, bucket) features seen. */
  private readonly features = new Map<string, Set<number>>();
  private bytes = 0;
  private featureCount = 0;

  /** `scope`: the URL prefix of the code that counts (the project's src/ directory). */
  constructor(private readonly scope: string) {}

  async start(): Promise<void> {
    this.session.connect();
    await this.session.post('Profiler.enable');
    await this.session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }

  async stop(): Promise<void> {
    await this.session.post('Profiler.stopPreciseCoverage');
    await this.session.post('Profiler.disable');
    this.session.disconnect();
  }

  /** Bytes of src/ code run at least once so far, and the (block, bucket) features seen. */
  totals(): { bytes: number; features: number; scripts: number } {
    return { bytes: this.bytes, features: this.featureCount, scripts: this.covered.size };
  }

  /** Reads and resets the counts; what the code run since the last call added. */
  async take(): Promise<CoverageGain> {
    const { result } = (await this.session.post('Profiler.takePreciseCoverage')) as unknown as {
      result: ScriptCoverage[];
    };
    let newBytes = 0;
    let newFeatures = 0;
    for (const script of result) {
      if (!script.url.startsWith(this.scope)) continue;
      let end = 0;
      for (const f of script.functions) end = Math.max(end, f.ranges[0]?.endOffset ?? 0);
      let covered = this.covered.get(script.url);
      if (!covered || covered.length < end) {
        const grown = new Uint8Array(end);
        if (covered) grown.set(covered);
        covered = grown;
        this.covered.set(script.url, covered);
      }
      let seen = this.features.get(script.url);
      if (!seen) {
        seen = new Set();
        this.features.set(script.url, seen);
      }
      for (const f of script.functions) {
        const ranges = f.ranges;
        if (ranges.length === 0 || ranges[0]!.count === 0) continue;
        // Ranges come outermost first and nest; an inner range's count overrides its parent's
        // over its span. Paint this input's run bytes in a scratch mask, then OR them in.
        const base = ranges[0]!.startOffset;
        const mask = new Uint8Array(ranges[0]!.endOffset - base);
        for (const r of ranges) {
          mask.fill(r.count > 0 ? 1 : 0, r.startOffset - base, r.endOffset - base);
          if (r.count > 0) {
            // start and length of a range identify the block (V8 merges blocks that run as often as their parent)
            const key =
              (r.startOffset * 4096 + Math.min(r.endOffset - r.startOffset, 4095)) * 16 + bucket(r.count);
            if (!seen.has(key)) {
              seen.add(key);
              newFeatures++;
            }
          }
        }
        for (let i = 0; i < mask.length; i++) {
          if (mask[i] === 1 && covered[base + i] === 0) {
            covered[base + i] = 1;
            newBytes++;
          }
        }
      }
    }
    this.bytes += newBytes;
    this.featureCount += newFeatures;
    return { newBytes, newFeatures };
  }
}
