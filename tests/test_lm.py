"""Tests of d2lrnn.lm: sequence iterators, loaders and the Time Machine split."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import d2lrnn as d2l

ITERATORS = [d2l.seq_data_iter_random, d2l.seq_data_iter_sequential]


@st.composite
def corpus_sizes(draw, min_batches: int = 1):
    """(corpus length, batch_size, num_steps) with room for min_batches batches."""
    batch_size = draw(st.integers(1, 6))
    num_steps = draw(st.integers(1, 8))
    extra = draw(st.integers(0, 60))
    need = min_batches * batch_size * num_steps + num_steps  # worst offset
    return need + extra, batch_size, num_steps


def epoch(fn, corpus, batch_size, num_steps, seed):
    random.seed(seed)
    return list(fn(corpus, batch_size, num_steps))


@pytest.mark.parametrize("fn", ITERATORS)
@settings(max_examples=60, deadline=None)
@given(sizes=corpus_sizes(), seed=st.integers(0, 2**16))
def test_seq_data_iter_labels_shifted_and_shapes(fn, sizes, seed):
    length, batch_size, num_steps = sizes
    positions = torch.arange(length)
    tokens = torch.randint(
        0, 7, (length,), generator=torch.Generator().manual_seed(seed)
    )
    # The RNG draws depend only on the corpus length, so with the same seed
    # the batches over `positions` say where each batch over `tokens` came from.
    pos_batches = epoch(fn, positions, batch_size, num_steps, seed)
    tok_batches = epoch(fn, tokens, batch_size, num_steps, seed)
    assert len(pos_batches) == len(tok_batches) >= 1
    for (P, _), (X, Y) in zip(pos_batches, tok_batches, strict=True):
        assert X.shape == Y.shape == (batch_size, num_steps)
        assert X.dtype == Y.dtype == torch.long
        # rows are contiguous stretches of the corpus
        assert torch.equal(P, P[:, :1] + torch.arange(num_steps))
        assert torch.equal(X, tokens[P])
        assert torch.equal(Y, tokens[P + 1])


@settings(max_examples=60, deadline=None)
@given(sizes=corpus_sizes(min_batches=2), seed=st.integers(0, 2**16))
def test_seq_data_iter_sequential_rows_continue(sizes, seed):
    length, batch_size, num_steps = sizes
    batches = epoch(
        d2l.seq_data_iter_sequential, torch.arange(length), batch_size, num_steps, seed
    )
    assert len(batches) >= 2
    for (X0, _), (X1, _) in zip(batches, batches[1:], strict=False):
        assert torch.equal(X1[:, 0], X0[:, -1] + 1)
    offset = batches[0][0][0, 0].item()
    assert 0 <= offset < num_steps
    # rows are equal-length consecutive stretches after the offset
    row_len = (length - offset - 1) // batch_size
    assert torch.equal(batches[0][0][:, 0], offset + row_len * torch.arange(batch_size))
    assert len(batches) == row_len // num_steps


@settings(max_examples=60, deadline=None)
@given(sizes=corpus_sizes(), seed=st.integers(0, 2**16))
def test_seq_data_iter_random_no_overlap_and_covers_usable_corpus(sizes, seed):
    length, batch_size, num_steps = sizes
    batches = epoch(
        d2l.seq_data_iter_random, torch.arange(length), batch_size, num_steps, seed
    )
    starts = torch.cat([X[:, 0] for X, _ in batches]).tolist()
    offset = min(starts) % num_steps
    assert 0 <= offset < num_steps
    num_subseqs = (length - offset - 1) // num_steps
    grid = set(range(offset, offset + num_subseqs * num_steps, num_steps))
    assert len(starts) == len(set(starts))  # no subsequence twice
    assert set(starts) <= grid  # so no two subsequences overlap
    assert len(starts) == num_subseqs // batch_size * batch_size
    covered = torch.cat([X.reshape(-1) for X, _ in batches])
    assert len(covered) == len(set(covered.tolist()))
    if num_subseqs % batch_size == 0:  # every usable subsequence, exactly once
        assert set(starts) == grid
    assert max(starts) + num_steps < length  # the last label exists


@pytest.mark.parametrize("fn", ITERATORS)
@given(num_steps=st.integers(2, 8), seed=st.integers(0, 2**16))
@settings(max_examples=25, deadline=None)
def test_seq_data_iter_offset_varies_across_epochs(fn, num_steps, seed):
    corpus = torch.arange(10 * num_steps + 3)
    random.seed(seed)
    offsets = {
        next(iter(fn(corpus, 2, num_steps)))[0].min().item() % num_steps
        for _ in range(20)
    }
    assert len(offsets) > 1
    assert offsets <= set(range(num_steps))


def test_seq_data_iter_offset_covers_range():
    random.seed(0)
    seen = set()
    for _ in range(200):
        X, _ = next(d2l.seq_data_iter_sequential(torch.arange(100), 2, 5))
        seen.add(X[0, 0].item())
    assert seen == set(range(5))  # [0, num_steps), num_steps excluded


@pytest.mark.parametrize("fn", ITERATORS)
@given(sizes=corpus_sizes())
@settings(max_examples=40, deadline=None)
def test_seq_data_iter_too_short_corpus_raises(fn, sizes):
    _, batch_size, num_steps = sizes
    need = batch_size * num_steps + num_steps
    with pytest.raises(ValueError, match=f"{need - 1} tokens"):
        fn(torch.arange(need - 1), batch_size, num_steps)
    assert len(list(fn(torch.arange(need), batch_size, num_steps))) >= 1


@pytest.mark.parametrize("fn", ITERATORS)
def test_seq_data_iter_bad_arguments_raise(fn):
    corpus = torch.arange(100)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        fn(corpus, 0, 5)
    with pytest.raises(ValueError, match="num_steps must be >= 1, got -3"):
        fn(corpus, 2, -3)
    with pytest.raises(TypeError, match="num_steps must be an int, got 2.5"):
        fn(corpus, 2, 2.5)
    with pytest.raises(TypeError, match="batch_size must be an int, got True"):
        fn(corpus, True, 5)
    with pytest.raises(ValueError, match=r"corpus must be 1-D, got shape \(10, 10\)"):
        fn(corpus.reshape(10, 10), 2, 5)
    with pytest.raises(TypeError, match="integer"):
        fn(corpus.float(), 2, 5)
    with pytest.raises(TypeError, match="string"):
        fn("abcdefghijklmnopqrstuvwxyz" * 4, 2, 5)


def test_seq_data_iter_accepts_lists_and_ranges():
    for corpus in (list(range(35)), range(35), torch.arange(35, dtype=torch.int32)):
        random.seed(0)
        X, Y = next(d2l.seq_data_iter_sequential(corpus, 2, 5))
        assert X.dtype == torch.long and X.shape == (2, 5)


def test_seq_data_iter_sequential_fixed_offset_is_deterministic():
    corpus = torch.arange(200)
    runs = [
        list(d2l.seq_data_iter_sequential(corpus, 3, 7, offset=0)) for _ in range(3)
    ]
    for run in runs[1:]:
        for (X0, Y0), (X1, Y1) in zip(runs[0], run, strict=True):
            assert torch.equal(X0, X1) and torch.equal(Y0, Y1)
    assert runs[0][0][0][0, 0].item() == 0
    with pytest.raises(ValueError, match="offset must be in"):
        d2l.seq_data_iter_sequential(corpus, 3, 7, offset=7)


def test_seq_data_iter_batches_are_copies():
    corpus = torch.arange(100)
    for fn in ITERATORS:
        random.seed(0)
        for X, Y in fn(corpus, 2, 5):
            X.zero_()
            Y.zero_()
    assert torch.equal(corpus, torch.arange(100))


def _d2l_reference(name: str):
    """Load one function of d2l 0.17.6 from its source (d2l.torch needs torchvision)."""
    import d2l as d2l_ref  # installed by scripts/venv.sh; missing is a failure

    path = Path(d2l_ref.__file__).parent / "torch.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    node = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name
    )
    namespace = {"random": random, "torch": torch}
    namespace["d2l"] = type("d2l", (), {"tensor": staticmethod(torch.tensor)})
    exec(compile(ast.Module([node], []), str(path), "exec"), namespace)
    return namespace[name]


@given(sizes=corpus_sizes(), seed=st.integers(0, 2**16))
@settings(max_examples=40, deadline=None)
def test_seq_data_iter_random_matches_d2l(sizes, seed):
    length, batch_size, num_steps = sizes
    reference = _d2l_reference("seq_data_iter_random")
    corpus = torch.randint(
        0, 30, (length,), generator=torch.Generator().manual_seed(seed)
    )
    ours = epoch(d2l.seq_data_iter_random, corpus, batch_size, num_steps, seed)
    theirs = epoch(reference, corpus.tolist(), batch_size, num_steps, seed)
    assert len(ours) == len(theirs)
    for (X, Y), (Xr, Yr) in zip(ours, theirs, strict=True):
        assert torch.equal(X, Xr) and torch.equal(Y, Yr)


def test_seq_data_loader_epochs_and_len():
    corpus = torch.arange(1000)
    loader = d2l.SeqDataLoader(corpus, 4, 10)
    assert len(loader) == 24  # (1000 - offset - 1) // 40 for every offset < 10
    random.seed(0)
    firsts = {next(iter(loader))[0][0, 0].item() for _ in range(30)}
    assert len(firsts) > 1
    assert sum(1 for _ in loader) == len(loader)
    varying = d2l.SeqDataLoader(torch.arange(45), 2, 10)  # 44 // 20 vs 35 // 20
    with pytest.raises(TypeError, match="depends on the offset"):
        len(varying)
    with pytest.raises(ValueError, match="offset"):
        d2l.SeqDataLoader(corpus, 4, 10, use_random_iter=True, offset=0)
    with pytest.raises(TypeError, match="use_random_iter"):
        d2l.SeqDataLoader(corpus, 4, 10, use_random_iter=1)
    with pytest.raises(ValueError, match="too short"):
        d2l.SeqDataLoader(corpus[:40], 4, 10)


# ---------------------------------------------------------- Time Machine split

# These read the real book: D2LRNN_DATA_DIR or the network (CI sets the former);
# without either, download() fails with a message saying how to set it.


@pytest.mark.parametrize("token", ["char", "word"])
def test_load_data_time_machine_split(token):
    max_tokens = 20000 if token == "char" else -1
    train_iter, val_iter, vocab = d2l.load_data_time_machine(
        4, 10, max_tokens=max_tokens, val_fraction=0.2, token=token
    )
    full, full_vocab = d2l.load_corpus_time_machine(max_tokens, token)
    assert vocab.idx_to_token == full_vocab.idx_to_token  # vocab of the whole text
    assert torch.equal(torch.cat([train_iter.corpus, val_iter.corpus]), full)
    assert len(val_iter.corpus) == round(0.2 * len(full))
    first = [(X.clone(), Y.clone()) for X, Y in val_iter]
    random.seed(123)
    second = list(val_iter)
    assert len(first) == len(second) == len(val_iter)
    for (X0, Y0), (X1, Y1) in zip(first, second, strict=True):
        assert torch.equal(X0, X1) and torch.equal(Y0, Y1)
    assert torch.equal(first[0][0][0], val_iter.corpus[:10])  # offset 0


def test_load_data_time_machine_arguments():
    train_iter, val_iter, _ = d2l.load_data_time_machine(
        2, 5, use_random_iter=True, max_tokens=1000, val_fraction=0
    )
    assert val_iter is None and len(train_iter.corpus) == 1000
    assert train_iter.use_random_iter
    with pytest.raises(ValueError, match="val_fraction must be in"):
        d2l.load_data_time_machine(2, 5, max_tokens=1000, val_fraction=1.0)
    with pytest.raises(TypeError, match="val_fraction must be a number"):
        d2l.load_data_time_machine(2, 5, max_tokens=1000, val_fraction="0.1")
    with pytest.raises(ValueError, match="validation part"):
        d2l.load_data_time_machine(32, 35, max_tokens=5000, val_fraction=0.1)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        d2l.load_data_time_machine(0, 5)


@given(
    batch_size=st.integers(1, 4),
    num_steps=st.integers(1, 6),
    data=st.data(),
)
@settings(max_examples=40, deadline=None)
def test_seq_data_iter_sequential_fixed_offset_needs_only_that_offset(
    batch_size, num_steps, data
):
    offset = data.draw(st.integers(0, num_steps - 1))
    need = batch_size * num_steps + offset + 1
    batches = list(
        d2l.seq_data_iter_sequential(torch.arange(need), batch_size, num_steps, offset)
    )
    assert len(batches) == 1
    X, Y = batches[0]
    assert X[0, 0].item() == offset and torch.equal(Y, X + 1)
    with pytest.raises(ValueError, match=f"at least {need} tokens"):
        d2l.seq_data_iter_sequential(
            torch.arange(need - 1), batch_size, num_steps, offset
        )


def test_seq_data_iter_sequential_offset_must_be_below_num_steps():
    corpus = torch.arange(50)
    X, _ = next(d2l.seq_data_iter_sequential(corpus, 2, 4, offset=3))
    assert X[0, 0].item() == 3
    for bad in (4, 5):
        with pytest.raises(ValueError, match=rf"offset must be in \[0, num_steps=4\), "
                           rf"got {bad}"):
            d2l.seq_data_iter_sequential(corpus, 2, 4, offset=bad)
    with pytest.raises(ValueError, match="offset must be >= 0, got -1"):
        d2l.seq_data_iter_sequential(corpus, 2, 4, offset=-1)
    with pytest.raises(TypeError, match="offset must be an int"):
        d2l.seq_data_iter_sequential(corpus, 2, 4, offset=1.0)
    with pytest.raises(ValueError, match="num_steps must be >= 1, got 0"):
        d2l.seq_data_iter_sequential(corpus, 2, 0, offset=0)


@pytest.mark.parametrize("fn", ITERATORS)
def test_seq_data_iter_takes_strided_and_list_corpora(fn):
    corpus = torch.arange(200)[::2]  # not contiguous
    random.seed(0)
    X, Y = next(fn(corpus, 3, 4))
    assert torch.equal(Y, X + 2) and (X % 2 == 0).all()
    random.seed(0)
    X2, Y2 = next(fn(corpus.tolist(), 3, 4))
    assert torch.equal(X, X2) and torch.equal(Y, Y2)


def test_seq_data_loader_from_a_list_holds_a_long_tensor():
    loader = d2l.SeqDataLoader(list(range(60)), 2, 5)
    assert isinstance(loader.corpus, torch.Tensor)
    assert loader.corpus.dtype == torch.long and loader.corpus.tolist() == list(
        range(60)
    )
    assert (loader.batch_size, loader.num_steps) == (2, 5)
    assert loader.use_random_iter is False and loader.offset is None


def test_seq_data_loader_checks_its_corpus_for_both_iterators():
    with pytest.raises(ValueError, match="too short"):
        d2l.SeqDataLoader(torch.arange(40), 4, 10, use_random_iter=True)
    d2l.SeqDataLoader(torch.arange(50), 4, 10, use_random_iter=True)  # 4*10 + 10
    with pytest.raises(ValueError, match="too short"):
        d2l.SeqDataLoader(torch.arange(43), 4, 10, offset=3)
    d2l.SeqDataLoader(torch.arange(44), 4, 10, offset=3)  # 4*10 + 3 + 1
    with pytest.raises(TypeError,
                       match="use_random_iter must be True or False, got 'no'"):
        d2l.SeqDataLoader(torch.arange(100), 4, 10, use_random_iter="no")


def test_seq_data_loader_len_with_a_fixed_offset():
    corpus = torch.arange(45)  # (45 - offset - 1) // 20 is 2 for offset 0..4, else 1
    assert len(d2l.SeqDataLoader(corpus, 2, 10, offset=0)) == 2
    assert len(d2l.SeqDataLoader(corpus, 2, 10, offset=9)) == 1
    for offset in (0, 4, 5, 9):
        loader = d2l.SeqDataLoader(corpus, 2, 10, offset=offset)
        assert len(list(loader)) == len(loader)
        assert all(X[0, 0].item() == offset + 10 * i for i, (X, _) in enumerate(loader))
    with pytest.raises(TypeError, match="depends on the offset: 1 or 2"):
        len(d2l.SeqDataLoader(corpus, 2, 10))
    with pytest.raises(TypeError, match="depends on the offset: 1 or 2"):
        len(d2l.SeqDataLoader(corpus, 2, 10, use_random_iter=True))


@pytest.mark.parametrize("use_random_iter", [False, True])
def test_seq_data_loader_len_counts_the_batches_of_every_epoch(use_random_iter):
    loader = d2l.SeqDataLoader(torch.arange(1000), 3, 7, use_random_iter)
    random.seed(1)
    for _ in range(10):  # every offset gives (1000 - offset - 1) // 21 = 47
        assert sum(1 for _ in loader) == len(loader) == 47
    if use_random_iter:
        random.seed(2)
        starts = [X[:, 0].tolist() for X, _ in loader]
        assert starts != sorted(starts)  # shuffled: random sampling is used


def test_load_data_time_machine_checks_sizes_before_reading_the_book(monkeypatch):
    def unread(*args):
        raise AssertionError("the book was read before the arguments were checked")

    monkeypatch.setattr(d2l.lm, "load_corpus_time_machine", unread)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        d2l.load_data_time_machine(0, 5)
    with pytest.raises(ValueError, match="num_steps must be >= 1, got 0"):
        d2l.load_data_time_machine(2, 0)


def test_load_data_time_machine_keeps_a_tenth_for_validation_by_default():
    train_iter, val_iter, vocab = d2l.load_data_time_machine(2, 5, max_tokens=1000)
    assert len(train_iter.corpus) == 900 and len(val_iter.corpus) == 100
    assert not train_iter.use_random_iter and train_iter.offset is None
    assert val_iter.offset == 0 and not val_iter.use_random_iter
    assert (train_iter.batch_size, train_iter.num_steps) == (2, 5)
    assert len(vocab) == 28  # characters by default
