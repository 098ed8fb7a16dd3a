"""The run directory: the one owner of what ``cnnspec train`` writes and every command reads.

Every file a run can hold is named here (:data:`RUN_FILES`): those training writes, and
those that export and evaluate add to the same folder.  The JSON records are typed models,
each with a ``schema_version``: :class:`RunRecord` (``run.json``), :class:`Metrics`
(``metrics.json``) and :class:`State` (``state.json``); a row of ``history.csv`` is a
:class:`HistoryRow`, and the version of that table is its header (:data:`HISTORY_COLUMNS`).

One reader per file (:func:`read_run`, :func:`read_metrics`, :func:`read_state`,
:func:`read_history`) and one atomic writer (:func:`write_record`, on
:func:`cnnspec.atomic.write_text`).  A damaged or foreign folder raises one error,
:class:`RunDirError`, that names the file and the reason.  Run directories of the first
release carry no ``schema_version``: they read as version 0, whose fields are the same.

Keras, TensorFlow and numpy are imported inside :func:`versions` only.
"""

from __future__ import annotations

import csv
import io
import json
import platform
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from cnnspec import atomic
from cnnspec.errors import UserError
from cnnspec.run.options import TrainOptions
from cnnspec.run.progress import COLUMNS

#: The version written now; files without one are version 0 (the first release), read alike.
SCHEMA_VERSION = 1

# --- the files ---------------------------------------------------------------------------

SPEC_CNN = "spec.cnn"
RUN_JSON = "run.json"
CLASS_NAMES_JSON = "class_names.json"
MODEL_KERAS = "model.keras"
CHECKPOINT_KERAS = "checkpoint.keras"
STATE_JSON = "state.json"
HISTORY_CSV = "history.csv"
METRICS_JSON = "metrics.json"
CURVES_PNG = "curves.png"
#: Written by ``cnnspec export`` (its default output) and ``cnnspec evaluate``.
MODEL_ONNX = "model.onnx"
EVALUATION_JSON = "evaluation.json"
CONFUSION_PNG = "confusion.png"
#: The owner of a folder being written (:mod:`cnnspec.run.lock`); readers never look at it.
LOCK_JSON = "lock.json"

#: Every file a run directory can hold: a folder holding only these (and hidden files)
#: is a run that a sweep may clear and start again.
RUN_FILES = frozenset(
    {SPEC_CNN, RUN_JSON, CLASS_NAMES_JSON, MODEL_KERAS, CHECKPOINT_KERAS, STATE_JSON, HISTORY_CSV,
     METRICS_JSON, CURVES_PNG, MODEL_ONNX, EVALUATION_JSON, CONFUSION_PNG, LOCK_JSON}
)  # fmt: skip
#: The columns of ``history.csv``, in order: the table's schema.
HISTORY_COLUMNS = COLUMNS
RESTART = "start the run again with cnnspec train (a new --out)"
NOT_A_RUN_HINT = "give a folder that cnnspec train wrote"
#: Where ``cnnspec train`` puts a run without ``--out``: ``runs/<name>-<time>``.
RUNS_DIR = "runs"


class RunDirError(UserError):
    """A run directory, or one of its files, that cannot be used: missing, damaged or foreign.

    ``path`` is the file (or folder) at fault and ``reason`` what is wrong with it, so a
    caller that lists problems (``cnnspec report``) can word them as ``path: reason``.
    """

    code = "run-dir"

    def __init__(
        self, message: str, hint: str | None = None, *, path: Path | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message, hint)
        self.path = path
        self.reason = reason or message


def damaged(path: Path, reason: str, hint: str | None = RESTART, *, foreign: bool = False) -> RunDirError:
    """``PATH is damaged: REASON``; ``foreign``: readable, but not what cnnspec train writes."""
    shown = f"not what cnnspec train writes ({reason})" if foreign else reason
    return RunDirError(f"{path} is damaged: {shown}", hint, path=path, reason=reason)


# --- the records ---------------------------------------------------------------------------


class _Record(BaseModel):
    """A JSON record of a run: strict types (``"0.5"`` is no number), unknown keys kept
    (a later cnnspec may add some; they survive a rewrite)."""

    model_config = ConfigDict(extra="allow", strict=True)

    schema_version: int = 0


class DataRecord(BaseModel):
    """``run.json``'s ``data``: the folder trained on (``val`` and ``bad`` kept as extras)."""

    model_config = ConfigDict(extra="allow", strict=True)

    path: Optional[str] = None
    fingerprint: Optional[str] = None
    files: Optional[int] = None
    counts: Optional[dict[str, int]] = None


class RunRecord(_Record):
    """``run.json``: what the run is (spec, data, settings) and where it stands (``status``).

    Every field is optional for reading, because each command needs only some of them
    (:meth:`require`); ``cnnspec train`` writes them all.
    """

    cnnspec_version: Optional[str] = None
    name: Optional[str] = None
    #: The spec as written; ``canonical`` its canonical form; ``canonical_complete`` with
    #: the ``I:`` and ``O:`` the data decided.
    spec: Optional[str] = None
    canonical: Optional[str] = None
    canonical_complete: Optional[str] = None
    input_shape: Optional[list[int]] = None
    class_names: Optional[list[str]] = None
    settings: Optional[dict[str, Any]] = None
    versions: Optional[dict[str, str]] = None
    data: Optional[DataRecord] = None
    status: Optional[str] = None
    created: Optional[str] = None
    updated: Optional[str] = None
    #: Devices trained on.
    replicas: Optional[int] = None
    #: The Keras backend the run trains on (``tensorflow``, ``jax``, ``torch``); runs from before
    #: it was kept trained on TensorFlow (:attr:`trained_on`).
    backend: Optional[str] = None

    @property
    def trained_on(self) -> str:
        """The backend of the run: ``backend``, or ``tensorflow`` for a run that does not say."""
        return self.backend or "tensorflow"

    def require(self, run_dir: Path, *fields: str) -> None:
        """Raise :class:`RunDirError` when one of ``fields`` is missing (``data.path``: a field
        of ``data``)."""
        for name in fields:
            value: Any = self
            for part in name.split("."):
                value = getattr(value, part, None)
            if value is None:
                raise damaged(run_dir / RUN_JSON, f"it has no {name!r}")

    def options(self, run_dir: Path, epochs: int | None = None) -> TrainOptions:
        """The run's :class:`TrainOptions` (``epochs`` replaced when given, ``out`` the folder)."""
        self.require(run_dir, "settings")
        settings = {**(self.settings or {}), "out": str(run_dir)}
        if epochs is not None:
            settings["epochs"] = epochs
        try:
            return TrainOptions(**settings)
        except ValidationError as exc:
            raise damaged(run_dir / RUN_JSON, _first_error(exc), foreign=True) from None


class Best(BaseModel):
    """``metrics.json``'s ``best``: the best value of each curve, and its epoch."""

    model_config = ConfigDict(extra="allow", strict=True)

    val_accuracy: Optional[float] = None
    val_accuracy_epoch: Optional[int] = None
    train_accuracy: Optional[float] = None
    train_accuracy_epoch: Optional[int] = None
    val_loss: Optional[float] = None
    val_loss_epoch: Optional[int] = None
    train_loss: Optional[float] = None
    train_loss_epoch: Optional[int] = None


class Final(BaseModel):
    """``metrics.json``'s ``final``: the values of the last epoch."""

    model_config = ConfigDict(extra="allow", strict=True)

    train_accuracy: Optional[float] = None
    val_accuracy: Optional[float] = None
    train_loss: Optional[float] = None
    val_loss: Optional[float] = None


class Metrics(_Record):
    """``metrics.json`` (see :func:`cnnspec.run.metrics.summarize`)."""

    epochs_completed: Optional[int] = None
    best: Best = Best()
    final: Final = Final()
    seconds_per_epoch: Optional[float] = None
    images_per_second: Optional[float] = None
    total_params: Optional[int] = None
    macs: Optional[int] = None
    gflops: Optional[float] = None


class State(_Record):
    """``state.json``: the epochs completed, the commit point that ``--resume`` trusts."""

    epoch: int


class HistoryRow(BaseModel):
    """One row of ``history.csv`` (an empty cell is ``None``); other columns are kept."""

    model_config = ConfigDict(extra="allow")

    epoch: int
    loss: Optional[float] = None
    accuracy: Optional[float] = None
    val_loss: Optional[float] = None
    val_accuracy: Optional[float] = None
    seconds: Optional[float] = None
    lr: Optional[float] = None


_KINDS = {"int": "a whole number", "float": "a number", "str": "text", "list": "a list", "dict": "an object"}


def _first_error(exc: ValidationError) -> str:
    """A pydantic error as a sentence about the file: ``best.val_accuracy is "high", not a number``."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "missing":
        return f"it has no {where!r}"
    kind = next((v for k, v in _KINDS.items() if err["type"].startswith(k)), None)
    if kind is None:
        model = err["type"] in ("model_type", "model_attributes_type", "dataclass_type")
        kind = "an object" if model else err["msg"].lower()
    return f"{where} is {json.dumps(err.get('input'), default=str)[:60]}, not {kind}"


# --- reading -----------------------------------------------------------------------------------


def read_text(path: Path) -> str:
    """A run file's text; :class:`RunDirError` when it is not UTF-8 or cannot be read."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise damaged(path, f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise RunDirError(f"cannot read {path}: {exc.strerror or exc}", path=path, reason="cannot be read") from None


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object from a run's (or a sweep's) file; :class:`RunDirError` for anything else."""
    try:
        doc = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise damaged(path, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(doc, dict):
        raise damaged(path, f"holds a JSON {type(doc).__name__}, not an object", foreign=True)
    return doc


_R = TypeVar("_R", bound=_Record)


def _read_record(path: Path, model: type[_R]) -> _R:
    doc = read_json_object(path)
    try:
        record = model.model_validate(doc)
    except ValidationError as exc:
        raise damaged(path, _first_error(exc), foreign=True) from None
    if record.schema_version > SCHEMA_VERSION:
        raise RunDirError(
            f"{path} was written by a newer cnnspec (schema {record.schema_version}, this one reads up to "
            f"{SCHEMA_VERSION})",
            "upgrade cnnspec",
            path=path,
            reason=f"schema version {record.schema_version} is newer than this cnnspec reads",
        )
    return record


def read_run(run_dir: str | Path) -> RunRecord:
    """``run.json`` of a run directory; :class:`RunDirError` for a missing, damaged or foreign one."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"no such run directory: {run_dir}", NOT_A_RUN_HINT, path=run_dir, reason="no such folder")
    if not (run_dir / RUN_JSON).is_file():
        raise RunDirError(
            f"{run_dir} is not a run directory (no {RUN_JSON})", NOT_A_RUN_HINT, path=run_dir, reason=f"no {RUN_JSON}"
        )
    return _read_record(run_dir / RUN_JSON, RunRecord)


def read_metrics(run_dir: str | Path) -> Metrics | None:
    """``metrics.json`` (``None`` when absent: no epoch completed yet)."""
    path = Path(run_dir) / METRICS_JSON
    return _read_record(path, Metrics) if path.exists() else None


def read_state(run_dir: str | Path) -> State:
    """``state.json`` (epoch 0 when absent: no epoch was completed)."""
    path = Path(run_dir) / STATE_JSON
    if not path.exists():
        return State(epoch=0)
    doc = read_json_object(path)
    epoch = doc.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        found = json.dumps({k: v for k, v in doc.items() if k != "schema_version"})[:80]
        raise damaged(path, f'expected {{"epoch": N}} with N the epochs completed, found {found}')
    return _read_record(path, State)


def read_history(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``history.csv``: epoch an int, the rest floats (``None`` for an empty cell);
    ``[]`` when there is none.  A cell that is no number raises :class:`RunDirError` with its line."""
    path = Path(path)
    if path.is_dir():
        path = path / HISTORY_CSV
    if not path.exists():
        return []
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    rows = []
    try:
        if reader.fieldnames and "epoch" not in reader.fieldnames:
            raise damaged(path, f"no epoch column (columns: {', '.join(reader.fieldnames)})", foreign=True)
        for raw in reader:
            at = f"line {reader.line_num}: "
            if None in raw:
                raise damaged(path, at + f"more values than the {len(reader.fieldnames or [])} columns")
            row: dict[str, Any] = {}
            for k, v in raw.items():
                try:
                    row[k] = int(v or "") if k == "epoch" else (float(v) if v not in ("", None) else None)
                except ValueError:
                    kind = "a whole number" if k == "epoch" else "a number"
                    raise damaged(path, at + f"{k} {v!r} is not {kind}") from None
            rows.append(HistoryRow.model_validate(row).model_dump(include=set(row)))
    except csv.Error as exc:
        raise damaged(path, f"line {reader.line_num}: not CSV ({exc})") from None
    return rows


def read_completed_history(run_dir: Path, done: int) -> list[dict[str, Any]]:
    """The first ``done`` rows of ``history.csv``, which must be epochs 1 to ``done``."""
    path = run_dir / HISTORY_CSV
    history = read_history(path)[:done]
    if len(history) < done or [int(r["epoch"]) for r in history] != list(range(1, done + 1)):
        raise damaged(path, f"it does not hold epochs 1 to {done}, which state.json says were completed")
    return history


#: What every ``.keras`` file holds (a zip archive).
KERAS_MEMBERS = {"config.json", "metadata.json", "model.weights.h5"}


def checkpoint_to_resume(run_dir: Path, done: int) -> Path | None:
    """``checkpoint.keras`` when epochs were completed, checked before anything
    is written: present, and a whole Keras archive."""
    if done == 0:
        return None
    import zipfile

    path = run_dir / CHECKPOINT_KERAS
    if not path.is_file():
        raise RunDirError(
            f"{path} is missing: state.json says {done} epochs were completed", RESTART, path=path, reason="missing"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            missing = KERAS_MEMBERS - set(archive.namelist())
            broken = archive.testzip()  # reads every member: a truncated or altered file fails here
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise damaged(path, f"not a readable Keras model ({exc})") from None
    if missing or broken:
        what = f"{', '.join(sorted(missing))} missing" if missing else f"{broken} corrupt"
        raise damaged(path, f"not a whole Keras model ({what})")
    return path


# --- writing (every file atomically: see cnnspec.atomic) ------------------------------------


def write_record(path: Path, record: RunRecord | Metrics | State) -> None:
    """A record as its JSON file, with this version's ``schema_version``; the fields a
    record never set (a ``replicas`` not known yet) are left out, as before."""
    record.schema_version = SCHEMA_VERSION
    doc = record.model_dump(mode="json", exclude_unset=True)
    doc = {"schema_version": SCHEMA_VERSION, **{k: v for k, v in doc.items() if k != "schema_version"}}
    write_json(path, doc)


def write_json(path: Path, obj: Any) -> None:
    """Any JSON file of a run (``class_names.json``), atomically."""
    atomic.write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def history_csv(rows: Sequence[dict[str, Any]]) -> str:
    """``history.csv``'s text: :data:`HISTORY_COLUMNS`, then one row per epoch."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for row in rows:
        cells = [("" if row.get(c) is None else f"{row[c]:.8g}") for c in HISTORY_COLUMNS[1:]]
        writer.writerow([row["epoch"], *cells])
    return buf.getvalue()


def write_history(run_dir: Path, rows: Sequence[dict[str, Any]]) -> None:
    atomic.write_text(run_dir / HISTORY_CSV, history_csv(rows))


#: The Python package of each Keras backend, for its version.
BACKEND_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy"}


def versions() -> dict[str, str]:
    """The versions a run records in ``run.json``: python, keras, numpy and the backend's package
    (``tensorflow``, ``jax`` or ``torch``), read from the installed distributions: no backend is
    imported for it (Keras is, and with it the one it runs on)."""
    import keras
    import numpy

    backend = keras.backend.backend()
    out = {"python": platform.python_version(), "keras": keras.__version__, "numpy": numpy.__version__}
    package = BACKEND_PACKAGES.get(backend)
    if package and package != "numpy":
        out[package] = _installed(package)
    return out


def _installed(package: str) -> str:
    """The version of an imported package (``tensorflow`` may be installed as ``tensorflow-cpu``)."""
    import sys

    module = sys.modules.get(package)
    return str(getattr(module, "__version__", "unknown"))


def now() -> str:
    """The time a record is written: UTC, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


__all__ = [
    "CHECKPOINT_KERAS",
    "CLASS_NAMES_JSON",
    "CONFUSION_PNG",
    "CURVES_PNG",
    "EVALUATION_JSON",
    "HISTORY_COLUMNS",
    "HISTORY_CSV",
    "LOCK_JSON",
    "METRICS_JSON",
    "MODEL_KERAS",
    "MODEL_ONNX",
    "RUN_FILES",
    "RUN_JSON",
    "SCHEMA_VERSION",
    "SPEC_CNN",
    "STATE_JSON",
    "HistoryRow",
    "Metrics",
    "RunDirError",
    "RunRecord",
    "State",
    "checkpoint_to_resume",
    "damaged",
    "read_history",
    "read_json_object",
    "read_metrics",
    "read_run",
    "read_state",
    "write_record",
]
