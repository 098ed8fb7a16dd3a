"""Import TensorFlow without its start-up lines, and without hiding a real error.

TensorFlow 2.21 logs through absl before absl is initialised, so every process that imports it
prints, straight to file descriptor 2 from C++, lines that ``TF_CPP_MIN_LOG_LEVEL`` no longer
stops::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796166014.241635   31034 port.cc:153] oneDNN custom operations are on. ...
    I0000 00:00:1796166014.316061   31034 cpu_feature_guard.cc:227] This TensorFlow binary is ...
    To enable the following instructions: AVX2 ..., rebuild TensorFlow with the appropriate compiler flags.

They all come while ``import tensorflow`` runs (measured: none later, in training, evaluation,
export or prediction).  So that import, whenever something first makes it (keras does), runs
with descriptor 2 sent to a temporary file, and what it wrote goes back to standard error less
those lines: absl lines below the level that ``TF_CPP_MIN_LOG_LEVEL`` names (default 2: info
and warnings dropped, errors and fatal kept, as TensorFlow documents the variable), absl's one
notice about itself, and the CPU-instructions line's continuation.  Anything else (a Python
warning, an error line, a traceback) is kept.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

#: absl's line prefix: severity letter, MMDD, time, thread id, file:line].
_ABSL = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:[\d.]+\s+\d+ [\w./-]+:\d+\] ")
_NOTICES = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"),
    re.compile(r"^To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.$"),
)
_LEVELS = {"I": 0, "W": 1, "E": 2, "F": 3}


def _min_level() -> int:
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    except ValueError:
        return 2


def keep(line: str, min_level: int = 2) -> bool:
    """Whether a line TensorFlow's import wrote to standard error is shown (False: start-up noise)."""
    absl = _ABSL.match(line)
    if absl:
        return _LEVELS[absl.group(1)] >= min_level
    return min_level == 0 or not any(notice.match(line) for notice in _NOTICES)


def filter_noise(text: str, min_level: int = 2) -> str:
    """``text`` without the start-up lines (see the module docstring)."""
    return "".join(line for line in text.splitlines(keepends=True) if keep(line.rstrip("\n"), min_level))


@contextlib.contextmanager
def _filtered_stderr() -> Iterator[None]:
    """Send descriptor 2 to a temporary file; give back what was written there, less the noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            shown = filter_noise(captured.read().decode("utf-8", "replace"), _min_level())
            if shown:
                sys.stderr.write(shown)
                sys.stderr.flush()


class _QuietLoader(importlib.abc.Loader):
    """TensorFlow's own loader, run with the start-up lines filtered; everything else passed on."""

    def __init__(self, loader: Any, finder: _QuietFinder) -> None:
        self._loader = loader
        self._finder = finder

    def create_module(self, spec: ModuleSpec) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The first import is the one that prints: the finder's work is done once it runs.
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        with _filtered_stderr():
            self._loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, ...
        return getattr(self._loader, name)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as the other finders do, and wraps its loader (once)."""

    _looking = False

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        # A look-up is not an import: PyTorch asks find_spec("tensorflow") while it loads, so the
        # finder stays until TensorFlow is really executed (the loader removes it then).
        if name != "tensorflow" or self._looking:
            return None
        self._looking = True
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._looking = False
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader, self)
        return spec


def quiet_tensorflow() -> None:
    """Leave TensorFlow's start-up lines out of standard error, whenever it is imported later.

    Imports nothing itself: a command that turns out not to need TensorFlow (a bad argument, an
    ``.onnx`` model) never loads it.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # what still obeys it: TensorFlow's later logs
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietFinder())
