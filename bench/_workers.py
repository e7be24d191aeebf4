"""Serve ``main:app`` under uvicorn with several worker processes (``concurrency.py --workers``).

Called as ``python bench/_workers.py K python main.py --port P --profile X [...]``: the arguments
after ``K`` are the usual server command line (so :class:`_common.ServerProcess` can wrap it);
``--port`` and ``--profile`` are taken from it. The app is imported from the working directory
(the checkout the server runs from: this one, or a ``--baseline`` worktree). Every worker is a full
server process with its own models, session limit and in-memory state (sessions, minted client
secrets).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    """Parse the wrapped command line and run uvicorn with ``K`` workers."""
    workers = int(sys.argv[1])
    args = sys.argv[2:]
    port = int(args[args.index("--port") + 1])
    os.environ["REALTIME_PROFILE"] = args[args.index("--profile") + 1]
    os.environ["REALTIME_PORT"] = str(port)
    root = Path.cwd()  # _common.ServerProcess starts this in the server's checkout
    sys.path.insert(0, str(root))
    import uvicorn

    level = os.environ.get("REALTIME_LOG_LEVEL", "warning").lower()
    uvicorn.run("main:app", host="127.0.0.1", port=port, workers=workers, log_level=level)


if __name__ == "__main__":
    main()
