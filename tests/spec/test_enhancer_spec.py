"""Enhancer specs: the shipped YAML files load; the enhancer contract is enforced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from semiseg_zoo.spec import EnhancerSpec, SpecError, load_spec, parse_spec

SPECS = sorted((Path(__file__).resolve().parents[2] / "model_specs").glob("enhancer_*.yaml"))


@pytest.fixture
def enhancer_dict() -> dict[str, Any]:
    return yaml.safe_load(SPECS[0].read_text())


def test_three_enhancer_specs_ship_and_load() -> None:
    names = {load_spec(path).name for path in SPECS}
    assert names == {"enhancer-mito-em", "enhancer-boundaries-em", "enhancer-nuclei-lm"}
    for path in SPECS:
        spec = load_spec(path)
        assert isinstance(spec, EnhancerSpec)
        assert spec.input.preprocessing is None and spec.output.activation == "sigmoid"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["input"].update(preprocessing={"name": "scale_range"}), "must be absent"),
        (lambda d: d["input"].update(data_range=[0, 255]), "data_range` must be \\[0, 1\\]"),
        (lambda d: d["tags"].remove("shallow2deep"), "must include shallow2deep"),
        (lambda d: d["training"].update(forest_patch_size=[300, 100]), "forest_patch_size"),
        (lambda d: d["training"].update(loss="l1"), "training.loss"),
        (lambda d: d["training"].update(thresholds=[1.5]), "thresholds"),
        (lambda d: d.update(postprocessing={"method": "watershed"}), "threshold or distance_wat"),
    ],
)
def test_enhancer_contract(enhancer_dict, change, message) -> None:
    change(enhancer_dict)
    with pytest.raises(SpecError, match=message):
        parse_spec(enhancer_dict, "e.yaml")
