"""Run the instant BackgroundErase sandbox alone, quietly (`python -m ... upstream PORT`).

`bg-gateway sandbox --instant` would also do, but it starts all three vendors and logs every
request; the benchmark wants the upstream's cost to be only what a fast vendor costs.
"""

from __future__ import annotations

import sys

import uvicorn

from sandbox.backgrounderase import create_backgrounderase_app
from sandbox.options import SandboxOptions


def main(argv: list[str]) -> None:
    """Serve on 127.0.0.1:`argv[0]` until killed."""
    port = int(argv[0])
    app = create_backgrounderase_app(SandboxOptions(instant=True, log_level="warning"))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main(sys.argv[1:])
