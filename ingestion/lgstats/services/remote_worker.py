"""A Celery worker on another host: ``lgstats worker --env-file worker.env --name NAME``.

``lgstats airflow --executor celery`` with ``LGSTATS_SERVICE_ADDRESS`` and an object store writes
``$AIRFLOW_HOME/worker.env`` (mode 0600): the addresses and secrets a worker elsewhere needs to take tasks from
this stack, and nothing else. The worker shares no disk with the stack: it keeps its own ``LGSTATS_HOME`` (its
Airflow home, its snapshot cache, its scratch files) and reaches only the services the file names: PostgreSQL
(as ``lgstats_pipeline``, never the superuser), Redis, the Airflow API's execution endpoint (Airflow 3 workers
report task state there) and the object store, which also takes its task logs (Airflow's remote logging).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from lgstats.core import credentials
from lgstats.core.settings import Settings

STORE_CONN_ID = "lgstats_store"
# what a worker elsewhere must not get: the superuser's password, the readers' passwords, this host's paths
WITHHELD = ("LGSTATS_HOME", "LGSTATS_WORKER_NAME", "LGSTATS_ADMIN_PASSWORD", "LGSTATS_ANALYST_PASSWORD",
            "LGSTATS_BI_PASSWORD", "LGSTATS_SNAPSHOT_ROOT", "LGSTATS_REPLAY_DIR", "LGSTATS_REGISTRY_DIR",
            "LGSTATS_PROJECT_DIR", "LGSTATS_FAILURE_FILE", "LGSTATS_SERVICE_ADDRESS")
FORWARDED = ("AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CORE__HOSTNAME_CALLABLE", "AIRFLOW__API_AUTH__JWT_SECRET",
             "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__CELERY__WORKER_CONCURRENCY",
             "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS", "AIRFLOW__LOGGING__REMOTE_LOGGING",
             "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER", "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID",
             "AIRFLOW_CONN_" + STORE_CONN_ID.upper(), "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT")


def remote_logging_env(s: Settings) -> dict[str, str]:
    """Task logs into the object store (``<store>/logs``), read back by the API server: the UI shows the log of
    a task that ran on another host. The store's endpoint and key travel as an Airflow connection."""
    if not s.store_url or not s.store_url.startswith("s3://"):
        return {}
    extra = {"endpoint_url": s.store_endpoint_url} if s.store_endpoint_url else {}
    conn = {"conn_type": "aws", "extra": extra}
    if s.store_key_id:
        conn |= {"login": s.store_key_id, "password": s.store_secret or ""}
    return {"AIRFLOW__LOGGING__REMOTE_LOGGING": "True",
            "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER": s.store_url.rstrip("/") + "/logs",
            "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID": STORE_CONN_ID,
            "AIRFLOW_CONN_" + STORE_CONN_ID.upper(): json.dumps(conn)}


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _at(url: str, host: str) -> str:
    """``url`` with a loopback host replaced by the service address: the stack's own processes use loopback; a
    worker elsewhere cannot. A server elsewhere (managed PostgreSQL) keeps its name."""
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK:
        return url
    userinfo = parts.netloc.rpartition("@")[0]
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=(userinfo + "@" if userinfo else "") + host + port))


def worker_env(s: Settings, stack_env: dict[str, str]) -> dict[str, str]:
    """What ``worker.env`` holds, from the stack's own environment."""
    host = s.service_host
    env = s.as_env(WITHHELD)
    env |= {k: stack_env[k] for k in FORWARDED if k in stack_env}
    conn = stack_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    admin = s.admin_pg
    warehouse = f"postgresql://{quote(admin.user, safe='')}@{admin.host}:{admin.port}/{admin.dbname}"
    env |= {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _at(conn, host),
        "AIRFLOW__CELERY__BROKER_URL": _at(stack_env["AIRFLOW__CELERY__BROKER_URL"], host),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": stack_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"],
        # the warehouse without the superuser's password: a worker connects as lgstats_pipeline only
        "LGSTATS_WAREHOUSE_URL": _at(warehouse, host),
        "LGSTATS_PIPELINE_PASSWORD": s.password("pipeline"),
    }
    env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC" in stack_env:
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace(
            "postgresql+psycopg://", "postgresql+psycopg_async://", 1)
    return env


def write_env_file(path: Path, env: dict[str, str]) -> Path:
    """KEY=VALUE lines (values JSON-quoted), mode 0600: it holds the pipeline's and the broker's passwords."""
    credentials.write_private(path, "".join(f"{k}={json.dumps(v)}\n" for k, v in sorted(env.items())))
    return path


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}, line {number}: expected KEY=\"value\" (as `lgstats airflow` writes it)")
        env[key.strip()] = json.loads(value)
    return env


def exec_worker(name: str, concurrency: int | None = None) -> None:
    """Become the Celery worker (``exec``: the worker is this process, so stopping it stops the worker); the
    environment already holds worker.env (``lgstats worker`` reads it first)."""
    from lgstats.core.settings import get_settings
    from lgstats.pipeline import transforms
    from lgstats.services import toolchain

    os.environ["LGSTATS_WORKER_NAME"] = name
    if concurrency:
        os.environ["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = str(concurrency)
    s = get_settings()
    s.airflow_home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **toolchain.airflow_env(s)}
    airflow = transforms._bin("airflow")
    os.execve(airflow, [airflow, "celery", "worker", "--celery-hostname", f"{name}@%h", "--skip-serve-logs",
                        "--without-gossip", "--without-mingle"], env)
