"""``lgstats trigger``: a real DAG run through Airflow's REST API, followed to the Asset-triggered build.

The ingest DAG is triggered on the stack ``lgstats airflow`` runs for this home (``stack.json``), or on the
API that ``LGSTATS_AIRFLOW_URL`` names (with ``LGSTATS_AIRFLOW_USER``/``LGSTATS_AIRFLOW_PASSWORD``). With
``--wait`` the run is followed, then every ``warehouse_build`` run that consumed one of its Asset events,
until all are finished; each task's state is printed with the worker it ran on as it changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from lgstats.core.settings import Settings
from lgstats.services import airflow_stack

BUILD_DAG = "warehouse_build"
FINISHED = {"success", "failed"}


class TriggerError(RuntimeError):
    """The run could not be triggered or followed; the message says why and how to fix it."""


@dataclass
class AirflowAPI:
    base: str
    token: str
    timeout: float = 30

    @classmethod
    def login(cls, s: Settings) -> AirflowAPI:
        base = s.airflow_url
        password = s.airflow_password
        if not base:
            state = airflow_stack.read_state(s)
            if state is None:
                raise TriggerError(f"no Airflow stack is running for {s.home}. Fix: start one with `lgstats airflow "
                                   "--executor celery`, or set LGSTATS_AIRFLOW_URL to your Airflow's API.")
            base = state["url"]
            password = password or airflow_stack.admin_password(s.airflow_home)
        user = s.airflow_user
        try:
            resp = requests.post(f"{base}/auth/token", json={"username": user, "password": password or ""},
                                 timeout=30)
        except requests.RequestException as exc:
            raise TriggerError(f"cannot reach Airflow at {base}: {exc}") from None
        if resp.status_code >= 300:
            raise TriggerError(f"Airflow at {base} refused the login of {user!r} (HTTP {resp.status_code}). Fix: "
                               "set LGSTATS_AIRFLOW_USER and LGSTATS_AIRFLOW_PASSWORD.")
        return cls(base, resp.json()["access_token"])

    def call(self, method: str, path: str, **kwargs) -> dict:
        resp = requests.request(method, f"{self.base}/api/v2{path}", timeout=self.timeout,
                                headers={"Authorization": f"Bearer {self.token}"}, **kwargs)
        if resp.status_code == 404:
            raise TriggerError(f"Airflow has no {path} (HTTP 404): {resp.text[:300]}")
        if resp.status_code >= 300:
            raise TriggerError(f"{method} {path} failed (HTTP {resp.status_code}): {resp.text[:500]}")
        return resp.json() if resp.content else {}


def _unpause(api: AirflowAPI, dag_id: str, say: Callable[[str], None]) -> None:
    dag = api.call("GET", f"/dags/{dag_id}")
    if dag.get("is_paused"):
        api.call("PATCH", f"/dags/{dag_id}", params={"update_mask": "is_paused"}, json={"is_paused": False})
        say(f"unpaused {dag_id}")


def _tasks(api: AirflowAPI, dag_id: str, run_id: str) -> list[dict]:
    out = api.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
    return [{"task_id": t["task_id"], "state": t.get("state"), "hostname": t.get("hostname") or None,
             "try_number": t.get("try_number")} for t in out["task_instances"]]


class Follower:
    """Polls runs and reports each task's change of state once."""

    def __init__(self, api: AirflowAPI, say: Callable[[str], None]):
        self.api, self.say, self.seen = api, say, {}

    def poll(self, dag_id: str, run_id: str) -> dict:
        run = self.api.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
        tasks = _tasks(self.api, dag_id, run_id)
        for t in tasks:
            key = (dag_id, run_id, t["task_id"])
            now = (t["state"], t["hostname"], t["try_number"])
            if t["state"] and self.seen.get(key) != now:
                self.seen[key] = now
                where = f" on {t['hostname']}" if t["hostname"] else ""
                tries = f" (try {t['try_number']})" if (t["try_number"] or 1) > 1 else ""
                self.say(f"  {dag_id:<24} {t['task_id']:<52} {t['state']}{where}{tries}")
        return {"dag_id": dag_id, "run_id": run_id, "state": run["state"],
                "tasks": [{k: t[k] for k in ("task_id", "state", "hostname")} for t in tasks]}


def _events_of(api: AirflowAPI, dag_id: str, run: dict) -> set[int]:
    """The Asset events a finished ingest run emitted (none when it loaded nothing)."""
    return {e["id"] for e in api.call("GET", "/assets/events", params={
        "source_dag_id": dag_id, "source_run_id": run["dag_run_id"], "limit": 1000})["asset_events"]}


def _builds_for(api: AirflowAPI, wanted: set[int], after: str,
                consumed_by: dict[str, set[int]]) -> tuple[list[str], bool]:
    """The ``warehouse_build`` runs that consumed any of ``wanted``, and whether all of them are taken. A run's
    consumed events are fixed when the scheduler creates it, so each run's are read once (``consumed_by``)."""
    runs = api.call("GET", f"/dags/{BUILD_DAG}/dagRuns", params={"run_after_gte": after, "order_by": "run_after",
                                                                 "limit": 100})["dag_runs"]
    builds, taken = [], set()
    for build in runs:
        run_id = build["dag_run_id"]
        if run_id not in consumed_by:
            consumed_by[run_id] = {e["id"] for e in api.call(
                "GET", f"/dags/{BUILD_DAG}/dagRuns/{run_id}/upstreamAssetEvents")["asset_events"]}
        if consumed_by[run_id] & wanted:
            builds.append(run_id)
            taken |= consumed_by[run_id] & wanted
    return builds, taken == wanted  # no events (nothing loaded): no build to wait for


def trigger(s: Settings, source: str, mode: str, wait: bool, say: Callable[[str], None],
            timeout: float = 3600, poll_seconds: float = 2) -> dict:
    """Trigger ``<source>_ingest``; with ``wait``, follow it and its builds. Returns the ``--json`` document."""
    api = AirflowAPI.login(s)
    dag_id = f"{source}_ingest"
    try:
        api.call("GET", f"/dags/{dag_id}")
    except TriggerError:
        known = sorted(d["dag_id"].removesuffix("_ingest") for d in api.call("GET", "/dags", params={"limit": 1000})
                       ["dags"] if d["dag_id"].endswith("_ingest"))
        raise TriggerError(f"unknown source {source!r}: Airflow has no DAG {dag_id}. Sources: {known}") from None
    for dag in (dag_id, BUILD_DAG):
        _unpause(api, dag, say)
    run = api.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": {"mode": mode}})
    say(f"triggered {dag_id} run {run['dag_run_id']} (mode {mode}): {api.base}/dags/{dag_id}/runs/{run['dag_run_id']}")
    follower = Follower(api, say)
    if not wait:
        return {"runs": [follower.poll(dag_id, run["dag_run_id"])]}
    deadline = time.monotonic() + timeout
    result = follower.poll(dag_id, run["dag_run_id"])
    while result["state"] not in FINISHED:
        _sleep_or_fail(deadline, poll_seconds, dag_id)
        result = follower.poll(dag_id, run["dag_run_id"])
    runs = [result]
    if result["state"] == "success":
        after = api.call("GET", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}")["start_date"]
        wanted, consumed_by = _events_of(api, dag_id, run), {}
        while True:
            builds, all_taken = _builds_for(api, wanted, after, consumed_by)
            states = [follower.poll(BUILD_DAG, b) for b in builds]
            if all_taken and all(b["state"] in FINISHED for b in states):
                runs += states
                break
            _sleep_or_fail(deadline, poll_seconds, BUILD_DAG)
    return {"runs": runs}


def _sleep_or_fail(deadline: float, seconds: float, what: str) -> None:
    if time.monotonic() > deadline:
        raise TriggerError(f"gave up waiting for {what}; it is still running in Airflow")
    time.sleep(seconds)
