"""The Pygments lexer, used through Pygments' own API and its entry point."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from pygments import highlight, lex
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.lexers.markup import MarkdownLexer
from pygments.plugin import find_plugin_lexers
from pygments.token import Error, Keyword, Name, Number, Punctuation

from cnnspec.display.lexer import CnnSpecLexer

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.cnn"))

DOC = """\
# the experiment table
m26 = C: 16n 16n d¼ 32n 32n d¼ D: 16R
m28 = I: 32x32x3 A: hvflip rot.1 zoom.15
      C: {16,32}k{3,5}nL2=0.01 p0 d1/4 ap3 gap   # variants
      D: 8R 8R d25% O: 10I
"""


def tokens(text: str) -> list[tuple[object, str]]:
    return [(t, v) for t, v in lex(text, CnnSpecLexer()) if v.strip()]


def test_the_entry_point_registers_the_lexer():
    assert CnnSpecLexer in list(find_plugin_lexers())
    assert isinstance(get_lexer_by_name("cnn"), CnnSpecLexer)
    assert isinstance(get_lexer_by_name("cnnspec"), CnnSpecLexer)
    assert isinstance(get_lexer_for_filename("models.cnn"), CnnSpecLexer)


def test_a_document_is_highlighted_through_pygments():
    html = highlight(DOC, get_lexer_by_name("cnn"), HtmlFormatter())
    assert '<span class="nf">m26</span>' in html  # Name.Function
    assert '<span class="kd">C:</span>' in html  # Keyword.Declaration
    assert 'class="err"' not in html

    # The highlighted text is the document, character for character.
    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.parts: list[str] = []

        def handle_data(self, data: str) -> None:
            self.parts.append(data)

    parser = Text()
    parser.feed(html)
    assert "".join(parser.parts).strip() == DOC.strip()


def test_token_kinds():
    toks = tokens("C: 64k5s2vRnL2=0.01 d⅓ gmp D: 8T")
    assert toks == [
        (Keyword.Declaration, "C:"),
        (Number.Integer, "64"),
        (Name.Attribute, "k5"),
        (Name.Attribute, "s2"),
        (Name.Attribute, "v"),
        (Name.Builtin, "R"),
        (Name.Attribute, "n"),
        (Name.Attribute, "L2=0.01"),
        (Keyword, "d"),
        (Number.Float, "⅓"),
        (Keyword, "gmp"),
        (Keyword.Declaration, "D:"),
        (Number.Integer, "8"),
        (Name.Builtin, "T"),
    ]


@pytest.mark.parametrize("text, bad", [("C: 16q", "q"), ("C: 16 wat", "wat"), ("c: 16", "c:"), ("C: 16 k5", "k5")])
def test_unknown_words_are_errors(text, bad):
    assert (Error, bad) in tokens(text)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_the_examples_highlight_without_errors(path):
    assert [v for t, v in tokens(path.read_text(encoding="utf-8")) if t is Error] == []


def test_markdown_code_blocks_are_delegated_by_language():
    md = "# Results\n\n```cnn\nm26 = C: 16n 16n d¼ D: 16R\n```\n"
    toks = list(lex(md, MarkdownLexer(handlecodeblocks=True)))
    assert (Name.Function, "m26") in toks
    assert (Keyword.Declaration, "C:") in toks


def test_version_2_tokens():
    """Strided and padded pools, b/B, sep, dw, bare items and the brackets of a block."""
    toks = tokens("C: [64sepk5s2b 64In]+R dws2B p3s2z pz n T D: n 64bR")
    assert toks == [
        (Keyword.Declaration, "C:"),
        (Punctuation, "["),
        (Number.Integer, "64"),
        (Name.Attribute, "sep"),
        (Name.Attribute, "k5"),
        (Name.Attribute, "s2"),
        (Name.Attribute, "b"),
        (Number.Integer, "64"),
        (Name.Builtin, "I"),
        (Name.Attribute, "n"),
        (Punctuation, "]+"),
        (Name.Builtin, "R"),
        (Keyword, "dw"),
        (Name.Attribute, "s2"),
        (Name.Attribute, "B"),
        (Keyword, "p3s2z"),
        (Keyword, "pz"),
        (Name.Attribute, "n"),
        (Name.Builtin, "T"),
        (Keyword.Declaration, "D:"),
        (Name.Attribute, "n"),
        (Number.Integer, "64"),
        (Name.Attribute, "b"),
        (Name.Builtin, "R"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "C: 32b [32b 32In]+R [64s2b 64In]+R gap",
        "C: 32s2B dwB 64k1B dws2B 128k1B p0",
        "C: 64 p3s2 128 p3s2z ps1 p3zs2 ap3s2",
        "D: n 300Rn 100Rn",
        "C: 32I n R 32I n R",
        "C: [{16,32} 64]+ [ 16 d½ ]+",
    ],
)
def test_version_2_examples_highlight_without_errors(text):
    assert [v for t, v in tokens(text) if t is Error] == []


@pytest.mark.parametrize("text, bad", [("C: 16 I", "I"), ("C: 16 b", "b"), ("C: 16]x", "]"), ("C: p3v", "p3v")])
def test_version_2_errors_are_marked(text, bad):
    assert (Error, bad) in tokens(text)
