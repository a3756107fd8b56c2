"""postprocessing_recipe: our config, torch-em's mws offsets, channel names and tags."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from semiseg_zoo.inference import postprocessing_recipe

OFFSETS = [[-1, 0], [0, -1], [-3, 0], [0, -3]]


def _package(config: dict[str, Any] | None = None, tags: tuple[str, ...] = ()) -> Any:
    """What postprocessing_recipe reads of a package: its config and tags."""
    config_node = SimpleNamespace(model_dump=lambda: dict(config or {}))
    return SimpleNamespace(description=SimpleNamespace(config=config_node, tags=list(tags)))


def test_our_config_wins_over_everything_else():
    recipe = {"method": "watershed", "seed_threshold": 0.7}
    package = _package({"semiseg": {"postprocessing": recipe}, "mws": {"offsets": OFFSETS}})
    assert postprocessing_recipe(package, ["a", "b", "c", "d"]) == (
        recipe,
        "config.semiseg.postprocessing",
    )


def test_torch_em_offsets_give_a_boundary_mutex_watershed():
    recipe, reason = postprocessing_recipe(_package({"mws": {"offsets": OFFSETS}}), ["c"] * 4)
    assert recipe == {"method": "mutex_watershed", "offsets": OFFSETS, "convention": "boundary"}
    assert "4 affinity channels" in reason


def test_torch_em_offsets_after_a_foreground_channel():
    recipe, _ = postprocessing_recipe(_package({"mws": {"offsets": OFFSETS}}), ["c"] * 5)
    assert recipe is not None and recipe["foreground_channel"] is True


def test_torch_em_offsets_that_do_not_fit_the_channels_are_not_guessed():
    recipe, reason = postprocessing_recipe(_package({"mws": {"offsets": OFFSETS}}), ["c"] * 7)
    assert recipe is None
    assert "4 offsets but the output has 7 channels" in reason


def test_three_class_channel_names_give_the_watershed():
    names = ["background", "interior", "boundary"]
    assert postprocessing_recipe(_package(), names)[0] == {"method": "watershed"}


@pytest.mark.parametrize(
    ("names", "tags", "method"),
    [
        (["boundaries"], (), "distance_watershed"),
        (["channel0"], ("membrane", "em"), "distance_watershed"),
        (["foreground"], (), "threshold"),
        (["channel0"], ("nuclei",), "threshold"),
    ],
)
def test_one_channel_named_or_tagged(names, tags, method):
    recipe, reason = postprocessing_recipe(_package(tags=tags), names)
    assert recipe is not None and recipe["method"] == method
    assert "channel" in reason


def test_a_package_that_says_nothing_is_not_segmented_and_says_why():
    recipe, reason = postprocessing_recipe(_package(tags=("segmentation",)), ["channel0"])
    assert recipe is None
    assert "channels ['channel0']" in reason and "no config.mws.offsets" in reason
