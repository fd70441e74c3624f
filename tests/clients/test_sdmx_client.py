"""The SDMX connector over real HTTP against a local server serving the replay files: faults recovered,
faults refused with a clear message and nothing committed, the Stats NZ key sent only as a header."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from werkzeug import Response

from lgstats.core.settings import get_settings
from lgstats.pipeline import steps as pipeline
from lgstats.pipeline.connectors import sdmx
from lgstats.pipeline.http import ApiError, FetchError
from lgstats.pipeline.snapshots import Snapshot
from tests.conftest import REPLAY

ABS_CSV = (REPLAY / "abs" / "erp_lga" / "data.csv").read_bytes()
NZ_CSV = (REPLAY / "stats_nz" / "agr_forestry" / "data.csv").read_bytes()
CSV = "application/vnd.sdmx.data+csv; charset=utf-8"


class Sdmx:
    """Answers ``/data/{flow ref}/{key}`` with ``body`` after playing ``faults`` one per request."""

    def __init__(self, body: bytes, faults: list[str] | None = None):
        self.body, self.faults, self.requests = body, list(faults or []), []

    def handle(self, request):
        self.requests.append(request)
        fault = self.faults.pop(0) if self.faults else None
        if fault == "503":
            return Response("Service Unavailable", status=503)
        if fault == "429":
            return Response("Too Many Requests", status=429, headers={"Retry-After": "1"})
        if fault == "html":  # what some .Stat endpoints answer instead of data
            return Response("<html><body>An error has occurred.</body></html>", content_type="text/html")
        if fault == "cut":  # the connection drops mid-body, at a line that is then short of fields
            return Response(self.body[: len(self.body) // 2 + 7], content_type=CSV)
        if fault == "drift":
            lines = self.body.decode().splitlines()
            lines[0] = lines[0].replace("FREQ", "FREQ,SEX")
            lines[1:] = [re.sub(r",A,", ",A,3,", ln, count=1) for ln in lines[1:]]
            return Response("\n".join(lines) + "\n", content_type=CSV)
        return Response(self.body, content_type=CSV)


@pytest.fixture
def serve(httpserver, monkeypatch):
    def install(source: str, body: bytes, faults=None) -> Sdmx:
        server = Sdmx(body, faults)
        httpserver.expect_request(re.compile(r"/rest/data/.*")).respond_with_handler(server.handle)
        monkeypatch.setenv(f"LGSTATS_{source.upper()}_BASE_URL", httpserver.url_for("/rest"))
        return server
    return install


def test_503_429_a_cut_body_and_an_html_page_are_retried_and_every_row_loads_once(serve, warehouse_url):
    server = serve("abs", ABS_CSV, faults=["503", "429", "cut", "html"])
    path = pipeline.fetch("abs", "erp_lga", "2026-11-28", "live")
    assert len(server.requests) == 5
    req = server.requests[-1]
    assert req.path == "/rest/data/ABS,ERP_LGA2025,1.0.0/ERP.LGA2025..A"
    assert req.args["format"] == "csv" and req.args["startPeriod"] == "2019"
    assert Snapshot.open(Path(path)).origin["files"][0]["rows"] == ABS_CSV.count(b"\n") - 1
    pipeline.validate(path)
    loaded = pipeline.load(path)
    assert loaded["rows"] == ABS_CSV.count(b"\n") - 1
    assert pipeline.load(path)["status"] == "unchanged"  # idempotent


def test_persistent_html_fails_clearly_and_commits_no_snapshot(serve, warehouse_url, monkeypatch):
    import lgstats.pipeline.http

    monkeypatch.setattr(lgstats.pipeline.http, "backoff_sleep", lambda *a: None)
    serve("abs", ABS_CSV, faults=["html"] * 5)
    with pytest.raises(FetchError, match="content type 'text/html'.*An error has occurred"):
        pipeline.fetch("abs", "erp_lga", "2026-11-28", "live")
    assert not list((get_settings().snapshots / "abs" / "erp_lga").glob("dt=*"))


def test_a_new_dimension_is_refused_at_once_naming_it(serve, warehouse_url):
    server = serve("abs", ABS_CSV, faults=["drift"])
    with pytest.raises(sdmx.SchemaDrift, match=r"new column\(s\) \[.SEX.\].*update `dimensions`"):
        pipeline.fetch("abs", "erp_lga", "2026-11-28", "live")
    assert len(server.requests) == 1  # drift will not heal: not retried
    assert not list((get_settings().snapshots / "abs" / "erp_lga").glob("dt=*"))


def test_stats_nz_sends_its_key_as_a_header_and_never_stores_it(serve, warehouse_url, monkeypatch):
    secret = "k-" + "0123456789abcdef"
    monkeypatch.setenv("LGSTATS_STATS_NZ_API_KEY", secret)
    server = serve("stats_nz", NZ_CSV)
    path = pipeline.fetch("stats_nz", "agr_forestry", "2026-11-28", "live")
    assert server.requests[0].headers["Ocp-Apim-Subscription-Key"] == secret
    assert secret not in server.requests[0].url
    stored = b"".join(p.read_bytes() for p in Path(path).iterdir())
    assert secret.encode() not in stored
    pipeline.validate(path)
    assert pipeline.load(path)["rows"] == 28


def test_stats_nz_without_a_key_says_which_variable_to_set(serve, warehouse_url, monkeypatch):
    monkeypatch.delenv("LGSTATS_STATS_NZ_API_KEY", raising=False)
    serve("stats_nz", NZ_CSV)
    with pytest.raises(ApiError, match=r"\$LGSTATS_STATS_NZ_API_KEY"):
        pipeline.fetch("stats_nz", "agr_forestry", "2026-11-28", "live")
