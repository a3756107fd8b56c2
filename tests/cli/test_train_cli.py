"""semiseg-train: bad input is a one-line error naming the file before any training; the spec
from defaults; a short run end to end in-process; the options mirror the library's constants."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
import yaml

from semiseg_zoo.cli import training_options
from semiseg_zoo.cli.train import main
from semiseg_zoo.spec import TeacherSpec, load_spec
from semiseg_zoo.synthetic import synthetic_nuclei


def _folders(root: Path, n: int = 5, size: int = 80) -> tuple[Path, Path]:
    images, labels = root / "images", root / "labels"
    images.mkdir(parents=True)
    labels.mkdir()
    for seed in range(n):
        image, label = synthetic_nuclei((size, size), n_objects=6, radius=(5.0, 8.0), seed=seed)
        tifffile.imwrite(images / f"cell{seed}.tif", image)
        tifffile.imwrite(labels / f"cell{seed}.tif", label.astype(np.uint16))
    return images, labels


def _error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err  # one line, no traceback
    assert err.startswith("semiseg-train: error: ")
    return err


def _args(images: Path, labels: Path, output: Path, *extra: str) -> list[str]:
    return ["teacher", "--images", str(images), "--labels", str(labels), "-o", str(output),
            "--no-progress", *extra]  # fmt: skip


def test_help_does_not_import_heavy_modules() -> None:
    heavy = "('torch', 'bioimageio.spec', 'numpy', 'semiseg_zoo.training')"
    code = (
        "import sys; from semiseg_zoo.cli.train import build_parser; build_parser(); "
        f"print(sorted(m for m in {heavy} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_option_defaults_mirror_the_library() -> None:
    from semiseg_zoo.training import DEFAULT_CHECKPOINT_EVERY_S, PRECISIONS

    assert training_options.CHECKPOINT_EVERY_MINUTES * 60 == DEFAULT_CHECKPOINT_EVERY_S
    assert training_options.PRECISIONS == PRECISIONS


def test_unreadable_image_is_named(tmp_path, capsys) -> None:
    images, labels = _folders(tmp_path)
    (images / "cell1.tif").write_bytes(b"not a tiff")
    err = _error(capsys, _args(images, labels, tmp_path / "m.zip"))
    assert f"image file {images / 'cell1.tif'} cannot be read" in err
    assert not (tmp_path / "m.run").exists()  # nothing started


def test_image_without_labels_is_named(tmp_path, capsys) -> None:
    images, labels = _folders(tmp_path)
    (labels / "cell3.tif").unlink()
    err = _error(capsys, _args(images, labels, tmp_path / "m.zip"))
    assert f"{images / 'cell3.tif'} has no label image in {labels}" in err


def test_labels_of_another_shape_are_named(tmp_path, capsys) -> None:
    images, labels = _folders(tmp_path)
    tifffile.imwrite(labels / "cell2.tif", np.zeros((60, 80), np.uint16))
    err = _error(capsys, _args(images, labels, tmp_path / "m.zip"))
    assert f"image file {images / 'cell2.tif'} has shape (80, 80)" in err
    assert "its label image has (60, 80)" in err


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (np.full((80, 80), 0.5, np.float32), "values that are not whole numbers"),
        (np.full((80, 80), -3, np.int16), "has negative ids (-3)"),
    ],
)
def test_labels_that_are_not_ids_are_named(tmp_path, capsys, values, message) -> None:
    images, labels = _folders(tmp_path)
    tifffile.imwrite(labels / "cell0.tif", values)
    err = _error(capsys, _args(images, labels, tmp_path / "m.zip"))
    assert f"labels file {labels / 'cell0.tif'}" in err and message in err


def test_images_with_nan_pixels_are_named(tmp_path, capsys) -> None:
    images, labels = _folders(tmp_path)
    image = tifffile.imread(images / "cell4.tif").astype(np.float32)
    image[:5, :5] = np.nan
    tifffile.imwrite(images / "cell4.tif", image)
    err = _error(capsys, _args(images, labels, tmp_path / "m.zip"))
    assert f"image file {images / 'cell4.tif'} has NaN or infinite pixels" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--steps", "10", "--time-budget", "5"], "give --steps or --time-budget, not both"),
        (["--steps", "0"], "--steps must be at least 1"),
        (["--time-budget", "-1"], "--time-budget must be positive"),
        (["--method", "actis"], "--method actis learns from images without labels"),
        (["--name", "ab"], "--name 'ab': use at least 5"),
    ],
)
def test_bad_usage_is_one_line(tmp_path, capsys, extra, message) -> None:
    images, labels = _folders(tmp_path, n=2)
    assert message in _error(capsys, _args(images, labels, tmp_path / "m.zip", *extra))


def test_output_must_be_a_new_zip(tmp_path, capsys) -> None:
    images, labels = _folders(tmp_path, n=2)
    assert "must end in .zip" in _error(capsys, _args(images, labels, tmp_path / "m.tif"))
    existing = tmp_path / "old.zip"
    existing.write_bytes(b"an earlier model")
    err = _error(capsys, _args(images, labels, existing))
    assert f"{existing} exists; pass --overwrite" in err
    assert existing.read_bytes() == b"an earlier model"


def test_missing_folder_is_named(tmp_path, capsys) -> None:
    err = _error(capsys, _args(tmp_path / "nope", tmp_path / "labels", tmp_path / "m.zip"))
    assert f"labels folder {tmp_path / 'labels'} does not exist" in err


def test_write_spec_prints_a_spec_that_loads(tmp_path, capsys) -> None:
    images, labels = _folders(tmp_path, n=4)
    spec_path = tmp_path / "spec.yaml"
    assert main(_args(images, labels, tmp_path / "m.zip", "--write-spec", str(spec_path))) == 0
    spec = load_spec(spec_path)
    assert isinstance(spec, TeacherSpec)
    assert spec.name == "m-model" and spec.training.mode == "supervised"
    assert spec.architecture.kwargs["in_channels"] == 1
    assert spec.training.patch_shape == [64, 64]  # the 80² images do not fit 128² patches
    capsys.readouterr()
    assert main(_args(images, labels, tmp_path / "m.zip", "--write-spec")) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["kind"] == "teacher" and printed["training"]["train"] == str(images)


@pytest.mark.slow
def test_a_short_run_exports_a_package_and_resumes_to_the_same_end(tmp_path, capsys) -> None:
    images, labels = _folders(tmp_path, n=5, size=96)
    spec_path = tmp_path / "spec.yaml"
    assert main(_args(images, labels, tmp_path / "m.zip", "--write-spec", str(spec_path))) == 0
    spec = yaml.safe_load(spec_path.read_text())
    spec["architecture"]["kwargs"].update(depth=2, base_features=4)
    spec["training"].update(validate_every=5, seed_thresholds=[0.5], foreground_thresholds=[0.5])
    spec_path.write_text(yaml.safe_dump(spec))
    output = tmp_path / "out" / "nuclei.zip"
    argv = _args(images, labels, output, "--spec", str(spec_path), "--steps", "12",
                 "--threads", "1")  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "method supervised: every labeled image is fully annotated" in out
    assert "4 labeled, 0 unlabeled, 1 tuning" in out
    with zipfile.ZipFile(output) as archive:
        rdf = yaml.safe_load(archive.read("rdf.yaml"))
    training = rdf["config"]["semiseg"]["training"]
    assert training["steps"] == 12 and training["precision"] == "bfloat16"
    assert [p["step"] for p in training["stages"][0]["validation_curve"]] == [5, 10, 12]
    assert (output.parent / "nuclei.run" / "command.txt").read_text().startswith("semiseg-train")
    # The same command with --resume finds the finished stage and only exports again.
    assert main([*argv, "--resume", "--overwrite"]) == 0
    assert "baseline-0: finished earlier (step 12)" in capsys.readouterr().out


def _embedding_args(images: Path, labels: Path, output: Path, *extra: str) -> list[str]:
    return ["embedding", "--images", str(images), "--labels", str(labels), "-o", str(output),
            "--no-progress", *extra]  # fmt: skip


def test_sparse_embedding_labels_need_dense_validation(tmp_path, capsys) -> None:
    images, labels = _folders(tmp_path, n=3)
    err = _error(capsys, _embedding_args(images, labels, tmp_path / "e.zip", "--sparse"))
    assert "--sparse labels annotate only some objects" in err
    assert "give --val-images and --val-labels with every object labeled" in err


def test_embedding_spec_from_defaults(tmp_path, capsys) -> None:
    images, labels = _folders(tmp_path / "train", n=3, size=160)
    val_images, val_labels = _folders(tmp_path / "val", n=2, size=160)
    spec_path = tmp_path / "spec.yaml"
    argv = _embedding_args(images, labels, tmp_path / "leaves.zip", "--sparse", "--val-images",
                           str(val_images), "--val-labels", str(val_labels), "--write-spec",
                           str(spec_path))  # fmt: skip
    assert main(argv) == 0
    spec = load_spec(spec_path)
    assert spec.kind == "embedding" and spec.name == "leaves"
    assert spec.training.train.sparse and spec.training.val_data is not None
    assert spec.training.patch_shape == [128, 128]  # 160² images
    assert spec.architecture.kwargs["out_channels"] == 16


@pytest.mark.slow
def test_a_short_embedding_run_exports_a_package(tmp_path, capsys) -> None:
    images, labels = _folders(tmp_path, n=4, size=128)
    output = tmp_path / "nuclei-embedding.zip"
    assert main(_embedding_args(images, labels, output, "--steps", "4", "--threads", "1")) == 0
    out = capsys.readouterr().out
    assert "every object is labeled: SPOCO's discriminative loss" in out
    with zipfile.ZipFile(output) as archive:
        rdf = yaml.safe_load(archive.read("rdf.yaml"))
    semiseg = rdf["config"]["semiseg"]
    assert semiseg["kind"] == "embedding" and semiseg["training"]["steps"] == 4
    assert semiseg["postprocessing"]["method"] in ("embedding_mws", "mean_shift")


def _volumes(root: Path, n: int = 2, sparse: bool = False) -> tuple[Path, Path]:
    """Folders of (8, 64, 64) volumes of synthetic nuclei slices (labels unique per volume);
    ``sparse`` keeps every third object."""
    images, labels = root / "images", root / "labels"
    images.mkdir(parents=True)
    labels.mkdir()
    for v in range(n):
        pairs = [synthetic_nuclei((64, 64), n_objects=4, seed=10 * v + z) for z in range(8)]
        volume = np.stack([p[0] for p in pairs])
        label = np.stack([np.where(p[1] > 0, p[1] + 10 * z, 0) for z, p in enumerate(pairs)])
        if sparse:
            ids = np.unique(label[label > 0])
            label = np.where(np.isin(label, ids[::3]), label, 0)
        tifffile.imwrite(images / f"vol{v}.tif", volume)
        tifffile.imwrite(labels / f"vol{v}.tif", label.astype(np.uint16))
    return images, labels


def _affinity_args(images: Path, labels: Path, output: Path, *extra: str) -> list[str]:
    return ["affinity", "--images", str(images), "--labels", str(labels), "-o", str(output),
            "--no-progress", *extra]  # fmt: skip


def test_sparse_affinity_labels_need_dense_validation(tmp_path, capsys) -> None:
    images, labels = _volumes(tmp_path, sparse=True)
    err = _error(capsys, _affinity_args(images, labels, tmp_path / "a.zip"))
    assert "the labels annotate only some objects (CRAC's setting)" in err


def test_mixed_2d_and_3d_affinity_images_are_refused(tmp_path, capsys) -> None:
    images, labels = _volumes(tmp_path, sparse=True)
    image, label = synthetic_nuclei((64, 64), n_objects=4, seed=3)
    tifffile.imwrite(images / "zz_flat.tif", image)
    tifffile.imwrite(labels / "zz_flat.tif", label.astype(np.uint16))
    err = _error(capsys, _affinity_args(images, labels, tmp_path / "a.zip", "--dense"))
    assert "is 2D with 1 channel(s) but the first image is 3D" in err


def test_affinity_spec_from_defaults_in_3d(tmp_path) -> None:
    images, labels = _volumes(tmp_path / "train", sparse=True)
    val_images, val_labels = _volumes(tmp_path / "val", n=1)
    spec_path = tmp_path / "spec.yaml"
    argv = _affinity_args(images, labels, tmp_path / "organelles.zip", "--val-images",
                          str(val_images), "--val-labels", str(val_labels), "--write-spec",
                          str(spec_path))  # fmt: skip
    assert main(argv) == 0
    spec = load_spec(spec_path)
    assert spec.kind == "affinity" and spec.input.axes == "bczyx"
    assert spec.architecture.name == "UNet3d" and len(spec.offsets) == 10
    assert spec.training.train.sparse and spec.training.annotated_fraction is None
    assert spec.training.patch_shape == [8, 64, 64]


@pytest.mark.slow
def test_a_short_3d_affinity_run_exports_a_package(tmp_path, capsys) -> None:
    images, labels = _volumes(tmp_path / "train", sparse=True)
    val_images, val_labels = _volumes(tmp_path / "val", n=1)
    output = tmp_path / "organelles.zip"
    argv = _affinity_args(images, labels, output, "--val-images", str(val_images),
                          "--val-labels", str(val_labels), "--steps", "3", "--threads", "1")  # fmt: skip
    assert main(argv) == 0
    assert "labels cover only some objects: CRAC" in capsys.readouterr().out
    with zipfile.ZipFile(output) as archive:
        rdf = yaml.safe_load(archive.read("rdf.yaml"))
    semiseg = rdf["config"]["semiseg"]
    assert semiseg["kind"] == "affinity" and semiseg["training"]["steps"] == 3
    assert len(semiseg["offsets"]) == 10


def _enhancer_args(images: Path, labels: Path, output: Path, *extra: str) -> list[str]:
    return ["enhancer", "--images", str(images), "--labels", str(labels), "-o", str(output),
            "--no-progress", *extra]  # fmt: skip


def test_enhancer_needs_images_to_hold_out(tmp_path, capsys) -> None:
    images, labels = _folders(tmp_path, n=1)
    err = _error(capsys, _enhancer_args(images, labels, tmp_path / "e.zip"))
    assert f"{images} has 1 labeled image(s); the enhancer needs more than 1" in err


def test_enhancer_spec_from_defaults(tmp_path) -> None:
    images, labels = _folders(tmp_path, n=7)
    spec_path = tmp_path / "spec.yaml"
    argv = _enhancer_args(images, labels, tmp_path / "membranes.zip", "--target", "boundaries",
                          "--forests", "12", "--write-spec", str(spec_path))  # fmt: skip
    assert main(argv) == 0
    spec = load_spec(spec_path)
    assert spec.kind == "enhancer" and "shallow2deep" in spec.tags
    assert spec.training.source.boundaries_of_instances
    assert spec.postprocessing.method == "distance_watershed"
    assert (spec.training.n_forests, spec.training.val_images) == (12, 1)


@pytest.mark.slow
def test_a_short_enhancer_run_exports_a_package(tmp_path, capsys) -> None:
    images, labels = _folders(tmp_path, n=4, size=96)
    output = tmp_path / "nuclei-enhancer.zip"
    argv = _enhancer_args(images, labels, output, "--steps", "4", "--forests", "3",
                          "--threads", "1")  # fmt: skip
    assert main(argv) == 0
    assert "shallow2deep: 3 Random Forests" in capsys.readouterr().out
    with zipfile.ZipFile(output) as archive:
        rdf = yaml.safe_load(archive.read("rdf.yaml"))
    semiseg = rdf["config"]["semiseg"]
    assert semiseg["kind"] == "enhancer" and semiseg["training"]["steps"] == 4
    assert "shallow2deep" in rdf["tags"]
