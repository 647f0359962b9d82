"""Files on disk: atomic writes that follow the umask, the workspace's one-writer lock, and the
rules for what may be read as part of a workspace."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pipeline.errors import Busy, CannotWrite


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an OSError while writing ``path`` into CannotWrite, which names it."""
    try:
        yield
    except OSError as e:
        raise CannotWrite(path, e) from e


_TEMP_NAMES = itertools.count()  # this process's temp files: pid and a counter make each name unique
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def atomic_write(path: Path, data: str, sync: bool = True) -> None:
    """Write to a temp file, then rename: readers see the old file or the new one, never half.
    ``sync`` also survives a power cut; per-job files skip it (a killed process is covered by
    the rename alone, and a resumed run rewrites what a power cut lost). The temp file is made
    with mode 0666, which the OS narrows by the umask, as a plain ``open`` would."""
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            tmp = path.parent / f".{path.name}.{os.getpid()}-{next(_TEMP_NAMES)}.tmp"
            try:
                fd = os.open(tmp, _NEW_FILE, 0o666)
                break
            except FileExistsError:  # left by a crashed process that had this pid: take the next name
                continue
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
                if sync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def umask() -> int:
    """The process's umask, read without changing it where the OS can (Linux: /proc), else by
    the os.umask round trip, under a lock so two threads cannot interleave theirs."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


_UMASK_LOCK = threading.Lock()


def follow_umask(target: int | str | Path, directory: bool = False) -> None:
    """Give a file (an fd or a path) that mkstemp/mkdtemp made 0600/0700 the mode a plain
    ``open``/``mkdir`` would have: 0666/0777 less the umask."""
    mode = (0o777 if directory else 0o666) & ~umask()
    if isinstance(target, int):
        if hasattr(os, "fchmod"):  # not on Windows, where modes are moot
            os.fchmod(target, mode)
    else:
        os.chmod(target, mode)


@contextmanager
def workspace_lock(runs_dir: Path, what: str) -> Iterator[None]:
    """One writer per workspace: a second run (say, cron firing while the last one still runs)
    stops at once with Busy instead of interleaving its files with the first's. An OS file lock,
    released by the kernel however the holder dies, so a crash leaves no stale lock."""
    with writing(runs_dir):
        runs_dir.mkdir(parents=True, exist_ok=True)
        f = open(runs_dir / ".ladder.lock", "a+", encoding="utf-8")  # noqa: SIM115 - held for the lock's life
    try:
        _lock(f)
    except OSError:
        f.seek(0)
        holder = f.read().strip() or "another process"
        f.close()
        raise Busy(f"{runs_dir} is in use: {holder}; try again when it ends") from None
    f.seek(0)
    f.truncate()
    f.write(f"`ladder {what}` (pid {os.getpid()}) since {datetime.now(UTC).isoformat(timespec='seconds')}\n")
    f.flush()
    try:
        yield
    finally:
        f.truncate(0)
        f.close()  # closing releases the lock


def _lock(f) -> None:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def outside_workspace(root: Path, path: Path) -> str | None:
    """Why ``path`` may not be read as part of the workspace at ``root``: a link that leads out
    of it, or a link loop; None when it may."""
    try:
        target = path.resolve(strict=False)
        inside = target.is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return "a symbolic link that loops"
    if not inside:
        return f"a symbolic link to {target}, outside the workspace: files are read only inside it"
    return None


# --- the loader ------------------------------------------------------------------------------


def example_dir() -> Path:
    """The shipped example workspace: packaged in the wheel, or the repository root."""
    packaged = Path(__file__).parent / "_example"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[1]
