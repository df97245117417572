/**
 * A rotation-aware line tailer for a growing log file (Zeek conn.log, JSON lines).
 *
 * - Lines are returned only once their newline has arrived (a half-written last line waits);
 *   each line carries its byte offset, the offset after its newline and its line number, so the
 *   watcher can commit exactly "everything before this byte has been handled".
 * - A line longer than `maxLine` bytes is quarantined (counted, skipped up to its newline).
 * - Rotation by rename: when the path names another file, the old file is read to EOF through the
 *   descriptor already open, then the new file is read from 0.
 * - copytruncate: the same inode but smaller than the read position (or whose first bytes
 *   changed) was truncated: the copy (a file in the same directory starting with the same bytes)
 *   is read from the last position to its end, then the live file from 0.
 * - Resuming from a checkpoint whose file is no longer at the path (rotated while stopped): the
 *   rotated file is found in the same directory by inode (rename) or by fingerprint (copy) and
 *   finished first.
 * - More than one rotation behind (a backlog, a sink that was down): after a rotated file, the
 *   files rotated after it (same name stem, newer) are read before the live path.
 *
 * Synchronous I/O on purpose: the watcher polls, and each step is small and bounded.
 */

import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { FileIdentity } from './checkpoint.ts';

export const FP_BYTES = 1024;
export const MAX_LINE = 1 << 20;

export interface TailLine {
  text: string;
  /** Byte offset of the line's first byte, and of the byte after its newline. */
  offset: number;
  end: number;
  /** 1-based line number in its file. */
  line: number;
  /** The file it came from (path as opened, which may be a rotated name). */
  file: string;
}

export interface TailEvents {
  onQuarantine?: (reason: string, file: string, offset: number) => void;
  onInfo?: (what: string, detail: string) => void;
}

function fingerprintFd(fd: number, length: number): string {
  const buf = Buffer.alloc(length);
  const n = length ? readSync(fd, buf, 0, length, 0) : 0;
  return createHash('sha256').update(buf.subarray(0, n)).digest('hex');
}

export function identityOf(path: string, fd: number): FileIdentity {
  const st = fstatSync(fd);
  const fpLength = Math.min(FP_BYTES, st.size);
  return { path, dev: st.dev, ino: st.ino, fingerprint: fingerprintFd(fd, fpLength), fpLength };
}

/** Does the file open at `fd` start with the bytes fingerprinted in `id`? */
function sameStart(fd: number, id: FileIdentity): boolean {
  const st = fstatSync(fd);
  if (st.size < id.fpLength) return false;
  return fingerprintFd(fd, id.fpLength) === id.fingerprint;
}

interface Segment {
  fd: number;
  id: FileIdentity;
  /** Path this segment was opened from. */
  openedAs: string;
  /** Offset of buf[0] (= the position after the last returned line). */
  bufStart: number;
  buf: Buffer;
  line: number;
  /** Skipping an over-long line until its newline. */
  skipping: boolean;
  /** false: a rotated file being finished; the live path is read after it. */
  live: boolean;
}

export class FileTailer {
  private seg: Segment | null = null;
  private readonly chunk = Buffer.alloc(64 * 1024);
  /** dev:ino of rotated files read to their end in this session (bounded). */
  private readonly finished = new Set<string>();

  constructor(
    readonly path: string,
    private readonly events: TailEvents = {},
    private readonly maxLine = MAX_LINE,
  ) {}

  /** Identity, committed offset and line of the current position (for the checkpoint). */
  position(): { file: FileIdentity; offset: number; line: number } | null {
    if (!this.seg) return null;
    return { file: this.seg.id, offset: this.seg.bufStart, line: this.seg.line };
  }

  /** Path of the file being read (a rotated name while finishing a rotated file). */
  currentFile(): string | null {
    return this.seg?.openedAs ?? null;
  }

  /**
   * Start: from a checkpointed position if given (finding the rotated file if the path now names
   * another one), else from the beginning of the file at the path (or wait for it to appear).
   */
  start(from: { file: FileIdentity; offset: number; line: number } | null): void {
    if (!from) {
      this.openLive(0, 0);
      return;
    }
    let fd: number | null = null;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      fd = null;
    }
    if (fd !== null) {
      const st = fstatSync(fd);
      if (st.dev === from.file.dev && st.ino === from.file.ino && sameStart(fd, from.file)) {
        if (st.size >= from.offset) {
          this.seg = this.segment(fd, this.path, from.file, from.offset, from.line, true);
          return;
        }
        // truncated while stopped (copytruncate): finish the copy if present
        closeSync(fd);
        if (this.openRotated(from, 'copy')) return;
        this.events.onInfo?.('truncated_without_copy', this.path);
        this.openLive(0, 0);
        return;
      }
      closeSync(fd);
    }
    // the path names another file (or none): rotated while stopped
    if (this.openRotated(from, 'any')) return;
    this.events.onInfo?.('rotated_file_not_found', `${from.file.path} (inode ${from.file.ino})`);
    this.openLive(0, 0);
  }

  /**
   * A reader more than one rotation behind: a file rotated after the one just finished (same name
   * stem, `conn.` for conn.log; last written at or after it; not the live file, not read yet) is
   * read from 0 before the live path, oldest first. Compressed files are left alone.
   */
  private openBacklog(afterMtimeMs: number): boolean {
    const dir = dirname(this.path);
    const live = basename(this.path);
    const stem = `${live.split('.')[0]}.`;
    let liveKey = '';
    try {
      const st = statSync(this.path);
      liveKey = `${st.dev}:${st.ino}`;
    } catch {}
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return false;
    }
    const next: { path: string; mtimeMs: number }[] = [];
    for (const n of names) {
      if (n === live || n.startsWith('.') || !n.startsWith(stem) || /\.(gz|bz2|xz|zst)$/.test(n)) continue;
      const p = join(dir, n);
      let st: ReturnType<typeof statSync>;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      const key = `${st.dev}:${st.ino}`;
      if (!st.isFile() || key === liveKey || this.finished.has(key) || st.mtimeMs < afterMtimeMs) continue;
      next.push({ path: p, mtimeMs: st.mtimeMs });
    }
    next.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const c of next) {
      let fd: number;
      try {
        fd = openSync(c.path, 'r');
      } catch {
        continue;
      }
      this.events.onInfo?.('rotation_backlog', c.path);
      this.seg = this.segment(fd, c.path, identityOf(c.path, fd), 0, 0, false);
      return true;
    }
    return false;
  }

  /** Find the rotated file of `from` in the same directory and make it the current segment. */
  private openRotated(
    from: { file: FileIdentity; offset: number; line: number },
    how: 'copy' | 'any',
  ): boolean {
    const dir = dirname(this.path);
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return false;
    }
    const liveName = basename(this.path);
    const candidates: { path: string; byInode: boolean }[] = [];
    for (const n of names) {
      if (n === liveName || n.startsWith('.')) continue;
      const p = join(dir, n);
      let st: ReturnType<typeof statSync>;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (!st.isFile() || st.size < from.offset) continue;
      const byInode = st.dev === from.file.dev && st.ino === from.file.ino;
      if (how === 'copy' && byInode) continue;
      candidates.push({ path: p, byInode });
    }
    candidates.sort((a, b) => Number(b.byInode) - Number(a.byInode));
    for (const c of candidates) {
      let fd: number;
      try {
        fd = openSync(c.path, 'r');
      } catch {
        continue;
      }
      if (sameStart(fd, from.file)) {
        this.events.onInfo?.(c.byInode ? 'resume_rotated_by_rename' : 'resume_rotated_copy', c.path);
        this.seg = this.segment(fd, c.path, { ...from.file }, from.offset, from.line, false);
        return true;
      }
      closeSync(fd);
    }
    return false;
  }

  private segment(
    fd: number,
    openedAs: string,
    id: FileIdentity,
    offset: number,
    line: number,
    live: boolean,
  ): Segment {
    return { fd, id, openedAs, bufStart: offset, buf: Buffer.alloc(0), line, skipping: false, live };
  }

  private openLive(offset: number, line: number): boolean {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      this.seg = null;
      return false;
    }
    this.seg = this.segment(fd, this.path, identityOf(this.path, fd), offset, line, true);
    return true;
  }

  /** Read what is available into the buffer; returns bytes read. */
  private fill(seg: Segment, budget: number): number {
    let total = 0;
    while (total < budget) {
      const pos = seg.bufStart + seg.buf.length;
      const n = readSync(seg.fd, this.chunk, 0, this.chunk.length, pos);
      if (n === 0) break;
      seg.buf = Buffer.concat([seg.buf, this.chunk.subarray(0, n)]);
      total += n;
      if (seg.buf.length > this.maxLine + this.chunk.length) break;
    }
    return total;
  }

  /** Complete lines from the buffer (at most `max`). */
  private take(seg: Segment, max: number, out: TailLine[]): void {
    let start = 0;
    while (out.length < max) {
      const nl = seg.buf.indexOf(0x0a, start);
      if (nl < 0) break;
      const offset = seg.bufStart + start;
      const end = seg.bufStart + nl + 1;
      seg.line++;
      if (seg.skipping || nl - start > this.maxLine) {
        if (!seg.skipping) this.events.onQuarantine?.('line_too_long', seg.openedAs, offset);
        seg.skipping = false;
      } else {
        let text = seg.buf.toString('utf8', start, nl);
        if (text.endsWith('\r')) text = text.slice(0, -1);
        out.push({ text, offset, end, line: seg.line, file: seg.openedAs });
      }
      start = nl + 1;
    }
    if (start > 0) {
      seg.bufStart += start;
      seg.buf = seg.buf.subarray(start);
    }
    // an over-long line without its newline yet: drop what we have, keep skipping
    if (seg.buf.length > this.maxLine && seg.buf.indexOf(0x0a) < 0) {
      if (!seg.skipping) this.events.onQuarantine?.('line_too_long', seg.openedAs, seg.bufStart);
      seg.skipping = true;
      // the bytes are consumed, but the line number advances only at its newline
      seg.bufStart += seg.buf.length;
      seg.buf = Buffer.alloc(0);
    }
  }

  /**
   * Up to `max` complete lines of ONE file. `switched` says the tailer moved to another file (the
   * caller should commit the new position). Empty lines array + !switched = nothing new.
   */
  poll(max: number): { lines: TailLine[]; switched: boolean } {
    const out: TailLine[] = [];
    if (!this.seg) {
      return { lines: out, switched: this.openLive(0, 0) };
    }
    const seg = this.seg;
    this.take(seg, max, out);
    if (out.length >= max) return { lines: out, switched: false };
    this.fill(seg, 4 * this.chunk.length);
    this.take(seg, max, out);
    if (out.length > 0) return { lines: out, switched: false };
    // at EOF (no complete line available)
    if (!seg.live) {
      // a rotated file: it will not grow any more; an unterminated tail is its last record
      if (seg.buf.length > 0 && !seg.skipping) {
        seg.line++;
        const text = seg.buf.toString('utf8').replace(/\r$/, '');
        out.push({
          text,
          offset: seg.bufStart,
          end: seg.bufStart + seg.buf.length,
          line: seg.line,
          file: seg.openedAs,
        });
        seg.bufStart += seg.buf.length;
        seg.buf = Buffer.alloc(0);
        return { lines: out, switched: false };
      }
      const mtimeMs = fstatSync(seg.fd).mtimeMs;
      closeSync(seg.fd);
      this.events.onInfo?.('finished_rotated', seg.openedAs);
      this.finished.add(`${seg.id.dev}:${seg.id.ino}`);
      if (this.finished.size > 10_000) this.finished.delete(this.finished.values().next().value as string);
      this.seg = null;
      if (!this.openBacklog(mtimeMs)) this.openLive(0, 0);
      return { lines: out, switched: true };
    }
    let st: ReturnType<typeof statSync> | null = null;
    try {
      st = statSync(this.path);
    } catch {
      st = null; // renamed away, new file not created yet: keep the old descriptor
    }
    if (st && (st.ino !== seg.id.ino || st.dev !== seg.id.dev)) {
      // rotated by rename: finish the old descriptor (it may have grown since), then switch
      seg.live = false;
      this.events.onInfo?.('rotation_rename', this.path);
      return this.poll(max);
    }
    const fst = fstatSync(seg.fd);
    if (fst.size < seg.bufStart + seg.buf.length || !sameStart(seg.fd, seg.id)) {
      // copytruncate: read the copy's unread tail, then the live file from 0
      this.events.onInfo?.('rotation_truncate', this.path);
      const from = { file: seg.id, offset: seg.bufStart, line: seg.line };
      closeSync(seg.fd);
      this.seg = null;
      if (!this.openRotated(from, 'copy')) {
        this.events.onInfo?.('truncated_without_copy', this.path);
        this.openLive(0, 0);
      }
      return { lines: out, switched: true };
    }
    if (seg.id.fpLength < FP_BYTES && fst.size > seg.id.fpLength) {
      seg.id = { ...seg.id, fpLength: Math.min(FP_BYTES, fst.size), fingerprint: '' };
      seg.id.fingerprint = fingerprintFd(seg.fd, seg.id.fpLength);
    }
    return { lines: out, switched: false };
  }

  close(): void {
    if (this.seg) closeSync(this.seg.fd);
    this.seg = null;
  }
}
