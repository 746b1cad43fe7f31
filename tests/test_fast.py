"""Tests of d2lrnn.fast: both forms of the hand-written recurrence (chapter 21)."""

from __future__ import annotations

import functools

import pytest
import torch

import d2lrnn as d2l


def _loop(A, H0, W):
    """The recurrence as chapter 5 writes it, step by step."""
    H, states = H0, []
    for A_t in A:
        H = torch.tanh(A_t + H @ W)
        states.append(H)
    return torch.stack(states)


@pytest.mark.parametrize("via_sigmoid", [False, True])
def test_tanh_recurrence_gradcheck_both_forms(via_sigmoid):
    d2l.manual_seed(0)
    A = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    H0 = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    W = (0.6 * torch.randn(3, 3, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda a, h, w: d2l.tanh_recurrence(a, h, w, via_sigmoid), (A, H0, W))


@pytest.mark.parametrize("via_sigmoid", [False, True])
def test_tanh_recurrence_both_forms_equal_the_loop(via_sigmoid):
    d2l.manual_seed(1)
    A = torch.randn(40, 4, 8, dtype=torch.float64)
    H0 = torch.randn(4, 8, dtype=torch.float64)
    W = 0.4 * torch.randn(8, 8, dtype=torch.float64)
    Hs = d2l.tanh_recurrence(A, H0, W, via_sigmoid)
    torch.testing.assert_close(Hs, _loop(A, H0, W), rtol=0, atol=1e-12)
    # float32: rounding only, for either form, over many steps
    Hs32 = d2l.tanh_recurrence(A.float(), H0.float(), W.float(), via_sigmoid)
    assert (Hs32.double() - _loop(A, H0, W)).abs().max() < 1e-5


def test_tanh_recurrence_keeps_H0_exactly_in_the_sigmoid_form():
    # The sigmoid form carries (1 + H) / 2 and converts back; the state before
    # the first step must still be the H0 given, to the bit, for backward.
    A = torch.randn(3, 2, 4)
    H0 = torch.tensor([[0.1, -0.3, 0.7, 1e-8], [0.0, -1e-7, 0.3, -0.9]])
    W = torch.randn(4, 4, requires_grad=True)
    Hs = d2l.tanh_recurrence(A, H0, W, True)
    saved_states = Hs.grad_fn.saved_tensors[0]
    assert torch.equal(saved_states[0], H0)


@pytest.mark.parametrize("via_sigmoid", [1, "yes", None])
def test_tanh_recurrence_rejects_a_non_bool_form(via_sigmoid):
    A, H0, W = torch.randn(2, 1, 3), torch.zeros(1, 3), torch.randn(3, 3)
    with pytest.raises(TypeError, match="via_sigmoid"):
        d2l.tanh_recurrence(A, H0, W, via_sigmoid)


def test_rnn_fast_forms_train_the_same_function_as_rnn():
    d2l.manual_seed(2)
    X = torch.randint(0, 7, (3, 6))
    grads = []
    for forward_fn in (d2l.rnn, d2l.rnn_fast,
                       functools.partial(d2l.rnn_fast, via_sigmoid=True)):
        d2l.manual_seed(3)
        net = d2l.RNNModelScratch(7, 5, forward_fn=forward_fn)
        Y, (H,) = net(X, net.begin_state(3))
        Y.sum().backward()
        grads.append([Y, H, *(p.grad for p in net.parameters())])
    for other in grads[1:]:
        for a, b in zip(grads[0], other, strict=True):
            torch.testing.assert_close(a, b)
