"""HTTP sessions with the field's retry policy (urllib3 ``Retry``) and a bounded total time.

urllib3 retries what it can see before the body: connection errors, 429 with ``Retry-After``, 5xx.
What it cannot see (a body cut off mid-way, JSON that does not parse) the connectors retry per page
with :func:`backoff_sleep`, inside the same :class:`Deadline`.
"""

from __future__ import annotations

import json
import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from lgstats import __version__
from lgstats.registry import HttpPolicy

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


def make_session(policy: HttpPolicy) -> requests.Session:
    retry = Retry(
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
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = f"lgstats/{__version__} (+https://github.com/lgstats)"
    session.headers["Accept"] = "application/json"
    return session


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
    for attempt in range(1, PAGE_ATTEMPTS + 1):
        deadline.check(url)
        try:
            resp = session.request(method, url, params=params, json=json_body, headers=headers,
                                   timeout=min(policy.timeout_seconds, max(1, deadline.remaining())))
            if resp.status_code != 200:
                last = f"HTTP {resp.status_code}: {resp.text[:200]!r}"
                if resp.status_code < 500 and resp.status_code != 429:
                    break  # a client error will not heal by retrying
            else:
                body = resp.content
                return body, check(body, resp), resp.url
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError,
                requests.exceptions.Timeout) as exc:
            last = f"{type(exc).__name__}: {exc}"
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            last = f"invalid JSON ({exc})"
        except ResponseError as exc:
            last = str(exc)
        backoff_sleep(attempt, policy, deadline)
    query = "&".join(f"{k}={v}" for k, v in params if k in ("seriesCode", "page", "pageSize", "per_page"))
    raise FetchError(f"{method} {url}{'?' + query if query else ''} failed after {attempt} attempts: {last}")
