"""Readers' limits enforced from outside their sessions, because PostgreSQL lets a role lift its own.

``statement_timeout`` and ``idle_in_transaction_session_timeout`` are user-settable: ``lgstats_bi`` may
``SET statement_timeout = 0`` and hold a lock on a mart for as long as it likes, which would hang the build
(review N3/N8). PostgreSQL has no way to pin them per role. So the admin installs one function,
``lgstats_guard.end_reader_sessions``: SECURITY DEFINER, executable by the pipeline role only, that ends
reader sessions (and only those) which block a pipeline session for longer than a grace period, run a
statement past their role's limit or idle in a transaction past it. ``lgstats run`` and ``lgstats airflow``
call it every few seconds while they run (:func:`watching`).
"""

from __future__ import annotations

import contextlib
import logging
import threading

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)
SCHEMA = "lgstats_guard"
BLOCKING_GRACE = "10 seconds"
EVERY_SECONDS = 5.0

FUNCTION = """
create or replace function {schema}.end_reader_sessions(blocking_grace interval)
returns table (pid integer, role name, reason text)
language plpgsql security definer set search_path = pg_catalog as $guard$
declare r record;
begin
    for r in
        with limits (role, statement_limit) as (values {limits}),
        blockers as (
            select distinct b.pid
            from pg_locks l join pg_stat_activity w on w.pid = l.pid
            cross join lateral unnest(pg_blocking_pids(l.pid)) as b (pid)
            where not l.granted and w.usename = session_user and l.waitstart < now() - blocking_grace)
        select a.pid, a.usename, case
            when a.pid in (select b.pid from blockers b)
                then 'held a lock the pipeline waited for longer than ' || blocking_grace
            when a.state = 'active' and a.query_start < now() - x.statement_limit - interval '5 seconds'
                then 'ran one statement past the role''s limit of ' || x.statement_limit
            when a.state like 'idle in transaction%' and a.state_change < now() - {idle}::interval
                then 'stayed idle in a transaction past ' || {idle}
        end as reason
        from pg_stat_activity a join limits x on x.role = a.usename
        where a.datname = current_database()
    loop
        continue when r.reason is null;
        begin
            perform pg_terminate_backend(r.pid);
        exception when insufficient_privilege then
            r.reason := r.reason || ' (not ended: the guard''s owner may not signal it)';
        end;
        pid := r.pid; role := r.usename; reason := r.reason;
        return next;
    end loop;
end $guard$
"""


def install(conn: psycopg.Connection, pipeline: str, statement_limits: dict[str, str], idle_limit: str) -> None:
    """Create (or update) the guard as the admin; only ``pipeline`` may call it."""
    limits = sql.SQL(", ").join(sql.SQL("({}::name, {}::interval)").format(sql.Literal(r), sql.Literal(v))
                                for r, v in statement_limits.items())
    schema = sql.Identifier(SCHEMA)
    conn.execute(sql.SQL("create schema if not exists {}").format(schema))
    conn.execute(sql.SQL("revoke all on schema {} from public").format(schema))
    conn.execute(sql.SQL(FUNCTION).format(schema=schema, limits=limits, idle=sql.Literal(idle_limit)))
    function = sql.SQL("{}.end_reader_sessions(interval)").format(schema)
    conn.execute(sql.SQL("revoke all on function {} from public").format(function))
    conn.execute(sql.SQL("grant usage on schema {} to {}").format(schema, sql.Identifier(pipeline)))
    conn.execute(sql.SQL("grant execute on function {} to {}").format(function, sql.Identifier(pipeline)))


def end_overrunning(conn: psycopg.Connection, grace: str = BLOCKING_GRACE) -> list[tuple[int, str, str]]:
    """One pass: the reader sessions ended, each with its reason (also logged)."""
    rows = conn.execute(sql.SQL("select pid, role, reason from {}.end_reader_sessions(%s::interval)").format(
        sql.Identifier(SCHEMA)), (grace,)).fetchall()
    for pid, role, reason in rows:
        log.warning("ended the %s session pid %s: it %s", role, pid, reason)
        print(f"  warehouse guard: ended the {role} session pid {pid}: it {reason}", flush=True)
    return rows


@contextlib.contextmanager
def watching(connect, every: float = EVERY_SECONDS, grace: str = BLOCKING_GRACE):
    """While the block runs, end overrunning reader sessions every ``every`` seconds. ``connect()`` gives a
    pipeline connection (autocommit). A warehouse without the guard (set up by an older version, or by an admin
    who may not create it) is logged once and left alone."""
    stop = threading.Event()

    def loop() -> None:
        try:
            with connect() as conn:
                while not stop.is_set():
                    end_overrunning(conn, grace)
                    stop.wait(every)
        except psycopg.Error as exc:
            if not stop.is_set():
                log.warning("the reader guard stopped: %s", exc)

    thread = threading.Thread(target=loop, name="lgstats-reader-guard", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every + 5)
