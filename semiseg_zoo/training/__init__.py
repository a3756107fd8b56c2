"""Reusable training code (datasets, augmentation, losses, loops); used by ``training/`` scripts."""

from .augment import random_dihedral, random_intensity
from .data import LabelledImage, RandomPatchDataset, load_image_label_folder
from .losses import weighted_cross_entropy
from .normalize import scale_range
from .supervised import TrainingResult, resolve_device, train_supervised
from .targets import three_class_targets
from .whole_image import predict_whole_image

__all__ = [
    "LabelledImage",
    "RandomPatchDataset",
    "TrainingResult",
    "load_image_label_folder",
    "predict_whole_image",
    "random_dihedral",
    "random_intensity",
    "resolve_device",
    "scale_range",
    "three_class_targets",
    "train_supervised",
    "weighted_cross_entropy",
]
