"""The metadata checks of :mod:`semiseg_zoo.export.compatibility` (on the raw rdf and the typed
description) and what all checks share.

Each check takes a :class:`CheckContext` and returns ``(status, detail)``; the detail says what
was found and, on failure, what is expected and how to fix it. Checks that need the typed
description run only when bioimageio.spec validated the package (the caller skips them
otherwise). bioimageio is imported inside the checks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .package_reader import PackageFiles, load_description_offline

Status = Literal["passed", "failed", "skipped"]
Outcome = tuple[Status, str]

ALLOWED_PREPROCESSING = (
    "scale_range",
    "zero_mean_unit_variance",
    "fixed_zero_mean_unit_variance",
    "scale_linear",
    "clip",
)
SPATIAL_AXES = ("z", "y", "x")


@dataclass
class CheckContext:
    """What the checks share: the package as stored, the requested targets and, once the
    ``description`` check has passed, the typed (latest-format) description."""

    package: PackageFiles
    targets: tuple[str, ...]
    test_model: bool = True
    trust_code: bool = False
    legacy_python: Path | None = None
    description: Any = None


# --- helpers ------------------------------------------------------------------------------------


def source_of(reference: Any) -> Any:
    """A ``FileDescr`` or a plain source → the source."""
    return getattr(reference, "source", reference)


def axis_name(axis: Any) -> str:
    kind = str(axis.type)
    if kind == "batch":
        return "b"
    if kind == "channel":
        return "c"
    if kind in ("space", "time", "index"):
        return str(getattr(axis, "id", kind))
    return kind


def _axes_string(tensor: Any) -> str:
    names = [axis_name(a) for a in tensor.axes]
    return "".join(names) if all(len(n) == 1 for n in names) else ",".join(names)


def tensors_of(description: Any) -> list[tuple[str, Any]]:
    return [("input", t) for t in description.inputs] + [("output", t) for t in description.outputs]


def tensor_label(role: str, tensor: Any, description: Any) -> str:
    """``input`` when there is one tensor of that role, else ``input 'raw'``."""
    count = len(description.inputs if role == "input" else description.outputs)
    return role if count == 1 else f"{role} {str(tensor.id)!r}"


def shorten(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_location(loc: Sequence[Any]) -> str:
    """A pydantic error location without its union-branch segments
    (``covers.0.function-after[HttpUrl(), str]`` → ``covers.0``)."""
    kept = [str(part) for part in loc if not re.search(r"[\[\](),<> ]", str(part))]
    return ".".join(kept) or "(root)"


def error_list(entries: Sequence[tuple[str, str]], limit: int = 4) -> str:
    """Unique ``location: message`` pairs, at most ``limit`` of them, shortened."""
    unique = list(dict.fromkeys(f"{loc}: {shorten(msg)}" for loc, msg in entries))
    shown = "; ".join(unique[:limit])
    return shown + (f"; and {len(unique) - limit} more" if len(unique) > limit else "")


def present_weight_formats(description: Any) -> list[str]:
    return [name for name, entry in description.weights if entry is not None]


def semiseg_config(raw: dict[str, Any]) -> dict[str, Any]:
    config = raw.get("config")
    semiseg = config.get("semiseg") if isinstance(config, dict) else None
    return semiseg if isinstance(semiseg, dict) else {}


# --- checks on the raw rdf ----------------------------------------------------------------------


def check_format(ctx: CheckContext) -> Outcome:
    version = str(ctx.package.raw.get("format_version", ""))
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version)
    if match is None:
        return "failed", (
            f"format_version {version or '(missing)'!r} is not a version; expected 0.5.x"
        )
    major, minor, _ = (int(g) for g in match.groups())
    if (major, minor) == (0, 5):
        return "passed", f"format_version {version}"
    return "failed", (
        f"format_version {version}; ilastik and deepImageJ need a 0.5 package: re-export the "
        "model with semiseg-zoo (export_package writes 0.5 in the 0.5.9 layout) or convert it "
        "with bioimageio.spec's update_format"
    )


def check_layout(ctx: CheckContext) -> Outcome:
    raw = ctx.package.raw
    problems = []
    found = []
    documentation = raw.get("documentation")
    if documentation is not None:
        if isinstance(documentation, str):
            found.append(f"documentation {documentation!r}")
        else:
            problems.append(f"`documentation` is a {type(documentation).__name__}")
    covers = raw.get("covers")
    if covers is not None:
        if not isinstance(covers, list):
            problems.append(f"`covers` is a {type(covers).__name__}, not a list")
        elif any(not isinstance(c, str) for c in covers):
            kinds = sorted({type(c).__name__ for c in covers if not isinstance(c, str)})
            problems.append(f"`covers` holds {', '.join(kinds)} entries")
        else:
            found.append(f"covers {covers}")
    if problems:
        return "failed", (
            f"{'; '.join(problems)} in {ctx.package.rdf_name}; bioimageio.spec 0.5.9 (ilastik) "
            "reads plain-string `documentation` and `covers`: write the package with "
            "semiseg_zoo.export (write_legacy_layout) or replace each mapping by its `source`"
        )
    return "passed", f"{', '.join(found) or 'no documentation or covers entries'} (plain strings)"


def check_shallow2deep_tag(ctx: CheckContext) -> Outcome:
    kind = semiseg_config(ctx.package.raw).get("kind")
    if kind is None:
        return (
            "skipped",
            "not a semiseg-zoo package (no config.semiseg.kind); only enhancers need it",
        )
    if kind != "enhancer":
        return "skipped", f"kind {kind!r}; only enhancers are listed by the shallow2deep tag"
    tags = ctx.package.raw.get("tags") or []
    if "shallow2deep" in tags:
        return "passed", "enhancer tagged `shallow2deep`"
    return "failed", (
        f"enhancer without the `shallow2deep` tag (tags: {', '.join(map(str, tags)) or 'none'}); "
        "ilastik's Trainable Domain Adaptation lists enhancers by this tag: add it to the spec's "
        "tags and re-export"
    )


# --- checks on the typed description ------------------------------------------------------------


def check_description(ctx: CheckContext) -> Outcome:
    """Load with file checks (stores the description in ``ctx`` when it is a valid model)."""
    from bioimageio.spec import __version__ as spec_version
    from bioimageio.spec.model import v0_5

    try:
        description = load_description_offline(ctx.package)
    except Exception as error:  # bioimageio.spec raises more than ValueError on broken files
        return "failed", (
            f"bioimageio.spec {spec_version} could not load it offline: "
            f"{type(error).__name__}: {error}"
        )
    summary = description.validation_summary
    if isinstance(description, v0_5.ModelDescr) and summary.status in ("valid-format", "passed"):
        ctx.description = description
        version = ctx.package.raw.get("format_version")
        detail = (
            f"valid bioimage.io model (bioimageio.spec {spec_version}, file checks included; "
            f"format_version {version} read as {description.format_version})"
        )
        if summary.warnings:
            first = shorten(summary.warnings[0].msg, 100)
            detail += f"; {len(summary.warnings)} warning(s), e.g. {first}"
        return "passed", detail
    kind = ctx.package.raw.get("type")
    if kind != "model":
        return "failed", f"type {kind!r}, expected 'model': this is not a model package"
    shown = error_list([(error_location(e.loc), e.msg) for e in summary.errors]) or (
        f"status {summary.status!r}"
    )
    return "failed", (
        f"invalid for bioimageio.spec {spec_version}: {shown}; fix these fields of "
        f"{ctx.package.rdf_name} (or the files they name)"
    )


def check_tensors(ctx: CheckContext) -> Outcome:
    description = ctx.description
    inputs = [str(t.id) for t in description.inputs]
    outputs = [str(t.id) for t in description.outputs]
    found = (
        f"{len(inputs)} input(s) ({', '.join(inputs)}), "
        f"{len(outputs)} output(s) ({', '.join(outputs)})"
    )
    if len(inputs) == 1 and len(outputs) == 1:
        return "passed", found
    return "failed", (
        f"{found}; ilastik and deepImageJ run models with exactly one input and one output "
        "tensor: export a single-input, single-output network (stack extra inputs as channels)"
    )


def check_axes(ctx: CheckContext) -> Outcome:
    description = ctx.description
    problems, found = [], []
    for role, tensor in tensors_of(description):
        label = tensor_label(role, tensor, description)
        kinds = [str(a.type) for a in tensor.axes]
        found.append(f"{label} {_axes_string(tensor)}")
        for axis in tensor.axes:
            kind = str(axis.type)
            if kind not in ("batch", "channel", "space"):
                problems.append(f"{label} has a {kind} axis {axis_name(axis)!r}")
            elif kind == "space" and str(axis.id) not in SPATIAL_AXES:
                problems.append(f"{label} has a space axis {str(axis.id)!r}")
        if "batch" in kinds and kinds.index("batch") != 0:
            problems.append(f"{label}: batch is not the first axis")
        if (
            "channel" in kinds
            and "space" in kinds
            and kinds.index("channel") > kinds.index("space")
        ):
            problems.append(f"{label}: channel comes after a space axis")
    if problems:
        return "failed", (
            f"{'; '.join(problems)} ({', '.join(found)}); axes must be among batch, channel, z, "
            "y, x with batch first and channel before space: re-export with such axes"
        )
    return "passed", ", ".join(found)


def check_input_sizes(ctx: CheckContext) -> Outcome:
    from bioimageio.spec.model import v0_5

    description = ctx.description
    found, fixed, other = [], [], []
    for tensor in description.inputs:
        label = tensor_label("input", tensor, description)
        for axis in tensor.axes:
            if str(axis.type) != "space":
                continue
            size, name = axis.size, f"{label} {axis.id}"
            if isinstance(size, v0_5.ParameterizedSize):
                found.append(f"{name}: min {size.min} step {size.step}")
            elif isinstance(size, int):
                found.append(f"{name}: fixed {size}")
                fixed.append(name)
            else:
                found.append(f"{name}: {type(size).__name__}")
                other.append(name)
    summary = "; ".join(found) or "no spatial input axes"
    advice = (
        "export spatial input axes as ParameterizedSize(min, step), step = the network's size "
        "divisor"
    )
    if other:
        return "failed", (
            f"{summary}; {', '.join(other)} sized by reference: ilastik and deepImageJ need "
            f"ParameterizedSize (min + n*step) or a fixed size: {advice}"
        )
    if fixed and "ilastik" in ctx.targets:
        return "failed", (
            f"{summary}; ilastik needs ParameterizedSize (min + n*step) spatial inputs to tile "
            f"images of any size: {advice}"
        )
    if fixed:
        return "passed", (
            f"{summary}; deepImageJ runs a fixed-size model by tiling the image into patches of "
            "exactly that size (ParameterizedSize would let it pick larger patches)"
        )
    return "passed", summary


def check_output_size(ctx: CheckContext) -> Outcome:
    from bioimageio.spec.model import v0_5

    description = ctx.description
    input_ids = {str(t.id) for t in description.inputs}
    found, problems = [], []
    for tensor in description.outputs:
        label = tensor_label("output", tensor, description)
        for axis in tensor.axes:
            if str(axis.type) != "space":
                continue
            size, name = axis.size, f"{label} {axis.id}"
            halo = int(getattr(axis, "halo", 0) or 0)
            if isinstance(size, v0_5.SizeReference) and str(size.tensor_id) in input_ids:
                offset = f"{size.offset:+d}" if size.offset else ""
                found.append(f"{name} = {size.tensor_id}.{size.axis_id}{offset}, halo {halo}")
            else:
                shown = size if isinstance(size, int) else type(size).__name__
                found.append(f"{name}: {shown}, halo {halo}")
                problems.append(f"{name} is not sized by reference to an input")
            if halo <= 0:
                problems.append(f"{name} has no halo")
    summary = "; ".join(found) or "no spatial output axes"
    if problems:
        return "failed", (
            f"{'; '.join(problems)} ({summary}); ilastik and deepImageJ tile large images and "
            "crop `halo` pixels from each tile's border: size spatial output axes by "
            "SizeReference to the input and give each a halo >= the network's receptive-field "
            "radius (SpaceOutputAxisWithHalo; semiseg specs: output.halo)"
        )
    return "passed", summary


def check_activation(ctx: CheckContext) -> Outcome:
    description = ctx.description
    problems, found = [], []
    for tensor in description.outputs:
        label = tensor_label("output", tensor, description)
        steps = [str(s.id) for s in tensor.postprocessing if str(s.id) != "ensure_dtype"]
        if steps:
            problems.append(f"{label} has postprocessing {', '.join(steps)}")
        else:
            found.append(f"{label}: no postprocessing besides ensure_dtype")
    if problems:
        return "failed", (
            f"{'; '.join(problems)}; the activation (sigmoid/softmax) must be inside the network "
            "so that every tool gets the same probabilities and only ensure_dtype may follow: "
            "build the net with its final activation (e.g. final_activation='sigmoid') and "
            "re-export without postprocessing steps"
        )
    spec = semiseg_config(ctx.package.raw).get("spec")
    output = spec.get("output") if isinstance(spec, dict) else None
    if isinstance(output, dict) and output.get("activation"):
        found.append(f"in-network activation {output['activation']!r}")
    return "passed", "; ".join(found)


def check_preprocessing(ctx: CheckContext) -> Outcome:
    description = ctx.description
    problems, found = [], []
    for tensor in description.inputs:
        label = tensor_label("input", tensor, description)
        steps = [str(s.id) for s in tensor.preprocessing if str(s.id) != "ensure_dtype"]
        found.append(f"{label}: {', '.join(steps) or 'none'}")
        if len(steps) > 1:
            problems.append(f"{label} has {len(steps)} ops ({', '.join(steps)})")
        unknown = [s for s in steps if s not in ALLOWED_PREPROCESSING]
        if unknown:
            problems.append(f"{label} uses {', '.join(unknown)}")
    if problems:
        return "failed", (
            f"{'; '.join(problems)}; the compatibility contract allows at most one standard "
            "preprocessing op besides ensure_dtype (deepImageJ applies at most one), one of "
            f"{', '.join(ALLOWED_PREPROCESSING)}: keep one (e.g. scale_range) and move the rest "
            "into the network"
        )
    return "passed", "; ".join(found) + " (besides ensure_dtype)"
