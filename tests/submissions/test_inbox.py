"""The inbox never jams: each file is claimed and processed on its own, a file that breaks its processing is
set aside with a report while the next goes on, and what can be refused unread is refused unread."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import psycopg
import pytest

from lgstats.pipeline.submissions import checks, intake, process, report
from tests.submissions.test_hostile_files import GOOD, HEADER, xlsx

COUNCIL = ("PH-LG-001", "council_composition")


def inbox() -> Path:
    return Path(os.environ["LGSTATS_HOME"]) / "inbox" / COUNCIL[0] / COUNCIL[1]


def drop(name: bytes | str, data: bytes) -> Path:
    folder = inbox()
    folder.mkdir(parents=True, exist_ok=True)
    raw = os.fsencode(folder) + b"/" + (name if isinstance(name, bytes) else name.encode())
    with open(raw, "wb") as fh:
        fh.write(data)
    return Path(os.fsdecode(raw))


def snapshot_files() -> list[str]:
    root = Path(os.environ["LGSTATS_HOME"]) / "snapshots" / "submissions"
    return sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def loaded_rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        if conn.execute("select to_regclass('raw.submissions__council_composition')").fetchone()[0] is None:
            return 0
        return conn.execute("select count(*) from raw.submissions__council_composition").fetchone()[0]


def test_a_name_that_is_not_utf8_is_refused_and_the_next_file_goes_on(warehouse_url):
    drop(b"1__caf\xe9.csv", GOOD.encode())
    drop(b"2__council.csv", GOOD.replace("2019", "2020").encode())
    results = process.process_inbox()
    assert [r.status for r in results] == ["refused", "accepted"]
    assert "not plain UTF-8" in results[0].message and "caf\\xe9.csv" in results[0].message
    assert open(results[0].report_html, encoding="utf-8").read().startswith("<!doctype html>")
    assert not [p for p in inbox().iterdir() if not p.name.startswith(".")]  # nothing left to block the inbox
    before = snapshot_files()
    assert process.process_inbox() == [] and snapshot_files() == before  # no retry, no new copy
    assert loaded_rows(warehouse_url) == 1


def test_a_file_that_breaks_processing_goes_to_failed_with_a_report(warehouse_url, monkeypatch):
    real_check = checks.check

    def exploding(template, sheet, limits, name, *args, **kwargs):
        if name == "boom.csv":
            raise RuntimeError("a bug met this file")
        return real_check(template, sheet, limits, name, *args, **kwargs)

    monkeypatch.setattr(checks, "check", exploding)
    drop("1__boom.csv", GOOD.encode())
    drop("2__fine.csv", GOOD.replace("2019", "2021").encode())
    results = process.process_inbox()
    assert [r.status for r in results] == ["failed", "accepted"]
    failed = Path(os.environ["LGSTATS_HOME"]) / "inbox" / ".failed" / COUNCIL[0] / COUNCIL[1]
    assert (failed / "1__boom.csv").read_bytes() == GOOD.encode()
    text = (failed / "1__boom.csv.error.txt").read_text()
    assert "RuntimeError: a bug met this file" in text and "move the file back into the inbox" in text
    assert process.process_inbox() == []  # the failed file does not come back by itself


def test_an_oversized_file_is_refused_before_it_is_read(warehouse_url, monkeypatch):
    path = drop("1__huge.csv", b"")
    with open(path, "r+b") as fh:
        fh.truncate(6_000_000)  # over max_bytes (5,000,000); sparse, so nothing is really written
    read = []
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self) or b"")
    [result] = process.process_inbox()
    assert result.status == "refused" and "over the limit" in result.message
    assert not read and snapshot_files() == []


def test_the_same_file_sent_twice_at_once_is_one_submission(warehouse_url, tmp_path):
    copies = []
    for i in range(2):
        f = tmp_path / f"c{i}" / "council.csv"
        f.parent.mkdir()
        f.write_text(GOOD)
        copies.append(f)
    results, barrier = [], threading.Barrier(2)

    def send(f: Path) -> None:
        barrier.wait()
        results.append(process.submit(f, *COUNCIL))

    threads = [threading.Thread(target=send, args=(f,)) for f in copies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(r.status for r in results) == ["accepted", "unchanged"]
    assert loaded_rows(warehouse_url) == 1


def test_a_utf8_file_with_one_windows_byte_is_refused_with_its_offset():
    data = (HEADER + "PH-LG-001,Ciudad de Méxicó,2019,12,3\n").encode() + b"PH-LG-001,Caf\xe9,2020,12,3\n"
    with pytest.raises(intake.RefusedFile, match=r"mixes encodings.*byte \d+ \(line 3\) is b'\\xe9'"):
        intake.read(data, "mixed.csv", process.contract.limits())
    # a file in Windows-1252 throughout is still read (and the member told to use UTF-8 next time)
    assert intake.read((HEADER + "PH-LG-001,Café,2019,12,3\n").encode("cp1252"), "w.csv",
                       process.contract.limits()).encoding == "windows-1252"


def test_a_workbook_of_blank_rows_is_refused_without_walking_them():
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "data"
    ws.append(HEADER.strip().split(","))
    ws.append(["PH-LG-001", "x", 2019, 12, 3])
    ws.cell(row=900_000, column=1, value=" ")  # one blank-looking cell far below: 900k rows to walk
    buf = io.BytesIO()
    wb.save(buf)
    # refused from the sheet's declared dimension, before a single row is walked
    with pytest.raises(intake.RefusedFile, match="declares 900,000 rows \\(blank ones included\\)"):
        intake.read(buf.getvalue(), "blank.xlsx", process.contract.limits())
    assert intake.read(xlsx([HEADER.strip().split(","), ["PH-LG-001", "x", 2019, 12, 3]]), "ok.xlsx",
                       process.contract.limits()).rows


@pytest.mark.parametrize("value", ["=1+1", " =1+1", "\u00a0+SUM(A1)", " @x", "-2"])
def test_report_cells_that_a_spreadsheet_would_run_are_neutralised(value):
    assert report._safe_csv(value) == "'" + value
    assert report._safe_csv("plain text") == "plain text"
