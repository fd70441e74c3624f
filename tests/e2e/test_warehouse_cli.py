"""``lgstats warehouse``: the embedded server starts on 127.0.0.1:<port>, reports, prints its URL, stops."""

from __future__ import annotations

import psycopg

from tests.conftest import free_port
from tests.e2e.test_lgstats_run import lgstats


def test_embedded_warehouse_lifecycle(tmp_path):
    # A deep home on purpose: a Unix socket path is limited to 107 bytes, and CI's xdist basetemp once
    # pushed ``<pgdata>/.s.PGSQL.<port>`` past it. The warehouse must start wherever LGSTATS_HOME lives.
    home = tmp_path / ("deep-" * 12) / "home"
    assert len(str(home / "warehouse" / "pgdata" / ".s.PGSQL.65535")) > 107
    port = free_port()
    env = {"LGSTATS_HOME": str(home), "LGSTATS_WAREHOUSE_PORT": str(port), "LGSTATS_WAREHOUSE_URL": ""}
    try:
        start = lgstats("warehouse", "start", env=env, timeout=120)
        assert start.returncode == 0, start.stderr
        assert not list((home / "warehouse" / "pgdata").glob(".s.PGSQL.*"))  # TCP only: no Unix socket
        url = lgstats("warehouse", "url", env=env).stdout.strip()
        assert url == f"postgresql://postgres@127.0.0.1:{port}/lgstats"
        with psycopg.connect(url) as conn:
            assert conn.execute("select inet_server_addr()::text").fetchone()[0].startswith("127.0.0.1")
        assert lgstats("warehouse", "status", env=env).returncode == 0
        assert lgstats("warehouse", "start", env=env).returncode == 0  # idempotent
    finally:
        stop = lgstats("warehouse", "stop", env=env)
    assert stop.returncode == 0 and "stopped" in stop.stdout
    status = lgstats("warehouse", "status", env=env)
    assert status.returncode == 1 and "stopped" in status.stdout
