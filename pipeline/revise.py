"""Stage 5, revise: a draft that failed its check goes back to the model with the findings."""

from __future__ import annotations

from .draft import ask, messages
from .llm import Chat
from .models import Attempt, Job, Workspace


def revise(ws: Workspace, job: Job, chat: Chat, previous: Attempt) -> Attempt:
    """One revision round: the previous parts and every finding on them, as instructions."""
    findings = previous.check.findings if previous.check else []
    msgs = messages(ws, job, "revise.j2", findings=findings, previous=previous.parts)
    return ask(ws, job, chat, msgs, n=previous.n + 1)
