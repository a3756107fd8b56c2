"""Class-balanced pixel sampling, Random Forest training and chunked prediction."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from semiseg_zoo.shallow import (
    predict_probabilities,
    sample_balanced_pixels,
    simulate_scribbles,
    train_random_forest,
)

from .helpers import NucleiSample


def _labels_50_200() -> np.ndarray:
    """64×64 scribbles: 50 pixels of class 1, 200 of class 2, the rest unlabeled (0)."""
    labels = np.zeros((64, 64), dtype=np.uint8)
    labels[0, :50] = 1
    labels[10:20, :20] = 2
    return labels


def _counts(labels: np.ndarray, indices: np.ndarray) -> dict[int, int]:
    values, counts = np.unique(labels.ravel()[indices], return_counts=True)
    return dict(zip(values.tolist(), counts.tolist(), strict=True))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


# --- sample_balanced_pixels ---


def test_sample_is_balanced_when_every_class_has_enough_pixels() -> None:
    labels = _labels_50_200()
    indices = sample_balanced_pixels(labels, 30, 0)
    assert _counts(labels, indices) == {1: 30, 2: 30}
    assert indices.dtype == np.int64
    assert np.array_equal(indices, np.unique(indices))  # sorted, no pixel twice


def test_sample_is_capped_by_the_available_pixels() -> None:
    labels = _labels_50_200()
    indices = sample_balanced_pixels(labels, 100, 0)
    assert _counts(labels, indices) == {1: 50, 2: 100}
    assert np.array_equal(np.sort(indices[labels.ravel()[indices] == 1]), np.arange(50))


def test_sample_never_draws_unlabeled_pixels() -> None:
    labels = _labels_50_200()
    for seed in range(20):
        assert (labels.ravel()[sample_balanced_pixels(labels, 40, seed)] != 0).all()


def test_sample_of_dense_labels_includes_class_zero() -> None:
    labels = np.zeros((32, 32), dtype=np.int64)
    labels[8:16, 8:16] = 1
    indices = sample_balanced_pixels(labels, 20, 3, ignore_label=None)
    assert _counts(labels, indices) == {0: 20, 1: 20}


def test_sample_in_3d_with_another_ignore_label() -> None:
    labels = np.full((4, 16, 16), 255, dtype=np.uint8)
    labels[0] = 0
    labels[3, :5] = 7
    indices = sample_balanced_pixels(labels, 60, 1, ignore_label=255)
    assert _counts(labels, indices) == {0: 60, 7: 60}
    z, _, _ = np.unravel_index(indices, labels.shape)
    assert set(z.tolist()) == {0, 3}


def test_sample_is_deterministic_per_seed() -> None:
    labels = _labels_50_200()
    first = sample_balanced_pixels(labels, 30, 5)
    assert np.array_equal(first, sample_balanced_pixels(labels, 30, 5))
    assert np.array_equal(first, sample_balanced_pixels(labels, 30, np.random.default_rng(5)))
    assert not np.array_equal(first, sample_balanced_pixels(labels, 30, 6))


def test_sample_without_labels_is_empty() -> None:
    assert sample_balanced_pixels(np.zeros((8, 8), dtype=int), 10, 0).size == 0


def test_sample_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match="`labels` has dtype float64; pass integer class ids"):
        sample_balanced_pixels(np.zeros((8, 8)), 10, 0)
    with pytest.raises(ValueError, match=r"`labels` has shape \(8,\); expected 2D"):
        sample_balanced_pixels(np.zeros(8, dtype=int), 10, 0)
    with pytest.raises(ValueError, match="`n_per_class` must be ≥ 1, got 0"):
        sample_balanced_pixels(np.zeros((8, 8), dtype=int), 0, 0)


# --- train_random_forest ---


def test_forest_on_dense_ground_truth_segments_another_image(
    train_sample: NucleiSample, test_sample: NucleiSample
) -> None:
    # Measured with scikit-learn 1.9: pixel accuracy 0.9973, foreground IoU 0.976 (predicting
    # "all background" scores 0.889). Over 20 train/test seed pairs the minima were 0.988 and
    # 0.932, hence the bounds.
    forest = train_random_forest(
        train_sample.features, train_sample.gt, ignore_label=None, n_per_class=500, n_trees=20
    )
    assert forest.classes_.tolist() == [0, 1]
    foreground = predict_probabilities(forest, test_sample.features, classes=1) > 0.5
    assert (foreground == test_sample.gt).mean() > 0.98
    assert _iou(foreground, test_sample.gt > 0) > 0.9


def test_forest_on_scribbles_segments_another_image(
    train_sample: NucleiSample, test_sample: NucleiSample
) -> None:
    # 5 strokes per class (default simulate_scribbles, seed 0) label 690 pixels (4 % of the
    # image). Measured: pixel accuracy 0.9952, foreground IoU 0.957; 20-seed minima 0.982
    # and 0.892.
    scribbles = simulate_scribbles(train_sample.gt, seed=0)
    forest = train_random_forest(train_sample.features, scribbles, n_trees=20)
    assert forest.classes_.tolist() == [1, 2]
    foreground = predict_probabilities(forest, test_sample.features, classes=2) > 0.5
    assert (foreground == test_sample.gt).mean() > 0.97
    assert _iou(foreground, test_sample.gt > 0) > 0.85


def test_forest_is_deterministic_per_seed(train_sample: NucleiSample) -> None:
    def probabilities(seed: int) -> np.ndarray:
        forest = train_random_forest(
            train_sample.features,
            train_sample.gt,
            ignore_label=None,
            n_per_class=50,
            n_trees=3,
            seed=seed,
        )
        return predict_probabilities(forest, train_sample.features)

    assert np.array_equal(probabilities(1), probabilities(1))
    assert not np.array_equal(probabilities(1), probabilities(2))


def test_forest_options_reach_scikit_learn(train_sample: NucleiSample) -> None:
    forest = train_random_forest(
        train_sample.features,
        train_sample.gt,
        ignore_label=None,
        n_per_class=40,
        n_trees=4,
        max_depth=2,
    )
    assert (forest.n_estimators, forest.max_depth, forest.n_jobs) == (4, 2, 1)
    assert all(tree.get_depth() <= 2 for tree in forest.estimators_)
    assert forest.n_features_in_ == 3


def test_forest_does_not_mutate_inputs(train_sample: NucleiSample) -> None:
    features, gt = train_sample.features.copy(), train_sample.gt.copy()
    train_random_forest(features, gt, ignore_label=None, n_per_class=20, n_trees=2)
    assert np.array_equal(features, train_sample.features)
    assert np.array_equal(gt, train_sample.gt)


def test_forest_needs_two_labeled_classes() -> None:
    features = np.zeros((8, 8, 2), dtype=np.float32)
    only_background = np.zeros((8, 8), dtype=np.uint8)
    only_background[0] = 1
    with pytest.raises(ValueError, match="draw scribbles for both background and foreground"):
        train_random_forest(features, only_background)
    # Dense ground truth read with the scribble convention: the hint names ignore_label=None.
    with pytest.raises(ValueError, match="pass `ignore_label=None` for dense ground truth"):
        train_random_forest(features, (np.arange(64).reshape(8, 8) > 30).astype(np.uint8))


def test_forest_rejects_bad_input() -> None:
    labels = np.zeros((8, 8), dtype=np.uint8)
    labels[0], labels[1] = 1, 2
    with pytest.raises(ValueError, match=r"spatial shape \(8, 9\) but `labels` has shape \(8, 8\)"):
        train_random_forest(np.zeros((8, 9, 2), dtype=np.float32), labels)
    with pytest.raises(ValueError, match=r"`features` has shape \(8, 8\); expected \(Y, X, C\)"):
        train_random_forest(np.zeros((8, 8), dtype=np.float32), labels)
    with pytest.raises(TypeError, match="`features` has dtype complex64"):
        train_random_forest(np.zeros((8, 8, 1), dtype=np.complex64), labels)
    with pytest.raises(TypeError, match="`labels` has dtype float32"):
        train_random_forest(np.zeros((8, 8, 1)), labels.astype(np.float32))
    with pytest.raises(ValueError, match="`n_trees` must be ≥ 1, got 0"):
        train_random_forest(np.zeros((8, 8, 1)), labels, n_trees=0)
    with pytest.raises(ValueError, match="`max_depth` must be ≥ 1 or None, got 0"):
        train_random_forest(np.zeros((8, 8, 1)), labels, max_depth=0)
    features = np.zeros((8, 8, 1))
    features[1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite values at labeled pixels"):
        train_random_forest(features, labels)


# --- predict_probabilities ---


@pytest.fixture(scope="module")
def small_forest(train_sample: NucleiSample) -> RandomForestClassifier:
    return train_random_forest(
        train_sample.features, train_sample.gt, ignore_label=None, n_per_class=100, n_trees=5
    )


def test_probabilities_shape_dtype_and_class_selection(
    small_forest: RandomForestClassifier, train_sample: NucleiSample
) -> None:
    both = predict_probabilities(small_forest, train_sample.features)
    assert both.shape == (128, 128, 2) and both.dtype == np.float32
    np.testing.assert_allclose(both.sum(-1), 1.0, atol=1e-6)
    foreground = predict_probabilities(small_forest, train_sample.features, classes=1)
    assert foreground.shape == (128, 128)
    np.testing.assert_array_equal(foreground, both[..., 1])
    swapped = predict_probabilities(small_forest, train_sample.features, classes=[1, 0])
    np.testing.assert_array_equal(swapped, both[..., ::-1])


def test_probabilities_in_chunks_equal_one_pass(
    small_forest: RandomForestClassifier, train_sample: NucleiSample
) -> None:
    rows_seen: list[int] = []
    predict = small_forest.predict_proba

    class Recording:
        """Forwards to the forest and records the rows of each prediction call."""

        classes_ = small_forest.classes_
        n_features_in_ = small_forest.n_features_in_

        def predict_proba(self, x: np.ndarray) -> np.ndarray:
            rows_seen.append(x.shape[0])
            return predict(x)

    one_pass = predict_probabilities(small_forest, train_sample.features, chunk_size=128 * 128)
    chunked = predict_probabilities(Recording(), train_sample.features, chunk_size=1000)  # type: ignore[arg-type]
    np.testing.assert_array_equal(chunked, one_pass)
    assert max(rows_seen) == 1000 and sum(rows_seen) == 128 * 128 and len(rows_seen) == 17


def test_probabilities_in_3d() -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random((3, 10, 12)) > 0.5).astype(np.uint8)
    features = (labels + rng.normal(0, 0.1, labels.shape))[..., None].astype(np.float32)
    forest = train_random_forest(features, labels, ignore_label=None, n_per_class=50, n_trees=5)
    probabilities = predict_probabilities(forest, features, classes=1, chunk_size=50)
    assert probabilities.shape == (3, 10, 12)
    assert ((probabilities > 0.5) == labels).mean() > 0.99


def test_probabilities_reject_bad_input(
    small_forest: RandomForestClassifier, train_sample: NucleiSample
) -> None:
    with pytest.raises(
        ValueError, match="`features` has 2 channels but the forest was trained on 3"
    ):
        predict_probabilities(small_forest, train_sample.features[..., :2])
    with pytest.raises(
        ValueError, match=r"`classes` 2 must name classes of the forest, which knows \[0, 1\]"
    ):
        predict_probabilities(small_forest, train_sample.features, classes=2)
    with pytest.raises(ValueError, match="`classes` \\[\\] must name classes"):
        predict_probabilities(small_forest, train_sample.features, classes=[])
    with pytest.raises(ValueError, match="`chunk_size` must be ≥ 1, got 0"):
        predict_probabilities(small_forest, train_sample.features, chunk_size=0)
