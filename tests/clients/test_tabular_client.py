"""The tabular connector over real HTTP against a local server serving the real IMF file at its pinned path:
fetched, validated and loaded; a server error is retried; an HTML page or a body cut mid-line is refused by URL."""

from __future__ import annotations

import psycopg
import pytest
from werkzeug import Response

from lgstats.pipeline import connectors, registry
from lgstats.pipeline import steps as pipeline
from lgstats.pipeline.http import FetchError
from tests.conftest import REPLAY

SOURCE, DATASET = "imf_fd", "fiscal_decentralisation"
BODY = (REPLAY / SOURCE / DATASET / "time_series.csv").read_bytes()  # the real file, as the public copy serves it


@pytest.fixture
def imf(httpserver, monkeypatch, tmp_path):
    monkeypatch.setattr("lgstats.pipeline.http.backoff_sleep", lambda *a: None)  # the retries, without their waits
    monkeypatch.setenv("LGSTATS_IMF_FD_BASE_URL", httpserver.url_for("/raw"))
    monkeypatch.setenv("LGSTATS_HOME", str(tmp_path / "home"))
    spec = connectors.get("tabular").spec(registry.source(SOURCE).dataset(DATASET))
    return httpserver, f"/raw/{spec.file}"


def test_the_real_file_is_fetched_validated_and_loaded(imf, warehouse_url):
    server, path = imf
    server.expect_request(path).respond_with_data(BODY, content_type="text/plain; charset=utf-8")
    snapshot = pipeline.fetch(SOURCE, DATASET, "2026-12-04", "live")
    pipeline.validate(snapshot)
    result = pipeline.load(snapshot)
    with psycopg.connect(warehouse_url) as conn:
        count, areas, value = conn.execute(
            "select count(*), count(distinct area_source_code), max(value_text) filter (where measure = 'sd.SNG' "
            "and area_source_code = '158' and year = 2016) from raw.imf_fd__fiscal_decentralisation").fetchone()
    assert result["rows"] == count > 10_000 and areas == 15
    assert value == "0.351379440256012"


def test_a_server_error_is_retried(imf, warehouse_url):
    server, path = imf
    server.expect_ordered_request(path).respond_with_response(Response("busy", status=503))
    server.expect_ordered_request(path).respond_with_data(BODY, content_type="text/csv")
    pipeline.fetch(SOURCE, DATASET, "2026-12-04", "live")
    assert len(server.log) == 2


@pytest.mark.parametrize("body,named", [(b"<html><body>Rate limited</body></html>", "looks like HTML"),
                                        (BODY[: len(BODY) // 2], "fields, the header")], ids=["html", "cut"])
def test_an_html_page_or_a_cut_body_is_refused_naming_the_url(imf, body, named):
    server, path = imf
    server.expect_request(path).respond_with_data(body, content_type="text/csv")
    with pytest.raises(FetchError) as err:
        pipeline.fetch(SOURCE, DATASET, "2026-12-04", "live")
    assert path in str(err.value) and named in str(err.value)


def test_a_key_the_entry_names_is_sent_as_a_header_by_this_connector_too(imf, monkeypatch):
    """Issue 26: `auth:` in a registry entry was honoured by SDMX only; every connector now fetches through
    http.source_session, so a tabular source with a key sends it as a header, never in the URL or the snapshot,
    and without it says which variable to set."""
    from pathlib import Path

    from lgstats.pipeline.http import ApiError

    real = registry.sources()
    keyed = real[SOURCE].model_copy(update={"auth": {"header": "X-Api-Key", "env": "LGSTATS_IMF_FD_API_KEY",
                                                     "register": "the test's own"}})
    monkeypatch.setattr(registry, "sources", lambda *a: {**real, SOURCE: keyed})
    monkeypatch.delenv("LGSTATS_IMF_FD_API_KEY", raising=False)
    with pytest.raises(ApiError, match=r"\$LGSTATS_IMF_FD_API_KEY \(the test's own\)"):
        pipeline.fetch(SOURCE, DATASET, "2026-12-04", "live")
    secret = "k-" + "0123456789abcdef"
    monkeypatch.setenv("LGSTATS_IMF_FD_API_KEY", secret)
    server, path = imf
    server.expect_request(path).respond_with_data(BODY, content_type="text/csv")
    snapshot = pipeline.fetch(SOURCE, DATASET, "2026-12-04", "live")
    request = server.log[0][0]
    assert request.headers.get("X-Api-Key") == secret and secret not in request.url
    assert secret.encode() not in b"".join(p.read_bytes() for p in Path(snapshot).iterdir())
