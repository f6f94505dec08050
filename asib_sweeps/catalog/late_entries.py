"""Entries must come before the config: its sections and choices are built from the catalog once, at import."""

from __future__ import annotations

import sys


def refuse_after_the_config(kind: str, name: str) -> None:
    """An entry added after `asib_sweeps.config` loaded would be listed but could never be configured: refuse it."""
    if "asib_sweeps.config" in sys.modules:
        raise RuntimeError(
            f"{kind} {name!r} was added after asib_sweeps.config was imported, whose choices and sections are "
            "built from the catalog once; add catalog entries before anything imports the config"
        )
