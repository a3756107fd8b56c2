"""semiseg-enhance and enhance(): scribbles or forest maps → enhanced probabilities, instances."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from semiseg_zoo.cli.enhance import main
from semiseg_zoo.enhance import enhance, select_rf_channel
from semiseg_zoo.evaluation import instance_scores
from semiseg_zoo.shallow import simulate_scribbles
from semiseg_zoo.synthetic import synthetic_nuclei


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> tuple[Path, Path, np.ndarray]:
    folder = tmp_path_factory.mktemp("enhance-input")
    image, labels = synthetic_nuclei((160, 160), seed=500)
    scribbles = simulate_scribbles((labels > 0).astype(np.uint8), n_strokes_per_class=6, seed=0)
    tifffile.imwrite(folder / "cells.tif", image)
    tifffile.imwrite(folder / "strokes.tif", scribbles)
    return folder / "cells.tif", folder / "strokes.tif", labels


def test_scribbles_to_instances_end_to_end(tiny_enhancer, target, tmp_path) -> None:
    raw, strokes, labels = target
    code = main([str(raw), "--scribbles", str(strokes), "--model", str(tiny_enhancer.path),
                 "--trees", "20", "-o", str(tmp_path)])  # fmt: skip
    assert code == 0
    forest = tifffile.imread(tmp_path / "cells_rf_probabilities.tif")
    enhanced = tifffile.imread(tmp_path / "cells_enhanced.tif")
    instances = tifffile.imread(tmp_path / "cells_instances.tif")
    assert forest.shape == enhanced.shape == instances.shape == labels.shape
    assert 0 <= enhanced.min() and enhanced.max() <= 1
    scores = instance_scores(instances, labels)
    print(f"objects {instances.max()} vs {labels.max()}, f1 {scores['f1']:.3f}")
    assert scores["f1"] > 0.8
    # Nothing is replaced without --overwrite; with it, the run succeeds again.
    assert main([str(raw), "--scribbles", str(strokes), "--model", str(tiny_enhancer.path),
                 "-o", str(tmp_path)]) == 2  # fmt: skip
    assert main([str(raw), "--scribbles", str(strokes), "--model", str(tiny_enhancer.path),
                 "--trees", "20", "-o", str(tmp_path), "--overwrite"]) == 0  # fmt: skip


def test_forest_map_from_ilastik_needs_its_channel(tiny_enhancer, target, tmp_path, capsys) -> None:
    raw, strokes, labels = target
    result = enhance(tifffile.imread(raw), tiny_enhancer.path,
                     scribbles=tifffile.imread(strokes), n_trees=20)  # fmt: skip
    two_channels = np.stack([1 - result.rf_probabilities, result.rf_probabilities], axis=-1)
    tifffile.imwrite(tmp_path / "ilastik.tif", two_channels)
    args = [str(raw), "--rf-probabilities", str(tmp_path / "ilastik.tif"),
            "--model", str(tiny_enhancer.path), "-o", str(tmp_path / "out")]  # fmt: skip
    assert main(args) == 2
    assert "have 2 channels (one per class)" in capsys.readouterr().err
    assert main([*args, "--rf-channel", "1"]) == 0
    enhanced = tifffile.imread(tmp_path / "out" / "cells_enhanced.tif")
    np.testing.assert_allclose(enhanced, result.probabilities, atol=1e-5)


def test_scribbles_for_one_class_only_are_a_clear_error(tiny_enhancer, target, tmp_path, capsys):
    raw, strokes, _ = target
    only_background = np.where(tifffile.imread(strokes) == 2, 0, tifffile.imread(strokes))
    tifffile.imwrite(tmp_path / "bg.tif", only_background.astype(np.uint8))
    code = main([str(raw), "--scribbles", str(tmp_path / "bg.tif"), "--model",
                 str(tiny_enhancer.path), "-o", str(tmp_path / "out")])  # fmt: skip
    assert code == 2
    assert "no scribbles for foreground (2)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_teacher_package_is_refused_as_enhancer(tiny_package_path, target, tmp_path, capsys):
    raw, strokes, _ = target
    code = main([str(raw), "--scribbles", str(strokes), "--model", str(tiny_package_path),
                 "-o", str(tmp_path)])  # fmt: skip
    assert code == 2
    assert "is not a semiseg-zoo enhancer" in capsys.readouterr().err


def test_select_rf_channel_layouts() -> None:
    maps = np.random.default_rng(0).random((2, 32, 40)).astype(np.float32)
    np.testing.assert_array_equal(select_rf_channel(maps, 2, 1), maps[1])
    np.testing.assert_array_equal(select_rf_channel(np.moveaxis(maps, 0, -1), 2, 0), maps[0])
    np.testing.assert_array_equal(select_rf_channel(maps[0], 2, None), maps[0])
    with pytest.raises(ValueError, match="out of range for 2 channels"):
        select_rf_channel(maps, 2, 2)
