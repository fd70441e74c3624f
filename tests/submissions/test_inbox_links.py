"""Issue 24, the inbox: links are never followed (N1: a member or template folder that is a link; N2: a file
that is a link), a folder name that is not UTF-8 is reported, not fatal (N4), and a hidden file is reported
once instead of being ignored forever (N15)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from lgstats.pipeline.submissions import process
from tests.submissions.test_hostile_files import GOOD
from tests.submissions.test_inbox import COUNCIL, drop, inbox, loaded_rows


def home() -> Path:
    return Path(os.environ["LGSTATS_HOME"])


def test_a_template_folder_that_links_elsewhere_is_never_entered(warehouse_url, tmp_path):
    target = tmp_path / "precious"  # stands for $LGSTATS_HOME/warehouse or the database's data folder
    target.mkdir()
    (target / "data.csv").write_text(GOOD)
    (target / "PG_VERSION").write_text("18\n")
    member = home() / "inbox" / COUNCIL[0]
    member.mkdir(parents=True)
    (member / COUNCIL[1]).symlink_to(target, target_is_directory=True)
    results = process.process_inbox()
    assert [r.status for r in results] == ["refused"] and "not followed" in results[0].message
    assert sorted(p.name for p in target.iterdir()) == ["PG_VERSION", "data.csv"]  # nothing moved out of it
    assert loaded_rows(warehouse_url) == 0


def test_a_member_folder_that_links_elsewhere_is_never_entered(warehouse_url, tmp_path):
    target = tmp_path / "elsewhere" / COUNCIL[1]
    target.mkdir(parents=True)
    (target / "data.csv").write_text(GOOD)
    (home() / "inbox").mkdir(parents=True)
    (home() / "inbox" / COUNCIL[0]).symlink_to(target.parent, target_is_directory=True)
    results = process.process_inbox()
    assert [r.status for r in results] == ["refused"] and (target / "data.csv").exists()
    assert loaded_rows(warehouse_url) == 0


def test_a_file_that_links_to_a_secret_is_never_read(warehouse_url, tmp_path):
    secret = home() / "warehouse" / "credentials.json"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text(json.dumps({"admin": "s3cret-password-not-to-leak"}))
    drop("council.csv", GOOD.encode())
    (inbox() / "creds.csv").symlink_to(secret)
    (inbox() / "passwd.csv").symlink_to("/etc/passwd")
    results = process.process_inbox()
    by_name = {r.file_name: r for r in results}
    assert by_name["creds.csv"].status == by_name["passwd.csv"].status == "refused"
    assert by_name["council.csv"].status == "accepted" and loaded_rows(warehouse_url) == 1
    written = [p for p in (home()).rglob("*") if p.is_file() and not p.is_symlink() and p != secret]
    for path in written:  # neither the password nor /etc/passwd's first line reached a snapshot or a report
        text = path.read_bytes()
        assert b"s3cret-password-not-to-leak" not in text and b"root:x:0:0" not in text, path
    assert secret.read_text().startswith("{")  # the target is untouched


def test_the_inbox_never_opens_through_a_link_even_if_swapped_after_listing(warehouse_url, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("area_code\nTOP-SECRET\n")
    path = inbox() / "late.csv"
    inbox().mkdir(parents=True, exist_ok=True)
    path.symlink_to(secret)
    result = process.process_file(path, *COUNCIL)
    assert result.status == "refused" and "a link" in result.message


def test_a_folder_name_that_is_not_utf8_is_reported_and_the_others_go_on(warehouse_url):
    bad = os.fsencode(home() / "inbox") + b"/PH-LG-\xff"
    os.makedirs(bad + b"/council_composition")
    with open(bad + b"/council_composition/x.csv", "wb") as fh:
        fh.write(GOOD.encode())
    drop("council.csv", GOOD.encode())
    results = process.process_inbox()
    statuses = {r.member: r.status for r in results}
    assert statuses == {"PH-LG-\\xff": "refused", "PH-LG-001": "accepted"}
    json.dumps([r.as_dict() for r in results])  # what Airflow stores as the task's result: plain text only
    assert os.path.exists(bad + b"/council_composition/x.csv")  # not moved: its names were refused first


def test_a_hidden_file_is_reported_once_not_ignored_forever(warehouse_url):
    drop(".council.csv", GOOD.encode())
    first = process.process_inbox()
    assert [(r.status, r.file_name) for r in first] == [("refused", ".council.csv")]
    assert "hidden" in first[0].message and "leading dot" in first[0].message
    assert process.process_inbox() == []  # set aside, so reported once
    assert loaded_rows(warehouse_url) == 0
