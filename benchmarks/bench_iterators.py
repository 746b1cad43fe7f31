"""Throughput of the tensor sequence iterators against a per-batch list version.

Run from the repository root with the data mirror set:

    D2LRNN_DATA_DIR=/path/to/data .venv/bin/python benchmarks/bench_iterators.py

Both implementations iterate over full epochs of the Time Machine character
corpus with the same batch_size and num_steps.  The reference below is written
the way d2l writes its iterators: the corpus is a Python list and every batch is
assembled from per-subsequence list slices and converted with ``torch.tensor``.
Each measurement is repeated and the median is reported.  This is a script, not
a test: timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

import d2lrnn as d2l


def list_iter_random(corpus: list[int], batch_size: int, num_steps: int):
    """Random sampling, one Python list per subsequence (reference)."""
    start = random.randint(0, num_steps - 1)
    usable = (len(corpus) - start - 1) // num_steps
    firsts = [start + j * num_steps for j in range(usable)]
    random.shuffle(firsts)
    for b in range(usable // batch_size):
        chosen = firsts[b * batch_size : (b + 1) * batch_size]
        inputs = [corpus[p : p + num_steps] for p in chosen]
        labels = [corpus[p + 1 : p + 1 + num_steps] for p in chosen]
        yield torch.tensor(inputs), torch.tensor(labels)


def list_iter_sequential(corpus: list[int], batch_size: int, num_steps: int):
    """Sequential partitioning, rows sliced from Python lists (reference)."""
    start = random.randint(0, num_steps - 1)
    row_len = (len(corpus) - start - 1) // batch_size
    rows = [start + r * row_len for r in range(batch_size)]
    for col in range(0, row_len // num_steps * num_steps, num_steps):
        inputs = [corpus[r + col : r + col + num_steps] for r in rows]
        labels = [corpus[r + col + 1 : r + col + 1 + num_steps] for r in rows]
        yield torch.tensor(inputs), torch.tensor(labels)


def time_epochs(make_iter, num_epochs: int) -> tuple[float, int, int]:
    """Seconds for ``num_epochs`` full epochs; also batches and tokens seen."""
    batches = tokens = 0
    start = time.perf_counter()
    for _ in range(num_epochs):
        for X, _Y in make_iter():
            batches += 1
            tokens += X.numel()
    return time.perf_counter() - start, batches, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-steps", type=int, default=35)
    parser.add_argument("--epochs", type=int, default=5, help="epochs per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    corpus, vocab = d2l.load_corpus_time_machine(token="char")
    corpus_list = corpus.tolist()
    bs, steps = args.batch_size, args.num_steps
    print(
        f"Time Machine, char level: {len(corpus)} tokens, |V| = {len(vocab)}; "
        f"batch_size={bs}, num_steps={steps}; {args.epochs} epochs per repeat, "
        f"median of {args.repeats} repeats; torch threads: 1"
    )
    # The two implementations must produce the same batches for the same seed
    # (both draw the offset, then shuffle, with Python's random module).
    for ours, ref in [
        (d2l.seq_data_iter_random, list_iter_random),
        (d2l.seq_data_iter_sequential, list_iter_sequential),
    ]:
        random.seed(0)
        a = list(ours(corpus, bs, steps))
        random.seed(0)
        b = list(ref(corpus_list, bs, steps))
        assert len(a) == len(b) and all(
            torch.equal(x, y) and torch.equal(u, v)
            for (x, u), (y, v) in zip(a, b, strict=True)
        ), ours.__name__
    header = f"{'iterator':12}{'tensor tok/s':>16}{'list tok/s':>16}{'ratio':>8}"
    print(header)
    for name, ours, ref in [
        ("random", d2l.seq_data_iter_random, list_iter_random),
        ("sequential", d2l.seq_data_iter_sequential, list_iter_sequential),
    ]:
        speeds = {"tensor": [], "list": []}
        for repeat in range(args.repeats):
            random.seed(repeat)
            sec, _, tok = time_epochs(lambda f=ours: f(corpus, bs, steps), args.epochs)
            speeds["tensor"].append(tok / sec)
            random.seed(repeat)
            sec, _, tok = time_epochs(
                lambda f=ref: f(corpus_list, bs, steps), args.epochs
            )
            speeds["list"].append(tok / sec)
        fast = statistics.median(speeds["tensor"])
        slow = statistics.median(speeds["list"])
        print(f"{name:12}{fast:16,.0f}{slow:16,.0f}{fast / slow:8.1f}x")
    print(f"(CPU time of this process: {time.process_time():.1f} s)")


if __name__ == "__main__":
    main()
