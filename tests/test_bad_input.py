"""Bad input of every kind is refused by the plan step: exit 2, a message naming the field,
the value and what is allowed, and nothing started or written (docs/FAILURE_MODES.md).

No Ray: the plan step runs before it. Each case also runs with --dry-run, which must
refuse exactly what a real run refuses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from asib_sweeps import yaml12
from asib_sweeps.cli import input_checks
from asib_sweeps.cli.sweep import main
from asib_sweeps.config import ConfigError, apply_overrides, default_config
from asib_sweeps.config_files import read_experiment_file, set_layers
from conftest import fake_data_root


def refused(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> str:
    """Run the CLI on `args` (with --results under tmp_path), assert exit 2 and that nothing was written."""
    results = tmp_path / "results"
    for extra in ([], ["--dry-run"]):
        with pytest.raises(SystemExit) as exit_info:
            main([*args, "--results", str(results), "--seeds", "1", *extra])
        assert exit_info.value.code == 2
        assert not results.exists()
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "value"),
    [("1e-4", 0.0001), ("1e6", 1e6), ("-2.5E+3", -2500.0), ("010", 10), ("0o10", 8), ("0x1f", 31), (".5", 0.5),
     ("yes", "yes"), ("on", "on"), ("0b11", "0b11"), ("null", None), ("true", True), ("[1e-3, 2]", [0.001, 2])],
)  # fmt: skip
def test_values_are_read_as_yaml_1_2_numbers(text, value):
    assert yaml12.load(text, "t") == value and type(yaml12.load(text, "t")) is type(value)


def test_the_readme_example_and_other_numbers_people_type_are_accepted(capsys, tmp_path):
    config = apply_overrides(default_config(), ["method.asib.beta=1e-4", "optim.lr=1e6", "epochs=016"])
    assert (config.method.asib.beta, config.optim.lr, config.epochs) == (1e-4, 1e6, 16)
    layers = read_experiment_file(write(tmp_path / "c.yaml", "optim:\n  lr: 5e-2\nepochs: 08\n"))
    assert layers[-1].values == {"optim.lr": 0.05, "epochs": 8}
    assert main(["ablation", "--set", "method.asib.beta=1e-4", "--results", str(tmp_path), "--dry-run"]) == 0


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--set", "optim.lr=[0.1"], ["--set optim.lr=[0.1", "not valid YAML"]),
        (["--set", "optim.lr=.inf"], ["optim.lr=inf", "finite"]),
        (["--set", "method.asib.beta=.nan"], ["method.asib.beta=nan", "finite"]),
        (["--set", "teacher_recipe.optim.lr=-.inf"], ["teacher_recipe.optim.lr=-inf", "finite"]),
        (["--set", "data.dataset=cifar100", "--dataset", "digits"], ["--dataset gives digits", "--set gives cifar100"]),
        (["--set", "data.dataset=mnist"], ["--set", "data.dataset must be one of", "'mnist'"]),
        (["--set", "student.pretrained_path=missing.pt"], ["student.pretrained_path=", "missing.pt", "readable"]),
        (["--set", "teachers.1.pretrained_path=/nope.pt"], ["teachers.1.pretrained_path='/nope.pt'"]),
        (["--cpus-per-trial", "inf"], ["--cpus-per-trial", "finite", "'inf'"]),
        (["--gpus-per-trial", "nan"], ["--gpus-per-trial", "finite", "'nan'"]),
        (["--checkpoint-every-s=-inf"], ["--checkpoint-every-s", "finite"]),
        (["--name", ""], ["--name ''", "non-empty"]),
        (["--name", "teachers"], ["--name 'teachers' is reserved"]),
        (["--name", "a/b"], ["--name 'a/b'", "plain folder name"]),
        (["--name", ".hidden"], ["--name '.hidden'"]),
        (["--name", "two\nlines"], ["--name 'two\\nlines'", "control characters"]),
        (["--resume"], ["--resume: nothing to resume"]),
        (["--cluster", "slurm\n#SBATCH --x.yaml"], ["--cluster", "line breaks", "'slurm\\n#SBATCH --x.yaml'"]),
    ],
)
def test_a_bad_option_or_value_is_refused_before_anything_runs(capsys, tmp_path, args, named):
    err = refused(capsys, tmp_path, "ablation", *args)
    for part in named:
        assert part in err


@pytest.mark.parametrize(
    ("dataset", "make", "named"),
    [
        ("folder", lambda root: root.mkdir(), ["train", "not a directory"]),
        ("folder", lambda root: (root / "train" / "a").mkdir(parents=True) or (root / "test").mkdir(),
         ["class"]),
        ("cifar100", lambda root: root.mkdir(), ["cifar-100-python/train", "not found", "--download"]),
        ("cifar100", lambda root: None, ["existing directory", "--download"]),
        ("imagenet32", lambda root: root.mkdir(), ["train_data_batch_1", "not found"]),
    ],
)  # fmt: skip
def test_data_files_are_probed_per_data_set_whichever_way_it_is_named(capsys, tmp_path, dataset, make, named):
    root = tmp_path / "data"
    make(root)
    for how in (["--dataset", dataset, "--data-root", str(root)], ["--set", f"data.dataset={dataset}", "--set", f"data.root={root}"]):
        err = refused(capsys, tmp_path, "ablation", *how)
        for part in named:
            assert part in err


def test_set_data_dataset_gets_the_data_sets_defaults_like_dataset(capsys, tmp_path):
    root = fake_data_root(tmp_path / "data", "cifar100")
    ways = (
        ["--dataset", "cifar100", "--data-root", str(root)],
        ["--set", "data.dataset=cifar100", "--set", f"data.root={root}"],
        ["--set", f"data={{dataset: cifar100, root: {root}}}"],
    )
    for how in ways:
        assert main(["finetune", *how, "--results", str(tmp_path / "r"), "--dry-run"]) == 0
    by_dataset, by_set, by_section = capsys.readouterr().out.split("teachers: ")[1:]
    assert by_dataset == by_set == by_section and "resnet32x4-cifar100-" in by_set  # cifar100's teachers


def test_config_files_that_are_not_yaml_utf8_or_finite_name_the_file(capsys, tmp_path):
    cases = {
        "latin1.yaml": ("epochs: 8 # caf\xe9\n".encode("latin-1"), "not UTF-8"),
        "broken.yaml": ("optim: [lr: 0.1\n", "not valid YAML"),
        "loop.yaml": ("teachers: &t [*t]\n", "refers to itself"),
        "inf.yaml": ("optim.lr: .inf\n", "finite"),
    }
    for name, (text, problem) in cases.items():
        path = write(tmp_path / name, text)
        err = refused(capsys, tmp_path, "ablation", "--config", str(path))
        assert str(path) in err and problem in err


def test_an_unwritable_or_full_results_folder_is_refused(capsys, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as exit_info:
        main(["ablation", "--results", str(tmp_path / "file" / "r"), "--dry-run"])
    assert exit_info.value.code == 2 and "is not a directory" in capsys.readouterr().err
    monkeypatch.setattr(input_checks, "MIN_FREE_BYTES", 2**62)  # a disk fuller than any real one
    err = refused(capsys, tmp_path, "ablation", "--teacher-cache", str(tmp_path / "cache"))
    assert "--results" in err and "MiB free" in err


def test_relative_paths_are_made_absolute_so_two_spellings_share_teachers(capsys, tmp_path, monkeypatch):
    root = fake_data_root(tmp_path / "data", "cifar100")
    monkeypatch.chdir(tmp_path)
    plans = []
    for spelling in ("data", "./data/", str(root), "../" + tmp_path.name + "/data"):
        assert main(["finetune", "--dataset", "cifar100", "--data-root", spelling, "--results", "r", "--dry-run"]) == 0
        plans.append(capsys.readouterr().out.splitlines()[1:])
    assert all(plan == plans[0] for plan in plans)


def test_set_layers_report_invalid_yaml_as_a_config_error():
    with pytest.raises(ConfigError, match=r"--set optim.lr=\[0.1"):
        set_layers(["optim.lr=[0.1"])
