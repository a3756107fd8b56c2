"""The compatibility checks that read the package's files (architecture, onnx weights, test
tensors, cover, documentation) or run other tools on it (bioimageio.spec 0.5.9 in its own
environment, bioimageio.core's ``test_model``). See :mod:`.compatibility_checks`.
"""

from __future__ import annotations

import ast
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .compatibility_checks import (
    CheckContext,
    Outcome,
    axis_name,
    error_list,
    error_location,
    present_weight_formats,
    shorten,
    source_of,
    tensor_label,
    tensors_of,
)
from .package_reader import PackageFiles, load_description_offline, network_disabled

MAX_ONNX_OPSET = 17
# Modules a self-contained architecture file may import (besides the standard library).
ARCHITECTURE_IMPORTS = frozenset({"torch", "numpy"})
# Weight formats bioimageio.core has a runner for.
CORE_RUNNABLE = (
    "pytorch_state_dict",
    "torchscript",
    "onnx",
    "keras_hdf5",
    "keras_v3",
    "tensorflow_saved_model_bundle",
)
ILASTIK_FORMATS = ("pytorch_state_dict", "torchscript", "onnx")
DEEPIMAGEJ_FORMATS = ("torchscript", "onnx")
PACKAGE_FORMATS = ("pytorch_state_dict", "torchscript", "onnx")

REPO_ROOT = Path(__file__).resolve().parents[2]
LEGACY_SCRIPT = REPO_ROOT / "scripts" / "validate_legacy_spec.py"
LEGACY_PYTHON_ENV = "SEMISEG_LEGACY_PYTHON"
LEGACY_TIMEOUT_S = 300
# Any HTTP(S) request of the legacy validator goes to this closed local port and fails at once.
_NO_PROXY_ADDRESS = "http://127.0.0.1:9"


def foreign_imports(source_code: str) -> list[str]:
    """Top-level modules a Python file imports other than torch, numpy and the standard
    library (relative imports included, as ``.module``).

    Raises
    ------
    SyntaxError
        If ``source_code`` is not valid Python.
    """
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source_code)):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                modules.add("." * node.level + (node.module or ""))
            elif node.module:
                modules.add(node.module.split(".")[0])
    allowed = ARCHITECTURE_IMPORTS | set(sys.stdlib_module_names)
    return sorted(m for m in modules if m not in allowed)


def _architecture_problem(package: PackageFiles, weights: Any) -> tuple[str, str | None]:
    """(what the architecture is, the problem or None) for a pytorch_state_dict entry."""
    architecture = weights.architecture
    if hasattr(architecture, "import_from"):
        module = str(architecture.import_from)
        found = f"{module}.{architecture.callable}"
        if module.split(".")[0] in ARCHITECTURE_IMPORTS:
            return found, None
        return found, (
            f"its architecture is imported from the library {module!r}, which ilastik and "
            "bioimageio.core users may not have installed: ship a self-contained architecture "
            "file instead"
        )
    name = str(source_of(architecture.source))
    found = f"{name}:{architecture.callable}"
    try:
        code = package.read(source_of(architecture.source)).decode("utf-8", errors="replace")
        foreign = foreign_imports(code)
    except (FileNotFoundError, ValueError) as error:
        return found, f"its architecture file cannot be read: {error}"
    except SyntaxError as error:
        return found, f"its architecture file {name} is not valid Python: {error}"
    if foreign:
        return found, (
            f"its architecture file {name} imports {', '.join(foreign)}; only torch, numpy and "
            "the standard library may be imported (bioimageio.core, and with it ilastik, run "
            "pytorch_state_dict where those modules are missing): copy the code it needs into "
            "the file"
        )
    return found, None


def _legacy_python(ctx: CheckContext) -> Path:
    if ctx.legacy_python is not None:
        return Path(ctx.legacy_python)
    if os.environ.get(LEGACY_PYTHON_ENV):
        return Path(os.environ[LEGACY_PYTHON_ENV])
    return REPO_ROOT / ".venv-spec059" / "bin" / "python"


def check_legacy_spec(ctx: CheckContext) -> Outcome:
    if not LEGACY_SCRIPT.is_file():
        return "skipped", (
            f"{LEGACY_SCRIPT} not found: semiseg-zoo is not installed from a source checkout "
            "(e.g. from a wheel); run this check from a checkout of the repository"
        )
    python = _legacy_python(ctx)
    if not python.is_file():
        return "skipped", (
            f"no bioimageio.spec 0.5.9 interpreter at {python}: run `make check-legacy-spec` to "
            f"build the 0.5.9 environment (or pass --legacy-python / set {LEGACY_PYTHON_ENV})"
        )
    env = dict(os.environ)
    # The validator's file checks would request URLs named in the rdf: keep it offline too.
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env[key] = _NO_PROXY_ADDRESS
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    try:
        process = subprocess.run(
            [str(python), str(LEGACY_SCRIPT), str(ctx.package.source)],
            capture_output=True,
            text=True,
            timeout=LEGACY_TIMEOUT_S,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "failed", f"{python} {LEGACY_SCRIPT.name} did not finish in {LEGACY_TIMEOUT_S} s"
    except OSError as error:
        return "failed", f"could not run {python}: {error}"
    lines = [line.strip() for line in process.stdout.splitlines() if line.strip()]
    if process.returncode == 0:
        return "passed", (lines[0] if lines else f"{LEGACY_SCRIPT.name} exited 0")
    # The validator prints "FAILED: <path> (...)" and then one "<loc>: <message>" line per error.
    errors = []
    for line in lines[1:]:
        loc, _, message = line.partition(": ")
        errors.append((error_location(loc.split(".")), message))
    found = error_list(errors) or shorten(
        " | ".join((lines + process.stderr.strip().splitlines())[-3:]) or "no output", 300
    )
    return "failed", (
        f"bioimageio.spec 0.5.9 (ilastik) rejects it (exit {process.returncode}): {found}; fix "
        "these fields (ilastik needs the pre-0.5.11 layout, see `layout`)"
    )


def check_weights(ctx: CheckContext) -> Outcome:
    description = ctx.description
    present = present_weight_formats(description)
    shown = []
    problems = []
    usable = set(present)
    for name in present:
        if name == "pytorch_state_dict":
            found, problem = _architecture_problem(
                ctx.package, description.weights.pytorch_state_dict
            )
            kind = "foreign imports" if problem else "self-contained"
            shown.append(f"pytorch_state_dict ({found}, {kind})")
            if problem:
                usable.discard(name)
                if {"core", "ilastik"} & set(ctx.targets):
                    problems.append(f"pytorch_state_dict: {problem}")
        else:
            shown.append(name)
    requirements = {
        "core": (CORE_RUNNABLE, "a runnable format"),
        "ilastik": (ILASTIK_FORMATS, "pytorch_state_dict, torchscript or onnx"),
        "deepimagej": (DEEPIMAGEJ_FORMATS, "torchscript or onnx"),
    }
    for target in ctx.targets:
        formats, wanted = requirements[target]
        if not usable & set(formats):
            problems.append(f"{target} needs {wanted}")
    summary = f"present: {', '.join(shown) or 'none'}"
    missing = [f for f in PACKAGE_FORMATS if f not in present]
    if problems:
        return "failed", (
            f"{summary}; {'; '.join(problems)}; semiseg-zoo packages carry pytorch_state_dict "
            "(self-contained architecture), torchscript and onnx: re-export with export_package"
        )
    if missing:
        summary += f"; missing {', '.join(missing)} (semiseg-zoo packages carry all three)"
    return "passed", summary


def check_onnx_opset(ctx: CheckContext) -> Outcome:
    entry = ctx.description.weights.onnx
    if entry is None:
        return "skipped", "no onnx weights in the package"
    import onnx

    name = str(source_of(entry.source))
    try:
        data = ctx.package.read(source_of(entry.source))
        model = onnx.load(io.BytesIO(data), load_external_data=False)
    except (FileNotFoundError, ValueError) as error:
        return "failed", f"cannot read the onnx weights: {error}"
    except Exception as error:  # onnx raises protobuf's DecodeError on a corrupt file
        return "failed", f"{name} is not a readable onnx model: {type(error).__name__}: {error}"
    opsets = {(imp.domain or "ai.onnx"): int(imp.version) for imp in model.opset_import}
    opset = opsets.get("ai.onnx")
    declared = getattr(entry, "opset_version", None)
    if opset is None:
        return "failed", f"{name} declares no default-domain (ai.onnx) opset: re-export it"
    detail = f"{name}: default-domain opset {opset} (rdf declares {declared})"
    others = {d: v for d, v in opsets.items() if d != "ai.onnx"}
    if others:
        detail += f"; other domains {others}"
    too_new = [v for v in (opset, declared) if v is not None and v > MAX_ONNX_OPSET]
    if too_new:
        return "failed", (
            f"{detail}; opset {max(too_new)} > {MAX_ONNX_OPSET}: the compatibility contract caps "
            f"onnx at opset {MAX_ONNX_OPSET} so that the older ONNX Runtime builds in ilastik "
            f"and deepImageJ run it: export with torch.onnx.export(..., "
            f"opset_version={MAX_ONNX_OPSET}, dynamo=False)"
        )
    if declared is not None and declared != opset:
        detail += "; the declared opset_version differs from the file's"
    return "passed", detail


def _shape_problems(
    label: str, tensor: Any, array: np.ndarray, arrays: dict[str, tuple[Any, np.ndarray]]
) -> list[str]:
    """Where ``array``'s shape disagrees with ``tensor``'s declared axes."""
    from bioimageio.spec.model import v0_5

    if array.ndim != len(tensor.axes):
        return [f"{label} has {array.ndim} dimensions for {len(tensor.axes)} axes"]
    problems = []
    for axis, size in zip(tensor.axes, array.shape, strict=True):
        kind, name = str(axis.type), axis_name(axis)
        declared = getattr(axis, "size", None)
        if kind == "batch":
            if size < 1 or (declared is not None and size != declared):
                problems.append(f"{label} batch size {size}")
            continue
        if kind == "channel":
            expected = len(axis.channel_names)
            if size != expected:
                problems.append(f"{label} has {size} channels, declared {expected}")
            continue
        if isinstance(declared, int):
            if size != declared:
                problems.append(f"{label} {name} is {size}, declared {declared}")
        elif isinstance(declared, v0_5.ParameterizedSize):
            if size < declared.min or (size - declared.min) % declared.step:
                rule = f"{declared.min} + n*{declared.step}"
                problems.append(f"{label} {name} is {size}, not min + n*step ({rule})")
        elif isinstance(declared, v0_5.SizeReference):
            reference = arrays.get(str(declared.tensor_id))
            if reference is None:
                continue
            ref_tensor, ref_array = reference
            ref_ids = [str(getattr(a, "id", a.type)) for a in ref_tensor.axes]
            if str(declared.axis_id) not in ref_ids:
                continue
            index = ref_ids.index(str(declared.axis_id))
            ref_axis = ref_tensor.axes[index]
            expected = declared.get_size(axis, ref_axis, ref_size=ref_array.shape[index])
            if size != expected:
                problems.append(
                    f"{label} {name} is {size}, expected {expected} "
                    f"(= {declared.tensor_id}.{declared.axis_id})"
                )
        elif isinstance(declared, v0_5.DataDependentSize):
            if size < declared.min or (declared.max is not None and size > declared.max):
                problems.append(
                    f"{label} {name} is {size}, outside [{declared.min}, {declared.max}]"
                )
    return problems


def check_test_tensors(ctx: CheckContext) -> Outcome:
    description = ctx.description
    problems, found = [], []
    arrays: dict[str, tuple[Any, np.ndarray]] = {}
    labels = {}
    for role, tensor in tensors_of(description):
        label = tensor_label(role, tensor, description)
        labels[str(tensor.id)] = label
        if tensor.test_tensor is None:
            problems.append(f"{label} has no test tensor")
            continue
        name = str(source_of(tensor.test_tensor))
        if not name.endswith(".npy"):
            problems.append(f"{label} test tensor {name} is not a .npy file")
            continue
        try:
            array = np.load(
                io.BytesIO(ctx.package.read(source_of(tensor.test_tensor))), allow_pickle=False
            )
        except (FileNotFoundError, ValueError, OSError) as error:
            problems.append(f"{label} test tensor {name} is not readable: {error}")
            continue
        arrays[str(tensor.id)] = (tensor, array)
    for tensor_id, (tensor, array) in arrays.items():
        label = labels[tensor_id]
        problems += _shape_problems(label, tensor, array, arrays)
        if not np.issubdtype(array.dtype, np.number) or array.size == 0:
            problems.append(f"{label} test tensor is empty or not numeric ({array.dtype})")
            continue
        values = array.astype(np.float64)
        finite = np.isfinite(values)
        if not finite.all():
            problems.append(f"{label} test tensor has {int((~finite).sum())} non-finite values")
            values = values[finite]
            if values.size == 0:
                continue
        low, high, std = float(values.min()), float(values.max()), float(values.std())
        if low == high:
            problems.append(f"{label} test tensor is constant ({low:g})")
        found.append(
            f"{label} {tuple(array.shape)} {array.dtype} in [{low:.3g}, {high:.3g}], std {std:.3g}"
        )
    if problems:
        return "failed", (
            f"{'; '.join(problems)}; test tensors must be .npy files in the package whose shapes "
            "fit the declared axes (input: min + n*step; output: its reference size), finite and "
            "with real content (not constant): export them from a real sample image"
        )
    return "passed", "; ".join(found)


def _raw_source(entry: Any) -> Any:
    """A raw rdf file entry (plain string or ``{source: ..., sha256: ...}``) → its source."""
    return entry.get("source") if isinstance(entry, dict) else entry


def check_cover(ctx: CheckContext) -> Outcome:
    # From the raw rdf: bioimageio.spec makes up covers outside the package when there are none.
    covers = ctx.package.raw.get("covers") or []
    if not isinstance(covers, list):
        covers = [covers]
    sources = [_raw_source(c) for c in covers if _raw_source(c)]
    if not sources:
        return "failed", (
            "no cover image in the package; bioimage.io, ilastik and deepImageJ show one: add a "
            "PNG or JPEG to `covers` (export_package writes cover.png, input next to output)"
        )
    found, problems = [], []
    for source in sources:
        try:
            data = ctx.package.read(source)
        except (FileNotFoundError, ValueError) as error:
            problems.append(str(error))
            continue
        if not data:
            problems.append(f"{source} is empty")
        else:
            found.append(f"{source} ({len(data) / 1000:.1f} kB)")
    if problems:
        return "failed", f"{'; '.join(problems)}; put the cover image files into the package"
    return "passed", ", ".join(found)


# A Markdown ATX heading "# Validation" … "###### Validation ..." at the start of a line.
VALIDATION_HEADING = re.compile(
    r"^ {0,3}#{1,6}[ \t]+Validation\b", flags=re.MULTILINE | re.IGNORECASE
)


def check_documentation(ctx: CheckContext) -> Outcome:
    source = _raw_source(ctx.package.raw.get("documentation"))
    if not source:
        return "failed", "no `documentation`: add a README.md with a Validation section"
    try:
        text = ctx.package.read(source).decode("utf-8", errors="replace")
    except (FileNotFoundError, ValueError) as error:
        return "failed", f"cannot read the documentation: {error}"
    if VALIDATION_HEADING.search(text):
        return "passed", f"{source} has a Validation section"
    return "failed", (
        f"{source} has no 'Validation' section heading; add a '## Validation' section with the "
        "metrics the model reached on held-out data (export_package writes it from `validation`)"
    )


def check_test_model(ctx: CheckContext) -> Outcome:
    if not ctx.test_model:
        return "skipped", "not run (test_model=False, --no-test-model)"
    from bioimageio.core import __version__ as core_version

    from .validation import run_test_model

    formats = present_weight_formats(ctx.description)
    untested = ""
    if "pytorch_state_dict" in formats and not ctx.trust_code and not _own_architecture(ctx):
        formats = [f for f in formats if f != "pytorch_state_dict"]
        untested = (
            "; pytorch_state_dict not tested: its architecture file is not semiseg-zoo's network "
            "source and test_model would import it (pass --trust-code if you trust it)"
        )
        if not formats:
            return "skipped", untested[2:]
    start = time.perf_counter()
    try:
        # A fresh description: test_model adds its details to the description's summary.
        description = load_description_offline(ctx.package)
        with network_disabled():
            results = run_test_model(description, formats)
    except Exception as error:  # a broken package can make test_model raise anything
        return "failed", f"bioimageio.core test_model raised {type(error).__name__}: {error}"
    seconds = time.perf_counter() - start
    failed = {f: lines for f, lines in results.items() if lines}
    summary = ", ".join(f"{f} {'failed' if f in failed else 'passed'}" for f in formats)
    if failed:
        reasons = "; ".join(f"{f}: {shorten(lines[0], 200)}" for f, lines in failed.items())
        return "failed", (
            f"{summary} (bioimageio.core {core_version}); {reasons}; every weight format must "
            "reproduce the test output: re-export, or fix the failing format"
        )
    return "passed", (
        f"{summary} (bioimageio.core {core_version}, offline, {seconds:.1f} s){untested}"
    )


def _own_architecture(ctx: CheckContext) -> bool:
    """Whether the state dict's architecture file is byte-identical to our network source."""
    from .provenance import is_own_architecture_source

    weights = ctx.description.weights.pytorch_state_dict
    architecture = getattr(weights, "architecture", None)
    if getattr(architecture, "source", None) is None:
        return False
    try:
        source = ctx.package.read(architecture.source)
    except Exception:  # missing file: not ours (the weights check reports it)
        return False
    return is_own_architecture_source(source, str(architecture.callable))
