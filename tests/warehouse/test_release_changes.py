"""What `lgstats release` calls a change (lgstats/pipeline/releases.py), on two small hand-made releases of
fct_observation: every kind once (added, removed, revised by value, by text only, by unit; a series appearing,
one vanishing), and nothing for a row whose snapshot or load time alone differ. Invented values: plumbing only."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from lgstats.cli import release_diff_text
from lgstats.pipeline import releases

COLUMNS = "observation_id text, series_code text, area_code text, year int, period text, disaggregation text, " \
          "reporting_type text, value numeric, value_text text, value_qualifier text, unit text, nature text, " \
          "snapshot_id text, loaded_at timestamptz, source_dataset text"
OLD = [("a", "S1", "004", 2020, None, "_T", "G", 1.5, "1.5", None, "PERCENT", "C", "s/1", "2026-01-01"),
       ("b", "S1", "004", 2021, None, "_T", "G", 2, "2", None, "PERCENT", "C", "s/1", "2026-01-01"),
       ("c", "S1", "008", 2021, None, "_T", "G", None, "<2", "<", "PERCENT", "C", "s/1", "2026-01-01"),
       ("d", "S1", "008", 2022, None, "_T", "G", 3, "3", None, "PERCENT", "C", "s/1", "2026-01-01"),
       ("e", "GONE", "004", 2020, None, "_T", "G", 7, "7", None, "NUMBER", "C", "s/1", "2026-01-01"),
       ("f", "S1", "012", 2020, None, "_T", "G", 4, "4", None, "PERCENT", "C", "s/1", "2026-01-01")]
NEW = [("a", "S1", "004", 2020, None, "_T", "G", 1.50, "1.5", None, "PERCENT", "C", "s/2", "2026-02-01"),  # same
       ("b", "S1", "004", 2021, None, "_T", "G", 2.5, "2.5", None, "PERCENT", "C", "s/2", "2026-02-01"),  # value
       ("c", "S1", "008", 2021, None, "_T", "G", None, "<3", "<", "PERCENT", "C", "s/2", "2026-02-01"),  # text
       ("d", "S1", "008", 2022, None, "_T", "G", 3, "3", None, "NUMBER", "C", "s/2", "2026-02-01"),  # unit
       ("g", "NEW", "004", 2024, None, "_T", "G", 9, "9", None, "NUMBER", "C", "s/2", "2026-02-01"),  # added
       ("f", "S1", "012", 2020, None, "_T", "G", 4, "4x", None, "PERCENT", "C", "s/2", "2026-02-01")]  # text


# a second source dataset, the same in both releases but for its snapshot and load time
SAME = [("h", "S2", "004", 2020, None, "_T", "G", 6, "6", None, "NUMBER", "C", "w/1", "2026-01-01"),
        ("i", "S2", "008", 2020, None, "_T", "G", None, "n/a", None, "NUMBER", "C", "w/1", "2026-01-01")]


def _in(dataset: str, rows: list[tuple], snapshot: str | None = None) -> list[tuple]:
    return [(*r[:12], snapshot or r[12], r[13], dataset) for r in rows]


@pytest.fixture
def two_releases(warehouse_url):
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        for schema, rows in (("release_2026_01_01", _in("s/x", OLD) + _in("w/y", SAME)),
                             ("release_2026_02_01", _in("s/x", NEW) + _in("w/y", SAME, "w/2"))):
            conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
            table = sql.Identifier(schema, releases.FACT)
            conn.execute(sql.SQL("create table {} ({})").format(table, sql.SQL(COLUMNS)))
            with conn.cursor().copy(sql.SQL("copy {} from stdin").format(table)) as copy:
                for row in rows:
                    copy.write_row(row)
    return warehouse_url


def test_each_kind_of_change_once_and_a_new_snapshot_alone_is_none(two_releases):
    with psycopg.connect(two_releases) as conn:
        rows = conn.cursor(row_factory=psycopg.rows.dict_row).execute(
            sql.SQL("select * from ({}) as c").format(
                releases.changes_query("release_2026_01_01", "release_2026_02_01"))).fetchall()
    got = sorted((r["change"], r["series_code"], r["observation_id"],
                  None if r["old_value"] is None else float(r["old_value"]),
                  None if r["new_value"] is None else float(r["new_value"]),
                  r["old_value_text"], r["new_value_text"], r["old_unit"], r["new_unit"]) for r in rows)
    assert got == sorted([
        ("revised", "S1", "b", 2.0, 2.5, "2", "2.5", "PERCENT", "PERCENT"),
        ("revised", "S1", "c", None, None, "<2", "<3", "PERCENT", "PERCENT"),
        ("revised", "S1", "d", 3.0, 3.0, "3", "3", "PERCENT", "NUMBER"),
        ("revised", "S1", "f", 4.0, 4.0, "4", "4x", "PERCENT", "PERCENT"),
        ("removed", "GONE", "e", 7.0, None, "7", None, "NUMBER", None),
        ("added", "NEW", "g", None, 9.0, None, "9", None, "NUMBER"),
        ("series_added", "NEW", None, None, None, None, None, None, None),
        ("series_removed", "GONE", None, None, None, None, None, None, None)])
    key = {r["observation_id"]: (r["area_code"], r["year"]) for r in rows if r["observation_id"]}
    assert key["e"] == ("004", 2020) and key["g"] == ("004", 2024)  # the area and year of either side
    text = release_diff_text("2026-01-01", "2026-02-01", rows)
    assert text.splitlines()[0] == ("release 2026-01-01 → 2026-02-01: 1 added, 1 removed, 4 revised, "
                                    "1 series_added, 1 series_removed")
    assert "revised         S1 004 2021 _T: 2 → 2.5" in text


@pytest.mark.parametrize("release_id, schema", [("2026-12-04", "release_2026_12_04"),
                                                ("2026-12-04.2", "release_2026_12_04_2")])
def test_release_ids_name_their_schema(release_id, schema):
    assert releases.schema_name(release_id) == schema


@pytest.mark.parametrize("bad", ["2026-12-4", "latest", "2026-12-04; drop schema marts", "2026-12-04.x"])
def test_a_malformed_release_id_is_refused(bad):
    with pytest.raises(releases.ReleaseError, match="is not a release id"):
        releases.schema_name(bad)


def test_only_the_source_datasets_whose_rows_moved_are_compared_and_nothing_is_missed(two_releases):
    with psycopg.connect(two_releases) as conn:
        old, new = ({d: [n, h] for d, n, h in conn.execute(releases.fingerprint_query(schema))}
                    for schema in ("release_2026_01_01", "release_2026_02_01"))
        assert old.keys() == new.keys() == {"s/x", "w/y"}
        assert old["w/y"] == new["w/y"] and old["s/x"] != new["s/x"]  # a new snapshot id alone moves nothing
        moved = releases.moved_datasets(old, new)
        assert moved == ["s/x"]
        assert releases.moved_datasets(None, new) is None  # a release without a fingerprint: compare everything
        assert releases.moved_datasets(old, {**new, "z/new": [1, 5]}) == ["s/x", "z/new"]

        def changes(datasets):
            return sorted(conn.execute(sql.SQL("select * from ({}) as c").format(
                releases.changes_query("release_2026_01_01", "release_2026_02_01", datasets))).fetchall(), key=str)

        everything = changes(None)
        assert len(everything) == 8 and changes(moved) == everything
        assert changes(["w/y"]) == []  # the unchanged dataset, compared alone, has no change
