"""Tests for d2lrnn.adding: the adding problem, its regressor and its loop."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import d2lrnn as d2l


def test_adding_problem_has_one_marker_per_half_and_sums_the_marked_values():
    X, y = d2l.adding_problem(50, 10, torch.Generator().manual_seed(0))
    assert X.shape == (10, 50, 2) and y.shape == (50,)
    values, markers = X[..., 0], X[..., 1]
    assert set(markers.unique().tolist()) == {0.0, 1.0}
    assert (markers[:5].sum(0) == 1).all() and (markers[5:].sum(0) == 1).all()
    assert ((values >= 0) & (values < 1)).all()
    torch.testing.assert_close(y, (values * markers).sum(0))
    # the values are not all alike: a different value at each step
    assert values.std(dim=0).min() > 0.05


def test_adding_problem_is_reproducible_from_the_generator():
    a = d2l.adding_problem(8, 6, torch.Generator().manual_seed(3))
    b = d2l.adding_problem(8, 6, torch.Generator().manual_seed(3))
    c = d2l.adding_problem(8, 6, torch.Generator().manual_seed(4))
    assert a[0].equal(b[0]) and a[1].equal(b[1])
    assert not a[0].equal(c[0])


def test_adding_problem_marker_positions_cover_each_half():
    X, _ = d2l.adding_problem(4000, 8, torch.Generator().manual_seed(1))
    first = X[:4, :, 1].argmax(0)
    second = X[4:, :, 1].argmax(0) + 4
    assert set(first.tolist()) == {0, 1, 2, 3}
    assert set(second.tolist()) == {4, 5, 6, 7}


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 2.0}, TypeError, "batch_size"),
        ({"num_steps": 7}, ValueError, "num_steps"),
        ({"num_steps": 0}, ValueError, "num_steps"),
        ({"num_steps": True}, TypeError, "num_steps"),
        ({"generator": 0}, TypeError, "generator"),
    ],
)
def test_adding_problem_rejects_bad_arguments(kwargs, error, name):
    args = {"batch_size": 4, "num_steps": 6, "generator": None, **kwargs}
    with pytest.raises(error, match=name):
        d2l.adding_problem(**args)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_adding_problem_rejects_a_gpu_generator():
    with pytest.raises(ValueError, match="generator"):
        d2l.adding_problem(4, 6, torch.Generator(device="cuda"))


def test_regressor_reads_out_the_last_step_of_each_layer_kind():
    torch.manual_seed(0)
    X, _ = d2l.adding_problem(5, 6, torch.Generator().manual_seed(0))
    for layer in (nn.RNN(2, 4), nn.GRU(2, 3), nn.LSTM(2, 3)):
        net = d2l.Regressor(layer)
        Y, _ = layer(X)
        torch.testing.assert_close(net(X), net.output(Y[-1]).squeeze(-1))
        assert net.output.in_features == layer.hidden_size
    bi = d2l.Regressor(nn.GRU(2, 3, bidirectional=True))
    assert bi.output.in_features == 6 and bi(X).shape == (5,)


def test_regressor_loss_is_the_mean_squared_error():
    torch.manual_seed(0)
    net = d2l.Regressor(nn.RNN(2, 4))
    X, y = d2l.adding_problem(7, 4, torch.Generator().manual_seed(2))
    torch.testing.assert_close(net.loss(X, y), ((net(X) - y) ** 2).mean())


class _Body(nn.Module):
    """A layer without hidden_size: outputs (T, B, 3) and a state."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(2, 3)

    def forward(self, X):
        Y = torch.tanh(self.proj(X)).cumsum(0)
        return Y, Y[-1]


def test_regressor_takes_any_layer_given_its_width():
    net = d2l.Regressor(_Body(), 3)
    X, _ = d2l.adding_problem(2, 4)
    assert net(X).shape == (2,)
    with pytest.raises(TypeError, match="num_hiddens"):
        d2l.Regressor(_Body())
    with pytest.raises(ValueError, match="num_hiddens"):
        d2l.Regressor(nn.RNN(2, 3), 0)
    with pytest.raises(TypeError, match="layer"):
        d2l.Regressor("rnn", 3)


def test_regressor_rejects_inputs_of_the_wrong_shape():
    net = d2l.Regressor(nn.RNN(2, 3))
    with pytest.raises(ValueError, match="X"):
        net(torch.zeros(4, 2, 3))  # three channels, not two
    with pytest.raises((TypeError, ValueError), match="X"):
        net(torch.zeros(4, 2))


def test_train_adding_learns_the_short_task_and_stops_at_the_threshold():
    d2l.manual_seed(0)
    net = d2l.Regressor(nn.GRU(2, 16))
    history = d2l.train_adding(net, 6, 1500, seed=0, threshold=0.01,
                               eval_every=50)
    assert history["hit"] is not None, history["val_mse"][-3:]
    assert history["step"][-1] == history["hit"]
    assert history["val_mse"][-1] < 0.01
    # every recorded point before the hit was above the threshold
    assert all(m >= 0.01 for m in history["val_mse"][:-1])
    assert history["step"] == list(range(50, history["hit"] + 1, 50))


def test_train_adding_runs_max_steps_without_a_hit():
    d2l.manual_seed(0)
    net = d2l.Regressor(nn.RNN(2, 4))
    history = d2l.train_adding(net, 10, 40, seed=1, threshold=1e-9,
                               eval_every=20)
    assert history["hit"] is None and history["step"] == [20, 40]
    assert all(math.isfinite(m) for m in history["val_mse"])


def test_train_adding_is_reproducible_and_uses_the_models_loss():
    runs = []
    for _ in range(2):
        d2l.manual_seed(0)
        runs.append(d2l.train_adding(d2l.Regressor(nn.RNN(2, 4)), 6, 30,
                                     seed=5, eval_every=10))
    assert runs[0] == runs[1]

    class Scaled(d2l.Regressor):
        def loss(self, X, y):
            return 0.0 * super().loss(X, y)  # no gradient: nothing learnt

    d2l.manual_seed(0)
    net = Scaled(nn.RNN(2, 4))
    before = [p.detach().clone() for p in net.parameters()]
    d2l.train_adding(net, 6, 20, seed=5, eval_every=10)
    assert all(a.equal(b) for a, b in zip(before, net.parameters(), strict=True))


def test_train_adding_raises_on_a_non_finite_loss():
    net = d2l.Regressor(nn.RNN(2, 3))
    with torch.no_grad():
        net.output.bias.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="step 1"):
        d2l.train_adding(net, 6, 10, seed=0)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"net": nn.RNN(2, 3)}, TypeError, "net"),
        ({"net": "model"}, TypeError, "net"),
        ({"max_steps": 0}, ValueError, "max_steps"),
        ({"eval_every": 0}, ValueError, "eval_every"),
        ({"threshold": 0}, ValueError, "threshold"),
        ({"threshold": float("nan")}, ValueError, "threshold"),
        ({"lr": -1e-3}, ValueError, "lr"),
        ({"num_steps": 5}, ValueError, "num_steps"),
        ({"batch_size": 0}, ValueError, "batch_size"),
    ],
)
def test_train_adding_rejects_bad_arguments(kwargs, error, name):
    args = {"net": d2l.Regressor(nn.RNN(2, 3)), "num_steps": 6,
            "max_steps": 5, "seed": 0, **kwargs}
    with pytest.raises(error, match=name):
        d2l.train_adding(**args)


def test_train_adding_rejects_a_net_with_nothing_to_train():
    frozen = d2l.Regressor(nn.RNN(2, 3)).requires_grad_(False)
    with pytest.raises(ValueError, match="net has no trainable parameters"):
        d2l.train_adding(frozen, 6, 5, seed=0)
