"""Which instance post-processing a package's output needs.

Packages written by semiseg-zoo say it in ``config.semiseg.postprocessing``. For other packages
it is inferred from what they say about their output, in this order: torch-em's
``config.mws.offsets`` (affinities as boundary evidence, optionally after a foreground
channel), three channels named background/interior/boundary, and a single channel that the
channel name or the tags call a foreground or a boundary map. Anything else is not segmented.
"""

from __future__ import annotations

from typing import Any

from .package import Package

THREE_CLASS_NAMES = (
    ["background", "interior", "boundary"],
    ["background", "foreground", "boundary"],
)
FOREGROUND_WORDS = frozenset({"foreground", "fg", "mask", "semantic-segmentation", "nuclei"})
BOUNDARY_WORDS = frozenset({"boundary", "boundaries", "membrane", "membranes", "contour"})


def postprocessing_recipe(
    package: Package, channel_names: list[str]
) -> tuple[dict[str, Any] | None, str]:
    """The recipe ``{"method": ..., **params}`` for ``package``, or None, with the reason.

    Parameters
    ----------
    package:
        The loaded package.
    channel_names:
        Names of its output's channels.

    Returns
    -------
    tuple
        The recipe (or None) and a sentence saying where it came from (or why there is none).
    """
    config = package.description.config.model_dump()
    semiseg = config.get("semiseg") or {}
    if "postprocessing" in semiseg:
        return dict(semiseg["postprocessing"]), "config.semiseg.postprocessing"
    offsets = (config.get("mws") or {}).get("offsets")
    if offsets:
        return _torch_em_affinities(offsets, channel_names)
    if channel_names in THREE_CLASS_NAMES:
        return {"method": "watershed"}, "3-class output channels (background, interior, boundary)"
    words = {name.lower() for name in channel_names} | {t.lower() for t in package.description.tags}
    if len(channel_names) == 1 and words & BOUNDARY_WORDS:
        return (
            {"method": "distance_watershed"},
            f"one boundary channel ({sorted(words & BOUNDARY_WORDS)} in channel name or tags)",
        )
    if len(channel_names) == 1 and words & FOREGROUND_WORDS:
        return (
            {"method": "threshold", "threshold": 0.5},
            f"one foreground channel ({sorted(words & FOREGROUND_WORDS)} in channel name or tags)",
        )
    return None, (
        f"the package does not say how to turn its output (channels {channel_names}, tags "
        f"{list(package.description.tags)}) into instances: it has no config.semiseg."
        "postprocessing, no config.mws.offsets, and no channel names or tags that say foreground, "
        "boundary or background/interior/boundary"
    )


def _torch_em_affinities(
    offsets: list[list[int]], channel_names: list[str]
) -> tuple[dict[str, Any] | None, str]:
    """torch-em affinity models: one channel per offset, 1 = boundary, optionally after a
    foreground channel."""
    recipe: dict[str, Any] = {
        "method": "mutex_watershed",
        "offsets": [list(map(int, o)) for o in offsets],
        "convention": "boundary",
    }
    if len(channel_names) == len(offsets):
        return recipe, f"config.mws.offsets ({len(offsets)} affinity channels, torch-em)"
    if len(channel_names) == len(offsets) + 1:
        recipe["foreground_channel"] = True
        return recipe, (
            f"config.mws.offsets (a foreground channel, then {len(offsets)} affinity channels, "
            "torch-em)"
        )
    return None, (
        f"config.mws.offsets lists {len(offsets)} offsets but the output has "
        f"{len(channel_names)} channels (expected {len(offsets)} or {len(offsets) + 1} with a "
        "foreground channel)"
    )
