"""Run DAGs in this process, one after another, as ``airflow dags test`` does, and write each outcome as JSON.

``lgstats run`` runs every ingest DAG and then ``warehouse_build`` in one such process (Airflow, the DagBag, the
connectors and dbt are imported once, not once per DAG: about ten seconds saved per source); the build runs only
if every ingest DAG succeeded. Each DAG's start and end are marked in the log (``[lgstats] dag <id> start|end
<state>|skipped``), so it can be followed, and the whole process group can be killed from outside.

Two things keep each of the build's ~45 dbt tasks (Cosmos, dbt invoked in this process) near the cost of its
SQL; each was about 0.15 s per task, measured (docs/performance.md):
- ``lgstats run`` starts the ``lgstats-dag-runner`` script, not ``python -m lgstats.services.dag_runner``. dbt renders
  ~25 behaviour flags per invocation, each calling ``inspect.stack()``, which looks up the module of every frame;
  runpy's ``<frozen runpy>`` frames at the bottom of a ``-m`` stack belong to no module file, so each lookup
  scanned all of ``sys.modules`` (thousands of modules with Airflow loaded). A script's frames resolve at once.
- Cosmos forces a full ``gc.collect()`` after every dbt call. Once Airflow, the DAGs and dbt are imported, the
  heap is frozen (``gc.freeze``), and once more after the first full collection of a dbt DAG's run (what the
  run set up, Airflow's in-process API and dbt's caches, lives until it ends): each collection then scans the
  task's own objects, not the whole of Airflow. Frozen objects are still freed by reference counting; only
  cycles among them wait for the process to end, and it ends with the run.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

START, END, SKIPPED = "[lgstats] dag {} start", "[lgstats] dag {} end {}", "[lgstats] dag {} skipped"


def run_one(bag, dag_id: str, when: datetime, conf: dict) -> dict:
    outcome: dict = {"dag_id": dag_id, "import_errors": {k: str(v) for k, v in bag.import_errors.items()}}
    if dag_id not in bag.dags:
        from lgstats.core.settings import PROJECT_DIR

        outcome.update(state="failed", error=f"DAG {dag_id!r} not found in {PROJECT_DIR / 'dags'}")
        return outcome
    if _uses_dbt(bag.dags[dag_id]):
        _freeze_after_next_full_collection()
    try:
        dag_run = bag.dags[dag_id].test(logical_date=when, run_conf=conf)
    except Exception as exc:  # noqa: BLE001 - one DAG that cannot run must not stop the DAGs after it
        outcome.update(state="failed", error=f"{type(exc).__name__}: {exc}")
        return outcome
    tis = dag_run.get_task_instances()
    outcome.update(
        state=str(dag_run.state),
        run_id=dag_run.run_id,
        tasks={ti.task_id: str(ti.state) for ti in tis},
        task_seconds={ti.task_id: round(ti.duration, 2) for ti in tis if ti.duration is not None},
    )
    from lgstats.pipeline.run_history import record

    record(dag_id, dag_run.run_id, when, dag_run.start_date, dag_run.end_date or datetime.now(UTC),
           outcome["state"], outcome["tasks"], "lgstats run")
    return outcome


def _uses_dbt(dag) -> bool:
    return any(task.__class__.__module__.startswith("cosmos.") for task in dag.tasks)


def _freeze_after_next_full_collection() -> None:
    import gc

    def freeze_once(phase: str, info: dict) -> None:
        if phase == "stop" and info["generation"] == 2:
            gc.callbacks.remove(freeze_once)
            gc.freeze()

    gc.callbacks.append(freeze_once)


def _freeze_imported_heap(uses_dbt: bool) -> None:
    """Import what every dbt task will import (when a DAG runs dbt), then move everything alive to the
    collector's permanent generation: modules, classes and DAGs live as long as the process anyway."""
    import gc

    if uses_dbt:
        import dbt.adapters.postgres.impl  # noqa: F401 - imported for gc.freeze, before the first task
        import dbt.cli.main  # noqa: F401
        import dbt.task.build  # noqa: F401
    gc.freeze()


def run(dag_ids: list[str], logical_date: str, conf: dict, result_dir: str, then: str | None = None) -> int:
    """Run ``dag_ids`` in order, then ``then`` if every one of them succeeded (else it is marked skipped)."""
    from airflow.dag_processing.dagbag import DagBag

    from lgstats.core.settings import PROJECT_DIR

    bag = DagBag(dag_folder=str(PROJECT_DIR / "dags"))
    _freeze_imported_heap(uses_dbt=any(_uses_dbt(bag.dags[dag_id]) for dag_id in [*dag_ids, then]
                                       if dag_id in bag.dags))
    when = datetime.fromisoformat(logical_date).replace(tzinfo=UTC)
    states = []
    for dag_id in [*dag_ids, then] if then else dag_ids:
        if dag_id == then and any(s != "success" for s in states):
            print(SKIPPED.format(dag_id), flush=True)
            break
        print(START.format(dag_id), flush=True)
        outcome = run_one(bag, dag_id, when, conf)
        with open(Path(result_dir) / f"{dag_id}.json", "w", encoding="utf-8") as fh:
            json.dump(outcome, fh, indent=2)
        print(END.format(dag_id, outcome["state"]), flush=True)
        states.append(outcome["state"])
    return 0 if all(s == "success" for s in states) else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("dag_ids", nargs="+")
    p.add_argument("--logical-date", required=True)
    p.add_argument("--conf", default="{}")
    p.add_argument("--result-dir", required=True)
    p.add_argument("--then", help="a DAG to run last, only if every DAG before it succeeded")
    a = p.parse_args(argv)
    return run(a.dag_ids, a.logical_date, json.loads(a.conf), a.result_dir, a.then)


if __name__ == "__main__":
    sys.exit(main())
