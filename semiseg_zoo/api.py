"""The Python API: predict / segment / load_model / load_package / run_tensors / export_model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from semiseg_zoo.blockwise import BlockwiseOptions, predict_blockwise, segment_blockwise
from semiseg_zoo.export import export_package
from semiseg_zoo.inference import (
    Model,
    Package,
    load_model,
    load_package,
    postprocessing_recipe,
    run_tensors,
)
from semiseg_zoo.inference.model import Tile
from semiseg_zoo.inference.runners import Device, WeightFormat
from semiseg_zoo.io import read_image
from semiseg_zoo.postprocess import apply_postprocessing

ImageLike = np.ndarray | str | os.PathLike[str]
OutputPath = str | os.PathLike[str]
ModelLike = Model | Package | str | os.PathLike[str] | None

export_model = export_package
__all__ = [
    "BlockwiseOptions",
    "export_model",
    "load_model",
    "load_package",
    "predict",
    "run_tensors",
    "segment",
]


def _as_model(
    model: ModelLike, device: Device, weight_format: WeightFormat, trust_code: bool
) -> Model:
    if isinstance(model, Model):
        return model
    return load_model(model, device=device, weight_format=weight_format, trust_code=trust_code)


def _as_array(image: ImageLike, axes: str | None, key: str | None) -> tuple[np.ndarray, str | None]:
    if isinstance(image, (str, os.PathLike)):
        loaded = read_image(Path(image), key=key)
        return loaded.data, axes or loaded.axes
    return np.asarray(image), axes


def predict(
    image: ImageLike,
    model: ModelLike = None,
    *,
    axes: str | None = None,
    key: str | None = None,
    tile: Tile = "auto",
    tta: bool = False,
    device: Device = "auto",
    weight_format: WeightFormat = "auto",
    trust_code: bool = False,
    output: OutputPath | None = None,
    blockwise: BlockwiseOptions | None = None,
) -> Any:
    """Run a model package on one image and return its probabilities.

    With ``output`` (a ``.zarr`` path) the image is predicted block by block, out of core,
    into that zarr array instead (see :func:`semiseg_zoo.blockwise.predict_blockwise`): for
    volumes that do not fit in memory, read lazily from zarr, OME-Zarr, h5 or tif.

    Parameters
    ----------
    image:
        Array or path of any format :func:`semiseg_zoo.io.read_image` reads.
    model:
        A :class:`~semiseg_zoo.inference.Model` (fastest for many images), a built-in name, a
        package zip/folder/rdf path, or ``None`` for the embedded nuclei model.
    axes:
        Axis letters of ``image`` (``yx``, ``yxc``, ``zyx`` ...) when the guess would be wrong.
    key:
        Dataset inside an h5/zarr container.
    tile:
        Spatial tile shape, ``"auto"`` or ``None`` (whole image).
    tta:
        Average over the 8 flips / 90° rotations.
    device, weight_format, trust_code:
        See :func:`semiseg_zoo.inference.load_model`.
    output:
        Write the prediction blockwise into this ``.zarr`` (``tile`` and ``tta`` do not apply).
    blockwise:
        Block shape, scheduler (``"local"``, ``"synchronous"``, ``"tcp://HOST:PORT"``),
        workers, overwrite and progress of the blockwise run.

    Returns
    -------
    np.ndarray or zarr.Array
        float32 ``(C_out, [Z,] Y, X)``: in memory, or the written zarr array with ``output``.

    Examples
    --------
    >>> from semiseg_zoo.synthetic import synthetic_nuclei
    >>> image, _ = synthetic_nuclei((128, 128))
    >>> predict(image, device="cpu").shape
    (3, 128, 128)
    """
    loaded = _as_model(model, device, weight_format, trust_code)
    if output is not None:
        options = blockwise or BlockwiseOptions()
        return predict_blockwise(
            loaded,
            image,
            output,
            axes=axes,
            key=key,
            block_shape=options.block_shape,
            overwrite=options.overwrite,
            scheduler=options.scheduler,
            workers=options.workers,
            progress=options.progress,
        )
    array, axes = _as_array(image, axes, key)
    return loaded.predict(array, axes=axes, tile=tile, tta=tta)


def segment(
    image: ImageLike,
    model: ModelLike = None,
    *,
    axes: str | None = None,
    key: str | None = None,
    tile: Tile = "auto",
    tta: bool = False,
    device: Device = "auto",
    weight_format: WeightFormat = "auto",
    trust_code: bool = False,
    postprocessing: dict[str, Any] | None = None,
    output: OutputPath | None = None,
    blockwise: BlockwiseOptions | None = None,
) -> Any:
    """Instance labels for one image: :func:`predict` + the package's post-processing.

    ``postprocessing`` overrides the package's recipe (``{"method": ..., **params}``). With
    ``output`` (a ``.zarr`` path) the image is predicted and segmented block by block and
    stitched with global ids (see :func:`semiseg_zoo.blockwise.segment_blockwise`);
    ``blockwise`` sets block shape, halo, scheduler and workers.

    Returns
    -------
    np.ndarray or zarr.Array
        uint32 labels ``([Z,] Y, X)``, 0 = background: in memory, or the written zarr array.

    Raises
    ------
    ValueError
        If the package does not say how to make instances and no ``postprocessing`` is given.
    """
    loaded = _as_model(model, device, weight_format, trust_code)
    if output is not None:
        options = blockwise or BlockwiseOptions()
        return segment_blockwise(
            loaded,
            output,
            volume=image,
            recipe=postprocessing,
            axes=axes,
            key=key,
            block_shape=options.block_shape,
            halo=options.halo,
            overwrite=options.overwrite,
            scheduler=options.scheduler,
            workers=options.workers,
            progress=options.progress,
        )
    probabilities = predict(image, loaded, axes=axes, key=key, tile=tile, tta=tta)
    recipe, reason = (
        (postprocessing, "argument")
        if postprocessing
        else postprocessing_recipe(loaded.package, loaded.output_channel_names)
    )
    if recipe is None:
        raise ValueError(f"cannot segment with {loaded.package.name!r}: {reason}")
    return apply_postprocessing(probabilities, recipe)
