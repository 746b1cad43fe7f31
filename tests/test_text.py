"""Tests of d2lrnn.text: tokenization, vocabularies and the corpus."""

from __future__ import annotations

import collections
import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from d2lrnn import data, text

FAKE_BOOK = (
    "The Time Machine, by H. G. Wells [1898]\n"
    "\n"
    "I\n"
    "The Time Traveller (for so it will be convenient to speak of him)\n"
    "was expounding a recondite matter to us -- 'twas 42 times!\n"
)

tokens_st = st.lists(
    st.lists(st.text(alphabet="abcde<>", min_size=1, max_size=3), max_size=8),
    max_size=8,
)


@pytest.fixture
def fake_book(monkeypatch, tmp_path) -> Path:
    """A mirror holding a small stand-in for the book, registered by its hash."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    path = mirror / "timemachine.txt"
    path.write_text(FAKE_BOOK, encoding="utf-8")
    url, _ = data.DATA_HUB["time_machine"]
    sha1 = hashlib.sha1(FAKE_BOOK.encode()).hexdigest()
    monkeypatch.setitem(data.DATA_HUB, "time_machine", (url, sha1))
    monkeypatch.setenv("D2LRNN_DATA_DIR", str(mirror))
    monkeypatch.setenv("D2LRNN_CACHE_DIR", str(tmp_path / "cache"))
    return path


# --- read_time_machine --------------------------------------------------------


def test_read_time_machine_keeps_letters_lowercase(fake_book):
    lines = text.read_time_machine()
    assert lines == [
        "the time machine by h g wells",
        "",
        "i",
        "the time traveller for so it will be convenient to speak of him",
        "was expounding a recondite matter to us twas times",
    ]


def test_read_time_machine_real_book_shape():
    lines = text.read_time_machine()
    assert len(lines) == 3221
    assert lines[0] == "the time machine by h g wells"
    assert all(re.fullmatch("[a-z ]*", line) for line in lines)
    assert all(line == line.strip() and "  " not in line for line in lines)


# --- tokenize -----------------------------------------------------------------


def test_tokenize_word_and_char():
    lines = ["the time  machine", "", "by wells"]
    assert text.tokenize(lines) == [["the", "time", "machine"], [], ["by", "wells"]]
    assert text.tokenize(lines, "word") == text.tokenize(lines)
    chars = text.tokenize(lines, "char")
    assert chars[0][:5] == ["t", "h", "e", " ", "t"]
    assert ["".join(c) for c in chars] == lines


def test_tokenize_unknown_mode_names_it():
    with pytest.raises(ValueError, match="'bpe'"):
        text.tokenize(["a b"], "bpe")


@pytest.mark.parametrize("lines", ["a single string", None, [["a"]], ["ok", 3]])
def test_tokenize_rejects_non_string_lines(lines):
    with pytest.raises(TypeError):
        text.tokenize(lines)


# --- Vocab --------------------------------------------------------------------


def test_vocab_order_unk_reserved_then_frequency():
    tokens = [["b", "a", "c"], ["a", "c", "a"], ["d"]]
    vocab = text.Vocab(tokens, reserved_tokens=["<pad>", "<bos>", "<eos>"])
    assert vocab.idx_to_token == [
        "<unk>", "<pad>", "<bos>", "<eos>", "a", "c", "b", "d",
    ]  # fmt: skip
    assert vocab.unk == 0
    assert len(vocab) == 8
    assert vocab.token_to_idx == {t: i for i, t in enumerate(vocab.idx_to_token)}
    assert vocab.token_freqs == [("a", 3), ("c", 2), ("b", 1), ("d", 1)]


def test_vocab_ties_broken_by_first_occurrence():
    vocab = text.Vocab(["z", "y", "x", "y", "z", "w"])
    # z and y both occur twice; z comes first in the input.
    assert vocab.idx_to_token == ["<unk>", "z", "y", "x", "w"]


@settings(max_examples=60, deadline=None)
@given(tokens_st)
def test_vocab_order_is_count_then_first_occurrence(tokens):
    flat = [t for line in tokens for t in line]
    counts = collections.Counter(flat)
    first = {t: flat.index(t) for t in counts}
    expected = sorted(counts, key=lambda t: (-counts[t], first[t]))
    vocab = text.Vocab(tokens)
    assert [t for t, _ in vocab.token_freqs] == expected
    assert vocab.idx_to_token == ["<unk>"] + [t for t in expected if t != "<unk>"]


@settings(max_examples=60, deadline=None)
@given(tokens_st, st.integers(0, 3))
def test_vocab_flat_and_nested_tokens_agree(tokens, min_freq):
    flat = [t for line in tokens for t in line]
    nested = text.Vocab(tokens, min_freq=min_freq)
    assert text.Vocab(flat, min_freq=min_freq).idx_to_token == nested.idx_to_token
    kept = {t for t, count in collections.Counter(flat).items() if count >= min_freq}
    assert set(nested.idx_to_token[1:]) == kept


@settings(max_examples=60, deadline=None)
@given(tokens_st, st.integers(0, 3))
def test_vocab_round_trip(tokens, min_freq):
    vocab = text.Vocab(tokens, min_freq=min_freq, reserved_tokens=["<pad>"])
    for i in range(len(vocab)):
        assert vocab[vocab.to_tokens(i)] == i
    known = [t for line in tokens for t in line if t in vocab.token_to_idx]
    assert vocab.to_tokens(vocab[known]) == known
    assert vocab.to_tokens(torch.tensor(vocab[known], dtype=torch.long)) == known
    assert vocab[tokens] == [[vocab[t] for t in line] for line in tokens]


def test_vocab_unknown_tokens_map_to_unk():
    vocab = text.Vocab(["a", "b"])
    assert vocab["zebra"] == vocab.unk == 0
    assert vocab[["a", "zebra", "b"]] == [1, 0, 2]
    assert vocab[("b",)] == [2]
    assert vocab.to_tokens(0) == "<unk>"


def test_vocab_min_freq_drops_rare_tokens_but_counts_them():
    tokens = list("aaabbc")
    vocab = text.Vocab(tokens, min_freq=2)
    assert vocab.idx_to_token == ["<unk>", "a", "b"]
    assert vocab["c"] == vocab.unk
    assert vocab.token_freqs == [("a", 3), ("b", 2), ("c", 1)]
    assert len(text.Vocab(tokens, min_freq=4)) == 1
    assert len(text.Vocab(tokens, min_freq=0)) == len(text.Vocab(tokens, min_freq=1))


def test_vocab_reserved_token_in_corpus_keeps_its_index():
    vocab = text.Vocab(["<eos>", "a", "<eos>", "a", "a"], reserved_tokens=["<eos>"])
    assert vocab.idx_to_token == ["<unk>", "<eos>", "a"]


def test_vocab_empty_corpus_holds_only_special_tokens():
    assert text.Vocab().idx_to_token == ["<unk>"]
    assert text.Vocab([]).token_freqs == []
    vocab = text.Vocab([[]], reserved_tokens=["<pad>"])
    assert vocab.idx_to_token == ["<unk>", "<pad>"]


@pytest.mark.parametrize(
    "tokens", ["a string is not a token list", [1, 2], [["a", None]], [b"a"]]
)
def test_vocab_rejects_non_string_tokens(tokens):
    with pytest.raises(TypeError, match="tokens"):
        text.Vocab(tokens)


def test_vocab_rejects_bad_arguments():
    with pytest.raises(ValueError, match="-1"):
        text.Vocab(["a"], min_freq=-1)
    with pytest.raises(TypeError, match="min_freq"):
        text.Vocab(["a"], min_freq=1.5)
    with pytest.raises(ValueError, match="<unk>"):
        text.Vocab(["a"], reserved_tokens=["<unk>"])
    with pytest.raises(ValueError, match="<pad>"):
        text.Vocab(["a"], reserved_tokens=["<pad>", "<pad>"])
    with pytest.raises(TypeError, match="reserved_tokens"):
        text.Vocab(["a"], reserved_tokens="<pad>")


def test_vocab_lookup_errors_name_the_value():
    vocab = text.Vocab(["a", "b"])
    with pytest.raises(ValueError, match="3"):
        vocab.to_tokens(3)
    with pytest.raises(ValueError, match="-1"):
        vocab.to_tokens([0, -1])
    with pytest.raises(TypeError):
        vocab.to_tokens("a")
    with pytest.raises(TypeError):
        vocab[1]


# --- load_corpus_time_machine -------------------------------------------------


@pytest.mark.parametrize("token", ["char", "word"])
def test_load_corpus_time_machine_is_long_tensor_of_vocab(fake_book, token):
    corpus, vocab = text.load_corpus_time_machine(token=token)
    lines = text.read_time_machine()
    tokens = text.tokenize(lines, token)
    if token == "char":  # one space between consecutive non-empty lines
        flat = list(" ".join(line for line in lines if line))
    else:
        flat = [t for line in tokens for t in line]
    assert isinstance(corpus, torch.Tensor)
    assert corpus.dtype == torch.long and corpus.dim() == 1
    assert vocab.to_tokens(corpus) == flat  # no <unk>: the vocab saw every token
    assert vocab.idx_to_token == text.Vocab([flat]).idx_to_token


def test_load_corpus_time_machine_truncates(fake_book):
    full, vocab = text.load_corpus_time_machine()
    short, vocab2 = text.load_corpus_time_machine(max_tokens=10)
    assert torch.equal(short, full[:10])
    assert vocab2.idx_to_token == vocab.idx_to_token
    longer, _ = text.load_corpus_time_machine(max_tokens=10**6)
    assert torch.equal(longer, full)


@pytest.mark.parametrize("max_tokens", [0, -2])
def test_load_corpus_time_machine_rejects_bad_max_tokens(fake_book, max_tokens):
    with pytest.raises(ValueError, match=str(max_tokens)):
        text.load_corpus_time_machine(max_tokens=max_tokens)
    with pytest.raises(TypeError, match="max_tokens"):
        text.load_corpus_time_machine(max_tokens=2.0)


def test_load_corpus_time_machine_real_book_chars():
    corpus, vocab = text.load_corpus_time_machine()
    assert len(vocab) == 28  # <unk>, space and 26 letters
    assert vocab.idx_to_token[:4] == ["<unk>", " ", "e", "t"]
    assert corpus.shape == (173427,)  # 170580 letters and spaces + 2847 breaks
    assert int((corpus == vocab.unk).sum()) == 0


def test_tokenize_and_vocab_take_tuples_too():
    assert text.tokenize(("a b", "c")) == [["a", "b"], ["c"]]
    assert text.tokenize(("ab",), "char") == [["a", "b"]]
    vocab = text.Vocab((("b", "a"), ("a",)), reserved_tokens=("<pad>",))
    assert vocab.idx_to_token == ["<unk>", "<pad>", "a", "b"]
    assert text.Vocab(("x", "y", "x")).idx_to_token == ["<unk>", "x", "y"]


def test_vocab_argument_types():
    with pytest.raises(TypeError, match="min_freq must be an int, got True"):
        text.Vocab(["a"], min_freq=True)
    with pytest.raises(TypeError, match="reserved_tokens must be a list of str"):
        text.Vocab(["a"], reserved_tokens=["<pad>", 3])
    assert text.Vocab(["a", "a", "b"], min_freq=2).idx_to_token == ["<unk>", "a"]
    assert text.Vocab(None, reserved_tokens=None).idx_to_token == ["<unk>"]


def test_vocab_to_tokens_takes_any_integer_index():
    vocab = text.Vocab(["a", "b"])
    assert vocab.to_tokens(np.int64(2)) == "b"
    assert vocab.to_tokens(torch.tensor(1)) == "a"
    assert vocab.to_tokens((0, 2)) == ["<unk>", "b"]
    assert vocab.to_tokens(len(vocab) - 1) == "b"
    with pytest.raises(ValueError, match="index 3 is out of range for a vocabulary "
                       "of 3 tokens"):
        vocab.to_tokens(len(vocab))
    with pytest.raises(TypeError, match="an index must be an int, got 1.0"):
        vocab.to_tokens(1.0)


def test_load_corpus_time_machine_keeps_one_token(fake_book):
    full, _ = text.load_corpus_time_machine()
    one, _ = text.load_corpus_time_machine(max_tokens=1)
    assert one.tolist() == full[:1].tolist()
    words, vocab = text.load_corpus_time_machine(max_tokens=3, token="word")
    assert vocab.to_tokens(words) == ["the", "time", "machine"]
