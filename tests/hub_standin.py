"""A stand-in Hugging Face Hub on loopback: what huggingface_hub asks of a public repo to download.

Tests point ``HF_ENDPOINT`` (or ``endpoint=``) at it, so the model download path runs for real
without reaching any real hub. It answers, as the Hub does (huggingface_hub 2.4's
``file_download.py``, ``_snapshot_download.py``, ``hf_api.py`` and ``utils/_http.py`` read what
follows):

- ``GET /api/models/{repo}[/revision/{revision}]`` (``model_info``, ``repo_info``): ``{"id",
  "sha", "siblings": [{"rfilename"}]}``;
- ``GET /api/models/{repo}/tree/{revision}[/{path}]?recursive=`` (``list_repo_tree``, which
  ``snapshot_download`` uses): ``[{"type": "file", "path", "size", "oid", "lfs": {"oid",
  "size", "pointerSize"}}]``, one page (no ``Link`` header);
- ``HEAD``/``GET /{repo}/resolve/{revision}/{path}``: a small (git) file is answered here, ``200``
  with ``ETag: "<git blob sha1>"``, ``Content-Length`` and ``X-Repo-Commit``; an LFS file (by
  suffix) is a ``302`` to a second server on another port (a "CDN", another origin, so
  huggingface_hub reads the metadata from the redirect itself) with ``X-Linked-Etag:
  "<sha256>"``, ``X-Linked-Size``, ``X-Repo-Commit`` and ``Location``; the CDN serves
  ``/blobs/<sha256>``;
- errors as ``hf_raise_for_status`` classifies them: ``404`` with ``X-Error-Code: RepoNotFound``,
  ``RevisionNotFound`` or ``EntryNotFound`` (the last with ``X-Repo-Commit``).

Each repo has one commit; its revisions are ``main`` and that commit's hash. Every request is
recorded in :attr:`StandInHub.requests` as ``(method, path)``. ``corrupt`` names LFS files the
CDN serves with their bytes altered (same size), to test the content check.

    hub = StandInHub({"org/voice": {"v.onnx": Path(...), "v.onnx.json": b"{}"}})
    endpoint = hub.start()   # http://127.0.0.1:PORT
    ...
    hub.stop()
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".bin", ".onnx", ".gguf")
_CHUNK = 1 << 20


@dataclass
class _File:
    path: str
    source: Path | bytes
    size: int
    git_oid: str
    sha256: str
    lfs: bool

    def chunks(self, corrupt: bool = False) -> list[bytes] | Path:
        if isinstance(self.source, bytes):
            data = self.source
            if corrupt and data:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            return [data]
        assert not corrupt, "corrupt files are given as bytes"
        return self.source


def _git_oid(data_size: int, chunks: list[bytes] | Path) -> str:
    digest = hashlib.sha1(f"blob {data_size}\0".encode())
    _feed(digest, chunks)
    return digest.hexdigest()


def _feed(digest: hashlib._Hash, chunks: list[bytes] | Path) -> None:
    if isinstance(chunks, Path):
        with chunks.open("rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    else:
        for chunk in chunks:
            digest.update(chunk)


@dataclass
class _Repo:
    repo_id: str
    commit: str
    files: dict[str, _File] = field(default_factory=dict)

    def has_revision(self, revision: str) -> bool:
        return revision in ("main", self.commit)


class StandInHub:
    """The stand-in hub: ``repos`` maps ``owner/name`` to ``{path in repo: Path or bytes}``."""

    def __init__(
        self, repos: dict[str, dict[str, Path | bytes]], *, corrupt: tuple[str, ...] = ()
    ) -> None:
        self.repos: dict[str, _Repo] = {}
        for number, (repo_id, files) in enumerate(sorted(repos.items()), 1):
            commit = hashlib.sha1(f"{repo_id}#{number}".encode()).hexdigest()
            repo = _Repo(repo_id, commit)
            for path, source in files.items():
                chunks: list[bytes] | Path = [source] if isinstance(source, bytes) else source
                size = len(source) if isinstance(source, bytes) else source.stat().st_size
                sha256 = hashlib.sha256()
                _feed(sha256, chunks)
                repo.files[path] = _File(
                    path,
                    source,
                    size,
                    _git_oid(size, chunks),
                    sha256.hexdigest(),
                    path.endswith(LFS_SUFFIXES),
                )
            self.repos[repo_id] = repo
        self.corrupt = set(corrupt)
        self.requests: list[tuple[str, str]] = []
        self._servers: list[ThreadingHTTPServer] = []
        self.endpoint = ""
        self.cdn = ""

    # --- running ----------------------------------------------------------------------------

    def start(self) -> str:
        """Serve the hub and its CDN on two loopback ports; returns the hub's endpoint."""
        hub = self._serve(self._hub_request)
        cdn = self._serve(self._cdn_request)
        self.endpoint = f"http://127.0.0.1:{hub.server_address[1]}"
        self.cdn = f"http://127.0.0.1:{cdn.server_address[1]}"
        return self.endpoint

    def stop(self) -> None:
        """Stop both servers (connections are not kept alive: nothing answers afterwards)."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def _serve(self, handle: object) -> ThreadingHTTPServer:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.0: one request per connection, so a stopped stand-in answers nothing.
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:
                standin._record("GET", self.path)
                handle(self, body=True)  # type: ignore[operator]

            def do_HEAD(self) -> None:
                standin._record("HEAD", self.path)
                handle(self, body=False)  # type: ignore[operator]

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._servers.append(server)
        return server

    def _record(self, method: str, path: str) -> None:
        self.requests.append((method, urlsplit(path).path))

    def count(self, method: str, fragment: str) -> int:
        """Requests of ``method`` whose path contains ``fragment``."""
        return sum(1 for m, path in self.requests if m == method and fragment in path)

    # --- answers ------------------------------------------------------------------------------

    @staticmethod
    def _reply(
        handler: BaseHTTPRequestHandler,
        status: int,
        headers: dict[str, str],
        body: bytes | list[bytes] | Path = b"",
        *,
        send_body: bool = True,
        length: int | None = None,
    ) -> None:
        handler.send_response(status)
        if length is None:
            length = len(body) if isinstance(body, bytes) else None
        for name, value in headers.items():
            handler.send_header(name, value)
        if length is not None:
            handler.send_header("Content-Length", str(length))
        handler.end_headers()
        if not send_body:
            return
        if isinstance(body, bytes):
            handler.wfile.write(body)
        elif isinstance(body, Path):
            with body.open("rb") as f:
                while chunk := f.read(_CHUNK):
                    handler.wfile.write(chunk)
        else:
            for chunk in body:
                handler.wfile.write(chunk)

    def _error(
        self, handler: BaseHTTPRequestHandler, code: str, body: bool, commit: str | None = None
    ) -> None:
        headers = {"X-Error-Code": code, "X-Error-Message": code, "Content-Type": "text/plain"}
        if commit:
            headers["X-Repo-Commit"] = commit
        self._reply(handler, 404, headers, code.encode(), send_body=body)

    def _json(self, handler: BaseHTTPRequestHandler, data: object, body: bool) -> None:
        payload = json.dumps(data).encode()
        self._reply(handler, 200, {"Content-Type": "application/json"}, payload, send_body=body)

    def _find_repo(self, parts: list[str]) -> tuple[_Repo | None, list[str]]:
        if len(parts) < 2:
            return None, parts
        return self.repos.get(f"{parts[0]}/{parts[1]}"), parts[2:]

    def _hub_request(self, handler: BaseHTTPRequestHandler, *, body: bool) -> None:
        parts = [unquote(part) for part in urlsplit(handler.path).path.strip("/").split("/")]
        if parts[:2] == ["api", "models"]:
            repo, rest = self._find_repo(parts[2:])
            if repo is None:
                self._error(handler, "RepoNotFound", body)
            elif not rest:  # model_info without a revision: main
                self._json(handler, self._info(repo), body)
            elif len(rest) >= 2 and rest[0] in ("revision", "tree"):
                if not repo.has_revision(rest[1]):
                    self._error(handler, "RevisionNotFound", body)
                elif rest[0] == "revision":
                    self._json(handler, self._info(repo), body)
                else:
                    prefix = "/".join(rest[2:])
                    self._json(handler, self._tree(repo, prefix), body)
            else:
                self._reply(handler, 400, {}, b"unsupported", send_body=body)
            return
        repo, rest = self._find_repo(parts)
        if repo is None or len(rest) < 3 or rest[0] != "resolve":
            self._error(handler, "RepoNotFound", body)
            return
        revision, path = rest[1], "/".join(rest[2:])
        if not repo.has_revision(revision):
            self._error(handler, "RevisionNotFound", body)
            return
        file = repo.files.get(path)
        if file is None:
            self._error(handler, "EntryNotFound", body, commit=repo.commit)
            return
        if file.lfs:
            headers = {
                "X-Repo-Commit": repo.commit,
                "X-Linked-Etag": f'"{file.sha256}"',
                "X-Linked-Size": str(file.size),
                "ETag": f'"{file.git_oid}"',
                "Location": f"{self.cdn}/blobs/{file.sha256}",
            }
            self._reply(handler, 302, headers, b"", send_body=body)
            return
        headers = {"X-Repo-Commit": repo.commit, "ETag": f'"{file.git_oid}"'}
        self._reply(handler, 200, headers, file.chunks(), send_body=body, length=file.size)

    def _cdn_request(self, handler: BaseHTTPRequestHandler, *, body: bool) -> None:
        sha256 = urlsplit(handler.path).path.rsplit("/", 1)[-1]
        for repo in self.repos.values():
            for file in repo.files.values():
                if file.lfs and file.sha256 == sha256:
                    chunks = file.chunks(corrupt=file.path in self.corrupt)
                    headers = {"Content-Type": "application/octet-stream"}
                    self._reply(handler, 200, headers, chunks, send_body=body, length=file.size)
                    return
        self._reply(handler, 404, {}, b"no such blob", send_body=body)

    @staticmethod
    def _info(repo: _Repo) -> dict[str, object]:
        return {
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "sha": repo.commit,
            "private": False,
            "siblings": [{"rfilename": path} for path in sorted(repo.files)],
        }

    @staticmethod
    def _tree(repo: _Repo, prefix: str) -> list[dict[str, object]]:
        entries: list[dict[str, object]] = []
        for path, file in sorted(repo.files.items()):
            if prefix and not path.startswith(prefix.rstrip("/") + "/"):
                continue
            entry: dict[str, object] = {
                "type": "file",
                "path": path,
                "size": file.size,
                "oid": file.git_oid,
            }
            if file.lfs:
                entry["lfs"] = {"oid": file.sha256, "size": file.size, "pointerSize": 134}
            entries.append(entry)
        return entries
