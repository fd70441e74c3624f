"""Warehouse DDL that the pipeline owns, all of it here (dbt owns staging, intermediate and marts): the
``raw`` bookkeeping and every ``ops`` table.

``raw.snapshot_origins`` mirrors every loaded sidecar so any mart row can be traced, through
``snapshot_id``, to its URL, retrieval time, licence and md5. ``ops`` records what ran.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from lgstats.core import locks

BOOTSTRAP = """
create schema if not exists raw;
create schema if not exists ops;
create schema if not exists quarantine;
create schema if not exists pending;  -- parsed rows of a snapshot being validated, published by the load step
create table if not exists raw.snapshot_origins (
    snapshot_id   text primary key,
    source        text not null,
    dataset       text not null,
    dt            date not null,
    producer      text,
    base_url      text,
    licence       text not null,
    licence_url   text,
    synthetic     boolean not null default false,
    retrieved_at  timestamptz,
    md5           text not null,
    bytes         bigint,
    pages         integer,
    sidecar_path  text not null,
    origin        jsonb not null,
    loaded_at     timestamptz not null default now()
);
create table if not exists ops.validations (
    validation_id bigserial primary key,
    snapshot_id   text not null,
    suite         text not null,
    success       boolean not null,
    evaluated     integer,
    failed        integer,
    failures      jsonb,
    report_path   text,
    validated_at  timestamptz not null default now()
);
create table if not exists ops.loads (
    load_id       bigserial primary key,
    snapshot_id   text not null,
    raw_table     text not null,
    status        text not null,
    rows          bigint not null,
    bytes         bigint,
    md5           text,
    started_at    timestamptz not null,
    finished_at   timestamptz not null default now(),
    duration_s    numeric
);
create index if not exists loads_snapshot on ops.loads (snapshot_id, finished_at desc);
create table if not exists ops.runs (
    dag_id        text not null,
    run_id        text not null,
    logical_date  timestamptz,
    started_at    timestamptz,
    finished_at   timestamptz,
    state         text not null,
    tasks         jsonb,
    recorded_by   text not null,
    recorded_at   timestamptz not null default now(),
    primary key (dag_id, run_id)
);
create table if not exists ops.datasets (
    source                 text not null,
    dataset                text not null,
    title                  text,
    owner                  text,
    licence                text,
    raw_table              text,
    expected_refresh_days  integer not null,
    updated_at             timestamptz not null default now(),
    primary key (source, dataset)
);
-- how a dataset's rows become observations (int_registry_observations reads these; the registry writes them)
alter table ops.datasets add column if not exists connector text;
alter table ops.datasets drop column if exists staging_model;  -- one route: no hand-written staging (issue 26)
alter table ops.datasets add column if not exists area_fixed text;
alter table ops.datasets add column if not exists area_scheme text;
alter table ops.datasets add column if not exists time_variable text;
alter table ops.datasets add column if not exists series jsonb;
alter table ops.datasets add column if not exists area_map text;
alter table ops.datasets add column if not exists shape text;
alter table ops.datasets add column if not exists series_prefix text;
alter table ops.datasets add column if not exists series_dimensions jsonb;
alter table ops.datasets add column if not exists series_label text;
alter table ops.datasets add column if not exists disaggregation jsonb;
-- the period the snapshot's data cover (issue 25): a release fetched today may end years ago
alter table raw.snapshot_origins add column if not exists data_first_year integer;
alter table raw.snapshot_origins add column if not exists data_last_year integer;
-- registry datasets whose SELECT failed the probe of the current build: left out of it, named by the run
create table if not exists ops.registry_build_failures (
    source     text not null,
    dataset    text not null,
    error      text not null,
    probed_at  timestamptz not null default now(),
    primary key (source, dataset)
);
create table if not exists ops.alert_failures (
    alert_id      bigserial primary key,
    dag_id        text,
    task_id       text,
    run_id        text,
    http_status   integer,
    detail        text,
    failed_at     timestamptz not null default now()
);
create table if not exists ops.submissions (
    submission_id     text primary key,
    member_code       text not null,
    template          text not null,
    file_name         text,
    md5               text,
    bytes             bigint,
    received_at       timestamptz not null,
    status            text not null,
    rows_total        integer not null default 0,
    rows_loaded       integer not null default 0,
    rows_rejected     integer not null default 0,
    neutralised_cells integer not null default 0,
    message           text,
    report_html       text,
    report_csv        text
);
create table if not exists ops.publish_gates (
    gate_run_id   bigserial primary key,
    checked_at    timestamptz not null default now(),
    passed        boolean not null,
    mode          text not null,
    findings      jsonb,
    checked       jsonb
);
alter table ops.publish_gates add column if not exists info jsonb;
-- Incremental builds (docs/architecture.md, "Incremental work"): the snapshots whose rows the warehouse build
-- can hold (the newest of each dataset, every member submission), and whether each is new since the last
-- build of fct_observation, which records what it published (its post-hook). dbt (the fct_observation
-- filter, the tests' __changed_snapshots__ placeholder) and the publish gates read this view, so a small new
-- snapshot costs work in proportion to its rows.
create table if not exists ops.published_snapshots (
    snapshot_id   text not null,
    loaded_at     timestamptz not null,
    published_at  timestamptz not null default now(),
    primary key (snapshot_id, loaded_at)
);
create or replace view ops.observation_snapshots as
with candidates as (
    select snapshot_id, source, dataset, loaded_at
    from (
        select distinct on (source, dataset) snapshot_id, source, dataset, loaded_at
        from raw.snapshot_origins
        where source <> 'submissions'
        order by source, dataset, dt desc, loaded_at desc
    ) as newest
    union all
    select snapshot_id, source, dataset, loaded_at from raw.snapshot_origins where source = 'submissions'
)
select *, bool_or(changed) over (partition by source_dataset) as dataset_changed  -- replaced whole, as fct is
from (
    select
        c.source || '/' || c.dataset as source_dataset,
        c.snapshot_id,
        c.loaded_at,
        not exists (select 1 from ops.published_snapshots as p
                    where p.snapshot_id = c.snapshot_id and p.loaded_at = c.loaded_at) as changed
    from candidates as c
) as snapshots;
-- Releases (lgstats/pipeline/releases.py): each an immutable copy of the marts in schema release_<id>, with
-- the commit and snapshots behind it; a release dropped from the database (LGSTATS_RELEASES_KEEP) keeps its row
-- and its exported files.
create schema if not exists releases;  -- views over the latest release, for readers and BI
create table if not exists ops.releases (
    release_id           text primary key,
    schema_name          text not null unique,
    published_at         timestamptz not null default now(),
    git_commit           text,
    snapshot_ids         text[] not null,
    marts                jsonb not null,  -- mart -> rows
    previous_release_id  text references ops.releases (release_id),
    export_dir           text,
    exported_at          timestamptz,
    dropped_at           timestamptz
);
-- per source dataset of its fct_observation: rows, and a digest of each row's key and compared values (the
-- changelog joins only the datasets whose digest moved; releases.fingerprint_query)
alter table ops.releases add column if not exists fct_fingerprint jsonb;
-- what changed against the previous release, per indicator and area (one row per observation, or per series
-- for a series appearing or vanishing)
create table if not exists ops.release_changes (
    release_id           text not null references ops.releases (release_id),
    previous_release_id  text not null,
    change               text not null check (change in ('added', 'removed', 'revised', 'series_added',
                                                         'series_removed')),
    series_code          text not null,
    area_code            text,
    year                 integer,
    period               text,
    disaggregation       text,
    reporting_type       text,
    observation_id       text,
    old_value            numeric,
    new_value            numeric,
    old_value_text       text,
    new_value_text       text,
    old_unit             text,
    new_unit             text
);
create index if not exists release_changes_release on ops.release_changes (release_id, series_code, area_code);
create or replace function ops.refuse_release_write() returns trigger language plpgsql as $$
begin
    raise exception 'release table %.% is immutable: publish a new release instead (lgstats release)',
        tg_table_schema, tg_table_name;
end $$;
-- which release the marts are (Superset shows it on every dashboard): one row, also before any release
create or replace view releases.latest as
select r.release_id, r.schema_name, r.published_at, r.git_commit, r.previous_release_id,
       coalesce(p.last_published > r.published_at, r.release_id is null) as marts_changed_since,
       case when r.release_id is null then 'the live marts (no release published yet)'
            when p.last_published > r.published_at then 'the live marts, rebuilt with new snapshots since release '
                                                         || r.release_id
            else 'release ' || r.release_id || ' (no snapshot published since)' end as dashboards_read
from (select max(published_at) as last_published from ops.published_snapshots) as p
left join (select * from ops.releases where dropped_at is null order by published_at desc limit 1) as r on true;
create or replace view ops.freshness as
select
    d.source,
    d.dataset,
    d.owner,
    d.expected_refresh_days,
    o.snapshot_id as last_snapshot,
    (o.origin ->> 'fetch_finished_at')::timestamptz as last_fetched_at,
    o.loaded_at as last_loaded_at,
    -- late: not fetched within the expected refresh (the pipeline's lapse); old release: fetched, but what the
    -- source gave (or the replayed copy) was retrieved or published longer ago than that (the data's age)
    case
        when o.snapshot_id is null then 'never loaded'
        when (o.origin ->> 'fetch_finished_at')::timestamptz
             < now() - make_interval(days => d.expected_refresh_days) then 'late'
        when o.retrieved_at < now() - make_interval(days => d.expected_refresh_days) then 'old release'
        else 'ok'
    end as freshness,
    coalesce(o.origin ->> 'release', 'as retrieved on ' || to_char(o.retrieved_at at time zone 'UTC', 'YYYY-MM-DD'))
        as release,
    o.retrieved_at as release_retrieved_at
from ops.datasets as d
left join ops.observation_snapshots as n on n.source_dataset = d.source || '/' || d.dataset  -- the newest
left join raw.snapshot_origins as o on o.snapshot_id = n.snapshot_id;
"""


def _deadline() -> float:
    from lgstats.core.settings import get_settings

    return get_settings().lock_deadline_seconds


def bootstrap(conn: psycopg.Connection) -> None:
    """Create the pipeline's schemas and tables; safe to run at every start."""
    with conn.transaction():
        locks.advisory(conn, "lgstats.bootstrap", xact=True, deadline_s=_deadline(), what="creating the ops tables")
        conn.execute(BOOTSTRAP)
        _grant_release_readers(conn)


def _grant_release_readers(conn: psycopg.Connection) -> None:
    from lgstats.core.credentials import ROLES

    readers = [ROLES[r] for r in ("analyst", "bi")]
    if len(conn.execute("select 1 from pg_roles where rolname = any(%s)", (readers,)).fetchall()) == len(readers):
        who = sql.SQL(", ").join(map(sql.Identifier, readers))
        conn.execute(sql.SQL("grant usage on schema releases to {}").format(who))
        conn.execute(sql.SQL("grant select on releases.latest to {}").format(who))


def _ddl_lock(conn: psycopg.Connection, table: str) -> None:
    """Two tasks creating the same table at once (a build's set-up beside a load) would clash in the catalog:
    one waits for the other's transaction instead."""
    locks.advisory(conn, f"lgstats.ddl.{table}", xact=True, deadline_s=_deadline(), what=f"creating raw.{table}")


def ensure_raw_table(conn: psycopg.Connection, table: str, columns: list[tuple[str, str]]) -> None:
    _ddl_lock(conn, table)
    cols = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns)
    conn.execute(sql.SQL("create table if not exists raw.{} ({})").format(sql.Identifier(table), cols))
    # a column a newer connector writes, on a table an older one created: altered only when one is missing (an
    # ALTER takes the table's exclusive lock, which every load would otherwise wait for behind the readers)
    existing = {r[0] for r in conn.execute(
        "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped",
        (f"raw.{table}",))}
    for name, kind in columns:
        if name not in existing and "not null" not in kind:
            conn.execute(sql.SQL("alter table raw.{} add column {} {}").format(
                sql.Identifier(table), sql.Identifier(name), sql.SQL(kind)))
    if "series_code" in dict(columns):
        # the models that need one series of the newest snapshot (int_local_governments_counted: SG_GOV_LOGV)
        # look it up instead of scanning the snapshot; the index serves snapshot_id alone as well, so it
        # replaces the one below (dropped where an older warehouse has it)
        conn.execute(sql.SQL("create index if not exists {} on raw.{} (snapshot_id, series_code)").format(
            sql.Identifier(f"{table}__snapshot_series"), sql.Identifier(table)))
        conn.execute(sql.SQL("drop index if exists raw.{}").format(sql.Identifier(f"{table}__snapshot")))
    else:
        conn.execute(sql.SQL("create index if not exists {} on raw.{} (snapshot_id)").format(
            sql.Identifier(f"{table}__snapshot"), sql.Identifier(table)))


def ensure_pending_table(conn: psycopg.Connection, table: str) -> None:
    """``pending.<table>``: the raw table's twin, where the validate step stages a snapshot's rows."""
    _ddl_lock(conn, f"pending.{table}")
    conn.execute(sql.SQL("create table if not exists pending.{} (like raw.{})").format(
        sql.Identifier(table), sql.Identifier(table)))
    conn.execute(  # a column raw gained since the twin was made (ensure_raw_table): the twin gains it too
        sql.SQL("""do $$ declare c record; begin
            for c in select a.attname, format_type(a.atttypid, a.atttypmod) as kind from pg_attribute as a
                     where a.attrelid = {raw}::regclass and a.attnum > 0 and not a.attisdropped
                       and a.attname not in (select attname from pg_attribute
                                             where attrelid = {pending}::regclass and attnum > 0 and not attisdropped)
            loop execute format('alter table pending.%I add column %I %s', {name}, c.attname, c.kind); end loop;
        end $$""").format(raw=sql.Literal(f"raw.{table}"), pending=sql.Literal(f"pending.{table}"),
                          name=sql.Literal(table)))


def sync_registry(conn: psycopg.Connection) -> None:
    """Mirror the registry into ops.datasets: freshness is answerable in SQL, and dbt reads from it how each
    dataset's rows become observations (one declaration: the registry entry)."""
    import json

    from lgstats.pipeline import registry

    with conn.transaction():
        for src in registry.sources().values():
            for ds in src.datasets:
                extra = ds.model_extra or {}
                conn.execute(
                    """insert into ops.datasets (source, dataset, title, owner, licence, raw_table,
                           expected_refresh_days, connector, area_fixed, area_scheme, time_variable,
                           series, area_map, shape, series_prefix, series_dimensions, series_label, disaggregation,
                           updated_at)
                       values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
                       on conflict (source, dataset) do update set title = excluded.title, owner = excluded.owner,
                           licence = excluded.licence, raw_table = excluded.raw_table,
                           expected_refresh_days = excluded.expected_refresh_days, connector = excluded.connector,
                           area_fixed = excluded.area_fixed,
                           area_scheme = excluded.area_scheme, time_variable = excluded.time_variable,
                           series = excluded.series, area_map = excluded.area_map, shape = excluded.shape,
                           series_prefix = excluded.series_prefix, series_dimensions = excluded.series_dimensions,
                           series_label = excluded.series_label, disaggregation = excluded.disaggregation,
                           updated_at = now()""",
                    (src.name, ds.name, src.title, src.owner, src.licence, f"raw.{ds.raw_table}",
                     src.expected_refresh_days, src.connector, extra.get("area"),
                     extra.get("area_scheme"), extra.get("time_variable"),
                     json.dumps([s.model_dump(include={"code", "name", "unit", "definition", "method"})
                                for s in ds.series]),
                     extra.get("area_map"), extra.get("shape"), extra.get("series_prefix"),
                     _json_or_null(extra.get("series_dimensions")), extra.get("series_label"),
                     _json_or_null(extra.get("disaggregation"))))


def _json_or_null(value) -> str | None:
    import json

    return json.dumps(value) if value else None


def record_run(conn: psycopg.Connection, *, dag_id: str, run_id: str, logical_date, started_at, finished_at,
               state: str, tasks: dict | None, recorded_by: str) -> None:
    import json

    conn.execute(
        """insert into ops.runs (dag_id, run_id, logical_date, started_at, finished_at, state, tasks, recorded_by)
           values (%s, %s, %s, %s, %s, %s, %s, %s)
           on conflict (dag_id, run_id) do update set finished_at = excluded.finished_at, state = excluded.state,
               tasks = coalesce(excluded.tasks, ops.runs.tasks), recorded_by = excluded.recorded_by,
               recorded_at = now()""",
        (dag_id, run_id, logical_date, started_at, finished_at, state, json.dumps(tasks) if tasks else None,
         recorded_by))


def submission_columns(tpl) -> list[tuple[str, str]]:
    """raw.submissions__<template>: the receipt's keys, then every template column as text (typed in staging)."""
    return [("snapshot_id", "text not null"), ("member_code", "text not null"),
            ("received_at", "timestamptz not null"), ("row_number", "integer not null"),
            *[(c, "text") for c in tpl.column_names]]


def ensure_submission_tables(conn: psycopg.Connection, tpl) -> str:
    """raw.submissions__<template> for valid rows, quarantine.submissions__<template> for rejected ones."""
    table = f"submissions__{tpl.name}"
    ensure_raw_table(conn, table, submission_columns(tpl))
    conn.execute(sql.SQL("""create table if not exists quarantine.{} (
        snapshot_id text not null, member_code text not null, received_at timestamptz not null,
        row_number integer not null, "values" jsonb not null, problems jsonb not null)""").format(
        sql.Identifier(table)))
    return table
