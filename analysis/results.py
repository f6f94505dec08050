"""The results contract: a Tune experiment folder becomes trials.parquet and epochs.parquet.

`write_results` reads Tune's files only (analysis.tune_experiment), so it works during
a sweep, after it, and after the driver was killed; each call rewrites both tables
whole, atomically, so a reader sees the old or the new file and never a partial one,
and a resumed sweep never leaves duplicate rows. `read_results` is what the analyses
and the report start from; it refuses tables of another schema version.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.schema import SCHEMA_VERSION, SCHEMA_VERSION_METADATA_KEY
from analysis.tables import build_tables
from analysis.tune_experiment import read_experiment

TRIALS_FILE = "trials.parquet"
EPOCHS_FILE = "epochs.parquet"

_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
"""Nullable pandas dtypes, so an int column with a missing value stays int."""


class IncompatibleResultsError(ValueError):
    """A results table written under another schema version (or not by this code)."""


class UnreadableResultsError(IncompatibleResultsError):
    """A results table that is not a readable Parquet file (truncated, overwritten); the message names it."""


@dataclass(frozen=True)
class ResultTables:
    """The two tables as written, and where."""

    trials: pd.DataFrame
    epochs: pd.DataFrame
    trials_path: Path
    epochs_path: Path


def write_results(experiment_dir: Path, out_dir: Path, *, study: str) -> ResultTables:
    """Rebuild <out_dir>/trials.parquet and <out_dir>/epochs.parquet from a Tune experiment folder.

    epochs.parquet is replaced first, so a reader between the two replacements sees
    trials that are at most one write older than their epochs, never the reverse.
    """
    trial_table, epoch_table = build_tables(read_experiment(Path(experiment_dir)), study=study)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    epochs_path, trials_path = out_dir / EPOCHS_FILE, out_dir / TRIALS_FILE
    write_table_atomically(epoch_table, epochs_path)
    write_table_atomically(trial_table, trials_path)
    return ResultTables(_to_pandas(trial_table), _to_pandas(epoch_table), trials_path, epochs_path)


def read_results(out_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trials, epochs) as written by `write_results` into out_dir."""
    out_dir = Path(out_dir)
    return _read_table(out_dir / TRIALS_FILE), _read_table(out_dir / EPOCHS_FILE)


def find_result_dirs(root: Path) -> list[Path]:
    """root and every folder below it that holds a trials.parquet (a sweep's teacher
    fine-tuning tables live in its finetune/ subfolder), root first."""
    return sorted(path.parent for path in Path(root).rglob(TRIALS_FILE))


def write_table_atomically(table: pa.Table, path: Path) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename it over `path`.

    The rename is atomic on POSIX file systems, so readers see the old file or the new
    one; if writing fails the old file is untouched and the temporary file removed.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            pq.write_table(table, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist; results tables are written by analysis.results.write_results "
            "(asib-sweep writes them into its results directory as trials progress)"
        )
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise UnreadableResultsError(
            f"{path} is not a readable Parquet table ({error}); a sweep rewrites it from its Tune folder "
            "(tune/<experiment>) at its next table update, or call analysis.results.write_results"
        ) from None
    version = (table.schema.metadata or {}).get(SCHEMA_VERSION_METADATA_KEY)
    if version is None or "schema_version" not in table.column_names:
        raise IncompatibleResultsError(f"{path} has no schema_version; it was not written by write_results")
    column_versions = set(table.column("schema_version").to_pylist())
    if version.decode() != str(SCHEMA_VERSION) or column_versions - {SCHEMA_VERSION}:
        found = sorted({version.decode(), *map(str, column_versions)})
        raise IncompatibleResultsError(
            f"{path} has schema_version={', '.join(found)}; this code reads schema_version={SCHEMA_VERSION}. "
            "Rewrite it from the Tune experiment folder with write_results."
        )
    return _to_pandas(table)


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(types_mapper=_PANDAS_TYPES.get)
