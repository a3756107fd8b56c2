"""Load a model package from a built-in name, a zip, a folder or an rdf/bioimageio.yaml path."""

from __future__ import annotations

import hashlib
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bioimageio.spec import InvalidDescr, load_model_description
from bioimageio.spec.model import v0_5

BUILTIN_DIR = Path(__file__).resolve().parents[1] / "models"
DEFAULT_MODEL = "teacher-nuclei-2d"
RDF_NAMES = ("rdf.yaml", "bioimageio.yaml")
# Our self-contained network source (read as bytes, not imported: that would load torch).
OWN_ARCHITECTURE_FILE = Path(__file__).resolve().parents[1] / "nets" / "unet.py"
# sha256 of earlier releases of that file (before the cosine-affinity nets were added), so that
# packages exported with them stay recognised as ours.
EARLIER_ARCHITECTURE_HASHES = frozenset(
    {"9366d76995c1ec566f968fbea7b00c8872c26f8ee6c1d5222672e7a59edddf4c"}
)
OWN_ARCHITECTURES = ("UNet2d", "UNet3d", "CosineAffinityUNet2d", "CosineAffinityUNet3d")


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
    """

    description: v0_5.ModelDescr
    source: Path
    builtin: bool
    own_architecture: bool

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


def _resolve(source: str | os.PathLike[str]) -> tuple[Path, bool]:
    text = os.fspath(source)
    builtin = BUILTIN_DIR / f"{text}.zip"
    if os.sep not in text and "/" not in text and builtin.is_file():
        return builtin, True
    path = Path(text).expanduser()
    if not path.exists():
        known = ", ".join(list_builtin_models()) or "none"
        raise FileNotFoundError(
            f"model {text!r} is neither a file or folder nor a built-in model (built-in: {known})"
        )
    if path.is_dir():
        for name in RDF_NAMES:
            if (path / name).is_file():
                return path / name, False
        raise PackageError(f"{path}: folder has no rdf.yaml or bioimageio.yaml")
    if path.suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                for member in names:
                    _check_member(archive, member, path)
        except (zipfile.BadZipFile, OSError, zlib.error, EOFError) as error:
            raise PackageError(f"{path}: not a readable zip archive ({error})") from None
        if not any(n.rsplit("/", 1)[-1] in RDF_NAMES for n in names):
            raise PackageError(f"{path}: the zip holds no rdf.yaml or bioimageio.yaml")
        return path, path.parent == BUILTIN_DIR
    if path.suffix not in (".yaml", ".yml"):
        raise PackageError(f"{path}: expected a package .zip, a folder or an rdf .yaml file")
    return path, False


def _check_member(archive: zipfile.ZipFile, member: str, path: Path) -> None:
    """Read ``member`` to its end (CRC check); a broken member is named in the error."""
    try:
        with archive.open(member) as stream:
            while stream.read(1 << 20):
                pass
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise PackageError(f"{path}: archive member {member!r} is corrupt ({error})") from None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is_own_architecture(description: v0_5.ModelDescr) -> bool:
    weights = description.weights.pytorch_state_dict
    if weights is None or not isinstance(weights.architecture, v0_5.ArchitectureFromFileDescr):
        return False
    if str(weights.architecture.callable) not in OWN_ARCHITECTURES:
        return False
    try:
        # Hash the file the package really holds, not the hash its rdf declares.
        packaged = weights.architecture.get_reader().read()
    except Exception:  # a missing or unreadable file is simply not ours
        return False
    digest = _sha256(packaged)
    return digest == _sha256(OWN_ARCHITECTURE_FILE.read_bytes()) or (
        digest in EARLIER_ARCHITECTURE_HASHES
        and str(weights.architecture.callable) in ("UNet2d", "UNet3d")
    )


def load_package(source: str | os.PathLike[str]) -> Package:
    """Load and validate a model package.

    Parameters
    ----------
    source:
        A built-in model name (see :func:`list_builtin_models`), a package ``.zip``, a folder
        holding ``rdf.yaml``/``bioimageio.yaml``, or such a yaml file. Format 0.4 and 0.5.

    Returns
    -------
    Package

    Raises
    ------
    FileNotFoundError
        If ``source`` is neither a path nor a built-in name.
    PackageError
        If the archive is corrupt or the description invalid (with the validator's reasons).
    """
    path, builtin = _resolve(source)
    try:
        description = load_model_description(path, perform_io_checks=False, format_version="latest")
    except Exception as error:  # bioimageio raises many kinds for unreadable files
        raise PackageError(f"{path}: could not read the package: {error}") from None
    if isinstance(description, InvalidDescr):
        errors = "; ".join(
            f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in description.validation_summary.errors
        )
        raise PackageError(f"{path}: invalid model description: {errors[:2000]}")
    if not isinstance(description, v0_5.ModelDescr):
        raise PackageError(
            f"{path}: expected a model description, got {type(description).__name__}"
        )
    return Package(description, path, builtin, _is_own_architecture(description))
