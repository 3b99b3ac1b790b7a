"""A small Hub-compatible HTTP server on 127.0.0.1, so push_to_hub and from_pretrained round-trip for real.

It implements the endpoints huggingface_hub's plain-HTTP upload flow and file downloads use (with
`HF_HUB_DISABLE_XET=1`): repo creation, YAML validation, preupload, the LFS batch API with PUT
uploads, NDJSON commits, and `resolve` / `revision` / `tree` for downloads. Repositories live in a
folder; every commit replaces files on `main`. Requests and their Authorization headers are
recorded so tests can check that the token travelled only in headers.
"""

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse


class HubState:
    def __init__(self, root: Path, echo_token_in_errors: bool = False):
        self.root = root
        # A misbehaving server that puts the caller's Authorization header in an error body: the
        # client must still never show the token.
        self.echo_token_in_errors = echo_token_in_errors
        self.commits: dict[str, int] = {}
        self.pending_lfs: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.lock = threading.Lock()

    def repo(self, repo_id: str) -> Path:
        return self.root / repo_id

    def sha(self, repo_id: str) -> str:
        return hashlib.sha1(f"{repo_id}:{self.commits.get(repo_id, 0)}".encode()).hexdigest()


def _handler(state: HubState):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            pass

        def _json(self, status: int, payload, headers: dict | None = None):
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _record(self):
            state.requests.append((self.command, self.path, self.headers.get("Authorization")))

        def _not_found(self, code="EntryNotFound"):
            self.send_response(404)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", "not found")
            self.send_header("Content-Length", "0")
            self.end_headers()

        # ------------------------------------------------------------------ uploads
        def do_POST(self):
            self._record()
            path = unquote(urlparse(self.path).path)
            body = self._body()
            if path == "/api/repos/create":
                if state.echo_token_in_errors:
                    return self._json(500, {"error": f"internal error for {self.headers.get('Authorization')}"})
                request = json.loads(body)
                repo_id = f"{request['organization']}/{request['name']}" if request.get("organization") else request["name"]
                state.repo(repo_id).mkdir(parents=True, exist_ok=True)
                return self._json(200, {"url": f"http://{self.headers['Host']}/{repo_id}", "name": repo_id, "id": repo_id})
            if path == "/api/validate-yaml":
                return self._json(200, {"errors": [], "warnings": []})
            if path.endswith(".git/info/lfs/objects/batch"):
                request = json.loads(body)
                objects = [
                    {"oid": o["oid"], "size": o["size"], "authenticated": True,
                     "actions": {"upload": {"href": f"http://{self.headers['Host']}/lfs-upload/{o['oid']}"}}}
                    for o in request["objects"]
                ]  # fmt: skip
                return self._json(200, {"transfer": "basic", "objects": objects})
            if "/preupload/" in path:
                request = json.loads(body)
                files = [
                    {"path": f["path"], "uploadMode": "lfs" if f["path"].endswith((".safetensors", ".bin")) else "regular",
                     "shouldIgnore": False}
                    for f in request["files"]
                ]  # fmt: skip
                return self._json(200, {"files": files, "commitOid": None})
            if "/commit/" in path:
                repo_id = path.split("/api/models/", 1)[1].split("/commit/")[0]
                return self._commit(repo_id, body)
            return self._not_found("RepoNotFound")

        def do_PUT(self):
            self._record()
            path = urlparse(self.path).path
            if path.startswith("/lfs-upload/"):
                with state.lock:
                    state.pending_lfs[path.rsplit("/", 1)[1]] = self._body()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            return self._not_found()

        def _commit(self, repo_id: str, body: bytes):
            folder = state.repo(repo_id)
            for line in body.decode().splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                key, value = item["key"], item["value"]
                if key == "file":
                    target = folder / value["path"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(base64.b64decode(value["content"]))
                elif key == "lfsFile":
                    target = folder / value["path"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with state.lock:
                        target.write_bytes(state.pending_lfs.pop(value["oid"]))
                elif key in ("deletedFile", "deletedFolder"):
                    target = folder / value["path"]
                    if target.is_file():
                        target.unlink()
            state.commits[repo_id] = state.commits.get(repo_id, 0) + 1
            sha = state.sha(repo_id)
            host = self.headers["Host"]
            return self._json(200, {"commitUrl": f"http://{host}/{repo_id}/commit/{sha}", "commitOid": sha, "pullRequestUrl": None})

        # ------------------------------------------------------------------ downloads
        def _file(self, head: bool):
            self._record()
            path = unquote(urlparse(self.path).path)
            if path.startswith("/api/models/"):
                return self._api(path[len("/api/models/") :])
            if "/resolve/" not in path:
                return self._not_found("RepoNotFound")
            repo_id, rest = path.lstrip("/").split("/resolve/", 1)
            filename = rest.split("/", 1)[1]
            target = state.repo(repo_id) / filename
            if not state.repo(repo_id).is_dir():
                return self._not_found("RepoNotFound")
            if not target.is_file():
                return self._not_found()
            data = target.read_bytes()
            self.send_response(200)
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("X-Repo-Commit", state.sha(repo_id))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if not head:
                self.wfile.write(data)
            return None

        def _api(self, rest: str):
            subfolder = ""
            for marker in ("/revision/", "/tree/"):
                if marker in rest:
                    repo_id, after = rest.split(marker, 1)
                    subfolder = after.split("/", 1)[1] if "/" in after else ""
                    break
            else:
                repo_id = rest.rstrip("/")
            folder = state.repo(repo_id)
            if not folder.is_dir():
                return self._not_found("RepoNotFound")
            files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
            if "/tree/" in rest:
                if subfolder and not (folder / subfolder).is_dir():
                    return self._not_found()
                listed = [f for f in files if not subfolder or f.startswith(subfolder.rstrip("/") + "/")]
                return self._json(200, [{"type": "file", "path": f, "size": (folder / f).stat().st_size, "oid": state.sha(repo_id)} for f in listed])
            return self._json(200, {"id": repo_id, "modelId": repo_id, "sha": state.sha(repo_id), "private": False,
                                    "siblings": [{"rfilename": f} for f in files]})  # fmt: skip

        def do_HEAD(self):
            return self._file(head=True)

        def do_GET(self):
            return self._file(head=False)

    return Handler


class LocalHub:
    """`with LocalHub(tmp_path) as hub:` serves on `hub.endpoint` until the block ends."""

    def __init__(self, root: Path, echo_token_in_errors: bool = False):
        self.state = HubState(Path(root), echo_token_in_errors)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def files(self, repo_id: str) -> list[str]:
        folder = self.state.repo(repo_id)
        return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
