"""Experiment files: YAML with the keys of `--set`, layered on a study's defaults.

A file holds dotted keys (`optim.lr: 0.01`) or the same keys nested (`optim: {lr: 0.01}`),
and may start from another file with `extends: base.yaml` (a path relative to the
file). The layers apply in this order, each over the one before:

    study defaults  <  extended files (base first)  <  the file  <  --set

Every key is validated as `--set` is, and an error names the file (or the `--set`
item) the offending value came from, so nothing in a file is ever silently dropped.

A file may also hold `arms:`, a mapping from a study's arm to keys set for that arm
only (over the arm's preset), as `asib-sweep tune` writes its chosen settings; the
studies that have arms (ablation, sota, overlap) read them, and every other study refuses them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asib_sweeps import yaml12
from asib_sweeps.config import ConfigError, RunConfig, build_config, set_dotted

EXTENDS_KEY = "extends"
ARMS_KEY = "arms"
MAX_EXTENDS_DEPTH = 4
"""A file, its base, the base's base ...: at most this many files in one chain."""
SGD_ONLY_KEYS = ("momentum", "nesterov")
OPTIM_SECTIONS = ("optim", "teacher_recipe.optim")


@dataclass(frozen=True)
class Layer:
    """Dotted keys and values from one source (a file, or one `--set` item)."""

    source: str
    values: dict[str, Any] = field(default_factory=dict)
    arms: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Arm -> dotted keys set for that arm only (an experiment file's `arms:`)."""


def read_experiment_file(path: str | Path) -> list[Layer]:
    """The layers of an experiment file: its extended files first (base first), then itself."""
    return _read_chain(Path(path), ())


def set_layers(overrides: Iterable[str]) -> list[Layer]:
    """One layer per `--set KEY=VALUE` item; values are parsed as YAML 1.2 (asib_sweeps.yaml12)."""
    layers = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            value = yaml12.load(raw, f"--set {item}: the value {raw!r}")
        except yaml12.YamlError as error:
            raise ConfigError(f"{error}; write the value as YAML (quote a string that is not)") from None
        layers.append(Layer(source=f"--set {item}", values={key.strip(): value}))
    return layers


def layered_config(base: RunConfig, layers: Sequence[Layer]) -> RunConfig:
    """`base` with every layer applied in order, validated as a whole."""
    data = base.model_dump()
    for layer in layers:
        for key, value in layer.values.items():
            try:
                set_dotted(data, key, value)
            except ConfigError as error:
                raise ConfigError(f"{layer.source}: {error}") from None
    config = build_config(data, origin=lambda key: origin_of(layers, key))
    _refuse_sgd_keys_with_adamw(config, layers)
    return config


def arm_settings(layers: Sequence[Layer]) -> dict[str, dict[str, Any]]:
    """Each arm's keys over all layers, a later layer's value winning."""
    merged: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for arm, values in layer.arms.items():
            merged.setdefault(arm, {}).update(values)
    return merged


def changed_keys(config: RunConfig, defaults: RunConfig) -> dict[str, Any]:
    """Dotted keys whose value in `config` differs from `defaults` (a list is one value), for an experiment file."""

    def walk(prefix: str, now: Any, before: Any) -> dict[str, Any]:
        if isinstance(now, dict) and isinstance(before, dict):
            return {k: v for key in now for k, v in walk(f"{prefix}{key}.", now[key], before.get(key)).items()}
        return {} if now == before else {prefix.rstrip("."): now}

    return walk("", config.model_dump(), defaults.model_dump())


def dataset_of(layers: Sequence[Layer]) -> str | None:
    """The data set the layers ask for (`data.dataset`), the last one that sets it."""
    for layer in reversed(layers):
        if "data.dataset" in layer.values:
            return str(layer.values["data.dataset"])
        section = layer.values.get("data")  # `--set 'data={dataset: cifar100, ...}'`
        if isinstance(section, dict) and "dataset" in section:
            return str(section["dataset"])
    return None


def origin_of(layers: Sequence[Layer], key: str) -> str | None:
    """The source of the last layer that set `key`, a section holding it, or a key inside it."""
    for layer in reversed(layers):
        for set_key in layer.values:
            if set_key == key or key.startswith(f"{set_key}.") or set_key.startswith(f"{key}."):
                return layer.source
    return None


def _refuse_sgd_keys_with_adamw(config: RunConfig, layers: Sequence[Layer]) -> None:
    """A momentum or nesterov value given explicitly with adamw would be ignored: refuse it."""
    sections = {"optim": config.optim, "teacher_recipe.optim": config.teacher_recipe.optim}
    for prefix, optim in sections.items():
        if optim.name != "adamw":
            continue
        for name in SGD_ONLY_KEYS:
            key = f"{prefix}.{name}"
            for layer in layers:
                if key in layer.values:
                    raise ConfigError(
                        f"{layer.source}: {key} applies to {prefix}.name=sgd only (AdamW has no momentum "
                        f"or nesterov setting); got {key}={layer.values[key]!r} with {prefix}.name='adamw'"
                    )


def _read_chain(path: Path, chain: tuple[Path, ...]) -> list[Layer]:
    resolved = path.expanduser().resolve()
    if resolved in chain:
        files = " -> ".join(str(p) for p in (*chain, resolved))
        raise ConfigError(f"extends cycle: {files}")
    if len(chain) >= MAX_EXTENDS_DEPTH:
        files = " -> ".join(str(p) for p in (*chain, resolved))
        raise ConfigError(f"extends goes deeper than {MAX_EXTENDS_DEPTH} files: {files}")
    if not resolved.is_file():
        by = f" (extended by {chain[-1]})" if chain else ""
        raise ConfigError(f"config file {path} does not exist{by}")
    data = _load_mapping(resolved)
    parents: list[Layer] = []
    if EXTENDS_KEY in data:
        base = data.pop(EXTENDS_KEY)
        if not isinstance(base, str) or not base:
            raise ConfigError(f"{resolved}: {EXTENDS_KEY} must be one file name (a string); got {base!r}")
        parents = _read_chain(resolved.parent / base, (*chain, resolved))
    arms = _arms(data.pop(ARMS_KEY, {}), resolved)
    return [*parents, Layer(source=str(resolved), values=_dotted(data, resolved), arms=arms)]


def _arms(data: Any, path: Path) -> dict[str, dict[str, Any]]:
    """`arms:` as arm -> dotted keys; anything but a mapping of names to mappings is an error."""
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ConfigError(f"{path}: {ARMS_KEY} must map arm names to mappings of config keys; got {data!r}")
    for arm in data:
        if not isinstance(arm, str) or not arm:
            raise ConfigError(f"{path}: {ARMS_KEY} keys must be arm names (strings); got {arm!r}")
    return {arm: _dotted(values, path, "") for arm, values in data.items()}


def _load_mapping(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml12.load_file(path)
    except yaml12.YamlError as error:
        raise ConfigError(str(error)) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path} must hold a YAML mapping of config keys, got a {type(loaded).__name__}")
    return loaded


def _dotted(data: dict[Any, Any], path: Path, prefix: str = "") -> dict[str, Any]:
    """Nested mappings become dotted keys; lists and scalars are values (a list replaces a list)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{path}: config keys must be non-empty strings; got {key!r} under {prefix or 'the top'}")
        dotted = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and value:
            out.update(_dotted(value, path, dotted))
        else:
            out[dotted] = value
    return out
