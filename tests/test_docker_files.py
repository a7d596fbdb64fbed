"""The Docker build files: what goes into the context, health check, state on a volume.

No Docker engine runs the tests; these check the files' content against the repository layout.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _ignored(path: str) -> bool:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    parts = path.split("/")
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(parts[0], p)
               or fnmatch.fnmatch(parts[-1], p.removeprefix("**/")) for p in patterns)


def test_dockerignore_keeps_what_the_build_copies_and_drops_the_rest() -> None:
    copied = re.findall(r"^COPY (.+) \S+$", DOCKERFILE, re.MULTILINE)
    sources = [src for line in copied for src in line.split()]
    assert sources, "the Dockerfile copies nothing?"
    for source in sources:
        assert not _ignored(source), f"{source} is copied but .dockerignore drops it"
    for heavy in (".git", ".venv", ".cache", "tests", "benchmarks", "gateway/__pycache__/x.pyc"):
        assert _ignored(heavy), heavy


def test_dockerfile_has_a_healthcheck_on_health_and_a_state_volume() -> None:
    assert re.search(r"^HEALTHCHECK .*\n?.*127\.0\.0\.1:8080/health", DOCKERFILE, re.MULTILINE)
    volume = re.search(r'^VOLUME \["(.+)"\]$', DOCKERFILE, re.MULTILINE)
    assert volume is not None
    # The default ledger path (.cache/usage.sqlite3, relative to WORKDIR /app) is on the volume.
    assert volume.group(1) == "/app/.cache" and "WORKDIR /app" in DOCKERFILE
    numba = re.search(r"NUMBA_CACHE_DIR=(\S+)", DOCKERFILE)
    assert numba is not None and not numba.group(1).startswith(volume.group(1))
