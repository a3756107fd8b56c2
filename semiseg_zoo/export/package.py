"""Trained torch module + ModelSpec + sample input → validated bioimage.io 0.5 package zip."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import tifffile
import torch
from torch import nn

from semiseg_zoo.nets import architecture_source
from semiseg_zoo.spec import ModelSpec

from .cover import write_cover
from .description import build_description
from .documentation import package_readme
from .layout import write_legacy_layout
from .validation import PackageTestError, check_package
from .weights import write_onnx, write_state_dict, write_torchscript

WeightFormat = Literal["pytorch_state_dict", "torchscript", "onnx"]
WEIGHT_FORMATS: tuple[WeightFormat, ...] = ("pytorch_state_dict", "torchscript", "onnx")


def _valid_shape(shape: tuple[int, ...], spec: ModelSpec) -> tuple[int, ...]:
    """The largest valid input shape (min + n * step) that fits in ``shape``."""
    valid = []
    for size, minimum, step in zip(shape, spec.input.min_shape, spec.input.step, strict=True):
        if size < minimum:
            raise ValueError(
                f"`sample_input` has spatial shape {shape}; every axis needs at least "
                f"{spec.input.min_shape} (input.min_shape of spec {spec.name!r})"
            )
        valid.append(minimum + (size - minimum) // step * step)
    return tuple(valid)


def _test_input(sample_input: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Sample image ``([C,] spatial...)`` → float32 test tensor ``(1, C, spatial...)``."""
    n_spatial = len(spec.input.axes) - 2
    image = np.asarray(sample_input)
    if image.ndim == n_spatial:
        image = image[None]
    if image.ndim != n_spatial + 1 or image.shape[0] != spec.input.channels:
        raise ValueError(
            f"`sample_input` has shape {np.shape(sample_input)}; expected "
            f"({spec.input.channels}, {'Z, ' if n_spatial == 3 else ''}Y, X) or a single-channel "
            "image without channel axis"
        )
    crop = _valid_shape(image.shape[1:], spec)
    image = image[(slice(None), *(slice(0, s) for s in crop))]
    return image[None].astype(np.float32)


def _normalise(tensor: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """The package's preprocessing, as bioimageio.core applies it (per sample, spatial axes)."""
    norm = spec.input.preprocessing
    axes = tuple(range(2, tensor.ndim))
    if norm is None:
        return tensor
    if norm.name == "scale_range":
        low = np.percentile(tensor, norm.min_percentile, axis=axes, keepdims=True)
        high = np.percentile(tensor, norm.max_percentile, axis=axes, keepdims=True)
        return ((tensor - low) / (high - low + 1e-6)).astype(np.float32)
    mean = tensor.mean(axis=axes, keepdims=True)
    std = tensor.std(axis=axes, keepdims=True)
    return ((tensor - mean) / (std + 1e-6)).astype(np.float32)


def export_package(
    net: nn.Module,
    spec: ModelSpec,
    *,
    sample_input: np.ndarray,
    output_path: str | os.PathLike[str],
    postprocessing: Mapping[str, Any] | None = None,
    validation: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    test_formats: tuple[WeightFormat, ...] = WEIGHT_FORMATS,
) -> Path:
    """Export a trained network as a bioimage.io 0.5 package zip.

    The package carries ``pytorch_state_dict`` (with this library's self-contained architecture
    file), traced ``torchscript`` and ``onnx`` weights, ``.npy`` test tensors computed from
    ``sample_input``, a cover, a README with a Validation section and ``config.semiseg``. It is
    written in the pre-0.5.11 layout (plain-string ``documentation`` and ``covers``) so that
    bioimageio.spec 0.5.9 (ilastik) reads it. ``bioimageio.core.test_model`` must pass for every
    format in ``test_formats`` or nothing is written.

    Parameters
    ----------
    net:
        Trained module built from ``spec.architecture`` (moved to CPU and eval mode).
    spec:
        The model spec; names, citations, axes, pre-processing and halo come from it.
    sample_input:
        Raw image ``([C,] [Z,] Y, X)`` as the user would pass it (project-made, shippable).
    output_path:
        The ``.zip`` to write (atomically).
    postprocessing:
        The tuned post-processing recipe (default: ``spec.postprocessing``).
    validation:
        Validation metrics to record in ``config.semiseg`` and the README.
    training:
        The record of the training run (steps, wall time, device, precision, seconds per step,
        validation curve) for ``config.semiseg.training``.
    overwrite:
        Replace an existing ``output_path``.
    test_formats:
        Weight formats that must pass ``test_model``.

    Returns
    -------
    Path
        ``output_path``.

    Raises
    ------
    FileExistsError
        If ``output_path`` exists and ``overwrite`` is false.
    PackageTestError
        If the package fails validation or ``test_model``.
    """
    output_path = Path(output_path)
    if output_path.suffix != ".zip":
        raise ValueError(f"`output_path` must end in .zip, got {output_path}")
    if output_path.exists() and not overwrite:
        raise FileExistsError(f"{output_path} exists; pass overwrite=True to replace it")
    test_input = _test_input(sample_input, spec)
    recipe = dict(postprocessing or spec.postprocessing.model_dump(exclude_none=True))
    if spec.kind == "affinity":
        recipe.setdefault("offsets", [list(o) for o in spec.offsets])
    metrics = dict(validation or {})

    net = net.cpu().eval()
    sample = torch.from_numpy(_normalise(test_input, spec))
    with torch.no_grad():
        test_output = net(sample).numpy()

    with tempfile.TemporaryDirectory(prefix="semiseg-export-") as tmp:
        folder = Path(tmp)
        files = {
            "test_input": folder / "test_input.npy",
            "test_output": folder / "test_output.npy",
            "sample_input": folder / "sample_input.tif",
            "sample_output": folder / "sample_output.tif",
            "documentation": folder / "README.md",
            "cover": folder / "cover.png",
            "architecture": folder / "unet.py",
            "pytorch_state_dict": write_state_dict(net, folder / "weights.pt"),
            "torchscript": write_torchscript(net, sample, folder / "weights_torchscript.pt"),
            "onnx": write_onnx(net, sample, folder / "weights.onnx"),
        }
        np.save(files["test_input"], test_input)
        np.save(files["test_output"], test_output)
        # Sample tensors (for FAIR metadata and deepImageJ's preview) mirror the test tensors.
        tifffile.imwrite(files["sample_input"], test_input[0], photometric="minisblack")
        tifffile.imwrite(files["sample_output"], test_output[0], photometric="minisblack")
        shutil.copyfile(architecture_source(spec.architecture.name), files["architecture"])
        cover_input, cover_output = test_input[0].mean(axis=0), test_output[0]
        if spec.kind == "affinity":
            # The direct-neighbour affinities, averaged: objects bright, boundaries dark.
            n_spatial = len(spec.input.axes) - 2
            cover_output = cover_output[:n_spatial].mean(axis=0, keepdims=True)
        if cover_input.ndim == 3:  # a volume: its middle slice
            middle = cover_input.shape[0] // 2
            cover_input, cover_output = cover_input[middle], cover_output[:, middle]
        write_cover(cover_input, cover_output, files["cover"], embeddings=spec.kind == "embedding")
        files["documentation"].write_text(package_readme(spec, recipe, metrics))

        semiseg_config = {
            "kind": spec.kind,
            "postprocessing": recipe,
            "validation": metrics,
            "training_data": " ".join(spec.training.data_description.split()),
            "spec": spec.model_dump(mode="json"),
        }
        if training:
            semiseg_config["training"] = dict(training)
        if spec.kind == "enhancer":
            # What a user must reproduce to make this enhancer's input (ilastik or semiseg-enhance).
            semiseg_config["features"] = spec.features.model_dump(mode="json")
            semiseg_config["training_source"] = spec.training.source.model_dump(mode="json")
        if spec.kind == "embedding":
            loss = spec.training.loss
            semiseg_config["embedding"] = {
                "dimension": len(spec.output.channel_names),
                "delta_v": loss.delta_v,
                "delta_d": loss.delta_d,
                "supervision": (
                    f"SPOCO@{spec.training.object_fraction:g}"
                    if spec.training.object_fraction is not None
                    else "sparse annotations"
                    if spec.training.train.sparse
                    else "full"
                ),
            }
        other_config = {}
        if spec.kind == "affinity":
            # Our recipe and torch-em's key both carry the offsets, so other tools read them.
            semiseg_config["offsets"] = [list(o) for o in spec.offsets]
            semiseg_config["affinity"] = {
                "convention": "1 = the pixel and the pixel `offset` away belong to one object",
                "net": "explicit (cosine of embeddings)"
                if spec.output.activation == "cosine"
                else "implicit (sigmoid)",
                "annotated_fraction": spec.training.annotated_fraction,
                "mode": spec.training.mode,
            }
            other_config["mws"] = {"offsets": semiseg_config["offsets"]}
        description = build_description(
            spec, files, semiseg_config=semiseg_config, other_config=other_config
        )
        staged = folder / "staged.zip"
        write_legacy_layout(description, staged)
        check_package(staged, test_formats)
        output_path.parent.mkdir(parents=True, exist_ok=True)
        partial = output_path.with_name(f".{output_path.name}.partial")
        shutil.copyfile(staged, partial)
        os.replace(partial, output_path)
    return output_path


__all__ = ["WEIGHT_FORMATS", "PackageTestError", "export_package"]
