"""The passwords lgstats generates and keeps: ``$LGSTATS_HOME/warehouse/credentials.json``, mode 0600.

Below the settings (which read ``LGSTATS_<ROLE>_PASSWORD`` and hand it here): this module reads no
environment and imports nothing of lgstats, so settings and access can both use it without a circle.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from pathlib import Path

ROLES = {"admin": None, "pipeline": "lgstats_pipeline", "analyst": "lgstats_analyst", "bi": "lgstats_bi"}


def env_name(name: str) -> str:
    """The variable that sets a role's (or service's) password instead of the file."""
    return f"LGSTATS_{name.upper()}_PASSWORD"


class CredentialsError(RuntimeError):
    pass


def credentials_path(home: Path) -> Path:
    return home / "warehouse" / "credentials.json"


_held: dict[Path, int] = {}


@contextlib.contextmanager
def locked(home: Path):
    """One process at a time initialises the server and writes the credentials (two first starts at once
    must agree). Re-entrant within a process."""
    folder = (home / "warehouse").resolve()
    if _held.get(folder):
        _held[folder] += 1
        try:
            yield
        finally:
            _held[folder] -= 1
        return
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".credentials.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        _held[folder] = 1
        try:
            yield
        finally:
            _held[folder] = 0
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"{path} is not valid JSON ({exc}). Fix: restore it, or delete it and run "
                               "`lgstats warehouse start` with the LGSTATS_<ROLE>_PASSWORD variables set to the "
                               "passwords the server has.") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"{path} must hold an object of role → password")
    return {str(k): str(v) for k, v in data.items()}


def write_private(path: Path, text: str) -> None:
    """A secret file: mode 0600 from its creation, replaced atomically (never readable half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _write(path: Path, data: dict[str, str]) -> None:
    write_private(path, json.dumps(data, indent=2))


def password(home: Path, name: str, from_env: str | None) -> str:
    """The password of a role: ``from_env`` (its variable, read by the settings), else the credentials file.
    Never generated here: a password the server does not know is no use (``ensure`` makes them, at start)."""
    if from_env:
        return from_env
    stored = _read(credentials_path(home)).get(name)
    if not stored:
        raise CredentialsError(f"no password for {name!r}: {credentials_path(home)} lacks it and {env_name(name)} "
                               "is not set. Fix: run `lgstats warehouse start`.")
    return stored


def ensure(home: Path, names: list[str]) -> None:
    """Generate (once) the passwords of ``names`` (those no variable sets); the file stays mode 0600."""
    path = credentials_path(home)
    with locked(home):
        data = _read(path)
        missing = [n for n in names if not data.get(n)]
        if missing or (path.exists() and path.stat().st_mode & 0o077):
            data.update({n: secrets.token_urlsafe(24) for n in missing})
            _write(path, data)
