"""Write the blank templates members fill in (``data/templates/``): CSV, XLSX with a README sheet, and a
README section per template, all generated from ``ingestion/submissions/templates.yml``."""

from __future__ import annotations

from pathlib import Path

from lgstats.core.settings import PROJECT_DIR
from lgstats.pipeline import units
from lgstats.pipeline.submissions import contract

OUT = PROJECT_DIR / "data" / "templates"


def _meaning(col: contract.Column) -> str:
    text = col.description
    if col.values:
        text += f" Allowed: {', '.join(col.values)}."
    if col.type == "unit":
        text += f" Allowed: {', '.join(units.unit_codes())}."
    if col.min is not None:
        text += f" Minimum {col.min:g}."
    return text


def write(out: Path = OUT) -> list[Path]:
    import openpyxl
    from openpyxl.styles import Font

    out.mkdir(parents=True, exist_ok=True)
    written, readme = [], ["# Submission templates", "",
                           "Fill in one row per record, keep the header row as it is, and send the file with",
                           "`lgstats submit FILE --member CODE --template NAME` (or drop it in the inbox).",
                           "CSV files should be UTF-8 (Windows-1252 and UTF-16 are read too). Formulas are never",
                           "evaluated: type values. A file is checked row by row; the report lists each rejected row",
                           "with its row number, column, value and the fix.", ""]
    for tpl in contract.templates().values():
        csv_path = out / f"{tpl.name}.csv"
        csv_path.write_text(",".join(tpl.column_names) + "\n", encoding="utf-8")
        wb = openpyxl.Workbook()
        data = wb.active
        data.title = "data"
        data.append(tpl.column_names)
        for cell in data[1]:
            cell.font = Font(bold=True)
        info = wb.create_sheet("README")
        info.append(["column", "required", "type", "meaning and allowed codes"])
        for col in tpl.columns:
            info.append([col.name, "yes" if col.required else "no", col.type, _meaning(col)])
        xlsx_path = out / f"{tpl.name}.xlsx"
        wb.save(xlsx_path)
        written += [csv_path, xlsx_path]
        readme += [f"## `{tpl.name}`: {tpl.title}", "",
                   f"One row per {' + '.join(tpl.key)}. A new file for the same "
                   f"{' + '.join(tpl.period) if tpl.period else 'template'} replaces your earlier one.", "",
                   "| column | required | type | meaning and allowed codes |", "|---|---|---|---|"]
        readme += [f"| `{c.name}` | {'yes' if c.required else 'no'} | {c.type} | {_meaning(c)} |" for c in tpl.columns]
        readme += [""] + [f"Check: {chk.message}." for chk in tpl.checks] + [""]
    readme += ["Member codes (`member`, `lga` types) are listed in `dbt/seeds/ref_members.csv`; countries use ISO",
               "3166-1 alpha-3 codes; areas use member codes or three-digit M49 codes.", ""]
    (out / "README.md").write_text("\n".join(readme), encoding="utf-8")
    return written


if __name__ == "__main__":
    for p in write():
        print(p)
