"""Where specs come from: strings, ``.cnn`` files, standard input.

:func:`check_source` is the whole static pipeline in one call — text ->
parsed specs -> checked specs — returning one :class:`SpecResult` per spec,
invalid ones included, so callers (the CLI, sweeps) can report every spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from cnnspec.errors import MAX_SHOWN_PER_SPEC, Diagnostic
from cnnspec.network.checker import CheckedSpec, check
from cnnspec.network.shapes import Shape


@dataclass(frozen=True)
class SpecResult:
    """One spec of a source: its check, or the errors that stopped it."""

    name: str | None
    source: str
    checked: CheckedSpec | None = None
    parse_errors: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return self.parse_errors + (list(self.checked.errors) if self.checked else [])

    @property
    def warnings(self) -> list[Diagnostic]:
        return list(self.checked.warnings) if self.checked else []

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, object]:
        """The ``--json`` form; past :data:`~cnnspec.errors.MAX_SHOWN_PER_SPEC` errors,
        ``errors_not_shown`` counts the rest."""
        if self.checked is not None:
            out = self.checked.to_dict()
            if self.parse_errors:
                out["errors"] = [d.to_dict() for d in self.parse_errors] + list(out["errors"])  # type: ignore[call-overload]
                out["valid"] = False
        else:
            out = {} if self.name is None else {"name": self.name}
            out.update(valid=False, warnings=[], errors=[d.to_dict() for d in self.parse_errors])
        errors = cast("list[object]", out["errors"])
        if len(errors) > MAX_SHOWN_PER_SPEC:
            out["errors"] = errors[:MAX_SHOWN_PER_SPEC]
            out["errors_not_shown"] = len(errors) - MAX_SHOWN_PER_SPEC
        return out


def check_source(
    text: str,
    origin: str = "<string>",
    input_shape: Shape | str | None = None,
    classes: int | None = None,
) -> list[SpecResult]:
    """Parse and check every spec of ``text``; never raises for a bad spec.

    Variants in braces (``C: {16,32}n``) are expanded: one result each.
    """
    from cnnspec.notation.variants import expand_results

    parsed = expand_results(text, origin)
    results: list[SpecResult] = []
    if parsed.errors:
        results.append(SpecResult(name=None, source=text, parse_errors=parsed.errors))
    for ps in parsed.specs:
        if ps.spec is None:
            results.append(SpecResult(name=ps.name, source=text, parse_errors=ps.errors))
        else:
            results.append(SpecResult(name=ps.name, source=text, checked=check(ps.spec, input_shape, classes)))
    return results


def read_text(path: str) -> tuple[str, str]:
    """Read a spec source: a path, or ``-`` for standard input. Returns (text, origin)."""
    # Bytes, decoded strictly: a file saved "with BOM" by an editor is still
    # UTF-8 (utf-8-sig drops the mark), anything else is not a spec.
    if path == "-":
        import sys

        return sys.stdin.buffer.read().decode("utf-8-sig"), "<stdin>"
    return Path(path).read_bytes().decode("utf-8-sig"), path
