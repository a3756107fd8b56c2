"""A loaded model: package + runner + shape rules; predicts probabilities for whole images."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from bioimageio.spec.model import v0_5

from .package import DEFAULT_MODEL, Package, PackageError, load_package, verify_package
from .processing import apply_steps
from .runners import Device, Runner, WeightFormat, choose_weight_format, make_runner
from .tiling import ShapeRule, predict_tiled
from .tta import predict_with_tta

Tile = Sequence[int] | Literal["auto"] | None
DEFAULT_TILE = {2: (512, 512), 3: (32, 256, 256)}


def axes_letters(axes: Sequence[Any]) -> str:
    """The letters (``b``, ``c``, ``z``, ``y``, ``x``) of a bioimage.io tensor's axes."""
    letters = []
    for axis in axes:
        if axis.type == "batch":
            letters.append("b")
        elif axis.type == "channel":
            letters.append("c")
        elif axis.type == "space" and str(axis.id) in ("x", "y", "z"):
            letters.append(str(axis.id))
        else:
            raise PackageError(f"axis {axis.id!r} of type {axis.type} is not supported")
    return "".join(letters)


def _shape_rule(package: Package) -> ShapeRule:
    description = package.description
    input_axes = {str(a.id): a for a in description.inputs[0].axes if a.type == "space"}
    output_axes = {str(a.id): a for a in description.outputs[0].axes if a.type == "space"}
    minimum, step, halo, zoom = [], [], [], []
    for name, axis in input_axes.items():
        if isinstance(axis.size, v0_5.ParameterizedSize):
            minimum.append(axis.size.min)
            step.append(axis.size.step)
        elif isinstance(axis.size, int):
            minimum.append(axis.size)
            step.append(0)
        else:
            raise PackageError(
                f"{package.source}: input axis {name} has a size this tool cannot plan tiles for"
            )
        output = output_axes.get(name)
        if output is None:
            raise PackageError(
                f"{package.source}: the output has no spatial axis {name!r}; semiseg-zoo runs "
                "models whose output has the input's spatial axes"
            )
        factor = _zoom(package, axis, output)
        zoom.append(factor)
        halo_out = getattr(output, "halo", 0) or package.fixed_output_halo.get(name, 0)
        halo.append(math.ceil(halo_out / factor))
    rule_zoom = tuple(zoom) if any(z != 1 for z in zoom) else ()
    return ShapeRule(tuple(minimum), tuple(step), tuple(halo), rule_zoom)


def _zoom(package: Package, input_axis: Any, output_axis: Any) -> float:
    """Output pixels per input pixel along one axis (4 for a 4x upsampling network)."""
    size = output_axis.size
    if isinstance(size, v0_5.SizeReference):
        if size.offset:
            raise PackageError(
                f"{package.source}: output axis {output_axis.id} is offset by {size.offset} "
                "pixels from the input; semiseg-zoo runs models whose output covers the input"
            )
        return float(input_axis.scale) / float(output_axis.scale)
    if isinstance(size, int) and isinstance(input_axis.size, int):
        return size / input_axis.size
    raise PackageError(
        f"{package.source}: cannot relate output axis {output_axis.id} ({size}) to the input "
        f"axis ({input_axis.size}); semiseg-zoo runs models whose output size follows the input"
    )


@dataclass
class Model:
    """A package ready to predict.

    Use :func:`load_model`; call :meth:`predict` on images.
    """

    package: Package
    runner: Runner
    input_axes: str
    output_axes: str
    rule: ShapeRule
    default_tile: tuple[int, ...]

    @property
    def spatial_axes(self) -> str:
        return "".join(a for a in self.input_axes if a in "zyx")

    @property
    def n_channels(self) -> int:
        for axis in self.package.description.inputs[0].axes:
            if axis.type == "channel":
                return len(axis.channel_names)
        return 1

    @property
    def output_channel_names(self) -> list[str]:
        for axis in self.package.description.outputs[0].axes:
            if axis.type == "channel":
                return [str(n) for n in axis.channel_names]
        return ["output"]

    def _canonical_axes(self) -> str:
        return "bc" + self.spatial_axes

    def _run(self, batch: np.ndarray) -> np.ndarray:
        """Canonical ``(1, C, *spatial)`` → network → canonical ``(1, C_out, *spatial)``."""
        canonical = self._canonical_axes()
        package_order = [canonical.index(a) for a in self.input_axes if a in canonical]
        tensor = batch.transpose(package_order)
        if "c" not in self.input_axes:
            tensor = tensor[:, 0] if tensor.ndim > 1 else tensor
        output = self.runner(np.ascontiguousarray(tensor))
        out_axes = (
            self.output_axes
            if "c" in self.output_axes
            else self.output_axes[:1] + "c" + self.output_axes[1:]
        )
        if "c" not in self.output_axes:
            output = output[:, None]
        return output.transpose([out_axes.index(a) for a in canonical])

    def prepare(self, image: np.ndarray, axes: str | None = None) -> np.ndarray:
        """Arrange a raw image as ``(C, *spatial)`` float32 for this model.

        ``axes`` uses letters ``c``, ``z``, ``y``, ``x`` (e.g. ``yx``, ``yxc``, ``zyx``); without
        it, an image with one more dimension than the model's spatial axes is taken as
        channel-first, or channel-last if its last axis has 3 or 4 entries (RGB/RGBA).
        Colour images fed to a single-channel model are averaged to grey; RGBA images fed to an
        RGB model lose their alpha channel.
        """
        image = np.asarray(image)
        spatial = self.spatial_axes
        if axes is None:
            if image.ndim == len(spatial):
                axes = spatial
            elif image.ndim == len(spatial) + 1:
                channel_last = image.shape[-1] in (3, 4) and image.shape[0] not in (
                    1,
                    self.n_channels,
                )
                axes = spatial + "c" if channel_last else "c" + spatial
            else:
                raise ValueError(
                    f"image has shape {image.shape} ({image.ndim} dimensions) but model "
                    f"{self.package.name!r} takes {len(spatial)}D images (axes {spatial}, plus an "
                    f"optional channel axis); pass a {len(spatial)}D image"
                )
        image_spatial = "".join(a for a in axes if a in "zyx")
        if sorted(image_spatial) != sorted(spatial) or len(axes) != image.ndim:
            raise ValueError(
                f"image has shape {image.shape} with axes {axes!r} but model "
                f"{self.package.name!r} takes {len(spatial)}D images (axes {spatial!r}); "
                f"pass a {len(spatial)}D image"
            )
        if "c" not in axes:
            image, axes = image[None], "c" + axes
        image = np.moveaxis(image, [axes.index(a) for a in "c" + spatial], range(len(spatial) + 1))
        channels = image.shape[0]
        if channels != self.n_channels:
            if self.n_channels == 1 and channels in (3, 4):
                image = image[:3].astype(np.float32).mean(axis=0, keepdims=True)
            elif self.n_channels == 3 and channels == 4:
                image = image[:3]  # RGBA: the model sees RGB
            else:
                raise ValueError(
                    f"image has {channels} channels but model {self.package.name!r} expects "
                    f"{self.n_channels}"
                )
        return np.ascontiguousarray(image, dtype=np.float32)

    def predict(
        self,
        image: np.ndarray,
        *,
        axes: str | None = None,
        tile: Tile = "auto",
        tta: bool = False,
        preprocessing: Sequence[Any] | None = None,
    ) -> np.ndarray:
        """Probabilities (network output after the package's post-processing steps).

        Parameters
        ----------
        image:
            Raw image, see :meth:`prepare` for accepted layouts.
        axes:
            Axis letters of ``image`` if the guess would be wrong.
        tile:
            Spatial tile shape, ``"auto"`` (the model's default tile, used only when the image
            is larger) or ``None`` (one pass over the whole image).
        tta:
            Average over the 8 flips / 90° rotations of the yx plane.
        preprocessing:
            Steps (``id`` + ``kwargs``) that replace the package's input preprocessing, e.g.
            with statistics fixed for a whole volume predicted block by block
            (:func:`~semiseg_zoo.inference.fixed_preprocessing`).

        Returns
        -------
        np.ndarray
            float32 ``(C_out, *spatial)``.
        """
        kind = (self.package.semiseg_config or {}).get("kind")
        if tta and kind in ("embedding", "affinity"):
            # Embeddings of transformed inputs live in different spaces, and flipping turns an
            # affinity's offset around: neither can be averaged over flips and rotations.
            raise ValueError(
                f"{self.package.name}: test-time augmentation is not available for {kind} "
                "networks (their outputs for flipped or rotated inputs cannot be averaged); "
                "run without --tta"
            )
        prepared = self.prepare(image, axes)
        canonical = self._canonical_axes()
        steps = self.package.description.inputs[0].preprocessing
        normalised = apply_steps(
            prepared[None], steps if preprocessing is None else preprocessing, canonical
        )[0]
        tile_shape = self.default_tile if tile == "auto" else tile
        if tile_shape is not None and len(tile_shape) != len(self.spatial_axes):
            raise ValueError(
                f"`tile` {tuple(tile_shape)} needs {len(self.spatial_axes)} values "
                f"({self.spatial_axes})"
            )

        def predict_one(array: np.ndarray) -> np.ndarray:
            return predict_tiled(self._run, array, self.rule, tile=tile_shape)

        output = predict_with_tta(predict_one, normalised) if tta else predict_one(normalised)
        output_steps = self.package.description.outputs[0].postprocessing
        return apply_steps(output[None], output_steps, canonical)[0].astype(np.float32, copy=False)


def load_model(
    source: str | os.PathLike[str] | Package | None = None,
    *,
    weight_format: WeightFormat = "auto",
    device: Device = "auto",
    trust_code: bool = False,
    threads: int | None = None,
) -> Model:
    """Load a package (default: the embedded nuclei model), verify it and build its runner.

    Parameters
    ----------
    source:
        Built-in model name, package zip, folder or rdf yaml, a zoo id / DOI / URL (see
        :func:`~semiseg_zoo.inference.load_package`), or ``None`` for the default model.
    weight_format:
        ``auto`` (onnx, then torchscript, then state dict) or one format.
    device:
        ``auto``, ``cpu`` or ``cuda``.
    trust_code:
        Allow ``pytorch_state_dict`` weights of foreign packages (runs their Python).
    threads:
        CPU threads of one inference (default: all cores).

    Raises
    ------
    PackageError
        If the package cannot run here: several inputs or outputs (use
        :func:`~semiseg_zoo.inference.run_tensors`), no runnable or missing weights, files that
        contradict its description (checksums, test tensor shapes).
    """
    package = source if isinstance(source, Package) else load_package(source or DEFAULT_MODEL)
    description = package.description
    if len(description.inputs) != 1 or len(description.outputs) != 1:
        raise PackageError(
            f"{package.source}: semiseg-zoo segments images with models that have one input and "
            f"one output; this one has {len(description.inputs)} inputs "
            f"({[str(t.id) for t in description.inputs]}) and {len(description.outputs)} "
            "outputs: run it on tensors with semiseg_zoo.run_tensors"
        )
    chosen = choose_weight_format(package, weight_format, trust_code=trust_code)
    input_axes = axes_letters(description.inputs[0].axes)
    output_axes = axes_letters(description.outputs[0].axes)
    rule = _shape_rule(package)
    n_spatial = len(rule.minimum)
    config = package.semiseg_config or {}
    tile = tuple(config.get("spec", {}).get("tile", DEFAULT_TILE.get(n_spatial, ())))
    if not package.builtin:
        verify_package(package)
    runner = make_runner(
        package, weight_format=chosen, device=device, trust_code=trust_code, threads=threads
    )
    return Model(package, runner, input_axes, output_axes, rule, tile)
