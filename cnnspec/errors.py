"""Diagnostics are data; rendering them is a separate, pure function.

A :class:`Diagnostic` holds a stable code, a message that says what was
expected and what was received, the span of the offending token and, where
one is likely, a hint.  :class:`SpecError` carries *all* the errors of a
spec, never just the first.
"""

from __future__ import annotations

import dataclasses
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


def source_line(source: str, line: int) -> str:
    lines = source.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""


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
    if diag.span is not None:
        text = source_line(source, diag.span.line)
        if text:
            # Tabs would misplace the caret; show them as single spaces.
            shown = text.replace("\t", " ")
            caret = " " * (diag.span.column - 1) + "^" * max(1, diag.span.length)
            out += ["  " + shown.rstrip(), "  " + caret]
    if diag.hint:
        out.append(f"  hint: {diag.hint}")
    return "\n".join(out)


def render_all(diagnostics: list[Diagnostic], source: str) -> str:
    return "\n".join(render(d, source) for d in diagnostics)


def render_user_error(err: UserError) -> str:
    """Plain-text rendering of a :class:`UserError` (what the CLI prints, without colour)::

    error: /runs/a/state.json is damaged: not valid JSON: ...
      hint: start the run again with cnnspec train (a new --out)
    """
    out = f"error: {err.message}"
    return out + (f"\n  hint: {err.hint}" if err.hint else "")
