"""The three steps of every ingestion DAG: fetch → validate → load. Each is a transaction.

Tasks pass snapshot paths between them (never data). A step that fails leaves what was there before:
a failed fetch keeps the previous partition, a failed validation loads nothing, a failed load rolls back.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from lgstats.core.settings import get_settings
from lgstats.pipeline import connectors, object_store, registry, snapshots
from lgstats.pipeline.snapshots import SIDECAR, SnapshotWriter

log = logging.getLogger(__name__)
MODES = ("replay", "live")


class ReplayMissing(FileNotFoundError):
    pass


def _replay_into(writer: SnapshotWriter, folder: Path) -> dict[str, Any]:
    """Copy a recorded snapshot (files + recorded sidecar) instead of calling the network."""
    sidecar = folder / SIDECAR
    if not sidecar.exists():
        raise ReplayMissing(f"no replay data for {writer.source}/{writer.dataset}: {sidecar} is missing. "
                            f"Run in live mode, or record a snapshot into {folder}.")
    recorded = json.loads(sidecar.read_text(encoding="utf-8"))
    for name, body, url, retrieved_at, extra in snapshots.recorded_files(folder, recorded):
        writer.add(name, body, url=url, retrieved_at=retrieved_at, **extra)
    origin = {k: v for k, v in recorded.items() if k != "files"}
    origin["replayed_from"] = str(folder)
    return origin


def fetch(source_name: str, dataset_name: str, dt: str, mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    src = registry.source(source_name)
    ds = src.dataset(dataset_name)
    settings = get_settings()
    with SnapshotWriter(settings.snapshots, src.name, ds.name, dt) as writer:
        if mode == "replay":
            origin = _replay_into(writer, settings.replay_dir / src.name / ds.name)
        else:
            origin = connectors.get(src.connector).fetch(src, ds, writer)
            origin.update(licence=src.licence, licence_url=src.licence_url, synthetic=False)
        snapshot = writer.commit(mode=mode, source_title=src.title, **origin)
    log.info("snapshot %s: %s files, %s bytes, md5 %s", snapshot.id, snapshot.origin["pages"],
             snapshot.origin["bytes"], snapshot.origin["md5"])
    store = object_store.ObjectStore.from_settings(settings)
    if store is None:
        return str(snapshot.path)
    url = store.put(snapshot)  # the later steps may run on another host: they read it from there
    log.info("snapshot %s uploaded to %s", snapshot.id, url)
    return url


def _parts(snapshot_path: str):
    snapshot = object_store.open_snapshot(snapshot_path)
    src = registry.source(snapshot.origin["source"])
    ds = src.dataset(snapshot.origin["dataset"])
    return snapshot, src, ds, connectors.get(src.connector)


def validate(snapshot_path: str) -> dict[str, Any]:
    """Parse the snapshot once: its rows stream into ``pending.<raw table>`` and the dataset's GX suite runs
    on the columns it reads, read back from there; the load step then publishes the staged rows without
    parsing again. Raise ValidationFailed on any failure (nothing stays staged)."""
    from lgstats.core import warehouse
    from lgstats.pipeline.pending_rows import discard_staged, stage_snapshot, staged_frame
    from lgstats.pipeline.validation import (
        Failure,
        ValidationFailed,
        ValidationOutcome,
        run_suite,
        suite_columns,
        write_report,
    )

    snapshot, src, ds, conn_mod = _parts(snapshot_path)
    settings = get_settings()
    report_dir = settings.reports / "validation" / snapshot.id
    columns = conn_mod.columns(ds)
    names = [n for n, _ in columns]
    with warehouse.connect() as conn:
        try:
            stage_snapshot(conn, snapshot, ds.raw_table, columns, conn_mod.rows(snapshot, ds))
        except ValueError as exc:  # PageError and friends: the file itself is broken
            conn.rollback()
            outcome = ValidationOutcome(ds.suite, False, 1, [Failure("snapshot files parse as the source's format",
                                                                     None, None, observed=str(exc))])
        else:
            read = suite_columns(ds.suite, [*names, *getattr(conn_mod, "DERIVED_COLUMNS", {})])
            keep = sorted({getattr(conn_mod, "DERIVED_COLUMNS", {}).get(c, c) for c in read})
            frame = staged_frame(conn, ds.raw_table, columns, keep, getattr(conn_mod, "CATEGORICAL", set()))
            finish = getattr(conn_mod, "finish_frame", None)
            frame = finish(frame, ds) if finish else frame
            outcome = run_suite(frame, ds.suite, conn_mod.suite_parameters(src, ds, snapshot))
        if not outcome.success:
            discard_staged(conn, ds.raw_table)
    write_report(outcome, report_dir, snapshot.id)
    object_store.share_report(report_dir, settings)
    _record_validation(snapshot.id, outcome)
    if not outcome.success:
        kept = snapshots.reject(snapshot.path)
        if object_store.is_store_url(snapshot_path):
            kept = object_store.ObjectStore.from_settings(settings).reject(snapshot_path)
        message = outcome.message(snapshot.id, kept)
        if snapshot.origin.get("replayed_from"):
            message += f"\n  The files were replayed from {snapshot.origin['replayed_from']}: fix them there."
        raise ValidationFailed(message, outcome)
    return {"snapshot_id": snapshot.id, "suite": ds.suite, "evaluated": outcome.evaluated,
            "report": str(outcome.report_path)}


def _record_validation(snapshot_id: str, outcome) -> None:
    from lgstats.core import warehouse
    from lgstats.pipeline.schema import bootstrap
    from lgstats.pipeline.validation import json_safe

    with warehouse.connect() as conn:
        bootstrap(conn)
        conn.execute(
            "insert into ops.validations (snapshot_id, suite, success, evaluated, failed, failures, report_path)"
            " values (%s, %s, %s, %s, %s, %s, %s)",
            (snapshot_id, outcome.suite, outcome.success, outcome.evaluated, len(outcome.failures),
             json.dumps(json_safe([f.__dict__ for f in outcome.failures]), default=str), str(outcome.report_path)),
        )


def load(snapshot_path: str) -> dict[str, Any]:
    """Publish the rows the validate step staged (no second parse); a snapshot loaded without a validate
    step before it (tools, tests) is parsed and loaded directly."""
    from lgstats.core import warehouse
    from lgstats.pipeline.loading import load_snapshot, publish_staged

    snapshot, src, ds, conn_mod = _parts(snapshot_path)
    with warehouse.connect() as conn:
        result = publish_staged(conn, snapshot, ds.raw_table, conn_mod.columns(ds))
        if result is None:
            result = load_snapshot(conn, snapshot, ds.raw_table, conn_mod.columns(ds), conn_mod.rows(snapshot, ds))
    snapshots.finalise(snapshot.path)
    log.info("%s: %s %s rows into %s in %.2f s", result.snapshot_id, result.status, result.rows,
             result.raw_table, result.seconds)
    return result.__dict__


class IncompleteFetch(RuntimeError):
    pass


def check_fetch_errors(snapshot_path: str) -> None:
    """Fail (after the good data is loaded) when the source refused some of what was asked, naming it."""
    snapshot = object_store.open_snapshot(snapshot_path)
    errors = snapshot.origin.get("errors") or []
    if errors:
        listed = "; ".join(f"{e.get('indicator') or e.get('series')}: {e.get('error')}" for e in errors)
        raise IncompleteFetch(f"{snapshot.id}: the source refused {len(errors)} request(s): {listed}. "
                              "Everything else was validated and loaded. Check the registry entry.")

