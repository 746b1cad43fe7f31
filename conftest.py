"""Shared pytest configuration: per-notebook execution times in the summary."""

from __future__ import annotations

from collections import defaultdict

_notebook_seconds: dict[str, float] = defaultdict(float)
# Summary lines that tests record with record_property("summary", ...): a print from
# a test is lost under xdist, a user property reaches the controller.
_summaries: list[str] = []


def pytest_runtest_logreport(report):
    if report.when == "call":
        _summaries.extend(v for k, v in report.user_properties if k == "summary")
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    for line in _summaries:
        terminalreporter.write_line(line)
    if not _notebook_seconds:
        return
    terminalreporter.section("notebook execution times")
    for path, seconds in sorted(_notebook_seconds.items()):
        terminalreporter.write_line(f"{seconds:7.1f} s  {path}")
