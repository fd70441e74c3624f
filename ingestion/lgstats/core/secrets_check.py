"""Refuse to start a container with weak secrets: the image's entrypoint runs this before any Airflow command.

Every secret of the docker-compose deployment must be set, must not be a placeholder (``change-me``,
``admin``, ``password``…) and must be long enough; the Fernet key must be a real Fernet key. A container
with a weak secret exits at once, naming the variable and how to make a good one. ``--exec CMD…`` then
replaces this process with the command (the image's entrypoint: ``… --exec airflow``).
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import sys

# variable → minimum length; each must be present in the container's environment
REQUIRED = {
    "AIRFLOW__API_AUTH__JWT_SECRET": 32,
    "AIRFLOW_DB_PASSWORD": 16,
    "REDIS_PASSWORD": 16,
    "LGSTATS_PIPELINE_PASSWORD": 16,
}
# checked when the container has them (the init container alone holds the warehouse admin's password)
OPTIONAL = {"WAREHOUSE_ADMIN_PASSWORD": 16, "LGSTATS_BI_PASSWORD": 16, "LGSTATS_ANALYST_PASSWORD": 16,
            "LGSTATS_STORE_SECRET": 16}
PLACEHOLDERS = ("change-me", "changeme", "change_me", "password", "secret", "admin", "airflow", "example",
                "lgstats", "postgres", "redis", "default", "xxx", "todo")
MAKE = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


MIN_ENTROPY_BITS = 64  # of the characters' own distribution (Shannon), times the length
MIN_DISTINCT = 8


def weakness(value: str) -> str | None:
    """Why a long secret is still weak (review N13), or None: too few distinct characters, a repeated unit,
    a run of consecutive characters, a placeholder word inside, or too little entropy for its length."""
    lowered = value.lower()
    if len(set(value)) < MIN_DISTINCT:
        return f"it uses only {len(set(value))} distinct characters"
    for size in range(1, len(value) // 2 + 1):
        if len(value) % size == 0 and value[:size] * (len(value) // size) == value:
            return f"it repeats {size} characters"
    steps = sum(abs(ord(a) - ord(b)) == 1 for a, b in zip(value, value[1:], strict=False))
    if steps > len(value) // 2:
        return "it is mostly a run of consecutive characters (abc…, 123…)"
    words = [w for w in PLACEHOLDERS if len(w) >= 5 and w in lowered]
    if words:
        return f"it contains the word {words[0]!r}"
    counts = [value.count(c) / len(value) for c in set(value)]
    bits = -len(value) * sum(p * math.log2(p) for p in counts)
    if bits < MIN_ENTROPY_BITS:
        return f"it carries about {bits:.0f} bits of entropy; at least {MIN_ENTROPY_BITS} are required"
    return None


def problems(env: dict[str, str]) -> list[str]:
    found = []
    checked = {**REQUIRED, **{k: v for k, v in OPTIONAL.items() if k in env}}
    for name, minimum in checked.items():
        value = env.get(name, "")
        if not value:
            found.append(f"{name} is empty or unset")
        elif value.strip().lower() in PLACEHOLDERS or value.strip().lower().startswith("change"):
            found.append(f"{name} is a placeholder ({value!r})")
        elif len(value) < minimum:
            found.append(f"{name} is {len(value)} characters long; at least {minimum} are required")
        elif why := weakness(value):
            found.append(f"{name} is weak: {why}")
    by_value: dict[str, list[str]] = {}
    for name in [*checked, "AIRFLOW__CORE__FERNET_KEY"]:
        if env.get(name):
            by_value.setdefault(env[name], []).append(name)
    for names in by_value.values():
        if len(names) > 1:  # one leaked secret must not open two doors
            found.append(f"{' and '.join(names)} are the same secret; give each its own")
    fernet = env.get("AIRFLOW__CORE__FERNET_KEY", "")
    if not fernet:
        found.append("AIRFLOW__CORE__FERNET_KEY is empty: connections and variables would be stored unencrypted")
    else:
        try:
            if len(base64.urlsafe_b64decode(fernet.encode())) != 32:
                raise ValueError
        except (binascii.Error, ValueError):
            found.append("AIRFLOW__CORE__FERNET_KEY is not a Fernet key (32 url-safe base64-encoded bytes)")
    return found


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    found = problems(dict(os.environ))
    if found:
        print("lgstats: refusing to start with weak secrets:", file=sys.stderr)
        for p in found:
            print(f"  - {p}", file=sys.stderr)
        print(f"Fix: set them in .env (see .env.example). A strong value: {MAKE}; a Fernet key: python -c "
              "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'", file=sys.stderr)
        return 78  # EX_CONFIG
    if argv[:1] == ["--exec"] and len(argv) > 1:
        os.execvp(argv[1], argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
