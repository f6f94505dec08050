"""Dashboard and token-auth settings for the Ray a sweep starts.

The dashboard's Jobs API runs arbitrary code, and unauthenticated dashboards have been
exploited in the wild (CVE-2023-48022, "ShadowRay"). So the dashboard listens on
loopback only (reach it through an SSH tunnel), and Ray's token auth stays on unless
the environment says otherwise explicitly: RAY_AUTH_MODE is set before Ray starts
(`token` unless the caller chose `disabled`), and the token file Ray writes
world-readable is tightened to 0600.
"""

from __future__ import annotations

import importlib
import os
import secrets
from pathlib import Path

DASHBOARD_HOST = "127.0.0.1"
AUTH_MODE_VAR = "RAY_AUTH_MODE"
AUTH_MODES = ("token", "disabled")
DEFAULT_AUTH_MODE = "token"


def dashboard_available() -> bool:
    """True when ray[default] (the dashboard's dependencies) is installed."""
    try:
        importlib.import_module("ray.dashboard.optional_deps")
    except ImportError:
        return False
    return True


def auth_mode() -> str:
    """The auth mode Ray will use: RAY_AUTH_MODE if set (validated), else token."""
    mode = os.environ.get(AUTH_MODE_VAR, DEFAULT_AUTH_MODE).lower()
    if mode not in AUTH_MODES:
        raise ValueError(f"{AUTH_MODE_VAR} must be one of {', '.join(AUTH_MODES)}; got {AUTH_MODE_VAR}={mode!r}")
    return mode


def set_auth_environment() -> str:
    """Export RAY_AUTH_MODE explicitly (Ray's default differs between ray.init and ray start).

    Ray's core reads the variable into its config when `ray` is imported, which
    happened long before this runs; the config is re-read here the way Ray's own
    `_enable_token_auth` does it, else this process would still believe auth is off
    while the cluster it starts requires the token.
    """
    from ray._raylet import Config

    mode = auth_mode()
    os.environ[AUTH_MODE_VAR] = mode
    Config.initialize("")
    return mode


def token_file() -> Path | None:
    """The file Ray reads the token from, or None when it comes from RAY_AUTH_TOKEN."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return None
    configured = os.environ.get("RAY_AUTH_TOKEN_PATH")
    return Path(configured).expanduser() if configured else Path.home() / ".ray" / "auth_token"


def restrict_token_file() -> Path | None:
    """chmod 0600 the token file if there is one (Ray creates it 0644); returns its path."""
    path = token_file()
    if path is None or not path.is_file():
        return None
    path.chmod(0o600)
    return path


def write_token_file(path: Path) -> Path:
    """A Ray auth token file only its owner can read: created once with mode 0600, reused after."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        path.chmod(0o600)
        return path
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_hex(32))
    return path


def access_hint(dashboard_url: str | None, mode: str) -> str:
    """How to open the dashboard and, under token auth, where the token is."""
    if not dashboard_url:
        return "dashboard: off"
    port = dashboard_url.rsplit(":", 1)[-1]
    lines = [
        f"dashboard: http://{dashboard_url} (loopback only; from another machine: ssh -L {port}:127.0.0.1:{port} <this host>)"
    ]
    if mode == "token":
        path = token_file()
        where = f"in {path} (owner-only)" if path is not None else "in RAY_AUTH_TOKEN"
        lines.append(f"dashboard token: {where}; `ray get-auth-token` prints it; paste it on the login page")
    else:
        lines.append(f"dashboard token: none ({AUTH_MODE_VAR}=disabled)")
    return "\n".join(lines)
