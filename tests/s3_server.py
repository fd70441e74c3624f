"""The object store of the stack tests: moto's S3 server (PyPI ``moto[server]``), in this process, on the address
the simulated hosts reach. Chosen over MinIO because MinIO ships no PyPI package and its binary cannot be
downloaded here; moto speaks the same S3 API s3fs and Airflow's S3 log handler use, and keeps nothing on disk.

It can hold one kind of request (``hold``): the test that kills a worker mid-upload holds the PUT of a
snapshot's sidecar, so the worker is surely killed after its data files and before the sidecar.
"""

from __future__ import annotations

import re
import threading

from tests.conftest import free_port


class _Gate:
    def __init__(self, app):
        self.app = app
        self.pattern: re.Pattern | None = None
        self.arrived = threading.Event()
        self.open = threading.Event()
        self.open.set()
        self.drop = False
        self.held: list[str] = []

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") == "PUT" and self.pattern is not None and self.pattern.search(path):
            self.held.append(path)
            self.arrived.set()
            self.open.wait(600)
            if self.drop:  # its client is gone: the object is never written
                start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
                return [b"dropped by the test"]
        return self.app(environ, start_response)


class S3Server:
    def __init__(self, host: str, port: int | None = None):
        self.host, self.port = host, port or free_port()
        self.gate: _Gate | None = None
        self._server = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> S3Server:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        self.gate = _Gate(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self.host, self.port, self.gate, threaded=True,
                                   request_handler=MotoRequestHandler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def hold(self, pattern: str) -> None:
        """Hold every PUT whose path matches ``pattern`` until ``release``."""
        self.gate.drop = False
        self.gate.held.clear()
        self.gate.arrived.clear()
        self.gate.open.clear()
        self.gate.pattern = re.compile(pattern)

    def release(self, drop: bool = False) -> None:
        """Let the held requests go on, or with ``drop`` answer them with an error and write nothing."""
        self.gate.drop = drop
        self.gate.pattern = None
        self.gate.open.set()

    def stop(self) -> None:
        self.release()
        if self._server:
            self._server.shutdown()
