"""The perturbed pass: every notebook again, on another seed and floating-point path.

``scripts/test.sh`` runs this file after the first pass (which checks the stored
outputs with nbval).  Each notebook is executed top to bottom on a fresh kernel with

- ``D2LRNN_SEED_OFFSET=101``: every generator the book seeds (through
  ``d2l.manual_seed``, ``d2l.generator`` and ``d2l.numpy_rng``) draws other numbers;
- ``ATEN_CPU_CAPABILITY=avx2`` and ``MKL_ENABLE_INSTRUCTIONS=AVX2``: torch's and MKL's
  vectorised kernels of another instruction set, so other roundings;
- another number of threads than the first pass (2 if it used 1, else 1), so other
  orders of summation in the reductions that torch splits over threads.

Stored outputs are not compared (they come from offset 0); every cell must run
without error, so every assertion in the hidden cells must hold.  A last cell checks
inside the kernel that the perturbation took effect.

Two torch processes with two spinning threads each on two cores thrash (one ran 12x
slower than alone), and one process with two threads leaves half the machine idle
in the many small operations of these notebooks.  So under ``pytest -n 2`` (what
scripts/test.sh runs) each worker pins itself, and so the kernels it starts, to a
core of its own, and the kernels' OpenMP threads sleep instead of spinning while
they wait (``OMP_WAIT_POLICY=PASSIVE``).  The two threads of a kernel then take
turns on one core: torch still splits every parallel operation in two, so the
summation orders are those of two threads; only the wall time is that of one core.
The notebooks are handed out longest first (``tests/durations.json``), one at a
time.  ``D2LRNN_PERTURBED_NOTEBOOKS`` (paths separated by spaces) restricts the
pass to some notebooks.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
SEED_OFFSET = 101


def _notebooks() -> list[str]:
    """The notebooks of the pass, the longest (by tests/durations.json) first."""
    chosen = os.environ.get("D2LRNN_PERTURBED_NOTEBOOKS", "").split()
    if chosen:
        paths = [str(Path(p).resolve().relative_to(ROOT)) for p in chosen]
    else:
        paths = [str(p.relative_to(ROOT)) for p in (ROOT / "book").glob("*.ipynb")]
    durations = ROOT / "tests" / "durations.json"
    seconds = json.loads(durations.read_text()) if durations.exists() else {}
    return sorted(sorted(paths), key=lambda p: -seconds.get(p, 180.0))


def pin_worker_to_a_core() -> int | None:
    """Under xdist, pin this worker (and the kernels it starts) to one core.

    Worker gwN takes the N-th core this process may use (modulo their number);
    returns the core, or None where there is no worker or no affinity call.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or not hasattr(os, "sched_setaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    core = cores[int(worker[2:]) % len(cores)]
    os.sched_setaffinity(0, {core})
    return core


def perturbed_env() -> dict[str, str]:
    """The kernel's environment: this process's, perturbed."""
    first_pass_threads = int(os.environ.get("OMP_NUM_THREADS", "1") or 1)
    threads = "2" if first_pass_threads == 1 else "1"
    env = dict(os.environ)
    env.update({
        "D2LRNN_SEED_OFFSET": str(SEED_OFFSET),
        "ATEN_CPU_CAPABILITY": "avx2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "OMP_WAIT_POLICY": "PASSIVE",  # threads that wait sleep, never spin
    })
    return env


# Run last, inside the notebook's kernel: the perturbation reached torch.
CHECK_CELL = """
import os as _os
import torch as _torch
assert _os.environ["D2LRNN_SEED_OFFSET"] == "{offset}"
assert _torch.get_num_threads() == {threads}, _torch.get_num_threads()
_capability = _torch.backends.cpu.get_cpu_capability()
assert _capability != "AVX512", _capability  # AVX2 where the CPU has it
"""


@pytest.mark.parametrize("path", _notebooks())
def test_notebook_perturbed(path, record_property):
    core = pin_worker_to_a_core()
    env = perturbed_env()
    nb = nbformat.read(ROOT / path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    nb.cells.append(nbformat.v4.new_code_cell(CHECK_CELL.format(
        offset=SEED_OFFSET, threads=env["OMP_NUM_THREADS"])))
    client = NotebookClient(
        nb,
        timeout=1800,
        kernel_name="python3",
        resources={"metadata": {"path": str((ROOT / path).parent)}},
    )
    start = time.perf_counter()
    client.execute(env=env)
    seconds = time.perf_counter() - start
    where = "" if core is None else f" (core {core})"
    record_property("summary", f"perturbed pass: {seconds:7.1f} s  {path}{where}")
