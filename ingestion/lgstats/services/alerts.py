"""Failure alerts: every DAG's ``on_failure_callback``.

The destination is an Airflow connection, ``lgstats_alerts`` (e.g. ``AIRFLOW_CONN_LGSTATS_ALERTS=
'http://hooks.example/...'``): an HTTP(S) webhook that receives one JSON POST per failed task. Without the
connection the alert is only logged, so local runs need no set-up. Each alert names the worker the task ran on
(``hostname``), so a bad host is found from the alert alone.
"""

from __future__ import annotations

import json
import logging
import os

from lgstats.services import worker_name

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
        "hostname": getattr(ti, "hostname", None) or worker_name.hostname(),  # the worker the task failed on
        "log_url": getattr(ti, "log_url", None),
        "error": str(exc)[:2000] if exc else None,
    }


def webhook_url() -> str | None:
    """The webhook's full URL, query string and credentials included (a hook's token often lives there):
    the connection's URI as given in ``AIRFLOW_CONN_LGSTATS_ALERTS``, else rebuilt from the connection."""
    raw = os.environ.get(f"AIRFLOW_CONN_{CONN_ID.upper()}", "").strip()
    if raw.startswith(("http://", "https://")):
        return raw
    try:
        from airflow.sdk import Connection

        conn = Connection.get(CONN_ID)
    except Exception:  # not configured: alerts are logged only
        return None
    from urllib.parse import quote, urlencode

    host = conn.host or ""
    if host.startswith(("http://", "https://")):
        return host
    scheme = (conn.conn_type or "http").replace("_", "-")
    scheme = scheme if scheme in ("http", "https") else "https"
    auth = ""
    if conn.login:
        auth = quote(conn.login, safe="") + (f":{quote(conn.password, safe='')}" if conn.password else "") + "@"
    port = f":{conn.port}" if conn.port else ""
    extra = conn.extra_dejson if conn.extra else {}
    query = f"?{urlencode(extra)}" if extra else ""
    return f"{scheme}://{auth}{host}{port}/{(conn.schema or '').lstrip('/')}{query}"


def masked(url: str) -> str:
    """The URL as logs may show it: no credentials, no query string (a webhook's secret lives in either)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    auth = "***@" if parts.username or parts.password else ""
    return f"{parts.scheme}://{auth}{host}{port}{parts.path}" + ("?***" if parts.query else "")


def scrubbed(text: str, url: str) -> str:
    """``text`` with every secret part of ``url`` masked (libraries quote URLs in pieces: path?query)."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    text = text.replace(url, masked(url))
    for secret in (parts.query, unquote(parts.query), parts.password, parts.username):
        if secret:
            text = text.replace(secret, "***")
    return text


def _record(payload: dict, status: int | None, detail: str) -> None:
    """Every alert that did not arrive is in ops.alert_failures: an alert's own failure must be seen."""
    try:
        from lgstats.core import warehouse
        from lgstats.pipeline.schema import bootstrap

        with warehouse.connect(connect_timeout=5) as conn:
            bootstrap(conn)
            conn.execute("insert into ops.alert_failures (dag_id, task_id, run_id, http_status, detail) "
                         "values (%s, %s, %s, %s, %s)",
                         (payload.get("dag_id"), payload.get("task_id"), payload.get("run_id"), status, detail))
    except Exception as exc:  # noqa: BLE001 - the warehouse may be what failed; the log line stays
        log.warning("could not record the alert failure in ops.alert_failures: %s", exc)


def notify_failure(context: dict) -> None:
    payload = alert_payload(context)
    log.error("task failed: %s", payload)
    from lgstats.core.settings import get_settings

    record = get_settings().failure_file
    if record:  # `lgstats run` collects failures here to explain them in its summary
        with open(record, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(payload, default=str) + "\n")
    url = webhook_url()
    if not url:
        return
    import requests

    try:
        resp = requests.post(url, json={"text": f"lgstats: {payload['dag_id']}.{payload['task_id']} failed",
                                        **payload}, timeout=10, allow_redirects=False)
    except requests.RequestException as exc:  # an alert must never mask the failure itself
        detail = f"{type(exc).__name__}: {scrubbed(str(exc), url)}"
        log.warning("could not post the failure alert to %s: %s", masked(url), detail)
        _record(payload, None, detail)
        return
    if not 200 <= resp.status_code < 300:
        detail = f"HTTP {resp.status_code}: {scrubbed(resp.text[:200], url)!r}"
        log.warning("the failure alert to %s was not accepted: %s", masked(url), detail)
        _record(payload, resp.status_code, detail)
