"""Tests of d2lrnn.ngram: n-gram models, perplexity, Zipf's law, corpus split."""

from __future__ import annotations

import collections
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import d2lrnn as d2l


def _counter_probs(corpus: list[int], n: int, vocab_size: int, k: float):
    """Reference add-k estimate with plain dictionaries."""
    grams = collections.Counter(
        tuple(corpus[i : i + n]) for i in range(len(corpus) - n + 1)
    )
    contexts = collections.Counter()
    for gram, count in grams.items():
        contexts[gram[:-1]] += count

    def prob(context: tuple[int, ...], token: int) -> float:
        return (grams[context + (token,)] + k) / (contexts[context] + k * vocab_size)

    return prob


@given(
    corpus=st.lists(st.integers(0, 5), min_size=1, max_size=80),
    n=st.integers(1, 4),
    k=st.sampled_from([1.0, 0.5, 0.01]),
)
@settings(max_examples=60, deadline=None)
def test_ngramlm_matches_dictionary_counts(corpus, n, k):
    vocab_size = 6
    model = d2l.NGramLM(n, vocab_size, k).fit(torch.tensor(corpus))
    reference = _counter_probs(corpus, n, vocab_size, k)
    log_probs = model.log_prob(torch.tensor(corpus))
    assert log_probs.dtype == torch.float64
    assert len(log_probs) == max(len(corpus) - n + 1, 0)
    for i, lp in enumerate(log_probs.tolist()):
        gram = tuple(corpus[i : i + n])
        assert lp == pytest.approx(math.log(reference(gram[:-1], gram[-1])), rel=1e-12)


@given(
    corpus=st.lists(st.integers(0, 4), min_size=5, max_size=60),
    n=st.integers(1, 3),
    context=st.lists(st.integers(0, 4), min_size=2, max_size=2),
)
@settings(max_examples=60, deadline=None)
def test_ngramlm_probabilities_sum_to_one(corpus, n, context):
    model = d2l.NGramLM(n, 5, k=1.0).fit(torch.tensor(corpus))
    probs = model.next_token_probs(torch.tensor(context))
    assert probs.shape == (5,)
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert (probs > 0).all()  # Laplace: unseen events keep some probability


def test_ngramlm_laplace_unseen_event_positive():
    model = d2l.NGramLM(2, 4, k=1.0).fit(torch.tensor([0, 1, 0, 1, 0, 1]))
    probs = model.next_token_probs(torch.tensor([0]))
    assert probs.tolist() == pytest.approx([1 / 7, 4 / 7, 1 / 7, 1 / 7])
    unseen_context = model.next_token_probs(torch.tensor([3]))
    assert unseen_context.tolist() == pytest.approx([0.25] * 4)
    mle = d2l.NGramLM(2, 4, k=0).fit(torch.tensor([0, 1, 0, 1, 0, 1]))
    assert mle.next_token_probs(torch.tensor([0])).tolist() == [0, 1, 0, 0]
    assert math.isinf(mle.perplexity(torch.tensor([0, 2])))


def test_ngramlm_uniform_perplexity_is_vocab_size():
    vocab_size = 13
    untrained = d2l.NGramLM(3, vocab_size)
    corpus = torch.randint(
        0, vocab_size, (500,), generator=torch.Generator().manual_seed(0)
    )
    assert untrained.perplexity(corpus) == pytest.approx(vocab_size, rel=1e-12)
    assert d2l.perplexity(torch.full((50,), 1 / vocab_size, dtype=torch.float64)) == (
        pytest.approx(vocab_size, rel=1e-12)
    )
    base = d2l.ngram_baselines(corpus[:400], corpus[400:], vocab_size, max_n=2)
    assert base["uniform"] == vocab_size
    assert set(base) == {"uniform", "unigram", "bigram"}


def test_ngramlm_context_scores_every_token():
    corpus = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    model = d2l.NGramLM(3, 3).fit(corpus)
    val = torch.tensor([2, 0, 1])
    with_context = model.log_prob(val, context=corpus)
    assert len(with_context) == len(val)
    assert torch.equal(with_context, model.log_prob(torch.cat([corpus[-2:], val])))
    with pytest.raises(ValueError, match="context needs >= 2 tokens"):
        model.log_prob(val, context=corpus[:1])


def test_ngramlm_bad_arguments_raise():
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        d2l.NGramLM(0, 5)
    with pytest.raises(ValueError, match="k must be finite and >= 0, got -1"):
        d2l.NGramLM(2, 5, k=-1)
    with pytest.raises(ValueError, match="too large"):
        d2l.NGramLM(8, 5000)
    with pytest.raises(ValueError, match="index 7 >= vocab_size 5"):
        d2l.NGramLM(2, 5).fit(torch.tensor([0, 7]))


def test_ngram_counts_match_counter():
    corpus = [3, 1, 3, 1, 2, 3, 1, 3]
    grams, counts = d2l.ngram_counts(torch.tensor(corpus), 2, 4)
    got = {tuple(g): c for g, c in zip(grams.tolist(), counts.tolist(), strict=True)}
    assert got == collections.Counter(zip(corpus, corpus[1:], strict=False))


def test_interpolated_ngramlm_weights_and_perplexity():
    gen = torch.Generator().manual_seed(0)
    # a second-order Markov chain, so higher orders must get weight
    corpus = [0, 1]
    for _ in range(3000):
        corpus.append(
            (corpus[-1] + corpus[-2] + int(torch.rand(1, generator=gen) < 0.1)) % 5
        )
    corpus = torch.tensor(corpus)
    train, val = d2l.split_corpus(corpus, 0.1)
    model = d2l.InterpolatedNGramLM(3, 5).fit(train)
    assert model.weights.sum().item() == pytest.approx(1.0)
    assert model.weights[2] > 0.5
    ppl = model.perplexity(val, context=train)
    assert ppl < d2l.NGramLM(1, 5).fit(train).perplexity(val, context=train)


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
