"""``REALTIME_ICE_SERVERS``: the STUN/TURN servers a call's peer connection gathers candidates with.

Without any, the server offers its host candidates (every interface's address; aioice leaves out
127.0.0.1, and the loopback interface is still used for traffic to the machine's own addresses),
which is enough on one machine and on a LAN. Behind NAT, add a STUN server; when the client's
network blocks UDP to the server, a TURN server.

Two spellings, so the common case stays one line:

- comma-separated URLs: ``stun:stun.l.google.com:19302,turn:turn.example.com:3478``
  (no credentials, so TURN servers must accept anonymous use);
- a JSON list of ``RTCIceServer``-like objects, as a browser's ``RTCPeerConnection`` takes them:
  ``[{"urls": "stun:stun.example.com:3478"}, {"urls": ["turn:turn.example.com:3478?transport=tcp"],
  "username": "u", "credential": "p"}]``.

aiortc uses the first STUN and the first TURN URL it is given (it gathers through one of each).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiortc import RTCIceServer
from aiortc.rtcicetransport import parse_stun_turn_uri

SCHEMES = ("stun:", "stuns:", "turn:", "turns:")


@dataclass(frozen=True)
class IceServer:
    """One validated entry of ``REALTIME_ICE_SERVERS``."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def to_rtc(self) -> RTCIceServer:
        return RTCIceServer(
            urls=list(self.urls), username=self.username, credential=self.credential
        )


def parse_ice_servers(value: str) -> list[IceServer]:
    """Parse the setting (either spelling; empty: none).

    Raises:
        ValueError: with what is wrong, so a bad setting stops the server at start-up.
    """
    value = value.strip()
    if not value:
        return []
    if value.startswith("["):
        try:
            entries = json.loads(value)
        except ValueError as error:
            raise ValueError(f"REALTIME_ICE_SERVERS is not valid JSON: {error}") from None
        if not isinstance(entries, list):
            raise ValueError("REALTIME_ICE_SERVERS must be a JSON list")
        return [_entry(entry, index) for index, entry in enumerate(entries)]
    urls = [url.strip() for url in value.split(",") if url.strip()]
    return [IceServer((_url(url),)) for url in urls]


def rtc_ice_servers(value: str) -> list[RTCIceServer]:
    """The setting as aiortc's ``RTCIceServer`` objects."""
    return [server.to_rtc() for server in parse_ice_servers(value)]


def _entry(entry: Any, index: int) -> IceServer:
    where = f"REALTIME_ICE_SERVERS[{index}]"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be an object with 'urls'")
    unknown = set(entry) - {"urls", "username", "credential", "credentialType"}
    if unknown:
        raise ValueError(f"{where} has unknown fields {sorted(unknown)}")
    urls = entry.get("urls")
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
        raise ValueError(f"{where}.urls must be a URL or a non-empty list of URLs")
    username, credential = entry.get("username"), entry.get("credential")
    for name, field in (("username", username), ("credential", credential)):
        if field is not None and not isinstance(field, str):
            raise ValueError(f"{where}.{name} must be a string")
    return IceServer(tuple(_url(url) for url in urls), username, credential)


def _url(url: str) -> str:
    if not url.startswith(SCHEMES):
        raise ValueError(f"ICE server URL {url!r} must start with stun:, stuns:, turn: or turns:")
    try:
        parse_stun_turn_uri(url)
    except ValueError:
        raise ValueError(f"ICE server URL {url!r} is malformed") from None
    return url
