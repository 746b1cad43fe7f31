"""Seeds: every generator of the book and the package goes through d2l's helpers."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import d2lrnn as d2l

ROOT = Path(__file__).resolve().parents[1]
# Seeding a generator directly would escape $D2LRNN_SEED_OFFSET, and with it the
# perturbed pass (tests/perturbed).
DIRECT = re.compile(
    r"(?<![\w.])(torch\.manual_seed|torch\.cuda\.manual_seed\w*|random\.seed|"
    r"np\.random\.seed|np\.random\.default_rng|np\.random\.RandomState)\s*\(|"
    r"(?<!d2l)\.manual_seed\s*\(|torch\.Generator\s*\("
)


def _code_cells():
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for i, cell in enumerate(cells):
            if cell["cell_type"] == "code":
                yield f"{path.name} cell {i}", "".join(cell["source"])


def test_seeds_only_through_helpers_in_notebooks_and_package():
    offenders = []
    sources = list(_code_cells())
    sources += [(p.name, p.read_text(encoding="utf-8"))
                for p in sorted((ROOT / "d2lrnn").glob("*.py"))]
    for where, source in sources:
        if "def _shifted_seed" in source:  # the helpers themselves
            continue
        offenders += [f"{where}: {m.group(0)}" for m in DIRECT.finditer(source)]
    assert not offenders, offenders


def test_seed_offset_shifts_every_helper(monkeypatch):
    monkeypatch.delenv(d2l.SEED_OFFSET_VAR, raising=False)
    assert d2l.manual_seed(3) == 3
    base = (random.random(), np.random.rand(), torch.rand(()).item())
    torch_base = torch.rand(3, generator=d2l.generator(3))
    numpy_base = d2l.numpy_rng(3).random(3)
    monkeypatch.setenv(d2l.SEED_OFFSET_VAR, "101")
    assert d2l.manual_seed(3) == 104
    shifted = (random.random(), np.random.rand(), torch.rand(()).item())
    assert all(a != b for a, b in zip(base, shifted, strict=True))
    assert not torch.equal(torch.rand(3, generator=d2l.generator(3)), torch_base)
    assert not np.array_equal(d2l.numpy_rng(3).random(3), numpy_base)
    # the offset equals seeding with the sum
    monkeypatch.setenv(d2l.SEED_OFFSET_VAR, "0")
    torch.testing.assert_close(torch.rand(3, generator=d2l.generator(104)),
                               torch.rand(3, generator=d2l.generator(104)))
    expected = torch.rand(3, generator=d2l.generator(104))
    monkeypatch.setenv(d2l.SEED_OFFSET_VAR, "101")
    assert torch.equal(torch.rand(3, generator=d2l.generator(3)), expected)


def test_manual_seed_reproduces_all_three_generators(monkeypatch):
    monkeypatch.delenv(d2l.SEED_OFFSET_VAR, raising=False)
    draws = []
    for _ in range(2):
        d2l.manual_seed(7)
        draws.append((random.random(), np.random.rand(), torch.rand(()).item()))
    assert draws[0] == draws[1]


@pytest.mark.parametrize("value", ["-1", "1.5", "abc", " "])
def test_seed_offset_must_be_a_non_negative_int(monkeypatch, value):
    monkeypatch.setenv(d2l.SEED_OFFSET_VAR, value)
    with pytest.raises(ValueError, match="D2LRNN_SEED_OFFSET"):
        d2l.manual_seed(0)


@pytest.mark.parametrize("seed", [1.0, True, "0", None])
def test_seed_must_be_an_int(seed):
    for helper in (d2l.manual_seed, d2l.generator, d2l.numpy_rng):
        with pytest.raises(TypeError, match="seed must be an int"):
            helper(seed)


def test_seed_must_not_be_negative():
    for helper in (d2l.manual_seed, d2l.generator, d2l.numpy_rng):
        with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
            helper(-1)


@pytest.mark.parametrize("line", [
    "torch.manual_seed(0)", "random.seed(1)", "torch.Generator().manual_seed(2)",
    "np.random.default_rng(3)", "np.random.seed(4)", "g = torch.Generator()",
])
def test_direct_seeding_is_detected(line):
    assert DIRECT.search(line), line


@pytest.mark.parametrize("line", [
    "d2l.manual_seed(0)", "d2l.generator(1)", "d2l.numpy_rng(2)", "manual_seed(3)",
])
def test_helper_calls_are_allowed(line):
    assert not DIRECT.search(line), line


def test_seed_offset_may_carry_spaces(monkeypatch):
    monkeypatch.setenv(d2l.SEED_OFFSET_VAR, " 12 ")
    assert d2l.manual_seed(3) == 15
    monkeypatch.setenv(d2l.SEED_OFFSET_VAR, "0")
    assert d2l.manual_seed(3) == 3


@pytest.mark.parametrize("seed", [2**31 + 5, 2**32 + 5])
def test_manual_seed_folds_large_seeds_into_numpys_range(monkeypatch, seed):
    monkeypatch.delenv(d2l.SEED_OFFSET_VAR, raising=False)
    assert d2l.manual_seed(seed) == seed
    draws = (random.random(), np.random.rand(), torch.rand(()).item())
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    assert draws == (random.random(), np.random.rand(), torch.rand(()).item())


def test_generator_is_made_on_the_device_with_the_shifted_seed(monkeypatch):
    made = []

    class FakeGenerator:
        def __init__(self, device="cpu"):
            made.append(device)

        def manual_seed(self, seed):
            made.append(seed)
            return self

    monkeypatch.setenv(d2l.SEED_OFFSET_VAR, "10")
    monkeypatch.setattr(torch, "Generator", FakeGenerator)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)  # cuda:1 exists
    assert isinstance(d2l.generator(3, device="cuda:1"), FakeGenerator)
    d2l.generator(4)
    assert made == [torch.device("cuda:1"), 13, torch.device("cpu"), 14]


def test_numpy_rng_is_default_rng_of_the_shifted_seed(monkeypatch):
    monkeypatch.setenv(d2l.SEED_OFFSET_VAR, "5")
    rng = d2l.numpy_rng(2)
    assert isinstance(rng, np.random.Generator)
    assert np.array_equal(rng.random(4), np.random.default_rng(7).random(4))
