"""The one base of every error that retrying the same work cannot fix.

A trial is deterministic: the same params, data and checkpoint fail the same way on
every attempt (a non-finite loss, a corrupt checkpoint or weights file, a missing
teacher, a device the trial does not have). The sweep's retries are for transient
faults (a lost node, a killed worker); trainables.config_errors ends a trial at its
first `NonRetryableError` (or ConfigError, DataError) instead, with its message.
"""

from __future__ import annotations


class NonRetryableError(RuntimeError):
    """Retrying the same attempt gives the same error; the message says what to fix."""
