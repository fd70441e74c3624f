"""Shared fixtures: a real PostgreSQL (the embedded server) for the whole session, fresh databases per test."""

from __future__ import annotations

import itertools
import os
import socket
import warnings
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

from lgstats.core import warehouse  # noqa: E402
from lgstats.core.settings import PROJECT_DIR, Settings  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
REPLAY = PROJECT_DIR / "data" / "replay"
_counter = itertools.count()
SHARED_RUN_FIXTURES = {"clean_replay", "replay_run"}


def pytest_configure(config):
    """Keep the collection order below when xdist hands out groups: by default it reorders them by their
    number of tests, which sent the Celery group (eight long tests) out after every module of many short ones,
    nine minutes into the run."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Groups for ``pytest -n 2 --dist loadgroup`` (make test): the tests that share the session's clean
    replay run stay on one worker (it runs once); every other file stays whole on a worker (its module
    fixtures are built once). Without xdist the marks do nothing."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            shared = SHARED_RUN_FIXTURES & set(getattr(item, "fixturenames", ()))
            item.add_marker(pytest.mark.xdist_group("clean_replay" if shared else item.nodeid.split("::")[0]))
    # the longest groups first (xdist hands groups out in collection order), so neither worker is left
    # alone with one of them at the end: longest-processing-time-first scheduling
    items.sort(key=lambda item: LONGEST_FIRST.index(_group(item)) if _group(item) in LONGEST_FIRST
               else len(LONGEST_FIRST))


LONGEST_FIRST = ["airflow_stack", "clean_replay"]


def _group(item) -> str:
    marker = item.get_closest_marker("xdist_group")
    return marker.args[0] if marker and marker.args else (marker.kwargs.get("name", "") if marker else "")


def dbt_target_path() -> str:
    """A dbt target folder per xdist worker: two dbt processes must not share partial-parse files."""
    return f"target-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session_passwords() -> None:
    """One password per role for the whole session (every test home and subprocess agrees on them), set
    the way an operator of an external server sets them: LGSTATS_<ROLE>_PASSWORD."""
    import secrets

    from lgstats.core.credentials import ROLES, env_name

    for role in ROLES:
        os.environ.setdefault(env_name(role), secrets.token_urlsafe(18))


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """Admin URL of a PostgreSQL for the session: LGSTATS_TEST_PG_URL, or an embedded server we start."""
    _session_passwords()
    external = os.environ.get("LGSTATS_TEST_PG_URL")
    if external:
        yield external
        return
    import shutil
    import tempfile

    # Not under pytest's basetemp: pytest deletes old basetemps when another session starts, and a server
    # whose data directory vanishes mid-session takes every test with it.
    home = Path(tempfile.mkdtemp(prefix="lgstats-test-pg-"))
    settings = Settings(home=home, warehouse_port=free_port(), warehouse_url=None)
    warehouse.start(settings)
    try:
        yield settings.admin_pg.model_copy(update={"dbname": "postgres"}).url
    finally:
        warehouse.stop(settings)
        shutil.rmtree(home, ignore_errors=True)


def _database_url(admin_url: str, name: str) -> str:
    """A fresh database with the lgstats roles set up on it, as `lgstats warehouse start` does."""
    import tempfile

    from lgstats.core import access

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    access.provision(url, name, Settings(home=Path(tempfile.gettempdir())), embedded=False)
    return url


def fork_database(admin_url: str, source_url: str, name: str, timeout_s: float = 120) -> str:
    """A copy of another test database (CREATE DATABASE ... TEMPLATE), for a test that must change a built
    warehouse without disturbing the tests that share it. PostgreSQL copies only a database nobody is connected
    to: wait for the last session of the tests before to end."""
    import time

    source = source_url.rsplit("/", 1)[1]
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        while True:
            try:
                conn.execute(sql.SQL("create database {} template {} strategy file_copy").format(
                    sql.Identifier(name), sql.Identifier(source)))
                break
            except psycopg.errors.ObjectInUse:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the UI tests of a worker (the dashboards, the docs site, the indicator pages)."""
    from tests.browser import start_browser

    b = start_browser()
    yield b
    b.quit()


def role_url(admin_url: str, role: str) -> str:
    """The URL of one lgstats role (admin, pipeline, analyst, bi) on the database of ``admin_url``."""
    from lgstats.core.settings import Settings

    return Settings(warehouse_url=admin_url).role_pg(role).url


@pytest.fixture
def warehouse_url(pg_admin_url, monkeypatch, tmp_path) -> str:
    """A fresh, empty warehouse database; LGSTATS_WAREHOUSE_URL and LGSTATS_HOME point at it."""
    url = _database_url(pg_admin_url, f"lgstats_test_{os.getpid()}_{next(_counter)}")
    monkeypatch.setenv("LGSTATS_WAREHOUSE_URL", url)
    monkeypatch.setenv("LGSTATS_HOME", str(tmp_path / "home"))
    return url


@pytest.fixture(scope="session")
def fresh_database(pg_admin_url):
    """Factory for extra databases (e2e runs need one each)."""
    return lambda: _database_url(pg_admin_url, f"lgstats_test_{os.getpid()}_{next(_counter)}")


def load_sample_submissions() -> list:
    """The synthetic sample submissions of data/replay, processed into the current warehouse."""
    from lgstats.core import warehouse
    from lgstats.pipeline.raw_tables import ensure_all_raw_tables
    from lgstats.pipeline.submissions import process

    with warehouse.connect() as conn:
        ensure_all_raw_tables(conn)
    process.seed_replay_inbox()
    return process.process_inbox()


FCT_COLUMNS = ("observation_id, series_code, area_code, year, period, disaggregation, reporting_type, value, "
               "value_text, value_qualifier, unit, nature, source_name, source_dataset")


def fct_rows(url: str, where: str = "true") -> list[tuple]:
    """marts.fct_observation without its load times, sorted: what two runs must agree on."""
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(f"select {FCT_COLUMNS} from marts.fct_observation where {where} "
                            "order by observation_id, source_dataset").fetchall()


@pytest.fixture(scope="session")
def clean_replay(tmp_path_factory, pg_admin_url):
    """One clean ``lgstats run --mode replay`` for the session; the UN SDG rows of its fct_observation and a
    fingerprint of every mart are recorded at once, as the reference other tests compare with (later tests may
    load more into that warehouse; the whole table, OxCGRT's 568k daily values among them, would cost a worker
    half a gigabyte for rows nobody compares)."""
    import subprocess
    import sys
    from types import SimpleNamespace

    url = _database_url(pg_admin_url, f"lgstats_e2e_replay_{os.getpid()}")
    env = {"LGSTATS_HOME": str(tmp_path_factory.mktemp("home")), "LGSTATS_WAREHOUSE_URL": url}
    proc = subprocess.run([str(Path(sys.executable).with_name("lgstats")), "run", "--mode", "replay"],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=900, cwd=PROJECT_DIR)
    from tests.mart_fingerprint import fingerprint

    ok = proc.returncode == 0
    run = SimpleNamespace(env=env, url=url, proc=proc,
                          fct=fct_rows(url, "source_dataset = 'un_sdg/series_data'") if ok else None,
                          marts=fingerprint(url) if ok else None)
    # a copy of the warehouse as the run left it, before later tests load more into it, for a test that builds
    # on it (tests/e2e/test_releases.py): a copy made later held their rows, which its next build took out
    run.pristine_url = fork_database(pg_admin_url, url, f"lgstats_e2e_replay_{os.getpid()}_pristine") if ok else None
    return run
