"""Confidence-based pseudo-label rectification of shallow2deep (Eq. 6-8), foreground/background.

A network ``f`` trained on soft pseudo-labels ``y1`` (the enhancer's foreground probabilities)
predicts ``p1``; with ``p0 = 1 - p1`` and ``y0 = 1 - y1``:

- Eq. 8: ``η_k ← λ η_k + (1 - λ) mean(S_k)``, ``S_k = {p_k(x) | y_k(x) > 0.5}`` over all
  pixels of the batch, for k = 1 (foreground) and k = 0 (background).
- Eq. 7: ``ω_k = 1 - |p_k - η_k|``.
- Eq. 6: ``ŷ_k = ω_k y_k``.

References
----------
A. Matskevych, A. Wolny, C. Pape, A. Kreshuk: "From Shallow to Deep: Exploiting Feature-Based
Classifiers for Domain Adaptation in Semantic Segmentation", Frontiers in Computer Science, 2022,
section 2.2.2.
"""

from __future__ import annotations

import torch

#: Lower bound of the logarithms in :func:`rectified_bce`, as in ``torch.nn.BCELoss``, so that
#: a probability of exactly 0 or 1 gives a finite loss.
LOG_MIN = -100.0


def _check_probabilities(tensor: torch.Tensor, name: str) -> None:
    if not isinstance(tensor, torch.Tensor) or not torch.is_floating_point(tensor):
        raise TypeError(
            f"`{name}` must be a floating-point torch tensor, got "
            f"{getattr(tensor, 'dtype', type(tensor).__name__)}"
        )
    if tensor.numel() == 0:
        return
    low, high = (v.item() for v in torch.aminmax(tensor.detach()))
    # Written so that NaN fails too.
    if not (low >= 0 and high <= 1):
        raise ValueError(
            f"`{name}` must hold probabilities in [0, 1], got values in [{low:.3g}, {high:.3g}]; "
            "apply a sigmoid first"
        )


def _check_pair(p1: torch.Tensor, y1: torch.Tensor) -> None:
    _check_probabilities(p1, "p1")
    _check_probabilities(y1, "y1")
    if p1.shape != y1.shape:
        raise ValueError(
            f"`p1` has shape {tuple(p1.shape)} but `y1` has {tuple(y1.shape)}; pass the "
            "prediction and pseudo-label of the same pixels"
        )


class ConfidenceRectifier:
    """Running confidence levels ``η1`` (foreground) and ``η0`` (background) and the rectified
    pseudo-labels they give (shallow2deep Eq. 6-8).

    Initialisation: ``η_k`` is None until a batch has pixels with ``y_k > 0.5``; the first such
    batch sets ``η_k = mean(S_k)`` directly instead of blending it with an arbitrary start
    value (0 would make ``ω_k ≈ 1 - p_k`` for thousands of steps at ``λ = 0.999``). While
    ``η_k`` is None, ``ω_k = 1``: the pseudo-labels of that class are used as they are.

    A batch without pixels of a class (empty ``S_k``) leaves ``η_k`` unchanged.

    Parameters
    ----------
    momentum:
        The smoothing factor ``λ`` in [0, 1] (0.999 in the paper).

    Raises
    ------
    ValueError
        If ``momentum`` is outside [0, 1].

    Examples
    --------
    >>> rectifier = ConfidenceRectifier(momentum=0.5)
    >>> rectifier.update(torch.tensor([0.9, 0.2]), torch.tensor([1.0, 0.0]))
    >>> round(rectifier.eta1, 6), round(rectifier.eta0, 6)
    (0.9, 0.8)
    """

    def __init__(self, momentum: float = 0.999) -> None:
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"`momentum` must lie in [0, 1], got {momentum}")
        self.momentum = float(momentum)
        self.eta1: float | None = None
        self.eta0: float | None = None

    def state_dict(self) -> dict[str, float | None]:
        """The confidence levels (for checkpoints)."""
        return {"eta1": self.eta1, "eta0": self.eta0}

    def load_state_dict(self, state: dict[str, float | None]) -> None:
        """Restore levels saved by :meth:`state_dict`."""
        self.eta1, self.eta0 = state["eta1"], state["eta0"]

    @torch.no_grad()
    def update(self, p1: torch.Tensor, y1: torch.Tensor) -> None:
        """Move ``η1`` and ``η0`` towards this batch's mean confidence (Eq. 8).

        Parameters
        ----------
        p1:
            Foreground probabilities of the network being trained, any shape (all pixels of
            the batch count); not differentiated.
        y1:
            Soft foreground pseudo-labels in [0, 1], same shape.

        Raises
        ------
        TypeError
            If a tensor is not floating point.
        ValueError
            If shapes differ or values lie outside [0, 1].
        """
        _check_pair(p1, y1)
        self._update(p1.detach(), y1.detach())

    def _update(self, p1: torch.Tensor, y1: torch.Tensor) -> None:
        self.eta1 = self._blend(self.eta1, p1[y1 > 0.5])
        self.eta0 = self._blend(self.eta0, (1 - p1)[(1 - y1) > 0.5])

    def _blend(self, eta: float | None, confident: torch.Tensor) -> float | None:
        if confident.numel() == 0:
            return eta
        mean = confident.double().mean().item()
        return mean if eta is None else self.momentum * eta + (1 - self.momentum) * mean

    @torch.no_grad()
    def weights(self, p1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-pixel weights ``ω1 = 1 - |p1 - η1|`` and ``ω0 = 1 - |p0 - η0|`` (Eq. 7).

        Parameters
        ----------
        p1:
            Foreground probabilities of the network being trained; not differentiated (the
            weights are constants of the loss).

        Returns
        -------
        tuple of torch.Tensor
            ``(ω1, ω0)`` with the shape and dtype of ``p1``, in [0, 1]; all ones for a class
            whose ``η`` is not set yet.

        Raises
        ------
        TypeError, ValueError
            As :meth:`update`.
        """
        _check_probabilities(p1, "p1")
        return self._weights(p1.detach())

    def _weights(self, p1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w1 = torch.ones_like(p1) if self.eta1 is None else 1 - (p1 - self.eta1).abs()
        w0 = torch.ones_like(p1) if self.eta0 is None else 1 - ((1 - p1) - self.eta0).abs()
        return w1, w0

    @torch.no_grad()
    def rectify(self, y1: torch.Tensor, p1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rectified pseudo-labels ``ŷ1 = ω1 y1`` and ``ŷ0 = ω0 (1 - y1)`` (Eq. 6).

        Does not update ``η``; call :meth:`update` first to include this batch.

        Parameters
        ----------
        y1:
            Soft foreground pseudo-labels in [0, 1].
        p1:
            Foreground probabilities of the network being trained, same shape.

        Returns
        -------
        tuple of torch.Tensor
            ``(ŷ1, ŷ0)``; their sum is at most 1 and generally below it.

        Raises
        ------
        TypeError, ValueError
            As :meth:`update`.
        """
        _check_pair(p1, y1)
        return self._rectify(y1.detach(), p1.detach())

    def _rectify(self, y1: torch.Tensor, p1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w1, w0 = self._weights(p1)
        return w1 * y1, w0 * (1 - y1)


def rectified_bce(
    p1: torch.Tensor,
    y1: torch.Tensor,
    rectifier: ConfidenceRectifier,
    *,
    update: bool = True,
) -> torch.Tensor:
    """Binary cross-entropy against rectified pseudo-labels (the ``L_BCE(φ_f(x), ŷ)`` term of
    shallow2deep Eq. 1).

    Computes ``-mean(ŷ1 log p1 + ŷ0 log(1 - p1))`` over all pixels, where ``(ŷ1, ŷ0)`` is
    ``rectifier.rectify(y1, p1)``: each class's soft target is its pseudo-label scaled by the
    confidence weight, so pixels whose prediction is far from the running confidence of the
    pseudo-labelled class pull less. As ``ŷ1 + ŷ0 ≤ 1`` this is a per-pixel weighted
    cross-entropy, not a plain BCE with a soft target. The targets carry no gradient; the
    logarithms are clamped at -100 like ``torch.nn.BCELoss``.

    Parameters
    ----------
    p1:
        Foreground probabilities (after the sigmoid) of the network being trained, any shape;
        the gradient flows through them.
    y1:
        Soft foreground pseudo-labels in [0, 1], same shape.
    rectifier:
        The running confidence levels.
    update:
        Update ``η`` with this batch before weighting (training); False leaves the rectifier
        unchanged (validation).

    Returns
    -------
    torch.Tensor
        The scalar loss.

    Raises
    ------
    TypeError
        If a tensor is not floating point.
    ValueError
        If shapes differ or values lie outside [0, 1].
    """
    _check_pair(p1, y1)
    with torch.no_grad():
        # Validated once above; the private steps skip the per-call checks (each one syncs a GPU).
        if update:
            rectifier._update(p1.detach(), y1.detach())
        target1, target0 = rectifier._rectify(y1.detach(), p1.detach())
    log_p1 = torch.log(p1).clamp_min(LOG_MIN)
    log_p0 = torch.log(1 - p1).clamp_min(LOG_MIN)
    return -(target1 * log_p1 + target0 * log_p0).mean()
