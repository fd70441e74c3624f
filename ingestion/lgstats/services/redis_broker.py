"""The Celery broker of ``lgstats airflow --executor celery``: Debian's ``redis-server`` on 127.0.0.1.

Why Debian's package and not a PyPI wheel that bundles a server: it is the build Debian patches for
security, the same way the UI tests take Debian's chromium; ``make system-packages`` installs it. The
server asks for a password (generated once, kept with the warehouse credentials, written only to a 0600
config file so it never shows in ``ps``), binds loopback only, and keeps nothing on disk: the queue holds
task messages only, and Airflow's metadata database knows what must be re-queued after a restart.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from lgstats.core import credentials
from lgstats.core.settings import Settings
from lgstats.services.airflow_metadata import StackError

ROLE = "redis"


def config(folder: Path, port: int, password: str, hosts: tuple[str, ...] = ("127.0.0.1",)) -> Path:
    path = folder / "redis.conf"
    credentials.write_private(path, "\n".join([
        f"bind {' '.join(hosts)}", f"port {port}", "protected-mode yes", f'requirepass "{password}"',
        'save ""', "appendonly no", f"dir {folder}", f"logfile {folder / 'redis.log'}", "daemonize no", ""]))
    return path


def start(s: Settings, port: int) -> tuple[subprocess.Popen, str]:
    """Start the broker in its own process group; return it and the broker URL once it answers PING."""
    exe = shutil.which("redis-server")
    if not exe:
        raise StackError("redis-server is not installed (the Celery broker). Fix: `make system-packages`, or "
                         "`apt-get install redis-server` on Debian/Ubuntu.")
    s.ensure_passwords([ROLE])
    secret = s.password(ROLE)
    folder = s.airflow_home / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    hosts = tuple(dict.fromkeys(["127.0.0.1", s.service_host]))  # and the workers' network, when set
    proc = subprocess.Popen([exe, str(config(folder, port, secret, hosts))], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"redis://:{quote(secret, safe='')}@127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            return proc, url
        except redis.RedisError as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log = folder / "redis.log"
                tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
                raise StackError(f"Redis did not start on 127.0.0.1:{port} ({exc}).\n{tail}\n"
                                 "Fix: free the port or set LGSTATS_REDIS_PORT.") from None
            time.sleep(0.2)
