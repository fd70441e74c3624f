"""``lgstats bi``: Apache Superset over the marts, as the read-only ``lgstats_bi`` role.

Superset pins SQLAlchemy < 2 and pandas < 2.2, so it lives in its own environment (``bi/superset/pyproject.toml``
and ``uv.lock``, installed by uv into ``$LGSTATS_HOME/bi/venv``) and never enters the product's venv. Its
metadata is a SQLite file under ``$LGSTATS_HOME/bi/`` (one analyst; docs/analyst-guide.md says how a team
points it at PostgreSQL). The dashboards are code: the chart and dashboard YAML of ``bi/superset/assets/``
(Superset's export format) are imported at every start, with the database and one dataset per mart generated
from the settings and the dbt manifest, so the column descriptions are the ones the marts already carry.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
import signal
import subprocess
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
import yaml

from lgstats.core.credentials import write_private
from lgstats.core.settings import PROJECT_DIR, Settings, get_settings
from lgstats.pipeline.superset_assets import ASSETS, chart_with_dataset_uuid, dashboard_position, stable_uuid

BI_PROJECT = PROJECT_DIR / "bi" / "superset"
DATABASE_NAME = "lgstats warehouse"
ADMIN_USER = "lgstats-admin"
PASSWORD_ENV = "LGSTATS_SUPERSET_WAREHOUSE_PASSWORD"  # the lgstats_bi password, in Superset's environment only
BI_ROLE = "lgstats_bi"
HEALTH_TIMEOUT_S = 180


class BIError(RuntimeError):
    pass


@dataclass(frozen=True)
class Paths:
    """What `lgstats bi` keeps, all under $LGSTATS_HOME/bi."""

    home: Path
    venv: Path
    config: Path
    metadata: Path
    credentials: Path
    secret: Path
    pid: Path
    log: Path
    state: Path


def paths(s: Settings | None = None) -> Paths:
    h = (s or get_settings()).home / "bi"
    return Paths(home=h, venv=h / "venv", config=h / "superset_config.py", metadata=h / "superset.db",
                 credentials=h / "credentials.json", secret=h / "secret_key", pid=h / "superset.pid",
                 log=h / "superset.log", state=h / "state.json")


def port() -> int:
    return get_settings().bi_port


def _uv() -> str:
    local = PROJECT_DIR / ".tools" / "uv" / "bin" / "uv"
    return str(local) if local.exists() else "uv"


def ensure_environment(p: Paths) -> bool:
    """Superset's own venv, from its lock file; skipped when the lock is unchanged (a second start is quick).
    Returns whether anything was installed."""
    lock = (BI_PROJECT / "uv.lock").read_bytes()
    stamp = p.venv / ".lgstats-lock-sha256"
    digest = hashlib.sha256(lock + (BI_PROJECT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and (p.venv / "bin" / "gunicorn").exists():
        return False
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(p.venv)}
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run([_uv(), "sync", "--frozen", "--no-install-project", "--project", str(BI_PROJECT)],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BIError(f"could not install Superset into {p.venv}:\n{proc.stderr[-2000:]}\n"
                      f"Fix: check the network to the package registry, then run `lgstats bi start` again")
    stamp.write_text(digest)
    return True


def write_config(p: Paths) -> None:
    """superset_config.py: a generated SECRET_KEY (kept, 0600), SQLite metadata, nothing exposed."""
    if not p.secret.exists():
        write_private(p.secret, secrets.token_urlsafe(48))
    text = f'''# Written by `lgstats bi start`; edit lgstats/services/bi.py instead (rewritten at every start).
SECRET_KEY = open({str(p.secret)!r}).read().strip()
SQLALCHEMY_DATABASE_URI = "sqlite:///{p.metadata}"
# For a team: a PostgreSQL database of its own, e.g.
# SQLALCHEMY_DATABASE_URI = "postgresql+psycopg2://superset:<password>@db-host/superset"
PREVENT_UNSAFE_DB_CONNECTIONS = True
FEATURE_FLAGS = {{"DASHBOARD_RBAC": False, "ALERT_REPORTS": False}}
WTF_CSRF_ENABLED = True
SQLLAB_CTAS_NO_LIMIT = False
ROW_LIMIT = 50000


def _warehouse_password(url):
    """The read-only role's password, from the environment `lgstats bi start` gives Superset: never stored in
    Superset's tables (dbs.password) nor sent in an import request (which the logs table records)."""
    import os

    return os.environ.get({PASSWORD_ENV!r}) if url.username == {BI_ROLE!r} else url.password


SQLALCHEMY_CUSTOM_PASSWORD_STORE = _warehouse_password
'''
    write_private(p.config, text)


def _superset_env(p: Paths) -> dict[str, str]:
    env = {**os.environ, "SUPERSET_CONFIG_PATH": str(p.config), "FLASK_APP": "superset",
           "SUPERSET_HOME": str(p.home)}
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    return env


def _superset(p: Paths, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Superset's CLI; ``stdin`` answers its prompts (in a new session, so no terminal is asked instead)."""
    proc = subprocess.run([str(p.venv / "bin" / "superset"), *args], env=_superset_env(p), capture_output=True,
                          text=True, cwd=p.home, input=stdin, start_new_session=True)
    if proc.returncode != 0:
        raise BIError(f"`superset {' '.join(args[:2])}` failed:\n{(proc.stderr or proc.stdout)[-3000:]}")
    return proc


def ensure_metadata(p: Paths) -> dict | None:
    """First start: the metadata database, the admin user (credentials.json, 0600) and Superset's roles.
    Returns the new credentials the first time, so the caller prints them once."""
    state = json.loads(p.state.read_text()) if p.state.exists() else {}
    installed = (p.venv / ".lgstats-lock-sha256").read_text()
    if state.get("upgraded_for") != installed:  # the metadata schema follows the installed Superset
        _superset(p, "db", "upgrade")
        state["upgraded_for"] = installed
        p.state.write_text(json.dumps(state))
    created = None
    if not p.credentials.exists():
        creds = {"username": ADMIN_USER, "password": secrets.token_urlsafe(18)}
        # the password goes in on stdin (the prompt and its confirmation), never in argv where `ps` shows it
        _superset(p, "fab", "create-admin", "--username", creds["username"], "--firstname", "lgstats",
                  "--lastname", "admin", "--email", "lgstats-admin@localhost",
                  stdin=f"{creds['password']}\n{creds['password']}\n")
        write_private(p.credentials, json.dumps(creds, indent=2) + "\n")
        created = creds
    if not state.get("initialised"):
        _superset(p, "init")
        state["initialised"] = True
        p.state.write_text(json.dumps(state))
    return created


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_pid(p: Paths) -> int | None:
    if not p.pid.exists():
        return None
    try:
        pid = int(p.pid.read_text().strip())
    except ValueError:
        return None
    return pid if _alive(pid) else None


def healthy(url: str) -> bool:
    import requests

    try:
        return requests.get(f"{url}/health", timeout=3).status_code == 200
    except requests.RequestException:
        return False


def start(s: Settings | None = None, bi_port: int | None = None, progress=print) -> dict:
    """Install if needed, initialise once, start gunicorn in the background on 127.0.0.1, import the assets.
    Returns {"url", "created_credentials", "imported"}."""
    s = s or get_settings()
    p = paths(s)
    p.home.mkdir(parents=True, exist_ok=True)
    bi_port = bi_port or port()
    url = f"http://127.0.0.1:{bi_port}"
    if ensure_environment(p):
        progress(f"installed Superset into {p.venv}")
    write_config(p)
    created = ensure_metadata(p)
    if running_pid(p) is None:
        progress(f"starting Superset on {url} ...")
        with open(p.log, "ab") as log:
            subprocess.Popen(
                [str(p.venv / "bin" / "gunicorn"), "--workers", "2", "--worker-class", "gthread", "--threads", "4",
                 "--timeout", "120", "--bind", f"127.0.0.1:{bi_port}", "--pid", str(p.pid),
                 "superset.app:create_app()"],
                env={**_superset_env(p), PASSWORD_ENV: s.role_pg("bi").password}, stdout=log,
                stderr=subprocess.STDOUT, cwd=p.home, start_new_session=True)
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while not healthy(url):
        if time.monotonic() > deadline:
            raise BIError(f"Superset did not answer {url}/health within {HEALTH_TIMEOUT_S} s; see {p.log}")
        time.sleep(1)
    progress("importing the dashboards (bi/superset/assets) ...")
    imported = import_assets(s, url, json.loads(p.credentials.read_text()))
    purge_stored_password(p, s.role_pg("bi").password)
    return {"url": url, "created_credentials": created, "imported": imported}


def purge_stored_password(p: Paths, secret: str) -> int:
    """Remove the BI password from Superset's metadata where older versions left it: the database row's
    ``password`` and the ``logs`` rows of import requests that carried it (review N6). Returns rows changed."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(p.metadata)) as db, db:
        changed = db.execute("update dbs set password = null where password is not null").rowcount
        changed += db.execute("delete from logs where instr(json, ?) > 0", (secret,)).rowcount
    return changed


def stop(s: Settings | None = None, timeout_s: float = 30) -> bool:
    """SIGTERM to gunicorn's process group (the master and its workers), SIGKILL after ``timeout_s``."""
    p = paths(s)
    pid = running_pid(p)
    if pid is None:
        p.pid.unlink(missing_ok=True)
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _group_alive(pid):
        time.sleep(0.2)
    if _group_alive(pid):
        os.killpg(pid, signal.SIGKILL)
    p.pid.unlink(missing_ok=True)
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


# ---------------------------------------------------------------------------------------------------- assets


def _marts_from_manifest() -> dict[str, dict]:
    """Each mart (name → description and column descriptions): lgstats.pipeline.marts, one declaration."""
    from lgstats.pipeline import marts

    return {name: {"description": m["description"],
                   "columns": {c: v["description"] for c, v in m["columns"].items()}}
            for name, m in marts.catalogue().items()}


def _database_yaml(s: Settings) -> dict:
    bi = s.role_pg("bi")
    return {"database_name": DATABASE_NAME,
            # no password in the URI: Superset takes it from its environment (SQLALCHEMY_CUSTOM_PASSWORD_STORE)
            "sqlalchemy_uri": f"postgresql+psycopg2://{bi.user}@{bi.host}:{bi.port}/{bi.dbname}",
            "cache_timeout": None, "expose_in_sqllab": True, "allow_run_async": False, "allow_ctas": False,
            "allow_cvas": False, "allow_dml": False, "allow_file_upload": False,
            "extra": {"allows_virtual_table_explore": True}, "uuid": stable_uuid("database", DATABASE_NAME),
            "version": "1.0.0"}


def _dataset_yaml(name: str, mart: dict, sql: str | None = None, description: str | None = None) -> dict:
    return {"table_name": name, "main_dttm_col": None, "description": description or mart["description"],
            "default_endpoint": None, "offset": 0, "cache_timeout": None, "schema": "marts", "sql": sql,
            "params": None, "template_params": None, "filter_select_enabled": True, "fetch_values_predicate": None,
            "extra": None, "normalize_columns": False, "always_filter_main_dttm": False,
            "uuid": stable_uuid("dataset", name), "metrics": [
                {"metric_name": "count", "verbose_name": "rows", "metric_type": "count", "expression": "COUNT(*)",
                 "description": None, "d3format": None, "extra": None, "warning_text": None}],
            "columns": [{"column_name": c, "verbose_name": None, "is_dttm": False, "is_active": True,
                         "type": None, "advanced_data_type": None, "groupby": True, "filterable": True,
                         "expression": None, "description": d or None, "python_date_format": None, "extra": None}
                        for c, d in mart["columns"].items()],
            "version": "1.0.0", "database_uuid": stable_uuid("database", DATABASE_NAME)}


def source_note(conn, dataset: str, columns: list[str], sql: str | None = None) -> str:
    """What a chart states about its data: the sources of its dataset's rows and whether any is synthetic
    (source names come from dim_snapshot, which labels synthetic snapshots). ``sql``: a virtual dataset's query."""
    from psycopg import sql as q

    col = "source_name" if "source_name" in columns else "source_names" if "source_names" in columns else None
    if col is None:
        return ""
    relation = q.SQL("({}) as v").format(q.SQL(sql)) if sql else q.SQL("marts.{}").format(q.Identifier(dataset))
    values = conn.execute(q.SQL("select distinct {} from {}").format(q.Identifier(col), relation)).fetchall()
    names = sorted({n.strip() for (v,) in values if v for n in str(v).split(";") if n.strip()})
    synthetic = [n for n in names if "synthetic" in n]
    return (f"Source: {'; '.join(names) or 'no rows yet'}. Synthetic rows: "
            + ("yes, from " + "; ".join(synthetic) if synthetic else "none") + ".")


def bundle(s: Settings) -> dict[str, dict]:
    """The files of the import bundle (Superset's export format); no password: Superset asks the environment
    for it (SQLALCHEMY_CUSTOM_PASSWORD_STORE in superset_config.py)."""
    marts = _marts_from_manifest()
    files: dict[str, dict] = {}
    files["databases/lgstats_warehouse.yaml"] = _database_yaml(s)
    for name, mart in sorted(marts.items()):
        files[f"datasets/lgstats_warehouse/{name}.yaml"] = _dataset_yaml(name, mart)
    for path in sorted((ASSETS / "datasets").glob("*.yaml")):  # virtual datasets (SQL over the marts)
        spec = yaml.safe_load(path.read_text())
        if spec.get("based_on"):
            base = marts[spec["based_on"]]["columns"]
        else:  # a dataset over no mart (the data release) describes its own columns
            base = spec.get("column_descriptions", {})
        cols = {c: base.get(c, "") for c in spec["columns"]}
        files[f"datasets/lgstats_warehouse/{path.stem}.yaml"] = _dataset_yaml(
            path.stem, {"description": spec["description"], "columns": cols}, sql=spec["sql"])
    datasets = {d["uuid"]: d for f, d in files.items() if f.startswith("datasets/")}
    notes: dict[str, str] = {}
    with psycopg.connect(s.role_pg("bi").url, autocommit=True) as conn:  # as the role Superset reads with
        for path in sorted((ASSETS / "charts").glob("*.yaml")):
            chart = chart_with_dataset_uuid(path, set(datasets))
            d = datasets[chart["dataset_uuid"]]
            if d["uuid"] not in notes:
                notes[d["uuid"]] = source_note(conn, d["table_name"], [c["column_name"] for c in d["columns"]],
                                               d["sql"])
            chart["description"] = (chart.get("description") or "").strip() + " " + notes[d["uuid"]]
            files[f"charts/{path.name}"] = chart
    for path in sorted((ASSETS / "dashboards").glob("*.yaml")):
        board = yaml.safe_load(path.read_text())
        files[f"dashboards/{path.name}"] = {**board, "position": dashboard_position(board)}
    return files


def _zip(files: dict[str, dict], kind: str, without: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("lgstats_bundle/metadata.yaml", yaml.safe_dump(
            {"version": "1.0.0", "type": kind, "timestamp": "2026-11-30T00:00:00+00:00"}))
        for name, content in files.items():
            if not name.startswith(without):
                zf.writestr(f"lgstats_bundle/{name}", yaml.safe_dump(content, sort_keys=False, allow_unicode=True))
    return buf.getvalue()


class Client:
    """Superset's REST API, logged in (JWT plus the CSRF token its POSTs need)."""

    def __init__(self, url: str, creds: dict):
        import requests

        self.url = url
        self.http = requests.Session()
        r = self.http.post(f"{url}/api/v1/security/login", json={**creds, "provider": "db", "refresh": True},
                           timeout=30)
        if r.status_code != 200:
            raise BIError(f"login to {url} as {creds['username']} failed ({r.status_code}): {r.text[:300]}")
        self.http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        csrf = self.http.get(f"{url}/api/v1/security/csrf_token/", timeout=30)
        csrf.raise_for_status()
        self.http.headers["X-CSRFToken"] = csrf.json()["result"]
        self.http.headers["Referer"] = url

    def get(self, path: str, **params):
        r = self.http.get(f"{self.url}{path}", params={"q": json.dumps(params)} if params else None, timeout=120)
        r.raise_for_status()
        return r.json()

    def list(self, kind: str) -> list[dict]:
        return self.get(f"/api/v1/{kind}/", page_size=100)["result"]


def import_assets(s: Settings, url: str, creds: dict) -> dict:
    """Import (overwrite) datasets, then charts, then dashboards: a dashboard import alone never overwrites the
    charts and datasets it carries, so edits to those would be lost. Idempotent: every object has a stable uuid."""
    files = bundle(s)
    client = Client(url, creds)
    for endpoint, kind, without in (("dataset", "SqlaTable", ("charts/", "dashboards/")),
                                    ("chart", "Slice", ("dashboards/",)),
                                    ("dashboard", "Dashboard", ())):
        r = client.http.post(f"{url}/api/v1/{endpoint}/import/",
                             files={"formData": ("lgstats.zip", _zip(files, kind, without), "application/zip")},
                             data={"overwrite": "true"}, timeout=300)
        if r.status_code != 200:
            raise BIError(f"importing the {endpoint}s of bi/superset/assets failed ({r.status_code}): {r.text[:2000]}")
    return {"dashboards": len(client.list("dashboard")), "charts": len(client.list("chart"))}


def status(s: Settings | None = None) -> dict:
    p = paths(s)
    pid = running_pid(p)
    url = f"http://127.0.0.1:{port()}"
    return {"running": pid is not None, "pid": pid, "url": url, "healthy": bool(pid) and healthy(url),
            "home": str(p.home), "credentials": str(p.credentials)}
