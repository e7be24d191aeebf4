"""Where each kind of upstream lives, how it wants to be addressed, and which dialect it speaks.

=========  ==============================================  ==========================  =======
provider   URL (``model`` = the upstream model/deployment)  key header                  dialect
=========  ==============================================  ==========================  =======
openai     ``wss://api.openai.com/v1/realtime?model=``      ``Authorization: Bearer``   GA
realtime   any OpenAI-compatible server, ``?model=``        ``Authorization: Bearer``   GA
azure      ``.../openai/v1/realtime?model=<deployment>``    ``api-key``                 GA
azure      ``.../openai/realtime?api-version=..&            ``api-key``                 beta
           deployment=<deployment>`` (the older shape)
glm        ``wss://open.bigmodel.cn/api/paas/v4/realtime``  ``Authorization: Bearer``   glm
=========  ==============================================  ==========================  =======

A transcription session (``?intent=transcription``) passes its intent on. ``dialect`` in the entry
overrides the default (e.g. ``beta`` for an older self-hosted server).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from relay.dialects import BetaUpstreamDialect, Dialect, GADialect, GLMDialect
from relay.upstream import UpstreamTarget

Provider = Literal["openai", "azure", "glm", "realtime"]
DialectName = Literal["ga", "beta", "glm"]

OPENAI_URL = "wss://api.openai.com/v1/realtime"
AZURE_PREVIEW_API_VERSION = "2025-04-01-preview"
"""The api-version of Azure's older (beta-dialect) realtime endpoint when the entry sets none."""


@dataclass(frozen=True)
class RelayTarget:
    """One relay entry's upstream, its secret already read from the environment."""

    provider: Provider
    url: str
    model: str
    api_key: str | None = None
    api_version: str | None = None
    dialect: DialectName | None = None
    connect_timeout_s: float = 10.0
    headers: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # the key stays out of logs
        return f"RelayTarget({self.provider}, {self.url!r}, model={self.model!r})"

    @property
    def dialect_name(self) -> DialectName:
        if self.dialect is not None:
            return self.dialect
        if self.provider == "glm":
            return "glm"
        if self.provider == "azure" and not _is_azure_v1(self.url):
            return "beta"
        return "ga"

    def upstream(self, *, session_type: str = "realtime") -> UpstreamTarget:
        """The URL and headers of one session's connection."""
        headers = dict(self.headers)
        query: dict[str, str] = {}
        if self.provider == "azure":
            if _is_azure_v1(self.url):
                query["model"] = self.model
            else:
                query["api-version"] = self.api_version or AZURE_PREVIEW_API_VERSION
                query["deployment"] = self.model
            if self.api_key:
                headers["api-key"] = self.api_key
        else:
            if self.provider != "glm":
                query["model"] = self.model
            if self.api_key:
                headers["Authorization"] = f"Bearer {self.api_key}"
        if session_type == "transcription" and self.dialect_name == "ga":
            query["intent"] = "transcription"
            query.pop("model", None)
        if self.dialect_name == "beta" and self.provider != "azure":
            headers["OpenAI-Beta"] = "realtime=v1"
        return UpstreamTarget(
            _with_query(self.url, query), headers, connect_timeout_s=self.connect_timeout_s
        )

    def new_dialect(self) -> Dialect:
        """A fresh dialect object for one session."""
        name = self.dialect_name
        if name == "beta":
            return BetaUpstreamDialect()
        if name == "glm":
            return GLMDialect(model=self.model)
        return GADialect()


def _is_azure_v1(url: str) -> bool:
    return "/openai/v1/realtime" in urlsplit(url).path


def _with_query(url: str, extra: dict[str, str]) -> str:
    """The URL with ``extra`` added to its query (the URL's own parameters win)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    merged = {**extra, **query}
    return urlunsplit(parts._replace(query=urlencode(merged)))
