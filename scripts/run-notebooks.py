#!/usr/bin/python3
"""Runs promptlab's tslab notebooks top to bottom on the promptlab kernel and reports each one.

Usage (Debian's Python, which has Jupyter):
    /usr/bin/python3 scripts/run-notebooks.py [NOTEBOOK ...] [--full] [--timeout S] [--write]

With no NOTEBOOK, runs every notebooks/*.ipynb (sorted). The kernel is the repository's own
(jupyter/kernels/promptlab, found through JUPYTER_PATH, which this script sets), so nothing needs
`tslab install`. The notebooks see PROMPTLAB_QUICK=1 (their small, fast variant) unless --full is
given, and PROMPTLAB_PLOTLY=static (a figure's output is its PNG and its plotly JSON, no HTML, so the
committed notebooks show every figure in an untrusted or offline Jupyter, on GitHub and in VS Code).

On a failing cell it prints the notebook, the cell's number and first lines, and the real error: the
error output (ename, evalue, traceback) and the cell's stderr stream, where tslab writes its
messages. Nothing is written unless --write is given: then each notebook that passes is saved in place
with its outputs, each cell that shows a figure marked `"scrolled": false` (see unscroll_figure_cells). The last line is "N passed, N failed" (one per notebook); the exit code is 0 when
all passed, 1 when any failed and 2 when Jupyter/nbclient is missing.
"""
import argparse
import glob
import os
import re
import signal
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS_PATH = os.path.join(ROOT, 'jupyter')  # holds kernels/promptlab/kernel.json
KERNEL_NAME = 'promptlab'
INSTALL_HINT = ('apt-get install jupyter-notebook python3-nbconvert python3-nbclient jupyter-client '
                '(see environment.md), then run this script with /usr/bin/python3')
ANSI = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]')
SOURCE_LINES = 6      # lines of a failing cell's source to show
MAX_TEXT = 8000       # characters of one error text to show


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog='run-notebooks.py',
        description='Execute promptlab notebooks on the promptlab tslab kernel and report failures.')
    ap.add_argument('notebooks', nargs='*',
                    help='notebooks to run (default: every notebooks/*.ipynb, sorted)')
    ap.add_argument('--full', action='store_true',
                    help='run the full variants (default: PROMPTLAB_QUICK=1)')
    ap.add_argument('--timeout', type=int, default=900, metavar='S',
                    help='seconds one cell may run (default: 900)')
    ap.add_argument('--startup-timeout', type=int, default=120, metavar='S',
                    help='seconds the kernel may take to start (default: 120)')
    ap.add_argument('--write', action='store_true',
                    help='save each notebook that passes in place, outputs included')
    ap.add_argument('--kernel', default=KERNEL_NAME,
                    help='kernel name (default: %(default)s, from jupyter/kernels/)')
    return ap.parse_args(argv)


def clean(text, limit=MAX_TEXT):
    text = ANSI.sub('', text).rstrip()
    if len(text) > limit:
        text = text[:limit] + '\n... (%d more characters)' % (len(text) - limit)
    return text


def indent(text, prefix='    '):
    return '\n'.join(prefix + line for line in text.splitlines())


FIGURE_MIME = 'application/vnd.plotly.v1+json'


def is_figure_output(output):
    """Whether a cell output is a figure: a plotly figure or any image (PNG, SVG, ...)."""
    data = output.get('data') or {}
    return any(k == FIGURE_MIME or k.startswith('image/') for k in data)


def unscroll_figure_cells(nb):
    """Marks every code cell with a figure output `"scrolled": false` in its metadata; returns how many changed.

    The classic Notebook collapses an output taller than 100 lines into a small scroll box (its
    auto-scroll), which hides most of a figure and the tables under it; `"scrolled": false` turns that off
    for the cell (nbformat's schema: true, false or "auto"). JupyterLab scrolls only cells marked true,
    VS Code and nbconvert ignore the key: false changes nothing there.
    """
    changed = 0
    for cell in nb.cells:
        if cell.cell_type != 'code' or not any(is_figure_output(o) for o in cell.get('outputs', [])):
            continue
        if cell.metadata.get('scrolled') is not False:
            cell.metadata['scrolled'] = False
            changed += 1
    return changed


def describe_failure(nb_label, nb, index, exc):
    """The report for cell `index` of `nb`, which raised `exc` while running."""
    cell = nb.cells[index] if index is not None and index < len(nb.cells) else None
    out = []
    if cell is None:
        out.append('%s: FAILED before any cell ran' % nb_label)
    else:
        code_no = sum(1 for c in nb.cells[:index + 1] if c.cell_type == 'code')
        out.append('%s: FAILED at cell %d of %d (code cell %d)' % (nb_label, index + 1, len(nb.cells), code_no))
        src = cell.source.splitlines()
        out.append('  source:')
        out.append(indent('\n'.join(src[:SOURCE_LINES])))
        if len(src) > SOURCE_LINES:
            out.append('    ... (%d more lines)' % (len(src) - SOURCE_LINES))
    found = False
    for o in (cell.get('outputs', []) if cell is not None else []):
        if o.get('output_type') == 'error':
            found = True
            ename, evalue = o.get('ename', ''), o.get('evalue', '')
            out.append('  error: %s: %s' % (ename or '<no name>', clean(evalue) or '<no message>'))
            tb = clean('\n'.join(o.get('traceback', [])))
            if tb and tb != clean(evalue):
                out.append('  traceback:')
                out.append(indent(tb))
        elif o.get('output_type') == 'stream' and o.get('name') == 'stderr':
            text = clean(o.get('text', ''))
            if text:
                found = True
                out.append('  stderr:')
                out.append(indent(text))
    # A cell's own error is told by its outputs; a timeout, a dead kernel or a failed start is not.
    if not found or cell is None or type(exc).__name__ != 'CellExecutionError':
        msg = clean(str(exc), 2000) or type(exc).__name__
        out.append('  %s:' % type(exc).__name__)
        out.append(indent(msg))
    return '\n'.join(out)


def run_one(path, args, nbformat, NotebookClient):
    label = os.path.relpath(path, ROOT) if os.path.abspath(path).startswith(ROOT + os.sep) else path
    t0 = time.monotonic()
    print('%s ...' % label, flush=True)
    if not os.path.isfile(path):
        print('%s: FAILED: no such file' % label, flush=True)
        return False
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:  # noqa: BLE001 - any unreadable notebook is a failure to report
        print('%s: FAILED: not a readable notebook: %s' % (label, e), flush=True)
        return False
    index = None
    ok = True
    try:
        client = NotebookClient(
            nb,
            kernel_name=args.kernel,
            timeout=args.timeout,
            startup_timeout=args.startup_timeout,
            record_timing=False,  # keeps --write diffs free of timestamps
            resources={'metadata': {'path': os.path.dirname(os.path.abspath(path))}},
        )
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != 'code':
                    continue
                client.execute_cell(cell, index)
            index = None
            client.set_widgets_metadata()
    except BaseException as e:  # noqa: BLE001 - report whatever stopped the notebook
        if isinstance(e, KeyboardInterrupt):
            raise
        ok = False
        print(describe_failure(label, nb, index, e), flush=True)
    seconds = time.monotonic() - t0
    if ok:
        if args.write:
            unscroll_figure_cells(nb)
            nbformat.write(nb, path)
            print('%s: passed (%.1f s), written' % (label, seconds), flush=True)
        else:
            print('%s: passed (%.1f s)' % (label, seconds), flush=True)
    else:
        print('%s: failed (%.1f s)%s' % (label, seconds, ', not written' if args.write else ''), flush=True)
    return ok


def stop_on_sigterm(signum, frame):
    """SIGTERM (a test's timeout, a CI job cancelled) ends the run as Ctrl-C does: the kernel is shut down."""
    raise KeyboardInterrupt('SIGTERM')


def main(argv):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        import nbformat
        from nbclient import NotebookClient
        import jupyter_client  # noqa: F401
    except ImportError as e:
        print('run-notebooks: Jupyter is not available to %s (%s).\nInstall it: %s'
              % (sys.executable, e, INSTALL_HINT), file=sys.stderr)
        return 2
    if not os.path.isfile(os.path.join(ROOT, 'node_modules', 'tslab', 'dist', 'main.js')):
        print('run-notebooks: tslab is not installed in %s; run `npm ci` first.' % ROOT, file=sys.stderr)
        return 2

    # The kernel inherits this process's environment.
    old = os.environ.get('JUPYTER_PATH')
    os.environ['JUPYTER_PATH'] = KERNELS_PATH + (os.pathsep + old if old else '')
    if args.full:
        os.environ.pop('PROMPTLAB_QUICK', None)
    else:
        os.environ['PROMPTLAB_QUICK'] = '1'
    os.environ['PROMPTLAB_PLOTLY'] = 'static'

    if args.notebooks:
        # Under `npm run test:notebooks -- PATH`, npm runs this in the repository root; relative
        # paths are the user's, from the folder npm was started in (INIT_CWD).
        init_cwd = os.environ.get('INIT_CWD')
        paths = [os.path.join(init_cwd, p) if init_cwd and not os.path.isabs(p) and not os.path.exists(p)
                 and os.path.exists(os.path.join(init_cwd, p)) else p for p in args.notebooks]
    else:
        paths = sorted(glob.glob(os.path.join(ROOT, 'notebooks', '*.ipynb')))
        if not paths:
            print('no notebooks in %s' % os.path.join(ROOT, 'notebooks'))
    print('mode: %s, cell timeout %d s%s' % ('full' if args.full else 'quick (PROMPTLAB_QUICK=1)',
                                            args.timeout, ', writing executed notebooks' if args.write else ''),
          flush=True)
    passed = failed = 0
    for p in paths:
        if run_one(p, args, nbformat, NotebookClient):
            passed += 1
        else:
            failed += 1
    print('%d passed, %d failed' % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt as e:
        print('run-notebooks: stopped (%s); the kernel was shut down' % (e or 'Ctrl-C'), flush=True)
        sys.stderr.flush()
        os._exit(130)  # not sys.exit: the interrupted cell's asyncio task would be reported at shutdown
