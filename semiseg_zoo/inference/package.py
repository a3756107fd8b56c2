"""Load a model package from a built-in name, a zip, a folder or an rdf/bioimageio.yaml path."""

from __future__ import annotations

import copy
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bioimageio.spec import (
    InvalidDescr,
    ValidationContext,
    build_description,
    load_description,
)
from bioimageio.spec.model import v0_5

from semiseg_zoo.export.provenance import is_own_architecture_source
from semiseg_zoo.zoo.rdf import find_rdf_name

if TYPE_CHECKING:
    from semiseg_zoo.zoo import ZooSettings

BUILTIN_DIR = Path(__file__).resolve().parents[1] / "models"
DEFAULT_MODEL = "teacher-nuclei-2d"


class PackageError(ValueError):
    """A model package could not be loaded or is not usable here."""


@dataclass(frozen=True)
class Package:
    """A loaded model description and facts derived from it.

    Attributes
    ----------
    description:
        The bioimage.io 0.5 model description (0.4 packages are converted).
    source:
        Where it was loaded from.
    builtin:
        Shipped with semiseg-zoo.
    own_architecture:
        The ``pytorch_state_dict`` architecture file is byte-identical to this library's
        network source, so running it executes no foreign code.
    fixed_output_halo:
        Halo per spatial axis letter of a converted 0.4 output of fixed size (format 0.5
        cannot say it there); empty otherwise.
    """

    description: v0_5.ModelDescr
    source: Path
    builtin: bool
    own_architecture: bool
    fixed_output_halo: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.description.name

    @property
    def semiseg_config(self) -> dict[str, Any] | None:
        """``config.semiseg`` of packages written by semiseg-zoo, else None."""
        config = self.description.config.model_dump()
        return config.get("semiseg")

    @property
    def weight_formats(self) -> list[str]:
        weights = self.description.weights
        return [
            name
            for name in (
                "onnx",
                "torchscript",
                "pytorch_state_dict",
                "keras_hdf5",
                "tensorflow_saved_model_bundle",
                "tensorflow_js",
            )
            if getattr(weights, name, None) is not None
        ]


def list_builtin_models() -> list[str]:
    """Names of the packages shipped in ``semiseg_zoo/models``."""
    return sorted(path.stem for path in BUILTIN_DIR.glob("*.zip"))


def _looks_like_path(text: str) -> bool:
    """Whether a reference that does not exist was meant as a local path, not a zoo reference
    (id, ``owner/id``, URL or DOI)."""
    if text.startswith(("http://", "https://", "doi:", "10.")):
        return False
    suffix = Path(text).suffix.lower()
    return suffix in (".zip", ".yaml", ".yml") or text.startswith((".", "~", "/")) or "\\" in text


def _resolve(
    source: str | os.PathLike[str], settings: ZooSettings | None, progress: bool
) -> tuple[Path, bool]:
    text = os.fspath(source)
    builtin = BUILTIN_DIR / f"{text}.zip"
    if os.sep not in text and "/" not in text and builtin.is_file():
        return builtin, True
    path = Path(text).expanduser()
    if not path.exists():
        if isinstance(source, os.PathLike) or _looks_like_path(text):
            known = ", ".join(list_builtin_models()) or "none"
            raise FileNotFoundError(
                f"model {text!r} is neither a file or folder nor a built-in model "
                f"(built-in: {known})"
            )
        path = _resolve_in_zoo(text, settings, progress)
    if path.is_dir():
        name = find_rdf_name(child.name for child in path.iterdir() if child.is_file())
        if name is None:
            raise PackageError(
                f"{path}: folder has no rdf.yaml, bioimageio.yaml or *.bioimageio.yaml"
            )
        return path / name, False
    if path.suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                for member in names:
                    _check_member(archive, member, path)
        except (zipfile.BadZipFile, OSError, zlib.error, EOFError) as error:
            raise PackageError(f"{path}: not a readable zip archive ({error})") from None
        from semiseg_zoo.zoo import UnsafePackageError, check_archive

        try:
            check_archive(path)
        except UnsafePackageError as error:
            raise PackageError(str(error)) from None
        if find_rdf_name(names) is None:
            raise PackageError(
                f"{path}: the zip holds no rdf.yaml or bioimageio.yaml at its top level"
            )
        return path, path.parent == BUILTIN_DIR
    if path.suffix not in (".yaml", ".yml"):
        raise PackageError(f"{path}: expected a package .zip, a folder or an rdf .yaml file")
    return path, False


def _resolve_in_zoo(text: str, settings: ZooSettings | None, progress: bool) -> Path:
    """A zoo id, DOI or URL → the cached package (downloaded and verified if needed)."""
    from semiseg_zoo.zoo import NotCachedError, UnknownModelError, ZooError, resolve_package

    try:
        return resolve_package(text, settings, progress=progress)
    except (UnknownModelError, NotCachedError) as error:
        known = ", ".join(list_builtin_models()) or "none"
        raise FileNotFoundError(
            f"model {text!r} is neither a file or folder nor a built-in model (built-in: "
            f"{known}), and the model zoo could not provide it: {error}"
        ) from None
    except ZooError as error:
        raise ZooError(f"model {text!r} could not be fetched from the model zoo: {error}") from None


def _check_member(archive: zipfile.ZipFile, member: str, path: Path) -> None:
    """Read ``member`` to its end (CRC check); a broken member is named in the error."""
    try:
        with archive.open(member) as stream:
            while stream.read(1 << 20):
                pass
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise PackageError(f"{path}: archive member {member!r} is corrupt ({error})") from None


def read_raw_rdf(path: Path) -> tuple[dict[str, Any], str]:
    """The package's yaml as a plain dict, and the name of the yaml file.

    ``path`` is a package zip, folder or rdf yaml file.

    Raises
    ------
    PackageError
        If the yaml is unreadable, not valid YAML (with its line) or not a mapping.
    """
    from semiseg_zoo.zoo import ZooError, read_rdf

    try:
        return read_rdf(path)
    except ZooError as error:
        raise PackageError(f"{path}: could not read the package: {error}") from None


def _check_declared_files(raw: dict[str, Any], path: Path) -> None:
    """Every file the description points to must lie inside the package."""
    from semiseg_zoo.zoo import UnsafePackageError, check_inside_package, declared_files

    try:
        check_inside_package(declared_files(raw), package_name=str(path))
    except UnsafePackageError as error:
        raise PackageError(str(error)) from None


def _is_own_architecture(description: v0_5.ModelDescr) -> bool:
    weights = description.weights.pytorch_state_dict
    if weights is None or not isinstance(weights.architecture, v0_5.ArchitectureFromFileDescr):
        return False
    try:
        # Hash the file the package really holds, not the hash its rdf declares.
        packaged = weights.architecture.get_reader().read()
    except Exception:  # a missing or unreadable file is simply not ours
        return False
    return is_own_architecture_source(packaged, str(weights.architecture.callable))


def load_package(
    source: str | os.PathLike[str],
    *,
    zoo: ZooSettings | None = None,
    progress: bool = True,
) -> Package:
    """Load a model package (its description; no weights are read).

    Parameters
    ----------
    source:
        A built-in model name (see :func:`list_builtin_models`), a package ``.zip``, a folder
        holding ``rdf.yaml``/``bioimageio.yaml``, such a yaml file, or a model-zoo reference:
        a bioimage.io id (``affable-shark``, ``bioimage-io/affable-shark``), a DOI or an http(s)
        URL, which is downloaded into the cache and verified (see :mod:`semiseg_zoo.zoo`).
        Format 0.4 and 0.5.
    zoo:
        Zoo settings (cache, collection, offline); default: from the environment.
    progress:
        Show a progress bar while downloading.

    Returns
    -------
    Package

    Raises
    ------
    FileNotFoundError
        If ``source`` is neither a path, a built-in name nor known to the zoo (or, offline, not
        in the cache).
    PackageError
        If the archive is corrupt or unsafe, the yaml invalid, a declared file lies outside the
        package, or the description is invalid (with the validator's reasons).
    semiseg_zoo.zoo.ZooError
        If a download failed or did not match its checksum.
    """
    path, builtin = _resolve(source, zoo, progress)
    raw, rdf_name = read_raw_rdf(path)
    _check_declared_files(raw, path)
    description, fixed_halo = _describe(path, raw, rdf_name)
    return Package(description, path, builtin, _is_own_architecture(description), fixed_halo)


def _describe(
    path: Path, raw: dict[str, Any], rdf_name: str
) -> tuple[v0_5.ModelDescr, dict[str, int]]:
    """The 0.5 description (0.4 converted) and, for converted 0.4 outputs of fixed size, the
    halo the 0.5 format cannot express there."""
    try:
        description = load_description(path, perform_io_checks=False, format_version="latest")
    except Exception as error:  # bioimageio raises many kinds for unreadable files
        raise PackageError(
            f"{path}: could not read the package: {error}{_weights_note(raw)}"
        ) from None
    fixed_halo: dict[str, int] = {}
    if isinstance(description, InvalidDescr) and _has_fixed_shape_halo(raw):
        patched, fixed_halo = _without_fixed_shape_halo(raw)
        description = _build(patched, path, rdf_name)
    if isinstance(description, InvalidDescr):
        errors = "; ".join(
            f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in description.validation_summary.errors
        )
        raise PackageError(
            f"{path}: invalid model description: {errors[:2000]}{_weights_note(raw)}"
        )
    if not isinstance(description, v0_5.ModelDescr):
        raise PackageError(
            f"{path}: expected a model description, got {type(description).__name__}"
        )
    return description, fixed_halo


def _weights_note(raw: dict[str, Any]) -> str:
    """What weights an unreadable description declares, to explain what could run."""
    weights = raw.get("weights")
    if not isinstance(weights, dict) or not weights:
        return ""
    runnable = [name for name in weights if name in ("onnx", "torchscript", "pytorch_state_dict")]
    note = f" (it declares {sorted(weights)} weights"
    if not runnable:
        note += "; semiseg-zoo runs onnx, torchscript and pytorch_state_dict"
    return note + ")"


def _has_fixed_shape_halo(raw: dict[str, Any]) -> bool:
    return str(raw.get("format_version", "")).startswith("0.4") and any(
        isinstance(o, dict) and isinstance(o.get("shape"), list) and any(o.get("halo") or [])
        for o in raw.get("outputs") or []
    )


def _without_fixed_shape_halo(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    """Format 0.5 allows no halo on a fixed-size output axis, which 0.4 did (torch-em's
    fixed-shape example); drop it there so the package converts, and keep it for tiling."""
    patched = copy.deepcopy(raw)
    halos: dict[str, int] = {}
    for output in patched["outputs"]:
        if isinstance(output.get("shape"), list) and output.get("halo"):
            for letter, halo in zip(str(output["axes"]), output.pop("halo"), strict=False):
                if letter in "zyx" and halo:
                    halos[letter] = max(halos.get(letter, 0), int(halo))
    return patched, halos


def _build(raw: dict[str, Any], path: Path, rdf_name: str) -> Any:
    root: Any = zipfile.ZipFile(path) if path.suffix == ".zip" else path.parent
    context = ValidationContext(root=root, file_name=rdf_name, perform_io_checks=False)
    try:
        return build_description(raw, context=context, format_version="latest")
    except Exception as error:
        raise PackageError(f"{path}: could not read the package: {error}") from None


def verify_package(package: Package) -> None:
    """Check a package's files against its description before anything runs.

    bioimageio.spec's io checks: every declared file exists and matches its sha256, and the
    test tensors have the shapes the axes declare. Built-in packages are verified by the tests.

    Raises
    ------
    PackageError
        Naming the weights that are missing (and the formats present), or the files and shapes
        that contradict the description.
    """
    missing = _missing_weight_files(package)
    if missing:
        present = [f for f in package.weight_formats if f not in missing]
        raise PackageError(
            f"{package.source}: weights missing from the package: "
            + ", ".join(f"{f} ({source})" for f, source in missing.items())
            + f"; formats it has: {present or 'none'}; download or export the package again"
        )
    raw, rdf_name = read_raw_rdf(package.source)
    if package.fixed_output_halo:
        raw, _ = _without_fixed_shape_halo(raw)
    root: Any = package.source.parent
    if package.source.suffix == ".zip":
        root = zipfile.ZipFile(package.source)
    context = ValidationContext(root=root, file_name=rdf_name, perform_io_checks=True)
    try:
        checked = build_description(raw, context=context, format_version="latest")
    except Exception as error:
        raise PackageError(f"{package.source}: could not verify the package: {error}") from None
    if isinstance(checked, InvalidDescr):
        errors = "; ".join(
            f"{'.'.join(map(str, e.loc)) or 'description'}: {e.msg}"
            for e in checked.validation_summary.errors
        )
        raise PackageError(
            f"{package.source}: the package's files contradict its description: {errors[:2000]}"
        )


def _missing_weight_files(package: Package) -> dict[str, str]:
    missing = {}
    for name in package.weight_formats:
        entry = getattr(package.description.weights, name)
        try:
            entry.get_reader()
        except Exception:  # missing file or member: bioimageio raises several kinds
            missing[name] = str(entry.source)
    return missing
