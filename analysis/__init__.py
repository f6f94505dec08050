"""Reading sweep results and analysing them.

`analysis.results` turns a Tune experiment folder into the two Parquet tables of the
results contract (docs/results.md) and reads them back; the analyses are pure
functions from those tables to tidy tables.
"""

from analysis.load import load_results  # noqa: E402,F401 - analysis.load_results(path), for notebooks
