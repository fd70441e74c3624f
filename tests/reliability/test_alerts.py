"""Failure alerts keep the webhook's full URL (credentials and query string), never write it to logs, and
report their own failure (a non-2xx answer) in the log and in ops.alert_failures."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import psycopg
from werkzeug import Response

from lgstats.services import alerts


def context() -> dict:
    ti = SimpleNamespace(dag_id="un_sdg_ingest", task_id="load_series_data", run_id="manual__1", try_number=1,
                         log_url="http://127.0.0.1:8080/log")
    return {"ti": ti, "dag_run": SimpleNamespace(run_id="manual__1"), "exception": RuntimeError("boom")}


def test_the_full_url_is_used_and_never_logged(httpserver, monkeypatch, caplog, warehouse_url):
    got = []

    def hook(request):
        got.append((request.path, request.args.get("token"), request.authorization))
        return Response("nope", status=403)

    httpserver.expect_request("/hooks/x", method="POST").respond_with_handler(hook)
    url = httpserver.url_for("/hooks/x").replace("http://", "http://bot:pa55word@") + "?token=s3cret"
    monkeypatch.setenv("AIRFLOW_CONN_LGSTATS_ALERTS", url)
    with caplog.at_level(logging.WARNING, logger="lgstats.services.alerts"):
        alerts.notify_failure(context())
    path, token, auth = got[0]
    assert (path, token, auth.username, auth.password) == ("/hooks/x", "s3cret", "bot", "pa55word")
    logged = caplog.text
    assert "HTTP 403" in logged and "?***" in logged and "***@" in logged
    assert "s3cret" not in logged and "pa55word" not in logged
    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute("select dag_id, task_id, http_status from ops.alert_failures").fetchall()
    assert rows == [("un_sdg_ingest", "load_series_data", 403)]


def test_an_unreachable_webhook_is_recorded_too(monkeypatch, caplog, warehouse_url):
    from tests.conftest import free_port

    monkeypatch.setenv("AIRFLOW_CONN_LGSTATS_ALERTS", f"http://127.0.0.1:{free_port()}/hook?key=abc123")
    with caplog.at_level(logging.WARNING, logger="lgstats.services.alerts"):
        alerts.notify_failure(context())
    assert "could not post" in caplog.text and "abc123" not in caplog.text
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("select http_status, detail like 'ConnectionError%' from ops.alert_failures"
                            ).fetchall() == [(None, True)]


def test_masking_keeps_where_the_alert_went():
    assert alerts.masked("https://u:p@hooks.example.org:8443/a/b?t=1") == "https://***@hooks.example.org:8443/a/b?***"
    assert alerts.masked("http://hooks.example.org/x") == "http://hooks.example.org/x"
