"""The benchmark's bookkeeping: the matrix products it credits each model with."""

import importlib.util
from collections import Counter
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.profiler import profile

import d2lrnn as d2l

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_rnn.py"
_SPEC = importlib.util.spec_from_file_location("bench_rnn", _PATH)
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)


def _recorded_products(fn) -> Counter:
    """(m, k, n) of every mm / addmm / addmm_ that ``fn`` runs."""
    with profile(record_shapes=True) as prof:
        fn()
    products: Counter = Counter()
    for event in prof.events():
        if event.name in ("aten::mm", "aten::addmm", "aten::addmm_"):
            a, b = [s for s in event.input_shapes if len(s) == 2][-2:]
            assert a[1] == b[0]
            products[(a[0], a[1], b[1])] += 1
    return products


@pytest.mark.parametrize("B,T,V,h", [(4, 5, 7, 6), (3, 1, 5, 9), (2, 8, 9, 4)])
def test_mm_shapes_match_products_run_by_d2l_style_and_fast(B, T, V, h):
    # The torch.mm reference of each model is timed on mm_shapes, so the shares
    # the benchmark prints are only honest if these are the products it runs.
    torch.manual_seed(0)
    X, Y = torch.randint(0, V, (B, T)), torch.randint(0, V, (B, T))
    params = bench.d2l_params(V, h)
    recorded = _recorded_products(lambda: bench.d2l_step(X, Y, params))
    assert recorded == bench.mm_shapes("d2l-style", B, T, V, h)
    net = d2l.RNNModelScratch(V, h, forward_fn=d2l.rnn_fast)
    updater = torch.optim.SGD(net.parameters(), lr=0.1)
    recorded = _recorded_products(lambda: bench.module_step(net, updater, X, Y))
    assert recorded == bench.mm_shapes("fast", B, T, V, h)


def test_mm_shapes_rejects_unknown_kind_and_counts_flops():
    with pytest.raises(ValueError, match="unknown kind 'gru'"):
        bench.mm_shapes("gru", 2, 3, 4, 5)
    assert bench.flops(Counter({(2, 3, 4): 5})) == 2 * 2 * 3 * 4 * 5


def test_only_nn_lstm_takes_the_onednn_route_on_cpu():
    # Chapter 5 says so: in PyTorch 2.13's CPU build nn.LSTM trains through
    # oneDNN's fused kernel, nn.RNN and nn.GRU through their own loops.
    routes = {}
    for layer in (nn.LSTM(8, 16), nn.GRU(8, 16), nn.RNN(8, 16)):
        X = torch.randn(5, 3, 8)
        with profile() as prof:
            Y, _ = layer(X)
            Y.sum().backward()
        names = {event.name for event in prof.events()}
        routes[type(layer).__name__] = "aten::mkldnn_rnn_layer" in names
    onednn = torch.backends.mkldnn.is_available()
    assert routes == {"LSTM": onednn, "GRU": False, "RNN": False}, routes


def test_d2l_release_runs_the_products_credited_to_it():
    # The benchmark credits d2l's own loop with the products of d2l-style.
    d2l_ref = bench.d2l_release()
    assert d2l_ref is not None, "the test command installs d2l 0.17.6"
    B, T, V, h = 3, 4, 6, 5
    torch.manual_seed(0)
    X, Y = torch.randint(0, V, (B, T)), torch.randint(0, V, (B, T))
    net = bench.d2l_release_model(d2l_ref, V, h)
    recorded = _recorded_products(
        lambda: bench.d2l_release_step(d2l_ref, net, X, Y))
    assert recorded == bench.mm_shapes("d2l-style", B, T, V, h)
