"""What can go wrong, as types: each carries what the CLI needs to say it and pick the exit code
(2 bad input, 3 could not run). Every layer raises these; only the CLI turns them into messages."""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int | None
    path: str
    message: str
    level: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        key = f" {self.path}:" if self.path else ":"
        prefix = "" if self.level == "error" else "warning: "
        return f"{where}{key} {prefix}{self.message}"


class InvalidWorkspace(Exception):
    """Raised with every problem found; the CLI prints them all and exits 2."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


class ModelUnavailable(Exception):
    """The endpoint or the embedded model could not be reached or started (exit code 3)."""


class RequestFailed(Exception):
    """One request failed for good, after the retries (a 4xx other than auth, a 5xx or a timeout
    that outlasted them, a body that is not a chat completion): that job's error, and the run
    goes on with the others."""


class BudgetExhausted(Exception):
    """A call would pass the run's token or cost cap; the run stops asking."""


class CannotWrite(Exception):
    """A file or folder that cannot be written: exit 2 when the path is at fault (a file where a
    folder should be, no permission), 3 when the disk is (full, failing)."""

    def __init__(self, path: Path, error: OSError):
        self.path, self.error = path, error
        reason = error.strerror or str(error)
        if isinstance(error, FileExistsError | NotADirectoryError):  # a file where a folder should be
            path = Path(path)
            blocker = next((p for p in [*reversed(path.parents), path] if p.is_file()), None)
            reason = f"{blocker} is a file, not a folder" if blocker else reason
        super().__init__(f"cannot write {path}: {reason}")

    @property
    def disk_at_fault(self) -> bool:
        return self.error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO)


class Busy(Exception):
    """Another ladder process holds the workspace's lock (exit code 3)."""


class PublishUnavailable(Exception):
    """The endpoint could not be reached after the retries (exit 3); the ledger keeps what was sent."""
