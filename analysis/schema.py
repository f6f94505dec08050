"""The columns of the two results tables, as code.

docs/results.md documents the same columns for people; a test keeps the two equal.
The writer casts every column named here to its declared type, so a column's dtype
never depends on which trials happened to report first; columns not named here
(config values, other params, metrics added later) get an inferred type.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import pyarrow as pa

SCHEMA_VERSION = 1
"""Bumped whenever a column is renamed, removed or changes meaning or type."""

SCHEMA_VERSION_METADATA_KEY = b"asib_sweeps.schema_version"
"""Parquet file metadata key holding the version (also readable from an empty table)."""

CONFIG_PREFIX = "cfg."
PARAM_PREFIX = "param."

TYPES: dict[str, pa.DataType] = {
    "int64": pa.int64(),
    "float64": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "list<string>": pa.list_(pa.string()),
}
"""The type names docs/results.md uses, and the Arrow type each stands for."""


@dataclass(frozen=True)
class Column:
    """One documented column; `name` may be an fnmatch pattern (`loss_*`) for metric families."""

    name: str
    type_name: str
    doc: str

    @property
    def arrow_type(self) -> pa.DataType:
        return TYPES[self.type_name]


TRIAL_COLUMNS: tuple[Column, ...] = (
    Column("trial_id", "string", "Tune's trial id, unique within the experiment."),
    Column("study", "string", "The study the sweep ran (ablation, beta, sota, overlap, reproduce, finetune)."),
    Column("arm", "string", "The rung of the ablation ladder or the method compared."),
    Column("seed", "int64", "The trial's seed."),
    Column("beta", "float64", "method.asib.beta when the method is asib, else null."),
    Column("status", "string", "TERMINATED, ERROR, RUNNING or PENDING (see below)."),
    Column("error", "string", "Traceback of the last failure when status is ERROR, else null."),
    Column("num_failures", "int64", "Failures Tune recorded for the trial, retried ones included."),
    Column("test_acc_final", "float64", "test_acc of the last epoch reported so far."),
    Column("test_acc_best_val", "float64", "test_acc at the epoch of best val_acc (earliest on ties)."),
    Column("val_acc_best", "float64", "The best val_acc reported."),
    Column("best_epoch", "int64", "The epoch of val_acc_best (earliest on ties)."),
    Column("epochs_done", "int64", "Distinct epochs reported."),
    Column("wall_time_s", "float64", "Tune's time_total_s at the last report (training time, restores included)."),
    Column("student_epochs", "int64", "Epochs in which the student trained (phases joint and B)."),
    Column("student_steps", "int64", "Optimiser steps of those epochs."),
    Column("student_time_s", "float64", "Training seconds of those epochs (evaluation excluded)."),
    Column("synergy_only_epochs", "int64", "ASIB: epochs that trained only the synergy (phases W and A), on top."),
    Column("synergy_only_steps", "int64", "Optimiser steps of those epochs."),
    Column("synergy_only_time_s", "float64", "Training seconds of those epochs (evaluation excluded)."),
    Column("teacher_drift_l2", "float64", "T-Adapt: the largest over teachers of ||theta - theta^0|| at the last report (0: the teachers never moved)."),
    Column("teacher_drift_kl", "float64", "T-Adapt: sum over adapting phases of the mean over teachers of teacher*_drift_kl (null: no phase adapted)."),
    Column("teacher_val_acc_before", "float64", "T-Adapt: teachers' mean val accuracy before the first adapting phase."),
    Column("teacher_val_acc_after", "float64", "T-Adapt: teachers' mean val accuracy after the last adapting phase."),
    Column("trainable_param_steps", "int64", "Sum over epochs of trainable_params x steps: the parameter updates the run did."),
    Column("frozen_param_steps", "int64", "Sum over epochs of frozen_params x steps: the updates partial freezing held back (0: none)."),
    Column("a_phase_time_s", "float64", "Training seconds of the A-phase epochs (null: no A-phase)."),
    Column("a_phase_saved_activation_mb", "float64", "Largest saved_activation_mb of the A-phase epochs."),
    Column("a_phase_peak_memory_mb", "float64", "Largest peak_memory_mb of the A-phase epochs."),
    Column("b_phase_time_s", "float64", "Training seconds of the B-phase epochs (null: no B-phase)."),
    Column("b_phase_saved_activation_mb", "float64", "Largest saved_activation_mb of the B-phase epochs."),
    Column("b_phase_peak_memory_mb", "float64", "Largest peak_memory_mb of the B-phase epochs."),
    Column("joint_objective_stage_decrease", "float64", "CCCP: mean decrease of joint_objective per stage, stage ends against the previous end (null: one stage)."),
    Column("joint_objective_monotone_fraction", "float64", "CCCP: share of stages that decreased joint_objective (null: one stage)."),
    Column("query_kl_final", "float64", "ASIB: query_kl at the last epoch that reported it."),
    Column("attention_entropy_final", "float64", "ASIB: attention_entropy at the last epoch that reported it."),
    Column("teacher_keys", "list<string>", "Teacher-cache keys of the teachers the trial distilled from."),
    Column("code_revision", "string", "Git revision of the code that ran the trial."),
    Column("trial_dir", "string", "The trial's folder, relative to the experiment folder (null if not created)."),
    Column("schema_version", "int64", "Version of this table layout."),
)

EPOCH_COLUMNS: tuple[Column, ...] = (
    Column("trial_id", "string", "As in trials.parquet."),
    Column("study", "string", "As in trials.parquet."),
    Column("arm", "string", "As in trials.parquet."),
    Column("seed", "int64", "As in trials.parquet."),
    Column("beta", "float64", "As in trials.parquet (the configured beta, not the scheduled one)."),
    Column("epoch", "int64", "Global epoch index, 0-based, A- and B-phase epochs alike."),
    Column("stage", "int64", "CCCP stage of the epoch."),
    Column("phase", "string", "joint, W (synergy warm-up), A (synergy and teachers train) or B (student trains)."),
    Column("schema_version", "int64", "Version of this table layout."),
)

METRIC_COLUMNS: tuple[Column, ...] = (
    Column("train_loss", "float64", "Mean training loss (sum of the loss terms)."),
    Column("loss_*", "float64", "Each named loss term, averaged over the epoch."),
    Column("train_acc", "float64", "Student accuracy on the training batches."),
    Column("lr", "float64", "Learning rate of the student (of the synergy in W- and A-phases)."),
    Column("val_acc", "float64", "Student accuracy on the validation split."),
    Column("val_loss", "float64", "Student cross-entropy on the validation split."),
    Column("test_acc", "float64", "Student accuracy on the test split."),
    Column("test_loss", "float64", "Student cross-entropy on the test split."),
    Column("synergy_acc", "float64", "ASIB: synergy head accuracy on the validation split."),
    Column("test_synergy_acc", "float64", "ASIB: synergy head accuracy on the test split."),
    Column("i_xz", "float64", "ASIB with use_ib: upper bound of I(X;Z) on the validation split."),
    Column("i_zy", "float64", "ASIB: lower bound of I(Z;Y) on the validation split, decoding z = mu (the synergy's evaluation output)."),
    Column("test_i_xz", "float64", "As i_xz, on the test split."),
    Column("test_i_zy", "float64", "As i_zy, on the test split."),
    Column("i_zy_z", "float64", "ASIB with use_ib: lower bound of I(Z;Y) decoding the sampled z of the same pass as i_xz."),
    Column("test_i_zy_z", "float64", "As i_zy_z, on the test split."),
    Column("teacher*_val_acc", "float64", "Teacher k's accuracy on the validation split (its classes)."),
    Column("teacher*_test_acc", "float64", "Teacher k's accuracy on the test split (its classes)."),
    Column("teacher*_val_acc_before", "float64", "First epoch of a phase that adapts teachers: teacher k's val accuracy before it."),
    Column("teacher*_test_acc_before", "float64", "First epoch of a phase that adapts teachers: teacher k's test accuracy before it."),
    Column("teacher*_val_acc_after", "float64", "Last epoch of a phase that adapts teachers: teacher k's val accuracy after it."),
    Column("teacher*_test_acc_after", "float64", "Last epoch of a phase that adapts teachers: teacher k's test accuracy after it."),
    Column("steps", "int64", "Optimiser steps in the epoch."),
    Column("synergy_pull_on", "float64", "ASIB: 1 when the synergy's pull toward the student acted in the epoch, else 0."),
    Column("kd_teacher", "int64", "kd: index of the one teacher distilled from (method.kd.teacher, `best` resolved)."),
    Column("beta_epoch", "float64", "The beta of this epoch's warm-up schedule, where a method reports it as `beta`."),
    Column("teacher_freeze_level", "int64", "Partial-freezing level of the teachers (-1: none frozen)."),
    Column("student_freeze_level", "int64", "Partial-freezing level of the student (-1: none frozen)."),
    Column("trainable_params", "int64", "Parameters trained this epoch."),
    Column("epoch_time_s", "float64", "Wall time of the epoch's training."),
    Column("eval_time_s", "float64", "Wall time of the epoch's evaluation."),
    Column("peak_memory_mb", "float64", "Peak accelerator memory of the epoch."),
    Column("saved_activation_mb", "float64", "MiB of the distinct non-parameter tensors autograd saved in the epoch's first step."),
    Column("frozen_params", "int64", "Parameters of the parts trained this epoch that partial freezing held fixed."),
    Column("teacher*_drift_l2", "float64", "||theta_k - theta_k^0||: end of each teacher-adapting phase, and the run's last epoch."),
    Column("teacher*_drift_kl", "float64", "End of a teacher-adapting phase: mean KL(before || after) of teacher k's val outputs over it."),
    Column("joint_objective", "float64", "ASIB: L_syn + L_stu (full beta, eval mode) on the fixed validation batch."),
    Column("query_kl", "float64", "ASIB: KL(p_syn || p_syn with the student features shuffled in the batch) at tau_syn, fixed val batch."),
    Column("query_flips", "float64", "ASIB: share of the fixed val batch whose synergy class changes when the queries are shuffled."),
    Column("attention_entropy", "float64", "ASIB: mean entropy (nats) of the synergy's attention over the teachers, fixed val batch."),
)
"""Per-epoch metrics the training loop reports; present in epochs.parquet when reported."""

RENAMED_METRIC_SUFFIX = "_epoch"
"""A reported metric named like an identifying column (`beta`) is stored as `<name>_epoch`."""


def metric_type(name: str) -> pa.DataType | None:
    """The declared type of a per-epoch metric column, or None where it is inferred."""
    for column in METRIC_COLUMNS:
        if fnmatch.fnmatchcase(name, column.name):
            return column.arrow_type
    return None
