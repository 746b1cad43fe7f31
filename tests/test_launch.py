"""What the launch buttons run, checked offline: the setup cell of every notebook
(tools/launch.py) and the Binder configuration (binder/).

Colab and Binder themselves cannot be reached from the tests; these tests check the
commands and files they would run: that a notebook opened on Colab installs the
course package from this repository, and nothing when it is already installed; that
Binder installs the CPU build of torch, the course's pins and d2lrnn, and none of
the tools that build and test the course.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("launch", ROOT / "tools" / "launch.py")
launch = importlib.util.module_from_spec(spec)
sys.modules["launch"] = launch
spec.loader.exec_module(launch)

NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)")


def pins(path: Path) -> dict[str, str]:
    """{name: version} of the ``name==version`` lines of a requirements file."""
    found = {}
    for line in path.read_text("utf-8").splitlines():
        match = PIN.match(line.strip())
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def run_setup_cell(source: str, installed: bool) -> list[list[str]]:
    """Execute the setup cell with the package present or missing; return the
    commands it would run (nothing is installed, nothing is drawn)."""
    commands: list[list[str]] = []
    formats: list[str] = []
    fake_subprocess = types.SimpleNamespace(
        run=lambda cmd, check: commands.append(list(cmd))
    )
    fake_inline = types.SimpleNamespace(set_matplotlib_formats=formats.append)
    fake_util = types.SimpleNamespace(
        find_spec=lambda name: object() if installed or name != "d2lrnn" else None
    )
    modules = {
        "subprocess": fake_subprocess,
        "matplotlib_inline.backend_inline": fake_inline,
        "importlib.util": fake_util,
    }
    real_import = __import__

    def fake_import(name, globals=None, locals=None, fromlist=(), level=0):
        if name == "importlib.util" and not fromlist:  # `import importlib.util`
            return types.SimpleNamespace(util=fake_util)
        if name in modules:
            return modules[name]
        return real_import(name, globals, locals, fromlist, level)

    import matplotlib as mpl

    saved = dict(mpl.rcParams)
    builtins = dict(__builtins__) if isinstance(__builtins__, dict) else vars(
        __builtins__
    ).copy()
    builtins["__import__"] = fake_import
    try:
        exec(compile(source, "setup-cell", "exec"), {"__builtins__": builtins})
        assert formats == ["svg"]
        assert mpl.rcParams["axes.formatter.min_exponent"] == 3
    finally:
        mpl.rcParams.update(saved)
    return commands


def test_every_notebook_starts_with_the_setup_cell():
    want = launch.setup_cell()
    assert NOTEBOOKS
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        first = nb.cells[0]
        assert launch.has_setup_cell(nb), f"{path.name}: no setup cell first"
        assert first.source == want.source, f"{path.name}: setup cell differs"
        assert set(want.metadata["tags"]) <= set(first.metadata.get("tags", []))
        assert first.metadata.get("cellView") == "form"
        assert first.metadata.get("jupyter", {}).get("source_hidden") is True
        others = [c for c in nb.cells[1:] if launch.SETUP_TAG in c.metadata.get(
            "tags", [])]
        assert not others, f"{path.name}: more than one setup cell"


def test_setup_cell_installs_the_package_only_when_it_is_missing():
    source = launch.setup_cell().source
    assert run_setup_cell(source, installed=True) == []
    commands = run_setup_cell(source, installed=False)
    assert commands == [
        [sys.executable, "-m", "pip", "install", "-q", launch.requirement()]
    ]


def test_setup_cell_installs_this_repository():
    url, branch = launch.repository()
    assert launch.requirement() == f"d2lrnn @ git+{url}@{branch}"
    assert url.startswith("https://github.com/")
    project = (ROOT / "pyproject.toml").read_text("utf-8")
    assert re.search(r'^name = "d2lrnn"$', project, re.M)
    # the requirement is one pip understands (PEP 508 direct reference)
    from packaging.requirements import Requirement

    requirement = Requirement(launch.requirement())
    assert requirement.name == "d2lrnn" and requirement.url.startswith("git+https://")


def test_requirement_follows_the_config(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text(
        "repository:\n  url: https://github.com/someone/fork/\n  branch: dev\n", "utf-8"
    )
    assert launch.requirement(config) == "d2lrnn @ git+https://github.com/someone/fork@dev"
    assert "someone/fork@dev" in launch.setup_cell(config).source


def test_binder_installs_cpu_torch_the_pins_and_d2lrnn_only():
    binder = ROOT / "binder"
    lines = (binder / "requirements.txt").read_text("utf-8").splitlines()
    options = [line for line in lines if line.startswith("--")]
    assert options == ["--extra-index-url https://download.pytorch.org/whl/cpu"]
    course = pins(ROOT / "requirements.txt")
    wanted = pins(binder / "requirements.txt")
    assert wanted["torch"] == course["torch"] + "+cpu"
    assert {k: v for k, v in wanted.items() if k != "torch"} == {
        "numpy": course["numpy"],
        "matplotlib": course["matplotlib"],
    }
    # exactly the package's own dependencies, nothing of the build and test tools
    project = (ROOT / "pyproject.toml").read_text("utf-8")
    deps = re.search(r"^dependencies = \[(.*?)\]", project, re.M | re.S).group(1)
    names = {re.match(r"[A-Za-z0-9_.-]+", d.strip(' "')).group(0).lower()
             for d in deps.split(",") if d.strip()}
    assert set(wanted) == names


def test_binder_post_build_installs_this_checkout():
    post_build = ROOT / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable"
    commands = [
        shlex.split(line)
        for line in post_build.read_text("utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "set "))
    ]
    assert commands == [
        ["python", "-m", "pip", "install", "--no-deps", "--no-cache-dir", "."]
    ]
    assert (ROOT / "binder" / "runtime.txt").read_text("utf-8").strip() == "python-3.11"
    # git keeps the executable bit, so Binder can run it
    mode = subprocess.run(
        ["git", "ls-files", "-s", "binder/postBuild"], cwd=ROOT, capture_output=True,
        text=True,
    ).stdout.split()
    if mode:  # tracked (a fresh checkout); untracked in a working copy before commit
        assert mode[0] == "100755"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_compiles(path):
    nb = nbformat.read(path, as_version=4)
    compile(nb.cells[0].source, f"{path.name}:setup", "exec")
