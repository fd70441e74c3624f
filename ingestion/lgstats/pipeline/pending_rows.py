"""The validate step's staging area, ``pending.<table>``: the snapshot is parsed once, its rows streamed there
with COPY, the GX suite reads them back as a frame, and the load step publishes them (loading.publish_staged)
without parsing again. A snapshot that fails validation leaves nothing staged."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

import psycopg
from psycopg import sql

from lgstats.core import locks
from lgstats.core.settings import get_settings
from lgstats.pipeline.schema import bootstrap, ensure_pending_table, ensure_raw_table
from lgstats.pipeline.snapshots import Snapshot


def in_column_order(rows: Iterable, names: list[str]) -> Iterator:
    """Rows as sequences in COPY order: tuples pass through, dicts are picked by column name."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return iter(())
    if isinstance(first, dict):
        return (tuple(r[n] for n in names) for r in itertools.chain([first], rows))
    return itertools.chain([first], rows)


def stage_snapshot(conn: psycopg.Connection, snapshot: Snapshot, table: str, columns: list[tuple[str, str]],
                   rows: Iterable) -> int:
    """The validate step's single parse: stream the rows into ``pending.<table>`` (the previous contents of
    which, from any snapshot, are dropped first) and commit, so the load step publishes them without parsing."""
    bootstrap(conn)
    names = [n for n, _ in columns]
    with conn.transaction():
        locks.advisory(conn, f"raw.{table}", xact=True, deadline_s=get_settings().lock_deadline_seconds,
                       what=f"loading raw.{table}")
        ensure_raw_table(conn, table, columns)
        ensure_pending_table(conn, table)
        conn.execute(sql.SQL("delete from pending.{}").format(sql.Identifier(table)))
        count = 0
        copy_sql = sql.SQL("copy pending.{} ({}) from stdin").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names)))
        with conn.cursor() as cur, cur.copy(copy_sql) as copy:
            for row in in_column_order(rows, names):
                copy.write_row(row)
                count += 1
    return count


def staged_frame(conn: psycopg.Connection, table: str, columns: list[tuple[str, str]], keep: list[str],
                 categorical: set[str] = frozenset()):
    """The staged rows' ``keep`` columns as a DataFrame, read back with COPY (C speed, no second parse):
    integers and numerics as numbers, booleans as booleans, NULL as missing, text as text."""
    import io

    import pandas as pd

    types = dict(columns)
    keep = [c for c in keep if c in types]
    query = sql.SQL("copy (select {} from pending.{}) to stdout with (format csv, header, null '\\N')").format(
        sql.SQL(", ").join(map(sql.Identifier, keep)), sql.Identifier(table))
    buf = io.BytesIO()
    with conn.cursor() as cur, cur.copy(query) as copy:
        for data in copy:
            buf.write(data)
    buf.seek(0)
    dtypes = {c: ("category" if c in categorical else str) for c in keep}
    frame = pd.read_csv(buf, dtype=dtypes, keep_default_na=False, na_values=["\\N"])
    for c in keep:
        kind = types[c].split()[0]
        if kind in ("integer", "bigint", "numeric"):
            frame[c] = pd.to_numeric(frame[c].astype(object), errors="coerce")
        elif kind == "boolean":
            frame[c] = frame[c].map({"t": True, "f": False})
    return frame


def discard_staged(conn: psycopg.Connection, table: str) -> None:
    """A snapshot that failed validation leaves nothing staged."""
    if conn.execute("select to_regclass(%s)", (f"pending.{table}",)).fetchone()[0] is not None:
        conn.execute(sql.SQL("delete from pending.{}").format(sql.Identifier(table)))
        conn.commit()
