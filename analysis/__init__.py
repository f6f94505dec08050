"""Reading sweep results and analysing them.

`analysis.results` turns a Tune experiment folder into the two Parquet tables of the
results contract (docs/results.md) and reads them back; the analyses are pure
functions from those tables to tidy tables.

`analysis.load_results(path)` is there for notebooks; it is imported on first use, so
importing a light submodule (analysis.flatten, which the config uses) needs no pandas.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_results"]


def __getattr__(name: str) -> Any:
    if name == "load_results":
        from analysis.load import load_results

        return load_results
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
