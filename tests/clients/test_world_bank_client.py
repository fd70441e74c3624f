"""World Bank client over real HTTP against a local server: pages, a 500, and an error sent with HTTP 200."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from werkzeug import Response

from lgstats.pipeline import registry
from lgstats.pipeline import steps as pipeline
from lgstats.pipeline.connectors import world_bank
from lgstats.pipeline.http import ApiError, ResponseError
from lgstats.pipeline.snapshots import Snapshot
from tests.conftest import FIXTURES, REPLAY

PAGES = REPLAY / "world_bank" / "indicators"
ERROR_BODY = (FIXTURES / "samples" / "wb_error.json").read_bytes()  # the real error envelope


class WorldBank:
    """Serves the recorded rows, in pages of 100; injects a 500 and an error-as-200. An indicator with no
    recorded rows gets the API's empty answer (``[header, null]``)."""

    def __init__(self, error_for: str | None = None, fail_once: str | None = None):
        self.error_for, self.fail_once, self.log = error_for, fail_once, []
        self.rows: dict[str, list] = {}
        for page in sorted(PAGES.glob("*__page-*.json")):
            self.rows.setdefault(page.name.split("__")[0], []).extend(json.loads(page.read_bytes())[1] or [])

    def handle(self, request):
        indicator = request.path.rsplit("/", 1)[-1]
        page, per_page = int(request.args.get("page", 1)), 100
        self.log.append((indicator, page))
        if indicator == self.error_for:
            return Response(ERROR_BODY, content_type="application/json;charset=utf-8")
        if indicator == self.fail_once:
            self.fail_once = None
            return Response("Internal Server Error", status=500)
        rows = self.rows.get(indicator, [])
        if not rows:
            return Response(json.dumps([{"page": 0, "pages": 0, "per_page": per_page, "total": 0, "sourceid": "2",
                                         "lastupdated": "2026-11-28"}, None]),
                            content_type="application/json;charset=utf-8")
        pages = -(-len(rows) // per_page)
        header = {"page": page, "pages": pages, "per_page": per_page, "total": len(rows), "sourceid": "2",
                  "lastupdated": "2026-11-28"}
        return Response(json.dumps([header, rows[(page - 1) * per_page: page * per_page]]),
                        content_type="application/json;charset=utf-8")


@pytest.fixture
def wb(httpserver, monkeypatch):
    def install(**kw):
        server = WorldBank(**kw)
        httpserver.expect_request(re.compile(r"/v2/country/.*")).respond_with_handler(server.handle)
        monkeypatch.setenv("LGSTATS_WORLD_BANK_BASE_URL", httpserver.url_for("/").rstrip("/"))
        return server
    return install


def test_check_page_accepts_the_envelope_and_recognises_errors_sent_with_200():
    header = json.loads((FIXTURES / "samples" / "wb_indicator_page_headers_observed.txt").read_text().split("\n")[3])
    assert world_bank.check_page([header, []], "x")[0]["total"] == 63
    assert world_bank.check_page([{"page": 0, "total": 0}, None], "x")[1] is None  # empty result
    with pytest.raises(ApiError, match="120 Invalid value"):
        world_bank.check_page(json.loads(ERROR_BODY), "x")
    with pytest.raises(ResponseError):
        world_bank.check_page({"not": "a list"}, "x")


def test_a_page_a_500_and_an_error_as_200_load_the_good_data_and_name_the_bad_indicator(wb, warehouse_url):
    server = wb(error_for="GC.REV.XGRT.GD.ZS", fail_once="SP.POP.TOTL")
    path = pipeline.fetch("world_bank", "indicators", "2026-11-28", "live")
    snap = Snapshot.open(Path(path))
    assert [e["indicator"] for e in snap.origin["errors"]] == ["GC.REV.XGRT.GD.ZS"]
    assert ("SP.POP.TOTL", 1) in server.log and server.log.count(("SP.POP.TOTL", 1)) == 2  # the 500, retried
    pipeline.validate(path)
    loaded = pipeline.load(path)
    good = sum(len(v) for k, v in server.rows.items() if k != "GC.REV.XGRT.GD.ZS")
    assert loaded["rows"] == good
    with pytest.raises(pipeline.IncompleteFetch, match="GC.REV.XGRT.GD.ZS: 120 Invalid value"):
        pipeline.check_fetch_errors(path)


def test_null_values_stay_null_and_counters_may_be_strings(tmp_path):
    from lgstats.pipeline.snapshots import SnapshotWriter

    body = json.dumps([{"page": "1", "pages": "1", "per_page": "50", "total": "2"},
                       [{"indicator": {"id": "SP.POP.TOTL", "value": "Population, total"},
                         "country": {"id": "PH", "value": "Philippines"}, "countryiso3code": "PHL", "date": "2020",
                         "value": None, "unit": "", "obs_status": "", "decimal": 0},
                        {"indicator": {"id": "SP.POP.TOTL", "value": "Population, total"},
                         "country": {"id": "PH", "value": "Philippines"}, "countryiso3code": "PHL", "date": "2019",
                         "value": 108116615, "unit": "", "obs_status": "", "decimal": 0}]]).encode()
    with SnapshotWriter(tmp_path, "world_bank", "indicators", "2026-01-01") as w:
        w.add("SP.POP.TOTL__page-0001.json", body, url=None, series="SP.POP.TOTL", total_elements=2)
        snap = w.commit(licence="CC BY 4.0")
    rows = list(world_bank.parse(snap))
    assert [(r["year"], r["value_num"]) for r in rows] == [(2020, None), (2019, "108116615")]


def test_the_pre_2018_row_shape_is_refused(tmp_path):
    from lgstats.pipeline.snapshots import SnapshotWriter

    old_row = {"indicator": {"id": "X"}, "value": "12", "date": "2010"}  # no countryiso3code
    body = json.dumps([{"page": 1, "pages": 1, "total": 1}, [old_row]])
    with SnapshotWriter(tmp_path, "world_bank", "indicators", "2026-01-01") as w:
        w.add("X__page-0001.json", body.encode(), url=None)
        snap = w.commit(licence="CC BY 4.0")
    with pytest.raises(ResponseError, match="countryiso3code"):
        list(world_bank.parse(snap))


def test_the_registry_lists_the_required_indicators():
    codes = {s.code for s in registry.source("world_bank").dataset("indicators").series}
    assert {"SP.URB.TOTL.IN.ZS", "SP.POP.TOTL", "NY.GDP.PCAP.CD", "GC.REV.XGRT.GD.ZS", "GC.XPN.TOTL.GD.ZS"} <= codes
