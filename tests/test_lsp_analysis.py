"""The server's analysis, in process: region by region and cached, it finds exactly what
`cnnspec check` finds, and it never raises on any text.
"""

from __future__ import annotations

import random

import pytest
import specgen
from hypothesis import given, settings
from hypothesis import strategies as st
from test_properties import mutated_specs, random_text

from cnnspec.lsp import features
from cnnspec.lsp.actions import code_actions
from cnnspec.lsp.analysis import Analyzer
from cnnspec.lsp.completion import completions
from cnnspec.network.markdown import check_markdown
from cnnspec.network.sources import check_source


def _keys(diags) -> list[tuple[object, ...]]:  # variants repeat a diagnostic: compared as sets
    return sorted((d.code, d.severity, d.message, str(d.span), d.hint) for d in diags)


def reference(text: str, markdown: bool = False) -> list[tuple[object, ...]]:
    results = check_markdown(text) if markdown else check_source(text)
    return sorted(set(_keys(d for r in results for d in [*r.errors, *r.warnings])))


def served(analyzer: Analyzer, text: str, markdown: bool = False) -> list[tuple[object, ...]]:
    origin = "<markdown>" if markdown else "<string>"
    return sorted(set(_keys(issue.diagnostic for issue in analyzer.analyse(text, origin, markdown=markdown).issues())))


@st.composite
def multi_spec_files(draw) -> str:
    """A named file of 2 to 6 random specs, each mutated or not, with comments and blank lines."""
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    text = specgen.random_file(rng, n=draw(st.integers(2, 6)))[0]
    lines = text.splitlines()
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(lines)))
        lines.insert(i, draw(st.sampled_from(["", "# note", "m0 = C: 8", "  D: 4R", "C: 2", "x y", "m1 = C: {4,8}"])))
    return "\n".join(lines) + "\n"


@given(multi_spec_files())
@settings(max_examples=150, deadline=None)
def test_region_by_region_finds_what_check_finds(text: str) -> None:
    assert served(Analyzer(), text) == reference(text)


@given(mutated_specs())
@settings(max_examples=150, deadline=None)
def test_mutated_specs_give_what_check_gives(text: str) -> None:
    assert served(Analyzer(), text) == reference(text)


def test_the_cache_changes_no_answer() -> None:
    """One analyzer over a sequence of edits answers as a fresh one does on each text."""
    rng = random.Random(5)
    analyzer = Analyzer(cache_size=8)
    text = specgen.random_file(rng, n=5)[0]
    for _ in range(60):
        pos = rng.randrange(len(text) + 1)
        text = text[:pos] + rng.choice(["q", " ", "\n", "m9 = ", "#", "{2,4}", "16", ""]) + text[pos + 1 :]
        assert served(analyzer, text) == reference(text)


@given(st.lists(st.sampled_from(["```cnn\n", "```\n", "~~~cnn\n", "C: 16 32\n", "m = C: 8q\n", "text\n", "\n"])))
@settings(max_examples=150, deadline=None)
def test_markdown_blocks_give_what_check_markdown_gives(parts: list[str]) -> None:
    text = "".join(parts)
    assert served(Analyzer(), text, markdown=True) == reference(text, markdown=True)


@given(random_text, st.integers(0, 5), st.integers(0, 90), st.booleans())
@settings(max_examples=300, deadline=None)
def test_no_feature_raises_on_random_text(text: str, line: int, column: int, markdown: bool) -> None:
    analyzer = Analyzer()
    analysis = analyzer.analyse(text, markdown=markdown)
    analysis.issues()
    features.hover(analysis, line, column)
    features.formatting(analysis)
    features.range_formatting(analysis, line, line + 1)
    features.inlay_hints(analysis, 0, line)
    completions(analysis, line, column)
    code_actions(analyzer, analysis, 0, line, "<string>")


@given(mutated_specs(), st.integers(0, 3), st.integers(0, 60))
@settings(max_examples=200, deadline=None)
def test_no_feature_raises_on_mutated_specs(text: str, line: int, column: int) -> None:
    analyzer = Analyzer()
    analysis = analyzer.analyse(text)
    features.hover(analysis, line, column)
    features.inlay_hints(analysis, 0, line)
    completions(analysis, line, column)
    for action in code_actions(analyzer, analysis, 0, 3, "<string>"):
        assert action.edits


def test_a_file_whose_only_names_are_refused_has_no_specs() -> None:
    """Found by the fuzz test: variants in a file of malformed names once raised."""
    analysis = Analyzer().analyse("1x = C: {16,32}\n")
    assert analysis.specs == () and [d.code for d in analysis.file_errors] == ["E302"]


def test_the_server_never_imports_the_heavy_libraries() -> None:
    """Every feature runs without TensorFlow, Keras, ONNX or matplotlib (import-linter holds the
    imports; this holds what actually loads, lazy imports included)."""
    import subprocess
    import sys

    code = """
import sys
from cnnspec.lsp import server, features
from cnnspec.lsp.actions import code_actions
from cnnspec.lsp.completion import completions
analyzer = server.server.analyzer
for text, md in (("m = I: 28x28 C: 16r 16 d5\\nn = I: 8x8x1 C: {4,8}\\n", False), ("```cnn\\nC: 16\\n```\\n", True)):
    a = analyzer.analyse(text, markdown=md)
    a.issues(); features.hover(a, 0, 9); features.inlay_hints(a, 0, 9); features.formatting(a)
    completions(a, 0, 20); code_actions(analyzer, a, 0, 9, "x.cnn")
heavy = sorted(m for m in ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "matplotlib") if m in sys.modules)
print(",".join(heavy) or "none")
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "none"


@pytest.mark.parametrize("text", ["I: 8x8x1 C: 8 d", "I: 8x8x1x3 C: 8", "I: 8x8x1 C: 16k9v"])
def test_no_quick_fix_from_a_hints_examples(text: str) -> None:
    """ "a stride needs its number, as in 16s2", "a rate such as d¼": examples, not fixes."""
    analyzer = Analyzer()
    analysis = analyzer.analyse(text)
    assert [i.diagnostic.severity for i in analysis.issues()] == ["error"]  # the hint is there ...
    assert [a.title for a in code_actions(analyzer, analysis, 0, 0, "<string>") if a.issue] == []  # ... no fix


def test_quick_fixes_of_exact_hints() -> None:
    analyzer = Analyzer()
    for text, fixed in [
        ("I: 8x8x1 A: rot C: 8", "rot.1"),
        ("I: 8x8x1 C: 8 P", "p"),
        ("I: 8x8x1 C: 8 D: 4L2=1E-3", "4L2=1e-3"),
    ]:
        analysis = analyzer.analyse(text)
        actions = [a for a in code_actions(analyzer, analysis, 0, 0, "<string>") if a.issue]
        assert [a.edits[0][1] for a in actions] == [fixed], text


def test_lsp_without_pygls_says_what_to_install() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "for m in ('pygls', 'pygls.lsp', 'pygls.lsp.server'): sys.modules[m] = None\n"
        "sys.argv = ['cnnspec', 'lsp']\n"
        "from cnnspec.cli import main\n"
        "main()\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_plain_env())
    assert run.returncode == 2
    assert "error: the language server needs pygls, which is not installed" in run.stderr
    assert "hint: install it with: pip install 'cnnspec[lsp]'" in run.stderr
    assert "Traceback" not in run.stderr


def _plain_env() -> dict[str, str]:
    import os

    return {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
