"""The snapshot store: what a source returned, byte for byte, in Hive-style ``dt=`` partitions.

``<root>/<source>/<dataset>/dt=<logical date>/`` holds the files and an ``_origin.json`` sidecar
(producer, URLs, retrieved_at, licence, md5, bytes, pages). A partition is written to a temporary
folder and swapped in whole, so a fetch that fails half-way leaves the previous partition untouched,
and a re-run of the same logical date replaces its own partition and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SIDECAR = "_origin.json"


class SnapshotError(ValueError):
    """A snapshot's sidecar is damaged or points outside the snapshot."""


def read_sidecar(path: Path) -> dict:
    """An ``_origin.json``, or an error naming the file and the fix (never a bare JSONDecodeError)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"{path} is not valid JSON ({exc}); it was cut or edited. Fix: restore it from the "
                            "replay folder or re-fetch the snapshot") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise SnapshotError(f"{path} has no 'files' list: it is not a snapshot sidecar")
    return data


def recorded_files(folder: Path, sidecar: dict | None = None):
    """(name, body, url, retrieved_at, extra sidecar fields) for each file of a recorded snapshot folder, in
    the order its ``_origin.json`` lists them (pass that sidecar when it is already read)."""
    sidecar = sidecar or read_sidecar(folder / SIDECAR)
    Snapshot(folder, sidecar).check_files()
    for rec in sidecar["files"]:
        extra = {k: v for k, v in rec.items() if k not in ("file", "url", "retrieved_at", "md5", "bytes")}
        yield rec["file"], (folder / rec["file"]).read_bytes(), rec.get("url"), rec.get("retrieved_at"), extra


def write_recorded(target: Path, files, **origin) -> Path:
    """Write a recorded snapshot folder for replay: the files and their ``_origin.json``. ``files`` are
    (name, body, url, extra sidecar fields) tuples; ``origin`` must say where the data came from."""
    files = list(files)  # read before the folder is cleared: the files may come from it
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    recorded_at = origin.setdefault("recorded_at", "2026-11-28T00:00:00+00:00")
    records = []
    for name, body, url, extra in files:
        (target / name).write_bytes(body)
        records.append({"file": name, "url": url, "retrieved_at": extra.pop("retrieved_at", recorded_at),
                        "md5": hashlib.md5(body).hexdigest(), "bytes": len(body), **extra})
    origin = {"errors": [], **origin, "files": records}
    (target / SIDECAR).write_text(json.dumps(origin, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def snapshot_id(source: str, dataset: str, dt: str) -> str:
    return f"{source}/{dataset}/dt={dt}"


@dataclass
class Snapshot:
    """A committed partition and its sidecar."""

    path: Path
    origin: dict[str, Any]

    @property
    def id(self) -> str:
        return self.origin["snapshot_id"]

    @property
    def files(self) -> list[Path]:
        return [self.path / f["file"] for f in self.origin["files"]]

    def check_files(self) -> None:
        """Every file the sidecar lists is a plain name inside the partition: a sidecar is data, and a
        ``../`` in it must never make a step read or write outside the snapshot."""
        for record in self.origin.get("files") or []:
            name = str(record.get("file", ""))
            if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith(".."):
                raise SnapshotError(f"{self.path / SIDECAR}: file entry {name!r} is not a plain file name in the "
                                    "snapshot; the sidecar was edited or damaged: restore it or re-fetch")

    def announced_rows(self) -> int:
        """Rows the source said it had (``total_elements`` of the first page of each series), to check that
        every announced row arrived exactly once."""
        seen: dict[str, int] = {}
        for f in self.origin["files"]:
            seen.setdefault(f.get("series", f["file"]), int(f.get("total_elements", f.get("rows", 0))))
        return sum(seen.values())

    @property
    def synthetic(self) -> bool:
        return bool(self.origin.get("synthetic"))

    @classmethod
    def open(cls, path: Path) -> Snapshot:
        sidecar = path / SIDECAR
        if not sidecar.exists():
            raise FileNotFoundError(f"{path} is not a snapshot: {SIDECAR} is missing")
        snapshot = cls(path, read_sidecar(sidecar))
        snapshot.check_files()
        return snapshot


def partition_path(root: Path, source: str, dataset: str, dt: str) -> Path:
    return Path(root) / source / dataset / f"dt={dt}"


@dataclass
class SnapshotWriter:
    """Collects files for one partition; ``commit`` swaps them in with the sidecar."""

    root: Path
    source: str
    dataset: str
    dt: str
    files: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.final = partition_path(self.root, self.source, self.dataset, self.dt)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.staging = self.final.with_name(f".{self.final.name}.tmp-{os.getpid()}")
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir()
        self.started_at = utcnow()

    def add(self, name: str, data: bytes, *, url: str | None, retrieved_at: str | None = None, **extra) -> dict:
        if "/" in name or name.startswith(".") or name == SIDECAR:
            raise ValueError(f"unsafe snapshot file name {name!r}")
        (self.staging / name).write_bytes(data)
        record = {
            "file": name,
            "url": url,
            "retrieved_at": retrieved_at or utcnow(),
            "md5": hashlib.md5(data).hexdigest(),
            "bytes": len(data),
            **extra,
        }
        self.files.append(record)
        return record

    def discard(self, names: list[str]) -> None:
        """Drop files already added (a series being refetched after its pages disagreed)."""
        for name in names:
            (self.staging / name).unlink(missing_ok=True)
        self.files = [f for f in self.files if f["file"] not in set(names)]

    def commit(self, **origin: Any) -> Snapshot:
        total = hashlib.md5("".join(f["md5"] for f in self.files).encode()).hexdigest()
        sidecar = {
            "snapshot_id": snapshot_id(self.source, self.dataset, self.dt),
            "source": self.source,
            "dataset": self.dataset,
            "dt": self.dt,
            "retrieved_at": self.files[-1]["retrieved_at"] if self.files else utcnow(),
            "fetch_started_at": self.started_at,
            "fetch_finished_at": utcnow(),
            "md5": total,
            "bytes": sum(f["bytes"] for f in self.files),
            "pages": len(self.files),
            **origin,
            "files": self.files,
        }
        (self.staging / SIDECAR).write_text(json.dumps(sidecar, indent=2, sort_keys=False), encoding="utf-8")
        previous = previous_path(self.final)
        if self.final.exists():
            shutil.rmtree(previous, ignore_errors=True)
            os.replace(self.final, previous)  # kept until the new one is loaded, restored if it is rejected
        os.replace(self.staging, self.final)
        return Snapshot.open(self.final)

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def __enter__(self) -> SnapshotWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def previous_path(partition: Path) -> Path:
    return partition.with_name(f".{partition.name}.previous")


def reject(partition: Path) -> Path:
    """Move a partition that failed validation aside for inspection, into ``<store>/_rejected/<source>/
    <dataset>/``, and put the previous one back. Works when ``_rejected`` is on another filesystem."""
    partition = Path(partition)
    root = partition.parents[2]  # <store>/<source>/<dataset>/dt=...
    rel = partition.relative_to(root)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = root / "_rejected" / rel.parent / f"{partition.name}@{stamp}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(partition), str(target))
    previous = previous_path(partition)
    if previous.exists():
        os.replace(previous, partition)
    return target


def finalise(partition: Path) -> None:
    """The partition is loaded: the previous version of it is no longer needed."""
    shutil.rmtree(previous_path(Path(partition)), ignore_errors=True)
