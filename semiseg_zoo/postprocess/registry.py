"""One table from method name to post-processing function, shared by configs, CLI and API."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

Postprocessing = Callable[..., np.ndarray]
_METHODS: dict[str, Postprocessing] = {}


def register_postprocessing(name: str) -> Callable[[Postprocessing], Postprocessing]:
    """Register ``function(array, **params) -> labels`` under ``name``."""

    def decorator(function: Postprocessing) -> Postprocessing:
        if name in _METHODS:
            raise ValueError(f"post-processing method {name!r} is already registered")
        _METHODS[name] = function
        return function

    return decorator


def available_methods() -> list[str]:
    """Names of the registered post-processing methods."""
    return sorted(_METHODS)


def method_defaults(name: str) -> dict[str, Any]:
    """The default values of a registered method's keyword parameters.

    Raises
    ------
    ValueError
        If no method of that name is registered.
    """
    if name not in _METHODS:
        raise ValueError(
            f"unknown post-processing method {name!r}; expected one of {available_methods()}"
        )
    parameters = inspect.signature(_METHODS[name]).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def apply_postprocessing(array: np.ndarray, recipe: Mapping[str, Any]) -> np.ndarray:
    """Run the post-processing described by ``recipe`` (``{"method": name, **params}``).

    Parameters
    ----------
    array:
        Network output without batch axis, ``(C, [Z,] Y, X)``.
    recipe:
        Method name and its parameters, e.g. a package's ``config.semiseg.postprocessing``.

    Returns
    -------
    np.ndarray
        uint32 labels of shape ``([Z,] Y, X)``.
    """
    params = dict(recipe)
    method = params.pop("method", None)
    if method not in _METHODS:
        raise ValueError(
            f"unknown post-processing method {method!r}; expected one of {available_methods()}"
        )
    return _METHODS[method](array, **params)
