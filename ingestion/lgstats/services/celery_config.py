"""The Celery workers' settings (``[celery] celery_config_options``): Airflow's own, and dbt and Cosmos imported
once in each worker before it forks its task processes, as Airflow preloads its operators. Each Cosmos task is
one dbt model; importing dbt in every task process cost about 2 s of CPU per model, most of a build on a worker
(docs/performance.md)."""

from __future__ import annotations

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import import_modules

CELERY_CONFIG = DEFAULT_CELERY_CONFIG


@import_modules.connect
def preload_dbt_and_cosmos(*_args, **_kwargs) -> None:
    """Run in the worker's main process at start: every task process forked later inherits these modules."""
    import cosmos.airflow.task_group  # noqa: F401 - DbtTaskGroup, its manifest loader and graph builder
    import cosmos.operators.local  # noqa: F401
    import dbt.adapters.postgres  # noqa: F401
    from airflow.sdk.lineage import get_hook_lineage_collector
    from dbt.cli.main import dbtRunner  # noqa: F401

    import lgstats.services.dag_factory  # noqa: F401

    # Airflow's plugins (Cosmos's imports FastAPI), loaded and cached on the first ObjectStoragePath of a
    # DAG parse: 0.4 of the 0.7 s that warehouse_build's parse took in each task process (docs/performance.md)
    get_hook_lineage_collector()
