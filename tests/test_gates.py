"""Tests of the gated cells (LSTM, GRU), clipping variants and Omega."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

import d2lrnn as d2l


def _run_steps(step, inputs, state, params):
    """Apply ``step`` along the time axis; return all hidden states."""
    outputs = []
    for X_t in inputs:  # X_t: (batch_size, num_inputs)
        state = step(X_t, state, params)
        outputs.append(state[0])
    return torch.stack(outputs), state


@settings(max_examples=10, deadline=None)
@given(
    num_inputs=st.integers(1, 5),
    num_hiddens=st.integers(1, 6),
    batch_size=st.integers(1, 3),
    num_steps=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_lstm_step_equals_nn_lstm(num_inputs, num_hiddens, batch_size, num_steps, seed):
    torch.manual_seed(seed)
    layer = nn.LSTM(num_inputs, num_hiddens).double()
    linear = nn.Linear(num_hiddens, 2).double()
    params = d2l.lstm_params_from_nn(layer, linear)
    X = torch.randn(num_steps, batch_size, num_inputs, dtype=torch.float64)
    H0 = torch.randn(batch_size, num_hiddens, dtype=torch.float64)
    C0 = torch.randn(batch_size, num_hiddens, dtype=torch.float64)
    Hs, (H, C) = _run_steps(d2l.lstm_step, X, (H0, C0), params)
    Y_ref, (H_ref, C_ref) = layer(X, (H0[None], C0[None]))
    torch.testing.assert_close(Hs, Y_ref)
    torch.testing.assert_close(H, H_ref[0])
    torch.testing.assert_close(C, C_ref[0])


@settings(max_examples=10, deadline=None)
@given(
    num_inputs=st.integers(1, 5),
    num_hiddens=st.integers(1, 6),
    batch_size=st.integers(1, 3),
    num_steps=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_gru_step_equals_nn_gru(num_inputs, num_hiddens, batch_size, num_steps, seed):
    torch.manual_seed(seed)
    layer = nn.GRU(num_inputs, num_hiddens).double()
    with torch.no_grad():  # nonzero biases, so that b_hh's place is tested
        layer.bias_hh_l0.normal_()
        layer.bias_ih_l0.normal_()
    linear = nn.Linear(num_hiddens, 2).double()
    params = d2l.gru_params_from_nn(layer, linear)
    X = torch.randn(num_steps, batch_size, num_inputs, dtype=torch.float64)
    H0 = torch.randn(batch_size, num_hiddens, dtype=torch.float64)
    Hs, (H,) = _run_steps(d2l.gru_step, X, (H0,), params)
    Y_ref, H_ref = layer(X, H0[None])
    torch.testing.assert_close(Hs, Y_ref)
    torch.testing.assert_close(H, H_ref[0])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_scratch_gated_model_equals_rnn_model_with_grads(kind):
    torch.manual_seed(0)
    vocab_size, num_hiddens = 7, 5
    layer_cls, get_params, init_state, forward_fn, from_nn = {
        "lstm": (
            nn.LSTM,
            d2l.init_lstm_params,
            d2l.init_lstm_state,
            d2l.lstm,
            d2l.lstm_params_from_nn,
        ),
        "gru": (
            nn.GRU,
            d2l.init_gru_params,
            d2l.init_gru_state,
            d2l.gru,
            d2l.gru_params_from_nn,
        ),
    }[kind]
    concise = d2l.RNNModel(layer_cls(vocab_size, num_hiddens), vocab_size)
    concise = concise.double()
    scratch = d2l.RNNModelScratch(
        vocab_size,
        num_hiddens,
        get_params=get_params,
        init_state=init_state,
        forward_fn=forward_fn,
    ).double()
    with torch.no_grad():
        for p, q in zip(
            scratch.params, from_nn(concise.rnn, concise.linear), strict=True
        ):
            p.copy_(q)
    X = torch.randint(0, vocab_size, (3, 4))  # (batch_size, num_steps)
    state1 = tuple(s.double() for s in scratch.begin_state(3))
    Y1, _ = scratch(X, state1)
    Y2, _ = concise(X, concise.begin_state(3))
    torch.testing.assert_close(Y1, Y2)
    target = torch.randint(0, vocab_size, (12,))
    F.cross_entropy(Y1, target).backward()
    F.cross_entropy(Y2, target).backward()
    # Gradients land in the same places: the output layer and the recurrent
    # weights of the first gate block (torch stacks blocks along dim 0).
    torch.testing.assert_close(scratch.params[-2].grad, concise.linear.weight.grad.T)
    torch.testing.assert_close(scratch.params[-1].grad, concise.linear.bias.grad)
    W_hh_grad = concise.rnn.weight_hh_l0.grad.chunk(4 if kind == "lstm" else 3)
    k = 0 if kind == "lstm" else 1  # input gate / update gate
    torch.testing.assert_close(scratch.params[1].grad, W_hh_grad[k].T)


def test_init_gated_params_shapes():
    torch.manual_seed(0)
    lstm_params = d2l.init_lstm_params(7, 5)
    assert len(lstm_params) == 14
    assert [tuple(p.shape) for p in lstm_params[:3]] == [(7, 5), (5, 5), (5,)]
    assert tuple(lstm_params[12].shape) == (5, 7)
    assert all(p.requires_grad for p in lstm_params)
    gru_params = d2l.init_gru_params(7, 5)
    assert len(gru_params) == 12 and tuple(gru_params[9].shape) == (5,)
    H, C = d2l.init_lstm_state(3, 5)
    assert H.shape == C.shape == (3, 5) and not H.any() and not C.any()
    assert d2l.init_gru_state(3, 5)[0].shape == (3, 5)


def test_init_gated_params_rejects_bad_sizes():
    with pytest.raises(ValueError, match="num_hiddens"):
        d2l.init_lstm_params(7, 0)
    with pytest.raises(TypeError, match="vocab_size"):
        d2l.init_gru_params(7.0, 3)
    with pytest.raises(ValueError, match="batch_size"):
        d2l.init_lstm_state(0, 3)


def test_params_from_nn_rejects_other_layers():
    with pytest.raises(ValueError, match="layer"):
        d2l.lstm_params_from_nn(nn.GRU(3, 4), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="layer"):
        d2l.gru_params_from_nn(nn.GRU(3, 4, num_layers=2), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="linear"):
        d2l.lstm_params_from_nn(nn.LSTM(3, 4), nn.Linear(5, 2))


def test_lstm_forget_gate_open_copies_cell():
    # With the forget gate fully open and the input gate shut, C_t = C_{t-1}.
    torch.manual_seed(0)
    params = [p.detach() for p in d2l.init_lstm_params(3, 4)]
    params[2] = torch.full((4,), -50.0)  # b_i: input gate shut
    params[5] = torch.full((4,), 50.0)  # b_f: forget gate open
    C0 = torch.randn(2, 4)
    _, C = d2l.lstm_step(torch.randn(2, 3), (torch.randn(2, 4), C0), params)
    torch.testing.assert_close(C, C0)


def _params_with_grads(*grads):
    params = []
    for g in grads:
        p = torch.zeros(len(g), requires_grad=True)
        p.grad = torch.tensor(g, dtype=torch.float32)
        params.append(p)
    return params


def test_grad_clipping_elementwise_clamps_and_returns_norm():
    a, b = _params_with_grads([3.0, 0.0, -0.5], [-4.0])
    norm = d2l.grad_clipping_elementwise([a, b], 1.0)
    assert norm == pytest.approx(math.sqrt(9 + 0.25 + 16))
    assert a.grad.tolist() == [1.0, 0.0, -0.5] and b.grad.tolist() == [-1.0]


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=20),
    threshold=st.floats(1e-3, 10.0),
)
def test_grad_clipping_elementwise_keeps_signs_and_small_entries(values, threshold):
    (p,) = _params_with_grads(values)
    raw = p.grad.clone()
    d2l.grad_clipping_elementwise((q for q in [p]), threshold)
    assert (p.grad.abs() <= threshold).all()
    assert (torch.sign(p.grad) == torch.sign(raw)).all()
    small = raw.abs() <= threshold
    assert torch.equal(p.grad[small], raw[small])


def test_grad_clipping_norm_keeps_direction_elementwise_does_not():
    grads = ([10.0, 0.1, -3.0], [0.5])
    raw = torch.tensor([10.0, 0.1, -3.0, 0.5])
    by_norm = _params_with_grads(*grads)
    d2l.grad_clipping(by_norm, 1.0)
    by_entry = _params_with_grads(*grads)
    d2l.grad_clipping_elementwise(by_entry, 1.0)
    cos_norm = F.cosine_similarity(torch.cat([p.grad for p in by_norm]), raw, dim=0)
    cos_entry = F.cosine_similarity(torch.cat([p.grad for p in by_entry]), raw, dim=0)
    assert cos_norm.item() == pytest.approx(1.0, abs=1e-6)
    assert 0 < cos_entry.item() < 0.9


def test_grad_clipping_elementwise_leaves_non_finite_gradients():
    (p,) = _params_with_grads([float("inf"), 5.0])
    assert d2l.grad_clipping_elementwise([p], 1.0) == float("inf")
    assert p.grad.tolist() == [float("inf"), 5.0]


@pytest.mark.parametrize("threshold", [0, -1.0, float("nan"), float("inf"), True, "1"])
def test_grad_clipping_elementwise_rejects_bad_threshold(threshold):
    (p,) = _params_with_grads([1.0])
    with pytest.raises(ValueError, match="threshold"):
        d2l.grad_clipping_elementwise([p], threshold)


def test_grad_clipping_elementwise_rejects_missing_grads_and_types():
    with pytest.raises(ValueError, match="gradient"):
        d2l.grad_clipping_elementwise([torch.zeros(2, requires_grad=True)], 1.0)
    with pytest.raises(TypeError, match="net_or_params"):
        d2l.grad_clipping_elementwise(torch.zeros(2), 1.0)


def test_train_epoch_stops_on_non_finite_loss():
    torch.manual_seed(0)
    net = d2l.RNNModelScratch(5, 4)
    with torch.no_grad():
        net.params[3].fill_(float("nan"))  # W_hq: every logit is NaN
    batches = [(torch.randint(0, 5, (2, 3)), torch.randint(0, 5, (2, 3)))]
    updater = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(FloatingPointError, match="loss is nan"):
        d2l.train_epoch(
            net, batches, nn.CrossEntropyLoss(), updater, torch.device("cpu")
        )


def _tanh_step(W_xh, W_hh):
    return lambda X_t, state: (torch.tanh(X_t @ W_xh + state[0] @ W_hh),)


def test_state_gradient_norms_linear_recurrence_closed_form():
    lam, num_steps = 0.7, 6
    W = lam * torch.eye(3, dtype=torch.float64)
    u = torch.tensor([1.0, 2.0, 2.0], dtype=torch.float64)  # norm 3
    inputs = torch.zeros(num_steps, 2, 1, dtype=torch.float64)
    state = (torch.ones(2, 3, dtype=torch.float64),)
    norms = d2l.state_gradient_norms(lambda X_t, s: (s[0] @ W,), inputs, state, u)
    expected = 3 * lam ** torch.arange(num_steps + 1, dtype=torch.float64)
    torch.testing.assert_close(norms, expected)


def test_state_gradient_norms_equals_jacobian_product():
    torch.manual_seed(0)
    num_steps, n = 5, 4
    W_xh = torch.randn(2, n, dtype=torch.float64)
    W_hh = torch.randn(n, n, dtype=torch.float64)
    inputs = torch.randn(num_steps, 1, 2, dtype=torch.float64)
    u = torch.randn(n, dtype=torch.float64)
    step = _tanh_step(W_xh, W_hh)
    norms = d2l.state_gradient_norms(
        step, inputs, (torch.zeros(1, n, dtype=torch.float64),), u
    )
    # Reference: run forward, then multiply the step Jacobians by hand.
    Hs = [torch.zeros(1, n, dtype=torch.float64)]
    for X_t in inputs:
        Hs.append(step(X_t, (Hs[-1],))[0])
    v = u.clone()
    for k in range(num_steps + 1):
        assert norms[k].item() == pytest.approx(v.norm().item(), rel=1e-10)
        if k < num_steps:
            t = num_steps - k  # v is dL/dh_t; step back through h_t's cell
            v = (v * (1 - Hs[t][0] ** 2)) @ W_hh.T


def test_state_gradient_norms_tuple_state_and_validation():
    torch.manual_seed(0)
    params = [p.detach().double() for p in d2l.init_lstm_params(3, 4)]
    state = (torch.zeros(2, 4, dtype=torch.float64),) * 2
    inputs = torch.randn(7, 2, 3, dtype=torch.float64)
    u = torch.randn(4, dtype=torch.float64)
    norms = d2l.state_gradient_norms(
        lambda X_t, s: d2l.lstm_step(X_t, s, params), inputs, state, u
    )
    assert norms.shape == (8,)
    # lag 0: dL/dH_T = u, and dL/dC_T = u * O_T * tanh'(C_T) is smaller
    assert u.norm() < norms[0] < math.sqrt(2) * u.norm()
    assert (norms[1:] > 0).all()
    with pytest.raises(ValueError, match="inputs"):
        d2l.state_gradient_norms(lambda X_t, s: s, inputs[0], state, u)
    with pytest.raises(ValueError, match="readout"):
        d2l.state_gradient_norms(lambda X_t, s: s, inputs, state, u[:3])
    with pytest.raises(TypeError, match="state"):
        d2l.state_gradient_norms(lambda X_t, s: s, inputs, state[0], u)


def _omega_by_autograd(H0, A, W_hh, dH):
    """Omega from vector-Jacobian products that autograd computes."""
    Hs, H = [], H0
    for A_t in A:
        H = torch.tanh(A_t + H @ W_hh)
        Hs.append(H)
    total = 0
    for k in range(len(Hs) - 1):
        g = dH[k + 1]
        (back,) = torch.autograd.grad(
            Hs[k + 1], Hs[k], grad_outputs=g, create_graph=True
        )
        total = total + (back.norm(dim=-1) / g.norm(dim=-1) - 1) ** 2
    return total.mean(), torch.stack(Hs)


def test_information_flow_penalty_matches_autograd_vjp():
    torch.manual_seed(0)
    T, B, n = 6, 3, 5
    A = torch.randn(T, B, n, dtype=torch.float64)
    H0 = torch.randn(B, n, dtype=torch.float64)
    dH = torch.randn(T, B, n, dtype=torch.float64)
    W1 = torch.randn(n, n, dtype=torch.float64, requires_grad=True)
    ref, Hs = _omega_by_autograd(H0, A, W1, dH)
    (g_ref,) = torch.autograd.grad(ref, W1)
    W2 = W1.detach().clone().requires_grad_(True)
    H, states = H0, []
    for A_t in A:
        H = torch.tanh(A_t + H @ W2)
        states.append(H)
    omega = d2l.information_flow_penalty(torch.stack(states), dH, W2)
    (g,) = torch.autograd.grad(omega, W2)
    torch.testing.assert_close(omega, ref)
    torch.testing.assert_close(g, g_ref)


def test_information_flow_penalty_zero_when_norm_preserved():
    torch.manual_seed(0)
    Q, _ = torch.linalg.qr(torch.randn(6, 6, dtype=torch.float64))
    H = torch.zeros(4, 2, 6, dtype=torch.float64)  # tanh' = 1 everywhere
    dH = torch.randn(4, 2, 6, dtype=torch.float64)
    assert d2l.information_flow_penalty(H, dH, Q).item() < 1e-20
    half = 0.5 * torch.eye(6, dtype=torch.float64)
    value = d2l.information_flow_penalty(H, dH, half).item()
    assert value == pytest.approx(3 * 0.25)  # three terms of (0.5 - 1)^2


def test_information_flow_penalty_descent_restores_gradient_flow():
    torch.manual_seed(0)
    T, B, n = 10, 4, 8
    A = 0.1 * torch.randn(T, B, n, dtype=torch.float64)
    dH = torch.randn(T, B, n, dtype=torch.float64)
    W = (0.3 * torch.eye(n, dtype=torch.float64)).requires_grad_(True)
    optimizer = torch.optim.Adam([W], lr=0.05)
    values = []
    for _ in range(60):
        H, states = torch.zeros(B, n, dtype=torch.float64), []
        for A_t in A:
            H = torch.tanh(A_t + H @ W)
            states.append(H)
        omega = d2l.information_flow_penalty(torch.stack(states), dH, W)
        values.append(omega.item())
        optimizer.zero_grad()
        omega.backward()
        optimizer.step()
    assert values[-1] < 0.1 * values[0]
    assert torch.linalg.matrix_norm(W.detach(), ord=2) > 0.8  # grew from 0.3


def test_information_flow_penalty_rejects_bad_shapes():
    H = torch.zeros(4, 2, 3)
    with pytest.raises(ValueError, match="expected H"):
        d2l.information_flow_penalty(H, torch.zeros(4, 2, 2), torch.eye(3))
    with pytest.raises(ValueError, match="expected H"):
        d2l.information_flow_penalty(H, H, torch.eye(2))


def _assert_uniform(values, bound):
    """Entries in [-bound, bound] that fill the range, centred on zero."""
    assert values.abs().max() <= bound
    assert values.min() < -0.9 * bound and values.max() > 0.9 * bound
    assert abs(values.mean()) < 0.1 * bound


@pytest.mark.parametrize(
    ("init", "num_gates", "extra_biases"),
    [(d2l.init_lstm_params, 4, 0), (d2l.init_gru_params, 3, 1)],
)
def test_init_gated_params_ranges(init, num_gates, extra_biases):
    torch.manual_seed(0)
    vocab_size, num_hiddens = 50, 64  # bound 1 / sqrt(64) = 1 / 8
    params = [p.detach() for p in init(vocab_size, num_hiddens)]
    assert len(params) == 3 * num_gates + extra_biases + 2
    for g in range(num_gates):
        W_x, W_h, b = params[3 * g : 3 * g + 3]
        assert W_x.shape == (vocab_size, num_hiddens)
        assert W_h.shape == (num_hiddens, num_hiddens)
        _assert_uniform(W_x, 1 / 8)
        _assert_uniform(W_h, 1 / 8)  # the hidden-to-hidden weights too
        assert b.shape == (num_hiddens,) and not b.any()
    if extra_biases:  # the GRU's b_hh
        b_hh = params[3 * num_gates]
        assert b_hh.shape == (num_hiddens,) and not b_hh.any()
    W_hq, b_q = params[-2:]
    assert W_hq.shape == (num_hiddens, vocab_size)
    _assert_uniform(W_hq, 1 / 8)
    assert b_q.shape == (vocab_size,) and not b_q.any()
    assert all(p.dtype == torch.float32 for p in params)
    # every block is a draw of its own
    weights = [p for p in params if p.dim() == 2]
    assert len({tuple(p.reshape(-1)[:5].tolist()) for p in weights}) == len(weights)


@pytest.mark.parametrize("init", [d2l.init_lstm_state, d2l.init_gru_state])
def test_init_gated_states_check_both_sizes(init):
    state = init(2, 5)
    assert all(s.shape == (2, 5) and s.dtype == torch.float32 for s in state)
    with pytest.raises(ValueError, match="num_hiddens must be >= 1, got 0"):
        init(2, 0)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        init(0, 5)
    assert init(1, 1)[0].shape == (1, 1)


@pytest.mark.parametrize("init", [d2l.init_lstm_params, d2l.init_gru_params])
def test_init_gated_params_check_both_sizes(init):
    with pytest.raises(ValueError, match="vocab_size must be >= 1, got 0"):
        init(0, 3)
    with pytest.raises(ValueError, match="num_hiddens must be >= 1, got 0"):
        init(3, 0)
    assert init(1, 1)[0].shape == (1, 1)


@pytest.mark.parametrize(
    "layer",
    [nn.LSTM(3, 4, bidirectional=True), nn.LSTM(3, 4, bias=False),
     nn.LSTM(3, 4, proj_size=2), nn.LSTM(3, 4, num_layers=2), nn.GRU(3, 4)],
)
def test_lstm_params_from_nn_rejects_other_lstms(layer):
    with pytest.raises(ValueError, match="one-layer, one-direction nn.LSTM"):
        d2l.lstm_params_from_nn(layer, nn.Linear(4, 2))


@pytest.mark.parametrize(
    "layer",
    [nn.GRU(3, 4, bidirectional=True), nn.GRU(3, 4, bias=False),
     nn.GRU(3, 4, num_layers=2), nn.LSTM(3, 4)],
)
def test_gru_params_from_nn_rejects_other_grus(layer):
    with pytest.raises(ValueError, match="one-layer, one-direction nn.GRU"):
        d2l.gru_params_from_nn(layer, nn.Linear(4, 2))


@pytest.mark.parametrize("convert", [d2l.lstm_params_from_nn, d2l.gru_params_from_nn])
def test_params_from_nn_check_the_output_layer(convert):
    layer = (nn.LSTM if convert is d2l.lstm_params_from_nn else nn.GRU)(3, 4)
    for linear in (nn.Linear(5, 2), nn.Conv1d(4, 2, 1)):
        with pytest.raises(ValueError, match="linear must be an nn.Linear"):
            convert(layer, linear)
    linear = nn.Linear(4, 2)
    params = convert(layer, linear)
    assert all(p.requires_grad and p.is_leaf for p in params)
    # copies: training the scratch model leaves the torch layer alone
    with torch.no_grad():
        for p in params:
            p.add_(1.0)
    params2 = convert(layer, linear)
    assert not any(torch.equal(p, q) for p, q in zip(params, params2, strict=True))


def test_state_gradient_norms_average_over_the_batch_and_work_under_no_grad():
    torch.manual_seed(1)
    n = 3
    W_xh = torch.randn(2, n, dtype=torch.float64)
    W_hh = torch.randn(n, n, dtype=torch.float64)
    step = _tanh_step(W_xh, W_hh)
    inputs = torch.randn(4, 2, 2, dtype=torch.float64)  # two different sequences
    H0 = torch.randn(2, n, dtype=torch.float64)
    u = torch.randn(n, dtype=torch.float64)
    with torch.no_grad():  # the function turns gradients on for itself
        norms = d2l.state_gradient_norms(step, inputs, (H0,), u)
    rows = [d2l.state_gradient_norms(step, inputs[:, b : b + 1], (H0[b : b + 1],), u)
            for b in range(2)]
    torch.testing.assert_close(norms, (rows[0] + rows[1]) / 2)
    assert not torch.allclose(rows[0], rows[1])


def test_state_gradient_norms_count_an_unused_state_as_zero():
    # the step reads H only: the gradient w.r.t. the second state tensor is None
    W = 0.5 * torch.eye(2, dtype=torch.float64)
    state = (torch.ones(1, 2, dtype=torch.float64),) * 2
    norms = d2l.state_gradient_norms(
        lambda X_t, s: (s[0] @ W, s[1]), torch.zeros(3, 1, 1, dtype=torch.float64),
        state, torch.tensor([3.0, 4.0], dtype=torch.float64),
    )
    torch.testing.assert_close(norms, 5 * 0.5 ** torch.arange(4, dtype=torch.float64))
    with pytest.raises(TypeError, match="non-empty tuple"):
        d2l.state_gradient_norms(lambda X_t, s: s, torch.zeros(3, 1, 1), (), W[0])
    with pytest.raises(ValueError, match="inputs"):
        d2l.state_gradient_norms(lambda X_t, s: s, [[[0.0]]], state, W[0])


def test_information_flow_penalty_is_scale_free_and_treats_dH_as_constant():
    torch.manual_seed(2)
    T, B, n = 5, 2, 4
    A = torch.randn(T, B, n, dtype=torch.float64)
    H0 = torch.randn(B, n, dtype=torch.float64)
    W = torch.randn(n, n, dtype=torch.float64, requires_grad=True)
    dH = 1e-3 * torch.randn(T, B, n, dtype=torch.float64)  # norms far below 1
    ref, Hs = _omega_by_autograd(H0, A, W, dH)
    dH = dH.requires_grad_()
    omega = d2l.information_flow_penalty(Hs, dH, W)
    torch.testing.assert_close(omega, ref)
    omega.backward()
    assert dH.grad is None and W.grad is not None


def test_information_flow_penalty_of_zero_gradients_is_finite():
    H = torch.zeros(4, 2, 3, dtype=torch.float64)
    eye = torch.eye(3, dtype=torch.float64)
    omega = d2l.information_flow_penalty(H, torch.zeros_like(H), eye)
    assert omega.item() == 3.0  # each of the 3 terms: (0 / eps - 1)^2 = 1


def test_grad_clipping_elementwise_clips_at_exactly_the_threshold():
    (p,) = _params_with_grads([2.0, -2.0, 0.5, -0.5, 1.0])
    norm = d2l.grad_clipping_elementwise([p], 1.0)
    assert norm == pytest.approx(math.sqrt(4 + 4 + 0.25 + 0.25 + 1))
    assert p.grad.tolist() == [1.0, -1.0, 0.5, -0.5, 1.0]
    module = nn.Linear(2, 1)
    module.weight.grad = torch.tensor([[3.0, -0.25]])
    module.bias.grad = torch.tensor([-4.0])
    assert d2l.grad_clipping_elementwise(module, 0.5) == pytest.approx(
        math.sqrt(9 + 0.0625 + 16)
    )
    assert module.weight.grad.tolist() == [[0.5, -0.25]]
    assert module.bias.grad.tolist() == [-0.5]
