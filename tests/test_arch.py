"""Tests for d2lrnn.arch: bidirectional, stacked and deep-transition layers.

PyTorch is the reference: weights are copied from ``nn.RNN``/``nn.GRU`` into the
scratch cells and the outputs compared in float64. The bad-input tests live here
too (tests/test_bad_input.py has no registry to extend).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import d2lrnn as d2l

F64 = torch.float64


def randn(*shape, seed=0):
    return torch.randn(*shape, dtype=F64, generator=torch.Generator().manual_seed(seed))


def torch_rnn(kind, num_inputs, num_hiddens, num_layers=1, bidirectional=False,
              seed=0):
    torch.manual_seed(seed)
    cls = {"rnn": nn.RNN, "gru": nn.GRU}[kind]
    return cls(num_inputs, num_hiddens, num_layers=num_layers,
               bidirectional=bidirectional, dtype=F64)


# --- the cells and cell_from_torch --------------------------------------------


@pytest.mark.parametrize("kind", ["rnn", "gru"])
@pytest.mark.parametrize(("num_inputs", "num_hiddens", "batch"),
                         [(1, 1, 1), (3, 5, 2), (6, 4, 7)])
def test_cell_from_torch_matches_one_torch_step(kind, num_inputs, num_hiddens,
                                                batch):
    rnn = torch_rnn(kind, num_inputs, num_hiddens)
    cell = d2l.cell_from_torch(rnn)
    X, H = randn(1, batch, num_inputs, seed=1), randn(1, batch, num_hiddens, seed=2)
    expected, _ = rnn(X, H)
    torch.testing.assert_close(cell(X[0], H[0]), expected[0])
    assert next(cell.parameters()).dtype == F64


def test_cell_from_torch_copies_rather_than_shares_the_weights():
    rnn = torch_rnn("gru", 3, 4)
    cell = d2l.cell_from_torch(rnn)
    before = rnn.weight_ih_l0.detach().clone()
    with torch.no_grad():
        cell.W_x.add_(1.0)
    torch.testing.assert_close(rnn.weight_ih_l0.detach(), before)


def test_gru_cell_keeps_the_state_when_the_update_gate_is_one():
    cell = d2l.GRUCell(2, 3).double()
    h = cell.num_hiddens
    with torch.no_grad():
        cell.b_x[:h] = 50.0  # update gate z = sigmoid(50 + ...) = 1
    H = randn(4, 3, seed=3)
    torch.testing.assert_close(cell(randn(4, 2, seed=4), H), H)


# --- RNNLayer, BiRNN ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["rnn", "gru"])
@pytest.mark.parametrize(("num_steps", "batch", "num_inputs", "num_hiddens"),
                         [(1, 1, 1, 2), (5, 3, 4, 6), (9, 2, 7, 3)])
def test_birnn_matches_torch_bidirectional(kind, num_steps, batch, num_inputs,
                                           num_hiddens):
    rnn = torch_rnn(kind, num_inputs, num_hiddens, bidirectional=True)
    bi = d2l.BiRNN(d2l.cell_from_torch(rnn), d2l.cell_from_torch(rnn, reverse=True))
    X = randn(num_steps, batch, num_inputs, seed=5)
    H0 = randn(2, batch, num_hiddens, seed=6)
    for state in (H0, None):
        out, H_n = bi(X, state)
        expected, expected_H = rnn(X, state)
        torch.testing.assert_close(out, expected)
        torch.testing.assert_close(H_n, expected_H)


@settings(deadline=None, max_examples=25)
@given(st.integers(1, 8), st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_backward_direction_is_the_forward_one_on_the_reversed_sequence(
        num_steps, batch, seed):
    torch.manual_seed(seed)
    f_cell, b_cell = d2l.RNNCell(3, 4).double(), d2l.RNNCell(3, 4).double()
    X = randn(num_steps, batch, 3, seed=seed)
    out, H_n = d2l.BiRNN(f_cell, b_cell)(X)
    as_forward, H_last = d2l.RNNLayer(b_cell)(X.flip(0))
    torch.testing.assert_close(out[..., 4:], as_forward.flip(0))
    torch.testing.assert_close(H_n[1:], H_last)
    # on the reversed sequence, the two directions trade places
    out_rev, _ = d2l.BiRNN(f_cell, b_cell)(X.flip(0))
    swapped, _ = d2l.BiRNN(b_cell, f_cell)(X)
    torch.testing.assert_close(
        out_rev, torch.cat([swapped[..., 4:], swapped[..., :4]], -1).flip(0))


def test_birnn_backward_state_at_t_does_not_depend_on_earlier_inputs():
    torch.manual_seed(0)
    bi = d2l.BiRNN(d2l.RNNCell(2, 3), d2l.RNNCell(2, 3)).double()
    X = randn(6, 2, 2, seed=7)
    Y = X.clone()
    Y[:3] += 1.0  # change steps 0, 1, 2 only
    out_x, _ = bi(X)
    out_y, _ = bi(Y)
    torch.testing.assert_close(out_x[3:, :, 3:], out_y[3:, :, 3:])  # backward
    assert not torch.allclose(out_x[3:, :, :3], out_y[3:, :, :3])  # forward


def test_run_cell_in_reverse_stores_states_at_their_own_steps():
    class Count(nn.Module):
        def forward(self, X_t, H):
            return H + X_t

    X = torch.arange(4.0).view(4, 1, 1)  # 0, 1, 2, 3
    out, H = d2l.run_cell(Count(), X, torch.zeros(1, 1), reverse=True)
    assert out.flatten().tolist() == [6.0, 6.0, 5.0, 3.0]  # suffix sums
    assert H.item() == 6.0


# --- StackedRNN, stack_from_torch ---------------------------------------------


@pytest.mark.parametrize("kind", ["rnn", "gru"])
@pytest.mark.parametrize(("num_layers", "bidirectional"),
                         [(1, False), (2, False), (3, False), (2, True)])
@pytest.mark.parametrize(("num_steps", "batch"), [(1, 1), (6, 3)])
def test_stack_from_torch_matches_torch(kind, num_layers, bidirectional,
                                        num_steps, batch):
    rnn = torch_rnn(kind, 4, 5, num_layers, bidirectional, seed=num_layers)
    stack = d2l.stack_from_torch(rnn)
    rows = num_layers * (2 if bidirectional else 1)
    X, H0 = randn(num_steps, batch, 4, seed=8), randn(rows, batch, 5, seed=9)
    for state in (H0, None):
        out, H_n = stack(X, state)
        expected, expected_H = rnn(X, state)
        torch.testing.assert_close(out, expected)
        torch.testing.assert_close(H_n, expected_H)


def test_stack_from_torch_gradients_match_torch():
    rnn = torch_rnn("gru", 3, 4, num_layers=2)
    stack = d2l.stack_from_torch(rnn)
    X = randn(5, 2, 3, seed=10).requires_grad_()
    (g_torch,) = torch.autograd.grad(rnn(X)[0].sum(), X)
    (g_ours,) = torch.autograd.grad(stack(X)[0].sum(), X)
    torch.testing.assert_close(g_ours, g_torch)


def test_stacked_rnn_registers_the_parameters_of_its_layers():
    layers = [d2l.RNNLayer(d2l.RNNCell(3, 4)), d2l.RNNLayer(d2l.GRUCell(4, 4))]
    stack = d2l.StackedRNN(layers).double()  # .double() reaches every layer
    expected = sum(p.numel() for layer in layers for p in layer.parameters())
    assert sum(p.numel() for p in stack.parameters()) == expected
    assert all(p.dtype == F64 for p in stack.parameters())
    out, H_n = stack(randn(4, 2, 3, seed=14))
    assert out.shape == (4, 2, 4) and H_n.shape == (2, 2, 4)


# --- DeepTransitionCell -------------------------------------------------------


def test_deep_transition_cell_computes_its_two_layers():
    torch.manual_seed(0)
    for shortcut in (False, True):
        cell = d2l.DeepTransitionCell(3, 4, shortcut=shortcut).double()
        X_t, H = randn(5, 3, seed=11), randn(5, 4, seed=12)
        M = torch.tanh(X_t @ cell.W_xm + H @ cell.W_hm + cell.b_m)
        A = M @ cell.W_mh + cell.b_h + (H @ cell.W_hh if shortcut else 0)
        torch.testing.assert_close(cell(X_t, H), torch.tanh(A))
        assert (cell.W_hh is not None) == shortcut


def test_deep_transition_with_a_zero_shortcut_equals_no_shortcut():
    torch.manual_seed(1)
    plain = d2l.DeepTransitionCell(2, 3).double()
    short = d2l.DeepTransitionCell(2, 3, shortcut=True).double()
    with torch.no_grad():
        for name in ("W_xm", "W_hm", "b_m", "W_mh", "b_h"):
            getattr(short, name).copy_(getattr(plain, name))
        short.W_hh.zero_()
    X = randn(7, 2, 2, seed=13)
    torch.testing.assert_close(d2l.RNNLayer(short)(X)[0], d2l.RNNLayer(plain)(X)[0])


def test_deep_transition_cell_parameter_count():
    for shortcut, squares in ((False, 2), (True, 3)):
        cell = d2l.DeepTransitionCell(5, 7, shortcut=shortcut)
        count = sum(p.numel() for p in cell.parameters())
        assert count == 5 * 7 + squares * 7 * 7 + 2 * 7


@pytest.mark.parametrize("cls", [d2l.RNNCell, d2l.GRUCell, d2l.DeepTransitionCell])
def test_cells_start_uniform_within_one_over_root_h(cls):
    # as torch's nn.RNN and nn.GRU: U(-1/sqrt(h), 1/sqrt(h)) for every parameter
    torch.manual_seed(0)
    num_hiddens = 16
    bound = num_hiddens ** -0.5
    for p in cls(9, num_hiddens).parameters():
        assert p.abs().max() <= bound
        assert p.abs().max() > 0.5 * bound, p.shape  # spread over the range


# --- bad input ---------------------------------------------------------------


@pytest.mark.parametrize("cls", [d2l.RNNCell, d2l.GRUCell, d2l.DeepTransitionCell])
@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((0, 3), ValueError, "num_inputs must be >= 1, got 0"),
        ((2, 0), ValueError, "num_hiddens must be >= 1, got 0"),
        ((2.0, 3), TypeError, "num_inputs must be an int"),
        ((2, True), TypeError, "num_hiddens must be an int"),
    ],
)
def test_cells_name_bad_sizes(cls, args, error, match):
    with pytest.raises(error, match=match):
        cls(*args)


def test_deep_transition_cell_names_a_bad_shortcut():
    with pytest.raises(TypeError, match="shortcut must be True or False"):
        d2l.DeepTransitionCell(2, 3, shortcut=1)


def layer():
    return d2l.RNNLayer(d2l.RNNCell(3, 4))


@pytest.mark.parametrize(
    ("X", "H", "error", "match"),
    [
        ([[1.0]], None, TypeError, "X must be a tensor"),
        (torch.zeros(5, 3), None, ValueError, r"X must have shape \(None, None, 3\)"),
        (torch.zeros(5, 2, 4), None, ValueError, r"X must have shape"),
        (torch.zeros(0, 2, 3), None, ValueError, "X must hold at least one step"),
        (torch.zeros(5, 0, 3), None, ValueError, "X must hold at least one step"),
        (torch.zeros(5, 2, 3, dtype=F64), None, TypeError, "X must have dtype"),
        (torch.zeros(5, 2, 3), torch.zeros(2, 4), ValueError, r"H must have shape"),
        (torch.zeros(5, 2, 3), torch.zeros(1, 3, 4), ValueError, r"H must have shape"),
        (torch.zeros(5, 2, 3), "state", TypeError, "H must be a tensor"),
    ],
)
def test_rnn_layer_names_bad_inputs(X, H, error, match):
    with pytest.raises(error, match=match):
        layer()(X, H)


def test_birnn_names_a_bad_state_and_bad_cells():
    bi = d2l.BiRNN(d2l.RNNCell(3, 4), d2l.RNNCell(3, 4))
    with pytest.raises(ValueError, match=r"H must have shape \(2, None, None\)"):
        bi(torch.zeros(5, 2, 3), torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="the two cells must have the same"):
        d2l.BiRNN(d2l.RNNCell(3, 4), d2l.RNNCell(3, 5))
    with pytest.raises(TypeError, match="backward_cell must be a cell"):
        d2l.BiRNN(d2l.RNNCell(3, 4), nn.Linear(3, 4))
    with pytest.raises(TypeError, match="cell must be a cell"):
        d2l.RNNLayer("tanh")
    with pytest.raises(TypeError, match="reverse must be True or False"):
        d2l.RNNLayer(d2l.RNNCell(3, 4), reverse="yes")


def test_stacked_rnn_names_bad_layers_and_states():
    with pytest.raises(TypeError, match="layers must be a non-empty list"):
        d2l.StackedRNN([])
    with pytest.raises(TypeError, match="layers must be a non-empty list"):
        d2l.StackedRNN([d2l.RNNCell(3, 4)])
    with pytest.raises(ValueError, match=r"layers\[1\] reads 5 inputs, but "
                                         r"layers\[0\] has 4 outputs"):
        d2l.StackedRNN([layer(), d2l.RNNLayer(d2l.RNNCell(5, 4))])
    with pytest.raises(ValueError, match=r"layers\[1\] reads 3 inputs, but "
                                         r"layers\[0\] has 8 outputs"):
        d2l.StackedRNN([d2l.BiRNN(d2l.RNNCell(3, 4), d2l.RNNCell(3, 4)), layer()])
    with pytest.raises(ValueError, match=r"states of one size, got sizes \[4, 5\]"):
        d2l.StackedRNN([layer(), d2l.RNNLayer(d2l.RNNCell(4, 5))])
    with pytest.raises(ValueError, match=r"states of one size, got sizes \[2, 4\]"):
        d2l.StackedRNN([layer(), d2l.BiRNN(d2l.RNNCell(4, 2), d2l.RNNCell(4, 2))])
    stack = d2l.StackedRNN([layer(), d2l.RNNLayer(d2l.RNNCell(4, 4))])
    with pytest.raises(ValueError, match=r"H must have shape \(2, None, None\)"):
        stack(torch.zeros(5, 2, 3), torch.zeros(1, 2, 4))


@pytest.mark.parametrize(
    ("rnn", "kwargs", "error", "match"),
    [
        (nn.LSTM(3, 4), {}, TypeError, "rnn must be a tanh nn.RNN or an nn.GRU"),
        (nn.RNN(3, 4, nonlinearity="relu"), {}, TypeError, "rnn must be a tanh"),
        (nn.GRU(3, 4, bias=False), {}, TypeError, "with biases"),
        (nn.GRU(3, 4, batch_first=True), {}, TypeError, "time first"),
        (nn.Linear(3, 4), {}, TypeError, "rnn must be"),
        (nn.GRU(3, 4, num_layers=2), {"layer": 2}, ValueError,
         "layer must be < num_layers = 2, got 2"),
        (nn.GRU(3, 4), {"layer": -1}, ValueError, "layer must be >= 0"),
        (nn.GRU(3, 4), {"reverse": True}, ValueError,
         "reverse=True needs a bidirectional rnn"),
        (nn.GRU(3, 4), {"reverse": 1}, TypeError, "reverse must be True or False"),
    ],
)
def test_cell_from_torch_names_bad_arguments(rnn, kwargs, error, match):
    with pytest.raises(error, match=match):
        d2l.cell_from_torch(rnn, **kwargs)


def test_stack_from_torch_names_a_bad_rnn():
    with pytest.raises(TypeError, match="rnn must be a tanh nn.RNN or an nn.GRU"):
        d2l.stack_from_torch(nn.LSTM(3, 4, num_layers=2))
