"""Tests for d2lrnn.seq: teacher-forcing inputs and scheduled sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

import d2lrnn as d2l

shapes = st.tuples(st.integers(1, 6), st.integers(1, 9))


def labels(shape, seed, high=5):
    return torch.randint(0, high, shape, generator=torch.Generator().manual_seed(seed))


# --- check_unit_interval --------------------------------------------------------


@given(st.floats(0, 1))
def test_check_unit_interval_returns_numbers_in_the_unit_interval(p):
    assert d2l.check_unit_interval("p", p) == p


def test_check_unit_interval_accepts_ints_and_numpy_floats():
    assert d2l.check_unit_interval("p", 1) == 1.0
    assert type(d2l.check_unit_interval("p", np.float32(0.5))) is float


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (-0.1, ValueError),
        (1.5, ValueError),
        (math.nan, ValueError),
        (math.inf, ValueError),
        (True, TypeError),
        ("0.5", TypeError),
        (None, TypeError),
        (torch.tensor(0.5), TypeError),
    ],
)
def test_check_unit_interval_names_the_argument_and_value(value, error):
    with pytest.raises(error, match=r"p_own must be.*got"):
        d2l.check_unit_interval("p_own", value)


# --- shift_right ----------------------------------------------------------------


@given(shapes, st.integers(0, 7), st.integers(0, 2**31 - 1))
def test_shift_right_moves_labels_one_step_behind_the_start(shape, first, seed):
    Y = labels(shape, seed)
    Y_prev = d2l.shift_right(Y, first)
    assert Y_prev.shape == Y.shape and Y_prev.dtype == torch.long
    assert (Y_prev[:, 0] == first).all()
    assert torch.equal(Y_prev[:, 1:], Y[:, :-1])


@settings(deadline=None)  # the first call of F.pad is slow
@given(shapes, st.integers(0, 7), st.integers(0, 2**31 - 1))
def test_shift_right_matches_torch_pad(shape, first, seed):
    Y = labels(shape, seed)
    expected = F.pad(Y, (1, 0), value=first)[:, :-1]
    torch.testing.assert_close(d2l.shift_right(Y, first), expected)


def test_shift_right_does_not_change_its_input():
    Y = labels((3, 4), 0)
    before = Y.clone()
    d2l.shift_right(Y, 9)
    assert torch.equal(Y, before)


@pytest.mark.parametrize(
    ("Y", "first", "error", "match"),
    [
        ([[0, 1]], 0, TypeError, "Y must be a tensor"),
        (torch.zeros(2, 3), 0, TypeError, "Y must be a long tensor.*float32"),
        (torch.zeros(2, 0, dtype=torch.long), 0, ValueError,
         r"Y must have at least one step, got shape \(2, 0\)"),
        (torch.zeros(4, dtype=torch.long), 0, ValueError, "Y must have shape"),
        (torch.zeros(2, 3, dtype=torch.long), -1, ValueError, "first must be >= 0"),
        (torch.zeros(2, 3, dtype=torch.long), 1.0, TypeError, "first must be an int"),
    ],
)
def test_shift_right_rejects_bad_input_naming_it(Y, first, error, match):
    with pytest.raises(error, match=match):
        d2l.shift_right(Y, first)


# --- scheduled_sampling_inputs ------------------------------------------------


@given(shapes, st.integers(0, 2**31 - 1))
def test_scheduled_sampling_inputs_at_zero_and_one_is_truth_and_own(shape, seed):
    truth, own = labels(shape, seed), labels(shape, seed + 1)
    assert torch.equal(d2l.scheduled_sampling_inputs(truth, own, 0.0), truth)
    assert torch.equal(d2l.scheduled_sampling_inputs(truth, own, 1), own)


@settings(max_examples=30)
@given(shapes, st.floats(0, 1), st.integers(0, 2**31 - 1))
def test_scheduled_sampling_inputs_takes_each_entry_from_one_of_the_two(
        shape, p_own, seed):
    truth, own = labels(shape, seed), labels(shape, seed + 1) + 10
    mixed = d2l.scheduled_sampling_inputs(
        truth, own, p_own, torch.Generator().manual_seed(seed))
    assert mixed.shape == truth.shape and mixed.dtype == truth.dtype
    assert ((mixed == truth) | (mixed == own)).all()


@settings(deadline=None)
@given(st.floats(0, 1), st.integers(0, 2**31 - 1))
def test_scheduled_sampling_inputs_matches_torch_bernoulli_draws(p_own, seed):
    truth, own = labels((4, 7), seed), labels((4, 7), seed + 1) + 10
    mixed = d2l.scheduled_sampling_inputs(
        truth, own, p_own, torch.Generator().manual_seed(seed))
    coins = torch.rand((4, 7), generator=torch.Generator().manual_seed(seed))
    expected = torch.where(coins < p_own, own, truth)
    torch.testing.assert_close(mixed, expected)


@pytest.mark.parametrize("p_own", [0.1, 0.5, 0.9])
def test_scheduled_sampling_inputs_picks_own_with_probability_p_own(p_own):
    n = 100_000
    truth, own = torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long)
    mixed = d2l.scheduled_sampling_inputs(
        truth, own, p_own, torch.Generator().manual_seed(0))
    sd = math.sqrt(p_own * (1 - p_own) / n)
    assert abs(mixed.float().mean().item() - p_own) < 5 * sd


def test_scheduled_sampling_inputs_is_reproducible_with_a_generator():
    truth, own = labels((5, 6), 0), labels((5, 6), 1)
    first = d2l.scheduled_sampling_inputs(
        truth, own, 0.5, torch.Generator().manual_seed(3))
    again = d2l.scheduled_sampling_inputs(
        truth, own, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(first, again)


@pytest.mark.parametrize(
    ("truth", "own", "p_own", "error", "match"),
    [
        ([0, 1], torch.tensor([0, 1]), 0.5, TypeError, "truth must be a tensor"),
        (torch.tensor([0, 1]), [0, 1], 0.5, TypeError, "own must be a tensor"),
        (torch.tensor([0, 1]), torch.tensor([0, 1, 1]), 0.5, ValueError,
         r"own must have shape \(2,\)"),
        (torch.tensor([0, 1]), torch.tensor([0.0, 1.0]), 0.5, TypeError,
         "own must have dtype torch.int64"),
        (torch.tensor([0, 1]), torch.tensor([0, 1]), 1.5, ValueError,
         "p_own must be <= 1, got 1.5"),
        (torch.tensor([0, 1]), torch.tensor([0, 1]), "half", TypeError,
         "p_own must be a real number"),
    ],
)
def test_scheduled_sampling_inputs_rejects_bad_input_naming_it(
        truth, own, p_own, error, match):
    with pytest.raises(error, match=match):
        d2l.scheduled_sampling_inputs(truth, own, p_own)


def test_scheduled_sampling_inputs_rejects_a_generator_of_another_kind():
    truth = torch.tensor([0, 1])
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        d2l.scheduled_sampling_inputs(truth, truth, 0.5, generator=0)


def test_scheduled_sampling_inputs_stays_on_the_labels_device():
    # the coins are drawn on the CPU; on another device they must follow the labels
    truth = torch.zeros(2, 3, dtype=torch.long, device="meta")
    own = torch.ones(2, 3, dtype=torch.long, device="meta")
    mixed = d2l.scheduled_sampling_inputs(truth, own, 0.5)
    assert mixed.device == truth.device and mixed.shape == truth.shape
