"""Tests for d2lrnn.clockwork: the clockwork RNN."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import d2lrnn as d2l


def clockwork(num_hiddens=12, periods=(1, 2, 4), wiring="slow_to_fast",
              num_inputs=3, seed=0):
    """A float64 ClockworkRNN with seeded weights."""
    torch.manual_seed(seed)
    return d2l.ClockworkRNN(num_inputs, num_hiddens, periods, wiring).double()


def inputs(num_steps=13, batch_size=4, num_inputs=3, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(num_steps, batch_size, num_inputs, generator=generator,
                       dtype=torch.float64)


def reference_states(net, X):
    """The clockwork update written out module by module, unit by unit."""
    W = net.recurrent_matrix().detach()
    k = net.hidden_size // len(net.periods)
    H = X.new_zeros(X.shape[1], net.hidden_size)
    states = []
    for t, X_t in enumerate(X):
        new = torch.tanh(X_t @ net.W_xh + H @ W + net.b_h).detach()
        H = H.clone()
        for i, period in enumerate(net.periods):
            if t % period == 0:
                H[:, i * k:(i + 1) * k] = new[:, i * k:(i + 1) * k]
        states.append(H)
    return torch.stack(states)


@pytest.mark.parametrize("wiring", d2l.WIRINGS)
@pytest.mark.parametrize("periods", [(1, 2, 4), (3, 1, 5), (2, 2, 7)])
def test_clockwork_module_changes_state_only_at_multiples_of_its_period(
        wiring, periods):
    net, X = clockwork(periods=periods, wiring=wiring), inputs()
    Y, H = net(X)
    assert Y.shape == (13, 4, 12) and torch.equal(H, Y[-1])
    previous = torch.cat([torch.zeros_like(Y[:1]), Y[:-1]])  # h_{t-1}
    changed = (Y != previous).any(dim=1)  # (num_steps, num_hiddens)
    steps = torch.arange(13)[:, None]
    for i, period in enumerate(periods):
        units = changed[:, 4 * i:4 * (i + 1)]
        assert not units[steps[:, 0] % period != 0].any()
        assert units[steps[:, 0] % period == 0].all()  # tanh moves them
    torch.testing.assert_close(Y, reference_states(net, X))


def test_clockwork_with_period_one_and_full_wiring_equals_nn_rnn():
    net, X = clockwork(periods=(1, 1, 1), wiring="full"), inputs()
    rnn = nn.RNN(3, 12).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(net.W_xh.T)
        rnn.weight_hh_l0.copy_(net.recurrent_matrix().T)
        rnn.bias_ih_l0.copy_(net.b_h)
        rnn.bias_hh_l0.zero_()
    H0 = torch.randn(4, 12, dtype=torch.float64)
    Y, H = net(X, H0)
    Y_ref, H_ref = rnn(X, H0[None])
    torch.testing.assert_close(Y, Y_ref)
    torch.testing.assert_close(H, H_ref[0])


@pytest.mark.parametrize("wiring, live_blocks", [
    ("slow_to_fast", 6), ("fast_to_slow", 6), ("full", 9)])
def test_clockwork_parameter_count_is_the_live_weights(wiring, live_blocks):
    net = clockwork(periods=(1, 2, 4), wiring=wiring)  # 3 modules of 4 units
    assert d2l.num_params(net) == live_blocks * 4 * 4 + 3 * 12 + 12
    assert int(net.mask.sum()) == net.W_hh_live.numel() == live_blocks * 16
    # the paper's count: g (g + 1) / 2 blocks, n^2 (g + 1) / (2 g) weights
    wide = d2l.ClockworkRNN(2, 84, (1, 2, 4, 8, 16, 32))
    assert wide.W_hh_live.numel() == 84 ** 2 * 7 // 12 == 4116


@pytest.mark.parametrize("wiring", ["slow_to_fast", "fast_to_slow"])
def test_clockwork_mask_follows_the_periods(wiring):
    mask = d2l.clockwork_mask((1, 4, 2), 2, wiring)  # (source, target)
    blocks = mask[::2, ::2]  # one entry per pair of modules
    reads = torch.tensor([[1, 0, 0], [1, 1, 1], [1, 0, 1]], dtype=torch.bool)
    expected = reads if wiring == "slow_to_fast" else reads.T.contiguous()
    assert torch.equal(blocks, expected)
    assert torch.equal(mask, torch.kron(expected.int(),
                                        torch.ones(2, 2, dtype=torch.int)).bool())


@pytest.mark.parametrize("wiring", d2l.WIRINGS)
def test_clockwork_masked_weights_get_no_gradient_and_stay_zero(wiring):
    net, X = clockwork(wiring=wiring), inputs()
    W = net.recurrent_matrix().detach().requires_grad_(True)
    # The dense reference sees W only through the mask, as the module does.
    A = X @ net.W_xh + net.b_h
    H = X.new_zeros(4, 12)
    for t, A_t in enumerate(A):
        tick = t % net.unit_period == 0
        H = torch.where(tick, torch.tanh(A_t + H @ (W * net.mask)), H)
    (dW,) = torch.autograd.grad((H ** 2).sum(), W)
    assert torch.all(dW[~net.mask] == 0)
    (_, H_net) = net(X)
    (dlive,) = torch.autograd.grad((H_net ** 2).sum(), net.W_hh_live)
    torch.testing.assert_close(dlive, dW[net.mask])
    updater = torch.optim.Adam(net.parameters(), lr=0.1, weight_decay=0.1)
    for _ in range(3):
        updater.zero_grad()
        (net(X)[1] ** 2).sum().backward()
        updater.step()
    assert torch.all(net.recurrent_matrix()[~net.mask] == 0)


def test_clockwork_gradient_matches_finite_differences():
    net, X = clockwork(periods=(1, 3), num_hiddens=4), inputs(num_steps=7)
    params = tuple(net.parameters())
    torch.autograd.gradcheck(
        lambda *p: torch.func.functional_call(
            net, dict(zip(dict(net.named_parameters()), p, strict=True)),
            (X,))[1], params)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"periods": (1, 0)}, ValueError, r"periods\[1\] must be >= 1, got 0"),
    ({"periods": (1, 2.0)}, TypeError, r"periods\[1\] must be an int"),
    ({"periods": (True, 2)}, TypeError, r"periods\[0\] must be an int"),
    ({"periods": ()}, ValueError, "periods must name at least one"),
    ({"periods": 4}, TypeError, "periods must be a sequence of ints"),
    ({"periods": "12"}, TypeError, "periods must be a sequence of ints"),
    ({"num_hiddens": 10}, ValueError,
     "num_hiddens must be divisible by the 3 periods, got 10"),
    ({"num_hiddens": 0}, ValueError, "num_hiddens must be >= 1, got 0"),
    ({"num_inputs": 0}, ValueError, "num_inputs must be >= 1, got 0"),
    ({"wiring": "slow-to-fast"}, ValueError, "wiring must be one of"),
    ({"wiring": None}, TypeError, "wiring must be a str, got None"),
])
def test_clockwork_bad_arguments_raise_naming_them(kwargs, error, match):
    arguments = {"num_inputs": 2, "num_hiddens": 12, "periods": (1, 2, 4),
                 "wiring": "slow_to_fast", **kwargs}
    with pytest.raises(error, match=match):
        d2l.ClockworkRNN(**arguments)


@pytest.mark.parametrize("X, H, error, match", [
    (torch.zeros(5, 4), None, ValueError, r"X must have shape \(None, None, 2\)"),
    (torch.zeros(5, 4, 3), None, ValueError, r"X must have shape"),
    (torch.zeros(5, 4, 2, dtype=torch.float64), None, TypeError,
     "X must have dtype torch.float32"),
    ([[0.0]], None, TypeError, "X must be a tensor"),
    (torch.zeros(5, 4, 2), torch.zeros(3, 12), ValueError,
     r"H must have shape \(4, 12\)"),
])
def test_clockwork_bad_inputs_raise_naming_them(X, H, error, match):
    net = d2l.ClockworkRNN(2, 12, (1, 2, 4))
    with pytest.raises(error, match=match):
        net(X, H)


def test_clockwork_mask_per_module_is_the_block_pattern():
    # one unit per module: the (read module, reading module) pattern itself
    expected = {"slow_to_fast": [[1, 0, 0], [1, 1, 0], [1, 1, 1]],
                "fast_to_slow": [[1, 1, 1], [0, 1, 1], [0, 0, 1]],
                "full": [[1, 1, 1], [1, 1, 1], [1, 1, 1]]}
    for wiring, pattern in expected.items():
        mask = d2l.clockwork_mask((1, 2, 4), 1, wiring)
        assert mask.dtype == torch.bool
        assert torch.equal(mask, torch.tensor(pattern, dtype=torch.bool))


@pytest.mark.parametrize("module_size, error", [
    (0, ValueError), (-2, ValueError), (2.0, TypeError), (True, TypeError)])
def test_clockwork_mask_names_a_bad_module_size(module_size, error):
    with pytest.raises(error, match="module_size"):
        d2l.clockwork_mask((1, 2), module_size, "full")


def test_clockwork_periods_are_stored_as_python_ints():
    net = d2l.ClockworkRNN(2, 6, np.array([1, 2, 4]))  # numpy integers in
    assert net.periods == (1, 2, 4)
    assert all(type(p) is int for p in net.periods)
    assert d2l.check_periods("periods", [3, 1]) == (3, 1)


def test_clockwork_state_dict_holds_only_the_parameters():
    net = d2l.ClockworkRNN(2, 6, (1, 2, 4))
    assert set(net.state_dict()) == {"W_xh", "W_hh_live", "b_h"}


def test_clockwork_initialisation_is_nn_rnns_range():
    net = d2l.ClockworkRNN(2, 100, (1, 2, 4, 8))
    bound = 1 / 100 ** 0.5  # uniform in +-1/sqrt(num_hiddens), as nn.RNN
    for p in net.parameters():
        assert p.abs().max() <= bound
        assert p.abs().max() > 0.9 * bound  # it fills the range
