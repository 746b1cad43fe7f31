"""Tests for d2lrnn.timescales: reservoirs, ridge readouts and leaky units."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import d2lrnn as d2l


def gen(seed):
    return torch.Generator().manual_seed(seed)


# --- random_reservoir and spectral_radius ----------------------------------------


@settings(deadline=None, max_examples=25)
@given(
    st.integers(2, 60),
    st.floats(0.05, 2.0),
    st.floats(0, 3),
    st.integers(1, 4),
    st.integers(0, 2**31 - 1),
)
def test_random_reservoir_has_the_radius_and_input_scale_asked_for(
    n, radius, scale, inputs, seed
):
    W, W_in = d2l.random_reservoir(n, radius, scale, inputs, generator=gen(seed))
    assert W.shape == (n, n) and W_in.shape == (n, inputs)
    assert W.dtype == W_in.dtype == torch.float64
    assert abs(d2l.spectral_radius(W) - radius) < 1e-9 * max(1.0, radius)
    assert W_in.abs().max() <= scale


def test_spectral_radius_matches_numpy():
    W = torch.randn(20, 20, generator=gen(0), dtype=torch.float64)
    expected = np.abs(np.linalg.eigvals(W.numpy())).max()
    assert abs(d2l.spectral_radius(W) - expected) < 1e-10


def test_random_reservoir_is_reproducible_with_a_generator():
    a = d2l.random_reservoir(10, 0.9, 0.5, generator=gen(3))
    b = d2l.random_reservoir(10, 0.9, 0.5, generator=gen(3))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


# --- reservoir_states against a loop and against reservoirpy ---------------------


def test_reservoir_states_match_a_loop():
    W, W_in = d2l.random_reservoir(12, 0.9, 0.5, 2, generator=gen(1))
    U = torch.randn(40, 2, generator=gen(2), dtype=torch.float64)
    x, loop = torch.zeros(12, dtype=torch.float64), []
    for u in U:
        x = torch.tanh(W @ x + W_in @ u)
        loop.append(x)
    torch.testing.assert_close(d2l.reservoir_states(W, W_in, U), torch.stack(loop))


def test_reservoir_states_equal_reservoirpy_with_the_same_weights():
    # reservoirpy 0.4 (requirements.txt) is the reference implementation
    from reservoirpy.nodes import Reservoir

    W, W_in = d2l.random_reservoir(30, 1.1, 0.8, 3, generator=gen(4))
    U = torch.randn(50, 3, generator=gen(5), dtype=torch.float64)
    node = Reservoir(
        W=W.numpy(),
        Win=W_in.numpy(),
        bias=np.zeros(30),
        lr=1.0,
        activation="tanh",
        input_dim=3,
    )
    theirs = node.run(U.numpy())
    np.testing.assert_allclose(
        d2l.reservoir_states(W, W_in, U).numpy(), theirs, rtol=1e-12, atol=1e-12
    )


# --- ridge_fit and ridge_predict -------------------------------------------------


def test_ridge_fit_without_penalty_is_least_squares():
    X = torch.randn(80, 6, generator=gen(6), dtype=torch.float64)
    Y = torch.randn(80, 2, generator=gen(7), dtype=torch.float64)
    w = d2l.ridge_fit(X, Y, 0.0)
    X1 = torch.cat([X, torch.ones(80, 1, dtype=torch.float64)], 1)
    torch.testing.assert_close(w, torch.linalg.lstsq(X1, Y).solution)
    torch.testing.assert_close(d2l.ridge_predict(X, w), X1 @ w)


def test_ridge_fit_solves_the_penalised_normal_equations():
    X = torch.randn(30, 5, generator=gen(8), dtype=torch.float64)
    Y = torch.randn(30, 1, generator=gen(9), dtype=torch.float64)
    w = d2l.ridge_fit(X, Y, 2.5)
    X1 = torch.cat([X, torch.ones(30, 1, dtype=torch.float64)], 1)
    grad = X1.T @ (X1 @ w - Y) + 2.5 * w  # the gradient of the objective / 2
    assert grad.abs().max() < 1e-10


# --- half_life and leaky_average -------------------------------------------------


@given(st.floats(0.01, 0.999))
def test_half_life_halves_the_weight(alpha):
    assert abs(alpha ** d2l.half_life(alpha) - 0.5) < 1e-9


@settings(deadline=None, max_examples=30)
@given(
    st.integers(1, 3), st.integers(1, 50), st.integers(1, 4), st.integers(0, 2**31 - 1)
)
def test_leaky_average_matches_the_loop_of_its_definition(batch, T, n, seed):
    g = gen(seed)
    V = torch.randn(batch, T, n, generator=g, dtype=torch.float64)
    alpha = torch.rand(n, generator=g, dtype=torch.float64) * 0.999
    mu, loop = torch.zeros(batch, n, dtype=torch.float64), []
    for t in range(T):
        mu = alpha * mu + (1 - alpha) * V[:, t]
        loop.append(mu)
    torch.testing.assert_close(d2l.leaky_average(V, alpha), torch.stack(loop, 1))


def test_leaky_average_with_alpha_zero_follows_its_input():
    # alpha = 0 lies in [0, 1): no memory at all, mu_t = v_t
    V = torch.randn(2, 9, 3, generator=torch.Generator().manual_seed(5))
    alpha = torch.tensor([0.0, 0.0, 0.5])
    mu = d2l.leaky_average(V, alpha)
    torch.testing.assert_close(mu[..., :2], V[..., :2], rtol=0, atol=0)


def test_leaky_average_of_a_constant_approaches_it():
    V = torch.full((1, 2000, 1), 3.0, dtype=torch.float64)
    mu = d2l.leaky_average(V, torch.tensor([0.99], dtype=torch.float64))
    assert abs(mu[0, -1, 0].item() - 3.0) < 1e-8


# --- bad input ----------------------------------------------------------------


F64 = torch.float64


def states(w_shape, w_in_shape, u_shape, u_dtype=F64):
    """reservoir_states on zero tensors of the given shapes."""
    return d2l.reservoir_states(
        torch.zeros(w_shape, dtype=F64),
        torch.zeros(w_in_shape, dtype=F64),
        torch.zeros(u_shape, dtype=u_dtype),
    )


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: d2l.spectral_radius(torch.zeros(2, 3)),
            ValueError,
            "W must be a square",
        ),
        (lambda: d2l.spectral_radius([[1.0]]), TypeError, "W must be a tensor"),
        (
            lambda: d2l.random_reservoir(0, 0.9, 1.0),
            ValueError,
            "num_units must be >= 1",
        ),
        (lambda: d2l.random_reservoir(5, 0.0, 1.0), ValueError, "radius must be"),
        (lambda: d2l.random_reservoir(5, 0.9, -1.0), ValueError, "input_scale must be"),
        (
            lambda: d2l.random_reservoir(5, 0.9, 1.0, generator=3),
            TypeError,
            "generator must be a torch.Generator",
        ),
        (lambda: states((3, 4), (3, 1), (5, 1)), ValueError, "W must be square"),
        (lambda: states((3, 3), (3, 1), (5, 2)), ValueError, "U must have shape"),
        (
            lambda: states((3, 3), (3, 1), (5, 1), torch.float32),
            TypeError,
            "U must have dtype",
        ),
        (
            lambda: d2l.ridge_fit(torch.zeros(4, 2), torch.zeros(3, 1), 1.0),
            ValueError,
            "Y must have shape",
        ),
        (
            lambda: d2l.ridge_fit(torch.zeros(4, 2), torch.zeros(4, 1), -1.0),
            ValueError,
            "ridge must be",
        ),
        (
            lambda: d2l.ridge_predict(torch.zeros(4, 2), torch.zeros(2, 1)),
            ValueError,
            "w must have shape",
        ),
        (lambda: d2l.half_life(1.0), ValueError, "alpha must be"),
        (lambda: d2l.half_life(0.0), ValueError, "alpha must be"),
        (
            lambda: d2l.leaky_average(torch.zeros(1, 3, 2), torch.tensor([0.5, 1.0])),
            ValueError,
            r"alpha must lie in \[0, 1\)",
        ),
        (
            lambda: d2l.leaky_average(torch.zeros(1, 3, 2), torch.tensor([0.5])),
            ValueError,
            "alpha must have shape",
        ),
        (
            lambda: d2l.leaky_average(
                torch.zeros(1, 3, 2, dtype=torch.float64), torch.tensor([0.5, 0.5])
            ),
            TypeError,
            "alpha must have dtype torch.float64",
        ),
    ],
)
def test_timescales_reject_bad_input_naming_it(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_half_life_formula_is_close_to_the_approximation_near_one():
    assert abs(d2l.half_life(0.999) - math.log(2) / 0.001) < 0.5
