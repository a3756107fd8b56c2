"""Pseudo-label net specs: derived from an enhancer spec, validated, and their contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import pytest

from semiseg_zoo.spec import (
    SPEC_CLASSES,
    EnhancerSpec,
    PseudoLabelNetSpec,
    PseudoLabelTrainingSpec,
    ScaleRange,
    SpecError,
    load_spec,
    parse_spec,
    pseudo_label_net_spec,
)

SPEC_DIR = Path(__file__).resolve().parents[2] / "model_specs"


@pytest.fixture
def enhancer() -> EnhancerSpec:
    spec = load_spec(SPEC_DIR / "enhancer_nuclei_lm.yaml")
    assert isinstance(spec, EnhancerSpec)
    return spec


@pytest.fixture
def training() -> PseudoLabelTrainingSpec:
    return PseudoLabelTrainingSpec(
        target="target.tif (3 slices of 256x256)",
        enhancer="enhancer-nuclei-lm",
        data_description="target.tif with pseudo-labels of enhancer-nuclei-lm",
        patch_shape=[128, 128],
    )


@pytest.fixture
def spec_dict(enhancer, training) -> dict[str, Any]:
    return pseudo_label_net_spec(enhancer, training).model_dump(mode="json")


def test_builds_from_the_enhancer_spec_and_validates(enhancer, training) -> None:
    spec = pseudo_label_net_spec(enhancer, training)
    assert isinstance(spec, PseudoLabelNetSpec) and spec.kind == "pseudo_label_net"
    assert SPEC_CLASSES["pseudo_label_net"] is PseudoLabelNetSpec
    assert spec.name == "pseudo-label-net-nuclei-lm"
    # The enhancer's network, shapes and output; raw input normalised as in training.
    assert spec.architecture == enhancer.architecture
    assert (spec.input.min_shape, spec.input.step) == (
        enhancer.input.min_shape,
        enhancer.input.step,
    )
    assert spec.input.preprocessing == ScaleRange(min_percentile=1.0, max_percentile=99.8)
    assert spec.input.data_range == (0.0, 255.0) and spec.input.channel_names is None
    assert spec.output.channel_names == ["nuclei"] and spec.output.activation == "sigmoid"
    assert spec.output.halo == enhancer.output.halo and spec.tile == enhancer.tile
    assert spec.postprocessing == enhancer.postprocessing
    assert spec.cite == enhancer.cite and spec.license == enhancer.license
    assert "pseudo-label" in spec.tags and "domain-adaptation" in spec.tags
    assert "shallow2deep" not in spec.tags  # ilastik would list it as an enhancer
    assert "enhancer" not in spec.tags
    assert "enhancer-nuclei-lm" in spec.description and "target.tif" in spec.description
    # Defaults are the paper's (Sec. 3.1): Adam lr 2e-4, weight decay 1e-5, α = λ = 0.999.
    t = spec.training
    assert (t.learning_rate, t.weight_decay, t.ema_alpha, t.rectification_momentum) == (
        2e-4, 1e-5, 0.999, 0.999,
    )  # fmt: skip
    assert t.rectification and t.consistency and t.loss == "bce"
    # It round-trips through the YAML entry point's parser, as packages store it.
    assert parse_spec(spec.model_dump(mode="json"), "pl.yaml") == spec


def test_name_recipe_and_ablation_in_the_description(enhancer, training) -> None:
    recipe = {"method": "threshold", "threshold": 0.4, "min_size": 15}
    ablation = training.model_copy(update={"rectification": False})
    spec = pseudo_label_net_spec(enhancer, ablation, name="my-net", postprocessing=recipe)
    assert spec.name == "my-net"
    assert spec.postprocessing.model_dump() == recipe
    assert "consistency term" in spec.description and "rectification" not in spec.description


def test_builder_needs_an_enhancer_spec(training) -> None:
    teacher = load_spec(SPEC_DIR / "teacher_nuclei_2d.yaml")
    with pytest.raises(TypeError, match="`enhancer` must be an EnhancerSpec, got TeacherSpec"):
        pseudo_label_net_spec(teacher, training)


def test_builder_rejects_a_bad_name_or_patch_shape(enhancer, training) -> None:
    with pytest.raises(pydantic.ValidationError, match="name"):
        pseudo_label_net_spec(enhancer, training, name="Bad Name")
    three_d = training.model_copy(update={"patch_shape": [16, 128, 128]})
    with pytest.raises(pydantic.ValidationError, match="training.patch_shape"):
        pseudo_label_net_spec(enhancer, three_d)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["input"].update(preprocessing=None), "input is raw data"),
        (
            lambda d: (
                d["output"].update(activation="none"),
                d["architecture"]["kwargs"].update(final_activation="none"),
            ),
            "one output channel with",
        ),
        (lambda d: d.update(postprocessing={"method": "watershed"}), "threshold or distance_wat"),
        (lambda d: d["training"].update(ema_alpha=1.5), "training.ema_alpha"),
        (lambda d: d["training"].update(loss="l1"), "training.loss"),
        (lambda d: d["training"].update(thresholds=[0.5]), "training.thresholds"),
    ],
)
def test_pseudo_label_net_contract(spec_dict, change, message) -> None:
    change(spec_dict)
    with pytest.raises(SpecError, match=message):
        parse_spec(spec_dict, "pl.yaml")
