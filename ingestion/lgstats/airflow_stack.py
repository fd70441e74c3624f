"""``lgstats airflow``: Airflow 3's api-server, scheduler, dag-processor and triggerer on this machine.

Sized for a laptop (LocalExecutor, parallelism 4) and bound to 127.0.0.1. All four processes share one
``airflow.cfg`` under ``$LGSTATS_HOME/airflow`` and so one JWT secret. They run in their own process group,
so Ctrl-C (or SIGTERM) stops them all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from lgstats import toolchain, warehouse
from lgstats.settings import get_settings

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def _healthy(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None


def _password(airflow_home: Path) -> str | None:
    generated = airflow_home / "simple_auth_manager_passwords.json.generated"
    if generated.exists():
        try:
            return json.loads(generated.read_text()).get("admin")
        except ValueError:
            return None
    return None


def serve(port: int = 8080, wait_seconds: float = 90) -> int:
    s = get_settings()
    warehouse.ensure_running(s)
    env = {**os.environ, **toolchain.airflow_env(s),
           "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
           "AIRFLOW__API__HOST": "127.0.0.1",
           "AIRFLOW__API__PORT": str(port),
           "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
           "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": os.environ.get("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
                                                                        "8793")}
    os.environ.update(env)
    toolchain.ensure_airflow_db(s)
    toolchain.ensure_manifest()
    logs = s.airflow_home / "service-logs"
    logs.mkdir(parents=True, exist_ok=True)
    airflow = toolchain._bin("airflow")
    procs = []
    for name in COMPONENTS:
        log = open(logs / f"{name}.log", "w")  # noqa: SIM115 - kept open for the child's lifetime
        args = [airflow, name] + (["--port", str(port)] if name == "api-server" else [])
        if name in ("scheduler", "triggerer"):  # their log servers bind every interface; the UI reads the files
            args.append("--skip-serve-logs")
        procs.append(subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True))
    print(f"starting Airflow ({', '.join(COMPONENTS)}); logs in {logs}", flush=True)

    def stop(*_):
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 30
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        print("Airflow stopped", flush=True)

    signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(0)))
    try:
        deadline = time.monotonic() + wait_seconds
        while not _healthy(port):
            dead = [n for n, p in zip(COMPONENTS, procs, strict=True) if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                print(f"Airflow did not become healthy ({'exited: ' + ', '.join(dead) if dead else 'timeout'});"
                      f" see {logs}", flush=True)
                stop()
                return 1
            time.sleep(1)
        password = _password(s.airflow_home) or "admin (AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS)"
        print(f"Airflow is up: http://127.0.0.1:{port}  (health: /api/v2/monitor/health)", flush=True)
        print(f"log in as admin, password: {password}", flush=True)
        print("Ctrl-C stops every component.", flush=True)
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        print("an Airflow component exited; stopping the others", flush=True)
        stop()
        return 1
    except KeyboardInterrupt:
        stop()
        return 0
