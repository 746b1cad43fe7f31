"""Training throughput of three character RNNs, next to torch.mm at their shapes.

Usage (from the repository root)::

    OMP_NUM_THREADS=1 python benchmarks/bench_rnn.py [--hiddens 32 128 512]

For each hidden size it trains, on random tokens, for a few minibatches:

* ``d2l 0.17.6``: d2l's own code, when the ``d2l`` package is installed (the
  test command installs release 0.17.6): its ``RNNModelScratch`` with
  ``get_params``, ``init_rnn_state`` and ``rnn``, trained by its
  ``train_epoch_ch8`` with its ``sgd`` updater;
* ``d2l-style``: the same loop written here: one-hot inputs, three matrix
  products per time step (input, recurrence, output), autograd, d2l's
  gradient clipping and a hand-written SGD update;
* ``fast tanh`` and ``fast sigmoid``: ``d2lrnn.RNNModelScratch`` with
  ``d2lrnn.rnn_fast`` (row lookup, outputs batched over the steps,
  hand-written BPTT for the recurrence), in its two forms
  (``via_sigmoid=False`` / ``True``, chapter 21);
* ``concise``: ``d2lrnn.RNNModel`` around ``nn.RNN``.

All of them clip the gradient at 1 and take an SGD step, so a measured step
is what a training loop does.  ``fast/d2l`` is the faster of the two fast
forms against d2l's own loop (against ``d2l-style`` without the package),
and ``bound`` the most any model could gain over that loop while doing the
fast model's matrix products with ``torch.mm``: the loop's step time over
the time of those products alone.  Where the loop already spends most of
its step in ``torch.mm`` (large hidden sizes, a slow ``torch.mm``), the
bound is low, and no rewrite of the rest can pass it.
Each model's throughput is also given as a fraction of the throughput
``torch.mm`` reaches on *that model's* matrix products alone (the same
shapes, counted per minibatch, timed in the same run): 100% would mean
the model spends all its time in matrix products.
The models and their ``torch.mm`` references are timed interleaved, several
times, and the medians are reported.  The default clock is the process's CPU
time: with one thread it is what a quiet machine's wall clock shows, and far
less disturbed by other processes (``--clock wall`` for elapsed time).  The
load average printed at the top and the bottom says how busy the machine was.

A last section puts these rates next to the hardware: GFLOP/s of the matrix
products in a training step of ``d2lrnn.RNNModel`` around ``nn.LSTM`` (which
PyTorch trains on a CPU through oneDNN's fused LSTM kernel) at the largest
hidden size, of ``torch.mm`` at that model's shapes and at 1024 x 1024, and
the fused multiply-add peak of one core, measured by ``fma_peak.c`` when a C
compiler and an x86-64 CPU with FMA are there.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections import Counter
from functools import partial
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

import d2lrnn as d2l


# --- the d2l-style scratch model, in d2l's shape -------------------------
def d2l_params(vocab_size: int, num_hiddens: int) -> list[torch.Tensor]:
    """Parameters in d2l's layout (normal(0, 0.01) weights, zero biases)."""
    shapes = [
        (vocab_size, num_hiddens),
        (num_hiddens, num_hiddens),
        (num_hiddens,),
        (num_hiddens, vocab_size),
        (vocab_size,),
    ]
    params = [torch.randn(s) * 0.01 if len(s) == 2 else torch.zeros(s) for s in shapes]
    return [p.requires_grad_() for p in params]


def d2l_forward(
    X: torch.Tensor, H: torch.Tensor, params: list[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """d2l's loop: one-hot per step, three products per step, cat outputs."""
    W_xh, W_hh, b_h, W_hq, b_q = params
    outputs = []
    for X_t in X.T:  # X_t: (batch_size,) indices of one time step
        X_t = F.one_hot(X_t, W_xh.shape[0]).float()  # (batch_size, vocab)
        H = torch.tanh(torch.mm(X_t, W_xh) + torch.mm(H, W_hh) + b_h)
        outputs.append(torch.mm(H, W_hq) + b_q)  # (batch_size, vocab)
    return torch.cat(outputs, dim=0), H  # (num_steps * batch_size, vocab)


def d2l_step(X, Y, params, lr=0.1, theta=1.0):
    """One training step as d2l's train_epoch_ch8 takes it."""
    H = torch.zeros(X.shape[0], params[1].shape[0])
    Y_hat, _ = d2l_forward(X, H, params)
    loss = F.cross_entropy(Y_hat, Y.T.reshape(-1))
    loss.backward()
    norm = torch.sqrt(sum(torch.sum(p.grad**2) for p in params))
    if norm > theta:
        for p in params:
            p.grad[:] *= theta / norm
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad.zero_()


def d2l_release():
    """d2l's ``torch`` module (release 0.17.6 in the test command), or None.

    ``d2l/torch.py`` imports torchvision and pandas at the top and never uses
    them in the functions timed here; where they are missing, empty stand-ins
    are put into ``sys.modules`` for the import only (as in the parity tests).
    """
    stubs = {}
    for name in ("torchvision", "pandas"):
        try:
            importlib.import_module(name)
        except ImportError:
            stubs[name] = types.ModuleType(name)
    if "torchvision" in stubs:
        stubs["torchvision"].transforms = types.ModuleType("transforms")
        stubs["torchvision.transforms"] = stubs["torchvision"].transforms
    saved = {name: sys.modules.get(name) for name in stubs}
    sys.modules.update(stubs)
    try:
        return importlib.import_module("d2l.torch")
    except ImportError:
        return None
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def d2l_book_rnn(inputs, state, params):
    """d2l's ``rnn`` as its book writes it (not part of the d2l package)."""
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:  # X: (batch_size, vocab_size), one-hot
        H = torch.tanh(torch.mm(X, W_xh) + torch.mm(H, W_hh) + b_h)
        outputs.append(torch.mm(H, W_hq) + b_q)
    return torch.cat(outputs, dim=0), (H,)


def d2l_release_model(d2l_ref, vocab_size: int, num_hiddens: int):
    """d2l's own RNNModelScratch around the book's scratch functions."""
    return d2l_ref.RNNModelScratch(
        vocab_size, num_hiddens, torch.device("cpu"),
        lambda V, h, device: d2l_params(V, h),
        lambda batch_size, h, device: (torch.zeros(batch_size, h),),
        d2l_book_rnn)


def d2l_release_step(d2l_ref, net, X, Y, lr=0.1):
    """One training step through d2l's own train_epoch_ch8 and sgd."""
    d2l_ref.train_epoch_ch8(
        net, [(X, Y)], nn.CrossEntropyLoss(),
        lambda batch_size: d2l_ref.sgd(net.params, lr, batch_size),
        torch.device("cpu"), use_random_iter=True)


def module_step(net, updater, X, Y, theta=1.0):
    """One training step of a d2lrnn model with d2lrnn's clipping."""
    state = net.begin_state(X.shape[0])
    Y_hat, _ = net(X, state)
    loss = F.cross_entropy(Y_hat, Y.T.reshape(-1))
    updater.zero_grad()
    loss.backward()
    d2l.grad_clipping(net, theta)
    updater.step()


# --- matrix shapes (m, k, n) of each model, per minibatch ------------------
def mm_shapes(kind: str, B: int, T: int, V: int, h: int) -> Counter:
    """The matrix products one training step of ``kind`` performs."""
    TB = T * B
    c: Counter = Counter()
    if kind == "d2l-style":
        # forward: input, recurrence, output per step; backward: dW for the
        # input, dH and dW for recurrence and output (H_0 needs no grad)
        c[(B, V, h)] += T
        c[(B, h, h)] += T + (T - 1)
        c[(h, B, h)] += T
        c[(B, h, V)] += T
        c[(B, V, h)] += T
        c[(h, B, V)] += T
        c[(V, B, h)] += T
    elif kind == "fast":
        # forward steps, backward steps (H_0 is a constant: no dH_0 product)
        c[(B, h, h)] += T + (T - 1)
        c[(h, TB, h)] += 1  # dW_hh over all steps
        c[(TB, h, V)] += 1  # output layer
        c[(TB, V, h)] += 1  # gradient w.r.t. the states
        c[(h, TB, V)] += 1  # dW_hq
    elif kind == "lstm":  # nn.LSTM: four gates in one (.., 4h) product
        c[(TB, V, 4 * h)] += 1  # input projection of all steps
        c[(V, TB, 4 * h)] += 1  # its weight gradient
        c[(B, h, 4 * h)] += T + (T - 1)  # forward steps, backward dH
        c[(h, B, 4 * h)] += T  # backward dW_hh, step by step
        c[(TB, h, V)] += 1
        c[(TB, V, h)] += 1
        c[(h, TB, V)] += 1
    elif kind == "concise":
        c[(TB, V, h)] += 1  # input projection of all steps
        c[(V, TB, h)] += 1  # its weight gradient
        c[(B, h, h)] += T + (T - 1)  # forward steps, backward dH
        c[(h, B, h)] += T  # backward dW_hh, step by step
        c[(TB, h, V)] += 1
        c[(TB, V, h)] += 1
        c[(h, TB, V)] += 1
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return c


def flops(shapes: Counter) -> int:
    """Floating-point operations of the products in ``shapes`` (2 per FMA)."""
    return sum(2 * m * k * n * count for (m, k, n), count in shapes.items())


def fma_peak() -> tuple[float | None, str]:
    """GFLOP/s of ``fma_peak.c`` on one core, or None and the reason."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return None, f"fma_peak.c needs x86-64, this is {platform.machine()}"
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None, "no C compiler (cc or gcc) on PATH"
    source = Path(__file__).with_name("fma_peak.c")
    flags = {"256-bit": ["-mavx2", "-mfma"]}
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists() and " avx512f" in cpuinfo.read_text():
        flags["512-bit"] = ["-mavx512f", "-DWIDE"]
    best, widths = None, []
    with tempfile.TemporaryDirectory() as tmp:
        for width, extra in flags.items():
            exe = Path(tmp) / "fma_peak"
            subprocess.run(
                [compiler, "-O2", *extra, str(source), "-o", str(exe)], check=True
            )
            out = subprocess.run(
                [str(exe)], check=True, capture_output=True, text=True
            ).stdout
            gflops = float(out.split()[0])
            widths.append(f"{width} {gflops:.1f}")
            best = gflops if best is None else max(best, gflops)
    return best, ", ".join(widths)


def time_block(fn, number: int) -> tuple[float, float]:
    """CPU and wall seconds per call of ``fn``, over ``number`` calls."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(number):
        fn()
    return (
        (time.process_time() - cpu) / number,
        (time.perf_counter() - wall) / number,
    )


def mm_block(shapes: Counter) -> tuple[float, float]:
    """CPU and wall seconds torch.mm needs for all products in ``shapes``."""
    cpu = wall = 0.0
    for (m, k, n), count in shapes.items():
        a, b = torch.randn(m, k), torch.randn(k, n)
        number = max(1, int(2e6 / (2 * m * k * n + 1e4)))
        torch.mm(a, b)  # warm-up
        c, w = time_block(partial(torch.mm, a, b), number)
        cpu, wall = cpu + count * c, wall + count * w
    return cpu, wall


def hardware_section(B: int, T: int, V: int, h: int, repeats: int, col: int) -> None:
    """Print GFLOP/s of nn.LSTM's products, torch.mm and the core's FMA peak."""
    lstm = d2l.RNNModel(nn.LSTM(V, h), V)
    X, Y = torch.randint(0, V, (B, T)), torch.randint(0, V, (B, T))
    step = partial(module_step, lstm, torch.optim.SGD(lstm.parameters(), lr=0.1), X, Y)
    shapes = mm_shapes("lstm", B, T, V, h)
    a, b = torch.randn(B, h), torch.randn(h, h)
    big_a, big_b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    number = max(3, int(2e8 / (B * T * (4 * h * h + 4 * h * V))))
    step()  # warm-up
    lstm_s, mm_s, square_s, big_s = [], [], [], []
    for _ in range(repeats):
        lstm_s.append(time_block(step, number)[col])
        mm_s.append(mm_block(shapes)[col])
        square_s.append(time_block(partial(torch.mm, a, b), 200)[col])
        big_s.append(time_block(partial(torch.mm, big_a, big_b), 5)[col])
    rates = {
        f"nn.LSTM training step at hidden {h} (its products)": flops(shapes)
        / statistics.median(lstm_s),
        "torch.mm at nn.LSTM's shapes": flops(shapes) / statistics.median(mm_s),
        f"torch.mm ({B}, {h}) @ ({h}, {h})": flops(Counter({(B, h, h): 1}))
        / statistics.median(square_s),
        "torch.mm (1024, 1024) @ (1024, 1024)": flops(Counter({(1024, 1024, 1024): 1}))
        / statistics.median(big_s),
    }
    peak, detail = fma_peak()
    print(f"\nGFLOP/s of matrix products (median of {repeats}), 1 core:")
    for name, rate in rates.items():
        share = f"  ({100 * rate / 1e9 / peak:3.0f}% of FMA peak)" if peak else ""
        print(f"  {name:<52} {rate / 1e9:7.1f}{share}")
    if peak:
        label = f"FMA peak of one core (fma_peak.c: {detail})"
        print(f"  {label:<52} {peak:7.1f}")
    else:
        print(f"  FMA peak not measured: {detail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hiddens", type=int, nargs="+", default=[32, 128, 512])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-steps", type=int, default=32)
    parser.add_argument("--vocab-size", type=int, default=28)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="cpu: process time (with 1 thread, what a quiet machine's wall "
        "clock shows; little disturbed by other processes); wall: elapsed",
    )
    args = parser.parse_args(argv)
    B, T, V = args.batch_size, args.num_steps, args.vocab_size
    col = 1 if args.clock == "wall" else 0
    torch.manual_seed(0)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s) "
        f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}), "
        f"{platform.processor() or platform.machine()}, "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print(
        f"batch {B} x {T} steps, vocabulary {V}; training tokens/s "
        f"({args.clock} clock, median of {args.repeats} interleaved runs) and, "
        f"in brackets, torch.mm's share at the model's own shapes\n"
    )
    d2l_ref = d2l_release()
    kinds = ["d2l 0.17.6"] if d2l_ref else []
    kinds += ["d2l-style", "fast tanh", "fast sigmoid", "concise"]
    baseline = "d2l 0.17.6" if d2l_ref else "d2l-style"
    header = (f"{'hidden':>6} | " + " | ".join(f"{k:>16}" for k in kinds)
              + f" | {'fast/d2l':>8} | {'bound':>6} | {'mm GFLOP/s':>10}")
    print(header)
    print("-" * len(header))
    X = torch.randint(0, V, (B, T))
    Y = torch.randint(0, V, (B, T))
    ratios = []
    for h in args.hiddens:
        number = max(5, int(2e8 / (B * T * (h * h + 4 * h * V))))
        params = d2l_params(V, h)
        fast = {form: d2l.RNNModelScratch(
            V, h, forward_fn=partial(d2l.rnn_fast, via_sigmoid=form))
            for form in (False, True)}
        concise = d2l.RNNModel(nn.RNN(V, h), V)
        runs = {"d2l-style": partial(d2l_step, X, Y, params)}
        if d2l_ref:
            net = d2l_release_model(d2l_ref, V, h)
            runs = {"d2l 0.17.6": partial(d2l_release_step, d2l_ref, net, X, Y),
                    **runs}
        for form, name in ((False, "fast tanh"), (True, "fast sigmoid")):
            runs[name] = partial(
                module_step, fast[form],
                torch.optim.SGD(fast[form].parameters(), lr=0.1), X, Y)
        runs["concise"] = partial(
            module_step, concise, torch.optim.SGD(concise.parameters(), lr=0.1),
            X, Y)
        shape_kind = {"d2l 0.17.6": "d2l-style", "d2l-style": "d2l-style",
                      "fast tanh": "fast", "fast sigmoid": "fast",
                      "concise": "concise"}
        shapes = {kind: mm_shapes(shape_kind[kind], B, T, V, h) for kind in runs}
        a, b = torch.randn(B, h), torch.randn(h, h)
        square = partial(torch.mm, a, b)
        for fn in [*runs.values(), square]:  # warm-up
            fn()
        # Interleave the models and their torch.mm references and repeat, so
        # that load from other processes affects all of them alike.
        steps = {kind: [] for kind in runs}
        ideal = {kind: [] for kind in runs}
        squares = []
        for _ in range(args.repeats):
            for kind, fn in runs.items():
                steps[kind].append(time_block(fn, number)[col])
                ideal[kind].append(mm_block(shapes[kind])[col])
            squares.append(time_block(square, 200)[col])
        cells, speeds = [], {}
        for kind in kinds:
            seconds = statistics.median(steps[kind])
            speeds[kind] = B * T / seconds
            share = statistics.median(ideal[kind]) / seconds
            cells.append(f"{speeds[kind]:8.0f} ({100 * share:3.0f}%)")
        gflops = 2 * B * h * h / statistics.median(squares) / 1e9
        best_fast = max(speeds["fast tanh"], speeds["fast sigmoid"])
        ratios.append(best_fast / speeds[baseline])
        # no model doing the fast products with torch.mm can take less time
        bound = (statistics.median(steps[baseline])
                 / statistics.median(ideal["fast tanh"]))
        print(
            f"{h:>6} | "
            + " | ".join(f"{c:>16}" for c in cells)
            + f" | {ratios[-1]:7.2f}x | {bound:5.2f}x | {gflops:10.1f}",
            flush=True,
        )
    print(
        "\n(share = time torch.mm needs for the products of one training step "
        "/ time of the step; mm GFLOP/s at (batch, hidden) @ (hidden, hidden))"
    )
    hardware_section(B, T, V, max(args.hiddens), args.repeats, col)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0 if all(math.isfinite(r) for r in ratios) else 1


if __name__ == "__main__":
    raise SystemExit(main())
