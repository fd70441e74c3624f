"""`lgstats trigger` without a stack, and the names workers record: the parts of production mode that need no
running Airflow (tests/e2e/test_celery_stack.py runs the rest)."""

from __future__ import annotations

import json
import os

from lgstats import cli
from lgstats.services import airflow_stack, worker_name


def test_trigger_without_a_running_stack_says_how_to_start_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LGSTATS_HOME", str(tmp_path))
    monkeypatch.delenv("LGSTATS_AIRFLOW_URL", raising=False)
    assert cli.main(["trigger", "un_sdg", "--mode", "replay", "--wait"]) == 2
    err = capsys.readouterr().err
    assert f"no Airflow stack is running for {tmp_path}" in err and "lgstats airflow --executor celery" in err


def test_a_stale_state_file_is_not_a_running_stack(tmp_path, monkeypatch):
    monkeypatch.setenv("LGSTATS_HOME", str(tmp_path))
    from lgstats.core.settings import get_settings

    s = get_settings()
    path = airflow_stack.state_path(s)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"pid": os.getpid(), "url": "http://127.0.0.1:1", "workers": {}}))
    assert airflow_stack.read_state(s)["pid"] == os.getpid()
    dead = 2**22 + 12345  # above pid_max's default: no such process
    path.write_text(json.dumps({"pid": dead, "url": "http://127.0.0.1:1", "workers": {}}))
    assert airflow_stack.read_state(s) is None


def test_each_worker_on_one_machine_gets_its_own_name(monkeypatch):
    names = airflow_stack.worker_names(3)
    assert len(set(names)) == 3 and all(n.endswith(f"-worker-{i}") for i, n in enumerate(names, 1))
    monkeypatch.setenv("LGSTATS_WORKER_NAME", names[1])
    assert worker_name.hostname() == names[1]
    monkeypatch.delenv("LGSTATS_WORKER_NAME")
    import socket

    assert worker_name.hostname() == socket.getfqdn()  # one worker per host: the host's own name
