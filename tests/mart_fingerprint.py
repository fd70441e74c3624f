"""A fingerprint of every mart's rows, to hold a refactoring to "the same rows in the marts".

Per mart: the row count, an md5 over the sorted rows, and an md5 per column (so a difference names its column).
What differs between two honest runs of the same data is left out: timestamps (load and retrieval times), the
run's day (``logical_date``; the ``dt=`` date, and for member files time, in snapshot ids) and the sidecar path
(the run's home).

Record the fingerprint of a replay warehouse (after a change to the marts that is meant):

    python -m tests.mart_fingerprint "$(lgstats warehouse url --role analyst)" > tests/fixtures/marts_fingerprint.json
"""

from __future__ import annotations

import json
import sys

import psycopg
from psycopg import sql

VOLATILE_COLUMNS = {("dim_snapshot", "sidecar_path"), ("dim_snapshot", "logical_date")}  # the home; the run day
DT = r"dt=[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{6,12}Z)?"


def _columns(conn: psycopg.Connection, table: str) -> list[str]:
    return [name for name, kind in conn.execute(
        "select column_name, data_type from information_schema.columns where table_schema = 'marts' "
        "and table_name = %s order by ordinal_position", (table,)).fetchall()
        if not kind.startswith("timestamp") and (table, name) not in VOLATILE_COLUMNS]


def _stable(column: str) -> sql.Composable:
    return sql.SQL("regexp_replace({}::text, {}, 'dt=*', 'g')").format(sql.Identifier(column), sql.Literal(DT))


def fingerprint(url: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    with psycopg.connect(url) as conn:
        tables = [t for (t,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1")]
        for table in tables:
            cols = _columns(conn, table)
            row = sql.SQL(" || '|' || ").join(sql.SQL("coalesce({}, '∅')").format(_stable(c)) for c in cols)
            per_column = sql.SQL(", ").join(
                sql.SQL("md5(string_agg(coalesce({s}, '∅'), ',' order by coalesce({s}, '∅')))").format(s=_stable(c))
                for c in cols)
            query = sql.SQL("select count(*), md5(string_agg(r, '\n' order by r)), {per_column} "
                            "from (select {row} as r, * from marts.{table}) as t").format(
                per_column=per_column, row=row, table=sql.Identifier(table))
            count, rows_md5, *col_md5 = conn.execute(query).fetchone()
            out[table] = {"rows": count, "md5": rows_md5, "columns": dict(zip(cols, col_md5, strict=True))}
    return out


def differences(recorded: dict[str, dict], now: dict[str, dict]) -> list[str]:
    """Plain sentences: which mart, and which of its columns, no longer has the recorded rows."""
    problems = []
    for table in sorted(set(recorded) | set(now)):
        if table not in now or table not in recorded:
            problems.append(f"marts.{table}: {'missing now' if table not in now else 'new (not recorded)'}")
            continue
        was, got = recorded[table], now[table]
        if was["md5"] == got["md5"] and was["rows"] == got["rows"]:
            continue
        columns = [c for c in sorted(set(was["columns"]) | set(got["columns"]))
                   if was["columns"].get(c) != got["columns"].get(c)]
        problems.append(f"marts.{table}: {was['rows']} rows recorded, {got['rows']} now; "
                        f"columns that differ: {', '.join(columns) or 'none alone (rows recombined)'}")
    return problems


if __name__ == "__main__":
    json.dump(fingerprint(sys.argv[1]), sys.stdout, indent=1, sort_keys=True)
    print()
