"""Snapshots in an object store (``LGSTATS_STORE_URL=s3://bucket/prefix``), so that a worker on another host
finds the snapshot another worker fetched. fsspec with s3fs speaks the S3 API; nothing here is a hand-written
client.

The store keeps what the local snapshot store promises:

- a partition is ``<prefix>/snapshots/<source>/<dataset>/dt=<date>/``, its files and its ``_origin.json``;
- the sidecar is written **last**: a partition without one (a worker died mid-upload) is invisible to readers,
  and ``clean`` removes it;
- every file's md5 is checked against the sidecar when a worker reads it back;
- a re-run of the same logical date first makes the old partition invisible (its sidecar goes first), so no
  reader ever sees old and new files mixed.

A worker still writes and parses on its own disk: the fetch step writes the partition in its home as before and
uploads it; the steps after it download it into the home's ``cache/`` (``materialise``). Only the store is shared.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lgstats.core.settings import Settings, get_settings
from lgstats.pipeline.snapshots import SIDECAR, Snapshot, SnapshotError, read_sidecar

SNAPSHOTS = "snapshots"
REJECTED = "_rejected"


class StoreError(RuntimeError):
    """The object store cannot give a snapshot whole: the message names the object and the fix."""


def is_store_url(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


@dataclass
class ObjectStore:
    fs: Any  # an fsspec filesystem
    scheme: str
    root: str  # bucket/prefix, without the scheme

    @classmethod
    def from_settings(cls, s: Settings | None = None) -> ObjectStore | None:
        """The store LGSTATS_STORE_URL names; None when it is unset (snapshots stay in the home's folder)."""
        s = s or get_settings()
        if not s.store_url:
            return None
        import fsspec

        scheme, _, rest = s.store_url.partition("://")
        if not rest.strip("/"):
            raise StoreError(f"LGSTATS_STORE_URL={s.store_url!r} names no bucket. Fix: s3://<bucket>[/<prefix>]")
        options: dict[str, Any] = {}
        if scheme == "s3":
            options = {"key": s.store_key_id, "secret": s.store_secret, "use_listings_cache": False,
                       "client_kwargs": {"endpoint_url": s.store_endpoint_url} if s.store_endpoint_url else {}}
            options = {k: v for k, v in options.items() if v is not None}
        return cls(fsspec.filesystem(scheme, **options), scheme, rest.strip("/"))

    @property
    def bucket(self) -> str:
        return self.root.split("/", 1)[0]

    def check(self, s: Settings, create: bool = False) -> bool:
        """Reach the store before any task needs it; with ``create``, make a missing bucket. Returns whether it
        created one; a wrong endpoint, key or bucket is a StoreError naming the fix."""
        where = f"{s.store_url} (endpoint {s.store_endpoint_url or 'AWS'})"
        try:
            created = False
            if not self.fs.exists(self.bucket):
                if not create:
                    raise StoreError(f"the object store {where} cannot be listed: bucket {self.bucket!r} does not "
                                     f"exist. Fix: create bucket {self.bucket!r} (lgstats store check --create)")
                self.fs.mkdir(self.bucket)
                created = True
            self.fs.ls(self.bucket)
            return created
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - botocore's and fsspec's errors alike: named with the fix
            raise StoreError(f"the object store {where} cannot be listed: {exc}. Fix: correct "
                             "LGSTATS_STORE_ENDPOINT_URL, LGSTATS_STORE_KEY_ID and LGSTATS_STORE_SECRET") from exc

    def url(self, key: str) -> str:
        return f"{self.scheme}://{key}"

    def partition_key(self, snapshot_id: str) -> str:
        return f"{self.root}/{SNAPSHOTS}/{snapshot_id}"

    def _key(self, url_or_key: str) -> str:
        return url_or_key.split("://", 1)[1] if "://" in url_or_key else url_or_key

    def put(self, snapshot: Snapshot) -> str:
        """Upload a committed local partition: its files, then its sidecar. Returns the partition's URL."""
        prefix = self.partition_key(snapshot.id)
        sidecar = (snapshot.path / SIDECAR).read_bytes()
        try:
            if self.fs.cat_file(f"{prefix}/{SIDECAR}") == sidecar:
                return self.url(prefix)  # this very snapshot is there already: a retried task
            self.fs.rm_file(f"{prefix}/{SIDECAR}")  # the old partition is invisible from here on
        except FileNotFoundError:
            pass
        wanted = {f["file"] for f in snapshot.origin["files"]}
        for stale in self._objects(prefix):
            if stale.rsplit("/", 1)[1] not in wanted:
                self.fs.rm_file(stale)
        for record in snapshot.origin["files"]:
            self.fs.put_file(str(snapshot.path / record["file"]), f"{prefix}/{record['file']}")
        self.fs.pipe_file(f"{prefix}/{SIDECAR}", sidecar)  # last: the partition is visible from here on
        return self.url(prefix)

    def _objects(self, prefix: str) -> list[str]:
        try:
            return [p for p in self.fs.find(prefix) if p != prefix]
        except FileNotFoundError:
            return []

    def sidecar(self, url: str) -> dict:
        key = f"{self._key(url)}/{SIDECAR}"
        try:
            body = self.fs.cat_file(key)
        except FileNotFoundError:
            raise StoreError(f"{self.url(key)} does not exist: the snapshot is not in the store, or its upload "
                             "never finished (a partition is visible only with its sidecar). Fix: run the fetch "
                             "task again") from None
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StoreError(f"{self.url(key)} is not valid JSON ({exc}). Fix: run the fetch task again") from None

    def materialise(self, url: str, cache: Path) -> Path:
        """The partition at ``url`` as a local folder under ``cache`` (a worker's own disk), every file's md5
        checked. A folder already there with the same sidecar is used as it is."""
        origin = self.sidecar(url)
        target = cache / origin["snapshot_id"]
        Snapshot(target, origin).check_files()  # no sidecar entry may name a path outside the partition
        local = target / SIDECAR
        if local.exists() and read_sidecar(local) == origin:
            return target
        staging = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        key = self._key(url)
        try:
            for record in origin["files"]:
                path = staging / record["file"]
                self.fs.get_file(f"{key}/{record['file']}", str(path))
                digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
                if digest != record.get("md5"):
                    raise StoreError(f"{self.url(key)}/{record['file']}: md5 {digest}, but the sidecar says "
                                     f"{record.get('md5')}: the object was changed or cut after upload. Fix: run "
                                     "the fetch task again (it uploads the partition whole)")
            (staging / SIDECAR).write_text(json.dumps(origin, indent=2), encoding="utf-8")  # last, as in the store
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    def visible(self, source: str, dataset: str) -> list[str]:
        """The snapshot ids of a dataset that readers may use: those with a sidecar."""
        base = f"{self.root}/{SNAPSHOTS}/{source}/{dataset}"
        partitions = (sidecar.rsplit("/", 2)[1] for sidecar in self.fs.glob(f"{base}/dt=*/{SIDECAR}"))
        return sorted(f"{source}/{dataset}/{dt}" for dt in partitions)

    def clean(self, older_than_s: float = 3600) -> list[str]:
        """Remove partitions with no sidecar whose newest object is older than ``older_than_s`` (an upload
        that died; a younger one may still be going). Returns their URLs."""
        removed = []
        now = time.time()
        for folder in self.fs.glob(f"{self.root}/{SNAPSHOTS}/*/*/dt=*"):
            objects = self._objects(folder)
            if not objects or any(o.endswith("/" + SIDECAR) for o in objects):
                continue
            newest = max(_mtime(self.fs.info(o)) for o in objects)
            if now - newest >= older_than_s:
                self.fs.rm(folder, recursive=True)
                removed.append(self.url(folder))
        return removed

    def reject(self, url: str) -> str:
        """Move a partition that failed validation under ``_rejected/`` (sidecar first: invisible at once)."""
        key = self._key(url)
        origin = self.sidecar(url)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = f"{self.root}/{SNAPSHOTS}/{REJECTED}/{origin['snapshot_id']}@{stamp}"
        self.fs.rm_file(f"{key}/{SIDECAR}")
        for record in origin["files"]:
            self.fs.mv(f"{key}/{record['file']}", f"{target}/{record['file']}")
        self.fs.pipe_file(f"{target}/{SIDECAR}", json.dumps(origin, indent=2).encode())
        return self.url(target)


    def put_tree(self, folder: Path, relative: str) -> str:
        """Upload every file under a local folder to ``<prefix>/<relative>/`` (reports: written once, read by
        people and by Data Docs on whichever host builds them). Returns its URL."""
        key = f"{self.root}/{relative.strip('/')}"
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            self.fs.put_file(str(path), f"{key}/{path.relative_to(folder).as_posix()}")
        return self.url(key)

    def get_tree(self, relative: str, folder: Path) -> int:
        """Download every object under ``<prefix>/<relative>/`` into a local folder; returns how many."""
        key = f"{self.root}/{relative.strip('/')}"
        objects = self._objects(key)
        for obj in objects:
            target = folder / obj[len(key) + 1:]
            if ".." in Path(obj[len(key) + 1:]).parts:
                raise StoreError(f"{self.url(obj)}: a key that climbs out of {self.url(key)}; refused")
            target.parent.mkdir(parents=True, exist_ok=True)
            self.fs.get_file(obj, str(target))
        return len(objects)


def share_report(folder: Path, s: Settings | None = None) -> str | None:
    """A report folder under the home's ``reports/``, uploaded to the same place in the store when there is
    one (its URL), else None: a report written on one worker is readable from any host."""
    s = s or get_settings()
    store = ObjectStore.from_settings(s)
    if store is None:
        return None
    return store.put_tree(folder, f"reports/{folder.relative_to(s.reports).as_posix()}")


def _mtime(info: dict) -> float:
    value = info.get("LastModified") or info.get("mtime") or info.get("created") or 0
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


def open_snapshot(path: str, s: Settings | None = None) -> Snapshot:
    """A task's snapshot argument as a local Snapshot: a path on this disk, or a store URL (downloaded into
    the home's ``cache/snapshots``, md5 checked)."""
    if not is_store_url(path):
        return Snapshot.open(Path(path))
    s = s or get_settings()
    store = ObjectStore.from_settings(s)
    if store is None:
        raise StoreError(f"{path} is in an object store, but LGSTATS_STORE_URL is not set on this worker. Fix: "
                         "set LGSTATS_STORE_URL (and its endpoint and key) on every worker")
    try:
        return Snapshot.open(store.materialise(path, s.home / "cache" / SNAPSHOTS))
    except SnapshotError as exc:
        raise StoreError(f"{path}: {exc}") from None
