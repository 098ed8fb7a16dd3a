"""Code actions: the fixes that a diagnostic's hint spells out, and "write the implied pools out".

A hint is prose ("did you mean d.5 or d5%?", "write 28x28x1 (grayscale) or 28x28x3 (RGB)",
"activation letters are uppercase: 16R").  Rather than parse each wording, every word of the
hint that looks like notation is tried in place of the token the diagnostic points at, and a
fix is offered only when the edited text, checked again, has fewer errors and none left at
that place.  A word is tried only where it resembles the token (a spelling fix, not a
different network: ``p0`` is never offered for a conv), so each action is an exact
replacement the hint already proposed.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from cnnspec.lsp.analysis import Analysis, Analyzer, Issue, WrittenSpec
from cnnspec.lsp.features import Range, lines_of, span_range
from cnnspec.notation.vocabulary import AUGMENTATIONS, GLOBAL_POOLS

#: Replacements tried per diagnostic (each costs one check of its spec).
MAX_CANDIDATES = 6
#: How alike a replacement and the token must be (difflib's ratio).
MIN_LIKENESS = 0.6

_NOTATION_WORD = re.compile(r"[A-Za-z]:|.*[0-9:%.=¼½¾⅓⅔⅕⅖⅗⅘⅙⅚⅐⅛⅜⅝⅞⅑⅒].*|[A-Za-z]{1,3}")
_KNOWN_WORDS = {*AUGMENTATIONS, *GLOBAL_POOLS}
#: Examples in a hint, up to a parenthesis or the end: "a rate such as d¼, d.25 or d25%".
_EXAMPLES = re.compile(r"\b(?:e\.g\.|such as|as in)[^()]*")
#: Short English words of the hints, never notation.
_PROSE = {"a", "an", "as", "at", "be", "by", "do", "if", "in", "is", "it", "no", "of", "on", "or", "so", "to", "e:"}


@dataclass(frozen=True)
class Action:
    """A code action: its title, its edits, and the issue it fixes (None for a refactoring)."""

    title: str
    edits: tuple[tuple[Range, str], ...]
    issue: Issue | None = None
    preferred: bool = False


def _candidates(hint: str) -> list[str]:
    """The words of a hint that may be notation: ``d.5``, ``C:``, ``28x28x1``, ``16R``.

    Words after "e.g.", "such as" or "as in" are examples (``a rate such as d¼``), not the fix:
    they are left out, so a quick fix never picks a value the user did not write.
    """
    out: list[str] = []
    hint = _EXAMPLES.sub(" ", hint)
    for raw in hint.split():
        word = raw.rstrip("?,;)").lstrip("(")
        if word.endswith(".") and not re.search(r"[0-9]\.$", word[:-1] + "."):
            word = word[:-1]
        if word.endswith(":") and len(word) > 2:
            word = word[:-1]  # "uppercase: 16R" -> the colon is the sentence's
        if not word or word in out or word in _PROSE:
            continue
        if word in _KNOWN_WORDS or (_NOTATION_WORD.fullmatch(word) and not word.isalpha()) or len(word) <= 2:
            out.append(word)
    return out[:MAX_CANDIDATES]


def _likeness(old: str, new: str) -> float:
    """How alike two spellings are, case aside (``16r`` and ``16R`` are the same word)."""
    return difflib.SequenceMatcher(None, old.lower(), new.lower()).ratio()


def _token(line: str, start: int) -> tuple[int, int]:
    """The whitespace-delimited token that holds column ``start``."""
    a = start
    while a > 0 and not line[a - 1].isspace():
        a -= 1
    b = start
    while b < len(line) and not line[b].isspace() and line[b] != "#":
        b += 1
    return a, b


def _errors(analysis: Analysis) -> list[Issue]:
    return [i for i in analysis.issues() if i.diagnostic.severity == "error"]


def _fixes(analyzer: Analyzer, analysis: Analysis, issue: Issue, origin: str) -> list[Action]:
    hint = issue.diagnostic.hint
    if not hint:
        return []
    lines = lines_of(analysis.text)
    line, start, _, end = span_range(lines, issue.diagnostic, issue.spec)
    text = lines[line]
    tok_a, tok_b = _token(text, start)
    errors = _errors(analysis)
    code = issue.diagnostic.code
    out: list[Action] = []
    for word in _candidates(hint):
        places = []
        prev = text[:tok_a].rstrip()
        if prev:
            prev_a = _token(text, len(prev) - 1)[0]
            if word == text[prev_a : len(prev)] + text[tok_a:tok_b]:
                places.append((prev_a, tok_b))  # modifiers glued to their count: `16 k5` -> `16k5`
        if not places:  # the token, or the part the caret is under (`c:` of `c:16`): the likelier
            places = sorted({(tok_a, tok_b), (start, end)}, key=lambda p: -_likeness(text[p[0] : p[1]], word))[:1]
        for a, b in places:
            old = text[a:b]
            if old == word or _likeness(old, word) < MIN_LIKENESS:
                continue
            new_lines = [*lines[:line], text[:a] + word + text[b:], *lines[line + 1 :]]
            after = _errors(analyzer.analyse("\n".join(new_lines), origin, markdown=analysis.markdown))
            # Fixed: no error left in the replacement, and fewer of its kind.  (Other errors may
            # appear: a spec that parses is checked, and its shapes can be wrong elsewhere.)
            here = any(_within(new_lines, i, line, a, a + len(word)) for i in after)
            if not here and _count(after, code) < _count(errors, code):
                out.append(Action(f"Replace '{old}' with '{word}'", (((line, a, line, b), word),), issue, not out))
                break
    return out


def _within(lines: list[str], issue: Issue, line: int, start: int, end: int) -> bool:
    if issue.diagnostic.span is None:
        return False
    where = span_range(lines, issue.diagnostic, issue.spec)
    return where[0] == line and start <= where[1] < end


def _count(issues: list[Issue], code: str) -> int:
    return sum(i.diagnostic.code == code for i in issues)


def _write_pools(analyzer: Analyzer, analysis: Analysis, spec: WrittenSpec, origin: str) -> Action | None:
    """Insert `` p`` after each group that an implied pool closes (the same network, written out)."""
    if len(spec.results) != 1 or spec.results[0].checked is None or not spec.results[0].ok:
        return None
    checked = spec.results[0].checked
    anchors = [item.span for item in checked.spec.conv or () if getattr(item, "implied", False)]
    if not anchors:
        return None
    lines = lines_of(analysis.text)
    edits = []
    for span in anchors:
        line, column = span.line - 1, span.column - 1 + span.length
        edits.append(((line, column, line, column), " p"))
    # Proof before offering it: the edited spec builds the same layers.
    new_lines = list(lines)
    for (line, column, _, _), text in sorted(edits, reverse=True):
        new_lines[line] = new_lines[line][:column] + text + new_lines[line][column:]
    redone = analyzer.analyse("\n".join(new_lines), origin, markdown=analysis.markdown).spec_at(spec.first)
    again = redone.results[0].checked if redone and len(redone.results) == 1 else None
    same = again is not None and [(x.kind, x.output_shape, x.params) for x in again.layers] == [
        (x.kind, x.output_shape, x.params) for x in checked.layers
    ]
    return Action("Write the implied pools out", tuple(edits)) if same else None


def code_actions(analyzer: Analyzer, analysis: Analysis, first: int, last: int, origin: str) -> list[Action]:
    """Fixes for the errors between 0-based lines ``first`` and ``last``, then the refactorings."""
    lines = lines_of(analysis.text)
    out: list[Action] = []
    for issue in _errors(analysis):
        line = span_range(lines, issue.diagnostic, issue.spec)[0]
        if first <= line <= last:
            out += _fixes(analyzer, analysis, issue, origin)
    for spec in analysis.specs:
        if spec.first - 1 <= last and spec.last - 1 >= first:
            action = _write_pools(analyzer, analysis, spec, origin)
            if action is not None:
                out.append(action)
    return out
