"""Failure alerts: every DAG's ``on_failure_callback``.

The destination is an Airflow connection, ``lgstats_alerts`` (e.g. ``AIRFLOW_CONN_LGSTATS_ALERTS=
'http://hooks.example/...'``): an HTTP(S) webhook that receives one JSON POST per failed task. Without the
connection the alert is only logged, so local runs need no set-up.
"""

from __future__ import annotations

import json
import logging
import os

log = logging.getLogger(__name__)
CONN_ID = "lgstats_alerts"


def alert_payload(context: dict) -> dict:
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    exc = context.get("exception")
    return {
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": getattr(dag_run, "run_id", None) or getattr(ti, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
        "log_url": getattr(ti, "log_url", None),
        "error": str(exc)[:2000] if exc else None,
    }


def _webhook_url() -> str | None:
    try:
        from airflow.sdk import Connection

        conn = Connection.get(CONN_ID)
    except Exception:  # not configured: alerts are logged only
        return None
    uri = conn.get_uri()
    scheme = (conn.conn_type or "http").replace("_", "-")
    if scheme not in ("http", "https"):
        scheme = "https" if "https" in uri[:8] else "http"
    host = conn.host or ""
    if host.startswith(("http://", "https://")):
        return host
    port = f":{conn.port}" if conn.port else ""
    path = conn.schema or ""
    return f"{scheme}://{host}{port}/{path.lstrip('/')}"


def notify_failure(context: dict) -> None:
    payload = alert_payload(context)
    log.error("task failed: %s", payload)
    record = os.environ.get("LGSTATS_FAILURE_FILE")
    if record:  # `lgstats run` collects failures here to explain them in its summary
        with open(record, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(payload, default=str) + "\n")
    url = _webhook_url()
    if not url:
        return
    import requests

    try:
        requests.post(url, json={"text": f"lgstats: {payload['dag_id']}.{payload['task_id']} failed", **payload},
                      timeout=10)
    except requests.RequestException as exc:  # an alert must never mask the failure itself
        log.warning("could not post the failure alert to %s: %s", url, exc)
