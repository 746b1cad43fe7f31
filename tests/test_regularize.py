"""Tests of d2lrnn.regularize and of RNNModel's embedding option."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

import d2lrnn as d2l


def _ones(num_steps: int, batch_size: int, features: int) -> torch.Tensor:
    return torch.ones(num_steps, batch_size, features)


# --- locked dropout ----------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(num_steps=st.integers(1, 12), batch_size=st.integers(1, 5),
       features=st.integers(1, 9), p=st.floats(0.05, 0.9),
       seed=st.integers(0, 2**16))
def test_locked_dropout_uses_one_mask_per_sequence(num_steps, batch_size,
                                                   features, p, seed):
    d2l.manual_seed(seed)
    X = torch.rand(num_steps, batch_size, features) + 0.5  # never 0
    Y = d2l.LockedDropout(p).train()(X)
    dropped = Y == 0  # (num_steps, batch_size, features)
    assert torch.equal(dropped, dropped[:1].expand_as(dropped))  # every step
    torch.testing.assert_close(Y, X * ~dropped[:1] / (1 - p))


def test_locked_dropout_draws_a_mask_per_sequence_and_per_call():
    d2l.manual_seed(0)
    drop = d2l.LockedDropout(0.5).train()
    first, second = drop(_ones(3, 8, 16)), drop(_ones(3, 8, 16))
    assert not torch.equal(first[0, 0], first[0, 1])  # rows differ
    assert not torch.equal(first, second)  # calls differ


def test_locked_dropout_keeps_the_expectation():
    d2l.manual_seed(0)
    Y = d2l.LockedDropout(0.3).train()(_ones(2, 4000, 50))
    assert abs(Y.mean().item() - 1) < 0.01
    assert abs((Y[0] == 0).double().mean().item() - 0.3) < 0.01


def test_locked_dropout_is_the_identity_in_eval_mode_and_for_p_0():
    X = torch.randn(4, 3, 5)
    assert torch.equal(d2l.LockedDropout(0.5).eval()(X), X)
    assert torch.equal(d2l.LockedDropout(0.0).train()(X), X)


def test_locked_dropout_with_one_step_equals_torch_dropout():
    # one step: nothing to share over time, so it is plain dropout, same RNG
    X = torch.randn(1, 6, 40)
    d2l.manual_seed(3)
    ours = d2l.LockedDropout(0.4).train()(X)
    d2l.manual_seed(3)
    torch.testing.assert_close(ours, F.dropout(X, 0.4, training=True),
                               rtol=0, atol=0)


def test_locked_dropout_gradient_is_the_mask():
    d2l.manual_seed(0)
    X = torch.randn(5, 2, 7, requires_grad=True)
    Y = d2l.LockedDropout(0.5).train()(X)
    Y.sum().backward()
    expected = (Y != 0).float() / 0.5  # the mask, scaled
    torch.testing.assert_close(X.grad, expected)


# --- dropping units of the recurrent state -----------------------------------

def test_drop_state_units_zeroes_whole_columns():
    d2l.manual_seed(1)
    W = torch.randn(12, 6)
    D = d2l.drop_state_units(W, 0.5)
    dropped = (D == 0).all(0)  # (6,)
    assert 0 < int(dropped.sum()) < 6
    torch.testing.assert_close(D[:, ~dropped], W[:, ~dropped] * 2)


@pytest.mark.parametrize("layer_cls", [nn.LSTM, nn.GRU])
def test_dropped_columns_equal_a_masked_state_in_the_scratch_cells(layer_cls):
    d2l.manual_seed(0)
    layer, head = layer_cls(5, 6).double(), nn.Linear(6, 7).double()
    W = d2l.drop_state_units(layer.weight_hh_l0, 0.5)
    mask = (W != 0).any(0).double() * 2  # (num_hiddens,)
    X = torch.randn(9, 3, 5, dtype=torch.float64)
    Y_nn, _ = torch.func.functional_call(layer, {"weight_hh_l0": W}, (X,))
    H = torch.zeros(3, 6, dtype=torch.float64)
    outputs = []
    if layer_cls is nn.LSTM:
        params, C = d2l.lstm_params_from_nn(layer, head), torch.zeros_like(H)
        for X_t in X:
            H, C = d2l.lstm_step(X_t, (H * mask, C), params)
            outputs.append(H)
    else:
        # in the GRU the old state also enters Z * H: only its uses inside
        # the gates and the candidate are masked, so compare gate by gate
        params = d2l.gru_params_from_nn(layer, head)
        for X_t in X:
            W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_xh, b_hh = \
                params[:10]
            Hm = H * mask
            Z = torch.sigmoid(X_t @ W_xz + Hm @ W_hz + b_z)
            R = torch.sigmoid(X_t @ W_xr + Hm @ W_hr + b_r)
            H_tilde = torch.tanh(X_t @ W_xh + b_xh + R * (Hm @ W_hh + b_hh))
            H = Z * H + (1 - Z) * H_tilde
            outputs.append(H)
    torch.testing.assert_close(torch.stack(outputs), Y_nn)


def test_state_dropout_acts_in_training_only_and_trains_the_weights():
    d2l.manual_seed(0)
    net = d2l.RegularizedRNNModel(nn.LSTM(4, 6), 9, 4, dropout_state=0.5)
    X = torch.randint(0, 9, (3, 5))
    net.eval()
    Y_eval, _ = net(X, None)
    plain = d2l.RNNModel(nn.LSTM(4, 6), 9, embed_size=4)
    plain.load_state_dict(net.state_dict())
    plain.eval()
    torch.testing.assert_close(Y_eval, plain(X, None)[0])
    net.train()
    Y_train, _ = net(X, None)
    assert not torch.allclose(Y_train, Y_eval)
    Y_train.sum().backward()
    assert net.rnn.weight_hh_l0.grad is not None
    assert net.rnn.weight_hh_l0.grad.abs().sum() > 0


# --- embeddings and tying ----------------------------------------------------

def test_embedding_input_equals_one_hot_times_the_table():
    d2l.manual_seed(0)
    net = d2l.RNNModel(nn.GRU(3, 4), 11, embed_size=3)
    X = torch.randint(0, 11, (2, 6))
    torch.testing.assert_close(
        net.embedding(X), F.one_hot(X, 11).float() @ net.embedding.weight,
        rtol=0, atol=0)


def test_embedded_model_is_the_one_hot_model_with_a_factored_input_matrix():
    d2l.manual_seed(0)
    embedded = d2l.RNNModel(nn.LSTM(3, 5), 8, embed_size=3).double()
    one_hot = d2l.RNNModel(nn.LSTM(8, 5), 8).double()
    with torch.no_grad():
        for name, p in one_hot.named_parameters():
            if name == "rnn.weight_ih_l0":  # (4h, V) = (4h, e) @ (e, V)
                p.copy_(embedded.rnn.weight_ih_l0 @ embedded.embedding.weight.T)
            else:
                p.copy_(dict(embedded.named_parameters())[name])
    X = torch.randint(0, 8, (4, 7))
    Y1, (H1, C1) = embedded(X, None)
    Y2, (H2, C2) = one_hot(X, None)
    torch.testing.assert_close(Y1, Y2)
    torch.testing.assert_close(C1, C2)


def test_rnn_model_without_embed_size_is_unchanged():
    d2l.manual_seed(0)
    net = d2l.RNNModel(nn.RNN(5, 4), 5)
    assert net.embedding is None and net.embed_size is None
    assert [n for n, _ in net.named_parameters()] == [
        "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
        "rnn.bias_hh_l0", "linear.weight", "linear.bias"]
    # the same random draws as before the option existed: layer, then linear
    d2l.manual_seed(0)
    layer = nn.RNN(5, 4)
    linear = nn.Linear(4, 5)
    d2l.manual_seed(0)
    net = d2l.RNNModel(nn.RNN(5, 4), 5)
    torch.testing.assert_close(net.linear.weight, linear.weight)
    torch.testing.assert_close(net.rnn.weight_hh_l0, layer.weight_hh_l0)


def test_tying_shares_storage_and_stays_shared_after_a_step():
    d2l.manual_seed(0)
    tied = d2l.RegularizedRNNModel(nn.LSTM(6, 6), 20, 6, tie_weights=True)
    untied = d2l.RegularizedRNNModel(nn.LSTM(6, 6), 20, 6)
    assert tied.embedding.weight is tied.linear.weight
    assert tied.embedding.weight.data_ptr() == tied.linear.weight.data_ptr()
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert count(untied) - count(tied) == 20 * 6
    updater = torch.optim.SGD(tied.parameters(), lr=0.5)
    Y, _ = tied(torch.randint(0, 20, (2, 4)), None)
    Y.square().mean().backward()
    updater.step()
    assert torch.equal(tied.embedding.weight, tied.linear.weight)
    assert tied.embedding.weight.data_ptr() == tied.linear.weight.data_ptr()


def test_tied_gradient_is_the_sum_of_both_uses():
    d2l.manual_seed(0)
    tied = d2l.RegularizedRNNModel(nn.GRU(4, 4), 10, 4,
                                   tie_weights=True).double()
    untied = d2l.RegularizedRNNModel(nn.GRU(4, 4), 10, 4).double()
    untied.load_state_dict(tied.state_dict())  # both tables = the shared one
    untied.embed_scale = tied.embed_scale
    X = torch.randint(0, 10, (3, 5))
    for net in (tied, untied):
        net(X, None)[0].square().sum().backward()
    torch.testing.assert_close(
        tied.linear.weight.grad,
        untied.linear.weight.grad + untied.embedding.weight.grad)


def test_tied_model_scales_embeddings_and_keeps_the_linear_start():
    d2l.manual_seed(0)
    tied = d2l.RegularizedRNNModel(nn.LSTM(16, 16), 30, 16, tie_weights=True)
    assert tied.embed_scale == 4.0
    assert tied.linear.weight.abs().max() <= 1 / math.sqrt(16)


def test_regularized_model_works_with_the_training_loop_and_predict():
    corpus = torch.arange(200) % 7
    loader = d2l.SeqDataLoader(corpus, 4, 6)
    vocab = d2l.Vocab(list("abcdef"))  # 7 tokens with <unk>
    d2l.manual_seed(0)
    net = d2l.RegularizedRNNModel(nn.LSTM(5, 5), 7, 5, 0.1, 0.1, 0.1,
                                  tie_weights=True)
    updater = torch.optim.Adam(net.parameters(), lr=0.01)
    ppl, _ = d2l.train_epoch(net, loader, nn.CrossEntropyLoss(), updater,
                             torch.device("cpu"))
    assert math.isfinite(ppl)
    assert d2l.predict("ab", 5, net, vocab).startswith("ab")
    assert net.training  # predict restores the mode


# --- model selection ---------------------------------------------------------

class _Scalar(nn.Module):
    """A net with one parameter, set to the score of each epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(1.0, 100.0), min_size=1, max_size=15))
def test_best_checkpoint_restores_the_best_validation_score(scores):
    net, best = _Scalar(), d2l.BestCheckpoint()
    for epoch, score in enumerate(scores, start=1):
        with torch.no_grad():
            net.w.fill_(score)
        best.update(net, score, epoch)
    with torch.no_grad():
        net.w.fill_(-1.0)
    assert best.restore(net) == min(scores)
    assert net.w.item() == pytest.approx(min(scores), rel=1e-6)
    assert best.epoch == scores.index(min(scores)) + 1  # the first best


def test_best_checkpoint_copies_instead_of_aliasing():
    net, best = _Scalar(), d2l.BestCheckpoint()
    best.update(net, 3.0, 1)
    with torch.no_grad():
        net.w.fill_(7.0)  # training goes on in place
    best.restore(net)
    assert net.w.item() == 0.0


def _optimizer(lr: float = 1.0) -> torch.optim.Optimizer:
    return torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)


@settings(max_examples=100, deadline=None)
@given(scores=st.lists(st.floats(1.0, 10.0), min_size=1, max_size=20),
       patience=st.integers(0, 3), factor=st.sampled_from([0.1, 0.5, 0.9]),
       threshold=st.sampled_from([0.0, 1e-3, 0.05]))
def test_plateau_schedule_matches_reduce_lr_on_plateau(scores, patience,
                                                       factor, threshold):
    ours, theirs = _optimizer(), _optimizer()
    schedule = d2l.PlateauSchedule(ours, factor, patience, threshold)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(
        theirs, mode="min", factor=factor, patience=patience,
        threshold=threshold, threshold_mode="rel", eps=0.0)
    for score in scores:
        schedule.step(score)
        reference.step(score)
        assert ours.param_groups[0]["lr"] == pytest.approx(
            theirs.param_groups[0]["lr"], rel=1e-12)


def test_plateau_schedule_lowers_the_rate_on_a_plateau_only():
    updater = _optimizer(0.8)
    schedule = d2l.PlateauSchedule(updater, factor=0.5, patience=1)
    lowered = [schedule.step(s) for s in (5.0, 4.0, 4.0, 4.0, 3.0, 3.5, 3.5)]
    assert lowered == [False, False, False, True, False, False, True]
    assert updater.param_groups[0]["lr"] == pytest.approx(0.2)


def _tiny_problem():
    corpus = torch.tensor([0, 1, 2, 3, 4, 1, 2, 0, 3] * 30)
    train = d2l.SeqDataLoader(corpus[:200], 4, 8)
    val = d2l.SeqDataLoader(corpus[200:], 2, 8, offset=0)
    return train, val


def test_train_lm_early_stopping_restores_the_best_epoch(capsys):
    train, val = _tiny_problem()
    d2l.manual_seed(0)
    net = d2l.RegularizedRNNModel(nn.GRU(4, 8), 5, 4, dropout_output=0.2)
    history = d2l.train_lm_early_stopping(
        net, train, val, lr=0.05, num_epochs=6, device="cpu", animate=False)
    best = min(history["val_ppl"])
    assert history["best_val_ppl"] == best
    assert history["best_epoch"] == history["val_ppl"].index(best) + 1
    assert d2l.evaluate_perplexity(net, val, "cpu") == pytest.approx(best)
    assert all(b <= a for a, b in zip(history["lr"], history["lr"][1:],
                                      strict=False))
    assert history["seconds"] > 0 and history["tokens_per_sec"] > 0
    assert "best validation perplexity" in capsys.readouterr().out


def test_train_lm_early_stopping_stops_and_lowers_the_rate(monkeypatch):
    scores = iter([5.0, 4.0, 4.5, 4.2, 3.0, 2.0])
    monkeypatch.setattr(d2l.regularize, "evaluate_perplexity",
                        lambda net, data_iter, device: next(scores))
    train, val = _tiny_problem()
    d2l.manual_seed(0)
    net = d2l.RegularizedRNNModel(nn.GRU(4, 8), 5, 4)
    history = d2l.train_lm_early_stopping(
        net, train, val, lr=0.01, num_epochs=30, device="cpu", stop_after=2,
        animate=False)
    assert history["val_ppl"] == [5.0, 4.0, 4.5, 4.2]  # two epochs past 2
    assert history["best_epoch"] == 2 and history["best_val_ppl"] == 4.0
    assert history["lr"] == pytest.approx([0.01, 0.01, 0.01, 0.005])



class _FixedTimer:
    """A timer whose every interval lasts 2 s."""

    def __init__(self):
        self.times = []

    def start(self):
        pass

    def stop(self):
        self.times.append(2.0)
        return 2.0

    def sum(self):
        return sum(self.times)


def test_train_lm_early_stopping_runs_num_epochs_and_reports_tokens_per_second(
        monkeypatch):
    calls = []

    def train_epoch(net, data_iter, loss, updater, device, theta=1.0):
        calls.append(1)
        return 6.0, 1000.0  # perplexity, tokens per second

    scores = iter([5.0, 4.0, 3.0, 2.0])
    monkeypatch.setattr(d2l.regularize, "train_epoch", train_epoch)
    monkeypatch.setattr(d2l.regularize, "evaluate_perplexity",
                        lambda net, data_iter, device: next(scores))
    monkeypatch.setattr(d2l.regularize, "Timer", _FixedTimer)
    train, val = _tiny_problem()
    net = d2l.RegularizedRNNModel(nn.GRU(4, 8), 5, 4)
    history = d2l.train_lm_early_stopping(
        net, train, val, lr=0.01, num_epochs=3, device="cpu", animate=False)
    assert len(calls) == 3 and history["val_ppl"] == [5.0, 4.0, 3.0]
    # 3 epochs of 2 s at 1000 tokens/s: 6000 tokens in 6 s
    assert history["tokens_per_sec"] == pytest.approx(1000.0)


def test_regularized_model_accepts_an_embedding_of_width_one():
    net = d2l.RegularizedRNNModel(nn.GRU(1, 3), 5, 1)
    Y, _ = net(torch.tensor([[0, 4, 2]]), None)
    assert net.embedding.weight.shape == (5, 1) and Y.shape == (3, 5)


# --- bad arguments -----------------------------------------------------------

def _model(**kwargs):
    args = {"rnn_layer": nn.LSTM(4, 4), "vocab_size": 9, "embed_size": 4}
    return d2l.RegularizedRNNModel(**(args | kwargs))


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: d2l.LockedDropout(1.0), ValueError,
         "p must be finite and >= 0 and < 1, got 1.0"),
        (lambda: d2l.LockedDropout(-0.1), ValueError, "p must be"),
        (lambda: d2l.LockedDropout("0.1"), TypeError, "p must be a real"),
        (lambda: d2l.LockedDropout(0.1)(torch.ones(3, 4)), ValueError,
         r"X must have shape \(None, None, None\)"),
        (lambda: d2l.LockedDropout(0.1)(torch.ones(3, 4, 2, dtype=torch.long)),
         TypeError, "X must be a float tensor"),
        (lambda: d2l.drop_state_units(torch.ones(4, 2), 1.5), ValueError,
         "p must be"),
        (lambda: d2l.drop_state_units([[1.0]], 0.5), TypeError,
         "weight_hh must be a tensor"),
        (lambda: d2l.RNNModel(nn.LSTM(6, 4), 9, embed_size=5), ValueError,
         "rnn_layer.input_size must equal embed_size 5"),
        (lambda: d2l.RNNModel(nn.LSTM(6, 4), 9, embed_size=0), ValueError,
         "embed_size must be >= 1"),
        (lambda: d2l.RNNModel(nn.LSTM(6, 4), 9, embed_size=6.0), TypeError,
         "embed_size must be an int"),
        (lambda: _model(embed_size=None), TypeError, "embed_size must be"),
        (lambda: _model(dropout_embed=1.0), ValueError, "dropout_embed"),
        (lambda: _model(dropout_output=-0.5), ValueError, "dropout_output"),
        (lambda: _model(dropout_state=2), ValueError, "dropout_state"),
        (lambda: _model(locked="yes"), TypeError, "locked must be True"),
        (lambda: _model(tie_weights=1), TypeError, "tie_weights must be"),
        (lambda: _model(rnn_layer=nn.LSTM(4, 6), tie_weights=True),
         ValueError, "tie_weights needs outputs as wide as the embedding"),
        (lambda: d2l.PlateauSchedule("adam"), TypeError,
         "optimizer must be a torch.optim.Optimizer"),
        (lambda: d2l.PlateauSchedule(_optimizer(), factor=1.0), ValueError,
         "factor must be"),
        (lambda: d2l.PlateauSchedule(_optimizer(), patience=-1), ValueError,
         "patience must be >= 0"),
        (lambda: d2l.PlateauSchedule(_optimizer(), threshold=1), ValueError,
         "threshold must be"),
        (lambda: d2l.PlateauSchedule(_optimizer()).step(float("nan")),
         ValueError, "score must be"),
        (lambda: d2l.BestCheckpoint().restore(_Scalar()), ValueError,
         "no checkpoint kept yet"),
        (lambda: d2l.BestCheckpoint().update(_Scalar(), 1.0, 0), ValueError,
         "epoch must be >= 1"),
        (lambda: d2l.BestCheckpoint().update(_Scalar(), "1", 1), TypeError,
         "score must be a real number"),
    ],
)
def test_bad_arguments_raise_by_name(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"val_iter": None}, ValueError, "val_iter is None"),
        ({"lr": 0}, ValueError, "lr must be finite and > 0"),
        ({"num_epochs": 0}, ValueError, "num_epochs must be >= 1"),
        ({"stop_after": 0}, ValueError, "stop_after must be >= 1"),
        ({"patience": 1.5}, TypeError, "patience must be an int"),
        ({"factor": 2.0}, ValueError, "factor must be"),
        ({"animate": "no"}, TypeError, "animate must be True or False"),
        ({"theta": -1.0}, ValueError, "theta must be"),
    ],
)
def test_train_lm_early_stopping_rejects_bad_arguments(kwargs, error, message):
    train, val = _tiny_problem()
    args = {"net": d2l.RegularizedRNNModel(nn.GRU(4, 8), 5, 4),
            "train_iter": train, "val_iter": val, "lr": 0.01,
            "num_epochs": 1, "device": "cpu", "animate": False}
    with pytest.raises(error, match=message):
        d2l.train_lm_early_stopping(**(args | kwargs))
