"""ops.runs: one row per DAG run, written by ``lgstats run`` and by the DAGs' own run-level callbacks
(so runs started by the scheduler are recorded too). Recording must never fail a run."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def record(dag_id: str, run_id: str, logical_date, started_at, finished_at, state: str,
           tasks: dict | None, recorded_by: str) -> None:
    from lgstats.core import warehouse
    from lgstats.pipeline.schema import bootstrap, record_run

    try:
        with warehouse.connect(connect_timeout=10) as conn:
            bootstrap(conn)
            record_run(conn, dag_id=dag_id, run_id=run_id, logical_date=logical_date, started_at=started_at,
                       finished_at=finished_at, state=state, tasks=tasks, recorded_by=recorded_by)
    except Exception as exc:  # the warehouse may be the thing that is down
        log.warning("could not record the run of %s in ops.runs: %s", dag_id, exc)


def on_dag_run_end(context: dict) -> None:
    """DAG-level success/failure callback."""
    dr = context.get("dag_run")
    if dr is None:
        return
    state = getattr(dr, "state", None)
    record(dr.dag_id, dr.run_id, getattr(dr, "logical_date", None), getattr(dr, "start_date", None),
           getattr(dr, "end_date", None), str(state.value if hasattr(state, "value") else state),
           None, "dag_callback")
