"""Tests of d2lrnn.ngram: n-gram models, corpus split, add-k tuning, baselines."""

from __future__ import annotations

import collections
import math

import numpy as np
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


# ------------------------------------------------------- references in plain Python


def _mixture_reference(corpus, max_n, vocab_size, k, dev_fraction, num_iters):
    """EM weights of an interpolated model, with dictionaries and lists."""
    num_dev = round(dev_fraction * len(corpus))
    fit, dev = corpus[: len(corpus) - num_dev], corpus[len(corpus) - num_dev :]
    probs = [_counter_probs(fit, n, vocab_size, k) for n in range(1, max_n + 1)]
    rows = []  # per dev token: the probability of each component
    for i, token in enumerate(dev):
        pos = len(fit) + i
        history = (fit + dev)[:pos]
        rows.append(
            [p(tuple(history[len(history) - n + 1 :]) if n > 1 else (), token)
             for n, p in enumerate(probs, start=1)]
        )
    weights = [1 / max_n] * max_n
    for _ in range(num_iters):
        resp = []
        for row in rows:
            total = sum(w * p for w, p in zip(weights, row, strict=True))
            resp.append([w * p / total for w, p in zip(weights, row, strict=True)])
        weights = [sum(r[j] for r in resp) / len(resp) for j in range(max_n)]
    return weights


def _log_probs_reference(train, val, n, vocab_size, k):
    """log P(val[i] | the n - 1 tokens before it in train + val), by counting."""
    prob = _counter_probs(train, n, vocab_size, k)
    text = train + val
    out = []
    for i in range(len(train), len(text)):
        context = tuple(text[i - n + 1 : i]) if n > 1 else ()
        out.append(math.log(prob(context, text[i])))
    return out


def _markov_corpus(length, vocab_size, noise, seed):
    """Tokens that mostly count up modulo vocab_size; a random one with p=noise."""
    gen = torch.Generator().manual_seed(seed)
    tokens = [0]
    for _ in range(length - 1):
        if torch.rand(1, generator=gen).item() < noise:
            tokens.append(int(torch.randint(0, vocab_size, (1,), generator=gen)))
        else:
            tokens.append((tokens[-1] + 1) % vocab_size)
    return tokens


# ------------------------------------------------------------- corpus arguments


@pytest.mark.parametrize(
    "corpus",
    [[2, 0, 1, 2], (2, 0, 1, 2), iter([2, 0, 1, 2]),
     torch.tensor([2, 0, 1, 2], dtype=torch.int32),
     torch.tensor([9, 2, 9, 0, 9, 1, 9, 2])[1::2]],
    ids=["list", "tuple", "iterator", "int32", "strided"],
)
def test_split_corpus_accepts_sequences_as_contiguous_long_tensors(corpus):
    train, val = d2l.split_corpus(corpus, 0.25)
    assert train.tolist() == [2, 0, 1] and val.tolist() == [2]
    for part in (train, val):
        assert part.dtype == torch.long and part.is_contiguous()
    full, empty = d2l.split_corpus(torch.tensor([3, 1]), 0)
    assert full.tolist() == [3, 1] and empty.dtype == torch.long and not len(empty)


def test_split_corpus_of_nothing_is_two_empty_long_tensors():
    for corpus in ([], torch.tensor([]), torch.zeros(0, dtype=torch.int16)):
        train, val = d2l.split_corpus(corpus, 0.5)
        assert train.dtype == val.dtype == torch.long
        assert train.shape == val.shape == (0,)


@pytest.mark.parametrize(
    ("corpus", "error", "match"),
    [
        ("abc", TypeError, "corpus must hold token indices, got a string"),
        (b"abc", TypeError, "corpus must hold token indices, got a string"),
        (3, TypeError, "corpus must be a 1-D tensor or a sequence of ints, got int"),
        ([[0, 1], [2]], TypeError, "corpus must be a 1-D tensor or a sequence"),
        ([0, "a"], TypeError, "corpus must be a 1-D tensor or a sequence"),
        (torch.zeros(2, 3, dtype=torch.long), ValueError, r"1-D, got shape \(2, 3\)"),
        (torch.tensor(3), ValueError, r"1-D, got shape \(\)"),
        (torch.tensor([0.0, 1.0]), TypeError, "integer indices, got torch.float32"),
        (torch.tensor([True, False]), TypeError, "integer indices, got torch.bool"),
        (torch.tensor([1j]), TypeError, "integer indices, got torch.complex64"),
        ([0, 2, -1], ValueError, "corpus holds a negative index -1"),
    ],
)
def test_split_corpus_rejects_what_is_no_corpus(corpus, error, match):
    with pytest.raises(error, match=match):
        d2l.split_corpus(corpus, 0.5)


@pytest.mark.parametrize(
    ("length", "val_fraction"),
    [(10, 0.25), (10, 0.35), (7, 0.5), (3, 0.1), (1, 0.6), (100, 0.999)],
)
def test_split_corpus_sizes_round_the_validation_part(length, val_fraction):
    corpus = torch.arange(length)
    train, val = d2l.split_corpus(corpus, val_fraction)
    assert len(val) == round(val_fraction * length)
    assert torch.equal(torch.cat([train, val]), corpus)


@pytest.mark.parametrize(
    ("val_fraction", "error"),
    [(1, ValueError), (1.0, ValueError), (-0.1, ValueError), (True, TypeError),
     ("0.1", TypeError), (None, TypeError)],
)
def test_split_corpus_rejects_bad_fractions(val_fraction, error):
    with pytest.raises(error, match="val_fraction"):
        d2l.split_corpus(torch.arange(10), val_fraction)


# ------------------------------------------------------------------- ngram_counts


@given(
    corpus=st.lists(st.integers(0, 3), max_size=30),
    n=st.integers(1, 4),
)
@settings(max_examples=40, deadline=None)
def test_ngram_counts_rows_are_sorted_distinct_and_counted(corpus, n):
    grams, counts = d2l.ngram_counts(corpus, n, 4)
    expected = collections.Counter(
        tuple(corpus[i : i + n]) for i in range(len(corpus) - n + 1)
    )
    assert grams.shape == (len(expected), n) and grams.dtype == torch.long
    assert [tuple(g) for g in grams.tolist()] == sorted(expected)
    assert counts.tolist() == [expected[g] for g in sorted(expected)]


def test_ngram_counts_checks_indices_against_vocab_size():
    grams, counts = d2l.ngram_counts([0, 3, 3], 1, 4)  # the largest index is fine
    assert grams.tolist() == [[0], [3]] and counts.tolist() == [1, 2]
    with pytest.raises(ValueError, match="corpus holds index 4 >= vocab_size 4"):
        d2l.ngram_counts([0, 4, 3], 1, 4)
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        d2l.ngram_counts([0, 1], 0, 4)
    with pytest.raises(ValueError, match="vocab_size must be >= 1, got 0"):
        d2l.ngram_counts([0, 1], 1, 0)
    grams, counts = d2l.ngram_counts([0, 0, 0], 1, 1)  # one-token vocabulary
    assert grams.tolist() == [[0]] and counts.tolist() == [3]


# ------------------------------------------------------------------------ NGramLM


@given(
    corpus=st.lists(st.integers(0, 3), min_size=0, max_size=40),
    n=st.integers(1, 3),
    k=st.sampled_from([1.0, 0.5, 0.01]),
    context=st.lists(st.integers(0, 3), min_size=2, max_size=4),
)
@settings(max_examples=60, deadline=None)
def test_ngramlm_next_token_probs_match_dictionary_counts(corpus, n, k, context):
    model = d2l.NGramLM(n, 4, k).fit(corpus)
    reference = _counter_probs(corpus, n, 4, k)
    last = tuple(context[len(context) - n + 1 :]) if n > 1 else ()
    probs = model.next_token_probs(context)
    assert probs.dtype == torch.float64
    assert probs.tolist() == pytest.approx(
        [reference(last, w) for w in range(4)], rel=1e-12
    )


def test_ngramlm_unseen_context_is_uniform_for_any_k():
    corpus = [0, 1, 0, 1, 0, 1]
    for k in (1.0, 0.01, 1e-6):  # also when k * vocab_size < 1
        model = d2l.NGramLM(2, 5, k).fit(corpus)
        assert model.next_token_probs([4]).tolist() == pytest.approx([0.2] * 5)
        seen = model.next_token_probs([0]).tolist()
        assert seen == pytest.approx([k / (3 + 5 * k), (3 + k) / (3 + 5 * k)]
                                     + [k / (3 + 5 * k)] * 3)


def test_ngramlm_maximum_likelihood_gives_an_unseen_context_zero():
    mle = d2l.NGramLM(2, 4, k=0).fit([0, 1, 0, 2, 0, 1])
    assert mle.k == 0.0 and isinstance(mle.k, float)
    assert mle.next_token_probs([0]).tolist() == [0.0, 2 / 3, 1 / 3, 0.0]
    assert mle.next_token_probs([3]).tolist() == [0.0] * 4  # not NaN
    assert mle.next_token_probs([1]).tolist() == [1.0, 0.0, 0.0, 0.0]
    log_probs = mle.log_prob([0, 1, 3, 0])  # 0->1 seen, 1->3 unseen, 3->0 unseen
    assert log_probs[0].item() == pytest.approx(math.log(2 / 3))
    assert log_probs[1:].tolist() == [-math.inf, -math.inf]
    assert mle.perplexity([0, 1, 0]) == pytest.approx(math.sqrt(3 / 2))


def test_ngramlm_fit_replaces_counts_and_returns_the_model():
    model = d2l.NGramLM(2, 3)
    assert model.fit([0, 1, 2, 0]) is model
    model.fit([2, 2, 2])
    fresh = d2l.NGramLM(2, 3).fit([2, 2, 2])
    assert torch.equal(model.next_token_probs([2]), fresh.next_token_probs([2]))
    assert torch.equal(model.next_token_probs([0]), torch.full((3,), 1 / 3,
                                                             dtype=torch.float64))


def test_ngramlm_context_length_boundaries():
    model = d2l.NGramLM(3, 4).fit([0, 1, 2, 3, 0, 1, 2])
    ref = _counter_probs([0, 1, 2, 3, 0, 1, 2], 3, 4, 1.0)
    assert model.next_token_probs([0, 1]).tolist() == pytest.approx(
        [ref((0, 1), w) for w in range(4)]
    )  # exactly n - 1 tokens
    with pytest.raises(ValueError, match="context needs >= 2 tokens, got 1"):
        model.next_token_probs([1])
    assert len(model.log_prob([2, 3], context=[0, 1])) == 2
    with pytest.raises(ValueError, match="context needs >= 2 tokens, got 1"):
        model.log_prob([2, 3], context=[1])
    unigram = d2l.NGramLM(1, 4).fit([0, 0, 0, 3])
    expected = [4 / 8, 1 / 8, 1 / 8, 2 / 8]
    assert unigram.next_token_probs([]).tolist() == pytest.approx(expected)
    assert unigram.next_token_probs([2, 1]).tolist() == pytest.approx(expected)
    # order 1 scores every token, with or without context
    assert unigram.log_prob([3, 0], context=[]).exp().tolist() == pytest.approx(
        [2 / 8, 4 / 8]
    )
    assert torch.equal(unigram.log_prob([3, 0]), unigram.log_prob([3, 0], [1, 2]))


def test_ngramlm_log_prob_of_a_short_corpus():
    model = d2l.NGramLM(3, 2).fit([0, 1, 1, 0])
    assert model.log_prob([0, 1]).shape == (0,)  # n - 1 tokens: nothing to score
    ref = _counter_probs([0, 1, 1, 0], 3, 2, 1.0)
    assert model.log_prob([0, 1, 1]).exp().tolist() == pytest.approx(
        [ref((0, 1), 1)]
    )


@pytest.mark.parametrize("where", ["fit", "next_token_probs", "log_prob", "context"])
def test_ngramlm_rejects_an_index_equal_to_vocab_size(where):
    model = d2l.NGramLM(2, 5).fit([0, 4, 1])  # index 4 is the largest allowed
    calls = {
        "fit": lambda: model.fit([0, 5]),
        "next_token_probs": lambda: model.next_token_probs([5]),
        "log_prob": lambda: model.log_prob([1, 5, 0]),
        "context": lambda: model.log_prob([1], context=[0, 5]),
    }
    name = "context" if where in ("next_token_probs", "context") else "corpus"
    with pytest.raises(ValueError, match=f"{name} holds index 5 >= vocab_size 5"):
        calls[where]()
    assert model.log_prob([4, 4], context=[4]).shape == (2,)


def test_ngramlm_packs_ngrams_below_2_to_the_62():
    d2l.NGramLM(2, 2**31 - 1)  # (2^31 - 1)^2 < 2^62
    d2l.NGramLM(61, 2)
    with pytest.raises(ValueError, match=r"2147483648\*\*2 is too large"):
        d2l.NGramLM(2, 2**31)
    with pytest.raises(ValueError, match=r"2\*\*62 is too large"):
        d2l.NGramLM(62, 2)
    # the largest codes still count correctly
    big = d2l.NGramLM(2, 2**30).fit([2**30 - 1, 2**30 - 1, 5])
    assert big.log_prob([2**30 - 1, 5]).exp().item() == pytest.approx(
        (1 + 1) / (2 + 2**30)
    )


@pytest.mark.parametrize(
    ("k", "error"),
    [(-0.5, ValueError), (float("inf"), ValueError), (float("nan"), ValueError),
     (True, TypeError), ("1", TypeError), (None, TypeError)],
)
def test_ngramlm_rejects_bad_k(k, error):
    with pytest.raises(error, match="k must be"):
        d2l.NGramLM(2, 5, k=k)


def test_ngramlm_accepts_numpy_k_and_sizes():
    model = d2l.NGramLM(np.int64(2), np.int64(3), k=np.float64(0.5)).fit([0, 1])
    assert (model.n, model.vocab_size, model.k) == (2, 3, 0.5)
    assert model.next_token_probs([0]).tolist() == pytest.approx(
        [0.5 / 2.5, 1.5 / 2.5, 0.5 / 2.5]
    )
    with pytest.raises(ValueError, match="vocab_size must be >= 1, got 0"):
        d2l.NGramLM(2, 0)
    with pytest.raises(TypeError, match="n must be an int"):
        d2l.NGramLM(2.0, 3)


def test_ngramlm_perplexity_is_exp_of_mean_negative_log_prob():
    train = _markov_corpus(200, 4, 0.3, seed=1)
    val = _markov_corpus(50, 4, 0.3, seed=2)
    for n in (1, 2, 3):
        model = d2l.NGramLM(n, 4, 0.5).fit(train)
        ref = _log_probs_reference(train, val, n, 4, 0.5)
        assert model.log_prob(val, context=train).tolist() == pytest.approx(ref)
        assert model.perplexity(val, context=train) == pytest.approx(
            math.exp(-sum(ref) / len(ref))
        )
        # without context the first n - 1 tokens are only history
        prob = _counter_probs(train, n, 4, 0.5)
        expected = [
            math.log(prob(tuple(val[i - n + 1 : i]) if n > 1 else (), val[i]))
            for i in range(n - 1, len(val))
        ]
        assert model.log_prob(val).tolist() == pytest.approx(expected)


# ------------------------------------------------------------ InterpolatedNGramLM


@given(
    seed=st.integers(0, 2**16),
    max_n=st.integers(1, 3),
    dev_fraction=st.sampled_from([0.1, 0.25, 0.4]),
    num_iters=st.sampled_from([0, 1, 7]),
    k=st.sampled_from([0.01, 0.5]),
)
@settings(max_examples=25, deadline=None)
def test_interpolated_ngramlm_weights_match_em_by_hand(
    seed, max_n, dev_fraction, num_iters, k
):
    corpus = _markov_corpus(60, 4, 0.3, seed)
    model = d2l.InterpolatedNGramLM(max_n, 4, k).fit(
        corpus, dev_fraction=dev_fraction, num_iters=num_iters
    )
    expected = _mixture_reference(corpus, max_n, 4, k, dev_fraction, num_iters)
    assert model.weights.dtype == torch.float64
    assert model.weights.tolist() == pytest.approx(expected, rel=1e-9)


def test_interpolated_ngramlm_refits_every_order_on_the_whole_corpus():
    train = _markov_corpus(120, 5, 0.2, seed=3)
    val = _markov_corpus(30, 5, 0.2, seed=4)
    model = d2l.InterpolatedNGramLM(3, 5, k=0.1).fit(train, dev_fraction=0.25)
    for n, component in enumerate(model.models, start=1):
        whole = d2l.NGramLM(n, 5, 0.1).fit(train)
        assert torch.equal(component.log_prob(val, train), whole.log_prob(val, train))
    # P(w | history) = sum_n weights[n] P_n(w | history), with counts of all of train
    weights = model.weights.tolist()
    refs = [_log_probs_reference(train, val, n, 5, 0.1) for n in (1, 2, 3)]
    mixture = [
        math.log(sum(w * math.exp(r[i]) for w, r in zip(weights, refs, strict=True)))
        for i in range(len(val))
    ]
    assert model.log_prob(val, context=train).tolist() == pytest.approx(mixture)
    assert model.perplexity(val, context=train) == pytest.approx(
        math.exp(-sum(mixture) / len(val))
    )


def test_interpolated_ngramlm_starts_uniform_and_stays_a_distribution():
    model = d2l.InterpolatedNGramLM(4, 3)
    assert model.weights.tolist() == [0.25] * 4
    assert model.weights.dtype == torch.float64
    assert [m.n for m in model.models] == [1, 2, 3, 4]
    assert all(m.k == 0.01 and m.vocab_size == 3 for m in model.models)
    untrained = model.log_prob([0, 1, 2], context=[0, 0, 0]).exp()
    assert untrained.tolist() == pytest.approx([1 / 3] * 3)
    corpus = _markov_corpus(80, 3, 0.2, seed=5)
    model.fit(corpus, num_iters=0)
    assert model.weights.tolist() == [0.25] * 4
    model.fit(corpus, num_iters=3)
    assert model.weights.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert (model.weights > 0).all()


def test_interpolated_ngramlm_fit_needs_dev_and_fitting_tokens():
    model = d2l.InterpolatedNGramLM(3, 4)
    model.fit([0, 1, 2, 3], dev_fraction=0.25)  # 3 fitting tokens = max_n
    with pytest.raises(ValueError, match="leaves 2 fitting and 1 dev tokens"):
        model.fit([0, 1, 2], dev_fraction=0.34)
    with pytest.raises(ValueError, match="leaves 10 fitting and 0 dev tokens"):
        model.fit(list(range(4)) * 2 + [0, 1], dev_fraction=0.01)
    with pytest.raises(ValueError, match="num_iters must be >= 0, got -1"):
        model.fit([0, 1, 2, 3] * 3, num_iters=-1)


@pytest.mark.parametrize("k", [0, -1.0, True, "0.1", None])
def test_interpolated_ngramlm_rejects_k_that_is_not_positive(k):
    with pytest.raises(ValueError, match="k must be a number > 0"):
        d2l.InterpolatedNGramLM(2, 5, k=k)


def test_interpolated_ngramlm_rejects_bad_orders():
    with pytest.raises(ValueError, match="max_n must be >= 1, got 0"):
        d2l.InterpolatedNGramLM(0, 5)
    assert len(d2l.InterpolatedNGramLM(1, 5).models) == 1


# ------------------------------------------------------------------ tune_add_k


def _tune_reference(train, n, vocab_size, grid, dev_fraction):
    num_dev = round(dev_fraction * len(train))
    fit, dev = train[: len(train) - num_dev], train[len(train) - num_dev :]

    def ppl(k):
        logs = _log_probs_reference(fit, dev, n, vocab_size, k)
        return math.exp(-sum(logs) / len(logs))

    return min(grid, key=ppl)  # the first of equally good ones


DEFAULT_GRID = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)  # the documented grid


def test_tune_add_k_needs_dev_tokens():
    with pytest.raises(ValueError, match="dev_fraction 0.1 leaves no dev tokens"):
        d2l.tune_add_k([0, 1, 2, 0], 2, 3)  # round(0.4) = 0


# -------------------------------------------------------------------- baselines


def test_ngram_baselines_are_the_models_perplexities():
    train = _markov_corpus(300, 6, 0.3, seed=7)
    val = _markov_corpus(60, 6, 0.3, seed=8)
    base = d2l.ngram_baselines(train, val, 6, max_n=5, k={1: 1.0, 2: 0.1, 3: 0.05,
                                                          4: 0.02, 5: 0.01})
    assert list(base) == ["uniform", "unigram", "bigram", "trigram", "4-gram",
                          "5-gram"]
    assert base["uniform"] == 6.0 and isinstance(base["uniform"], float)
    for n, name, k in [(1, "unigram", 1.0), (2, "bigram", 0.1), (3, "trigram", 0.05),
                       (4, "4-gram", 0.02), (5, "5-gram", 0.01)]:
        logs = _log_probs_reference(train, val, n, 6, k)
        assert base[name] == pytest.approx(math.exp(-sum(logs) / len(logs)))
    same_k = d2l.ngram_baselines(train, val, 6, max_n=2, k=0.1)
    assert same_k["bigram"] == pytest.approx(base["bigram"])
    logs = _log_probs_reference(train, val, 1, 6, 0.1)
    assert same_k["unigram"] == pytest.approx(math.exp(-sum(logs) / len(logs)))
    default = d2l.ngram_baselines(train, val, 6)  # max_n=3, k=1
    assert list(default) == ["uniform", "unigram", "bigram", "trigram"]
    logs = _log_probs_reference(train, val, 3, 6, 1.0)
    assert default["trigram"] == pytest.approx(math.exp(-sum(logs) / len(logs)))


def test_ngram_baselines_interpolated_entry():
    train = _markov_corpus(200, 4, 0.2, seed=9)
    val = _markov_corpus(40, 4, 0.2, seed=10)
    base = d2l.ngram_baselines(train, val, 4, max_n=1, interpolated_n=3)
    assert list(base) == ["uniform", "unigram", "interpolated"]
    model = d2l.InterpolatedNGramLM(3, 4).fit(train)
    assert base["interpolated"] == pytest.approx(model.perplexity(val, train))
    assert "interpolated" not in d2l.ngram_baselines(train, val, 4, interpolated_n=0)


def test_ngram_baselines_check_lengths_and_k():
    d2l.ngram_baselines([0, 1], [2], 3, max_n=3)  # n - 1 tokens of history suffice
    with pytest.raises(ValueError, match="need len\\(train\\) >= 2 and a non-empty "
                       "val, got 1 and 1 tokens"):
        d2l.ngram_baselines([0], [2], 3, max_n=3)
    with pytest.raises(ValueError, match="got 5 and 0 tokens"):
        d2l.ngram_baselines([0, 1, 2, 0, 1], [], 3)
    with pytest.raises(ValueError, match="need len\\(train\\) >= 3"):
        d2l.ngram_baselines([0, 1], [1], 3, max_n=1, interpolated_n=4)
    with pytest.raises(ValueError, match="k has no constant for n = 2"):
        d2l.ngram_baselines([0, 1, 2, 0], [1], 3, max_n=2, k={1: 1.0})
    with pytest.raises(ValueError, match="holds index 3 >= vocab_size 3"):
        d2l.ngram_baselines([0, 1, 2, 0], [3], 3)
    with pytest.raises(TypeError, match="train must hold token indices"):
        d2l.ngram_baselines("abc", [1], 3)
    for bad in ({"max_n": 0}, {"vocab_size": 0}, {"interpolated_n": -1}):
        args = {"max_n": 2, "vocab_size": 3, "interpolated_n": 0} | bad
        with pytest.raises(ValueError, match=f"{next(iter(bad))} must be >="):
            d2l.ngram_baselines([0, 1, 2], [1], **args)


def test_tune_add_k_picks_each_k_of_the_default_grid_where_it_is_best():
    # 999 tokens "0" then one unseen "1" in the dev tenth: the best k grows with
    # the share of the probability mass that the unseen word deserves, ~ 1 / V.
    chosen = {}
    for vocab_size, unseen in [(10, 1), (30, 1), (100, 1), (300, 1), (1000, 1),
                               (3000, 1), (10, 0)]:
        train = [0] * (1000 - unseen) + [1] * unseen
        k = d2l.tune_add_k(train, 1, vocab_size)
        assert k == _tune_reference(train, 1, vocab_size, DEFAULT_GRID, 0.1)
        chosen[vocab_size, unseen] = k
    assert sorted(chosen.values(), reverse=True) == list(DEFAULT_GRID)


def test_tune_add_k_uses_the_given_grid_and_dev_fraction():
    grid = (0.5, 0.05, 0.005)
    train = _markov_corpus(100, 5, 0.05, seed=1)
    expected = _tune_reference(train, 2, 5, grid, 0.3)
    assert expected != _tune_reference(train, 2, 5, grid, 0.1)  # the split matters
    assert d2l.tune_add_k(train, 2, 5, grid=grid, dev_fraction=0.3) == expected
    assert d2l.tune_add_k(train, 2, 5, grid=(0.2,)) == 0.2


def test_tune_add_k_takes_a_vocabulary_of_one_token():
    # every k gives perplexity 1 on a corpus of one repeated token
    assert d2l.tune_add_k([0] * 20, 2, 1, grid=(0.3, 0.1)) in (0.3, 0.1)


def test_tune_add_k_scores_the_first_dev_token_after_the_fitting_part():
    # "0" 90 times, then the dev tenth "1 0 0 ...": only with the end of the
    # fitting part as history is 0 -> 1 an unseen event that wants a large k
    train = [0] * 90 + [1] + [0] * 9
    assert _tune_reference(train, 2, 10, DEFAULT_GRID, 0.1) == 1.0
    assert d2l.tune_add_k(train, 2, 10) == 1.0


def test_split_corpus_keeps_a_tenth_by_default():
    train, val = d2l.split_corpus(range(20))
    assert train.tolist() == list(range(18)) and val.tolist() == [18, 19]


def test_one_token_vocabularies_are_allowed():
    model = d2l.NGramLM(2, 1).fit([0, 0, 0])
    assert model.next_token_probs([0]).tolist() == [1.0]
    assert d2l.ngram_baselines([0, 0, 0], [0], 1, max_n=2) == {
        "uniform": 1.0, "unigram": 1.0, "bigram": 1.0}
    with pytest.raises(ValueError, match="vocab_size must be >= 1, got 0"):
        d2l.ngram_baselines([0, 1], [1], 0, k={})  # before looking at k
    with pytest.raises(TypeError, match="val must hold token indices"):
        d2l.ngram_baselines([0, 1], "ab", 3)


def test_interpolated_ngramlm_runs_50_em_iterations_by_default():
    corpus = _markov_corpus(60, 4, 0.3, seed=0)
    model = d2l.InterpolatedNGramLM(3, 4).fit(corpus)
    fifty = _mixture_reference(corpus, 3, 4, 0.01, 0.1, 50)
    assert model.weights.tolist() == pytest.approx(fifty, rel=1e-12)
    for other in (49, 51):  # one iteration more or less is visible here
        assert _mixture_reference(corpus, 3, 4, 0.01, 0.1, other) != pytest.approx(
            fifty, rel=1e-10
        )
