"""The spec of a shallow2deep pseudo-label network, derived from its enhancer's spec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .schema import (
    EnhancerSpec,
    InputSpec,
    OutputSpec,
    PseudoLabelNetSpec,
    PseudoLabelTrainingSpec,
    ScaleRange,
)

#: Tags every pseudo-label net carries (besides its enhancer's, without ``enhancer``).
# Not `shallow2deep`: ilastik's Trainable Domain Adaptation lists models with that tag as
# enhancers (forest maps in), and this net takes raw data.
PSEUDO_LABEL_TAGS = ("pseudo-label", "domain-adaptation")


def default_pseudo_label_net_name(enhancer: EnhancerSpec) -> str:
    """``pseudo-label-net-<task>`` for an enhancer named ``enhancer-<task>`` (else its name)."""
    return f"pseudo-label-net-{enhancer.name.removeprefix('enhancer-')}"


def pseudo_label_net_spec(
    enhancer: EnhancerSpec,
    training: PseudoLabelTrainingSpec,
    *,
    name: str | None = None,
    postprocessing: Mapping[str, Any] | None = None,
) -> PseudoLabelNetSpec:
    """The spec of a U-Net trained on raw target data from ``enhancer``'s pseudo-labels.

    Architecture kwargs, shapes (``min_shape``, ``step``, ``halo``, ``tile``), the output
    channel, authors, citations and licence are the enhancer's; the input is raw intensities
    (data range [0, 255]) with ``scale_range`` (1, 99.8) preprocessing, as in training; the
    tags are the enhancer's without ``enhancer`` and ``shallow2deep``, plus ``pseudo-label`` and
    ``domain-adaptation``.

    Parameters
    ----------
    enhancer:
        The spec of the enhancer that made the pseudo-labels (a package's
        ``config.semiseg.spec``).
    training:
        How the net was trained; ``training.patch_shape`` must have the enhancer's spatial axes.
    name:
        The package name (default :func:`default_pseudo_label_net_name`).
    postprocessing:
        The recipe (default the enhancer spec's); pass the enhancer package's tuned
        ``config.semiseg.postprocessing``.

    Returns
    -------
    PseudoLabelNetSpec
        Validated.

    Raises
    ------
    TypeError
        If ``enhancer`` is not an :class:`EnhancerSpec`.
    pydantic.ValidationError
        If the derived spec is invalid (e.g. a bad ``name`` or ``patch_shape``).
    """
    if not isinstance(enhancer, EnhancerSpec):
        raise TypeError(
            f"`enhancer` must be an EnhancerSpec, got {type(enhancer).__name__}; pass the spec of "
            "the enhancer that made the pseudo-labels"
        )
    kwargs = enhancer.architecture.kwargs
    channel = enhancer.output.channel_names[0]
    tags = [tag for tag in enhancer.tags if tag not in ("enhancer", "shallow2deep")]
    tags += [tag for tag in PSEUDO_LABEL_TAGS if tag not in tags]
    description = (
        f"shallow2deep segmentation network for {training.target}: a 2D U-Net "
        f"({kwargs.get('depth')} levels, {kwargs.get('base_features')} base features) on raw "
        f"intensities that predicts the {channel} probability (sigmoid). Trained without labels "
        f"of the target, from the soft pseudo-labels of the Prediction Enhancer {enhancer.name} "
        "(a Random Forest trained on scribbles, improved by the enhancer)"
        + _additions(training)
        + ". Meant for data like its training data."
    )
    recipe = dict(postprocessing or enhancer.postprocessing.model_dump())
    return PseudoLabelNetSpec(
        kind="pseudo_label_net",
        name=name or default_pseudo_label_net_name(enhancer),
        description=description,
        authors=enhancer.authors,
        cite=enhancer.cite,
        license=enhancer.license,
        tags=tags,
        architecture=enhancer.architecture,
        input=InputSpec(
            axes=enhancer.input.axes,
            channels=enhancer.input.channels,
            data_range=(0.0, 255.0),
            preprocessing=ScaleRange(min_percentile=1.0, max_percentile=99.8),
            min_shape=enhancer.input.min_shape,
            step=enhancer.input.step,
        ),
        output=OutputSpec(channel_names=[channel], halo=enhancer.output.halo, activation="sigmoid"),
        postprocessing=recipe,
        training=training,
        tile=enhancer.tile,
    )


def _additions(training: PseudoLabelTrainingSpec) -> str:
    used = [
        text
        for text, on in (
            ("a mean-teacher consistency term", training.consistency),
            ("confidence label rectification", training.rectification),
        )
        if on
    ]
    return f", with {' and '.join(used)}" if used else ""
