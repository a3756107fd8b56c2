"""The README.md shipped inside a package."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from semiseg_zoo.spec import ModelSpec


def _table(rows: Mapping[str, Any]) -> str:
    lines = ["| metric | value |", "| --- | --- |"]
    lines += [f"| {key} | {value} |" for key, value in rows.items()]
    return "\n".join(lines)


def _input_text(spec: ModelSpec) -> str:
    if spec.kind == "enhancer":
        features = spec.features
        return (
            "A Random Forest's probability map of the class in the output (range [0, 1], no "
            "normalisation), never raw data: train the forest on your image with a few brush "
            "strokes (ilastik pixel classification, or `semiseg-enhance`) on the features "
            f"{features.names} at scales {features.sigmas}. In ilastik the model appears in the "
            "Trainable Domain Adaptation workflow (tag `shallow2deep`)."
        )
    if spec.kind == "pseudo_label_net":
        training = spec.training
        return (
            f"Raw intensities (range {list(spec.input.data_range)}), normalised inside the "
            f"package by `scale_range`. This network was trained for one target domain "
            f"({training.target}) without its labels, from the soft pseudo-labels of the "
            f"shallow2deep Prediction Enhancer `{training.enhancer}` (shallow2deep domain "
            "adaptation): it fits data like that and may fail elsewhere. For other data, start "
            f"from `{training.enhancer}` with `semiseg-enhance` and your own scribbles."
        )
    return (
        f"Raw intensities (range {list(spec.input.data_range)}), normalised inside the package "
        f"by `{spec.input.preprocessing.name if spec.input.preprocessing else 'none'}`."
    )


def _output_text(spec: ModelSpec) -> str:
    if spec.kind != "affinity":
        return ""
    return (
        f"\n\nChannel n is the affinity of each pixel with the pixel `offsets[n]` away, offsets "
        f"{spec.offsets} (also in `config.semiseg.offsets` and torch-em's `config.mws.offsets`): "
        "**1 = same object**, 0 = different objects (the inverse of torch-em's boundary "
        "affinities; use `1 - output` with tools that expect those)."
    )


def _usage(spec: ModelSpec) -> str:
    if spec.kind == "enhancer":
        return (
            "```\nsemiseg-enhance image.tif --scribbles strokes.tif "
            f"--model {spec.name}.zip -o out/\n"
            "semiseg-enhance image.tif --rf-probabilities ilastik_probabilities.tif "
            f"--model {spec.name}.zip -o out/\n```"
        )
    return f"```\nsemiseg-predict images/*.tif --model {spec.name}.zip -o out/\n```"


def package_readme(
    spec: ModelSpec, postprocessing: Mapping[str, Any], validation: Mapping[str, Any]
) -> str:
    """Markdown documentation with the sections users and the bioimage.io checks expect."""
    spatial = spec.input.axes[2:]
    recipe = ", ".join(f"{k}={v}" for k, v in postprocessing.items())
    citations = "\n".join(
        f"- {c.text}" + (f" doi:{c.doi}" if c.doi else f" {c.url}") for c in spec.cite
    )
    return f"""# {spec.name}

{spec.description}

Made with [semiseg-zoo](https://pypi.org/project/semiseg-zoo/) (kind: `{spec.kind}`).

## Input

One tensor `{spec.input.axes}`, {spec.input.channels} channel(s); spatial axes `{spatial}` of
size {spec.input.min_shape} + n * {spec.input.step}. {_input_text(spec)}

## Output

One tensor with channels {spec.output.channel_names} ({spec.output.activation} applied inside the
network), same spatial size as the input; crop a halo of {spec.output.halo} pixels when tiling.{
        _output_text(spec)
    }

## Post-processing

`config.semiseg.postprocessing`: {recipe}. With semiseg-zoo:

{_usage(spec)}

## Training data

{spec.training.data_description}

## Validation

Scores on `{validation.get("dataset", spec.training.val)}` with the post-processing above:

{_table(validation)}

## Citation

{citations}

## Licence

{spec.license}
"""
