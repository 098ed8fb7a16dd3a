"""A trained run + a test folder -> accuracy, per-class scores, confusion matrix.

:func:`evaluate` reads the run directory that :mod:`cnnspec.run.train` wrote
(``run.json``, ``model.keras``), reads the test folder with the very loader
that training used for validation (:mod:`cnnspec.run.data`, :mod:`cnnspec.run.pipeline`: the same
scan and refusals, class order, colour conversion and resize, on any backend),
predicts every image once and scores the predictions.  :func:`scores` is the
pure arithmetic, and :func:`plot_confusion` draws the matrix.

By default ``evaluation.json`` and ``confusion.png`` are written, atomically,
into the run directory.  Keras, TensorFlow and matplotlib are imported inside
the functions that need them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict

from cnnspec import atomic
from cnnspec.run.data import DataError, DataPlan, FolderScan, scan
from cnnspec.run.rundir import (
    CONFUSION_PNG,
    EVALUATION_JSON,
    MODEL_KERAS,
    RunDirError,
    RunRecord,
    read_metrics,
)
from cnnspec.run.rundir import read_run as read_record

#: Beyond this many classes the picture shows colours only, no counts.
ANNOTATE_MAX = 30


class ClassScore(BaseModel):
    """Precision, recall, F1 and support (true images) of one class.

    A class that is never predicted has precision 0 (as scikit-learn's
    ``zero_division=0``), one with no images recall 0."""

    model_config = ConfigDict(frozen=True)

    name: str
    precision: float
    recall: float
    f1: float
    support: int


class Scores(BaseModel):
    """What :func:`scores` computes from true and predicted labels."""

    model_config = ConfigDict(frozen=True)

    accuracy: float
    per_class: list[ClassScore]
    #: Unweighted mean over the classes of precision, recall and F1.
    macro_avg: dict[str, float]
    #: Mean weighted by support.
    weighted_avg: dict[str, float]
    #: ``confusion[t][p]``: images of true class ``t`` predicted as ``p``.
    confusion: list[list[int]]


class Evaluation(Scores):
    """The result of :func:`evaluate`; ``to_dict()`` is ``evaluation.json``."""

    run_dir: str
    model: str
    data: dict[str, Any]
    class_names: list[str]
    images: int
    seconds: float
    #: The run's ``run.json`` status when scored (``completed``, ``running``, ...).
    run_status: Optional[str] = None
    notes: list[str] = []
    #: Paths written (``json``, ``png``); empty when nothing was saved.
    files: dict[str, str] = {}

    def to_dict(self) -> dict[str, Any]:
        from cnnspec import __version__

        return {"cnnspec_version": __version__, **self.model_dump(mode="json")}


# --- the arithmetic -----------------------------------------------------------------


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def scores(y_true: Sequence[int], y_pred: Sequence[int], class_names: Sequence[str]) -> Scores:
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix.

    >>> s = scores([0, 0, 1, 1], [0, 1, 1, 1], ["a", "b"])
    >>> s.accuracy, s.confusion
    (0.75, [[1, 1], [0, 2]])
    >>> s.per_class[1].precision, s.per_class[1].recall
    (0.6666666666666666, 1.0)
    """
    n = len(class_names)
    confusion = [[0] * n for _ in range(n)]
    for t, p in zip(y_true, y_pred, strict=True):
        confusion[int(t)][int(p)] += 1
    total = sum(map(sum, confusion))
    per_class = []
    for i, name in enumerate(class_names):
        tp = confusion[i][i]
        support = sum(confusion[i])
        predicted = sum(row[i] for row in confusion)
        precision, recall = _ratio(tp, predicted), _ratio(tp, support)
        f1 = _ratio(2 * precision * recall, precision + recall)
        per_class.append(ClassScore(name=name, precision=precision, recall=recall, f1=f1, support=support))
    keys = ("precision", "recall", "f1")
    macro = {k: _ratio(sum(getattr(c, k) for c in per_class), n) for k in keys}
    weighted = {k: _ratio(sum(getattr(c, k) * c.support for c in per_class), total) for k in keys}
    return Scores(
        accuracy=_ratio(sum(confusion[i][i] for i in range(n)), total),
        per_class=per_class,
        macro_avg=macro,
        weighted_avg=weighted,
        confusion=confusion,
    )


# --- the run and the test folder ---------------------------------------------------


def read_run(run_dir: str | Path) -> RunRecord:
    """``run.json`` of a run directory that has a model; :class:`RunDirError` if not."""
    run_dir = Path(run_dir)
    run = read_record(run_dir)
    run.require(run_dir, "class_names", "input_shape")  # what evaluation needs
    if not (run_dir / MODEL_KERAS).is_file():
        raise RunDirError(
            f"{run_dir} has no {MODEL_KERAS} yet: no epoch of the run has completed",
            f"train it further with cnnspec train --resume {run_dir}",
        )
    return run


def unfinished_note(run: RunRecord | dict[str, Any], run_dir: str | Path, doing: str = "scoring") -> str | None:
    """A note when the run has not completed (``None`` when it has): its
    ``model.keras`` is then only the best epoch so far, named from
    ``metrics.json`` when that says which.

    >>> unfinished_note({"status": "running"}, "no-such-run")
    'run still running: scoring the best epoch so far'
    >>> unfinished_note({"status": "completed"}, "no-such-run") is None
    True
    """
    status = run.status if isinstance(run, RunRecord) else run.get("status")
    if status is None or status == "completed":
        return None
    try:
        metrics = read_metrics(run_dir)
        epoch = metrics.best.val_accuracy_epoch if metrics is not None else None
    except RunDirError:
        epoch = None
    at = f" (epoch {epoch})" if isinstance(epoch, int) and not isinstance(epoch, bool) else ""
    if status == "running":
        return f"run still running: {doing} the best epoch so far{at}"
    return f"run {status}: {doing} the best epoch it reached{at}"


def _test_plan(test: FolderScan, run: RunRecord, skip_bad: bool) -> DataPlan:
    """The test folder as a :class:`DataPlan` with the run's image shape; raise
    :class:`DataError` when its classes are not the run's or files are bad."""
    expected = list(run.class_names or [])
    if list(test.class_names) != expected:
        missing = [c for c in expected if c not in test.class_names]
        extra = [c for c in test.class_names if c not in expected]
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"extra {', '.join(extra)}"] if extra else []
        )
        raise DataError(
            f"the classes in {test.path} ({', '.join(test.class_names)}) are not the run's "
            f"({', '.join(expected)})" + (f": {'; '.join(parts)}" if parts else ""),
            "give a test folder with one subfolder per class of the run, named alike",
        )
    if test.bad and not skip_bad:
        from cnnspec.run.data import bad_message

        err = bad_message(test)
        raise DataError(err.message, "remove or fix them, or pass --skip-bad to evaluate without them")
    emptied = [n for n, c in test.good_counts.items() if c == 0]
    if emptied:
        raise DataError(f"no decodable images left in {', '.join(emptied)} of {test.path}", "add decodable images")
    return DataPlan(
        train=test,
        image_shape=tuple(run.input_shape or ()),  # type: ignore[arg-type]
        val_split=0.5,  # unused: the whole folder is read, unsplit
        skip_bad=skip_bad,
        n_train=test.good_total,
        n_val=0,
    )


def _seen_note(test: FolderScan, run: RunRecord) -> str | None:
    """A note when the "test" folder is data the run learnt from or was selected on (same fingerprint)."""
    if run.data is None:
        return None
    if test.fingerprint == run.data.fingerprint:
        return (
            "these are the images the run was trained on (its validation split included): "
            "the accuracy is not a test score; give a folder the run has not seen"
        )
    val = (run.data.model_extra or {}).get("val")
    if isinstance(val, dict) and test.fingerprint == val.get("fingerprint"):
        return "these are the run's validation images (its best epoch was chosen on them): not a test score"
    return None


def _notes(test: FolderScan, shape: Sequence[int]) -> list[str]:
    notes = []
    h, w, _ = shape
    other = {s: n for s, n in test.sizes.items() if s != f"{h}x{w}"}
    if other:
        notes.append(f"{sum(other.values())} images are not {h}x{w}: resized on load, as in training")
    from cnnspec.run.images import conversions

    # Per kind, not per folder: a mostly grayscale folder with a few colour images is both.
    notes += [f"{n} on load, as in training" for n in conversions({}, test.modes, shape) if "converted" in n]
    if test.bad:
        notes.append(f"{len(test.bad)} files that are not decodable images were skipped")
    return notes


def _predict(model: Any, dplan: DataPlan, batch_size: int) -> tuple[list[int], Any]:
    """True labels and model outputs of every image, in the loader's order (decoded as training
    decoded its validation images)."""
    import numpy as np

    from cnnspec.run.pipeline import as_keras_data, open_folder

    with open_folder(dplan, batch_size=batch_size) as (batches, labels):
        outputs = model.predict(as_keras_data(batches), verbose=0)
    return [int(y) for y in labels], np.asarray(outputs, dtype="float32")


def _classes_of(outputs: Any, run: RunRecord) -> list[int]:
    """Predicted labels: argmax of a softmax (or logits) head; a single sigmoid
    unit is class 1 above 0.5 (above 0 for logits)."""
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        from cnnspec.notation.parser import parse

        head = parse(run.spec or run.canonical or "").head
        threshold = 0.0 if head is not None and head.activation == "I" else 0.5
        return [int(v > threshold) for v in outputs[:, 0]]
    return [int(i) for i in outputs.argmax(axis=-1)]


def evaluate(
    run_dir: str | Path,
    data_dir: str | Path,
    *,
    batch_size: Optional[int] = None,
    skip_bad: bool = False,
    save: bool = True,
    out_png: str | Path | None = None,
) -> Evaluation:
    """Score the best model of a run (``model.keras``) on a test folder.

    The test folder needs the run's class subfolders; it is read exactly as
    training read its validation images.  Refusals raise
    :class:`RunDirError` (the run) or :class:`~cnnspec.run.data.DataError` (the
    folder) before anything is loaded.  With ``save``, ``evaluation.json``
    and ``confusion.png`` go into the run directory, or the picture goes to
    ``out_png`` and the JSON beside it with the same stem.

    >>> ev = evaluate("runs/digits", "examples/data/digits")  # doctest: +SKIP
    >>> ev.accuracy, ev.confusion[0]  # doctest: +SKIP
    (0.97, [178, 0, ...])
    """
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    test = scan(data_dir)
    dplan = _test_plan(test, run, skip_bad)
    bs = batch_size or int((run.settings or {}).get("batch_size") or 32)

    import keras

    t0 = time.perf_counter()
    model = keras.saving.load_model(run_dir / MODEL_KERAS)
    labels, outputs = _predict(model, dplan, bs)
    seconds = time.perf_counter() - t0
    names = list(run.class_names or [])
    if outputs.shape[-1] not in (1, len(names)):
        raise RunDirError(f"{run_dir}/{MODEL_KERAS} has {outputs.shape[-1]} outputs for {len(names)} classes")
    s = scores(labels, _classes_of(outputs, run), names)
    ev = Evaluation(
        **s.model_dump(),
        run_dir=str(run_dir),
        model=str(run_dir / MODEL_KERAS),
        data=test.data_record(),
        class_names=names,
        images=len(labels),
        seconds=round(seconds, 3),
        run_status=run.status,
        notes=[n for n in (unfinished_note(run, run_dir), _seen_note(test, run)) if n]
        + _notes(test, run.input_shape or []),
    )
    if save:
        png = Path(out_png) if out_png is not None else run_dir / CONFUSION_PNG
        js = png.with_suffix(".json") if out_png is not None else run_dir / EVALUATION_JSON
        ev = ev.model_copy(update={"files": {"json": str(js), "png": str(png)}})
        plot_confusion(ev.confusion, names, png, title=f"{run.name or run_dir.name}: accuracy {ev.accuracy:.4f}")
        payload = {**ev.to_dict(), "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        atomic.write_text(js, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return ev


def plot_confusion(confusion: list[list[int]], class_names: Sequence[str], path: str | Path, title: str = "") -> None:
    """A PNG of the confusion matrix: true classes down, predicted across,
    coloured by the share of each true class, with the counts written in."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    n = len(class_names)
    shares = [[v / (sum(row) or 1) for v in row] for row in confusion]
    side = min(max(3.5, 0.5 * n + 2), 16)
    fig = Figure(figsize=(side + 1, side), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    labels = [str(c) for c in class_names]
    tilted = n > 6 or max(map(len, labels)) > 6
    ax.set_xticks(range(n), labels, rotation=45 if tilted else 0, ha="right" if tilted else "center")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= ANNOTATE_MAX:
        for t in range(n):
            for p in range(n):
                colour = "white" if shares[t][p] > 0.5 else "black"
                ax.text(p, t, str(confusion[t][p]), ha="center", va="center", color=colour, fontsize=9)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    atomic.write_with(path, lambda p: fig.savefig(p, format="png"), suffix=".png")


__all__ = [
    "ClassScore",
    "Evaluation",
    "RunDirError",
    "Scores",
    "evaluate",
    "plot_confusion",
    "read_run",
    "scores",
    "unfinished_note",
]
