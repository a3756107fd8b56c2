"""Typed model specifications (one YAML file per released model in ``model_specs/``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SPEC_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Author(_Strict):
    name: str
    affiliation: str | None = None
    orcid: str | None = None


class Citation(_Strict):
    text: str
    doi: str | None = None
    url: str | None = None

    @model_validator(mode="after")
    def _doi_or_url(self) -> Citation:
        if self.doi is None and self.url is None:
            raise ValueError("a citation needs a `doi` or a `url`")
        return self


class Architecture(_Strict):
    """The net class (from :mod:`semiseg_zoo.nets`) and exactly its constructor kwargs."""

    name: Literal["UNet2d", "UNet3d", "CosineAffinityUNet2d", "CosineAffinityUNet3d"]
    kwargs: dict[str, int | float | str | bool | list[list[int]]]


class ScaleRange(_Strict):
    """Per-sample percentile normalisation, as bioimage.io's ``scale_range``."""

    name: Literal["scale_range"] = "scale_range"
    min_percentile: float = Field(1.0, ge=0, lt=100)
    max_percentile: float = Field(99.8, gt=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> ScaleRange:
        if self.min_percentile >= self.max_percentile:
            raise ValueError("`min_percentile` must be smaller than `max_percentile`")
        return self


class ZeroMeanUnitVariance(_Strict):
    name: Literal["zero_mean_unit_variance"] = "zero_mean_unit_variance"


Preprocessing = Annotated[ScaleRange | ZeroMeanUnitVariance, Field(discriminator="name")]


class InputSpec(_Strict):
    axes: Literal["bcyx", "bczyx"]
    channels: int = Field(1, ge=1, le=16)
    channel_names: list[str] | None = None
    data_range: tuple[float, float] = (0.0, 255.0)
    preprocessing: Preprocessing | None = None
    min_shape: list[int] = Field(description="smallest spatial input shape, one value per axis")
    step: list[int] = Field(description="valid spatial shapes are min_shape + n * step")


class OutputSpec(_Strict):
    channel_names: list[str]
    halo: list[int] = Field(description="context (pixels) per spatial axis to crop when tiling")
    activation: Literal["softmax", "sigmoid", "cosine", "none"] = Field(
        description="in-network activation; cosine: ReLU of the cosine affinity of embeddings"
    )


class WatershedParams(_Strict):
    """Seeded watershed on 1 - p(interior) (ACTIS, Sec. 3.3)."""

    method: Literal["watershed"] = "watershed"
    seed_threshold: float = Field(0.5, gt=0, lt=1)
    foreground_threshold: float = Field(0.5, gt=0, lt=1)
    min_size: int = Field(0, ge=0)


class ThresholdParams(_Strict):
    """Threshold + connected components for a single foreground channel."""

    method: Literal["threshold"] = "threshold"
    threshold: float = Field(0.5, gt=0, lt=1)
    min_size: int = Field(0, ge=0)


class DistanceWatershedParams(_Strict):
    """Watershed of a boundary map from distance-transform seeds, per 2D image (slices of a stack
    are segmented one by one): the shallow2deep recipe for membrane probabilities."""

    method: Literal["distance_watershed"] = "distance_watershed"
    threshold: float = Field(0.5, gt=0, lt=1, description="boundary below this is cell interior")
    sigma_seeds: float = Field(2.0, ge=0, description="smoothing of the distance map for seeds")
    sigma_weights: float = Field(2.0, ge=0, description="smoothing of the flooded height map")
    alpha: float = Field(0.9, ge=0, le=1, description="weight of the boundary map vs distance")
    min_size: int = Field(0, ge=0)


class _ClusteringParams(_Strict):
    """What every clustering of SPOCO embeddings shares (Wolny et al. 2022, Sec. 3.3)."""

    delta_d: float = Field(2.0, gt=0, description="push margin the network was trained with")
    merge_close: bool = Field(
        False, description="merge clusters whose mean embeddings are closer than delta_d"
    )
    background: Literal["largest", "none"] = Field(
        "largest", description="the largest cluster is background (without a foreground mask)"
    )
    foreground_channel: int | None = Field(
        None, ge=0, description="output channel with a foreground probability, if any"
    )
    foreground_threshold: float = Field(0.5, gt=0, lt=1)
    min_size: int = Field(0, ge=0)


class MeanShiftParams(_ClusteringParams):
    """Mean-shift on a pixel subsample; every pixel joins the nearest cluster centre."""

    method: Literal["mean_shift"] = "mean_shift"
    delta_v: float = Field(0.5, gt=0, description="pull margin the network was trained with")
    bandwidth: float | None = Field(None, gt=0, description="default: 2 * delta_v")
    max_samples: int = Field(10000, ge=100)
    seed: int = 0


class HdbscanParams(_ClusteringParams):
    """HDBSCAN on a pixel subsample; every pixel joins the nearest cluster mean."""

    method: Literal["hdbscan"] = "hdbscan"
    min_cluster_size: int = Field(50, ge=2, description="in pixels of the full image")
    min_samples: int | None = Field(None, ge=1)
    max_samples: int = Field(10000, ge=100)
    seed: int = 0


class EmbeddingMwsParams(_ClusteringParams):
    """Embeddings → affinities (``max((2δd − ‖e_i − e_j‖) / 2δd, 0)²``) → mutex watershed."""

    method: Literal["embedding_mws"] = "embedding_mws"
    offsets: list[list[int]] | None = Field(None, description="default: the library's offsets")
    strides: list[int] | None = None
    bias: float = Field(-0.5, description="added to the repulsive weights (> 0 splits more)")


class _AffinityPostprocessingParams(_Strict):
    offsets: list[list[int]] | None = Field(
        None, description="the network's offsets; the exporter fills them in from the spec"
    )
    background: Literal["largest", "none"] = Field(
        "none", description="largest: the largest segment is background (sparse objects)"
    )
    min_size: int = Field(0, ge=0)


class MutexWatershedParams(_AffinityPostprocessingParams):
    """Mutex watershed of affinities (1 = same object) for the network's offsets."""

    method: Literal["mutex_watershed"] = "mutex_watershed"
    strides: list[int] | None = None
    bias: float = Field(0.0, description="added to the repulsive weights (> 0 splits more)")
    mask_threshold: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="pixels whose direct-neighbour affinities all fall below "
        "this are left out (boundary/background): faster",
    )


class AgglomeratedWatershedParams(_AffinityPostprocessingParams):
    """Watershed fragments of the direct-neighbour boundary map, merged while the median
    affinity across the merged contacts stays above ``threshold`` (waterz-style, as CRAC for 3D)."""

    method: Literal["agglomerated_watershed"] = "agglomerated_watershed"
    threshold: float = Field(
        0.5, gt=0, lt=1, description="merge while the median affinity is above"
    )
    stacked: bool = Field(False, description="fragments per z-slice (anisotropic EM)")


CLUSTERING_METHODS = ("mean_shift", "hdbscan", "embedding_mws")
AFFINITY_METHODS = ("mutex_watershed", "agglomerated_watershed")
AffinityPostprocessingSpec = Annotated[
    MutexWatershedParams | AgglomeratedWatershedParams, Field(discriminator="method")
]
ClusteringSpec = Annotated[
    MeanShiftParams | HdbscanParams | EmbeddingMwsParams, Field(discriminator="method")
]
PostprocessingSpec = Annotated[
    WatershedParams
    | ThresholdParams
    | DistanceWatershedParams
    | MeanShiftParams
    | HdbscanParams
    | EmbeddingMwsParams
    | MutexWatershedParams
    | AgglomeratedWatershedParams,
    Field(discriminator="method"),
]


class ActisParams(_Strict):
    """ACTIS semi-supervised mean-teacher training (Rumberger et al. 2023, Sec. 3.1-3.2).

    Student and teacher start from the supervised baseline; the student is trained with SGD
    (Nesterov momentum, cosine decay) on batches mixing labeled and unlabeled patches.
    """

    steps: int = Field(500, ge=1)
    labeled_per_batch: int = Field(4, ge=1)
    unlabeled_per_batch: int = Field(8, ge=1)
    learning_rate: float = Field(0.01, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(1e-4, ge=0)
    percentile: float = Field(
        0.2, gt=0, lt=1, description="per-class quantile of teacher scores (Eq. 3); 0.2 in ACTIS"
    )
    threshold_ema: float = Field(0.99, ge=0, lt=1, description="EMA of the thresholds (Eq. 4)")
    teacher_ema: float = Field(0.99, ge=0, lt=1, description="teacher <- a*teacher + (1-a)*student")
    teacher_update_every: int = Field(100, ge=1, description="steps between teacher updates")
    validate_every: int = Field(100, ge=1)
    keep: Literal["student", "best"] = Field(
        "student",
        description=(
            "weights kept: the best-validating student (ACTIS), or the best-validating of "
            "student and mean teacher (each validated at every check)"
        ),
    )


class InconsistencyParams(_Strict):
    """Inconsistency Masks self-training (Vorndran et al. 2024, Sec. 2.4.6-2.4.7)."""

    ensemble_size: int = Field(2, ge=2, description="teachers per generation (top-k students)")
    students_per_generation: int = Field(2, ge=2)
    generations: int = Field(2, ge=1)
    erosion: int = Field(0, ge=0, description="erosion kernel size e of the mask (0: none)")
    dilation: int = Field(0, ge=0, description="dilation kernel size d of the mask (0: none)")
    width_growth: float = Field(
        1.0, ge=1.0, description="IM+: base_features multiplied by this per generation"
    )

    @model_validator(mode="after")
    def _enough_students(self) -> InconsistencyParams:
        if self.students_per_generation < self.ensemble_size:
            raise ValueError(
                "`students_per_generation` must be at least `ensemble_size` (the top-k students "
                "become the next generation's teachers)"
            )
        return self


class TrainingSpec(_Strict):
    """Data paths are relative to the data root (``SEMISEG_DATA``, default ``../shared/data``).

    ``mode`` selects supervised training, ACTIS (``actis``) or Inconsistency Masks
    (``inconsistency``); the semi-supervised modes need their parameter block. With
    ``labeled_images`` only that many training images (a subset drawn with ``seed``) keep their
    labels; the others, and the images in ``unlabeled`` if given, are used without labels.
    ``tune_images`` are drawn before the labeled subset and never trained on.
    """

    mode: Literal["supervised", "actis", "inconsistency"] = "supervised"
    train: str
    unlabeled: str | None = None
    labeled_images: int | None = Field(None, ge=1)
    tune_images: int | None = Field(
        None,
        ge=1,
        description="training images held out (a seeded draw) to select checkpoints and tune "
        "the post-processing, so that `val` only measures; None: both happen on `val`",
    )
    val: str
    data_description: str
    patch_shape: list[int]
    batch_size: int = Field(16, ge=1)
    steps: int = Field(3000, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-3, ge=0)
    class_weights: list[float] | None = None
    validate_every: int = Field(250, ge=1)
    seed: int = 0
    seed_thresholds: list[float] = Field(default_factory=lambda: [0.5])
    foreground_thresholds: list[float] = Field(default_factory=lambda: [0.5])
    actis: ActisParams | None = None
    inconsistency: InconsistencyParams | None = None

    @model_validator(mode="after")
    def _mode_parameters(self) -> TrainingSpec:
        if self.mode == "actis" and self.actis is None:
            raise ValueError("`training.mode` actis needs a `training.actis` block")
        if self.mode == "inconsistency" and self.inconsistency is None:
            raise ValueError("`training.mode` inconsistency needs a `training.inconsistency` block")
        if self.mode != "supervised" and self.labeled_images is None and self.unlabeled is None:
            raise ValueError(
                f"`training.mode` {self.mode} needs unlabeled images: set `labeled_images` "
                "(the other training images lose their labels) or `unlabeled` (a folder)"
            )
        return self


class FeatureSpec(_Strict):
    """ilastik-style pixel features the Random Forest sees (names and Gaussian scales)."""

    names: list[str] = Field(min_length=1)
    sigmas: list[float] = Field(min_length=1)


class SourceData(_Strict):
    """Densely labeled source data, relative to the data root: a stack (``raw`` and ``labels``
    tif files of the same shape, used slice by slice), two folders (``raw`` images and
    ``labels`` images matched by name) or an ``images/``+``labels/`` folder (only ``raw``
    given). ``positive`` says which label values form the target class: ``nonzero``
    (instances or a 0/1 mask: foreground) or ``zero`` (ISBI-style 0 = membrane: boundaries)."""

    raw: str
    labels: str | None = None
    positive: Literal["nonzero", "zero"] = "nonzero"
    boundaries_of_instances: bool = Field(
        False, description="target = boundaries of the label image's instances (2 px wide)"
    )


class EnhancerTrainingSpec(_Strict):
    """shallow2deep source-side training (Matskevych et al. 2022, Sec. 2.1).

    ``n_forests`` Random Forests of ``trees_per_forest`` trees are each trained on a randomly
    sized and placed patch (side in ``forest_patch_size``) of one training image, from
    ``pixels_per_class`` class-balanced pixels; each predicts its whole image, and those
    probability maps (cached on disk) are the enhancer's inputs. The last ``val_images`` images
    (slices of a stack) are held out for validation (a fresh set of forests).
    """

    source: SourceData
    val_images: int = Field(2, ge=1)
    val: str = Field(description="description of the held-out validation images")
    data_description: str
    n_forests: int = Field(48, ge=1)
    val_forests: int = Field(8, ge=1)
    trees_per_forest: int = Field(10, ge=1)
    forest_patch_size: tuple[int, int] = (64, 256)
    pixels_per_class: int = Field(500, ge=1)
    loss: Literal["bce", "dice"] = "bce"
    patch_shape: list[int]
    batch_size: int = Field(8, ge=1)
    steps: int = Field(2000, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-5, ge=0)
    validate_every: int = Field(250, ge=1)
    seed: int = 0
    thresholds: list[float] = Field(
        default_factory=lambda: [0.3, 0.4, 0.5, 0.6, 0.7],
        description="post-processing thresholds tried on validation",
    )

    @model_validator(mode="after")
    def _patch_sizes(self) -> EnhancerTrainingSpec:
        low, high = self.forest_patch_size
        if not 8 <= low <= high:
            raise ValueError("`forest_patch_size` must be (min, max) with 8 <= min <= max")
        return self


class PseudoLabelTrainingSpec(_Strict):
    """shallow2deep target-side training (Matskevych et al. 2022, Sec. 2.2): a U-Net on the raw
    target images learns from the soft pseudo-labels of the Prediction Enhancer ``enhancer``
    (a Random Forest trained on scribbles on the target, improved by the enhancer), with a
    mean-teacher consistency term and confidence label rectification (Eq. 1-8)."""

    target: str = Field(description="the target data: raw images (no labels) and scribbles")
    enhancer: str = Field(description="name of the enhancer package that made the pseudo-labels")
    val: str = Field(
        "none: the target data have no labels; the final weights are kept",
        description="description of the data used for validation, if any",
    )
    data_description: str
    n_trees: int = Field(100, ge=1, description="trees of the Random Forest on the scribbles")
    loss: Literal["bce", "dice"] = "bce"
    patch_shape: list[int]
    batch_size: int = Field(8, ge=1)
    steps: int = Field(2000, ge=1)
    learning_rate: float = Field(2e-4, gt=0)
    weight_decay: float = Field(1e-5, ge=0)
    ema_alpha: float = Field(0.999, ge=0, le=1, description="mean teacher EMA factor (Eq. 2)")
    rectification_momentum: float = Field(
        0.999, ge=0, le=1, description="EMA factor of the confidence levels (Eq. 8)"
    )
    rectification: bool = Field(True, description="confidence label rectification (Eq. 6-8)")
    consistency: bool = Field(True, description="consistency term with the mean teacher (Eq. 1)")
    seed: int = 0


class InstanceDataSpec(_Strict):
    """Images and instance labels matched by two globs relative to the data root, paired in
    sorted order. ``sparse``: only some objects are annotated (0 = not annotated, not
    background), e.g. ``bbbc007_sparse``."""

    images: str
    labels: str
    sparse: bool = False


class SpocoLossSpec(_Strict):
    """SPOCO loss (Wolny et al. 2022, Eq. 1-8) with the paper's values as defaults."""

    delta_v: float = Field(0.5, gt=0, description="pull margin (Eq. 1)")
    delta_d: float = Field(2.0, gt=0, description="push margin (Eq. 2)")
    kernel_threshold: float = Field(0.9, gt=0, lt=1, description="t of the kernel (Eq. 3)")
    alpha: float = Field(1.0, ge=0, description="pull weight (Eq. 5)")
    beta: float = Field(1.0, ge=0, description="push weight (Eq. 5)")
    lambda_obj: float = Field(1.0, ge=0, description="single-object Dice weight (Eq. 5)")
    gamma: float = Field(1.0, ge=0, description="unlabeled push weight (Eq. 8)")
    delta: float = Field(1.0, ge=0, description="embedding consistency weight (Eq. 8)")
    regularizer: float = Field(0.001, ge=0, description="weight of the mean-norm term")
    max_anchors: int = Field(32, ge=1, description="consistency anchors per patch, at most")
    momentum: float = Field(0.999, ge=0, lt=1, description="m of the momentum network g")


class EmbeddingTrainingSpec(_Strict):
    """SPOCO training of a pixel-embedding network (Wolny et al. 2022, Sec. 3).

    ``object_fraction`` p trains SPOCO@p: per image a seeded random fraction p of the objects is
    labeled and everything else, background included, is unlabeled. Without it the training is
    fully supervised (background is an object) unless the labels are ``sparse``. Validation
    images are ``val_data`` or, without it, ``val_images`` images held out of ``train``.
    """

    train: InstanceDataSpec
    val_data: InstanceDataSpec | None = None
    val_images: int = Field(0, ge=0)
    val: str = Field(description="description of the validation images")
    data_description: str
    object_fraction: float | None = Field(None, gt=0, le=1)
    loss: SpocoLossSpec = SpocoLossSpec()
    patch_shape: list[int]
    batch_size: int = Field(4, ge=1)
    steps: int = Field(2000, ge=1)
    learning_rate: float = Field(2e-4, gt=0)
    weight_decay: float = Field(1e-5, ge=0)
    seed: int = 0
    metric: Literal["sbd", "ap50"] = Field(
        "ap50", description="validation score that picks the clustering: SBD (CVPPP) or AP@0.5"
    )
    clustering: list[ClusteringSpec] = Field(
        min_length=1, description="clustering recipes tried on validation; the best is packaged"
    )

    @model_validator(mode="after")
    def _validation_data(self) -> EmbeddingTrainingSpec:
        if self.val_data is None and self.val_images == 0:
            raise ValueError("set `val_data` or hold out `val_images` > 0 training images")
        return self


class VolumeDataSpec(_Strict):
    """An image stack or volume and its instance labels (tif files relative to the data root),
    split into training and validation parts along one axis. ``labels_are``: ``instances``
    (ids; for 2D models on a stack, per slice) or ``interior_components`` (ISBI-style: nonzero =
    cell interior, instances = its connected components per slice)."""

    raw: str
    labels: str
    labels_are: Literal["instances", "interior_components"] = "instances"
    split_axis: int = Field(0, ge=0, le=2, description="axis of the train/validation split")
    split_at: int = Field(ge=1, description="training = [0, split_at), validation = the rest")
    val_crop: list[int] | None = Field(
        None, description="validate on this leading crop of the validation part (time, memory)"
    )


class CracLossSpec(_Strict):
    """CRAC cross-supervision (Liu et al. 2024, Eq. 5-10) with the paper's values as defaults."""

    lambda_c: float = Field(0.1, ge=0, description="weight λ of the consistency loss (Eq. 10)")
    alpha0: float = Field(0.05, ge=0, lt=1, description="initial quantile α0 (Eq. 6)")
    power: float = Field(1.5, gt=0, description="power p of the α_t schedule (Eq. 6)")
    cpsn: bool = Field(False, description="also filter with a confidence pixel selection net")
    cpsn_dropout: float = Field(0.1, ge=0, lt=1, description="simulated errors for the CPSN")
    cpsn_warmup: int = Field(100, ge=0, description="steps before the CPSN filters")


class AffinityTrainingSpec(_Strict):
    """CRAC training of affinity networks from sparse instance labels (Liu et al. 2024).

    A seeded ``annotated_fraction`` of the training instances is annotated; everything else,
    background included, is one unannotated region. ``mode: crac`` trains the implicit affinity
    net (``architecture``) and an explicit embedding net (``embedding_dim``, cosine affinities)
    with cross-supervision; ``vanilla`` trains the implicit net alone on the sparse labels.
    """

    data: VolumeDataSpec | None = Field(
        None, description="one stack or volume split into training and validation parts"
    )
    train: InstanceDataSpec | None = Field(
        None, description="or: training images and labels (``sparse``: 0 = not annotated)"
    )
    val_data: InstanceDataSpec | None = Field(
        None, description="with ``train``: validation images with every object labeled"
    )
    val: str = Field(description="description of the validation data")
    data_description: str
    annotated_fraction: float | None = Field(
        0.1, gt=0, le=1, description="None: the labels as given (dense, or sparse `train`)"
    )
    mode: Literal["crac", "vanilla"] = "crac"
    embedding_dim: int = Field(16, ge=2)
    loss: CracLossSpec = CracLossSpec()
    annotated_patch_probability: float = Field(
        0.5, ge=0, le=1, description="share of patches centred on an annotated pixel"
    )
    patch_shape: list[int]
    batch_size: int = Field(2, ge=1)
    steps: int = Field(1000, ge=1)
    learning_rate: float = Field(5e-4, gt=0)
    weight_decay: float = Field(1e-5, ge=0)
    seed: int = 0
    metric: Literal["voi", "s_dsb50"] = Field(
        "voi",
        description="picks the net and post-processing: lowest VOI or highest S_DSB@0.5 "
        "(TP/(TP+FP+FN) at IoU 0.5)",
    )
    postprocessing: list[AffinityPostprocessingSpec] = Field(
        min_length=1, description="recipes tried on validation; the best is packaged"
    )

    @model_validator(mode="after")
    def _one_data_source(self) -> AffinityTrainingSpec:
        if (self.data is None) == (self.train is None):
            raise ValueError("give either `data` (one split stack) or `train` with `val_data`")
        if self.train is not None and self.val_data is None:
            raise ValueError(
                "`train` needs `val_data`: validation images with every object labeled"
            )
        return self


class _ModelSpecBase(_Strict):
    version: Literal[1] = SPEC_VERSION
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str
    authors: list[Author] = Field(min_length=1)
    cite: list[Citation] = Field(min_length=1)
    license: str
    tags: list[str]
    architecture: Architecture
    input: InputSpec
    output: OutputSpec
    postprocessing: PostprocessingSpec
    training: (
        TrainingSpec
        | EnhancerTrainingSpec
        | PseudoLabelTrainingSpec
        | EmbeddingTrainingSpec
        | AffinityTrainingSpec
    )
    tile: list[int] = Field(description="default spatial tile shape for inference")

    @model_validator(mode="after")
    def _consistent(self) -> _ModelSpecBase:
        n_spatial = len(self.input.axes) - 2
        for field, value in [
            ("input.min_shape", self.input.min_shape),
            ("input.step", self.input.step),
            ("output.halo", self.output.halo),
            ("tile", self.tile),
            ("training.patch_shape", self.training.patch_shape),
        ]:
            if len(value) != n_spatial:
                raise ValueError(
                    f"`{field}` has {len(value)} values but input axes "
                    f"{self.input.axes!r} have {n_spatial} spatial axes"
                )
        kwargs = self.architecture.kwargs
        n_out = len(self.output.channel_names)
        weights = getattr(self.training, "class_weights", None)
        if weights is not None and len(weights) != n_out:
            raise ValueError(
                f"`training.class_weights` has {len(weights)} values for {n_out} output channels"
            )
        names = self.input.channel_names
        if names is not None and len(names) != self.input.channels:
            raise ValueError(
                f"`input.channel_names` has {len(names)} names for {self.input.channels} channels"
            )
        fields: tuple[str, ...] = ()
        if isinstance(self.training, TrainingSpec):
            fields = ("seed_thresholds", "foreground_thresholds")
        elif isinstance(self.training, EnhancerTrainingSpec):
            fields = ("thresholds",)
        for field in fields:
            values = getattr(self.training, field)
            if not values or not all(0 < v < 1 for v in values):
                raise ValueError(f"`training.{field}` must be a non-empty list of values in (0, 1)")
        if kwargs.get("in_channels", 1) != self.input.channels:
            raise ValueError("`architecture.kwargs.in_channels` must equal `input.channels`")
        cosine = self.architecture.name.startswith("CosineAffinity")
        n_net_out = len(kwargs.get("offsets", [])) if cosine else kwargs.get("out_channels", 1)
        if n_net_out != len(self.output.channel_names):
            raise ValueError(
                "`architecture.kwargs.out_channels` (or the number of `offsets` of a cosine "
                "affinity net) must equal the number of `output.channel_names`"
            )
        activation = "cosine" if cosine else kwargs.get("final_activation", "none")
        if activation != self.output.activation:
            raise ValueError(
                "`architecture.kwargs.final_activation` must equal `output.activation`"
            )
        expected_name = ("CosineAffinityUNet" if cosine else "UNet") + f"{n_spatial}d"
        if self.architecture.name != expected_name:
            raise ValueError(f"input axes {self.input.axes!r} need architecture {expected_name}")
        return self


class TeacherSpec(_ModelSpecBase):
    """A 3-class (background, interior, boundary) network (ACTIS / Inconsistency Masks)."""

    kind: Literal["teacher"]
    training: TrainingSpec

    @model_validator(mode="after")
    def _three_classes(self) -> TeacherSpec:
        if self.output.channel_names != ["background", "interior", "boundary"]:
            raise ValueError(
                "a teacher's `output.channel_names` must be [background, interior, boundary]"
            )
        if self.postprocessing.method != "watershed":
            raise ValueError("a teacher's `postprocessing.method` must be watershed")
        return self


class EnhancerSpec(_ModelSpecBase):
    """A shallow2deep Prediction Enhancer: Random Forest probabilities in, improved probability of
    one class (foreground or boundary) out, sigmoid inside the network."""

    kind: Literal["enhancer"]
    features: FeatureSpec
    training: EnhancerTrainingSpec

    @model_validator(mode="after")
    def _one_probability(self) -> EnhancerSpec:
        if self.input.preprocessing is not None:
            raise ValueError(
                "an enhancer's input is a probability map in [0, 1]: `input.preprocessing` must "
                "be absent"
            )
        if tuple(self.input.data_range) != (0.0, 1.0):
            raise ValueError("an enhancer's `input.data_range` must be [0, 1]")
        if len(self.output.channel_names) != 1 or self.output.activation != "sigmoid":
            raise ValueError("an enhancer has one output channel with `activation: sigmoid`")
        if "shallow2deep" not in self.tags:
            raise ValueError("an enhancer's `tags` must include shallow2deep (ilastik finds it so)")
        if self.postprocessing.method == "watershed":
            raise ValueError(
                "an enhancer's `postprocessing.method` must be threshold or distance_watershed"
            )
        return self


class PseudoLabelNetSpec(_ModelSpecBase):
    """A shallow2deep segmentation network for one target domain: raw intensities in, the
    probability of the enhancer's class out (sigmoid inside the network), trained on the target
    from the enhancer's pseudo-labels (no labels of the target)."""

    kind: Literal["pseudo_label_net"]
    training: PseudoLabelTrainingSpec

    @model_validator(mode="after")
    def _raw_in_one_probability_out(self) -> PseudoLabelNetSpec:
        if self.input.preprocessing is None:
            raise ValueError(
                "a pseudo-label net's input is raw data: set `input.preprocessing` (e.g. "
                "scale_range, as in training)"
            )
        if len(self.output.channel_names) != 1 or self.output.activation != "sigmoid":
            raise ValueError(
                "a pseudo-label net has one output channel with `activation: sigmoid` (its "
                "enhancer's)"
            )
        if self.postprocessing.method == "watershed":
            raise ValueError(
                "a pseudo-label net's `postprocessing.method` must be threshold or "
                "distance_watershed (its enhancer's)"
            )
        return self


class EmbeddingSpec(_ModelSpecBase):
    """A SPOCO pixel-embedding network: D output channels, no activation; instances by clustering
    the embeddings (``postprocessing``: mean_shift, hdbscan or embedding_mws)."""

    kind: Literal["embedding"]
    training: EmbeddingTrainingSpec

    @model_validator(mode="after")
    def _embeddings_out(self) -> EmbeddingSpec:
        if self.output.activation != "none":
            raise ValueError("an embedding network's `output.activation` must be none")
        if self.postprocessing.method not in CLUSTERING_METHODS:
            raise ValueError(
                f"an embedding network's `postprocessing.method` must be one of "
                f"{list(CLUSTERING_METHODS)}"
            )
        if self.input.preprocessing is None:
            raise ValueError("an embedding network's input is raw data: set `input.preprocessing`")
        return self


class AffinitySpec(_ModelSpecBase):
    """A CRAC affinity network: one channel per offset, 1 = the pixel and the pixel ``offset``
    away belong to the same object; instances by mutex watershed or agglomerated watershed."""

    kind: Literal["affinity"]
    offsets: list[list[int]] = Field(
        description="pixel offsets, one per output channel; the first ndim are the direct "
        "neighbours (attractive edges of the mutex watershed)"
    )
    training: AffinityTrainingSpec

    @model_validator(mode="after")
    def _affinities_out(self) -> AffinitySpec:
        ndim = len(self.input.axes) - 2
        if len(self.offsets) != len(self.output.channel_names):
            raise ValueError("an affinity network needs one `output.channel_names` per offset")
        if any(len(o) != ndim for o in self.offsets):
            raise ValueError(f"every offset needs {ndim} values (input axes {self.input.axes!r})")
        direct = [sorted(abs(v) for v in o) for o in self.offsets[:ndim]]
        if direct != [[0] * (ndim - 1) + [1]] * ndim:
            raise ValueError(
                f"the first {ndim} `offsets` must be the direct neighbours, e.g. [-1, 0], [0, -1]"
            )
        if self.output.activation not in ("sigmoid", "cosine"):
            raise ValueError("an affinity network's `output.activation` must be sigmoid or cosine")
        if self.postprocessing.method not in AFFINITY_METHODS:
            raise ValueError(
                f"an affinity network's `postprocessing.method` must be one of "
                f"{list(AFFINITY_METHODS)}"
            )
        if self.input.preprocessing is None:
            raise ValueError("an affinity network's input is raw data: set `input.preprocessing`")
        return self


ModelSpec = TeacherSpec | EnhancerSpec | PseudoLabelNetSpec | EmbeddingSpec | AffinitySpec
SPEC_CLASSES: dict[str, type[_ModelSpecBase]] = {
    "teacher": TeacherSpec,
    "enhancer": EnhancerSpec,
    "pseudo_label_net": PseudoLabelNetSpec,
    "embedding": EmbeddingSpec,
    "affinity": AffinitySpec,
}
