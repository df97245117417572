/**
 * Checkpoints of the watcher: where reading stopped, written atomically (temp file, fsync,
 * rename, fsync of the directory) so a crash leaves either the old or the new checkpoint, never
 * half of one. A checkpoint that exists but cannot be read is an error with instructions, never a
 * silent restart from the beginning (RELIABILITY.md H6).
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { InputError, NetanomalyError } from '../errors.ts';
import { HostWindowStateSchema } from './host-windows.ts';

export const CHECKPOINT_VERSION = 1;

export const FileIdentitySchema = z.object({
  path: z.string(),
  dev: z.number(),
  ino: z.number(),
  /** sha256 (hex) of the first `fpLength` bytes of the file. */
  fingerprint: z.string(),
  fpLength: z.number().int().min(0),
});
export type FileIdentity = z.infer<typeof FileIdentitySchema>;

export const CheckpointSchema = z.object({
  version: z.literal(CHECKPOINT_VERSION),
  kind: z.enum(['file', 'dir', 'stdin']),
  /** The SOURCE argument the watcher was started with. */
  source: z.string(),
  model_sha256: z.string(),
  schema_version: z.string(),
  /** kind 'file': the file being read and the byte offset / line number after the last committed line. */
  file: FileIdentitySchema.nullable(),
  offset: z.number().int().min(0),
  line: z.number().int().min(0),
  /** kind 'dir': captures already processed, keyed by `${path}|${size}|${sha256}` (bounded). */
  done: z.array(z.string()),
  /** The open host windows at this position (absent in checkpoints from before it existed). */
  host_windows: HostWindowStateSchema.optional(),
  updated: z.string(),
});
export type Checkpoint = z.infer<typeof CheckpointSchema>;

/** The checkpoint at `path`, or null when there is none yet. Corrupt → InputError with instructions. */
export function readCheckpoint(path: string): Checkpoint | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new InputError(`${path}: cannot read checkpoint: ${(e as Error).message}`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    throw new InputError(
      `${path}: checkpoint is corrupt (not JSON); refusing to guess a position. Delete it to start over from the beginning of the source (alerts already written are de-duplicated by event.id)`,
    );
  }
  const parsed = CheckpointSchema.safeParse(obj);
  if (!parsed.success) {
    throw new InputError(
      `${path}: checkpoint is invalid (${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? ''}); delete it to start over`,
    );
  }
  return parsed.data;
}

/** A checkpoint that could not be written (disk full, directory gone): the old one stays. */
export class CheckpointError extends NetanomalyError {
  override name = 'CheckpointError';
}

/**
 * Write `cp` atomically: temp file + fsync + rename + fsync of the directory. On failure the temp
 * file is removed, the previous checkpoint is left as it was and CheckpointError is thrown.
 */
export function writeCheckpoint(path: string, cp: Checkpoint): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  try {
    const fd = openSync(tmp, 'w', 0o644);
    try {
      const text = `${JSON.stringify(cp)}\n`;
      if (writeSync(fd, text) !== Buffer.byteLength(text)) throw new Error('short write');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new CheckpointError(`${path}: cannot write checkpoint: ${(e as Error).message}`);
  }
  fsyncDir(dir);
}

export function fsyncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // some file systems refuse fsync on a directory; the rename is still atomic
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
