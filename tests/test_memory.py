"""Tests for d2lrnn.memory: content addressing, soft reads and writes, recall.

The read and the write are checked against the formulas slot by slot, the
addressing against its limits in beta, and gradients against finite
differences in float64.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.func import functional_call

import d2lrnn as d2l

F64 = torch.float64


def randn(*shape, seed=0):
    return torch.randn(*shape, dtype=F64, generator=torch.Generator().manual_seed(seed))


def distribution(batch_size, num_slots, seed=0):
    w = torch.rand(batch_size, num_slots, dtype=F64,
                   generator=torch.Generator().manual_seed(seed))
    return w / w.sum(-1, keepdim=True)


# --- content_weights ------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(1, 7), st.integers(1, 5),
       st.floats(0.01, 50.0), st.integers(0, 10_000))
def test_content_weights_are_a_distribution(B, N, M, beta, seed):
    w = d2l.content_weights(randn(B, N, M, seed=seed), randn(B, M, seed=seed + 1),
                            beta)
    assert w.shape == (B, N)
    assert (w >= 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(B, dtype=F64))


def test_content_weights_match_the_formula():
    memory, key = randn(2, 5, 3), randn(2, 3, seed=1)
    cos = torch.nn.functional.cosine_similarity(memory, key.unsqueeze(1), dim=-1)
    torch.testing.assert_close(d2l.content_weights(memory, key, 2.5),
                               torch.softmax(2.5 * cos, -1))


def test_content_weights_ignore_the_length_of_key_and_slots():
    memory, key = randn(2, 5, 3), randn(2, 3, seed=1)
    scaled = memory * torch.tensor([1.0, 3.0, 0.5, 7.0, 2.0], dtype=F64)[:, None]
    torch.testing.assert_close(d2l.content_weights(scaled, 4 * key, 1.5),
                               d2l.content_weights(memory, key, 1.5))


def test_content_weights_beta_sharpens_and_flattens():
    memory, key = randn(1, 6, 4), randn(1, 4, seed=3)
    best = torch.nn.functional.cosine_similarity(memory, key[:, None], -1).argmax()
    flat = d2l.content_weights(memory, key, 1e-6)
    torch.testing.assert_close(flat, torch.full((1, 6), 1 / 6, dtype=F64),
                               atol=1e-5, rtol=0)
    maxima = [d2l.content_weights(memory, key, b)[0, best].item()
              for b in (0.1, 1.0, 10.0, 100.0, 1000.0)]
    assert maxima == sorted(maxima) and maxima[-1] > 1 - 1e-9


def test_content_weights_per_sequence_beta_equals_separate_calls():
    memory, key = randn(3, 4, 2), randn(3, 2, seed=1)
    beta = torch.tensor([0.5, 2.0, 9.0], dtype=F64)
    w = d2l.content_weights(memory, key, beta)
    for b in range(3):
        torch.testing.assert_close(
            w[b], d2l.content_weights(memory[b:b + 1], key[b:b + 1],
                                      beta[b].item())[0])


def test_content_weights_of_an_empty_slot_are_finite():
    memory = randn(1, 3, 2)
    memory[0, 1] = 0
    w = d2l.content_weights(memory, randn(1, 2, seed=1), 3.0)
    assert torch.isfinite(w).all()


def test_content_weights_gradients_match_finite_differences():
    memory = randn(2, 4, 3).requires_grad_()
    key = randn(2, 3, seed=1).requires_grad_()
    beta = torch.tensor([0.7, 3.0], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(d2l.content_weights, (memory, key, beta))


# --- read and write -------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 4), st.integers(0, 10_000))
def test_read_is_the_weighted_sum_of_slots(B, N, M, seed):
    memory, w = randn(B, N, M, seed=seed), distribution(B, N, seed=seed)
    expected = sum(w[:, i, None] * memory[:, i] for i in range(N))
    torch.testing.assert_close(d2l.read(memory, w), expected)


def test_read_with_one_hot_weights_is_that_slot():
    memory = randn(2, 5, 3)
    w = torch.nn.functional.one_hot(torch.tensor([4, 1]), 5).to(F64)
    torch.testing.assert_close(d2l.read(memory, w), memory[[0, 1], [4, 1]])


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 4), st.integers(0, 10_000))
def test_write_matches_a_loop_over_slots(B, N, M, seed):
    memory, w = randn(B, N, M, seed=seed), distribution(B, N, seed=seed)
    erase = torch.rand(B, M, dtype=F64, generator=torch.Generator().manual_seed(seed))
    add = randn(B, M, seed=seed + 1)
    new = d2l.write(memory, w, erase, add)
    for b in range(B):
        for i in range(N):
            for j in range(M):
                ref = (memory[b, i, j] * (1 - w[b, i] * erase[b, j])
                       + w[b, i] * add[b, j])
                torch.testing.assert_close(new[b, i, j], ref)


def test_write_extremes_overwrite_or_accumulate():
    memory, add = randn(1, 4, 3), randn(1, 3, seed=1)
    w = torch.tensor([[0.0, 0.0, 1.0, 0.0]], dtype=F64)
    over = d2l.write(memory, w, torch.ones(1, 3, dtype=F64), add)
    torch.testing.assert_close(over[0, 2], add[0])
    torch.testing.assert_close(over[0, [0, 1, 3]], memory[0, [0, 1, 3]])
    acc = d2l.write(memory, w, torch.zeros(1, 3, dtype=F64), add)
    torch.testing.assert_close(acc[0, 2], memory[0, 2] + add[0])


def test_write_leaves_its_input_unchanged():
    memory = randn(1, 3, 2)
    before = memory.clone()
    d2l.write(memory, distribution(1, 3), torch.ones(1, 2, dtype=F64), randn(1, 2))
    torch.testing.assert_close(memory, before)


def test_read_and_write_gradients_match_finite_differences():
    memory = randn(2, 4, 3).requires_grad_()
    w = distribution(2, 4).requires_grad_()
    erase = torch.full((2, 3), 0.4, dtype=F64, requires_grad=True)
    add = randn(2, 3, seed=2).requires_grad_()
    assert torch.autograd.gradcheck(d2l.read, (memory, w))
    assert torch.autograd.gradcheck(d2l.write, (memory, w, erase, add))


# --- associative_recall and MemoryRecall ---------------------------------------


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 20), st.integers(1, 8), st.integers(0, 10_000))
def test_associative_recall_query_and_target(n, k, seed):
    g = torch.Generator().manual_seed(seed)
    X, Y, slots = d2l.associative_recall(n, k, 8, 5, g)
    assert X.shape == (k + 1, n, 13) and Y.shape == slots.shape == (n,)
    keys, values = X[:-1, :, :8].argmax(-1), X[:-1, :, 8:].argmax(-1)  # (k, n)
    assert (X[:-1].sum(-1) == 2).all() and (X[-1].sum(-1) == 1).all()
    assert (X[-1, :, 8:] == 0).all()
    for b in range(n):
        assert len(set(keys[:, b].tolist())) == k  # distinct keys
        assert keys[slots[b], b] == X[-1, b, :8].argmax()
        assert values[slots[b], b] == Y[b]


def test_associative_recall_is_reproducible():
    a = d2l.associative_recall(5, 3, 6, 4, torch.Generator().manual_seed(1))
    b = d2l.associative_recall(5, 3, 6, 4, torch.Generator().manual_seed(1))
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)


def test_memory_recall_writes_pair_t_to_slot_t():
    torch.manual_seed(0)
    net = d2l.MemoryRecall(6, 4, 5)
    X, _, _ = d2l.associative_recall(3, 4, 6, 4, torch.Generator().manual_seed(0))
    memory = net.memorize(X)
    assert memory.shape == (3, 4, 5)
    for t in range(4):
        torch.testing.assert_close(memory[:, t], torch.tanh(net.add(X[t])))
    wrapped = net.memorize(X, num_slots=3)  # pair 3 overwrites slot 0
    torch.testing.assert_close(wrapped[:, 0], memory[:, 3])
    torch.testing.assert_close(wrapped[:, 1:], memory[:, 1:3])


def test_memory_recall_forward_shapes_and_weights():
    torch.manual_seed(0)
    net = d2l.MemoryRecall(6, 4, 5)
    X, _, _ = d2l.associative_recall(3, 4, 6, 4, torch.Generator().manual_seed(0))
    logits, w = net(X)
    assert logits.shape == (3, 4) and w.shape == (3, 4)
    torch.testing.assert_close(w.sum(-1), torch.ones(3))
    memory = net.memorize(X)
    key = torch.tanh(net.key(X[-1, :, :6]))
    ref = d2l.content_weights(memory, key, net.log_beta.exp().item())
    torch.testing.assert_close(w, ref)


def test_memory_recall_gradients_match_finite_differences():
    torch.manual_seed(0)
    net = d2l.MemoryRecall(5, 3, 4).double()
    X, _, _ = d2l.associative_recall(2, 3, 5, 3, torch.Generator().manual_seed(0))
    X = X.double()
    params = {name: p.detach() for name, p in net.named_parameters()}

    def logits(W_k, log_beta):
        return functional_call(net, {**params, "key.weight": W_k,
                                     "log_beta": log_beta}, (X,))[0]

    W_k = params["key.weight"].clone().requires_grad_()
    log_beta = params["log_beta"].clone().requires_grad_()
    assert torch.autograd.gradcheck(logits, (W_k, log_beta))


# --- bad input ------------------------------------------------------------------


def test_content_weights_rejects_bad_input():
    memory, key = randn(2, 3, 4), randn(2, 4)
    with pytest.raises(TypeError, match="memory must be a tensor"):
        d2l.content_weights([[0.0]], key, 1.0)
    with pytest.raises(ValueError, match="memory must have shape"):
        d2l.content_weights(randn(3, 4), key, 1.0)
    with pytest.raises(ValueError, match="memory must be a floating tensor"):
        d2l.content_weights(torch.ones(2, 3, 4, dtype=torch.long), key, 1.0)
    with pytest.raises(ValueError, match="memory must be a floating tensor"):
        d2l.content_weights(randn(2, 0, 4), key, 1.0)
    with pytest.raises(ValueError, match="key must have shape"):
        d2l.content_weights(memory, randn(2, 3), 1.0)
    with pytest.raises(TypeError, match="key must have dtype"):
        d2l.content_weights(memory, key.float(), 1.0)
    with pytest.raises(ValueError, match="beta must be"):
        d2l.content_weights(memory, key, 0.0)
    with pytest.raises(TypeError, match="beta must be a real number"):
        d2l.content_weights(memory, key, "1")
    with pytest.raises(ValueError, match="beta must have shape"):
        d2l.content_weights(memory, key, torch.ones(3, dtype=F64))
    with pytest.raises(ValueError, match="beta must be finite and > 0"):
        d2l.content_weights(memory, key, torch.tensor([1.0, -1.0], dtype=F64))
    with pytest.raises(ValueError, match="beta must be finite and > 0"):
        d2l.content_weights(memory, key, torch.tensor([1.0, float("nan")],
                                                      dtype=F64))
    with pytest.raises(ValueError, match="eps must be"):
        d2l.content_weights(memory, key, 1.0, eps=0.0)


def test_read_rejects_bad_input():
    memory = randn(2, 3, 4)
    with pytest.raises(ValueError, match="memory must have shape"):
        d2l.read(randn(3, 4), distribution(2, 3))
    with pytest.raises(TypeError, match="weights must be a tensor"):
        d2l.read(memory, [0.5, 0.5])
    with pytest.raises(ValueError, match="weights must have shape"):
        d2l.read(memory, distribution(2, 4))
    with pytest.raises(ValueError, match="weights must be finite and >= 0"):
        d2l.read(memory, torch.tensor([[1.5, -0.5, 0.0]] * 2, dtype=F64))
    with pytest.raises(ValueError, match="weights must be finite and >= 0"):
        d2l.read(memory, torch.full((2, 3), float("inf"), dtype=F64))


def test_write_rejects_bad_input():
    memory, w = randn(2, 3, 4), distribution(2, 3)
    erase, add = torch.ones(2, 4, dtype=F64), randn(2, 4)
    with pytest.raises(ValueError, match="weights must have shape"):
        d2l.write(memory, distribution(1, 3), erase, add)
    with pytest.raises(ValueError, match="erase must have shape"):
        d2l.write(memory, w, torch.ones(2, 3, dtype=F64), add)
    with pytest.raises(ValueError, match=r"erase must lie in \[0, 1\]"):
        d2l.write(memory, w, 2 * erase, add)
    with pytest.raises(TypeError, match="add must be a tensor"):
        d2l.write(memory, w, erase, 1.0)
    with pytest.raises(TypeError, match="add must have dtype"):
        d2l.write(memory, w, erase, add.float())


def test_associative_recall_rejects_bad_input():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="n must be >= 1"):
        d2l.associative_recall(0, 2, 4, 3, g)
    with pytest.raises(TypeError, match="num_pairs must be an int"):
        d2l.associative_recall(2, 2.0, 4, 3, g)
    with pytest.raises(ValueError, match="num_pairs must be <= num_keys"):
        d2l.associative_recall(2, 5, 4, 3, g)
    with pytest.raises(ValueError, match="num_values must be >= 1"):
        d2l.associative_recall(2, 2, 4, 0, g)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        d2l.associative_recall(2, 2, 4, 3, 0)


def test_memory_recall_rejects_bad_input():
    with pytest.raises(ValueError, match="width must be >= 1"):
        d2l.MemoryRecall(4, 3, 0)
    with pytest.raises(TypeError, match="num_keys must be an int"):
        d2l.MemoryRecall(None, 3, 2)
    net = d2l.MemoryRecall(4, 3, 2)
    X, _, _ = d2l.associative_recall(2, 2, 4, 3, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="X must have shape"):
        net(X[..., :5])
    with pytest.raises(TypeError, match="X must have dtype"):
        net(X.double())
    with pytest.raises(ValueError, match="X must hold at least one pair"):
        net(X[-1:])
    with pytest.raises(ValueError, match="num_slots must be >= 1"):
        net(X, num_slots=0)
    with pytest.raises(TypeError, match="num_slots must be an int"):
        net(X, num_slots=2.0)


def test_associative_recall_with_one_key_and_one_pair():
    X, Y, slots = d2l.associative_recall(4, 1, 1, 3, d2l.generator(0))
    assert X.shape == (2, 4, 1 + 3)  # one pair and the query
    assert (X[:, :, 0] == 1).all()  # the only key, at both steps
    assert (slots == 0).all()
    torch.testing.assert_close(X[0, :, 1:].argmax(-1), Y)
    logits, weights = d2l.MemoryRecall(1, 3, 5)(X)
    assert logits.shape == (4, 3)
    torch.testing.assert_close(weights, torch.ones(4, 1))  # one slot: all of it


def test_associative_recall_needs_a_pair():
    with pytest.raises(ValueError, match="num_pairs must be >= 1, got 0"):
        d2l.associative_recall(4, 0, 5, 3, d2l.generator(0))
