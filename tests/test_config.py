"""The typed config: defaults validate, overrides are typed, bad values name key, value and rule."""

from __future__ import annotations

import pytest

from asib_sweeps.config import ConfigError, apply_overrides, build_config, default_config, flatten, load_yaml


@pytest.mark.parametrize("dataset", ["digits", "cifar100", "imagenet32", "folder"])
def test_defaults_validate(dataset: str) -> None:
    config = default_config(dataset)
    assert config.data.dataset == dataset
    assert build_config(config.model_dump()) == config


def test_override_by_dotted_key_is_typed() -> None:
    config = apply_overrides(default_config(), ["optim.lr=0.01", "teachers.1.arch=tiny_cnn", "data.classes=[1, 2, 3]"])
    assert config.optim.lr == 0.01
    assert config.teachers[1].arch == "tiny_cnn"
    assert config.data.classes == [1, 2, 3]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("optim.lrr=0.1", "unknown config key 'optim.lrr'; allowed here: "),
        ("optim.lr=-1", "optim.lr=-1: Input should be greater than 0"),
        ("optim.lr=fast", "optim.lr='fast': Input should be a valid number"),
        ("epochs=1.5", "epochs=1.5: Input should be a valid integer"),
        ("optim.name=adam", "optim.name='adam': Input should be 'sgd' or 'adamw'"),
        ("method.asib.beta=-0.1", "method.asib.beta=-0.1: Input should be greater than or equal to 0"),
        ("teachers.5.arch=tiny_cnn", "teachers.5: index must be 0..1"),
        ("student.arch=resnet9000", "arch must be one of"),
        ("runtime.device=tpu", "runtime.device='tpu'"),
        ("optim", "--set expects KEY=VALUE"),
    ],
)
def test_bad_overrides_name_key_value_and_rule(override: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        apply_overrides(default_config(), [override])
    assert expected in str(caught.value)


def test_unknown_key_in_a_file_lists_allowed_keys(tmp_path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("optim:\n  learning_rate: 0.1\n")
    data = default_config().model_dump()
    data["optim"].update(load_yaml(path)["optim"])
    with pytest.raises(ConfigError) as caught:
        build_config(data)
    assert "unknown config key 'optim.learning_rate'" in str(caught.value)
    assert "lr" in str(caught.value) and "momentum" in str(caught.value)


def test_yaml_is_read_with_safe_load(tmp_path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("!!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(Exception, match="could not determine a constructor"):
        load_yaml(path)


def test_cross_field_rules() -> None:
    with pytest.raises(ConfigError, match="epochs must be a multiple of method.asib.stages"):
        apply_overrides(default_config(), ["epochs=10", "method.asib.stages=4"])
    with pytest.raises(ConfigError, match="use_tadapt needs use_cccp"):
        apply_overrides(default_config(), ["method.asib.use_cccp=false"])
    with pytest.raises(ConfigError, match="teachers must list at least one model"):
        apply_overrides(default_config(), ["teachers=[]", "method.name=kd"])


def test_flatten_gives_dotted_keys() -> None:
    flat = flatten(default_config())
    assert flat["optim.lr"] == 0.05
    assert flat["teachers.0.arch"] == "tiny_resnet"
    assert flat["method.asib.use_ib"] is True


def test_a_dkd_warmup_longer_than_the_run_is_refused() -> None:
    config = default_config("digits")
    assert config.method.dkd.warmup_epochs <= config.epochs  # the digits default reaches full weight
    apply_overrides(config, ["method.name=dkd", f"method.dkd.warmup_epochs={config.epochs}"])
    with pytest.raises(ConfigError, match="method.dkd.warmup_epochs must be <= epochs.*warmup_epochs=17, epochs=16"):
        apply_overrides(config, ["method.name=dkd", "method.dkd.warmup_epochs=17"])
    apply_overrides(config, ["method.dkd.warmup_epochs=17"])  # read only when the method is dkd


def test_asib_knobs_are_range_checked() -> None:
    for key, value in [("tau_syn", 0), ("synergy_gate_acc", 1.5), ("a_min_steps", -1), ("target_policy", "best")]:
        with pytest.raises(ConfigError, match=f"method.asib.{key}"):
            apply_overrides(default_config("digits"), [f"method.asib.{key}={value}"])
    with pytest.raises(ConfigError, match="unknown config key 'method.asib.tau'"):
        apply_overrides(default_config("digits"), ["method.asib.tau=4"])


def test_published_loss_weights_stay_the_defaults_off_digits() -> None:
    cifar, digits = default_config("cifar100").method, default_config("digits").method
    assert (cifar.kd.w_ce, cifar.kd.w_kd, cifar.at.weight, cifar.crd.weight, cifar.dkd.beta) == (0.1, 0.9, 1000, 0.8, 8)
    assert (cifar.dkd.warmup_epochs, cifar.fitnet.weight) == (20, 100)
    # digits: chosen on validation by benchmarks/select_defaults.py (docs/benchmarks.md)
    assert (digits.kd.w_ce, digits.kd.w_kd, digits.at.weight, digits.crd.weight, digits.dkd.beta) == (1, 1, 10, 0.01, 2)
