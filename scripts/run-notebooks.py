#!/usr/bin/env python3
"""Execute the tslab notebooks top to bottom with nbclient (Debian python3-nbclient).

Usage: python3 scripts/run-notebooks.py [--out DIR] [--set-k K] [--set-engine E] [--html]
                                        [--allow-errors] [--timeout SECONDS] [notebook ...]

Each notebook runs in its own directory on the 'tslab' kernel, against the compiled library in
dist/ (rebuilt first when a src/ file is newer); the executed copy, with outputs, is written to DIR
(default test-output/notebooks). --set-k rewrites the `const K = ...;` line of each notebook before
running (to check that re-plotting with another k works); --set-engine rewrites
`const ENGINE: ... = '...';` (e.g. tfjs). --html also renders each executed copy to DIR/NAME.html
(Debian's nbconvert). --allow-errors runs every cell even after a failing one and lists the failing
cells (for the type-check test). Exits 1 if any cell errors or a notebook exceeds --budget seconds
(default 180). Prints one JSON line per notebook: {"notebook", "seconds", "ok", "error", "failed"}.
"""
import argparse
import json
import os
import re
import subprocess
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
    ap.add_argument('--set-engine', choices=['auto', 'onnx', 'tfjs', 'js'])
    ap.add_argument('--html', action='store_true')
    ap.add_argument('--allow-errors', action='store_true')
    ap.add_argument('--timeout', type=int, default=170, help='per cell, seconds')
    ap.add_argument('--budget', type=float, default=180, help='per notebook, seconds')
    a = ap.parse_args()
    # The kernel spec runs `tslab`: use the project's own copy.
    os.environ['PATH'] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    build = subprocess.run(['node', str(ROOT / 'scripts' / 'build-dist.mjs'), '--if-stale'], cwd=ROOT)
    if build.returncode != 0:
        print(json.dumps({'notebook': None, 'ok': False, 'error': 'building dist/ failed'}))
        return 1
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
        if a.set_engine is not None:
            engine_re = r"^const ENGINE: [^=]+= '[a-z]+';"
            hits = 0
            for cell in nb.cells:
                if cell.cell_type == 'code' and re.search(engine_re, cell.source, re.M):
                    cell.source = re.sub(engine_re, f"const ENGINE: EngineName | 'auto' = '{a.set_engine}';", cell.source, flags=re.M)
                    hits += 1
            if hits == 0:
                print(json.dumps({'notebook': path.name, 'ok': False, 'error': 'no `const ENGINE` line to set'}))
                failed = True
                continue
            suffix += f'-{a.set_engine}'
        client = NotebookClient(
            nb,
            kernel_name='tslab',
            timeout=a.timeout,
            allow_errors=a.allow_errors,
            resources={'metadata': {'path': str(path.parent)}},
        )
        reply_errors = set()

        def on_error(cell, cell_index, execute_reply, _seen=reply_errors):
            _seen.add(cell_index)

        client.on_cell_error = on_error
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
        # tslab reports compile errors only as stderr output plus an error reply: a failing cell is
        # one with an error output or whose execution reply says so.
        failing = []
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != 'code':
                continue
            errs = [o for o in cell.get('outputs', []) if o.get('output_type') == 'error']
            if errs or i in reply_errors:
                stderr = ''.join(o.get('text', '') for o in cell.get('outputs', []) if o.get('name') == 'stderr')
                failing.append({'cell': i, 'text': (stderr or ' '.join(f"{o.get('ename')}: {o.get('evalue')}" for o in errs))[:1000]})
        if error is None and failing and not a.allow_errors:
            error = f"cell {failing[0]['cell']}: {failing[0]['text']}"
        if error is None and seconds > a.budget:
            error = f'took {seconds:.1f} s, over the {a.budget:.0f} s budget'
        executed = out / f'{path.stem}{suffix}.ipynb'
        nbformat.write(nb, executed)
        if a.html:
            html = subprocess.run(
                [sys.executable, '-m', 'nbconvert', '--to', 'html', '--output-dir', str(out), str(executed)],
                capture_output=True, text=True)
            if html.returncode != 0 and error is None:
                error = f'nbconvert failed: {html.stderr[-500:]}'
        print(json.dumps({'notebook': path.name + suffix, 'seconds': round(seconds, 1), 'ok': error is None, 'error': error, 'failed': failing}), flush=True)
        failed = failed or error is not None
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
