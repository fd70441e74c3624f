"""Airflow DAG: member submissions from the inbox → raw.submissions__<template> (+ quarantine)."""

from datetime import timedelta

from airflow.sdk import DAG, Param, get_current_context, task

from lgstats.services.dag_factory import (
    RUN_CALLBACKS,
    RUNBOOK,
    START,
    default_args,
    default_mode,
    raw_asset,
    schedules_on,
    submission_tables,
)

DOC_MD = f"""
### submissions_ingest: member submissions

**Purpose.** Process the files members drop in `$LGSTATS_HOME/inbox/<member>/<template>/` (or send with
`lgstats submit`), and with an object store (`LGSTATS_STORE_URL`) those waiting in its `inbox/<member>/<template>/`
(claimed by one worker, then moved to `inbox/.processed/` or `inbox/.failed/`): keep each as received in the
snapshot store, check it against its template's data contract (`ingestion/submissions/templates.yml`) with
Great Expectations, load valid rows into `raw.submissions__<template>`, set rejected rows aside in
`quarantine.submissions__<template>` with their reasons, and write a report for the member. Counts land in
`ops.submissions`.

**Source.** Member local governments and associations; templates in `data/templates/`.
In replay mode the synthetic samples in `data/replay/submissions/` are put in the inbox first.

**Owner.** data-eng, with the membership team. **Runbook:** `{RUNBOOK}`. A member's bad rows do not fail
the DAG: they are the member's to fix, and the report tells them how.
"""

with DAG(
    dag_id="submissions_ingest",
    schedule=timedelta(minutes=15) if schedules_on() else None,
    start_date=START,
    catchup=False,
    max_active_runs=1,
    tags=["ingest", "submissions"],
    default_args=default_args("data-eng"),
    params={"mode": Param(default_mode(), enum=["live", "replay"], description="replay also seeds sample files")},
    doc_md=DOC_MD,
    **RUN_CALLBACKS,
) as dag:

    @task
    def collect_replay_samples() -> int:
        """Replay mode only: place the sample submissions in the inbox (once per file)."""
        if get_current_context()["params"]["mode"] != "replay":
            return 0
        from lgstats.pipeline.submissions import process

        return len(process.seed_replay_inbox())

    @task(outlets=[raw_asset(t) for t in submission_tables()])
    def process_inbox(_placed: int) -> list[dict]:
        from lgstats.pipeline.submissions import process

        results = [r.as_dict() for r in process.process_inbox()]
        if not results:  # no asset event: warehouse_build has nothing new to build
            from airflow.sdk.exceptions import AirflowSkipException

            raise AirflowSkipException("the inbox is empty")
        for r in results:
            print(f"{r['member']}/{r['template']}: {r['status']}: {r['message']} ({r.get('report_html')})")
        return results

    process_inbox(collect_replay_samples())
