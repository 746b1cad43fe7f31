"""Tests of d2lrnn.train: clipping, prediction and the training loop."""

from __future__ import annotations

import math
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import d2lrnn as d2l


def _params_with_grads(grads):
    params = []
    for g in grads:
        p = torch.zeros_like(g, requires_grad=True)
        p.grad = g.clone()
        params.append(p)
    return params


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    theta=st.floats(0.01, 100.0),
    seed=st.integers(0, 2**16),
)
def test_grad_clipping_matches_clip_grad_norm(sizes, theta, seed):
    torch.manual_seed(seed)
    grads = [torch.randn(n, dtype=torch.float64) * 3 for n in sizes]
    ours, ref = _params_with_grads(grads), _params_with_grads(grads)
    norm = d2l.grad_clipping(ours, theta)
    ref_norm = nn.utils.clip_grad_norm_(ref, theta)
    assert math.isclose(norm, ref_norm.item(), rel_tol=1e-12)
    total = torch.cat([p.grad for p in ours]).norm().item()
    assert total <= theta * (1 + 1e-9)
    for p, q in zip(ours, ref, strict=True):
        # clip_grad_norm_ adds 1e-6 to the norm; we do not.
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", ["module", "list", "tuple", "generator"])
def test_grad_clipping_accepts_module_list_generator(kind):
    module = nn.ParameterList(
        _params_with_grads([torch.tensor([3.0, 0.0]), torch.tensor([4.0])])
    )
    for p, g in zip(module, ([3.0, 0.0], [4.0]), strict=True):
        p.grad = torch.tensor(g)
    target = {
        "module": module,
        "list": list(module),
        "tuple": tuple(module),
        "generator": module.parameters(),
    }[kind]
    assert d2l.grad_clipping(target, 1.0) == pytest.approx(5.0)
    # a generator is materialised once: the scaling reaches every parameter
    assert [p.grad.tolist() for p in module] == [
        pytest.approx([0.6, 0.0]),
        pytest.approx([0.8]),
    ]


def test_grad_clipping_leaves_short_gradients_alone():
    params = _params_with_grads([torch.tensor([0.3, 0.4])])
    assert d2l.grad_clipping(params, 1.0) == pytest.approx(0.5)
    assert params[0].grad.tolist() == pytest.approx([0.3, 0.4])


def test_grad_clipping_skips_params_without_grad():
    with_grad = _params_with_grads([torch.tensor([6.0, 8.0])])[0]
    frozen = torch.zeros(3, requires_grad=True)
    assert d2l.grad_clipping([with_grad, frozen], 5.0) == pytest.approx(10.0)
    assert with_grad.grad.tolist() == pytest.approx([3.0, 4.0])
    assert frozen.grad is None


def test_grad_clipping_refuses_when_no_param_has_grad():
    with pytest.raises(ValueError, match="no.*gradient|none of"):
        d2l.grad_clipping(nn.Linear(2, 2), 1.0)
    with pytest.raises(ValueError, match="none of the 0"):
        d2l.grad_clipping([], 1.0)


@pytest.mark.parametrize("bad", [{"w": torch.zeros(1)}, torch.zeros(2), 3, "x"])
def test_grad_clipping_rejects_other_containers(bad):
    with pytest.raises(TypeError, match="net_or_params"):
        d2l.grad_clipping(bad, 1.0)


def test_grad_clipping_rejects_non_tensor_items():
    with pytest.raises(TypeError, match="tensors"):
        d2l.grad_clipping([1.0, 2.0], 1.0)


@pytest.mark.parametrize("theta", [0, -1.0, float("nan"), float("inf"), True])
def test_grad_clipping_rejects_bad_theta(theta):
    params = _params_with_grads([torch.ones(2)])
    with pytest.raises(ValueError, match="theta"):
        d2l.grad_clipping(params, theta)


def test_grad_clipping_reports_non_finite_norm_without_touching_grads():
    params = _params_with_grads([torch.tensor([float("inf"), 1.0])])
    assert d2l.grad_clipping(params, 1.0) == float("inf")
    assert params[0].grad[1].item() == 1.0


@pytest.fixture
def vocab():
    return d2l.Vocab(list("abcdabcaba "))


def test_predict_greedy_equals_a_manual_loop(vocab):
    torch.manual_seed(0)
    net = d2l.RNNModelScratch(len(vocab), 8, forward_fn=d2l.rnn_fast)
    text = d2l.predict("abca", 6, net, vocab)
    assert text.startswith("abca") and len(text) == 10
    # reference: one token at a time, as d2l does
    state = net.begin_state(1)
    indices = vocab[list("abca")]
    for i in indices[:-1]:
        _, state = net(torch.tensor([[i]]), state)
    out = list(indices)
    for _ in range(6):
        Y, state = net(torch.tensor([[out[-1]]]), state)
        out.append(int(Y.argmax()))
    assert text == "".join(vocab.to_tokens(out))


def test_predict_temperature_sampling_is_seeded_and_varies(vocab):
    torch.manual_seed(0)
    net = d2l.RNNModelScratch(len(vocab), 8)
    torch.manual_seed(1)
    a = d2l.predict("ab", 40, net, vocab, temperature=5.0)
    torch.manual_seed(1)
    b = d2l.predict("ab", 40, net, vocab, temperature=5.0)
    assert a == b
    assert len(set(a[2:])) > 2  # a hot temperature spreads the choices
    cold = d2l.predict("ab", 20, net, vocab, temperature=1e-3)
    assert cold == d2l.predict("ab", 20, net, vocab)  # cold == greedy


def test_predict_does_not_record_gradients(vocab):
    net = d2l.RNNModelScratch(len(vocab), 4)
    d2l.predict("abc", 5, net, vocab)
    assert all(p.grad is None for p in net.parameters())
    assert net.training


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"prefix": ""}, "prefix"),
        ({"num_preds": -1}, "num_preds"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
    ],
)
def test_predict_rejects_bad_arguments(vocab, kwargs, name):
    net = d2l.RNNModelScratch(len(vocab), 4)
    args = {"prefix": "ab", "num_preds": 3, "temperature": None} | kwargs
    with pytest.raises(ValueError, match=name):
        d2l.predict(
            args["prefix"],
            args["num_preds"],
            net,
            vocab,
            temperature=args["temperature"],
        )


class _CountingModel(nn.Module):
    """Wraps a model; records begin_state calls and incoming states."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.begun = 0
        self.incoming = []

    def forward(self, X, state):
        self.incoming.append(state)
        return self.net(X, state)

    def begin_state(self, batch_size=1, device=None):
        self.begun += 1
        return self.net.begin_state(batch_size, device)


def _periodic_loader(use_random_iter, period="abcd", length=800):
    corpus = torch.tensor([i % len(period) + 1 for i in range(length)])
    return d2l.SeqDataLoader(corpus, 4, 8, use_random_iter)


@pytest.mark.parametrize("use_random_iter", [False, True])
def test_train_epoch_state_handling(use_random_iter):
    random.seed(0)
    torch.manual_seed(0)
    net = _CountingModel(d2l.RNNModelScratch(6, 8, forward_fn=d2l.rnn_fast))
    loader = _periodic_loader(use_random_iter)
    updater = torch.optim.SGD(net.parameters(), lr=0.1)
    d2l.train_epoch(net, loader, nn.CrossEntropyLoss(), updater, "cpu", use_random_iter)
    num_batches = len(net.incoming)
    assert num_batches > 3
    if use_random_iter:
        assert net.begun == num_batches
        assert all(not s[0].any() for s in net.incoming)
    else:
        assert net.begun == 1
        # later states carry values from the previous batch, without a graph
        assert all(s[0].any() and s[0].grad_fn is None for s in net.incoming[1:])


def test_train_epoch_learns_a_periodic_sequence():
    random.seed(0)
    torch.manual_seed(0)
    net = d2l.RNNModelScratch(6, 16, forward_fn=d2l.rnn_fast)
    loader = _periodic_loader(False)
    before = d2l.evaluate_perplexity(net, _periodic_loader(False), "cpu")
    updater = torch.optim.Adam(net.parameters(), lr=0.05)
    first, speed = d2l.train_epoch(net, loader, nn.CrossEntropyLoss(), updater, "cpu")
    for _ in range(5):
        last, _ = d2l.train_epoch(net, loader, nn.CrossEntropyLoss(), updater, "cpu")
    assert speed > 0 and before > 4.0 and last < min(first, 1.2)
    assert d2l.evaluate_perplexity(net, _periodic_loader(False), "cpu") < 1.2


def test_train_epoch_stops_on_non_finite_loss():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, X, state):
            return torch.full((X.numel(), 6), float("nan")) * self.w, state

        def begin_state(self, batch_size=1, device=None):
            return torch.zeros(batch_size, 1)

    net = Broken()
    updater = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(FloatingPointError, match="loss is nan at batch 0"):
        d2l.train_epoch(
            net, _periodic_loader(False), nn.CrossEntropyLoss(), updater, "cpu"
        )


def test_train_epoch_rejects_a_non_optimizer():
    net = d2l.RNNModelScratch(6, 4)
    with pytest.raises(TypeError, match="updater"):
        d2l.train_epoch(
            net,
            _periodic_loader(False),
            nn.CrossEntropyLoss(),
            lambda batch_size: None,
            "cpu",
        )


def test_evaluate_perplexity_of_a_uniform_model_is_vocab_size():
    net = d2l.RNNModelScratch(6, 4)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
    ppl = d2l.evaluate_perplexity(net, _periodic_loader(False), "cpu")
    assert ppl == pytest.approx(6.0)


def test_train_lm_reports_train_and_validation(capsys):
    random.seed(0)
    torch.manual_seed(0)
    vocab = d2l.Vocab(list("abcd"))
    net = d2l.RNNModel(nn.GRU(len(vocab), 16), len(vocab))
    history = d2l.train_lm(
        net,
        _periodic_loader(False),
        _periodic_loader(False),
        vocab,
        lr=0.05,
        num_epochs=4,
        device="cpu",
        prefix="ab",
        num_preds=6,
    )
    assert len(history["train_ppl"]) == len(history["val_ppl"]) == 4
    assert history["val_ppl"][-1] < history["val_ppl"][0]
    assert history["tokens_per_sec"] > 0 and history["device"] == "cpu"
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-2].startswith("ab") and len(lines[-2]) == 8
    assert "validation perplexity" in lines[-1] and "tokens/s on cpu" in lines[-1]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"lr": 0.0}, "lr"),
        ({"num_epochs": 0}, "num_epochs"),
        ({"optimizer": "rmsprop"}, "optimizer"),
    ],
)
def test_train_lm_rejects_bad_arguments(kwargs, name):
    vocab = d2l.Vocab(list("abcd"))
    net = d2l.RNNModelScratch(len(vocab), 4)
    args = {"lr": 0.1, "num_epochs": 1, "optimizer": "adam", "prefix": "ab"} | kwargs
    with pytest.raises(ValueError, match=name):
        d2l.train_lm(
            net,
            _periodic_loader(False),
            _periodic_loader(False),
            vocab,
            device="cpu",
            **args,
        )


# ------------------------------------------------- references for the training loop


class _Clock:
    """A scripted ``time.perf_counter``: returns the given times in order."""

    def __init__(self, *times):
        self.times = list(times)

    def perf_counter(self):
        assert self.times, "perf_counter called more often than scripted"
        return self.times.pop(0)


def _fixed_batches(num_batches=4, batch_size=2, num_steps=5, vocab_size=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    corpus = torch.randint(0, vocab_size, (num_batches * batch_size * num_steps + 1,),
                           generator=gen)
    return list(d2l.seq_data_iter_sequential(corpus, batch_size, num_steps, offset=0))


def _gated_net(kind, vocab_size=6, num_hiddens=5, seed=0):
    torch.manual_seed(seed)
    layer = {"gru": nn.GRU, "lstm": nn.LSTM}[kind](vocab_size, num_hiddens)
    return d2l.RNNModel(layer, vocab_size).double()


def _reference_epoch(net, batches, lr, theta, use_random_iter):
    """train_epoch by hand: SGD, global-norm clipping, states detached."""
    state, total, count = None, 0.0, 0
    for X, Y in batches:
        if state is None or use_random_iter:
            state = net.begin_state(X.shape[0])
        elif isinstance(state, tuple):
            state = tuple(s.detach() for s in state)
        else:
            state = state.detach()
        y_hat, state = net(X, state)
        loss = nn.functional.cross_entropy(y_hat, Y.T.reshape(-1))
        net.zero_grad()
        loss.backward()
        grads = [p.grad for p in net.parameters()]
        norm = torch.sqrt(sum((g**2).sum() for g in grads))
        with torch.no_grad():
            for p in net.parameters():
                p -= lr * p.grad * min(1.0, theta / norm.item())
        total += loss.item() * Y.numel()
        count += Y.numel()
    return math.exp(total / count)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
@pytest.mark.parametrize("use_random_iter", [False, True])
@pytest.mark.parametrize("theta", [0.05, 100.0])
def test_train_epoch_equals_a_training_loop_by_hand(kind, use_random_iter, theta):
    batches = _fixed_batches()
    net, ref = _gated_net(kind), _gated_net(kind)
    updater = torch.optim.SGD(net.parameters(), lr=0.5)
    ppl, speed = d2l.train_epoch(
        net, batches, nn.CrossEntropyLoss(), updater, "cpu", use_random_iter, theta
    )
    expected = _reference_epoch(ref, batches, 0.5, theta, use_random_iter)
    assert ppl == pytest.approx(expected, rel=1e-12)
    assert speed > 0
    for p, q in zip(net.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-12)
    assert net.training


def test_train_epoch_averages_an_unreduced_loss():
    batches = _fixed_batches()
    a, b = _gated_net("gru"), _gated_net("gru")
    runs = []
    for net, loss in ((a, nn.CrossEntropyLoss()),
                      (b, nn.CrossEntropyLoss(reduction="none"))):
        updater = torch.optim.SGD(net.parameters(), lr=0.5)
        runs.append(d2l.train_epoch(net, batches, loss, updater, "cpu")[0])
    assert runs[0] == pytest.approx(runs[1], rel=1e-12)


def test_train_epoch_switches_to_training_mode_and_counts_every_token(monkeypatch):
    monkeypatch.setattr(d2l.utils, "time", _Clock(10.0, 14.0))
    batches = _fixed_batches(num_batches=3, batch_size=2, num_steps=5)
    net = _gated_net("gru").eval()
    updater = torch.optim.SGD(net.parameters(), lr=0.1)
    _, speed = d2l.train_epoch(net, batches, nn.CrossEntropyLoss(), updater, "cpu")
    assert speed == 3 * 2 * 5 / 4.0  # tokens over the seconds of the epoch
    assert net.training


def test_train_epoch_needs_a_minibatch():
    net = _gated_net("gru")
    updater = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="train_iter yielded no minibatch"):
        d2l.train_epoch(net, [], nn.CrossEntropyLoss(), updater, "cpu")


# ---------------------------------------------------------------- evaluate_perplexity


def _reference_perplexity(net, batches, use_random_iter):
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for X, Y in batches:
            if state is None or use_random_iter:
                state = net.begin_state(X.shape[0])
            y_hat, state = net(X, state)
            total += nn.functional.cross_entropy(
                y_hat, Y.T.reshape(-1), reduction="sum").item()
            count += Y.numel()
    return math.exp(total / count)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
@pytest.mark.parametrize("use_random_iter", [False, True])
def test_evaluate_perplexity_equals_a_loop_by_hand(kind, use_random_iter):
    net = _gated_net(kind, seed=3)
    batches = _fixed_batches(num_batches=3, seed=1)
    # unequal batches: the perplexity weights every token, not every batch
    batches.append((batches[0][0][:, :2], batches[0][1][:, :2]))
    got = d2l.evaluate_perplexity(net, batches, "cpu", use_random_iter)
    assert got == pytest.approx(
        _reference_perplexity(net, batches, use_random_iter), rel=1e-12
    )
    carried = _reference_perplexity(net, batches[:3], False)
    fresh = _reference_perplexity(net, batches[:3], True)
    assert carried != pytest.approx(fresh, rel=1e-6)  # the state matters here


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_evaluate_perplexity_restores_the_mode(mode):
    net = _gated_net("gru")
    net.train(mode == "train")
    d2l.evaluate_perplexity(net, _fixed_batches(), "cpu")
    assert net.training == (mode == "train")
    assert all(p.grad is None for p in net.parameters())


# ------------------------------------------------------------------------ predict


class _FixedLogits(nn.Module):
    """A parameterless model whose next-token logits are always the same."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.tensor(logits)
        self.seen = []

    def begin_state(self, batch_size=1, device=None):
        self.seen.append(("begin", batch_size, str(device)))
        return torch.zeros(batch_size)

    def forward(self, X, state):
        self.seen.append(("forward", X.tolist()))
        return self.logits.expand(X.numel(), -1), state + X.shape[1]


def test_predict_warms_up_on_all_but_the_last_prefix_token():
    vocab = d2l.Vocab(list("abc"))
    net = _FixedLogits([0.0, 0.0, 5.0, 0.0])  # always the token at index 2
    best = vocab.to_tokens(2)
    assert d2l.predict("abca", 2, net, vocab) == "abca" + best * 2
    a, b, c = vocab[["a", "b", "c"]]
    assert net.seen == [("begin", 1, "cpu"), ("forward", [[a, b, c]]),
                        ("forward", [[a]]), ("forward", [[2]])]
    net.seen.clear()
    assert d2l.predict("b", 0, net, vocab) == "b"  # one token: no warm-up
    assert net.seen == [("begin", 1, "cpu")]
    net.seen.clear()
    d2l.predict("b", 0, net, vocab, device="meta")
    assert net.seen == [("begin", 1, "meta")]


def test_predict_samples_from_the_tempered_softmax():
    vocab = d2l.Vocab(list("abc"))
    logits = [0.5, -1.0, 2.0, 0.0]
    net = _FixedLogits(logits)
    for temperature in (0.5, 1, 3.0):
        torch.manual_seed(0)
        text = d2l.predict("a", 30, net, vocab, temperature=temperature)
        torch.manual_seed(0)
        probs = torch.softmax(torch.tensor(logits).double() / temperature, dim=0)
        expected = [int(torch.multinomial(probs, 1)) for _ in range(30)]
        assert text == "a" + "".join(vocab.to_tokens(expected))


@pytest.mark.parametrize("temperature", [-1.0, float("inf"), "1", True + 0j])
def test_predict_rejects_temperatures_that_are_not_finite_positive(temperature):
    vocab = d2l.Vocab(list("abc"))
    with pytest.raises((ValueError, TypeError), match="temperature must be"):
        d2l.predict("a", 3, _FixedLogits([0.0] * 4), vocab, temperature=temperature)


@pytest.mark.parametrize("prefix", [None, 3, ["a"]])
def test_predict_wants_a_string_prefix(prefix):
    vocab = d2l.Vocab(list("abc"))
    with pytest.raises(ValueError, match="prefix must be a non-empty str"):
        d2l.predict(prefix, 3, _FixedLogits([0.0] * 4), vocab)


def test_predict_keeps_eval_mode():
    vocab = d2l.Vocab(list("abc"))
    net = _gated_net("gru", vocab_size=len(vocab)).eval()
    d2l.predict("ab", 3, net, vocab)
    assert not net.training


# ----------------------------------------------------------------------- train_lm


class _RecordingAnimator:
    instances = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.points = []
        _RecordingAnimator.instances.append(self)

    def add(self, x, ys):
        self.points.append((x, list(ys)))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_train_lm_history_speed_and_report(monkeypatch, capsys, optimizer):
    # epoch 1 trains for 2 s, epoch 2 for 5 s: a scripted clock, 4 reads an epoch
    monkeypatch.setattr(d2l.utils, "time", _Clock(0, 0, 2, 2, 2, 2, 7, 7))
    monkeypatch.setattr(d2l.train, "Animator", _RecordingAnimator)
    _RecordingAnimator.instances.clear()
    built = []
    for name in ("SGD", "Adam"):
        cls = getattr(torch.optim, name)

        def make(params, lr, _cls=cls, _name=name):
            built.append((_name, lr))
            return _cls(params, lr=lr)

        monkeypatch.setattr(torch.optim, name, make)
    vocab = d2l.Vocab(list("abcd"))
    net = _gated_net("gru", vocab_size=len(vocab))
    seen_epochs = []
    real_train_epoch = d2l.train.train_epoch

    def spy(*args):
        seen_epochs.append(args[2:])  # loss, updater, device, use_random_iter, theta
        return real_train_epoch(*args)

    monkeypatch.setattr(d2l.train, "train_epoch", spy)
    train_iter = _periodic_loader(False)  # 24 batches of 4 x 8 tokens
    val_iter = d2l.SeqDataLoader(torch.tensor([1, 2, 3, 4] * 30), 2, 8, offset=0)
    history = d2l.train_lm(
        net, train_iter, val_iter, vocab, lr=0.05, num_epochs=2, device="cpu",
        use_random_iter=True, optimizer=optimizer, theta=0.5, prefix="ab",
        num_preds=6,
    )
    assert built == [({"sgd": "SGD", "adam": "Adam"}[optimizer], 0.05)]
    assert [args[2:] for args in seen_epochs] == [("cpu", True, 0.5)] * 2
    assert isinstance(seen_epochs[0][0], nn.CrossEntropyLoss)
    assert history["tokens_per_sec"] == pytest.approx(2 * 24 * 32 / 7)
    assert history["device"] == "cpu"
    assert history["val_ppl"][-1] == d2l.evaluate_perplexity(net, val_iter, "cpu")
    (animator,) = _RecordingAnimator.instances
    assert animator.kwargs == {"xlabel": "epoch", "ylabel": "perplexity",
                               "legend": ["train", "validation"], "xlim": (1, 2),
                               "yscale": "log"}
    assert animator.points == [
        (e + 1, [history["train_ppl"][e], history["val_ppl"][e]]) for e in range(2)
    ]
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-2] == d2l.predict("ab", 6, net, vocab)
    assert out[-1] == (
        f"train perplexity {history['train_ppl'][-1]:.2f}, validation perplexity "
        f"{history['val_ppl'][-1]:.2f}, {2 * 24 * 32 / 7:.0f} tokens/s on cpu"
    )


def test_train_lm_defaults(monkeypatch, capsys):
    monkeypatch.setattr(d2l.train, "Animator", _RecordingAnimator)
    seen = []
    real_train_epoch = d2l.train.train_epoch
    monkeypatch.setattr(
        d2l.train, "train_epoch",
        lambda *args: seen.append(args[3:]) or real_train_epoch(*args),
    )
    vocab = d2l.Vocab(list("time traveller"))
    net = _gated_net("gru", vocab_size=len(vocab))
    corpus = torch.tensor(vocab[list("the time traveller said " * 10)])
    loader = d2l.SeqDataLoader(corpus, 2, 5, offset=0)
    d2l.train_lm(net, loader, loader, vocab, lr=0.01, num_epochs=1, device="cpu")
    (args,) = seen
    assert isinstance(args[0], torch.optim.Adam) and args[1:] == ("cpu", False, 1.0)
    line = capsys.readouterr().out.splitlines()[-2]
    assert line == d2l.predict("time traveller ", 50, net, vocab)


class _HostTensor(torch.Tensor):
    """A batch that must be moved with .to(device) before use; records devices."""

    moves = []

    def to(self, device):
        _HostTensor.moves.append(str(device))
        return self.as_subclass(torch.Tensor)


@pytest.mark.parametrize("fn", ["train_epoch", "evaluate_perplexity"])
def test_batches_and_states_go_to_the_given_device(fn):
    _HostTensor.moves.clear()
    batches = [(X.as_subclass(_HostTensor), Y.as_subclass(_HostTensor))
               for X, Y in _fixed_batches(2)]
    net = _CountingModel(_gated_net("gru"))
    devices = []
    begin = net.begin_state
    net.begin_state = lambda batch_size, device: devices.append(str(device)) or begin(
        batch_size, device)
    if fn == "train_epoch":
        updater = torch.optim.SGD(net.parameters(), lr=0.1)
        d2l.train_epoch(net, batches, nn.CrossEntropyLoss(), updater,
                        torch.device("cpu"), True)
    else:
        d2l.evaluate_perplexity(net, batches, torch.device("cpu"), True)
    assert _HostTensor.moves == ["cpu"] * 4  # X and Y of both batches
    assert devices == ["cpu", "cpu"]
