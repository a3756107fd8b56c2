"""Where training scripts put their outputs, and the rule that they never silently replace a
package (a finished training run's result)."""

from __future__ import annotations

from pathlib import Path


def refuse_to_overwrite(output: Path, overwrite: bool) -> None:
    """Stop before any training if ``output`` exists and ``--overwrite`` was not given.

    Raises
    ------
    SystemExit
        If ``output`` exists and ``overwrite`` is false, or ``output`` is not a ``.zip``.
    """
    if output.suffix != ".zip":
        raise SystemExit(f"--output must end in .zip, got {output}")
    if output.exists() and not overwrite:
        raise SystemExit(
            f"{output} exists; pass --overwrite to replace it or choose another --output"
        )
