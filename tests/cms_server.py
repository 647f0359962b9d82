"""A CMS on loopback for publish tests: accepts ``PUT /pieces/<id>`` as an upsert, honours
``Idempotency-Key`` (a key it has seen gets the first answer again, no new version), records
every request (path, headers, body), and injects failures from a script: a status, or a dropped connection before or
after the piece is stored."""

from __future__ import annotations

import json
import threading
from collections import deque
from typing import Any

from openai_server import JSONHandler, Loopback


class CMS(Loopback):
    def __init__(self):
        self.requests: list[dict[str, Any]] = []  # every PUT: id, key, headers
        self.versions: dict[str, list[dict]] = {}  # id -> the versions stored, in order
        self.keys: set[str] = set()
        self.script: deque[dict[str, Any]] = deque()
        self.fail_from: int | None = None  # every request from this index on answers 503
        self.lock = threading.Lock()
        cms = self

        class Handler(JSONHandler):
            def do_PUT(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                piece_id = self.path.split("?", 1)[0].rsplit("/", 1)[1]
                key = self.headers.get("Idempotency-Key")
                with cms.lock:
                    n = len(cms.requests)
                    cms.requests.append({"id": piece_id, "key": key, "headers": dict(self.headers), "path": self.path,
                                         "body": body})
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

        self.serve(Handler)

    @property
    def url(self) -> str:
        return f"{self.root}/pieces"
