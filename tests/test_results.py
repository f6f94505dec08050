"""The results contract: a Tune experiment folder -> trials.parquet and epochs.parquet.

Most tests build experiment folders by hand in Ray Tune 2.60's layout (state file,
params.json, result.json with Tune's own fields, error.txt with its failure headers
and colour codes); `test_real_tune_run_matches_the_fake_layout` checks that layout
against a real Tune run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import analysis.results as results_module
from analysis.results import (
    EPOCHS_FILE,
    TRIALS_FILE,
    IncompatibleResultsError,
    UnreadableResultsError,
    read_results,
    write_results,
)
from analysis.schema import (
    EPOCH_COLUMNS,
    METRIC_COLUMNS,
    SCHEMA_VERSION,
    SCHEMA_VERSION_METADATA_KEY,
    TRIAL_COLUMNS,
    TYPES,
)
from analysis.tune_experiment import UnreadableFileWarning
from asib_sweeps.cli import report

DOCS = Path(__file__).resolve().parents[1] / "docs" / "results.md"
SESSION = "2026-11-26_10-00-46"
STUDY = "ablation"


# --- building a Tune 2.60 experiment folder by hand ----------------------------------------------


def run_config(method: str = "asib", beta: float = 1e-3, lr: Any = 0.05, classes: Any = None) -> dict[str, Any]:
    return {
        "data": {"dataset": "digits", "classes": classes, "batch_size": 64},
        "teachers": [{"arch": "tiny_resnet", "seed": 0}, {"arch": "tiny_vgg", "seed": 0}],
        "student": {"arch": "tiny_cnn"},
        "method": {"name": method, "asib": {"beta": beta, "use_ib": True}},
        "optim": {"lr": lr, "milestones": [150, 180]},
        "epochs": 4,
        "seed": 0,
    }


def params_for(arm: str, seed: int = 0, **config: Any) -> dict[str, Any]:
    return {
        "study": STUDY,
        "arm": arm,
        "seed": seed,
        "teacher_keys": ["tiny_resnet-abc123", "tiny_vgg-def456"],
        "code_revision": "0123abcd",
        "config": run_config(**config),
    }


def epoch_metrics(epoch: int, val_acc: float, test_acc: float, **extra: Any) -> dict[str, Any]:
    """One epoch's metrics as asib_sweeps.training.run.TrainingRun.run_epoch returns them for ASIB
    (epochs 0-based; `beta` as a method that reports its scheduled beta would)."""
    return {
        "epoch": epoch,
        "stage": epoch // 2,
        "phase": "B",
        "teacher_freeze_level": 3,
        "student_freeze_level": -1,
        "trainable_params": 12345,
        "teacher0_val_acc_before": 0.95,
        "teacher0_test_acc_before": 0.94,
        "teacher0_val_acc_after": 0.95,
        "teacher0_test_acc_after": 0.93,
        "steps": 5,
        "synergy_pull_on": 0.0,
        "kd_teacher": 1,  # kd's metric; one fake row set carries every documented metric
        "loss_ce": 0.5 / (epoch + 1),
        "loss_kd": 0.4 / (epoch + 1),
        "train_loss": 0.9 / (epoch + 1),
        "train_acc": val_acc + 0.05,
        "lr": 0.05,
        "epoch_time_s": 0.8,
        "beta": 2.5e-4 * (epoch + 1),
        "val_acc": val_acc,
        "val_loss": 1.0 - val_acc,
        "synergy_acc": 0.9,
        "i_zy": 2.1,
        "i_xz": 3.2,
        "test_acc": test_acc,
        "test_loss": 1.0 - test_acc,
        "test_synergy_acc": 0.88,
        "test_i_zy": 2.0,
        "test_i_xz": 3.3,
        "teacher0_val_acc": 0.95,
        "teacher0_test_acc": 0.94,
        "teacher1_val_acc": 0.93,
        "teacher1_test_acc": 0.92,
        "eval_time_s": 0.2,
        "peak_memory_mb": 0.0,
        "saved_activation_mb": 1.5,
        "frozen_params": 100,
        "teacher0_drift_l2": 0.01 * epoch,
        "teacher0_drift_kl": 0.002,
        "joint_objective": 3.0 - 0.1 * epoch,
        "query_kl": 0.001,
        "query_flips": 0.0,
        "attention_entropy": 0.69,
        "i_zy_z": 2.0,
        "test_i_zy_z": 1.9,
        **extra,
    }


class FakeExperiment:
    """Writes the files Tune 2.60 writes (see analysis.tune_experiment for the layout)."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "distill_ablation"
        self.dir.mkdir(parents=True)
        self.time_total: dict[str, float] = {}
        self.iteration: dict[str, int] = {}

    def trial_dir(self, trial_id: str, index: int) -> str:
        return f"distill_{trial_id}_{index}_arm={index}_{SESSION}"

    def start_trial(self, trial_id: str, index: int, params: dict[str, Any]) -> Path:
        folder = self.dir / self.trial_dir(trial_id, index)
        folder.mkdir()
        (folder / "params.json").write_text(json.dumps(params, indent=2))
        (folder / "params.pkl").write_bytes(b"\x80\x05N.")
        return folder

    def report(self, folder: Path, trial_id: str, metrics: dict[str, Any], params: dict[str, Any]) -> None:
        """Append one tune.report row, with the fields Tune adds, as JsonLoggerCallback does."""
        self.iteration[trial_id] = self.iteration.get(trial_id, 0) + 1
        self.time_total[trial_id] = self.time_total.get(trial_id, 0.0) + 1.5
        row = {
            **metrics,
            "timestamp": 1795687248,
            "checkpoint_dir_name": None,
            "done": False,
            "training_iteration": self.iteration[trial_id],
            "trial_id": trial_id,
            "date": "2026-11-26_10-00-48",
            "time_this_iter_s": 1.5,
            "time_total_s": self.time_total[trial_id],
            "pid": 5086,
            "hostname": "vm",
            "node_ip": "192.0.2.2",
            "config": params,
            "time_since_restore": self.time_total[trial_id],
            "iterations_since_restore": self.iteration[trial_id],
        }
        with (folder / "result.json").open("a") as stream:
            stream.write(json.dumps(row) + "\n")

    def fail(self, folder: Path, number: int, message: str) -> None:
        with (folder / "error.txt").open("a") as stream:
            stream.write(f"Failure # {number} (occurred at 2026-11-26_10-00-5{number})\n")
            stream.write("\x1b[36mray::ImplicitFunc.train()\x1b[39m (pid=5087, ip=192.0.2.2, repr=distill)\n")
            stream.write('  File "trainables/distill.py", line 40, in distill\n    run.run_epoch()\n')
            stream.write(f"{message}\n")
        (folder / "error.pkl").write_bytes(b"\x80\x05N.")

    def save_state(self, trials: list[tuple[str, str, str | None, dict[str, Any]]], session: str = SESSION) -> None:
        """experiment_state-<session>.json: trial_data holds [state JSON, run-metadata JSON] pairs."""
        trial_data = []
        for trial_id, status, relative_logdir, params in trials:
            state = {
                "stub": False,
                "trainable_name": "distill",
                "trial_id": trial_id,
                "storage": {"_type": "CLOUDPICKLE_FALLBACK", "value": "8005954e2e"},
                "config": params,
                "evaluated_params": {"arm": params["arm"]},
                "experiment_tag": f"0_arm={params['arm']}",
                "status": status,
                "relative_logdir": relative_logdir,
                "results": "80054e2e",
            }
            metadata = {"start_time": 1795687248.29, "num_failures": 0, "error_filename": None, "last_result": {}}
            trial_data.append([json.dumps(state, indent=2), json.dumps(metadata)])
        runner = {"_session_str": session, "_iteration": 42}
        state_file = {"trial_data": trial_data, "runner_data": runner, "stats": {"start_time": 1795687246.8}}
        (self.dir / f"experiment_state-{session}.json").write_text(json.dumps(state_file))


@pytest.fixture()
def sweep(tmp_path: Path) -> FakeExperiment:
    """Five trials, one per status case:

    00000 TERMINATED, val_acc ties at epochs 2 and 3; 00001 ERROR after two failures;
    00002 RUNNING (state says RUNNING, two epochs); 00003 PENDING (no folder yet);
    00004 reported but started after the driver's last save (not in the state file).
    """
    experiment = FakeExperiment(tmp_path)
    state = []

    params = params_for("full", beta=1e-3)
    folder = experiment.start_trial("a1b2c_00000", 0, params)
    for epoch, (val, test) in enumerate([(0.5, 0.4), (0.7, 0.65), (0.7, 0.66), (0.6, 0.62)]):
        experiment.report(folder, "a1b2c_00000", epoch_metrics(epoch, val, test), params)
    state.append(("a1b2c_00000", "TERMINATED", folder.name, params))

    params = params_for("kd", method="kd")
    folder = experiment.start_trial("a1b2c_00001", 1, params)
    experiment.report(folder, "a1b2c_00001", epoch_metrics(0, 0.3, 0.3), params)
    experiment.fail(folder, 1, "RuntimeError: CUDA out of memory")
    experiment.report(folder, "a1b2c_00001", epoch_metrics(0, 0.3, 0.3), params)
    experiment.fail(folder, 2, "ValueError: loss is nan at epoch 2")
    state.append(("a1b2c_00001", "ERROR", folder.name, params))

    params = params_for("full", seed=1)
    folder = experiment.start_trial("a1b2c_00002", 2, params)
    for epoch in (0, 1):
        experiment.report(folder, "a1b2c_00002", epoch_metrics(epoch, 0.5, 0.5), params)
    state.append(("a1b2c_00002", "RUNNING", folder.name, params))

    state.append(("a1b2c_00003", "PENDING", None, params_for("ce", method="ce")))

    params = params_for("ce", seed=1, method="ce")
    folder = experiment.start_trial("a1b2c_00004", 4, params)
    experiment.report(folder, "a1b2c_00004", epoch_metrics(0, 0.2, 0.25), params)

    experiment.save_state(state)
    return experiment


def by_id(trials: Any) -> Any:
    return trials.set_index("trial_id")


# --- documented columns -------------------------------------------------------------------------


def documented_columns(heading: str) -> dict[str, str]:
    """name -> type of the markdown table under `heading` in docs/results.md."""
    text = DOCS.read_text()
    section = text.split(heading + "\n", 1)[1]
    columns = {}
    for line in section.splitlines()[2:]:
        if not line.startswith("|"):
            if columns:
                break
            continue
        name, type_name = (cell.strip() for cell in line.strip("|").split("|")[:2])
        if name not in ("column", "---"):
            columns[name] = type_name
    return columns


def test_docs_document_exactly_the_schema_columns() -> None:
    for heading, columns in (
        ("## trials.parquet", TRIAL_COLUMNS),
        ("## epochs.parquet", EPOCH_COLUMNS),
        ("### Per-epoch metrics", METRIC_COLUMNS),
    ):
        assert documented_columns(heading) == {column.name: column.type_name for column in columns}, heading


def test_documented_columns_exist_with_their_types(sweep: FakeExperiment, tmp_path: Path) -> None:
    out = tmp_path / "results"
    write_results(sweep.dir, out, study=STUDY)
    trials_schema = pq.read_schema(out / TRIALS_FILE)
    epochs_schema = pq.read_schema(out / EPOCHS_FILE)

    for name, type_name in documented_columns("## trials.parquet").items():
        assert trials_schema.field(name).type == TYPES[type_name], name
    for name, type_name in documented_columns("## epochs.parquet").items():
        assert epochs_schema.field(name).type == TYPES[type_name], name
    for pattern, type_name in documented_columns("### Per-epoch metrics").items():
        regex = re.compile(re.escape(pattern).replace(r"\*", ".+") + "$")
        matching = [field for field in epochs_schema if regex.match(field.name)]
        assert matching, f"no epochs column matches documented metric {pattern}"
        assert all(field.type == TYPES[type_name] for field in matching), pattern

    assert trials_schema.field("cfg.optim.lr").type == pa.float64()
    assert trials_schema.field("cfg.method.asib.use_ib").type == pa.bool_()
    assert trials_schema.field("cfg.teachers.1.arch").type == pa.string()
    assert "training_iteration" not in epochs_schema.names and "config" not in epochs_schema.names


def test_read_results_gives_the_written_tables(sweep: FakeExperiment, tmp_path: Path) -> None:
    written = write_results(sweep.dir, tmp_path / "results", study=STUDY)
    trials, epochs = read_results(tmp_path / "results")
    assert trials.equals(written.trials) and epochs.equals(written.epochs)
    assert str(trials["seed"].dtype) == "Int64" and str(trials["best_epoch"].dtype) == "Int64"
    assert (trials["schema_version"] == SCHEMA_VERSION).all() and (epochs["schema_version"] == SCHEMA_VERSION).all()


# --- trial rows ---------------------------------------------------------------------------------


def test_status_of_each_trial(sweep: FakeExperiment, tmp_path: Path) -> None:
    trials = by_id(write_results(sweep.dir, tmp_path / "results", study=STUDY).trials)
    assert trials["status"].to_dict() == {
        "a1b2c_00000": "TERMINATED",
        "a1b2c_00001": "ERROR",
        "a1b2c_00002": "RUNNING",
        "a1b2c_00003": "PENDING",
        "a1b2c_00004": "RUNNING",
    }
    error = trials.loc["a1b2c_00001", "error"]
    assert error.endswith("ValueError: loss is nan at epoch 2") and "CUDA" not in error and "\x1b" not in error
    assert trials.loc["a1b2c_00001", "num_failures"] == 2
    assert trials["error"].isna().sum() == 4
    assert trials.loc["a1b2c_00003", "epochs_done"] == 0 and trials["trial_dir"].isna().tolist().count(True) == 1


def test_identifying_fields_come_from_params(sweep: FakeExperiment, tmp_path: Path) -> None:
    trials = by_id(write_results(sweep.dir, tmp_path / "results", study=STUDY).trials)
    assert trials.loc["a1b2c_00000", "arm"] == "full" and trials.loc["a1b2c_00002", "seed"] == 1
    assert trials.loc["a1b2c_00000", "beta"] == pytest.approx(1e-3)
    assert trials["beta"].isna().to_dict()["a1b2c_00001"]  # kd: no beta
    assert list(trials.loc["a1b2c_00000", "teacher_keys"]) == ["tiny_resnet-abc123", "tiny_vgg-def456"]
    assert trials.loc["a1b2c_00000", "code_revision"] == "0123abcd"
    assert trials.loc["a1b2c_00001", "cfg.method.name"] == "kd"
    assert trials.loc["a1b2c_00000", "cfg.teachers.1.arch"] == "tiny_vgg"
    assert trials.loc["a1b2c_00000", "cfg.optim.milestones"] == "[150, 180]"  # lists become JSON text


def test_best_validation_epoch_is_the_earliest_of_ties(sweep: FakeExperiment, tmp_path: Path) -> None:
    trial = by_id(write_results(sweep.dir, tmp_path / "results", study=STUDY).trials).loc["a1b2c_00000"]
    # val_acc 0.5, 0.7, 0.7, 0.6 with test_acc 0.4, 0.65, 0.66, 0.62
    assert trial["best_epoch"] == 1
    assert trial["val_acc_best"] == pytest.approx(0.7)
    assert trial["test_acc_best_val"] == pytest.approx(0.65)
    assert trial["test_acc_final"] == pytest.approx(0.62)
    assert trial["epochs_done"] == 4
    assert trial["wall_time_s"] == pytest.approx(4 * 1.5)


def test_values_of_varying_types_become_text_and_ints_with_floats_become_floats(tmp_path: Path) -> None:
    experiment = FakeExperiment(tmp_path)
    first, second = params_for("a", lr=1, classes=None), params_for("b", lr=0.5, classes=[0, 1])
    experiment.start_trial("x_00000", 0, first)
    experiment.start_trial("x_00001", 1, second)
    experiment.save_state(
        [
            ("x_00000", "PENDING", experiment.trial_dir("x_00000", 0), first),
            ("x_00001", "PENDING", experiment.trial_dir("x_00001", 1), second),
        ]
    )
    write_results(experiment.dir, tmp_path / "results", study=STUDY)
    table = pq.read_table(tmp_path / "results" / TRIALS_FILE)
    assert table.schema.field("cfg.optim.lr").type == pa.float64()
    assert table.column("cfg.optim.lr").to_pylist() == [1.0, 0.5]
    assert table.column("cfg.data.classes").to_pylist() == [None, "[0, 1]"]


def test_a_repeat_of_a_suggestion_is_identified_by_its_own_seed(tmp_path: Path) -> None:
    """Tune's Repeater (the beta study's seeds) adds a repeat index to the params; that repeat ran
    at the planned seed plus the index, and its row and config column say so."""
    from ray.tune.search.repeater import TRIAL_INDEX

    from analysis.tables import REPEAT_INDEX
    from search_spaces.study import REPEAT_INDEX as PLANNED_REPEAT_INDEX
    from search_spaces.study import repeated_seed_config

    assert REPEAT_INDEX == PLANNED_REPEAT_INDEX == TRIAL_INDEX
    assert repeated_seed_config({"config": {"seed": 5}, REPEAT_INDEX: 2})["seed"] == 7  # what the trainable runs
    assert repeated_seed_config({"config": {"seed": 5}})["seed"] == 5
    experiment = FakeExperiment(tmp_path)
    params = [{**params_for("full", seed=0), REPEAT_INDEX: index} for index in range(2)]
    for index, trial_params in enumerate(params):
        experiment.start_trial(f"r_0000{index}", index, trial_params)
    experiment.save_state(
        [(f"r_0000{i}", "PENDING", experiment.trial_dir(f"r_0000{i}", i), p) for i, p in enumerate(params)]
    )
    trials = write_results(experiment.dir, tmp_path / "results", study=STUDY).trials
    assert trials["seed"].tolist() == [0, 1] and trials["cfg.seed"].tolist() == [0, 1]


# --- epoch rows ---------------------------------------------------------------------------------


def test_epochs_are_one_row_per_trial_and_epoch(sweep: FakeExperiment, tmp_path: Path) -> None:
    epochs = write_results(sweep.dir, tmp_path / "results", study=STUDY).epochs
    assert epochs.groupby("trial_id").size().to_dict() == {
        "a1b2c_00000": 4,
        "a1b2c_00001": 1,
        "a1b2c_00002": 2,
        "a1b2c_00004": 1,
    }
    trial = epochs[epochs["trial_id"] == "a1b2c_00000"]
    assert trial["epoch"].tolist() == [0, 1, 2, 3]
    assert trial["beta_epoch"].tolist() == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3])  # as reported
    assert (trial["beta"] == 1e-3).all()  # the configured one
    assert trial["stage"].tolist() == [0, 0, 1, 1] and set(trial["phase"]) == {"B"}
    assert (trial["arm"] == "full").all() and (trial["study"] == STUDY).all()


def test_resumed_trial_gives_no_duplicate_rows(tmp_path: Path) -> None:
    """A trial restored from its epoch-1 checkpoint re-reports epoch 2 into the same result.json."""
    experiment = FakeExperiment(tmp_path)
    params = params_for("full")
    folder = experiment.start_trial("r_00000", 0, params)
    for epoch, val in ((0, 0.1), (1, 0.2), (2, 0.3)):
        experiment.report(folder, "r_00000", epoch_metrics(epoch, val, val), params)
    experiment.save_state([("r_00000", "RUNNING", folder.name, params)])
    out = tmp_path / "results"
    write_results(experiment.dir, out, study=STUDY)

    experiment.fail(folder, 1, "RuntimeError: node died")
    for epoch, val in ((2, 0.35), (3, 0.4)):  # restored: epoch 2 again, then onwards
        experiment.report(folder, "r_00000", epoch_metrics(epoch, val, val), params)
    experiment.save_state([("r_00000", "TERMINATED", folder.name, params)], session="2026-11-26_11-00-00")
    written = write_results(experiment.dir, out, study=STUDY)

    trials, epochs = read_results(out)
    assert epochs["epoch"].tolist() == [0, 1, 2, 3]
    assert epochs.set_index("epoch").loc[2, "val_acc"] == pytest.approx(0.35)  # the last report of epoch 2
    assert not epochs.duplicated(["trial_id", "epoch"]).any()
    assert len(trials) == 1 and trials.loc[0, "epochs_done"] == 4 and trials.loc[0, "status"] == "TERMINATED"
    assert trials.loc[0, "num_failures"] == 1 and trials["error"].isna().all()  # recovered, so no error
    assert written.epochs.equals(epochs)


def test_half_written_last_line_is_left_for_the_next_write(tmp_path: Path) -> None:
    experiment = FakeExperiment(tmp_path)
    params = params_for("full")
    folder = experiment.start_trial("p_00000", 0, params)
    experiment.report(folder, "p_00000", epoch_metrics(0, 0.1, 0.1), params)
    with (folder / "result.json").open("a") as stream:
        stream.write('{"epoch": 2, "val_acc": 0.')
    experiment.save_state([("p_00000", "RUNNING", folder.name, params)])
    epochs = write_results(experiment.dir, tmp_path / "results", study=STUDY).epochs
    assert epochs["epoch"].tolist() == [0]


def test_trial_without_identifying_params_is_an_error(tmp_path: Path) -> None:
    experiment = FakeExperiment(tmp_path)
    params = params_for("full")
    del params["code_revision"]
    experiment.save_state([("m_00000", "PENDING", None, params)])
    with pytest.raises(ValueError, match="trial m_00000: params lack code_revision"):
        write_results(experiment.dir, tmp_path / "results", study=STUDY)


def test_trial_of_another_study_is_an_error(sweep: FakeExperiment, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="belongs to study='ablation', not study='beta'"):
        write_results(sweep.dir, tmp_path / "results", study="beta")


def test_metric_of_the_wrong_type_names_column_and_value(tmp_path: Path) -> None:
    experiment = FakeExperiment(tmp_path)
    params = params_for("full")
    folder = experiment.start_trial("t_00000", 0, params)
    experiment.report(folder, "t_00000", epoch_metrics(0, 0.1, 0.1, trainable_params=12.5), params)
    experiment.save_state([("t_00000", "RUNNING", folder.name, params)])
    with pytest.raises(ValueError, match=r"column trainable_params holds int64 values; got trainable_params=12.5"):
        write_results(experiment.dir, tmp_path / "results", study=STUDY)


# --- atomic writes and versions -----------------------------------------------------------------


def test_write_leaves_only_the_two_tables(sweep: FakeExperiment, tmp_path: Path) -> None:
    out = tmp_path / "results"
    write_results(sweep.dir, out, study=STUDY)
    write_results(sweep.dir, out, study=STUDY)
    assert sorted(path.name for path in out.iterdir()) == [EPOCHS_FILE, TRIALS_FILE]


def test_failed_write_keeps_the_old_table(
    sweep: FakeExperiment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "results"
    write_results(sweep.dir, out, study=STUDY)
    before = {name: (out / name).read_bytes() for name in (TRIALS_FILE, EPOCHS_FILE)}
    params = params_for("full", seed=2)
    folder = sweep.start_trial("a1b2c_00005", 5, params)
    sweep.report(folder, "a1b2c_00005", epoch_metrics(0, 0.9, 0.9), params)

    temporary_files: list[str] = []

    def write_half_then_fail(table: pa.Table, stream: Any) -> None:
        temporary_files.extend(path.name for path in out.iterdir() if path.name not in before)
        stream.write(b"PAR1 half a parquet file")
        raise OSError("disk full")

    monkeypatch.setattr(results_module.pq, "write_table", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_results(sweep.dir, out, study=STUDY)

    assert len(temporary_files) == 1 and temporary_files[0].startswith(f".{EPOCHS_FILE}.")  # beside it: atomic rename
    assert sorted(path.name for path in out.iterdir()) == [EPOCHS_FILE, TRIALS_FILE]
    assert {name: (out / name).read_bytes() for name in before} == before
    trials, _ = read_results(out)
    assert "a1b2c_00005" not in set(trials["trial_id"])


def test_read_results_refuses_another_schema_version(sweep: FakeExperiment, tmp_path: Path) -> None:
    out = tmp_path / "results"
    write_results(sweep.dir, out, study=STUDY)
    table = pq.read_table(out / TRIALS_FILE)
    old = table.set_column(
        table.schema.get_field_index("schema_version"), "schema_version", pa.array([0] * len(table), pa.int64())
    ).replace_schema_metadata({SCHEMA_VERSION_METADATA_KEY: b"0"})
    pq.write_table(old, out / TRIALS_FILE)
    expected = rf"schema_version=0; this code reads schema_version={SCHEMA_VERSION}"
    with pytest.raises(IncompatibleResultsError, match=expected):
        read_results(out)


def test_read_results_names_a_missing_table(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / TRIALS_FILE))):
        read_results(tmp_path)


def test_write_results_needs_an_experiment_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="experiment_dir must be a Tune experiment folder"):
        write_results(tmp_path / "nowhere", tmp_path / "results", study=STUDY)


# --- asib-report --------------------------------------------------------------------------------


def test_report_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        report.main(["--help"])
    assert exit_info.value.code == 0
    assert "asib-report" in capsys.readouterr().out


def test_report_prints_per_arm_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    experiment = FakeExperiment(tmp_path)
    state = []
    for index, (arm, final) in enumerate([("full", 0.6), ("full", 0.8), ("ce", 0.5)]):
        params = params_for(arm, seed=index)
        folder = experiment.start_trial(f"s_{index:05d}", index, params)
        experiment.report(folder, f"s_{index:05d}", epoch_metrics(0, 0.5, final), params)
        state.append((f"s_{index:05d}", "TERMINATED", folder.name, params))
    params = params_for("ce", seed=9)
    folder = experiment.start_trial("s_00009", 9, params)
    experiment.report(folder, "s_00009", epoch_metrics(0, 0.5, 0.99), params)
    state.append(("s_00009", "RUNNING", folder.name, params))
    experiment.save_state(state)
    write_results(experiment.dir, tmp_path / "results" / STUDY, study=STUDY)

    assert report.main([str(tmp_path / "results"), "--text"]) == 0
    out = capsys.readouterr().out
    assert "4 trials (TERMINATED 3, RUNNING 1)" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.split()[:1] in (["full"], ["ce"])}
    assert rows["full"][:4] == ["2", "70.0", "±", "14.1"]  # n, mean ± std of test_acc_best_val (= final here), in %
    assert rows["ce"][:2] == ["1", "50.0"]  # the running trial does not count
    assert not (tmp_path / "results" / "report.html").exists()  # --text alone writes no page


def test_report_without_results_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report.main([str(tmp_path)]) == 1
    assert "no trials.parquet" in capsys.readouterr().err


# --- a real Tune run ----------------------------------------------------------------------------


@pytest.mark.slow
def test_real_tune_run_matches_the_fake_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three trials of a trivial trainable: one finishes, one fails, one fails once after
    its epoch-2 checkpoint and is restored by Tune (re-reporting epoch 3).

    Tune's driver writes result.json in a staging folder that it copies to the storage folder
    every TUNE_GLOBAL_CHECKPOINT_S, and a trial restored from a checkpoint starts again from
    the storage copy: the flaky trial fails only once that copy holds its epoch 3, as a real
    trial's epochs outlast the copy period (a failure within milliseconds lost rows 1-3)."""
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("TUNE_GLOBAL_CHECKPOINT_S", "1")
    ray = pytest.importorskip("ray")
    from ray import tune

    marker = tmp_path / "failed_once"

    def trainable(config: dict[str, Any]) -> None:
        import json as json_module
        import os
        import tempfile
        import time

        start = 0
        checkpoint = tune.get_checkpoint()
        if checkpoint:
            with checkpoint.as_directory() as folder:
                start = json_module.loads(Path(folder, "state.json").read_text())["epoch"]
        for epoch in range(start + 1, 5):
            if config["arm"] == "broken" and epoch == 2:
                raise ValueError("loss is nan at epoch 2")
            if config["arm"] == "flaky" and epoch == 4 and not os.path.exists(config["marker"]):
                Path(config["marker"]).touch()
                stored = Path(config["marker"]).parent / "storage" / "real"
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not any(
                    '"epoch": 3' in path.read_text() for path in stored.glob("*arm=flaky*/result.json")
                ):
                    time.sleep(0.2)  # until the storage copy holds epochs 1-3
                raise RuntimeError("node lost")
            metrics = {
                "epoch": epoch,
                "stage": 1,
                "phase": "B",
                "val_acc": 0.1 * epoch,
                "test_acc": 0.05 * epoch,
                "beta": 0.001,
                "loss_ce": 1.0 / epoch,
                "trainable_params": 100,
            }
            if epoch == 2:
                with tempfile.TemporaryDirectory() as folder:
                    Path(folder, "state.json").write_text(json_module.dumps({"epoch": epoch}))
                    tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
            else:
                tune.report(metrics)

    param_space = {
        **params_for("full"),
        "arm": tune.grid_search(["full", "broken", "flaky"]),
        "marker": str(marker),
    }
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        tuner = tune.Tuner(
            trainable,
            param_space=param_space,
            run_config=tune.RunConfig(
                name="real",
                storage_path=str(tmp_path / "storage"),
                verbose=0,
                failure_config=tune.FailureConfig(max_failures=1),
            ),
        )
        tuner.fit()
    finally:
        ray.shutdown()

    written = write_results(tmp_path / "storage" / "real", tmp_path / "results", study=STUDY)
    trials = written.trials.set_index("arm")
    assert trials["status"].to_dict() == {"full": "TERMINATED", "broken": "ERROR", "flaky": "TERMINATED"}
    assert trials.loc["broken", "error"].endswith("ValueError: loss is nan at epoch 2")
    assert trials.loc["broken", "num_failures"] == 2 and trials.loc["flaky", "num_failures"] == 1
    assert trials.loc["flaky", "epochs_done"] == 4 and trials.loc["full", "best_epoch"] == 4
    assert trials.loc["full", "test_acc_final"] == pytest.approx(0.2)
    assert trials.loc["full", "cfg.teachers.1.arch"] == "tiny_vgg"
    assert trials.loc["full", "param.marker"] == str(marker)

    raw_rows = (tmp_path / "storage" / "real" / trials.loc["flaky", "trial_dir"] / "result.json").read_text()
    assert [json.loads(line)["epoch"] for line in raw_rows.splitlines()] == [1, 2, 3, 3, 4]  # Tune re-reported 3
    epochs = written.epochs
    flaky = epochs[epochs["arm"] == "flaky"]
    assert flaky["epoch"].tolist() == [1, 2, 3, 4]
    assert not epochs.duplicated(["trial_id", "epoch"]).any()
    assert epochs.schema_version.eq(SCHEMA_VERSION).all() and "beta_epoch" in epochs.columns


def test_a_corrupt_result_line_params_or_state_file_is_named_and_skipped(sweep: FakeExperiment, tmp_path: Path) -> None:
    folder = next(sweep.dir.glob("*00000*"))
    lines = (folder / "result.json").read_text().splitlines()
    lines[1] = lines[1][:20] + "\x00garbage"  # a disk error in the middle of the file
    (folder / "result.json").write_text("\n".join(lines) + "\n")
    (next(sweep.dir.glob("*00002*")) / "params.json").write_text('{"config": ')
    newest = sorted(sweep.dir.glob("experiment_state-*.json"))[-1]
    (sweep.dir / "experiment_state-2099-01-01_00-00-00.json").write_text("not json")  # a newer, broken save
    with pytest.warns(UnreadableFileWarning) as caught:
        trials = by_id(write_results(sweep.dir, tmp_path / "results", study=STUDY).trials)
    messages = "\n".join(str(warning.message) for warning in caught)
    assert f"{folder / 'result.json'} line 2 is not valid JSON" in messages
    assert "params.json is not valid JSON" in messages and "experiment_state-2099-01-01_00-00-00.json" in messages
    assert newest.is_file() and len(trials) == 5  # every trial kept: the older state file was used
    assert trials.loc["a1b2c_00000", "epochs_done"] == 3  # the three good epochs of four
    assert trials.loc["a1b2c_00002", "status"] == "RUNNING"  # params from the state file's copy


def test_a_corrupt_table_is_named_by_path(sweep: FakeExperiment, tmp_path: Path) -> None:
    out = tmp_path / "results"
    write_results(sweep.dir, out, study=STUDY)
    (out / TRIALS_FILE).write_bytes((out / TRIALS_FILE).read_bytes()[:100])
    with pytest.raises(UnreadableResultsError, match=f"{out / TRIALS_FILE} is not a readable Parquet table"):
        read_results(out)
