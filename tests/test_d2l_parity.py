"""Parity with d2l 0.17.6 (``from d2l import torch as d2l_ref``) on the same inputs.

d2l's package imports torchvision and pandas at the top of ``d2l/torch.py``.
Neither is used by the functions compared here (vocabulary, iterators,
clipping, the scratch RNN), torchvision from PyPI does not import beside this
build of torch, and pandas is not a dependency of the course.  The
``d2l_ref`` fixture therefore imports it through ``benchmarks/bench_rnn.py``'s
``d2l_release``, which puts empty stand-in modules into ``sys.modules`` for the
import only and removes them again afterwards, so that no other test ever sees
the stubs.

Documented differences, pinned rather than hidden:

* ``seq_data_iter_sequential``: d2l draws the offset from ``[0, num_steps]``
  (``random.randint(0, num_steps)``), we from ``[0, num_steps)``; offset
  ``num_steps`` only drops one more window.  We compare with the offset pinned.
* d2l's scratch RNN functions (``get_params``, ``init_rnn_state``, ``rnn``)
  live in its notebooks, not in the package; the test writes them following
  the book (normal(0, 0.01) weights, zero biases, one-hot inputs, tanh) and
  runs them through d2l's own ``RNNModelScratch`` and ``predict_ch8``.
"""

from __future__ import annotations

import importlib.util
import random
import sys
import types
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

import d2lrnn as d2l

_BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_rnn.py"


@pytest.fixture(scope="module")
def d2l_ref():
    """d2l 0.17.6, imported with stand-ins for its unused heavy imports."""
    # The import lives in benchmarks/bench_rnn.py (d2l_release), which times
    # d2l's own loop too; the stubs exist only while d2l is imported.
    spec = importlib.util.spec_from_file_location("bench_rnn", _BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    sys.modules.pop("d2l.torch", None)
    module = bench.d2l_release()
    assert module is not None, "the test command installs d2l 0.17.6"
    return module


@pytest.fixture(scope="module")
def lines():
    return d2l.read_time_machine()


@pytest.mark.parametrize("token", ["char", "word"])
@pytest.mark.parametrize("min_freq", [0, 3])
def test_vocab_indices_match_d2l(d2l_ref, lines, token, min_freq):
    tokens = d2l.tokenize(lines, token)
    assert tokens == d2l_ref.tokenize(lines, token)
    ours = d2l.Vocab(tokens, min_freq=min_freq, reserved_tokens=["<pad>"])
    ref = d2l_ref.Vocab(tokens, min_freq=min_freq, reserved_tokens=["<pad>"])
    assert ours.idx_to_token == ref.idx_to_token
    assert ours.token_to_idx == ref.token_to_idx
    sample = [t for line in tokens[:50] for t in line] + ["never-seen-token"]
    assert ours[sample] == ref[sample]
    assert ours.to_tokens(list(range(len(ours)))) == ref.to_tokens(
        list(range(len(ref)))
    )


def test_load_corpus_differs_from_d2l_only_by_line_separators(
        d2l_ref, lines, monkeypatch):
    # d2l joins the lines with nothing between them ("him" + "was" become
    # "himwas"); we put one space between consecutive non-empty lines. The
    # vocabularies agree, and without those spaces so do the corpora.
    # d2l reads the file through its own download(); point it at our lines.
    monkeypatch.setattr(d2l_ref, "read_time_machine", lambda: lines)
    ref_corpus, ref_vocab = d2l_ref.load_corpus_time_machine()
    corpus, vocab = d2l.load_corpus_time_machine()
    assert vocab.idx_to_token == ref_vocab.idx_to_token
    ends = torch.tensor([len(line) for line in lines if line]).cumsum(0)
    separators = ends[:-1] + torch.arange(len(ends) - 1)  # in our corpus
    assert len(corpus) == len(ref_corpus) + len(separators)
    assert (corpus[separators] == vocab[" "]).all()
    keep = torch.ones(len(corpus), dtype=torch.bool)
    keep[separators] = False
    assert corpus[keep].tolist() == ref_corpus
    assert "himwas" in "".join(ref_vocab.to_tokens(ref_corpus[:400]))
    assert "him was" in "".join(vocab.to_tokens(corpus[:400].tolist()))


def _batches(iterator):
    return [(X.tolist(), Y.tolist()) for X, Y in iterator]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("batch_size", "num_steps"), [(2, 5), (3, 7), (4, 1)])
def test_seq_data_iter_random_matches_d2l(d2l_ref, seed, batch_size, num_steps):
    corpus = list(range(100))
    random.seed(seed)
    ref = _batches(d2l_ref.seq_data_iter_random(corpus, batch_size, num_steps))
    state_after_ref = random.getstate()
    random.seed(seed)
    ours = _batches(
        d2l.seq_data_iter_random(torch.tensor(corpus), batch_size, num_steps)
    )
    assert ours == ref
    assert random.getstate() == state_after_ref  # same draws consumed


@pytest.mark.parametrize(("batch_size", "num_steps"), [(2, 5), (3, 7), (4, 1)])
def test_seq_data_iter_sequential_matches_d2l_with_pinned_offset(
    d2l_ref, monkeypatch, batch_size, num_steps
):
    corpus = list(range(100))
    for offset in range(num_steps):
        # d2l draws its offset with random.randint(0, num_steps); pin it.
        monkeypatch.setattr(d2l_ref.random, "randint", lambda a, b, o=offset: o)
        ref = _batches(d2l_ref.seq_data_iter_sequential(corpus, batch_size, num_steps))
        monkeypatch.undo()
        ours = _batches(
            d2l.seq_data_iter_sequential(
                torch.tensor(corpus), batch_size, num_steps, offset=offset
            )
        )
        assert ours == ref, offset


def test_seq_data_iter_sequential_offset_ranges_differ_as_documented(d2l_ref):
    # With the same seed both draw one randint, but over different ranges.
    num_steps = 5
    seen_ref, seen_ours = set(), set()
    corpus = list(range(60))
    for seed in range(200):
        random.seed(seed)
        X, _ = next(d2l_ref.seq_data_iter_sequential(corpus, 2, num_steps))
        seen_ref.add(int(X[0, 0]))
        random.seed(seed)
        X, _ = next(d2l.seq_data_iter_sequential(torch.tensor(corpus), 2, num_steps))
        seen_ours.add(int(X[0, 0]))
    assert seen_ref == set(range(num_steps + 1))
    assert seen_ours == set(range(num_steps))


@pytest.mark.parametrize("theta", [0.1, 1.0, 100.0])
def test_grad_clipping_matches_d2l(d2l_ref, theta):
    torch.manual_seed(0)
    params = [torch.randn(3, 4, requires_grad=True), torch.randn(4, requires_grad=True)]
    grads = [torch.randn_like(p) for p in params]
    ref_params = [p.detach().clone().requires_grad_() for p in params]
    for p, q, g in zip(params, ref_params, grads, strict=True):
        p.grad, q.grad = g.clone(), g.clone()
    norm = d2l.grad_clipping(params, theta)
    d2l_ref.grad_clipping(types.SimpleNamespace(params=ref_params), theta)
    for p, q in zip(params, ref_params, strict=True):
        torch.testing.assert_close(p.grad, q.grad)
    torch.testing.assert_close(
        torch.tensor(norm), torch.sqrt(sum((g**2).sum() for g in grads))
    )


def test_grad_clipping_matches_d2l_on_a_module(d2l_ref):
    torch.manual_seed(0)
    ours = torch.nn.Linear(5, 3)
    ref = torch.nn.Linear(5, 3)
    ref.load_state_dict(ours.state_dict())
    X = torch.randn(8, 5)
    for net in (ours, ref):
        (net(X) ** 2).sum().backward()
    d2l.grad_clipping(ours, 0.5)
    d2l_ref.grad_clipping(ref, 0.5)
    for p, q in zip(ours.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad)


# d2l's notebook-local scratch RNN, written after the book (see module doc).
def _d2l_get_params(vocab_size, num_hiddens, device):
    def normal(shape):
        return torch.randn(size=shape, device=device) * 0.01

    params = [
        normal((vocab_size, num_hiddens)),
        normal((num_hiddens, num_hiddens)),
        torch.zeros(num_hiddens, device=device),
        normal((num_hiddens, vocab_size)),
        torch.zeros(vocab_size, device=device),
    ]
    for param in params:
        param.requires_grad_(True)
    return params


def _d2l_init_rnn_state(batch_size, num_hiddens, device):
    return (torch.zeros((batch_size, num_hiddens), device=device),)


def _d2l_rnn(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    (H,) = state
    outputs = []
    for X in inputs:  # (batch_size, vocab_size), one-hot
        H = torch.tanh(torch.mm(X, W_xh) + torch.mm(H, W_hh) + b_h)
        outputs.append(torch.mm(H, W_hq) + b_q)
    return torch.cat(outputs, dim=0), (H,)


@pytest.fixture(scope="module")
def rnn_pair(d2l_ref):
    """A d2l scratch RNN and ours with identical (non-trivial) parameters."""
    vocab_size, num_hiddens = 28, 16
    torch.manual_seed(0)
    ref = d2l_ref.RNNModelScratch(
        vocab_size,
        num_hiddens,
        "cpu",
        _d2l_get_params,
        _d2l_init_rnn_state,
        _d2l_rnn,
    )
    with torch.no_grad():  # d2l's 0.01 scale makes every output nearly equal
        for p in ref.params:
            p.copy_(torch.randn_like(p) * 0.5)
    ours = {}
    for name, fn in (("rnn", d2l.rnn), ("rnn_fast", d2l.rnn_fast)):
        net = d2l.RNNModelScratch(vocab_size, num_hiddens, forward_fn=fn)
        with torch.no_grad():
            for p, q in zip(net.params, ref.params, strict=True):
                p.copy_(q)
        ours[name] = net
    return ref, ours


@pytest.mark.parametrize("forward_fn", ["rnn", "rnn_fast"])
def test_scratch_rnn_forward_matches_d2l(rnn_pair, forward_fn):
    ref, ours = rnn_pair
    net = ours[forward_fn]
    torch.manual_seed(1)
    X = torch.randint(0, 28, (4, 9))  # (batch_size, num_steps)
    H0 = torch.randn(4, 16)
    Y_ref, (H_ref,) = ref(X, (H0,))
    Y, (H,) = net(X, (H0.clone(),))
    torch.testing.assert_close(Y, Y_ref)
    torch.testing.assert_close(H, H_ref)
    assert ref.begin_state(4, "cpu")[0].shape == net.begin_state(4)[0].shape
    # and the one-hot layout: d2l feeds F.one_hot(X.T) to its forward_fn
    torch.testing.assert_close(
        _d2l_rnn(F.one_hot(X.T, 28).float(), (H0,), list(net.params))[0], Y
    )


def test_greedy_predict_matches_d2l(d2l_ref, rnn_pair, lines):
    ref, ours = rnn_pair
    tokens = d2l.tokenize(lines, "char")
    vocab, ref_vocab = d2l.Vocab(tokens), d2l_ref.Vocab(tokens)
    for prefix in ("time traveller ", "t", "the"):
        expected = d2l_ref.predict_ch8(prefix, 30, ref, ref_vocab, "cpu")
        for net in ours.values():
            assert d2l.predict(prefix, 30, net, vocab, "cpu") == expected
