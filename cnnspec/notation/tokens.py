"""What every reader of items shares: the :class:`ErrorSink` of a spec, the span
of a token (or of one character of it), and numbers bounded before conversion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnnspec.errors import Diagnostic
from cnnspec.notation.grammar import Token
from cnnspec.notation.ir import Span

# --------------------------------------------------------------------------
# Helpers


def span_of(tok: Token, offset: int = 0, length: int | None = None) -> Span:
    text = str(tok)
    return Span(
        line=tok.line or 1,
        column=(tok.column or 1) + offset,
        length=length if length is not None else max(1, len(text) - offset),
    )


@dataclass
class ErrorSink:
    """Collects the diagnostics of one spec."""

    origin: str
    spec_name: str | None
    errors: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        self.errors.append(
            Diagnostic(code=code, message=message, span=span, hint=hint, origin=self.origin, spec=self.spec_name)
        )


# --------------------------------------------------------------------------
# Numbers: bounded before they are converted


def bounded_int(digits: str, limit: int) -> int | None:
    """``int(digits)`` when it is at most ``limit``, else None.

    Never converts more digits than ``limit`` has, so a number of thousands of
    digits (which ``int()`` refuses beyond 4,300) is only an error of its own.

    >>> bounded_int("0007", 10), bounded_int("9" * 5000, 10)
    (7, None)
    """
    significant = digits.lstrip("0") or "0"
    if len(significant) > len(str(limit)):
        return None
    value = int(significant)
    return value if value <= limit else None


def shorten(text: str, limit: int = 40) -> str:
    """A token as a message quotes it: long ones cut, with their length."""
    if len(text) <= limit:
        return text
    return f"{text[: limit // 2]}…{text[-8:]} ({len(text):,} characters)"
