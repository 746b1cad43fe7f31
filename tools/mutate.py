"""Mutation testing of the d2lrnn package: do the unit tests notice a planted bug?

Run by hand (it is not part of the test command; a full run takes hours on two cores):

    python tools/mutate.py                          # every mutant of every module
    python tools/mutate.py --module ngram --module lm
    python tools/mutate.py --sample 40 --seed 0     # 40 random mutants per module
    python tools/mutate.py --module train --list-survivors
    python tools/mutate.py --dry-run --module utils # list the mutants, run nothing

Run it from the repository root with the test environment, e.g.
``D2LRNN_DATA_DIR=/path/to/mirror OMP_NUM_THREADS=1 nice -n 15 .venv/bin/python
tools/mutate.py``.

How it works. Each ``d2lrnn/<module>.py`` is parsed with ``ast`` and every mutant
is one small edit of its source text:

- arithmetic operators swapped (``+ -``, ``* /``, ``// /``, ``% //``, ``** *``, ...);
- comparisons swapped (``< >``, ``== !=``, ``is``/``is not``, ``in``/``not in``)
  and their boundaries moved (``<`` to ``<=`` and back, ``>`` to ``>=`` and back);
- constants changed: an int ``n`` to ``n + 1`` and ``n - 1`` (so 0 and 1 swap), a
  float likewise, ``True`` and ``False`` swapped;
- conditions of ``if``, ``while``, conditional expressions and comprehensions
  negated; ``not`` and unary minus removed; ``and`` and ``or`` swapped;
- statements removed (replaced by ``pass``): a call on its own line, a ``raise``,
  ``break``/``continue``, an augmented assignment, an assignment to an attribute or
  item, and an assignment that rebinds a name bound before in the same function;
- returned values replaced by ``None``;
- calls removed: ``x.method(...)`` becomes ``x``, ``f(a, ...)`` becomes ``a``;
- keyword arguments dropped, one at a time.

Not mutated: docstrings and other strings, type annotations, imports, decorators,
f-strings and the message of a ``raise`` (the removal of the ``raise`` is a
mutant), and ``strict=`` of ``zip`` (it only matters when another bug already
made the lengths differ).  Mutants whose text equals another's are counted once.

Each mutant is written into a copy of the package in a temporary directory that
comes first on ``PYTHONPATH`` (and ``sys.path``), and the unit tests that judge
its module (``TESTS`` below) run with ``-x -q -p no:cacheprovider``, Hypothesis
derandomized and without its example database, so a run is reproducible.  A
guard plugin stops the run if ``d2lrnn`` was not imported from the copy, and runs
the tests fastest first (as timed in the baseline), so that ``-x`` stops early.
The unmutated copy must pass those tests first (the baseline); a mutant is *killed*
when a test fails or errors, or when it runs past the time limit
(``--timeout-factor`` times the baseline, at least the baseline plus 20 s).  By
default each test run is a fork of this process with torch and pytest already
imported (about 3 s less per mutant); ``--subprocess`` starts ``python -m
pytest`` instead.

A mutant that no test can notice because it changes nothing observable is
*equivalent*: it is listed with a one-line reason in ``tools/mutants_equivalent.txt``
(format in that file), keyed by module, function, original and mutated source
text, so an entry still matches after unrelated edits; entries that match no
mutant are reported as stale.  Per module the script prints the mutants
generated and run, the killed, equivalent and surviving ones and the score
killed / (mutants - equivalent).  ``--list-survivors`` prints each survivor as
a one-line diff; ``--json FILE`` saves every result.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "d2lrnn"
EQUIVALENT_FILE = ROOT / "tools" / "mutants_equivalent.txt"
MODULES = ["utils", "data", "text", "metrics", "ngram", "lm", "models", "gated",
           "fast", "plot", "diagram", "train", "gradients", "bptt", "regularize",
           "seq", "timescales", "arch", "recursive",
           "seq2seq", "memory", "linrec", "clockwork"]
# The unit tests that judge each module, most direct first (-x stops at the first
# failure). Files that do not exist (yet) are left out.
TESTS = {
    "utils": ["test_utils.py", "test_seeds.py"],
    "data": ["test_data.py"],
    "text": ["test_text.py", "test_d2l_parity.py"],
    "metrics": ["test_metrics.py", "test_ngram.py", "test_train.py"],
    "ngram": ["test_ngram.py"],
    "lm": ["test_lm.py", "test_d2l_parity.py"],
    "models": ["test_models.py", "test_gates.py", "test_d2l_parity.py",
               "test_bench.py"],  # the products the fast model runs
    "gated": ["test_gates.py", "test_models.py", "test_train.py"],
    "fast": ["test_fast.py", "test_models.py", "test_bench.py",
             "test_d2l_parity.py"],
    "plot": ["test_plot.py"],
    "diagram": ["test_plot.py"],
    "train": ["test_train.py", "test_gates.py", "test_d2l_parity.py"],
    "gradients": ["test_train.py", "test_gates.py"],
    "bptt": ["test_bptt.py"],
    "regularize": ["test_regularize.py"],
    "seq": ["test_seq.py"],
    "timescales": ["test_timescales.py", "test_timescales_scan.py"],
    "arch": ["test_arch.py"],
    "recursive": ["test_recursive.py"],
    "seq2seq": ["test_seq2seq.py"],
    "memory": ["test_memory.py"],
    "linrec": ["test_linrec.py", "test_timescales_scan.py"],
    "clockwork": ["test_clockwork.py"],
}
SHARED_TESTS = ["test_bad_input.py"]  # argument checks of every module
PYTEST_ARGS = ["-x", "-q", "-p", "no:cacheprovider", "--import-mode=append",
               "-p", "_mutate_guard"]
GUARD_EXIT = 99  # the guard plugin's exit status: d2lrnn was not the copy

BINOPS = {  # operator -> (its token, the operators it becomes)
    ast.Add: ("+", [ast.Sub]), ast.Sub: ("-", [ast.Add]),
    ast.Mult: ("*", [ast.Div]), ast.Div: ("/", [ast.Mult]),
    ast.FloorDiv: ("//", [ast.Div]), ast.Mod: ("%", [ast.FloorDiv]),
    ast.Pow: ("**", [ast.Mult]), ast.MatMult: ("@", [ast.Mult]),
    ast.BitAnd: ("&", [ast.BitOr]), ast.BitOr: ("|", [ast.BitAnd]),
    ast.BitXor: ("^", [ast.BitAnd]), ast.LShift: ("<<", [ast.RShift]),
    ast.RShift: (">>", [ast.LShift]),
}
TOKENS = {op: token for op, (token, _) in BINOPS.items()}
CMPOPS = {
    ast.Lt: ("<", [ast.LtE, ast.Gt]), ast.LtE: ("<=", [ast.Lt, ast.GtE]),
    ast.Gt: (">", [ast.GtE, ast.Lt]), ast.GtE: (">=", [ast.Gt, ast.LtE]),
    ast.Eq: ("==", [ast.NotEq]), ast.NotEq: ("!=", [ast.Eq]),
    ast.Is: ("is", [ast.IsNot]), ast.IsNot: ("is not", [ast.Is]),
    ast.In: ("in", [ast.NotIn]), ast.NotIn: ("not in", [ast.In]),
}
TOKENS.update({op: token for op, (token, _) in CMPOPS.items()})
# f(a, ...) -> a is no mutant for these: their result is no "wrapped" a.
KEEP_CALLS = {"isinstance", "issubclass", "hasattr", "getattr", "len", "range",
              "enumerate", "zip", "super", "type", "iter", "next", "print", "repr",
              "str", "open", "sorted", "reversed", "min", "max", "sum", "all", "any"}
SKIP_KEYWORDS = {"strict"}
ATOMIC = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant,
          ast.List, ast.Tuple, ast.Dict, ast.Set)


@dataclasses.dataclass
class Mutant:
    module: str
    qualname: str
    lineno: int
    kind: str
    original: str  # the changed source lines, whitespace collapsed
    mutated: str  # the same lines after the edit
    source: str = dataclasses.field(repr=False)  # the whole mutated module
    status: str = "pending"  # killed, timeout, survived, equivalent, skipped
    reason: str = ""
    seconds: float = 0.0

    @property
    def key(self) -> tuple[str, str, str, str]:
        return self.module, self.qualname, self.original, self.mutated

    def describe(self) -> str:
        return (f"{self.module}.py:{self.lineno} {self.qualname} [{self.kind}]\n"
                f"    - {self.original}\n    + {self.mutated}")


def _root(node: ast.expr) -> str:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _dotted(node: ast.expr) -> bool:
    """Whether ``node`` is a name or a dotted name such as ``torch.linalg``."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def _squash(text: str) -> str:
    return " ".join(text.split())


class _Generator(ast.NodeVisitor):
    """Collect the edits (byte span, replacement, kind) of one module."""

    def __init__(self, module: str, source: str) -> None:
        self.module = module
        self.source = source
        self.data = source.encode("utf-8")
        self.line_starts = [0]
        for line in self.data.splitlines(keepends=True):
            self.line_starts.append(self.line_starts[-1] + len(line))
        self.stack: list[str] = []
        self.bound: list[set[str]] = [set()]  # names bound so far, per function
        self.import_names: set[str] = set()
        self.edits: list[tuple[int, int, str, str, str, int]] = []

    # -- positions and text ------------------------------------------------------
    def off(self, lineno: int, col: int) -> int:
        return self.line_starts[lineno - 1] + col

    def start(self, node: ast.AST) -> int:
        return self.off(node.lineno, node.col_offset)

    def end(self, node: ast.AST) -> int:
        return self.off(node.end_lineno, node.end_col_offset)

    def text(self, node: ast.AST) -> str:
        return self.data[self.start(node):self.end(node)].decode("utf-8")

    def wrapped(self, node: ast.AST) -> str:
        text = self.text(node)
        return text if isinstance(node, ATOMIC) else f"({text})"

    def add(self, start: int, end: int, replacement: str, kind: str,
            node: ast.AST) -> None:
        qualname = ".".join(self.stack) or "<module>"
        self.edits.append((start, end, replacement, kind, qualname, node.lineno))

    def token_between(self, a: int, b: int, token: str) -> int | None:
        """Byte offset of ``token`` in data[a:b] (comments blanked), or None."""
        gap = self.data[a:b].decode("utf-8")
        gap = re.sub(r"#[^\n]*", lambda m: " " * len(m.group().encode()), gap)
        pattern = re.escape(token).replace(r"\ ", r"\s+")
        if token[0].isalpha():
            pattern = rf"\b{pattern}\b"
        found = list(re.finditer(pattern, gap))
        if len(found) != 1:
            return None
        return a + len(gap[:found[0].start()].encode())

    def replace_token(self, a: int, b: int, old: str, new: str, kind: str,
                      node: ast.AST) -> None:
        pos = self.token_between(a, b, old)
        if pos is not None:
            self.add(pos, pos + len(old.encode()), new, kind, node)

    # -- contexts that are never mutated ------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.import_names.add((alias.asname or alias.name).split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            self.import_names.add(alias.asname or alias.name)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        pass

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)

    def visit_Assign(self, node: ast.Assign) -> None:
        targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if "__all__" in targets:
            return
        rebinds = any(
            isinstance(t, (ast.Attribute, ast.Subscript))
            or any(isinstance(n, ast.Name) and n.id in self.bound[-1]
                   for n in ast.walk(t))
            for t in node.targets)
        if rebinds and self.stack:
            self.add(self.start(node), self.end(node), "pass", "remove statement",
                     node)
        self.generic_visit(node)
        for target in node.targets:
            self.bind(target)

    def bind(self, target: ast.AST) -> None:
        for sub in ast.walk(target):
            if isinstance(sub, ast.Name):
                self.bound[-1].add(sub.id)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self.bind(node.target)
        for stmt in node.body + node.orelse:
            self.visit(stmt)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.stack.append(node.name)
        args = node.args
        names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        self.bound.append(names)
        for default in args.defaults + [d for d in args.kw_defaults if d]:
            self.visit(default)
        body = node.body
        if (body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            body = body[1:]  # the docstring
        for stmt in body:
            self.visit(stmt)
        self.bound.pop()
        self.stack.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.stack.append(node.name)
        for stmt in node.body:
            if not (isinstance(stmt, ast.Expr)
                    and isinstance(stmt.value, ast.Constant)):
                self.visit(stmt)
        self.stack.pop()

    # -- statements ------------------------------------------------------------
    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Constant):
            return  # a docstring or a bare literal
        if isinstance(node.value, ast.Call):
            self.add(self.start(node), self.end(node), "pass", "remove call", node)
            self.visit_Call(node.value, statement=True)
        else:
            self.generic_visit(node)

    def visit_Raise(self, node: ast.Raise) -> None:
        self.add(self.start(node), self.end(node), "pass", "remove raise", node)

    def visit_Break(self, node: ast.Break) -> None:
        self.add(self.start(node), self.end(node), "pass", "remove break", node)

    def visit_Continue(self, node: ast.Continue) -> None:
        self.add(self.start(node), self.end(node), "pass", "remove continue", node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.add(self.start(node), self.end(node), "pass", "remove statement", node)
        token, news = BINOPS[type(node.op)]
        pos = self.token_between(self.end(node.target), self.start(node.value),
                                 token + "=")
        if pos is not None:
            for new in news:
                self.add(pos, pos + len(token), TOKENS[new], "arithmetic", node)
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        if node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            self.add(self.start(node.value), self.end(node.value), "None",
                     "return None", node)
        self.generic_visit(node)

    def negate(self, test: ast.expr) -> None:
        self.add(self.start(test), self.end(test), f"not ({self.text(test)})",
                 "negate condition", test)

    def visit_If(self, node: ast.If) -> None:
        self.negate(node.test)
        self.generic_visit(node)

    visit_While = visit_If

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self.negate(node.test)
        self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        for test in node.ifs:
            self.negate(test)
        self.generic_visit(node)

    # -- expressions -----------------------------------------------------------
    def visit_BinOp(self, node: ast.BinOp) -> None:
        token, news = BINOPS[type(node.op)]
        pos = self.token_between(self.end(node.left), self.start(node.right), token)
        if pos is not None:
            for new in news:
                self.add(pos, pos + len(token), TOKENS[new], "arithmetic", node)
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            token, news = CMPOPS[type(op)]
            for new in news:
                kind = ("boundary" if {type(op), new} in
                        ({ast.Lt, ast.LtE}, {ast.Gt, ast.GtE}) else "comparison")
                self.replace_token(self.end(left), self.start(right), token,
                                   TOKENS[new], kind, node)
            left = right
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
        spans = []
        for a, b in zip(node.values, node.values[1:], strict=False):
            pos = self.token_between(self.end(a), self.start(b), old)
            if pos is None:
                break
            spans.append(pos)
        else:  # one mutant swaps every `and` of the expression
            text = self.data[self.start(node):self.end(node)]
            for pos in reversed(spans):
                rel = pos - self.start(node)
                text = text[:rel] + new.encode() + text[rel + len(old):]
            self.add(self.start(node), self.end(node), text.decode("utf-8"),
                     "and/or", node)
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, (ast.Not, ast.USub)):
            kind = "remove not" if isinstance(node.op, ast.Not) else "remove minus"
            self.add(self.start(node), self.end(node), self.wrapped(node.operand),
                     kind, node)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool):
            news = [repr(not value)]
        elif isinstance(value, int):
            news = [repr(value + 1), repr(value - 1)]
        elif isinstance(value, float):
            news = [repr(value + 1.0), repr(value - 1.0)]
        else:
            return
        for new in news:
            text = f"({new})" if new.startswith("-") else new
            self.add(self.start(node), self.end(node), text, "constant", node)

    def visit_Call(self, node: ast.Call, statement: bool = False) -> None:
        func = node.func
        if not statement and isinstance(func, ast.Attribute):
            module_path = (_dotted(func.value)
                           and _root(func.value) in self.import_names)
            if not module_path and not (isinstance(func.value, ast.Name)
                                        and func.value.id in ("self", "cls")):
                self.add(self.start(node), self.end(node), self.wrapped(func.value),
                         "remove call", node)
        name = func.id if isinstance(func, ast.Name) else (
            func.attr if isinstance(func, ast.Attribute) else "")
        is_function = isinstance(func, ast.Name) or (
            _dotted(func) and _root(func) in self.import_names)
        if (not statement and is_function and node.args
                and name not in KEEP_CALLS
                and not isinstance(node.args[0], ast.Starred)
                and not (isinstance(node.args[0], ast.Constant)
                         and isinstance(node.args[0].value, str))):
            self.add(self.start(node), self.end(node), self.wrapped(node.args[0]),
                     "remove call", node)
        arguments = sorted(node.args + node.keywords,
                           key=lambda n: (n.lineno, n.col_offset))
        for i, arg in enumerate(arguments):
            if not isinstance(arg, ast.keyword) or arg.arg is None \
                    or arg.arg in SKIP_KEYWORDS:
                continue
            if i > 0:
                a, b = self.end(arguments[i - 1]), self.end(arg)
            elif i + 1 < len(arguments):
                a, b = self.start(arg), self.start(arguments[i + 1])
            else:
                a, b = self.start(arg), self.end(arg)
            self.add(a, b, "", f"drop {arg.arg}=", arg)
        self.visit(func)
        for arg in node.args:
            self.visit(arg)
        for kw in node.keywords:
            if kw.arg not in SKIP_KEYWORDS:
                self.visit(kw.value)


def generate(module: str, source: str | None = None) -> list[Mutant]:
    """All distinct mutants of ``d2lrnn/<module>.py``, in source order."""
    if source is None:
        source = (PACKAGE / f"{module}.py").read_text(encoding="utf-8")
    gen = _Generator(module, source)
    gen.visit(ast.parse(source))
    data, seen, mutants = gen.data, {hashlib.sha1(gen.data).digest()}, []
    for start, end, replacement, kind, qualname, lineno in sorted(
            gen.edits, key=lambda e: (e[0], e[1])):
        new = data[:start] + replacement.encode() + data[end:]
        digest = hashlib.sha1(new).digest()
        if digest in seen:
            continue
        try:
            ast.parse(new)
        except SyntaxError:
            continue
        seen.add(digest)
        # the whole lines the edit touches, before and after
        lo = data.rfind(b"\n", 0, start) + 1
        hi = data.find(b"\n", end)
        hi = len(data) if hi < 0 else hi
        original = data[lo:hi].decode("utf-8")
        mutated = (data[lo:start] + replacement.encode() + data[end:hi]).decode()
        mutants.append(Mutant(module, qualname, lineno, kind, _squash(original),
                              _squash(mutated), new.decode("utf-8")))
    return mutants


# -- equivalent mutants ---------------------------------------------------------

def read_equivalent(path: Path = EQUIVALENT_FILE
                    ) -> dict[tuple[str, str, str, str], str]:
    """Parse the equivalent-mutant file: key -> reason."""
    entries: dict[tuple[str, str, str, str], str] = {}
    if not path.exists():
        return entries
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines()
             if not ln.startswith("#")]
    blocks = "\n".join(lines).split("\n\n")
    for block in blocks:
        rows = [r.strip() for r in block.strip().splitlines()]
        if not rows:
            continue
        match = re.fullmatch(r"\[(\w+)\] (\S+)", rows[0])
        if len(rows) != 4 or match is None or not rows[1].startswith("- ") \
                or not rows[2].startswith("+ ") or not rows[3].startswith("= ") \
                or not rows[3][2:].strip():
            raise SystemExit(f"{path}: bad entry (want '[module] function', "
                             f"'- original', '+ mutated', '= reason'):\n{block}")
        key = (match[1], match[2], _squash(rows[1][2:]), _squash(rows[2][2:]))
        entries[key] = rows[3][2:].strip()
    return entries


def format_equivalent(mutant: Mutant, reason: str = "REASON") -> str:
    return (f"[{mutant.module}] {mutant.qualname}\n- {mutant.original}\n"
            f"+ {mutant.mutated}\n= {reason}\n")


# -- running the tests ----------------------------------------------------------

GUARD = '''\
"""pytest plugin of tools/mutate.py: reproducible Hypothesis, the copy imported."""
import json
import os
import sys

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "mutate", derandomize=True, database=None, deadline=None, print_blob=False,
    suppress_health_check=list(HealthCheck))
settings.load_profile("mutate")


TIMES = os.environ["D2LRNN_MUTANT_TIMES"]
_seconds = {}


def pytest_collection_modifyitems(session, config, items):
    """Fastest tests first (as timed in the baseline): -x then stops sooner."""
    if os.path.exists(TIMES):
        with open(TIMES, encoding="utf-8") as f:
            seconds = json.load(f)
        items.sort(key=lambda item: seconds.get(item.nodeid, 0.0))


def pytest_runtest_logreport(report):
    _seconds[report.nodeid] = _seconds.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session, exitstatus):
    if not os.path.exists(TIMES) and exitstatus == 0:
        with open(TIMES, "w", encoding="utf-8") as f:
            json.dump(_seconds, f)


def pytest_collection_finish(session):
    expected = os.environ["D2LRNN_MUTANT_DIR"]
    module = sys.modules.get("d2lrnn")
    if module is None:  # the import failed: collection errors fail the run
        return
    path = os.path.realpath(getattr(module, "__file__", None) or "?")
    if not path.startswith(expected + os.sep):
        pytest.exit(f"d2lrnn was imported from {path}, not from {expected}",
                    returncode=GUARD_EXIT)
'''.replace("GUARD_EXIT", str(GUARD_EXIT))


class Runner:
    """A copy of the package in a temporary directory, and the test runs on it."""

    def __init__(self, use_fork: bool) -> None:
        self.use_fork = use_fork
        self.dir = Path(tempfile.mkdtemp(prefix="d2lrnn-mutants-")).resolve()
        shutil.copytree(PACKAGE, self.dir / "d2lrnn",
                        ignore=shutil.ignore_patterns("__pycache__"))
        (self.dir / "_mutate_guard.py").write_text(GUARD, encoding="utf-8")
        self.log = self.dir / "last_run.log"
        path = os.environ.get("PYTHONPATH")
        self.env = dict(os.environ, D2LRNN_MUTANT_DIR=str(self.dir),
                        PYTHONPATH=os.pathsep.join(
                            [str(self.dir)] + ([path] if path else [])),
                        PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
        self.env.setdefault("OMP_NUM_THREADS", "1")
        self.env.setdefault("MKL_NUM_THREADS", self.env["OMP_NUM_THREADS"])
        if use_fork:  # paid once here instead of once per mutant
            os.environ.update(self.env)
            import hypothesis  # noqa: F401
            import numpy  # noqa: F401
            import pytest  # noqa: F401
            import torch  # noqa: F401

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, module: str, source: str) -> None:
        (self.dir / "d2lrnn" / f"{module}.py").write_text(source, encoding="utf-8")
        shutil.rmtree(self.dir / "d2lrnn" / "__pycache__", ignore_errors=True)

    def run(self, tests: list[str], limit: float, times: str
            ) -> tuple[int | None, float]:
        """Run pytest on ``tests``; return (exit status or None on timeout, s).

        ``times`` names the file of the baseline's test durations (written by
        the first run, the baseline; later runs order the tests by it).
        """
        args = [str(ROOT / "tests" / t) for t in tests] + PYTEST_ARGS
        self.env["D2LRNN_MUTANT_TIMES"] = os.environ["D2LRNN_MUTANT_TIMES"] = str(
            self.dir / times)
        start = time.monotonic()
        with open(self.log, "wb") as log:
            if self.use_fork:
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:  # the child: run pytest on the copy, never return
                    code = 3
                    try:
                        os.setpgrp()
                        signal.signal(signal.SIGTERM, signal.SIG_DFL)
                        os.dup2(log.fileno(), 1)
                        os.dup2(log.fileno(), 2)
                        os.chdir(self.dir)
                        sys.path.insert(0, str(self.dir))
                        import pytest

                        code = int(pytest.main(args))
                    finally:
                        sys.stdout.flush()
                        sys.stderr.flush()
                        os._exit(code)
                status = self._wait(pid, start + limit)
            else:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "pytest", *args], cwd=self.dir,
                    env=self.env, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True)
                try:
                    status = proc.wait(timeout=max(limit, 0.1))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    status = None
        return status, time.monotonic() - start

    @staticmethod
    def _wait(pid: int, deadline: float) -> int | None:
        try:
            while time.monotonic() < deadline:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    return os.waitstatus_to_exitcode(status)
                time.sleep(0.02)
        except BaseException:  # interrupted: take the test run down with us
            _kill(pid)
            raise
        _kill(pid)
        return None


def _kill(pid: int) -> None:
    """Kill the test run ``pid`` (its own process group) and reap it."""
    for kill in (os.killpg, os.kill):  # its group, or itself if it has none yet
        try:
            kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os.waitpid(pid, 0)


def judges(module: str) -> list[str]:
    return [t for t in TESTS[module] + SHARED_TESTS
            if (ROOT / "tests" / t).exists()]


def score(killed: int, total: int, equivalent: int) -> str:
    rest = total - equivalent
    return f"{100 * killed / rest:6.1f}%" if rest else "     -"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--module", action="append", choices=MODULES,
                        help="a module to mutate (repeatable; default: all)")
    parser.add_argument("--sample", type=int, metavar="N",
                        help="run a random sample of N mutants per module")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the sample (default 0)")
    parser.add_argument("--list-survivors", action="store_true",
                        help="print each surviving mutant as a one-line diff")
    parser.add_argument("--dry-run", action="store_true",
                        help="list the mutants and run nothing")
    parser.add_argument("--timeout-factor", type=float, default=3.0,
                        help="time limit per mutant, in baselines (default 3)")
    parser.add_argument("--subprocess", action="store_true",
                        help="start python -m pytest per mutant instead of forking")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="write every mutant and its result to FILE")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print every mutant's result as it comes")
    args = parser.parse_args(argv)
    modules = args.module or MODULES
    equivalent = read_equivalent()
    used: set[tuple[str, str, str, str]] = set()
    generated: dict[str, list[Mutant]] = {}
    chosen: dict[str, list[Mutant]] = {}
    for module in modules:
        generated[module] = mutants = generate(module)
        for m in mutants:
            if m.key in equivalent:
                m.status, m.reason = "equivalent", equivalent[m.key]
                used.add(m.key)
        if args.sample is not None and args.sample < len(mutants):
            rng = random.Random(f"{args.seed}:{module}")
            picked = sorted(rng.sample(range(len(mutants)), args.sample))
            chosen[module] = [mutants[i] for i in picked]
        else:
            chosen[module] = mutants
    if args.dry_run:
        for module in modules:
            for m in chosen[module]:
                print(m.describe())
        listed = [m for module in modules for m in chosen[module]]
        print(f"{len(listed)} mutants, "
              f"{sum(m.status == 'equivalent' for m in listed)} of them equivalent")
        return 0
    for key in sorted(equivalent.keys() - used):
        if key[0] in modules:
            print(f"stale entry in {EQUIVALENT_FILE.name}: [{key[0]}] {key[1]}\n"
                  f"    - {key[2]}\n    + {key[3]}")
    # SIGTERM ends the run like Ctrl-C: the test run is killed, the copy removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    runner = Runner(use_fork=not args.subprocess)
    wall = time.monotonic()
    try:
        for module in modules:
            tests = judges(module)
            original = (PACKAGE / f"{module}.py").read_text(encoding="utf-8")
            status, base = runner.run(tests, 1800, f"{module}.times.json")
            if status != 0:
                print(runner.log.read_text(errors="replace")[-3000:])
                print(f"baseline of {module} ({' '.join(tests)}) is not green "
                      f"(exit status {status}); fix the tests first")
                return 2
            limit = max(args.timeout_factor * base, base + 20)
            todo = [m for m in chosen[module] if m.status == "pending"]
            print(f"{module}: {len(generated[module])} mutants, running "
                  f"{len(todo)} on {' '.join(tests)} (baseline {base:.1f} s, "
                  f"limit {limit:.0f} s)", flush=True)
            for i, m in enumerate(todo, 1):
                runner.write(module, m.source)
                status, m.seconds = runner.run(tests, limit, f"{module}.times.json")
                if status == GUARD_EXIT or status in (4, 5):
                    print(runner.log.read_text(errors="replace")[-3000:])
                    print(f"the test run failed to start (exit status {status})")
                    return 2
                m.status = ("timeout" if status is None else
                            "survived" if status == 0 else "killed")
                if args.verbose or m.status == "survived":
                    print(f"  [{i}/{len(todo)}] {m.status:8} {m.seconds:5.1f} s  "
                          f"{m.describe()}", flush=True)
                elif i % 50 == 0:
                    print(f"  [{i}/{len(todo)}] ...", flush=True)
            runner.write(module, original)
    finally:
        runner.close()
    minutes = (time.monotonic() - wall) / 60
    print(f"\n{'module':8} {'mutants':>7} {'sampled':>7} {'killed':>6} "
          f"{'equiv':>5} {'survived':>8} {'score':>7}")
    totals = [0, 0, 0, 0, 0]
    for module in modules:
        ms = chosen[module]
        killed = sum(m.status in ("killed", "timeout") for m in ms)
        equiv = sum(m.status == "equivalent" for m in ms)
        survived = sum(m.status == "survived" for m in ms)
        row = [len(generated[module]), len(ms), killed, equiv, survived]
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        print(f"{module:8} {row[0]:7} {row[1]:7} {killed:6} {equiv:5} "
              f"{survived:8} {score(killed, len(ms), equiv)}")
    print(f"{'all':8} {totals[0]:7} {totals[1]:7} {totals[2]:6} {totals[3]:5} "
          f"{totals[4]:8} {score(totals[2], totals[1], totals[3])}")
    print(f"({minutes:.1f} min; sample {args.sample}, seed {args.seed})"
          if args.sample is not None else f"({minutes:.1f} min)")
    if args.list_survivors:
        for module in modules:
            for m in chosen[module]:
                if m.status == "survived":
                    print(m.describe())
    if args.json:
        rows = [dataclasses.asdict(m) | {"source": None}
                for module in modules for m in chosen[module]]
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
