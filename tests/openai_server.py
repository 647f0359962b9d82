"""A scripted OpenAI-protocol server on loopback, for replies and faults a real model won't give.

Each request to /v1/chat/completions takes the next action from ``script`` (or, when the
script is empty, asks ``responder`` for the parts). Every request body is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def schema_of(body: dict) -> dict:
    fmt = body.get("response_format") or {}
    return fmt.get("json_schema", {}).get("schema") or fmt.get("schema") or {}


def fill(body: dict, text: str) -> dict[str, str]:
    """Every field of the requested schema filled with ``text``, cut to its maxLength."""
    props = schema_of(body).get("properties", {})
    return {name: text[: spec.get("maxLength", len(text))].strip() for name, spec in props.items()}


class QuietServer(ThreadingHTTPServer):
    """A dropped client (a killed run, a reset we scripted) is expected here: no traceback on
    stderr from a daemon thread, which could race the interpreter's shutdown."""

    def handle_error(self, request, client_address):
        pass


class ScriptedOpenAI:
    """An OpenAI-protocol server on loopback. Each request takes the next ``script`` action, or
    else ``faults(body)``'s (for random fault injection), or else answers with ``responder``.
    Actions: sleep, reset (drop the connection), status (+ headers), content, finish_reason.
    It records every request, the most requests it had in flight at once, and the bodies it
    answered with a complete reply (``answered``)."""

    def __init__(self, responder: Callable[[dict], dict[str, str] | str] | None = None,
                 faults: Callable[[dict], dict[str, Any]] | None = None, latency: float = 0.0):
        self.responder = responder or (lambda body: fill(body, "Hello."))
        self.faults = faults
        self.latency = latency
        self.script: deque[dict[str, Any]] = deque()
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.answered: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                self._send(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})

            def do_POST(self):
                with server.lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._post()
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def _post(self):
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server.lock:
                    server.requests.append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    action = server.script.popleft() if server.script else {}
                if not action and server.faults is not None:
                    action = server.faults(body) or {}
                if server.latency:
                    time.sleep(server.latency)
                if action.get("sleep"):
                    time.sleep(action["sleep"])
                if action.get("reset"):
                    self.connection.shutdown(2)  # the peer sees a dropped connection
                    self.close_connection = True
                    return
                if action.get("status"):
                    self._send(action["status"], {"error": {"message": "scripted", "type": "scripted"}},
                               action.get("headers", {}))
                    return
                if "content" in action:
                    content = action["content"]
                else:
                    reply = server.responder(body)
                    content = reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)
                    if action.get("finish_reason", "stop") == "stop":
                        with server.lock:
                            server.answered.append(body)
                self._send(200, {
                    "id": f"chatcmpl-{len(server.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "scripted"),
                    "choices": [{"index": 0, "finish_reason": action.get("finish_reason", "stop"),
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                })

            def _send(self, status: int, payload: dict, headers: dict | None = None):
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
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ScriptedOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":  # a standalone server, for trying ladder by hand
    import sys

    with ScriptedOpenAI(lambda b: fill(b, " ".join(sys.argv[1:]) or "Hello.")) as s:
        print(s.base_url, flush=True)
        threading.Event().wait()
