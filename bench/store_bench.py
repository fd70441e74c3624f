"""``make bench`` (third part): a snapshot written to and read from the object store (LGSTATS_STORE_URL,
lgstats/pipeline/object_store.py) next to the local disk, at 1M observations of the synthetic UN SDG pages.

The store is moto's S3 server in a process of its own on 127.0.0.1 (as in the tests): it keeps objects in
memory, so its figures are the S3 protocol's cost on this machine (HTTP, signing, md5), not a network's or a
disk's. Local write: the fetch step's SnapshotWriter (files, md5, sidecar, swap). Local read: every file read
back with its md5 checked. Store write: ``ObjectStore.put``. Store read: ``materialise`` into an empty cache.
Not a test: nothing here asserts.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(rows: int = 1_000_000) -> dict:
    from lgstats.core.settings import Settings
    from lgstats.devdata.synthetic import scale
    from lgstats.pipeline.object_store import ObjectStore
    from lgstats.pipeline.snapshots import Snapshot, SnapshotWriter, recorded_files

    with tempfile.TemporaryDirectory(prefix="lgstats-store-bench-") as tmp:
        work = Path(tmp)
        print(f"store: generating {rows:,} synthetic observations ...", flush=True)
        scale.write(work / "replay", rows)
        folder = work / "replay" / "un_sdg" / "series_data"
        files = list(recorded_files(folder))
        out: dict = {"rows": rows, "files": len(files), "bytes": sum(len(body) for _, body, *_ in files)}

        t0 = time.perf_counter()
        with SnapshotWriter(work / "local", "un_sdg", "series_data", "2026-01-01") as writer:
            for name, body, url, retrieved_at, extra in files:
                writer.add(name, body, url=url, retrieved_at=retrieved_at, **extra)
            snapshot = writer.commit(mode="replay", synthetic=True)
        out["local_write_seconds"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        read = Snapshot.open(snapshot.path)
        for record in read.origin["files"]:
            if hashlib.md5((read.path / record["file"]).read_bytes()).hexdigest() != record["md5"]:
                raise RuntimeError(f"{record['file']}: md5 differs from the sidecar")
        out["local_read_seconds"] = round(time.perf_counter() - t0, 2)
        del files

        port = _free_port()
        server = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            endpoint = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    urllib.request.urlopen(endpoint, timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            s = Settings(home=work / "home", store_url="s3://lgstats-bench/store", store_endpoint_url=endpoint,
                         store_key_id="bench", store_secret="bench")
            store = ObjectStore.from_settings(s)
            store.fs.mkdir("lgstats-bench")
            t0 = time.perf_counter()
            url = store.put(snapshot)
            out["store_write_seconds"] = round(time.perf_counter() - t0, 2)
            t0 = time.perf_counter()
            store.materialise(url, work / "cache")
            out["store_read_seconds"] = round(time.perf_counter() - t0, 2)
        finally:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(work / "cache", ignore_errors=True)
    out["server"] = "moto_server (moto[server], S3 API, objects in memory), 127.0.0.1"
    return out
