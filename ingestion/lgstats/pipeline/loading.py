"""Load a validated snapshot into ``raw.<table>`` with psycopg 3 ``COPY``, in one transaction.

Rows stream from the parser straight into COPY, so memory stays bounded whatever the snapshot size.
The transaction replaces the snapshot's rows (keyed by ``snapshot_id``) and records the sidecar and
the load; a failure anywhere rolls all of it back. Loading an unchanged snapshot again changes nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from lgstats.core import locks
from lgstats.core.settings import get_settings
from lgstats.pipeline.pending_rows import in_column_order
from lgstats.pipeline.schema import bootstrap, ensure_raw_table
from lgstats.pipeline.snapshots import SIDECAR, Snapshot


@dataclass
class LoadResult:
    snapshot_id: str
    raw_table: str
    status: str  # loaded | unchanged
    rows: int
    seconds: float


def _already_loaded(conn: psycopg.Connection, snapshot: Snapshot) -> bool:
    row = conn.execute(
        "select md5 from raw.snapshot_origins where snapshot_id = %s", (snapshot.id,)
    ).fetchone()
    return row is not None and row[0] == snapshot.origin["md5"]


def copy_rows(conn: psycopg.Connection, table: str, names: list[str], rows: Iterable,
              progress_every: int = 0) -> int:
    """The one COPY into ``raw.<table>``: rows (tuples in ``names`` order, or dicts) streamed, never held."""
    copy_sql = sql.SQL("copy raw.{} ({}) from stdin").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names)))
    count = 0
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        for row in in_column_order(rows, names):
            copy.write_row(row)
            count += 1
            if progress_every and count % progress_every == 0:
                print(f"  loaded {count:,} rows into raw.{table}", flush=True)
    return count


def load_snapshot(conn: psycopg.Connection, snapshot: Snapshot, table: str, columns: list[tuple[str, str]],
                  rows: Iterable[dict], progress_every: int = 100_000) -> LoadResult:
    started = datetime.now(UTC)
    t0 = time.monotonic()
    bootstrap(conn)
    names = [n for n, _ in columns]
    with conn.transaction():
        locks.advisory(conn, f"raw.{table}", xact=True, deadline_s=get_settings().lock_deadline_seconds,
                       what=f"loading raw.{table}")
        ensure_raw_table(conn, table, columns)
        status, count = _replace_rows(conn, snapshot, table, lambda: copy_rows(conn, table, names, rows,
                                                                               progress_every))
        _record_load(conn, snapshot, table, status, count, started, t0)
    return LoadResult(snapshot.id, f"raw.{table}", status, count, time.monotonic() - t0)


def _replace_rows(conn: psycopg.Connection, snapshot: Snapshot, table: str, write) -> tuple[str, int]:
    """Inside the load's transaction: unless this exact snapshot is loaded already, replace its rows with what
    ``write()`` puts in (returning the row count) and record its origin."""
    if _already_loaded(conn, snapshot):
        return "unchanged", 0
    conn.execute(sql.SQL("delete from raw.{} where snapshot_id = %s").format(sql.Identifier(table)), (snapshot.id,))
    count = write()
    record_origin(conn, snapshot)
    record_period(conn, snapshot, table)
    return "loaded", count


def record_period(conn: psycopg.Connection, snapshot: Snapshot, table: str) -> None:
    """The first and last year of the snapshot's rows, where its raw table has a year (registers and lists
    have none): what the data cover, beside when they were retrieved."""
    if conn.execute("select 1 from information_schema.columns where table_schema = 'raw' and table_name = %s "
                    "and column_name = 'year'", (table,)).fetchone():
        conn.execute(sql.SQL("update raw.snapshot_origins as o set data_first_year = p.first, data_last_year = p.last "
                             "from (select min(year) as first, max(year) as last from raw.{} where snapshot_id = %s) "
                             "as p where o.snapshot_id = %s").format(sql.Identifier(table)),
                     (snapshot.id, snapshot.id))


def _record_load(conn: psycopg.Connection, snapshot: Snapshot, table: str, status: str, count: int, started,
                 t0: float) -> None:
    conn.execute(
        "insert into ops.loads (snapshot_id, raw_table, status, rows, bytes, md5, started_at, duration_s)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s)",
        (snapshot.id, f"raw.{table}", status, count, snapshot.origin.get("bytes"), snapshot.origin["md5"],
         started, round(time.monotonic() - t0, 3)),
    )


def record_origin(conn: psycopg.Connection, snapshot: Snapshot) -> None:
    o = snapshot.origin
    conn.execute(
        """insert into raw.snapshot_origins (snapshot_id, source, dataset, dt, producer, base_url, licence,
               licence_url, synthetic, retrieved_at, md5, bytes, pages, sidecar_path, origin, loaded_at)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
           on conflict (snapshot_id) do update set
               producer = excluded.producer, base_url = excluded.base_url, licence = excluded.licence,
               licence_url = excluded.licence_url, synthetic = excluded.synthetic,
               retrieved_at = excluded.retrieved_at, md5 = excluded.md5, bytes = excluded.bytes,
               pages = excluded.pages, sidecar_path = excluded.sidecar_path, origin = excluded.origin,
               loaded_at = now()""",
        (snapshot.id, o["source"], o["dataset"], str(o["dt"])[:10], o.get("producer"), o.get("base_url"), o["licence"],
         o.get("licence_url"), bool(o.get("synthetic")), o.get("retrieved_at"), o["md5"], o.get("bytes"),
         o.get("pages"), str(snapshot.path / SIDECAR), json.dumps(o)),
    )


def publish_staged(conn: psycopg.Connection, snapshot: Snapshot, table: str,
                   columns: list[tuple[str, str]]) -> LoadResult | None:
    """Move a validated snapshot's staged rows into ``raw.<table>`` in one transaction, with its origin and
    the ops.loads record. None when nothing is staged for it (the caller then parses and loads)."""
    started = datetime.now(UTC)
    t0 = time.monotonic()
    bootstrap(conn)
    names = sql.SQL(", ").join(map(sql.Identifier, [n for n, _ in columns]))
    with conn.transaction():
        locks.advisory(conn, f"raw.{table}", xact=True, deadline_s=get_settings().lock_deadline_seconds,
                       what=f"loading raw.{table}")
        if conn.execute("select to_regclass(%s)", (f"pending.{table}",)).fetchone()[0] is None:
            return None
        staged = conn.execute(sql.SQL("select count(*), bool_and(snapshot_id = %s) from pending.{}").format(
            sql.Identifier(table)), (snapshot.id,)).fetchone()
        if not staged[0] or not staged[1]:
            return None
        ensure_raw_table(conn, table, columns)
        status, count = _replace_rows(conn, snapshot, table, lambda: conn.execute(
            sql.SQL("insert into raw.{} ({}) select {} from pending.{}").format(
                sql.Identifier(table), names, names, sql.Identifier(table))).rowcount)
        conn.execute(sql.SQL("delete from pending.{}").format(sql.Identifier(table)))
        _record_load(conn, snapshot, table, status, count, started, t0)
    return LoadResult(snapshot.id, f"raw.{table}", status, count, time.monotonic() - t0)
