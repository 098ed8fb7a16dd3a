"""A document's specs, checked, with every result kept where it was written: pure Python.

The language server asks this module what a document holds; it never parses or checks by
itself.  A document is a ``.cnn`` text or a Markdown text with ```` ```cnn ```` blocks.  It
is cut into *regions* — the whole file, one named spec of a multi-spec file, or one Markdown
block — each padded with blank lines so that its positions are the document's own, and each
region is checked by the notation's public functions (:func:`expand_results`,
:func:`check`).  The region's result is cached by its text: typing in one spec of a 50-spec
file checks that spec again and nothing else (the rest comes from the cache), which is what
keeps the server's answer under 20 ms.

The cut changes no result: the file-level errors of a multi-spec file (text outside the
names, a malformed or repeated name) come from parsing a *skeleton* of the file — its names
with empty bodies — and a spec refused by them is left out, as :func:`parse_file_results`
leaves it out.  A file with variants in braces is checked whole (a variant's name must not
clash with any spec of the file).  tests/test_lsp_analysis.py holds every diagnostic equal
to :func:`check_source`'s and :func:`check_markdown`'s.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass

from cnnspec.errors import Diagnostic
from cnnspec.network.checker import check
from cnnspec.network.markdown import check_markdown, find_blocks
from cnnspec.network.sources import SpecResult
from cnnspec.notation.parser import parse_file_results
from cnnspec.notation.variants import expand_results, has_variants
from cnnspec.notation.vocabulary import NAMED_LINE

#: Regions kept in the cache; a region is one spec or one block, so this is generous.
CACHE_SIZE = 2048


@dataclass(frozen=True)
class WrittenSpec:
    """One spec as written: the lines it spans and its check (one result per variant)."""

    name: str | None
    #: 1-based first and last line of the spec's text (comments and blank lines included).
    first: int
    last: int
    results: tuple[SpecResult, ...]

    @property
    def variants(self) -> bool:
        """True when the spec holds braces (its results are its variants)."""
        return len(self.results) > 1 or any(r.name != self.name for r in self.results if self.name)


@dataclass(frozen=True)
class Issue:
    """One diagnostic to show, and the variants it comes from (empty: all of them)."""

    diagnostic: Diagnostic
    spec: WrittenSpec | None
    variants: tuple[str, ...] = ()


@dataclass(frozen=True)
class Analysis:
    """Everything the server knows of one document's text."""

    text: str
    markdown: bool
    specs: tuple[WrittenSpec, ...]
    file_errors: tuple[Diagnostic, ...]

    def spec_at(self, line: int) -> WrittenSpec | None:
        """The spec whose text holds 1-based ``line``."""
        return next((s for s in self.specs if s.first <= line <= s.last), None)

    def issues(self) -> list[Issue]:
        """Every error and warning once: a diagnostic that several variants share is one issue."""
        out = [Issue(d, None) for d in self.file_errors]
        for spec in self.specs:
            seen: dict[tuple[object, ...], list[str]] = {}
            first: dict[tuple[object, ...], Diagnostic] = {}
            for res in spec.results:
                for d in [*res.errors, *res.warnings]:
                    key: tuple[object, ...] = (d.code, d.severity, d.message, d.span, d.hint)
                    first.setdefault(key, d)
                    seen.setdefault(key, []).append(res.name or "")
            for key, d in first.items():
                names = tuple(dict.fromkeys(seen[key]))
                every = len(names) == len(spec.results)
                out.append(Issue(d, spec, () if every or not spec.variants else names))
        return out


class Analyzer:
    """Checks documents, keeping each region's result for the next keystroke."""

    def __init__(self, cache_size: int = CACHE_SIZE) -> None:
        self._cache: OrderedDict[tuple[str, str], tuple[list[WrittenSpec], list[Diagnostic]]] = OrderedDict()
        self._size = cache_size

    def analyse(self, text: str, origin: str = "<string>", markdown: bool = False) -> Analysis:
        """Check every spec of ``text`` (a ``.cnn`` file, or Markdown when ``markdown``)."""
        lines = text.splitlines()
        specs: list[WrittenSpec] = []
        errors: list[Diagnostic] = []
        if markdown:
            for block in find_blocks(text):
                if not block.text.strip():  # the empty-block error, exactly as check_markdown gives it
                    mini = "\n" * (block.fence_line - 1) + "\n".join(lines[block.fence_line - 1 : block.last + 1])
                    res = check_markdown(mini, origin)
                    specs.append(WrittenSpec(None, block.fence_line, block.last, tuple(res)))
                    continue
                padded = "\n" * (block.first - 1) + block.text + "\n"
                found, errs = self._region(padded, origin, block.first, block.last)
                label = f"{origin}:{block.first}"
                for s in found:  # check_markdown names an unnamed spec after its block
                    named = tuple(dataclasses.replace(r, name=r.name or label) for r in s.results)
                    specs.append(dataclasses.replace(s, results=named))
                errors += errs
            return Analysis(text, True, tuple(specs), tuple(errors))
        starts = [i for i, line in enumerate(lines) if NAMED_LINE.match(line)]
        if not starts or has_variants(text):
            found, errs = self._region(text, origin, 1, max(len(lines), 1))
            return Analysis(text, False, tuple(found), tuple(errs))
        # The skeleton: the text before the first name as written, every name with an empty body.
        skeleton = list(lines[: starts[0]]) + [""] * (len(lines) - starts[0])
        for i in starts:
            match = NAMED_LINE.match(lines[i])
            assert match is not None
            skeleton[i] = lines[i][: match.end()]
        plain = parse_file_results("\n".join(skeleton), origin)
        accepted = {ps.line for ps in plain.specs}
        for k, i in enumerate(starts):
            if i + 1 not in accepted:
                continue
            end = starts[k + 1] if k + 1 < len(starts) else len(lines)
            found, errs = self._region("\n" * i + "\n".join(lines[i:end]) + "\n", origin, i + 1, end)
            specs += found
            errors += errs
        return Analysis(text, False, tuple(specs), tuple(plain.errors) + tuple(errors))

    def _region(self, text: str, origin: str, first: int, last: int) -> tuple[list[WrittenSpec], list[Diagnostic]]:
        key = (origin, text)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        parsed = expand_results(text, origin)
        by_line: dict[int, list[SpecResult]] = {}
        names: dict[int, str | None] = {}
        for ps in parsed.specs:
            if ps.spec is None:
                res = SpecResult(name=ps.name, source=text, parse_errors=ps.errors)
            else:
                res = SpecResult(name=ps.name, source=text, checked=check(ps.spec))
            by_line.setdefault(ps.line, []).append(res)
            names.setdefault(ps.line, _written_name(text, ps.line))
        lines = sorted(by_line)
        ends = [later - 1 for later in lines[1:]] + [last] if lines else []
        found = [
            WrittenSpec(names[line], max(line, first), end, tuple(by_line[line]))
            for line, end in zip(lines, ends, strict=True)
        ]
        if found and found[0].name is None:  # an unnamed spec spans its whole region
            found[0] = dataclasses.replace(found[0], first=first)
        out = (found, list(parsed.errors))
        self._cache[key] = out
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return out


def _written_name(text: str, line: int) -> str | None:
    """The name written on 1-based ``line`` (``m = ...``), or None for an unnamed spec."""
    lines = text.splitlines()
    match = NAMED_LINE.match(lines[line - 1]) if 0 < line <= len(lines) else None
    return match["name"] if match else None
