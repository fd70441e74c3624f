"""The locks the pipeline takes on the warehouse: only the pipeline may take them, and never without a deadline.

PostgreSQL's advisory locks are one namespace per database that every role may use, so a reader could take
the pipeline's key and hang every run (review N3). ``access.provision`` revokes the advisory-lock functions
from PUBLIC and grants them to the pipeline role; here every lock is taken with ``pg_try_…`` in a loop that
gives up at a deadline, naming who holds the lock, instead of waiting forever behind a stuck process.
"""

from __future__ import annotations

import time

import psycopg

# every advisory-lock function of pg_catalog (lock, try, xact, shared, unlock): revoked from PUBLIC
ADVISORY_FUNCTIONS_PATTERN = r"^pg_(try_)?advisory"


class LockTimeout(RuntimeError):
    """A lock was still held by another session at the deadline; the message names the holder."""


def _key_sql(key: str | int) -> tuple[str, tuple]:
    return ("%s::bigint", (key,)) if isinstance(key, int) else ("hashtext(%s)::bigint", (key,))


def holders(conn: psycopg.Connection, key: str | int) -> str:
    """Who holds the advisory lock ``key``: role, pid, application and for how long (for the error)."""
    expr, params = _key_sql(key)
    rows = conn.execute(
        f"""select a.usename, a.pid, coalesce(nullif(a.application_name, ''), '-'),
                   extract(epoch from now() - coalesce(a.xact_start, a.backend_start))::int
            from pg_locks l join pg_stat_activity a on a.pid = l.pid
            where l.locktype = 'advisory' and l.granted and l.pid <> pg_backend_pid()
              and l.objsubid = 1 and ((l.classid::bigint << 32) | l.objid::bigint) = {expr}""",
        params).fetchall()
    return ", ".join(f"{u} (pid {p}, {app}, {s} s)" for u, p, app, s in rows) or "a session that has since ended"


def advisory(conn: psycopg.Connection, key: str | int, *, deadline_s: float, what: str, shared: bool = False,
             xact: bool = False) -> None:
    """Take advisory lock ``key`` (session or transaction scope), waiting at most ``deadline_s``."""
    fn = f"pg_try_advisory{'_xact' if xact else ''}_lock{'_shared' if shared else ''}"
    expr, params = _key_sql(key)
    end = time.monotonic() + deadline_s
    pause = 0.05
    while not conn.execute(f"select {fn}({expr})", params).fetchone()[0]:
        if time.monotonic() >= end:
            raise LockTimeout(
                f"{what}: the warehouse lock {key!r} is still held after {deadline_s:.0f} s by "
                f"{holders(conn, key)}. Fix: wait for that process to finish, or end it "
                "(select pg_terminate_backend(<pid>) as the admin); LGSTATS_LOCK_DEADLINE_SECONDS sets the wait.")
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


def unlock(conn: psycopg.Connection, key: str | int, *, shared: bool = False) -> None:
    expr, params = _key_sql(key)
    conn.execute(f"select pg_advisory_unlock{'_shared' if shared else ''}({expr})", params)
