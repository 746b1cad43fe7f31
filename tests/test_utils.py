"""Tests for d2lrnn.utils: try_gpu, Timer, Accumulator, check_int, check_real."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import d2lrnn as d2l
from d2lrnn import utils


def test_try_gpu_returns_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert d2l.try_gpu() == torch.device("cpu")
    assert d2l.try_gpu(3) == torch.device("cpu")


def test_try_gpu_picks_existing_cuda_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert d2l.try_gpu() == torch.device("cuda:0")
    assert d2l.try_gpu(1) == torch.device("cuda:1")
    assert d2l.try_gpu(2) == torch.device("cpu")


@pytest.mark.parametrize("bad", [-1, -5])
def test_try_gpu_rejects_negative_index(bad):
    with pytest.raises(ValueError, match=str(bad)):
        d2l.try_gpu(bad)


@pytest.mark.parametrize("bad", [1.0, "0", None, True])
def test_try_gpu_rejects_non_int_index(bad):
    with pytest.raises(TypeError, match="i must be an int"):
        d2l.try_gpu(bad)


class FakeClock:
    """A perf_counter replacement that returns scripted times."""

    def __init__(self, *times: float) -> None:
        self.times = list(times)

    def __call__(self) -> float:
        return self.times.pop(0)


def test_timer_records_intervals(monkeypatch):
    clock = FakeClock(10.0, 10.0, 12.5, 20.0, 21.0, 30.0, 33.5)
    monkeypatch.setattr(utils.time, "perf_counter", clock)
    timer = d2l.Timer()  # starts at 10.0
    timer.start()  # restarts at 10.0
    assert timer.stop() == pytest.approx(2.5)
    timer.start()
    assert timer.stop() == pytest.approx(1.0)
    timer.start()
    assert timer.stop() == pytest.approx(3.5)
    assert timer.times == pytest.approx([2.5, 1.0, 3.5])
    assert timer.sum() == pytest.approx(7.0)
    assert timer.avg() == pytest.approx(7.0 / 3)
    assert timer.cumsum() == pytest.approx([2.5, 3.5, 7.0])
    assert clock.times == []


def test_timer_stop_measures_real_time():
    timer = d2l.Timer()
    elapsed = timer.stop()
    assert 0.0 <= elapsed < 1.0
    assert timer.times == [elapsed]


def test_timer_avg_of_no_intervals_is_zero():
    timer = d2l.Timer()
    assert timer.avg() == 0.0 and timer.sum() == 0.0 and timer.cumsum() == []


def test_accumulator_adds_resets_and_indexes():
    acc = d2l.Accumulator(3)
    acc.add(1, 2.5, torch.tensor(3.0))
    acc.add(4, 0.5, 1)
    assert [acc[0], acc[1], acc[2]] == [5.0, 3.0, 4.0]
    assert len(acc) == 3
    assert all(isinstance(v, float) for v in acc.data)
    acc.reset()
    assert acc.data == [0.0, 0.0, 0.0]


@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.integers(0, 10**6)), max_size=30))
def test_accumulator_matches_python_sums(rows):
    acc = d2l.Accumulator(2)
    for loss, count in rows:
        acc.add(loss, count)
    assert acc[0] == pytest.approx(math.fsum(r[0] for r in rows), abs=1e-6)
    assert acc[1] == sum(r[1] for r in rows)


def test_accumulator_rejects_wrong_number_of_values():
    acc = d2l.Accumulator(2)
    with pytest.raises(ValueError, match="expects 2 values, got 3"):
        acc.add(1, 2, 3)
    assert acc.data == [0.0, 0.0]


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_accumulator_rejects_bad_size(bad):
    with pytest.raises(ValueError, match="n must be a positive int"):
        d2l.Accumulator(bad)


def test_check_int_accepts_integers_and_names_bad_values():
    assert d2l.check_int("n", 3, 1) == 3
    value = d2l.check_int("n", np.int64(4), 0)
    assert value == 4 and type(value) is int
    with pytest.raises(TypeError, match="n must be an int, got True"):
        d2l.check_int("n", True, 0)
    with pytest.raises(TypeError, match="n must be an int, got 2.0"):
        d2l.check_int("n", 2.0, 0)
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        d2l.check_int("n", 0, 1)


def test_check_int_accepts_the_minimum_itself():
    assert d2l.check_int("n", 1, 1) == 1
    assert d2l.check_int("offset", 0, 0) == 0
    assert d2l.check_int("k", -3, -3) == -3
    with pytest.raises(ValueError, match="k must be >= -3, got -4"):
        d2l.check_int("k", -4, -3)


def test_accumulator_of_one_sum():
    acc = d2l.Accumulator(1)
    acc.add(2.5)
    acc.add(0.5)
    assert acc.data == [3.0] and len(acc) == 1
    with pytest.raises(ValueError, match="expects 1 values, got 2"):
        acc.add(1, 2)


def test_timer_totals_are_floats_even_without_intervals():
    timer = d2l.Timer()
    assert type(timer.sum()) is float and type(timer.avg()) is float
    assert timer.cumsum() == [] and isinstance(timer.cumsum(), list)


def test_check_real_bounds_hold_at_the_edge_as_their_names_say():
    assert d2l.check_real("k", 0, at_least=0) == 0.0  # >= includes the bound
    assert d2l.check_real("k", -0.0, at_least=0) == 0.0
    with pytest.raises(ValueError, match="lr must be finite and > 0, got 0"):
        d2l.check_real("lr", 0, above=0)  # > excludes it
    with pytest.raises(ValueError, match="p must be finite and < 1, got 1"):
        d2l.check_real("p", 1, below=1)
    assert d2l.check_real("p", 0.5, above=0, below=1) == 0.5


def test_num_params_counts_trainable_numbers_only():
    from torch import nn

    net = nn.Sequential(nn.Linear(3, 4), nn.GRU(4, 5))
    assert d2l.num_params(net) == 3 * 4 + 4 + 3 * (4 * 5 + 5 * 5 + 2 * 5)
    net[0].weight.requires_grad_(False)  # a frozen weight is not trained
    assert d2l.num_params(net) == 4 + 3 * (4 * 5 + 5 * 5 + 2 * 5)
    with pytest.raises(TypeError, match="net must be an nn.Module"):
        d2l.num_params([torch.zeros(3)])
