"""HTTP faults for every client, one matrix: each fault either heals (the snapshot then parses to exactly
the rows of a fault-free fetch) or fails with a message that names the problem, leaving no snapshot
partition and no raw row behind.

Faults played once: a response slower than the timeout, 503, 429 with Retry-After, a body cut in half.
Faults that persist: an HTML page sent with 200 (gateways do this), a renamed field (schema drift).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from werkzeug import Response

from lgstats.core.settings import get_settings
from lgstats.pipeline import connectors, registry
from lgstats.pipeline import steps as pipeline
from lgstats.pipeline.http import ApiError, FetchError
from lgstats.pipeline.registry import HttpPolicy
from lgstats.pipeline.snapshots import Snapshot
from lgstats.pipeline.validation import ValidationFailed
from tests.clients.test_pxweb_client import Psa
from tests.clients.test_sdmx_client import ABS_CSV, Sdmx
from tests.clients.test_world_bank_client import WorldBank
from tests.conftest import REPLAY
from tests.sdg_server import SdgServer

FAST = HttpPolicy(timeout_seconds=1, max_total_seconds=60, retries=3, backoff_factor=0.01)


@dataclass
class Client:
    source: str
    dataset: str
    path: str  # URL pattern the server answers
    base: str  # what LGSTATS_<SOURCE>_BASE_URL points at
    server: type
    renamed: tuple[bytes, bytes]  # a field renamed in every response
    names: tuple[str, ...]  # what a clear message about the rename mentions (one of)


CLIENTS = {
    "un_sdg": Client("un_sdg", "series_data", "/v1/sdg/Series/Data", "/", lambda: SdgServer(REPLAY / "un_sdg" /
                     "series_data"), (b'"geoAreaCode"', b'"geoAreaKey"'), ("geoAreaCode", "area_code")),
    "world_bank": Client("world_bank", "indicators", r"/v2/country/.*", "/", WorldBank,
                         (b'"countryiso3code"', b'"countryIso3"'), ("countryiso3code",)),
    "sdmx": Client("abs", "erp_lga", r"/rest/data/.*", "/rest", lambda: Sdmx(ABS_CSV), (b",REGION,", b",LGA,"),
                   ("REGION",)),
    "pxweb": Client("psa", "poverty_incidence", r"/DB/.*", "/DB", Psa, (b'"Geolocation"', b'"Geo"'),
                    ("Geolocation",)),
}


class Faulty:
    """Wraps a good server: plays ``fault`` on the first ``times`` requests."""

    def __init__(self, inner, fault: str, times: int, renamed: tuple[bytes, bytes]):
        self.inner, self.fault, self.times, self.renamed, self.requests = inner, fault, times, renamed, 0

    def handle(self, request):
        self.requests += 1
        response = self.inner.handle(request)
        if self.times <= 0:
            return response
        self.times -= 1
        body = response.get_data()
        if self.fault == "timeout":
            time.sleep(FAST.timeout_seconds + 0.5)
            return response
        if self.fault in ("503", "429"):
            headers = {"Retry-After": "1"} if self.fault == "429" else {}
            return Response("busy", status=int(self.fault), headers=headers)
        if self.fault == "cut":
            return Response(body[: len(body) // 2], content_type=response.content_type)
        if self.fault == "html":
            return Response("<html><body>An error has occurred.</body></html>", content_type="text/html")
        if self.fault == "renamed":
            return Response(body.replace(*self.renamed), content_type=response.content_type)
        raise AssertionError(self.fault)


@pytest.fixture
def serve(httpserver, monkeypatch):
    real_source = registry.source
    monkeypatch.setattr(registry, "source", lambda name: real_source(name).model_copy(update={"http": FAST}))
    monkeypatch.setattr("lgstats.pipeline.http.backoff_sleep", lambda *a: None)

    def install(client: Client, fault: str | None, times: int) -> Faulty:
        handler = Faulty(client.server(), fault, times if fault else 0, client.renamed)
        httpserver.expect_request(re.compile(client.path)).respond_with_handler(handler.handle)
        for sub in ("Series/List", "GeoArea/List"):
            httpserver.expect_request(f"/v1/sdg/{sub}").respond_with_data("{}")
        monkeypatch.setenv(f"LGSTATS_{client.source.upper()}_BASE_URL", httpserver.url_for(client.base).rstrip("/"))
        return handler
    return install


def rows_of(path: str, client: Client) -> list[tuple]:
    src = registry.source(client.source)
    ds = src.dataset(client.dataset)
    rows = connectors.get(src.connector).parse(Snapshot.open(Path(path)), ds)
    return sorted(tuple(str(v) for k, v in r.items() if k not in ("snapshot_id", "source_file", "row_number"))
                  for r in rows)


@pytest.mark.parametrize("fault", ["timeout", "503", "429", "cut"])
@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_a_passing_fault_heals_and_the_snapshot_holds_exactly_the_clean_rows(name, fault, serve, warehouse_url,
                                                                             httpserver):
    client = CLIENTS[name]
    serve(client, None, 0)
    clean = rows_of(pipeline.fetch(client.source, client.dataset, "2026-11-27", "live"), client)
    httpserver.clear_all_handlers()
    handler = serve(client, fault, 1)
    path = pipeline.fetch(client.source, client.dataset, "2026-11-28", "live")
    assert handler.times == 0 and handler.requests >= 2  # the fault was played, then retried
    assert rows_of(path, client) == clean and clean


@pytest.mark.parametrize("fault", ["html", "renamed"])
@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_a_lasting_fault_fails_clearly_and_leaves_nothing(name, fault, serve, warehouse_url):
    client = CLIENTS[name]
    serve(client, fault, 10_000)
    src = registry.source(client.source)
    with pytest.raises((FetchError, ApiError, ValidationFailed)) as caught:
        path = pipeline.fetch(client.source, client.dataset, "2026-11-28", "live")
        pipeline.validate(path)
        pipeline.load(path)
    message = str(caught.value)
    if fault == "html":
        assert re.search(r"text/html|invalid JSON|not valid JSON|not SDMX-CSV", message), message
    else:
        assert any(n in message for n in client.names), message
    store = get_settings().snapshots / client.source / client.dataset
    assert not list(store.glob("dt=*")), "a failed fetch or validation must not leave a committed partition"
    table = src.dataset(client.dataset).raw_table
    with psycopg.connect(warehouse_url) as conn:
        exists = conn.execute("select to_regclass(%s)", (f"raw.{table}",)).fetchone()[0]
        assert exists is None or conn.execute(f'select count(*) from raw."{table}"').fetchone()[0] == 0
