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
