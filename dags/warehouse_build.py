"""raw.* → staging → intermediate → marts, with dbt run by Cosmos from the pre-built manifest."""

from datetime import datetime

from airflow.sdk import DAG, AssetAny, chain, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
from cosmos.operators.local import DbtBuildLocalOperator

from lgstats.core.settings import PROJECT_DIR
from lgstats.services.dag_factory import RUN_CALLBACKS, RUNBOOK, all_raw_assets, default_args

DBT_DIR = PROJECT_DIR / "dbt"
LAYERS = {
    "staging": ["path:models/staging"],
    "intermediate": ["path:models/intermediate"],
    "marts": ["path:models/marts"],
}

DOC_MD = f"""
### warehouse_build: raw → marts

**Purpose.** Rebuild the warehouse from `raw.*` with dbt (Cosmos, one task group per layer: staging, intermediate,
marts), building each model with its tests in one task (`dbt build`). The reference tables of `dbt/seeds` (CSV files
of this repository) load first, all in one task (`seeds`) with the tests among them. Between intermediate and marts
the publish gates (`expectations/publish_gates.yml`: deleted rows per series, vanished series, golden values)
compare the new build with the published marts; a failing gate or test stops the layers after it, so the marts keep
their last good rows. Before the intermediate layer each registry dataset's SELECT runs on its own
(`probe_registry_datasets`): a dataset that cannot build is left out and the others publish; the last task
(`report_datasets_left_out`) then fails, naming it. With `LGSTATS_RELEASE_AFTER_BUILD=on` (production) the marts are
then published as a citable release (`publish_release`, `lgstats release`). Last, the documentation site (`lgstats
docs`) is refreshed.

**Source.** The `raw` tables written by the `*_ingest` DAGs; scheduled on their Assets, so it runs after any load.

**Owner.** data-eng. **Runbook:** `{RUNBOOK}`. dbt project: `dbt/`; manifest built by `dbt parse` at set-up.
"""

profile_config = ProfileConfig(profile_name="lgstats", target_name="warehouse",
                               profiles_yml_filepath=DBT_DIR / "profiles.yml")
project_config = ProjectConfig(dbt_project_path=DBT_DIR, manifest_path=DBT_DIR / "target" / "manifest.json",
                               install_dbt_deps=False)
execution_config = ExecutionConfig(execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER)
# each task is its own dbt invocation: skip writing manifest/run_results JSON (nothing reads them: the task state
# is the result) and the up-front relation cache (a query per schema); about 0.25 s of dbt start-up saved per
# task, measured (docs/performance.md)
DBT_TASK_ARGS = {"quiet": True, "dbt_cmd_global_flags": ["--no-write-json", "--no-populate-cache"]}

with DAG(
    dag_id="warehouse_build",
    schedule=AssetAny(*all_raw_assets()),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["transform", "dbt"],
    default_args=default_args("data-eng"),
    doc_md=DOC_MD,
    **RUN_CALLBACKS,
) as dag:

    @task
    def prepare_warehouse() -> str:
        """Schemas and raw tables exist (empty if never loaded) before dbt reads its sources."""
        from lgstats.core import warehouse
        from lgstats.pipeline.raw_tables import ensure_all_raw_tables

        with warehouse.connect() as conn:
            ensure_all_raw_tables(conn)
        return "ok"

    @task
    def publish_gates() -> dict:
        """Compare the new intermediate layer with the published marts before replacing them."""
        from lgstats.core import warehouse
        from lgstats.pipeline import gates

        with warehouse.connect() as conn:
            report = gates.enforce(conn)
        return {"passed": report.passed, "findings": report.findings, "checked": report.checked}

    # the seeds are files of this repository, not data the pipeline loads: one `dbt build` loads them all with
    # the tests between seeds (cautious selection: a test that also reads a staging model runs in that layer).
    # A task per seed cost a process and a DAG parse each on a Celery worker (docs/performance.md).
    seeds = DbtBuildLocalOperator(
        task_id="seeds",
        project_dir=str(DBT_DIR),
        profile_config=profile_config,
        manifest_filepath=str(project_config.manifest_path),
        install_deps=False,
        invocation_mode=execution_config.invocation_mode,
        select="resource_type:seed",
        indirect_selection="cautious",
        **DBT_TASK_ARGS,
    )

    groups = [
        DbtTaskGroup(
            group_id=layer,
            project_config=project_config,
            profile_config=profile_config,
            execution_config=execution_config,
            render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, select=select,
                                       test_behavior=TestBehavior.BUILD, emit_datasets=False,
                                       should_detach_multiple_parents_tests=True),
            operator_args=DBT_TASK_ARGS,
        )
        for layer, select in LAYERS.items()
    ]

    @task
    def probe_registry_datasets() -> list[dict]:
        """Run each registry dataset's SELECT on its own; one that fails is left out of this build (named)."""
        from lgstats.pipeline import registry_probe

        return registry_probe.probe()

    @task
    def report_datasets_left_out() -> None:
        """Fail, after everything else is published, when a registry dataset was left out of this build."""
        from lgstats.pipeline import registry_probe

        registry_probe.report()

    @task
    def publish_release() -> str:
        """With LGSTATS_RELEASE_AFTER_BUILD on (production), publish the marts just built as a release."""
        from lgstats.pipeline import release_exports

        return release_exports.release_after_build()

    @task
    def build_docs() -> str:
        """Refresh the static documentation site (dbt docs + GX Data Docs)."""
        from lgstats.services import docs_site

        return str(docs_site.build())

    staging, intermediate, marts = groups
    chain(prepare_warehouse(), seeds, staging, probe_registry_datasets(), intermediate, publish_gates(), marts,
          publish_release(), build_docs(), report_datasets_left_out())
