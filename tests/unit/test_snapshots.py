"""The snapshot store: partitions swap in whole, carry their origin, and can be rejected and restored."""

from __future__ import annotations

import hashlib
import json

import pytest

from lgstats.pipeline import snapshots
from lgstats.pipeline.snapshots import SnapshotWriter


def _write(root, dt, payload: bytes, **origin):
    with SnapshotWriter(root, "src", "ds", dt) as w:
        w.add("a.json", payload, url="http://example/a")
        return w.commit(licence="CC BY 4.0", **origin)


def test_sidecar_names_url_time_licence_and_md5(tmp_path):
    snap = _write(tmp_path, "2026-01-01", b'{"x": 1}')
    sidecar = json.loads((snap.path / snapshots.SIDECAR).read_text())
    assert snap.path == tmp_path / "src" / "ds" / "dt=2026-01-01"
    assert sidecar["snapshot_id"] == "src/ds/dt=2026-01-01"
    assert sidecar["licence"] == "CC BY 4.0"
    assert sidecar["files"][0]["url"] == "http://example/a"
    assert sidecar["files"][0]["md5"] == hashlib.md5(b'{"x": 1}').hexdigest()
    assert sidecar["bytes"] == 8 and sidecar["pages"] == 1 and sidecar["retrieved_at"]


def test_a_failed_fetch_leaves_the_previous_partition_untouched(tmp_path):
    first = _write(tmp_path, "2026-01-01", b"old")
    with pytest.raises(RuntimeError):
        with SnapshotWriter(tmp_path, "src", "ds", "2026-01-01") as w:
            w.add("a.json", b"half", url=None)
            raise RuntimeError("network died")
    assert (first.path / "a.json").read_bytes() == b"old"
    assert [p.name for p in first.path.parent.iterdir()] == ["dt=2026-01-01"]


def test_rerun_replaces_only_its_own_partition(tmp_path):
    _write(tmp_path, "2026-01-01", b"day1")
    _write(tmp_path, "2026-01-02", b"day2")
    again = _write(tmp_path, "2026-01-02", b"day2-again")
    snapshots.finalise(again.path)
    assert (tmp_path / "src/ds/dt=2026-01-01/a.json").read_bytes() == b"day1"
    assert (again.path / "a.json").read_bytes() == b"day2-again"
    assert sorted(p.name for p in again.path.parent.iterdir()) == ["dt=2026-01-01", "dt=2026-01-02"]


def test_reject_keeps_the_bad_partition_aside_and_restores_the_previous(tmp_path):
    _write(tmp_path, "2026-01-01", b"good")
    bad = _write(tmp_path, "2026-01-01", b"bad")
    kept = snapshots.reject(bad.path)
    assert (kept / "a.json").read_bytes() == b"bad"
    assert kept.parent == tmp_path / "_rejected" / "src" / "ds"  # inside the snapshot store, not beside it
    assert (tmp_path / "src/ds/dt=2026-01-01/a.json").read_bytes() == b"good"


def test_reject_works_across_filesystems(tmp_path, monkeypatch):
    import errno
    import os

    _write(tmp_path, "2026-01-01", b"good")
    bad = _write(tmp_path, "2026-01-01", b"bad")
    real_rename = os.rename

    def cross_device(src, dst, *a, **kw):  # what os.rename says when _rejected is another mount
        if "_rejected" in str(dst):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_rename(src, dst, *a, **kw)

    monkeypatch.setattr(os, "rename", cross_device)
    kept = snapshots.reject(bad.path)
    assert (kept / "a.json").read_bytes() == b"bad"  # copied across, then removed here
    assert (tmp_path / "src/ds/dt=2026-01-01/a.json").read_bytes() == b"good"


def test_a_truncated_sidecar_is_named_with_its_fix(tmp_path):
    snap = _write(tmp_path, "2026-01-01", b"x")
    sidecar = snap.path / "_origin.json"
    sidecar.write_text(sidecar.read_text()[:40])
    with pytest.raises(snapshots.SnapshotError, match=r"_origin.json is not valid JSON .*Fix: restore it"):
        snapshots.Snapshot.open(snap.path)


@pytest.mark.parametrize("entry", ["../../../etc/passwd", "/etc/passwd", "..", "a/../../b"])
def test_a_sidecar_entry_outside_the_snapshot_is_refused(tmp_path, entry):
    import json

    snap = _write(tmp_path, "2026-01-01", b"x")
    sidecar = snap.path / "_origin.json"
    origin = json.loads(sidecar.read_text())
    origin["files"][0]["file"] = entry
    sidecar.write_text(json.dumps(origin))
    with pytest.raises(snapshots.SnapshotError, match="not a plain file name"):
        snapshots.Snapshot.open(snap.path)
    with pytest.raises(snapshots.SnapshotError, match="not a plain file name"):
        list(snapshots.recorded_files(snap.path))


@pytest.mark.parametrize("name", ["../evil", ".hidden", "_origin.json", "a/b"])
def test_unsafe_file_names_are_refused(tmp_path, name):
    with SnapshotWriter(tmp_path, "src", "ds", "2026-01-01") as w, pytest.raises(ValueError):
        w.add(name, b"x", url=None)
