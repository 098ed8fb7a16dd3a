"""The experiment report, from run directories that real training wrote."""

from __future__ import annotations

import base64
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from sweep_support import make_images
from typer.testing import CliRunner

from cnnspec.cli import app
from cnnspec.network.checker import check
from cnnspec.notation.parser import parse
from cnnspec.report.table import Report, Row, build_report, cells
from cnnspec.report.writers import html, markdown, write_report

EVIL = '<img src=x onerror=alert(1)>&"'
SPECS = {"wide": "wide = C: 8 D: 8R", "deep": "deep = C: 4 8 D: 8R", "flat": "flat = D: 6R"}
EPOCHS = 4


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three named runs in a folder, plus an unnamed run in a folder with a hostile name."""
    from cnnspec.run.train import TrainOptions, train

    root = tmp_path_factory.mktemp("report")
    data = make_images(root / "data")
    options = TrainOptions(epochs=EPOCHS, batch_size=16, seed=1)
    for name, text in SPECS.items():
        train(parse(text), data, options, out_dir=root / "runs" / name, progress="quiet")
    evil = root / EVIL
    train(parse("C: 4 D: 4R  # <b>bold</b>"), data, options, out_dir=evil, progress="quiet")
    return root / "runs", evil


def test_rows_are_the_runs_own_numbers(runs):
    folder, evil = runs
    report = build_report([folder, evil])
    assert [r.name for r in report.rows] == ["deep", "flat", "wide", EVIL]
    for row in report.rows:
        run = json.loads((row.run_dir / "run.json").read_text())
        metrics = json.loads((row.run_dir / "metrics.json").read_text())
        spec = parse(run["spec"])
        checked = check(spec, tuple(run["input_shape"]), len(run["class_names"]))
        assert row.params == checked.total_params == metrics["total_params"]
        assert row.macs == checked.macs
        assert row.spec == run["canonical_complete"]  # with the I: and O: the data decided (issue 14)
        assert row.epochs == EPOCHS == len(row.history)
        best, final = metrics["best"], metrics["final"]
        assert (row.best_val_accuracy, row.best_val_epoch) == (best["val_accuracy"], best["val_accuracy_epoch"])
        assert (row.best_train_accuracy, row.best_train_epoch) == (best["train_accuracy"], best["train_accuracy_epoch"])
        assert row.final_val_accuracy == final["val_accuracy"]
        assert row.seconds_per_epoch == metrics["seconds_per_epoch"]
        vals = [h["val_accuracy"] for h in row.history]
        assert max(vals) == pytest.approx(best["val_accuracy"])
        assert row.spread == pytest.approx(max(vals[-5:]) - min(vals[-5:]))
        drop = max(max(vals[:i]) - vals[i] for i in range(1, len(vals)))
        assert row.largest_drop == pytest.approx(max(0.0, drop))
        assert row.unstable == (row.largest_drop > 0.05)
        c = cells(row)
        assert c[3] == f"{checked.total_params:,}"
        assert c[6] == f"{best['val_accuracy']:.4f} ({best['val_accuracy_epoch']})"


@pytest.mark.parametrize("margin", [0.0, 0.01, 0.2, 1.0])
def test_best_and_smallest_within_margin(runs, margin):
    folder, evil = runs
    report = build_report([folder, evil], margin=margin)
    rows = report.rows
    top = max(r.best_val_accuracy for r in rows)
    best = [r for r in rows if r.best]
    assert len(best) == 1 and best[0].best_val_accuracy == top
    assert best[0].params == min(r.params for r in rows if r.best_val_accuracy == top)
    near = [r for r in rows if r.best_val_accuracy >= top - margin]
    (smallest,) = [r for r in rows if r.smallest]
    assert smallest.params == min(r.params for r in near)
    # The Pareto front: nobody has fewer-or-equal params and strictly better accuracy.
    for r in rows:
        dominated = any(o is not r and o.params <= r.params and o.best_val_accuracy > r.best_val_accuracy for o in rows)
        if r.pareto:
            assert not dominated


def test_markdown_with_pngs_beside_it(runs, tmp_path):
    folder, evil = runs
    report, written = write_report([folder, evil], tmp_path / "out" / "report.md")
    assert [p.name for p in written[:3]] == ["report.md", "report-pareto.png", "report-curves.png"]
    for png in written[1:3]:
        assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    text = written[0].read_text()
    assert "![Validation accuracy against parameters](report-pareto.png)" in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len(report.rows)
    assert "<img" not in text  # the hostile name is text, not HTML
    assert "&lt;img src=x onerror=alert(1)&gt;&amp;" in text
    for row in report.rows:
        assert f"`{row.spec}`" in text


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.data.append(data)


ALLOWED = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "table", "thead", "tbody", "tr", "th",
           "td", "code", "ul", "li", "img", "pre"}  # fmt: skip
SVG = {"svg", "title", "rect", "g", "polygon", "line", "text"}  # what cnnspec.display.picture writes


def test_html_is_self_contained_and_nothing_injects_markup(runs, tmp_path):
    folder, evil = runs
    _, written = write_report([folder, evil], tmp_path / "report.html")
    assert written == [tmp_path / "report.html"]
    page = Page()
    page.feed(written[0].read_text())
    assert {t for t, _ in page.tags} <= ALLOWED | SVG
    imgs = [a for t, a in page.tags if t == "img"]
    assert len(imgs) == 2
    for attrs in imgs:
        assert set(attrs) == {"alt", "src"}
        assert attrs["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(attrs["src"].split(",", 1)[1]).startswith(b"\x89PNG")
    assert EVIL in "".join(page.data)  # shown as text
    titles = [a.get("title") for t, a in page.tags if t == "tr" and a.get("title")]
    assert str(evil) in titles  # the path, as an attribute value, intact


def test_no_string_of_a_row_can_break_out():
    hostile = ['"><script>alert(1)</script>', "</td></tr></table><iframe src=x>", "`|` **x** [a](javascript:1)"]
    rows = [
        Row(name=s, run_dir=Path(s), spec=s, status=s, params=10 + i, best_val_accuracy=0.5, history=[])
        for i, s in enumerate(hostile)
    ]
    report = Report(rows, [])
    page = Page()
    page.feed(html(report))
    assert {t for t, _ in page.tags} <= ALLOWED - {"img"}
    text = "".join(page.data)
    for s in hostile:
        assert s in text
    md = markdown(report)
    body = [line for line in md.splitlines() if line.startswith("| ")][1:]
    assert len(body) == len(hostile)
    for line in body:  # every row keeps its 11 cells: no | leaks out
        assert len(line.replace("\\|", "").split("|")) == 13
        # Outside code spans (where HTML is never markup) no raw tag is left.
        assert "<" not in re.sub(r"(`+).+?\1", "", line)


def test_cli_report(runs, tmp_path):
    folder, _ = runs
    r = CliRunner().invoke(app, ["report", str(folder), "-o", str(tmp_path / "r.md"), "--margin", "0.5"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "r.md").exists() and (tmp_path / "r-curves.png").exists()
    assert CliRunner().invoke(app, ["report", str(tmp_path / "nope"), "-o", str(tmp_path / "x.md")]).exit_code == 2
    assert CliRunner().invoke(app, ["report", str(folder), "-o", str(tmp_path / "x.txt")]).exit_code == 2


def test_each_run_has_its_picture(runs, tmp_path):
    """HTML: one inline SVG in each run's row; Markdown: a per-run section whose links name files that exist."""
    folder, evil = runs
    report, written = write_report([folder, evil], tmp_path / "report.html", plots=False)
    page = Page()
    page.feed(written[0].read_text())
    per_row: list[list[str]] = []
    for tag, _ in page.tags:
        if tag == "tr":
            per_row.append([])
        elif per_row:
            per_row[-1].append(tag)
    assert len(per_row) == 1 + len(report.rows)  # the header row, then one per run
    for tags in per_row[1:]:
        assert tags.count("svg") == 1 and tags.count("g") > 0
    assert {t for t, _ in page.tags} <= ALLOWED | SVG
    assert EVIL in "".join(page.data)

    _, written = write_report([folder, evil], tmp_path / "my report.md", plots=False)
    text = written[0].read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) == len(report.rows)
    for link in links:
        svg = tmp_path / unquote(link)
        assert svg.parent.name == "my report-networks" and svg in written
        assert svg.read_text().startswith("<svg")
    assert "<img" not in text and "<b>" not in text

    _, written = write_report([folder], tmp_path / "bare.md", plots=False, pictures=False)
    assert written == [tmp_path / "bare.md"] and "## Networks" not in written[0].read_text()


DAMAGE = [
    ("history.csv", b"epoch,loss\nx,y\n", "line 2: epoch 'x' is not a whole number"),
    ("history.csv", b"epoch,loss\n1,abc\n", "line 2: loss 'abc' is not a number"),
    ("history.csv", b"epoch,loss\n\xff\xfe1,0.5\n", "not UTF-8 text (byte 11)"),
    ("run.json", b"{", "not valid JSON: Expecting property name enclosed in double quotes (line 1, column 2)"),
    ("metrics.json", b"{", "not valid JSON"),
    ("metrics.json", b"[1, 2]", "holds a JSON list, not an object"),
    ("metrics.json", b'{"best": {"val_accuracy": "high"}}', 'best.val_accuracy is "high", not a number'),
]


@pytest.mark.parametrize(("name", "content", "reason"), DAMAGE)
def test_a_damaged_run_is_left_out_with_a_warning(runs, tmp_path, name, content, reason):
    folder, _ = runs
    shutil.copytree(folder / "flat", tmp_path / "sweep" / "good")
    bad = tmp_path / "sweep" / "bad"
    shutil.copytree(folder / "deep", bad)
    (bad / name).write_bytes(content)
    out = tmp_path / "report.md"
    r = CliRunner().invoke(app, ["report", str(tmp_path / "sweep"), "-o", str(out), "--no-plots"])
    assert r.exit_code == 0, r.output
    assert f"warning: {bad / name}: {reason}" in r.stderr and "Traceback" not in r.output
    text = out.read_text()
    assert "| flat" in text and "| deep" not in text
    assert "## Not read (damaged files)" in text and reason in text.replace("\\", "")

    # Nothing usable: exit 1 with the same message, and no report written.
    alone = tmp_path / "alone.md"
    r = CliRunner().invoke(app, ["report", str(bad), "-o", str(alone), "--no-plots"])
    assert r.exit_code == 1
    assert f"warning: {bad / name}: {reason}" in r.stderr and "no usable run" in r.stderr
    assert "Traceback" not in r.output and not alone.exists()


def test_a_damaged_sweep_json_is_named_and_the_runs_still_reported(runs, tmp_path):
    folder, _ = runs
    for name in ("wide", "flat"):
        shutil.copytree(folder / name, tmp_path / "sweep" / name)
    (tmp_path / "sweep" / "sweep.json").write_text("{", encoding="utf-8")
    r = CliRunner().invoke(app, ["report", str(tmp_path / "sweep"), "-o", str(tmp_path / "r.md"), "--no-plots"])
    assert r.exit_code == 0, r.output
    assert f"warning: {tmp_path / 'sweep' / 'sweep.json'}: not valid JSON" in r.stderr
    assert "runs in name order" in r.stderr
    assert [line.split(" | ")[1] for line in (tmp_path / "r.md").read_text().splitlines()[4:6]] == ["flat", "wide"]


def test_nothing_to_report_is_refused_alike_for_an_empty_folder_and_an_empty_sweep(tmp_path):
    """A sweep that trained nothing (every spec invalid) holds no run: refused as an empty folder is."""
    empty, sweep = tmp_path / "empty", tmp_path / "sweep"
    empty.mkdir()
    sweep.mkdir()
    specs = [{"name": "broken", "spec": "C: 8q D: 4R", "status": "invalid", "errors": "bad"}]
    (sweep / "sweep.json").write_text(json.dumps({"status": "completed", "specs": specs}), encoding="utf-8")
    for folder in (empty, sweep):
        out = tmp_path / f"{folder.name}.md"
        r = CliRunner().invoke(app, ["report", str(folder), "-o", str(out)], env={"COLUMNS": "300"})
        assert r.exit_code == 2, r.output
        assert f"{folder} holds no run directory (no run.json in it or its subfolders)" in r.stderr
        assert not out.exists() and not list(tmp_path.glob(f"{folder.name}-*"))
