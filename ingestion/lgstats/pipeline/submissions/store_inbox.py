"""The member inbox in the object store (``<store>/inbox/<member>/<template>/<file>``), for workers that share no
disk: a member's file dropped there is processed by whichever worker runs ``submissions_ingest``.

S3 has no atomic rename to claim a file with, so a worker claims an object under a PostgreSQL advisory lock (one
per object, tried, never waited for: another worker skips what is taken), downloads it into its own home's
inbox and processes it there exactly as a local file. Only then does the object leave the store's inbox, for
``inbox/.processed/`` or, with its error report, ``inbox/.failed/``. A worker that dies mid-way loses its lock
with its connection, and the object is still in the inbox for the next run: a file processed twice is one
submission (its md5 is recorded) and the second is reported ``unchanged``.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
from dataclasses import dataclass
from pathlib import Path

from lgstats.pipeline.object_store import ObjectStore

log = logging.getLogger(__name__)

INBOX = "inbox"
INTERNAL = (".processed", ".failed", ".claimed")


@dataclass
class Pulled:
    key: str  # the object in the store's inbox
    member: str
    template: str
    local: Path  # its copy in this worker's inbox


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"lgstats.inbox:{key}".encode()).digest()[:8], "big", signed=True)


def waiting(store: ObjectStore) -> list[str]:
    """The objects waiting in the store's inbox (``<member>/<template>/<file>``, nothing deeper)."""
    base = f"{store.root}/{INBOX}"
    try:
        keys = store.fs.find(base)  # objects only, one listing
    except FileNotFoundError:
        return []
    return sorted(k for k in keys if len(parts := k[len(base) + 1:].split("/")) == 3 and parts[0] not in INTERNAL)


def pull(store: ObjectStore, conn, local_inbox: Path) -> list[Pulled]:
    """Claim (lock) and download every waiting object this worker can take; the locks live as long as ``conn``."""
    base = f"{store.root}/{INBOX}"
    pulled = []
    for key in waiting(store):
        member, template, name = key[len(base) + 1:].split("/")
        if not conn.execute("select pg_try_advisory_lock(%s)", (_lock_id(key),)).fetchone()[0]:
            continue  # another worker has it
        if not store.fs.exists(key):  # settled by another worker between the listing and the lock
            conn.execute("select pg_advisory_unlock(%s)", (_lock_id(key),))
            continue
        target = local_inbox / member / template / name
        target.parent.mkdir(parents=True, exist_ok=True)
        store.fs.get_file(key, str(target))
        pulled.append(Pulled(key, member, template, target))
    return pulled


def settle(store: ObjectStore, pulled: list[Pulled], results: list, stamp: str) -> None:
    """Move each pulled object out of the store's inbox by its outcome; a failed one keeps its error report."""
    base = f"{store.root}/{INBOX}"
    outcome = {(r.member, r.template, r.file_name): r for r in results}
    for p in pulled:
        name = p.local.name.split("__", 1)[-1]
        result = outcome.get((p.member, p.template, name))
        if result is None:  # not reached this run (its folder refused whole): it stays, and is reported again
            log.warning("%s stays in the store's inbox: it was not processed this run", p.key)
            continue
        folder = ".failed" if result.status == "failed" else ".processed"
        target = f"{base}/{folder}/{p.member}/{p.template}/{stamp}__{name}"
        store.fs.copy(p.key, target)
        if folder == ".failed" and result is not None and result.report_html:
            report = Path(result.report_html)
            if report.is_file():
                store.fs.put_file(str(report), posixpath.join(posixpath.dirname(target), report.name))
        store.fs.rm_file(p.key)
