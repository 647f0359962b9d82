"""A CMS on loopback for publish tests: accepts ``PUT /pieces/<id>`` as an upsert, honours
``Idempotency-Key`` (a key it has seen gets the first answer again, no new version), records
every request, and injects failures from a script: a status, or a dropped connection before or
after the piece is stored."""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler
from typing import Any

from openai_server import QuietServer


class CMS:
    def __init__(self):
        self.requests: list[dict[str, Any]] = []  # every PUT: id, key, headers
        self.versions: dict[str, list[dict]] = {}  # id -> the versions stored, in order
        self.keys: set[str] = set()
        self.script: deque[dict[str, Any]] = deque()
        self.fail_from: int | None = None  # every request from this index on answers 503
        self.lock = threading.Lock()
        cms = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_PUT(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                piece_id = self.path.rsplit("/", 1)[1]
                key = self.headers.get("Idempotency-Key")
                with cms.lock:
                    n = len(cms.requests)
                    cms.requests.append({"id": piece_id, "key": key, "headers": dict(self.headers)})
                    action = cms.script.popleft() if cms.script else {}
                    if cms.fail_from is not None and n >= cms.fail_from:
                        action = {"status": 503}
                if action.get("drop") == "before":
                    self._drop()
                    return
                if action.get("status"):
                    self._send(action["status"], {"error": "scripted"}, action.get("headers"))
                    return
                with cms.lock:
                    if key not in cms.keys:  # a repeated key is the same write: stored once
                        cms.keys.add(key)
                        cms.versions.setdefault(piece_id, []).append(json.loads(body))
                if action.get("drop") == "after":  # stored, but the client never hears so
                    self._drop()
                    return
                self._send(200, {"id": piece_id, "stored": True})

            def _drop(self):
                self.connection.shutdown(2)
                self.close_connection = True

            def _send(self, status, payload, headers=None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/pieces"

    def __enter__(self) -> CMS:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
