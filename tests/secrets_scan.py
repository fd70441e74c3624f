"""Review N5/N6/N10: every secret lgstats generates or is given, searched for in every file of a home. Each
may sit only in its own secret file, mode 0600; the home itself is closed to other users."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from lgstats.core.credentials import ROLES, env_name


def _json_values(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {f"{path.name}:{k}": str(v) for k, v in data.items()
            if isinstance(v, str) and len(v) >= 12 and k not in ("username", "user")}  # names are no secrets


def secret_files(home: Path) -> list[Path]:
    """The files where a secret belongs (each must be 0600)."""
    return [home / "warehouse" / "credentials.json", home / "airflow" / "stack-secrets.json",
            home / "airflow" / "simple_auth_manager_passwords.json.generated", home / "bi" / "credentials.json",
            home / "bi" / "secret_key", *home.glob("**/redis*.conf")]


def secrets_of(home: Path) -> dict[str, str]:
    """name → value of every secret: the passwords given in the environment and those in the secret files."""
    found = {env_name(r): os.environ[env_name(r)] for r in ROLES if os.environ.get(env_name(r))}
    for path in secret_files(home):
        if path.suffix in (".json", ".generated"):
            found.update(_json_values(path))
    if (home / "bi" / "secret_key").exists():
        found["bi/secret_key"] = (home / "bi" / "secret_key").read_text().strip()
    return found


def where(home: Path, values: dict[str, str]) -> dict[str, list[Path]]:
    needles = {name: value.encode() for name, value in values.items()}
    hits: dict[str, list[Path]] = {name: [] for name in values}
    for root, dirs, files in os.walk(home):
        dirs[:] = [d for d in dirs if d != "venv"]  # Superset's installed packages: no secret is written there
        for name in files:
            path = Path(root, name)
            if path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()
            for key, needle in needles.items():
                if needle in data:
                    hits[key].append(path)
    return hits


def assert_home_keeps_its_secrets(home: Path, expect: tuple[str, ...] = ()) -> dict[str, list[Path]]:
    """Every secret only in a 0600 secret file; ``expect``: names of secrets that must have been found."""
    values = secrets_of(home)
    for name in expect:
        assert any(name in key for key in values), (name, sorted(values))
    allowed = set(secret_files(home))
    hits = where(home, values)
    misplaced = {k: [str(p) for p in v if p not in allowed] for k, v in hits.items()}
    assert not any(misplaced.values()), {k: v for k, v in misplaced.items() if v}
    for paths in hits.values():
        for path in paths:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, (path, oct(path.stat().st_mode))
    mode = stat.S_IMODE(home.stat().st_mode)
    assert mode & 0o007 == 0 and mode & 0o060 == 0, oct(mode)  # others nothing; the server's group at most x
    return hits
