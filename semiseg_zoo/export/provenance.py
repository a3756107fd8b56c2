"""Whether a package's architecture file is semiseg-zoo's own network source.

Running ``pytorch_state_dict`` weights imports the package's Python architecture file; that is
foreign code unless the file is byte-identical to this library's ``nets/unet.py`` (read as bytes
here, not imported: that would load torch) or to an earlier release of it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

OWN_ARCHITECTURE_FILE = Path(__file__).resolve().parents[1] / "nets" / "unet.py"
OWN_ARCHITECTURES = ("UNet2d", "UNet3d", "CosineAffinityUNet2d", "CosineAffinityUNet3d")
# sha256 of earlier releases of that file (before the cosine-affinity nets were added), so that
# packages exported with them stay recognised as ours; they define only these classes.
EARLIER_ARCHITECTURE_HASHES = frozenset(
    {"9366d76995c1ec566f968fbea7b00c8872c26f8ee6c1d5222672e7a59edddf4c"}
)
EARLIER_ARCHITECTURES = ("UNet2d", "UNet3d")


def is_own_architecture_source(source: bytes, callable_name: str) -> bool:
    """Whether ``source`` (the packaged file's bytes) is our network source defining
    ``callable_name``.

    Examples
    --------
    >>> is_own_architecture_source(OWN_ARCHITECTURE_FILE.read_bytes(), "UNet2d")
    True
    >>> is_own_architecture_source(b"import os", "UNet2d")
    False
    """
    if callable_name not in OWN_ARCHITECTURES:
        return False
    digest = hashlib.sha256(source).hexdigest()
    if digest == hashlib.sha256(OWN_ARCHITECTURE_FILE.read_bytes()).hexdigest():
        return True
    return digest in EARLIER_ARCHITECTURE_HASHES and callable_name in EARLIER_ARCHITECTURES
