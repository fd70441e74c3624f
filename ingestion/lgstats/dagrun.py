"""Run one DAG in this process, as ``airflow dags test`` does, and write its outcome as JSON.

``lgstats run`` starts one such process per DAG so that each gets a fresh interpreter, its own log
file, and can be followed (and killed) from outside.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime


def run(dag_id: str, logical_date: str, conf: dict, result_path: str) -> int:
    from airflow.dag_processing.dagbag import DagBag

    from lgstats.settings import PROJECT_DIR

    bag = DagBag(dag_folder=str(PROJECT_DIR / "dags"))
    outcome: dict = {"dag_id": dag_id, "import_errors": {k: str(v) for k, v in bag.import_errors.items()}}
    if dag_id not in bag.dags:
        outcome.update(state="failed", error=f"DAG {dag_id!r} not found in {PROJECT_DIR / 'dags'}")
    else:
        when = datetime.fromisoformat(logical_date).replace(tzinfo=UTC)
        dag_run = bag.dags[dag_id].test(logical_date=when, run_conf=conf)
        tis = dag_run.get_task_instances()
        outcome.update(
            state=str(dag_run.state),
            run_id=dag_run.run_id,
            tasks={ti.task_id: str(ti.state) for ti in tis},
            task_seconds={ti.task_id: round(ti.duration, 2) for ti in tis if ti.duration is not None},
        )
        from lgstats.run_history import record

        record(dag_id, dag_run.run_id, when, dag_run.start_date, dag_run.end_date or datetime.now(UTC),
               outcome["state"], outcome["tasks"], "lgstats run")
    with open(result_path, "w", encoding="utf-8") as fh:
        json.dump(outcome, fh, indent=2)
    return 0 if outcome["state"] == "success" else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("dag_id")
    p.add_argument("--logical-date", required=True)
    p.add_argument("--conf", default="{}")
    p.add_argument("--result", required=True)
    a = p.parse_args(argv)
    return run(a.dag_id, a.logical_date, json.loads(a.conf), a.result)


if __name__ == "__main__":
    sys.exit(main())
