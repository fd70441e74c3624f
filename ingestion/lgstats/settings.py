"""Settings from the environment, in one place, so that the CLI, the DAGs and the tests agree.

Every value can be overridden by an ``LGSTATS_*`` variable; nothing secret has a default.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, Field

PROJECT_DIR = Path(os.environ.get("LGSTATS_PROJECT_DIR", Path(__file__).resolve().parents[2]))
SEEDS_DIR = PROJECT_DIR / "dbt" / "seeds"  # reference data kept as files: dbt seeds them, the ingestion reads them
WAREHOUSE_DB = "lgstats"


class PgParams(BaseModel):
    """Connection parts of a libpq URL, as dbt profiles and psycopg want them."""

    host: str
    port: int
    user: str
    password: str = ""
    dbname: str

    @property
    def url(self) -> str:
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"postgresql://{auth}@{self.host}:{self.port}/{self.dbname}"

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for logs and summaries."""
        auth = self.user + (":***" if self.password else "")
        return f"postgresql://{auth}@{self.host}:{self.port}/{self.dbname}"


def parse_pg_url(url: str) -> PgParams:
    parts = urlsplit(url)
    if parts.scheme not in {"postgresql", "postgres", "postgresql+psycopg"}:
        raise ValueError(f"LGSTATS_WAREHOUSE_URL must be a postgresql:// URL, got scheme {parts.scheme!r}")
    return PgParams(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        dbname=(parts.path or "/postgres").lstrip("/") or "postgres",
    )


class Settings(BaseModel):
    home: Path = Field(default_factory=lambda: Path(os.environ.get("LGSTATS_HOME", PROJECT_DIR / ".lgstats")))
    warehouse_url: str | None = Field(default_factory=lambda: os.environ.get("LGSTATS_WAREHOUSE_URL") or None)
    warehouse_port: int = Field(default_factory=lambda: int(os.environ.get("LGSTATS_WAREHOUSE_PORT", "5433")))
    snapshot_root: str | None = Field(default_factory=lambda: os.environ.get("LGSTATS_SNAPSHOT_ROOT") or None)
    lock_deadline_seconds: float = Field(
        default_factory=lambda: float(os.environ.get("LGSTATS_LOCK_DEADLINE_SECONDS", "600")))
    replay_dir: Path = Field(
        default_factory=lambda: Path(os.environ.get("LGSTATS_REPLAY_DIR", PROJECT_DIR / "data" / "replay"))
    )

    @property
    def external_warehouse(self) -> bool:
        return self.warehouse_url is not None

    @cached_property
    def admin_pg(self) -> PgParams:
        """The admin: the user of LGSTATS_WAREHOUSE_URL, or the embedded server's superuser (password from
        LGSTATS_ADMIN_PASSWORD or the credentials file). It only creates roles and databases."""
        if self.warehouse_url:
            return parse_pg_url(self.warehouse_url)
        from lgstats.access import password

        return PgParams(host="127.0.0.1", port=self.warehouse_port, user="postgres",
                        password=password(self.home, "admin"), dbname=WAREHOUSE_DB)

    def role_pg(self, role: str) -> PgParams:
        """Connection of one role: admin, pipeline, analyst or bi (lgstats/access.py)."""
        from lgstats.access import ROLES, password

        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        if role == "admin":
            return self.admin_pg
        return self.admin_pg.model_copy(update={"user": ROLES[role], "password": password(self.home, role)})

    @cached_property
    def pg(self) -> PgParams:
        """What the pipeline and dbt connect as: the owner role ``lgstats_pipeline``, never the superuser."""
        return self.role_pg("pipeline")

    @property
    def pgdata(self) -> Path:
        return self.home / "warehouse" / "pgdata"

    @property
    def snapshots(self) -> Path:
        return Path(self.snapshot_root) if self.snapshot_root else self.home / "snapshots"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"


def get_settings() -> Settings:
    """Fresh settings each call: tests and the CLI change the environment between runs."""
    return Settings()


def export_warehouse_env(settings: Settings | None = None) -> dict[str, str]:
    """Put the warehouse connection where dbt's profile (env_var) and child processes find it."""
    s = settings or get_settings()
    env = {
        "LGSTATS_PG_HOST": s.pg.host,
        "LGSTATS_PG_PORT": str(s.pg.port),
        "LGSTATS_PG_USER": s.pg.user,
        "LGSTATS_PG_PASSWORD": s.pg.password,
        "LGSTATS_PG_DBNAME": s.pg.dbname,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }
    os.environ.update(env)
    return env
