"""A scripted OpenAI-protocol server on loopback, for replies and faults a real model won't give.

Each request to /v1/chat/completions takes the next action from ``script`` (or, when the
script is empty, asks ``responder`` for the parts). Every request body is recorded. The Batch API's
endpoints (files upload and content, batches create and retrieve) answer a batch's lines the
same way.
"""

from __future__ import annotations

import email.policy
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from email.parser import BytesParser
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


class Loopback:
    """A threaded HTTP server on 127.0.0.1 for ``handler``, served while in a ``with`` block."""

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = QuietServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class JSONHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, payload: dict | bytes, headers: dict | None = None, raw: bool = False,
              content_type: str | None = None):
        data = payload if raw else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", content_type or ("application/octet-stream" if raw else "application/json"))
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _drop(self):
        """The peer sees a dropped connection."""
        self.connection.shutdown(2)
        self.close_connection = True


class ScriptedOpenAI(Loopback):
    """An OpenAI-protocol server on loopback. Each request takes the next ``script`` action, or
    else ``faults(body)``'s (for random fault injection), or else answers with ``responder``.
    Actions: sleep, reset (drop the connection), status (+ headers), html (a 200 with an HTML page),
    content, finish_reason.
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
        # the Batch API: uploaded and result files, batches, the request bodies batches carried,
        # and how many polls a batch stays in_progress
        self.files: dict[str, bytes] = {}
        self.uploads: list[str] = []
        self.batches: dict[str, dict] = {}
        self.batch_requests: list[dict] = []
        self.batch_polls = 1
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(JSONHandler):
            def do_GET(self):
                if self.path.startswith("/v1/batches/"):
                    self._send(200, server.poll_batch(self.path.rsplit("/", 1)[1]))
                elif self.path.startswith("/v1/files/") and self.path.endswith("/content"):
                    self._send(200, server.files[self.path.split("/")[3]], raw=True)
                else:
                    self._send(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})

            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                data = self.rfile.read(length)
                if self.path.endswith("/files"):
                    self._send(200, server.upload(self.headers.get("content-type", ""), data))
                    return
                if self.path.endswith("/batches"):
                    self._send(200, server.create_batch(json.loads(data)))
                    return
                with server.lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    body = json.loads(data or b"{}")
                    with server.lock:
                        server.requests.append(body)
                        server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    action = server.next_action(body)
                    if server.latency:
                        time.sleep(server.latency)
                    if action.get("sleep"):
                        time.sleep(action["sleep"])
                    if action.get("reset"):
                        self._drop()
                        return
                    if action.get("html"):  # a proxy's error page with status 200
                        self._send(200, b"<html><body>Gateway says hello</body></html>", raw=True,
                                   content_type="text/html")
                        return
                    self._send(*server.answer(body, action))
                finally:
                    with server.lock:
                        server.in_flight -= 1

        self.serve(Handler)

    def next_action(self, body: dict) -> dict[str, Any]:
        with self.lock:
            action = self.script.popleft() if self.script else {}
        if not action and self.faults is not None:
            action = self.faults(body) or {}
        return action

    def answer(self, body: dict, action: dict[str, Any]) -> tuple[int, dict, dict]:
        """(status, payload, headers) for a chat completion ``body`` under ``action``."""
        if action.get("status"):
            return action["status"], {"error": {"message": "scripted", "type": "scripted"}}, action.get("headers", {})
        if "content" in action:
            content = action["content"]
        else:
            reply = self.responder(body)
            content = reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)
            if action.get("finish_reason", "stop") == "stop":
                with self.lock:
                    self.answered.append(body)
        return 200, {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "finish_reason": action.get("finish_reason", "stop"),
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }, {}

    # --- the Batch API: files, batches ------------------------------------------------------

    def upload(self, content_type: str, data: bytes) -> dict:
        message = BytesParser(policy=email.policy.default).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + data)
        fields = {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
                  for part in message.iter_parts()}
        with self.lock:
            file_id = f"file-{len(self.files) + 1}"
            self.files[file_id] = fields["file"]
            self.uploads.append(file_id)
        return {"id": file_id, "object": "file", "bytes": len(fields["file"]), "created_at": int(time.time()),
                "filename": "upload.jsonl", "purpose": fields["purpose"].decode(), "status": "processed"}

    def create_batch(self, params: dict) -> dict:
        with self.lock:
            batch_id = f"batch_{len(self.batches) + 1}"
            self.batches[batch_id] = {
                "id": batch_id, "object": "batch", "endpoint": params["endpoint"], "errors": None,
                "input_file_id": params["input_file_id"], "completion_window": params["completion_window"],
                "status": "validating", "created_at": int(time.time()), "metadata": params.get("metadata"),
                "request_counts": {"total": 0, "completed": 0, "failed": 0}, "polls": 0,
            }
            return self._public(self.batches[batch_id])

    def poll_batch(self, batch_id: str) -> dict:
        """Each poll moves a batch on: validating, in_progress for ``batch_polls`` polls, then
        every line is answered (responder and faults, as for a plain request) and it completes."""
        with self.lock:
            batch = self.batches[batch_id]
            batch["polls"] += 1
            if batch["status"] == "validating":
                batch["status"] = "in_progress"
            ready = batch["status"] == "in_progress" and batch["polls"] > self.batch_polls
        if ready:
            out, errors = [], []
            lines = [json.loads(x) for x in self.files[batch["input_file_id"]].decode().splitlines() if x.strip()]
            for n, line in enumerate(lines):
                body = line["body"]
                with self.lock:
                    self.batch_requests.append(body)
                action = self.next_action(body)
                if action.get("reset") or action.get("sleep"):
                    action = {"status": 500}
                status, payload, _ = self.answer(body, action)
                record = {"id": f"batch_req_{n}", "custom_id": line["custom_id"], "error": None,
                          "response": {"status_code": status, "request_id": f"req_{n}", "body": payload}}
                (out if status == 200 else errors).append(json.dumps(record))
            with self.lock:
                for name, rows in (("output_file_id", out), ("error_file_id", errors)):
                    if rows:
                        file_id = f"file-{len(self.files) + 1}"
                        self.files[file_id] = ("\n".join(rows) + "\n").encode()
                        batch[name] = file_id
                batch["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(errors)}
                batch["status"] = "completed"
        with self.lock:
            return self._public(batch)

    @staticmethod
    def _public(batch: dict) -> dict:
        return {k: v for k, v in batch.items() if k != "polls"}

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"


if __name__ == "__main__":  # a standalone server, for trying ladder by hand
    import sys

    with ScriptedOpenAI(lambda b: fill(b, " ".join(sys.argv[1:]) or "Hello.")) as s:
        print(s.base_url, flush=True)
        threading.Event().wait()
