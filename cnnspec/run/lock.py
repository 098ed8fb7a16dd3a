"""One writer per run directory (and per sweep folder): an owner file, ``lock.json``.

``cnnspec train``, ``train --resume`` and ``sweep`` take the lock before they write a
folder and release it at the end, on an error, Ctrl-C or SIGTERM too (a ``finally``).
The file is created with ``O_CREAT | O_EXCL``, so of two writers exactly one gets it; it
names the holder: pid, host, start time and command.  A second writer is refused with
:class:`RunLockedError` naming the holder.  A lock whose pid is gone on this host (a
``kill -9``, a machine that lost power) is stale: it is taken over, with a note.  A lock
from another host is never judged stale here: only that host knows its pid.

Within one process the lock is re-entrant: a sweep holds a run's lock while it clears the
folder, and :func:`cnnspec.run.train.train` takes it again inside.

Readers never look at the file: a finished run with a stale ``lock.json`` left in it reads
as before (the name is in :data:`cnnspec.run.rundir.RUN_FILES`).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cnnspec.errors import UserError
from cnnspec.run.rundir import LOCK_JSON, now

#: The folders this process holds, with how many times (re-entrant), and the token of each.
_HELD: dict[Path, tuple[int, str]] = {}
_TRIES = 5


class RunLockedError(UserError):
    """A folder another writer holds: ``holder`` is its owner record (pid, host, started, command)."""

    code = "locked"

    def __init__(self, folder: Path, holder: dict[str, Any]) -> None:
        super().__init__(
            f"{folder} is being written by another process: {describe(holder)}",
            f"wait for it to end, or stop it; if that process is gone (on another host), delete {folder / LOCK_JSON}",
        )
        self.holder = holder


def describe(holder: dict[str, Any]) -> str:
    """``pid 123 on host h since 2026-12-02T00:10:00+00:00 (cnnspec sweep a.cnn ...)``."""
    return (
        f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')} since {holder.get('started', '?')} "
        f"({holder.get('command') or '?'})"
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it lives
        return True
    return True


def _stale(holder: dict[str, Any]) -> bool:
    """Only a lock of this host whose process is gone is stale (a pid of another host says nothing here)."""
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or isinstance(pid, bool):
        return False
    return pid != os.getpid() and not _alive(pid)


def _read(path: Path) -> dict[str, Any] | None:
    """The owner record, ``{}`` when it cannot be read as one, ``None`` when there is none."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _create(path: Path, record: dict[str, Any]) -> bool:
    """Write ``record`` to a new ``path``; ``False`` when it exists (another writer's)."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(record, indent=2) + "\n")
    return True


def _take_over(path: Path, holder: dict[str, Any]) -> None:
    """Move the stale lock aside, if it is still the one judged stale (a writer that took it
    over meanwhile keeps its own: it is linked back)."""
    aside = path.with_name(f".{LOCK_JSON}.stale-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    if _read(aside) != holder:  # not the stale one: put it back (link fails if one exists again)
        try:
            os.link(aside, path)
        except OSError:
            pass
    aside.unlink(missing_ok=True)


def acquire(folder: str | Path, note: Callable[[str], None] | None = None) -> None:
    """Take ``folder``'s lock (the folder must exist), or raise :class:`RunLockedError`."""
    folder = Path(folder)
    key = folder.resolve()
    if key in _HELD:
        count, token = _HELD[key]
        _HELD[key] = (count + 1, token)
        return
    path = folder / LOCK_JSON
    token = uuid.uuid4().hex
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": now(),
        "command": " ".join(Path(sys.argv[0]).name if i == 0 else a for i, a in enumerate(sys.argv))[:300],
        "token": token,
    }
    for _ in range(_TRIES):
        if _create(path, record):
            _HELD[key] = (1, token)
            return
        holder = _read(path)
        if holder is None:  # released meanwhile: try again
            continue
        if not _stale(holder):
            raise RunLockedError(folder, holder)
        _take_over(path, holder)
        if note is not None:
            note(f"{folder}: took over the lock of a process that is gone ({describe(holder)})")
    raise RunLockedError(folder, _read(path) or {})


def release(folder: str | Path) -> None:
    """Give ``folder``'s lock back (the file is removed only when it is still this holder's)."""
    folder = Path(folder)
    key = folder.resolve()
    if key not in _HELD:
        return
    count, token = _HELD[key]
    if count > 1:
        _HELD[key] = (count - 1, token)
        return
    del _HELD[key]
    path = folder / LOCK_JSON
    if (_read(path) or {}).get("token") == token:
        path.unlink(missing_ok=True)


@contextmanager
def locked(folder: str | Path, note: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold ``folder``'s lock for the block; released however the block ends."""
    acquire(folder, note)
    try:
        yield
    finally:
        release(folder)


def held(folder: str | Path) -> bool:
    """Whether this process holds ``folder``'s lock."""
    return Path(folder).resolve() in _HELD


__all__ = ["RunLockedError", "acquire", "describe", "held", "locked", "release"]
