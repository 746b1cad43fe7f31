"""Tests of d2lrnn.models: scratch RNN, its fast version and RNNModel."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

import d2lrnn as d2l


def _scratch_pair(vocab_size, num_hiddens, dtype=torch.float32, seed=0):
    """A plain and a fast scratch model with the same parameters."""
    torch.manual_seed(seed)
    plain = d2l.RNNModelScratch(vocab_size, num_hiddens).to(dtype)
    fast = d2l.RNNModelScratch(vocab_size, num_hiddens, forward_fn=d2l.rnn_fast)
    fast = fast.to(dtype)
    fast.load_state_dict(plain.state_dict())
    return plain, fast


def _copy_into_nn_rnn(scratch, model):
    W_xh, W_hh, b_h, W_hq, b_q = scratch.params
    with torch.no_grad():
        model.rnn.weight_ih_l0.copy_(W_xh.T)
        model.rnn.weight_hh_l0.copy_(W_hh.T)
        model.rnn.bias_ih_l0.copy_(b_h)
        model.rnn.bias_hh_l0.zero_()
        model.linear.weight.copy_(W_hq.T)
        model.linear.bias.copy_(b_q)


def test_init_rnn_params_shapes_and_grads():
    torch.manual_seed(0)
    params = d2l.init_rnn_params(7, 5)
    shapes = [tuple(p.shape) for p in params]
    assert shapes == [(7, 5), (5, 5), (5,), (5, 7), (7,)]
    assert all(p.requires_grad and p.is_leaf for p in params)
    bound = 1 / 5**0.5
    assert all(p.abs().max() <= bound for p in params[:4])
    assert not params[4].any()


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "3"])
def test_init_rnn_params_rejects_bad_sizes(bad):
    with pytest.raises((TypeError, ValueError), match="num_hiddens"):
        d2l.init_rnn_params(5, bad)
    with pytest.raises((TypeError, ValueError), match="vocab_size"):
        d2l.init_rnn_params(bad, 5)


def test_init_rnn_state_is_zero_tuple():
    (H,) = d2l.init_rnn_state(3, 4)
    assert H.shape == (3, 4) and not H.any()
    with pytest.raises(ValueError, match="batch_size"):
        d2l.init_rnn_state(0, 4)


def test_rnn_step_matches_equations():
    torch.manual_seed(0)
    params = d2l.init_rnn_params(6, 4)
    X_t, H = torch.randn(2, 6), torch.randn(2, 4)
    H_new, Y = d2l.rnn_step(X_t, H, params)
    W_xh, W_hh, b_h, W_hq, b_q = params
    # the concatenated form of the update: [X, H] @ [W_xh; W_hh]
    expected = torch.tanh(torch.cat((X_t, H), 1) @ torch.cat((W_xh, W_hh)) + b_h)
    torch.testing.assert_close(H_new, expected)
    torch.testing.assert_close(Y, expected @ W_hq + b_q)


def test_rnn_scratch_matches_nn_rnn_float64():
    torch.manual_seed(0)
    scratch = d2l.RNNModelScratch(11, 6).double()
    model = d2l.RNNModel(nn.RNN(11, 6), 11).double()
    _copy_into_nn_rnn(scratch, model)
    X = torch.randint(0, 11, (3, 8))
    H0 = torch.randn(3, 6, dtype=torch.float64)
    Y1, (H1,) = scratch(X, (H0,))
    Y2, H2 = model(X, H0.unsqueeze(0))
    torch.testing.assert_close(Y1, Y2)
    torch.testing.assert_close(H1, H2[0])


@settings(max_examples=25, deadline=None)
@given(
    vocab_size=st.integers(1, 12),
    num_hiddens=st.integers(1, 9),
    batch_size=st.integers(1, 4),
    num_steps=st.integers(1, 7),
    seed=st.integers(0, 2**16),
)
def test_rnn_fast_matches_rnn_outputs_and_grads(
    vocab_size, num_hiddens, batch_size, num_steps, seed
):
    plain, fast = _scratch_pair(vocab_size, num_hiddens, torch.float64, seed)
    X = torch.randint(0, vocab_size, (batch_size, num_steps))
    H0 = torch.randn(batch_size, num_hiddens, dtype=torch.float64)
    results = []
    for net in (plain, fast):
        H = H0.clone().requires_grad_()
        Y, (H_T,) = net(X, (H,))
        weights = torch.linspace(-1, 1, Y.numel(), dtype=Y.dtype).view_as(Y)
        ((Y * weights).sum() + H_T.sin().sum()).backward()
        results.append((Y, H_T, H.grad, [p.grad for p in net.parameters()]))
    (Y1, H1, dH1, g1), (Y2, H2, dH2, g2) = results
    torch.testing.assert_close(Y1, Y2)
    torch.testing.assert_close(H1, H2)
    torch.testing.assert_close(dH1, dH2)
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b)


def test_tanh_recurrence_gradcheck():
    torch.manual_seed(0)
    A = torch.randn(5, 3, 4, dtype=torch.float64, requires_grad=True)
    H0 = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    W = (0.5 * torch.randn(4, 4, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(d2l.tanh_recurrence, (A, H0, W))


def test_tanh_recurrence_matches_loop_and_rejects_bad_shapes():
    torch.manual_seed(0)
    A, H, W = torch.randn(4, 2, 3), torch.randn(2, 3), torch.randn(3, 3)
    Hs = d2l.tanh_recurrence(A, H, W)
    for t in range(4):
        H = torch.tanh(A[t] + H @ W)
        torch.testing.assert_close(Hs[t], H)
    with pytest.raises(ValueError, match="W_hh"):
        d2l.tanh_recurrence(A, torch.randn(2, 3), torch.randn(3, 4))
    with pytest.raises(ValueError, match=r"T >= 1.*\(0, 2, 3\)"):
        d2l.tanh_recurrence(torch.randn(0, 2, 3), torch.randn(2, 3), W)


def test_tanh_recurrence_float32_error_stays_at_rounding_level():
    # The forward pass runs the loop on S_t = (1 + H_t) / 2 with sigmoid; in
    # single precision that may cost an absolute error of ~1e-7 per state.
    # Over 300 steps, with states that visit 0 and saturate, it stays small.
    torch.manual_seed(0)
    A = 2 * torch.randn(300, 16, 32, dtype=torch.float64)
    H0 = torch.rand(16, 32, dtype=torch.float64) * 2 - 1
    W = torch.randn(32, 32, dtype=torch.float64) / 32**0.5
    H, exact = H0, []
    for A_t in A:
        H = torch.tanh(A_t + H @ W)
        exact.append(H)
    exact = torch.stack(exact)
    fast = d2l.tanh_recurrence(A.float(), H0.float(), W.float()).double()
    assert (fast - exact).abs().max().item() < 1e-5
    assert (exact.abs() < 1e-2).any() and (exact.abs() > 0.999).any()


def test_tanh_recurrence_gradients_are_the_same_when_H0_is_a_constant():
    # The backward pass skips dH0 for a constant H0 (test_bench counts the
    # products); the other gradients must not change.
    torch.manual_seed(0)
    A = torch.randn(4, 2, 3, dtype=torch.float64, requires_grad=True)
    W = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    H0 = torch.randn(2, 3, dtype=torch.float64)  # no requires_grad
    Hs = d2l.tanh_recurrence(A, H0, W)
    dA, dW = torch.autograd.grad(Hs.sin().sum(), (A, W))
    H0_grad = H0.clone().requires_grad_()
    dA2, dW2 = torch.autograd.grad(
        d2l.tanh_recurrence(A, H0_grad, W).sin().sum(), (A, W)
    )
    torch.testing.assert_close(dA, dA2)
    torch.testing.assert_close(dW, dW2)


def test_rnn_model_scratch_shapes_and_begin_state():
    net = d2l.RNNModelScratch(10, 4)
    state = net.begin_state(3)
    assert len(state) == 1 and state[0].shape == (3, 4)
    Y, (H,) = net(torch.zeros((3, 5), dtype=torch.long), state)
    assert Y.shape == (15, 10) and H.shape == (3, 4)
    assert len(list(net.parameters())) == 5


def test_rnn_model_scratch_outputs_are_time_major():
    torch.manual_seed(0)
    net = d2l.RNNModelScratch(10, 4)
    X = torch.randint(0, 10, (3, 5))
    Y, _ = net(X, net.begin_state(3))
    Y_first_row, _ = net(X[:1], net.begin_state(1))
    # rows t * batch_size + 0 belong to sequence 0
    torch.testing.assert_close(Y.view(5, 3, 10)[:, 0], Y_first_row)


def test_rnn_model_scratch_rejects_float_inputs():
    net = d2l.RNNModelScratch(10, 4)
    with pytest.raises(ValueError, match="X must be"):
        net(torch.zeros((2, 3)), net.begin_state(2))


@pytest.mark.parametrize(
    "make_net",
    [
        lambda: d2l.RNNModelScratch(10, 4),
        lambda: d2l.RNNModelScratch(10, 4, forward_fn=d2l.rnn_fast),
        lambda: d2l.RNNModel(nn.RNN(10, 4), 10),
        lambda: d2l.RNNModel(nn.LSTM(10, 4), 10),
    ],
)
def test_models_reject_bad_token_indices_by_name(make_net):
    # Without the check these fail deep inside, with messages that name
    # neither X nor the vocabulary (one_hot's "Class values must be smaller
    # than num_classes", index_select's IndexError).
    net = make_net()
    state = net.begin_state(2)
    with pytest.raises(ValueError, match=r"\[0, 10\).*from 0 to 10"):
        net(torch.tensor([[0, 10], [1, 2]]), state)
    with pytest.raises(ValueError, match=r"from -1 to 3"):
        net(torch.tensor([[-1, 3], [1, 2]]), state)
    with pytest.raises(ValueError, match=r"non-empty.*\(2, 0\)"):
        net(torch.zeros((2, 0), dtype=torch.long), state)
    with pytest.raises(TypeError, match="X must be a tensor.*list"):
        net([[0, 1], [1, 2]], state)
    Y, _ = net(torch.tensor([[0, 9], [1, 2]]), state)  # the edges are fine
    assert Y.shape == (4, 10)


def test_rnn_model_matches_scratch_with_copied_weights():
    torch.manual_seed(0)
    scratch = d2l.RNNModelScratch(9, 5, forward_fn=d2l.rnn_fast)
    model = d2l.RNNModel(nn.RNN(9, 5), 9)
    _copy_into_nn_rnn(scratch, model)
    X = torch.randint(0, 9, (4, 6))
    Y1, (H1,) = scratch(X, scratch.begin_state(4))
    Y2, H2 = model(X, model.begin_state(4))
    torch.testing.assert_close(Y1, Y2)
    torch.testing.assert_close(H1, H2[0])


@pytest.mark.parametrize(
    ("layer", "is_tuple", "first_dim"),
    [
        (nn.RNN(6, 3), False, 1),
        (nn.GRU(6, 3, num_layers=2), False, 2),
        (nn.LSTM(6, 3), True, 1),
        (nn.LSTM(6, 3, num_layers=2, bidirectional=True), True, 4),
    ],
)
def test_rnn_model_begin_state_serves_rnn_gru_lstm(layer, is_tuple, first_dim):
    model = d2l.RNNModel(layer, 6)
    state = model.begin_state(5)
    states = state if is_tuple else (state,)
    assert isinstance(state, tuple) == is_tuple
    assert all(s.shape == (first_dim, 5, 3) and not s.any() for s in states)
    Y, new_state = model(torch.zeros((5, 2), dtype=torch.long), state)
    assert Y.shape == (10, 6)
    assert isinstance(new_state, tuple) == is_tuple
    default = model.begin_state()  # one sequence, as predict warms up
    assert all(s.shape == (first_dim, 1, 3) for s in (
        default if is_tuple else (default,)))


def test_rnn_model_lstm_matches_nn_lstm():
    torch.manual_seed(0)
    layer = nn.LSTM(7, 4)
    model = d2l.RNNModel(layer, 7)
    X = torch.randint(0, 7, (2, 3))
    Y, (H, C) = model(X, model.begin_state(2))
    out, (H_ref, C_ref) = layer(F.one_hot(X.T, 7).float())
    torch.testing.assert_close(Y, model.linear(out.reshape(-1, 4)))
    torch.testing.assert_close(H, H_ref)
    torch.testing.assert_close(C, C_ref)


def test_rnn_model_rejects_bad_layers():
    with pytest.raises(TypeError, match="rnn_layer"):
        d2l.RNNModel(nn.Linear(3, 3), 3)
    with pytest.raises(ValueError, match="input_size"):
        d2l.RNNModel(nn.RNN(4, 3), 3)
    with pytest.raises(ValueError, match="batch_first"):
        d2l.RNNModel(nn.RNN(3, 3, batch_first=True), 3)


def _assert_uniform(values, bound):
    """Entries in [-bound, bound] that fill the range, centred on zero."""
    assert values.abs().max() <= bound
    assert values.min() < -0.9 * bound and values.max() > 0.9 * bound
    assert abs(values.mean()) < 0.1 * bound


def test_init_rnn_params_are_uniform_in_plus_minus_one_over_sqrt_hiddens():
    torch.manual_seed(0)
    W_xh, W_hh, b_h, W_hq, b_q = d2l.init_rnn_params(50, 64)
    for W in (W_xh, W_hh, W_hq):
        _assert_uniform(W.detach(), 1 / 8)
    assert b_h.abs().max() <= 1 / 8 and b_h.min() < 0 < b_h.max()
    assert b_q.dtype == W_xh.dtype == torch.float32 and not b_q.any()
    assert len({p.data_ptr() for p in (W_xh, W_hh, b_h, W_hq, b_q)}) == 5


@pytest.mark.parametrize(
    ("init", "count"),
    [(d2l.init_rnn_params, 5), (d2l.init_lstm_params, 14), (d2l.init_gru_params, 12)],
)
def test_init_params_are_made_on_the_given_device(init, count):
    params = init(3, 4, device="meta")
    assert len(params) == count
    assert all(p.device.type == "meta" and p.requires_grad for p in params)


def test_init_states_and_scratch_models_use_the_given_device():
    for init, count in [(d2l.init_rnn_state, 1), (d2l.init_lstm_state, 2),
                        (d2l.init_gru_state, 1)]:
        state = init(2, 3, device="meta")
        assert isinstance(state, tuple) and len(state) == count
        assert all(s.device.type == "meta" and s.shape == (2, 3) for s in state)
    net = d2l.RNNModelScratch(5, 3, device="meta")
    assert all(p.device.type == "meta" for p in net.parameters())
    (H,) = net.begin_state(2, device="meta")
    assert H.device.type == "meta" and H.shape == (2, 3)
    model = d2l.RNNModel(nn.LSTM(5, 3), 5)
    H, C = model.begin_state(2, device="meta")
    assert H.device.type == C.device.type == "meta"
    assert model.begin_state(2, device="meta")[0].shape == (1, 2, 3)
    gru = d2l.RNNModel(nn.GRU(5, 3), 5)
    assert gru.begin_state(4, device="meta").device.type == "meta"


def test_init_rnn_state_shape_follows_the_sizes():
    (H,) = d2l.init_rnn_state(1, 7)
    assert H.shape == (1, 7) and H.dtype == torch.float32 and not H.any()


def test_rnn_model_scratch_passes_its_sizes_on():
    calls = []

    def get_params(vocab_size, num_hiddens, device):
        calls.append(("params", vocab_size, num_hiddens, device))
        return d2l.init_rnn_params(vocab_size, num_hiddens, device)

    def init_state(batch_size, num_hiddens, device):
        calls.append(("state", batch_size, num_hiddens, device))
        return d2l.init_rnn_state(batch_size, num_hiddens, device)

    net = d2l.RNNModelScratch(6, 4, "cpu", get_params, init_state)
    assert (net.vocab_size, net.num_hiddens) == (6, 4)
    net.begin_state(3, "cpu")
    net.begin_state()
    assert calls == [("params", 6, 4, "cpu"), ("state", 3, 4, "cpu"),
                     ("state", 1, 4, None)]
    calls.clear()
    for bad in ({"vocab_size": 0}, {"num_hiddens": 0}):
        sizes = {"vocab_size": 6, "num_hiddens": 4} | bad
        with pytest.raises(ValueError, match=f"{next(iter(bad))} must be >= 1"):
            d2l.RNNModelScratch(**sizes, get_params=get_params)
    assert calls == []  # checked before the parameters are made


def test_rnn_model_bidirectional_reads_both_directions():
    torch.manual_seed(0)
    layer = nn.GRU(5, 3, bidirectional=True)
    model = d2l.RNNModel(layer, 5)
    assert model.num_directions == 2 and model.linear.in_features == 6
    assert model.linear.out_features == 5
    state = model.begin_state(2)
    assert state.shape == (2, 2, 3)
    X = torch.randint(0, 5, (2, 4))
    Y, new_state = model(X, state)
    out, ref_state = layer(F.one_hot(X.T, 5).float(), state)
    torch.testing.assert_close(Y, model.linear(out.reshape(-1, 6)))
    torch.testing.assert_close(new_state, ref_state)
    single = d2l.RNNModel(nn.GRU(5, 3), 5)
    assert single.num_directions == 1 and single.linear.in_features == 3


def test_rnn_model_begin_state_has_the_model_dtype():
    lstm = d2l.RNNModel(nn.LSTM(4, 3), 4).double()
    H, C = lstm.begin_state(2)
    assert H.dtype == C.dtype == torch.float64
    assert H.shape == C.shape == (1, 2, 3) and not H.any() and not C.any()
    rnn = d2l.RNNModel(nn.RNN(4, 3, num_layers=3), 4).double()
    state = rnn.begin_state(5)
    assert state.dtype == torch.float64 and state.shape == (3, 5, 3)
    Y, _ = rnn(torch.zeros((5, 2), dtype=torch.long), state)
    assert Y.dtype == torch.float64
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        rnn.begin_state(0)


def test_tanh_recurrence_rejects_every_bad_shape():
    A, H0, W = torch.randn(4, 2, 3), torch.randn(2, 3), torch.randn(3, 3)
    for args in [(A[0], H0, W), (A, H0[:1], W), (A, H0.T, W),
                 (A, H0, torch.randn(4, 4)), (A[None], H0, W)]:
        with pytest.raises(ValueError, match="expected A"):
            d2l.tanh_recurrence(*args)
    assert d2l.tanh_recurrence(A[:1], H0, W).shape == (1, 2, 3)  # T = 1 is fine


def test_tanh_recurrence_backward_takes_any_upstream_gradient():
    # Hs.sum() sends an expanded (stride 0) gradient: the in-place backward must
    # work on its own copy, and leave the caller's gradient alone.
    torch.manual_seed(0)
    A = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    H0 = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    W = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    d2l.tanh_recurrence(A, H0, W).sum().backward()
    grads = [A.grad, H0.grad, W.grad]
    A2, H2, W2 = (t.detach().clone().requires_grad_() for t in (A, H0, W))
    H, states = H2, []
    for A_t in A2:
        H = torch.tanh(A_t + H @ W2)
        states.append(H)
    torch.stack(states).sum().backward()
    for got, want in zip(grads, [A2.grad, H2.grad, W2.grad], strict=True):
        torch.testing.assert_close(got, want)
    upstream = torch.randn(5, 2, 3, dtype=torch.float64)
    kept = upstream.clone()
    d2l.tanh_recurrence(A, H0, W).backward(upstream)
    assert torch.equal(upstream, kept)


def test_tanh_recurrence_weight_gradient_uses_the_exact_initial_state():
    # (1 + H0) / 2 rounds a tiny H0 away; dL/dW_hh = H0^T G must not.
    torch.manual_seed(0)
    A = torch.randn(1, 2, 3, dtype=torch.float64)
    H0 = 1e-20 * torch.randn(2, 3, dtype=torch.float64)
    W = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    (dW,) = torch.autograd.grad(d2l.tanh_recurrence(A, H0, W).sin().sum(), W)
    W2 = W.detach().clone().requires_grad_()
    (ref,) = torch.autograd.grad(torch.tanh(A[0] + H0 @ W2).sin().sum(), W2)
    torch.testing.assert_close(dW, ref, rtol=1e-9, atol=0)


def test_check_indices_wants_a_2d_long_tensor():
    d2l.check_indices(torch.tensor([[0, 4]]), 5)
    for X in (torch.tensor([0, 1]), torch.zeros((1, 2, 2), dtype=torch.long),
              torch.tensor([[0, 1]], dtype=torch.int32)):
        with pytest.raises(ValueError, match="non-empty 2-D long tensor"):
            d2l.check_indices(X, 5)
    with pytest.raises(ValueError, match=r"\[0, 5\).*from 0 to 5"):
        d2l.check_indices(torch.tensor([[0, 5]]), 5)
    with pytest.raises(ValueError, match="from -1 to 0"):
        d2l.check_indices(torch.tensor([[-1, 0]]), 5)
