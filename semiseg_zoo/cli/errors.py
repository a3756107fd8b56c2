"""How the commands report an error they expected (bad input, a broken package): one line on
stderr, the traceback only with ``--verbose``."""

from __future__ import annotations

import sys
import traceback


def fail(program: str, message: object, *, code: int = 2, verbose: bool = False) -> int:
    """Print ``<program>: error: <message>`` (and the active traceback if ``verbose``) to
    stderr and return the exit ``code``."""
    if verbose:
        traceback.print_exc()
    print(f"{program}: error: {message}", file=sys.stderr)
    return code
