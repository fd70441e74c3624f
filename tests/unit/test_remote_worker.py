"""worker.env: what a worker on another host gets from the stack (lgstats/services/remote_worker.py)."""

from __future__ import annotations

import stat

from lgstats.core.settings import Settings
from lgstats.services import remote_worker


def test_worker_env_points_at_the_service_address_and_withholds_the_superusers_and_readers_passwords(tmp_path,
                                                                                                    monkeypatch):
    for role in ("ADMIN", "PIPELINE", "ANALYST", "BI"):
        monkeypatch.setenv(f"LGSTATS_{role}_PASSWORD", f"{role.lower()}-secret-123")
    s = Settings(home=tmp_path, warehouse_url="postgresql://postgres:admin-secret-123@127.0.0.1:5999/lgstats",
                 service_address="10.9.1.1/16", store_url="s3://b/p", store_endpoint_url="http://10.9.1.1:9000",
                 store_key_id="k", store_secret="store-secret", task_retries=1)
    stack = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg://airflow:m@127.0.0.1:5999/lgstats_airflow",
             "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": "x", "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
             "AIRFLOW__CELERY__BROKER_URL": "redis://:r@127.0.0.1:6390/0",
             "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://10.9.1.1:8080/execution/",
             "LGSTATS_HOME": str(tmp_path), "LGSTATS_ADMIN_PASSWORD": "admin-secret-123",
             "LGSTATS_ANALYST_PASSWORD": "analyst-secret-123", "LGSTATS_STORE_URL": "s3://b/p",
             "PATH": "/usr/bin", **remote_worker.remote_logging_env(s)}
    env = remote_worker.worker_env(s, stack)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg://airflow:m@10.9.1.1:5999/lgstats_airflow"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://:r@10.9.1.1:6390/0"
    assert env["LGSTATS_WAREHOUSE_URL"] == "postgresql://postgres@10.9.1.1:5999/lgstats"  # no password
    assert env["LGSTATS_PIPELINE_PASSWORD"] == "pipeline-secret-123"
    assert env["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"] == "s3://b/p/logs"
    assert env["LGSTATS_TASK_RETRIES"] == "1" and "PATH" not in env and "LGSTATS_HOME" not in env
    text = repr(env)
    assert "admin-secret-123" not in text and "analyst-secret-123" not in text and "bi-secret-123" not in text
    path = remote_worker.write_env_file(tmp_path / "worker.env", env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert remote_worker.read_env_file(path) == env


def test_a_managed_warehouse_keeps_its_own_host_name():
    assert remote_worker._at("postgresql://u@db.example.org:5432/x", "10.0.0.5") == "postgresql://u@db.example.org:5432/x"
    assert remote_worker._at("redis://:p@localhost:6380/0", "10.0.0.5") == "redis://:p@10.0.0.5:6380/0"


def test_worker_env_carries_the_stacks_schedule_setting(tmp_path, monkeypatch):
    """A stack on one machine keeps its ingest schedules off unless LGSTATS_SCHEDULES is set; its workers on
    other hosts render the same DAGs, so worker.env says the same."""
    from lgstats.services.airflow_stack import stack_settings

    monkeypatch.delenv("LGSTATS_SCHEDULES", raising=False)
    monkeypatch.setenv("LGSTATS_PIPELINE_PASSWORD", "pipeline-secret-123")  # worker.env carries it
    stack = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg://airflow:m@127.0.0.1:5999/lgstats_airflow",
             "AIRFLOW__CELERY__BROKER_URL": "redis://:r@127.0.0.1:6390/0",
             "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://127.0.0.1:8080/execution/"}
    off = stack_settings(Settings(home=tmp_path, warehouse_url="postgresql://p:x@127.0.0.1:5999/lgstats"))
    assert not off.schedules_on and remote_worker.worker_env(off, stack)["LGSTATS_SCHEDULES"] == "off"
    monkeypatch.setenv("LGSTATS_SCHEDULES", "on")
    on = stack_settings(Settings(home=tmp_path, warehouse_url="postgresql://p:x@127.0.0.1:5999/lgstats"))
    assert on.schedules_on and "LGSTATS_SCHEDULES" not in remote_worker.worker_env(on, stack)  # the default


def test_a_celery_worker_imports_dbt_once_at_start_for_the_task_processes_it_forks(tmp_path, monkeypatch):
    """The stack's Celery setting, as a worker reads it (worker.env forwards it): the worker's app, once its
    modules are imported at start (Celery's import_modules, before it forks task processes), holds dbt and
    Cosmos; without the setting it does not, so each Cosmos task would import dbt again."""
    import os
    import subprocess
    import sys

    from lgstats.services.airflow_stack import CELERY_CONFIG

    monkeypatch.setenv("LGSTATS_PIPELINE_PASSWORD", "pipeline-secret-123")
    stack = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg://airflow:m@127.0.0.1:5999/lgstats_airflow",
             "AIRFLOW__CELERY__BROKER_URL": "redis://:r@127.0.0.1:6390/0",
             "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://127.0.0.1:8080/execution/",
             "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": CELERY_CONFIG}
    env = remote_worker.worker_env(Settings(home=tmp_path, warehouse_url="postgresql://p:x@127.0.0.1:5999/l"), stack)
    assert env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"] == CELERY_CONFIG
    probe = ("import sys\n"
             "from airflow.providers.celery.executors.celery_executor import app\n"
             "before = 'dbt.cli.main' in sys.modules\n"
             "app.loader.import_default_modules()\n"
             "print(before, 'dbt.cli.main' in sys.modules, 'cosmos.operators.local' in sys.modules,\n"
             "      'cosmos.dbt.graph' in sys.modules, 'cosmos.plugin.airflow3' in sys.modules)\n")
    base = {k: v for k, v in os.environ.items() if k != "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"}
    base |= {"AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"}
    runs = {name: subprocess.run([sys.executable, "-c", probe], env=base | extra, capture_output=True, text=True,
                                 timeout=120)
            for name, extra in (("with", {"AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": CELERY_CONFIG}), ("without", {}))}
    assert runs["with"].returncode == 0, runs["with"].stderr[-2000:]
    # dbt, Cosmos's operators, its manifest loader, and Airflow's plugins (what the DAG parse loaded per task)
    assert runs["with"].stdout.split()[-5:] == ["False", "True", "True", "True", "True"], runs["with"].stdout
    assert runs["without"].stdout.split()[-5:] == ["False"] * 5, runs["without"].stdout
