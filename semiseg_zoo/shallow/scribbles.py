"""Simulated brush-stroke annotations (scribbles) from semantic ground truth, as a user would
draw them in ilastik: short, thick strokes well inside each class region."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from skimage.draw import line
from skimage.morphology import disk

from .checks import check_labels

#: Scribble value of unlabeled pixels; class ``c`` of the ground truth is scribble value ``c + 1``.
UNLABELED = 0


def simulate_scribbles(
    semantic_gt: np.ndarray,
    *,
    n_strokes_per_class: int = 5,
    stroke_width: int = 3,
    stroke_length: int = 40,
    seed: int = 0,
    classes: Sequence[int] | None = None,
    n_slices: int = 3,
) -> np.ndarray:
    """Draw simulated brush strokes for each class of a semantic ground truth.

    Per class and 2D image, ``n_strokes_per_class`` distinct centres are drawn at random among
    the class pixels at least ``stroke_width // 2`` pixels from the class border (all class
    pixels if none is that far). From each centre a straight line in a random direction runs
    up to ``stroke_length / 2`` pixels each way, stopping where it would leave that eroded
    region, so a stroke never jumps across another class. The lines are thickened to
    ``stroke_width`` and cut to the class pixels, so a stroke never labels the wrong class.

    A 3D ``(Z, Y, X)`` ground truth is annotated like a user scrolling through it: strokes
    are drawn on ``n_slices`` z-slices chosen at random, each slice as a 2D image; classes
    absent from a chosen slice get no strokes there.

    Parameters
    ----------
    semantic_gt:
        Integer (or bool) class ids, ``(Y, X)`` or ``(Z, Y, X)``; 0 = background,
        1 = foreground, further ids for more classes (at most 254).
    n_strokes_per_class:
        Strokes per class (per chosen slice in 3D).
    stroke_width:
        Brush diameter in pixels; even widths draw like the next odd width.
    stroke_length:
        Length of a stroke's centre line in pixels, before it is cut at the class border.
    seed:
        Seed of the random generator.
    classes:
        Ground-truth class ids to annotate; None for all classes present.
    n_slices:
        z-slices annotated in 3D (all slices if the volume has fewer); ignored in 2D.

    Returns
    -------
    np.ndarray
        uint8 scribbles with the shape of ``semantic_gt``: 0 = unlabeled, ``c + 1`` for class
        ``c`` (1 = background, 2 = foreground).

    Raises
    ------
    TypeError
        If ``semantic_gt`` does not hold integer class ids.
    ValueError
        If it is not 2D/3D, a class id is outside 0-254, a class in ``classes`` is absent, or
        a stroke parameter is < 1.

    Examples
    --------
    >>> gt = np.zeros((20, 20), dtype=int)
    >>> gt[5:15, 5:15] = 1
    >>> scribbles = simulate_scribbles(gt, n_strokes_per_class=1, stroke_width=1)
    >>> sorted(scribble_pixel_counts(scribbles))
    [1, 2]
    """
    check_labels(semantic_gt, "semantic_gt")
    for name, value in (
        ("n_strokes_per_class", n_strokes_per_class),
        ("stroke_width", stroke_width),
        ("stroke_length", stroke_length),
        ("n_slices", n_slices),
    ):
        if value < 1:
            raise ValueError(f"`{name}` must be ≥ 1, got {value}")
    present = np.unique(semantic_gt).tolist()
    wanted = present if classes is None else [int(c) for c in classes]
    if not wanted or min(wanted) < 0 or max(wanted) > 254:
        raise ValueError(
            f"class ids must lie in 0-254 to fit uint8 scribbles (c + 1), got {wanted}"
        )
    absent = sorted(set(wanted) - set(present))
    if absent:
        raise ValueError(
            f"`classes` {absent} do not occur in `semantic_gt` (which holds {present}); "
            "leave them out or pass `classes=None`"
        )

    rng = np.random.default_rng(seed)
    scribbles = np.zeros(semantic_gt.shape, dtype=np.uint8)
    if semantic_gt.ndim == 2:
        _draw_slice(
            semantic_gt, scribbles, wanted, n_strokes_per_class, stroke_width, stroke_length, rng
        )
        return scribbles
    n_z = semantic_gt.shape[0]
    for z in np.sort(rng.choice(n_z, size=min(n_slices, n_z), replace=False)):
        _draw_slice(
            semantic_gt[z],
            scribbles[z],
            wanted,
            n_strokes_per_class,
            stroke_width,
            stroke_length,
            rng,
        )
    return scribbles


def scribble_pixel_counts(scribbles: np.ndarray) -> dict[int, int]:
    """Count the annotated pixels per scribble value.

    Parameters
    ----------
    scribbles:
        Integer scribbles, 0 = unlabeled (:func:`simulate_scribbles`).

    Returns
    -------
    dict[int, int]
        ``{scribble value: pixel count}`` for each value > 0 present, ascending
        (1 = background, 2 = foreground).

    Raises
    ------
    TypeError
        If ``scribbles`` is not an integer array.

    Examples
    --------
    >>> scribble_pixel_counts(np.array([[0, 1, 1], [2, 0, 1]], dtype=np.uint8))
    {1: 3, 2: 1}
    """
    if not isinstance(scribbles, np.ndarray) or not np.issubdtype(scribbles.dtype, np.integer):
        raise TypeError(
            f"`scribbles` must be an integer numpy array, got {getattr(scribbles, 'dtype', type(scribbles))}"
        )
    values, counts = np.unique(scribbles[scribbles != UNLABELED], return_counts=True)
    return {int(v): int(n) for v, n in zip(values, counts, strict=True)}


def _draw_slice(
    gt: np.ndarray,
    out: np.ndarray,
    classes: Sequence[int],
    n_strokes: int,
    width: int,
    length: int,
    rng: np.random.Generator,
) -> None:
    """Draw the strokes of every class of the 2D ``gt`` into ``out`` (a view of the result)."""
    radius = width // 2
    footprint = disk(radius) if radius > 0 else np.ones((1, 1), dtype=bool)
    for c in classes:
        region = gt == c
        if not region.any():
            continue
        # The brush centre stays this far inside so that the stroke's full width fits.
        core = ndimage.binary_erosion(region, footprint, border_value=1) if radius else region
        if not core.any():
            core = region
        candidates = np.flatnonzero(core)
        centres = rng.choice(candidates, size=min(n_strokes, candidates.size), replace=False)
        strokes = np.zeros(gt.shape, dtype=bool)
        for centre in centres:
            y, x = divmod(int(centre), gt.shape[1])
            angle = rng.uniform(0, np.pi)
            dy, dx = np.sin(angle) * length / 2, np.cos(angle) * length / 2
            for sign in (1, -1):
                _draw_ray(strokes, core, y, x, round(y + sign * dy), round(x + sign * dx))
        strokes = ndimage.binary_dilation(strokes, footprint) & region
        out[strokes] = c + 1


def _draw_ray(canvas: np.ndarray, core: np.ndarray, y0: int, x0: int, y1: int, x1: int) -> None:
    """Set the pixels of the line from (y0, x0) towards (y1, x1) up to the first one outside
    ``core`` or the image."""
    rows, cols = line(y0, x0, y1, x1)
    inside = (rows >= 0) & (rows < core.shape[0]) & (cols >= 0) & (cols < core.shape[1])
    inside[inside] = core[rows[inside], cols[inside]]
    stop = inside.size if inside.all() else int(np.argmin(inside))
    canvas[rows[:stop], cols[:stop]] = True
