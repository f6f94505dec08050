"""ASIB multi-teacher knowledge distillation: method, training loop and CLIs.

Nothing in this package imports Ray except the CLI's launch code (and `run_study`,
which is that code: it is imported on first use, so `import asib_sweeps` stays light).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["run_study"]


def run_study(study: str, **options: Any):  # noqa: ANN201 - the type lives in asib_sweeps.api
    """Run a study as `asib-sweep STUDY` would; see asib_sweeps.api.run_study."""
    from asib_sweeps.api import run_study as run

    return run(study, **options)
