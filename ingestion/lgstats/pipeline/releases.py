"""Releases: what a report cites. ``lgstats release`` copies the marts, as they are, into schema
``release_<id>`` (``2026-12-04``, then ``2026-12-04.2`` on the same day), records the commit and the snapshots
behind it in ``ops.releases`` and what changed against the previous release in ``ops.release_changes``, and points
the ``releases`` views at it. The copy is never written again: readers may only select, and a trigger refuses
the owner's writes. Exports (CSV, Parquet, data package, changelog) are ``release_exports``'s job.
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg import sql

from lgstats.core import locks
from lgstats.core.credentials import ROLES
from lgstats.core.settings import PROJECT_DIR, Settings, get_settings

log = logging.getLogger(__name__)

FACT = "fct_observation"  # the changelog's grain: one observation of one indicator in one area
LATEST_SCHEMA = "releases"
RELEASE_ID = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\.(\d+))?$")
# what a revision is: the published value and how it is qualified (a new snapshot id or load time alone is not)
COMPARED = ("value", "value_text", "value_qualifier", "unit", "nature")
RELEASE_SORT_MEMORY = "256MB"  # a release transaction's work_mem and maintenance_work_mem
KEY = ("series_code", "area_code", "year", "period", "disaggregation", "reporting_type")


class ReleaseError(RuntimeError):
    pass


@dataclass
class Release:
    release_id: str
    schema_name: str
    published_at: datetime
    previous_release_id: str | None
    marts: dict[str, int]
    snapshot_ids: list[str]
    git_commit: str | None
    changes: dict[str, int] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    alongside: Any = None  # what publish(alongside=...) started


def schema_name(release_id: str) -> str:
    if not RELEASE_ID.match(release_id):
        raise ReleaseError(f"{release_id!r} is not a release id (YYYY-MM-DD or YYYY-MM-DD.N)")
    return "release_" + release_id.replace("-", "_").replace(".", "_")


def next_release_id(conn: psycopg.Connection, today: date) -> str:
    day = today.isoformat()
    taken = {r[0] for r in conn.execute("select release_id from ops.releases where release_id like %s",
                                        (day + "%",))}
    if day not in taken:
        return day
    n = 2
    while f"{day}.{n}" in taken:
        n += 1
    return f"{day}.{n}"


def short_commit(commit: str | None) -> str:
    """The first 12 hex digits, keeping a ``-dirty`` mark."""
    if not commit:
        return "unknown"
    return commit[:12] + ("-dirty" if commit.endswith("-dirty") else "")


def git_commit() -> str | None:
    """The checkout's commit, marked ``-dirty`` when files differ from it (a release must say so)."""
    try:
        head = subprocess.run(["git", "-C", str(PROJECT_DIR), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(PROJECT_DIR), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        return None


def built_marts(conn: psycopg.Connection) -> list[str]:
    """The marts the catalogue declares that the warehouse holds (a mart never built is not released)."""
    from lgstats.pipeline import marts

    declared = marts.names()
    present = {r[0] for r in conn.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' and table_type = 'BASE TABLE'")}
    return [m for m in declared if m in present]


def _copy_table(conn: psycopg.Connection, schema: str, mart: str) -> int:
    """Copy one mart with its comments, constraints and indexes (created after the rows: faster); make it
    read-only by trigger."""
    src, dst = sql.Identifier("marts", mart), sql.Identifier(schema, mart)
    conn.execute(sql.SQL("create table {} (like {} including comments including constraints including defaults)")
                 .format(dst, src))
    rows = conn.execute(sql.SQL("insert into {} select * from {}").format(dst, src)).rowcount
    comment = conn.execute("select obj_description(%s::regclass, 'pg_class')", (f"marts.{mart}",)).fetchone()[0]
    if comment:
        conn.execute(sql.SQL("comment on table {} is {}").format(dst, sql.Literal(comment)))
    for (definition,) in conn.execute("select indexdef from pg_indexes where schemaname = 'marts' and tablename = %s",
                                      (mart,)).fetchall():
        # CREATE [UNIQUE] INDEX name ON marts.t USING ... → the same on the release's table, named by PostgreSQL
        body = definition.split(" ON ", 1)[1].split(" USING ", 1)[1]
        unique = "UNIQUE " if definition.startswith("CREATE UNIQUE") else ""
        conn.execute(sql.SQL(f"create {unique}index on {{}} using {body}").format(dst))
    conn.execute(sql.SQL("create trigger release_is_immutable before insert or update or delete or truncate on {} "
                         "for each statement execute function ops.refuse_release_write()").format(dst))
    return rows


def _grant_readers(conn: psycopg.Connection, schema: str) -> None:
    readers = sql.SQL(", ").join(sql.Identifier(ROLES[r]) for r in ("analyst", "bi"))
    conn.execute(sql.SQL("revoke all on schema {} from public").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(schema), readers))
    conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(sql.Identifier(schema), readers))


def fingerprint_query(schema: str) -> sql.Composed:
    """Per source dataset of a release's fct_observation: its rows and the XOR of a 64-bit hash of each row's
    observation_id and compared values (ids are unique, so no two rows cancel). Equal for a dataset in two
    releases: its rows are the same (short of a 64-bit collision), and the changelog need not join them."""
    row = sql.SQL(", ").join(map(sql.Identifier, ("observation_id", *COMPARED)))
    return sql.SQL("select source_dataset, count(*), bit_xor(hashtextextended(row({})::text, 0)) from {} "
                   "group by 1").format(row, sql.Identifier(schema, FACT))


def moved_datasets(old: dict | None, new: dict) -> list[str] | None:
    """The source datasets whose fingerprint differs between two releases (None: unknown, compare all)."""
    if old is None:
        return None
    return sorted(d for d in old.keys() | new.keys() if old.get(d) != new.get(d))


def _worth_filtering(moved: list[str] | None, fingerprint: dict) -> list[str] | None:
    """Compare only the moved datasets while they hold at most a quarter of the rows; past that, reading every
    row once costs less than filtering (measured at 10M, docs/performance.md)."""
    if moved is None:
        return None
    total = sum(n for n, _ in fingerprint.values()) or 1
    return moved if sum(fingerprint.get(d, [0])[0] for d in moved) <= total / 4 else None


def changes_query(old_schema: str, new_schema: str, datasets: list[str] | None = None) -> sql.Composed:
    """Every observation added, removed or revised from one release's fct_observation to another's, and every
    series that appears or vanishes: columns as ``ops.release_changes`` after its two release ids. Only the rows
    of ``datasets`` are compared when given (the others are the same in both: ``moved_datasets``); a row that
    moves from one dataset to another changes both, so both are compared."""
    old, new = sql.Identifier(old_schema, FACT), sql.Identifier(new_schema, FACT)
    key = sql.SQL(", ").join(sql.SQL("coalesce(n.{0}, o.{0}) as {0}").format(sql.Identifier(c)) for c in KEY)
    differs = sql.SQL(" or ").join(sql.SQL("o.{0} is distinct from n.{0}").format(sql.Identifier(c))
                                   for c in COMPARED)
    only = sql.SQL("") if datasets is None else sql.SQL(" where source_dataset = any({})").format(
        sql.Literal(list(datasets)))
    # a series appears only with rows added, and vanishes only with rows removed: look for those series alone,
    # in the other release's table by its (series_code, ...) index
    return sql.SQL("""
        with c as materialized (
            select case when o.observation_id is null then 'added' when n.observation_id is null then 'removed'
                        else 'revised' end as change,
                   {key},
                   coalesce(n.observation_id, o.observation_id) as observation_id,
                   o.value as old_value, n.value as new_value, o.value_text as old_value_text,
                   n.value_text as new_value_text, o.unit as old_unit, n.unit as new_unit
            from (select * from {old}{only}) as o full join (select * from {new}{only}) as n
                 on n.observation_id = o.observation_id
            where o.observation_id is null or n.observation_id is null or {differs})
        select * from c
        union all
        select change, series_code, null, null, null, null, null, null, null, null, null, null, null, null
        from (select 'series_added' as change, s.series_code
              from (select distinct series_code from c where change = 'added') as s
              where not exists (select from {old} as x where x.series_code = s.series_code)
              union all
              select 'series_removed', s.series_code
              from (select distinct series_code from c where change = 'removed') as s
              where not exists (select from {new} as x where x.series_code = s.series_code)) as series
    """).format(key=key, old=old, new=new, only=only, differs=differs)


CHANGE_COLUMNS = ("change", *KEY, "observation_id", "old_value", "new_value", "old_value_text", "new_value_text",
                  "old_unit", "new_unit")


def _point_latest(conn: psycopg.Connection, schema: str, marts: list[str]) -> None:
    """``releases.<mart>`` read the newest release; ``releases.latest`` (bootstrap DDL) says which it is."""
    for (view,) in conn.execute("select table_name from information_schema.views where table_schema = %s "
                                "and table_name <> 'latest'", (LATEST_SCHEMA,)).fetchall():
        conn.execute(sql.SQL("drop view {}").format(sql.Identifier(LATEST_SCHEMA, view)))
    for mart in marts:
        conn.execute(sql.SQL("create view {} as select * from {}").format(
            sql.Identifier(LATEST_SCHEMA, mart), sql.Identifier(schema, mart)))
        conn.execute(sql.SQL("comment on view {} is {}").format(
            sql.Identifier(LATEST_SCHEMA, mart),
            sql.Literal(f"{mart} of the latest release ({schema}); each release's own copy stays in its schema")))
    _grant_readers(conn, LATEST_SCHEMA)


def _drop_old(conn: psycopg.Connection, keep: int) -> list[str]:
    """Drop the schemas of all but the newest ``keep`` releases (their ops rows and files stay)."""
    old = conn.execute("select release_id, schema_name from ops.releases where dropped_at is null "
                       "order by published_at desc offset %s", (keep,)).fetchall()
    for release_id, schema in old:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
        conn.execute("update ops.releases set dropped_at = now() where release_id = %s", (release_id,))
    return [r for r, _ in old]


def publish(settings: Settings | None = None, *, today: date | None = None,
            progress: Callable[[str], None] = log.info, alongside: Callable[[str, str, list[str]], Any] | None = None
            ) -> Release:
    """Copy the marts into a new release schema and record it, in one transaction: a failed release leaves
    nothing behind, and readers see either the previous release or this one, whole.

    ``alongside(snapshot, release_id, marts)``, when given, is called once the marts are locked, with the name of
    this transaction's snapshot (``pg_export_snapshot``): work that must read exactly the rows released (the
    files) starts there and runs while PostgreSQL copies. What it returns is kept as ``Release.alongside``; its
    ``cancel()`` is called if the release fails."""
    from lgstats.core import warehouse
    from lgstats.pipeline import schema as ddl

    s = settings or get_settings()
    commit = git_commit()
    with warehouse.connect(s) as conn:
        ddl.bootstrap(conn)
        # a session lock (it ends with this connection), taken before the release's transaction: that
        # transaction's snapshot must come after the marts' locks (repeatable read takes it at the first query),
        # so nothing may be queried in it before them
        locks.advisory(conn, "lgstats.release", deadline_s=s.lock_deadline_seconds, what="publishing a release")
        marts = built_marts(conn)
        if FACT not in marts:
            raise ReleaseError("marts.fct_observation does not exist: build the warehouse first (lgstats run)")
        conn.commit()
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        started: list = []

        def start(snapshot: str, release_id: str, names: list[str]):
            if alongside is not None:
                started.append(alongside(snapshot, release_id, names))
                return started[-1]
            return None

        try:
            with conn.transaction():
                # lock every mart before the first read, so the copy is one state of all of them: a build
                # swapping a table meanwhile waits for this transaction
                conn.execute(sql.SQL("lock table {} in access share mode").format(
                    sql.SQL(", ").join(sql.Identifier("marts", m) for m in marts)))
                release = _publish_locked(conn, s, marts, commit, today, progress, start)
        except BaseException:
            for handle in started:
                handle.cancel()
            raise
    return release


def _publish_locked(conn: psycopg.Connection, s: Settings, marts: list[str], commit: str | None,
                    today: date | None, progress: Callable[[str], None], alongside) -> Release:
    conn.execute("set local timezone = 'UTC'")
    # more memory for this transaction's sorts: the copies' index builds and the changes' join (docs/performance.md)
    conn.execute(sql.SQL("set local maintenance_work_mem = {}").format(sql.Literal(RELEASE_SORT_MEMORY)))
    conn.execute(sql.SQL("set local work_mem = {}").format(sql.Literal(RELEASE_SORT_MEMORY)))
    release_id = next_release_id(conn, today or datetime.now(UTC).date())
    snapshot = conn.execute("select pg_export_snapshot()").fetchone()[0]
    handle = alongside(snapshot, release_id, marts)
    schema = schema_name(release_id)
    previous = conn.execute("select release_id, schema_name, fct_fingerprint from ops.releases "
                            "where dropped_at is null order by published_at desc limit 1").fetchone()
    conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
    counts = {}
    for i, mart in enumerate(marts, 1):
        counts[mart] = _copy_table(conn, schema, mart)
        progress(f"  [{i}/{len(marts)}] {schema}.{mart}: {counts[mart]:,} rows")
    conn.execute(sql.SQL("comment on schema {} is {}").format(
        sql.Identifier(schema), sql.Literal(f"lgstats release {release_id}: an immutable copy of the marts "
                                            f"(ops.releases; commit {commit or 'unknown'})")))
    _grant_readers(conn, schema)
    # the snapshots the build holds (the newest of each dataset, every member file), not every one loaded
    snapshot_ids = [r[0] for r in conn.execute(
        "select snapshot_id from ops.observation_snapshots order by snapshot_id")]
    fingerprint = {d: [n, h] for d, n, h in conn.execute(fingerprint_query(schema))}
    row = conn.execute(
        "insert into ops.releases (release_id, schema_name, git_commit, snapshot_ids, marts, "
        "previous_release_id, fct_fingerprint) values (%s, %s, %s, %s, %s, %s, %s) returning published_at",
        (release_id, schema, commit, snapshot_ids, psycopg.types.json.Jsonb(counts),
         previous[0] if previous else None, psycopg.types.json.Jsonb(fingerprint))).fetchone()
    changes: dict[str, int] = {}
    moved = moved_datasets(previous[2], fingerprint) if previous else []
    if previous and moved != []:
        progress(f"  changes against release {previous[0]}: comparing "
                 + (f"{len(moved)} source datasets whose rows moved ({', '.join(moved)})" if moved is not None
                    else "every source dataset"))
        conn.execute(sql.SQL("insert into ops.release_changes (release_id, previous_release_id, {cols}) "
                             "select {rid}, {pid}, * from ({q}) as c").format(
            cols=sql.SQL(", ").join(map(sql.Identifier, CHANGE_COLUMNS)), rid=sql.Literal(release_id),
            pid=sql.Literal(previous[0]),
            q=changes_query(previous[1], schema, _worth_filtering(moved, fingerprint))))
        changes = dict(conn.execute("select change, count(*) from ops.release_changes where release_id = %s "
                                    "group by change", (release_id,)).fetchall())
    _point_latest(conn, schema, marts)
    dropped = _drop_old(conn, s.releases_keep)
    return Release(release_id, schema, row[0], previous[0] if previous else None, counts, snapshot_ids, commit,
                   changes, dropped, handle)


def get(conn: psycopg.Connection, release_id: str | None = None) -> dict:
    """One release's row (the newest when ``release_id`` is None)."""
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    if release_id is None:
        row = cur.execute("select * from ops.releases order by published_at desc limit 1").fetchone()
        if row is None:
            raise ReleaseError("no release has been published yet: run `lgstats release`")
        return row
    row = cur.execute("select * from ops.releases where release_id = %s", (release_id,)).fetchone()
    if row is None:
        known = [r[0] for r in conn.execute("select release_id from ops.releases order by published_at desc")]
        raise ReleaseError(f"no release {release_id!r}; published: {', '.join(known) or 'none'}")
    return row


def diff(conn: psycopg.Connection, old_id: str, new_id: str) -> list[dict]:
    """What changed from release ``old_id`` to ``new_id``: computed from their tables while both are in the
    database, else read from ``ops.release_changes`` when ``new_id`` was published right after ``old_id``."""
    old, new = get(conn, old_id), get(conn, new_id)
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    order = sql.SQL(" order by series_code, change, area_code nulls first, year nulls first, period, disaggregation")
    if old["dropped_at"] is None and new["dropped_at"] is None:
        both = old["fct_fingerprint"] is not None and new["fct_fingerprint"] is not None
        moved = _worth_filtering(moved_datasets(old["fct_fingerprint"], new["fct_fingerprint"]),
                                 new["fct_fingerprint"]) if both else None
        return cur.execute(sql.SQL("select * from ({}) as c").format(
            changes_query(old["schema_name"], new["schema_name"], moved)) + order).fetchall()
    if new["previous_release_id"] == old_id:
        return cur.execute(sql.SQL("select {} from ops.release_changes where release_id = %s").format(
            sql.SQL(", ").join(map(sql.Identifier, CHANGE_COLUMNS))) + order, (new_id,)).fetchall()
    gone = [r["release_id"] for r in (old, new) if r["dropped_at"] is not None]
    raise ReleaseError(f"release {' and '.join(gone)} is no longer in the database (LGSTATS_RELEASES_KEEP); "
                       f"compare its exported files instead: {old['export_dir'] or '-'}, {new['export_dir'] or '-'}")
