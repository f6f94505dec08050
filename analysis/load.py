"""`load_results(path) -> (trials, epochs)`: a sweep's two tables, for a notebook.

Reads only Parquet (pyarrow, pandas): no torch, no Ray, no asib_sweeps, so it works
on a laptop that never installed the training stack. `path` is a sweep folder
(`results/ablation`), or its trials.parquet / epochs.parquet. Tables written under
another schema version are refused (docs/results.md).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.schema import SCHEMA_VERSION, SCHEMA_VERSION_METADATA_KEY

TRIALS_FILE = "trials.parquet"
EPOCHS_FILE = "epochs.parquet"
_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
"""Nullable pandas dtypes, so an int column with a missing value stays int."""


def load_results(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trials, epochs) of the sweep at `path`: one row per trial, one per trial and epoch."""
    folder = Path(path)
    if folder.name in (TRIALS_FILE, EPOCHS_FILE):
        folder = folder.parent
    if not (folder / TRIALS_FILE).is_file():
        raise FileNotFoundError(f"{folder} holds no {TRIALS_FILE}; pass a sweep folder such as results/ablation")
    return _read(folder / TRIALS_FILE), _read(folder / EPOCHS_FILE)


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; asib-sweep writes it beside {TRIALS_FILE}")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise ValueError(f"{path} is not a readable Parquet table: {error}") from None
    version = (table.schema.metadata or {}).get(SCHEMA_VERSION_METADATA_KEY, b"").decode()
    if version != str(SCHEMA_VERSION):
        raise ValueError(
            f"{path} has schema_version={version or '(none)'}; this code reads schema_version={SCHEMA_VERSION}"
        )
    return table.to_pandas(types_mapper=_PANDAS_TYPES.get)
