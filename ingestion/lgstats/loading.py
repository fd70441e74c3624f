"""Load a validated snapshot into ``raw.<table>`` with psycopg 3 ``COPY``, in one transaction.

Rows stream from the parser straight into COPY, so memory stays bounded whatever the snapshot size.
The transaction replaces the snapshot's rows (keyed by ``snapshot_id``) and records the sidecar and
the load; a failure anywhere rolls all of it back. Loading an unchanged snapshot again changes nothing.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from lgstats.schema import bootstrap, ensure_raw_table
from lgstats.snapshots import SIDECAR, Snapshot


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


def _in_column_order(rows: Iterable, names: list[str]) -> Iterator:
    """Rows as sequences in COPY order: tuples pass through, dicts are picked by column name."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return iter(())
    if isinstance(first, dict):
        return (tuple(r[n] for n in names) for r in itertools.chain([first], rows))
    return itertools.chain([first], rows)


def copy_rows(conn: psycopg.Connection, table: str, names: list[str], rows: Iterable,
              progress_every: int = 0) -> int:
    """The one COPY into ``raw.<table>``: rows (tuples in ``names`` order, or dicts) streamed, never held."""
    copy_sql = sql.SQL("copy raw.{} ({}) from stdin").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names)))
    count = 0
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        for row in _in_column_order(rows, names):
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
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"raw.{table}",))
        ensure_raw_table(conn, table, columns)
        if _already_loaded(conn, snapshot):
            status, count = "unchanged", 0
        else:
            conn.execute(sql.SQL("delete from raw.{} where snapshot_id = %s").format(sql.Identifier(table)),
                         (snapshot.id,))
            count = copy_rows(conn, table, names, rows, progress_every)
            record_origin(conn, snapshot)
            status = "loaded"
        conn.execute(
            "insert into ops.loads (snapshot_id, raw_table, status, rows, bytes, md5, started_at, duration_s)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s)",
            (snapshot.id, f"raw.{table}", status, count, snapshot.origin.get("bytes"), snapshot.origin["md5"],
             started, round(time.monotonic() - t0, 3)),
        )
    return LoadResult(snapshot.id, f"raw.{table}", status, count, time.monotonic() - t0)


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
