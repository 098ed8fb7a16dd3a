"""`cnnspec check --format text|json|github`: GitHub Actions annotations line by line, and
`--format json` is today's `--json`."""

from __future__ import annotations

import re
from pathlib import Path

from golden_util import run_cli

from cnnspec.network.sources import check_source

BAD = "# the table\nm1 = I: 32x32x3 C: 16r 16 d5\nm2 = I: 8x8x1 C: 16k9v\nm3 = I: 32x32x3 C: 16n d½ D: 4096R O: 10\n"


def test_github_format_prints_one_workflow_command_per_diagnostic(tmp_path: Path) -> None:
    (tmp_path / "t.cnn").write_text(BAD, encoding="utf-8")
    run = run_cli(["check", "t.cnn", "--format", "github"], cwd=tmp_path)
    assert run.exit_code == 1
    m1, m2, m3 = check_source(BAD, "t.cnn")
    e201, e130 = m1.errors
    (e401,) = m2.errors
    hints = [d.hint for d in (e201, e130, e401)]
    assert run.output.splitlines()[:3] == [
        f"::error file=t.cnn,line=2,col=22,endColumn=23,title=E201::{e201.message} (spec m1)%0Ahint: {hints[0]}",
        # the hint "did you mean d.5 or d5%?" holds a '%', which the runner would read as an escape
        f"::error file=t.cnn,line=2,col=28,endColumn=29,title=E130::{e130.message} (spec m1)"
        f"%0Ahint: {hints[1].replace('%', '%25')}",
        f"::error file=t.cnn,line=3,col=18,endColumn=23,title=E401::{e401.message} (spec m2)%0Ahint: {hints[2]}",
    ]
    warnings = run.output.splitlines()[3:]
    assert warnings and len(warnings) == len(m3.warnings)
    assert all(line.startswith("::warning file=t.cnn,line=4,") for line in warnings)
    first = m3.warnings[0]
    assert warnings[0].split("::")[2] == escape(f"{first.message} (spec m3)\nhint: {first.hint}")


def escape(message: str) -> str:
    """The runner's escapes of a message, written out here rather than imported."""
    return message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def test_github_format_of_a_valid_spec_prints_nothing_and_keeps_the_exit_codes() -> None:
    run = run_cli(["check", "--spec", "I: 8x8x1 C: 8 p", "--format", "github"])
    assert (run.exit_code, run.output) == (0, "")
    warned = run_cli(["check", "--spec", "I: 32x32x3 C: 16n d½ D: 4096R O: 10", "--format", "github"])
    assert warned.exit_code == 0 and warned.output.startswith("::warning line=1,col=")  # --spec: no file
    strict = run_cli(["check", "--spec", "I: 32x32x3 C: 16n d½ D: 4096R O: 10", "--format", "github", "--strict"])
    assert strict.exit_code == 1


def test_github_format_of_markdown_points_at_the_document(tmp_path: Path) -> None:
    (tmp_path / "r.md").write_text("# Report\n\n```cnn\nI: 8x8x1 C: 16q\n```\n", encoding="utf-8")
    run = run_cli(["check", "r.md", "--format", "github"], cwd=tmp_path)
    assert run.exit_code == 1
    assert run.output.startswith("::error file=r.md,line=4,col=15,endColumn=16,title=E201::")


def test_github_format_without_a_position_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "t.cnn").write_text("C: 16\n", encoding="utf-8")
    run = run_cli(["check", "t.cnn", "--format", "github"], cwd=tmp_path)
    assert run.output.startswith("::error file=t.cnn,title=E400::no input shape")


def test_format_json_is_the_json_flag() -> None:
    for spec in ("I: 32x32x3 C: 16n 16n d¼ D: 16R O: 10", "C: 16 16q 0"):
        flag = run_cli(["check", "--spec", spec, "--json"])
        option = run_cli(["check", "--spec", spec, "--format", "json"])
        assert (option.exit_code, option.output) == (flag.exit_code, flag.output)
    same = run_cli(["check", "--spec", "C: 16", "--json", "--format", "json"])
    assert same.exit_code == flag.exit_code


def test_format_text_is_the_default_and_conflicts_are_usage_errors() -> None:
    text = run_cli(["check", "--spec", "I: 8x8x1 C: 8 p", "--format", "text"])
    default = run_cli(["check", "--spec", "I: 8x8x1 C: 8 p"])
    assert (text.exit_code, text.output) == (default.exit_code, default.output)
    clash = run_cli(["check", "--spec", "I: 8x8x1 C: 8 p", "--json", "--format", "github"])
    assert clash.exit_code == 2 and "--json and --format github disagree" in clash.output
    unknown = run_cli(["check", "--spec", "I: 8x8x1 C: 8 p", "--format", "xml"])
    assert unknown.exit_code == 2


# --------------------------------------------------------------------------
# Residual blocks in every format: the rows of each block, the rows of its ]+, the note.

RESNET = "I: 32x32x3 C: 32b [32b 32In]+R [64s2b 64In]+R gap O: 10"
#: A C: whose implied pools a block turned off (in RESNET, gap did): the checker notes it.
NOTED = "I: 8x8x3 C: 8 [8 8]+R O: 10"
NOTE = "no implied pools: the section holds a residual block"


def _row(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("│") and f" {name} " in line)


def test_text_table_marks_the_rows_of_each_block() -> None:
    run = run_cli(["check", "--spec", RESNET])
    assert run.exit_code == 0, run.output
    header = next(line for line in run.output.splitlines() if " layer " in line)
    assert " block " in header
    marks = {
        "conv1": "",
        "conv1_act": "",
        "conv2": "┌ 1",
        "conv2_bn": "│ 1",
        "block1_add": "│ 1",
        "block1_act": "└ 1",
        "conv4": "┌ 2",
        "block2_proj": "│ 2",
        "block2_act": "└ 2",
        "gap": "",
    }
    for name, mark in marks.items():
        row = _row(run.output, name)
        # The cell between the '#' and the layer's name (the inside mark is a '│' too).
        cell = re.match(rf"│\s+\d+ │ (.*?)\s*│ {name} ", row)
        assert cell is not None and cell[1] == mark, (name, row)
    # The rows of a ]+ show its token, and the projection and addition say what they are.
    for name in ("block2_proj", "block2_add", "block2_act"):
        assert "]+R" in _row(run.output, name)
    assert "projection" in _row(run.output, "block2_add")
    assert "identity" in _row(run.output, "block1_add")
    assert "note:" not in run.output
    assert f"note: {NOTE}" in run_cli(["check", "--spec", NOTED]).output
    plain = run_cli(["check", "--spec", "I: 8x8x1 C: 8 p"])
    assert " block " not in plain.output and "note:" not in plain.output


def test_json_gives_each_layer_of_a_block_its_number() -> None:
    import json

    result = json.loads(run_cli(["check", "--spec", RESNET, "--json"]).output)
    blocks = {layer["name"]: layer.get("block") for layer in result["layers"]}
    assert blocks["conv1"] is None and blocks["gap"] is None
    assert blocks["conv2"] == blocks["block1_add"] == blocks["block1_act"] == 1
    assert blocks["conv4"] == blocks["block2_proj"] == blocks["block2_act"] == 2
    roles = {layer["name"]: layer.get("role") for layer in result["layers"]}
    assert (roles["block2_proj"], roles["block2_add"], roles["block2_act"]) == ("projection", "add", "block_activation")
    assert "notes" not in result
    assert json.loads(run_cli(["check", "--spec", NOTED, "--json"]).output)["notes"] == [NOTE]


def test_notebook_table_has_the_block_column() -> None:
    import cnnspec
    from cnnspec.display.html import checked_html

    html = checked_html(cnnspec.check(cnnspec.parse(RESNET)))
    assert '<th class="l">block</th>' in html
    assert "<td class='l blk'>┌ 1</td><td class='l'>conv2</td>" in html
    assert "<td class='l blk'>└ 2</td><td class='l'>block2_act</td>" in html
    assert f"note: {NOTE}" in checked_html(cnnspec.check(cnnspec.parse(NOTED)))
    plain = checked_html(cnnspec.check(cnnspec.parse("I: 8x8x1 C: 8 p")))
    assert ">block<" not in plain and "blk" not in plain.split("</style>")[1]


def test_github_format_gives_the_note_as_a_notice_at_the_first_block(tmp_path: Path) -> None:
    (tmp_path / "r.cnn").write_text(f"# a block\n{NOTED}\n", encoding="utf-8")
    run = run_cli(["check", "r.cnn", "--format", "github"], cwd=tmp_path)
    assert run.exit_code == 0
    column = NOTED.index("[") + 1
    notice = f"::notice file=r.cnn,line=2,col={column},endColumn={column + 1},title=note::{NOTE}"
    # After the spec's warnings (W503: the head holds most parameters).
    assert run.output.splitlines()[-1] == notice
    assert [line.split(" ")[0] for line in run.output.splitlines()] == ["::warning", "::notice"]
