"""Sample the gateway with py-spy under load and summarise the hottest frames."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^(?P<function>[^ ]+) \((?P<file>[^:]+)(?::\d+)?\)$")
# Leaf frames where a thread waits rather than works (py-spy counts some of them as active).
_IDLE = ("EpollSelector.select (", "Condition.wait (", "Queue.get (", "Event.wait (")


def py_spy() -> str | None:
    """The py-spy next to this interpreter (`pip install py-spy`), or on PATH."""
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def record(pid: int, seconds: int, output: Path, output_format: str) -> subprocess.Popen[bytes]:
    """Start sampling `pid` (all threads, no pausing) for `seconds`; the caller waits."""
    tool = py_spy()
    if tool is None:
        raise RuntimeError("py-spy is not installed")
    return subprocess.Popen(
        [tool, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "250",
         "--nonblocking", "--threads", "--format", output_format, "--output", str(output)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


@dataclass(frozen=True)
class Hotspot:
    """A frame and the share of busy samples it appears in (inclusive) or ends in (self)."""

    frame: str
    share: float


def _short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['function']} ({path})"


def hotspots(collapsed: Path, top: int = 15) -> tuple[list[Hotspot], list[Hotspot], int]:
    """Self and inclusive hotspots of a py-spy `raw` (collapsed stacks) file, idle samples out."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    busy = 0
    for line in collapsed.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith(("thread (", "process "))]
        if not frames or any(idle in frames[-1] for idle in _IDLE):
            continue
        count = int(count_text)
        busy += count
        own[_short(frames[-1])] += count
        for name in {_short(f) for f in frames}:
            inclusive[name] += count
    def ranked(counter: Counter[str]) -> list[Hotspot]:
        return [Hotspot(name, n / busy) for name, n in counter.most_common(top)] if busy else []

    return ranked(own), ranked(inclusive), busy
