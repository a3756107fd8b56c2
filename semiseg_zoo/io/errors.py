"""The one exception raised when an image file cannot be read."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ImageReadError", "one_line"]


def one_line(exc: BaseException) -> str:
    """Describe ``exc`` as ``"TypeName: message"`` on a single line.

    Parameters
    ----------
    exc
        Any exception, typically one raised by tifffile, h5py, zarr or PIL.

    Returns
    -------
    str
        The exception's type and message with all runs of whitespace (newlines
        included) collapsed to single spaces.
    """
    message = " ".join(str(exc).split())
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


class ImageReadError(ValueError):
    """An image file exists but cannot be read as an image.

    The message names the file, the problem and what to do about it, so that it
    can be shown to a user as is.

    Parameters
    ----------
    path
        The file (or zarr directory) that could not be read.
    problem
        What is wrong, e.g. ``"the file is truncated"``.
    hint
        What the user can do about it.

    Attributes
    ----------
    path : Path
    problem : str
    hint : str

    Examples
    --------
    ::

        try:
            image = read_image(path)
        except ImageReadError as err:
            print(err)  # Cannot read image a.png: ... Check that ...
    """

    def __init__(self, path: str | os.PathLike[str], problem: str, hint: str) -> None:
        self.path = Path(path)
        self.problem = problem
        self.hint = hint
        end = "" if hint.endswith((".", "!", "?")) else "."
        super().__init__(f"Cannot read image {self.path}: {problem}. {hint}{end}")

    def __reduce__(self) -> tuple[type[ImageReadError], tuple[str, str, str]]:
        # The default reduce would call __init__ with the single formatted
        # message, which breaks pickling (e.g. across DataLoader workers).
        return (type(self), (str(self.path), self.problem, self.hint))
