"""Variants: alternatives in braces, expanded to every combination.

``C: {16,32}n {16,32}n d¼ D: {8,16}R`` stands for 2 x 2 x 2 = 8 specs.  The
expansion works on the *text*, before parsing, and keeps every position:

* each brace group is replaced by one alternative written at the column of
  its ``{`` and padded with blanks to the group's width, so every token that
  follows stays on its own line and column;
* a per-line column map sends every diagnostic of a variant back to the
  original text (a caret under a whole token that came out of braces covers
  the braces too), so ``cnnspec check`` points at what the user wrote.

Names: a named spec ``m = ...`` expands to ``m-<alt>-<alt>...``, one part per
brace group, each part the chosen alternative made into name characters
(``¼`` -> ``1_4``, ``25%`` -> ``25pct``, an empty alternative -> ``none``).
Where two variants would get the same name, the spec's variants are numbered
``m-1``, ``m-2``, ... in expansion order instead.  An unnamed spec uses the
base name given by the caller (``spec`` by default).  The first brace group
varies slowest, as in :func:`itertools.product`.

>>> [s.name for s in expand_file("C: {16,32}n D: {8,16}R").specs]
['spec-16-8', 'spec-16-16', 'spec-32-8', 'spec-32-16']
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from dataclasses import dataclass, field

from cnnspec.errors import Diagnostic
from cnnspec.notation.ir import Block, Node, Span, Spec, SpecFile
from cnnspec.notation.parser import ParsedFile, ParsedSpec, count_words, parse_file_results, parse_variant
from cnnspec.notation.vocabulary import (
    MAX_ITEMS_PER_FILE,
    MAX_SPECS_PER_FILE,
    NAMED_LINE,
    UNICODE_FRACTIONS,
)

#: Most variants one spec may expand to: a typo such as ``{8,16,...}`` in
#: five places should not silently queue thousands of trainings.
MAX_VARIANTS = 1000

#: Base name of the variants of an unnamed spec.
DEFAULT_BASE = "spec"


@dataclass(frozen=True)
class Alternative:
    text: str  # stripped
    col: int  # 0-based offset of its first character in the line (of '{' +1 when empty)


@dataclass(frozen=True)
class Group:
    """One ``{a,b,...}`` on one line (0-based offsets, ``end`` past the ``}``)."""

    line: int  # 1-based
    start: int
    end: int
    alternatives: tuple[Alternative, ...]


@dataclass
class _Scan:
    groups: list[Group] = field(default_factory=list)
    errors: list[tuple[int, Diagnostic]] = field(default_factory=list)  # (line, diagnostic)


def _code_start(line: str) -> int:
    """Where the spec text of a line starts: after ``name =`` on a named line."""
    m = NAMED_LINE.match(line)
    return m.end() if m else 0


def has_variants(text: str) -> bool:
    """True when ``text`` holds a brace outside comments and names."""
    for line in text.splitlines():
        code = line[_code_start(line) :].split("#", 1)[0]
        if "{" in code or "}" in code:
            return True
    return False


def _scan(text: str, origin: str) -> _Scan:
    out = _Scan()

    def error(code: str, msg: str, line: int, col: int, length: int, hint: str | None = None) -> None:
        span = Span(line=line, column=col + 1, length=max(1, length))
        out.errors.append((line, Diagnostic(code=code, message=msg, span=span, hint=hint, origin=origin)))

    for ln, line in enumerate(text.splitlines(), 1):
        i = _code_start(line)
        while i < len(line):
            ch = line[i]
            if ch == "#":
                break
            if ch == "}":
                error("E603", "'}' without an opening '{'", ln, i, 1, "alternatives are written {16,32}")
                i += 1
                continue
            if ch != "{":
                i += 1
                continue
            close = line.find("}", i + 1)
            inner_end = close if close >= 0 else len(line)
            nested = line.find("{", i + 1, inner_end)
            comment = line.find("#", i + 1, inner_end)
            if nested >= 0:
                error("E602", "braces cannot nest: '{' inside '{...}'", ln, nested, 1,
                      "write every combination as one alternative: {16 32,64 64}")  # fmt: skip
                i = inner_end + 1
                continue
            if close < 0 or comment >= 0:
                error("E601", "'{' is not closed on its line: expected '}'", ln, i, 1,
                      "alternatives stay on one line and hold no comment: {16,32}")  # fmt: skip
                break
            alts: list[Alternative] = []
            pos = i + 1
            for part in line[i + 1 : close].split(","):
                lead = len(part) - len(part.lstrip())
                alts.append(Alternative(part.strip(), pos + lead if part.strip() else pos))
                pos += len(part) + 1
            if len(alts) == 1 and not alts[0].text:
                error("E605", "empty braces: expected alternatives such as {16,32}", ln, i, close - i + 1)
            else:
                seen: set[str] = set()
                dup = next((a for a in alts if a.text in seen or seen.add(a.text)), None)  # type: ignore[func-returns-value]
                if dup is not None:
                    error("E604", f"alternative '{dup.text}' repeated in braces", ln, dup.col, max(1, len(dup.text)),
                          "each alternative once")  # fmt: skip
                else:
                    out.groups.append(Group(ln, i, close + 1, tuple(alts)))
            i = close + 1
    return out


# --------------------------------------------------------------------------
# Names


_NAME_CHARS = re.compile(r"[A-Za-z0-9_.]")
_CHAR_NAMES = {"/": "_", "%": "pct", "=": "", " ": "_", "\t": "_", "[": "", "]": "", "+": ""}


def _name_part(alt: str) -> str:
    if not alt:
        return "none"
    out = []
    for ch in alt:
        if _NAME_CHARS.match(ch):
            out.append(ch)
        elif ch in UNICODE_FRACTIONS:
            f = UNICODE_FRACTIONS[ch]
            out.append(f"{f.numerator}_{f.denominator}")
        else:
            out.append(_CHAR_NAMES.get(ch, "_"))
    return "".join(out) or "x"


def variant_names(base: str, groups: list[Group]) -> list[str]:
    """Names of all combinations, in expansion order (see the module doc)."""
    combos = list(itertools.product(*(g.alternatives for g in groups)))
    readable = [base + "-" + "-".join(_name_part(a.text) for a in combo) for combo in combos]
    if len(set(readable)) == len(readable):
        return readable
    return [f"{base}-{i}" for i in range(1, len(combos) + 1)]


# --------------------------------------------------------------------------
# Substitution with a column map


@dataclass
class _LineMap:
    cols: list[int]  # expanded offset -> original offset
    starts: dict[int, int]  # expanded offset of an alternative's first char -> original '{'
    ends: dict[int, int]  # expanded offset of an alternative's last char -> original '}'


class _Mapper:
    """Sends spans of an expanded variant back to the original text."""

    def __init__(self, maps: dict[int, _LineMap]) -> None:
        self.maps = maps

    def span(self, span: Span | None) -> Span | None:
        if span is None or span.line not in self.maps:
            return span
        m = self.maps[span.line]
        last = len(m.cols) - 1
        s = min(max(span.column - 1, 0), last)
        e = min(max(s + span.length - 1, s), last)
        os_ = m.starts.get(s, m.cols[s])
        oe = m.ends.get(e, m.cols[e])
        if oe < os_:
            oe = os_
        return Span(line=span.line, column=os_ + 1, length=oe - os_ + 1)

    def diagnostic(self, d: Diagnostic, name: str | None) -> Diagnostic:
        return d.replace(span=self.span(d.span), spec=name)

    def node(self, node: Node) -> Node:
        update: dict[str, object] = {"span": self.span(node.span)}
        if isinstance(node, Block):  # its items and its `]+` too
            update["items"] = tuple(self.node(i) for i in node.items)
            update["close"] = self.span(node.close)
        return node.model_copy(update=update)

    def spec(self, spec: Spec, name: str, source: str) -> Spec:
        update: dict[str, object] = {"name": name, "source": source}
        if spec.input is not None:
            update["input"] = self.node(spec.input)
        if spec.head is not None:
            update["head"] = self.node(spec.head)
        for key in ("augment", "conv", "dense"):
            items = getattr(spec, key)
            if items is not None:
                update[key] = tuple(self.node(n) for n in items)
        return spec.model_copy(update=update)


def _substitute(lines: list[str], chosen: list[tuple[Group, Alternative]]) -> tuple[list[str], _Mapper]:
    out = list(lines)
    maps: dict[int, _LineMap] = {}
    by_line: dict[int, list[tuple[Group, Alternative]]] = {}
    for g, a in chosen:
        by_line.setdefault(g.line, []).append((g, a))
    for ln, pairs in by_line.items():
        line = lines[ln - 1]
        at = {g.start: (g, a) for g, a in pairs}
        text: list[str] = []
        m = _LineMap([], {}, {})
        pos = pending = 0
        # The padding that keeps later columns in place goes at the end of
        # the token holding the braces, never inside it: `{16,32}n` -> `16n     `.
        while pos <= len(line):
            if pending and (pos == len(line) or line[pos].isspace() or line[pos] == "#"):
                text.append(" " * pending)
                m.cols.extend([pos - 1] * pending)
                pending = 0
            if pos == len(line):
                break
            if pos in at:
                g, a = at[pos]
                if a.text:
                    m.starts[len(m.cols)] = g.start
                    m.ends[len(m.cols) + len(a.text) - 1] = g.end - 1
                text.append(a.text)
                m.cols.extend(range(a.col, a.col + len(a.text)))
                pending += g.end - g.start - len(a.text)
                pos = g.end
                continue
            text.append(line[pos])
            m.cols.append(pos)
            pos += 1
        out[ln - 1] = "".join(text)
        maps[ln] = m
    return out, _Mapper(maps)


# --------------------------------------------------------------------------
# Public API


@dataclass
class _Expansion:
    """What the expansion of every spec of one file shares."""

    text: str
    origin: str
    base: str
    lines: list[str]
    scan: _Scan
    bounds: list[int]  # first lines of the specs, every named line counted
    taken: set[str]
    specs_left: int = MAX_SPECS_PER_FILE
    items_left: int = MAX_ITEMS_PER_FILE
    # The groups and brace errors of each line: a spec finds its own without
    # scanning the whole file (5,000 specs with braces were quadratic).
    groups_on: dict[int, list[Group]] = field(default_factory=dict)
    errors_on: dict[int, list[Diagnostic]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for g in self.scan.groups:
            self.groups_on.setdefault(g.line, []).append(g)
        for line, d in self.scan.errors:
            self.errors_on.setdefault(line, []).append(d)

    def extent(self, first: int) -> tuple[int, int]:
        later = bisect.bisect_right(self.bounds, first)
        return first, (self.bounds[later] - 1 if later < len(self.bounds) else len(self.lines))

    def error(self, code: str, message: str, group: Group, name: str | None, hint: str) -> Diagnostic:
        span = Span(line=group.line, column=group.start + 1, length=group.end - group.start)
        return Diagnostic(code=code, message=message, span=span, hint=hint, origin=self.origin, spec=name)


def _variant_names(ex: _Expansion, name: str | None, groups: list[Group], count: int) -> list[str] | Diagnostic:
    base_name = name or ex.base
    names = variant_names(base_name, groups)
    clash = [n for n in names if n in ex.taken]
    if clash:
        names = [f"{base_name}-{i}" for i in range(1, count + 1)]
        clash = [n for n in names if n in ex.taken]
    if clash:
        return ex.error("E607", f"variant name '{clash[0]}' is also the name of another spec", groups[0], name,
                        f"rename that spec or '{base_name}'")  # fmt: skip
    return names


def _over_budget(ex: _Expansion, lo: int, hi: int, count: int, group: Group, name: str | None) -> Diagnostic | None:
    """E606 (one spec) or E608 (the whole file): more variants, or more work, than allowed."""
    if count > MAX_VARIANTS:
        return ex.error("E606", f"the braces expand to {count:,} variants, more than the {MAX_VARIANTS:,} allowed",
                        group, name, "split the spec into several, or use fewer alternatives")  # fmt: skip
    words, _ = count_words("\n".join(ex.lines[lo - 1 : hi]), MAX_ITEMS_PER_FILE)
    ex.specs_left -= count
    ex.items_left -= words * count
    if ex.specs_left < 0 or ex.items_left < 0:
        return ex.error("E608", f"with these variants the file holds more than {MAX_SPECS_PER_FILE:,} specs or "
                        f"{MAX_ITEMS_PER_FILE:,} items and headers", group, name,
                        "split the file, or use fewer alternatives")  # fmt: skip
    return None


def _expand_one(ex: _Expansion, ps: ParsedSpec) -> list[ParsedSpec]:
    """The variants of one spec of the file (or the spec itself, or its errors)."""
    lo, hi = ex.extent(ps.line)
    groups = [g for line in range(lo, hi + 1) for g in ex.groups_on.get(line, ())]
    errs = [d for line in range(lo, hi + 1) for d in ex.errors_on.get(line, ())]
    name = ps.name
    if errs:
        return [ParsedSpec(name, None, [d.replace(spec=name) for d in errs], ps.line)]
    if not groups:
        spec = ps.spec.model_copy(update={"source": ex.text}) if ps.spec is not None else None
        return [ParsedSpec(name, spec, ps.errors, ps.line)]
    count = math.prod(len(g.alternatives) for g in groups)
    names = _over_budget(ex, lo, hi, count, groups[0], name) or _variant_names(ex, name, groups, count)
    if isinstance(names, Diagnostic):
        return [ParsedSpec(name, None, [names], ps.line)]
    ex.taken.update(names)
    out: list[ParsedSpec] = []
    for vname, combo in zip(names, itertools.product(*(g.alternatives for g in groups)), strict=True):
        sub, mapper = _substitute(ex.lines, list(zip(groups, combo, strict=True)))
        one = parse_variant(sub, lo, hi, name, ex.origin)
        if one is None:  # `9{,=}`: an alternative that makes or unmakes a `name =` line
            shown = " ".join(f"{{{a.text}}}" for a in combo)
            d = ex.error("E609", f"the alternatives {shown} change where the file's specs begin", groups[0], name,
                         "a name line `name =` cannot come out of braces")  # fmt: skip
            return [ParsedSpec(name, None, [d], ps.line)]
        vspec = mapper.spec(one.spec, vname, ex.text) if one.spec is not None else None
        out.append(ParsedSpec(vname, vspec, [mapper.diagnostic(d, vname) for d in one.errors], ps.line))
    return out


def expand_results(text: str, origin: str = "<string>", base: str = DEFAULT_BASE) -> ParsedFile:
    """Like :func:`cnnspec.notation.parser.parse_file_results`, with variants expanded.

    Every spec holding braces becomes one :class:`ParsedSpec` per
    combination, named as the module doc says; every span and diagnostic
    points into ``text`` as written, and each spec's ``source`` is ``text``.
    A text without braces parses exactly as without this module.
    """
    if not has_variants(text):
        return parse_file_results(text, origin)
    scan = _scan(text, origin)
    lines = text.splitlines()
    # A neutral text (first alternatives) gives the file-level errors and
    # the specs as the parser splits them.
    neutral, _ = _substitute(lines, [(g, g.alternatives[0]) for g in scan.groups])
    trailing = "\n" if text.endswith("\n") else ""
    plain = parse_file_results("\n".join(neutral) + trailing, origin)
    named = any(NAMED_LINE.match(line) for line in lines)
    # Every named line, accepted or not, closes the spec before it.
    bounds = sorted({i + 1 for i, line in enumerate(lines) if NAMED_LINE.match(line)}) if named else [1]
    taken = {ps.name for ps in plain.specs if ps.name is not None}
    ex = _Expansion(text, origin, base, lines, scan, bounds, taken)
    specs = [variant for ps in plain.specs for variant in _expand_one(ex, ps)]
    # Brace errors on lines that belong to no spec (before the first name).
    first = min((ps.line for ps in plain.specs), default=len(lines) + 1)
    stray = [d for line, d in scan.errors if named and line < first]
    return ParsedFile(origin, text, specs, plain.errors + stray)


def expand_file(text: str, origin: str = "<string>", base: str = DEFAULT_BASE) -> SpecFile:
    """Parse a text with variants into a :class:`SpecFile`; raise :class:`SpecError` with every error."""
    return expand_results(text, origin, base).spec_file()
