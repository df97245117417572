/**
 * The alert file writer: appends JSON lines durably (write + fsync, one batch per call) and drops
 * records whose `event.id` (ECS) or `flow_id`-independent `netanomaly.event_id` (EVE) is already in
 * the file, so replays after a crash do not show twice. Ids already written are learnt from the
 * tail of the file when it is opened (the last `tailBytes` bytes, default 16 MB) and kept in a bounded set (default 200,000 ids, oldest forgotten first).
 *
 * A failed write (directory gone, read-only, disk full) throws `SinkError`; the bytes of a
 * partially written batch are cut off again when possible, and a line left without its newline is
 * closed before the next batch, so the file stays one JSON object per line.
 */
import {
  closeSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  statSync,
  writeSync,
} from 'node:fs';
import { NetanomalyError } from '../errors.ts';

export class SinkError extends NetanomalyError {
  override name = 'SinkError';
}

/** The de-duplication key of an output record (ECS event.id, or the EVE metadata id). */
export function recordId(rec: Record<string, unknown>): string | null {
  const ev = rec.event as { id?: unknown } | undefined;
  if (ev && typeof ev.id === 'string') return ev.id;
  const alert = rec.alert as { metadata?: { netanomaly?: { event_id?: unknown } } } | undefined;
  const id = alert?.metadata?.netanomaly?.event_id;
  return typeof id === 'string' ? id : null;
}

class BoundedSet {
  private readonly set = new Set<string>();
  constructor(private readonly cap: number) {}
  has(k: string): boolean {
    return this.set.has(k);
  }
  add(k: string): void {
    if (this.set.has(k)) return;
    this.set.add(k);
    if (this.set.size > this.cap) {
      const first = this.set.values().next();
      if (!first.done) this.set.delete(first.value);
    }
  }
  get size(): number {
    return this.set.size;
  }
}

export class AlertSink {
  private readonly seen: BoundedSet;
  private loaded = false;
  duplicatesSuppressed = 0;
  written = 0;

  constructor(
    readonly path: string,
    private readonly opts: { tailBytes?: number; maxIds?: number } = {},
  ) {
    this.seen = new BoundedSet(opts.maxIds ?? 200_000);
  }

  /** Learn the ids in the tail of an existing file (idempotent; retried until it works). */
  private loadTail(): void {
    if (this.loaded) return;
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        this.loaded = true;
        return;
      }
      throw new SinkError(`${this.path}: cannot read alert file: ${(e as Error).message}`);
    }
    try {
      const size = fstatSync(fd).size;
      const n = Math.min(size, this.opts.tailBytes ?? 16 << 20);
      const buf = Buffer.alloc(n);
      readSync(fd, buf, 0, n, size - n);
      const lines = buf.toString('utf8').split('\n');
      if (n < size) lines.shift(); // first line may be cut
      for (const l of lines) {
        if (!l.startsWith('{')) continue;
        try {
          const id = recordId(JSON.parse(l) as Record<string, unknown>);
          if (id) this.seen.add(id);
        } catch {
          // a torn line from an earlier crash: ignored
        }
      }
    } finally {
      closeSync(fd);
    }
    this.loaded = true;
  }

  /** Was this id already written? (Learns the file's tail first; SinkError when unreadable.) */
  has(id: string): boolean {
    this.loadTail();
    return this.seen.has(id);
  }

  /**
   * Append records durably (one write + fsync). Records whose id was already written are dropped
   * and counted. Returns the number written. Throws SinkError when the file cannot be written.
   */
  append(records: readonly Record<string, unknown>[]): number {
    this.loadTail();
    const fresh: Record<string, unknown>[] = [];
    const batchIds = new Set<string>();
    for (const r of records) {
      const id = recordId(r);
      if (id && (this.seen.has(id) || batchIds.has(id))) {
        this.duplicatesSuppressed++;
        continue;
      }
      if (id) batchIds.add(id);
      fresh.push(r);
    }
    if (fresh.length === 0) return 0;
    let text = fresh.map((r) => JSON.stringify(r)).join('\n');
    text += '\n';
    let fd: number;
    try {
      fd = openSync(this.path, 'a+', 0o644);
    } catch (e) {
      throw new SinkError(`${this.path}: cannot open alert file: ${(e as Error).message}`);
    }
    let before = 0;
    try {
      before = fstatSync(fd).size;
      if (before > 0 && !this.endsWithNewline(fd, before)) text = `\n${text}`;
      const buf = Buffer.from(text, 'utf8');
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } catch (e) {
      try {
        ftruncateSync(fd, before);
      } catch {
        // a torn line stays; the next append starts on a new line
      }
      closeSync(fd);
      throw new SinkError(`${this.path}: cannot write alerts: ${(e as Error).message}`);
    }
    closeSync(fd);
    for (const id of batchIds) this.seen.add(id);
    this.written += fresh.length;
    return fresh.length;
  }

  private endsWithNewline(fd: number, size: number): boolean {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, size - 1);
    return b[0] === 0x0a;
  }

  /** Size of the alert file (0 when absent). */
  size(): number {
    try {
      return statSync(this.path).size;
    } catch {
      return 0;
    }
  }
}
