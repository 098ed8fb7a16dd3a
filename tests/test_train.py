"""Training real small networks on real image files: the run directory, the
saved model, refusals without traces, and interruption by a real signal."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from image_folders import make_folder

from cnnspec.errors import SpecError
from cnnspec.network.checker import check
from cnnspec.notation.formatter import format_spec
from cnnspec.notation.parser import parse
from cnnspec.run.data import plan, scan
from cnnspec.run.pipeline import as_keras_data, open_datasets
from cnnspec.run.train import TrainError, TrainOptions, resume, train

# Two shared CPU cores: keep TensorFlow modest, here and in child processes.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "2")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "examples" / "data" / "digits"
DIGITS_SPEC = (ROOT / "examples" / "digits.cnn").read_text(encoding="utf-8")
RUN_FILES = {
    "spec.cnn", "run.json", "class_names.json", "model.keras", "checkpoint.keras", "state.json",
    "history.csv", "metrics.json", "curves.png",
}  # fmt: skip
HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds", "lr"]
METRICS_KEYS = {
    "schema_version", "epochs_completed", "best", "final", "seconds_per_epoch", "images_per_second", "total_params",
    "macs", "gflops",
}  # fmt: skip


def _history(run: Path) -> list[dict[str, str]]:
    with open(run / "history.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == HISTORY_COLUMNS
        return list(reader)


def assert_valid_run(run: Path, epochs: int, status: str = "completed") -> dict[str, object]:
    """Every file of the run directory exists and holds what docs/architecture.md says."""
    assert RUN_FILES <= {p.name for p in run.iterdir()}
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")], "a temporary file was left behind"
    info = json.loads((run / "run.json").read_text())
    for key in ("schema_version", "cnnspec_version", "name", "spec", "canonical", "canonical_complete", "input_shape",
                "class_names", "settings", "versions", "data", "status", "created"):  # fmt: skip
        assert key in info, key
    assert info["status"] == status
    backend = info.get("backend", "tensorflow")
    assert backend in ("tensorflow", "jax", "torch")
    assert set(info["versions"]) >= {"python", "keras", "numpy", backend}
    assert set(info["data"]) >= {"path", "files", "fingerprint", "counts"}
    assert (run / "spec.cnn").read_text() == info["spec"]
    assert json.loads((run / "class_names.json").read_text()) == info["class_names"]
    assert info["schema_version"] == 1  # every record of the run is of the current schema
    assert json.loads((run / "state.json").read_text()) == {"schema_version": 1, "epoch": epochs}
    rows = _history(run)
    assert [int(r["epoch"]) for r in rows] == list(range(1, epochs + 1))
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics) == METRICS_KEYS and metrics["epochs_completed"] == epochs
    best = metrics["best"]
    assert best["val_accuracy"] == pytest.approx(max(float(r["val_accuracy"]) for r in rows), abs=1e-6)
    assert metrics["gflops"] == pytest.approx(metrics["macs"] * 6 * metrics["images_per_second"] / 1e9, rel=1e-3)
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The network in full: I: and O: filled in from the data, and it is the network that was trained.
    complete = parse(info["canonical_complete"])
    assert complete.input is not None and complete.head is not None
    assert list(complete.input.shape) == info["input_shape"]
    assert format_spec(complete) == info["canonical_complete"]
    assert check(complete).total_params == metrics["total_params"]
    return metrics


@pytest.mark.slow
def test_digits_example_trains_and_the_model_reloads(tmp_path: Path) -> None:
    import keras
    import numpy as np

    run = tmp_path / "run"
    result = train(DIGITS_SPEC, DIGITS, TrainOptions(epochs=4, batch_size=32), out_dir=run, progress="quiet")
    assert result.status == "completed" and result.epochs_completed == 4
    metrics = assert_valid_run(run, 4)
    assert metrics["best"]["val_accuracy"] > 0.8  # chance is 0.1
    # The checker's count (metrics.json) is what Keras built.
    assert metrics["total_params"] == result.model.count_params() > 0

    dplan = plan(scan(DIGITS))
    with open_datasets(dplan, batch_size=64, seed=42) as (_, val):
        images = np.concatenate([np.asarray(x) for x, _ in val])
        # The last epoch's model, saved with its optimizer, predicts as it did before saving.
        before = result.model.predict(images, verbose=0)
        after = keras.saving.load_model(run / "checkpoint.keras").predict(images, verbose=0)
        np.testing.assert_allclose(after, before, atol=1e-5)
        # The best model reloads and scores its recorded validation accuracy.
        best = keras.saving.load_model(run / "model.keras")
        score = best.evaluate(as_keras_data(val), return_dict=True, verbose=0)
    assert score["accuracy"] == pytest.approx(metrics["best"]["val_accuracy"], abs=1e-6)


@pytest.mark.slow
def test_binary_sigmoid_head_with_rich_progress(tmp_path: Path) -> None:
    from rich.console import Console

    from cnnspec.run.progress import RichReporter

    data = make_folder(tmp_path / "data", {"left": 60, "right": 60}, size=(16, 16))
    out = io.StringIO()
    reporter = RichReporter(Console(file=out, width=120))
    opts = TrainOptions(epochs=3, batch_size=8, lr=0.01, seed=1)
    result = train("C: 8 D: 8R O: 1", data, opts, out_dir=tmp_path / "run", progress=reporter)
    assert result.metrics["best"]["val_accuracy"] > 0.85  # chance is 0.5
    assert_valid_run(tmp_path / "run", 3)
    text = out.getvalue()
    assert "120 images" in text and "96 training, 24 validation" in text
    assert "classes left 60 · right 60" in text
    assert "best val accuracy" in text and "GFLOP/s" in text and "epoch   3" in text


@pytest.mark.slow
def test_logits_head_with_a_validation_folder_and_sgd(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    counts = {"l": 40, "r": 40, "t": 40}
    data = make_folder(tmp_path / "data", counts, size=(12, 12), channels=3)
    val = make_folder(tmp_path / "val", {k: 8 for k in counts}, size=(12, 12), channels=3, seed=5)
    opts = TrainOptions(epochs=3, batch_size=8, optimizer="sgd", val_dir=str(val), seed=3)
    result = train("I: 12x12x3 C: 8 D: 16R O: 3I", data, opts, out_dir=tmp_path / "run", progress="json")
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["event"] for e in events] == ["start", "epoch", "epoch", "epoch", "end"]
    assert events[0]["counts"] == counts and events[0]["val_counts"] == {k: 8 for k in counts}
    assert result.metrics["best"]["val_accuracy"] > 0.6  # chance is 1/3
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["settings"]["optimizer"] == "sgd" and info["settings"]["lr"] == 0.01
    assert info["data"]["val"]["files"] == 24


def test_head_and_channels_must_agree_with_the_data(tmp_path: Path) -> None:
    data = make_folder(tmp_path / "data", {"a": 5, "b": 5, "c": 5})
    for text, needle in [
        ("C: 8 O: 5", "O: 5 has 5 classes, the data in .* has 3"),
        ("C: 8 O: 1", "O: 1 is one sigmoid unit, for 2 classes; .* has 3 classes"),
        ("I: 12x12x3 C: 8", r"I: 12x12x3 asks for 3 channels, the images in .* are grayscale \(1 channel\)"),
    ]:
        with pytest.raises(SpecError, match=needle):
            train(text, data, out_dir=tmp_path / "run", progress="quiet")
        assert not (tmp_path / "run").exists()


def test_an_occupied_out_folder_is_refused(tmp_path: Path) -> None:
    data = make_folder(tmp_path / "data")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text("{}")
    with pytest.raises(TrainError, match="already exists") as info:
        train("C: 8", data, out_dir=tmp_path / "run", progress="quiet")
    assert "--resume" in (info.value.hint or "")


def test_train_modules_import_no_keras() -> None:
    code = (
        "import sys, cnnspec.cli.train, cnnspec.run.train, cnnspec.run.data, cnnspec.run.progress; "
        "heavy = {'keras', 'tensorflow', 'matplotlib'} & set(sys.modules); assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _cli(*args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cnnspec", "train", *args], capture_output=True, text=True, timeout=timeout
    )


def _bad_missing(d: Path) -> None:
    pass


def _bad_no_subfolders(d: Path) -> None:
    d.mkdir()
    (d / "x.png").write_bytes(b"")


def _bad_single_class(d: Path) -> None:
    make_folder(d, {"a": 4})


def _bad_empty_class(d: Path) -> None:
    make_folder(d, {"a": 4, "b": 4})
    (d / "c").mkdir()


def _bad_too_few(d: Path) -> None:
    make_folder(d, {"a": 1, "b": 2})


def _bad_corrupt(d: Path) -> None:
    make_folder(d, {"a": 4, "b": 4})
    (d / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_bad_missing, "no such data folder"),
        (_bad_no_subfolders, "has no class subfolders"),
        (_bad_single_class, "single class subfolder (a)"),
        (_bad_empty_class, "with no images in"),
        (_bad_too_few, "3 images are too few for a validation split of 0.2"),
        (_bad_corrupt, "b/broken.png"),
        (None, "O: 4 has 4 classes, the data in"),
    ],
)
def test_bad_folders_fail_cleanly_and_leave_nothing(tmp_path: Path, make: object, message: str) -> None:
    data, out = tmp_path / "data", tmp_path / "run"
    spec = "C: 8 D: 4R"
    if make is None:
        make_folder(data, {"a": 4, "b": 4})
        spec += " O: 4"
    else:
        make(data)  # type: ignore[operator]
    proc = _cli("--spec", spec, "--data", str(data), "--out", str(out))
    assert proc.returncode == 1, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_run_and_resume_finishes_it(tmp_path: Path, signum: int) -> None:
    data = make_folder(tmp_path / "data", {"a": 30, "b": 30}, size=(8, 8))
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "cnnspec", "train", "--spec", "C: 4 D: 4R", "--data", str(data), "--out", str(run)]
    proc = subprocess.Popen([*cmd, "--epochs", "500", "--batch-size", "8", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        if event["event"] == "epoch" and event["epoch"] >= 2:
            proc.send_signal(signum)
            break
    _rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err and "--resume" in err
    done = json.loads((run / "state.json").read_text())["epoch"]
    assert 2 <= done < 500
    assert_valid_run(run, done, status="interrupted")
    before = (run / "history.csv").read_text().splitlines()
    if signum == signal.SIGTERM:
        return  # resuming is the same after either signal; once is enough for the CI's two cores

    target = done + 2
    proc2 = _cli("--resume", str(run), "--epochs", str(target), "--quiet")
    assert proc2.returncode == 0, proc2.stderr
    assert_valid_run(run, target)
    after = (run / "history.csv").read_text().splitlines()
    assert after[: len(before)] == before  # the history so far is intact
    assert json.loads((run / "run.json").read_text())["settings"]["epochs"] == target


@pytest.mark.slow
def test_resume_from_python_when_nothing_is_left(tmp_path: Path) -> None:
    data = make_folder(tmp_path / "data", {"a": 10, "b": 10}, size=(8, 8))
    first = train("C: 4 D: 4R", data, TrainOptions(epochs=1), out_dir=tmp_path / "run", progress="quiet")
    again = resume(first.run_dir, progress="quiet")
    assert again.status == "completed" and again.epochs_completed == 1
    assert_valid_run(tmp_path / "run", 1)


@pytest.mark.slow
def test_resume_ends_where_an_uninterrupted_run_would_have(tmp_path: Path) -> None:
    """Dropout and augmentation draw, and the data shuffles, from (seed, epoch)
    alone: 2 epochs + resume to 4 repeat a straight 4-epoch run."""
    data = make_folder(tmp_path / "data", {"a": 12, "b": 12, "c": 12}, size=(8, 8), channels=3)
    spec = "I: 8x8x3 A: flip C: 4 d.2 D: 4R"
    opts = TrainOptions(epochs=4, batch_size=8, seed=7)
    straight = train(spec, data, opts, out_dir=tmp_path / "straight", progress="quiet")
    train(spec, data, opts.model_copy(update={"epochs": 2}), out_dir=tmp_path / "split", progress="quiet")
    resumed = resume(tmp_path / "split", epochs=4, progress="quiet")
    assert resumed.epochs_completed == straight.epochs_completed == 4
    for a, b in zip(straight.history, resumed.history, strict=True):
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert b[key] == pytest.approx(a[key], abs=1e-5), (a["epoch"], key)


@pytest.mark.slow
def test_name_picks_one_variant_of_a_spec_with_braces(tmp_path: Path) -> None:
    data = make_folder(tmp_path / "data", {"a": 10, "b": 10}, size=(8, 8))
    specs = tmp_path / "m.cnn"
    specs.write_text("m = I: 8x8x1 C: {4,8} D: 4R\n")
    proc = _cli(str(specs), "--data", str(data), "--out", str(tmp_path / "none"))
    assert proc.returncode == 2 and "expands to 2 specs" in proc.stderr and "cnnspec sweep" in proc.stderr
    assert "m-4, m-8" in proc.stderr
    proc = _cli("--spec", "m = C: {4,8}", "--name", "m-16", "--data", str(data), "--out", str(tmp_path / "none"))
    assert proc.returncode == 2 and "no spec named 'm-16'" in proc.stderr and "m-4, m-8" in proc.stderr
    assert not (tmp_path / "none").exists()

    run = tmp_path / "run"
    proc = _cli(str(specs), "--name", "m-8", "--data", str(data), "--out", str(run), "--epochs", "1", "--quiet")
    assert proc.returncode == 0, proc.stderr
    info = json.loads((run / "run.json").read_text())
    assert info["name"] == "m-8" and info["spec"] == f"m-8 = {format_spec(parse('I: 8x8x1 C: 8 D: 4R'))}\n"
    assert (run / "spec.cnn").read_text() == info["spec"]
    assert resume(run, progress="quiet").status == "completed"  # spec.cnn holds this network, not the braces


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:200])


@pytest.mark.slow
def test_resume_names_a_damaged_or_missing_run_file(tmp_path: Path) -> None:
    import shutil

    data = make_folder(tmp_path / "data", {"a": 10, "b": 10}, size=(8, 8))
    good = tmp_path / "good"
    train("C: 4 D: 4R", data, TrainOptions(epochs=1), out_dir=good, progress="quiet")
    cases = [
        ("state.json", lambda p: p.write_text('{"epoch": 1'), "state.json is damaged: not valid JSON"),
        ("state.json", lambda p: p.write_text('{"epochs": "one"}'), 'state.json is damaged: expected {"epoch": N}'),
        ("run.json", lambda p: p.write_text('{\n  "name": nul'), "run.json is damaged: not valid JSON"),
        ("run.json", lambda p: p.write_text("[]"), "run.json is damaged: not what cnnspec train writes"),
        ("checkpoint.keras", Path.unlink, "checkpoint.keras is missing: state.json says 1 epochs"),
        ("checkpoint.keras", lambda p: p.write_bytes(b"not a model"), "checkpoint.keras is damaged"),
        ("checkpoint.keras", _truncate, "checkpoint.keras is damaged"),
        ("history.csv", lambda p: p.write_text("epoch,loss\nx,y\n"), "history.csv is damaged"),
    ]
    for i, (name, damage, message) in enumerate(cases):
        run = tmp_path / f"run{i}"
        shutil.copytree(good, run)
        damage(run / name)
        before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
        proc = _cli("--resume", str(run), "--epochs", "2", "--quiet")
        assert proc.returncode == 1, (name, proc.stderr)
        assert message in proc.stderr.replace("\n", ""), (name, proc.stderr)
        assert "Traceback" not in proc.stderr and "training failed" not in proc.stderr
        assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before  # nothing written
