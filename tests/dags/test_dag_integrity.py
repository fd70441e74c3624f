"""Every DAG imports cleanly and follows the conventions (parametrised over the DAG files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lgstats.core.settings import PROJECT_DIR
from lgstats.pipeline.transforms import ensure_manifest
from lgstats.services.toolchain import apply_airflow_env

DAG_FILES = sorted(p for p in (PROJECT_DIR / "dags").glob("*.py") if not p.name.startswith("_"))
EXPECTED = {"un_sdg_ingest", "world_bank_ingest", "abs_ingest", "stats_nz_ingest", "oecd_ingest", "psa_ingest",
            "registers_ingest", "submissions_ingest", "warehouse_build"}


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("LGSTATS_HOME", str(tmp_path_factory.mktemp("home")))
    apply_airflow_env()
    ensure_manifest()
    from airflow.dag_processing.dagbag import DagBag

    yield DagBag(dag_folder=str(PROJECT_DIR / "dags"))
    mp.undo()


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_expected_dags_are_present(dagbag):
    assert EXPECTED <= set(dagbag.dags)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_each_file_defines_a_dag(dagbag, path: Path):
    assert any(Path(d.fileloc) == path for d in dagbag.dags.values()), f"{path.name} defines no DAG"


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_conventions(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.tags, "tags"
    assert dag.doc_md and "Owner" in dag.doc_md and "Runbook" in dag.doc_md and "Purpose" in dag.doc_md
    assert dag.catchup is False
    for t in dag.tasks:
        assert t.owner not in ("", "airflow"), t.task_id
        assert t.retries >= 1, t.task_id
        assert t.retry_exponential_backoff, t.task_id
        assert t.on_failure_callback, t.task_id
        assert t.execution_timeout is not None and t.execution_timeout.total_seconds() > 0, t.task_id


def test_ingest_dags_emit_raw_assets_and_the_build_is_scheduled_on_them(dagbag):
    ingest = dagbag.dags["un_sdg_ingest"]
    announce = ingest.get_task("announce_loaded")
    assert sorted(a.uri for a in announce.outlets) == [f"lgstats://warehouse/raw/un_sdg__{d}"
                                                       for d in ("geoarea_list", "series_data", "series_list")]
    assert {f"check_{d}" for d in ("geoarea_list", "series_data", "series_list")} <= announce.upstream_task_ids
    assert not any(t.outlets for t in ingest.tasks if t is not announce)  # one build per run, not per dataset
    schedule = dagbag.dags["warehouse_build"].timetable
    assert "un_sdg__series_data" in repr(getattr(schedule, "asset_condition", schedule))


def test_dag_files_import_nothing_heavy_at_top_level():
    for path in DAG_FILES:
        text = path.read_text()
        for heavy in ("great_expectations", "pandas", "psycopg", "import dbt"):
            assert heavy not in text.split('"""', 2)[-1], f"{path.name} imports {heavy} at top level"


def test_ingest_tasks_take_their_timeout_from_the_registry(dagbag):
    from datetime import timedelta

    from lgstats.pipeline import registry

    for name, src in registry.sources().items():
        for t in dagbag.dags[f"{name}_ingest"].tasks:
            assert t.execution_timeout == timedelta(minutes=src.http.task_timeout_minutes), (name, t.task_id)


def test_each_ingest_dag_takes_its_schedule_and_retries_from_the_registry(dagbag):
    """Per-source schedules and retries are the registry entry's (`schedule:`, `task_retries:`), beside
    `expected_refresh_days`; no DAG file names one (issue 26)."""
    from lgstats.core.settings import get_settings
    from lgstats.pipeline import registry

    ingest = {d: dag for d, dag in dagbag.dags.items() if d.endswith("_ingest") and d != "submissions_ingest"}
    assert ingest
    for dag_id, dag in ingest.items():
        src = registry.source(dag_id.removesuffix("_ingest"))
        assert dag.schedule == src.schedule, dag_id
        expected = get_settings().task_retries if src.task_retries is None else src.task_retries
        assert {t.retries for t in dag.tasks} == {expected}, dag_id
    assert ingest["un_sdg_ingest"].schedule == "@weekly" and ingest["psa_ingest"].schedule == "@monthly"
    for path in DAG_FILES:
        assert "schedule=\"@" not in path.read_text(encoding="utf-8"), path.name


def test_the_build_loads_the_seeds_in_one_task_before_every_model_and_builds_each_model_once(dagbag):
    """The seeds (CSV files of the repository) are one task with the tests among them; every model of the dbt
    project is its own task, and all of them come after the seeds."""
    import json

    build = dagbag.dags["warehouse_build"]
    seeds = build.get_task("seeds")
    assert (seeds.select, seeds.indirect_selection) == ("resource_type:seed", "cautious")
    manifest = json.loads((PROJECT_DIR / "dbt" / "target" / "manifest.json").read_text())
    nodes = manifest["nodes"].values()
    models = {n["name"] for n in nodes if n["resource_type"] == "model"}
    assert {n["name"] for n in nodes if n["resource_type"] == "seed"}, "the project has seeds"
    tasks = [t.task_id for t in build.tasks]
    built = [t.split(".", 1)[1].removesuffix("_model_build") for t in tasks if t.endswith("_model_build")]
    assert sorted(built) == sorted(models)  # each model once
    assert not [t for t in tasks if t.endswith("_seed_build")]  # no task per seed
    after_seeds = seeds.get_flat_relative_ids(upstream=False)
    assert {t for t in tasks if t.endswith("_model_build")} <= after_seeds
