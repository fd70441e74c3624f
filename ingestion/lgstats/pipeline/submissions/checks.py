"""Row-level checks of a submission against its template: types and formulas here, the data contract
(required values, allowed codes, known areas, ranges, pairs, duplicates) in a GX suite built from the
template. Every problem names the row, the column, the value and the fix."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from lgstats.pipeline import units
from lgstats.pipeline.submissions import contract
from lgstats.pipeline.submissions.contract import Limits, Template
from lgstats.pipeline.submissions.intake import RefusedFile, Sheet

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # the warehouse's integer: a larger count cannot be a real count
# ASCII digits only: Python's \d also matches full-width (１２) and other scripts' digits, which int() accepts
_INT = re.compile(r"^[+-]?[0-9]+$")
_NUM = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")


@dataclass
class Problem:
    row_number: int | None
    column: str | None
    value: str | None
    problem: str
    fix: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Checked:
    valid: list[tuple[int, dict[str, Any]]]
    rejected: dict[int, tuple[dict[str, Any], list[Problem]]]
    neutralised: int


def check_header(template: Template, sheet: Sheet, name: str) -> None:
    header = sheet.header
    dupes = sorted({h for h in header if header.count(h) > 1 and h})
    missing = [c for c in template.column_names if c not in header]
    extra = [h for h in header if h and h not in template.column_names]
    problems = []
    if dupes:
        problems.append(f"repeated columns {dupes}")
    if missing:
        problems.append(f"missing columns {missing}")
    if extra:
        problems.append(f"unknown columns {extra}")
    if problems:
        raise RefusedFile(f"{name} does not match the {template.name} template: {'; '.join(problems)}. Fix: start "
                          f"from data/templates/{template.name}.csv (columns: {', '.join(template.column_names)})")


def neutralise(text: str) -> tuple[str, bool]:
    """Text that a spreadsheet would run as a formula when exported back gets a leading apostrophe."""
    return ("'" + text, True) if text.startswith(FORMULA_START) else (text, False)


def _parse(col: contract.Column, raw: str, limits: Limits) -> tuple[Any, str | None, str | None]:
    """(typed value, problem, fix)."""
    text = raw.strip()
    if len(text) > limits.max_cell_chars:
        return None, f"value is {len(text):,} characters long", f"shorten it to {limits.max_cell_chars:,} at most"
    t = col.type
    if t in ("int",):
        if text.endswith(".0") and _INT.match(text[:-2]):
            text = text[:-2]
        if not _INT.match(text):
            return None, "not a whole number", "write digits only, e.g. 42"
        value = int(text)
        if not INT_MIN <= value <= INT_MAX:
            return None, "too large for a whole number", f"a count is at most {INT_MAX:,}: check the value"
        return value, None, None
    if t == "number":
        if not _NUM.match(text):
            return None, "not a number", "use digits with '.' as decimal separator and no thousands separators"
        value = float(text)
        mantissa = re.split(r"[eE]", text)[0]
        underflow = value == 0 and any(d in "123456789" for d in mantissa)  # 1e-400 reads as 0.0: refused, not 0
        if not math.isfinite(value) or underflow or (value != 0 and abs(value) < 1e-300):
            return None, "not a finite number (too large or too small to store)", "check the value and its exponent"
        return value, None, None
    if t == "year":
        if text.endswith(".0"):
            text = text[:-2]
        if not re.fullmatch(r"\d{4}", text):
            return None, "not a four-digit year", "write the year as e.g. 2024"
        return int(text), None, None
    if t == "date":
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text[:10]):
                raise ValueError(text)
            return date.fromisoformat(text[:10]), None, None
        except ValueError:
            return None, "not a date", "write the date as YYYY-MM-DD, e.g. 2021-03-15"
    if t == "iso3":
        return text.upper(), None, None
    if t == "list":
        items = [i.strip() for i in text.split(";") if i.strip()]
        if col.values:
            bad = [i for i in items if i not in col.values]
            if bad:
                return None, f"{bad} not allowed", f"use only {', '.join(col.values)}, separated by ';'"
        return ";".join(items), None, None
    return text, None, None


def type_rows(template: Template, sheet: Sheet, limits: Limits) -> tuple[list[dict], dict[int, list[Problem]], int]:
    index = {h: i for i, h in enumerate(sheet.header)}
    typed_rows, problems, neutralised = [], {}, 0
    for row_number, cells in sheet.rows:
        row: dict[str, Any] = {"row_number": row_number}
        found: list[Problem] = []
        if len(cells) > len(sheet.header) and any(c for c in cells[len(sheet.header):]):
            found.append(Problem(row_number, None, None, f"{len(cells)} cells for {len(sheet.header)} columns",
                                 "remove the extra cells or quote values that contain the separator"))
        for col in template.columns:
            i = index[col.name]
            raw = cells[i] if i < len(cells) else None
            formula = sheet.formulas.get((row_number, i))
            if formula is not None:
                found.append(Problem(row_number, col.name, formula, "a formula (never evaluated here)",
                                     "type the value itself instead of a formula"))
                row[col.name] = None
                continue
            if raw is None or not str(raw).strip():
                row[col.name] = None
                continue
            value, problem, fix = _parse(col, str(raw), limits)
            if problem:
                found.append(Problem(row_number, col.name, str(raw)[:200], problem, fix))
            elif col.type == "text":
                value, changed = neutralise(value)
                neutralised += changed
            row[col.name] = value
        typed_rows.append(row)
        if found:
            problems[row_number] = found
    return typed_rows, problems, neutralised


SUBMITTER_INVOLVED = "__submitter_is_a_partner"  # derived column of the one_is_submitter check


def own_areas(member: str, members: dict[str, dict]) -> list[str]:
    """The codes a member may submit rows for: its member code and, where linked, its register code."""
    row = members.get(member) or {}
    return [c for c in (member, row.get("register_area_code")) if c]


def _expectations(template: Template, limits: Limits, registers: dict[str, dict] | None = None,
                  member: str | None = None) -> list[tuple[dict, str]]:
    """(GX expectation, fix) pairs derived from the template. ``registers``: the official register codes a
    local government may also be named by (contract.register_areas). ``member``: who submits; a member may
    send rows for its own area only (its member code or its register code)."""
    this_year = date.today().year
    out: list[tuple[dict, str]] = []
    members = contract.members()
    registers = registers or {}
    for col in template.columns:
        c = col.name
        if col.required:
            out.append(({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": c}},
                        f"fill in {c}: it is required"))
        value_set, fix = None, None
        if col.type == "enum":
            value_set, fix = col.values, f"use one of: {', '.join(col.values or [])}"
        elif col.type == "iso3":
            value_set, fix = sorted(contract.iso3_codes()), "use the ISO 3166-1 alpha-3 code, e.g. PHL"
        elif col.type == "unit":
            value_set = list(units.unit_codes())
            fix = f"use a unit code of the unit list (dbt/seeds/ref_units.csv): {', '.join(value_set)}"
        elif col.type == "member":
            value_set = sorted({k for k, v in members.items() if v["member_kind"] == "local_government"}
                               | set(registers))
            fix = ("neither a member code nor an official register code: use your member code from the member list "
                   "(e.g. PH-LG-001) or the register code of the local government (e.g. PH-PSGC-072217)")
        elif col.type == "lga":
            value_set = sorted(k for k, v in members.items() if v["member_kind"] == "lga")
            fix = "use the association's code from the member list (e.g. LGA-PH-01)"
        elif col.type == "area":
            value_set = sorted(set(members) | contract.m49_codes() | set(registers))
            fix = ("neither a member code, an official register code nor an M49 code: use one of them "
                   "(e.g. PH-LG-001, PH-PSGC-072217, 608), or leave it empty")
        if value_set is not None:
            out.append(({"type": "expect_column_values_to_be_in_set", "kwargs": {"column": c, "value_set": value_set}},
                        fix))
        if member and col.type in ("member", "lga"):
            own = own_areas(member, members)
            out.append(({"type": "expect_column_values_to_be_in_set", "kwargs": {"column": c, "value_set": own},
                         "meta": {"problem": "another member's area"}},
                        f"a member may send rows for its own area only: use {' or '.join(own)}; rows for another "
                        "area must come from that area's member"))
        if col.type == "year":
            out.append(({"type": "expect_column_values_to_be_between",
                         "kwargs": {"column": c, "min_value": limits.year_min, "max_value": this_year + 1}},
                        f"use a year between {limits.year_min} and {this_year + 1}"))
        if col.min is not None or col.max is not None:
            out.append(({"type": "expect_column_values_to_be_between",
                         "kwargs": {"column": c, "min_value": col.min, "max_value": col.max}},
                        f"use a value {'≥ ' + format(col.min, 'g') if col.min is not None else ''}"
                        f"{' and ≤ ' + format(col.max, 'g') if col.max is not None else ''}"))
        if col.pattern:
            out.append(({"type": "expect_column_values_to_match_regex", "kwargs": {"column": c, "regex": col.pattern}},
                        f"match the pattern {col.pattern}"))
    for chk in template.checks:
        if chk.type == "one_is_submitter":
            if member:  # a partnership must involve the member who reports it (its member or register code)
                own = own_areas(member, members)
                out.append(({"type": "expect_column_values_to_be_in_set",
                             "kwargs": {"column": SUBMITTER_INVOLVED, "value_set": [True]},
                             "meta": {"problem": "the submitter is neither partner", "columns": f"{chk.a}, {chk.b}"}},
                            f"{chk.message}: put {' or '.join(own)} in {chk.a} or {chk.b}; a partnership between "
                            "other members must come from one of them"))
            continue
        out.append(({"type": "expect_column_pair_values_a_to_be_greater_than_b",
                     "kwargs": {"column_A": chk.b, "column_B": chk.a, "or_equal": True,
                                "ignore_row_if": "either_value_is_missing"}},
                    f"correct {chk.a} or {chk.b}: {chk.message}"))
    unique = ({"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": template.key}}
              if len(template.key) > 1 else
              {"type": "expect_column_values_to_be_unique", "kwargs": {"column": template.key[0]}})
    out.append((unique, f"each {' + '.join(template.key)} may appear once per file: remove the duplicate rows"))
    return out


def name_column(template: Template, column: str) -> str | None:
    """The column naming the area that ``column`` codes: ``partner_a_area_code`` → ``partner_a_name``,
    ``area_code`` → ``local_government_name``."""
    names = template.column_names
    for candidate in (column.replace("_area_code", "_name"), "local_government_name"):
        if candidate != column and candidate in names:
            return candidate
    return None


_GENERIC_WORDS = {"city", "of", "municipality", "the", "kabupaten", "kota", "regency", "province", "shire",
                  "council", "town", "district", "市", "町", "村", "区"}


def _name_key(name: str) -> str:
    """A name reduced to its distinctive words: 'City of Cebu' and 'Cebu City' both become 'cebu'."""
    words = re.findall(r"\w+", name.casefold())
    return " ".join(sorted(w for w in words if w not in _GENERIC_WORDS)) or name.casefold()


def closest_by_name(name: str | None, registers: dict[str, dict], members: dict[str, dict], n: int = 3) -> list[str]:
    """'CODE (name)' of the register and member areas whose names are closest to ``name``: the same
    distinctive words first, then the most similar spellings."""
    import difflib

    if not name:
        return []
    wanted = _name_key(name.lstrip("'"))
    candidates = [(code, v["name"]) for code, v in registers.items()]
    # an area column wants a local government: an association is never offered as one (issue 25)
    candidates += [(code, v["member_name"]) for code, v in members.items()
                   if v.get("member_kind", "local_government") == "local_government"]
    scored = []
    for code, label in candidates:
        key = _name_key(label)
        score = 2.0 if key == wanted else difflib.SequenceMatcher(None, wanted, key).ratio()
        if score >= 0.75:
            scored.append((-score, code, label))
    return [f"{code} ({label})" for _, code, label in sorted(scored)[:n]]


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def _as_written(value):
    """A value as the member wrote it: 12, not the 12.0 of a numeric column; nothing, not 'nan'."""
    if isinstance(value, float):
        if value != value:  # NaN: an empty cell
            return None
        if value.is_integer():
            return int(value)
    return value


def run_contract(template: Template, rows: list[dict], limits: Limits,
                 registers: dict[str, dict] | None = None, member: str | None = None) -> dict[int, list[Problem]]:
    """The template's GX suite on the typed rows; returns problems per row number."""
    import pandas as pd

    from lgstats.pipeline.validation import validate_frame

    if not rows:
        return {}
    rows_by_number = {int(r["row_number"]): r for r in rows}
    df = pd.DataFrame(rows, columns=["row_number", *template.column_names]).astype(object)
    df = df.where(pd.notna(df), None)
    for col in template.columns:  # GX compares numbers as numbers
        if col.type in ("int", "year", "number"):
            df[col.name] = pd.to_numeric(df[col.name], errors="coerce")
    if member:
        own = own_areas(member, contract.members())
        for chk in (c for c in template.checks if c.type == "one_is_submitter"):
            df[SUBMITTER_INVOLVED] = df[chk.a].isin(own) | df[chk.b].isin(own)
    pairs = _expectations(template, limits, registers, member)
    # each expectation carries its index: GX may return results in another order than it was given them
    result = validate_frame(df, f"submission__{template.name}",
                            [{**{k: v for k, v in e.items() if k != "meta"}, "meta": {"lgstats_index": i}}
                             for i, (e, _) in enumerate(pairs)], None, ["row_number"])
    by_row: dict[int, list[Problem]] = {}
    for r in result.results:
        exp, fix = pairs[int(r.expectation_config.meta["lgstats_index"])]
        if r.success:
            continue
        kw = exp["kwargs"]
        column = (exp.get("meta") or {}).get("columns") or kw.get("column") or (
            kw.get("column_B") if "column_B" in kw else ", ".join(kw.get("column_list", [])))
        problem = (exp.get("meta") or {}).get("problem") or {"expect_column_values_to_not_be_null": "missing",
                   "expect_column_values_to_be_in_set": "not an allowed code",
                   "expect_column_values_to_be_between": "out of range",
                   "expect_column_values_to_match_regex": "wrong format",
                   "expect_column_pair_values_a_to_be_greater_than_b": fix.split(": ", 1)[-1],
                   "expect_compound_columns_to_be_unique": "duplicate row",
                   "expect_column_values_to_be_unique": "duplicate row"}[exp["type"]]
        for item in (r.result or {}).get("unexpected_index_list") or []:
            rn = int(item["row_number"])
            value = item.get(kw.get("column")) if kw.get("column") else None
            if kw.get("column") == SUBMITTER_INVOLVED:
                row = rows_by_number[rn]
                value = " / ".join(str(row.get(c) or "(empty)") for c in column.split(", "))
            if exp["type"] == "expect_column_pair_values_a_to_be_greater_than_b":
                value = ", ".join(f"{c}={'' if (v := _as_written(_plain(item.get(c)))) is None else v}"
                                  for c in (kw["column_B"], kw["column_A"]))
            value = _as_written(_plain(value))
            advice = fix.split(": ", 1)[0] if exp["type"].startswith("expect_column_pair") else fix
            if exp["type"] == "expect_column_values_to_be_in_set" and not exp.get("meta") and template.column(
                    kw["column"]).type in ("member", "area"):
                label = name_column(template, kw["column"])
                near = closest_by_name(rows_by_number[rn].get(label) if label else None, registers or {},
                                       contract.members())
                advice += f". Closest by name: {', '.join(near)}" if near else ""
            by_row.setdefault(rn, []).append(Problem(rn, column, None if value is None else str(value), problem,
                                                     advice))
    return by_row


def check(template: Template, sheet: Sheet, limits: Limits, name: str,
          registers: dict[str, dict] | None = None, member: str | None = None) -> Checked:
    check_header(template, sheet, name)
    rows, type_problems, neutralised = type_rows(template, sheet, limits)
    # every row's every problem (issue 25: seats_total=-1 went unreported beside a bad year): the contract
    # runs on all rows, and what it says of a cell that could not even be typed is already said
    contract_problems = run_contract(template, rows, limits, registers, member)
    valid, rejected = [], {}
    for row in rows:
        rn = row["row_number"]
        untyped = {c for p in type_problems.get(rn, []) for c in (p.column or "").split(", ") if c}
        found = type_problems.get(rn, []) + [
            p for p in contract_problems.get(rn, []) if not untyped & set((p.column or "").split(", "))]
        if found:
            rejected[rn] = (row, found)
        else:
            valid.append((rn, row))
    return Checked(valid, rejected, neutralised)
