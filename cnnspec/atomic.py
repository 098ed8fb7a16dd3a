"""Atomic file writes: a reader (or a killed process) never sees half a file.

Each write goes to a temporary file in the same folder, is flushed to disk,
then renamed over the target, which POSIX makes atomic.  A target that
cannot be written (its folder is a file, say) raises :class:`WriteError`, an
``OSError``; :func:`check_writable` asks the same question before any work.
"""

from __future__ import annotations

import glob
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


class WriteError(OSError):
    """``target`` cannot be written: ``str(exc)`` is ``cannot write <target>: <reason>``,
    ``exc.strerror`` the reason alone (as for any ``OSError``)."""

    def __init__(self, target: Path | str, reason: str) -> None:
        super().__init__(f"cannot write {target}: {reason}")
        self.target, self.strerror = Path(target), reason


def check_writable(target: Path | str) -> None:
    """Raise :class:`WriteError` unless ``target`` could be written; create nothing.

    ``target`` must not be a folder, and its nearest existing ancestor must be
    a writable folder (the folders below it are created by the write).
    """
    target = Path(target)
    if target.is_dir():
        raise WriteError(target, "it is a directory")
    folder = target.parent
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise WriteError(target, f"{folder} is not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WriteError(target, f"{folder} is not writable")


@contextmanager
def atomic_path(target: Path | str, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success.

    On any exception the temporary file is removed and ``target`` is untouched;
    :class:`WriteError` when the folder cannot be made or the rename fails.
    ``suffix`` keeps an extension that a writer may insist on (``.keras``).
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or ".tmp", dir=target.parent)
    except OSError as exc:
        check_writable(target)  # the clearer reason, when it is one of those
        raise WriteError(target, exc.strerror or str(exc)) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        # mkstemp creates the file 0600: give it the target's mode, or the
        # mode a plain open() would (0666 less the umask), not a private one.
        os.chmod(tmp_path, _mode_for(target))
        try:
            os.replace(tmp_path, target)
        except OSError as exc:  # a folder in the way, say
            raise WriteError(target, exc.strerror or str(exc)) from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def remove_leftovers(folder: Path | str, names: Iterable[str]) -> list[Path]:
    """Delete the temporary files that :func:`atomic_path` left in ``folder`` for the targets
    ``names`` when its process was killed (SIGKILL, a power cut: no ``finally`` ran), and return
    them.  Only names this module makes (``.{name}.XXXXXXXX{suffix}``) are touched."""
    removed = []
    for name in names:
        for leftover in Path(folder).glob(f".{glob.escape(name)}.*"):
            if leftover.is_file():
                leftover.unlink(missing_ok=True)
                removed.append(leftover)
    return removed


def _mode_for(target: Path) -> int:
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_bytes(target: Path | str, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: Path | str, text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


def write_with(target: Path | str, writer: Callable[[Path], object], suffix: str = "") -> None:
    """Atomically write ``target`` with ``writer(tmp_path)`` (for libraries that take a path)."""
    with atomic_path(target, suffix) as tmp:
        writer(tmp)
