"""Where the real annotated data lives."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "SEMISEG_DATA"


def data_root() -> Path:
    """Return the data root: ``$SEMISEG_DATA``, else ``../shared/data`` beside the repository."""
    if DATA_ENV in os.environ:
        return Path(os.environ[DATA_ENV])
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"
