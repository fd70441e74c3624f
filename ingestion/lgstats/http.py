"""HTTP sessions with the field's retry policy (urllib3 ``Retry``) and a bounded total time.

urllib3 retries what it can see before the body: connection errors, 429 with ``Retry-After``, 5xx.
What it cannot see (a body cut off mid-way, JSON that does not parse) the connectors retry per page
with :func:`backoff_sleep`, inside the same :class:`Deadline`.
"""

from __future__ import annotations

import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from lgstats import __version__
from lgstats.registry import HttpPolicy

RETRY_STATUSES = (429, 500, 502, 503, 504)


class FetchError(RuntimeError):
    """A request that finally failed; the message names the request."""


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
