"""A release's files, under ``$LGSTATS_HOME/releases/<id>/``: each mart as CSV (PostgreSQL's own COPY, streamed) and
Parquet (pyarrow reads that CSV in blocks: memory stays bounded whatever the size), a Frictionless Data Package
(``datapackage.json``: schema from the dbt contracts, descriptions from the dbt docs, sources and licences from the
snapshots, a suggested citation), and what changed against the previous release (``changes.csv``,
``CHANGELOG.md``). Written into a ``.partial`` folder that is renamed when complete: a reader never finds half a
release, and files are never rewritten once there.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

from lgstats.core.settings import Settings, get_settings
from lgstats.pipeline import releases

log = logging.getLogger(__name__)

BLOCK_BYTES = 1 << 20  # pyarrow's CSV block; the reader reads dozens ahead, so this sets the memory it holds
ROW_GROUP_ROWS = 65_536  # Parquet row group: what the writer holds before it writes
FRICTIONLESS_TYPES = {"text": "string", "character varying": "string", "integer": "integer", "bigint": "integer",
                      "smallint": "integer", "numeric": "number", "double precision": "number", "real": "number",
                      "boolean": "boolean", "date": "date", "timestamp with time zone": "datetime",
                      "timestamp without time zone": "datetime", "jsonb": "any", "json": "any"}
CHANGELOG_LINES = 200  # CHANGELOG.md lists this many revised values; changes.csv has every change


def file_stem(code: str) -> str:
    """A series code as a file name (codes keep letters, digits, dots, dashes and underscores)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", code)


def release_dir(s: Settings, release_id: str) -> Path:
    return s.releases / release_id


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    return conn.execute("select column_name, data_type from information_schema.columns where table_schema = %s "
                        "and table_name = %s order by ordinal_position", (schema, table)).fetchall()


def arrow_schema(conn: psycopg.Connection, schema: str, table: str):
    """Arrow types for a release table; numeric columns become exact decimals as wide as their values need."""
    import pyarrow as pa

    cols = _columns(conn, schema, table)
    numeric = [c for c, t in cols if t == "numeric"]
    widths = {}
    if numeric:
        parts = sql.SQL(", ").join(sql.SQL("max(scale({0})), max(length(trunc(abs({0}))::text))").format(
            sql.Identifier(c)) for c in numeric)
        row = conn.execute(sql.SQL("select {} from {}").format(parts, sql.Identifier(schema, table))).fetchone()
        widths = {c: (row[2 * i] or 0, row[2 * i + 1] or 1) for i, c in enumerate(numeric)}
    simple = {"text": pa.string(), "integer": pa.int32(), "bigint": pa.int64(), "smallint": pa.int16(),
              "boolean": pa.bool_(), "date": pa.date32(), "double precision": pa.float64(), "real": pa.float32(),
              "timestamp with time zone": pa.timestamp("us", tz="UTC"), "timestamp without time zone":
              pa.timestamp("us"), "jsonb": pa.string(), "json": pa.string(), "character varying": pa.string()}
    fields = []
    for name, pg_type in cols:
        if pg_type == "numeric":
            scale, digits = widths[name]
            precision = max(1, scale + digits)
            kind = pa.decimal128(precision, scale) if precision <= 38 else (
                pa.decimal256(precision, scale) if precision <= 76 else pa.string())
        else:
            kind = simple.get(pg_type, pa.string())
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


def copy_csv(conn: psycopg.Connection, query: sql.Composable, path: Path, also=None) -> tuple[int, str]:
    """Stream a query's rows to a CSV file with PostgreSQL's COPY (header, NULL as an empty unquoted field,
    an empty string as ""), and to ``also`` (a pipe) if given; returns the bytes written and their md5, taken on
    the way."""
    import hashlib

    written, digest = 0, hashlib.md5(usedforsecurity=False)
    with open(path, "wb") as fh, conn.cursor().copy(
            sql.SQL("copy ({}) to stdout with (format csv, header)").format(query)) as copy:
        for block in copy:
            fh.write(block)
            if also is not None:
                also.write(block)
            digest.update(block)
            written += len(block)
    return written, digest.hexdigest()


def export_table(conn: psycopg.Connection, query: sql.Composable, csv_path: Path, schema) -> dict:
    """CSV and Parquet of one query in one pass: COPY's stream goes to the CSV file and, through a pipe, to the
    Parquet conversion in a thread, so PostgreSQL and pyarrow work at once (two cores, not one after the other).
    A failed conversion still drains the pipe, so COPY never waits on it; its error is raised here."""
    import threading

    read_fd, write_fd = os.pipe()
    outcome: dict = {}

    def convert() -> None:
        with os.fdopen(read_fd, "rb") as pipe:
            try:
                outcome["rows"] = csv_to_parquet(pipe, csv_path.with_suffix(".parquet"), schema)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                outcome["error"] = exc
                while pipe.read(1 << 20):
                    pass

    worker = threading.Thread(target=convert, name=f"parquet-{csv_path.stem}", daemon=True)
    worker.start()
    try:
        with os.fdopen(write_fd, "wb") as pipe:
            size, md5 = copy_csv(conn, query, csv_path, also=pipe)
    finally:
        worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return {"bytes": size, "md5": md5, "rows": outcome["rows"]}


def csv_to_parquet(csv_path, parquet_path: Path, schema) -> int:
    """A CSV file (a path, or a stream such as a pipe), block by block, as Parquet with the table's types;
    returns the rows written. Row groups of about ROW_GROUP_ROWS rows. jemalloc, not the default mimalloc:
    measured, it returns freed blocks to the system and keeps the peak at a third (docs/performance.md)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    pool = _memory_pool()
    reader = pcsv.open_csv(
        csv_path, read_options=pcsv.ReadOptions(block_size=BLOCK_BYTES),
        convert_options=pcsv.ConvertOptions(column_types=schema, true_values=["t"], false_values=["f"],
                                            strings_can_be_null=True, quoted_strings_can_be_null=False,
                                            timestamp_parsers=[pcsv.ISO8601]), memory_pool=pool)
    rows, pending, pending_rows = 0, [], 0
    with pq.ParquetWriter(parquet_path, schema, compression="zstd", memory_pool=pool) as writer:
        for batch in reader:
            pending.append(batch)
            pending_rows += batch.num_rows
            if pending_rows >= ROW_GROUP_ROWS:
                writer.write_table(pa.Table.from_batches(pending, schema), row_group_size=pending_rows)
                rows += pending_rows
                pending, pending_rows = [], 0
        if pending:
            writer.write_table(pa.Table.from_batches(pending, schema), row_group_size=pending_rows)
            rows += pending_rows
    return rows


def _memory_pool():
    import pyarrow as pa

    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc
        return pa.default_memory_pool()


def _field(name: str, pg_type: str, description: str, jsonb_kind: str | None) -> dict:
    field = {"name": name, "type": FRICTIONLESS_TYPES.get(pg_type, "string"), "description": description}
    if field["type"] == "boolean":
        field.update(trueValues=["t"], falseValues=["f"])
    if field["type"] == "datetime":
        field["format"] = "any"  # PostgreSQL's ISO form: 2026-12-04 10:21:21.15066+00
    if jsonb_kind in ("array", "object"):
        field["type"] = jsonb_kind
    return field


def _sources(conn: psycopg.Connection, release: dict) -> list[dict]:
    """The release's snapshots (``ops.releases.snapshot_ids``) as described by its ``dim_snapshot``."""
    rows = conn.execute(sql.SQL(
        "select snapshot_id, source_name, source_url, licence, licence_url, synthetic, retrieved_at, release "
        "from {} where snapshot_id = any(%s) order by snapshot_id").format(
        sql.Identifier(release["schema_name"], "dim_snapshot")), (release["snapshot_ids"],)).fetchall()
    return [{"title": name or sid, "path": url, "snapshot_id": sid, "licence": licence, "licence_url": licence_url,
             "synthetic": bool(synthetic), "retrieved_at": retrieved.isoformat() if retrieved else None,
             "source_release": release}
            for sid, name, url, licence, licence_url, synthetic, retrieved, release in rows]


def _licences(sources: list[dict]) -> list[dict]:
    seen, out = set(), []
    for src in sources:
        key = (src["licence"], src["licence_url"])
        if src["licence"] and key not in seen:
            seen.add(key)
            entry = {"title": src["licence"]}
            if src["licence_url"]:
                entry["path"] = src["licence_url"]
            else:
                entry["name"] = re.sub(r"[^a-z0-9._-]+", "-", src["licence"].lower()).strip("-")[:80] or "unknown"
            out.append(entry)
    return out


def citation(s: Settings, release: dict, title: str | None = None) -> str:
    published = release["published_at"]
    what = f"{title}. " if title else ""
    return (f"{s.publisher} ({published:%Y}). {what}lgstats data release {release['release_id']} "
            f"[data set], published {published:%Y-%m-%d}"
            + (f", commit {releases.short_commit(release['git_commit'])}" if release.get("git_commit") else "") + ".")


def datapackage(conn: psycopg.Connection, s: Settings, release: dict, files: dict[str, dict]) -> dict:
    from lgstats.pipeline import marts as mart_catalogue

    schema = release["schema_name"]
    catalogue = mart_catalogue.catalogue()
    sources = _sources(conn, release)
    resources = []
    for mart, info in files.items():
        declared = catalogue.get(mart, {"description": "", "columns": {}})
        fields = []
        for name, pg_type in _columns(conn, schema, mart):
            kind = None
            if pg_type in ("jsonb", "json"):
                kinds = {r[0] for r in conn.execute(sql.SQL("select distinct jsonb_typeof({}::jsonb) from {}").format(
                    sql.Identifier(name), sql.Identifier(schema, mart))) if r[0]}
                kind = kinds.pop() if len(kinds) == 1 else None
            column = declared["columns"].get(name, {})
            fields.append(_field(name, column.get("data_type") or pg_type, column.get("description", ""), kind))
        resource = {"name": mart, "path": f"data/{mart}.csv", "format": "csv", "mediatype": "text/csv",
                    "encoding": "utf-8", "title": mart, "description": declared["description"].strip(),
                    "bytes": info["bytes"], "hash": f"md5:{info['md5']}", "schema": {"fields": fields},
                    "parquet": f"data/{mart}.parquet", "rows": info["rows"]}
        if mart == releases.FACT:
            resource["schema"]["primaryKey"] = ["observation_id"]
        resources.append(resource)
    return {
        "name": "lgstats-release-" + release["release_id"].replace(".", "-"),
        "id": f"lgstats:{release['release_id']}",
        "title": f"lgstats data release {release['release_id']}",
        "description": "The marts of the lgstats warehouse of Asia-Pacific local-government statistics, as published "
                       "in this release. Every row names its source snapshot (snapshot_id), which `sources` traces to "
                       "its URL, retrieval time and licence. Sources marked synthetic hold no real statistics.",
        "version": release["release_id"],
        "created": release["published_at"].isoformat(),
        "profile": "data-package",
        "licenses": _licences(sources),
        "sources": sources,
        "citation": citation(s, release),
        "git_commit": release["git_commit"],
        "snapshot_ids": release["snapshot_ids"],
        "resources": resources,
    }


def indicator_files(conn: psycopg.Connection, release: dict, target: Path,
                    progress: Callable[[str], None] = log.info) -> Path:
    """Each indicator's observations in a release, alone, as CSV and Parquet (what its page links to), written
    once per release into ``target/<release id>/`` (a ``.partial`` folder renamed when complete). Not part of
    ``lgstats release`` itself: derived from the immutable release schema when the pages are first built, so the
    release stays one pass over each mart (docs/performance.md)."""
    final = target / release["release_id"]
    if final.exists():
        return final
    work = final.with_name(final.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    fact = sql.Identifier(release["schema_name"], releases.FACT)
    codes = [r[0] for r in conn.execute(sql.SQL("select distinct series_code from {} order by 1").format(fact))]
    parquet_schema = arrow_schema(conn, release["schema_name"], releases.FACT)
    for i, code in enumerate(codes, 1):
        csv_path = work / f"{file_stem(code)}.csv"
        export_table(conn, sql.SQL("select * from {} where series_code = {} order by area_code, year, period, "
                                   "disaggregation").format(fact, sql.Literal(code)), csv_path, parquet_schema)
        if i % 50 == 0 or i == len(codes):
            progress(f"  indicator files of release {release['release_id']}: {i}/{len(codes)}")
    os.replace(work, final)
    return final


def _write_changes(conn: psycopg.Connection, release: dict, out: Path) -> dict[str, int]:
    cols = sql.SQL(", ").join(map(sql.Identifier, ("release_id", "previous_release_id", *releases.CHANGE_COLUMNS)))
    copy_csv(conn, sql.SQL("select {} from ops.release_changes where release_id = {} order by series_code, change, "
                           "area_code nulls first, year nulls first, period, disaggregation").format(
        cols, sql.Literal(release["release_id"])), out / "changes.csv")
    return dict(conn.execute("select change, count(*) from ops.release_changes where release_id = %s group by 1",
                             (release["release_id"],)).fetchall())


def changelog_markdown(s: Settings, release: dict, counts: dict[str, int], by_series: list[tuple],
                       revised: list[tuple], previous: dict | None) -> str:
    lines = [f"# lgstats data release {release['release_id']}", "",
             f"Published {release['published_at']:%Y-%m-%d %H:%M} UTC from commit "
             f"`{release['git_commit'] or 'unknown'}`; {len(release['snapshot_ids'])} snapshots.", "",
             f"Cite as: {citation(s, release)}", ""]
    if previous is None:
        lines += ["This is the first release: nothing to compare with.", ""]
    else:
        lines += [f"## Changes since release {previous['release_id']}", "",
                  "| change | count |", "| --- | ---: |"]
        lines += [f"| {c} | {counts.get(c, 0):,} |" for c in ("added", "removed", "revised", "series_added",
                                                              "series_removed")]
        lines += ["", "### Per indicator", "", "| indicator | added | removed | revised | areas | note |",
                  "| --- | ---: | ---: | ---: | ---: | --- |"]
        for code, added, removed, revised_n, areas, note in by_series:
            lines.append(f"| `{code}` | {added:,} | {removed:,} | {revised_n:,} | {areas:,} | {note or ''} |")
        if revised:
            lines += ["", "### Revised values (old → new)", ""]
            for code, area, year, period, disagg, old, new, old_t, new_t in revised[:CHANGELOG_LINES]:
                shown_old = old if old is not None else old_t
                shown_new = new if new is not None else new_t
                lines.append(f"- `{code}` {area} {period or year} {disagg}: {shown_old} → {shown_new}")
            if len(revised) > CHANGELOG_LINES:
                lines.append(f"- … and {len(revised) - CHANGELOG_LINES:,} more in changes.csv")
        lines += ["", "Every change, one row each: `changes.csv` (and `ops.release_changes` in the warehouse)."]
    lines += ["", "## Marts", "", "| mart | rows |", "| --- | ---: |"]
    lines += [f"| {m} | {n:,} |" for m, n in sorted(release["marts"].items())]
    return "\n".join(lines) + "\n"


def write_data(conn: psycopg.Connection, schema: str, marts: list[str], folder: Path,
               progress: Callable[[str], None] = log.info) -> dict[str, dict]:
    """Each mart of ``schema`` as ``folder/<mart>.csv`` and ``.parquet``: bytes, md5 and rows of each."""
    files = {}
    for i, mart in enumerate(sorted(marts), 1):
        files[mart] = export_table(conn, sql.SQL("select * from {}").format(sql.Identifier(schema, mart)),
                                   folder / f"{mart}.csv", arrow_schema(conn, schema, mart))
        progress(f"  [{i}/{len(marts)}] data/{mart}.csv + .parquet: {files[mart]['rows']:,} rows")
    return files


class FilesAlongside:
    """A release's data files, written in a thread while the release is published: read from ``marts`` under the
    publishing transaction's own snapshot (``set transaction snapshot``), so they hold exactly the rows it copies,
    and PostgreSQL copies while the files are written (docs/performance.md)."""

    def __init__(self, s: Settings, snapshot: str, release_id: str, marts: list[str],
                 progress: Callable[[str], None]) -> None:
        import threading

        from lgstats.core import warehouse

        self.work = _partial(release_dir(s, release_id))
        self.conn = warehouse.connect(s)
        self.conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        self.conn.read_only = True
        # imported now, while the publishing transaction is open (the only time it can be)
        self.conn.execute(sql.SQL("set transaction snapshot {}").format(sql.Literal(snapshot)))
        self.conn.execute("set local timezone = 'UTC'")
        self.outcome: dict = {}

        def run() -> None:
            try:
                self.outcome["files"] = write_data(self.conn, "marts", marts, self.work / "data", progress)
            except BaseException as exc:  # noqa: BLE001 - re-raised by result()
                self.outcome["error"] = exc

        self.thread = threading.Thread(target=run, name=f"release-files-{release_id}", daemon=True)
        self.thread.start()

    def result(self) -> dict[str, dict]:
        self.thread.join()
        self.conn.close()
        if "error" in self.outcome:
            raise self.outcome["error"]
        return self.outcome["files"]

    def cancel(self) -> None:
        """The release failed: stop the COPY, and leave no files."""
        self.conn.cancel_safe()
        self.thread.join()
        self.conn.close()
        shutil.rmtree(self.work, ignore_errors=True)


def _partial(final: Path, fresh: bool = True) -> Path:
    """The folder a release's files are written into before it is renamed ``final`` (emptied when ``fresh``)."""
    work = final.with_name(final.name + ".partial")
    if fresh:
        shutil.rmtree(work, ignore_errors=True)
        (work / "data").mkdir(parents=True)
    return work


def publish_and_export(settings: Settings | None = None, progress: Callable[[str], None] = log.info
                       ) -> tuple[releases.Release, Path]:
    """Publish a release and write its files at once (``lgstats release``, the build's last task)."""
    s = settings or get_settings()
    rel = releases.publish(s, progress=progress,
                           alongside=lambda snapshot, release_id, marts: FilesAlongside(
                               s, snapshot, release_id, marts, progress))
    fix = f"Fix: lgstats release export {rel.release_id} writes them again from the release's schema"
    try:
        files = rel.alongside.result()
    except Exception as exc:
        raise releases.ReleaseError(f"release {rel.release_id} is published, but writing its files failed: {exc}. "
                                    f"{fix}") from exc
    written = {m: f["rows"] for m, f in files.items()}
    if written != rel.marts:  # one snapshot for both: a difference is a defect, never published as files
        raise releases.ReleaseError(f"release {rel.release_id}: the files hold {written} rows, the release "
                                    f"{rel.marts}; they were not published. {fix}")
    return rel, export(rel.release_id, s, progress=progress, data=files)


def export(release_id: str | None = None, settings: Settings | None = None,
           progress: Callable[[str], None] = log.info, data: dict[str, dict] | None = None) -> Path:
    """Write a release's files (once: an exported release is left as it is). ``data``: its data files are in
    the ``.partial`` folder already (``FilesAlongside``), with these sizes, md5s and rows."""
    from lgstats.core import warehouse

    s = settings or get_settings()
    with warehouse.connect(s) as conn:
        conn.execute("set timezone = 'UTC'")
        release = releases.get(conn, release_id)
        final = release_dir(s, release["release_id"])
        if final.exists():  # complete (it is renamed into place whole): never written again
            if release["exported_at"] is None:
                _mark_exported(conn, release["release_id"], final)
            return final
        if release["dropped_at"] is not None:
            raise releases.ReleaseError(f"release {release['release_id']} is no longer in the database: its files "
                                        f"cannot be written again")
        if data is None:
            work = _partial(final)
            data = write_data(conn, release["schema_name"], list(release["marts"]), work / "data", progress)
        else:
            work = _partial(final, fresh=False)
        package = datapackage(conn, s, release, data)
        (work / "datapackage.json").write_text(json.dumps(package, indent=2, default=str) + "\n", encoding="utf-8")
        counts = _write_changes(conn, release, work)
        previous = releases.get(conn, release["previous_release_id"]) if release["previous_release_id"] else None
        by_series = conn.execute("""
            select series_code, count(*) filter (where change = 'added'), count(*) filter (where change = 'removed'),
                   count(*) filter (where change = 'revised'), count(distinct area_code),
                   string_agg(distinct case change when 'series_added' then 'new series'
                                              when 'series_removed' then 'series vanished' end, ', ')
            from ops.release_changes where release_id = %s group by 1 order by 1""",
                                 (release["release_id"],)).fetchall()
        revised = conn.execute("""
            select series_code, area_code, year, period, disaggregation, old_value, new_value, old_value_text,
                   new_value_text
            from ops.release_changes where release_id = %s and change = 'revised'
            order by series_code, area_code, year, period, disaggregation""", (release["release_id"],)).fetchall()
        (work / "CHANGELOG.md").write_text(changelog_markdown(s, release, counts, by_series, revised, previous),
                                           encoding="utf-8")
        os.replace(work, final)
        _mark_exported(conn, release["release_id"], final)
    return final


def _mark_exported(conn: psycopg.Connection, release_id: str, folder: Path) -> None:
    conn.execute("update ops.releases set export_dir = %s, exported_at = now() where release_id = %s",
                 (str(folder), release_id))
    conn.commit()


def release_after_build(settings: Settings | None = None) -> str:
    """The build's last step: with LGSTATS_RELEASE_AFTER_BUILD on, publish and export a release. A retry after a
    failed export finishes that release instead of publishing another."""
    from lgstats.core import warehouse

    s = settings or get_settings()
    if not s.release_after_build_on:
        return "off (LGSTATS_RELEASE_AFTER_BUILD)"
    from lgstats.pipeline import schema

    with warehouse.connect(s) as conn:
        schema.bootstrap(conn)
        unexported = conn.execute("select release_id from ops.releases where exported_at is null and dropped_at is "
                                  "null order by published_at desc limit 1").fetchone()
    if unexported:
        export(unexported[0], s)
        return unexported[0]
    return publish_and_export(s)[0].release_id
