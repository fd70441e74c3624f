"""Warehouse DDL that the pipeline owns (dbt owns staging, intermediate and marts).

``raw.snapshot_origins`` mirrors every loaded sidecar so any mart row can be traced, through
``snapshot_id``, to its URL, retrieval time, licence and md5. ``ops`` records what ran.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

BOOTSTRAP = """
create schema if not exists raw;
create schema if not exists ops;
create schema if not exists quarantine;
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
"""


def bootstrap(conn: psycopg.Connection) -> None:
    """Create the pipeline's schemas and tables; safe to run at every start."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('lgstats.bootstrap'))")
        conn.execute(BOOTSTRAP)


def ensure_raw_table(conn: psycopg.Connection, table: str, columns: list[tuple[str, str]]) -> None:
    cols = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns)
    conn.execute(sql.SQL("create table if not exists raw.{} ({})").format(sql.Identifier(table), cols))
    conn.execute(sql.SQL("create index if not exists {} on raw.{} (snapshot_id)").format(
        sql.Identifier(f"{table}__snapshot"), sql.Identifier(table)))
