/** Content sniffing helpers shared by the readers. */
import { InputError } from '../errors.ts';
import { openByteSource } from './csv.ts';

/** The first non-empty line of a (plain or gzip) text file, at most 64 KiB read. */
export async function firstLine(path: string): Promise<string> {
  let text = '';
  try {
    for await (const chunk of openByteSource(path)) {
      text += chunk.toString('utf8');
      const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
      if ((lines.length > 1 || text.length > 65536) && lines[0] !== undefined)
        return lines[0].replace(/^\uFEFF/, '');
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${path}: cannot read (${(err as Error).message})`);
  }
  const first = text.split(/\r?\n/).find((l) => l.trim() !== '');
  if (first === undefined) throw new InputError(`${path}: empty file`);
  return first.replace(/^\uFEFF/, '');
}
