"""Bad input raises at the package's boundary, naming the argument.

Every case here once returned something wrong, failed deep inside torch,
numpy or matplotlib, or left an object in a changed state. Each test checks
the exception type and that the message names the argument.
"""

from __future__ import annotations

import math
import os

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import d2lrnn as d2l

NAN, INF = float("nan"), float("inf")
CPU = torch.device("cpu")


def _gen(values):
    return (v for v in values)


# --- utils: the check helpers -------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kwargs", "error"),
    [
        (True, {}, TypeError),
        ("0.1", {}, TypeError),
        (None, {}, TypeError),
        (torch.tensor(0.1), {}, TypeError),
        (NAN, {}, ValueError),
        (INF, {}, ValueError),
        (NAN, {"finite": False}, ValueError),
        (0.0, {"above": 0}, ValueError),
        (-1, {"at_least": 0}, ValueError),
        (1.0, {"at_least": 0, "below": 1}, ValueError),
    ],
)
def test_check_real_names_the_argument(value, kwargs, error):
    with pytest.raises(error, match="lr must be"):
        d2l.check_real("lr", value, **kwargs)


def test_check_real_accepts_numbers_within_bounds():
    assert d2l.check_real("lr", np.float32(0.5), above=0, below=1) == 0.5
    assert d2l.check_real("nll", INF, at_least=0, finite=False) == INF
    assert type(d2l.check_real("k", 3, at_least=0)) is float


@pytest.mark.parametrize("value", ["no", 1, None, np.bool_(True)])
def test_check_bool_names_the_argument(value):
    with pytest.raises(TypeError, match="use_random_iter must be True or False"):
        d2l.check_bool("use_random_iter", value)


def test_check_callable_names_the_argument():
    assert d2l.check_callable("f", len) is len
    with pytest.raises(TypeError, match="f must be callable"):
        d2l.check_callable("f", 3)


@pytest.mark.parametrize(
    ("device", "error"),
    [("gpu", ValueError), (["cpu"], TypeError), (True, TypeError), (2.0, TypeError)],
)
def test_check_device_names_the_argument(device, error):
    with pytest.raises(error, match="device"):
        d2l.check_device("device", device)


def test_check_device_rejects_a_missing_cuda_device():
    index = torch.cuda.device_count()  # one past the last device
    with pytest.raises(ValueError, match=f"device='cuda:{index}' is not available"):
        d2l.check_device("device", f"cuda:{index}")
    assert d2l.check_device("device", "cpu") == CPU
    assert d2l.check_device("device", None) is None


@pytest.mark.parametrize("device", ["gpu", 3, "cuda:99"])
def test_generator_names_a_bad_device(device):
    with pytest.raises(ValueError, match="device"):
        d2l.generator(0, device)


@pytest.mark.parametrize("value", ["x", "1.5", None, [1]])
def test_accumulator_add_rejects_non_numbers_and_keeps_its_sums(value):
    acc = d2l.Accumulator(2)
    acc.add(1.0, 2)
    with pytest.raises(TypeError, match="add takes numbers"):
        acc.add(value, 1)
    assert acc.data == [1.0, 2.0]


# --- plot ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"legend": "train"}, TypeError, "legend"),
        ({"legend": [1]}, TypeError, "legend"),
        ({"legend": ["a", "b"]}, ValueError, "legend"),
        ({"xlim": (1,)}, TypeError, "xlim"),
        ({"xlim": 5}, TypeError, "xlim"),
        ({"ylim": "ab"}, TypeError, "ylim"),
        ({"ylim": (0, NAN)}, ValueError, "ylim"),
        ({"xscale": "lin"}, ValueError, "xscale"),
        ({"yscale": 3}, ValueError, "yscale"),
        ({"fmts": ()}, TypeError, "fmts"),
        ({"fmts": [3]}, TypeError, "fmts"),
        ({"figsize": (0, 3)}, ValueError, "figsize"),
        ({"figsize": 5}, TypeError, "figsize"),
        ({"axes": "ax"}, TypeError, "axes"),
        ({"xlabel": 3}, TypeError, "xlabel"),
        ({"ylabel": ["a"]}, TypeError, "ylabel"),
    ],
)
def test_plot_rejects_bad_options_before_drawing(kwargs, error, name):
    figures = plt.get_fignums()
    with pytest.raises(error, match=name):
        d2l.plot([1, 2, 3], [1, 2, 3], **kwargs)
    assert plt.get_fignums() == figures  # no half-drawn figure left open


@pytest.mark.parametrize(
    ("X", "error"),
    [
        ([1, "a"], TypeError),
        (np.zeros(0), ValueError),
        (torch.zeros(0, 3), ValueError),
    ],
)
def test_plot_rejects_bad_data(X, error):
    with pytest.raises(error, match="X must"):
        d2l.plot(X)


@pytest.mark.parametrize(
    ("args", "error", "name"),
    [
        (("x", "y", None, None, "linear", "linear", "train"), TypeError, "legend"),
        (("x", "y", (1,), None, "linear", "linear", None), TypeError, "xlim"),
        (("x", "y", None, None, "lin", "linear", None), ValueError, "xscale"),
        ((3, "y", None, None, "linear", "linear", None), TypeError, "xlabel"),
    ],
)
def test_set_axes_rejects_bad_options(args, error, name):
    _, axes = plt.subplots()
    try:
        with pytest.raises(error, match=name):
            d2l.set_axes(axes, *args)
    finally:
        plt.close("all")


def test_set_axes_rejects_non_axes():
    with pytest.raises(TypeError, match="axes must be matplotlib Axes"):
        d2l.set_axes("ax", "x", "y", None, None, "linear", "linear", None)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"fmts": ()}, TypeError, "fmts"),
        ({"figsize": (0, 1)}, ValueError, "figsize"),
        ({"xscale": "lin"}, ValueError, "xscale"),
        ({"xlim": 3}, TypeError, "xlim"),
        ({"legend": [1, 2]}, TypeError, "legend"),
    ],
)
def test_animator_rejects_bad_options(kwargs, error, name):
    with pytest.raises(error, match=name):
        d2l.Animator(**kwargs)


@pytest.mark.parametrize(
    ("x", "ys", "error", "name"),
    [
        ("a", 1.0, TypeError, "x must"),
        (1, "a", TypeError, "ys must"),
        (1, _gen([1.0]), TypeError, "ys must"),
        (1, [1.0, [2.0]], TypeError, "ys must"),
        (1, torch.zeros(2, 2), TypeError, "ys must"),
    ],
)
def test_animator_add_rejects_bad_points_and_keeps_its_data(x, ys, error, name):
    anim = d2l.Animator()
    anim.add(0, [0.5, 0.25])
    with pytest.raises(error, match=name):
        anim.add(x, ys)
    assert anim.X == [[0.0], [0.0]] and anim.Y == [[0.5], [0.25]]


def test_animator_add_rejects_empty_ys():
    anim = d2l.Animator()
    with pytest.raises(ValueError, match="ys must not be empty"):
        anim.add(1, [])
    assert anim.X is None  # still waiting for its first points


# --- data and text ------------------------------------------------------------


@pytest.mark.parametrize("path", [3, 3.5, None, b"timemachine.txt", ["a"]])
def test_file_sha1_rejects_what_is_not_a_path(path):
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        d2l.file_sha1(path)


def test_file_sha1_leaves_an_int_file_descriptor_open(tmp_path):
    fd = os.open(tmp_path / "f.txt", os.O_CREAT | os.O_RDONLY)
    try:
        with pytest.raises(TypeError, match="path"):
            d2l.file_sha1(fd)
        os.fstat(fd)  # still open: an OSError here means it was closed
    finally:
        os.close(fd)


@pytest.mark.parametrize("cache_dir", [3, True, ["cache"]])
def test_download_rejects_a_bad_cache_dir(cache_dir):
    with pytest.raises(TypeError, match="cache_dir must be"):
        d2l.download("time_machine", cache_dir)


@pytest.mark.parametrize("index", [True, False, torch.tensor([True])])
def test_vocab_to_tokens_rejects_bools(index):
    vocab = d2l.Vocab(list("abc"))
    with pytest.raises(TypeError, match="an index must be an int"):
        vocab.to_tokens(index)


# --- ngram --------------------------------------------------------------------

COUNTS = [100.0 / r for r in range(1, 21)]


@pytest.mark.parametrize(
    ("freqs", "error"),
    [
        ([NAN] + COUNTS, ValueError),
        ([INF] + COUNTS, ValueError),
        (COUNTS + [-1.0], ValueError),
        (torch.tensor([NAN] + COUNTS), ValueError),
        (None, TypeError),
        ("abc", TypeError),
        ({"a": 3, "b": 2}, TypeError),
        ([[1.0, 2.0], [3.0]], TypeError),
    ],
)
def test_zipf_exponent_rejects_bad_counts(freqs, error):
    with pytest.raises(error, match="freqs must be"):
        d2l.zipf_exponent(freqs, 1, 10)


def test_zipf_exponent_reads_a_generator_once():
    expected = d2l.zipf_exponent(COUNTS, 1, 10)
    assert d2l.zipf_exponent(_gen(COUNTS), 1, 10) == expected


@pytest.mark.parametrize("total_nll", [True, "0.1", torch.tensor(0.1), None, 1j])
def test_perplexity_from_nll_rejects_non_numbers(total_nll):
    with pytest.raises(TypeError, match="total_nll must be a real number"):
        d2l.perplexity_from_nll(total_nll, 3)


@pytest.mark.parametrize(
    "label_probs",
    [
        "abc",
        None,
        _gen([0.5]),
        [[0.5, "a"]],
        torch.tensor([0.5j]),
        torch.tensor([True, False]),
    ],
)
def test_perplexity_rejects_non_probabilities(label_probs):
    with pytest.raises(TypeError, match="label_probs must be probabilities"):
        d2l.perplexity(label_probs)


CORPUS = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 3, 0, 1] * 5)


@pytest.mark.parametrize("corpus", [[], [1], [0, 1]])
def test_ngram_perplexity_names_a_corpus_with_nothing_to_score(corpus):
    model = d2l.NGramLM(3, 5).fit(CORPUS)
    with pytest.raises(ValueError, match="corpus leaves no token to score"):
        model.perplexity(corpus)


def test_interpolated_fit_reads_a_generator_once():
    ref = d2l.InterpolatedNGramLM(3, 5).fit(CORPUS)
    model = d2l.InterpolatedNGramLM(3, 5).fit(_gen(CORPUS.tolist()))
    torch.testing.assert_close(model.weights, ref.weights)
    for m, r in zip(model.models, ref.models, strict=True):
        assert torch.equal(m._keys, r._keys) and torch.equal(m._counts, r._counts)


@pytest.mark.parametrize(
    ("dev_fraction", "error"),
    [
        (True, TypeError),
        ("0.1", TypeError),
        (NAN, ValueError),
        (0, ValueError),
        (1.0, ValueError),
    ],
)
def test_interpolated_fit_names_dev_fraction(dev_fraction, error):
    with pytest.raises(error, match="dev_fraction must be"):
        d2l.InterpolatedNGramLM(2, 5).fit(CORPUS, dev_fraction)


def test_interpolated_log_prob_checks_corpus_and_context():
    model = d2l.InterpolatedNGramLM(3, 5).fit(CORPUS)
    with pytest.raises(TypeError, match="context must be"):
        model.log_prob([1, 2], None)
    with pytest.raises(ValueError, match="corpus must not be empty"):
        model.perplexity([], [0, 1])
    expected = model.log_prob(torch.tensor([1, 2]), torch.tensor([0, 1]))
    torch.testing.assert_close(model.log_prob(_gen([1, 2]), _gen([0, 1])), expected)


@pytest.mark.parametrize(
    ("kwargs", "name"), [({"train": [4] * 20}, "train"), ({"val": [0, 4]}, "val")]
)
def test_ngram_baselines_names_the_part_out_of_range(kwargs, name):
    args = {"train": CORPUS, "val": CORPUS[:10], "vocab_size": 4} | kwargs
    with pytest.raises(ValueError, match=f"{name} holds index 4 >= vocab_size 4"):
        d2l.ngram_baselines(**args)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"grid": ()}, TypeError, "grid must be"),
        ({"grid": 1.0}, TypeError, "grid must be"),
        ({"grid": (1.0, -1.0)}, ValueError, r"grid\[1\] must be"),
        ({"grid": ("a",)}, TypeError, r"grid\[0\] must be"),
        ({"dev_fraction": True}, TypeError, "dev_fraction must be"),
        ({"dev_fraction": NAN}, ValueError, "dev_fraction must be"),
        ({"train": [9] * 30}, ValueError, "train holds index 9"),
    ],
)
def test_tune_add_k_names_the_argument(kwargs, error, name):
    args = {"train": CORPUS, "n": 2, "vocab_size": 5} | kwargs
    with pytest.raises(error, match=name):
        d2l.tune_add_k(**args)


# --- lm -----------------------------------------------------------------------


@pytest.mark.parametrize("use_random_iter", [False, True])
def test_seq_data_loader_reads_a_generator_once(use_random_iter):
    loader = d2l.SeqDataLoader(_gen(range(100)), 2, 3, use_random_iter)
    assert torch.equal(loader.corpus, torch.arange(100))
    assert len(list(loader)) > 0


# --- models -------------------------------------------------------------------


@pytest.mark.parametrize(("num_hiddens", "error"), [(0, ValueError), (True, TypeError)])
def test_init_rnn_state_rejects_bad_num_hiddens(num_hiddens, error):
    with pytest.raises(error, match="num_hiddens must be"):
        d2l.init_rnn_state(2, num_hiddens)


@pytest.mark.parametrize(
    "init",
    [
        lambda d: d2l.init_rnn_params(5, 4, d),
        lambda d: d2l.init_lstm_params(5, 4, d),
        lambda d: d2l.init_gru_params(5, 4, d),
        lambda d: d2l.init_rnn_state(2, 4, d),
        lambda d: d2l.init_lstm_state(2, 4, d),
        lambda d: d2l.init_gru_state(2, 4, d),
        lambda d: d2l.RNNModelScratch(5, 4).begin_state(2, d),
        lambda d: d2l.RNNModel(nn.LSTM(5, 4), 5).begin_state(2, d),
    ],
)
@pytest.mark.parametrize(
    ("device", "error", "name"),
    [
        ("gpu", ValueError, "device must name a device"),
        (3.0, TypeError, "device must be a torch.device"),
    ],
)
def test_params_and_states_name_a_bad_device(init, device, error, name):
    with pytest.raises(error, match=name):
        init(device)


@pytest.mark.parametrize(
    ("vocab_size", "error"),
    [(2.0, TypeError), (True, TypeError), (None, TypeError), (0, ValueError)],
)
def test_check_indices_names_a_bad_vocab_size(vocab_size, error):
    with pytest.raises(error, match="vocab_size must be"):
        d2l.check_indices(torch.tensor([[0, 1]]), vocab_size)


def test_check_indices_uses_the_given_name_and_device():
    with pytest.raises(ValueError, match=r"Y must hold indices in \[0, 3\)"):
        d2l.check_indices(torch.tensor([[0, 3]]), 3, "Y")
    with pytest.raises(ValueError, match="X is on meta but the model is on cpu"):
        d2l.check_indices(
            torch.zeros(1, 2, dtype=torch.long, device="meta"), 3, device=CPU
        )


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"get_params": 3}, "get_params"),
        ({"init_state": "x"}, "init_state"),
        ({"forward_fn": None}, "forward_fn"),
    ],
)
def test_rnn_model_scratch_rejects_what_cannot_be_called(kwargs, name):
    with pytest.raises(TypeError, match=f"{name} must be callable"):
        d2l.RNNModelScratch(5, 4, **kwargs)


SCRATCH = {
    "rnn": {},
    "rnn_fast": {"forward_fn": d2l.rnn_fast},
    "lstm": {
        "get_params": d2l.init_lstm_params,
        "init_state": d2l.init_lstm_state,
        "forward_fn": d2l.lstm,
    },
    "gru": {
        "get_params": d2l.init_gru_params,
        "init_state": d2l.init_gru_state,
        "forward_fn": d2l.gru,
    },
}
CONCISE = {
    "nn.RNN": lambda: nn.RNN(5, 4),
    "nn.LSTM": lambda: nn.LSTM(5, 4),
    "nn.GRU x2": lambda: nn.GRU(5, 4, num_layers=2),
}


def _each(state, f):
    return tuple(f(s) for s in state) if isinstance(state, tuple) else f(state)


BAD_STATES = {  # name -> (bad state from a good one for batch 2, error)
    "tensor or tuple swapped": (
        lambda s: s[0] if isinstance(s, tuple) else (s,),
        TypeError,
    ),
    "one tensor more": (
        lambda s: (*s, s[0]) if isinstance(s, tuple) else (s, s),
        TypeError,
    ),
    "list": (lambda s: list(s) if isinstance(s, tuple) else [s], TypeError),
    "int": (lambda s: 3, TypeError),
    "batch 3": (
        lambda s: _each(s, lambda t: torch.cat([t, t[..., :1, :]], -2)),
        ValueError,
    ),
    "7 hiddens": (
        lambda s: _each(s, lambda t: torch.zeros(*t.shape[:-1], 7)),
        ValueError,
    ),
    "1-D": (lambda s: _each(s, lambda t: t.reshape(-1)), ValueError),
    "float64": (lambda s: _each(s, lambda t: t.double()), TypeError),
    "on meta": (lambda s: _each(s, lambda t: t.to("meta")), ValueError),
}


@pytest.mark.parametrize("bad", BAD_STATES)
@pytest.mark.parametrize("kind", list(SCRATCH) + list(CONCISE))
def test_models_check_the_state_before_the_step(kind, bad):
    if kind in SCRATCH:
        net = d2l.RNNModelScratch(5, 4, **SCRATCH[kind])
    else:
        net = d2l.RNNModel(CONCISE[kind](), 5)
    make_bad, error = BAD_STATES[bad]
    X = torch.tensor([[0, 1, 2], [2, 1, 0]])  # (batch_size, num_steps)
    net(X, net.begin_state(2))  # the good state passes
    with pytest.raises(error, match="state"):
        net(X, make_bad(net.begin_state(2)))


@pytest.mark.parametrize(
    "net", [d2l.RNNModelScratch(5, 4), d2l.RNNModel(nn.GRU(5, 4), 5)]
)
def test_models_check_the_device_of_X(net):
    X = torch.zeros(2, 3, dtype=torch.long, device="meta")
    with pytest.raises(ValueError, match="X is on meta"):
        net(X, net.begin_state(2))


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"vocab_size": 5.0}, TypeError, "vocab_size must be an int"),
        ({"vocab_size": "5"}, TypeError, "vocab_size must be an int"),
        ({"rnn_layer": nn.LSTM(5, 4, proj_size=2)}, ValueError, "proj_size"),
    ],
)
def test_rnn_model_rejects_bad_arguments(kwargs, error, name):
    args = {"rnn_layer": nn.RNN(5, 4), "vocab_size": 5} | kwargs
    with pytest.raises(error, match=name):
        d2l.RNNModel(**args)


def test_rnn_model_follows_the_dtype_of_its_layer():
    net = d2l.RNNModel(nn.GRU(5, 4).double(), 5)
    Y, state = net(torch.tensor([[0, 1, 2]]), net.begin_state(1))
    assert Y.dtype == state.dtype == torch.float64


@pytest.mark.parametrize(
    "copy",
    [
        lambda: d2l.lstm_params_from_nn(nn.LSTM(5, 4), nn.Linear(4, 5, bias=False)),
        lambda: d2l.gru_params_from_nn(nn.GRU(5, 4), nn.Linear(4, 5, bias=False)),
    ],
)
def test_params_from_nn_rejects_a_linear_without_bias(copy):
    with pytest.raises(ValueError, match="linear must be an nn.Linear with a bias"):
        copy()


# --- train --------------------------------------------------------------------

VOCAB = d2l.Vocab(list("abcd"))


def _net():
    torch.manual_seed(0)
    return d2l.RNNModelScratch(len(VOCAB), 4)


class _FailingNet(nn.Module):
    """A language model whose forward pass fails inside the loop."""

    vocab_size = len(VOCAB)

    def __init__(self):
        super().__init__()
        self.net = _net()

    def begin_state(self, batch_size=1, device=None):
        return self.net.begin_state(batch_size, device)

    def forward(self, X, state):
        raise RuntimeError("the forward pass failed")


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"prefix": "abx"}, ValueError, r"prefix 'abx' holds characters .*\['x'\]"),
        ({"prefix": "ab!"}, ValueError, "prefix 'ab!' holds characters"),
        (
            {"vocab": d2l.Vocab("ab cd ab".split()), "net": d2l.RNNModelScratch(3, 4)},
            ValueError,
            "vocab must hold characters",
        ),
        ({"vocab": d2l.Vocab(list("ab"))}, ValueError, r"vocab has 3 tokens"),
        ({"vocab": "abcd"}, TypeError, "vocab must be a d2l.Vocab"),
        ({"net": "net"}, TypeError, "net must be an nn.Module"),
        ({"temperature": True}, TypeError, "temperature must be"),
        ({"temperature": "1"}, TypeError, "temperature must be"),
        ({"device": "gpu"}, ValueError, "device must name a device"),
        ({"device": 3}, ValueError, "device must name a device"),
    ],
)
def test_predict_names_bad_arguments(kwargs, error, name):
    args = {"prefix": "ab", "num_preds": 3, "net": _net(), "vocab": VOCAB} | kwargs
    with pytest.raises(error, match=name):
        d2l.predict(**args)


def test_predict_restores_the_training_mode_after_a_failure():
    net = _FailingNet()
    net.train()
    with pytest.raises(RuntimeError, match="forward pass failed"):
        d2l.predict("ab", 3, net, VOCAB)
    assert net.training


def _batches(Y=None, X=None):
    X = torch.zeros(2, 3, dtype=torch.long) if X is None else X
    return [(X, torch.ones(2, 3, dtype=torch.long) if Y is None else Y)]


def _train_epoch(**kwargs):
    net = kwargs.pop("net", _net())
    updater = kwargs.pop("updater", None) or torch.optim.SGD(net.parameters(), lr=0.1)
    args = {
        "net": net,
        "train_iter": _batches(),
        "loss": nn.CrossEntropyLoss(),
        "updater": updater,
        "device": CPU,
    } | kwargs
    return d2l.train_epoch(**args)


BAD_BATCHES = [  # (train_iter or data_iter, error, what the message names)
    (None, TypeError, "iter must be an iterable"),
    (3, TypeError, "iter must be an iterable"),
    ([(1, 2)], TypeError, "X must be a tensor"),
    ([(torch.zeros(2, 3, dtype=torch.long),)], TypeError, r"iter must yield \(X, Y\)"),
    (_batches(Y=torch.ones(2, 4, dtype=torch.long)), ValueError, "Y must have shape"),
    (_batches(Y=torch.full((2, 3), 5)), ValueError, r"Y must hold indices in \[0, 5\)"),
    (_batches(Y=torch.full((2, 3), -1)), ValueError, "Y must hold indices"),
    (_batches(Y=torch.ones(2, 3)), ValueError, "Y must be a non-empty 2-D long"),
]


@pytest.mark.parametrize(("batches", "error", "name"), BAD_BATCHES)
def test_train_epoch_names_bad_minibatches(batches, error, name):
    with pytest.raises(error, match=name):
        _train_epoch(train_iter=batches)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"use_random_iter": "no"}, TypeError, "use_random_iter must be True"),
        ({"use_random_iter": None}, TypeError, "use_random_iter must be True"),
        (
            {"net": "net", "updater": torch.optim.SGD([torch.zeros(1)], lr=0.1)},
            TypeError,
            "net must be an nn.Module",
        ),
        ({"loss": "ce"}, TypeError, "loss must be callable"),
        ({"device": "gpu"}, ValueError, "device must name a device"),
    ],
)
def test_train_epoch_names_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        _train_epoch(**kwargs)


def test_train_epoch_reports_an_overflowing_perplexity_as_inf():
    def huge_loss(y_hat, y):  # finite, but exp(loss) overflows a float
        return F.cross_entropy(y_hat.double(), y) * 1e-300 + 1e300

    ppl, _ = _train_epoch(loss=huge_loss)
    assert ppl == math.inf


@pytest.mark.parametrize(("batches", "error", "name"), BAD_BATCHES)
def test_evaluate_perplexity_names_bad_minibatches_and_restores_the_mode(
    batches, error, name
):
    net = _net()
    net.train()
    with pytest.raises(error, match=name):
        d2l.evaluate_perplexity(net, batches, CPU)
    assert net.training


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"use_random_iter": "no"}, TypeError, "use_random_iter must be True"),
        ({"data_iter": []}, ValueError, "data_iter yielded no minibatch"),
        ({"net": "net"}, TypeError, "net must be an nn.Module"),
        ({"device": "gpu"}, ValueError, "device must name a device"),
    ],
)
def test_evaluate_perplexity_names_bad_arguments(kwargs, error, name):
    args = {"net": _net(), "data_iter": _batches(), "device": CPU} | kwargs
    with pytest.raises(error, match=name):
        d2l.evaluate_perplexity(**args)


def test_evaluate_perplexity_restores_the_training_mode_after_a_failure():
    net = _FailingNet()
    net.train()
    with pytest.raises(RuntimeError, match="forward pass failed"):
        d2l.evaluate_perplexity(net, _batches(), CPU)
    assert net.training


def _loader():
    corpus = torch.tensor([i % 4 + 1 for i in range(200)])
    return d2l.SeqDataLoader(corpus, 2, 8)


def _train_lm(**kwargs):
    net = kwargs.pop("net", _net())
    args = {
        "net": net,
        "train_iter": _loader(),
        "val_iter": _loader(),
        "vocab": VOCAB,
        "lr": 0.05,
        "num_epochs": 1,
        "device": CPU,
        "prefix": "ab",
        "num_preds": 3,
    } | kwargs
    try:
        return d2l.train_lm(**args)
    finally:
        plt.close("all")


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"lr": True}, TypeError, "lr must be a real number"),
        ({"prefix": "time traveller "}, ValueError, "prefix 'time traveller ' holds"),
        ({"num_preds": -1}, ValueError, "num_preds must be >= 0"),
        ({"num_preds": True}, TypeError, "num_preds must be an int"),
        ({"vocab": "abcd"}, TypeError, "vocab must be a d2l.Vocab"),
        ({"net": "net"}, TypeError, "net must be an nn.Module"),
    ],
)
def test_train_lm_names_bad_arguments_before_training(kwargs, error, name):
    net = kwargs.get("net", _net())
    before = [p.detach().clone() for p in getattr(net, "parameters", list)()]
    with pytest.raises(error, match=name):
        _train_lm(**{"net": net} | kwargs)
    after = list(getattr(net, "parameters", list)())
    assert all(torch.equal(a, b) for a, b in zip(after, before, strict=True))


def test_train_lm_trains_without_a_validation_loader(capsys):
    history = _train_lm(val_iter=None, num_epochs=2)
    assert len(history["train_ppl"]) == 2 and history["val_ppl"] == []
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("train perplexity") and "validation" not in last


def _tanh_step(X_t, state):
    return (torch.tanh(X_t.sum(-1, keepdim=True) + state[0]),)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"step": "f"}, TypeError, "step must be callable"),
        (
            {"inputs": torch.zeros(4, 2, 3, dtype=torch.long)},
            ValueError,
            "inputs must be a",
        ),
        ({"state": (1,)}, TypeError, r"state\[0\] must be a tensor"),
        ({"state": (torch.zeros(3, 3),)}, ValueError, r"state\[0\] must have shape"),
        (
            {"state": (torch.zeros(2, 3, dtype=torch.float64),)},
            TypeError,
            r"state\[0\] must have dtype",
        ),
        ({"readout": [1.0, 1.0, 1.0]}, TypeError, "readout must be a tensor"),
        (
            {"readout": torch.ones(3, dtype=torch.float64)},
            TypeError,
            "readout must have dtype",
        ),
    ],
)
def test_state_gradient_norms_names_bad_arguments(kwargs, error, name):
    args = {
        "step": _tanh_step,
        "inputs": torch.zeros(4, 2, 3),
        "state": (torch.zeros(2, 3),),
        "readout": torch.ones(3),
    } | kwargs
    with pytest.raises(error, match=name):
        d2l.state_gradient_norms(**args)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"H": [1.0]}, TypeError, "H must be a tensor"),
        ({"dH": None}, TypeError, "dH must be a tensor"),
        ({"W_hh": "w"}, TypeError, "W_hh must be a tensor"),
        (
            {"W_hh": torch.eye(4, dtype=torch.float64)},
            TypeError,
            "W_hh must have dtype",
        ),
        ({"eps": 0}, ValueError, "eps must be"),
        ({"eps": NAN}, ValueError, "eps must be"),
        ({"eps": -1.0}, ValueError, "eps must be"),
        ({"eps": True}, TypeError, "eps must be"),
    ],
)
def test_information_flow_penalty_names_bad_arguments(kwargs, error, name):
    args = {
        "H": torch.zeros(3, 2, 4),
        "dH": torch.ones(3, 2, 4),
        "W_hh": torch.eye(4),
    } | kwargs
    with pytest.raises(error, match=name):
        d2l.information_flow_penalty(**args)


# --- bptt ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scale", "error"),
    [(INF, ValueError), (True, TypeError), ("1", TypeError), (None, TypeError)],
)
def test_init_bptt_params_names_a_bad_scale(scale, error):
    with pytest.raises(error, match="scale must be"):
        d2l.init_bptt_params(3, 4, 5, scale=scale)


def _bptt_problem():
    params = d2l.init_bptt_params(3, 4, 5)
    xs, h0 = np.zeros((2, 2, 3)), np.zeros((2, 4))
    return params, xs, np.zeros((2, 2), dtype=int), h0


@pytest.mark.parametrize(
    ("scales", "error"),
    [
        (np.full(2, NAN), ValueError),
        (np.array([1.0, INF]), ValueError),
        ("ab", TypeError),
    ],
)
def test_rnn_bptt_names_bad_scales(scales, error):
    with pytest.raises(error, match="scales must be"):
        d2l.rnn_bptt(*_bptt_problem(), scales=scales)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"f": "f"}, TypeError, "f must be callable"),
        ({"f": lambda: np.zeros(2)}, TypeError, r"f\(\) must be a real number"),
        ({"f": lambda: NAN}, ValueError, r"f\(\) must be"),
        ({"eps": INF}, ValueError, "eps must be"),
        ({"eps": True}, TypeError, "eps must be"),
        ({"eps": "1"}, TypeError, "eps must be"),
    ],
)
def test_numerical_gradient_names_bad_arguments(kwargs, error, name):
    args = {"f": lambda: 0.0, "x": np.zeros(3)} | kwargs
    with pytest.raises(error, match=name):
        d2l.numerical_gradient(**args)


def test_numerical_gradient_restores_x_when_f_fails():
    x = np.arange(3.0)
    calls = []

    def f():
        calls.append(1)
        if len(calls) == 3:  # the first call checks f, then +eps, then -eps
            raise RuntimeError("f failed")
        return float(x.sum())

    with pytest.raises(RuntimeError, match="f failed"):
        d2l.numerical_gradient(f, x)
    np.testing.assert_array_equal(x, np.arange(3.0))
