"""Tests for linear recurrences h_t = a_t * h_{t-1} + b_t and their scans.

The functions are defined in book/12_time_scales.ipynb.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.overrides import TorchFunctionMode

import d2lrnn as d2l

scan = d2l.linear_recurrence_scan
loop = d2l.linear_recurrence_loop
hillis_steele = d2l.linear_recurrence_hillis_steele
check_recurrence = d2l.check_recurrence

METHODS = {"scan": scan, "loop": loop, "hs": hillis_steele}
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}

shapes = st.tuples(st.integers(1, 4), st.integers(1, 70), st.integers(1, 5))
seeds = st.integers(0, 2**31 - 1)


def inputs(shape, seed, dtype=torch.float64, with_h0=True):
    """A uniform in [-1, 1], B and h0 standard normal, from one seed."""
    g = torch.Generator().manual_seed(seed)
    batch, _, n = shape
    A = (2 * torch.rand(shape, generator=g, dtype=dtype) - 1).requires_grad_()
    B = torch.randn(shape, generator=g, dtype=dtype).requires_grad_()
    h0 = torch.randn((batch, n), generator=g, dtype=dtype).requires_grad_()
    return A, B, h0 if with_h0 else None


def assert_same_states(H, H_ref):
    """Equal to TOL relative to each entry, or to the largest state.

    An entry near zero that two roundings reach by cancellation can differ
    by more than TOL of itself, never by more than TOL of the states' size.
    """
    tol = TOL[H_ref.dtype]
    scale = H_ref.detach().abs().max().item()
    torch.testing.assert_close(H, H_ref, rtol=tol, atol=tol * scale)


# --- the scans equal the loop -------------------------------------------------


@pytest.mark.parametrize("method", [scan, hillis_steele], ids=["scan", "hs"])
@settings(deadline=None, max_examples=40)
@given(shapes, seeds, st.sampled_from([torch.float64, torch.float32]), st.booleans())
def test_linear_recurrence_scans_equal_the_loop(method, shape, seed, dtype, with_h0):
    A, B, h0 = inputs(shape, seed, dtype, with_h0)
    H = method(A, B, h0)
    assert H.shape == shape and H.dtype == dtype
    assert_same_states(H, loop(A, B, h0))


@pytest.mark.parametrize("T", [1, 2, 3, 127, 128, 129, 1000])
def test_linear_recurrence_scan_equals_the_loop_at_edge_lengths(T):
    A, B, h0 = inputs((2, T, 3), T)
    assert_same_states(scan(A, B, h0), loop(A, B, h0))


def test_linear_recurrence_loop_follows_the_definition():
    A, B, h0 = inputs((2, 4, 3), 0)
    H = loop(A, B, h0)
    torch.testing.assert_close(H[:, 0], A[:, 0] * h0 + B[:, 0], rtol=0, atol=0)
    for t in range(1, 4):
        expected = A[:, t] * H[:, t - 1] + B[:, t]
        torch.testing.assert_close(H[:, t], expected, rtol=0, atol=0)
    torch.testing.assert_close(loop(A, B), loop(A, B, torch.zeros_like(h0)))


@pytest.mark.parametrize("method", [scan, hillis_steele], ids=["scan", "hs"])
def test_linear_recurrence_scan_special_cases(method):
    _, B, h0 = inputs((3, 37, 2), 1)
    # a = 0 forgets: h_t = b_t; a = 1 adds up: h_t = h0 + b_0 + ... + b_t.
    torch.testing.assert_close(method(torch.zeros_like(B), B, h0), B)
    expected = h0[:, None] + B.cumsum(dim=1)
    torch.testing.assert_close(method(torch.ones_like(B), B, h0), expected)


def test_linear_recurrence_scan_does_not_change_its_inputs():
    A, B, h0 = (x.detach() for x in inputs((2, 9, 3), 2))
    before = [x.clone() for x in (A, B, h0)]
    scan(A, B, h0)
    hillis_steele(A, B, h0)
    for x, x0 in zip((A, B, h0), before, strict=True):
        assert torch.equal(x, x0)


@pytest.mark.parametrize("T", [1, 2, 3])
@pytest.mark.parametrize("method", METHODS.values(), ids=METHODS.keys())
def test_linear_recurrence_scan_returns_new_memory(method, T):
    A, B, _ = (x.detach() for x in inputs((2, T, 3), 3))
    before = B.clone()
    method(A, B).add_(1)  # with A = 0 or T = 1, H could have been B itself
    method(torch.zeros_like(A), B).add_(1)
    assert torch.equal(B, before)


# --- gradients ----------------------------------------------------------------


@settings(deadline=None, max_examples=40)
@given(shapes, seeds, st.booleans())
def test_linear_recurrence_scan_gradients_equal_the_loops(shape, seed, with_h0):
    A, B, h0 = inputs(shape, seed, torch.float64, with_h0)
    W = torch.randn(
        shape, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64
    )
    wrt = [A, B] if h0 is None else [A, B, h0]
    grads = torch.autograd.grad((scan(A, B, h0) * W).sum(), wrt)
    grads_ref = torch.autograd.grad((loop(A, B, h0) * W).sum(), wrt)
    if h0 is None:  # then h_0 = b_0 does not depend on a_0
        assert (grads[0][:, 0] == 0).all()
    for g, g_ref in zip(grads, grads_ref, strict=True):
        assert_same_states(g, g_ref)


def test_linear_recurrence_scan_takes_a_broadcast_decay():
    # A leaky unit passes one alpha expanded over (batch, T, n): stride 0,
    # which the in-place scan must copy before it writes.
    alpha = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    _, V, _ = inputs((2, 33, 3), 4)
    grads = []
    for method in (scan, loop):
        H = method(alpha.expand(V.shape), (1 - alpha) * V)
        grads.append(torch.autograd.grad((H**2).sum(), (alpha, V)))
        if method is scan:
            H_scan = H
    assert_same_states(H_scan, H)
    for g, g_ref in zip(*grads, strict=True):
        assert_same_states(g, g_ref)


@pytest.mark.parametrize("T", [1, 2, 5, 8])
def test_linear_recurrence_scan_passes_gradcheck(T):
    A, B, h0 = inputs((2, T, 2), T)
    assert torch.autograd.gradcheck(scan, (A, B, h0))
    assert torch.autograd.gradcheck(lambda A, B: scan(A, B), (A, B))


# --- work and depth -----------------------------------------------------------


class CountArithmetic(TorchFunctionMode):
    """Count calls of *, + and their in-place forms, and the entries computed."""

    NAMES = {"mul", "__mul__", "__rmul__", "add", "__add__", "__radd__",
             "mul_", "addcmul_"}

    def __init__(self):
        super().__init__()
        self.calls = self.entries = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if getattr(func, "__name__", "") in self.NAMES:
            self.calls += 1
            self.entries += out.numel()
        return out


def arithmetic(method, T, batch=2, n=3):
    A, B, h0 = (x.detach() for x in inputs((batch, T, n), 0))
    with CountArithmetic() as count:
        method(A, B, h0)
    return count.calls, count.entries / (batch * n)  # calls, work per channel


@pytest.mark.parametrize("T", [1, 7, 64, 100, 1024])
def test_linear_recurrence_scan_has_linear_work_and_log_depth(T):
    levels = math.ceil(math.log2(T))
    calls, work = arithmetic(scan, T)
    # up-sweep: T / 2 + T / 4 + ... slots, 2 multiplies each; down-sweep:
    # fewer than T slots, 1 multiply-add each; h0 folded in 2
    assert work <= 3 * T + 2
    assert calls <= 3 * levels + 2  # 2 in-place operations a level up, 1 down
    calls, work = arithmetic(hillis_steele, T)
    assert calls <= 3 * levels + 2
    assert work >= 2 * T * levels  # every round touches all T steps
    assert arithmetic(loop, T) == (2 * T, 2 * T)


# --- bad input ----------------------------------------------------------------

X = torch.zeros(2, 5, 3)
BAD = [
    ((X.numpy(), X, None), TypeError, r"A must be a tensor, got ndarray"),
    ((X, [[0.0]], None), TypeError, r"B must be a tensor, got list"),
    ((X, X, 0.0), TypeError, r"h0 must be a tensor, got float"),
    ((X[0], X[0], None), ValueError, r"A must have shape \(None, None, None\)"),
    ((X, X[:, :4], None), ValueError, r"B must have shape \(2, 5, 3\).*\(2, 4, 3\)"),
    ((X, X, torch.zeros(2, 4)), ValueError, r"h0 must have shape \(2, 3\)"),
    ((X, X, torch.zeros(3)), ValueError, r"h0 must have shape \(2, 3\)"),
    ((X, X.double(), None), TypeError, r"B must have dtype torch.float32"),
    ((X, X, torch.zeros(2, 3).double()), TypeError, r"h0 must have dtype"),
    ((X.long(), X.long(), None), TypeError, r"A must be a floating-point.*int64"),
    ((X[:, :0], X[:, :0], None), ValueError, r"A must have at least one step"),
]


@pytest.mark.parametrize("method", METHODS.values(), ids=METHODS.keys())
@pytest.mark.parametrize(("args", "error", "message"), BAD)
def test_linear_recurrence_scan_names_the_bad_argument(method, args, error, message):
    with pytest.raises(error, match=message):
        method(*args)


def test_check_recurrence_accepts_good_input():
    assert check_recurrence(X, X, None) is None
    assert check_recurrence(X, X, torch.ones(2, 3)) is None
