"""semiseg-export check: exit codes, report and JSON in-process via main(), and the console
script in a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from semiseg_zoo.cli.export import build_parser, main, parse_targets
from tests.package_edits import ENHANCER, MODELS, rewrite_package

TEACHER = MODELS / "teacher-nuclei-2d-actis.zip"


def _sigmoid_output(rdf: dict[str, Any]) -> None:
    rdf["outputs"][0]["postprocessing"] = [{"id": "sigmoid"}]


@pytest.fixture
def fast(tmp_path) -> list[str]:
    """Options that keep a check run fast: no test_model, no legacy interpreter."""
    return ["--no-test-model", "--legacy-python", str(tmp_path / "no-such-python")]


def test_help_does_not_import_heavy_modules():
    heavy = "('torch', 'bioimageio.spec', 'onnx', 'numpy')"
    code = (
        "import sys; from semiseg_zoo.cli.export import build_parser; build_parser(); "
        f"print(sorted(m for m in {heavy} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_parser_defaults():
    args = build_parser().parse_args(["check", "a.zip"])
    assert (args.command, args.packages, args.target) == (
        "check",
        [Path("a.zip")],
        "core,ilastik,deepimagej",
    )
    assert (args.no_test_model, args.legacy_python, args.json) == (False, None, False)


def test_parse_targets():
    assert parse_targets("deepimagej, ILASTIK") == ("ilastik", "deepimagej")
    with pytest.raises(ValueError, match=r"unknown or no target\(s\) \['fiji'\]"):
        parse_targets("core,fiji")
    with pytest.raises(ValueError, match="unknown or no target"):
        parse_targets(",")


def test_passing_package_exits_0_and_prints_the_table(capsys, fast):
    assert main(["check", str(ENHANCER), *fast]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["STATUS", "CHECK", "TARGETS", "DETAIL"]
    assert "SKIPPED  spec 0.5.9" in out  # skipped checks are printed
    assert "SKIPPED  test_model" in out
    assert out.splitlines()[-1] == "15 passed, 0 failed, 2 skipped"


def test_failing_check_exits_1_and_names_the_check(capsys, fast, tmp_path):
    broken = rewrite_package(tmp_path / "sigmoid.zip", edit=_sigmoid_output)
    assert main(["check", str(broken), *fast]) == 1
    out = capsys.readouterr().out
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1
    assert failed[0].split()[1:4] == ["activation", "in", "network"]
    assert out.splitlines()[-1] == "14 passed, 1 failed, 2 skipped"


def test_several_packages_get_one_table_each_and_a_summary(capsys, fast, tmp_path):
    broken = rewrite_package(tmp_path / "sigmoid.zip", edit=_sigmoid_output)
    assert main(["check", str(ENHANCER), str(broken), *fast]) == 1
    out = capsys.readouterr().out
    assert f"== {ENHANCER}" in out and f"== {broken}" in out
    assert out.splitlines()[-1] == f"1 of 2 packages passed every check; failed: {broken}"


def test_target_selects_the_checks(capsys, fast):
    assert main(["check", str(TEACHER), "--target", "deepimagej", *fast]) == 0
    out = capsys.readouterr().out
    assert "layout" not in out and "test_model" not in out and "spec 0.5.9" not in out
    assert out.splitlines()[-1] == "13 passed, 0 failed, 0 skipped"


def test_json_output(capsys, fast):
    assert main(["check", str(ENHANCER), "--target", "ilastik", "--json", *fast]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [entry["package"] for entry in document] == [str(ENHANCER)]
    assert document[0]["passed"] is True
    results = {r["name"]: r for r in document[0]["results"]}
    assert results["spec 0.5.9"]["status"] == "skipped"
    assert results["shallow2deep tag"] == {
        "name": "shallow2deep tag",
        "targets": ["ilastik"],
        "status": "passed",
        "detail": "enhancer tagged `shallow2deep`",
    }


def test_missing_package_exits_2_with_a_one_line_error(capsys, tmp_path, fast):
    missing = tmp_path / "absent.zip"
    assert main(["check", str(ENHANCER), str(missing), *fast]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"semiseg-export: error: package not found: {missing}\n"


def test_not_a_package_exits_2(capsys, tmp_path, fast):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert main(["check", str(notes), *fast]) == 2
    err = capsys.readouterr().err
    assert err.startswith("semiseg-export: error: package ") and "notes.txt" in err
    assert len(err.splitlines()) == 1


def test_unknown_target_exits_2(capsys, fast):
    assert main(["check", str(ENHANCER), "--target", "fiji", *fast]) == 2
    assert "--target 'fiji'" in capsys.readouterr().err


def test_no_command_exits_2(capsys):
    assert main([]) == 2
    assert "give a command" in capsys.readouterr().err


def test_argparse_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["check"])
    assert raised.value.code == 2
    assert "PACKAGE" in capsys.readouterr().err


def _console_script() -> str | None:
    beside = Path(sys.executable).parent / "semiseg-export"
    return str(beside) if beside.is_file() else shutil.which("semiseg-export")


@pytest.mark.skipif(_console_script() is None, reason="semiseg-export is not installed")
def test_console_script_end_to_end(tmp_path):
    script = _console_script()
    assert script is not None
    args = ["check", str(ENHANCER), "--target", "deepimagej", "--no-test-model"]
    done = subprocess.run([script, *args], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "13 passed, 0 failed, 0 skipped"
