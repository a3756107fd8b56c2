"""Model specs: YAML in ``model_specs/`` → typed, validated pydantic models."""

from .load import SpecError, load_spec, parse_spec
from .paths import DATA_ENV, data_root
from .schema import (
    SPEC_CLASSES,
    ActisParams,
    Architecture,
    Author,
    Citation,
    InconsistencyParams,
    InputSpec,
    ModelSpec,
    OutputSpec,
    PostprocessingSpec,
    ScaleRange,
    TeacherSpec,
    ThresholdParams,
    TrainingSpec,
    WatershedParams,
    ZeroMeanUnitVariance,
)

__all__ = [
    "DATA_ENV",
    "SPEC_CLASSES",
    "ActisParams",
    "Architecture",
    "Author",
    "Citation",
    "InconsistencyParams",
    "InputSpec",
    "ModelSpec",
    "OutputSpec",
    "PostprocessingSpec",
    "ScaleRange",
    "SpecError",
    "TeacherSpec",
    "ThresholdParams",
    "TrainingSpec",
    "WatershedParams",
    "ZeroMeanUnitVariance",
    "data_root",
    "load_spec",
    "parse_spec",
]
