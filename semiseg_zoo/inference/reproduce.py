"""Reproduce a package's test outputs from its test inputs, with bioimageio.core's tolerances."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from .package import Package, PackageError
from .runners import Device, WeightFormat, make_runner, read_verified
from .tensors import run_tensors


@dataclass(frozen=True)
class OutputComparison:
    """How one output tensor compares with the package's expected test output.

    ``mismatched_ppm`` counts elements with ``|actual - expected| > atol + rtol * |expected|``
    per million, as bioimageio.core's ``test_model`` does; ``passed`` when it is at most
    ``allowed_ppm``.
    """

    output_id: str
    weight_format: str
    shape: tuple[int, ...]
    max_abs_difference: float
    mismatched_ppm: float
    relative_tolerance: float
    absolute_tolerance: float
    allowed_ppm: float

    @property
    def passed(self) -> bool:
        return self.mismatched_ppm <= self.allowed_ppm


def tolerance(package: Package, weight_format: str, output_id: str) -> tuple[float, float, float]:
    """``(relative, absolute, mismatched elements per million)`` that bioimageio.core applies:
    the first matching ``config.bioimageio.reproducibility_tolerance`` entry, else its
    defaults."""
    from bioimageio.spec.model import v0_5

    chosen = v0_5.ReproducibilityTolerance()
    for entry in package.description.config.bioimageio.reproducibility_tolerance:
        formats_match = not entry.weights_formats or weight_format in entry.weights_formats
        output_match = not entry.output_ids or output_id in map(str, entry.output_ids)
        if formats_match and output_match:
            chosen = entry
            break
    return (
        float(chosen.relative_tolerance),
        float(chosen.absolute_tolerance),
        float(chosen.mismatched_elements_per_million),
    )


def _test_tensor(package: Package, tensor, role: str) -> np.ndarray:
    if tensor.test_tensor is None:
        raise PackageError(f"{package.source}: {role} {tensor.id!r} has no test tensor")
    data = read_verified(package, tensor.test_tensor, f"{role} test tensor")
    return np.load(io.BytesIO(data), allow_pickle=False)


def reproduce_test_outputs(
    package: Package,
    *,
    weight_format: WeightFormat = "auto",
    device: Device = "cpu",
    trust_code: bool = False,
) -> list[OutputComparison]:
    """Run the package on its test inputs and compare with its test outputs.

    Returns
    -------
    list[OutputComparison]
        One per output tensor.

    Raises
    ------
    PackageError
        If test tensors are missing or damaged, or an output has the wrong shape.
    """
    runner = make_runner(package, weight_format=weight_format, device=device, trust_code=trust_code)
    inputs = {str(t.id): _test_tensor(package, t, "input") for t in package.description.inputs}
    actual = run_tensors(package, inputs, runner=runner)
    comparisons = []
    for tensor in package.description.outputs:
        expected = _test_tensor(package, tensor, "output").astype(np.float32)
        result = actual[str(tensor.id)].astype(np.float32)
        if result.shape != expected.shape:
            raise PackageError(
                f"{package.source}: output {tensor.id!r} has shape {result.shape} but the test "
                f"output has {expected.shape}"
            )
        rtol, atol, allowed = tolerance(package, runner.weight_format, str(tensor.id))
        difference = np.abs(result - expected)
        mismatched = difference > atol + rtol * np.abs(expected)
        comparisons.append(
            OutputComparison(
                output_id=str(tensor.id),
                weight_format=runner.weight_format,
                shape=tuple(result.shape),
                max_abs_difference=float(difference.max()) if difference.size else 0.0,
                mismatched_ppm=float(mismatched.sum() / max(mismatched.size, 1) * 1e6),
                relative_tolerance=rtol,
                absolute_tolerance=atol,
                allowed_ppm=allowed,
            )
        )
    return comparisons
