"""Publishing to a CMS: each piece PUT to ``URL/<stable id>`` as a JSON document (an upsert keyed
by the id), with an ``Idempotency-Key`` derived from the id and the content hash.

A ledger in ``ladder.db`` records every piece and content version a URL accepted, the moment it
accepted it (the URL without credentials or query string, which may carry keys; credentials in
the URL go out as Basic auth); a re-publish sends only pieces whose content changed, and a
publish that crashed halfway resumes where it stopped. The one window the ledger cannot close
(the CMS accepted a piece, then ladder died before writing it down) is closed by the
idempotency key: the retry carries the same key and the same body (nothing in it comes from the
clock), so the CMS can recognise it. 429, 5xx, timeouts and dropped connections
are retried with jittered exponential backoff that honours Retry-After; any other 4xx is that
piece's failure, reported, and the rest go on.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from pipeline.errors import PublishUnavailable
from pipeline.retry import parse_retry_after, retrying
from pipeline.review.decisions import Decision
from pipeline.review.export import document, pieces
from pipeline.runs.artifacts import Run
from pipeline.store import Store
from pipeline.workspace.urls import scrub_url


class Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Outcome:
    sent: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def idempotency_key(piece_id: str, content_hash: str) -> str:
    return hashlib.sha256(f"{piece_id}\n{content_hash}".encode()).hexdigest()


def published(store: Store, url: str, piece_id: str, content_hash: str) -> bool:
    return store.is_published(url, piece_id, content_hash)


def endpoint(url: str) -> tuple[str, str | None, str]:
    """``URL`` split into what requests go to (no credentials), the Basic credentials it carried
    (user:password, sent as a header), and what the ledger and messages name: no credentials,
    no query string."""
    parts = urlsplit(url)
    auth = None
    if parts.username is not None or parts.password is not None:
        auth = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    target = urlunsplit(parts._replace(path=parts.path.rstrip("/"), fragment=""))
    return target, auth, scrub_url(target)


def piece_url(url: str, piece_id: str) -> str:
    """``URL/<id>``, the id in the path even when the URL carries a query string."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/{quote(piece_id, safe='')}"))


def publish(run: Run, decisions: dict[str, Decision], url: str, store: Store, token: str | None = None,
            approved_only: bool = False, max_retries: int = 4, backoff: float = 1.0, timeout: float = 30.0,
            on_piece: Callable[[str, str], None] = lambda piece_id, what: None) -> Outcome:
    url, basic, ledger_url = endpoint(url)
    outcome = Outcome()

    for draft in pieces(run, decisions, approved_only):
        if published(store, ledger_url, draft.id, draft.content_hash):
            outcome.unchanged.append(draft.id)
            on_piece(draft.id, "unchanged")
            continue
        body = json.dumps(document(run, draft, decisions.get(draft.id)), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key(draft.id, draft.content_hash)}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif basic:
            headers["Authorization"] = "Basic " + base64.b64encode(basic.encode("utf-8")).decode("ascii")
        request = urllib.request.Request(piece_url(url, draft.id), data=body, headers=headers, method="PUT")
        try:
            for attempt in retrying(lambda e: isinstance(e, Retryable), max_retries + 1, backoff):
                with attempt:
                    status = _put(request, timeout)
        except Retryable as e:
            raise PublishUnavailable(f"{ledger_url}: {e} (after {max_retries + 1} tries); {len(outcome.sent)} pieces sent "
                                     "this time are in the ledger, and publishing again resumes") from None
        except urllib.error.HTTPError as e:
            outcome.failed[draft.id] = f"HTTP {e.code}: {_detail(e)}"
            on_piece(draft.id, f"failed: HTTP {e.code}")
            continue
        store.mark_published(ledger_url, draft.id, draft.content_hash, run.id, status)
        outcome.sent.append(draft.id)
        on_piece(draft.id, "sent")
    return outcome


def _put(request: urllib.request.Request, timeout: float) -> int:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as e:
        if e.code == 429 or e.code >= 500:
            raise Retryable(f"HTTP {e.code}", parse_retry_after(e.headers.get("Retry-After"))) from None
        raise
    except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
        raise Retryable(f"{type(e).__name__}: {getattr(e, 'reason', e)}") from None


def _detail(e: urllib.error.HTTPError) -> str:
    try:
        return e.read().decode("utf-8", "replace")[:200]
    except OSError:
        return e.reason or ""
