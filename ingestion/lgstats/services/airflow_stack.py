"""``lgstats airflow``: the whole Airflow 3 stack on this machine, without Docker.

API server, scheduler, DAG processor and triggerer; with ``--executor celery`` also a Redis broker and N
Celery workers, each with its own name (``lgstats.services.worker_name``), so a run shows which worker did what. The
same services and settings names as ``docker-compose.yml``. Airflow's metadata lives in PostgreSQL
(``lgstats.services.airflow_metadata``); everything binds 127.0.0.1 (and ``LGSTATS_SERVICE_ADDRESS``, for
workers on other hosts: ``lgstats.services.remote_worker``); every child runs in its own process group, and
Ctrl-C or SIGTERM stops them all (workers first, so no task is left half-run without a record).

While the stack runs it holds a shared advisory lock on the warehouse: ``lgstats run`` (which takes it
exclusively) refuses clearly instead of loading beside the scheduler, and the stack does not start while an
``lgstats run`` is working. ``$AIRFLOW_HOME/stack.json`` tells ``lgstats trigger`` where the API is.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from lgstats.core import credentials, reader_guard, warehouse
from lgstats.core.settings import Settings, get_settings
from lgstats.pipeline import transforms
from lgstats.services import airflow_metadata, toolchain
from lgstats.services.airflow_metadata import StackError

CORE = ("api-server", "scheduler", "dag-processor", "triggerer")
EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}


def state_path(s: Settings) -> Path:
    return s.airflow_home / "stack.json"


def read_state(s: Settings) -> dict | None:
    """The running stack of this home, or None (no state file, or its supervisor is gone)."""
    path = state_path(s)
    if not path.exists():
        return None
    state = json.loads(path.read_text(encoding="utf-8"))
    try:
        os.kill(state["pid"], 0)
    except (ProcessLookupError, PermissionError):
        return None
    return state


def health(port: int, host: str = "127.0.0.1") -> dict | None:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/api/v2/monitor/health", timeout=2) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None


def admin_password_file(airflow_home: Path) -> Path:
    return airflow_home / "simple_auth_manager_passwords.json.generated"


def admin_password(airflow_home: Path) -> str | None:
    """The admin's password, from the simple auth manager's password file."""
    try:
        return json.loads(admin_password_file(airflow_home).read_text()).get("admin")
    except (OSError, ValueError):
        return None


def ensure_admin_password(airflow_home: Path) -> Path:
    """Write the admin's password file ourselves (0600) before the API server starts: left to Airflow, the
    file is created world-readable and the password is printed into the API server's log (review N5)."""
    path = admin_password_file(airflow_home)
    current = admin_password(airflow_home)
    if not current or path.stat().st_mode & 0o077:
        credentials.write_private(path, json.dumps({"admin": current or secrets.token_urlsafe(18)}) + "\n")
    return path


CELERY_CONFIG = "lgstats.services.celery_config.CELERY_CONFIG"


def worker_names(count: int) -> list[str]:
    return [f"{socket.gethostname()}-worker-{i}" for i in range(1, count + 1)]


def stack_env(s: Settings, executor: str, port: int, conn: str, broker_url: str | None) -> dict[str, str]:
    from lgstats.services.remote_worker import remote_logging_env

    host = s.service_host  # the API answers workers on other hosts there (Airflow 3 workers report to it)
    env = {**os.environ, **toolchain.airflow_env(s), **airflow_metadata.stack_secrets(s.airflow_home),
           **remote_logging_env(s),
           "AIRFLOW__CORE__EXECUTOR": EXECUTORS[executor],
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": conn,
           "AIRFLOW__CORE__HOSTNAME_CALLABLE": "lgstats.services.worker_name.hostname",
           "AIRFLOW__API__HOST": host,
           "AIRFLOW__API__PORT": str(port),
           "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{host}:{port}/execution/",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
           "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": os.environ.get("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
                                                                        "8793")}
    if conn.startswith("postgresql+psycopg://"):  # Airflow would derive asyncpg, which psycopg 3 makes needless
        env.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC",
                       conn.replace("postgresql+psycopg://", "postgresql+psycopg_async://", 1))
    if broker_url:
        env["AIRFLOW__CELERY__BROKER_URL"] = broker_url
        env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + conn
        env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = str(s.worker_concurrency)
        env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"] = CELERY_CONFIG  # dbt preloaded in each worker
        # the workers' slots bound the work; the scheduler's own cap (4, sized for LocalExecutor) would leave
        # them idle while it waits for Celery to confirm finished tasks
        env["AIRFLOW__CORE__PARALLELISM"] = os.environ.get("AIRFLOW__CORE__PARALLELISM", "32")
    env.pop("LGSTATS_WORKER_NAME", None)
    env["LGSTATS_SCHEDULES"] = s.schedules  # the stack's own default: stack_settings
    return env


def stack_settings(s: Settings) -> Settings:
    """The settings of a stack on this machine: its ingest DAGs run when triggered unless LGSTATS_SCHEDULES says
    otherwise (compose: on); with their schedules on, unpausing one (as `lgstats trigger` does) would first
    start its due live run."""
    return s if "schedules" in s.model_fields_set else s.model_copy(update={"schedules": "off"})


@dataclass
class Stack:
    """The children of one ``lgstats airflow``, started and stopped together."""

    logs: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 - kept open for the child's lifetime
        self.procs[name] = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def adopt(self, name: str, proc: subprocess.Popen) -> None:
        self.procs[name] = proc

    def workers(self) -> dict[str, subprocess.Popen]:
        return {n: p for n, p in self.procs.items() if "-worker-" in n}

    def stop(self) -> None:
        """Workers first (a warm shutdown lets a running task finish), then the core, then the broker."""
        workers = list(self.workers())
        core = [n for n in self.procs if n in CORE]
        for group in (workers, core, [n for n in self.procs if n not in workers and n not in core]):
            self._stop(group)

    def _stop(self, names: list[str], grace: float = 30) -> None:
        for name in names:
            try:
                os.killpg(self.procs[name].pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        for name in names:
            proc = self.procs[name]
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            kill_session(proc.pid)  # the component if it did not stop in time, and all it left behind
            proc.wait()


def kill_session(sid: int, sig: int = signal.SIGKILL) -> None:
    """Signal every process of a component's session: a task runs in its own process group under the worker
    (so a group signal misses it), but never leaves the worker's session."""
    import psutil

    for p in psutil.process_iter():
        try:
            if os.getsid(p.pid) == sid:
                p.send_signal(sig)
        except (ProcessLookupError, PermissionError, psutil.Error):
            pass


def _migrate(env: dict[str, str], logs: Path) -> None:
    proc = subprocess.run([transforms._bin("airflow"), "db", "migrate"], env=env, capture_output=True, text=True)
    (logs / "db-migrate.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        raise StackError(f"airflow db migrate failed (log: {logs / 'db-migrate.log'}):\n{proc.stderr[-2000:]}")


def _workers_ready(stack: Stack) -> bool:
    return all("ready." in (stack.logs / f"{name}.log").read_text(errors="replace") for name in stack.workers())


def _check_store(s) -> None:
    """Reach the object store before any task needs it: a wrong endpoint, key or bucket is named now."""
    from lgstats.pipeline.object_store import ObjectStore, StoreError

    try:
        ObjectStore.from_settings(s).check(s)
    except StoreError as exc:
        raise StackError(str(exc)) from exc


def serve(executor: str = "local", workers: int = 2, port: int | None = None, wait_seconds: float = 180,
          store: str | None = None) -> int:
    s = stack_settings(get_settings())
    if store:  # `--store s3://…`: LGSTATS_STORE_URL for this stack and every process it starts
        s = s.model_copy(update={"store_url": store})
    port = port or s.airflow_port
    warehouse.ensure_running(s)
    guard = warehouse.connect(s, autocommit=True)  # held while the stack runs; released if we die
    if not guard.execute("select pg_try_advisory_lock_shared(%s)", (warehouse.RUN_LOCK_KEY,)).fetchone()[0]:
        guard.close()
        print("error: an `lgstats run` is working on this warehouse; start Airflow when it has finished.", flush=True)
        return 3
    logs = s.airflow_home / "service-logs"
    logs.mkdir(parents=True, exist_ok=True)
    stack = Stack(logs)
    try:
        print("preparing Airflow's metadata database (PostgreSQL) ...", flush=True)
        conn = airflow_metadata.sql_alchemy_conn(s)
        broker_url = None
        if executor == "celery":
            redis_port = s.redis_port
            from lgstats.services import redis_broker

            proc, broker_url = redis_broker.start(s, redis_port)
            stack.adopt("redis", proc)
            print(f"Redis broker on 127.0.0.1:{redis_port}", flush=True)
        env = stack_env(s, executor, port, conn, broker_url)
        if s.store_url:
            env["LGSTATS_STORE_URL"] = s.store_url
            _check_store(s)
            print(f"snapshots{' and task logs' if env.get('AIRFLOW__LOGGING__REMOTE_LOGGING') else ''} in the "
                  f"object store {s.store_url}", flush=True)
        if executor == "celery":
            from lgstats.services import remote_worker

            path = remote_worker.write_env_file(s.airflow_home / "worker.env", remote_worker.worker_env(s, env))
            print(f"workers on other hosts: copy {path} (mode 0600) there and run "
                  f"`lgstats worker --env-file worker.env --name <name>` (docs/operations.md)", flush=True)
        ensure_admin_password(s.airflow_home)
        _migrate(env, logs)
        transforms.ensure_manifest()
    except StackError as exc:
        stack.stop()
        guard.close()
        print(f"error: {exc}", flush=True)
        return 2
    airflow = transforms._bin("airflow")
    for name in CORE:
        args = [airflow, name] + (["--port", str(port)] if name == "api-server" else [])
        if name in ("scheduler", "triggerer"):  # their log servers bind every interface; the UI reads the files
            args.append("--skip-serve-logs")
        stack.spawn(name, args, env)
    if executor == "celery":
        for name in worker_names(workers):
            stack.spawn(name, [airflow, "celery", "worker", "--celery-hostname", f"{name}@%h", "--skip-serve-logs",
                               "--without-gossip", "--without-mingle"], {**env, "LGSTATS_WORKER_NAME": name})
    print(f"starting Airflow ({EXECUTORS[executor]}: {', '.join(stack.procs)}); logs in {logs}", flush=True)

    def shutdown(*_):
        stack.stop()
        state_path(s).unlink(missing_ok=True)
        guard.close()
        print("Airflow stopped", flush=True)

    signal.signal(signal.SIGTERM, lambda *a: (shutdown(), sys.exit(0)))
    try:
        deadline = time.monotonic() + wait_seconds
        while not (health(port, s.service_host) and _workers_ready(stack)):
            dead = [n for n, p in stack.procs.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                print(f"Airflow did not become healthy ({'exited: ' + ', '.join(dead) if dead else 'timeout'});"
                      f" see {logs}", flush=True)
                shutdown()
                return 1
            time.sleep(1)
        state_path(s).write_text(json.dumps({
            "pid": os.getpid(), "executor": executor, "port": port, "url": f"http://{s.service_host}:{port}",
            "workers": {n: p.pid for n, p in stack.workers().items()}}, indent=2), encoding="utf-8")
        print(f"Airflow is up: http://{s.service_host}:{port}  (health: /api/v2/monitor/health)", flush=True)
        if executor == "celery":
            print(f"Celery workers: {', '.join(stack.workers())}", flush=True)
        print(f"log in as admin; the password is in {admin_password_file(s.airflow_home)} (readable by you only)",
              flush=True)
        print("Ctrl-C stops every component.", flush=True)
        with reader_guard.watching(lambda: warehouse.connect(s, autocommit=True)):
            return _watch(stack, shutdown)
    except KeyboardInterrupt:
        shutdown()
        return 0


def _watch(stack: Stack, shutdown) -> int:
    """Run until a core component exits. A worker that dies is reported, not replaced: its tasks are retried
    on the others once the scheduler sees their heartbeats stop; the stack stops when no worker is left."""
    reported: set[str] = set()
    had_workers = bool(stack.workers())
    while True:
        time.sleep(1)
        for name, proc in stack.procs.items():
            if proc.poll() is not None and name not in reported:
                reported.add(name)
                print(f"{name} exited (code {proc.returncode})", flush=True)
        core_down = [n for n in CORE if n in reported] or ("redis" in reported)
        workers_left = [n for n in stack.workers() if n not in reported]
        if core_down or (had_workers and not workers_left):
            print("an Airflow component exited; stopping the others", flush=True)
            shutdown()
            return 1
