"""The advice rules (W501-W508) of ``cnnspec.network.advice``, read from typed layers."""

from __future__ import annotations

import json
import re

from rich.console import Console

from cnnspec import check, parse
from cnnspec.display import terminal
from cnnspec.network.advice import RULES, advise
from cnnspec.notation.ir import Conv, Head, InputShape, Span, Spec


def _huge_spec(filters: int) -> Spec:
    """A spec built in Python, where no parser bound applies: its totals exceed a float's range."""
    at = Span(line=1, column=1)
    return Spec(
        input=InputShape(span=at, text="8x8x3", height=8, width=8, channels=3),
        conv=(Conv(span=Span(line=1, column=13), text="big", filters=filters),),
        head=Head(span=Span(line=1, column=20), text="10", classes=10),
    )


def test_rules_run_in_the_order_of_their_codes() -> None:
    codes = [re.match(r"w(\d+)_", rule.__name__).group(1) for rule in RULES]  # type: ignore[union-attr]
    assert codes == sorted(codes) == ["501", "502", "503", "504", "505", "506", "507", "508"]


def test_w506_memory_warning_with_huge_integers_does_not_overflow() -> None:
    """Issue 14: W506 divided huge integers as floats and raised OverflowError."""
    checked = check(_huge_spec(10**400))
    w506 = [w for w in checked.warnings if w.code == "W506"]
    assert len(w506) == 1
    gib = re.search(r"take ([\d,]+\.\d) GiB", w506[0].message)
    assert gib is not None
    total_bytes = (checked.total_params + sum(la.output_size for la in checked.layers)) * 4
    assert int(gib.group(1).replace(",", "").split(".")[0]) == total_bytes // 2**30


def test_huge_totals_print_and_serialize() -> None:
    """Issue 14: totals beyond a float's range print in the table and the totals, and go to JSON."""
    checked = check(_huge_spec(10**400))
    data = json.loads(json.dumps(checked.to_dict()))
    assert data["total_params"] == checked.total_params > 10**400
    console = Console(width=200, record=True, color_system=None)
    console.print(terminal.check_table(checked))
    console.print(terminal.totals(checked))
    text = console.export_text()
    assert "e40" in text and "GiB" in text


def test_advise_reads_typed_fields_not_the_detail_text() -> None:
    """W502 reads the activation, W505 the pool size: both fire on a spec that needs them."""
    checked = check(parse("I: 9x9x1 C: 4 p3 4 D: 8 8 O: 2"))
    codes = [d.code for d in advise(checked.spec, checked.layers)]
    assert "W502" in codes
    checked = check(parse("I: 7x7x1 C: 4 p 4 O: 2"))
    assert [d.code for d in advise(checked.spec, checked.layers)].count("W505") == 1


def test_a_warning_about_a_head_from_classes_points_at_no_token() -> None:
    """Issue 9: the head made for --classes pointed at line 1, column 1, text the user never wrote."""
    from cnnspec.errors import render

    source = "I: 8x8x3\nC: 4 4n\nD: 8R"
    checked = check(parse(source), classes=500)
    (w503,) = [w for w in checked.warnings if w.code == "W503"]
    assert w503.span is None
    assert w503.message.startswith("layer head (from --classes) holds 85% of the 5,296 parameters")
    assert render(w503, source).startswith("<string>: warning[W503]: layer head (from --classes)")
    assert "^" not in render(w503, source)
    # a head written as O: still points at its token
    written = check(parse("I: 8x8x3\nC: 4 4n\nD: 8R\nO: 500"))
    (w503,) = [w for w in written.warnings if w.code == "W503"]
    assert w503.span is not None and (w503.span.line, w503.span.column) == (4, 4)
    assert "('500')" in w503.message


# --------------------------------------------------------------------------
# Version 2: the rules as NOTATION.md amends them, and W507, W508


def _codes(text: str) -> list[str]:
    checked = check(parse(text))
    assert checked.ok, checked.errors
    return [w.code for w in checked.warnings]


def _warning(text: str, code: str):
    (found,) = [w for w in check(parse(text)).warnings if w.code == code]
    return found


def test_w501_looks_back_over_batch_norms_and_activation_layers() -> None:
    """`16b d¼` and `16 n R d¼` warn as `16n d¼` does; a dropout after `]+R` follows an Add."""
    for conv in ("16n", "16b", "16B", "16 n R", "16I R", "16sep", "dw"):
        assert "W501" in _codes(f"I: 16x16x3 C: {conv} d¼ p O: 2"), conv
    assert "W501" not in _codes("I: 16x16x3 C: [16 16]+R d¼ p O: 2")


def test_w502_linear_means_no_activation_before_the_next_dense_layer() -> None:
    """Batch norm does not count: `D: 64b 32` warns; a bare activation does: `D: 64 R 32` does not."""
    assert "W502" in _codes("I: 4x4x1 D: 64b 32 O: 2")
    assert "W502" in _codes("I: 4x4x1 D: 64 n 32 O: 2")
    for dense in ("64 R 32", "64bR 32", "64B T 32", "64 R n 32"):
        assert "W502" not in _codes(f"I: 4x4x1 D: {dense} O: 2"), dense


def test_w504_counts_every_batch_norm_and_a_block_ends_its_block() -> None:
    for conv in ("16n", "16b", "16B", "16 n", "dwb"):
        assert "W504" in _codes(f"I: 16x16x3 C: {conv} p d¼ O: 2"), conv
    # ]+ closes W504's block as a pool does: the dropouts right after it belong to it
    assert "W504" in _codes("I: 16x16x3 C: [16n]+ d¼ gap O: 2")
    assert "W504" not in _codes("I: 16x16x3 C: [16n]+ 16 p d¼ O: 2")


def test_w505_with_strides_and_padding() -> None:
    """A valid pool of size k, stride s over H >= k drops (H - k) mod s rows; s > k skips rows; z never warns."""
    w = _warning("I: 32x32x3 C: 8 p3s2 O: 2", "W505")
    assert w.message == "pool 'p3s2' pools 32x32 by 3 with stride 2: it drops the last 1 row(s) and 1 column(s)"
    assert w.hint is not None and w.hint.endswith("or pad it: p2z, p3s2z")
    assert "W505" not in _codes("I: 33x33x3 C: 8 p3s2 O: 2")  # (33 - 3) mod 2 = 0
    skips = _warning("I: 8x8x3 C: 8 p2s3 O: 2", "W505")  # (8 - 2) mod 3 = 0, but 3 > 2
    assert skips.message.endswith("it skips 1 row(s) and column(s) between its windows")
    for pool in ("p3s2z", "pz", "p2s3z", "ap3z"):
        assert "W505" not in _codes(f"I: 31x31x3 C: 8 {pool} O: 2"), pool
    # version 1's rule, as it was (s = k)
    assert _warning("I: 7x7x1 C: 4 p 4 O: 2", "W505").message.startswith("pool 'p' pools 7x7 by 2: it drops")


def test_w507_a_bare_activation_stacked_on_another() -> None:
    w = _warning("I: 8x8x3 C: 16 T p O: 2", "W507")
    assert (w.span.line, w.span.column) == (1, 16)
    assert w.hint == "write 16T, or 16I T"
    assert "W507" in _codes("I: 8x8x3 C: 16 n T p O: 2")  # a batch norm between them aside
    assert "W507" in _codes("I: 8x8x3 C: 16b E p O: 2")  # b's activation is an activation
    assert "W507" in _codes("I: 8x8x3 C: [16]+R T gap O: 2")
    assert _warning("I: 8x8x3 C: [16]+R T gap O: 2", "W507").hint == "write ]+T for one activation after the addition"
    assert "W507" in _codes("I: 4x4x1 D: 8R S O: 2")
    for fine in ("16I T p0", "16 d¼ T p0", "16In T p0", "16IB T p0", "16 p T"):
        assert "W507" not in _codes(f"I: 8x8x3 C: {fine} O: 2"), fine


def test_w508_b_without_an_activation_is_n() -> None:
    w = _warning("I: 4x4x1 D: 64b O: 2", "W508")
    assert w.hint == "write 64bR if an activation was meant, or 64n for this network"
    assert "W508" in _codes("I: 8x8x3 C: 16Ib O: 2")
    for fine in ("D: 64bR", "D: 64B", "C: 16b", "C: 16IB"):
        assert "W508" not in _codes(f"I: 8x8x3 {fine} O: 2"), fine
