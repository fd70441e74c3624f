"""A corpus of broken and hostile member files: each gets a clear report or error, nothing crashes with a
traceback, and no previously loaded row changes."""

from __future__ import annotations

import io
import zipfile

import psycopg
import pytest
from psycopg import sql

from lgstats.pipeline.submissions import process
from tests.conftest import REPLAY

GOOD = ("area_code,local_government_name,election_year,seats_total,seats_women\n"
        "PH-LG-001,Synthetic City PH-01,2019,12,3\n")
HEADER = "area_code,local_government_name,election_year,seats_total,seats_women\n"


def xlsx(rows: list[list], sheet: str = "data", formula_cells: dict | None = None, macros: bool = False) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for r in rows:
        ws.append(r)
    for ref, f in (formula_cells or {}).items():
        ws[ref] = f
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    if macros:
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
            for item in src.infolist():
                dst.writestr(item, src.read(item))
            dst.writestr("xl/vbaProject.bin", b"\x00" * 64)
        data = out.getvalue()
    return data


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", "0" * 60_000_000)
    return out.getvalue()


ROW = ["PH-LG-001", "Synthetic City PH-01", 2019, 12, 3]
# (file name, bytes, expected status, fragment of the message or report)
CORPUS = [
    ("empty.csv", b"", "refused", "empty"),
    ("only_blank_lines.csv", b"\n\n \n", "refused", "no header"),
    ("header_only.csv", HEADER.encode(), "accepted", "0 of 0 rows"),
    ("renamed_png.csv", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "refused", "PNG image"),
    ("renamed_pdf.csv", b"%PDF-1.7\n%binary", "refused", "PDF"),
    ("old_excel.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 50, "refused", "old Excel"),
    ("binary_nul.csv", b"area_code\x00\x01\x02\x03" * 10, "refused", "NUL bytes"),
    ("xlsx_renamed.csv", xlsx([HEADER.strip().split(","), ROW]), "refused", "renamed .csv"),
    ("csv_renamed.xlsx", GOOD.replace("2019", "2018").encode(), "refused", "not an .xlsx"),
    ("zip_bomb.xlsx", zip_bomb(), "refused", "zip bomb"),
    ("not_a_workbook.xlsx", (lambda b: (zipfile.ZipFile(b, "w").writestr("a.txt", "x"), b.getvalue())[1])(io.BytesIO()),
     "refused", "not an Excel workbook"),
    ("macros.xlsx", xlsx([HEADER.strip().split(","), ROW], macros=True), "refused", "macros"),
    ("damaged.xlsx", b"PK\x03\x04" + b"garbage" * 20, "refused", "damaged"),
    ("too_big.csv", (HEADER + "PH-LG-001,x,2019,12,3\n" * 300_000).encode(), "refused", "over the limit"),
    ("missing_column.csv", b"area_code,local_government_name,election_year,seats_total\nPH-LG-001,x,2019,12\n",
     "refused", "missing columns ['seats_women']"),
    ("extra_column.csv", (HEADER.strip() + ",notes\n" + "PH-LG-001,x,2019,12,3,hi\n").encode(), "refused",
     "unknown columns ['notes']"),
    ("repeated_column.csv", (HEADER.strip() + ",seats_women\nPH-LG-001,x,2019,12,3,3\n").encode(), "refused",
     "repeated columns"),
    ("wrong_template.csv", b"lga_code,lga_name,country_iso3,year\nLGA-PH-01,x,PHL,2020\n", "refused",
     "missing columns"),
    ("utf16.csv", ("\ufeff" + GOOD).encode("utf-16-le"), "accepted", "1 of 1 rows"),
    ("utf16_no_bom.csv", GOOD.encode("utf-16-le"), "accepted", "UTF-16"),
    ("windows1252.csv", (HEADER + "PH-LG-001,Synthétic Citŷ – PH,2019,12,3\n").encode("cp1252", errors="replace"),
     "accepted", "Windows-1252"),
    ("semicolons.csv", GOOD.replace(",", ";").encode(), "accepted", "1 of 1 rows"),
    ("women_exceed_total.csv", (HEADER + "PH-LG-001,x,2019,12,13\n").encode(), "rejected", "seats_women"),
    ("year_1800.csv", (HEADER + "PH-LG-001,x,1800,12,3\n").encode(), "rejected", "out of range"),
    ("future_year.csv", (HEADER + "PH-LG-001,x,2999,12,3\n").encode(), "rejected", "out of range"),
    ("not_a_number.csv", (HEADER + "PH-LG-001,x,2019,twelve,3\n").encode(), "rejected", "not a whole number"),
    ("unknown_member.csv", (HEADER + "XX-LG-999,x,2019,12,3\n").encode(), "rejected", "not an allowed code"),
    ("missing_required.csv", (HEADER + "PH-LG-001,,2019,12,3\n").encode(), "rejected", "missing"),
    ("duplicates.csv", (HEADER + "PH-LG-001,x,2019,12,3\nPH-LG-001,x,2019,12,4\n").encode(), "rejected",
     "duplicate row"),
    ("negative.csv", (HEADER + "PH-LG-001,x,2019,12,-3\n").encode(), "rejected", "out of range"),
    ("formula_text.csv", (HEADER + 'PH-LG-001,"=HYPERLINK(""http://evil"",""x"")",2019,12,3\n').encode(), "accepted",
     "neutralised"),
    ("formula_cell.xlsx", xlsx([HEADER.strip().split(","), ROW], formula_cells={"E2": "=1+2"}), "rejected",
     "formula"),
    ("sql_injection.csv", (HEADER + "PH-LG-001,\"x'); drop table raw.snapshot_origins; --\",2019,12,3\n").encode(),
     "accepted", "1 of 1 rows"),
    ("odd_unicode.csv", (HEADER + "PH-LG-001,\u202eCity\u200b\u0000x\U0001F3DB,2019,12,3\n").encode(), "refused",
     "NUL"),
    ("rtl_and_emoji.csv", (HEADER + "PH-LG-001,\u202eCity\u200b\U0001F3DB \u0645\u062f\u064a\u0646\u0629,2019,12,3\n")
     .encode(), "accepted", "1 of 1 rows"),
    ("very_long_value.csv", (HEADER + "PH-LG-001," + "x" * 5000 + ",2019,12,3\n").encode(), "rejected",
     "characters long"),
    # issue 25: named where the quote opens, no longer reported as three missing fields
    ("unbalanced_quote.csv", (HEADER + 'PH-LG-001,"x,2019,12,3\n').encode(), "refused",
     "The quote opened on line 2 is never closed"),
    ("too_many_cells.csv", (HEADER + "PH-LG-001,x,2019,12,3,9,9\n").encode(), "rejected", "cells for 5 columns"),
    ("xlsx_good.xlsx", xlsx([HEADER.strip().split(","), ROW]), "accepted", "1 of 1 rows"),
]
BAD_NAMES = ["../../etc/passwd.csv", "..\\evil.csv", "a/b.csv", "evil.exe", ".hidden.csv", "name\x00.csv"]


@pytest.fixture
def loaded(warehouse_url, tmp_path):
    """A warehouse where one valid council file was already accepted."""
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    assert process.submit(good, "PH-LG-001", "council_composition").status == "accepted"
    return warehouse_url


def snapshot(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("select member_code, election_year, seats_total, seats_women, local_government_name "
                            "from raw.submissions__council_composition order by 1, 2").fetchall()


@pytest.mark.parametrize("name,data,status,fragment", CORPUS, ids=[c[0] for c in CORPUS])
def test_each_broken_or_hostile_file_gets_a_clear_outcome(loaded, tmp_path, name, data, status, fragment):
    before = snapshot(loaded)
    path = tmp_path / "upload" / name
    path.parent.mkdir()
    path.write_bytes(data)
    result = process.submit(path, "ID-LG-001" if "unknown" in name else "PH-LG-001", "council_composition")
    report = open(result.report_csv, encoding="utf-8").read() if result.report_csv else ""
    assert result.status == status, (result.message, report)
    assert fragment in result.message + report, (result.message, report)
    assert result.report_html and open(result.report_html, encoding="utf-8").read().startswith("<!doctype html>")
    after = snapshot(loaded)
    assert after[: len(before)] == before or set(before) <= set(after)  # nothing loaded before changed
    with psycopg.connect(loaded) as conn:
        assert conn.execute("select count(*) from raw.snapshot_origins").fetchone()[0] >= 1  # not dropped
        if status in ("rejected", "partially_accepted"):
            n = conn.execute("select count(*) from quarantine.submissions__council_composition"
                             " where snapshot_id = %s", (result.submission_id,)).fetchone()[0]
            assert n == result.rows_rejected > 0


@pytest.mark.parametrize("name", BAD_NAMES)
def test_names_with_path_separators_are_refused_before_anything_is_written(loaded, tmp_path, name):
    import os

    safe_dir = tmp_path / "up"
    safe_dir.mkdir()
    path = safe_dir / "x.csv"
    path.write_text(GOOD)

    class Named(type(path)):  # a path whose reported name is hostile, as a web upload's would be
        @property
        def name(self):  # noqa: D401
            return name

    hostile = Named(str(path))
    result = process.submit(hostile, "PH-LG-001", "council_composition")
    assert result.status == "refused" and ("path separator" in result.message or "not accepted" in result.message)
    inbox = os.path.join(os.environ["LGSTATS_HOME"], "inbox")
    assert not any(name in f for _, _, files in os.walk(inbox) for f in files)


def test_same_file_twice_changes_nothing(loaded, tmp_path):
    again = tmp_path / "again.csv"
    again.write_text(GOOD)
    before = snapshot(loaded)
    assert process.submit(again, "PH-LG-001", "council_composition").status == "unchanged"
    assert snapshot(loaded) == before


def test_unknown_template_or_member_is_a_clear_error(loaded, tmp_path):
    f = tmp_path / "f.csv"
    f.write_text(GOOD)
    with pytest.raises(process.SubmissionError, match="unknown template"):
        process.submit(f, "PH-LG-001", "budget")
    with pytest.raises(process.SubmissionError, match="unknown member"):
        process.submit(f, "NOPE", "council_composition")


def test_corpus_is_large_enough():
    assert len(CORPUS) + len(BAD_NAMES) >= 30


SQL_AND_UNICODE = "Robert'); DROP TABLE raw.snapshot_origins; -- \"x\" ; délai 東京 ﷽ é 𝓤 "
SAMPLES = {p.stem: p for p in sorted((REPLAY / "submissions").glob("*/*.csv"))}


def free_text_cases() -> list[tuple[str, str]]:
    from lgstats.pipeline.submissions import contract

    return [(t.name, c.name) for t in contract.templates().values() for c in t.columns if c.type == "text"]


def quarantined_values(url: str, template: str) -> list[dict]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(sql.SQL('select "values" from quarantine.{}').format(
            sql.Identifier(f"submissions__{template}")))]


@pytest.mark.parametrize("template,column", free_text_cases(), ids=lambda v: v)
def test_sql_looking_unicode_and_long_text_in_every_free_text_field_is_stored_verbatim(warehouse_url, tmp_path,
                                                                                      template, column):
    import csv

    from lgstats.pipeline.submissions import contract

    limit = contract.limits().max_cell_chars
    hostile = (SQL_AND_UNICODE * 100)[: limit - 1]  # long, yet one below the limit
    sample = SAMPLES[template]
    member = sample.parent.name
    with open(sample, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows[0][column] = hostile
    path = tmp_path / f"{template}.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    result = process.submit(path, member, template)
    if next(c for c in contract.templates()[template].columns if c.name == column).pattern:
        # a code with a pattern: the row is set aside, with the text kept verbatim in quarantine
        assert result.status == "partially_accepted" and result.rows_rejected == 1, result.message
        assert [v[column] for v in quarantined_values(warehouse_url, template)] == [hostile]
        return
    assert result.status == "accepted", result.message
    with psycopg.connect(warehouse_url) as conn:
        stored = conn.execute(sql.SQL("select {} from raw.{} order by row_number").format(
            sql.Identifier(column), sql.Identifier(f"submissions__{template}"))).fetchall()
        assert stored[0] == (hostile,) and len(stored) == len(rows)
        assert conn.execute("select to_regclass('raw.snapshot_origins')").fetchone()[0] is not None
