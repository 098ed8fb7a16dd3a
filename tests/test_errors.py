"""errors.excerpt: the one function that draws a caret, and what every renderer makes of it.

As sqlglot's ``highlight_sql`` has its own tests: the tab rule, long lines cut
around the caret, the per-spec cap on diagnostics, and diagnostics about nodes
no one wrote.
"""

from __future__ import annotations

import io
import json
import re
from html import unescape

from rich.console import Console

import cnnspec
from cnnspec.display import html, terminal
from cnnspec.errors import MAX_SHOWN_PER_SPEC, Diagnostic, excerpt, render, render_all
from cnnspec.network.sources import check_source
from cnnspec.notation.ir import Span


def _caret_column(line: str, caret: str) -> tuple[int, str]:
    col = len(caret) - len(caret.lstrip(" "))
    return col, line[col:]


def test_excerpt_puts_the_caret_under_its_token():
    d = Diagnostic(code="E201", message="m", span=Span(line=1, column=12, length=1))
    ex = excerpt(d, "C: 16n 16q\n")
    assert ex is not None
    assert (ex.location, ex.line, ex.caret) == ("<string>:1:12", "C: 16n 16q", " " * 11 + "^")


def test_jupyter_tab_caret_bug_the_notebook_caret_sits_under_the_token():
    """LAYOUT.md §2: for `I: 8x8x3 C:\t16q` the notebook kept the tab in its <pre>
    and put the caret by columns, so the caret missed its token in Jupyter only."""
    text = "I: 2x2x3 C:\t16k5v"  # a tab before a token the checker rejects
    page = html.checked_html(cnnspec.check(cnnspec.parse(text)))
    pre = re.search(r"<pre>(.*?)</pre>", page, re.S)
    assert pre is not None
    line, caret = unescape(pre.group(1)).split("\n")
    assert "\t" not in line
    _, at = _caret_column(line, caret)
    assert at.startswith("16k5v")
    plain = render_all(_errors(text), text).splitlines()
    assert plain[1:3] == ["  " + line, "  " + caret]  # the same excerpt in plain text


def _errors(text: str) -> list[Diagnostic]:
    return [d for r in check_source(text) for d in r.errors]


def test_a_tab_is_one_space_in_every_renderer():
    text = "I: 2x2x3 C:\t16k5v"
    checked = cnnspec.check(cnnspec.parse(text))
    d = checked.errors[0]
    ex = excerpt(d, text)
    assert ex is not None and ex.line == "I: 2x2x3 C: 16k5v" and ex.line[ex.caret.index("^") :].startswith("16k5v")
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(terminal.diagnostic(d, text))
    assert console.file.getvalue().splitlines()[1:3] == ["  " + ex.line, "  " + ex.caret]
    assert "  " + ex.line in render(d, text).splitlines()
    assert f"<pre>{ex.line}\n{ex.caret}</pre>" in html.checked_html(checked)


def test_a_long_line_is_cut_around_the_caret():
    text = "C: " + "16 " * 400 + "16q " + "16 " * 400
    [d] = _errors(text)
    ex = excerpt(d, text)
    assert ex is not None
    assert len(ex.line) <= 130 and ex.line.startswith("…") and ex.line.endswith("…")
    _, at = _caret_column(ex.line, ex.caret)
    assert at.startswith("q") and ex.caret.strip() == "^"


def test_quadratic_diagnostics_each_excerpt_once_and_a_count_of_the_rest():
    """Issue 14: a spec with 20,000 errors re-rendered the whole source line for
    each one (seconds, gigabytes of output)."""
    text = "C: " + "16q " * 4_500 + "\n" + "16q\n" * 4_500
    [res] = check_source(text)
    assert len(res.errors) == 9_000
    rest = 9_000 - MAX_SHOWN_PER_SPEC
    plain = render_all(res.errors, text)
    assert plain.count("error[E201]") == MAX_SHOWN_PER_SPEC
    assert plain.endswith(f"… and {rest:,} more diagnostics (the first {MAX_SHOWN_PER_SPEC} are shown)")
    assert len(plain) < 100 * 400
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(terminal.result(res))
    shown = console.file.getvalue()
    assert shown.count("error[E201]") == MAX_SHOWN_PER_SPEC and f"{rest:,} more diagnostics" in shown
    assert "invalid: 9000 errors" in shown  # the status still counts them all
    data = json.loads(json.dumps(res.to_dict()))
    assert len(data["errors"]) == MAX_SHOWN_PER_SPEC and data["errors_not_shown"] == rest


def test_w503_about_a_head_from_classes_says_from_classes_and_points_nowhere():
    """LAYOUT.md §4 #9: the warning pointed at line 1, column 1, a token the user never wrote."""
    checked = cnnspec.check(cnnspec.parse("I: 8x8x3\nC: 4 4n\nD: 8R"), classes=500)
    [w] = [w for w in checked.warnings if w.code == "W503"]
    assert w.span is None and "(from --classes)" in w.message
    assert render(w, checked.spec.source).splitlines()[0].startswith("<string>: warning[W503]: layer head")
    assert w.to_dict()["line"] is None


def test_any_diagnostic_about_an_invented_node_says_where_it_came_from():
    d = Diagnostic(code="W599", message="about the head", span=Span.invented("the data"))
    assert d.span is None and d.message == "about the head (from the data)"
    assert excerpt(d, "C: 4") is None and d.location == "<string>"
