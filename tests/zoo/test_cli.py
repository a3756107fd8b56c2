"""semiseg-zoo: list, search, info, download and cache, in-process via main() and end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from semiseg_zoo.cli.zoo import main

from .conftest import FIXTURE_DOI
from .helpers import sha256_of

NUCLEI = "enhancer-nuclei-lm"


def _zoo_args(zoo) -> list[str]:
    return ["--collection", zoo.collection_url, "--cache", str(zoo.settings.cache_dir), "-q"]


def _run(zoo, capsys, *args: str) -> tuple[int, str, str]:
    code = main([*_zoo_args(zoo), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_prints_a_table_with_the_count(local_zoo, capsys):
    code, out, err = _run(local_zoo, capsys, "list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["id", "kind", "name", "tags"]
    ids = {line.split()[0] for line in lines[2:-1]}
    assert ids == {NUCLEI, "enhancer-mito-em", *local_zoo.third_party}
    assert lines[-1] == f"{len(ids)} model(s) in {local_zoo.collection_url}"


def test_list_filters_by_kind_and_tag(local_zoo, capsys):
    code, out, _ = _run(local_zoo, capsys, "list", "--kind", "enhancer", "--tag", "nuclei")
    assert code == 0
    assert [line.split()[:2] for line in out.splitlines()[2:-1]] == [[NUCLEI, "enhancer"]]
    assert out.splitlines()[-1].startswith("1 model(s)")


def test_list_json(local_zoo, capsys):
    code, out, _ = _run(local_zoo, capsys, "list", "--json", "--kind", "enhancer")
    entries = json.loads(out)
    assert code == 0 and {e["id"] for e in entries} == {NUCLEI, "enhancer-mito-em"}
    nuclei = next(e for e in entries if e["id"] == NUCLEI)
    assert nuclei["dois"] == [FIXTURE_DOI] and nuclei["kind"] == "enhancer"


def test_search(local_zoo, capsys):
    code, out, _ = _run(local_zoo, capsys, "search", "mitochondria")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[2:-1]] == ["enhancer-mito-em"]
    code, out, _ = _run(local_zoo, capsys, "search", "no such words anywhere")
    assert code == 0 and out.strip() == f"0 model(s) in {local_zoo.collection_url}"


def test_global_options_after_the_command(local_zoo, capsys):
    code = main(["search", "nuclei", "--json", *_zoo_args(local_zoo)])
    assert code == 0
    assert [e["id"] for e in json.loads(capsys.readouterr().out)] == [NUCLEI]


def test_info_before_and_after_download(local_zoo, capsys):
    code, out, _ = _run(local_zoo, capsys, "info", "nuclear-lamp")
    assert code == 0
    assert f"id           {NUCLEI}" in out and "kind         enhancer" in out
    assert f"doi          {FIXTURE_DOI}" in out
    assert "cached       no (`semiseg-zoo download nuclear-lamp` fetches it)" in out
    assert _run(local_zoo, capsys, "download", NUCLEI)[0] == 0
    code, out, _ = _run(local_zoo, capsys, "info", NUCLEI)
    assert code == 0
    assert "format_version  0.5.9" in out
    assert "inputs          input (bcyx)" in out and "outputs         output (bcyx)" in out
    assert "weights         onnx, pytorch_state_dict, torchscript" in out


@pytest.mark.data
def test_info_json_of_a_local_folder_package(third_party, capsys):
    folder = third_party.folder / "unet2d_multi_tensor"
    code, out, _ = _run(third_party, capsys, "info", str(folder), "--json")
    document = json.loads(out)
    assert code == 0 and document["entry"] is None
    assert document["package"]["inputs"] == [
        {"id": "input0", "axes": "bcyx"},
        {"id": "input1", "axes": "bcyx"},
    ]
    assert document["package"]["weight_formats"] == ["pytorch_state_dict", "torchscript"]
    assert document["package"]["format_version"] == "0.5.4"


def test_download_prints_the_cached_path(local_zoo, capsys):
    code, out, err = _run(local_zoo, capsys, "download", NUCLEI, f"doi:{FIXTURE_DOI}")
    assert code == 0 and err == ""
    first, second = (Path(line) for line in out.splitlines())
    assert first == second and first.name == "package.zip"
    assert sha256_of(first) == sha256_of(local_zoo.folder / f"{NUCLEI}.zip")


def test_download_unknown_id_is_one_line_naming_a_close_match(local_zoo, capsys):
    code, out, err = _run(local_zoo, capsys, "download", "enhancer-nucleii-lm", "enhancer-mito-em")
    assert code == 2
    assert out.strip().endswith("package.zip")  # the other reference was still downloaded
    assert err.count("\n") == 1
    assert err.startswith("semiseg-zoo: error: no model 'enhancer-nucleii-lm'")
    assert f"did you mean '{NUCLEI}'" in err


def test_download_failure_exit_code(local_zoo, capsys):
    local_zoo.entry(NUCLEI)["sha256"] = "0" * 64
    local_zoo.write_index()
    code, _, err = _run(local_zoo, capsys, "download", NUCLEI)
    assert code == 1 and "sha256 mismatch" in err and "Traceback" not in err
    code, _, err = _run(local_zoo, capsys, "-v", "download", NUCLEI)
    assert code == 1 and "Traceback" in err


def test_offline_download_of_an_uncached_package(local_zoo, capsys):
    code, _, err = _run(local_zoo, capsys, "--offline", "download", NUCLEI)
    assert code == 1
    assert f"'{NUCLEI}' is not in the cache" in err and local_zoo.server.requests == []


def test_cache_list_and_clear(local_zoo, capsys):
    _run(local_zoo, capsys, "download", NUCLEI, "enhancer-mito-em")
    code, out, _ = _run(local_zoo, capsys, "cache")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[2:-1]] == ["enhancer-mito-em", NUCLEI]
    assert out.splitlines()[-1].startswith("2 reference(s), 2 package(s), 3.")
    code, out, _ = _run(local_zoo, capsys, "cache", "--clear", NUCLEI)
    assert code == 0 and out.startswith(f"removed '{NUCLEI}': 1 package(s) deleted")
    code, out, _ = _run(local_zoo, capsys, "cache", "--clear")
    assert code == 0 and out.startswith("removed everything: 1 package(s) deleted")
    code, out, _ = _run(local_zoo, capsys, "cache")
    assert out.strip().startswith("0 reference(s), 0 package(s), 0 B")
    code, _, err = _run(local_zoo, capsys, "cache", "--clear", NUCLEI)
    assert code == 1 and "is not in the cache" in err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["list", "--no-such-option"])
    assert exit_info.value.code == 2
    capsys.readouterr()


def test_missing_local_collection(tmp_path, capsys):
    code = main(["--collection", str(tmp_path / "none.json"), "list"])
    assert code == 2
    assert "none.json does not exist" in capsys.readouterr().err


def _console_script() -> str | None:
    beside = Path(sys.executable).parent / "semiseg-zoo"
    return str(beside) if beside.is_file() else shutil.which("semiseg-zoo")


SCRIPT = _console_script()


@pytest.mark.skipif(SCRIPT is None, reason="semiseg-zoo is not installed")
def test_console_script_end_to_end(local_zoo):
    result = subprocess.run(
        [SCRIPT, *_zoo_args(local_zoo), "list", "--json", "--kind", "enhancer"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert {e["id"] for e in json.loads(result.stdout)} == {NUCLEI, "enhancer-mito-em"}


def test_help_imports_nothing_heavy():
    code = (
        "import sys; from semiseg_zoo.cli.zoo import build_parser; build_parser(); "
        "heavy = [m for m in ('torch', 'httpx', 'semiseg_zoo.zoo') if m in sys.modules]; "
        "print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_info_of_an_uncached_url(local_zoo, capsys):
    url = local_zoo.base_url + f"{NUCLEI}.zip"
    code, _, err = _run(local_zoo, capsys, "info", url)
    assert code == 1
    assert err.strip().endswith(f"`semiseg-zoo download {url}` fetches it")
    assert local_zoo.server.requests == []


def test_stale_index_warning_goes_to_stderr(local_zoo, capsys):
    assert _run(local_zoo, capsys, "list")[0] == 0
    local_zoo.server.faults["/collection.json"] = ["404"]  # no retries, so no backoff waits
    code, out, err = _run(local_zoo, capsys, "list", "--refresh")
    assert code == 0 and NUCLEI in out
    assert err.startswith("semiseg-zoo: warning: could not download")
    assert "using the cached copy from" in err
