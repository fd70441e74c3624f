"""HTTP sessions with the field's retry policy (urllib3 ``Retry``), bounded in time and in bytes.

urllib3 retries what it can see before the body: connection errors, 429 with ``Retry-After``, 5xx; its
waits (backoff and ``Retry-After``) never outlast the fetch's :class:`Deadline`. What it cannot see (a body
cut off mid-way, JSON that does not parse) the connectors retry per page with :func:`backoff_sleep`, inside
the same deadline. Bodies are streamed: a body over the source's ``http.max_bytes`` is refused, and the
deadline is checked between chunks, so neither an endless nor a dripping body can hold a task.
Credentials never follow a redirect to another host, and a redirect from https to http is refused.
"""

from __future__ import annotations

import json
import time

import requests
from requests.adapters import HTTPAdapter
from urllib3 import exceptions as urllib3_errors
from urllib3.util.retry import Retry

from lgstats import __version__
from lgstats.pipeline.registry_model import HttpPolicy, Source

RETRY_STATUSES = (429, 500, 502, 503, 504)


class FetchError(RuntimeError):
    """A request that finally failed; the message names the request."""


class ResponseError(ValueError):
    """A response body that is not what the API's contract promises (retried: it may be a cut body)."""


class ApiError(RuntimeError):
    """The API answered, and its answer is an error (e.g. World Bank errors sent with HTTP 200): not retried."""


PAGE_ATTEMPTS = 5


class Deadline:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.started = time.monotonic()

    def remaining(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    def check(self, what: str) -> None:
        if self.remaining() <= 0:
            raise FetchError(f"gave up after {self.seconds:.0f} s (max_total_seconds) while fetching {what}")


class DeadlineRetry(Retry):
    """urllib3's Retry whose waits are capped by the time the fetch has left."""

    deadline: Deadline | None = None

    def new(self, **kw) -> DeadlineRetry:
        retry = super().new(**kw)
        retry.deadline = self.deadline
        return retry

    def _left(self) -> float:
        return float("inf") if self.deadline is None else max(0.0, self.deadline.remaining())

    def get_retry_after(self, response) -> float | None:
        wait = super().get_retry_after(response)
        return None if wait is None else min(wait, self._left())

    def get_backoff_time(self) -> float:
        return min(super().get_backoff_time(), self._left())


class GuardedSession(requests.Session):
    """A session that drops its secret headers on a redirect to another host and refuses https → http."""

    sensitive_headers: frozenset[str] = frozenset()

    def rebuild_auth(self, prepared_request, response) -> None:
        from urllib.parse import urlsplit

        old, new = urlsplit(response.request.url), urlsplit(prepared_request.url)
        if old.scheme == "https" and new.scheme != "https":
            raise ApiError(f"refused a redirect from {response.request.url} to {prepared_request.url}: "
                           "https must not be downgraded to http")
        if (old.hostname, old.port) != (new.hostname, new.port):
            for name in self.sensitive_headers:
                prepared_request.headers.pop(name, None)
        super().rebuild_auth(prepared_request, response)


def make_session(policy: HttpPolicy, secret_headers: dict[str, str] | None = None) -> GuardedSession:
    retry = DeadlineRetry(
        total=policy.retries,
        connect=policy.retries,
        read=policy.retries,
        status=policy.retries,
        backoff_factor=policy.backoff_factor,
        backoff_max=30,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "POST"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = GuardedSession()
    session.sensitive_headers = frozenset(secret_headers or {})
    session.headers.update(secret_headers or {})
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = f"lgstats/{__version__} (+https://github.com/lgstats)"
    session.headers["Accept"] = "application/json"
    return session


def source_session(source: Source) -> GuardedSession:
    """The session every connector fetches a source with: its HTTP policy, and its API key when the registry entry
    has `auth: {header, env, register}`, sent as a secret header (never in URLs, sidecars or logs, dropped on a
    redirect to another host)."""
    auth = source.auth or {}
    secret = {}
    if auth:
        from lgstats.core.settings import Settings

        key = Settings.named_variable(auth["env"])
        if not key:
            where = auth.get("register", "see the source's documentation")
            raise ApiError(f"{source.name}: the API needs a key in ${auth['env']} ({where}); set it in the "
                           "environment or .env, never in the registry")
        secret = {auth["header"]: key}
    return make_session(source.http, secret_headers=secret)


def _bind_deadline(session: requests.Session, deadline: Deadline) -> None:
    for adapter in session.adapters.values():
        retry = getattr(adapter, "max_retries", None)
        if isinstance(retry, DeadlineRetry) and retry.deadline is not deadline:
            bound = retry.new()
            bound.deadline = deadline
            adapter.max_retries = bound


def read_body(resp: requests.Response, policy: HttpPolicy, deadline: Deadline, url: str) -> bytes:
    """The whole body, streamed: refused past ``policy.max_bytes``; the deadline checked between chunks."""
    declared = resp.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > policy.max_bytes:
        resp.close()
        raise ApiError(f"{url}: the body is {int(declared):,} bytes, over this source's limit of "
                       f"{policy.max_bytes:,} (http.max_bytes in the registry); narrow the query or raise the limit")
    chunks, size = [], 0
    while True:
        if deadline.remaining() <= 0:
            resp.close()
            raise FetchError(f"gave up after {deadline.seconds:.0f} s (max_total_seconds) while reading {url}: "
                             f"{size:,} bytes arrived")
        chunk = resp.raw.read1(65536, decode_content=True)  # requests leaves decoding (gzip) to the reader
        if not chunk:
            break
        size += len(chunk)
        if size > policy.max_bytes:
            resp.close()
            raise ApiError(f"{url}: the body passed this source's limit of {policy.max_bytes:,} bytes "
                           "(http.max_bytes in the registry) and was refused")
        chunks.append(chunk)
    return b"".join(chunks)


def backoff_sleep(attempt: int, policy: HttpPolicy, deadline: Deadline) -> None:
    delay = min(30.0, policy.backoff_factor * (2 ** (attempt - 1)))
    time.sleep(max(0.0, min(delay, deadline.remaining())))


def get_json(session: requests.Session, url: str, params: list, policy, deadline: Deadline, check) -> tuple:
    """One JSON response, retried on what urllib3 cannot see: cut bodies, timeouts, invalid JSON, a body
    ``check`` rejects (ResponseError). An ApiError raised by ``check`` (the API said no) is not retried."""
    return request_checked(session, "GET", url, params=params, policy=policy, deadline=deadline,
                           check=lambda body, resp: check(json.loads(body), resp.url))


def request_checked(session: requests.Session, method: str, url: str, *, policy, deadline: Deadline, check,
                    params: list | None = None, json_body: dict | None = None,
                    headers: dict | None = None) -> tuple:
    """One response whose body ``check(body, response)`` accepts; returns (body, checked, final URL).

    Retried like :func:`get_json`. ``check`` raises ResponseError for a body that may heal on retry (cut,
    wrong content type) and ApiError for an answer that will not."""
    last = None
    params = params or []
    _bind_deadline(session, deadline)
    for attempt in range(1, PAGE_ATTEMPTS + 1):
        deadline.check(url)
        try:
            resp = session.request(method, url, params=params, json=json_body, headers=headers, stream=True,
                                   timeout=min(policy.timeout_seconds, max(1, deadline.remaining())))
            if resp.status_code != 200:
                last = f"HTTP {resp.status_code}: {resp.raw.read(200, decode_content=True)!r}"
                resp.close()
                if resp.status_code < 500 and resp.status_code != 429:
                    break  # a client error will not heal by retrying
            else:
                body = read_body(resp, policy, deadline, resp.url)
                return body, check(body, resp), resp.url
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError,
                requests.exceptions.Timeout, urllib3_errors.ProtocolError, urllib3_errors.ReadTimeoutError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            last = f"invalid JSON ({exc})"
        except ResponseError as exc:
            last = str(exc)
        backoff_sleep(attempt, policy, deadline)
    query = "&".join(f"{k}={v}" for k, v in params if k in ("seriesCode", "page", "pageSize", "per_page"))
    raise FetchError(f"{method} {url}{'?' + query if query else ''} failed after {attempt} attempts: {last}")
