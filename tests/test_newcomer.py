"""The smaller defects a new user met in the first ten minutes (issue 14), one test each.

Fast: the reporter is fed the events training sends, folders are a few PNGs, nothing trains.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from golden_util import run_cli
from image_folders import make_folder
from PIL import Image
from rich.console import Console

from cnnspec.run.data import DataError, plan, scan
from cnnspec.run.images import conversions
from cnnspec.run.progress import RichReporter

HISTORY = [
    {"epoch": e, "loss": 1 / e, "accuracy": 0.5 + e / 100, "val_loss": 1 / e, "val_accuracy": v, "seconds": 1.0}
    for e, v in ((1, 0.5), (2, 0.9), (3, 0.8))
]


def _start_info(**changes: object) -> dict:
    info = {
        "name": "digits",
        "run_dir": "runs/digits",
        "data": "/home/someone/a/rather/long/path/to/the/examples/data/digits: 10 classes, 1797 images, 8x8 grayscale",
        "n_train": 1438,
        "n_val": 359,
        "classes": 10,
        "counts": {str(i): 180 for i in range(10)},
        "val_counts": None,
        "input_shape": [8, 8, 1],
        "converted": [],
        "params": 20826,
        "macs": 372000,
        "epochs": 20,
        "initial_epoch": 0,
        "steps": 45,
        "settings": {"optimizer": "adam", "lr": 0.001, "batch_size": 32, "patience": None},
    }
    return {**info, **changes}


def _summary(history: list[dict], best: int, status: str = "completed") -> dict:
    metrics = {
        "epochs_completed": len(history),
        "best": {"val_accuracy": max(r["val_accuracy"] for r in history), "val_accuracy_epoch": best},
        "seconds_per_epoch": 1.0,
        "images_per_second": 1000.0,
        "gflops": 0.5,
    }
    return {"status": status, "metrics": metrics, "history": history, "run_dir": "runs/digits"}


def _reporter(width: int = 80) -> tuple[RichReporter, io.StringIO]:
    out = io.StringIO()
    return RichReporter(Console(file=out, width=width, highlight=False, soft_wrap=True)), out


def test_closing_training_table_shows_best_and_final_not_every_epoch():
    reporter, out = _reporter(120)
    reporter.finish(_summary(HISTORY, best=2))
    text = out.getvalue()
    assert re.search(r"best\s+│\s+2\s", text) and re.search(r"final\s+│\s+3\s", text), text
    assert not re.search(r"│\s+1\s+│", text), text  # epoch 1 was printed when it ended; not again


def test_closing_table_of_a_run_whose_last_epoch_is_best_has_one_row():
    reporter, out = _reporter(120)
    reporter.finish(_summary(HISTORY[:2], best=2))
    assert re.search(r"best\s+│\s+2\s", out.getvalue()) and "final" not in out.getvalue()


def test_interrupted_after_1_epoch_is_singular():
    reporter, out = _reporter(120)
    reporter.finish(_summary(HISTORY[:1], best=1, status="interrupted"))
    assert "interrupted: 1 epoch\n" in out.getvalue() or "interrupted: 1 epoch " in out.getvalue()
    assert "1 epochs" not in out.getvalue()


def test_long_start_lines_break_between_words_at_80_columns():
    reporter, out = _reporter(80)
    reporter.start(_start_info())
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    data = [line for line in lines if line.startswith("  data") or line.startswith(" " * 10)]
    assert len(data) >= 2, lines  # wrapped ...
    assert all(not line[:10].strip() for line in data[1:])  # ... under the text, not at column 0
    joined = " ".join(line[10:].strip() for line in data)
    assert "8x8 grayscale" in joined and "1797 images" in joined  # no word cut in two


def test_start_line_says_images_are_resized_to_the_spec_input(tmp_path):
    make_folder(tmp_path / "d", {"a": 6, "b": 6}, size=(24, 24))
    dplan = plan(scan(tmp_path / "d"), val_split=0.25, image_shape=(8, 8, 1))
    from cnnspec.run.train import load_conversions

    converted = load_conversions(dplan)
    assert converted == ["12 images resized to 8x8"]
    reporter, out = _reporter(120)
    reporter.start(_start_info(converted=converted))
    assert "  load    12 images resized to 8x8" in out.getvalue()


def test_mixed_grayscale_and_colour_folder_says_what_is_converted(tmp_path):
    make_folder(tmp_path / "d", {"a": 5, "b": 5}, size=(8, 8), channels=1)
    Image.new("RGB", (8, 8), (200, 10, 10)).save(tmp_path / "d" / "a" / "red.png")
    Image.new("RGB", (8, 8), (10, 200, 10)).save(tmp_path / "d" / "b" / "green.png")
    folder = scan(tmp_path / "d")
    assert "grayscale (10) and colour (2)" in folder.describe()
    assert conversions(folder.sizes, folder.modes, (8, 8, 1)) == ["2 colour images converted to grayscale"]
    assert conversions(folder.sizes, folder.modes, (8, 8, 3)) == ["10 grayscale images converted to colour"]


def test_images_have_5_different_sizes_says_and_1_more(tmp_path):
    for i, size in enumerate([(8, 8), (9, 9), (10, 10), (11, 11), (12, 12)]):
        for name in ("a", "b"):
            (tmp_path / "d" / name).mkdir(parents=True, exist_ok=True)
            Image.new("L", size).save(tmp_path / "d" / name / f"{i}.png")
    with pytest.raises(DataError) as err:
        plan(scan(tmp_path / "d"))
    assert "5 different sizes" in err.value.message and "…and 1 more" in err.value.message, err.value.message


def test_check_report_md_with_no_cnn_block_says_so(tmp_path):
    (tmp_path / "report.md").write_text("# A report\n\nNo specs here.\n\n```python\nprint(1)\n```\n")
    run = run_cli(["check", "report.md"], cwd=tmp_path)
    assert run.exit_code == 0 and "no cnn blocks found in report.md" in run.output, run.output


def test_export_junk_keras_does_not_say_file_not_found(tmp_path):
    (tmp_path / "junk.keras").write_bytes(b"not a zip file at all")
    for args in (["export", "junk.keras"], ["from-keras", "junk.keras"]):
        run = run_cli(args, cwd=tmp_path)
        assert run.exit_code == 1, run.output
        assert "File not found" not in run.output and "junk.keras" in run.output, run.output
        assert "not a zip archive, which a .keras file is" in run.output, run.output


def test_atomic_leftovers_of_a_killed_process_are_removed(tmp_path):
    import tempfile

    from cnnspec.atomic import remove_leftovers

    # What atomic_path creates, and what a SIGKILL mid-write leaves behind.
    _, left = tempfile.mkstemp(prefix=".checkpoint.keras.", suffix=".keras", dir=tmp_path)
    (tmp_path / ".hidden-user-file").write_text("mine")
    (tmp_path / "checkpoint.keras").write_text("the real one")
    assert remove_leftovers(tmp_path, ["checkpoint.keras", "run.json"]) == [Path(left)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden-user-file", "checkpoint.keras"]


# --- with a trained run (slow) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from cnnspec.run.train import TrainOptions, train

    root = tmp_path_factory.mktemp("newcomer")
    data = make_folder(root / "data", {"a": 16, "b": 16}, size=(12, 12), seed=0)
    result = train("I: 12x12x1 C: 4 D: 8R", data, TrainOptions(epochs=1, batch_size=8, seed=1), out_dir=root / "run",
                   progress="quiet")  # fmt: skip
    assert result.status == "completed"
    return root / "run", data


@pytest.mark.slow
def test_sigkill_leftover_checkpoint_temporary_is_cleaned_by_resume(small_run, tmp_path):
    import shutil
    import tempfile

    from cnnspec.run.train import resume

    run = Path(shutil.copytree(small_run[0], tmp_path / "run"))
    _, left = tempfile.mkstemp(prefix=".checkpoint.keras.", suffix=".keras", dir=run)
    result = resume(run, epochs=2, progress="quiet")
    assert result.status == "completed"
    assert not Path(left).exists()
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_evaluating_the_training_folder_says_it_is_not_a_test_score(small_run):
    from cnnspec.run.evaluate import evaluate

    run, data = small_run
    ev = evaluate(run, data, save=False)
    assert any("trained on" in n and "not a test score" in n for n in ev.notes), ev.notes


@pytest.mark.slow
def test_evaluate_of_mixed_grayscale_and_colour_says_what_is_converted(small_run, tmp_path):
    from cnnspec.run.evaluate import evaluate

    run, _ = small_run
    test = make_folder(tmp_path / "test", {"a": 4, "b": 4}, size=(12, 12), seed=3)
    Image.new("RGB", (12, 12), (200, 10, 10)).save(test / "a" / "red.png")
    ev = evaluate(run, test, save=False)
    assert ev.notes == ["1 colour image converted to grayscale on load, as in training"], ev.notes


def test_mixed_folder_with_a_1_channel_spec_is_not_refused_as_colour(tmp_path):
    from cnnspec.notation.parser import parse
    from cnnspec.run.train import check_channels

    make_folder(tmp_path / "d", {"a": 5, "b": 5}, size=(8, 8), channels=1)
    Image.new("RGB", (8, 8), (200, 10, 10)).save(tmp_path / "d" / "a" / "red.png")
    check_channels(parse("I: 8x8x1 C: 4 D: 4R"), scan(tmp_path / "d"))  # no E406: I: decides
    make_folder(tmp_path / "rgb", {"a": 3, "b": 3}, size=(8, 8), channels=3)
    from cnnspec.errors import SpecError

    with pytest.raises(SpecError):  # a folder all colour still disagrees with a 1-channel I:
        check_channels(parse("I: 8x8x1 C: 4 D: 4R"), scan(tmp_path / "rgb"))


# --- predict: RGBA models, one bad file among good ones, a folder's summary and formats ----------


@pytest.fixture(scope="module")
def rgba_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An (untrained) 4-channel model as a lone .keras file: enough to predict with."""
    import cnnspec

    path = tmp_path_factory.mktemp("rgba") / "rgba.keras"
    cnnspec.build(cnnspec.parse("I: 8x8x4 C: 4 D: 4R O: 2")).save(path)
    return path


def _rgba_folder(root: Path) -> Path:
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(2):
            Image.new("RGBA", (8, 8), (40 * i, 90, 200, 128)).save(root / name / f"{i}.png")
    return root


def test_model_trained_on_rgba_predicts_rgba_images(rgba_model, tmp_path):
    folder = _rgba_folder(tmp_path / "imgs")
    Image.new("RGB", (8, 8), (1, 2, 3)).save(folder / "a" / "rgb.png")
    run = run_cli(["predict", str(rgba_model), str(folder), "--json"])
    assert run.exit_code == 0, run.output
    got = json.loads(run.output[run.output.index("[") :])
    assert len(got) == 5 and all(len(g["predictions"]) == 2 for g in got)
    rgb = next(g for g in got if g["image"].endswith("rgb.png"))
    assert rgb["notes"] == ["converted RGB image to RGBA (opaque) for a 4-channel model"]


def test_one_bad_file_in_a_folder_does_not_stop_the_prediction(rgba_model, tmp_path):
    folder = _rgba_folder(tmp_path / "imgs")
    (folder / "b" / "broken.png").write_bytes(b"\x89PNG not really")
    run = run_cli(["predict", str(rgba_model), str(folder), "--format", "csv"])
    assert run.exit_code == 1, run.output  # one failed
    lines = run.output.splitlines()
    assert sum(1 for line in lines if line.startswith("error: ") and "broken.png" in line) == 1, run.output
    assert "1 file failed; the others were predicted" in run.output
    rows = [line for line in lines if line.startswith(str(folder))]
    assert len(rows) == 4 * 2 and "image,rank,class,index,probability" in lines  # 4 good images, top 2
    skipped = run_cli(["predict", str(rgba_model), str(folder), "--skip-bad"])
    assert skipped.exit_code == 0, skipped.output
    assert "skipped: " in skipped.output and "broken.png" in skipped.output
    assert "summary: 4 images by predicted class" in skipped.output


def test_predict_format_is_checked(rgba_model, tmp_path):
    folder = _rgba_folder(tmp_path / "imgs")
    assert run_cli(["predict", str(rgba_model), str(folder), "--format", "xml"]).exit_code == 2
    assert run_cli(["predict", str(rgba_model), str(folder), "--format", "csv", "--json"]).exit_code == 2


def test_curves_png_has_a_title_and_marks_the_best_epoch(tmp_path):
    """The picture carries the run's name and spec and a marker at the best epoch (looked at by
    eye; here: it is drawn for one epoch and for many, and differs when the best epoch moves)."""
    from cnnspec.run.metrics import plot_curves

    one = tmp_path / "one.png"
    plot_curves(HISTORY[:1], one, "digits", "I: 8x8x1 C: 16 D: 8R O: 10")
    assert one.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    plot_curves(HISTORY, a, "digits", "I: 8x8x1 C: 16 D: 8R O: 10")
    moved = [dict(r, val_accuracy=0.95 if r["epoch"] == 3 else r["val_accuracy"]) for r in HISTORY]
    plot_curves(moved, b, "digits", "I: 8x8x1 C: 16 D: 8R O: 10")
    assert a.read_bytes() != b.read_bytes()


# --- report (looked at rendered by headless Chromium; these hold what was fixed) ----------------


@pytest.mark.slow
def test_report_spec_column_keeps_the_i_and_o_that_run_json_has(small_run, tmp_path):
    from cnnspec.report.table import load_run
    from cnnspec.report.writers import write_report

    run, _ = small_run
    row = load_run(run)
    assert row.spec.startswith("I: 12x12x1 ") and row.spec.endswith(" O: 2"), row.spec
    _, written = write_report([run], tmp_path / "report.html", plots=True)
    page = written[0].read_text()
    assert "max-width:360px" not in page  # network pictures at a readable size, not hover-only thumbnails
    assert "O: 2" in page
