#!/usr/bin/env python3
"""Execute the tslab notebooks top to bottom with nbclient (Debian python3-nbclient).

Usage: python3 scripts/run-notebooks.py [--out DIR] [--set-k K] [--timeout SECONDS] [notebook ...]

Each notebook runs in notebooks/ (its own directory) on the 'tslab' kernel; the executed copy,
with outputs, is written to DIR (default test-output/notebooks). --set-k rewrites the
`const K = ...;` cell of each notebook before running (to check that re-plotting with another
k works). Exits 1 if any cell errors or a notebook exceeds --budget seconds (default 180).
Prints one JSON line per notebook: {"notebook", "seconds", "ok", "error"}.
"""
import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument('notebooks', nargs='*')
    ap.add_argument('--out', default=str(ROOT / 'test-output' / 'notebooks'))
    ap.add_argument('--set-k', type=int)
    ap.add_argument('--timeout', type=int, default=170, help='per cell, seconds')
    ap.add_argument('--budget', type=float, default=180, help='per notebook, seconds')
    a = ap.parse_args()
    # The kernel spec runs `tslab`: use the project's own copy.
    os.environ['PATH'] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    paths = [Path(p).resolve() for p in a.notebooks] or sorted((ROOT / 'notebooks').glob('*.ipynb'))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = False
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        suffix = ''
        if a.set_k is not None:
            hits = 0
            for cell in nb.cells:
                if cell.cell_type == 'code' and re.search(r'^const K = \d+;', cell.source, re.M):
                    cell.source = re.sub(r'^const K = \d+;', f'const K = {a.set_k};', cell.source, flags=re.M)
                    hits += 1
            if hits == 0:
                print(json.dumps({'notebook': path.name, 'skipped': 'no `const K = ...;` cell'}))
                continue
            suffix = f'-k{a.set_k}'
        client = NotebookClient(
            nb,
            kernel_name='tslab',
            timeout=a.timeout,
            resources={'metadata': {'path': str(path.parent)}},
        )
        t0 = time.monotonic()
        error = None
        try:
            client.execute()
        except CellExecutionError as e:
            error = str(e).strip().splitlines()[-1][:500] if str(e).strip() else 'cell error'
            error = str(e)[-1500:]
        except Exception as e:  # kernel death, timeout
            error = f'{type(e).__name__}: {e}'[:1500]
        seconds = time.monotonic() - t0
        # tslab reports some errors only as stderr output: treat any error output as a failure.
        if error is None:
            for i, cell in enumerate(nb.cells):
                for o in cell.get('outputs', []):
                    if o.get('output_type') == 'error':
                        error = f"cell {i}: {o.get('ename')}: {o.get('evalue')}"
        if error is None and seconds > a.budget:
            error = f'took {seconds:.1f} s, over the {a.budget:.0f} s budget'
        nbformat.write(nb, out / f'{path.stem}{suffix}.ipynb')
        print(json.dumps({'notebook': path.name + suffix, 'seconds': round(seconds, 1), 'ok': error is None, 'error': error}), flush=True)
        failed = failed or error is not None
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
