"""Who may connect to the warehouse, with which password, and what each role may do.

Four roles, each only what it needs (design: warehouse layout):

- ``admin`` (the server's superuser, or the user of ``LGSTATS_WAREHOUSE_URL``) only creates roles and
  databases and hands the warehouse objects to the pipeline;
- ``lgstats_pipeline`` owns and writes every warehouse object: the DAGs and dbt connect as it;
- ``lgstats_analyst`` reads ``marts``, ``staging`` and ``ops``; ``lgstats_bi`` reads ``marts`` only. Both are
  read-only by privilege, not only by setting: they own nothing, may create nothing (no ``TEMP``, no
  ``CREATE`` anywhere) and connect to the warehouse database only, so switching
  ``default_transaction_read_only`` off gives them nothing. Each has a ``statement_timeout`` and a
  connection limit.

Passwords come from ``LGSTATS_<ROLE>_PASSWORD`` where set, else they are generated on the first start and
kept in ``$LGSTATS_HOME/warehouse/credentials.json`` (mode 0600). The embedded server accepts passwords
(``scram-sha-256``) over TCP on 127.0.0.1 only; ``trust`` is never configured, and a home created before
this (``trust`` in its ``pg_hba.conf``) is migrated on its next start.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import psycopg
from psycopg import sql

from lgstats.core import locks, reader_guard
from lgstats.core.credentials import ROLES, CredentialsError, write_private  # noqa: F401 - this module's vocabulary
from lgstats.core.settings import Settings, parse_pg_url

log = logging.getLogger(__name__)

# Large objects are written through these functions, owned by no schema a reader is denied: a reader with
# default_transaction_read_only switched off could fill the disk with them. Revoked from PUBLIC in the warehouse
# database (the pipeline uses none of them).
LARGE_OBJECT_WRITERS = ("lo_create(oid)", "lo_creat(integer)", "lo_from_bytea(oid, bytea)",
                        "lo_put(oid, bigint, bytea)", "lowrite(integer, bytea)", "lo_truncate(integer, integer)",
                        "lo_truncate64(integer, bigint)", "lo_unlink(oid)", "lo_import(text)", "lo_import(text, oid)")
READER_IDLE_IN_TRANSACTION = "300s"
READERS = {"analyst": {"statement_timeout": "300s", "connection_limit": 10},
           "bi": {"statement_timeout": "60s", "connection_limit": 20}}
OWNED_SCHEMAS = ("raw", "pending", "staging", "intermediate", "marts", "ops", "quarantine", "releases")
HBA = """# Written by lgstats (lgstats/core/access.py): passwords (scram-sha-256) over TCP on loopback only.
# No Unix socket is opened, and no line trusts anyone. For TLS from other hosts, see docs/operations.md.
local   all   all                  reject
host    all   all   127.0.0.1/32   scram-sha-256
host    all   all   ::1/128        scram-sha-256
"""


def write_pwfile(folder: Path, secret: str, owner: str | None) -> Path:
    """A file initdb reads the superuser's password from (readable by the server's system user only)."""
    path = folder / f".pwfile-{os.getpid()}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secret + "\n")
    if owner:
        import pwd

        entry = pwd.getpwnam(owner)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


def hba(network: str | None = None) -> str:
    """Password-only ``pg_hba.conf``: loopback, and the workers' network when the server listens on it."""
    if not network:
        return HBA
    return HBA + (f"# Workers on other hosts (LGSTATS_SERVICE_ADDRESS); use TLS on a network you do not control.\n"
                  f"host    all   all   {network}   scram-sha-256\n")


def harden_hba(pgdata: Path, network: str | None = None) -> bool:
    """Write the password-only ``pg_hba.conf``; True when it changed (the server must reload)."""
    path = pgdata / "pg_hba.conf"
    text = hba(network)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    stat = path.stat() if path.exists() else None
    path.write_text(text, encoding="utf-8")
    if stat is not None:
        os.chown(path, stat.st_uid, stat.st_gid)
        os.chmod(path, 0o600)
    return True


def trusts_anyone(pgdata: Path) -> bool:
    path = pgdata / "pg_hba.conf"
    return path.exists() and any(line.split()[-1:] == ["trust"] for line in path.read_text().splitlines()
                                 if line.strip() and not line.lstrip().startswith("#"))


def ensure_role(conn: psycopg.Connection, name: str, secret: str, extra: sql.Composable) -> None:
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone()
    verb = "alter" if exists else "create"
    try:
        conn.execute(sql.SQL("{} role {} with login nosuperuser nocreatedb nocreaterole noreplication "
                             "nobypassrls password {} {}").format(
            sql.SQL(verb), sql.Identifier(name), sql.Literal(secret), extra))
    except psycopg.errors.DuplicateObject:  # another start created it between our check and our create
        conn.execute(sql.SQL("alter role {} with password {}").format(sql.Identifier(name), sql.Literal(secret)))


def ensure_database(conn: psycopg.Connection, name: str, owner: str | None = None) -> None:
    """Create database ``name`` (owned by ``owner``) if it is missing; another start creating it meanwhile is
    fine. ``conn``: autocommit, as an admin, on another database of the server."""
    if conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
        return
    owned = sql.SQL(" owner {}").format(sql.Identifier(owner)) if owner else sql.SQL("")
    try:
        conn.execute(sql.SQL("create database {}{}").format(sql.Identifier(name), owned))
    except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
        pass


def provision(admin_url: str, dbname: str, settings: Settings, *, embedded: bool) -> None:
    """Create or update the three roles with their passwords, and give each only what it needs on ``dbname``.
    Run as the admin at every start: idempotent, and it repairs ownership left by older versions."""
    if parse_pg_url(admin_url).user in ROLES.values():
        return  # connected as one of the managed roles (a deployment's workers): set-up is the admin's job
    settings.ensure_passwords([r for r in ROLES if r != "admin"])
    secrets_ = {r: settings.password(r) for r in ROLES if r != "admin"}
    deadline_s = settings.lock_deadline_seconds
    for attempt in range(5):
        try:
            return _provision(admin_url, dbname, secrets_, embedded=embedded, deadline_s=deadline_s)
        except psycopg.errors.InternalError_ as exc:
            # roles are the server's, not one database's: two databases set up at once (an advisory lock is
            # per database) can update one role together; PostgreSQL refuses the second, which retries
            if "concurrently updated" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


def _provision(admin_url: str, dbname: str, secrets_: dict[str, str], *, embedded: bool, deadline_s: float) -> None:
    base = admin_url.rsplit("/", 1)[0]
    try:
        with psycopg.connect(f"{base}/{dbname}", autocommit=True, connect_timeout=10) as conn:
            locks.advisory(conn, "lgstats.provision", deadline_s=deadline_s, what="setting up the warehouse roles")
            ensure_role(conn, ROLES["pipeline"], secrets_["pipeline"], sql.SQL("noinherit"))
            for role, limits in READERS.items():
                name = ROLES[role]
                existed = conn.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone()
                if existed and not _logs_in(base, dbname, name, secrets_[role]):
                    log.warning("%s could not log in with the password lgstats keeps for it (changed in the database, "
                                "e.g. by the role itself); it is reset now, so BI tools are not locked out", name)
                ensure_role(conn, name, secrets_[role],
                             sql.SQL("noinherit connection limit {}").format(sql.Literal(limits["connection_limit"])))
                for setting, value in (("default_transaction_read_only", "on"),
                                       ("statement_timeout", limits["statement_timeout"]),
                                       ("idle_in_transaction_session_timeout", READER_IDLE_IN_TRANSACTION)):
                    conn.execute(sql.SQL("alter role {} set {} = {}").format(
                        sql.Identifier(name), sql.Identifier(setting), sql.Literal(value)))
            db = sql.Identifier(dbname)
            pipeline, analyst, bi = (sql.Identifier(ROLES[r]) for r in ("pipeline", "analyst", "bi"))
            conn.execute(sql.SQL("revoke all on database {} from public").format(db))
            conn.execute(sql.SQL("grant connect, temporary, create on database {} to {}").format(db, pipeline))
            conn.execute(sql.SQL("grant connect on database {} to {}, {}").format(db, analyst, bi))
            conn.execute(sql.SQL("revoke create on schema public from public"))
            for function in LARGE_OBJECT_WRITERS:  # they write with no quota and ignore read-only privileges
                conn.execute(f"revoke execute on function pg_catalog.{function} from public")
            _pipeline_only_locks(conn, ROLES["pipeline"])
            limits = {ROLES[r]: v["statement_timeout"] for r, v in READERS.items()}
            reader_guard.install(conn, ROLES["pipeline"], limits, READER_IDLE_IN_TRANSACTION)
            if embedded:  # the server is ours: nobody but the admin reaches its maintenance or template databases
                conn.execute("revoke connect, temporary on database postgres from public")
                conn.execute("revoke connect, temporary on database template1 from public")
            _hand_over(conn, ROLES["pipeline"])
            locks.unlock(conn, "lgstats.provision")
    except psycopg.errors.InsufficientPrivilege as exc:
        raise CredentialsError(
            f"the warehouse user cannot set up the lgstats roles on {dbname!r} ({exc}). Fix: connect "
            "LGSTATS_WAREHOUSE_URL as a user with CREATEROLE that owns the database, or create the roles "
            "lgstats_pipeline, lgstats_analyst and lgstats_bi yourself (docs/operations.md).") from None


def _logs_in(base: str, dbname: str, role: str, secret: str) -> bool:
    """Whether ``role`` logs in with ``secret``; only a refused password counts as no."""

    params = parse_pg_url(f"{base}/{dbname}")
    try:
        psycopg.connect(host=params.host, port=params.port, dbname=dbname, user=role, password=secret,
                        connect_timeout=10).close()
    except psycopg.OperationalError as exc:
        return "password authentication failed" not in str(exc)
    return True


def _pipeline_only_locks(conn: psycopg.Connection, pipeline: str) -> None:
    """Advisory locks are one namespace per database that PUBLIC may use: a reader holding the pipeline's key
    would hang it (review N3). Only the pipeline (and the admin) may take them in the warehouse database."""
    conn.execute(sql.SQL("""
        do $$
        declare f regprocedure;
        begin
            for f in select p.oid::regprocedure from pg_proc p
                     where p.pronamespace = 'pg_catalog'::regnamespace and p.proname ~ {pattern} loop
                execute format('revoke execute on function %s from public', f);
                execute format('grant execute on function %s to %I', f, {pipeline});
            end loop;
        end $$""").format(pattern=sql.Literal(locks.ADVISORY_FUNCTIONS_PATTERN), pipeline=sql.Literal(pipeline)))


def _hand_over(conn: psycopg.Connection, owner: str) -> None:
    """The pipeline role owns the warehouse schemas and everything in them (objects an older version
    created as the superuser included), so it can build and grant without being a superuser."""
    conn.execute(sql.SQL("""
        do $$
        declare r record;
        begin
            for r in select n.nspname from pg_namespace n
                     where n.nspname = any({schemas}) and pg_get_userbyid(n.nspowner) <> {owner} loop
                execute format('alter schema %I owner to %I', r.nspname, {owner});
            end loop;
            for r in select n.nspname, c.relname, c.relkind
                     from pg_class c join pg_namespace n on n.oid = c.relnamespace
                     where n.nspname = any({schemas}) and c.relkind in ('r', 'v', 'm', 'S', 'p', 'f')
                       and pg_get_userbyid(c.relowner) <> {owner}
                       and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'i') loop
                execute format('alter %s %I.%I owner to %I',
                               case r.relkind when 'v' then 'view' when 'm' then 'materialized view'
                                              when 'S' then 'sequence' when 'f' then 'foreign table' else 'table' end,
                               r.nspname, r.relname, {owner});
            end loop;
        end $$""").format(schemas=sql.Literal(list(OWNED_SCHEMAS)), owner=sql.Literal(owner)))
