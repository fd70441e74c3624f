"""Set-up that commands do on first use: Airflow's home, environment and metadata DB (the dbt manifest:
transforms.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lgstats.core.settings import PROJECT_DIR, Settings, get_settings, warehouse_env
from lgstats.pipeline.transforms import _bin


def airflow_env(settings: Settings | None = None) -> dict[str, str]:
    s = settings or get_settings()
    env = {
        "AIRFLOW_HOME": str(s.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": os.environ.get("AIRFLOW__CORE__PARALLELISM", "4"),
        "AIRFLOW__API__HOST": os.environ.get("AIRFLOW__API__HOST", "127.0.0.1"),
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        # Cosmos keeps dbt's partial-parse file here; dbt reparses the whole project (3 s) when the file was
        # written for another warehouse (host, port, database), so each home keeps its own
        "AIRFLOW__COSMOS__CACHE_DIR": str(s.home / "cache" / "cosmos"),
        "AIRFLOW__COSMOS__USE_DATASET_AIRFLOW3_URI_STANDARD": "True",
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "lgstats",
        "AIRFLOW__OPENLINEAGE__DISABLED": "True",
        "DO_NOT_TRACK": "1",
        "SCARF_NO_ANALYTICS": "true",
        "GX_ANALYTICS_ENABLED": "False",
        "LGSTATS_HOME": str(s.home),
    }
    from lgstats.core.access import CredentialsError

    try:
        env.update(warehouse_env(s))
    except CredentialsError:  # no warehouse set up yet (parsing DAGs needs none); tasks that connect will say so
        pass
    return env


def apply_airflow_env(settings: Settings | None = None) -> dict[str, str]:
    env = airflow_env(settings)
    os.environ.update(env)
    return env


def ensure_airflow_db(settings: Settings | None = None) -> None:
    """Migrate Airflow's SQLite metadata DB once per Airflow version (``dags test`` refuses otherwise)."""
    import importlib.metadata

    s = settings or get_settings()
    version = importlib.metadata.version("apache-airflow-core")
    marker = s.airflow_home / f".migrated-{version}"
    if marker.exists():
        return
    s.airflow_home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **airflow_env(s)}
    proc = subprocess.run([_bin("airflow"), "db", "migrate"], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    marker.write_text(version)


def dag_runner_script() -> str:
    """The ``lgstats-dag-runner`` script installed beside this interpreter (see lgstats/services/dag_runner.py for why a
    script and not ``-m``)."""
    script = Path(sys.executable).with_name("lgstats-dag-runner")
    if not script.exists():
        raise FileNotFoundError(f"{script} is missing: install the project (`make setup`, or `uv sync --frozen`)")
    return str(script)
