"""Teacher networks (3 classes: background, interior, boundary): the supervised baseline, ACTIS
and Inconsistency Masks as resumable stages (:mod:`.modes`), and the job from a spec to a
validated package (:mod:`.job`)."""

from semiseg_zoo.training.teacher.job import (
    TeacherJobResult,
    load_weights,
    run_teacher_job,
    sample_input_for,
)
from semiseg_zoo.training.teacher.modes import (
    TeacherData,
    TeacherSchedule,
    TrainedTeacher,
    build_net,
    grid_search,
    load_teacher_data,
    load_unlabeled_folder,
    make_validator,
    percentiles,
    predict_probabilities,
    scores_at,
    segment_all,
    split_labeled,
    split_teacher_data,
    split_tuning,
    train_actis_student,
    train_baseline,
    train_inconsistency_students,
    train_teacher,
    tune_and_validate,
)

__all__ = [
    "TeacherData",
    "TeacherJobResult",
    "TeacherSchedule",
    "TrainedTeacher",
    "build_net",
    "grid_search",
    "load_teacher_data",
    "load_unlabeled_folder",
    "load_weights",
    "make_validator",
    "percentiles",
    "predict_probabilities",
    "run_teacher_job",
    "sample_input_for",
    "scores_at",
    "segment_all",
    "split_labeled",
    "split_teacher_data",
    "split_tuning",
    "train_actis_student",
    "train_baseline",
    "train_inconsistency_students",
    "train_teacher",
    "tune_and_validate",
]
