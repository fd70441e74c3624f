"""Run DAGs in this process, one after another, as ``airflow dags test`` does, and write each outcome as JSON.

``lgstats run`` runs every ingest DAG in one such process (Airflow, the DagBag and the connectors are imported
once, not once per DAG: about ten seconds saved per source), then ``warehouse_build`` in another. Each DAG's
start and end are marked in the log (``[lgstats] dag <id> start|end <state>``), so it can be followed, and the
whole process group can be killed from outside.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

START, END = "[lgstats] dag {} start", "[lgstats] dag {} end {}"


def run_one(bag, dag_id: str, when: datetime, conf: dict) -> dict:
    outcome: dict = {"dag_id": dag_id, "import_errors": {k: str(v) for k, v in bag.import_errors.items()}}
    if dag_id not in bag.dags:
        from lgstats.settings import PROJECT_DIR

        outcome.update(state="failed", error=f"DAG {dag_id!r} not found in {PROJECT_DIR / 'dags'}")
        return outcome
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
    from lgstats.run_history import record

    record(dag_id, dag_run.run_id, when, dag_run.start_date, dag_run.end_date or datetime.now(UTC),
           outcome["state"], outcome["tasks"], "lgstats run")
    return outcome


def run(dag_ids: list[str], logical_date: str, conf: dict, result_dir: str) -> int:
    from airflow.dag_processing.dagbag import DagBag

    from lgstats.settings import PROJECT_DIR

    bag = DagBag(dag_folder=str(PROJECT_DIR / "dags"))
    when = datetime.fromisoformat(logical_date).replace(tzinfo=UTC)
    states = []
    for dag_id in dag_ids:
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
    a = p.parse_args(argv)
    return run(a.dag_ids, a.logical_date, json.loads(a.conf), a.result_dir)


if __name__ == "__main__":
    sys.exit(main())
