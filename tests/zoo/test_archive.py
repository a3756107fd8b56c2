"""Safe zip handling: traversal, absolute paths and symlinks are refused before extraction."""

from __future__ import annotations

import zipfile

import pytest

from semiseg_zoo.zoo import UnsafePackageError, ZooError, check_archive, extract_archive

from .conftest import REPO_ROOT
from .helpers import write_zip

UNSAFE_NAMES = {
    "../evil.txt": '".."',
    "weights/../../evil.txt": '".."',
    "/abs.txt": "absolute path",
    "C:\\evil.txt": "absolute path",
    "\\\\server\\share\\evil.txt": "absolute path",
    "dir\\..\\..\\evil.txt": '".."',
}


def test_check_archive_lists_a_builtin_package():
    names = check_archive(REPO_ROOT / "semiseg_zoo" / "models" / "enhancer-nuclei-lm.zip")
    assert "rdf.yaml" in names and "weights.onnx" in names
    assert len(names) == 11


@pytest.mark.parametrize("name", sorted(UNSAFE_NAMES))
def test_unsafe_member_names_are_refused(tmp_path, name):
    archive = write_zip(tmp_path / "bad.zip", {"rdf.yaml": b"type: model\n", name: b"evil"})
    assert zipfile.ZipFile(archive).namelist()[1] == name  # zipfile kept the raw name
    with pytest.raises(UnsafePackageError, match=rf"bad\.zip: member .*{UNSAFE_NAMES[name]}"):
        check_archive(archive)


def test_symlink_member_is_refused(tmp_path):
    archive = write_zip(tmp_path / "link.zip", {"a.txt": b"a"}, symlinks={"link": "/etc/passwd"})
    with pytest.raises(UnsafePackageError, match=r"link\.zip: member 'link' is a symbolic link"):
        check_archive(archive)


def test_extract_archive_is_complete(tmp_path):
    archive = write_zip(tmp_path / "ok.zip", {"rdf.yaml": b"x: 1\n", "sub/w.bin": b"\x00\x01"})
    destination = extract_archive(archive, tmp_path / "out")
    assert destination == tmp_path / "out"
    assert (destination / "sub" / "w.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.zip", "out"]


@pytest.mark.parametrize("member", ["../evil.txt", "/abs.txt"])
def test_extract_unsafe_archive_writes_nothing(tmp_path, member):
    work = tmp_path / "work"
    work.mkdir()
    archive = write_zip(work / "bad.zip", {"good.txt": b"good", member: b"evil"})
    with pytest.raises(UnsafePackageError):
        extract_archive(archive, work / "out")
    assert sorted(p.name for p in work.iterdir()) == ["bad.zip"]
    assert not list(tmp_path.rglob("evil.txt")) and not list(tmp_path.rglob("abs.txt"))


def test_extract_symlink_archive_writes_nothing(tmp_path):
    archive = write_zip(tmp_path / "link.zip", {"a.txt": b"a"}, symlinks={"link": "../../x"})
    with pytest.raises(UnsafePackageError):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_extract_into_existing_destination_is_refused(tmp_path):
    archive = write_zip(tmp_path / "ok.zip", {"a.txt": b"a"})
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError, match="out exists"):
        extract_archive(archive, tmp_path / "out")


def test_not_a_zip(tmp_path):
    (tmp_path / "fake.zip").write_bytes(b"not a zip at all")
    with pytest.raises(ZooError, match="fake.zip is not a zip file"):
        check_archive(tmp_path / "fake.zip")
    with pytest.raises(FileNotFoundError, match="missing.zip does not exist"):
        check_archive(tmp_path / "missing.zip")
