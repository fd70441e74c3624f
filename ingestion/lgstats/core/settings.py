"""Settings from the environment, in one place, so that the CLI, the DAGs and the tests agree.

Every value can be overridden by an ``LGSTATS_*`` variable (pydantic-settings); nothing secret has a default.
This is the only module that reads one.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(os.environ.get("LGSTATS_PROJECT_DIR", Path(__file__).resolve().parents[3]))
SEEDS_DIR = PROJECT_DIR / "dbt" / "seeds"  # reference data kept as files: dbt seeds them, the ingestion reads them
REGISTRY_DIR = PROJECT_DIR / "ingestion" / "sources"
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


class Settings(BaseSettings):
    """Every ``LGSTATS_*`` variable (docs/operations.md lists them, from this class). No other module reads the
    environment for one (tests/unit/test_settings.py)."""

    model_config = SettingsConfigDict(env_prefix="LGSTATS_", extra="ignore", env_ignore_empty=True)

    home: Path = Field(PROJECT_DIR / ".lgstats", description="where lgstats keeps its state: warehouse data, "
                       "snapshots, inbox, reports, logs, Airflow's home, credentials (mode 0600)")
    project_dir: Path = Field(PROJECT_DIR, description="the checkout whose dbt project, registry and seeds run "
                              "(an installed package's Airflow workers point it at the repository)")
    warehouse_url: str | None = Field(None, description="an external PostgreSQL (admin user's URL); unset: the "
                                      "embedded server")
    warehouse_port: int = Field(5433, description="port of the embedded PostgreSQL (127.0.0.1)")
    admin_password: str | None = Field(None, repr=False, description="password of the embedded server's "
                                       "superuser; unset: generated once into $LGSTATS_HOME/warehouse/"
                                       "credentials.json")
    pipeline_password: str | None = Field(None, repr=False, description="password of lgstats_pipeline (as above)")
    analyst_password: str | None = Field(None, repr=False, description="password of lgstats_analyst (as above)")
    bi_password: str | None = Field(None, repr=False, description="password of lgstats_bi (as above)")
    snapshot_root: str | None = Field(None, description="the snapshot store; unset: $LGSTATS_HOME/snapshots")
    replay_dir: Path = Field(PROJECT_DIR / "data" / "replay", description="recorded payloads `--mode replay` "
                             "serves")
    registry_dir: Path = Field(REGISTRY_DIR, description="the source registry (a copy with extra entries, e.g. "
                               "in tests)")
    lock_deadline_seconds: float = Field(600, description="how long a build waits for readers holding a mart "
                                         "before it ends their sessions")
    mode: str = Field("live", description="default mode of the ingest DAGs: live (the APIs) or replay")
    schedules: str = Field("on", description="off: the ingest DAGs run only when triggered (Assets still "
                           "start the build)")
    task_retries: int = Field(2, description="Airflow retries of each task (`lgstats run` uses 0)")
    retry_delay_seconds: float = Field(60, description="first delay between task retries (then exponential)")
    publish_gates: str = Field("enforce", description="warn: a failed publish gate is recorded but does not "
                               "stop the build")
    failure_file: Path | None = Field(None, description="where task failures are appended as JSON lines "
                                      "(`lgstats run` sets it per run)")
    worker_name: str | None = Field(None, description="the name a worker records in ops tables; unset: the "
                                    "host name")
    worker_concurrency: int = Field(2, description="task slots of each Celery worker")
    redis_port: int = Field(6380, description="port of the Redis broker `lgstats airflow --executor celery` "
                            "starts (127.0.0.1)")
    airflow_port: int = Field(8080, description="port of `lgstats airflow`'s API server (127.0.0.1)")
    airflow_url: str | None = Field(None, description="the Airflow API `lgstats trigger` uses; unset: the "
                                    "stack `lgstats airflow` runs")
    airflow_user: str = Field("admin", description="the Airflow user `lgstats trigger` logs in as")
    airflow_password: str | None = Field(None, repr=False, description="that user's password (unset: the "
                                         "local stack's generated one)")
    release_after_build: str = Field("off", description="on: `warehouse_build` ends by publishing a release "
                                     "(`lgstats release`); docker-compose (production) sets it on")
    releases_keep: int = Field(5, ge=1, description="releases kept queryable in the warehouse (older ones are "
                               "dropped from the database only; their exported files stay)")
    publisher: str = Field("lgstats (Asia-Pacific local-government statistics)", description="who the "
                           "suggested citation of a release names as its publisher")
    bi_port: int = Field(8088, description="port of `lgstats bi` (Superset, 127.0.0.1)")
    store_url: str | None = Field(None, description="where the snapshots that workers share live: unset, the "
                                  "home's `snapshots` folder; `s3://bucket/prefix`, an S3 API object store "
                                  "(lgstats/pipeline/object_store.py)")
    store_endpoint_url: str | None = Field(None, description="the object store's S3 endpoint, e.g. "
                                           "http://127.0.0.1:9000 (unset: AWS)")
    store_key_id: str | None = Field(None, description="the object store's access key id (unset: boto's own "
                                     "lookup: environment, profile, instance role)")
    store_secret: str | None = Field(None, repr=False, description="that key's secret")
    service_address: str | None = Field(None, description="for workers on other hosts: an address of this "
                                        "machine, with the network its workers are on (e.g. 10.0.0.5/24), on "
                                        "which the embedded warehouse, Redis and the Airflow API listen besides "
                                        "127.0.0.1; the warehouse takes password logins from that network. "
                                        "Unset: loopback only")

    def env_password(self, name: str) -> str | None:
        """``LGSTATS_<NAME>_PASSWORD`` of a role or service that has no field here (Airflow's metadata role, Redis):
        read in this module only, like every other setting."""
        field = f"{name}_password"
        if field in type(self).model_fields:
            return getattr(self, field)
        return os.environ.get(f"LGSTATS_{name.upper()}_PASSWORD") or None

    def password(self, name: str) -> str:
        """The password of a role or service: its variable, else the credentials file (never generated here)."""
        from lgstats.core import credentials

        return credentials.password(self.home, name, self.env_password(name))

    def ensure_passwords(self, names: list[str]) -> None:
        """Generate (once, mode 0600) the passwords of ``names`` that no variable sets."""
        from lgstats.core import credentials

        credentials.ensure(self.home, [n for n in names if not self.env_password(n)])

    def as_env(self, leave_out: tuple[str, ...] = ()) -> dict[str, str]:
        """The settings in force as ``LGSTATS_*`` variables, for a process on another host (worker.env): every
        field that differs from its default, and the variables that have no field (per-source base URLs and
        API keys, role passwords), less ``leave_out``."""
        env = {f"LGSTATS_{name.upper()}": str(getattr(self, name)) for name, field in type(self).model_fields.items()
               if getattr(self, name) is not None and getattr(self, name) != field.default}
        fields = {f"LGSTATS_{name.upper()}" for name in type(self).model_fields}
        env |= {k: v for k, v in os.environ.items() if k.startswith("LGSTATS_") and k not in fields and v}
        return {k: v for k, v in env.items() if k not in leave_out}

    @staticmethod
    def named_variable(name: str) -> str | None:
        """A per-source variable the registry names in full (``LGSTATS_<SOURCE>_BASE_URL``, ``auth.env``); it
        must be an ``LGSTATS_*`` one."""
        if not name.startswith("LGSTATS_"):
            raise ValueError(f"{name!r}: a registry may name only LGSTATS_* variables")
        return os.environ.get(name) or None

    @property
    def external_warehouse(self) -> bool:
        return self.warehouse_url is not None

    @cached_property
    def admin_pg(self) -> PgParams:
        """The admin: the user of LGSTATS_WAREHOUSE_URL, or the embedded server's superuser (password from
        LGSTATS_ADMIN_PASSWORD or the credentials file). It only creates roles and databases."""
        if self.warehouse_url:
            return parse_pg_url(self.warehouse_url)
        return PgParams(host="127.0.0.1", port=self.warehouse_port, user="postgres",
                        password=self.password("admin"), dbname=WAREHOUSE_DB)

    def role_pg(self, role: str) -> PgParams:
        """Connection of one role: admin, pipeline, analyst or bi (lgstats/core/access.py)."""
        from lgstats.core.credentials import ROLES

        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        if role == "admin":
            return self.admin_pg
        return self.admin_pg.model_copy(update={"user": ROLES[role], "password": self.password(role)})

    @cached_property
    def pg(self) -> PgParams:
        """What the pipeline and dbt connect as: the owner role ``lgstats_pipeline``, never the superuser."""
        return self.role_pg("pipeline")

    @property
    def service_host(self) -> str:
        """Where this machine's services answer: the service address, or loopback."""
        import ipaddress

        return str(ipaddress.ip_interface(self.service_address).ip) if self.service_address else "127.0.0.1"

    @property
    def service_network(self) -> str | None:
        """The network workers on other hosts connect from (pg_hba.conf's line for them)."""
        import ipaddress

        return str(ipaddress.ip_interface(self.service_address).network) if self.service_address else None

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

    @property
    def releases(self) -> Path:
        return self.home / "releases"

    @property
    def release_after_build_on(self) -> bool:
        return self.release_after_build.lower() in ("on", "true", "1", "yes")

    @property
    def schedules_on(self) -> bool:
        return self.schedules.lower() not in ("off", "false", "0", "no")


def variables_markdown() -> str:
    """The table of every variable for docs/operations.md (a test keeps the page equal to it)."""
    lines = ["| variable | default | what it sets |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, Path):  # the checkout's own folders, whichever machine prints the table
            default = "/".join(["<repo>", *default.relative_to(PROJECT_DIR).parts])
        shown = "(unset)" if default is None else f"`{default}`"
        lines.append(f"| `LGSTATS_{name.upper()}` | {shown} | {field.description} |")
    lines += ["| `LGSTATS_<SOURCE>_BASE_URL` | the registry's `base_url` | another address of one source's API "
              "(tests, mirrors) |",
              "| `LGSTATS_<NAME>_PASSWORD` | generated | the password of Airflow's metadata role or Redis |",
              "| the variable a source's `auth.env` names | (unset) | that source's API key, e.g. "
              "`LGSTATS_STATS_NZ_API_KEY` |"]
    return "\n".join(lines) + "\n"


def get_settings() -> Settings:
    """Fresh settings each call: tests and the CLI change the environment between runs."""
    return Settings()


def warehouse_env(settings: Settings | None = None) -> dict[str, str]:
    """The warehouse connection as dbt's profile (env_var) wants it: for a child process's environment."""
    s = settings or get_settings()
    env = {
        "LGSTATS_PG_HOST": s.pg.host,
        "LGSTATS_PG_PORT": str(s.pg.port),
        "LGSTATS_PG_USER": s.pg.user,
        "LGSTATS_PG_PASSWORD": s.pg.password,
        "LGSTATS_PG_DBNAME": s.pg.dbname,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        # dbt's own log in the home, not in the checkout: a worker may run from a read-only image
        "DBT_LOG_PATH": str(s.home / "logs" / "dbt"),
    }
    return env


def describe(settings: Settings | None = None) -> str:
    """The settings in force, secrets masked: what `lgstats settings` prints."""
    s = settings or get_settings()
    width = max(len(n) for n in Settings.model_fields) + len("LGSTATS_")
    out = []
    for name, field in Settings.model_fields.items():
        value = getattr(s, name)
        shown = "(unset)" if value is None else "***" if field.repr is False else str(value)
        out.append(f"{('LGSTATS_' + name.upper()).ljust(width)}  {shown}")
    return "\n".join(out)
