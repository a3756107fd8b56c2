"""Run any package on whole tensors in its own axes: every input and output, no tiling.

This is how multi-input packages run, and how a package's test tensors are reproduced.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .model import axes_letters
from .package import Package, PackageError
from .processing import apply_steps
from .runners import Device, Runner, WeightFormat, make_runner


def run_tensors(
    package: Package,
    inputs: Mapping[str, np.ndarray],
    *,
    runner: Runner | None = None,
    weight_format: WeightFormat = "auto",
    device: Device = "auto",
    trust_code: bool = False,
) -> dict[str, np.ndarray]:
    """Apply the package's pre-processing, network and post-processing to raw tensors.

    Parameters
    ----------
    package:
        A loaded package (see :func:`~semiseg_zoo.inference.load_package`).
    inputs:
        One array per input tensor id, in that tensor's own axes (e.g. ``bcyx``), of a size
        the package accepts.
    runner:
        A runner made by :func:`~semiseg_zoo.inference.make_runner`; else one is made with
        ``weight_format``, ``device`` and ``trust_code``.

    Returns
    -------
    dict[str, np.ndarray]
        One array per output tensor id, in that tensor's axes.

    Raises
    ------
    ValueError
        If an input is missing or unexpected, or the network rejects its shape.
    """
    description = package.description
    ids = [str(tensor.id) for tensor in description.inputs]
    missing = [i for i in ids if i not in inputs]
    unknown = [i for i in inputs if i not in ids]
    if missing or unknown:
        raise ValueError(
            f"{package.name}: the package takes the inputs {ids}; missing {missing}, "
            f"unknown {unknown}"
        )
    if runner is None:
        runner = make_runner(
            package, weight_format=weight_format, device=device, trust_code=trust_code
        )
    prepared = []
    for tensor in description.inputs:
        array = np.asarray(inputs[str(tensor.id)])
        axes = axes_letters(tensor.axes)
        if array.ndim != len(axes):
            raise ValueError(
                f"{package.name}: input {tensor.id!r} has axes {axes!r} but the array has shape "
                f"{array.shape}; pass an array with {len(axes)} dimensions"
            )
        prepared.append(apply_steps(array, tensor.preprocessing, axes))
    try:
        outputs = runner.run_all(prepared)
    except (RuntimeError, ValueError) as error:  # onnxruntime and torch report shape errors so
        shapes = [p.shape for p in prepared]
        raise ValueError(
            f"{package.name}: the network rejected inputs of shapes {shapes}: {error}"
        ) from None
    if len(outputs) != len(description.outputs):
        raise PackageError(
            f"{package.source}: the network returned {len(outputs)} tensors but the package "
            f"declares {len(description.outputs)} outputs"
        )
    return {
        str(tensor.id): apply_steps(output, tensor.postprocessing, axes_letters(tensor.axes))
        for tensor, output in zip(description.outputs, outputs, strict=True)
    }
