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

from lgstats import warehouse  # noqa: E402
from lgstats.settings import PROJECT_DIR, Settings  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
REPLAY = PROJECT_DIR / "data" / "replay"
_counter = itertools.count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory) -> str:
    """Admin URL of a PostgreSQL for the session: LGSTATS_TEST_PG_URL, or an embedded server we start."""
    external = os.environ.get("LGSTATS_TEST_PG_URL")
    if external:
        yield external
        return
    home = tmp_path_factory.mktemp("embedded-pg")
    settings = Settings(home=home, warehouse_port=free_port(), warehouse_url=None)
    warehouse.start(settings)
    yield settings.pg.model_copy(update={"dbname": "postgres"}).url
    warehouse.stop(settings)


def _database_url(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def warehouse_url(pg_admin_url, monkeypatch, tmp_path) -> str:
    """A fresh, empty warehouse database; LGSTATS_WAREHOUSE_URL and LGSTATS_HOME point at it."""
    url = _database_url(pg_admin_url, f"lgstats_test_{os.getpid()}_{next(_counter)}")
    monkeypatch.setenv("LGSTATS_WAREHOUSE_URL", url)
    monkeypatch.setenv("LGSTATS_HOME", str(tmp_path / "home"))
    return url


@pytest.fixture
def fresh_database(pg_admin_url):
    """Factory for extra databases (e2e runs need one each)."""
    return lambda: _database_url(pg_admin_url, f"lgstats_test_{os.getpid()}_{next(_counter)}")


def load_sample_submissions() -> list:
    """The synthetic sample submissions of data/replay, processed into the current warehouse."""
    from lgstats import warehouse
    from lgstats.schema import ensure_all_raw_tables
    from lgstats.submissions import process

    with warehouse.connect() as conn:
        ensure_all_raw_tables(conn)
    process.seed_replay_inbox()
    return process.process_inbox()
