"""The command line: ``python main.py [--host H] [--port P] [--profile mock|local] ...``.

Flags override ``REALTIME_*`` environment variables and ``.env`` (``python main.py --help``).
The app itself is :mod:`server`; ``uvicorn main:app`` works too (``app`` is imported when asked
for), without what this module adds:

- ``--help`` and ``--version`` answer at once: nothing beyond the standard library is imported
  until the arguments are parsed (Pipecat and the model runtimes take seconds).
- Every configuration mistake is one line, ``main.py: error: ...``, and a non-zero exit status,
  never a traceback: 2 for the configuration (a flag, a ``REALTIME_*`` variable, the model
  list, a provider, TLS files), 1 for the machine (the port is taken, a model install is
  broken).
- The port is bound before anything is loaded, and the bound socket is what uvicorn serves on:
  a busy port is reported in a second, not after the models loaded, and no other process can
  take the port in between.
- The log tells the start-up as it goes (a line when starting, a line per model loaded, then
  ``ready: ws://HOST:PORT/v1/realtime (models: ...)``); :mod:`log_setup` has the format.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import math
import os
import socket
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from about import NAME, version

if TYPE_CHECKING:
    from config import Settings

FLAGS = ("host", "port", "profile", "log_level", "ssl_certfile", "ssl_keyfile", "config")
"""The settings that have a flag (``--log-level`` for ``log_level``)."""
CONFIG_ERROR = 2
MACHINE_ERROR = 1
LISTEN_BACKLOG = 2048  # uvicorn's default


def __getattr__(name: str) -> Any:
    """``main.app`` (``uvicorn main:app``): the app of :mod:`server`, imported on first use."""
    if name == "app":
        from server import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (argparse prints its usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(CONFIG_ERROR, f"{self.prog}: error: {message} (--help lists the options)\n")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _Parser(
        prog="main.py",
        description="A server that speaks the OpenAI Realtime API. Each flag overrides its "
        "REALTIME_* environment variable (and .env); the other settings are only variables: "
        "see README 'Configuration'.",
    )
    parser.add_argument("--version", action="version", version=f"{NAME} {version()}")
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8000; 0: any free port)")
    parser.add_argument(
        "--profile",
        choices=["mock", "local"],
        help="models: 'local' (offline, the default) or 'mock' (instant, no weights)",
    )
    parser.add_argument(
        "--log-level", help="critical, error, warning, info (the default), debug or trace"
    )
    # --- TLS (README "TLS"): https:// and wss://, the handshake under the connection guard ---
    parser.add_argument("--ssl-certfile", help="PEM certificate chain: serve https and wss")
    parser.add_argument("--ssl-keyfile", help="PEM private key of --ssl-certfile (unencrypted)")
    parser.add_argument(
        "--config", help="YAML list of the models to serve (README 'Several models')"
    )
    return parser.parse_args(argv)


def fail(message: str, status: int = CONFIG_ERROR) -> NoReturn:
    """End the process with ``message`` as one line on stderr."""
    sys.stderr.write(f"main.py: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(status)


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    started = time.perf_counter()
    args = parse_args(argv)
    flags = {name for name in FLAGS if getattr(args, name) is not None}
    for name in flags:
        os.environ[f"REALTIME_{name.upper()}"] = str(getattr(args, name))
    settings = load_settings(flags)

    import log_redaction
    import log_setup

    log_setup.configure(settings.log_level, stdlib=True)
    log_redaction.install(settings.api_key_list())
    sockets = listen(settings.host, settings.port)
    port = sockets[0].getsockname()[1]

    from loguru import logger

    logger.info(
        f"starting {NAME} {version()} (process {os.getpid()}) on {settings.host} port {port}, "
        + (f"models of {settings.config}" if settings.config else f"profile '{settings.profile}'")
        + ": loading the pipeline libraries..."
    )
    try:
        serve(settings, sockets, port, started)
    except KeyboardInterrupt:
        fail("interrupted while starting", 130)


def load_settings(flags: set[str]) -> Settings:
    """The settings, or exit with the one line naming the flag or variable that is wrong."""
    from pydantic import ValidationError

    from config import get_settings
    from startup_errors import settings_error_line

    get_settings.cache_clear()
    try:
        return get_settings()
    except ValidationError as error:
        fail(settings_error_line(error, flags))


def listen(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on ``host``'s addresses (all of them, like uvicorn would), or exit.

    Binding comes first, before anything is loaded: a busy port is known at once, and the
    sockets are the ones uvicorn serves on, so nothing can take the port while models load.
    Connections made meanwhile wait in the backlog and are served once the server is ready.
    """
    where = f"[{host}]" if ":" in host else host
    try:
        addresses = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as error:
        fail(f"cannot listen on {host!r}: {error.strerror or error}")
    sockets: list[socket.socket] = []
    seen: set[tuple[Any, ...]] = set()
    for family, kind, proto, _, address in addresses:
        if (family, address) in seen:
            continue
        seen.add((family, address))
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(LISTEN_BACKLOG)
        except OSError as error:
            sock.close()
            for other in sockets:
                other.close()
            if error.errno == errno.EADDRINUSE:
                fail(f"port {port} on {host} is already in use", MACHINE_ERROR)
            if error.errno == errno.EACCES:
                fail(f"not allowed to listen on {where}:{port} (a port below 1024?)", MACHINE_ERROR)
            fail(f"cannot listen on {where}:{port}: {error.strerror or error}", MACHINE_ERROR)
        sockets.append(sock)
        if port == 0:
            break  # each address would get a different free port: one is enough
    return sockets


def serve(settings: Settings, sockets: list[socket.socket], port: int, started: float) -> None:
    """Check TLS, build the catalog (loading the models), then serve until stopped."""
    from transport.connection_guard import TLSConfigError, guarded_protocols, tls_server_context

    try:
        tls = tls_server_context(settings.ssl_certfile, settings.ssl_keyfile)
    except TLSConfigError as error:
        fail(str(error))

    import uvicorn
    from loguru import logger

    from server import WS_MAX_SIZE, app, build_catalog
    from startup_errors import StartupError

    try:
        catalog = build_catalog(settings)
    except StartupError as error:
        fail(str(error), error.status)
    app.state.settings = settings
    app.state.catalog = catalog
    http_protocol, ws_protocol = guarded_protocols(settings, tls)  # uvicorn gets no ssl: see there
    app.state.connection_guard = http_protocol.holder.guard()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    scheme = "s" if tls else ""
    names = ", ".join(entry.name for entry in catalog.entries)

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                logger.info(
                    f"ready in {time.perf_counter() - started:.1f} s: "
                    f"ws{scheme}://{host}:{port}/v1/realtime (models: {names}), "
                    f"console at http{scheme}://{host}:{port}/"
                )

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=port,
        log_level=settings.log_level,
        log_config=None,  # log_setup writes uvicorn's lines in the server's format
        # TLS needs asyncio's loop: uvloop reads a new connection before the guard can pause it
        # to start TLS (transport/connection_guard/tls.py).
        loop="asyncio" if tls else "auto",
        # A 15 MiB audio append is ~21 MB of base64: uvicorn's 16 MiB default would cut it off.
        ws_max_size=WS_MAX_SIZE,
        # Request deadline, header limit, connection limits, bounded closes: see the package.
        # The WebSocket protocol also parses reads in fair shares (transport/ws_protocol.py).
        http=http_protocol,
        ws=ws_protocol,
        timeout_keep_alive=settings.keep_alive_timeout_s,
        # The guard aborts connections that have not closed within close_timeout_s of shutdown;
        # this backstop then cancels whatever application task is left.
        timeout_graceful_shutdown=math.ceil(settings.close_timeout_s) + 1,
    )
    server = Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=sockets)
    if not server.started:
        sys.exit(3)  # uvicorn's "startup failure": the lifespan failed, uvicorn logged why


if __name__ == "__main__":
    main()
