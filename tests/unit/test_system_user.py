"""The embedded server's system user, made once per machine even when several lgstats processes start at once.

On a fresh machine the two pytest workers each ran ``useradd``: the second rewrote the first's user with a new
uid and gid, and the first worker's server could no longer read its own home (292 errors in one run). Without
the lock this test saw different users in two of three tries; it is a race, so it cannot fail every time, but it
fails whenever the processes disagree.
"""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess
import sys
import time

import pytest

PROBE = """
import os, sys, time
name, go = sys.argv[1], sys.argv[2]
from lgstats.core.warehouse import ensure_system_user
while not os.path.exists(go):
    time.sleep(0.001)
entry = ensure_system_user(name)
print(entry.pw_uid, entry.pw_gid)
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="only root makes system users; as another user lgstats needs none")
def test_four_first_starts_at_once_make_one_system_user_and_all_see_it(tmp_path):
    name = f"lgsrace{secrets.token_hex(3)}"
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", PROBE, name, str(go)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for _ in range(4)]
    try:
        time.sleep(2)  # every process has imported lgstats and waits for the signal
        go.touch()
        seen = [p.communicate(timeout=60)[0].split() for p in procs]
        assert all(p.returncode == 0 for p in procs), seen
        final = pwd.getpwnam(name)
        assert seen == [[str(final.pw_uid), str(final.pw_gid)]] * 4
    finally:
        for p in procs:
            p.kill()
        subprocess.run(["userdel", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)
