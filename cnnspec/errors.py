"""Diagnostics are data; rendering them is a separate, pure function.

A :class:`Diagnostic` holds a stable code, a message that says what was
expected and what was received, the span of the offending token and, where
one is likely, a hint.  :class:`SpecError` carries *all* the errors of a
spec, never just the first.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # errors come before every stage: only the type is needed
    from cnnspec.notation.ir import Span

Severity = Literal["error", "warning"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Diagnostic:
    """One error or warning: plain data, rendered by :func:`render`."""

    code: str
    severity: Severity = "error"
    message: str
    span: Span | None = None
    hint: str | None = None
    origin: str = "<string>"
    #: Name of the spec in a multi-spec file, if any.
    spec: str | None = None

    def __post_init__(self) -> None:
        # A node no one wrote (Span.invented) has no place in the text: the
        # diagnostic names where it came from and points nowhere.
        given_by = getattr(self.span, "given_by", None)
        if given_by:
            object.__setattr__(self, "message", f"{self.message} (from {given_by})")
            object.__setattr__(self, "span", None)

    def replace(self, **changes: object) -> Diagnostic:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        """The JSON form (``cnnspec check --json``)."""
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "line": self.span.line if self.span else None,
            "column": self.span.column if self.span else None,
            "hint": self.hint,
        }

    @property
    def location(self) -> str:
        if self.span is None:
            return self.origin
        return f"{self.origin}:{self.span.line}:{self.span.column}"


class UserError(Exception):
    """An error the user can act on (a bad folder, a damaged run, a model that cannot be used).

    Plain data, as a :class:`Diagnostic` is: a one-line ``message`` (also ``str()``), an
    optional ``hint`` and a stable ``code``.  Every command turns one into the same printed
    error and a non-zero exit, never a traceback.
    """

    code: str = "error"
    #: The exit status the CLI gives it: 1 for a job that cannot be done (a damaged run, a
    #: bad folder), 2 where the command line itself names what does not exist.
    exit_code: int = 1

    def __init__(self, message: str, hint: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, object]:
        """The JSON form, as :meth:`Diagnostic.to_dict` is a diagnostic's."""
        return {"code": self.code, "message": self.message, "hint": self.hint}


class SpecError(ValueError):
    """Raised for an invalid spec; ``diagnostics`` holds every error found.

    ``str(err)`` is the plain rendering of all of them, carets included.
    """

    def __init__(self, diagnostics: list[Diagnostic], source: str = "") -> None:
        self.diagnostics = list(diagnostics)
        self.source = source
        super().__init__(render_all(self.diagnostics, source))


#: Most diagnostics shown per spec; the rest are counted (plain, rich, HTML and JSON
#: alike), so a spec of 20,000 bad tokens prints 100 excerpts and one count.
MAX_SHOWN_PER_SPEC = 100
#: Source lines longer than this are cut around the caret.
MAX_LINE_SHOWN = 160
_CONTEXT_BEFORE = 60
_WINDOW = 120


@functools.lru_cache(maxsize=8)
def _lines(source: str) -> tuple[str, ...]:
    # Split once per source, not once per diagnostic: 20,000 errors in a
    # 1 MB text would otherwise split it 20,000 times.
    return tuple(source.splitlines())


def source_line(source: str, line: int) -> str:
    """Line ``line`` (1-based) of ``source``, or "" when there is none."""
    lines = _lines(source)
    return lines[line - 1] if 0 < line <= len(lines) else ""


@dataclasses.dataclass(frozen=True)
class Excerpt:
    """What every renderer shows of a diagnostic's source: the location, the
    source line and the caret line under it, aligned character for character."""

    location: str
    line: str
    caret: str


def excerpt(diag: Diagnostic, source: str) -> Excerpt | None:
    """The source line of ``diag`` with its caret, or None (no span, no such line).

    The one place that decides how a line is shown: each tab as one space
    (the column counts a tab as one character, so the caret stays under its
    token in a terminal, a golden file and a notebook's ``<pre>`` alike), and a
    line over :data:`MAX_LINE_SHOWN` characters cut around the caret, with ``…``
    where text was left out.
    """
    if diag.span is None:
        return None
    text = source_line(source, diag.span.line)
    if not text:
        return None
    shown = text.replace("\t", " ").rstrip()
    start = diag.span.column - 1
    length = max(1, diag.span.length)
    if len(shown) > MAX_LINE_SHOWN:
        lo = max(0, min(start - _CONTEXT_BEFORE, len(shown) - _WINDOW))
        hi = min(len(shown), lo + _WINDOW)
        prefix = "…" if lo > 0 else ""
        shown = prefix + shown[lo:hi] + ("…" if hi < len(shown) else "")
        length = max(1, min(length, hi - start))
        start = start - lo + len(prefix)
    return Excerpt(diag.location, shown, " " * start + "^" * length)


def shown_and_rest(diagnostics: Iterable[Diagnostic]) -> tuple[list[Diagnostic], dict[str | None, int]]:
    """The diagnostics to show, at most :data:`MAX_SHOWN_PER_SPEC` per spec, and
    how many were left out, by spec name (None: an unnamed spec)."""
    shown: list[Diagnostic] = []
    counts: dict[str | None, int] = {}
    rest: dict[str | None, int] = {}
    for d in diagnostics:
        n = counts[d.spec] = counts.get(d.spec, 0) + 1
        if n <= MAX_SHOWN_PER_SPEC:
            shown.append(d)
        else:
            rest[d.spec] = rest.get(d.spec, 0) + 1
    return shown, rest


def more_text(count: int, spec: str | None = None) -> str:
    """The line that stands for the diagnostics left out."""
    of = f" of spec {spec}" if spec else ""
    return f"… and {count:,} more diagnostic{'s' * (count != 1)}{of} (the first {MAX_SHOWN_PER_SPEC} are shown)"


def render(diag: Diagnostic, source: str) -> str:
    """Plain-text rendering, stable for golden files::

    model.cnn:1:12: error[E201]: unknown modifier 'q' in '16q'
      C: 16n 16q
               ^
      hint: ...
    """
    head = f"{diag.location}: {diag.severity}[{diag.code}]: {diag.message}"
    if diag.spec:
        head += f" (spec {diag.spec})"
    out = [head]
    ex = excerpt(diag, source)
    if ex is not None:
        out += ["  " + ex.line, "  " + ex.caret]
    if diag.hint:
        out.append(f"  hint: {diag.hint}")
    return "\n".join(out)


def render_all(diagnostics: list[Diagnostic], source: str) -> str:
    """Every diagnostic rendered, at most :data:`MAX_SHOWN_PER_SPEC` per spec (then a count)."""
    shown, rest = shown_and_rest(diagnostics)
    return "\n".join([*(render(d, source) for d in shown), *(more_text(n, spec) for spec, n in rest.items())])


def render_user_error(err: UserError) -> str:
    """Plain-text rendering of a :class:`UserError` (what the CLI prints, without colour)::

    error: /runs/a/state.json is damaged: not valid JSON: ...
      hint: start the run again with cnnspec train (a new --out)
    """
    out = f"error: {err.message}"
    return out + (f"\n  hint: {err.hint}" if err.hint else "")
