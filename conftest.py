"""Shared pytest configuration: test files ordered by their expected time, longest
first, and per-file execution times in the summary.

Under ``pytest -n 2 --dist loadfile --no-loadscope-reorder`` (scripts/test.sh) each
file runs whole on one worker, and the workers take files in collection order. Long
notebooks taken last leave one worker busy while the other idles, so files are
collected longest first, by the seconds recorded in ``tests/durations.json`` (a file
not listed there counts as 180 s if it is a notebook, the time a new one is
allowed, and as 1 s otherwise). The order
changes no result, only how well the two workers share the time. To refresh the
file from a run: ``D2LRNN_WRITE_DURATIONS=tests/durations.json bash scripts/test.sh``.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DURATIONS = ROOT / "tests" / "durations.json"
UNLISTED_NOTEBOOK_SECONDS, UNLISTED_SECONDS = 180.0, 1.0

_file_seconds: dict[str, float] = defaultdict(float)
# Summary lines that tests record with record_property("summary", ...): a print from
# a test is lost under xdist, a user property reaches the controller.
_summaries: list[str] = []


def _expected_seconds() -> dict[str, float]:
    if not DURATIONS.exists():
        return {}
    return {str(k): float(v) for k, v in json.loads(DURATIONS.read_text()).items()}


def pytest_collection_modifyitems(session, config, items):
    expected = _expected_seconds()

    def key(item):
        path = item.nodeid.split("::", 1)[0]
        unlisted = (UNLISTED_NOTEBOOK_SECONDS if path.endswith(".ipynb")
                    else UNLISTED_SECONDS)
        return -expected.get(path, unlisted)

    items.sort(key=key)  # stable: the order inside a file is kept


def pytest_runtest_logreport(report):
    if report.when == "call":
        _summaries.extend(v for k, v in report.user_properties if k == "summary")
    _file_seconds[report.nodeid.split("::", 1)[0]] += report.duration


def pytest_terminal_summary(terminalreporter):
    for line in _summaries:
        terminalreporter.write_line(line)
    if not _file_seconds:
        return
    terminalreporter.section("execution times per file (notebooks and files over 5 s)")
    for path, seconds in sorted(_file_seconds.items(), key=lambda kv: -kv[1]):
        if path.endswith(".ipynb") or seconds > 5:
            terminalreporter.write_line(f"{seconds:7.1f} s  {path}")
    target = os.environ.get("D2LRNN_WRITE_DURATIONS")
    if target:
        times = {p: round(s, 1) for p, s in sorted(_file_seconds.items()) if s > 1}
        Path(target).write_text(json.dumps(times, indent=1) + "\n")
        terminalreporter.write_line(f"wrote {len(times)} file times to {target}")
