"""The scheduling hints of conftest.py: tests/durations.json names real files."""

from __future__ import annotations

import json
from pathlib import Path

import conftest

ROOT = Path(__file__).resolve().parents[1]


def test_durations_name_existing_files_with_positive_seconds():
    times = json.loads((ROOT / "tests" / "durations.json").read_text())
    assert times, "tests/durations.json is empty"
    for path, seconds in times.items():
        assert (ROOT / path).is_file(), f"{path} in tests/durations.json is gone"
        assert isinstance(seconds, (int, float)) and seconds > 0, (path, seconds)


def test_every_notebook_is_listed():
    times = json.loads((ROOT / "tests" / "durations.json").read_text())
    notebooks = {str(p.relative_to(ROOT)) for p in (ROOT / "book").glob("*.ipynb")}
    assert notebooks <= set(times), sorted(notebooks - set(times))


class _Item:
    def __init__(self, nodeid):
        self.nodeid = nodeid


def test_collection_puts_long_files_first_and_keeps_order_inside_a_file():
    expected = conftest._expected_seconds()
    long_nb = max((p for p in expected if p.endswith(".ipynb")), key=expected.get)
    items = [_Item(n) for n in (
        "tests/test_utils.py::test_a", f"{long_nb}::Cell 0",
        "tests/test_utils.py::test_b", f"{long_nb}::Cell 1",
        "book/99_unlisted.ipynb::Cell 0")]
    conftest.pytest_collection_modifyitems(None, None, items)
    order = [item.nodeid for item in items]
    long_first = [f"{long_nb}::Cell 0", f"{long_nb}::Cell 1",
                  "book/99_unlisted.ipynb::Cell 0"]  # unlisted notebook: 180 s
    if expected[long_nb] < conftest.UNLISTED_NOTEBOOK_SECONDS:
        long_first = long_first[2:] + long_first[:2]
    assert order[:3] == long_first, order
    # the 1-s unit tests last, in their own order
    assert order[3:] == ["tests/test_utils.py::test_a", "tests/test_utils.py::test_b"]
