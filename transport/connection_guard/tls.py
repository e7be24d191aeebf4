"""TLS inside the guard: ``https://`` and ``wss://`` with the handshake under the connection limits.

Given ``ssl=``, uvicorn has the event loop (asyncio or uvloop) run the TLS handshake before the
protocol hears of the connection, with a 60 s handshake timeout of its own: a client that connects
and sends nothing would be neither counted by the guard nor bounded by the request deadline, and
a few thousand of them would exhaust the open files. So ``main.py`` gives uvicorn no ``ssl``: the
guarded HTTP protocol admits the plain connection first, like any other, then upgrades it with
``loop.start_tls`` (:func:`start_tls`), the handshake counting against the request deadline.
uvicorn sees a TLS transport from then on, so its scopes say ``https`` and ``wss``.

This needs asyncio's event loop (``main.py`` picks it when TLS is on): the protocol pauses reading
in ``connection_made`` so the handshake's first bytes wait for ``start_tls``, and uvloop starts
reading after ``connection_made`` regardless (such a connection is closed, with a warning).

:func:`tls_server_context` turns the configured certificate and key into an ``ssl.SSLContext``, or a
:class:`TLSConfigError` that ``main.py`` prints as a one-line error.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl


class TLSConfigError(ValueError):
    """The certificate or key settings cannot be used; the message says why, in one line."""


def tls_server_context(certfile: str | None, keyfile: str | None) -> ssl.SSLContext | None:
    """The server's TLS context for this certificate chain and key, or None with neither.

    Both are PEM files; the key must not be encrypted (nothing could type its passphrase).
    """
    if not certfile and not keyfile:
        return None
    if not certfile or not keyfile:
        given, missing = ("certificate", "key") if certfile else ("key", "certificate")
        raise TLSConfigError(
            f"a TLS {given} is set but no {missing}: set both --ssl-certfile "
            "(REALTIME_SSL_CERTFILE) and --ssl-keyfile (REALTIME_SSL_KEYFILE), or neither"
        )
    for what, path in (("certificate", certfile), ("key", keyfile)):
        try:
            with open(path, "rb") as file:
                file.read(1)
        except OSError as error:
            raise TLSConfigError(
                f"cannot read the TLS {what} file {path!r}: {error.strerror or error}"
            ) from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certfile, keyfile, password=_no_passphrase)
    except _EncryptedKey:
        raise TLSConfigError(
            f"the TLS key {keyfile!r} is encrypted: give an unencrypted key (e.g. "
            f"openssl pkey -in {os.path.basename(keyfile)} -out plain-key.pem)"
        ) from None
    except ssl.SSLError as error:
        if error.reason == "KEY_VALUES_MISMATCH":
            raise TLSConfigError(
                f"the TLS key {keyfile!r} does not belong to the certificate {certfile!r}"
            ) from None
        raise TLSConfigError(
            f"cannot load the TLS certificate {certfile!r} with the key {keyfile!r}: both must be "
            f"PEM files, a certificate (chain) and its private key (OpenSSL: {error})"
        ) from None
    return context


class _EncryptedKey(Exception):
    pass


def _no_passphrase() -> str:
    raise _EncryptedKey


class _Handshaking(asyncio.Protocol):
    """The TLS transport's protocol until the HTTP protocol takes over. The loop may deliver the
    first request (sent with the handshake's last message) or the connection's loss before
    ``start_tls`` returns: both are kept for the HTTP protocol."""

    def __init__(self) -> None:
        self.early = bytearray()
        self.lost = False

    def data_received(self, data: bytes) -> None:
        self.early += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


async def start_tls(
    loop: asyncio.AbstractEventLoop,
    transport: asyncio.Transport,
    context: ssl.SSLContext,
    timeout_s: float,
) -> tuple[asyncio.Transport, bytes] | None:
    """Run the server side of a TLS handshake on ``transport``, for at most ``timeout_s``.

    Returns the TLS transport (to ``set_protocol`` on) and the bytes already received through it,
    or None if the connection was lost meanwhile. A failed or timed-out handshake raises (the
    loop has closed the transport).
    """
    protocol = _Handshaking()
    tls = await loop.start_tls(
        transport, protocol, context, server_side=True, ssl_handshake_timeout=timeout_s
    )
    if tls is None or protocol.lost:
        return None
    return tls, bytes(protocol.early)


class HttpsBanner(logging.Filter):
    """uvicorn announces ``Uvicorn running on http://...`` as it is given no ``ssl``: say https."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        running = str(record.msg).startswith("Uvicorn running on")
        if running and isinstance(args, tuple) and args and args[0] == "http":
            record.args = ("https", *args[1:])
        return True


def announce_https() -> None:
    """Make uvicorn's startup line show the ``https`` scheme (idempotent)."""
    uvicorn_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, HttpsBanner) for f in uvicorn_log.filters):
        uvicorn_log.addFilter(HttpsBanner())
