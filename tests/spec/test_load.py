"""Loading and validating model specs (``semiseg_zoo.spec``)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pydantic
import pytest
import torch
import yaml

from semiseg_zoo.nets import ARCHITECTURES
from semiseg_zoo.spec import (
    DATA_ENV,
    AffinitySpec,
    EmbeddingSpec,
    EnhancerSpec,
    ScaleRange,
    SpecError,
    TeacherSpec,
    WatershedParams,
    data_root,
    load_spec,
    parse_spec,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_DIR = REPO_ROOT / "model_specs"
SHIPPED_SPECS = sorted(SPEC_DIR.glob("*.yaml"))
TEACHER_YAML = SPEC_DIR / "teacher_nuclei_2d.yaml"


@pytest.fixture
def valid_spec() -> dict[str, Any]:
    """A fresh, valid spec as a plain dict (the shipped teacher)."""
    return yaml.safe_load(TEACHER_YAML.read_text())


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# --------------------------------------------------------------------------- shipped specs


def test_shipped_specs_exist() -> None:
    assert TEACHER_YAML in SHIPPED_SPECS


@pytest.mark.parametrize("path", SHIPPED_SPECS, ids=lambda p: p.stem)
def test_shipped_spec_loads(path: Path) -> None:
    spec = load_spec(path)
    assert isinstance(spec, (TeacherSpec, EnhancerSpec, EmbeddingSpec, AffinitySpec))
    assert spec.kind == path.stem.split("_")[0]
    n_spatial = len(spec.input.axes) - 2
    assert len(spec.tile) == len(spec.output.halo) == len(spec.input.min_shape) == n_spatial
    # The default tile is a valid input shape and leaves room after cropping the halo.
    for tile, minimum, step, halo in zip(
        spec.tile, spec.input.min_shape, spec.input.step, spec.output.halo, strict=True
    ):
        assert tile >= minimum
        assert (tile - minimum) % step == 0
        assert tile > 2 * halo


@pytest.mark.parametrize("path", SHIPPED_SPECS, ids=lambda p: p.stem)
def test_shipped_spec_architecture_builds(path: Path) -> None:
    spec = load_spec(path)
    net = ARCHITECTURES[spec.architecture.name](**spec.architecture.kwargs).eval()
    assert all(s % net.divisor == 0 for s in spec.input.min_shape)
    assert all(s % net.divisor == 0 for s in spec.input.step)
    x = torch.zeros(1, spec.input.channels, *spec.input.min_shape)
    with torch.no_grad():
        y = net(x)
    assert tuple(y.shape) == (1, len(spec.output.channel_names), *spec.input.min_shape)


def test_teacher_values() -> None:
    spec = load_spec(TEACHER_YAML)
    assert spec.kind == "teacher"
    assert spec.name == "teacher-nuclei-2d"
    assert spec.version == 1
    assert spec.architecture.name == "UNet2d"
    assert spec.architecture.kwargs["out_channels"] == 3
    assert spec.input.axes == "bcyx"
    assert spec.input.data_range == (0.0, 255.0)
    assert spec.input.preprocessing == ScaleRange(min_percentile=1.0, max_percentile=99.8)
    assert spec.output.channel_names == ["background", "interior", "boundary"]
    assert spec.output.halo == [48, 48]
    assert spec.postprocessing == WatershedParams(
        seed_threshold=0.6, foreground_threshold=0.5, min_size=15
    )
    assert spec.training.class_weights == [1.0, 1.0, 4.0]
    assert spec.training.patch_shape == [128, 128]
    assert spec.tile == [512, 512]


def test_load_accepts_str_path() -> None:
    assert load_spec(str(TEACHER_YAML)) == load_spec(TEACHER_YAML)


def test_round_trip_through_dump(tmp_path: Path) -> None:
    spec = load_spec(TEACHER_YAML)
    assert parse_spec(spec.model_dump(mode="json")) == spec
    written = write_yaml(tmp_path / "copy.yaml", spec.model_dump(mode="json"))
    assert load_spec(written) == spec


def test_spec_is_frozen() -> None:
    spec = load_spec(TEACHER_YAML)
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        spec.name = "other"  # type: ignore[misc]


def test_defaults_fill_in(valid_spec: dict[str, Any]) -> None:
    del valid_spec["version"]
    del valid_spec["training"]["seed"]
    valid_spec["postprocessing"] = {"method": "watershed"}
    spec = parse_spec(valid_spec)
    assert spec.version == 1
    assert spec.training.seed == 0
    assert spec.postprocessing == WatershedParams(
        seed_threshold=0.5, foreground_threshold=0.5, min_size=0
    )


# --------------------------------------------------------------------------- file-level errors


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.yaml does not exist"):
        load_spec(tmp_path / "nope.yaml")


def test_directory_is_not_a_spec(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_spec(tmp_path)


def test_not_yaml_raises(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\nkind: teacher\n")
    with pytest.raises(SpecError, match=r"broken\.yaml: not valid YAML"):
        load_spec(path)


@pytest.mark.parametrize(
    ("text", "type_name"), [("- a\n- b\n", "list"), ("", "NoneType"), ("just text\n", "str")]
)
def test_top_level_not_a_mapping(tmp_path: Path, text: str, type_name: str) -> None:
    path = tmp_path / "top.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=rf"top\.yaml: expected a mapping.*got {type_name}"):
        load_spec(path)


def test_spec_error_is_value_error() -> None:
    assert issubclass(SpecError, ValueError)


# --------------------------------------------------------------------------- schema errors


def test_unknown_top_level_field_names_field_and_file(
    tmp_path: Path, valid_spec: dict[str, Any]
) -> None:
    valid_spec["colour"] = "blue"
    path = write_yaml(tmp_path / "extra.yaml", valid_spec)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert str(path) in message
    assert "colour: Extra inputs are not permitted" in message


def test_unknown_nested_field_names_its_location(
    tmp_path: Path, valid_spec: dict[str, Any]
) -> None:
    valid_spec["authors"][0]["email"] = "a@b.c"
    path = write_yaml(tmp_path / "nested.yaml", valid_spec)
    with pytest.raises(SpecError, match=r"nested\.yaml(.|\n)*authors\.0\.email: Extra inputs"):
        load_spec(path)


def test_every_invalid_field_is_listed(valid_spec: dict[str, Any]) -> None:
    valid_spec["colour"] = "blue"
    valid_spec["training"]["steps"] = 0
    with pytest.raises(SpecError) as info:
        parse_spec(valid_spec, "two.yaml")
    lines = str(info.value).splitlines()
    assert lines[0] == "two.yaml: invalid model spec"
    assert any(line.startswith("  colour:") for line in lines)
    assert any(line.startswith("  training.steps:") for line in lines)


@pytest.mark.parametrize("kind", ["student", None, 3])
def test_wrong_kind(valid_spec: dict[str, Any], kind: Any) -> None:
    valid_spec["kind"] = kind
    with pytest.raises(
        SpecError,
        match=(
            r"k\.yaml: kind: expected one of \['affinity', 'embedding', 'enhancer', 'pseudo_label_net', 'teacher'\], "
            rf"got {kind!r}"
        ),
    ):
        parse_spec(valid_spec, "k.yaml")


def test_missing_kind(valid_spec: dict[str, Any]) -> None:
    del valid_spec["kind"]
    with pytest.raises(SpecError, match="kind: expected one of .* got None"):
        parse_spec(valid_spec)


def test_default_source_name(valid_spec: dict[str, Any]) -> None:
    valid_spec["colour"] = "blue"
    with pytest.raises(SpecError, match="^<spec>: invalid model spec"):
        parse_spec(valid_spec)


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        data = data[int(key)] if isinstance(data, list) else data[key]
    data[last] = value


INVALID_FIELDS = [
    (
        "architecture.kwargs.out_channels",
        2,
        r"`architecture\.kwargs\.out_channels` \(or the number of `offsets` of a cosine "
        r"affinity net\) must equal the number of `output\.channel_names`",
    ),
    (
        "architecture.kwargs.in_channels",
        3,
        r"`architecture\.kwargs\.in_channels` must equal `input\.channels`",
    ),
    (
        "architecture.kwargs.final_activation",
        "sigmoid",
        r"`architecture\.kwargs\.final_activation` must equal `output\.activation`",
    ),
    ("output.halo", [48], r"`output\.halo` has 1 values but input axes 'bcyx' have 2"),
    ("output.halo", [8, 8, 8], r"`output\.halo` has 3 values"),
    ("tile", [512], r"`tile` has 1 values"),
    ("training.patch_shape", [128, 128, 1], r"`training\.patch_shape` has 3 values"),
    ("input.step", [8], r"`input\.step` has 1 values"),
    (
        "input.preprocessing.min_percentile",
        99.8,
        r"input\.preprocessing\.scale_range: .*`min_percentile` must be smaller",
    ),
    (
        "input.preprocessing.min_percentile",
        100.0,
        r"input\.preprocessing\.scale_range\.min_percentile",
    ),
    (
        "output.channel_names",
        ["background", "foreground", "edge"],
        r"teacher's `output\.channel_names` must be \[background, interior, boundary\]",
    ),
    (
        "output.channel_names",
        ["background", "boundary", "interior"],
        r"teacher's `output\.channel_names` must be",
    ),
    (
        "postprocessing",
        {"method": "threshold", "threshold": 0.5},
        r"teacher's `postprocessing\.method` must be watershed",
    ),
    ("postprocessing.seed_threshold", 1.0, r"postprocessing\.watershed\.seed_threshold"),
    ("postprocessing.method", "magic", r"postprocessing: .*'watershed', 'threshold'"),
    ("architecture.name", "UNet3d", r"input axes 'bcyx' need architecture UNet2d"),
    ("input.axes", "byx", r"input\.axes"),
    ("name", "Teacher Nuclei", r"name: String should match pattern"),
    ("version", 2, r"version: Input should be 1"),
    ("authors", [], r"authors: List should have at least 1 item"),
    ("cite.0.doi", None, r"cite\.0: .*needs a `doi` or a `url`"),
    ("training.batch_size", 0, r"training\.batch_size: Input should be greater than or equal"),
    ("input.channels", 0, r"input\.channels"),
    ("training.class_weights", [1.0, 4.0], r"`training\.class_weights` has 2 values for 3"),
    ("input.channel_names", ["a", "b"], r"`input\.channel_names` has 2 names for 1 channels"),
    ("training.seed_thresholds", [0.5, 1.2], r"`training\.seed_thresholds` must be"),
    ("training.foreground_thresholds", [], r"`training\.foreground_thresholds` must be"),
]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    INVALID_FIELDS,
    ids=[f"{field}={value!r}"[:50] for field, value, _ in INVALID_FIELDS],
)
def test_invalid_field(
    tmp_path: Path, valid_spec: dict[str, Any], field: str, value: Any, message: str
) -> None:
    _set(valid_spec, field, value)
    path = write_yaml(tmp_path / "invalid.yaml", valid_spec)
    with pytest.raises(SpecError, match=message) as info:
        load_spec(path)
    assert str(info.value).startswith(f"{path}: invalid model spec")


def test_3d_axes_need_3d_everything(valid_spec: dict[str, Any]) -> None:
    spec_3d = copy.deepcopy(valid_spec)
    spec_3d["input"]["axes"] = "bczyx"
    with pytest.raises(SpecError, match=r"`input\.min_shape` has 2 values but input axes 'bczyx'"):
        parse_spec(spec_3d)
    for key in ("min_shape", "step"):
        spec_3d["input"][key] = [*spec_3d["input"][key], spec_3d["input"][key][-1]]
    spec_3d["output"]["halo"] = [8, 48, 48]
    spec_3d["tile"] = [32, 512, 512]
    spec_3d["training"]["patch_shape"] = [32, 128, 128]
    with pytest.raises(SpecError, match=r"input axes 'bczyx' need architecture UNet3d"):
        parse_spec(spec_3d)
    spec_3d["architecture"]["name"] = "UNet3d"
    spec = parse_spec(spec_3d)
    assert spec.architecture.name == "UNet3d"
    assert spec.output.halo == [8, 48, 48]


# --------------------------------------------------------------------------- data root


def test_data_root_honours_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    assert DATA_ENV == "SEMISEG_DATA"
    assert data_root() == tmp_path / "data"


def test_data_root_default_is_beside_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)
    assert data_root() == REPO_ROOT.parent / "shared" / "data"


# --------------------------------------------------------------------------- known bugs


@pytest.mark.parametrize("kind", [["teacher"], {"name": "teacher"}])
def test_unhashable_kind_is_a_spec_error(
    tmp_path: Path, valid_spec: dict[str, Any], kind: Any
) -> None:
    valid_spec["kind"] = kind
    path = write_yaml(tmp_path / "unhashable.yaml", valid_spec)
    with pytest.raises(SpecError, match=r"unhashable\.yaml: kind: expected one of"):
        load_spec(path)


def test_binary_file_is_a_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00\x81kind: teacher\n")
    with pytest.raises(SpecError, match=r"binary\.yaml"):
        load_spec(path)


def test_semi_supervised_modes_need_their_parameters(valid_spec: dict[str, Any]) -> None:
    valid_spec["training"]["mode"] = "actis"
    valid_spec["training"]["labeled_images"] = 10
    with pytest.raises(SpecError, match="mode` actis needs a `training.actis` block"):
        parse_spec(valid_spec)
    valid_spec["training"]["mode"] = "inconsistency"
    with pytest.raises(SpecError, match="inconsistency needs a `training.inconsistency` block"):
        parse_spec(valid_spec)
    valid_spec["training"]["inconsistency"] = {"ensemble_size": 2}
    assert parse_spec(valid_spec).training.inconsistency.students_per_generation == 2


def test_semi_supervised_modes_need_unlabeled_images(valid_spec: dict[str, Any]) -> None:
    valid_spec["training"]["mode"] = "actis"
    valid_spec["training"]["actis"] = {"steps": 10}
    with pytest.raises(SpecError, match="needs unlabeled images"):
        parse_spec(valid_spec)
    valid_spec["training"]["unlabeled"] = "dsb2018/extra"
    spec = parse_spec(valid_spec)
    assert spec.training.actis.percentile == 0.2 and spec.training.actis.teacher_ema == 0.99


def test_inconsistency_needs_enough_students(valid_spec: dict[str, Any]) -> None:
    valid_spec["training"].update(
        mode="inconsistency",
        labeled_images=5,
        inconsistency={"ensemble_size": 3, "students_per_generation": 2},
    )
    with pytest.raises(SpecError, match="students_per_generation` must be at least"):
        parse_spec(valid_spec)
