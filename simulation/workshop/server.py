"""Start the workshop page: the engine with its worker processes, then Solara's server.

Solara runs in this process (``solara run simulation.workshop.app`` in production mode, without
opening a browser, without telemetry and without asking the package index for a newer version:
the page makes no request beyond this computer), listening on 127.0.0.1 unless a host is given.
The baseline of the default horizon is computed in the background while the server starts, so
the first visitor waits less.
"""

from __future__ import annotations

import os
import threading

from simulation.ensemble import make_executor
from simulation.workshop.engine import Engine, install

# read by solara's settings when it is imported: no telemetry from a workshop laptop
QUIET = {"SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}


LOCALHOST = "127.0.0.1"  # the page serves this computer only unless told otherwise (sozialraum workshop --host)


def serve(engine: Engine, host: str = LOCALHOST, port: int = 8765, workers: int = 2, on_ready=None) -> None:
    """Serve the page for ``engine`` on ``host``:``port`` until interrupted."""
    os.environ.update(QUIET)
    from solara.__main__ import run

    from simulation.workshop.app import DEFAULT_RUNS, DEFAULT_YEARS

    with make_executor(workers) as executor:
        engine.executor, engine.workers = executor, workers
        install(engine)
        threading.Thread(target=engine.context, args=(DEFAULT_YEARS, DEFAULT_RUNS), daemon=True, name="warm-baseline").start()
        if on_ready is not None:
            on_ready()
        args = ["simulation.workshop.app", "--host", host, "--port", str(port), "--production", "--no-open", "--no-check-version"]
        run.main([*args, "--log-level", "warning", "--no-access-log"], standalone_mode=False)
