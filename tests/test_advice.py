"""The advice rules (W501-W506) of ``cnnspec.network.advice``, read from typed layers."""

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
