"""Tests of d2lrnn.metrics: perplexity and Zipf's exponent."""

from __future__ import annotations

import math

import pytest
import torch

import d2lrnn as d2l


def test_perplexity_facts():
    assert d2l.perplexity(torch.ones(10)) == 1.0
    assert math.isinf(d2l.perplexity(torch.tensor([0.5, 0.0])))
    # token-weighted: exp(sum of NLL / number of tokens)
    probs = torch.tensor([0.5, 0.25, 0.125], dtype=torch.float64)
    nll = -torch.log(probs).sum().item()
    assert d2l.perplexity_from_nll(nll, 3) == pytest.approx(d2l.perplexity(probs))
    assert d2l.perplexity(probs) == pytest.approx(4.0)
    assert math.isinf(d2l.perplexity_from_nll(1e6, 1))
    with pytest.raises(ValueError, match="num_tokens must be >= 1, got 0"):
        d2l.perplexity_from_nll(1.0, 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        d2l.perplexity(torch.tensor([1.5]))


def test_zipf_exponent_recovers_power_law():
    ranks = torch.arange(1, 2001, dtype=torch.float64)
    freqs = 1e6 * ranks**-1.3
    shuffled = freqs[torch.randperm(2000, generator=torch.Generator().manual_seed(0))]
    assert d2l.zipf_exponent(shuffled, 10, 1000) == pytest.approx(1.3, rel=1e-9)
    with pytest.raises(ValueError, match="max_rank"):
        d2l.zipf_exponent(freqs[:50], 10, 1000)


def test_perplexity_from_nll_is_exp_of_the_mean():
    assert d2l.perplexity_from_nll(3 * math.log(2), 3) == pytest.approx(2.0)
    assert d2l.perplexity_from_nll(math.log(5) * 7, 7) == pytest.approx(5.0)
    assert d2l.perplexity_from_nll(0, 1) == 1.0
    assert d2l.perplexity_from_nll(2, 1) == pytest.approx(math.e**2)  # an int NLL
    assert d2l.perplexity_from_nll(math.inf, 4) == math.inf
    assert d2l.perplexity_from_nll(800.0, 1) == math.inf  # exp overflows
    assert d2l.perplexity_from_nll(700.0, 1) == pytest.approx(math.exp(700))


@pytest.mark.parametrize(
    ("total_nll", "num_tokens", "error", "match"),
    [(-1e-9, 1, ValueError, "total_nll must be >= 0"),
     (math.nan, 1, ValueError, "total_nll must be >= 0, got nan"),
     (1.0, 0, ValueError, "num_tokens must be >= 1, got 0"),
     (1.0, 2.0, TypeError, "num_tokens must be an int"),
     (1.0, True, TypeError, "num_tokens must be an int")],
)
def test_perplexity_from_nll_rejects_bad_values(total_nll, num_tokens, error, match):
    with pytest.raises(error, match=match):
        d2l.perplexity_from_nll(total_nll, num_tokens)


def test_perplexity_of_label_probabilities():
    assert d2l.perplexity([0.5, 0.5, 0.5]) == pytest.approx(2.0)
    assert d2l.perplexity([[0.25, 1.0], [0.5, 0.5]]) == pytest.approx(
        (0.25 * 0.25) ** -0.25
    )  # any shape: every entry is one label
    assert d2l.perplexity(torch.tensor([1.0, 1.0], dtype=torch.float32)) == 1.0
    assert d2l.perplexity([0.0, 1.0]) == math.inf
    assert d2l.perplexity((0.1,)) == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("probs", "match"),
    [([], "must not be empty"), ([1.0000001], r"\[0, 1\]"),
     ([0.5, -1e-9], r"\[0, 1\]"), ([math.nan], r"\[0, 1\]")],
)
def test_perplexity_rejects_what_is_no_probability(probs, match):
    with pytest.raises(ValueError, match=match):
        d2l.perplexity(probs)


def test_zipf_exponent_fits_only_the_chosen_ranks():
    ranks = torch.arange(1, 61, dtype=torch.float64)
    freqs = 5e4 * ranks**-0.8
    freqs[:4] = 1e7  # ranks 1..4 off the line, still the most frequent
    freqs[30:] = freqs[30:] * 0.01  # ranks 31.. off the line
    freqs = freqs.tolist()[::-1]  # any order
    assert d2l.zipf_exponent(freqs, 5, 30) == pytest.approx(0.8, rel=1e-9)
    assert d2l.zipf_exponent(freqs, 5, 31) != pytest.approx(0.8, rel=1e-3)
    assert d2l.zipf_exponent(freqs, 4, 30) != pytest.approx(0.8, rel=1e-3)
    exact = (1e3 * ranks[:12] ** -2.0).tolist()
    assert d2l.zipf_exponent(exact, 1, 12) == pytest.approx(2.0, rel=1e-9)
    assert d2l.zipf_exponent(exact, 11, 12) == pytest.approx(2.0, rel=1e-9)
    assert type(d2l.zipf_exponent(exact, 1, 12)) is float  # not np.float64


def test_zipf_exponent_checks_ranks_and_counts():
    counts = [100.0, 50.0, 30.0, 10.0, 0.0]
    assert d2l.zipf_exponent(counts, 1, 4) > 0  # a zero count past max_rank is fine
    with pytest.raises(ValueError, match="positive up to max_rank"):
        d2l.zipf_exponent(counts, 1, 5)  # a zero count at max_rank
    with pytest.raises(ValueError, match="max_rank = 6 counts, got shape \\(5,\\)"):
        d2l.zipf_exponent(counts, 1, 6)
    with pytest.raises(ValueError, match="max_rank must be >= 3, got 2"):
        d2l.zipf_exponent(counts, 2, 2)
    assert d2l.zipf_exponent(counts, 2, 3) == pytest.approx(
        math.log(50 / 30) / math.log(3 / 2)
    )
    with pytest.raises(ValueError, match="min_rank must be >= 1, got 0"):
        d2l.zipf_exponent(counts, 0, 3)
    with pytest.raises(ValueError, match="1-D"):
        d2l.zipf_exponent([[3.0, 2.0], [1.0, 1.0]], 1, 2)


def _least_squares_slope(xs, ys):
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def test_zipf_exponent_is_the_least_squares_slope_on_ranks_10_to_1000():
    gen = torch.Generator().manual_seed(0)
    counts = (1e6 * torch.rand(1200, generator=gen, dtype=torch.float64) ** 4).tolist()
    ranked = sorted(counts, reverse=True)
    for lo, hi, args in [(10, 1000, ()), (3, 50, (3, 50)), (1, 1200, (1, 1200))]:
        expected = -_least_squares_slope(
            [math.log(r) for r in range(lo, hi + 1)],
            [math.log(c) for c in ranked[lo - 1 : hi]],
        )
        assert d2l.zipf_exponent(counts, *args) == pytest.approx(expected, rel=1e-9)
    # float32 counts are fitted in double precision
    single = torch.tensor(counts[:60], dtype=torch.float32)
    as_double = sorted(single.double().tolist(), reverse=True)
    expected = -_least_squares_slope(
        [math.log(r) for r in range(2, 41)], [math.log(c) for c in as_double[1:40]]
    )
    assert d2l.zipf_exponent(single, 2, 40) == pytest.approx(expected, rel=1e-12)


def test_zipf_exponent_accepts_words_seen_once():
    counts = [40, 9, 5, 3, 2, 1, 1]  # ints, ending with hapax legomena
    expected = -_least_squares_slope(
        [math.log(r) for r in range(1, 8)], [math.log(c) for c in counts]
    )
    assert d2l.zipf_exponent(counts, 1, 7) == pytest.approx(expected, rel=1e-12)


def test_perplexity_is_computed_in_double_precision():
    assert d2l.perplexity_from_nll(1, 3) == math.exp(1 / 3)
    probs = [0.3, 0.7, 0.123]
    expected = math.exp(-sum(math.log(p) for p in probs) / 3)
    assert d2l.perplexity(probs) == pytest.approx(expected, rel=1e-13)
    assert d2l.perplexity(torch.tensor(probs)) == pytest.approx(
        math.exp(-sum(math.log(p) for p in torch.tensor(probs).double().tolist()) / 3),
        rel=1e-13,
    )
