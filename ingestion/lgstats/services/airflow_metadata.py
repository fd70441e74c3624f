"""Where the Airflow stack keeps its state: a PostgreSQL database, and the stack's own secrets.

The scheduler, the API server, the DAG processor and every worker write Airflow's metadata at once, which
SQLite cannot take; so ``lgstats airflow`` puts it in PostgreSQL: ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``
when set, else a database of its own on the warehouse's server (``airflow`` on the embedded server,
``<warehouse database>_airflow`` on one that ``LGSTATS_WAREHOUSE_URL`` names), owned by a login role of the
same name that can reach nothing else. ``lgstats run`` (one process, ``dag.test``) keeps its SQLite file.
"""

from __future__ import annotations

import json
import os
import secrets
from base64 import urlsafe_b64encode
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

from lgstats.core import access, credentials, locks
from lgstats.core.settings import Settings

CONN_ENV = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"


class StackError(RuntimeError):
    """The Airflow stack cannot start; the message says why and how to fix it."""


def database_name(s: Settings) -> str:
    return f"{s.admin_pg.dbname}_airflow" if s.external_warehouse else "airflow"


def sql_alchemy_conn(s: Settings) -> str:
    """The SQLAlchemy URL of Airflow's metadata database, created (with its role) when it is ours to make."""
    if os.environ.get(CONN_ENV):
        return os.environ[CONN_ENV]
    name = database_name(s)
    s.ensure_passwords([name])
    secret = s.password(name)
    admin = s.admin_pg
    try:
        with psycopg.connect(admin.model_copy(update={"dbname": "postgres"}).url, autocommit=True,
                             connect_timeout=10) as conn:
            locks.advisory(conn, "lgstats.provision", deadline_s=s.lock_deadline_seconds,
                           what="creating Airflow's metadata database")
            access.ensure_role(conn, name, secret, sql.SQL(""))
            access.ensure_database(conn, name, owner=name)
            conn.execute(sql.SQL("revoke all on database {} from public").format(sql.Identifier(name)))
    except (psycopg.errors.InsufficientPrivilege, psycopg.OperationalError) as exc:
        raise StackError(f"cannot create Airflow's metadata database {name!r} on {admin.safe_url} ({exc}). "
                         f"Fix: set {CONN_ENV} to a PostgreSQL database Airflow may own "
                         "(postgresql+psycopg://user:password@host/db).") from None
    return f"postgresql+psycopg://{quote(name, safe='')}:{quote(secret, safe='')}@{admin.host}:{admin.port}/{name}"


def stack_secrets(airflow_home: Path) -> dict[str, str]:
    """The JWT secret every component signs task tokens with, and the Fernet key for connections: one pair per
    home, generated once (mode 0600), unless the environment sets them."""
    path = airflow_home / "stack-secrets.json"
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if not data.get("jwt_secret") or not data.get("fernet_key"):
        data = {"jwt_secret": secrets.token_urlsafe(32),
                "fernet_key": urlsafe_b64encode(secrets.token_bytes(32)).decode()}
        credentials.write_private(path, json.dumps(data))
    return {"AIRFLOW__API_AUTH__JWT_SECRET": os.environ.get("AIRFLOW__API_AUTH__JWT_SECRET") or data["jwt_secret"],
            "AIRFLOW__CORE__FERNET_KEY": os.environ.get("AIRFLOW__CORE__FERNET_KEY") or data["fernet_key"]}
