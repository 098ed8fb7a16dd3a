"""Text -> :class:`~cnnspec.notation.ir.Spec`: sections -> a spec, files -> specs.

:mod:`~cnnspec.notation.grammar` splits a spec into sections of whole tokens and
:mod:`~cnnspec.notation.items` turns each token into an IR node; this module
checks the sections (known, in order, once each), splits a file into its named
specs, and offers ``parse``, ``parse_file`` and ``load``.  Every error of a spec
is collected with the exact span of the token at fault.  No lark object leaves
the notation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lark.exceptions import LarkError

from cnnspec.errors import Diagnostic, SpecError
from cnnspec.notation.grammar import Section, parse_sections
from cnnspec.notation.ir import Span, Spec, SpecFile
from cnnspec.notation.items import (
    brackets_outside_c,
    check_pooling,
    implied_pools,
    parse_augment,
    parse_conv,
    parse_dense,
    parse_head,
    parse_input,
    parse_rate,
)
from cnnspec.notation.tokens import ErrorSink, span_of
from cnnspec.notation.vocabulary import (
    MAX_ITEMS_PER_FILE,
    MAX_ITEMS_PER_SPEC,
    MAX_SPECS_PER_FILE,
    NAME_RE,
    NAMED_LINE,
    SECTION_NAMES,
    SECTION_ORDER,
)

__all__ = [
    "ParsedFile",
    "ParsedSpec",
    "implied_pools",
    "load",
    "parse",
    "parse_file",
    "parse_file_results",
    "parse_rate",
]

#: Whitespace that separates nothing in the grammar: a no-break space pasted
#: from a document, U+2028, a vertical tab...
_ODD_SPACE = re.compile(r"[^\S \t\n\r\f]")

# --------------------------------------------------------------------------
# Specs and files


def _odd_spaces(text: str, sink: ErrorSink) -> None:
    """Name each odd space (E002); the caller then reads it as a space, so that
    every other error of the spec is still found (lark alone stops at the first)."""
    line, line_start = 1, 0
    scanned = 0
    for m in _ODD_SPACE.finditer(text):
        # Count newlines from the last match only: a spec full of odd spaces stays linear.
        newlines = text.count("\n", scanned, m.start())
        if newlines:
            line += newlines
            line_start = text.rfind("\n", scanned, m.start()) + 1
        scanned = m.start()
        char = m.group()
        sink.error(
            "E002",
            f"unexpected character U+{ord(char):04X} ({unicodedata.name(char, 'control character').lower()}): "
            "items are separated by spaces, tabs or newlines",
            Span(line=line, column=m.start() - line_start + 1),
            "replace it with a plain space",
        )


def _strays(strays: list[Any], sink: ErrorSink) -> None:
    for tok in strays:
        sink.error(
            "E100",
            f"item '{tok}' comes before any section header",
            span_of(tok),
            f"start the section with its header, e.g. C: {tok}",
        )


def _sections_in_order(sections: list[Section], sink: ErrorSink) -> list[Section]:
    """The sections that can be read: known, written once, not empty (E102-E106).

    A section out of order (E105) is reported and still read, so its items get
    their own errors too.
    """
    readable: list[Section] = []
    seen: dict[str, Section] = {}
    last_index = -1
    for sec in sections:
        header = str(sec.header)
        hspan = span_of(sec.header)
        if sec.letter == "?":
            letter = header[:-1]
            if letter.upper() in SECTION_NAMES and len(letter) == 1:
                sink.error(
                    "E102", f"section headers are uppercase: received '{header}'", hspan, f"write {letter.upper()}:"
                )
            else:
                sink.error("E103", f"unknown section '{header}': expected one of I: A: C: D: O:", hspan, None)
            continue
        if sec.letter in seen:
            earlier = seen[sec.letter].header
            sink.error(
                "E104",
                f"section {header} repeated (first at line {earlier.line}, column {earlier.column})",
                hspan,
                f"merge the items into the first {header}",
            )
            continue
        index = SECTION_ORDER.index(sec.letter)
        if index < last_index:
            sink.error(
                "E105",
                f"section {header} out of order: sections come in the order I: A: C: D: O:",
                hspan,
                f"move {header} before the sections that follow it in that order",
            )
        last_index = max(last_index, index)
        seen[sec.letter] = sec
        if not sec.items:
            sink.error("E106", f"section {header} is empty: a written section holds at least one item", hspan, None)
            continue
        readable.append(sec)
    return readable


#: Section letter -> (Spec field, reader of the section's items).
_SECTION_READERS: dict[str, tuple[str, Callable[[Section, ErrorSink], Any]]] = {
    "I": ("input", parse_input),
    "A": ("augment", lambda sec, sink: tuple(parse_augment(sec, sink))),
    "C": ("conv", lambda sec, sink: tuple(check_pooling(parse_conv(sec.items, sink), sink))),
    "D": ("dense", lambda sec, sink: tuple(parse_dense(sec.items, sink))),
    "O": ("head", parse_head),
}


def _needs_body(sections: list[Section], sink: ErrorSink) -> None:
    """E107: a spec without C: and D:."""
    letters = {sec.letter for sec in sections}
    # A miscased `c:` or `d:` already has its own error (E102); saying that
    # the spec has no C: or D: as well would only repeat it.
    miscased = any(sec.letter == "?" and str(sec.header)[:-1] in ("c", "d") for sec in sections)
    if sections and "C" not in letters and "D" not in letters and not miscased:
        sink.error(
            "E107",
            "a spec needs a C: or a D: section, received neither",
            span_of(sections[0].header),
            "add the layers, e.g. C: 16 32 D: 64R",
        )


_WORD = re.compile(r"#[^\n]*|[^\s#]+")


def count_words(text: str, limit: int) -> tuple[int, int | None]:
    """How many words (items and headers, comments left out) ``text`` holds, counting
    at most ``limit + 1``, and the offset of the first word over ``limit`` (None: none)."""
    n = 0
    for m in _WORD.finditer(text):
        if m.group().startswith("#"):
            continue
        n += 1
        if n > limit:
            return n, m.start()
    return n, None


def _position(text: str, offset: int) -> Span:
    line = text.count("\n", 0, offset) + 1
    return Span(line=line, column=offset - text.rfind("\n", 0, offset))


def _parse_one(text: str, origin: str, name: str | None) -> tuple[Spec | None, list[Diagnostic]]:
    sink = ErrorSink(origin, name)
    _, over = count_words(text, MAX_ITEMS_PER_SPEC)
    if over is not None:  # lark and the IR would take seconds: refuse before parsing
        sink.error("E108", f"the spec holds more than {MAX_ITEMS_PER_SPEC:,} items and headers; this is the first "
                   "one over", _position(text, over), "split the network into several specs")  # fmt: skip
        return None, sink.errors
    _odd_spaces(text, sink)
    try:
        strays, sections = parse_sections(_ODD_SPACE.sub(" ", text))
    except LarkError as exc:  # the catch-all terminal makes this unreachable in practice
        line = getattr(exc, "line", 1) or 1
        column = getattr(exc, "column", 1) or 1
        sink.error("E001", f"cannot parse spec: {exc}", Span(line=line, column=column))
        return None, sink.errors
    _strays(strays, sink)
    if not sections and not strays:
        # Every error names a line and column: the spec's first line (a named
        # spec's chunk starts with one newline per line before it).
        first = Span(line=len(text) - len(text.lstrip("\n")) + 1, column=1)
        sink.error("E101", "empty spec: expected sections such as 'C: 16 32 D: 64R'", first, None)
        return None, sink.errors
    fields: dict[str, Any] = {}
    for sec in _sections_in_order(sections, sink):
        key, read = _SECTION_READERS[sec.letter]
        if sec.letter != "C" and any(t.type in ("LBRACK", "RBRACK") for t in sec.items):
            sec.items = brackets_outside_c(sec, sink)  # E146
            if not sec.items:
                continue
        fields[key] = read(sec, sink)
    _needs_body(sections, sink)
    if sink.errors:
        return None, sink.errors
    return Spec(name=name, origin=origin, source=text, **fields), []


@dataclass(frozen=True)
class ParsedSpec:
    """One spec of a file with its diagnostics (``spec`` is None when invalid)."""

    name: str | None
    spec: Spec | None
    errors: list[Diagnostic]
    line: int


@dataclass(frozen=True)
class ParsedFile:
    """Every spec of a text with its own errors: the collecting form.

    :meth:`spec_file` is the one switch to the raising form, so that
    ``parse_file`` and ``expand_file`` (and any later reader) raise alike,
    as sqlglot's ``ErrorLevel`` decides in one place.
    """

    origin: str
    source: str
    specs: list[ParsedSpec]
    #: Errors that belong to the file rather than one spec (names).
    errors: list[Diagnostic]

    @property
    def all_errors(self) -> list[Diagnostic]:
        return self.errors + [d for s in self.specs for d in s.errors]

    def spec_file(self) -> SpecFile:
        """The :class:`SpecFile`; :class:`SpecError` with every error when there is one."""
        if self.all_errors:
            raise SpecError(self.all_errors, self.source)
        return SpecFile(origin=self.origin, specs=tuple(s.spec for s in self.specs if s.spec is not None))


def _chunk(lines: list[str], i: int, end: int) -> str:
    """The text of the named spec on lines ``i`` (0-based, its ``name =`` line) to ``end``:
    the name blanked out and one newline per line before, so that lark sees the
    spec at its true lines and columns."""
    m = NAMED_LINE.match(lines[i])
    assert m is not None
    return "\n" * i + "\n".join([" " * m.end() + lines[i][m.end() :], *lines[i + 1 : end]])


def parse_variant(lines: list[str], first: int, last: int, name: str | None, origin: str) -> ParsedSpec | None:
    """Parse one variant of a spec: ``lines`` is the whole file with the braces of
    the spec on lines ``first``..``last`` (1-based) replaced by one alternative.

    None when the alternative changed how the file splits into specs (``9{,=}``
    makes a name line, ``{m =,}`` removes one): the caller reports it.
    """
    body = range(first - 1 if name is None else first, last)
    if any(NAMED_LINE.match(lines[j]) for j in body):
        return None
    if name is None:
        spec, errs = _parse_one("\n".join(lines[first - 1 : last]), origin, None)
        return ParsedSpec(None, spec, errs, first)
    m = NAMED_LINE.match(lines[first - 1])
    if m is None or m["name"] != name:
        return None
    spec, errs = _parse_one(_chunk(lines, first - 1, last), origin, name)
    if spec is not None:
        spec = spec.model_copy(update={"first_line": first})
    return ParsedSpec(name, spec, errs, first)


def _text_before_names(lines: list[str], first: int) -> tuple[int, int, int] | None:
    """Line, column and length of the first text (not a comment) before the first named spec."""
    for j, line in enumerate(lines[:first]):
        body = line.split("#", 1)[0]
        if body.strip():
            return j + 1, len(body) - len(body.lstrip()) + 1, len(body.strip())
    return None


def parse_file_results(text: str, origin: str = "<string>") -> ParsedFile:
    """Parse a ``.cnn`` file without raising: every spec with its own errors.

    Named specs keep their file positions, so every caret points into the
    file as written.
    """
    lines = text.splitlines()
    starts: list[tuple[int, str, int]] = []  # (line index, name, column of name)
    file_errors: list[Diagnostic] = []
    for i, line in enumerate(lines):
        m = NAMED_LINE.match(line)
        if m:
            starts.append((i, m["name"], len(m["indent"]) + 1))
    if not starts:
        spec, errs = _parse_one(text, origin, None)
        return ParsedFile(origin, text, [ParsedSpec(None, spec, errs, 1)], [])

    def err(code: str, msg: str, line: int, col: int, length: int, hint: str | None = None) -> None:
        file_errors.append(
            Diagnostic(
                code=code, message=msg, span=Span(line=line, column=col, length=length), hint=hint, origin=origin
            )
        )

    stray = _text_before_names(lines, starts[0][0])
    if stray is not None:
        message = "named and unnamed specs in one file: this text belongs to no name"
        err("E301", message, *stray, "give every spec a name, as in 'm1 = C: 16 32'")
    results: list[ParsedSpec] = []
    seen: dict[str, int] = {}
    budget = MAX_ITEMS_PER_FILE
    if len(starts) > MAX_SPECS_PER_FILE:
        i, name, col = starts[MAX_SPECS_PER_FILE]
        err("E305", f"the file holds {len(starts):,} specs, more than the {MAX_SPECS_PER_FILE:,} allowed; this is "
            f"spec {MAX_SPECS_PER_FILE + 1:,}", i + 1, col, len(name), "split the file")  # fmt: skip
        starts = starts[:MAX_SPECS_PER_FILE]
    for k, (i, name, col) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(lines)
        chunk = _chunk(lines, i, end)
        if not NAME_RE.fullmatch(name):
            err("E302", f"malformed spec name '{name}': expected letters, digits, _ . -, not starting with a digit",
                i + 1, col, len(name))  # fmt: skip
            continue
        if name in seen:
            err("E303", f"spec name '{name}' repeated (first at line {seen[name]})", i + 1, col, len(name),
                "names are unique within a file")  # fmt: skip
            continue
        seen[name] = i + 1
        words, _ = count_words(chunk, budget)
        budget -= words
        if budget < 0:
            err("E306", f"the specs of the file hold more than {MAX_ITEMS_PER_FILE:,} items and headers; spec "
                f"'{name}' goes over", i + 1, col, len(name), "split the file")  # fmt: skip
            break
        spec, errs = _parse_one(chunk, origin, name)
        if spec is not None:
            spec = spec.model_copy(update={"source": text, "first_line": i + 1})
        results.append(ParsedSpec(name, spec, errs, i + 1))
    return ParsedFile(origin, text, results, file_errors)


def parse_file(text: str, origin: str = "<string>") -> SpecFile:
    """Parse a whole ``.cnn`` file; raise :class:`SpecError` with every error."""
    return parse_file_results(text, origin).spec_file()


def parse(text: str, origin: str = "<string>") -> Spec:
    """Parse one spec; raise :class:`SpecError` listing every error.

    >>> spec = parse("C: 16n 16n d¼ 32n 32n d¼ D: 16R")
    >>> [i.kind for i in spec.conv][:4]
    ['conv', 'conv', 'pool', 'dropout']
    """
    parsed = parse_file(text, origin)
    if len(parsed.specs) != 1:
        names = ", ".join(s.name or "?" for s in parsed.specs)
        raise SpecError(
            [
                Diagnostic(
                    code="E304",
                    message=f"expected one spec, the text holds {len(parsed.specs)}: {names}",
                    origin=origin,
                    hint="use parse_file() or name one spec",
                )
            ],
            text,
        )
    return parsed.specs[0]


def load(path: str | Path) -> SpecFile:
    """Read and parse a ``.cnn`` file (all its specs) as ``cnnspec check`` reads it.

    Strict UTF-8; a byte-order mark (an editor's "UTF-8 with BOM") is dropped.
    Returns a :class:`SpecFile`: ``load(p).specs`` is the tuple of specs and
    ``load(p)["name"]`` one named spec.
    """
    p = Path(path)
    return parse_file(p.read_bytes().decode("utf-8-sig"), str(p))
