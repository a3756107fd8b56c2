"""Reusable training code (datasets, augmentation, losses, loops); used by ``training/`` scripts."""

from semiseg_zoo.training.augment import random_dihedral, random_intensity, strong_intensity
from semiseg_zoo.training.checkpoint import (
    DEFAULT_CHECKPOINT_EVERY_S,
    RunControl,
    TrainingInterrupted,
    load_checkpoint_file,
)
from semiseg_zoo.training.compute import (
    CPU_AUTO_PRECISION,
    PRECISIONS,
    ComputeSettings,
    Precision,
    resolve_device,
    resolve_precision,
)
from semiseg_zoo.training.data import (
    LabelledImage,
    RandomPatchDataset,
    UnlabeledPatchDataset,
    load_image_label_folder,
    random_window,
    read_normalised_tif,
)
from semiseg_zoo.training.enhancer.pseudo_label_net import (
    PseudoLabelLoss,
    pseudo_label_loss,
    train_pseudo_label_net,
)
from semiseg_zoo.training.enhancer.soft_patches import SoftPatchDataset
from semiseg_zoo.training.loop import IteratorBatches, TrainingLoop, TrainingResult, ZippedBatches
from semiseg_zoo.training.losses import IGNORE_INDEX, masked_cross_entropy, weighted_cross_entropy
from semiseg_zoo.training.normalize import scale_range
from semiseg_zoo.training.run_record import training_record
from semiseg_zoo.training.step_batches import PatchSampler, StepBatches
from semiseg_zoo.training.supervised import train_supervised
from semiseg_zoo.training.targets import three_class_targets
from semiseg_zoo.training.teacher.inconsistency import (
    inconsistency_mask_binary,
    inconsistency_mask_multiclass,
    masked_training_pair,
    refine_inconsistency_mask,
)
from semiseg_zoo.training.teacher.mean_teacher import ema_update, student_view, train_actis
from semiseg_zoo.training.teacher.pseudo_labels import (
    ClassThresholds,
    pseudo_labels,
    tta_prediction,
)
from semiseg_zoo.training.teacher.self_training import (
    Generation,
    PseudoLabelStats,
    SelfTrainingResult,
    pseudo_labelled_pairs,
    run_self_training,
)
from semiseg_zoo.training.whole_image import predict_whole_image

__all__ = [
    "CPU_AUTO_PRECISION",
    "DEFAULT_CHECKPOINT_EVERY_S",
    "IGNORE_INDEX",
    "PRECISIONS",
    "ComputeSettings",
    "IteratorBatches",
    "PatchSampler",
    "Precision",
    "RunControl",
    "StepBatches",
    "TrainingInterrupted",
    "TrainingLoop",
    "ZippedBatches",
    "load_checkpoint_file",
    "resolve_precision",
    "ClassThresholds",
    "Generation",
    "LabelledImage",
    "PseudoLabelLoss",
    "PseudoLabelStats",
    "RandomPatchDataset",
    "SelfTrainingResult",
    "SoftPatchDataset",
    "TrainingResult",
    "UnlabeledPatchDataset",
    "ema_update",
    "inconsistency_mask_binary",
    "inconsistency_mask_multiclass",
    "load_image_label_folder",
    "masked_cross_entropy",
    "masked_training_pair",
    "predict_whole_image",
    "pseudo_label_loss",
    "pseudo_labelled_pairs",
    "pseudo_labels",
    "random_dihedral",
    "random_intensity",
    "random_window",
    "read_normalised_tif",
    "refine_inconsistency_mask",
    "resolve_device",
    "run_self_training",
    "scale_range",
    "strong_intensity",
    "student_view",
    "three_class_targets",
    "training_record",
    "train_actis",
    "train_pseudo_label_net",
    "train_supervised",
    "tta_prediction",
    "weighted_cross_entropy",
]
