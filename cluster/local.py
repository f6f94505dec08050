"""Where a sweep's trials run: a private local Ray (the default) or a cluster joined by address.

A local sweep always starts its own Ray with `address="local"`: a plain `ray.init()`
attaches to whatever cluster `/tmp/ray/ray_current_cluster` names (someone else's, or
a stale one after a hard kill). `--address` is the explicit way to join a cluster.
If the calling process already has Ray initialised, that Ray is used and left running.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import ray

from cluster.dashboard import (
    DASHBOARD_HOST,
    dashboard_available,
    restrict_token_file,
    set_auth_environment,
    token_file,
    write_token_file,
)
from cluster.signals import sigterm_saves_and_stops


@dataclass(frozen=True)
class RayCluster:
    """The Ray this sweep runs on."""

    address: str
    dashboard_url: str | None
    """host:port, or None without a dashboard."""
    auth_mode: str
    started_here: bool


def prepare_environment() -> str:
    """Environment Ray reads at start: no usage stats, an explicit auth mode (returned)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    return set_auth_environment()


def owner_only_token(mode: str, *, create: bool) -> None:
    """Before Ray starts: the token file exists with mode 0600 (`create`: a private Ray reads the one made
    here instead of writing its own world-readable one), or an existing one is made 0600."""
    path = token_file()
    if mode != "token" or path is None:
        return
    if create:
        write_token_file(path)
    else:
        restrict_token_file()


@contextmanager
def ray_cluster(
    *,
    address: str | None = None,
    dashboard: bool = True,
) -> Iterator[RayCluster]:
    """Start a private local Ray on all of this machine (or join `address`) for the block.

    `dashboard` applies to a local Ray only (a joined cluster has its own) and starts
    the dashboard only when ray[default] is installed.
    """
    mode = prepare_environment()
    # Ray's INFO lines (a "checkpoint created" per trial per epoch) would drown Tune's status table.
    quiet = ray.LoggingConfig(log_level="WARNING")
    if ray.is_initialized():
        context = ray.get_runtime_context()
        yield RayCluster(address=context.gcs_address, dashboard_url=None, auth_mode=mode, started_here=False)
        return
    owner_only_token(mode, create=address is None)
    if address is None:
        info = ray.init(
            address="local",
            include_dashboard=dashboard and dashboard_available(),
            dashboard_host=DASHBOARD_HOST,
            logging_config=quiet,
        )
    else:
        info = ray.init(address=address, logging_config=quiet)
    restrict_token_file()  # a token file Ray wrote itself after all (RAY_AUTH_TOKEN_PATH changed in between)
    try:
        with sigterm_saves_and_stops():  # installed after ray.init, whose own handler would crash the fit
            yield RayCluster(
                address=info.address_info["gcs_address"],
                dashboard_url=info.dashboard_url or None,
                auth_mode=mode,
                started_here=True,
            )
    finally:
        ray.shutdown()
