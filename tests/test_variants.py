"""Variants in braces: expansion, names, and diagnostics at the original positions."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cnnspec import format_spec
from cnnspec.cli import app
from cnnspec.errors import SpecError, render_all
from cnnspec.network.sources import check_source
from cnnspec.notation.parser import parse_file_results
from cnnspec.notation.variants import MAX_VARIANTS, expand_file, expand_results, has_variants


def names_and_forms(text: str) -> list[tuple[str | None, str]]:
    return [(s.name, format_spec(s)) for s in expand_file(text).specs]


def test_the_issue_example_expands_to_every_combination_in_order():
    got = names_and_forms("C: {16,32}n {16,32}n d¼ D: {8,16}R")
    assert [n for n, _ in got] == [
        "spec-16-16-8", "spec-16-16-16", "spec-16-32-8", "spec-16-32-16",
        "spec-32-16-8", "spec-32-16-16", "spec-32-32-8", "spec-32-32-16",
    ]  # fmt: skip
    assert got[0][1] == "C: 16n 16n p d¼ D: 8R"
    assert got[2][1] == "C: 16n p 32n p d¼ D: 8R"  # a new filter count starts a new group
    assert got[-1][1] == "C: 32n 32n p d¼ D: 16R"


def test_named_multiline_spec_and_plain_specs_side_by_side():
    text = "# table\nm26 = C: 16n 16n d¼ 32n 32n d¼ D: 16R\nm = C: 16n d{¼,½}\n    D: {8,16}R\nz = D: 4\n"
    got = names_and_forms(text)
    assert [n for n, _ in got] == ["m26", "m-1_4-8", "m-1_4-16", "m-1_2-8", "m-1_2-16", "z"]
    assert got[4][1] == "C: 16n p d½ D: 16R"


def test_braces_inside_a_token_and_multi_item_and_empty_alternatives():
    got = names_and_forms("C: 16k{3,5}n{,L2} {32 32,64} D: 8")
    assert [f for _, f in got] == [
        "C: 16n p 32 32 p D: 8", "C: 16n p 64 p D: 8", "C: 16nL2 p 32 32 p D: 8", "C: 16nL2 p 64 p D: 8",
        "C: 16k5n p 32 32 p D: 8", "C: 16k5n p 64 p D: 8", "C: 16k5nL2 p 32 32 p D: 8", "C: 16k5nL2 p 64 p D: 8",
    ]  # fmt: skip
    assert got[0][0] == "spec-3-none-32_32"


def test_names_fall_back_to_numbers_when_readable_ones_collide():
    # d1/4 and d¼ both read "1_4": number them instead.
    assert [n for n, _ in names_and_forms("C: 16 d{1/4,¼}")] == ["spec-1", "spec-2"]
    # A readable name taken by another spec: number too.
    text = "m-8 = D: 3\nm = D: {8,9}\n"
    assert [n for n, _ in names_and_forms(text)] == ["m-8", "m-1", "m-2"]
    # The caller picks the base of an unnamed spec.
    assert [s.name for s in expand_file("D: {8,9}", base="exp").specs] == ["exp-8", "exp-9"]


def test_text_without_braces_parses_exactly_as_before():
    text = "a = C: 16 32 # {not, braces}\nb = D: 8R\n"
    assert not has_variants(text)
    assert expand_results(text) == parse_file_results(text)


def one_error(text: str, origin: str = "x.cnn") -> str:
    with pytest.raises(SpecError) as exc:
        expand_file(text, origin)
    return render_all(exc.value.diagnostics, text)


def test_parse_errors_point_at_the_text_as_written():
    text = "m = C: {16,32}n {8,64}q d{¼,½}\n"
    res = expand_results(text, "x.cnn")
    assert len(res.specs) == 8
    for ps in res.specs:
        assert ps.spec is None
        (d,) = ps.errors
        assert (d.code, d.span.line, d.span.column, d.span.length) == ("E201", 1, 23, 1)  # the 'q'
        assert d.spec == ps.name
    # A count that came out of braces is underlined braces and all.
    out = one_error("D: 8 {0,4}R 5q\n")
    assert "x.cnn:1:6: error[E110]" in out and "\n       ^^^^^\n" in out
    # A token after the braces keeps its column in every variant.
    assert out.count("x.cnn:1:14: error[E201]") == 2


def test_checker_errors_point_at_the_text_as_written():
    text = "I: 4x4x1\nC: {8,16} {8,32} {8,64}\n"
    results = check_source(text, "x.cnn", classes=2)
    assert len(results) == 8
    bad = [r for r in results if not r.ok]
    # 4x4 -> three implied pools only fit where filter counts differ... 8 8 8 is one group.
    for r in bad:
        for d in r.errors:
            assert d.span.line == 2
            line = text.splitlines()[1]
            assert line[d.span.column - 1] == "{"  # every error is under a brace group
            assert d.spec == r.name
    assert {r.name for r in results if r.ok} >= {"spec-8-8-8"}
    assert bad, "4x4 cannot take three pools"


def test_brace_syntax_errors():
    assert "E601" in one_error("C: {16,32 D: 8")
    assert "E602" in one_error("C: {16,{8}}")
    assert "E603" in one_error("C: 16} D: 8")
    assert "E604" in one_error("C: {16,16}")
    assert "E605" in one_error("C: 16 {}")
    out = one_error("C: {1,2,3,4,5,6,7,8,9,10} {1,2,3,4,5,6,7,8,9,10} {1,2,3,4,5,6,7,8,9,10,11}")
    assert "E606" in out and f"{MAX_VARIANTS:,}" in out
    # A broken spec does not hide the others of its file.
    res = expand_results("a = C: {16\nb = D: {8,9}\n")
    assert [(p.name, p.spec is not None) for p in res.specs] == [("a", False), ("b-8", True), ("b-9", True)]


def test_cli_fmt_expand_and_check():
    runner = CliRunner()
    r = runner.invoke(app, ["fmt", "--expand", "--spec", "m = C: {16,32}n D: 8R"])
    assert r.exit_code == 0
    assert r.output == "m-16 = C: 16n p D: 8R\nm-32 = C: 32n p D: 8R\n"
    r = runner.invoke(app, ["fmt", "--spec", "C: {16,32}n"])
    assert r.exit_code == 1 and "--expand" in r.output
    r = runner.invoke(app, ["check", "--json", "-i", "8x8x1", "-c", "2", "--spec", "C: {16,0}"])
    assert r.exit_code == 1
    assert '"name": "spec-16"' in r.output and '"column": 4' in r.output


# --------------------------------------------------------------------------
# Version 2: braces expand before parsing (NOTATION.md, "Tokens: brackets")


def test_version_2_braces_inside_a_block_expand_before_parsing():
    """`[{16,32} 64]+` works as expected: the bracket stays glued to the alternative."""
    got = names_and_forms("C: [{16,32} 64]+{,R} gap")
    assert got == [
        ("spec-16-none", "C: [16 64]+ gap"),
        ("spec-16-R", "C: [16 64]+R gap"),
        ("spec-32-none", "C: [32 64]+ gap"),
        ("spec-32-R", "C: [32 64]+R gap"),
    ]


def test_version_2_braces_around_whole_blocks_and_new_items():
    got = names_and_forms("C: {[16]+,16b} {p3s2z,dw} D: {n,R} 8{b,B}R")
    assert [f for _, f in got][:3] == ["C: [16]+ p3s2z D: n 8bR", "C: [16]+ p3s2z D: n 8BR", "C: [16]+ p3s2z D: R 8bR"]
    assert "C: 16b p dw D: R 8BR" in [f for _, f in got]
    assert all(n is not None and "[" not in n and "]" not in n and "+" not in n for n, _ in got)


def test_version_2_spans_of_a_block_point_into_the_text_as_written():
    text = "C: [{16,32} 64In]+R\nD: 8"
    for spec in expand_file(text).specs:
        [block] = spec.conv
        assert (block.span.line, block.span.column) == (1, 4)
        assert [(i.span.column, i.span.length) for i in block.items] == [(5, 7), (13, 4)]
        assert (block.close.line, block.close.column, block.close.length) == (1, 17, 3)


def test_version_2_errors_of_a_variant_point_at_the_braces():
    [result] = [r for r in check_source("C: [{16,32}q 64]+") if r.errors][:1]
    [d] = result.errors
    assert (d.code, d.span.column) == ("E201", 12)
