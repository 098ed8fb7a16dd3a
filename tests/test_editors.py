"""The editor set-ups of editors/: the VS Code extension's manifest and TextMate grammar.

The grammar is also tokenized by VS Code's own engine in editors/vscode/test (npm test, which
needs npm packages); here a small TextMate tokenizer in Python (at each position the rule that
matches earliest wins, the first one on a tie, as TextMate does for `match` rules) runs the
same patterns, so CI holds the grammar without npm.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = json.loads((VSCODE / "syntaxes" / "cnn.tmLanguage.json").read_text(encoding="utf-8"))


def tokenize(line: str) -> list[tuple[str, str]]:
    rules = [(re.compile(r["match"]), r) for r in GRAMMAR["patterns"]]
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(line):
        found = [(m.start(), i, m, r) for i, (rx, r) in enumerate(rules) if (m := rx.search(line, pos))]
        if not found:
            break
        _, _, m, rule = min(found, key=lambda f: (f[0], f[1]))
        if "name" in rule:
            out.append((m.group(), rule["name"]))
        for group, capture in sorted(rule.get("captures", {}).items(), key=lambda kv: int(kv[0])):
            if m.group(int(group)):
                out.append((m.group(int(group)), capture["name"]))
        pos = max(m.end(), pos + 1)
    return [(text, scope) for text, scope in out if text.strip()]


def test_the_grammar_colours_every_kind_of_item() -> None:
    line = "m26 = I: 32x32x3 A: flip rot.1 C: 16n 16k5s2 p3 d¼ gap D: 16R O: 10  # note"
    assert tokenize(line) == [
        ("m26", "entity.name.function.spec.cnn"),
        ("=", "keyword.operator.assignment.cnn"),
        ("I:", "keyword.control.section.cnn"),
        ("32x32x3", "constant.numeric.shape.cnn"),
        ("A:", "keyword.control.section.cnn"),
        ("flip", "support.function.augmentation.cnn"),
        ("rot", "support.function.augmentation.cnn"),
        (".1", "constant.numeric.factor.cnn"),
        ("C:", "keyword.control.section.cnn"),
        ("16", "constant.numeric.count.cnn"),
        ("n", "storage.modifier.cnn"),
        ("16", "constant.numeric.count.cnn"),
        ("k5s2", "storage.modifier.cnn"),
        ("p3", "keyword.other.pool.cnn"),
        ("d", "keyword.other.dropout.cnn"),
        ("¼", "constant.numeric.rate.cnn"),
        ("gap", "keyword.other.pool.cnn"),
        ("D:", "keyword.control.section.cnn"),
        ("16", "constant.numeric.count.cnn"),
        ("R", "storage.modifier.cnn"),
        ("O:", "keyword.control.section.cnn"),
        ("10", "constant.numeric.count.cnn"),
        ("# note", "comment.line.number-sign.cnn"),
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("c: 16q", [("c:", "invalid.illegal.section.cnn"), ("16q", "invalid.illegal.item.cnn")]),
        ("C: {16,32}", [("C:", "keyword.control.section.cnn"), ("{", "punctuation.section.braces.cnn"),
                        ("16", "constant.numeric.count.cnn"), (",", "punctuation.section.braces.cnn"),
                        ("32", "constant.numeric.count.cnn"), ("}", "punctuation.section.braces.cnn")]),
        ("C: [64b 64In]+R", [("C:", "keyword.control.section.cnn"), ("[", "punctuation.section.block.cnn"),
                             ("64", "constant.numeric.count.cnn"), ("b", "storage.modifier.cnn"),
                             ("64", "constant.numeric.count.cnn"), ("In", "storage.modifier.cnn"),
                             ("]+R", "punctuation.section.block.cnn")]),
    ],
)  # fmt: skip
def test_the_grammar_marks_mistakes_and_punctuation(line: str, expected: list[tuple[str, str]]) -> None:
    assert tokenize(line) == expected


def test_the_extension_manifest_names_its_files_and_the_servers_settings() -> None:
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    contributes = manifest["contributes"]
    assert contributes["languages"][0]["extensions"] == [".cnn"]
    for entry in [*contributes["grammars"], *contributes["languages"]]:
        path = entry.get("path") or entry.get("configuration")
        assert (VSCODE / path).is_file(), path
    assert (VSCODE / manifest["main"]).is_file()
    # The settings the client sends are the ones the server reads (cnnspec.lsp.server.Settings).
    assert {"cnnspec.inlayHints.shapes", "cnnspec.inlayHints.params"} <= set(contributes["configuration"]["properties"])
    client = (VSCODE / manifest["main"]).read_text(encoding="utf-8")
    assert '"cnnspec", "lsp"' in client and "inlayHints" in client


def test_the_other_editors_start_the_server() -> None:
    for path in ("neovim/cnnspec.lua", "emacs/cnnspec.el"):
        text = (ROOT / "editors" / path).read_text(encoding="utf-8")
        assert '"cnnspec"' in text and '"lsp"' in text, path
