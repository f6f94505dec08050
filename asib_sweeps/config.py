"""The one typed, validated configuration of a run.

Every value a run depends on lives here, validated before anything is launched:
unknown keys, wrong types and out-of-range values are `ConfigError`s that name the
dotted key, the value that came and what is allowed. Pydantic does the checking
(strict mode, extra keys forbidden); this module only shapes its messages and adds
the dotted-key overrides (`--set optim.lr=0.01`) and YAML loading (safe, YAML 1.2 numbers:
asib_sweeps.yaml12). Floats must be finite: inf and nan are refused in every field.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, create_model, model_validator

from analysis.flatten import flatten_dict
from asib_sweeps import yaml12
from asib_sweeps.catalog.data_sources import source_names
from asib_sweeps.catalog.models import model_names
from asib_sweeps.catalog.methods import method_entry, method_names, settings_types
from asib_sweeps.config_section import Section

METHOD_NAMES: tuple[str, ...] = method_names()
DATASET_NAMES: tuple[str, ...] = source_names()
DatasetName = Literal[DATASET_NAMES]  # type: ignore[valid-type]
"""The catalog's data sources (asib_sweeps.catalog.data_sources), read when this module loads."""


SGD_MOMENTUM = 0.9


class ConfigError(ValueError):
    """A configuration value that is not allowed; the message names key, value and rule."""


class DataConfig(Section):
    dataset: DatasetName = "digits"
    """Which source to read (`--dataset`); see the README's data set table."""
    root: str | None = None
    """Directory the on-disk data sets are read from (`--data-root`)."""
    download: bool = False
    """Fetch the data set into data.root when it is missing (cifar100 only; `--download`)."""
    val_fraction: float = Field(0.1, ge=0, lt=1)
    """Stratified share of the training split held out for model selection. 0 holds out
    nothing and measures the val metrics on the test split: the published CIFAR protocol
    (all 50k training images, epochs chosen on the test set), for reproductions only."""
    test_fraction: float = Field(0.3, gt=0, lt=1)
    """Only for data with no official test split (digits)."""
    student_train_size: int | None = Field(None, ge=1)
    """Seeded, stratified subset of the training split the student learns from
    (teachers always see the whole training split). None = all of it."""
    classes: list[int] | None = None
    """Restrict the whole run to these class indices (labels keep their indices)."""
    split_seed: int = Field(0, ge=0)
    """Seeds the validation/test split and the student subset. With split_per_seed the studies
    set it to each trial's seed; the arms of one seed always share it (paired comparisons)."""
    split_per_seed: bool = True
    """Each student seed draws its own split and its own teachers: the studies set split_seed and
    every teacher's seed to the trial's seed, so seed-to-seed spread includes data noise. Off:
    one split (split_seed) and one set of teachers for every seed."""
    image_size: int = Field(32, ge=8, le=512)
    """Side in pixels every image is resized to (bilinear, antialiased)."""
    crop_padding: int = Field(4, ge=0, le=16)
    """Random-crop padding in pixels; 0 turns random crops off."""
    flip: bool = True
    """Random horizontal flips in training."""
    batch_size: int = Field(64, ge=1)
    """Training mini-batch size (student, teachers and synergy alike)."""
    eval_batch_size: int = Field(1024, ge=1)
    """Batch size of evaluation passes (memory only; results do not depend on it)."""


class StudentSpec(Section):
    """The student model: an architecture and where its weights start."""

    arch: str
    """The registered architecture (asib_sweeps.models)."""
    pretrained: bool = False
    """Start from timm's pretrained weights (needs the network, or pretrained_path)."""
    pretrained_path: str | None = None
    """Local weights file (state dict) to start from; loaded with weights_only=True."""

    @property
    def starts_pretrained(self) -> bool:
        """Whether the weights start from pretrained ones (timm's or a local file)."""
        return self.pretrained or self.pretrained_path is not None

    @model_validator(mode="after")
    def _arch_is_registered(self) -> "StudentSpec":
        known = model_names()
        if self.arch not in known:
            raise ValueError(f"arch must be one of {', '.join(known)}; got arch={self.arch!r}")
        return self


class ModelSpec(StudentSpec):
    """A teacher: the student's fields plus the class subset and seed of its fine-tuning."""

    classes: list[int] | None = None
    """A teacher's class subset (overlap study); logits of other classes are masked."""
    seed: int = Field(0, ge=0)
    """A teacher's fine-tuning seed (part of its cache key)."""
    checkpoint: str | None = None
    """A published teacher file (RepDistiller / mdistiller `ckpt_epoch_240.pth`) used as it
    is: no fine-tuning; its val and test accuracy are measured before any student trains."""

    @model_validator(mode="after")
    def _checkpoint_is_the_whole_teacher(self) -> "ModelSpec":
        if self.checkpoint is not None and self.starts_pretrained:
            raise ValueError(
                "checkpoint is a finished teacher, not a start for fine-tuning; got checkpoint="
                f"{self.checkpoint!r} with pretrained={self.pretrained}, pretrained_path={self.pretrained_path!r}"
            )
        return self


class OptimConfig(Section):
    name: Literal["sgd", "adamw"] = "sgd"
    """The optimiser."""
    lr: float = Field(0.05, gt=0)
    """Peak learning rate."""
    momentum: float = Field(SGD_MOMENTUM, ge=0, lt=1)
    """SGD only: with name=adamw it must stay at its default (AdamW has no momentum knob here)."""
    nesterov: bool = False
    """SGD only: refused with name=adamw."""
    weight_decay: float = Field(5e-4, ge=0)
    """Decoupled for adamw, L2 for sgd."""
    schedule: Literal["cosine", "step", "constant"] = "cosine"
    """Per-epoch learning-rate schedule over the epochs this optimiser is active."""
    milestones: list[int] = [150, 180, 210]
    """Epochs (counted in the epochs this optimiser is active) of the x gamma steps."""
    gamma: float = Field(0.1, gt=0, le=1)
    """Factor of each step of the `step` schedule."""

    @model_validator(mode="after")
    def _sgd_only_fields(self) -> "OptimConfig":
        if self.name == "adamw" and (self.nesterov or self.momentum != SGD_MOMENTUM):
            raise ValueError(
                "momentum and nesterov apply to name=sgd only; "
                f"got name='adamw' with momentum={self.momentum}, nesterov={self.nesterov}"
            )
        return self


CompileMode = bool | Literal["reduce-overhead", "max-autotune"]


class RuntimeConfig(Section):
    """Where and how a run executes; none of it is part of a teacher's identity.

    `auto` turns a GPU fast path on exactly when the run trains on CUDA, so the same
    config runs unchanged on a laptop CPU and on a GPU node.
    """

    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    """Where the run trains: auto (the GPU Ray gave the trial, else the CPU), cpu, cuda or cuda:N."""
    amp: bool | Literal["auto"] = "auto"
    """bf16 autocast of the forward passes (losses are computed in float32). auto: on when
    the run trains on a CUDA device with bf16 support; true on the CPU is an error.
    Changes numerics: compare runs with the same setting."""
    channels_last: bool | Literal["auto"] = "auto"
    """NHWC memory format for models and batches; auto: on CUDA (faster convolutions).
    Numerics are the same up to the order of floating-point sums."""
    compile: CompileMode = False
    """torch.compile of the student and the teachers: true (torch's default mode) or a
    mode name (YAML reads a bare off/no as false). reduce-overhead adds CUDA graphs,
    one per batch shape (the full batches and the epoch's last, partial one: nothing is
    dropped or padded). The first epoch pays the compilation (tens of seconds)."""

    @model_validator(mode="after")
    def _amp_needs_cuda(self) -> "RuntimeConfig":
        problem = amp_problem(self.amp, self.device)
        if problem:
            raise ValueError(problem)
        return self


def amp_problem(amp: bool | str, device: str) -> str | None:
    """Why bf16 autocast cannot be forced on `device` ("cpu", "cuda", "cuda:1"; "auto" may be either), or None."""
    if amp is True and not (device == "auto" or device.startswith("cuda")):
        return f"amp needs a CUDA device; got amp=True with device={device!r}"
    return None


class RecipeConfig(Section):
    """How a teacher is fine-tuned with CE (part of the teacher's cache key)."""

    epochs: int = Field(240, ge=1)
    """Fine-tuning epochs of each teacher."""
    optim: OptimConfig = OptimConfig()








def _method_config() -> type[Section]:
    """`method`: the method's name and one section per method that declares settings.

    Derived from the method catalog (asib_sweeps.catalog.methods), so a new entry brings its own section.
    """
    sections: dict[str, Any] = {
        name: (settings, Field(settings(), description=(settings.__doc__ or "").strip() or None))
        for name, settings in settings_types().items()
    }
    return create_model(
        "MethodConfig",
        __base__=Section,
        __doc__="The distillation method and every method's settings (one file each in asib_sweeps/methods).",
        name=(
            Literal[METHOD_NAMES],  # type: ignore[valid-type]
            Field("asib", description="The distillation method (one file each in asib_sweeps/methods); `ce` uses no teacher."),
        ),
        **sections,
    )


MethodConfig = _method_config()


class RunConfig(Section):
    """Everything one training run (a teacher fine-tuning or a distillation) needs."""

    data: DataConfig = DataConfig()
    teachers: list[ModelSpec] = []
    """Empty only for runs without teachers (method ce, e.g. a teacher's own fine-tuning)."""
    student: StudentSpec
    method: MethodConfig = MethodConfig()
    optim: OptimConfig = OptimConfig()
    epochs: int = Field(240, ge=1)
    """Student epochs (in CCCP: the B-phase epochs, shared evenly by the stages)."""
    teacher_recipe: RecipeConfig = RecipeConfig()
    seed: int = Field(0, ge=0)
    """The run's seed (weights, batches, augmentation); studies add 0, 1, ... per seed."""
    runtime: RuntimeConfig = RuntimeConfig()

    @model_validator(mode="after")
    def _cross_checks(self) -> "RunConfig":
        if self.method.name != "ce" and not self.teachers:
            raise ValueError(f"teachers must list at least one model for method.name={self.method.name!r}")
        section = method_entry(self.method.name).section
        if section is not None:
            getattr(self.method, section).check_run(self.epochs)
            if self.teachers:
                getattr(self.method, section).check_teachers(len(self.teachers))
        return self


def default_config(dataset: str = "digits") -> RunConfig:
    """The defaults for a data set: tiny and fast on digits, the published recipe elsewhere."""
    if dataset not in DATASET_NAMES:
        raise ConfigError(f"dataset must be one of {', '.join(DATASET_NAMES)}; got dataset={dataset!r}")
    if dataset == "digits":
        # method.md section 10: teachers see all of train, a weak student ~300 labels.
        return RunConfig(
            data=DataConfig(
                dataset="digits", student_train_size=300, flip=False, crop_padding=2, eval_batch_size=256
            ),
            teachers=[ModelSpec(arch="tiny_resnet"), ModelSpec(arch="tiny_vgg")],
            student=StudentSpec(arch="tiny_cnn"),
            # Loss weights chosen on validation, one budget per method (benchmarks/select_defaults.py,
            # docs/benchmarks.md); the published weights stay the defaults for every other data set.
            method=MethodConfig.model_validate(_method_defaults("digits")),
            optim=OptimConfig(lr=0.05, schedule="cosine", weight_decay=5e-4),
            epochs=16,
            teacher_recipe=RecipeConfig(epochs=15, optim=OptimConfig(lr=0.05, schedule="cosine")),
        )
    cifar_like = OptimConfig(lr=0.05, schedule="step", milestones=[150, 180, 210])
    return RunConfig(
        data=DataConfig(dataset=dataset),  # type: ignore[arg-type]
        teachers=[ModelSpec(arch="resnet32x4"), ModelSpec(arch="wrn_40_2")],
        student=StudentSpec(arch="resnet8x4"),
        optim=cifar_like,
        epochs=240,
        teacher_recipe=RecipeConfig(epochs=240, optim=cifar_like),
    )


def _method_defaults(dataset: str) -> dict[str, dict[str, Any]]:
    """Each method's section values for a data set, as its catalog entry declares them (`dataset_defaults`)."""
    return {
        section: dict(values)
        for name in METHOD_NAMES
        if (section := method_entry(name).section) is not None
        and (values := method_entry(name).dataset_defaults.get(dataset))
    }


Origin = Callable[[str], "str | None"]
"""Where a dotted key's value came from (a file, `--set`), for error messages; None if unknown."""


def build_config(data: dict[str, Any], origin: Origin | None = None) -> RunConfig:
    """Validate a nested dict into a RunConfig, turning pydantic's errors into ConfigError."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe(error, RunConfig, origin)) from None


def apply_overrides(config: RunConfig, overrides: list[str]) -> RunConfig:
    """Apply `KEY=VALUE` overrides (dotted keys, list indices allowed: `teachers.0.arch=x`).

    Values are parsed as YAML 1.2 (asib_sweeps.yaml12), so `0.01` and `1e-4` are floats,
    `[1, 2]` a list and `null` None; the result is validated as a whole.
    """
    data = config.model_dump()
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            value = yaml12.load(raw, f"--set {item}")
        except yaml12.YamlError as error:
            raise ConfigError(str(error)) from None
        set_dotted(data, key.strip(), value)
    return build_config(data)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping safely (no object construction), numbers as YAML 1.2 reads them."""
    try:
        loaded = yaml12.load_file(Path(path))
    except yaml12.YamlError as error:
        raise ConfigError(str(error)) from None
    if not isinstance(loaded, dict | None):
        raise ConfigError(f"{path} must hold a YAML mapping, got {type(loaded).__name__}")
    return loaded or {}


def flatten(config: RunConfig) -> dict[str, Any]:
    """Dotted-key view of a config (lists of models become `teachers.0.arch` ...)."""
    return flatten_dict(config.model_dump())


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    node: Any = data
    parts = key.split(".")
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"{where}: index must be 0..{len(node) - 1}; got {part!r}")
            index = int(part)
            if last:
                node[index] = value
            else:
                node = node[index]
        elif isinstance(node, dict):
            if part not in node:
                allowed = ", ".join(sorted(node))
                raise ConfigError(f"unknown config key {where!r}; allowed here: {allowed}")
            if last:
                node[part] = value
            else:
                node = node[part]
        else:
            raise ConfigError(f"unknown config key {where!r}: {'.'.join(parts[:depth])} is a value, not a section")


def _describe(error: ValidationError, root: type[BaseModel], origin: Origin | None = None) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"])
        source = origin(key) if origin is not None else None
        line = _describe_item(item, key, root)
        lines.append(f"{source}: {line}" if source else line)
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _describe_item(item: Any, key: str, root: type[BaseModel]) -> str:
    if item["type"] == "extra_forbidden":
        return f"unknown config key {key!r}; allowed here: {_allowed_keys(root, item['loc'][:-1])}"
    if item["type"] == "missing":
        return f"{key} is required"
    message = item["msg"].removeprefix("Value error, ")
    shown = f"{key}={item['input']!r}" if key and not isinstance(item["input"], dict) else key or "config"
    return f"{shown}: {message}"


def _allowed_keys(root: type[BaseModel], loc: tuple[Any, ...]) -> str:
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return "?"
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        model = next((a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return "?"
    return ", ".join(model.model_fields)
