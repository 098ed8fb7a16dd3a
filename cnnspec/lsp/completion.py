"""Completion: section headers, modifiers, pool, dropout and augmentation items, each with a
one-line description.  The words come from :mod:`cnnspec.notation.vocabulary`, so a letter
added to the notation is offered here without an edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cnnspec.lsp.analysis import Analysis
from cnnspec.lsp.features import lines_of
from cnnspec.notation.vocabulary import (
    ACTIVATIONS,
    AUGMENTATIONS,
    GLOBAL_POOLS,
    MODIFIERS_ALLOWED,
    POOL_CLASSES,
    POOLS,
    SECTION_NAMES,
    SECTION_ORDER,
)


@dataclass(frozen=True)
class Completion:
    """One proposal: ``label`` replaces the text from column ``start`` to the cursor."""

    label: str
    detail: str
    kind: str  # "section", "item" or "modifier"
    start: int


HEADER_DETAILS = {
    "I": "input shape HxWxC, such as I: 32x32x3",
    "A": "augmentation, active in training only, such as A: flip rot.1",
    "C": "convolutions, pools and dropouts, such as C: 16n 16n d¼ 32n 32n d¼",
    "D": "dense layers after flattening, such as D: 128R d½",
    "O": "the classifier head: O: 10 (softmax), O: 1 (sigmoid), O: 10I (logits)",
}
_HEADER = re.compile(r"([A-Za-z]):")
_UNIT = re.compile(r"[0-9]+")


def _items(section: str) -> list[tuple[str, str]]:
    """(label, description) of the items a section takes, besides units."""
    dropouts = [("d¼", "dropout of rate ¼ (also d.25, d25%, d1/4)"), ("d½", "dropout of rate ½")]
    if section == "A":
        out = []
        for a in AUGMENTATIONS.values():
            if a.max_factor is None:
                out.append((a.name, f"{a.keras_class}({a.flip_mode!r})"))
            else:
                out.append((f"{a.name}.1", f"{a.keras_class}, factor in (0, {a.max_factor:g}]"))
        return out
    if section == "C":
        out = []
        for prefix, op in POOLS.items():
            out.append((prefix, f"2x2 {POOL_CLASSES[op]}, stride 2 (turns the implied pools off)"))
            out.append((f"{prefix}3", f"3x3 {POOL_CLASSES[op]}, stride 3"))
        out += [(name, f"global {op} pooling: the map becomes flat") for name, op in GLOBAL_POOLS.items()]
        out.append(("p0", "no pooling: turns the implied pools off and adds no layer"))
        return out + dropouts
    if section == "D":
        return dropouts
    return []


def _modifiers(section: str, unit: str) -> list[tuple[str, str]]:
    """(suffix, description) of the modifiers a unit of ``section`` may still take."""
    allowed = MODIFIERS_ALLOWED.get(section, frozenset())
    rest = unit[len(_UNIT.match(unit).group()) :] if _UNIT.match(unit) else ""  # type: ignore[union-attr]
    out: list[tuple[str, str]] = []
    if "k" in allowed and "k" not in rest:
        out += [("k5", "5x5 kernel (default k3)"), ("k1", "1x1 kernel"), ("k3x5", "3x5 kernel (height x width)")]
    if "s" in allowed and "s" not in rest:
        out.append(("s2", "stride 2 (default s1)"))
    if "v" in allowed and "v" not in rest:
        out.append(("v", 'padding "valid" (default "same")'))
    if "n" in allowed and "n" not in rest:
        out.append(("n", "batch normalization after the activation"))
    if "L2" in allowed and "L2" not in rest:
        out.append(("L2", "L2 kernel regularizer, factor 0.01 (L2=0.001 for another)"))
    if "act" in allowed and not any(letter in rest for letter in ACTIVATIONS):
        defaults = {"C": "R", "D": "I", "O": ""}
        for letter, keras in ACTIVATIONS.items():
            note = " (the default)" if defaults.get(section) == letter else ""
            out.append((letter, f"activation {keras}{note}"))
    return out


def _section_at(lines: list[str], first: int, line: int, column: int) -> str | None:
    """The section the cursor is in: the last header written before it in its spec."""
    section = None
    for i in range(first, line + 1):
        code = lines[i][:column] if i == line else lines[i]
        code = code.split("#", 1)[0]
        for word in code.split():
            m = _HEADER.match(word)
            if m:
                section = m[1]
    return section


def completions(analysis: Analysis, line: int, column: int) -> list[Completion]:
    """What may be written at (0-based ``line``, code-point ``column``)."""
    lines = lines_of(analysis.text)
    if not 0 <= line < len(lines):
        return []
    before = lines[line][:column]
    if "#" in before:  # in a comment
        return []
    spec = analysis.spec_at(line + 1)
    if spec is None and analysis.markdown:
        return []
    start = len(before) - len(re.search(r"\S*$", before).group())  # type: ignore[union-attr]
    word = before[start:]
    first = spec.first - 1 if spec is not None else 0
    section = _section_at(lines, first, line, start)
    touching = _HEADER.match(word)
    if touching and len(word) > 2:  # a header touching its first item: C:16
        section, start, word = touching[1], start + 2, word[2:]
    out = [Completion(f"{letter}:", f"{SECTION_NAMES[letter]}: {HEADER_DETAILS[letter]}", "section", start)
           for letter in SECTION_ORDER]  # fmt: skip
    if word.endswith(":"):
        return out
    if section is not None and _UNIT.match(word):
        for suffix, detail in _modifiers(section, word):
            out.append(Completion(word + suffix, detail, "modifier", start))
        return out
    if section is not None:
        out += [Completion(label, detail, "item", start) for label, detail in _items(section)]
    return out
