"""The member's report: every rejected row with its row number, column, value and the fix (HTML and CSV)."""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path

from lgstats.pipeline.submissions.checks import Problem

FIELDS = ["row_number", "column", "value", "problem", "fix"]


def _safe_csv(value):
    """Report cells must not run as formulas when the member opens the CSV in a spreadsheet."""
    text = "" if value is None else str(value)
    # spreadsheets ignore leading spaces before a formula, so the guard must too
    return "'" + text if text.lstrip(" \u00a0").startswith(("=", "+", "-", "@", "\t", "\r")) else text


def write(folder: Path, summary: dict, problems: list[Problem]) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = folder / "report.csv", folder / "report.html"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(FIELDS)
        for p in problems:
            w.writerow([_safe_csv(getattr(p, f)) for f in FIELDS])
    rows = "".join("<tr>" + "".join(f"<td>{html.escape('' if getattr(p, f) is None else str(getattr(p, f)))}</td>"
                                    for f in FIELDS) + "</tr>" for p in problems)
    facts = "".join(f"<dt>{html.escape(k.replace('_', ' '))}</dt><dd>{html.escape(str(v))}</dd>"
                    for k, v in summary.items() if k != "problems")
    verdict = {"accepted": "All rows were accepted.",
               "partially_accepted": ("Valid rows were loaded; the rows below were set aside. "
                                      "Correct them and send the file again."),
               "rejected": "No row could be accepted. Correct the rows below and send the file again.",
               "refused": "The file could not be read. See the reason below.",
               "unchanged": "This exact file was already received; nothing changed."}[summary["status"]]
    html_path.write_text(f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Submission report: {html.escape(summary['template'])} from {html.escape(summary['member'])}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem}}table{{border-collapse:collapse}}
td,th{{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top}}dt{{font-weight:bold}}</style>
</head><body><h1>Submission report</h1><p>{html.escape(verdict)}</p><dl>{facts}</dl>
<h2>Rows set aside ({len(problems)} problem(s))</h2>
<table><tr>{''.join(f'<th>{f.replace("_", " ")}</th>' for f in FIELDS)}</tr>{rows}</table>
</body></html>""", encoding="utf-8")
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return {"csv": str(csv_path), "html": str(html_path)}
