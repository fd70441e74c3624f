"""``LGSTATS_HOME`` is private: member files, reports, logs, secrets and the Superset database in it are
nobody else's business (review N10).

Everything lgstats starts runs with umask 077, and the home is 0700. One exception, when lgstats runs as
root: the embedded PostgreSQL runs as its own system user and must reach ``warehouse/pgdata``, so the home
and ``warehouse/`` are 0710 with that user's group (it may pass through, never list or read), and the
folders above the home get the traverse bit for others if they lack it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

UMASK = 0o077


def restrict_new_files() -> None:
    """Files and folders made from here on (and by every child process) are the owner's only."""
    os.umask(UMASK)


def secure(home: Path, server_user: str | None = None) -> None:
    """Make ``home`` private, letting ``server_user`` (the embedded server's system user) through to its data."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    if home.stat().st_uid != os.geteuid():
        return  # not ours to change (a shared deployment folder): the operator sets its mode
    if server_user is None:
        _chmod(home, 0o700)
        return
    import pwd

    gid = pwd.getpwnam(server_user).pw_gid
    warehouse = home / "warehouse"
    warehouse.mkdir(exist_ok=True, mode=0o700)
    for folder in (home, warehouse):
        os.chown(folder, -1, gid)
        _chmod(folder, 0o710)
    for parent in home.resolve().parents:  # the server must pass through to the home
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def _chmod(path: Path, mode: int) -> None:
    if stat.S_IMODE(path.stat().st_mode) != mode:
        path.chmod(mode)
