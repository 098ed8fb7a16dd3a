"""What the server answers, as pure functions of an :class:`Analysis`: no protocol types here.

Positions are 0-based lines and 0-based columns counted in code points (a tab is one column,
as the parser counts it); :mod:`cnnspec.lsp.server` turns them into the client's units.  A
:class:`Span` of the IR is 1-based, so ``span.line - 1`` and ``span.column - 1`` appear below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cnnspec.errors import Diagnostic
from cnnspec.lsp.analysis import Analysis, WrittenSpec
from cnnspec.network import shapes
from cnnspec.network.checker import CheckedSpec, Layer
from cnnspec.network.sources import SpecResult
from cnnspec.notation.vocabulary import NAMED_LINE

#: (start line, start column, end line, end column), 0-based, in code points.
Range = tuple[int, int, int, int]

#: Variants shown in one hover; a spec with more says how many were left out.
MAX_HOVER_VARIANTS = 4
#: Different shapes shown in one inlay hint (variants), then an ellipsis.
MAX_HINT_SHAPES = 3

_HEADER = re.compile(r"[A-Za-z]:")


@dataclass(frozen=True)
class Word:
    """The whitespace-delimited token under a position (comments excluded)."""

    text: str
    line: int  # 0-based
    start: int
    end: int


def lines_of(text: str) -> list[str]:
    """The document's lines as the protocol counts them (``\\n``, ``\\r\\n``)."""
    return [line.rstrip("\r") for line in text.split("\n")]


def word_at(lines: list[str], line: int, column: int) -> Word | None:
    """The token that holds (or ends at) ``column`` on ``line``, outside a comment."""
    if not 0 <= line < len(lines):
        return None
    text = lines[line]
    code = text.split("#", 1)[0]
    if column > len(code):
        return None
    start = column
    while start > 0 and not code[start - 1].isspace():
        start -= 1
    end = column
    while end < len(code) and not code[end].isspace():
        end += 1
    if start == end:
        return None
    return Word(code[start:end], line, start, end)


def span_range(lines: list[str], diag: Diagnostic, spec: WrittenSpec | None) -> Range:
    """Where a diagnostic is shown: its span, clamped to the text; a spec's first line without one."""
    last = max(len(lines) - 1, 0)
    if diag.span is None:
        line = min((spec.first - 1) if spec else 0, last)
        return (line, 0, line, len(lines[line]) if lines else 0)
    line = min(max(diag.span.line - 1, 0), last)
    width = len(lines[line]) if lines else 0
    start = min(max(diag.span.column - 1, 0), width)
    end = min(start + max(diag.span.length, 1), max(width, start))
    return (line, start, line, end)


# --------------------------------------------------------------------------
# Numbers


def shape_text(shape: tuple[int, ...] | None) -> str:
    """The checker's shape text, or ``?`` where there is no shape yet."""
    return shapes.shape_text(shape) if shape else "?"


def _count(n: int) -> str:
    return f"{n:,}"


# --------------------------------------------------------------------------
# Hover


def _layers_at(checked: CheckedSpec, line: int, column: int) -> list[Layer]:
    """The layers made by the item under (1-based line, 1-based column)."""
    out = []
    for layer in checked.layers:
        span = layer.span
        if span is not None and span.line == line and span.column <= column < span.column + max(span.length, 1):
            out.append(layer)
    return out


def _layer_table(layers: list[Layer]) -> list[str]:
    rows = ["| layer | output | params | MACs |", "| --- | --- | ---: | ---: |"]
    for layer in layers:
        what = f"{layer.name} · {layer.kind}" + (" (implied)" if not layer.text else "")
        rows.append(f"| {what} | {shape_text(layer.output_shape)} | {_count(layer.params)} | {_count(layer.macs)} |")
    return rows


def _totals(res: SpecResult) -> list[str]:
    checked = res.checked
    if checked is None or not checked.layers:
        errors = len(res.errors)
        return [f"not checked: {errors} error{'s' * (errors != 1)}"]
    out = [
        f"input {shape_text(checked.input_shape)} → output {shape_text(checked.output_shape)}, "
        f"{len(checked.layers)} layers",
        f"parameters **{_count(checked.total_params)}** ({_count(checked.trainable_params)} trainable, "
        f"{_count(checked.non_trainable_params)} non-trainable)",
        f"MACs {shapes.human(checked.macs)} ({_count(checked.macs)})",
    ]
    if res.errors:
        out.append(f"invalid: {len(res.errors)} error{'s' * (len(res.errors) != 1)}")
    elif checked.head_from_data:
        out.append("no O: the head will come from the data's classes")
    return out


def _on_totals(lines: list[str], word: Word) -> bool:
    """True on a section header (``C:``) or on the name of a named spec (``m26 =``)."""
    match = NAMED_LINE.match(lines[word.line])
    if match and word.start < match.end("name"):
        return True
    head = _HEADER.match(word.text)
    return head is not None


def hover(analysis: Analysis, line: int, column: int) -> tuple[str, Range] | None:
    """Markdown for the item under the cursor (its layers) or a header or name (the totals)."""
    lines = lines_of(analysis.text)
    word = word_at(lines, line, column)
    spec = analysis.spec_at(line + 1)
    if word is None or spec is None or not spec.results:
        return None
    where = (word.line, word.start, word.line, word.end)
    shown = spec.results[:MAX_HOVER_VARIANTS]
    more = len(spec.results) - len(shown)
    parts: list[str] = []
    touching = _HEADER.match(word.text) and len(word.text) > 2 and column >= word.start + 2  # on the 16 of C:16
    if _on_totals(lines, word) and not touching:
        for res in shown:
            parts.append(f"**{res.name or 'spec'}**\n\n" + "  \n".join(_totals(res)))
    else:
        for res in shown:
            if res.checked is None:
                continue
            layers = _layers_at(res.checked, line + 1, column + 1)
            if not layers:
                continue
            title = f"`{layers[0].text or word.text}`" + (f" in `{res.name}`" if spec.variants else "")
            parts.append(f"**{title}** → {shape_text(layers[-1].output_shape)}\n\n" + "\n".join(_layer_table(layers)))
    if not parts:
        return None
    if more > 0:
        parts.append(f"… and {more} more variant{'s' * (more != 1)}")
    return "\n\n---\n\n".join(parts), where


# --------------------------------------------------------------------------
# Formatting


def _canonical(text: str) -> str | None:
    """The canonical form of a ``.cnn`` text (comments kept), or None when it cannot be formatted."""
    from cnnspec.errors import SpecError
    from cnnspec.notation.formatter import format_source
    from cnnspec.notation.parser import parse_file
    from cnnspec.notation.variants import has_variants

    if has_variants(text):  # as `cnnspec fmt`: variants are formatted only once expanded
        return None
    try:
        return format_source(text, parse_file(text))
    except SpecError:
        return None


def _replace_lines(lines: list[str], first: int, last: int, text: str) -> tuple[Range, str] | None:
    """An edit that puts ``text`` in place of 0-based lines ``first``..``last``, if it changes them."""
    old = lines[first : last + 1]
    new = text.rstrip("\n")
    if "\n".join(old) == new:
        return None
    return (first, 0, last, len(lines[last])), new


def formatting(analysis: Analysis) -> list[tuple[Range, str]]:
    """Edits that give the canonical form: the whole ``.cnn`` file, or each ``cnn`` block of Markdown."""
    lines = lines_of(analysis.text)
    if not analysis.markdown:
        canonical = _canonical(analysis.text)
        if canonical is None:
            return []
        last = len(lines) - 1
        while last > 0 and not lines[last].strip():
            last -= 1
        edit = _replace_lines(lines, 0, last, canonical)
        return [edit] if edit else []
    from cnnspec.network.markdown import find_blocks

    edits = []
    for block in find_blocks(analysis.text):
        if block.text.strip():
            canonical = _canonical(block.text)
            edit = _replace_lines(lines, block.first - 1, block.last - 1, canonical) if canonical else None
            if edit:
                edits.append(edit)
    return edits


def range_formatting(analysis: Analysis, first: int, last: int) -> list[tuple[Range, str]]:
    """Edits that give the canonical form of each spec between 0-based lines ``first`` and ``last``."""
    lines = lines_of(analysis.text)
    edits = []
    for spec in analysis.specs:
        if spec.last - 1 < first or spec.first - 1 > last:
            continue
        top, bottom = spec.first - 1, min(spec.last - 1, len(lines) - 1)
        while bottom > top and not lines[bottom].split("#", 1)[0].strip() and not lines[bottom].strip():
            bottom -= 1  # blank lines after a spec stay where they are
        canonical = _canonical("\n".join(lines[top : bottom + 1]) + "\n")
        edit = _replace_lines(lines, top, bottom, canonical) if canonical else None
        if edit:
            edits.append(edit)
    return edits


# --------------------------------------------------------------------------
# Inlay hints


@dataclass(frozen=True)
class Hint:
    """An inlay hint: ``label`` shown after (0-based) ``line``, ``column``."""

    line: int
    column: int
    label: str
    kind: str  # "shape" (after an item) or "params" (after a spec)


def _item_shape(layers: list[Layer]) -> str:
    """The output of an item's own layers, then that of the implied pool that closes its group."""
    own = [layer for layer in layers if layer.text]
    pooled = [layer for layer in layers if not layer.text]
    text = shape_text((own or layers)[-1].output_shape)
    return f"{text}, pool {shape_text(pooled[-1].output_shape)}" if own and pooled else text


def _joined(labels: list[str]) -> str:
    distinct = list(dict.fromkeys(labels))
    shown = " | ".join(distinct[:MAX_HINT_SHAPES])
    return shown + (" | …" if len(distinct) > MAX_HINT_SHAPES else "")


def inlay_hints(analysis: Analysis, first: int, last: int, shapes: bool = True, params: bool = True) -> list[Hint]:
    """The output shape after each item and the parameter total after each spec, between 0-based
    lines ``first`` and ``last``.  Variants that disagree show their values side by side (``a | b``)."""
    out: list[Hint] = []
    for spec in analysis.specs:
        if spec.last - 1 < first or spec.first - 1 > last:
            continue
        checked = [r.checked for r in spec.results if r.checked is not None and r.checked.layers]
        if not checked:
            continue
        if shapes:
            ends: dict[tuple[int, int], list[str]] = {}
            for c in checked:
                made: dict[tuple[int, int], list[Layer]] = {}
                for layer in c.layers:
                    span = layer.span
                    if span is not None and span.line >= spec.first:
                        made.setdefault((span.line - 1, span.column - 1 + span.length), []).append(layer)
                for where, layers in made.items():
                    ends.setdefault(where, []).append(_item_shape(layers))
            for (line, column), labels in sorted(ends.items()):
                if first <= line <= last:
                    out.append(Hint(line, column, _joined(labels), "shape"))
        if params and all(not r.errors for r in spec.results):
            spans = [layer.span for c in checked for layer in c.layers if layer.span is not None]
            end = max(((s.line - 1, s.column - 1 + s.length) for s in spans if s.line >= spec.first), default=None)
            if end is not None and first <= end[0] <= last:
                totals = _joined([f"{_count(c.total_params)} params" for c in checked])
                out.append(Hint(end[0], end[1], totals, "params"))
    return out
