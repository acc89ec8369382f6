"""A stand-in for the GitLab REST API (v4) on loopback that holds state: merge requests,
their pipelines and jobs, job artifacts, merge-request notes (with their authors) and
repository archives. Only the calls the template's jobs make; anything else is a 404 the
test will see.

`variables_for` stands in for how GitLab hands CI/CD variables to a job: a protected
variable only to pipelines of protected branches."""

from __future__ import annotations

import io
import json
import re
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

PROJECT = "55"
TOKEN = "glpat-fake"
BOT = {"id": 77, "username": "project_55_bot"}  # the user TOKEN is (a project access token)


@dataclass(frozen=True)
class Variable:
    value: str
    protected: bool = True


def variables_for(
    variables: dict[str, Variable], *, ref: str, protected_branches: frozenset[str]
) -> dict[str, str]:
    """The CI/CD variables a job of a pipeline for `ref` receives."""
    return {
        key: v.value for key, v in variables.items() if not v.protected or ref in protected_branches
    }


@dataclass
class GitLab:
    merge_requests: list[dict[str, Any]] = field(default_factory=list)  # iid, state, sha
    pipelines: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # by MR iid
    jobs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # by pipeline id
    artifacts: dict[tuple[int, str], bytes] = field(default_factory=dict)  # (job id, path)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # by MR iid
    opened: list[dict[str, Any]] = field(default_factory=list)  # MRs the adopt job opens
    project_jobs: list[dict[str, Any]] = field(default_factory=list)  # newest first
    archives: dict[str, bytes] = field(default_factory=dict)  # tar.gz of manifests/ by sha
    url: str = ""

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        if path == "/api/v4/user":
            return BOT
        base = f"/api/v4/projects/{PROJECT}"
        assert path.startswith(base), path
        route = path[len(base) :]
        if route == "/merge_requests" and method == "GET" and "target_branch" in query:
            target, state = query["target_branch"][0], query["state"][0]
            return [
                mr
                for mr in self.merge_requests + self.opened
                if mr.get("target_branch") == target and mr["state"] == state
            ]
        if route == "/merge_requests" and method == "GET":
            branch = query["source_branch"][0]
            return [mr for mr in self.opened if mr["source_branch"] == branch]
        if route == "/merge_requests" and method == "POST":
            mr = {"iid": 30 + len(self.opened), "state": "opened", **body}
            self.opened.append(mr)
            return mr
        if (m := re.fullmatch(r"/merge_requests/(\d+)", route)) and method == "GET":
            (mr,) = [mr for mr in self.merge_requests + self.opened if mr["iid"] == int(m.group(1))]
            return mr
        if (m := re.fullmatch(r"/merge_requests/(\d+)", route)) and method == "PUT":
            (mr,) = [mr for mr in self.opened if mr["iid"] == int(m.group(1))]
            mr.update(body)
            return mr
        if m := re.fullmatch(r"/repository/commits/(\w+)/merge_requests", route):
            return [mr for mr in self.merge_requests if m.group(1) in mr["commits"]]
        if m := re.fullmatch(r"/merge_requests/(\d+)/pipelines", route):
            return sorted(self.pipelines.get(int(m.group(1)), []), key=lambda p: -p["id"])
        if m := re.fullmatch(r"/pipelines/(\d+)/jobs", route):
            jobs = self.jobs.get(int(m.group(1)), [])
            scopes = query.get("scope[]", [])
            return [j for j in jobs if not scopes or j["status"] in scopes]
        if route == "/jobs":
            scopes = query.get("scope[]", [])
            jobs = [j for j in self.project_jobs if not scopes or j["status"] in scopes]
            page, per_page = int(query["page"][0]), int(query["per_page"][0])
            return jobs[(page - 1) * per_page : page * per_page]
        if m := re.fullmatch(r"/jobs/(\d+)/artifacts/(.+)", route):
            return self.artifacts[(int(m.group(1)), m.group(2))]
        if route == "/repository/archive.tar.gz":
            assert query["path"] == ["manifests"], query
            return self.archives[query["sha"][0]]
        if m := re.fullmatch(r"/merge_requests/(\d+)/notes", route):
            notes = self.notes.setdefault(int(m.group(1)), [])
            if method == "POST":
                note = {"id": 900 + len(notes), "body": body["body"], "author": BOT}
                notes.append(note)
                return note
            page = int(query.get("page", ["1"])[0])
            per_page = int(query.get("per_page", ["20"])[0])
            return notes[(page - 1) * per_page : page * per_page]
        if m := re.fullmatch(r"/merge_requests/(\d+)/notes/(\d+)", route):
            (note,) = [n for n in self.notes[int(m.group(1))] if n["id"] == int(m.group(2))]
            if note.get("author") != BOT:  # GitLab: 403, only the author edits a note
                raise PermissionError(route)
            note["body"] = body["body"]
            return note
        raise KeyError(route)


def archive_of(folder: Path, sha: str, *, link: tuple[str, str] | None = None) -> bytes:
    """`GET /repository/archive.tar.gz?sha=SHA&path=manifests` of a project whose
    manifests/ is `folder`: one top folder named after the project and sha, as GitLab's;
    `link` adds a symbolic link (name inside manifests/, target)."""
    top = f"ads-access-{sha}-manifests"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=f"{top}/manifests")
        if link is not None:
            info = tarfile.TarInfo(f"{top}/manifests/{link[0]}")
            info.type, info.linkname = tarfile.SYMTYPE, link[1]
            tar.addfile(info)
    return buffer.getvalue()


@contextmanager
def serve(gitlab: GitLab) -> Iterator[GitLab]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            if self.headers.get("PRIVATE-TOKEN") != TOKEN:
                self._send(401, b'{"message": "401 Unauthorized"}')
                return
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            try:
                result = gitlab.handle(self.command, parts.path, parse_qs(parts.query), body)
            except KeyError:
                self._send(404, b'{"message": "404 Not Found"}')
                return
            except PermissionError:
                self._send(403, b'{"message": "403 Forbidden"}')
                return
            self._send(200, result if isinstance(result, bytes) else json.dumps(result).encode())

        def _send(self, status: int, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    gitlab.url = f"http://127.0.0.1:{server.server_address[1]}/api/v4"
    try:
        yield gitlab
    finally:
        server.shutdown()
        server.server_close()
