"""Simulated hosts for workers that share no disk: each is a network namespace joined to this machine by a veth
pair on its own private /30, and a mount namespace in which the whole file system is read-only except the
host's own home (and a private /dev/shm). A process there can write nothing but its home, and reach nothing but
what listens on the service address (the host end of the first pair; every namespace routes to it through its
own pair's host end).

Needs root and ``ip netns``; ``reason_unavailable()`` says why not, for the skip message.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# made writable (its home) and private (/dev/shm), then the rest read-only; "$@" is the command
_CONFINE = ('set -e; mount --make-rprivate /; mount --bind "$LGSTATS_HOME" "$LGSTATS_HOME"; '
            'mount -t tmpfs -o size=512m,mode=1777 tmpfs /dev/shm; mount -o remount,bind,ro /; exec "$@"')


def _ip(*args: str, ns: str | None = None) -> None:
    cmd = ["ip", *(("-n", ns) if ns else ()), *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise OSError(f"{' '.join(cmd)}: {done.stderr.strip()}")


def reason_unavailable() -> str | None:
    """None when this machine can make simulated hosts; else why not."""
    if os.geteuid() != 0:
        return "simulated hosts need root (ip netns, mount namespaces); running as an ordinary user"
    if not shutil.which("ip") or not shutil.which("unshare"):
        return "simulated hosts need `ip` (iproute2) and `unshare` (util-linux)"
    probe = f"lgprobe{os.getpid()}"
    try:
        _ip("netns", "add", probe)
    except OSError as exc:
        return f"`ip netns add` is not permitted here ({exc})"
    try:
        done = subprocess.run(["ip", "netns", "exec", probe, "unshare", "-m", "true"], capture_output=True,
                              text=True)
        if done.returncode != 0:
            return f"mount namespaces are not permitted here ({done.stderr.strip()})"
    finally:
        _ip("netns", "del", probe)
    return None


@dataclass
class SimulatedHost:
    ns: str
    address: str  # the host's own address, inside its namespace
    gateway: str  # this machine's end of the pair
    home: Path

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """A clean environment: nothing of this machine's but PATH and the locale; the home is the host's own."""
        (self.home / "tmp").mkdir(parents=True, exist_ok=True)
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(self.home),
                "TMPDIR": str(self.home / "tmp"), "LGSTATS_HOME": str(self.home), **(extra or {})}

    def popen(self, args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
        """Start ``args`` on this host, in a session of its own (so the whole host can be killed at once)."""
        return subprocess.Popen(["ip", "netns", "exec", self.ns, "unshare", "--mount", "--propagation", "private",
                                 "sh", "-c", _CONFINE, "confine", *args], env=env, start_new_session=True, **kwargs)

    def run(self, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
        proc = self.popen(args, env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out, _ = proc.communicate(timeout=60)
        return subprocess.CompletedProcess(args, proc.returncode, out, "")


class HostNetwork:
    """``count`` simulated hosts on 10.<n>.<i>.0/30 pairs; ``service_address`` is where this machine's services
    listen for them (with the /16 they connect from, as LGSTATS_SERVICE_ADDRESS wants it)."""

    reason = None  # isolated: nothing to skip

    def __init__(self, root: Path, count: int):
        self.tag = f"lg{os.getpid() % 100000}"
        self.octet = random.randint(64, 250)
        self.hosts: list[SimulatedHost] = []
        self.root = root
        self.count = count

    @property
    def service_host(self) -> str:
        return f"10.{self.octet}.1.1"

    @property
    def service_address(self) -> str:
        return f"{self.service_host}/16"

    def __enter__(self) -> HostNetwork:
        try:
            for i in range(1, self.count + 1):
                ns, outer, inner = f"{self.tag}-h{i}", f"{self.tag}h{i}", f"{self.tag}w{i}"
                gateway, address = f"10.{self.octet}.{i}.1", f"10.{self.octet}.{i}.2"
                _ip("netns", "add", ns)
                self.hosts.append(SimulatedHost(ns, address, gateway, self.root / f"host-{i}"))
                _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
                _ip("link", "set", inner, "netns", ns)
                _ip("addr", "add", f"{gateway}/30", "dev", outer)
                _ip("link", "set", outer, "up")
                _ip("addr", "add", f"{address}/30", "dev", inner, ns=ns)
                _ip("link", "set", inner, "up", ns=ns)
                _ip("link", "set", "lo", "up", ns=ns)
                if gateway != self.service_host:
                    _ip("route", "add", f"{self.service_host}/32", "via", gateway, ns=ns)
                self.hosts[-1].home.mkdir(parents=True)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        for host in self.hosts:
            subprocess.run(["ip", "netns", "del", host.ns], capture_output=True)  # its veth end goes with it


class _Here(SimulatedHost):
    """A "host" that is only a home of its own on this machine: where simulated hosts cannot be made."""

    def popen(self, args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
        return subprocess.Popen(args, env=env, start_new_session=True, **kwargs)


class HomesHere:
    """The fallback of ``HostNetwork``: separate homes, same machine; the isolation checks skip with ``reason``."""

    service_host = "127.0.0.1"
    service_address = None

    def __init__(self, root: Path, count: int, reason: str):
        self.reason = reason
        self.hosts = [_Here(f"here-{i}", "127.0.0.1", "127.0.0.1", root / f"host-{i}") for i in range(1, count + 1)]
        for host in self.hosts:
            host.home.mkdir(parents=True)

    def __enter__(self) -> HomesHere:
        return self

    def __exit__(self, *exc) -> None:
        pass
