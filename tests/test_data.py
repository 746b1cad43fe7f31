"""Tests of d2lrnn.data: every path through ``download``, never the network."""

from __future__ import annotations

import hashlib
import io
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from d2lrnn import data

CONTENT = b"It was a time machine.\nA tiny stand-in for the book.\n"
SHA1 = hashlib.sha1(CONTENT).hexdigest()
NAME = "tiny"
FNAME = "tiny.txt"
URL = "http://example.invalid/data/" + FNAME


class FakeResponse(io.BytesIO):
    """What ``urllib.request.urlopen`` returns, served from memory."""

    def __init__(self, payload: bytes, fail_after: int | None = None):
        super().__init__(payload)
        self.fail_after = fail_after
        self.served = 0

    def read(self, size: int = -1) -> bytes:
        if self.fail_after is not None and self.served >= self.fail_after:
            raise ConnectionResetError("connection dropped mid-download")
        chunk = super().read(7 if size < 0 else min(size, 7))
        self.served += len(chunk)
        return chunk


class Opener:
    """A fake ``urlopen`` that records its calls."""

    def __init__(self, payload: bytes = CONTENT, fail_after: int | None = None):
        self.payload = payload
        self.fail_after = fail_after
        self.calls: list[str] = []

    def __call__(self, url, timeout=None):
        assert timeout is not None and timeout > 0, "downloads need a timeout"
        self.calls.append(url)
        return FakeResponse(self.payload, self.fail_after)


def offline(url, timeout=None):
    raise urllib.error.URLError("no network in tests")


@pytest.fixture(autouse=True)
def sandbox(monkeypatch, tmp_path):
    """A registry entry for a tiny file, no mirror, no network, a tmp cache."""
    monkeypatch.setitem(data.DATA_HUB, NAME, (URL, SHA1))
    monkeypatch.delenv("D2LRNN_DATA_DIR", raising=False)
    monkeypatch.setenv("D2LRNN_CACHE_DIR", str(tmp_path / "env-cache"))
    monkeypatch.setattr(urllib.request, "urlopen", offline)


def use_opener(monkeypatch, opener) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", opener)


def leftovers(folder: Path) -> list[str]:
    """Names in ``folder`` other than the downloaded file itself."""
    return sorted(p.name for p in folder.iterdir() if p.name != FNAME)


def test_data_hub_time_machine_entry_matches_d2l():
    url, sha1 = data.DATA_HUB["time_machine"]
    assert data.DATA_URL == "http://d2l-data.s3-accelerate.amazonaws.com/"
    assert url == data.DATA_URL + "timemachine.txt"
    assert sha1 == "090b5e7e70c295757f55df93cb0a180b9691891a"


def test_file_sha1_matches_hashlib(tmp_path):
    path = tmp_path / "f.bin"
    payload = os.urandom(3 * (1 << 20) + 5)  # several read chunks
    path.write_bytes(payload)
    assert data.file_sha1(path) == hashlib.sha1(payload).hexdigest()


def test_download_mirror_hit_skips_cache_and_network(monkeypatch, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / FNAME).write_bytes(CONTENT)
    monkeypatch.setenv("D2LRNN_DATA_DIR", str(mirror))
    opener = Opener()
    use_opener(monkeypatch, opener)
    cache = tmp_path / "cache"
    path = data.download(NAME, cache_dir=cache)
    assert path == mirror / FNAME
    assert isinstance(path, Path)
    assert opener.calls == []
    assert not cache.exists()


def test_download_mirror_hash_mismatch_names_hashes_and_keeps_file(
    monkeypatch, tmp_path
):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    bad = b"not the book"
    (mirror / FNAME).write_bytes(bad)
    monkeypatch.setenv("D2LRNN_DATA_DIR", str(mirror))
    opener = Opener()
    use_opener(monkeypatch, opener)
    with pytest.raises(ValueError) as info:
        data.download(NAME, cache_dir=tmp_path / "cache")
    message = str(info.value)
    assert SHA1 in message
    assert hashlib.sha1(bad).hexdigest() in message
    assert str(mirror / FNAME) in message
    assert isinstance(info.value, data.ChecksumError)
    assert (mirror / FNAME).read_bytes() == bad  # the user's mirror is untouched
    assert opener.calls == []


def test_download_mirror_missing_directory_is_clear_error(monkeypatch, tmp_path):
    missing = tmp_path / "no-such-dir"
    monkeypatch.setenv("D2LRNN_DATA_DIR", str(missing))
    with pytest.raises(FileNotFoundError, match="D2LRNN_DATA_DIR") as info:
        data.download(NAME, cache_dir=tmp_path / "cache")
    assert str(missing) in str(info.value)


def test_download_mirror_without_the_file_falls_back_to_cache(monkeypatch, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("D2LRNN_DATA_DIR", str(mirror))
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / FNAME).write_bytes(CONTENT)
    assert data.download(NAME, cache_dir=cache) == cache / FNAME
    assert list(mirror.iterdir()) == []


def test_download_cache_hit_never_calls_opener(monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / FNAME).write_bytes(CONTENT)
    opener = Opener()
    use_opener(monkeypatch, opener)
    assert data.download(NAME, cache_dir=cache) == cache / FNAME
    assert opener.calls == []


def test_download_cache_dir_defaults_to_env_var(monkeypatch, tmp_path):
    opener = Opener()
    use_opener(monkeypatch, opener)
    path = data.download(NAME)
    assert path == tmp_path / "env-cache" / FNAME
    assert path.read_bytes() == CONTENT


def test_download_cache_dir_defaults_to_home_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("D2LRNN_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    opener = Opener()
    use_opener(monkeypatch, opener)
    path = data.download(NAME)
    assert path == tmp_path / "home" / ".cache" / "d2lrnn" / FNAME


def test_download_corrupted_cache_is_replaced(monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / FNAME).write_bytes(CONTENT[:-5])  # a truncated earlier download
    opener = Opener()
    use_opener(monkeypatch, opener)
    path = data.download(NAME, cache_dir=cache)
    assert opener.calls == [URL]
    assert path.read_bytes() == CONTENT
    assert leftovers(cache) == []


def test_download_corrupted_cache_is_removed_even_offline(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / FNAME).write_bytes(b"garbage")
    with pytest.raises(data.DownloadError):
        data.download(NAME, cache_dir=cache)
    assert list(cache.iterdir()) == []


def test_download_success_is_atomic_and_cached(monkeypatch, tmp_path, capsys):
    cache = tmp_path / "a" / "b"  # created on demand
    opener = Opener()
    use_opener(monkeypatch, opener)
    path = data.download(NAME, cache_dir=str(cache))
    assert path == cache / FNAME
    assert path.read_bytes() == CONTENT
    assert leftovers(cache) == []  # no temporary file stays behind
    assert opener.calls == [URL]
    assert URL in capsys.readouterr().out
    # A second call is a cache hit, even offline.
    use_opener(monkeypatch, offline)
    assert data.download(NAME, cache_dir=cache) == path


def test_download_interrupted_leaves_no_partial_file(monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    opener = Opener(fail_after=14)
    use_opener(monkeypatch, opener)
    with pytest.raises(ConnectionError, match="D2LRNN_DATA_DIR"):
        data.download(NAME, cache_dir=cache)
    assert opener.calls == [URL]
    assert list(cache.iterdir()) == []


def test_download_hash_mismatch_removes_file_and_names_hashes(monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    wrong = b"an error page from a proxy"
    use_opener(monkeypatch, Opener(payload=wrong))
    with pytest.raises(ValueError) as info:
        data.download(NAME, cache_dir=cache)
    assert SHA1 in str(info.value)
    assert hashlib.sha1(wrong).hexdigest() in str(info.value)
    assert list(cache.iterdir()) == []


def test_download_offline_without_mirror_says_how_to_fix(tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(data.DownloadError, match="D2LRNN_DATA_DIR") as info:
        data.download(NAME, cache_dir=cache)
    assert isinstance(info.value, OSError)
    assert URL in str(info.value)
    assert list(cache.iterdir()) == []


def test_download_timeout_is_reported_as_download_error(monkeypatch, tmp_path):
    def slow(url, timeout=None):
        raise TimeoutError("timed out")

    use_opener(monkeypatch, slow)
    with pytest.raises(data.DownloadError, match="timed out"):
        data.download(NAME, cache_dir=tmp_path / "cache")


def test_download_unknown_name_lists_known_names(tmp_path):
    with pytest.raises(KeyError) as info:
        data.download("time-machine", cache_dir=tmp_path)
    assert "time-machine" in str(info.value)
    assert "time_machine" in str(info.value)


def test_download_name_must_be_str(tmp_path):
    with pytest.raises(TypeError, match="name"):
        data.download(Path("time_machine"), cache_dir=tmp_path)


def test_download_streams_into_a_hidden_part_file_beside_the_target(
    monkeypatch, tmp_path
):
    cache = tmp_path / "cache"
    during, sizes, timeouts = [], [], []

    class Watched(FakeResponse):
        def read(self, size=-1):
            during.append(sorted(p.name for p in cache.iterdir()))
            sizes.append(size)
            return super().read(size)

    def opener(url, timeout=None):
        timeouts.append(timeout)
        return Watched(CONTENT)

    use_opener(monkeypatch, opener)
    path = data.download(NAME, cache_dir=cache)
    assert path.read_bytes() == CONTENT and leftovers(cache) == []
    (partial,) = during[0]  # while downloading: one temporary file, same folder
    assert partial.startswith(f".{FNAME}.") and partial.endswith(".part")
    assert all(names == [partial] for names in during)
    assert set(sizes) == {1 << 20}  # 1 MiB chunks, never the whole response
    assert timeouts == [60.0]


def test_file_sha1_reads_in_1_mib_chunks(monkeypatch, tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc" * 1000)
    sizes = []
    real_open = open

    class Recording:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def read(self, size=-1):
            sizes.append(size)
            return self.f.read(size)

    monkeypatch.setattr(data, "open", lambda p, mode: Recording(real_open(p, mode)),
                        raising=False)
    assert data.file_sha1(path) == hashlib.sha1(b"abc" * 1000).hexdigest()
    assert sizes == [1 << 20, 1 << 20]  # the data, then the empty read that ends it


def test_download_expands_a_tilde_in_mirror_and_cache(monkeypatch, tmp_path):
    home = tmp_path / "home"
    (home / "mirror").mkdir(parents=True)
    (home / "mirror" / FNAME).write_bytes(CONTENT)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("D2LRNN_DATA_DIR", "~/mirror")
    assert data.download(NAME) == home / "mirror" / FNAME
    monkeypatch.delenv("D2LRNN_DATA_DIR")
    use_opener(monkeypatch, Opener())
    assert data.download(NAME, cache_dir="~/c") == home / "c" / FNAME
    monkeypatch.setenv("D2LRNN_CACHE_DIR", "~/env")
    assert data.download(NAME) == home / "env" / FNAME


def test_download_into_an_existing_cache_folder(monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "other.txt").write_text("kept")
    use_opener(monkeypatch, Opener())
    assert data.download(NAME, cache_dir=cache).read_bytes() == CONTENT
    assert (cache / "other.txt").read_text() == "kept"


def test_download_file_name_is_the_last_part_of_the_url(monkeypatch, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / FNAME).write_bytes(CONTENT)
    monkeypatch.setenv("D2LRNN_DATA_DIR", str(mirror))
    monkeypatch.setitem(data.DATA_HUB, "bare", (FNAME, SHA1))  # no folder at all
    monkeypatch.setitem(data.DATA_HUB, "deep", ("http://x.invalid/a/b/" + FNAME, SHA1))
    assert data.download("bare") == mirror / FNAME
    assert data.download("deep") == mirror / FNAME
