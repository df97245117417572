/**
 * Progress and human output for the CLI: on stderr, one updating line on a terminal, plain lines
 * otherwise (pipes, CI); no colour when NO_COLOR is set or stderr is not a terminal.
 */
export interface Progress {
  step(message: string): void;
  done(message?: string): void;
}

export function createProgress(quiet = false): Progress {
  const tty = Boolean(process.stderr.isTTY);
  const start = performance.now();
  let last = '';
  let lastPrint = 0;
  const stamp = () => `${((performance.now() - start) / 1000).toFixed(1)}s`;
  return {
    step(message: string) {
      if (quiet || message === last) return;
      last = message;
      if (tty) {
        process.stderr.write(`\r\x1b[2K[${stamp()}] ${message}`);
      } else {
        const now = performance.now();
        // Plain lines at most every 250 ms, so logs stay readable.
        if (now - lastPrint < 250 && !message.endsWith('done')) return;
        lastPrint = now;
        process.stderr.write(`[${stamp()}] ${message}\n`);
      }
    },
    done(message?: string) {
      if (quiet) return;
      if (tty) process.stderr.write('\r\x1b[2K');
      if (message) process.stderr.write(`[${stamp()}] ${message}\n`);
    },
  };
}

export function useColor(): boolean {
  return Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
}

export function bold(s: string): string {
  return useColor() ? `\x1b[1m${s}\x1b[22m` : s;
}

/** A plain text table with right-aligned numbers. */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)))];
  const widths = header.map((_, j) => Math.max(...cells.map((r) => String(r[j] ?? '').length)));
  return cells
    .map((r, i) => {
      const line = r.map((c, j) =>
        typeof rows[0]?.[j] === 'number' && i > 0
          ? String(c).padStart(widths[j]!)
          : String(c).padEnd(widths[j]!),
      );
      return line.join('  ').trimEnd();
    })
    .join('\n');
}

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e5 || (a > 0 && a < 1e-3)) return v.toExponential(3);
  return v.toFixed(4);
}
