"""Every raw table dbt reads, made before a build: the registry's datasets (their connectors' columns) and the
member templates' tables. Above the schema, the registry and the submissions package, which all three
stay below (the DDL itself is lgstats.pipeline.schema's)."""

from __future__ import annotations

import psycopg

from lgstats.pipeline import connectors, registry
from lgstats.pipeline.schema import bootstrap, ensure_raw_table, ensure_submission_tables, sync_registry
from lgstats.pipeline.submissions import contract


def ensure_all_raw_tables(conn: psycopg.Connection) -> None:
    """Every raw table dbt reads, empty if nothing was loaded yet, so any subset of sources can be built."""
    bootstrap(conn)
    sync_registry(conn)
    with conn.transaction():
        for src in registry.sources().values():
            mod = connectors.get(src.connector)
            for ds in src.datasets:
                ensure_raw_table(conn, ds.raw_table, mod.columns(ds))
        for tpl in contract.templates().values():
            ensure_submission_tables(conn, tpl)
