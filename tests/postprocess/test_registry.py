"""The table from method name to post-processing function."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from semiseg_zoo.postprocess import (
    apply_postprocessing,
    available_methods,
    connected_components_from_foreground,
    distance_watershed_from_boundaries,
    register_postprocessing,
    registry,
    watershed_from_probabilities,
)
from semiseg_zoo.spec import load_spec

from .helpers import probabilities

TEACHER_YAML = Path(__file__).resolve().parents[2] / "model_specs" / "teacher_nuclei_2d.yaml"

PROBABILITIES = probabilities(
    "BBBBBBBB",
    "BIIbbIIB",
    "BIIbbIIB",
    "BIIBBBBB",
)


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> dict:
    """A copy of the method table, so that registrations made by a test do not leak."""
    table = dict(registry._METHODS)
    monkeypatch.setattr(registry, "_METHODS", table)
    return table


def test_builtin_methods_are_registered() -> None:
    assert available_methods() == [
        "agglomerated_watershed",
        "distance_watershed",
        "embedding_mws",
        "hdbscan",
        "mean_shift",
        "mutex_watershed",
        "threshold",
        "watershed",
    ]
    assert registry._METHODS["distance_watershed"] is distance_watershed_from_boundaries
    assert registry._METHODS["watershed"] is watershed_from_probabilities
    assert registry._METHODS["threshold"] is connected_components_from_foreground


def test_apply_watershed_matches_direct_call() -> None:
    recipe = {"method": "watershed", "seed_threshold": 0.6, "foreground_threshold": 0.5}
    result = apply_postprocessing(PROBABILITIES, recipe)
    expected = watershed_from_probabilities(
        PROBABILITIES, seed_threshold=0.6, foreground_threshold=0.5
    )
    np.testing.assert_array_equal(result, expected)
    assert result.dtype == np.uint32
    assert result.max() == 2


def test_apply_threshold() -> None:
    p = np.array([[[0.9, 0.2, 0.9], [0.9, 0.2, 0.3]]])
    result = apply_postprocessing(p, {"method": "threshold", "threshold": 0.5, "min_size": 2})
    np.testing.assert_array_equal(result, np.array([[1, 0, 0], [1, 0, 0]], dtype=np.uint32))


def test_apply_recipe_from_spec() -> None:
    spec = load_spec(TEACHER_YAML)
    recipe = spec.postprocessing.model_dump()
    assert recipe == {
        "method": "watershed",
        "seed_threshold": 0.6,
        "foreground_threshold": 0.5,
        "min_size": 15,
    }
    # Both objects (8 and 6 pixels) are below the spec's min_size.
    assert apply_postprocessing(PROBABILITIES, recipe).max() == 0
    recipe["min_size"] = 7
    np.testing.assert_array_equal(
        apply_postprocessing(PROBABILITIES, recipe),
        np.array(
            [
                [0, 0, 0, 0, 0, 0, 0, 0],
                [0, 1, 1, 1, 0, 0, 0, 0],
                [0, 1, 1, 1, 0, 0, 0, 0],
                [0, 1, 1, 0, 0, 0, 0, 0],
            ],
            dtype=np.uint32,
        ),
    )


def test_apply_does_not_mutate_recipe_or_input() -> None:
    recipe = {"method": "watershed", "min_size": 1}
    p = PROBABILITIES.copy()
    apply_postprocessing(p, recipe)
    assert recipe == {"method": "watershed", "min_size": 1}
    np.testing.assert_array_equal(p, PROBABILITIES)


@pytest.mark.parametrize(
    ("recipe", "shown"), [({"method": "magic"}, "'magic'"), ({"threshold": 0.5}, "None")]
)
def test_unknown_method(recipe: dict, shown: str) -> None:
    with pytest.raises(
        ValueError,
        match=rf"unknown post-processing method {shown}; expected one of \['agglomerated_watershed', 'distance_watershed', 'embedding_mws', 'hdbscan', 'mean_shift', 'mutex_watershed', 'threshold', 'watershed'\]",
    ):
        apply_postprocessing(PROBABILITIES, recipe)


def test_unknown_parameter() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'sigma'"):
        apply_postprocessing(PROBABILITIES, {"method": "watershed", "sigma": 2.0})


def test_bad_parameter_value_is_checked_by_the_method() -> None:
    with pytest.raises(ValueError, match=r"`seed_threshold` must be in \(0, 1\), got 1.5"):
        apply_postprocessing(PROBABILITIES, {"method": "watershed", "seed_threshold": 1.5})


def test_register_new_method(scratch_registry: dict) -> None:
    calls = []

    @register_postprocessing("first_channel_ids")
    def first_channel_ids(array: np.ndarray, *, offset: int = 0) -> np.ndarray:
        calls.append(offset)
        return (array[0] > 0).astype(np.uint32) + offset

    assert "first_channel_ids" in available_methods()
    assert available_methods() == sorted(available_methods())
    result = apply_postprocessing(np.ones((1, 2, 2)), {"method": "first_channel_ids", "offset": 1})
    np.testing.assert_array_equal(result, np.full((2, 2), 2, dtype=np.uint32))
    assert calls == [1]
    # The decorator returns the function unchanged.
    assert scratch_registry["first_channel_ids"] is first_channel_ids


def test_registration_does_not_leak() -> None:
    assert "first_channel_ids" not in available_methods()


@pytest.mark.usefixtures("scratch_registry")
@pytest.mark.parametrize("name", ["watershed", "threshold"])
def test_duplicate_registration_raises(name: str) -> None:
    with pytest.raises(ValueError, match=f"post-processing method '{name}' is already registered"):

        @register_postprocessing(name)
        def again(array: np.ndarray) -> np.ndarray:  # pragma: no cover - never registered
            return array

    original = {"watershed": watershed_from_probabilities}.get(
        name, connected_components_from_foreground
    )
    assert registry._METHODS[name] is original


@pytest.mark.usefixtures("scratch_registry")
def test_duplicate_of_new_method_raises() -> None:
    register_postprocessing("mine")(lambda array: array)
    with pytest.raises(ValueError, match="'mine' is already registered"):
        register_postprocessing("mine")(lambda array: array)
