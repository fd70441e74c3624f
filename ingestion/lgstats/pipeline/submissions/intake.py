"""Reading a member's file safely: name, size, type by content (not by extension), zip bombs, encodings,
and formulas, which are never evaluated. What cannot be read safely is refused whole with a clear error."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePath

from lgstats.pipeline.submissions.contract import Limits

_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
BLANK_ROWS_ALLOWED = 1000  # blank rows a sheet may hold beyond max_rows before it is refused unread
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()\-]{0,150}\.(csv|xlsx)$", re.IGNORECASE)
MAGIC = {b"\x89PNG": "a PNG image", b"%PDF": "a PDF document", b"GIF8": "a GIF image", b"\xff\xd8\xff": "a JPEG image",
         b"\x7fELF": "a program (ELF)", b"\xd0\xcf\x11\xe0": "an old Excel/Word file (.xls/.doc)",
         b"MZ": "a Windows program", b"\x1f\x8b": "a gzip archive", b"Rar!": "a RAR archive"}


class RefusedFile(ValueError):
    """The whole file is refused; the message says why and how to fix it."""


@dataclass
class Sheet:
    kind: str  # csv | xlsx
    encoding: str | None
    header: list[str]
    rows: list[tuple[int, list[str | None]]]  # (row number in the file, cells)
    formulas: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, col index) -> formula text
    notes: list[str] = field(default_factory=list)


def check_name(name: str) -> str:
    if not name or any(sep in name for sep in ("/", "\\")) or ".." in name or not name.isprintable():
        raise RefusedFile(f"file name {name!r} contains a path separator, '..' or a control character; "
                          "send it under a plain name such as council_composition_2024.csv")
    if not SAFE_NAME.match(name):
        raise RefusedFile(f"file name {name!r} is not accepted: use letters, digits, spaces, '-', '_', '.' and end "
                          "it in .csv or .xlsx")
    return name


def check_size(size: int, limits: Limits, name: str) -> None:
    if size == 0:
        raise RefusedFile(f"{name} is empty (0 bytes): export the filled-in template again")
    if size > limits.max_bytes:
        raise RefusedFile(f"{name} is {size:,} bytes, over the limit of {limits.max_bytes:,}: split it by year")


def read(data: bytes, name: str, limits: Limits) -> Sheet:
    check_name(name)
    check_size(len(data), limits, name)
    ext = PurePath(name).suffix.lower()
    if data.startswith(b"PK\x03\x04"):
        if ext != ".xlsx":
            raise RefusedFile(f"{name} is a zip/xlsx file renamed {ext}: send it as .xlsx, or save it as CSV")
        return _read_xlsx(data, name, limits)
    if ext == ".xlsx":
        what = _magic(data) or "not an Excel workbook"
        raise RefusedFile(f"{name} is {what}, not an .xlsx workbook: open the template in Excel and save it as .xlsx")
    what = _magic(data)
    if what:
        raise RefusedFile(f"{name} is {what} renamed .csv: send the filled-in CSV template")
    text, encoding, notes = _decode(data, name)
    sheet = _read_csv(text, name, limits)
    sheet.encoding, sheet.notes = encoding, notes
    return sheet


def _magic(data: bytes) -> str | None:
    return next((what for sig, what in MAGIC.items() if data.startswith(sig)), None)


def _decode(data: bytes, name: str) -> tuple[str, str, list[str]]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig", []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16", ["read as UTF-16"]
        except UnicodeDecodeError as exc:
            raise RefusedFile(f"{name} starts like UTF-16 but does not decode ({exc}): save it as CSV UTF-8") from exc
    if b"\x00" in data:
        odd = data[1::2].count(0) / max(1, len(data) // 2)
        if odd > 0.4:  # UTF-16LE without a byte-order mark
            try:
                return data.decode("utf-16-le"), "utf-16-le", ["read as UTF-16 (no byte-order mark)"]
            except UnicodeDecodeError:
                pass
        raise RefusedFile(f"{name} contains NUL bytes: it is a binary file, not CSV text")
    try:
        return data.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError as exc:
        if _UTF8_MULTIBYTE.search(data):  # UTF-8 text elsewhere: one encoding for the file, or mojibake follows
            line = data.count(b"\n", 0, exc.start) + 1
            raise RefusedFile(f"{name} mixes encodings: it holds UTF-8 text, but byte {exc.start} (line {line}) "
                              f"is {data[exc.start:exc.start + 1]!r}, not UTF-8. Fix: save the whole file as CSV "
                              "UTF-8 from your spreadsheet (not by pasting text from other files)") from None
    try:
        return data.decode("cp1252"), "windows-1252", ["read as Windows-1252; please save as CSV UTF-8 next time"]
    except UnicodeDecodeError as exc:
        raise RefusedFile(f"{name} is neither UTF-8, UTF-16 nor Windows-1252 ({exc}): save it as CSV UTF-8") from exc


def _read_csv(text: str, name: str, limits: Limits) -> Sheet:
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), dialect, strict=True))
    except csv.Error as exc:
        # a quote that is never closed swallows the rest of the file into one value: name where it opens,
        # instead of reporting that row's later columns as missing (issue 25)
        reader, starts, last = csv.reader(io.StringIO(text, newline=""), dialect), [], 0
        for _ in reader:
            starts.append(last + 1)
            last = reader.line_num
        where = f" The quote opened on line {starts[-1]} is never closed." if starts and "end of data" in str(
            exc) else ""
        raise RefusedFile(f"{name} is not valid CSV ({exc}).{where} Fix: close the quote (a value holding the "
                          "separator or a line break is written \"like, this\"), or remove the stray quote") from exc
    records = [r for r in records if any(c.strip() for c in r)]
    if not records:
        raise RefusedFile(f"{name} has no header row: use the template's first row as the header")
    header, body = [h.strip() for h in records[0]], records[1:]
    _check_rows(len(body), name, limits)
    rows = [(i, [c if c != "" else None for c in r]) for i, r in enumerate(body, start=2)]
    return Sheet("csv", None, header, rows)


def _check_rows(n: int, name: str, limits: Limits) -> None:
    if n > limits.max_rows:
        raise RefusedFile(f"{name} has {n:,} data rows, over the limit of {limits.max_rows:,}: split it")


def _read_xlsx(data: bytes, name: str, limits: Limits) -> Sheet:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except zipfile.BadZipFile as exc:
        raise RefusedFile(f"{name} is a damaged zip/xlsx file ({exc}): save it again from Excel") from exc
    unpacked = sum(i.file_size for i in infos)
    if unpacked > limits.max_unzipped_bytes or unpacked / max(1, len(data)) > limits.max_zip_ratio:
        raise RefusedFile(f"{name} would unpack to {unpacked:,} bytes from {len(data):,} (a zip bomb?): refused")
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names:
        raise RefusedFile(f"{name} is a zip file but not an Excel workbook: save the template as .xlsx")
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise RefusedFile(f"{name} contains macros: save it as a plain .xlsx workbook without macros")
    import openpyxl  # defusedxml, installed with lgstats, guards its XML parsing

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for broken workbooks
        raise RefusedFile(f"{name} could not be opened as a workbook ({type(exc).__name__}): save it again") from exc
    sheets = [ws for ws in wb.worksheets if ws.title.strip().lower() != "readme"]
    if not sheets:
        raise RefusedFile(f"{name} has no data sheet: fill in the 'data' sheet of the template")
    ws = next((s for s in sheets if s.title.strip().lower() == "data"), sheets[0])
    limit = limits.max_rows + 1 + BLANK_ROWS_ALLOWED
    declared = ws.max_row if isinstance(ws.max_row, int) else 0
    if declared > limit:  # blank rows count too: a million empty rows cost minutes to walk through
        wb.close()
        raise RefusedFile(f"{name} declares {declared:,} rows (blank ones included), over the limit of "
                          f"{limits.max_rows:,} data rows: delete the empty rows below your data and save again")
    formulas: dict[tuple[int, int], str] = {}
    records: list[tuple[int, list[str | None]]] = []
    for r_idx, row in enumerate(ws.iter_rows(), start=1):
        if r_idx > limit:
            wb.close()
            raise RefusedFile(f"{name} has more than {limit:,} rows (blank ones included), over the limit of "
                              f"{limits.max_rows:,} data rows: delete the empty rows below your data and save again")
        values = []
        for c_idx, cell in enumerate(row):
            value = cell.value
            if getattr(cell, "data_type", None) == "f" or (isinstance(value, str) and value.startswith("=")
                                                            and getattr(cell, "data_type", None) == "f"):
                formulas[(r_idx, c_idx)] = str(value)
                values.append(None)
            else:
                values.append(_cell_text(value))
        if any(v is not None for v in values) or any(k[0] == r_idx for k in formulas):
            records.append((r_idx, values))
        if len(records) > limits.max_rows + 1:
            _check_rows(len(records) - 1, name, limits)
    wb.close()
    if not records:
        raise RefusedFile(f"{name} has no header row: use the template's first row as the header")
    (_, header), body = records[0], records[1:]
    return Sheet("xlsx", None, [(h or "").strip() for h in header], body, formulas)


def _cell_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else None
