"""``lgstats airflow`` answers its health endpoint within a minute and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lgstats.core.settings import PROJECT_DIR
from lgstats.services import airflow_stack
from lgstats.services.airflow_stack import health
from tests.conftest import free_port
from tests.secrets_scan import assert_home_keeps_its_secrets

pytestmark = pytest.mark.e2e


def listening_addresses(pid: int) -> set[str]:
    """The addresses every process below ``pid`` listens on."""
    import psutil

    root = psutil.Process(pid)
    found = set()
    for p in [root, *root.children(recursive=True)]:
        try:
            found |= {c.laddr.ip for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
        except psutil.NoSuchProcess:
            pass
    return found


def test_airflow_comes_up_healthy_and_stops_cleanly(tmp_path, fresh_database):
    port = free_port()
    env = {**os.environ, "LGSTATS_HOME": str(tmp_path / "home"), "LGSTATS_WAREHOUSE_URL": fresh_database(),
           "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
    exe = Path(sys.executable).with_name("lgstats")
    proc = subprocess.Popen([str(exe), "airflow", "--port", str(port)], env=env, cwd=PROJECT_DIR,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        started = time.monotonic()
        while time.monotonic() - started < 60 and proc.poll() is None:
            if "log in as admin" in "".join(seen):  # printed once every component reports healthy
                break
            time.sleep(1)
        status = health(port)
        assert status and all(v.get("status") == "healthy" for v in status.values()), ("".join(seen), status)
        assert time.monotonic() - started < 60
        addresses = listening_addresses(proc.pid)
        assert "127.0.0.1" in addresses and addresses <= {"127.0.0.1", "::1"}  # nothing on 0.0.0.0 or ::
        # review N5: the admin's password only in its 0600 file, never in a log or the output
        home = tmp_path / "home"
        hits = assert_home_keeps_its_secrets(
            home, expect=("simple_auth_manager_passwords.json.generated:admin", "stack-secrets.json:jwt_secret"))
        assert hits["simple_auth_manager_passwords.json.generated:admin"], hits
        assert airflow_stack.admin_password(home / "airflow") not in "".join(seen)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        reader.join(timeout=5)
    out = "".join(seen)
    assert proc.returncode == 0, out[-2000:]
    assert "log in as admin" in out and "Airflow stopped" in out
    time.sleep(1)
    assert health(port) is None
