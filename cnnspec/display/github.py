"""Diagnostics as GitHub Actions workflow commands (``cnnspec check --format github``).

One line per error or warning, and a ``::notice`` per note of the checker; the runner turns
each into an annotation on the file, at the token::

    ::error file=model.cnn,line=1,col=12,endColumn=15,title=E201::unknown modifier 'q' in '16q'%0Ahint: ...

``col`` is the token's first column and ``endColumn`` the column just past it (1-based, as
ruff and ESLint write them); a diagnostic without a position gets only the file.  Values are
escaped as the runner reads them: ``%``, CR and LF everywhere, ``:`` and ``,`` in properties.
"""

from __future__ import annotations

from collections.abc import Iterable

from cnnspec.errors import Diagnostic
from cnnspec.network.sources import SpecResult
from cnnspec.notation.ir import Block, Span

#: Origins that name no file: the annotation then has no ``file=``.
NO_FILE = frozenset({"<string>", "<stdin>", "<markdown>"})


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(diag: Diagnostic) -> str:
    """One diagnostic as a ``::error`` or ``::warning`` command.

    >>> from cnnspec.notation.ir import Span
    >>> d = Diagnostic(code="E201", message="unknown 'q'", span=Span(line=1, column=5, length=3), origin="a.cnn")
    >>> workflow_command(d)
    "::error file=a.cnn,line=1,col=5,endColumn=8,title=E201::unknown 'q'"
    """
    message = diag.message + (f" (spec {diag.spec})" if diag.spec else "")
    if diag.hint:
        message += f"\nhint: {diag.hint}"
    return _command(diag.severity, diag.origin, diag.span, diag.code, message)


def _command(kind: str, origin: str, span: Span | None, title: str, message: str) -> str:
    props = []
    if origin not in NO_FILE:
        props.append(f"file={_escape_property(origin)}")
    if span is not None:
        props += [f"line={span.line}", f"col={span.column}", f"endColumn={span.column + max(span.length, 1)}"]
    props.append(f"title={_escape_property(title)}")
    return f"::{kind} {','.join(props)}::{_escape_data(message)}"


def notice_commands(res: SpecResult) -> list[str]:
    """The checker's notes of a spec (``no implied pools: the section holds a residual block``)
    as ``::notice`` commands, at the spec's first residual block."""
    checked = res.checked
    if checked is None or not checked.notes:
        return []
    spec = checked.spec
    block = next((item for item in spec.conv or () if isinstance(item, Block)), None)
    span = block.span if block is not None else None
    suffix = f" (spec {res.name})" if res.name else ""
    return [_command("notice", spec.origin, span, "note", note + suffix) for note in checked.notes]


def workflow_commands(results: Iterable[SpecResult]) -> list[str]:
    """Every error and warning of the results, errors of a spec first, in file order;
    then the spec's notes as notices."""
    return [
        line
        for res in results
        for line in [*(workflow_command(d) for d in [*res.errors, *res.warnings]), *notice_commands(res)]
    ]
