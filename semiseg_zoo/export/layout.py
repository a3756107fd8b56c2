"""Write a description as a package zip in the pre-0.5.11 layout."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import yaml
from bioimageio.spec import save_bioimageio_package
from bioimageio.spec.model import v0_5

RDF_NAME = "rdf.yaml"
# The model format version of bioimageio.spec 0.5.9 (ilastik); newer spec versions read it and
# convert its plain-string `documentation` and `covers` themselves.
LEGACY_FORMAT_VERSION = "0.5.9"


def _plain_source(value: Any) -> Any:
    """``{source: README.md, sha256: ...}`` → ``README.md``."""
    if isinstance(value, dict) and "source" in value:
        return value["source"]
    return value


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _without_dtype_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the ``ensure_dtype`` steps bioimageio.spec inserts on load (and re-inserts when it
    loads the package): deepImageJ accepts at most one standard pre-processing op."""
    return [step for step in steps if step.get("id") != "ensure_dtype"]


def legacy_rdf(rdf: dict[str, Any]) -> dict[str, Any]:
    """Rewrite an rdf to format 0.5.9: plain-string ``documentation`` and ``covers``."""
    rdf = _without_nulls(rdf)
    for tensor in rdf.get("inputs", []):
        tensor["preprocessing"] = _without_dtype_steps(tensor.get("preprocessing", []))
    for tensor in rdf.get("outputs", []):
        tensor["postprocessing"] = _without_dtype_steps(tensor.get("postprocessing", []))
    rdf["format_version"] = LEGACY_FORMAT_VERSION
    if "documentation" in rdf:
        rdf["documentation"] = _plain_source(rdf["documentation"])
    if "covers" in rdf:
        rdf["covers"] = [_plain_source(c) for c in rdf["covers"]]
    return rdf


def write_legacy_layout(description: v0_5.ModelDescr, output_path: Path) -> Path:
    """Save ``description`` with its files into ``output_path`` (zip) in the legacy layout."""
    packaged = save_bioimageio_package(description, output_path=output_path.with_suffix(".tmp.zip"))
    with (
        zipfile.ZipFile(packaged) as source,
        zipfile.ZipFile(output_path, "w", compression=zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename in (RDF_NAME, "bioimageio.yaml"):
                rdf = legacy_rdf(yaml.safe_load(data))
                target.writestr(RDF_NAME, yaml.safe_dump(rdf, sort_keys=False, allow_unicode=True))
            else:
                target.writestr(info, data)
    packaged.unlink()
    return output_path
