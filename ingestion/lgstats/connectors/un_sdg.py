"""UN SDG API v1 ``Series/Data``: paged JSON, kept as fetched, parsed with the API's real quirks.

Quirks (sources.md §1.4-1.5): ``value`` is a string ("N", "<2.5", "NaN" are not numbers),
``timePeriodStart`` is a float year, ``geoAreaCode`` an unpadded string that is not always M49,
counters may be numbers or strings, ``attributes``/``dimensions`` are maps whose keys vary per series.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import requests

from lgstats.http import Deadline, FetchError, backoff_sleep, make_session
from lgstats.registry import Dataset, Source
from lgstats.snapshots import Snapshot, SnapshotWriter

# name, PostgreSQL type: the raw table, in COPY order.
COLUMNS: list[tuple[str, str]] = [
    ("snapshot_id", "text not null"),
    ("source_file", "text not null"),
    ("row_number", "integer not null"),
    ("series_code", "text"),
    ("series_description", "text"),
    ("goal", "jsonb"),
    ("target", "jsonb"),
    ("indicator", "jsonb"),
    ("geo_area_code", "text"),
    ("geo_area_name", "text"),
    ("area_code", "text"),
    ("time_period_start", "text"),
    ("year", "integer"),
    ("value_text", "text"),
    ("value_num", "numeric"),
    ("value_qualifier", "text"),
    ("value_type", "text"),
    ("time_detail", "text"),
    ("nature", "text"),
    ("units", "text"),
    ("unit_multiplier", "text"),
    ("reporting_type", "text"),
    ("source", "text"),
    ("footnotes", "jsonb"),
    ("attributes", "jsonb"),
    ("dimensions", "jsonb"),
    ("upper_bound", "text"),
    ("lower_bound", "text"),
    ("base_period", "text"),
]

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
MAX_RESTARTS = 3
PAGE_ATTEMPTS = 5


class PageError(ValueError):
    pass


def parse_value(raw: Any) -> tuple[str | None, str | None]:
    """(numeric text or None, qualifier or None). Censored values ("<2.5", ">95") keep only a qualifier."""
    if raw is None:
        return None, None
    text = str(raw).strip()
    if text[:1] in ("<", ">"):
        return None, text[0]
    if _NUMBER.match(text):
        return text, None
    return None, None


def parse_year(raw: Any) -> int | None:
    """``timePeriodStart`` is a float (2000.0) in JSON; a string in some fixtures."""
    if raw is None or raw == "":
        return None
    try:
        return int(float(raw))
    except (TypeError, ValueError):
        return None


def pad_area(code: Any) -> str | None:
    """M49 codes are zero-padded to 3; longer or non-numeric codes (99044) are kept as given."""
    if code is None:
        return None
    text = str(code).strip()
    return text.zfill(3) if text.isdigit() and len(text) <= 3 else text


def check_envelope(payload: Any, where: str) -> dict:
    if not isinstance(payload, dict):
        raise PageError(f"{where}: expected a JSON object (the Series/Data envelope), got {type(payload).__name__}")
    missing = [k for k in ("totalElements", "totalPages", "data") if k not in payload]
    if missing:
        raise PageError(f"{where}: the Series/Data envelope lacks {missing}; the API may have changed its schema")
    if not isinstance(payload["data"], list):
        raise PageError(f"{where}: 'data' is {type(payload['data']).__name__}, expected a list")
    try:
        int(payload["totalElements"]), int(payload["totalPages"])
    except (TypeError, ValueError) as exc:
        raise PageError(f"{where}: totalElements/totalPages are not integers ({exc})") from exc
    return payload


def _get_page(session: requests.Session, url: str, params: list, policy, deadline: Deadline) -> tuple:
    """One page, retried on what urllib3 cannot see: cut bodies, timeouts, invalid JSON."""
    last = None
    for attempt in range(1, PAGE_ATTEMPTS + 1):
        deadline.check(url)
        try:
            resp = session.get(url, params=params, timeout=min(policy.timeout_seconds, max(1, deadline.remaining())))
            if resp.status_code != 200:
                last = f"HTTP {resp.status_code}: {resp.text[:200]!r}"
                if resp.status_code < 500 and resp.status_code != 429:
                    break  # a client error will not heal by retrying
            else:
                body = resp.content
                payload = check_envelope(json.loads(body), resp.url)
                return body, payload, resp.url
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError,
                requests.exceptions.Timeout) as exc:
            last = f"{type(exc).__name__}: {exc}"
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            last = f"invalid JSON ({exc})"
        except PageError as exc:
            last = str(exc)
        backoff_sleep(attempt, policy, deadline)
    query = "&".join(f"{k}={v}" for k, v in params if k in ("seriesCode", "page", "pageSize"))
    raise FetchError(f"GET {url}?{query} failed after {attempt} attempts: {last}")


def fetch(source: Source, dataset: Dataset, writer: SnapshotWriter) -> dict:
    """Fetch every page of every registry series into ``writer``; returns origin fields for the sidecar."""
    base = source.effective_base_url()
    url = f"{base}/{dataset.endpoint}"
    areas = dataset.area_codes()
    session = make_session(source.http)
    deadline = Deadline(source.http.max_total_seconds)
    for series in dataset.series:
        for _restart in range(MAX_RESTARTS + 1):
            expected = None
            consistent = True
            page = 1
            names = []
            while True:
                params = [("seriesCode", series.code), *[("areaCode", a) for a in areas],
                          ("page", page), ("pageSize", dataset.page_size)]
                body, payload, final_url = _get_page(session, url, params, source.http, deadline)
                total = int(payload["totalElements"])
                if expected is None:
                    expected = total
                elif total != expected:
                    consistent = False  # the data changed under us: refetch the whole series
                    break
                name = f"{series.code}__page-{page:04d}.json"
                writer.add(name, body, url=final_url, series=series.code, page=page, total_elements=total,
                           rows=len(payload["data"]))
                names.append(name)
                if page >= int(payload["totalPages"]) or not payload["data"]:
                    break
                page += 1
            if consistent:
                break
            writer.discard(names)
        else:
            raise FetchError(f"{series.code}: totalElements kept changing between pages after {MAX_RESTARTS} refetches")
    return {"producer": source.title, "base_url": base, "endpoint": dataset.endpoint,
            "query": {"series": [s.code for s in dataset.series], "areas": areas, "pageSize": dataset.page_size}}


def iter_pages(snapshot: Snapshot) -> Iterator[tuple[str, dict]]:
    for record in snapshot.origin["files"]:
        path = snapshot.path / record["file"]
        try:
            payload = json.loads(path.read_bytes())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PageError(f"{path}: not valid JSON ({exc}). Re-fetch the snapshot or restore the file.") from exc
        yield record["file"], check_envelope(payload, str(path))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def parse(snapshot: Snapshot) -> Iterator[dict]:
    """Rows for ``raw.un_sdg__series_data``, one per observation, streamed page by page."""
    for name, payload in iter_pages(snapshot):
        for i, obs in enumerate(payload["data"], start=1):
            if not isinstance(obs, dict):
                raise PageError(f"{snapshot.path / name}: data[{i - 1}] is not an object")
            attributes = obs.get("attributes") or {}
            dimensions = obs.get("dimensions") or {}
            value_num, qualifier = parse_value(obs.get("value"))
            yield {
                "snapshot_id": snapshot.id,
                "source_file": name,
                "row_number": i,
                "series_code": _text(obs.get("series")),
                "series_description": _text(obs.get("seriesDescription")),
                "goal": json.dumps(obs.get("goal")),
                "target": json.dumps(obs.get("target")),
                "indicator": json.dumps(obs.get("indicator")),
                "geo_area_code": _text(obs.get("geoAreaCode")),
                "geo_area_name": _text(obs.get("geoAreaName")),
                "area_code": pad_area(obs.get("geoAreaCode")),
                "time_period_start": _text(obs.get("timePeriodStart")),
                "year": parse_year(obs.get("timePeriodStart")),
                "value_text": _text(obs.get("value")),
                "value_num": value_num,
                "value_qualifier": qualifier,
                "value_type": _text(obs.get("valueType")),
                "time_detail": _text(obs.get("time_detail")),
                "nature": _text(attributes.get("Nature")),
                "units": _text(attributes.get("Units") or dimensions.get("Units")),
                "unit_multiplier": _text(attributes.get("UnitMultiplier")),
                "reporting_type": _text(dimensions.get("Reporting Type")),
                "source": _text(obs.get("source")),
                "footnotes": json.dumps(obs.get("footnotes")),
                "attributes": json.dumps(attributes),
                "dimensions": json.dumps(dimensions),
                "upper_bound": _text(obs.get("upperBound")),
                "lower_bound": _text(obs.get("lowerBound")),
                "base_period": _text(obs.get("basePeriod")),
            }


def expected_rows(snapshot: Snapshot) -> int:
    """Rows the API said it had, summed per series from the first page of each."""
    seen: dict[str, int] = {}
    for f in snapshot.origin["files"]:
        seen.setdefault(f.get("series", f["file"]), int(f.get("total_elements", f.get("rows", 0))))
    return sum(seen.values())


def suite_parameters(source: Source, dataset: Dataset, snapshot: Snapshot) -> dict[str, Any]:
    return {
        "registry_series": [s.code for s in dataset.series],
        "expected_rows": expected_rows(snapshot),
        "year_min": dataset.thresholds.get("year_min", 1950),
        "year_max": dataset.thresholds.get("year_max", 2100),
    }


def validation_frame(rows):
    """The parsed rows as a DataFrame with the derived columns the suite checks."""
    import pandas as pd

    df = pd.DataFrame(list(rows), columns=[n for n, _ in COLUMNS])
    df["value_float"] = pd.to_numeric(df["value_num"], errors="coerce")
    return df
