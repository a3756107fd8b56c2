"""Which instance post-processing a package's output needs."""

from __future__ import annotations

from typing import Any

from .package import Package

THREE_CLASS_NAMES = (
    ["background", "interior", "boundary"],
    ["background", "foreground", "boundary"],
)


def postprocessing_recipe(
    package: Package, channel_names: list[str]
) -> tuple[dict[str, Any] | None, str]:
    """The recipe ``{"method": ..., **params}`` for ``package``, or None, with the reason.

    Packages written by semiseg-zoo carry it in ``config.semiseg.postprocessing``; a 3-class
    output named background/interior/boundary gets the watershed with default thresholds.
    """
    config = package.semiseg_config
    if config and "postprocessing" in config:
        return dict(config["postprocessing"]), "config.semiseg.postprocessing"
    if channel_names in THREE_CLASS_NAMES:
        return {"method": "watershed"}, "3-class output channels (background, interior, boundary)"
    return None, (
        f"the package does not say how to turn its output (channels {channel_names}) into "
        "instances: it has no config.semiseg.postprocessing and no recognised channel names"
    )
