"""Execute notebooks top to bottom on a fresh kernel and store their outputs.

Usage: ``python tools/run_notebook.py book/02_text_preprocessing.ipynb [...]``

This is how committed outputs are produced (STYLE rule 8): one clean run, execution
counts 1..n, kernel ``python3``, working directory ``book/``.  It prints each
notebook's wall time.  Run it with the same environment as the tests, e.g.
``D2LRNN_DATA_DIR=../shared/data OMP_NUM_THREADS=2``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def run(path: Path) -> float:
    """Execute ``path`` in place; return the wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    client = NotebookClient(
        nb,
        timeout=1800,
        record_timing=False,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    for name in argv:
        elapsed = run(Path(name))
        print(f"{name}: executed in {elapsed:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
