"""Tests for d2lrnn.seq2seq: the number task, the masked loss, decoding, BLEU.

References beat golden numbers: the masked loss is compared with a loop over the
unpadded labels, beam search with an enumeration of every sequence of a toy model,
and corpus BLEU with sacrebleu 2.6 (``tokenize="none"``, ``smooth_method="none"``:
tokens are joined by spaces and split on them again, and no smoothing, so an n-gram
order without a match gives 0, as ours does).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
import sacrebleu
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

import d2lrnn as d2l

BOS, EOS = 0, 1


def bigram_model(vocab_size, seed):
    """A step whose logits depend on the previous token and the step number."""
    g = torch.Generator().manual_seed(seed)
    table = 2 * torch.randn(8, vocab_size, vocab_size, generator=g,
                            dtype=torch.float64)

    def step(tokens, state):
        (t,) = state  # (B,) the step number of each row
        return table[t.clamp(max=7), tokens], (t + 1,)

    return step


def log_prob(step, seq, max_len):
    """log P of a token list under ``step``, as the decoders score it."""
    tokens, state, total = torch.tensor([BOS]), (torch.zeros(1, dtype=torch.long),), 0.0
    for token in seq[:max_len]:
        logits, state = step(tokens, state)
        total += F.log_softmax(logits, -1)[0, token].item()
        tokens = torch.tensor([token])
    return total


def all_sequences(vocab_size, max_len):
    """Every sequence the decoders can return: ended by EOS, or max_len long."""
    for n in range(1, max_len + 1):
        for seq in itertools.product(range(vocab_size), repeat=n):
            if EOS not in seq[:-1] and (seq[-1] == EOS or n == max_len):
                yield list(seq)


def decode_args(step, batch_size, max_len):
    return step, (torch.zeros(batch_size, dtype=torch.long),), batch_size, BOS, \
        EOS, max_len


# --- the task ---------------------------------------------------------------


def test_number_words_examples():
    assert d2l.number_words(0) == ["zero"]
    assert d2l.number_words(342) == "three hundred and forty two".split()
    assert d2l.number_words(1007) == "one thousand and seven".split()
    assert d2l.number_words(2_000_300) == "two million three hundred".split()
    assert len(d2l.number_words(999_999_999)) == 17


@given(st.integers(0, 10**9 - 1))
def test_number_words_are_distinct_for_distinct_numbers(n):
    m = (n * 7919 + 13) % 10**9
    assert (d2l.number_words(n) == d2l.number_words(m)) == (n == m)


def test_number_split_is_disjoint_and_seeded():
    train, test = d2l.number_split(2000, 300, seed=3)
    assert len(train) == 2000 and len(test) == 300
    assert not set(train) & set(test)
    assert d2l.number_split(2000, 300, seed=3) == (train, test)
    assert all(0 <= n < 10**9 for n in train + test)


def test_encode_numbers_pads_and_appends_eos():
    src, tgt = d2l.number_vocabs()
    X, X_len, Y, Y_len = d2l.encode_numbers([7, 1007], src, tgt)
    assert X_len.tolist() == [1, 4] and Y_len.tolist() == [2, 5]
    assert src.to_tokens(X[1].tolist()) == "one thousand and seven".split()
    assert X[0, 1:].eq(src["<pad>"]).all() and Y[0, 2:].eq(tgt["<pad>"]).all()
    assert tgt.to_tokens(Y[1].tolist()) == [*"1007", "<eos>"]


# --- masks and the masked loss -------------------------------------------------


@settings(deadline=None, max_examples=40)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=5).filter(any),
       st.integers(0, 2**31 - 1))
def test_masked_cross_entropy_equals_a_loop_over_unpadded_labels(lengths, seed):
    g = torch.Generator().manual_seed(seed)
    n, T, V = len(lengths), max(lengths), 5
    logits = torch.randn(n, T, V, generator=g, dtype=torch.float64)
    labels = torch.randint(0, V, (n, T), generator=g)
    lengths = torch.tensor(lengths)
    mask = d2l.length_mask(lengths, T)
    for i, L in enumerate(lengths.tolist()):  # the mask against a loop
        assert mask[i].tolist() == [t < L for t in range(T)]
    terms = [F.cross_entropy(logits[i, :L], labels[i, :L], reduction="sum")
             for i, L in enumerate(lengths.tolist()) if L]
    expected = sum(terms) / lengths.sum()
    torch.testing.assert_close(d2l.masked_cross_entropy(logits, labels, lengths),
                               expected)


def test_masked_cross_entropy_ignores_what_is_padded():
    logits = torch.randn(2, 4, 3, dtype=torch.float64)
    labels = torch.tensor([[0, 1, 2, 0], [2, 2, 0, 0]])
    lengths = torch.tensor([4, 2])
    loss = d2l.masked_cross_entropy(logits, labels, lengths)
    logits2, labels2 = logits.clone(), labels.clone()
    logits2[1, 2:] = 1e3 * torch.randn(2, 3, dtype=torch.float64)
    labels2[1, 2:] = 1
    torch.testing.assert_close(d2l.masked_cross_entropy(logits2, labels2, lengths),
                               loss)


# --- greedy decoding and beam search --------------------------------------------


@settings(deadline=None, max_examples=30)
@given(st.integers(3, 6), st.integers(1, 6), st.integers(1, 4),
       st.integers(0, 2**31 - 1))
def test_beam_width_one_equals_greedy(V, max_len, batch, seed):
    args = decode_args(bigram_model(V, seed), batch, max_len)
    Y, score = d2l.greedy_decode(*args)
    Y1, score1 = d2l.beam_search(*args, beam_size=1, keep_greedy=False)
    assert torch.equal(Y, Y1)
    assert torch.equal(score, score1)


@settings(deadline=None, max_examples=30)
@given(st.integers(3, 6), st.integers(1, 6), st.integers(1, 5),
       st.integers(0, 2**31 - 1))
def test_beam_search_is_never_below_greedy(V, max_len, k, seed):
    args = decode_args(bigram_model(V, seed), 3, max_len)
    _, greedy = d2l.greedy_decode(*args)
    _, beam = d2l.beam_search(*args, beam_size=k)
    assert (beam >= greedy).all()


@settings(deadline=None, max_examples=25)
@given(st.integers(3, 4), st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_beam_search_scores_are_the_log_probs_of_its_outputs(V, max_len, seed):
    step = bigram_model(V, seed)
    Y, score = d2l.beam_search(*decode_args(step, 2, max_len), beam_size=3)
    for row, s in zip(d2l.trim_sequences(Y, EOS), score.tolist(), strict=True):
        ended = row + [EOS] if len(row) < max_len else row
        assert math.isclose(log_prob(step, ended, max_len), s, abs_tol=1e-9)


@settings(deadline=None, max_examples=25)
@given(st.integers(3, 4), st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_wide_beam_search_finds_the_exact_argmax(V, max_len, seed):
    step = bigram_model(V, seed)
    best = max(log_prob(step, seq, max_len) for seq in all_sequences(V, max_len))
    _, score = d2l.beam_search(*decode_args(step, 1, max_len), beam_size=V**max_len,
                               keep_greedy=False)
    assert math.isclose(score.item(), best, abs_tol=1e-9)


def test_plain_beam_search_can_end_below_greedy():
    # greedy: a <eos> (0.4 * 0.45); width 2 keeps b d and b e (0.1976, 0.1824)
    # over a <eos> (0.18) and both decay afterwards
    a, b, d, e = 2, 3, 4, 5
    P = {BOS: {a: 0.4, b: 0.38, d: 0.11, e: 0.11},
         a: {EOS: 0.45, b: 0.2, d: 0.2, e: 0.15},
         b: {d: 0.52, e: 0.48}, d: {EOS: 0.3, d: 0.35, e: 0.35},
         e: {EOS: 0.3, d: 0.35, e: 0.35}}
    table = torch.full((6, 6), -math.inf, dtype=torch.float64)
    for prev, nxt in P.items():
        for token, p in nxt.items():
            table[prev, token] = math.log(p)
    args = (lambda tokens, state: (table[tokens], state), (torch.zeros(1),), 1,
            BOS, EOS, 4)
    _, greedy = d2l.greedy_decode(*args)
    _, plain = d2l.beam_search(*args, beam_size=2, keep_greedy=False)
    _, kept = d2l.beam_search(*args, beam_size=2)
    assert math.isclose(greedy.exp().item(), 0.18)
    assert plain.item() < greedy.item() == kept.item()


def test_greedy_decode_agrees_with_sample_sequences_at_temperature_zero():
    step = bigram_model(5, 4)
    Y, _ = d2l.greedy_decode(*decode_args(step, 4, 6))
    Z, _ = d2l.sample_sequences(step, (torch.zeros(4, dtype=torch.long),),
                                torch.full((4,), BOS), 6, EOS, temperature=0.0)
    assert d2l.trim_sequences(Y, EOS) == d2l.trim_sequences(Z, EOS)


def test_trim_sequences_cuts_at_the_first_eos():
    Y = torch.tensor([[5, 1, 7, 1], [4, 4, 4, 4]])
    assert d2l.trim_sequences(Y, 1) == [[5], [4, 4, 4, 4]]


# --- metrics ---------------------------------------------------------------------


def test_corpus_bleu_hand_worked_example():
    bleu = d2l.corpus_bleu([list("12345"), list("777")],
                           [list("123456"), list("707")])
    assert bleu.precisions == (Fraction(7, 8), Fraction(2, 3), Fraction(3, 4), 1)
    assert (bleu.candidate_length, bleu.reference_length) == (8, 9)
    assert math.isclose(bleu.brevity_penalty, math.exp(-1 / 8))
    assert math.isclose(bleu.score, math.exp(-1 / 8) * (7 / 16) ** 0.25)
    assert d2l.corpus_bleu([list("1234")], [list("1234")]).score == 1.0
    assert d2l.corpus_bleu([list("123")], [list("123")]).score == 0.0  # no 4-gram


def sacre(cands, refs):
    return sacrebleu.corpus_bleu([" ".join(c) for c in cands],
                                 [[" ".join(r) for r in refs]], tokenize="none",
                                 smooth_method="none", force=True).score / 100


token_lists = st.lists(st.sampled_from("abcd"), min_size=0, max_size=12)


@settings(deadline=None, max_examples=200)
@given(st.lists(st.tuples(token_lists, token_lists), min_size=1, max_size=8))
def test_corpus_bleu_matches_sacrebleu(pairs):
    cands, refs = [p[0] for p in pairs], [p[1] for p in pairs]
    assert math.isclose(d2l.corpus_bleu(cands, refs).score, sacre(cands, refs),
                        abs_tol=1e-6)


def test_corpus_bleu_matches_sacrebleu_on_near_copies():
    g = torch.Generator().manual_seed(0)
    for _ in range(50):  # mostly right: BLEU well above 0, every order matched
        refs = [torch.randint(0, 10, (int(n),), generator=g).tolist()
                for n in torch.randint(4, 15, (6,), generator=g)]
        cands = [[t if torch.rand(1, generator=g) > 0.2 else 0 for t in r]
                 for r in refs]
        cands = [c[:-1] if torch.rand(1, generator=g) > 0.5 else c for c in cands]
        cands, refs = ([[str(t) for t in s] for s in x] for x in (cands, refs))
        ours = d2l.corpus_bleu(cands, refs).score
        assert math.isclose(ours, sacre(cands, refs), abs_tol=1e-6)


def test_exact_match_counts_equal_lists():
    assert d2l.exact_match([[1, 2], [3]], [[1, 2], [4]]) == 0.5


# --- bad input, at every public function ------------------------------------------


def test_task_functions_reject_bad_input():
    src, tgt = d2l.number_vocabs()
    with pytest.raises(ValueError, match="n must be < 10"):
        d2l.number_words(10**9)
    with pytest.raises(ValueError, match="n must be >= 0"):
        d2l.number_words(-1)
    with pytest.raises(TypeError, match="n must be an int"):
        d2l.number_words(3.0)
    with pytest.raises(TypeError, match="generator must be"):
        d2l.sample_numbers(3, 0)
    with pytest.raises(ValueError, match="max_digits must be <= 9"):
        d2l.sample_numbers(3, torch.Generator(), max_digits=10)
    with pytest.raises(ValueError, match="num must be >= 1"):
        d2l.sample_numbers(0, torch.Generator())
    with pytest.raises(ValueError, match="num_test must be >= 1"):
        d2l.number_split(10, 0, 0)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        d2l.number_split(10, 1, -1)
    with pytest.raises(TypeError, match="numbers must be"):
        d2l.encode_numbers([], src, tgt)
    with pytest.raises(TypeError, match="tgt_vocab must be"):
        d2l.encode_numbers([1], src, d2l.Vocab(list("01")))
    with pytest.raises(ValueError, match="n must be >= 0"):
        d2l.encode_numbers([-5], src, tgt)


def test_masked_cross_entropy_rejects_bad_input():
    logits, labels = torch.randn(2, 3, 4), torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="logits must have shape"):
        d2l.masked_cross_entropy(logits[0], labels, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="lengths must be <= num_steps"):
        d2l.masked_cross_entropy(logits, labels, torch.tensor([1, 4]))
    with pytest.raises(ValueError, match="lengths must hold at least one"):
        d2l.masked_cross_entropy(logits, labels, torch.tensor([0, 0]))
    with pytest.raises(TypeError, match="lengths must be a long tensor"):
        d2l.masked_cross_entropy(logits, labels, torch.tensor([1.0, 2.0]))


def test_decoders_reject_bad_input():
    step = bigram_model(4, 0)
    state = (torch.zeros(2, dtype=torch.long),)
    for decode in (d2l.greedy_decode,
                   lambda *a: d2l.beam_search(*a, beam_size=2)):
        with pytest.raises(TypeError, match="step must be callable"):
            decode(None, state, 2, BOS, EOS, 3)
        with pytest.raises(TypeError, match="state must be a tuple"):
            decode(step, state[0], 2, BOS, EOS, 3)
        with pytest.raises(TypeError, match="state must be a tuple"):
            decode(step, state, 3, BOS, EOS, 3)
        with pytest.raises(ValueError, match="max_len must be >= 1"):
            decode(step, state, 2, BOS, EOS, 0)
        with pytest.raises(ValueError, match="eos must be >= 0"):
            decode(step, state, 2, BOS, -1, 3)
        with pytest.raises(ValueError, match="eos=9 is not a token"):
            decode(step, state, 2, BOS, 9, 3)
        with pytest.raises(ValueError, match="logits from step must have shape"):
            decode(lambda t, s: (torch.zeros(5, 4), s), state, 2, BOS, EOS, 3)
    with pytest.raises(ValueError, match="beam_size must be >= 1"):
        d2l.beam_search(step, state, 2, BOS, EOS, 3, beam_size=0)
    with pytest.raises(TypeError, match="keep_greedy must be True or False"):
        d2l.beam_search(step, state, 2, BOS, EOS, 3, beam_size=2, keep_greedy=1)
    with pytest.raises(ValueError, match="Y must have shape"):
        d2l.trim_sequences(torch.zeros(3, dtype=torch.long), EOS)
    with pytest.raises(ValueError, match="eos must be >= 0"):
        d2l.trim_sequences(torch.zeros(1, 3, dtype=torch.long), -2)


def test_metrics_reject_bad_input():
    for metric in (d2l.exact_match, d2l.corpus_bleu):
        with pytest.raises(TypeError, match="candidates must be a non-empty"):
            metric([], [[1]])
        with pytest.raises(TypeError, match="references must be a non-empty"):
            metric([[1]], ["12"])
        with pytest.raises(ValueError, match="must be as many, got 1 and 2"):
            metric([[1]], [[1], [2]])
    with pytest.raises(ValueError, match="max_n must be >= 1"):
        d2l.corpus_bleu([[1]], [[1]], max_n=0)
