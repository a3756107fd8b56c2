"""The one entry point that turns a model-spec YAML file into a typed spec."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .schema import SPEC_CLASSES, ModelSpec


class SpecError(ValueError):
    """A model spec file is missing, not YAML, or does not match the schema."""


def _format_errors(path: Path, error: ValidationError) -> str:
    lines = [f"{path}: invalid model spec"]
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {location}: {item['msg']}")
    return "\n".join(lines)


def parse_spec(data: dict[str, Any], source: str | Path = "<spec>") -> ModelSpec:
    """Validate a spec given as a dict (e.g. read back from a package's ``config``).

    Raises
    ------
    SpecError
        Naming ``source`` and every invalid field.
    """
    path = Path(source)
    if not isinstance(data, dict):
        raise SpecError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in SPEC_CLASSES:
        raise SpecError(f"{path}: kind: expected one of {sorted(SPEC_CLASSES)}, got {kind!r}")
    try:
        return SPEC_CLASSES[kind].model_validate(data)  # type: ignore[return-value]
    except ValidationError as error:
        raise SpecError(_format_errors(path, error)) from None


def load_spec(path: str | os.PathLike[str]) -> ModelSpec:
    """Load and validate ``model_specs/<name>.yaml``.

    Parameters
    ----------
    path:
        The YAML file.

    Returns
    -------
    ModelSpec
        The typed spec of the file's ``kind``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    SpecError
        If the file is not valid YAML or a field is invalid; the message names the file and field.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model spec {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise SpecError(f"{path}: not valid YAML (or not UTF-8): {error}") from None
    return parse_spec(data, path)
