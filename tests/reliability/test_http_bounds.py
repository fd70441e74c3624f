"""Network I/O is bounded: in bytes, in total time (Retry-After and slow bodies included), and credentials
never travel to another host. Real HTTP against local servers on 127.0.0.1."""

from __future__ import annotations

import itertools
import time

import pytest
from werkzeug import Response

from lgstats.pipeline.http import ApiError, Deadline, FetchError, GuardedSession, make_session, request_checked
from lgstats.pipeline.registry import HttpPolicy

SMALL = HttpPolicy(timeout_seconds=2, max_total_seconds=4, retries=2, backoff_factor=0.01, max_bytes=1_000_000)


def fetch(url: str, policy: HttpPolicy = SMALL, session=None) -> bytes:
    session = session or make_session(policy)
    body, _, _ = request_checked(session, "GET", url, policy=policy, deadline=Deadline(policy.max_total_seconds),
                                 check=lambda b, r: b)
    return body


def test_an_endless_body_is_cut_at_the_byte_limit(httpserver):
    sent = []

    def endless():
        for _ in itertools.count():
            sent.append(1)
            yield b"x" * 65536

    httpserver.expect_request("/endless").respond_with_handler(lambda r: Response(endless()))
    with pytest.raises(ApiError, match="limit of 1,000,000 bytes"):
        fetch(httpserver.url_for("/endless"))
    assert len(sent) * 65536 < 50 * SMALL.max_bytes  # it stopped reading: not gigabytes


def test_a_declared_oversized_body_is_refused_before_it_is_read(httpserver):
    httpserver.expect_request("/big").respond_with_data(b"y" * 2_000_000)
    with pytest.raises(ApiError, match="2,000,000 bytes, over this source's limit"):
        fetch(httpserver.url_for("/big"))


def test_a_dripping_body_cannot_outlast_the_deadline(httpserver):
    def drip():
        for _ in range(10_000):
            time.sleep(0.2)
            yield b"."

    httpserver.expect_request("/drip").respond_with_handler(lambda r: Response(drip()))
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"gave up after 4 s \(max_total_seconds\) while reading"):
        fetch(httpserver.url_for("/drip"))
    assert time.monotonic() - started < SMALL.max_total_seconds + SMALL.timeout_seconds + 5


def test_retry_after_is_capped_by_the_time_left(httpserver):
    calls = []

    def busy(request):
        calls.append(time.monotonic())
        return Response("busy", status=429, headers={"Retry-After": "20"})

    httpserver.expect_request("/busy").respond_with_handler(busy)
    started = time.monotonic()
    with pytest.raises(FetchError):
        fetch(httpserver.url_for("/busy"))
    # the server asked for 20 s per retry; the fetch had 4 s: it gave up within its budget, not after 40 s
    assert time.monotonic() - started < SMALL.max_total_seconds + 5 and len(calls) >= 1


def test_a_key_header_is_dropped_on_a_redirect_to_another_host(httpserver):
    seen = {}
    other = httpserver.url_for("/landing").replace("localhost", "127.0.0.1")
    httpserver.expect_request("/start").respond_with_response(Response(status=302, headers={"Location": other}))
    httpserver.expect_request("/same").respond_with_response(
        Response(status=302, headers={"Location": httpserver.url_for("/landing")}))

    def landing(request):
        seen[request.host] = request.headers.get("Ocp-Apim-Subscription-Key")
        return Response("ok")

    httpserver.expect_request("/landing").respond_with_handler(landing)
    session = make_session(SMALL, secret_headers={"Ocp-Apim-Subscription-Key": "s3cret"})
    assert fetch(httpserver.url_for("/start"), session=session) == b"ok"
    assert seen == {other.split("/")[2]: None}  # another host: the key stayed behind
    assert fetch(httpserver.url_for("/same"), session=session) == b"ok"
    assert seen[httpserver.url_for("/").split("/")[2]] == "s3cret"  # same host: it may follow


def test_a_redirect_from_https_to_http_is_refused():
    import requests

    session = GuardedSession()
    previous = requests.Request("GET", "https://api.example.org/data").prepare()
    response = requests.Response()
    response.request = previous
    downgraded = requests.Request("GET", "http://api.example.org/data").prepare()
    with pytest.raises(ApiError, match="https must not be downgraded"):
        session.rebuild_auth(downgraded, response)
