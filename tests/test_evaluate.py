"""``cnnspec evaluate``: a real trained run scored on a real test folder, held
against scikit-learn on predictions made independently of the loader."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from image_folders import make_folder
from PIL import Image

from cnnspec.run.data import DataError
from cnnspec.run.evaluate import RunDirError, evaluate, scores

CLASSES = {"left": 40, "right": 40, "top": 40, "bottom": 40}
TEST_CLASSES = {name: 12 for name in CLASSES}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cnnspec", "evaluate", *args], capture_output=True, text=True, timeout=180
    )


def _independent(run: Path, folder: Path, class_names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """True labels and the saved model's outputs, reading the PNGs with Pillow
    (not through cnnspec.run.data or Keras' loader)."""
    import keras

    images, labels = [], []
    for label, name in enumerate(class_names):
        for path in sorted((folder / name).iterdir()):
            images.append(np.asarray(Image.open(path), dtype="float32")[..., None])
            labels.append(label)
    model = keras.saving.load_model(run / "model.keras")
    return np.array(labels), model.predict(np.stack(images), verbose=0)


# --- the arithmetic, against scikit-learn ---------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_agree_with_sklearn(seed: int) -> None:
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    rng = np.random.default_rng(seed)
    names = ["a", "b", "c", "d"]
    y_true = rng.integers(0, 4, 50)
    y_pred = np.where(rng.random(50) < 0.6, y_true, rng.integers(0, 3, 50))  # "d" is rarely or never predicted
    s = scores(y_true.tolist(), y_pred.tolist(), names)
    assert s.confusion == confusion_matrix(y_true, y_pred, labels=range(4)).tolist()
    assert s.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    p, r, f, n = precision_recall_fscore_support(y_true, y_pred, labels=range(4), zero_division=0)
    assert [c.precision for c in s.per_class] == pytest.approx(p.tolist())
    assert [c.recall for c in s.per_class] == pytest.approx(r.tolist())
    assert [c.f1 for c in s.per_class] == pytest.approx(f.tolist())
    assert [c.support for c in s.per_class] == n.tolist()
    for avg, got in (("macro", s.macro_avg), ("weighted", s.weighted_avg)):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=range(4), average=avg, zero_division=0)
        assert [got["precision"], got["recall"], got["f1"]] == pytest.approx([p, r, f])


# --- refusals that need no model ------------------------------------------------------


def test_a_folder_that_is_not_a_run_is_refused_without_traceback(tmp_path: Path) -> None:
    test = make_folder(tmp_path / "test", {"a": 3, "b": 3})
    for run, message, code in [
        (tmp_path / "nowhere", "no such run directory", 2),  # a missing path: a usage error
        (tmp_path / "test", "is not a run directory (no run.json)", 1),
    ]:
        proc = _cli(str(run), "--data", str(test))
        assert proc.returncode == code, proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr + proc.stdout
    proc = _cli(str(tmp_path), "--data", str(test), "--out", "matrix.svg")
    assert proc.returncode == 2 and "expected a .png file" in proc.stderr


def test_a_run_without_a_model_yet_says_so(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"class_names": ["a", "b"], "input_shape": [12, 12, 1]}))
    with pytest.raises(RunDirError, match=r"no model\.keras yet") as info:
        evaluate(run, make_folder(tmp_path / "test", {"a": 3, "b": 3}))
    assert "--resume" in (info.value.hint or "")


def test_evaluate_modules_import_no_keras() -> None:
    code = (
        "import sys, cnnspec.cli, cnnspec.run.evaluate, cnnspec.cli.evaluate; "
        "heavy = {'keras', 'tensorflow', 'matplotlib'} & set(sys.modules); assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- a real trained run -----------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 4-class run of a tiny CNN and a test folder drawn with another seed."""
    from cnnspec.run.train import TrainOptions, train

    root = tmp_path_factory.mktemp("evaluate")
    data = make_folder(root / "data", CLASSES, size=(12, 12), seed=0)
    test = make_folder(root / "test", TEST_CLASSES, size=(12, 12), seed=7)
    opts = TrainOptions(epochs=6, batch_size=8, lr=0.003, seed=1)
    result = train("C: 8 D: 16R", data, opts, out_dir=root / "run", progress="quiet")
    assert result.status == "completed"
    return root / "run", test


@pytest.mark.slow
def test_evaluation_matches_predictions_made_independently(trained: tuple[Path, Path]) -> None:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    run, test = trained
    ev = evaluate(run, test)
    names = json.loads((run / "class_names.json").read_text())
    assert ev.class_names == names == sorted(CLASSES)
    labels, outputs = _independent(run, test, names)
    predicted = outputs.argmax(axis=-1)
    assert ev.images == len(labels) == 48
    assert ev.confusion == confusion_matrix(labels, predicted, labels=range(4)).tolist()
    p, r, f, n = precision_recall_fscore_support(labels, predicted, labels=range(4), zero_division=0)
    assert [c.precision for c in ev.per_class] == pytest.approx(p.tolist())
    assert [c.recall for c in ev.per_class] == pytest.approx(r.tolist())
    assert [c.f1 for c in ev.per_class] == pytest.approx(f.tolist())
    assert [c.support for c in ev.per_class] == n.tolist() == [12] * 4
    assert ev.accuracy == pytest.approx(float((predicted == labels).mean()))
    assert ev.accuracy > 0.8  # chance is 0.25
    assert ev.notes == []

    # Written into the run directory, atomically, and the JSON is what the API returned.
    saved = json.loads((run / "evaluation.json").read_text())
    assert saved["confusion"] == ev.confusion and saved["accuracy"] == ev.accuracy
    assert saved["data"]["files"] == 48 and saved["per_class"][0]["name"] == names[0]
    assert (run / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_cli_json_and_tables(trained: tuple[Path, Path], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cnnspec.cli import app

    run, test = trained
    out = tmp_path / "eval" / "matrix.png"
    got = CliRunner().invoke(app, ["evaluate", str(run), "--data", str(test), "--json", "--out", str(out)])
    assert got.exit_code == 0, got.output
    payload = json.loads(got.output)
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved.pop("created") and saved == payload
    assert payload["files"] == {"json": str(out.with_suffix(".json")), "png": str(out)}
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sum(map(sum, payload["confusion"])) == 48

    got = CliRunner().invoke(app, ["evaluate", str(run), "--data", str(test), "--no-save"], env={"COLUMNS": "120"})
    assert got.exit_code == 0, got.output
    assert "confusion matrix (rows: true, columns: predicted)" in got.output
    assert "macro avg" in got.output and "precision" in got.output
    assert all(name in got.output for name in CLASSES) and "wrote" not in got.output


@pytest.mark.slow
def test_test_folder_with_other_classes_or_bad_files(trained: tuple[Path, Path], tmp_path: Path) -> None:
    run, _ = trained
    other = make_folder(tmp_path / "other", {"left": 3, "right": 3, "top": 3, "middle": 3})
    proc = _cli(str(run), "--data", str(other), "--out", str(tmp_path / "x.png"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout
    err = " ".join(proc.stderr.split())  # rich may wrap the line
    assert "(left, middle, right, top) are not the run's (bottom, left, right, top)" in err
    assert "missing bottom; extra middle" in err
    assert not (tmp_path / "x.png").exists()

    broken = make_folder(tmp_path / "broken", TEST_CLASSES, size=(12, 12), seed=3)
    (broken / "top" / "zz.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    with pytest.raises(DataError, match=r"top/zz\.png") as info:
        evaluate(run, broken, save=False)
    assert "--skip-bad" in (info.value.hint or "")
    ev = evaluate(run, broken, save=False, skip_bad=True)
    assert ev.images == 48 and ev.files == {} and "1 files that are not decodable" in ev.notes[0]


@pytest.mark.slow
def test_binary_sigmoid_head_with_resized_images(tmp_path: Path) -> None:
    """One sigmoid unit: class 1 above 0.5; test images of another size are resized as in training."""
    from cnnspec.run.train import TrainOptions, train

    data = make_folder(tmp_path / "data", {"no": 50, "yes": 50}, size=(16, 16))
    test = make_folder(tmp_path / "test", {"no": 15, "yes": 15}, size=(16, 16), seed=4)
    bigger = make_folder(tmp_path / "bigger", {"no": 10, "yes": 10}, size=(24, 24), seed=5)
    opts = TrainOptions(epochs=4, batch_size=8, lr=0.01, seed=1)
    train("C: 8 D: 8R O: 1", data, opts, out_dir=tmp_path / "run", progress="quiet")
    ev = evaluate(tmp_path / "run", test, save=False)
    assert ev.class_names == ["no", "yes"] and ev.accuracy > 0.85  # chance is 0.5
    labels, outputs = _independent(tmp_path / "run", test, ["no", "yes"])
    assert outputs.shape == (30, 1)
    predicted = (outputs[:, 0] > 0.5).astype(int)
    from sklearn.metrics import confusion_matrix

    assert ev.confusion == confusion_matrix(labels, predicted, labels=[0, 1]).tolist()

    resized = evaluate(tmp_path / "run", bigger, save=False)
    assert resized.notes == ["20 images are not 16x16: resized on load, as in training"]
    assert resized.accuracy > 0.8


def _with_status(run: Path, where: Path, status: str) -> Path:
    """A copy of ``run`` whose ``run.json`` says ``status``."""
    import shutil

    shutil.copytree(run, where)
    info = json.loads((where / "run.json").read_text())
    (where / "run.json").write_text(json.dumps({**info, "status": status}))
    return where


@pytest.mark.slow
def test_a_run_not_completed_is_scored_with_a_note(trained: tuple[Path, Path], tmp_path: Path) -> None:
    """model.keras of a running run is only its best epoch so far: said, and recorded in evaluation.json."""
    from typer.testing import CliRunner

    from cnnspec.cli import app

    run, test = trained
    best = json.loads((run / "metrics.json").read_text())["best"]["val_accuracy_epoch"]
    running = _with_status(run, tmp_path / "running", "running")
    got = CliRunner().invoke(app, ["evaluate", str(running), "--data", str(test)], env={"COLUMNS": "200"})
    assert got.exit_code == 0, got.output
    note = f"run still running: scoring the best epoch so far (epoch {best})"
    assert f"note: {note}" in got.output
    saved = json.loads((running / "evaluation.json").read_text())
    assert saved["run_status"] == "running" and saved["notes"] == [note]

    for status in ("interrupted", "failed"):
        stopped = _with_status(run, tmp_path / status, status)
        (stopped / "metrics.json").unlink()  # no best epoch to name: the note says less, and still comes
        ev = evaluate(stopped, test, save=False)
        assert ev.run_status == status and ev.notes == [f"run {status}: scoring the best epoch it reached"]
    assert evaluate(run, test, save=False).run_status == "completed"
