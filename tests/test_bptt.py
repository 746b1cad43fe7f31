"""Tests for d2lrnn.bptt: hand-written BPTT against autograd and finite differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import d2lrnn as d2l


def make_problem(num_steps, batch_size, num_inputs, num_hiddens, num_outputs, seed):
    """Random float64 parameters (non-zero biases), inputs, targets and h0."""
    rng = np.random.default_rng(seed)
    params = d2l.init_bptt_params(
        num_inputs, num_hiddens, num_outputs, seed=seed, scale=0.6
    )
    params["b"] = rng.normal(0.0, 0.3, num_hiddens)
    params["c"] = rng.normal(0.0, 0.3, num_outputs)
    xs = rng.normal(size=(num_steps, batch_size, num_inputs))
    ys = rng.integers(0, num_outputs, size=(num_steps, batch_size))
    h0 = rng.normal(0.0, 0.5, size=(batch_size, num_hiddens))
    return params, xs, ys, h0


def autograd_reference(params, xs, ys, h0, truncate=None, scales=None):
    """Loss and gradients from torch.autograd in float64.

    Truncation is built by detaching: loss term t re-runs its last ``truncate``
    steps from a constant copy of the state, so no gradient flows further back.
    ``scales[t]`` multiplies the gradient step t sends into h_{t-1}.
    """
    P = {n: torch.tensor(v, requires_grad=True) for n, v in params.items()}
    X, Y, H0 = torch.tensor(xs), torch.tensor(ys), torch.tensor(h0)
    num_steps, batch_size = Y.shape
    S = None
    if scales is not None:
        S = torch.tensor(
            np.broadcast_to(
                np.reshape(scales, (num_steps, -1, 1)), (num_steps, batch_size, 1)
            )
        )

    def step(h, t):
        if S is not None:  # value h, gradient times S[t]
            h = h.detach() + S[t] * (h - h.detach())
        return torch.tanh(P["b"] + h @ P["W"].T + X[t] @ P["U"].T)

    def term(h, t):
        logits = P["c"] + h @ P["V"].T  # (batch_size, num_outputs)
        return F.cross_entropy(logits, Y[t], reduction="sum")

    loss = torch.zeros((), dtype=torch.float64)
    if truncate is None:
        h = H0
        for t in range(num_steps):
            h = step(h, t)
            loss = loss + term(h, t)
    else:
        with torch.no_grad():
            states, h = [], H0
            for t in range(num_steps):
                h = step(h, t)
                states.append(h)
        for t in range(num_steps):
            start = max(0, t - truncate + 1)
            h = H0 if start == 0 else states[start - 1]
            for r in range(start, t + 1):
                h = step(h, r)
            loss = loss + term(h, t)
    loss.backward()
    return loss.item(), {n: p.grad.numpy() for n, p in P.items()}


def max_abs_diff(a, b):
    return max(float(np.abs(a[n] - b[n]).max()) for n in d2l.RNN_PARAM_NAMES)


sizes = st.integers(1, 5)


@settings(max_examples=25, deadline=None)
@given(
    num_steps=st.integers(1, 8),
    batch_size=sizes,
    num_inputs=sizes,
    num_hiddens=sizes,
    num_outputs=st.integers(2, 5),
    seed=st.integers(0, 2**16),
    truncate=st.one_of(st.none(), st.integers(1, 10)),
)
def test_rnn_bptt_matches_autograd(
    num_steps, batch_size, num_inputs, num_hiddens, num_outputs, seed, truncate
):
    params, xs, ys, h0 = make_problem(
        num_steps, batch_size, num_inputs, num_hiddens, num_outputs, seed
    )
    loss, grads = d2l.rnn_bptt(params, xs, ys, h0, truncate=truncate)
    ref_loss, ref_grads = autograd_reference(params, xs, ys, h0, truncate)
    assert loss == pytest.approx(ref_loss, rel=1e-12, abs=1e-12)
    assert max_abs_diff(grads, ref_grads) <= 1e-10


@settings(max_examples=15, deadline=None)
@given(
    num_steps=st.integers(1, 7),
    batch_size=sizes,
    seed=st.integers(0, 2**16),
    truncate=st.one_of(st.none(), st.integers(1, 4)),
    per_sequence=st.booleans(),
)
def test_rnn_bptt_scales_match_autograd(
    num_steps, batch_size, seed, truncate, per_sequence
):
    params, xs, ys, h0 = make_problem(num_steps, batch_size, 3, 4, 3, seed)
    rng = np.random.default_rng(seed + 1)
    shape = (num_steps, batch_size) if per_sequence else (num_steps,)
    scales = np.where(rng.random(shape) < 0.6, 1 / 0.6, 0.0)
    _, grads = d2l.rnn_bptt(params, xs, ys, h0, truncate=truncate, scales=scales)
    _, ref_grads = autograd_reference(params, xs, ys, h0, truncate, scales)
    assert max_abs_diff(grads, ref_grads) <= 1e-10


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rnn_bptt_matches_finite_differences(seed):
    params, xs, ys, h0 = make_problem(6, 2, 3, 4, 5, seed)
    _, grads = d2l.rnn_bptt(params, xs, ys, h0)
    for name in d2l.RNN_PARAM_NAMES:
        numeric = d2l.numerical_gradient(
            lambda: d2l.rnn_loss(params, xs, ys, h0), params[name]
        )
        rel = np.abs(numeric - grads[name]).max() / np.abs(grads[name]).max()
        assert rel < 1e-6, (name, rel)


@settings(max_examples=20, deadline=None)
@given(num_steps=st.integers(1, 8), extra=st.integers(0, 5), seed=st.integers(0, 999))
def test_rnn_bptt_truncate_at_least_length_equals_full(num_steps, extra, seed):
    params, xs, ys, h0 = make_problem(num_steps, 2, 3, 4, 3, seed)
    loss, grads = d2l.rnn_bptt(params, xs, ys, h0)
    loss_k, grads_k = d2l.rnn_bptt(params, xs, ys, h0, truncate=num_steps + extra)
    assert loss_k == loss
    assert max_abs_diff(grads, grads_k) <= 1e-12


def test_rnn_bptt_truncation_changes_recurrent_gradients():
    params, xs, ys, h0 = make_problem(6, 2, 3, 4, 3, 7)
    _, full = d2l.rnn_bptt(params, xs, ys, h0)
    _, short = d2l.rnn_bptt(params, xs, ys, h0, truncate=2)
    assert np.abs(full["W"] - short["W"]).max() > 1e-4
    # the output layer never sees the recurrence, so truncation leaves it alone
    np.testing.assert_allclose(full["V"], short["V"], rtol=0, atol=1e-14)
    np.testing.assert_allclose(full["c"], short["c"], rtol=0, atol=1e-14)


def test_rnn_bptt_zero_scales_equal_one_step_truncation():
    params, xs, ys, h0 = make_problem(5, 3, 2, 4, 3, 3)
    _, cut = d2l.rnn_bptt(params, xs, ys, h0, scales=np.zeros(5))
    _, one = d2l.rnn_bptt(params, xs, ys, h0, truncate=1)
    assert max_abs_diff(cut, one) <= 1e-14


def test_rnn_forward_matches_nn_rnn():
    params, xs, _, h0 = make_problem(7, 3, 4, 5, 2, 11)
    rnn = torch.nn.RNN(4, 5, nonlinearity="tanh", dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(params["U"]))
        rnn.weight_hh_l0.copy_(torch.tensor(params["W"]))
        rnn.bias_ih_l0.copy_(torch.tensor(params["b"]))
        rnn.bias_hh_l0.zero_()
        expected, _ = rnn(torch.tensor(xs), torch.tensor(h0)[None])
    hs, probs = d2l.rnn_forward(params, xs, h0)
    torch.testing.assert_close(torch.tensor(hs), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=0, atol=1e-12)


def test_rnn_loss_equals_bptt_loss():
    params, xs, ys, h0 = make_problem(4, 2, 3, 3, 4, 5)
    loss, _ = d2l.rnn_bptt(params, xs, ys, h0)
    assert d2l.rnn_loss(params, xs, ys, h0) == pytest.approx(loss, rel=1e-14)


def _bad(change):
    params, xs, ys, h0 = make_problem(3, 2, 3, 4, 5, 0)
    kwargs = {"params": params, "xs": xs, "ys": ys, "h0": h0}
    change(kwargs)
    return kwargs


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda kw: kw.update(truncate=0), ValueError, "truncate"),
        (lambda kw: kw.update(truncate=-2), ValueError, "truncate"),
        (lambda kw: kw.update(truncate=1.5), TypeError, "truncate"),
        (lambda kw: kw.update(truncate=True), TypeError, "truncate"),
        (lambda kw: kw.update(xs=kw["xs"][0]), ValueError, "xs"),
        (lambda kw: kw.update(xs=kw["xs"][..., :2]), ValueError, "xs"),
        (lambda kw: kw.update(xs=kw["xs"].astype(int)), TypeError, "xs"),
        (lambda kw: kw.update(xs=kw["xs"].tolist()), TypeError, "xs"),
        (lambda kw: kw.update(ys=kw["ys"].astype(float)), TypeError, "ys"),
        (lambda kw: kw.update(ys=kw["ys"][:2]), ValueError, "ys"),
        (lambda kw: kw.update(ys=kw["ys"] + 5), ValueError, "ys"),
        (lambda kw: kw.update(ys=kw["ys"] - 9), ValueError, "ys"),
        (lambda kw: kw.update(h0=kw["h0"][:1]), ValueError, "h0"),
        (lambda kw: kw["params"].pop("W"), ValueError, "params"),
        (lambda kw: kw.update(params=[1, 2]), TypeError, "params"),
        (lambda kw: kw["params"].update(W=np.eye(3)), ValueError, "W"),
        (lambda kw: kw["params"].update(c=np.zeros(4)), ValueError, "c"),
        (lambda kw: kw.update(scales=np.ones(4)), ValueError, "scales"),
        (lambda kw: kw.update(scales=np.ones((3, 3))), ValueError, "scales"),
    ],
)
def test_rnn_bptt_rejects_bad_inputs(change, error, match):
    with pytest.raises(error, match=match):
        d2l.rnn_bptt(**_bad(change))


def test_rnn_forward_rejects_bad_inputs():
    params, xs, _, h0 = make_problem(3, 2, 3, 4, 5, 0)
    with pytest.raises(ValueError, match="h0"):
        d2l.rnn_forward(params, xs, h0.T)
    with pytest.raises(ValueError, match="xs"):
        d2l.rnn_forward(params, xs[:0], h0)


def test_init_bptt_params_shapes_and_validation():
    params = d2l.init_bptt_params(3, 4, 5, seed=0)
    shapes = {n: params[n].shape for n in d2l.RNN_PARAM_NAMES}
    assert shapes == {"U": (4, 3), "W": (4, 4), "b": (4,), "V": (5, 4), "c": (5,)}
    assert all(p.dtype == np.float64 for p in params.values())
    again = d2l.init_bptt_params(3, 4, 5, seed=0)
    assert all(np.array_equal(params[n], again[n]) for n in params)
    for bad, error in [
        (0, ValueError),
        (-1, ValueError),
        (2.0, TypeError),
        (True, TypeError),
    ]:
        with pytest.raises(error, match="num_hiddens"):
            d2l.init_bptt_params(3, bad, 5)
    with pytest.raises(ValueError, match="scale"):
        d2l.init_bptt_params(3, 4, 5, scale=0.0)


def test_numerical_gradient_of_cubic():
    x = np.linspace(-1.0, 1.0, 12).reshape(3, 4)[:, ::2]  # not contiguous
    before = x.copy()
    grad = d2l.numerical_gradient(lambda: float((x**3).sum()), x)
    np.testing.assert_allclose(grad, 3 * before**2, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(x, before)  # restored
    with pytest.raises(TypeError, match="float64"):
        d2l.numerical_gradient(lambda: 0.0, x.astype(np.float32))
    with pytest.raises(ValueError, match="eps"):
        d2l.numerical_gradient(lambda: 0.0, x, eps=0.0)


def test_init_bptt_params_are_the_documented_draws():
    # U, W, V in this order from numpy_rng(seed), normal with std `scale`; zero biases
    params = d2l.init_bptt_params(3, 4, 5, seed=7, scale=0.25)
    rng = d2l.numpy_rng(7)
    np.testing.assert_array_equal(params["U"], rng.normal(0.0, 0.25, (4, 3)))
    np.testing.assert_array_equal(params["W"], rng.normal(0.0, 0.25, (4, 4)))
    np.testing.assert_array_equal(params["V"], rng.normal(0.0, 0.25, (5, 4)))
    assert not params["b"].any() and not params["c"].any()
    default = d2l.init_bptt_params(3, 4, 5)  # seed 0, scale 0.1
    explicit = d2l.init_bptt_params(3, 4, 5, seed=0, scale=0.1)
    assert all(np.array_equal(default[n], explicit[n]) for n in d2l.RNN_PARAM_NAMES)
    other = d2l.init_bptt_params(3, 4, 5, seed=1)
    assert not np.array_equal(default["U"], other["U"])


def test_init_bptt_params_spread_is_the_scale():
    params = d2l.init_bptt_params(40, 50, 60, seed=0, scale=0.3)
    for name in ("U", "W", "V"):
        values = params[name]
        assert abs(values.mean()) < 0.03
        assert values.std() == pytest.approx(0.3, rel=0.05)
    small = d2l.init_bptt_params(40, 50, 60, seed=0)  # default scale 0.1
    assert small["W"].std() == pytest.approx(0.1, rel=0.05)


@pytest.mark.parametrize("scale", [-0.1, float("nan")])
def test_init_bptt_params_rejects_scales_that_are_not_positive(scale):
    with pytest.raises(ValueError, match="scale must be finite and > 0"):
        d2l.init_bptt_params(3, 4, 5, scale=scale)


@pytest.mark.parametrize("name", ["num_inputs", "num_outputs"])
def test_init_bptt_params_checks_every_size(name):
    sizes = {"num_inputs": 3, "num_hiddens": 4, "num_outputs": 5}
    with pytest.raises(ValueError, match=f"{name} must be >= 1, got 0"):
        d2l.init_bptt_params(**(sizes | {name: 0}))
    params = d2l.init_bptt_params(**(sizes | {name: 1}))
    assert params["U" if name == "num_inputs" else "V"].shape[
        1 if name == "num_inputs" else 0
    ] == 1


def test_rnn_forward_softmax_survives_huge_logits():
    params, xs, _, h0 = make_problem(3, 2, 3, 4, 5, 0)
    params["V"] = params["V"] * 1e4  # logits far beyond exp's range
    params["c"] = params["c"] + 800.0
    _, probs = d2l.rnn_forward(params, xs, h0)
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    hs, _ = d2l.rnn_forward(params, xs, h0)
    logits = torch.tensor(hs) @ torch.tensor(params["V"]).T + torch.tensor(params["c"])
    torch.testing.assert_close(torch.tensor(probs), torch.softmax(logits, dim=-1))


def test_rnn_forward_states_keep_the_input_dtype_and_order():
    params, xs, _, h0 = make_problem(4, 2, 3, 4, 5, 1)
    hs, _ = d2l.rnn_forward(params, xs, h0)
    h = h0
    for t in range(4):  # hs[t] is the state after reading xs[t]
        h = np.tanh(params["b"] + h @ params["W"].T + xs[t] @ params["U"].T)
        np.testing.assert_allclose(hs[t], h, rtol=1e-13, atol=1e-15)
    p32 = {n: v.astype(np.float32) for n, v in params.items()}
    hs32, probs32 = d2l.rnn_forward(p32, xs.astype(np.float32), h0.astype(np.float32))
    assert hs32.dtype == np.float32


def test_rnn_bptt_targets_must_lie_below_num_outputs():
    params, xs, ys, h0 = make_problem(3, 2, 3, 4, 5, 0)
    d2l.rnn_bptt(params, xs, np.full_like(ys, 4), h0)  # the largest class is fine
    d2l.rnn_bptt(params, xs, np.zeros_like(ys), h0)
    with pytest.raises(ValueError, match=r"ys must lie in \[0, 5\), got values 5..5"):
        d2l.rnn_bptt(params, xs, np.full_like(ys, 5), h0)
    with pytest.raises(ValueError, match=r"got values -1..4"):
        d2l.rnn_loss(params, xs, np.where(ys == ys.max(), 4, -1), h0)
