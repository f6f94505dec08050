"""The one error every data source and split raises."""

from __future__ import annotations


class DataError(ValueError):
    """Data that cannot be read or split as configured; the message names the path or key."""
