"""Find and read a package's resource description (rdf) YAML in a zip, a folder or a file."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from .errors import ZooError

__all__ = ["RDF_NAMES", "find_rdf_name", "parse_rdf", "read_rdf"]

# In order of preference; ``*.bioimageio.yaml`` (e.g. ``v0_4.bioimageio.yaml``) comes after these.
RDF_NAMES = ("rdf.yaml", "bioimageio.yaml")
_RDF_SUFFIX = ".bioimageio.yaml"


def find_rdf_name(names: Iterable[str]) -> str | None:
    """The rdf among a package's top-level file names: ``rdf.yaml``, ``bioimageio.yaml``, else the
    first ``*.bioimageio.yaml`` in sorted order; ``None`` if there is none.

    Examples
    --------
    >>> find_rdf_name(["weights.pt", "v0_4.bioimageio.yaml", "README.md"])
    'v0_4.bioimageio.yaml'
    """
    top_level = {name for name in names if "/" not in name and "\\" not in name}
    for name in RDF_NAMES:
        if name in top_level:
            return name
    candidates = sorted(name for name in top_level if name.endswith(_RDF_SUFFIX))
    return candidates[0] if candidates else None


def parse_rdf(text: str | bytes, *, source: str) -> dict[str, Any]:
    """Parse rdf YAML text (``yaml.safe_load``) and check that it is a mapping.

    Raises
    ------
    ZooError
        Naming ``source`` if the text is not YAML or not a mapping.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        problem = " ".join(str(error).split())
        raise ZooError(f"{source} is not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ZooError(
            f"{source} is not a bioimage.io resource description: expected a YAML mapping, "
            f"got {type(data).__name__}"
        )
    return data


def read_rdf(path: Path) -> tuple[dict[str, Any], str]:
    """Read the rdf of a package zip, a package folder or an rdf YAML file.

    Parameters
    ----------
    path
        A ``.zip``, a folder holding ``rdf.yaml``/``bioimageio.yaml``/``*.bioimageio.yaml``, or
        the YAML file itself.

    Returns
    -------
    tuple of (dict, str)
        The parsed rdf and the rdf's file name (member name for zips).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ZooError
        If there is no rdf in the zip or folder, or it cannot be parsed.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"package {path} does not exist")
    if path.is_dir():
        name = find_rdf_name(child.name for child in path.iterdir() if child.is_file())
        if name is None:
            raise ZooError(
                f"{path} is not a bioimage.io package folder: it holds no rdf.yaml, "
                "bioimageio.yaml or *.bioimageio.yaml"
            )
        return parse_rdf((path / name).read_bytes(), source=str(path / name)), name
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            name = find_rdf_name(archive.namelist())
            if name is None:
                raise ZooError(
                    f"{path} is not a bioimage.io package: the zip holds no rdf.yaml, "
                    "bioimageio.yaml or *.bioimageio.yaml at its top level"
                )
            return parse_rdf(archive.read(name), source=f"{path}:{name}"), name
    return parse_rdf(path.read_bytes(), source=str(path)), path.name
