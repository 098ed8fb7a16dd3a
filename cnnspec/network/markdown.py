"""Specs inside Markdown: every fenced code block whose language is ``cnn``.

::

    ```cnn
    m26 = C: 16n 16n d¼ 32n 32n d¼ D: 16R
    ```

:func:`check_markdown` checks each block as a ``.cnn`` text of its own
(named specs and variants included) and reports every diagnostic at the
*document's* line and column: the block's lines are checked in place, with
the lines around them blanked, so no position needs translating.

Fences follow CommonMark: three or more backticks or tildes, indented by at
most three spaces; the info string's first word is the language (``cnn``,
or ``{cnn}`` as MyST writes it); the block ends at a closing fence of the
same character, at least as long, or at the end of the document.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from cnnspec.errors import Diagnostic
from cnnspec.network.shapes import Shape
from cnnspec.network.sources import SpecResult, check_source
from cnnspec.notation.ir import Span

#: Info-string words that mark a spec block.
LANGUAGES = frozenset({"cnn", "cnnspec", "{cnn}"})

_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True)
class Block:
    """One fenced ``cnn`` block: ``first``/``last`` are 1-based document lines of its content."""

    fence_line: int
    first: int
    last: int  # first - 1 when the block is empty
    text: str  # the content lines, as in the document


def find_blocks(document: str) -> list[Block]:
    """Every fenced block of the document whose language is ``cnn``."""
    lines = document.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _OPEN.match(lines[i])
        if not m or (m["fence"][0] == "`" and "`" in m["info"]):
            i += 1
            continue
        fence = m["fence"]
        close = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        words = m["info"].split()
        if words and words[0].lower() in LANGUAGES:
            blocks.append(Block(i + 1, i + 2, j, "\n".join(lines[i + 1 : j])))
        i = j + 1
    return blocks


def check_markdown(
    document: str,
    origin: str = "<markdown>",
    input_shape: Shape | str | None = None,
    classes: int | None = None,
) -> list[SpecResult]:
    """Check every ``cnn`` block of a Markdown document.

    Results come in document order; an unnamed spec is named after its
    place (``report.md:12``, the block's first line).  Every diagnostic's
    line and column are the document's own.
    """
    results: list[SpecResult] = []
    for block in find_blocks(document):
        label = f"{origin}:{block.first}"
        if not block.text.strip():
            empty = Diagnostic(
                code="E701",
                message="empty cnn block: expected a spec such as 'C: 16 32 D: 64R'",
                span=Span(line=block.fence_line, column=1, length=3),
                hint="write the spec between the fences, or remove the block",
                origin=origin,
            )
            results.append(SpecResult(name=label, source=document, parse_errors=[empty]))
            continue
        # Blank lines before the block keep its lines at their document numbers.
        padded = "\n" * (block.first - 1) + block.text + "\n"
        for res in check_source(padded, origin, input_shape, classes):
            results.append(dataclasses.replace(res, name=res.name or label, source=document))
    return results
