"""A hand-made 4x10 pair with one matched, one split and one false-positive object.

Ground truth (A = 1, B = 2)          Prediction (p1 = 1, p2 = 2, p3 = 3, p4 = 4)

    1 1 1 0 0 2 2 2 2 0                  1 1 1 0 0 2 2 2 3 4
    1 1 1 0 0 2 2 2 2 0                  1 1 1 0 0 2 2 2 3 4
    1 1 1 0 0 2 2 2 2 0                  1 1 1 0 0 2 2 3 3 0
    1 1 1 0 0 2 2 2 2 0                  0 0 0 0 0 2 2 3 3 0

A has 12 pixels, B 16. p1 (9 px) lies inside A: IoU 9/12 = 0.75. B is split into p2 (10 px,
IoU 10/16 = 0.625) and p3 (6 px, IoU 6/16 = 0.375). p4 (2 px) is a false positive on
background. Hand-computed scores are in the tests that use it.
"""

from __future__ import annotations

import numpy as np


def hand_groundtruth() -> np.ndarray:
    gt = np.zeros((4, 10), dtype=np.uint16)
    gt[:, 0:3] = 1
    gt[:, 5:9] = 2
    return gt


def hand_prediction() -> np.ndarray:
    pred = np.zeros((4, 10), dtype=np.int32)
    pred[0:3, 0:3] = 1
    pred[:, 5:7] = 2
    pred[0:2, 7] = 2
    pred[2:4, 7] = 3
    pred[:, 8] = 3
    pred[0:2, 9] = 4
    return pred


def entropy_bits(*counts: int) -> float:
    """Entropy in bits of the distribution given by ``counts``."""
    p = np.asarray(counts, dtype=float) / sum(counts)
    return float(-(p * np.log2(p)).sum())
