"""download_file against the local server: retries, resume, timeouts, checksums, offline."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from semiseg_zoo.zoo import ChecksumError, DownloadError, NotCachedError, download_file
from semiseg_zoo.zoo.download import part_path

SIZE = 300_000


@pytest.fixture
def served(zoo_server, tmp_path):
    """A 300 kB random file served as /blob.bin; returns (url, bytes, sha256, settings)."""
    from semiseg_zoo.zoo import zoo_settings

    data = np.random.default_rng(0).bytes(SIZE)
    (zoo_server.folder / "blob.bin").write_bytes(data)
    settings = zoo_settings(cache_dir=tmp_path / "cache", timeout=1.0, retries=2, backoff=0.01)
    return zoo_server.base_url + "blob.bin", data, hashlib.sha256(data).hexdigest(), settings


def test_download_verifies_and_renames(served, zoo_server, tmp_path):
    url, data, sha, settings = served
    target = tmp_path / "out" / "blob.bin"
    assert download_file(url, target, sha256=sha, settings=settings, progress=False) == target
    assert target.read_bytes() == data
    assert not part_path(target).exists()
    assert [r.range for r in zoo_server.requests_for("/blob.bin")] == [None]


def test_404_fails_at_once(served, zoo_server, tmp_path):
    _, _, _, settings = served
    url = zoo_server.base_url + "missing.bin"
    with pytest.raises(
        DownloadError, match=r"missing\.bin: not found \(HTTP 404\) \(after 1 attempt\)"
    ):
        download_file(url, tmp_path / "m.bin", sha256=None, settings=settings, progress=False)
    assert len(zoo_server.requests_for("/missing.bin")) == 1


def test_500_then_ok_succeeds_after_one_retry(served, zoo_server, tmp_path):
    url, data, sha, settings = served
    zoo_server.faults["/blob.bin"] = ["500"]
    target = download_file(url, tmp_path / "b.bin", sha256=sha, settings=settings, progress=False)
    assert target.read_bytes() == data
    assert len(zoo_server.requests_for("/blob.bin")) == 2


def test_500_forever_fails_after_all_retries(served, zoo_server, tmp_path):
    url, _, sha, settings = served
    zoo_server.faults["/blob.bin"] = ["500"] * 10
    with pytest.raises(DownloadError, match=r"HTTP 500 .*after 3 attempts") as caught:
        download_file(url, tmp_path / "b.bin", sha256=sha, settings=settings, progress=False)
    assert caught.value.status == 500 and caught.value.attempts == settings.retries + 1
    assert len(zoo_server.requests_for("/blob.bin")) == 3
    assert not (tmp_path / "b.bin").exists()


def test_slow_server_times_out_then_retry_succeeds(served, zoo_server, tmp_path):
    url, data, sha, settings = served
    settings = dataclasses.replace(settings, timeout=0.4)
    zoo_server.slow_seconds = 1.0
    zoo_server.faults["/blob.bin"] = ["slow"]
    target = download_file(url, tmp_path / "b.bin", sha256=sha, settings=settings, progress=False)
    assert target.read_bytes() == data
    assert len(zoo_server.requests_for("/blob.bin")) == 2


def test_slow_server_forever_is_a_timeout_error(served, zoo_server, tmp_path):
    url, _, _, settings = served
    settings = dataclasses.replace(settings, timeout=0.3, retries=1)
    zoo_server.slow_seconds = 1.0
    zoo_server.faults["/blob.bin"] = ["slow", "slow"]
    with pytest.raises(DownloadError, match=r"timed out .*after 2 attempts"):
        download_file(url, tmp_path / "b.bin", sha256=None, settings=settings, progress=False)


def test_truncated_transfer_is_resumed_with_a_range_request(served, zoo_server, tmp_path):
    url, data, sha, settings = served
    zoo_server.faults["/blob.bin"] = ["truncate"]
    target = download_file(url, tmp_path / "b.bin", sha256=sha, settings=settings, progress=False)
    assert target.read_bytes() == data
    assert [r.range for r in zoo_server.requests_for("/blob.bin")] == [None, f"bytes={SIZE // 2}-"]


def test_server_without_range_support_restarts_from_zero(served, zoo_server, tmp_path):
    url, data, sha, settings = served
    zoo_server.faults["/blob.bin"] = ["truncate", "norange"]
    target = download_file(url, tmp_path / "b.bin", sha256=sha, settings=settings, progress=False)
    assert target.read_bytes() == data
    assert len(zoo_server.requests_for("/blob.bin")) == 2


def test_existing_part_file_is_resumed(served, zoo_server, tmp_path):
    url, data, sha, settings = served
    target = tmp_path / "b.bin"
    part_path(target).write_bytes(data[:1000])
    download_file(url, target, sha256=sha, settings=settings, progress=False)
    assert target.read_bytes() == data
    assert [r.range for r in zoo_server.requests_for("/blob.bin")] == ["bytes=1000-"]


def test_complete_part_file_is_finished_after_416(served, zoo_server, tmp_path):
    url, data, sha, settings = served
    target = tmp_path / "b.bin"
    part_path(target).write_bytes(data)
    download_file(url, target, sha256=sha, settings=settings, progress=False)
    assert target.read_bytes() == data
    assert [r.range for r in zoo_server.requests_for("/blob.bin")] == [f"bytes={SIZE}-"]


def test_checksum_mismatch_removes_the_part_file(served, tmp_path):
    url, data, sha, settings = served
    target = tmp_path / "b.bin"
    wrong = "0" * 64
    with pytest.raises(ChecksumError, match=rf"blob\.bin: expected {wrong}, got {sha}"):
        download_file(url, target, sha256=wrong, settings=settings, progress=False)
    assert list(tmp_path.glob("b.bin*")) == []


def test_offline_makes_no_request(served, zoo_server, tmp_path):
    url, _, sha, settings = served
    settings = dataclasses.replace(settings, offline=True)
    with pytest.raises(NotCachedError, match="blob.bin"):
        download_file(url, tmp_path / "b.bin", sha256=sha, settings=settings, progress=False)
    assert zoo_server.requests == []


def test_local_paths_and_file_urls_are_copied_and_verified(served, tmp_path):
    _, data, sha, settings = served
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    offline = dataclasses.replace(settings, offline=True)
    first = download_file(str(source), tmp_path / "a.bin", sha256=sha, settings=offline)
    second = download_file(source.as_uri(), tmp_path / "b.bin", sha256=sha, settings=offline)
    assert first.read_bytes() == data and second.read_bytes() == data
    with pytest.raises(ChecksumError, match="source.bin"):
        download_file(str(source), tmp_path / "c.bin", sha256="1" * 64, settings=offline)
    assert not (tmp_path / "c.bin").exists() and not (tmp_path / "c.bin.part").exists()
    with pytest.raises(FileNotFoundError, match="nothing.bin does not exist"):
        download_file(
            str(tmp_path / "nothing.bin"), tmp_path / "d.bin", sha256=None, settings=offline
        )


def test_unsupported_scheme(served, tmp_path):
    _, _, _, settings = served
    with pytest.raises(ValueError, match="ftp://example.org/x"):
        download_file("ftp://example.org/x", tmp_path / "x", sha256=None, settings=settings)


def test_progress_bar_goes_to_stderr(served, tmp_path, capsys):
    url, _, sha, settings = served
    download_file(url, tmp_path / "b.bin", sha256=sha, settings=settings, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "blob.bin" in captured.err
