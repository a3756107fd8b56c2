"""Build the typed bioimage.io 0.5 model description of a package."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from bioimageio.spec.model import v0_5

from semiseg_zoo.spec import ModelSpec, ScaleRange, ZeroMeanUnitVariance

from .weights import ONNX_OPSET

INPUT_ID = "input"
OUTPUT_ID = "output"


def _preprocessing(spec: ModelSpec) -> list[Any]:
    spatial = [v0_5.AxisId(a) for a in spec.input.axes[2:]]
    norm = spec.input.preprocessing
    if isinstance(norm, ScaleRange):
        return [
            v0_5.ScaleRangeDescr(
                kwargs=v0_5.ScaleRangeKwargs(
                    axes=spatial,
                    min_percentile=norm.min_percentile,
                    max_percentile=norm.max_percentile,
                )
            )
        ]
    if isinstance(norm, ZeroMeanUnitVariance):
        return [
            v0_5.ZeroMeanUnitVarianceDescr(kwargs=v0_5.ZeroMeanUnitVarianceKwargs(axes=spatial))
        ]
    return []


def _input_descr(spec: ModelSpec, test_input: Path, sample_input: Path) -> v0_5.InputTensorDescr:
    channel_names = spec.input.channel_names or (
        ["raw"] if spec.input.channels == 1 else [f"raw{i}" for i in range(spec.input.channels)]
    )
    axes: list[Any] = [
        v0_5.BatchAxis(),
        v0_5.ChannelAxis(channel_names=[v0_5.Identifier(n) for n in channel_names]),
    ]
    for axis, minimum, step in zip(
        spec.input.axes[2:], spec.input.min_shape, spec.input.step, strict=True
    ):
        axes.append(
            v0_5.SpaceInputAxis(
                id=v0_5.AxisId(axis), size=v0_5.ParameterizedSize(min=minimum, step=step)
            )
        )
    return v0_5.InputTensorDescr(
        id=v0_5.TensorId(INPUT_ID),
        axes=axes,
        test_tensor=v0_5.FileDescr(source=test_input),
        sample_tensor=v0_5.FileDescr(source=sample_input),
        data=v0_5.IntervalOrRatioDataDescr(type="float32"),
        preprocessing=_preprocessing(spec),
    )


def _output_descr(
    spec: ModelSpec, test_output: Path, sample_output: Path
) -> v0_5.OutputTensorDescr:
    axes: list[Any] = [
        v0_5.BatchAxis(),
        v0_5.ChannelAxis(channel_names=[v0_5.Identifier(n) for n in spec.output.channel_names]),
    ]
    for axis, halo in zip(spec.input.axes[2:], spec.output.halo, strict=True):
        size = v0_5.SizeReference(tensor_id=v0_5.TensorId(INPUT_ID), axis_id=v0_5.AxisId(axis))
        axes.append(v0_5.SpaceOutputAxisWithHalo(id=v0_5.AxisId(axis), size=size, halo=halo))
    value_range = (0.0, 1.0) if spec.output.activation != "none" else (None, None)
    return v0_5.OutputTensorDescr(
        id=v0_5.TensorId(OUTPUT_ID),
        axes=axes,
        test_tensor=v0_5.FileDescr(source=test_output),
        sample_tensor=v0_5.FileDescr(source=sample_output),
        data=v0_5.IntervalOrRatioDataDescr(type="float32", range=value_range),
    )


def _weights(spec: ModelSpec, files: Mapping[str, Path]) -> v0_5.WeightsDescr:
    torch_version = v0_5.Version(torch.__version__.split("+")[0])
    architecture = v0_5.ArchitectureFromFileDescr(
        source=files["architecture"],
        callable=v0_5.Identifier(spec.architecture.name),
        kwargs=dict(spec.architecture.kwargs),
    )
    return v0_5.WeightsDescr(
        pytorch_state_dict=v0_5.PytorchStateDictWeightsDescr(
            source=files["pytorch_state_dict"],
            architecture=architecture,
            pytorch_version=torch_version,
        ),
        torchscript=v0_5.TorchscriptWeightsDescr(
            source=files["torchscript"], pytorch_version=torch_version, parent="pytorch_state_dict"
        ),
        onnx=v0_5.OnnxWeightsDescr(
            source=files["onnx"], opset_version=ONNX_OPSET, parent="pytorch_state_dict"
        ),
    )


def build_description(
    spec: ModelSpec,
    files: Mapping[str, Path],
    *,
    semiseg_config: Mapping[str, Any],
    other_config: Mapping[str, Any] | None = None,
) -> v0_5.ModelDescr:
    """The package description; ``files`` maps roles (``test_input``, ``test_output``,
    ``sample_input``, ``sample_output``, ``documentation``, ``cover``, ``architecture`` and the
    three weight formats) to paths. ``other_config`` adds ``config`` entries for other tools
    (e.g. torch-em's ``mws``)."""
    return v0_5.ModelDescr(
        name=spec.name,
        description=" ".join(spec.description.split())[:1024],
        authors=[
            v0_5.Author(name=a.name, affiliation=a.affiliation, orcid=a.orcid) for a in spec.authors
        ],
        cite=[
            v0_5.CiteEntry(text=" ".join(c.text.split()), doi=c.doi, url=c.url) for c in spec.cite
        ],
        license=v0_5.LicenseId(spec.license),
        tags=list(spec.tags),
        documentation=v0_5.FileDescr(source=files["documentation"]),
        covers=[v0_5.FileDescr(source=files["cover"])],
        inputs=[_input_descr(spec, files["test_input"], files["sample_input"])],
        outputs=[_output_descr(spec, files["test_output"], files["sample_output"])],
        weights=_weights(spec, files),
        config={"semiseg": dict(semiseg_config), **dict(other_config or {})},
        version=v0_5.Version("0.1.0"),
    )
