"""What a block task needs to re-create in a worker process: the model and the input volume.

A task sent to a dask worker is pickled; a loaded model (an inference session) and an open
HDF5 file cannot be. Tasks therefore carry a :class:`ModelSource` and a :class:`VolumeSource`,
which each worker process opens once and keeps for all its blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from semiseg_zoo.inference import Model, load_model
from semiseg_zoo.io import Volume, open_volume

_MODELS: dict[ModelSource, Model] = {}
_VOLUMES: dict[VolumeSource, Volume] = {}


@dataclass(frozen=True)
class ModelSource:
    """How to load a model in a worker: :func:`~semiseg_zoo.inference.load_model`'s arguments."""

    source: str
    weight_format: str = "auto"
    device: str = "auto"
    trust_code: bool = False
    threads: int | None = 1

    @classmethod
    def of(cls, model: Model, *, threads: int | None = 1) -> ModelSource:
        """The source of an already loaded model, with the weights and device it runs on.

        Its weights were already allowed to run, so a ``pytorch_state_dict`` model is trusted.
        """
        package = model.package
        source = package.source.stem if package.builtin else str(package.source)
        weight_format = model.runner.weight_format
        return cls(
            source,
            weight_format,
            model.runner.device,
            trust_code=weight_format == "pytorch_state_dict",
            threads=threads,
        )

    def load(self) -> Model:
        """The model, loaded once per process."""
        if self not in _MODELS:
            _MODELS[self] = load_model(
                self.source,
                weight_format=self.weight_format,  # type: ignore[arg-type]
                device=self.device,  # type: ignore[arg-type]
                trust_code=self.trust_code,
                threads=self.threads,
            )
        return _MODELS[self]


@dataclass(frozen=True)
class VolumeSource:
    """A volume on disk (zarr, OME-Zarr, HDF5, TIFF, npy), opened lazily once per process."""

    path: str
    key: str | None = None

    def open(self) -> Volume:
        """The opened volume (kept open for the life of the process)."""
        if self not in _VOLUMES:
            _VOLUMES[self] = open_volume(self.path, key=self.key)
        return _VOLUMES[self]


def as_model(model: Model | ModelSource) -> Model:
    """A loaded model from either form."""
    return model.load() if isinstance(model, ModelSource) else model


def as_array(volume: Any) -> Any:
    """The array-like of a :class:`VolumeSource` (opened) or of an array-like (itself)."""
    return volume.open().data if isinstance(volume, VolumeSource) else volume


def is_picklable_volume(volume: Any) -> bool:
    """Whether a worker process can read ``volume`` by itself: a path-backed source or a
    zarr array (which pickles as its store's location), not an in-memory array."""
    import zarr

    return isinstance(volume, (VolumeSource, zarr.Array))
