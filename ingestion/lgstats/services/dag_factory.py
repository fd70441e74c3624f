"""What every lgstats DAG shares: default arguments, Assets, and the ingest-DAG builder.

Kept light on purpose (the scheduler imports it on every parse): heavy libraries are imported inside
the task functions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Asset, Param, get_current_context, task

from lgstats.core.settings import get_settings
from lgstats.pipeline import registry
from lgstats.pipeline.run_history import on_dag_run_end
from lgstats.services.alerts import notify_failure

START = datetime(2026, 1, 1)
RUNBOOK = "docs/operations.md"


BUILD_TIMEOUT_MINUTES = 120  # warehouse_build and submissions tasks: far above any measured run (docs/performance.md)


def default_args(owner: str, timeout_minutes: float = BUILD_TIMEOUT_MINUTES, retries: int | None = None) -> dict:
    """Every task: an owner, retries with backoff, a failure alert, and an execution_timeout, so a task that
    hangs is failed (and alerted) instead of holding a worker forever."""
    settings = get_settings()
    return {
        "owner": owner,
        "execution_timeout": timedelta(minutes=timeout_minutes),
        "retries": settings.task_retries if retries is None else retries,
        "retry_delay": timedelta(seconds=settings.retry_delay_seconds),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "on_failure_callback": notify_failure,
    }


RUN_CALLBACKS = {"on_success_callback": on_dag_run_end, "on_failure_callback": on_dag_run_end}


def raw_asset(table: str) -> Asset:
    return Asset(name=f"raw.{table}", uri=f"lgstats://warehouse/raw/{table}")


def submission_tables() -> list[str]:
    import yaml

    from lgstats.core.settings import PROJECT_DIR

    spec = yaml.safe_load((PROJECT_DIR / "ingestion" / "submissions" / "templates.yml").read_text(encoding="utf-8"))
    return [f"submissions__{name}" for name in spec["templates"]]


def all_raw_assets() -> list[Asset]:
    tables = [ds.raw_table for src in registry.sources().values() for ds in src.datasets] + submission_tables()
    return [raw_asset(t) for t in tables]


def schedules_on() -> bool:
    """``LGSTATS_SCHEDULES=off``: the ingest DAGs run only when triggered (a staging or test stack that must
    not call the sources on its own); ``warehouse_build`` still follows its Assets."""
    return get_settings().schedules_on


def default_mode() -> str:
    return get_settings().mode


def logical_day() -> str:
    """The partition date: the run's logical date, or when it was triggered (manual runs have none)."""
    ctx = get_current_context()
    when = ctx.get("logical_date") or ctx["dag_run"].run_after
    return when.date().isoformat()


# DAGs from the registry alone (dags/national_statistics_ingest.py)
GENERIC_CONNECTORS = ("sdmx", "pxweb", "register", "tabular")


def build_ingest_dag(source_name: str) -> DAG:
    """fetch → validate → load for each dataset of a registry source, one Asset per raw table; its schedule and
    task retries are the registry entry's."""
    src = registry.source(source_name)
    doc_md = f"""
### {src.name}_ingest: {src.title}

**Purpose.** Fetch every dataset of `{src.name}` declared in `ingestion/sources/{src.name}.yml`, keep it as an
immutable snapshot with an origin sidecar, validate it with its Great Expectations suite, and load it into `raw`.

**Source.** {src.title}, `{src.base_url}` (override with `{src.base_url_env}`). Licence: {src.licence}.
Expected refresh: every {src.expected_refresh_days} days. Schedule: `{src.schedule}` (the registry's `schedule:`;
off when `LGSTATS_SCHEDULES=off`).

**Owner.** {src.owner}. **Runbook:** `{RUNBOOK}` (failed fetch, failed validation, late source, backfill).

**Params.** `mode`: `live` calls the API; `replay` copies the recorded snapshot from `data/replay/`.
"""
    with DAG(
        dag_id=f"{src.name}_ingest",
        schedule=src.schedule if schedules_on() else None,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        tags=["ingest", src.name],
        default_args=default_args(src.owner, src.http.task_timeout_minutes, src.task_retries),
        params={"mode": Param(default_mode(), enum=["live", "replay"], description="live API or recorded replay")},
        doc_md=doc_md,
        **RUN_CALLBACKS,
    ) as dag:
        @task(task_id="announce_loaded", outlets=[raw_asset(ds.raw_table) for ds in src.datasets])
        def announce_loaded() -> None:
            """Update the run's raw-table Assets together, once every dataset is loaded and checked: one
            ``warehouse_build`` per ingest run, never one started on half a run's tables."""

        announce = announce_loaded()
        for ds in src.datasets:

            @task(task_id=f"fetch_{ds.name}")
            def fetch(dataset: str = ds.name) -> str:
                from lgstats.pipeline import steps as pipeline

                mode = get_current_context()["params"]["mode"]
                return pipeline.fetch(source_name, dataset, logical_day(), mode)

            @task(task_id=f"validate_{ds.name}")
            def validate(snapshot_path: str) -> str:
                from lgstats.pipeline import steps as pipeline

                pipeline.validate(snapshot_path)
                return snapshot_path

            @task(task_id=f"load_{ds.name}")
            def load(snapshot_path: str) -> dict:
                from lgstats.pipeline import steps as pipeline

                return pipeline.load(snapshot_path)

            @task(task_id=f"check_{ds.name}")
            def check(snapshot_path: str) -> None:
                """Fail, after the good data is loaded, if the source refused part of the request."""
                from lgstats.pipeline import steps as pipeline

                pipeline.check_fetch_errors(snapshot_path)

            validated = validate(fetch())
            load(validated) >> check(validated) >> announce

    return dag
