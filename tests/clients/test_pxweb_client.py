"""The PXWeb connector over real HTTP against a local server acting as PSA OpenSTAT: explicit item lists
only, the cell count checked against the selection, renamed variables refused by name."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from werkzeug import Response

from lgstats.devdata.real import psa as real_psa
from lgstats.pipeline import steps as pipeline
from lgstats.pipeline.http import ApiError, FetchError

TITLE, AREAS, PARAMETERS, YEARS, CELLS = real_psa.read_export()  # PSA's real table export

JSON = "application/json; charset=utf-8"


class Psa:
    """GET → table metadata; POST → JSON-stat 2.0 for the items asked (403 for ``filter: all``, as PSA's WAF)."""

    def __init__(self, short_answers: int = 0, rename: str | None = None):
        self.short_answers, self.rename, self.posts, self.gets = short_answers, rename, [], 0

    def handle(self, request):
        if request.method == "GET":
            self.gets += 1
            meta = real_psa.metadata(TITLE, AREAS, PARAMETERS, YEARS)
            if self.rename:
                meta["variables"][0]["code"] = self.rename
            return Response(json.dumps(meta), content_type=JSON)
        query = json.loads(request.get_data())
        self.posts.append(query)
        if any(q["selection"]["filter"] != "item" for q in query["query"]):
            return Response("Forbidden", status=403)
        meta = real_psa.metadata(TITLE, AREAS, PARAMETERS, YEARS)
        payload = real_psa.dataset(meta, {q["code"]: q["selection"]["values"] for q in query["query"]}, CELLS, TITLE)
        if self.short_answers:
            self.short_answers -= 1
            payload["value"] = payload["value"][:1]
        return Response(json.dumps(payload), content_type=JSON)


@pytest.fixture
def psa(httpserver, monkeypatch):
    def install(**kw) -> Psa:
        server = Psa(**kw)
        httpserver.expect_request(re.compile(r"/DB/.*")).respond_with_handler(server.handle)
        monkeypatch.setenv("LGSTATS_PSA_BASE_URL", httpserver.url_for("/DB"))
        return server
    return install


def test_explicit_items_and_a_short_answer_retried_then_every_cell_loads(psa, warehouse_url):
    server = psa(short_answers=1)
    path = pipeline.fetch("psa", "poverty_incidence", "2026-11-28", "live")
    assert server.gets == 1 and len(server.posts) == 2
    sent = {q["code"]: q["selection"] for q in server.posts[-1]["query"]}
    assert all(s["filter"] == "item" for s in sent.values())  # never "all"
    assert sent["Geolocation"]["values"] == [str(i) for i in range(len(AREAS))]
    # the incidence parameter, found by its label in the metadata (the threshold is "0")
    assert sent["Threshold/Incidence/Parameters"]["values"] == ["1"]
    cells = len(AREAS) * len(YEARS)
    pipeline.validate(path)
    assert pipeline.load(path)["rows"] == cells
    assert (Path(path) / "metadata.json").exists()


def test_an_answer_that_stays_short_fails_clearly(psa, warehouse_url, monkeypatch):
    import lgstats.pipeline.http

    monkeypatch.setattr(lgstats.pipeline.http, "backoff_sleep", lambda *a: None)
    psa(short_answers=99)
    with pytest.raises(FetchError, match=rf"1 value\(s\) for {len(AREAS) * len(YEARS)} cells.*incomplete table"):
        pipeline.fetch("psa", "poverty_incidence", "2026-11-28", "live")


def test_a_renamed_variable_is_refused_by_name(psa, warehouse_url):
    server = psa(rename="Geo")
    with pytest.raises(ApiError, match=r"no variable\(s\) \['Geolocation'\].*Update `selection`"):
        pipeline.fetch("psa", "poverty_incidence", "2026-11-28", "live")
    assert server.posts == []
