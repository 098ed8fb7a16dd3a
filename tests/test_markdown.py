"""Specs in Markdown: every ```cnn block checked, errors at the document's own lines."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cnnspec.cli import app
from cnnspec.network.markdown import check_markdown, find_blocks

DOC = """\
# Experiments

The baseline, as in the article (`C: 16 32` inline is not a block):

```cnn
m26 = C: 16n 16n d¼ 32n 32n d¼ D: 16R
m27 = C: 16n 16q
```

```python
C: 16q  # not a spec block
```

  ~~~ cnn {title="variants"}
  C: {16,32}
     D: 8RT
  ~~~

````cnn
````

```cnn
C: 8 D: 4R
"""


def located(results):
    return sorted((r.name, d.code, d.span.line, d.span.column) for r in results for d in r.errors if d.span is not None)


def test_blocks_are_found_as_commonmark_fences():
    blocks = find_blocks(DOC)
    assert [(b.fence_line, b.first, b.last) for b in blocks] == [(5, 6, 7), (14, 15, 16), (19, 20, 19), (22, 23, 23)]
    assert blocks[1].text == "  C: {16,32}\n     D: 8RT"
    # A backtick fence whose info string holds a backtick is not a fence.
    assert find_blocks("``` cnn `x`\nC: 16\n```\n") == []
    # The first word of the info string is the language; {cnn} is MyST's form.
    assert len(find_blocks("```{cnn}\nC: 16\n```\n")) == 1
    assert find_blocks("```cnnx\nC: 16\n```\n") == []


def test_errors_are_reported_at_the_documents_lines_and_columns():
    results = check_markdown(DOC, "report.md", input_shape="32x32x3", classes=10)
    names = [r.name for r in results]
    assert names == ["m26", "m27", "spec-16", "spec-32", "report.md:20", "report.md:23"]
    assert [r.ok for r in results] == [True, False, False, False, False, True]
    assert located(results) == [
        ("m27", "E201", 7, 16),  # the 'q' of m27 = C: 16n 16q
        ("report.md:20", "E701", 19, 1),  # the empty block's fence
        ("spec-16", "E203", 16, 11),  # the 'T' of 8RT, indented block
        ("spec-32", "E203", 16, 11),
    ]
    doc_lines = DOC.splitlines()
    for r in results:
        assert r.source == DOC
        for d in r.errors:
            line = doc_lines[d.span.line - 1]
            if d.code == "E201":
                assert line[d.span.column - 1] == "q"
            if d.code == "E203":
                assert line[d.span.column - 1] == "T"


def test_cli_check_reads_markdown(tmp_path):
    doc = tmp_path / "report.md"
    doc.write_text(DOC, encoding="utf-8")
    runner = CliRunner()
    r = runner.invoke(app, ["check", str(doc), "-i", "32x32x3", "-c", "10"])
    assert r.exit_code == 1
    assert f"{doc}:7:16: error[E201]" in r.output
    assert f"{doc}:16:11: error[E203]" in r.output
    r = runner.invoke(app, ["check", str(doc), "--json", "-i", "32x32x3", "-c", "10"])
    payload = json.loads(r.output)
    assert [(p.get("name"), p["valid"]) for p in payload][:2] == [("m26", True), ("m27", False)]
    bad = payload[1]["errors"][0]
    assert (bad["line"], bad["column"]) == (7, 16)
    ok = tmp_path / "ok.md"
    ok.write_text("text\n\n```cnn\nC: 16 32 D: 8R\n```\n", encoding="utf-8")
    assert runner.invoke(app, ["check", str(ok), "-i", "32x32x3", "-c", "2"]).exit_code == 0


V2_DOC = """\
# A ResNet and a MobileNet

```cnn
resnet = I: 32x32x3 C: 32b [32b 32In]+R
         [64s2b 64In]+R gap O: 10
mobile = I: 32x32x3 C: 32s2B dwB 64k1B p0 D: d.2 O: 10
```

A block that never closes, and one whose shortcut cannot fit:

```cnn
open = I: 32x32x3 C: [32 32
shrink = I: 32x32x3 C: [32 32v]+
```
"""


def test_version_2_specs_in_blocks_are_checked_at_the_documents_positions():
    results = check_markdown(V2_DOC, "v2.md")
    assert [(r.name, r.ok) for r in results] == [("resnet", True), ("mobile", True), ("open", False), ("shrink", False)]
    resnet = results[0].checked
    assert resnet is not None and {la.block for la in resnet.layers} == {None, 1, 2}
    doc = V2_DOC.splitlines()
    (e140,) = results[2].errors
    assert e140.code == "E140" and doc[e140.span.line - 1][e140.span.column - 1] == "["
    (e406,) = results[3].errors
    assert e406.code == "E406" and doc[e406.span.line - 1][e406.span.column - 1 :].startswith("]+")
