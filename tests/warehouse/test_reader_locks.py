"""Review N3/N8: a reader cannot take the pipeline's locks, cannot hold a mart's lock past a grace period even
with its own timeouts lifted, and cannot lock BI tools out by changing its own password."""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from lgstats.core import access, locks, reader_guard, warehouse
from lgstats.core.settings import Settings
from tests.conftest import role_url

# every lock the pipeline takes: the provision, run, submission, raw-table, bootstrap and DDL keys
PIPELINE_KEYS = ["lgstats.provision", warehouse.RUN_LOCK_KEY, "submissions.MNL.women_in_local_government",
                 "submissions.women_in_local_government", "raw.un_sdg__series_data", "lgstats.bootstrap",
                 "lgstats.ddl.un_sdg__series_data"]
LOCK_CALLS = ["pg_advisory_lock({})", "pg_advisory_lock_shared({})", "pg_try_advisory_lock({})",
              "pg_try_advisory_lock_shared({})", "pg_advisory_xact_lock({})", "pg_try_advisory_xact_lock({})"]


def _key(key) -> str:
    return f"{key}::bigint" if isinstance(key, int) else f"hashtext('{key}')"


@pytest.mark.parametrize("role", ["bi", "analyst"])
def test_readers_cannot_take_any_lock_the_pipeline_takes(warehouse_url, role):
    with psycopg.connect(role_url(warehouse_url, role), autocommit=True) as conn:
        for key in PIPELINE_KEYS:
            for call in LOCK_CALLS:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(f"select {call.format(_key(key))}")
    with psycopg.connect(role_url(warehouse_url, "pipeline"), autocommit=True) as conn:  # the pipeline still can
        locks.advisory(conn, "lgstats.provision", deadline_s=1, what="test")
        locks.unlock(conn, "lgstats.provision")


def test_a_lock_held_elsewhere_fails_at_its_deadline_naming_the_holder(warehouse_url):
    pipeline = role_url(warehouse_url, "pipeline")
    with psycopg.connect(pipeline, autocommit=True, application_name="stuck-loader") as holder, \
            psycopg.connect(pipeline) as waiter:
        locks.advisory(holder, "raw.demo", deadline_s=1, what="holding")
        holder_pid = holder.info.backend_pid
        started = time.monotonic()
        with pytest.raises(locks.LockTimeout) as caught:
            with waiter.transaction():
                locks.advisory(waiter, "raw.demo", xact=True, deadline_s=1.5, what="loading raw.demo")
        assert time.monotonic() - started < 10
        message = str(caught.value)
        assert "loading raw.demo" in message and f"pid {holder_pid}" in message
        assert "lgstats_pipeline" in message and "stuck-loader" in message
        assert "LGSTATS_LOCK_DEADLINE_SECONDS" in message
        locks.unlock(holder, "raw.demo")
        with waiter.transaction():  # free again: taken at once
            locks.advisory(waiter, "raw.demo", xact=True, deadline_s=1, what="loading raw.demo")


def test_a_reader_that_lifts_its_timeouts_and_holds_a_mart_is_ended_and_the_build_goes_on(warehouse_url, caplog):
    pipeline = role_url(warehouse_url, "pipeline")
    with psycopg.connect(pipeline, autocommit=True) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute("create table marts.demo as select 1 as x")
        conn.execute("grant usage on schema marts to lgstats_bi")
        conn.execute("grant select on marts.demo to lgstats_bi")
    reader = psycopg.connect(role_url(warehouse_url, "bi"))
    reader.execute("set statement_timeout = 0")  # what PostgreSQL lets any role do
    reader.execute("set idle_in_transaction_session_timeout = 0")
    assert reader.execute("select x from marts.demo").fetchone() == (1,)  # ACCESS SHARE, held: idle in transaction

    done: dict[str, object] = {}

    def rebuild() -> None:  # what dbt does to a table mart: an ACCESS EXCLUSIVE lock
        try:
            with psycopg.connect(pipeline, autocommit=True) as conn:
                conn.execute("alter table marts.demo rename to demo_old")
                conn.execute("alter table marts.demo_old rename to demo")
            done["ok"] = True
        except Exception as exc:  # reported below
            done["error"] = exc

    builder = threading.Thread(target=rebuild)
    builder.start()
    builder.join(timeout=3)
    assert builder.is_alive(), "the rebuild should be waiting for the reader's lock"
    caplog.set_level(logging.WARNING, logger="lgstats.core.reader_guard")
    with reader_guard.watching(lambda: psycopg.connect(pipeline, autocommit=True), every=0.5, grace="2 seconds"):
        builder.join(timeout=60)
    assert done == {"ok": True}
    assert any("lgstats_bi" in r.getMessage() and "held a lock the pipeline waited for" in r.getMessage()
               for r in caplog.records)
    with pytest.raises(psycopg.OperationalError):
        reader.execute("select 1")
    reader.close()


def test_the_guard_ends_only_reader_sessions_and_only_the_pipeline_may_call_it(warehouse_url):
    pipeline = role_url(warehouse_url, "pipeline")
    with psycopg.connect(pipeline, autocommit=True) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute("create table marts.demo2 as select 1 as x")
    holder = psycopg.connect(pipeline)  # a pipeline session blocking another: the guard's business it is not
    holder.execute("select x from marts.demo2").fetchone()
    waiter = threading.Thread(target=lambda: psycopg.connect(pipeline, autocommit=True).execute(
        "alter table marts.demo2 add column y int"))
    waiter.start()
    time.sleep(1.5)
    with psycopg.connect(pipeline, autocommit=True) as guard:
        assert reader_guard.end_overrunning(guard, grace="0 seconds") == []
    assert holder.execute("select 1").fetchone() == (1,)  # still alive
    holder.rollback()
    holder.close()
    waiter.join(timeout=10)
    for role in ("bi", "analyst"):
        with psycopg.connect(role_url(warehouse_url, role), autocommit=True) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("select * from {}.end_reader_sessions('0 seconds')").format(
                    sql.Identifier(reader_guard.SCHEMA)))


def test_a_readers_own_password_change_is_detected_and_repaired_at_the_next_start(warehouse_url, caplog):
    bi = role_url(warehouse_url, "bi")
    with psycopg.connect(bi, autocommit=True) as conn:  # PostgreSQL lets every role change its own password
        conn.execute("set default_transaction_read_only = off")
        conn.execute("alter role lgstats_bi password 'the-reader-changed-it-1234'")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(bi, connect_timeout=5)
    caplog.set_level(logging.WARNING, logger="lgstats.core.access")
    access.provision(warehouse_url, warehouse_url.rsplit("/", 1)[1], Settings(home=Path(tempfile.gettempdir())),
                     embedded=False)
    assert any("lgstats_bi could not log in" in r.getMessage() for r in caplog.records)
    with psycopg.connect(bi, connect_timeout=5) as conn:  # BI tools are back in
        assert conn.execute("select current_user").fetchone() == ("lgstats_bi",)
