"""A local UN SDG API for tests: serves recorded pages from ``data/replay`` and injects faults on demand."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug import Request, Response


@dataclass
class Fault:
    kind: str  # status | retry_after | cut | bad_json | total_changes | slow
    series: str | None = None
    page: int | None = None
    times: int = 1
    status: int = 503
    seconds: float = 0.0

    def matches(self, series: str, page: int) -> bool:
        return self.times > 0 and (self.series in (None, series)) and (self.page in (None, page))


@dataclass
class SdgServer:
    replay_dir: Path
    faults: list[Fault] = field(default_factory=list)
    log: list[tuple[str, int, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        origin = json.loads((self.replay_dir / "_origin.json").read_text())
        self.pages = {(f["series"], f["page"]): (self.replay_dir / f["file"]).read_bytes() for f in origin["files"]}

    def install(self, httpserver) -> str:
        httpserver.expect_request("/v1/sdg/Series/Data").respond_with_handler(self.handle)
        for path, folder in (("/v1/sdg/Series/List", "series_list"), ("/v1/sdg/GeoArea/List", "geoarea_list")):
            body = (self.replay_dir.parent / folder / f"{folder}.json").read_bytes()
            if folder == "series_list":
                body = self._full_catalogue(body)
            httpserver.expect_request(path).respond_with_handler(self._list_handler(path, body))
        return httpserver.url_for("/").rstrip("/")

    @staticmethod
    def _full_catalogue(body: bytes) -> bytes:
        """The live catalogue lists every series; the replay's holds only those with a real copy. The test
        server adds the others as bare entries (code and registry name, marked as the test server's)."""
        from lgstats.pipeline import registry

        items = json.loads(body)
        known = {i["code"] for i in items}
        for s in registry.source("un_sdg").dataset("series_data").series:
            if s.code not in known:
                items.append({"goal": s.goals, "target": s.targets, "indicator": s.indicators, "release": None,
                              "code": s.code, "description": f"{s.name} (entry added by the test server)",
                              "uri": f"/v1/sdg/Series/{s.code}"})
        return json.dumps(items).encode()

    def _list_handler(self, path: str, body: bytes):
        def handle(request: Request) -> Response:
            for fault in self.faults:
                if fault.series == path and fault.times > 0:
                    fault.times -= 1
                    self.log.append((path, 1, fault.kind))
                    return self._fault(fault, body)
            self.log.append((path, 1, "ok"))
            return Response(body, content_type="application/json")

        return handle

    def body(self, series: str, page: int) -> bytes | None:
        found = self.pages.get((series, page))
        if found is not None:
            return found
        if page == 1:  # a series with no data: the real empty envelope
            return json.dumps({"size": 100, "totalElements": 0, "totalPages": 0, "pageNumber": 1,
                               "attributes": [], "dimensions": [], "data": []}).encode()
        return None

    def handle(self, request: Request) -> Response:
        series = request.args.get("seriesCode", "")
        page = int(request.args.get("page", "1"))
        body = self.body(series, page)
        for fault in self.faults:
            if fault.matches(series, page):
                fault.times -= 1
                self.log.append((series, page, fault.kind))
                return self._fault(fault, body or b"{}")
        self.log.append((series, page, "ok"))
        if body is None:
            return Response(json.dumps({"message": "page out of range"}), status=404)
        return Response(body, content_type="application/json")

    @staticmethod
    def _fault(fault: Fault, body: bytes) -> Response:
        if fault.kind == "status":
            return Response("Service Unavailable", status=fault.status)
        if fault.kind == "retry_after":
            return Response("Too Many Requests", status=429, headers={"Retry-After": "1"})
        if fault.kind == "cut":  # promises the whole body, sends half, closes the connection
            resp = Response(body[: len(body) // 2], content_type="application/json")
            resp.headers["Content-Length"] = str(len(body))
            resp.headers["Connection"] = "close"
            return resp
        if fault.kind == "bad_json":
            return Response(body[: len(body) // 2], content_type="application/json")
        if fault.kind == "total_changes":
            payload = json.loads(body)
            payload["totalElements"] = int(payload["totalElements"]) + 7
            return Response(json.dumps(payload), content_type="application/json")
        if fault.kind == "slow":
            time.sleep(fault.seconds)
            return Response(body, content_type="application/json")
        raise ValueError(fault.kind)
