"""Fixtures of the zoo tests: a local HTTP server with fault injection serving a small collection.

Nothing here reaches the internet, and every test gets its own cache folder: ``SEMISEG_CACHE``
and ``SEMISEG_COLLECTION`` point into ``tmp_path`` (the latter at a closed local port), so a test
that forgets its settings can neither touch ``~/.cache`` nor bioimage.io.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from semiseg_zoo.spec.paths import data_root
from semiseg_zoo.zoo import ZooSettings, build_collection, zoo_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILTIN_PACKAGES = ("enhancer-nuclei-lm.zip", "enhancer-mito-em.zip")
THIRD_PARTY_PACKAGES = ("unet2d_diff_output_shape", "unet2d_multi_tensor")
FIXTURE_DOI = "10.5281/zenodo.1234567"
ZOO_ENV = (
    "SEMISEG_OFFLINE",
    "SEMISEG_HTTP_TIMEOUT",
    "BIOIMAGEIO_ID_MAP",
    "BIOIMAGEIO_COLLECTION_HTTP_PATTERN",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@pytest.fixture(autouse=True)
def _isolated_zoo_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SEMISEG_CACHE", str(tmp_path / "env-cache"))
    monkeypatch.setenv("SEMISEG_COLLECTION", "http://127.0.0.1:9/no-collection.json")
    for name in ZOO_ENV:
        monkeypatch.delenv(name, raising=False)


@dataclass
class Request:
    """One request the server received."""

    path: str
    range: str | None


class ZooServer(http.server.ThreadingHTTPServer):
    """Serves a folder; ``faults`` maps a URL path to behaviours consumed one per request."""

    daemon_threads = True

    def __init__(self, folder: Path) -> None:
        handler = functools.partial(FaultyHandler, directory=str(folder))
        super().__init__(("127.0.0.1", 0), handler)
        self.folder = folder
        self.faults: dict[str, list[str]] = {}
        self.requests: list[Request] = []
        self.slow_seconds = 1.0
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def requests_for(self, path: str) -> list[Request]:
        with self.lock:
            return [request for request in self.requests if request.path == path]

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        pass  # a client that timed out closed the socket under a slow response


class FaultyHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with ``Range`` support and the behaviours ``404``, ``500``, ``slow`` (sleep
    past the client's timeout, then answer), ``truncate`` (full Content-Length, half the body,
    close) and ``norange`` (answer 200 with the whole file to a Range request)."""

    server: ZooServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        path = unquote(urlsplit(self.path).path)
        range_header = self.headers.get("Range")
        with self.server.lock:
            self.server.requests.append(Request(path, range_header))
            pending = self.server.faults.get(path)
            behaviour = pending.pop(0) if pending else None
        if behaviour == "404":
            self.send_error(404)
            return
        if behaviour == "500":
            self.send_error(500)
            return
        if behaviour == "slow":
            time.sleep(self.server.slow_seconds)
        file = Path(self.translate_path(self.path))
        if not file.is_file():
            self.send_error(404)
            return
        data = file.read_bytes()
        start = 0
        if range_header and behaviour != "norange":
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if behaviour == "truncate":
            body = body[: len(body) // 2]
            self.close_connection = True
        self.wfile.write(body)
        self.wfile.flush()


@pytest.fixture
def zoo_server(tmp_path) -> Iterator[ZooServer]:
    """A threaded HTTP server on 127.0.0.1 serving ``tmp_path / "served"``."""
    folder = tmp_path / "served"
    folder.mkdir()
    server = ZooServer(folder)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class LocalZoo:
    """The served collection: folder, base URL, settings, and what it holds."""

    server: ZooServer
    folder: Path
    base_url: str
    settings: ZooSettings
    index: dict = field(default_factory=dict)
    third_party: tuple[str, ...] = ()

    @property
    def collection_url(self) -> str:
        return self.base_url + "collection.json"

    def write_index(self) -> None:
        """Write ``index`` (after a test changed it) as the served collection.json."""
        (self.folder / "collection.json").write_text(json.dumps(self.index, indent=1))

    def entry(self, entry_id: str) -> dict:
        return next(e for e in self.index["collection"] if e["id"] == entry_id)


def _copy_folder(source: Path, destination: Path) -> None:
    """Copy file contents only (the shared data is read-only; tests tamper with their copy)."""
    destination.mkdir()
    for file in source.iterdir():
        if file.is_file():
            shutil.copyfile(file, destination / file.name)


@pytest.fixture
def local_zoo(zoo_server, tmp_path) -> LocalZoo:
    """Two built-in enhancer zips and (if the data is there) two third-party package folders,
    served with a collection.json; ``enhancer-nuclei-lm`` has a DOI and a nickname."""
    folder = zoo_server.folder
    packages = []
    for name in BUILTIN_PACKAGES:
        shutil.copyfile(REPO_ROOT / "semiseg_zoo" / "models" / name, folder / name)
        packages.append(folder / name)
    third_party: list[str] = []
    zoo_models = data_root() / "zoo_models"
    for name in THIRD_PARTY_PACKAGES:
        if (zoo_models / name).is_dir():
            _copy_folder(zoo_models / name, folder / name)
            packages.append(folder / name)
            third_party.append(name)
    index = build_collection(packages, zoo_server.base_url)
    nuclei = next(e for e in index["collection"] if e["id"] == "enhancer-nuclei-lm")
    nuclei.update(doi=FIXTURE_DOI, nickname="nuclear-lamp")
    settings = zoo_settings(
        cache_dir=tmp_path / "cache",
        collection=zoo_server.base_url + "collection.json",
        timeout=1.0,
        retries=2,
        backoff=0.01,
    )
    zoo = LocalZoo(
        server=zoo_server,
        folder=folder,
        base_url=zoo_server.base_url,
        settings=settings,
        index=index,
        third_party=tuple(third_party),
    )
    zoo.write_index()
    return zoo


@pytest.fixture
def third_party(local_zoo) -> LocalZoo:
    """:func:`local_zoo`, skipped when the third-party packages are not in the data root."""
    if len(local_zoo.third_party) < len(THIRD_PARTY_PACKAGES):
        pytest.skip(f"third-party zoo packages not found in {data_root() / 'zoo_models'}")
    return local_zoo


def cache_files(cache_dir: Path) -> list[str]:
    """Every file below ``cache_dir`` (relative, sorted), to assert what a failure left behind."""
    if not cache_dir.exists():
        return []
    return sorted(str(p.relative_to(cache_dir)) for p in cache_dir.rglob("*") if p.is_file())


def package_files(cache_dir: Path) -> list[str]:
    """The files of cached packages and references (not the cached collection index)."""
    return [name for name in cache_files(cache_dir) if not name.startswith("collections" + os.sep)]
