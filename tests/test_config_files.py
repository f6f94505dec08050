"""Experiment files (--config): precedence, extends, and errors that name the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from asib_sweeps.cli.sweep import main
from asib_sweeps.config import ConfigError, default_config
from conftest import fake_data_root
from asib_sweeps.config_files import MAX_EXTENDS_DEPTH, layered_config, read_experiment_file, set_layers


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def resolved(path: Path, *overrides: str):
    return layered_config(default_config("digits"), [*read_experiment_file(path), *set_layers(overrides)])


def test_precedence_is_defaults_then_extended_files_then_the_file_then_set(tmp_path):
    write(tmp_path / "root.yaml", "optim.lr: 0.2\nepochs: 8\nseed: 5\ndata: {batch_size: 16}\n")
    write(tmp_path / "mid.yaml", "extends: root.yaml\noptim: {lr: 0.3}\nepochs: 12\n")
    leaf = write(tmp_path / "leaf.yaml", "extends: mid.yaml\nepochs: 20\n")
    config = resolved(leaf, "seed=7")
    defaults = default_config("digits")
    assert config.data.batch_size == 16  # only the root sets it
    assert config.optim.lr == 0.3  # mid over root
    assert config.epochs == 20  # the file over what it extends
    assert config.seed == 7  # --set over every file
    assert config.optim.weight_decay == defaults.optim.weight_decay  # untouched keys keep the defaults


def test_nested_and_dotted_keys_mean_the_same(tmp_path):
    nested = resolved(write(tmp_path / "a.yaml", "method:\n  asib:\n    beta: 0.01\n"))
    dotted = resolved(write(tmp_path / "b.yaml", "method.asib.beta: 0.01\n"))
    assert nested == dotted and nested.method.asib.beta == 0.01


def test_a_list_in_a_file_replaces_the_list(tmp_path):
    config = resolved(write(tmp_path / "a.yaml", "teachers:\n  - {arch: tiny_cnn, seed: 3}\n"))
    assert [(t.arch, t.seed) for t in config.teachers] == [("tiny_cnn", 3)]


def test_an_extends_cycle_is_refused_listing_the_files(tmp_path):
    write(tmp_path / "a.yaml", "extends: b.yaml\n")
    write(tmp_path / "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ConfigError, match="cycle") as error:
        read_experiment_file(tmp_path / "a.yaml")
    assert str(tmp_path / "a.yaml") in str(error.value) and str(tmp_path / "b.yaml") in str(error.value)


def test_a_missing_extended_file_is_named_with_the_file_that_extends_it(tmp_path):
    leaf = write(tmp_path / "leaf.yaml", "extends: nowhere.yaml\n")
    with pytest.raises(ConfigError, match="nowhere.yaml does not exist") as error:
        read_experiment_file(leaf)
    assert f"extended by {leaf}" in str(error.value)


def test_extends_chains_are_bounded(tmp_path):
    for index in range(MAX_EXTENDS_DEPTH + 1):
        write(tmp_path / f"f{index}.yaml", f"extends: f{index + 1}.yaml\n" if index < MAX_EXTENDS_DEPTH else "")
    with pytest.raises(ConfigError, match=f"deeper than {MAX_EXTENDS_DEPTH}"):
        read_experiment_file(tmp_path / "f0.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("optim.lrr: 0.1\n", "unknown config key 'optim.lrr'; allowed here: gamma, lr, milestones"),
        ("optim: {lr: -1}\n", "optim.lr=-1: Input should be greater than 0"),
        ("student.seed: 3\n", "unknown config key 'student.seed'; allowed here: arch, pretrained, pretrained_path"),
        ("student: {classes: [1, 2]}\n", "unknown config key 'student.classes'"),
        ("extends: [a.yaml]\n", "extends must be one file name"),
        ("- 1\n- 2\n", "must hold a YAML mapping"),
        ("epochs: [\n", "is not valid YAML"),
    ],
)
def test_a_bad_key_or_value_in_a_file_names_the_file_and_the_key(tmp_path, text, expected):
    path = write(tmp_path / "bad.yaml", text)
    with pytest.raises(ConfigError) as error:
        resolved(path)
    assert expected in str(error.value)
    assert str(path) in str(error.value)


def test_a_wrong_value_names_the_layer_that_set_it_last(tmp_path):
    path = write(tmp_path / "a.yaml", "epochs: 8\n")
    with pytest.raises(ConfigError, match=r"--set epochs=-2: epochs=-2"):
        resolved(path, "epochs=-2")


@pytest.mark.parametrize("key", ["optim.momentum=0.9", "optim.nesterov=true", "teacher_recipe.optim.momentum=0.5"])
def test_sgd_only_keys_are_refused_with_adamw_even_at_their_default(key):
    name = key.split("=")[0]
    section = name.rsplit(".", 1)[0]
    with pytest.raises(ConfigError) as error:
        layered_config(default_config("digits"), set_layers([f"{section}.name=adamw", key]))
    assert f"--set {key}" in str(error.value) and "sgd only" in str(error.value)
    assert name.rsplit(".", 1)[1] in str(error.value)


def test_adamw_with_its_own_defaults_is_accepted():
    config = layered_config(default_config("digits"), set_layers(["optim.name=adamw", "optim.lr=0.001"]))
    assert config.optim.name == "adamw"


def test_the_cli_reads_the_file_and_lets_set_win(tmp_path, capsys):
    path = write(tmp_path / "exp.yaml", "epochs: 6\nmethod.asib.stages: 3\n")
    assert main(["ablation", "--config", str(path), "--dry-run", "--seeds", "1", "--results", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip().endswith("7 trials")
    with pytest.raises(SystemExit) as exit_info:  # --set epochs=7 breaks epochs % stages == 0 of the file
        main(["ablation", "--config", str(path), "--set", "epochs=7", "--dry-run", "--results", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "method.asib.stages" in capsys.readouterr().err


def test_the_file_chooses_the_data_set_defaults_and_dataset_may_not_contradict_it(tmp_path, capsys):
    path = write(tmp_path / "c.yaml", "data.dataset: cifar100\n")
    root = fake_data_root(tmp_path / "data", "cifar100")
    args = ["ablation", "--config", str(path), "--data-root", str(root), "--dry-run", "--results", str(tmp_path)]
    assert main(args) == 0
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--dataset", "digits"])
    assert exit_info.value.code == 2
    assert f"--dataset gives digits, --config {path} gives cifar100" in capsys.readouterr().err
