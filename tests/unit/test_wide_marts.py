"""Wide marts declared as data (issue 26): each value column of a wide mart is one row of
dbt/seeds/mart_wide_columns.csv and is declared nowhere else: the mart's SQL names no series, its YAML lists no
declared column (a test of one stands at the model's level). The built table is checked against both by the dbt test
`wide_mart_matches_its_declaration` (tests/warehouse run it)."""

from __future__ import annotations

import csv

import yaml

from lgstats.core.settings import PROJECT_DIR

SEED = PROJECT_DIR / "dbt" / "seeds" / "mart_wide_columns.csv"
MARTS = PROJECT_DIR / "dbt" / "models" / "marts"


def seed_rows() -> list[dict[str, str]]:
    with open(SEED, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def model_properties() -> dict[str, dict]:
    out = {}
    for path in MARTS.rglob("_*__models.yml"):
        for model in yaml.safe_load(path.read_text(encoding="utf-8")).get("models", []):
            out[model["name"]] = model
    return out


def test_each_wide_mart_is_a_model_tested_against_its_declaration():
    models = model_properties()
    marts = {r["mart"] for r in seed_rows()}
    assert marts, "the seed declares no wide mart"
    for mart in marts:
        assert mart in models, f"{SEED}: mart {mart!r} has no model in {MARTS}"
        assert "wide_mart_matches_its_declaration" in models[mart].get("data_tests", []), \
            f"{mart}: add the data test wide_mart_matches_its_declaration to its YAML"


def test_a_declared_column_is_typed_and_described_in_the_seed_only():
    models = model_properties()
    for row in seed_rows():
        assert row["description"].strip() and row["data_type"], f"{SEED}: {row['column_name']} needs both"
        listed = [c["name"] for c in models[row["mart"]].get("columns", [])]
        assert row["column_name"] not in listed, (
            f"{row['mart']}.{row['column_name']} is declared in {SEED.name}; its entry in the YAML would overwrite "
            "the seed's description: attach a test at the model's level with column_name instead")


def test_the_wide_mart_sql_names_no_series():
    """The series codes live in the seed only: the model's SQL holds none of them."""
    rows = seed_rows()
    for mart in {r["mart"] for r in rows}:
        [sql] = MARTS.rglob(f"{mart}.sql")
        text = sql.read_text(encoding="utf-8")
        assert not [r["series_code"] for r in rows if r["mart"] == mart and r["series_code"] in text], sql
