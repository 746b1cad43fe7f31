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


# --- pad_sequences, length_mask, check_lengths ---------------------------------

token_lists = st.lists(st.lists(st.integers(0, 9), max_size=7), min_size=1, max_size=6)


@given(token_lists, st.integers(0, 20))
def test_pad_sequences_keeps_every_list_and_fills_with_pad(seqs, pad):
    Y, lengths = d2l.pad_sequences(seqs, pad)
    assert Y.dtype == torch.long and lengths.tolist() == [len(s) for s in seqs]
    assert Y.shape == (len(seqs), max(len(s) for s in seqs))
    for row, seq in zip(Y.tolist(), seqs, strict=True):
        assert row[: len(seq)] == seq and set(row[len(seq) :]) <= {pad}


@given(st.lists(st.integers(0, 9), min_size=1, max_size=8), st.integers(0, 9))
def test_length_mask_matches_a_loop(lengths, extra):
    num_steps = max(lengths) + extra
    mask = d2l.length_mask(torch.tensor(lengths), num_steps)
    loop = [[t < n for t in range(num_steps)] for n in lengths]
    assert mask.dtype == torch.bool and mask.tolist() == loop


@pytest.mark.parametrize(
    ("lengths", "num_steps", "error", "match"),
    [
        ([1, 2], 3, TypeError, "lengths must be a tensor"),
        (torch.tensor([1.0, 2.0]), 3, TypeError, "lengths must be a long tensor"),
        (torch.tensor([[1, 2]]), 3, ValueError, "lengths must have shape"),
        (torch.tensor([1, -1]), 3, ValueError, "lengths must be >= 0, got -1"),
        (
            torch.tensor([1, 4]),
            3,
            ValueError,
            "lengths must be <= num_steps = 3, got 4",
        ),
        (torch.tensor([1, 2]), -1, ValueError, "num_steps must be >= 0"),
        (torch.tensor([1, 2]), 2.0, TypeError, "num_steps must be an int"),
    ],
)
def test_length_mask_rejects_bad_input_naming_it(lengths, num_steps, error, match):
    with pytest.raises(error, match=match):
        d2l.length_mask(lengths, num_steps)


@pytest.mark.parametrize(
    ("seqs", "pad", "error", "match"),
    [
        ([], 0, TypeError, "seqs must be a non-empty list"),
        ("abc", 0, TypeError, "seqs must be a non-empty list"),
        ([[1, 2], "ab"], 0, TypeError, r"seqs\[1\] must be a list of ints"),
        ([[1, -2]], 0, TypeError, r"seqs\[0\] must be a list of ints >= 0"),
        ([[1, True]], 0, TypeError, r"seqs\[0\] must be a list of ints"),
        ([[1, 2]], -1, ValueError, "pad must be >= 0"),
        ([[1, 2]], None, TypeError, "pad must be an int"),
    ],
)
def test_pad_sequences_rejects_bad_input_naming_it(seqs, pad, error, match):
    with pytest.raises(error, match=match):
        d2l.pad_sequences(seqs, pad)


# --- sequence_nll and stop_nll against torch built-ins ---------------------------


@settings(deadline=None)
@given(
    st.integers(1, 5), st.integers(1, 8), st.integers(2, 6), st.integers(0, 2**31 - 1)
)
def test_sequence_nll_matches_cross_entropy_with_ignore_index(n, steps, vocab, seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, steps, vocab, generator=g, dtype=torch.float64)
    labels_ = torch.randint(0, vocab, (n, steps), generator=g)
    lengths = torch.randint(0, steps + 1, (n,), generator=g)
    mask = d2l.length_mask(lengths, steps)
    ignored = torch.where(mask, labels_, -100)
    expected = F.cross_entropy(
        logits.transpose(1, 2), ignored, reduction="none", ignore_index=-100
    ).sum(1)
    torch.testing.assert_close(d2l.sequence_nll(logits, labels_, mask), expected)


def test_sequence_nll_ignores_minus_inf_outside_the_mask_and_its_gradient_is_finite():
    logits = torch.tensor([[[0.0, -math.inf], [-math.inf, 0.0]]], requires_grad=True)
    mask = torch.tensor([[True, False]])
    nll = d2l.sequence_nll(logits, torch.tensor([[0, 0]]), mask)
    nll.sum().backward()
    assert nll.item() == 0.0 and torch.isfinite(logits.grad).all()


@settings(deadline=None)
@given(st.integers(1, 5), st.integers(1, 8), st.integers(0, 2**31 - 1))
def test_stop_nll_matches_binary_cross_entropy(n, steps, seed):
    g = torch.Generator().manual_seed(seed)
    stop_logits = torch.randn(n, steps + 1, generator=g, dtype=torch.float64)
    lengths = torch.randint(0, steps + 1, (n,), generator=g)
    expected = torch.zeros(n, dtype=torch.float64)
    for i, L in enumerate(lengths.tolist()):  # continue L times, then stop
        targets = torch.tensor([0.0] * L + [1.0], dtype=torch.float64)
        expected[i] = F.binary_cross_entropy_with_logits(
            stop_logits[i, : L + 1], targets, reduction="sum"
        )
    torch.testing.assert_close(d2l.stop_nll(stop_logits, lengths), expected)


def test_stop_nll_gives_a_distribution_over_lengths():
    stop_logits = torch.randn(1, 60, generator=torch.Generator().manual_seed(0))
    stop_logits += 1.0  # a likely stop: the tail beyond 59 is negligible
    probs = [
        (-d2l.stop_nll(stop_logits, torch.tensor([L]))).exp().item() for L in range(60)
    ]
    assert abs(sum(probs) - 1) < 1e-6


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: d2l.sequence_nll(
                torch.zeros(2, 3), torch.zeros(2, 3).long(), torch.ones(2, 3).bool()
            ),
            ValueError,
            "logits must have shape",
        ),
        (
            lambda: d2l.sequence_nll(
                torch.zeros(2, 3, 4), torch.zeros(2, 2).long(), torch.ones(2, 3).bool()
            ),
            ValueError,
            "labels must have shape",
        ),
        (
            lambda: d2l.sequence_nll(
                torch.zeros(2, 3, 4), torch.zeros(2, 3).long(), torch.ones(2, 3)
            ),
            TypeError,
            "mask bool",
        ),
        (
            lambda: d2l.sequence_nll(
                torch.zeros(2, 3, 4), torch.full((2, 3), 4), torch.ones(2, 3).bool()
            ),
            ValueError,
            "labels must hold indices",
        ),
        (
            lambda: d2l.stop_nll(torch.zeros(2, 3), torch.tensor([1, 3])),
            ValueError,
            r"lengths must be <= the steps of stop_logits - 1 = 2",
        ),
        (
            lambda: d2l.stop_nll(torch.zeros(2, 3), torch.tensor([1])),
            ValueError,
            "lengths must have shape",
        ),
    ],
)
def test_nll_helpers_reject_bad_input_naming_it(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- draw_tokens and sample_sequences ------------------------------------------


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_draw_tokens_follows_the_tempered_softmax(temperature):
    logits = torch.tensor([[0.0, 1.0, -1.0, 2.0]]).expand(200_000, -1)
    tokens = d2l.draw_tokens(logits, temperature, torch.Generator().manual_seed(1))
    freqs = torch.bincount(tokens, minlength=4) / len(tokens)
    expected = torch.softmax(logits[0] / temperature, dim=-1)
    assert (freqs - expected).abs().max() < 5 * math.sqrt(0.25 / len(tokens))


def test_draw_tokens_never_draws_a_token_of_probability_zero_and_is_greedy_at_zero():
    logits = torch.tensor([[-math.inf, 0.0, -math.inf, 0.0]]).expand(10_000, -1)
    tokens = d2l.draw_tokens(logits, 1.0, torch.Generator().manual_seed(0))
    assert set(tokens.tolist()) == {1, 3}
    assert d2l.draw_tokens(torch.tensor([[0.0, 3.0, 1.0]]), 0).tolist() == [1]


def test_draw_tokens_is_reproducible_with_a_generator():
    logits = torch.randn(50, 7, generator=torch.Generator().manual_seed(0))
    a = d2l.draw_tokens(logits, 1.0, torch.Generator().manual_seed(5))
    b = d2l.draw_tokens(logits, 1.0, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def markov_step(table):
    """A step function that draws the next token from a fixed table of logits."""

    def step(tokens, state):
        return table[tokens], state + 1

    return step


@settings(deadline=None, max_examples=40)
@given(
    st.integers(1, 12), st.integers(0, 4), st.floats(0, 3), st.integers(0, 2**31 - 1)
)
def test_sample_sequences_stops_at_eos_and_respects_the_length(
    num_steps, eos, temperature, seed
):
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(6, 5, generator=g)
    first = torch.full((30,), 5)
    Y, lengths = d2l.sample_sequences(
        markov_step(table),
        0,
        first,
        num_steps,
        eos=eos,
        temperature=temperature,
        generator=g,
    )
    assert Y.shape == (30, num_steps) and lengths.shape == (30,)
    for row, n in zip(Y.tolist(), lengths.tolist(), strict=True):
        assert 0 <= n <= num_steps
        assert eos not in row[:n]  # nothing before the length is the end
        assert all(v == eos for v in row[n:])  # from the first eos on: eos only


def test_sample_sequences_without_eos_runs_the_full_length_and_matches_a_loop():
    table = torch.randn(6, 6, generator=torch.Generator().manual_seed(0))
    first = torch.zeros(8, dtype=torch.long)
    calls = []

    def step(tokens, state):
        calls.append(state)
        return table[tokens], state + 1

    Y, lengths = d2l.sample_sequences(
        step, 0, first, 9, generator=torch.Generator().manual_seed(3)
    )
    assert calls == list(range(9)) and (lengths == 9).all()
    g, tokens, loop = torch.Generator().manual_seed(3), first, []
    for _ in range(9):
        tokens = d2l.draw_tokens(table[tokens], 1.0, g)
        loop.append(tokens)
    assert torch.equal(Y, torch.stack(loop, dim=1))


def test_sample_sequences_stops_calling_step_once_every_sequence_ended():
    calls = []

    def step(tokens, state):
        calls.append(1)
        return torch.tensor([[0.0, -math.inf]]).expand(len(tokens), -1), state

    Y, lengths = d2l.sample_sequences(
        step, None, torch.zeros(4, dtype=torch.long), 10, eos=0
    )
    assert len(calls) == 1 and (lengths == 0).all() and (Y == 0).all()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"step": 3}, TypeError, "step must be callable"),
        (
            {"first": torch.zeros(0, dtype=torch.long)},
            ValueError,
            "first must be a non-empty long",
        ),
        ({"first": torch.zeros(3)}, ValueError, "first must be a non-empty long"),
        ({"num_steps": 0}, ValueError, "num_steps must be >= 1"),
        ({"eos": -1}, ValueError, "eos must be >= 0"),
        ({"eos": 9}, ValueError, "eos=9 is not a token of the step's 6 logits"),
        ({"temperature": -1.0}, ValueError, "temperature must be"),
        ({"temperature": math.nan}, ValueError, "temperature must be"),
        ({"generator": 3}, TypeError, "generator must be a torch.Generator"),
    ],
)
def test_sample_sequences_rejects_bad_input_naming_it(kwargs, error, match):
    table = torch.zeros(6, 6)
    args = {
        "step": markov_step(table),
        "state": 0,
        "first": torch.zeros(3, dtype=torch.long),
        "num_steps": 4,
        "eos": 1,
        "temperature": 1.0,
        "generator": None,
    } | kwargs
    with pytest.raises(error, match=match):
        d2l.sample_sequences(**args)


def test_sample_sequences_names_a_step_that_returns_bad_logits():
    with pytest.raises(ValueError, match="logits from step must have shape"):
        d2l.sample_sequences(
            lambda t, s: (torch.zeros(2, 5), s),
            None,
            torch.zeros(3, dtype=torch.long),
            4,
        )


# --- StopHead and LengthHead ----------------------------------------------------


def test_stop_head_gives_one_logit_per_state():
    head = d2l.StopHead(8)
    assert head(torch.zeros(3, 5, 8)).shape == (3, 5)
    with pytest.raises(ValueError, match="H must end in 8 hidden units"):
        head(torch.zeros(3, 7))
    with pytest.raises(TypeError, match="H must have dtype"):
        head(torch.zeros(3, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="num_hiddens must be >= 1"):
        d2l.StopHead(0)
    # a scalar has no last dimension to read
    with pytest.raises(ValueError, match=r"8 hidden units, got shape \(\)"):
        head(torch.tensor(1.0))


def test_length_head_scores_and_samples_lengths():
    head = d2l.LengthHead(2, 5)
    logits = head(torch.ones(4, 2))
    assert logits.shape == (4, 6)
    torch.testing.assert_close(
        head.nll(logits, torch.tensor([0, 1, 5, 2])),
        -torch.log_softmax(logits, -1)[torch.arange(4), [0, 1, 5, 2]],
    )
    with torch.no_grad():
        head.linear.weight.zero_()
        head.linear.bias.copy_(torch.tensor([-50.0, -50, 0, -50, -50, 0]))
    lengths = head.sample(head(torch.ones(1000, 2)), torch.Generator().manual_seed(0))
    assert set(lengths.tolist()) == {2, 5}
    with pytest.raises(ValueError, match="lengths must be <= max_length = 5"):
        head.nll(logits, torch.tensor([0, 1, 6, 2]))
    with pytest.raises(ValueError, match="context must have shape"):
        head(torch.ones(4, 3))
    with pytest.raises(ValueError, match="max_length must be >= 1"):
        d2l.LengthHead(2, 0)
    with pytest.raises(ValueError, match="num_inputs must be >= 1"):
        d2l.LengthHead(0, 5)
    # logits of another width are refused by name, not scored against lengths
    with pytest.raises(ValueError, match="logits must have shape"):
        head.nll(torch.zeros(4, 7), torch.tensor([0, 1, 5, 2]))
