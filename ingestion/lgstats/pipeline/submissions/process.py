"""Submissions end to end: into the inbox, kept as received, checked, then valid rows to ``raw`` and
rejected rows to ``quarantine`` in one transaction, with a report for the member and counts in ``ops``.

A resubmission of the same template and period by the same member supersedes the earlier one in the marts
(dbt staging keeps the latest per member and period); the earlier rows stay in ``raw`` as history.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from psycopg import sql

from lgstats.core import locks
from lgstats.core.settings import PROJECT_DIR, get_settings
from lgstats.pipeline.snapshots import SnapshotWriter
from lgstats.pipeline.submissions import checks, contract, intake, report
from lgstats.pipeline.submissions.intake import RefusedFile

log = logging.getLogger(__name__)
SOURCE = "submissions"
LICENCE = "Member submission, shared under the network's data-sharing terms"
REPLAY_DIR = PROJECT_DIR / "data" / "replay" / "submissions"



class SubmissionError(ValueError):
    """The request itself is wrong (unknown member or template); nothing was received."""


@dataclass
class Result:
    submission_id: str
    member: str
    template: str
    file_name: str
    status: str  # accepted | partially_accepted | rejected | refused | unchanged | failed
    rows_total: int
    rows_loaded: int
    rows_rejected: int
    message: str
    report_html: str | None = None
    report_csv: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H%M%S%fZ")


def _check_request(member: str, template_name: str) -> contract.Template:
    try:
        tpl = contract.template(template_name)
    except KeyError as exc:
        raise SubmissionError(str(exc.args[0])) from exc
    if member not in contract.members():
        raise SubmissionError(f"unknown member {member!r}: use a member code from dbt/seeds/ref_members.csv")
    return tpl


def inbox_dir(member: str, template_name: str) -> Path:
    return get_settings().home / "inbox" / member / template_name


def submit(file: Path, member: str, template_name: str) -> Result:
    """``lgstats submit``: put a file in the member's inbox and process it now."""
    _check_request(member, template_name)
    name = file.name.encode("unicode_escape").decode("ascii")  # printable, for reports and ops
    if not file.exists():
        raise SubmissionError(f"{file} does not exist")
    limits = contract.limits()
    try:
        intake.check_name(file.name)
        intake.check_size(file.stat().st_size, limits, file.name)
    except RefusedFile as exc:
        return _refused_early(member, template_name, name, str(exc))
    target = inbox_dir(member, template_name) / f"{_stamp()}__{file.name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name("." + target.name + ".part")
    shutil.copyfile(file, tmp)
    os.replace(tmp, target)
    claimed = _claim(target)
    try:
        return process_file(claimed, member, template_name)
    except SubmissionError:
        _archive(claimed)
        raise
    except Exception as exc:  # the file is set aside with a report, as the inbox does
        return _fail(claimed, member, template_name, exc)


def _refused_early(member: str, template_name: str, name: str, message: str) -> Result:
    sid = f"{SOURCE}/{template_name}/member={member}/dt={_stamp()}"
    res = Result(sid, member, template_name, name, "refused", 0, 0, 0, message)
    _write_report(res, [checks.Problem(None, None, None, message, "send the file again as described")])
    from lgstats.core import warehouse

    with warehouse.connect() as conn:
        _ensure_ops(conn)
        _record(conn, res, None, None, datetime.now(UTC), 0)
    return res


def _ensure_ops(conn) -> None:
    from lgstats.pipeline.schema import bootstrap

    bootstrap(conn)
    conn.commit()


def _already_received(conn, member: str, template_name: str, md5: str) -> str | None:
    row = conn.execute("select submission_id from ops.submissions where member_code = %s and template = %s"
                       " and md5 = %s and status not in ('refused', 'unchanged') order by received_at desc limit 1",
                       (member, template_name, md5)).fetchone()
    return row[0] if row else None


def printable(name: str) -> str:
    """A file name as text any report can hold: undecodable bytes (a name that is not UTF-8) and control
    characters escaped, never passed on raw."""
    raw = os.fsencode(name).decode("utf-8", errors="backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in raw)


def read_no_link(path: Path, name: str) -> bytes:
    """The file's bytes, opened without following a link (O_NOFOLLOW): a file swapped for a link after it was
    listed is refused, never read through."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise RefusedFile(f"{name}: a link, not a file ({exc.strerror}): never read. Fix: put the file itself in "
                          "the inbox") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise RefusedFile(f"{name}: not a regular file: never read")
        return fh.read()


def process_file(path: Path, member: str, template_name: str) -> Result:
    from lgstats.core import warehouse

    tpl = _check_request(member, template_name)
    limits = contract.limits()
    raw_name = path.name.split("__", 1)[-1]
    original = printable(raw_name)
    try:  # what can be refused without reading the file is refused before reading it
        if original != raw_name:
            raise RefusedFile(f"file name '{original}' (shown escaped) is not plain UTF-8 text: rename it with "
                              "letters, digits, spaces, '-', '_' and '.' only, e.g. council_composition_2024.csv")
        intake.check_name(original)
        intake.check_size(path.lstat().st_size, limits, original)
        data = read_no_link(path, original)
    except RefusedFile as exc:
        _archive(path)
        return _refused_early(member, template_name, original, str(exc))
    md5 = hashlib.md5(data).hexdigest()
    received_at = datetime.now(UTC)
    stamp = received_at.strftime("%Y-%m-%dT%H%M%S%fZ")
    with warehouse.connect() as conn:
        _ensure_ops(conn)
        # one file of a member and template at a time, from the duplicate check to the record: two copies
        # of the same file arriving together are one submission and one "unchanged"
        locks.advisory(conn, f"submissions.{member}.{template_name}", deadline_s=get_settings().lock_deadline_seconds,
                       what=f"receiving {original!r} of {member}")
        conn.commit()
        try:
            result = _process_locked(conn, path, tpl, member, template_name, limits, data, md5, original,
                                     received_at, stamp)
            conn.commit()
            return result
        except BaseException:
            conn.rollback()
            raise
        finally:
            locks.unlock(conn, f"submissions.{member}.{template_name}")
            conn.commit()


def _process_locked(conn, path: Path, tpl: contract.Template, member: str, template_name: str, limits, data: bytes,
                    md5: str, original: str, received_at: datetime, stamp: str) -> Result:
    """Everything after the member+template lock is taken: duplicate check, snapshot, checks, load, record."""
    from lgstats.pipeline.loading import record_origin

    earlier = _already_received(conn, member, template_name, md5)
    if earlier:
        _archive(path)
        return Result(earlier, member, template_name, original, "unchanged", 0, 0, 0,
                      f"the same file was already received as {earlier}; nothing changed")
    member_row = contract.members()[member]
    with SnapshotWriter(get_settings().snapshots, SOURCE, f"{template_name}/member={member}", stamp) as w:
        safe = original if intake.SAFE_NAME.match(original) else "submission.bin"
        w.add(safe, data, url=None, retrieved_at=received_at.isoformat(timespec="seconds"))
        snapshot = w.commit(producer="Member submissions", source_title="Member submissions",
                            base_url=f"submission://{member}/{template_name}/{safe}",
                            member=member, template=template_name, original_name=original,
                            received_at=received_at.isoformat(timespec="seconds"), licence=LICENCE,
                            licence_url=None, synthetic=member_row.get("synthetic") == "true", mode="submission")
    sid = snapshot.id
    from lgstats.pipeline.object_store import ObjectStore

    store = ObjectStore.from_settings()
    if store is not None:  # the file as received outlives this worker's disk
        store.put(snapshot)
    problems: list[checks.Problem] = []
    try:
        sheet = intake.read(data, original, limits)
        checked = checks.check(tpl, sheet, limits, original, contract.register_areas(conn), member)
    except RefusedFile as exc:
        res = Result(sid, member, template_name, original, "refused", 0, 0, 0, str(exc))
        problems = [checks.Problem(None, None, None, str(exc), "send the file again as described")]
        paths = _write_report(res, problems)
        _record(conn, res, md5, len(data), received_at, 0)
        conn.commit()
        _archive(path)
        return res
    for _, (_row, found) in sorted(checked.rejected.items()):
        problems.extend(found)
    total = len(checked.valid) + len(checked.rejected)
    status = ("accepted" if not checked.rejected else
              "partially_accepted" if checked.valid else "rejected")
    notes = "; ".join(sheet.notes) if sheet.notes else ""
    message = (f"{len(checked.valid)} of {total} rows loaded, {len(checked.rejected)} set aside"
               + (f" ({checked.neutralised} formula-like text cell(s) neutralised)" if checked.neutralised else "")
               + (f"; {notes}" if notes else ""))
    res = Result(sid, member, template_name, original, status, total, len(checked.valid),
                 len(checked.rejected), message)
    paths = _write_report(res, problems)
    with conn.transaction():
        locks.advisory(conn, f"submissions.{template_name}", xact=True, deadline_s=get_settings().lock_deadline_seconds,
                       what=f"loading the {template_name} rows of {member}")
        _load_rows(conn, tpl, sid, member, received_at, checked)
        record_origin(conn, snapshot)
        _record(conn, res, md5, len(data), received_at, checked.neutralised)
    _archive(path)
    res.report_html, res.report_csv = paths["html"], paths["csv"]
    return res


def _write_report(res: Result, problems: list[checks.Problem]) -> dict[str, str]:
    folder = get_settings().reports / res.submission_id.replace("/", os.sep)  # reports/submissions/<template>/...
    paths = report.write(folder, {k: v for k, v in res.as_dict().items() if not k.startswith("report")}, problems)
    res.report_html, res.report_csv = paths["html"], paths["csv"]
    from lgstats.pipeline.object_store import share_report

    share_report(folder)
    return paths


def _load_rows(conn, tpl: contract.Template, sid: str, member: str, received_at, checked) -> None:
    from lgstats.pipeline.loading import copy_rows
    from lgstats.pipeline.schema import ensure_submission_tables, submission_columns

    table = ensure_submission_tables(conn, tpl)
    copy_rows(conn, table, [n for n, _ in submission_columns(tpl)],
              ((sid, member, received_at, rn, *[None if row[c] is None else str(row[c]) for c in tpl.column_names])
               for rn, row in checked.valid))
    with conn.cursor() as cur:
        cur.executemany(
            sql.SQL("insert into quarantine.{} values (%s, %s, %s, %s, %s, %s)").format(sql.Identifier(table)),
            [(sid, member, received_at, rn, json.dumps({k: None if v is None else str(v) for k, v in row.items()}),
              json.dumps([p.as_dict() for p in found])) for rn, (row, found) in sorted(checked.rejected.items())])


def _record(conn, res: Result, md5, size, received_at, neutralised: int) -> None:
    conn.execute(
        """insert into ops.submissions (submission_id, member_code, template, file_name, md5, bytes, received_at,
               status, rows_total, rows_loaded, rows_rejected, neutralised_cells, message, report_html, report_csv)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           on conflict (submission_id) do nothing""",
        (res.submission_id, res.member, res.template, res.file_name, md5, size, received_at, res.status,
         res.rows_total, res.rows_loaded, res.rows_rejected, neutralised, res.message, res.report_html,
         res.report_csv))


def _archive(path: Path) -> None:
    """Processed files leave the inbox (the snapshot store keeps them as received)."""
    root = path.parents[3] if path.parents[2].name == ".claimed" else path.parents[2]
    done = root / ".processed" / path.parent.parent.name / path.parent.name
    done.mkdir(parents=True, exist_ok=True)
    os.replace(path, done / path.name)


def _claim(path: Path) -> Path | None:
    """Take a file out of the inbox by an atomic rename, so no two processes work on it and a file that
    breaks its processing can never block the files after it."""
    root = path.parents[2]
    claimed = root / ".claimed" / path.parent.parent.name / path.parent.name / path.name
    claimed.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(path, claimed)
    except FileNotFoundError:  # another process claimed it first
        return None
    return claimed


def _fail(path: Path, member: str, template_name: str, exc: BaseException) -> Result:
    """A file whose processing failed goes to inbox/.failed/ with a report of why; the next file goes on."""
    import traceback

    failed = path.parents[3] / ".failed" / member / template_name
    failed.mkdir(parents=True, exist_ok=True)
    target = failed / path.name
    os.replace(path, target)
    name = printable(path.name.split("__", 1)[-1])
    message = (f"processing {name} failed ({type(exc).__name__}: {exc}); the file is kept in {failed} with this "
               "report. Fix: read the error, correct the file or the cause, and move the file back into the inbox.")
    report_path = failed / (target.name.encode("ascii", "backslashreplace").decode("ascii") + ".error.txt")
    report_path.write_text(message + "\n\n" + "".join(traceback.format_exception(exc)), encoding="utf-8",
                           errors="backslashreplace")
    log.error("%s", message)
    return Result("-", member, template_name, name, "failed", 0, 0, 0, message, report_html=str(report_path))


INTERNAL = (".claimed", ".processed", ".failed")  # the inbox's own folders


def _entries(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as it:
        return sorted(it, key=lambda e: os.fsencode(e.name))


def _set_aside(entry_path: Path, member: str, template_name: str, message: str) -> Result:
    """A file the inbox will not read (a link, a hidden file): reported, and moved out of the way (the link itself,
    never what it points to) so it is reported once."""
    root = get_settings().home / "inbox"
    done = root / ".processed" / member / template_name
    done.mkdir(parents=True, exist_ok=True)
    os.replace(entry_path, done / f"{_stamp()}__{entry_path.name}")  # rename never follows a link
    name = printable(entry_path.name)
    return Result("-", member, template_name, name, "refused", 0, 0, 0, f"{name}: {message}")


def process_inbox() -> list[Result]:
    """The inbox of this home, and, with an object store, the files waiting in the store's inbox (claimed and
    brought into this home's inbox first: lgstats/pipeline/submissions/store_inbox.py)."""
    from lgstats.pipeline.object_store import ObjectStore

    store = ObjectStore.from_settings()
    if store is None:
        return _process_local_inbox()
    from lgstats.core import warehouse
    from lgstats.pipeline.submissions import store_inbox

    with warehouse.connect(autocommit=True) as conn:  # holds the claims until every pulled file is settled
        pulled = store_inbox.pull(store, conn, get_settings().home / "inbox")
        results = _process_local_inbox()
        store_inbox.settle(store, pulled, results, _stamp())
    return results


def _process_local_inbox() -> list[Result]:
    """Every file waiting in the inbox, each claimed and processed on its own: a refused or broken file is
    reported and set aside, and never stops the others. Nothing is followed: a folder or file that is a link
    is reported and never entered or read (a link to another folder would have had its files moved and loaded);
    names are checked before anything moves; names that are not UTF-8 are reported escaped."""
    root = get_settings().home / "inbox"
    results: list[Result] = []
    if not root.exists():
        return results
    for member_entry in _entries(root):
        member = printable(member_entry.name)
        if member_entry.name in INTERNAL:
            continue
        if member_entry.is_symlink() or not member_entry.is_dir(follow_symlinks=False):
            results.append(Result("-", member, "-", member, "refused", 0, 0, 0,
                                  f"inbox/{member} is not a folder (a link or a file): not followed, not read. Fix: "
                                  "remove it; each member's files go in inbox/<member code>/<template>/"))
            continue
        for tpl_entry in _entries(Path(member_entry.path)):
            template_name = printable(tpl_entry.name)
            where = f"inbox/{member}/{template_name}"
            if tpl_entry.is_symlink() or not tpl_entry.is_dir(follow_symlinks=False):
                results.append(Result("-", member, template_name, template_name, "refused", 0, 0, 0,
                                      f"{where} is not a folder (a link or a file): not followed, not read. Fix: "
                                      "remove it and put the files in a real folder named after the template"))
                continue
            try:  # the names are checked before any file moves
                if member != member_entry.name or template_name != tpl_entry.name:
                    raise SubmissionError(f"{where}: folder names must be plain UTF-8 text (shown escaped); "
                                          "use the member code and the template name")
                _check_request(member, template_name)
            except SubmissionError as exc:
                results.append(Result("-", member, template_name, "-", "refused", 0, 0, 0, str(exc)))
                continue
            for entry in _entries(Path(tpl_entry.path)):
                path = Path(entry.path)
                if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                    results.append(_set_aside(path, member, template_name,
                                              "a link or not a regular file: never read. Fix: put the file itself "
                                              "in the inbox"))
                    continue
                if entry.name.startswith("."):
                    results.append(_set_aside(path, member, template_name,
                                              "a hidden file (its name begins with '.'): not read. Fix: rename it "
                                              "without the leading dot and put it back"))
                    continue
                claimed = _claim(path)
                if claimed is None:
                    continue
                try:
                    results.append(process_file(claimed, member, template_name))
                except SubmissionError as exc:
                    results.append(Result("-", member, template_name, printable(entry.name), "refused", 0, 0,
                                          0, str(exc)))
                    _archive(claimed)
                except Exception as exc:  # noqa: BLE001 - one broken file must not block the inbox
                    results.append(_fail(claimed, member, template_name, exc))
    return results


def seed_replay_inbox(folder: Path = REPLAY_DIR) -> list[Path]:
    """Replay mode: put the sample submissions (synthetic) in the inbox unless already received."""
    from lgstats.core import warehouse

    placed = []
    if not folder.exists():
        return placed
    with warehouse.connect() as conn:
        _ensure_ops(conn)
        for f in sorted(folder.glob("*/*.*")):
            if f.suffix.lower() not in (".csv", ".xlsx"):
                continue
            member, template_name = f.parent.name, f.stem.split("__")[0]
            md5 = hashlib.md5(f.read_bytes()).hexdigest()
            if _already_received(conn, member, template_name, md5):
                continue
            target = inbox_dir(member, template_name) / f"{_stamp()}__{f.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
            placed.append(target)
    return placed
