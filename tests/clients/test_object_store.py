"""Snapshots in an S3 object store (lgstats/pipeline/object_store.py), against a real S3 API server on 127.0.0.1:
moto's server mode (moto[server] from PyPI: the S3 protocol over HTTP in one process, no credentials or network
beyond loopback; chosen over MinIO, whose server is not on PyPI or in Debian's packages).

What the local store promises must hold there too: the sidecar last, so an upload cut by a dying worker is
invisible and cleaned up; md5 checked on read; a re-run of the same date replaces the partition whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lgstats.core.settings import Settings
from lgstats.pipeline import object_store
from lgstats.pipeline.object_store import ObjectStore, StoreError
from lgstats.pipeline.snapshots import SnapshotWriter
from tests.conftest import free_port

BUCKET = "lgstats-test"


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def settings(s3_endpoint, tmp_path, request):
    prefix = request.node.name.replace("[", "_").replace("]", "")[:60]
    s = Settings(home=tmp_path / "home", store_url=f"s3://{BUCKET}/{prefix}", store_endpoint_url=s3_endpoint,
                 store_key_id="testing", store_secret="testing")
    store = ObjectStore.from_settings(s)
    if not store.fs.exists(BUCKET):
        store.fs.mkdir(BUCKET)
    return s


def local_snapshot(root, files: dict[str, bytes], dt: str = "2026-12-05"):
    with SnapshotWriter(root, "world_bank", "indicators", dt) as writer:
        for name, body in files.items():
            writer.add(name, body, url=f"https://api.worldbank.org/{name}")
        return writer.commit(mode="replay", licence="CC-BY-4.0")


FILES = {"page-0001.json": b'[{"page": 1}, [{"value": 1}]]', "page-0002.json": b'[{"page": 2}, [{"value": 2}]]'}


def test_a_snapshot_uploaded_by_one_worker_reads_back_whole_on_another(settings, tmp_path):
    snapshot = local_snapshot(tmp_path / "worker-a", FILES)
    store = ObjectStore.from_settings(settings)
    url = store.put(snapshot)
    assert url == f"s3://{store.root}/snapshots/world_bank/indicators/dt=2026-12-05"
    assert store.visible("world_bank", "indicators") == ["world_bank/indicators/dt=2026-12-05"]
    other = object_store.open_snapshot(url, settings)  # into this "worker's" own cache
    assert other.path.is_relative_to(settings.home / "cache") and other.origin == snapshot.origin
    assert {p.name: p.read_bytes() for p in other.files} == FILES
    assert store.put(snapshot) == url  # a retried task: the same partition, nothing rewritten


def test_an_upload_cut_by_a_dying_worker_is_invisible_cleaned_and_completed_by_the_retry(settings, tmp_path):
    snapshot = local_snapshot(tmp_path / "worker-a", FILES)
    store = ObjectStore.from_settings(settings)
    # a worker that dies (os._exit: no clean-up of any kind) right after its first file reached the store
    child = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from lgstats.core.settings import Settings
        from lgstats.pipeline.object_store import ObjectStore
        from lgstats.pipeline.snapshots import Snapshot
        s = Settings.model_validate_json({settings.model_dump_json()!r})
        store = ObjectStore.from_settings(s)
        put_file = store.fs.put_file
        def put_then_die(*args, **kwargs):
            put_file(*args, **kwargs)
            os._exit(9)
        store.fs.put_file = put_then_die
        store.put(Snapshot.open(Path({str(snapshot.path)!r})))
    """)
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    url = store.url(store.partition_key(snapshot.id))
    assert store.fs.find(url.split("://")[1])  # one file got there ...
    assert store.visible("world_bank", "indicators") == []  # ... but no reader sees the partition
    with pytest.raises(StoreError, match="upload never finished"):
        object_store.open_snapshot(url, settings)
    assert store.clean(older_than_s=3600) == []  # an upload that young may still be going
    assert store.clean(older_than_s=0) == [url]
    assert not store.fs.exists(url.split("://")[1])
    store.put(snapshot)  # the retry, on the other worker
    assert {p.name: p.read_bytes() for p in object_store.open_snapshot(url, settings).files} == FILES


def test_an_object_changed_after_upload_fails_its_md5_and_nothing_is_cached(settings, tmp_path):
    snapshot = local_snapshot(tmp_path / "worker-a", FILES)
    store = ObjectStore.from_settings(settings)
    url = store.put(snapshot)
    store.fs.pipe_file(f"{url.split('://')[1]}/page-0002.json", b'[{"page": 2}, [{"value": 999}]]')
    with pytest.raises(StoreError, match=r"page-0002\.json: md5 .* the sidecar says .* Fix: run the fetch"):
        object_store.open_snapshot(url, settings)
    cache = settings.home / "cache" / "snapshots" / "world_bank" / "indicators"
    assert not cache.exists() or not any(cache.iterdir())


def test_a_rerun_of_the_same_date_replaces_the_partition_whole(settings, tmp_path):
    store = ObjectStore.from_settings(settings)
    url = store.put(local_snapshot(tmp_path / "first", FILES))
    object_store.open_snapshot(url, settings)
    again = {"page-0001.json": b'[{"page": 1}, [{"value": 10}]]'}  # the source now has one page
    assert store.put(local_snapshot(tmp_path / "second", again)) == url
    assert sorted(p.rsplit("/", 1)[1] for p in store.fs.find(url.split("://")[1])) == ["_origin.json",
                                                                                       "page-0001.json"]
    read = object_store.open_snapshot(url, settings)  # the cached first version is replaced too
    assert {p.name: p.read_bytes() for p in read.files} == again
    assert sorted(p.name for p in read.path.iterdir()) == ["_origin.json", "page-0001.json"]


def test_a_rejected_partition_leaves_the_dataset_for_inspection(settings, tmp_path):
    store = ObjectStore.from_settings(settings)
    url = store.put(local_snapshot(tmp_path / "a", FILES))
    kept = store.reject(url)
    assert "/snapshots/_rejected/world_bank/indicators/dt=2026-12-05@" in kept
    assert store.visible("world_bank", "indicators") == []
    assert json.loads(store.fs.cat_file(f"{kept.split('://')[1]}/_origin.json"))["snapshot_id"] == \
        "world_bank/indicators/dt=2026-12-05"


def test_without_the_setting_snapshots_stay_on_disk_and_a_store_url_is_refused_clearly(tmp_path):
    s = Settings(home=tmp_path)
    assert ObjectStore.from_settings(s) is None
    with pytest.raises(StoreError, match="LGSTATS_STORE_URL is not set on this worker"):
        object_store.open_snapshot("s3://bucket/snapshots/world_bank/indicators/dt=2026-12-05", s)
    with pytest.raises(StoreError, match="names no bucket"):
        ObjectStore.from_settings(Settings(home=tmp_path, store_url="s3://"))


def test_the_steps_after_fetch_read_the_snapshot_from_the_store_on_a_worker_with_an_empty_home(
        settings, warehouse_url, monkeypatch, tmp_path):
    """fetch on one "host", validate and load on another whose home is empty (the fetching host's disk is
    gone): the load reads only what the store holds, and records the copy it checked."""
    import shutil

    import psycopg

    from lgstats.pipeline import steps

    for name in ("store_url", "store_endpoint_url", "store_key_id", "store_secret"):
        monkeypatch.setenv(f"LGSTATS_{name.upper()}", getattr(settings, name))
    fetcher, loader = tmp_path / "host-a", tmp_path / "host-b"
    monkeypatch.setenv("LGSTATS_HOME", str(fetcher))
    url = steps.fetch("world_bank", "indicators", "2026-11-28", "replay")
    assert url.startswith(f"s3://{BUCKET}/") and url.endswith("/snapshots/world_bank/indicators/dt=2026-11-28")
    shutil.rmtree(fetcher)
    monkeypatch.setenv("LGSTATS_HOME", str(loader))
    assert steps.validate(url)["snapshot_id"] == "world_bank/indicators/dt=2026-11-28"
    loaded = steps.load(url)
    assert loaded["status"] == "loaded" and loaded["rows"] > 1000
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("select count(*) from raw.world_bank__indicators").fetchone()[0] == loaded["rows"]
        sidecar = conn.execute("select sidecar_path from raw.snapshot_origins").fetchone()[0]
    assert sidecar.startswith(str(loader / "cache" / "snapshots" / "world_bank" / "indicators")), sidecar
    assert not fetcher.exists()
    # its validation report is in the store, and Data Docs built on a third host with an empty home show it
    store = ObjectStore.from_settings(Settings())
    report = f"{store.root}/reports/validation/world_bank/indicators/dt=2026-11-28"
    assert {p.rsplit("/", 1)[1] for p in store.fs.find(report)} >= {"validation.md", "validation.json"}
    from lgstats.services import docs_site

    monkeypatch.setenv("LGSTATS_HOME", str(tmp_path / "host-c"))
    index, done = docs_site.build_data_docs(tmp_path / "site", tmp_path / "gx-work")
    assert done == ["world_bank/indicators/dt=2026-11-28"]  # the one validated, found through the store
    assert (tmp_path / "host-c" / "reports" / "validation" / "world_bank" / "indicators" / "dt=2026-11-28" /
            "validation.md").exists()


def test_lgstats_airflow_store_names_a_missing_bucket_before_any_task_runs(s3_endpoint, tmp_path):
    from lgstats.services.airflow_metadata import StackError
    from lgstats.services.airflow_stack import _check_store

    s = Settings(home=tmp_path, store_url="s3://no-such-bucket/lgstats", store_endpoint_url=s3_endpoint,
                 store_key_id="testing", store_secret="testing")
    with pytest.raises(StackError, match="cannot be listed.*Fix: create bucket 'no-such-bucket'"):
        _check_store(s)
    ObjectStore.from_settings(s).fs.mkdir("no-such-bucket")
    _check_store(s)  # now it is there


def test_lgstats_store_checks_creates_the_bucket_and_cleans_unfinished_uploads(s3_endpoint, tmp_path):
    env = {**os.environ, "LGSTATS_HOME": str(tmp_path / "home"),
           "LGSTATS_STORE_URL": "s3://lgstats-cli/prod", "LGSTATS_STORE_ENDPOINT_URL": s3_endpoint,
           "LGSTATS_STORE_KEY_ID": "testing", "LGSTATS_STORE_SECRET": "testing"}
    lgstats = str(Path(sys.executable).with_name("lgstats"))

    def run(*args):
        return subprocess.run([lgstats, "store", *args], env=env, capture_output=True, text=True, timeout=120)

    missing = run("check")
    assert missing.returncode == 2 and "bucket 'lgstats-cli'" in missing.stderr and "--create" in missing.stderr
    created = run("check", "--create")
    assert created.returncode == 0 and "bucket 'lgstats-cli' created" in created.stdout
    s = Settings(home=tmp_path, store_url="s3://lgstats-cli/prod", store_endpoint_url=s3_endpoint,
                 store_key_id="testing", store_secret="testing")
    store = ObjectStore.from_settings(s)
    store.fs.pipe_file("lgstats-cli/prod/snapshots/world_bank/indicators/dt=2026-12-01/page-0001.json", b"[]")
    assert "0 unfinished" in run("clean").stdout  # younger than an hour: it may still be uploading
    cleaned = run("clean", "--older-than", "0")
    assert cleaned.returncode == 0 and "1 unfinished snapshot upload(s) removed" in cleaned.stdout
    assert not store.fs.exists("lgstats-cli/prod/snapshots/world_bank/indicators/dt=2026-12-01")


def test_a_member_files_report_lands_in_the_store(settings, warehouse_url, monkeypatch):
    from lgstats.pipeline.submissions import process
    from tests.submissions.test_hostile_files import GOOD
    from tests.submissions.test_inbox import drop

    for name in ("store_url", "store_endpoint_url", "store_key_id", "store_secret"):
        monkeypatch.setenv(f"LGSTATS_{name.upper()}", getattr(settings, name))
    drop("council.csv", GOOD.encode())
    [result] = process.process_inbox()
    assert result.status == "accepted", result.message
    store = ObjectStore.from_settings(Settings())
    stored = {p.rsplit("/", 1)[1] for p in store.fs.find(f"{store.root}/reports/submissions")}
    assert {Path(result.report_html).name, Path(result.report_csv).name} \
        <= stored, stored


def test_a_member_file_in_the_stores_inbox_is_claimed_by_one_worker_only_and_settled_by_its_outcome(
        settings, tmp_path, pg_admin_url):
    """Two workers list the same waiting file: the first claims it (an advisory lock, as S3 has no rename), the
    second passes it by. It leaves the inbox only when settled: processed files to .processed, failed ones to
    .failed with their error report; a file not processed this run stays."""
    import psycopg

    from lgstats.pipeline.submissions import store_inbox
    from lgstats.pipeline.submissions.process import Result

    store = ObjectStore.from_settings(settings)
    base = f"{store.root}/inbox"
    for name in ("good.csv", "broken.csv", "later.csv"):
        store.fs.pipe_file(f"{base}/LGA-PH-01/lga_profile/{name}", f"{name}\n".encode())
    store.fs.pipe_file(f"{base}/.processed/LGA-PH-01/lga_profile/old.csv", b"old\n")  # not waiting
    assert [k.rsplit("/", 1)[1] for k in store_inbox.waiting(store)] == ["broken.csv", "good.csv", "later.csv"]
    with psycopg.connect(pg_admin_url, autocommit=True) as a, psycopg.connect(pg_admin_url, autocommit=True) as b:
        pulled = store_inbox.pull(store, a, tmp_path / "a" / "inbox")
        assert len(pulled) == 3 and (tmp_path / "a/inbox/LGA-PH-01/lga_profile/good.csv").read_bytes() == b"good.csv\n"
        assert store_inbox.pull(store, b, tmp_path / "b" / "inbox") == []  # claimed by the other worker
        assert not (tmp_path / "b" / "inbox").exists()
        report = tmp_path / "broken.csv.error.txt"
        report.write_text("processing broken.csv failed (ValueError: bad)")
        results = [Result("s1", "LGA-PH-01", "lga_profile", "good.csv", "accepted", 1, 1, 0, "ok"),
                   Result("-", "LGA-PH-01", "lga_profile", "broken.csv", "failed", 0, 0, 0, "bad",
                          report_html=str(report))]
        store_inbox.settle(store, pulled, results, "20261205T000000Z")
    assert [k.rsplit("/", 1)[1] for k in store_inbox.waiting(store)] == ["later.csv"]
    assert store.fs.cat_file(f"{base}/.processed/LGA-PH-01/lga_profile/20261205T000000Z__good.csv") == b"good.csv\n"
    assert store.fs.exists(f"{base}/.failed/LGA-PH-01/lga_profile/20261205T000000Z__broken.csv")
    assert b"ValueError: bad" in store.fs.cat_file(f"{base}/.failed/LGA-PH-01/lga_profile/broken.csv.error.txt")
