"""Tests for d2lrnn.linrec: MinGRU, its blocks, stacks and language model.

The loop is the reference for the scan; both are checked against the minGRU
formula written out by hand, and gradients against finite differences in
float64.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.func import functional_call

import d2lrnn as d2l

F64 = torch.float64
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}


def layer_and_input(shape, seed, dtype=F64, mode="scan"):
    """A seeded MinGRU(d, h) and X (T, B, d), H0 (B, h) drawn from N(0, 1)."""
    T, B, d, h = shape
    torch.manual_seed(seed)
    layer = d2l.MinGRU(d, h, mode).to(dtype)
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(T, B, d, generator=g, dtype=dtype)
    H0 = torch.randn(B, h, generator=g, dtype=dtype)
    return layer, X, H0


def reference(layer, X, H):
    """z_t = sigmoid(x W_z + b_z), h_t = (1 - z) h + z (x W_h + b_h)."""
    H = torch.zeros(X.shape[1], layer.num_hiddens, dtype=X.dtype) if H is None else H
    out = []
    for t in range(X.shape[0]):
        z = torch.sigmoid(X[t] @ layer.W_z + layer.b_z)
        H = (1 - z) * H + z * (X[t] @ layer.W_h + layer.b_h)
        out.append(H)
    return torch.stack(out)


shapes = st.tuples(st.integers(1, 70), st.integers(1, 3), st.integers(1, 4),
                   st.integers(1, 5))


# --- MinGRU -------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(shapes, st.integers(0, 2**31 - 1), st.sampled_from([F64, torch.float32]),
       st.booleans())
def test_mingru_loop_equals_scan(shape, seed, dtype, with_h0):
    layer, X, H0 = layer_and_input(shape, seed, dtype)
    H0 = H0 if with_h0 else None
    layer.mode = "loop"
    Y_loop, H_loop = layer(X, H0)
    layer.mode = "scan"
    Y_scan, H_scan = layer(X, H0)
    tol = TOL[dtype]
    torch.testing.assert_close(Y_scan, Y_loop, rtol=tol, atol=tol)
    torch.testing.assert_close(H_scan, H_loop, rtol=tol, atol=tol)
    assert Y_scan.shape == (shape[0], shape[1], shape[3])


@pytest.mark.parametrize("mode", ["loop", "scan"])
@pytest.mark.parametrize("with_h0", [True, False])
def test_mingru_equals_hand_written_formula(mode, with_h0):
    layer, X, H0 = layer_and_input((13, 2, 3, 4), 1, mode=mode)
    H0 = H0 if with_h0 else None
    Y, H = layer(X, H0)
    torch.testing.assert_close(Y, reference(layer, X, H0))
    assert torch.equal(H, Y[-1])


def test_mingru_coefficients_are_one_minus_z_and_z_times_candidate():
    layer, X, _ = layer_and_input((5, 2, 3, 4), 2)
    A, B = layer.coefficients(X)
    Z = torch.sigmoid(X @ layer.W_z + layer.b_z)
    torch.testing.assert_close(A, 1 - Z)
    torch.testing.assert_close(B, Z * (X @ layer.W_h + layer.b_h))


@pytest.mark.parametrize("mode", ["loop", "scan"])
def test_mingru_gradients_match_finite_differences(mode):
    layer, X, H0 = layer_and_input((9, 2, 3, 2), 3, mode=mode)
    names = ["W_z", "b_z", "W_h", "b_h"]

    def states(X, H0, *weights):
        return functional_call(layer, dict(zip(names, weights, strict=True)),
                               (X, H0))[0]

    weights = [getattr(layer, n).detach().clone().requires_grad_() for n in names]
    inputs = [X.requires_grad_(), H0.requires_grad_(), *weights]
    assert torch.autograd.gradcheck(states, inputs)


def test_mingru_jacobian_is_diagonal_and_state_independent():
    layer, X, H0 = layer_and_input((1, 1, 3, 5), 4)

    def step(H):
        return layer(X, H[None])[1][0]

    J1 = torch.autograd.functional.jacobian(step, H0[0])
    J2 = torch.autograd.functional.jacobian(step, 3 * H0[0] + 1)
    Z = torch.sigmoid(X[0, 0] @ layer.W_z + layer.b_z)
    torch.testing.assert_close(J1, torch.diag(1 - Z).detach())
    torch.testing.assert_close(J1, J2)


def test_mingru_rejects_bad_arguments():
    with pytest.raises(TypeError, match="num_inputs must be an int"):
        d2l.MinGRU(2.0, 3)
    with pytest.raises(ValueError, match="num_hiddens must be >= 1"):
        d2l.MinGRU(2, 0)
    with pytest.raises(ValueError, match="mode must be 'loop' or 'scan'"):
        d2l.MinGRU(2, 3, mode="parallel")
    with pytest.raises(TypeError, match="mode must be a str"):
        d2l.MinGRU(2, 3, mode=None)
    layer = d2l.MinGRU(2, 3)
    with pytest.raises(ValueError, match=r"X must have shape \(None, None, 2\)"):
        layer(torch.zeros(4, 1, 5))
    with pytest.raises(TypeError, match="X must be a tensor"):
        layer([[0.0, 1.0]])
    with pytest.raises(TypeError, match="X must have dtype torch.float32"):
        layer(torch.zeros(4, 1, 2, dtype=F64))
    with pytest.raises(ValueError, match="X must hold at least one step"):
        layer(torch.zeros(0, 1, 2))
    with pytest.raises(ValueError, match=r"H0 must have shape \(1, 3\)"):
        layer(torch.zeros(4, 1, 2), torch.zeros(2, 3))


def test_check_mode_returns_valid_modes():
    assert d2l.check_mode("mode", "loop") == "loop"
    assert d2l.check_mode("mode", "scan") == "scan"
    with pytest.raises(ValueError, match="how must be 'loop' or 'scan', got 'x'"):
        d2l.check_mode("how", "x")


# --- MinGRUBlock, MinGRUStack, MinGRULM ------------------------------------------


def test_stack_loop_equals_scan_and_carries_state():
    torch.manual_seed(0)
    stack = d2l.MinGRUStack(3, 6, 2, 8).double()
    X = torch.randn(20, 2, 3, dtype=F64)
    out = {}
    for mode in ("loop", "scan"):
        stack.set_mode(mode)
        out[mode] = stack(X)
    torch.testing.assert_close(out["scan"][0], out["loop"][0], rtol=1e-10, atol=1e-10)
    # two halves with the state carried give the whole sequence
    Y1, state = stack(X[:11])
    Y2, _ = stack(X[11:], state)
    torch.testing.assert_close(torch.cat([Y1, Y2]), out["scan"][0])
    assert [s.shape for s in out["scan"][1]] == [(2, 6), (2, 6)]


def test_block_is_residual_around_mingru_and_mlp():
    torch.manual_seed(1)
    block = d2l.MinGRUBlock(4, 5).double()
    X = torch.randn(7, 2, 4, dtype=F64)
    Y, H = block(X)
    U = X + block.rnn(block.norm1(X))[0]
    torch.testing.assert_close(Y, U + block.mlp(block.norm2(U)))
    torch.testing.assert_close(H, block.rnn(block.norm1(X))[1])


def test_lm_matches_evaluate_perplexity_interface():
    torch.manual_seed(2)
    lm = d2l.MinGRULM(10, 8, 2, 16)
    X = torch.randint(0, 10, (3, 12))
    logits, state = lm(X, lm.begin_state(3))
    assert logits.shape == (12 * 3, 10)
    assert all(s.shape == (3, 8) for s in state)
    # rows are time-major: row t * B + b is step t of sequence b
    alone, _ = lm(X[1:2, :5])
    torch.testing.assert_close(logits.view(12, 3, 10)[:5, 1], alone, rtol=1e-5,
                               atol=1e-5)
    data = [(X, torch.randint(0, 10, (3, 12)))]
    ppl = d2l.evaluate_perplexity(lm, data, torch.device("cpu"))
    assert 1.0 < ppl < 100.0


def test_stack_and_lm_reject_bad_arguments():
    with pytest.raises(ValueError, match="num_layers must be >= 1"):
        d2l.MinGRUStack(2, 3, 0, 4)
    with pytest.raises(ValueError, match="num_inputs must be >= 1"):
        d2l.MinGRUStack(0, 3, 1, 4)
    with pytest.raises(ValueError, match="mlp_hiddens must be >= 1"):
        d2l.MinGRUBlock(3, 0)
    with pytest.raises(TypeError, match="num_hiddens must be an int"):
        d2l.MinGRUBlock("3", 4)
    stack = d2l.MinGRUStack(2, 3, 2, 4)
    with pytest.raises(ValueError, match="state must be a tuple of 2 states"):
        stack(torch.zeros(5, 1, 2), (torch.zeros(1, 3),))
    with pytest.raises(ValueError, match="mode must be 'loop' or 'scan'"):
        stack.set_mode("fast")
    with pytest.raises(ValueError, match="vocab_size must be >= 1"):
        d2l.MinGRULM(0, 3, 1, 4)
    lm = d2l.MinGRULM(5, 3, 1, 4)
    with pytest.raises(ValueError, match=r"X must hold indices in \[0, 5\)"):
        lm(torch.tensor([[0, 7]]))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        lm.begin_state(0)
    with pytest.raises(TypeError, match="device must be a torch.device"):
        lm.begin_state(1, device=3.5)


def test_mingru_starts_uniform_within_one_over_root_h():
    # as nn.GRU: U(-1/sqrt(h), 1/sqrt(h)) for every parameter
    torch.manual_seed(0)
    h = 16
    for p in d2l.MinGRU(9, h).parameters():
        assert p.abs().max() <= h ** -0.5
        assert p.abs().max() > 0.5 * h ** -0.5, p.shape


def test_width_one_is_allowed_and_zero_is_not():
    d2l.MinGRU(1, 1)
    block = d2l.MinGRUBlock(1, 1)
    out = block(torch.randn(3, 2, 1))
    assert out[0].shape == (3, 2, 1)
    with pytest.raises(ValueError, match="num_hiddens must be >= 1, got 0"):
        d2l.MinGRUBlock(0, 4)


def test_stack_set_mode_reaches_every_layer():
    stack = d2l.MinGRUStack(3, 4, 3, 8, mode="loop")
    stack.set_mode("scan")
    assert [block.rnn.mode for block in stack.blocks] == ["scan"] * 3
    stack.set_mode("loop")
    assert [block.rnn.mode for block in stack.blocks] == ["loop"] * 3


def test_lm_begin_state_follows_the_model_dtype():
    net = d2l.MinGRULM(5, 4, 2, 8).double()
    state = net.begin_state(3)
    assert len(state) == 2
    assert all(s.shape == (3, 4) and s.dtype == torch.float64 for s in state)
    meta = d2l.MinGRULM(5, 4, 1, 8).begin_state(2, device=torch.device("meta"))
    assert meta[0].device.type == "meta"
