"""The setup cell that opens every notebook: what Colab, Binder and a fresh Jupyter run.

The website's rocket button opens a chapter on Colab or Binder (_config.yml,
``launch_buttons``).  There the notebook must find the course package, so each
notebook starts with this cell (hidden on the website, folded on Colab and in
JupyterLab, run by the tests like any other cell).  It installs the package from
the repository and branch that _config.yml names, and only when it is missing: on
Binder, binder/ has installed it already, and in this repository's .venv it is the
editable install of scripts/venv.sh.  It also draws figures as SVG, sharp on every
screen, with labels a phone can read.

``setup_cell()`` is the only place the cell is written; tests/test_launch.py checks
that every notebook starts with exactly this cell, and what it would run.  After
changing it, or for a new notebook, run ``python tools/launch.py``: it puts the
cell first in every book/*.ipynb, or rewrites it there (through nbformat; nothing
else changes).  ``--check`` only reports the notebooks it would change.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
SETUP_TAG = "d2lrnn-setup"
TAGS = ["remove-cell", SETUP_TAG]

SOURCE = '''\
#@title Setup: the course package and figure settings (hidden on the website)
# On Colab, or wherever d2lrnn is missing, install it from the course repository.
import importlib.util
import subprocess
import sys

import matplotlib as mpl
from matplotlib_inline.backend_inline import set_matplotlib_formats

D2LRNN = "{requirement}"
if importlib.util.find_spec("d2lrnn") is None:
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run([*pip, D2LRNN], check=True)
# Figures as SVG (sharp at any zoom); 20 rather than 2×10¹ on log axes.
set_matplotlib_formats("svg")
mpl.rcParams.update(
    {{"svg.hashsalt": "d2lrnn", "font.size": 11, "axes.formatter.min_exponent": 3}}
)'''


def repository(config: Path = ROOT / "_config.yml") -> tuple[str, str]:
    """Return the (url, branch) of the repository that _config.yml names."""
    repo = yaml.safe_load(config.read_text("utf-8"))["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def requirement(config: Path = ROOT / "_config.yml") -> str:
    """The pip requirement of the course package, e.g. ``d2lrnn @ git+URL@main``."""
    url, branch = repository(config)
    return f"d2lrnn @ git+{url}@{branch}"


def setup_cell(config: Path = ROOT / "_config.yml") -> nbformat.NotebookNode:
    """The first cell of every notebook."""
    cell = nbformat.v4.new_code_cell(SOURCE.format(requirement=requirement(config)))
    cell.metadata = {
        "tags": list(TAGS),
        "cellView": "form",  # Colab shows the title line and folds the code
        "jupyter": {"source_hidden": True},  # JupyterLab and Notebook 7 fold it
    }
    return cell


def has_setup_cell(nb: nbformat.NotebookNode) -> bool:
    cells = nb.cells
    return bool(cells) and SETUP_TAG in cells[0].metadata.get("tags", [])


def apply(nb: nbformat.NotebookNode) -> bool:
    """Put the setup cell first in ``nb``, or rewrite it; return whether it changed."""
    cell = setup_cell()
    cell["id"] = SETUP_TAG
    if has_setup_cell(nb):
        first = nb.cells[0]
        if first.source == cell.source and first.metadata == cell.metadata:
            return False
        first.source, first.metadata = cell.source, cell.metadata
        return True
    nb.cells.insert(0, cell)
    return True


def main(argv: list[str]) -> int:
    check = "--check" in argv
    changed = []
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if apply(nb):
            changed.append(path.name)
            if not check:
                nbformat.validate(nb)
                nbformat.write(nb, path)
    verb = "would change" if check else "changed"
    print(f"setup cell: {verb} {len(changed)} notebooks {' '.join(changed)}".rstrip())
    return 1 if check and changed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
