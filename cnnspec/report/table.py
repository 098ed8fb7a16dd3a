"""Run directories -> the experiment table, as Markdown or self-contained HTML.

The table of the articles that the notation comes from: one row per network
with its spec, parameters, MACs, best training accuracy (and its epoch),
best validation accuracy (and its epoch), final validation accuracy, the
spread of validation accuracy over the last epochs, and seconds per epoch.
Every number is read from the run's own files (``metrics.json``,
``history.csv``, ``run.json``; see ``docs/architecture.md``); nothing is
recomputed from a model.

Definitions (also printed under every table):

* **best** (★): the highest best validation accuracy (fewer parameters
  break a tie).  It is the model a run keeps in ``model.keras``.
* **smallest within margin** (◆): the fewest parameters among the runs whose
  best validation accuracy is at least the best's minus ``margin`` (an
  absolute difference of accuracy, 0.01 = one point).
* **spread**: max − min of validation accuracy over the last ``window``
  epochs (all of them when there are fewer; none for a single epoch).
* **unstable** (⚠): within those epochs validation accuracy *fell* by more
  than ``unstable`` from one epoch to a later one.  A run that still climbs
  has a large spread but is not unstable.
* **Pareto front**: the runs that no other run beats on both fewer (or
  equal) parameters and higher (or equal) best validation accuracy.

A damaged run (a ``run.json`` or ``metrics.json`` that is not a JSON
object, a ``history.csv`` that is not UTF-8 CSV with numbers) is left out
with a :class:`Problem` that names the file; the report fails only when no
run is usable (:class:`NoUsableRunError`).

This module reads the runs and marks the rows; :mod:`cnnspec.report.plots` draws the
pictures and :mod:`cnnspec.report.writers` writes the Markdown or HTML page.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnspec.network.checker import CheckedSpec

#: Defaults of ``cnnspec report``.
MARGIN = 0.01
WINDOW = 5
UNSTABLE = 0.05


class ReportError(ValueError):
    """A path that is neither a run directory nor a folder of them."""


class RunFileError(ReportError):
    """A run's file that cannot be read: not UTF-8, not JSON, not numbers where numbers belong."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass
class Problem:
    """A file the report could not use, and why (a damaged run is left out)."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class NoUsableRunError(ReportError):
    """Every run given is damaged: there is nothing to report."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"no usable run: {len(problems)} damaged file(s), every run left out")
        self.problems = problems


@dataclass
class Row:
    """One run, as the table shows it (``None`` where the run has no number yet)."""

    name: str
    run_dir: Path
    spec: str
    status: str
    params: int | None = None
    macs: int | None = None
    epochs: int = 0
    best_train_accuracy: float | None = None
    best_train_epoch: int | None = None
    best_val_accuracy: float | None = None
    best_val_epoch: int | None = None
    final_val_accuracy: float | None = None
    spread: float | None = None
    largest_drop: float | None = None
    seconds_per_epoch: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    #: What the network is checked against again to draw it (``run.json``).
    source: str = ""
    input_shape: tuple[int, ...] | None = None
    classes: int | None = None
    best: bool = False
    smallest: bool = False
    pareto: bool = False
    unstable: bool = False

    @property
    def scored(self) -> bool:
        return self.best_val_accuracy is not None and self.params is not None


@dataclass
class Skipped:
    """A spec a sweep did not train (invalid), with its errors as plain text."""

    name: str
    spec: str
    errors: str


@dataclass
class Report:
    rows: list[Row]
    skipped: list[Skipped]
    problems: list[Problem] = field(default_factory=list)
    margin: float = MARGIN
    window: int = WINDOW
    unstable: float = UNSTABLE

    @property
    def best(self) -> Row | None:
        return next((r for r in self.rows if r.best), None)

    @property
    def smallest(self) -> Row | None:
        return next((r for r in self.rows if r.smallest), None)


# --------------------------------------------------------------------------
# Reading runs


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RunFileError(path, f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise RunFileError(path, f"cannot be read ({exc.strerror or exc})") from None


def _load_object(path: Path) -> dict[str, Any]:
    """A JSON object from a run's file; :class:`RunFileError` for anything else."""
    try:
        doc = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise RunFileError(path, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(doc, dict):
        raise RunFileError(path, f"holds a JSON {type(doc).__name__}, not an object")
    return doc


def _number(doc: dict[str, Any], key: str, path: Path, where: str = "", integer: bool = False) -> Any:
    """``doc[key]`` when it is a number (or missing: ``None``); else :class:`RunFileError`."""
    v = doc.get(key)
    ok = v is None or (isinstance(v, int) if integer else isinstance(v, (int, float)))
    if not ok or isinstance(v, bool):
        kind = "a whole number" if integer else "a number"
        raise RunFileError(path, f"{where}{key} is {json.dumps(v)}, not {kind}")
    return v


def _section(doc: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    v = doc.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise RunFileError(path, f"{key} is {json.dumps(v)}, not an object")
    return v


def _read_history(path: Path) -> list[dict[str, Any]]:
    """``history.csv`` as rows of numbers (``None`` for an empty cell); ``[]`` when there is none."""
    if not path.exists():
        return []
    reader = csv.DictReader(io.StringIO(_read_text(path), newline=""))
    rows = []
    try:
        if reader.fieldnames and "epoch" not in reader.fieldnames:
            raise RunFileError(path, f"no epoch column (columns: {', '.join(reader.fieldnames)})")
        for raw in reader:
            at = f"line {reader.line_num}: "
            if None in raw:
                raise RunFileError(path, at + f"more values than the {len(reader.fieldnames or [])} columns")
            row: dict[str, Any] = {}
            for k, v in raw.items():
                try:
                    if k == "epoch":
                        row[k] = int(v or "")
                    else:
                        row[k] = float(v) if v not in ("", None) else None
                except ValueError:
                    kind = "a whole number" if k == "epoch" else "a number"
                    raise RunFileError(path, at + f"{k} {v!r} is not {kind}") from None
            rows.append(row)
    except csv.Error as exc:
        raise RunFileError(path, f"line {reader.line_num}: not CSV ({exc})") from None
    return rows


def find_runs(paths: Sequence[str | Path]) -> tuple[list[Path], list[Skipped], list[Problem]]:
    """Run directories (a folder with ``run.json``) given directly or as the
    subfolders of a sweep folder, in the sweep's order (else by name); the
    invalid specs a sweep skipped; a damaged ``sweep.json``."""
    runs: list[Path] = []
    skipped: list[Skipped] = []
    problems: list[Problem] = []
    for p in map(Path, paths):
        if (p / "run.json").is_file():
            runs.append(p)
            continue
        if not p.is_dir():
            raise ReportError(f"{p} is not a run directory nor a folder of run directories")
        sweep: dict[str, Any] = {}
        ignored = "; runs in name order, invalid specs not listed"
        if (p / "sweep.json").exists():
            try:
                sweep = _load_object(p / "sweep.json")
            except RunFileError as exc:
                problems.append(Problem(exc.path, exc.reason + ignored))
        if not isinstance(sweep.get("specs", []), list):
            problems.append(Problem(p / "sweep.json", "specs is not a list" + ignored))
            sweep = {}
        order = {s.get("name"): i for i, s in enumerate(sweep.get("specs", [])) if isinstance(s, dict)}
        found = sorted(
            (d for d in p.iterdir() if (d / "run.json").is_file()), key=lambda d: (order.get(d.name, 1e9), d.name)
        )
        if not found:  # an empty folder and a sweep that trained nothing alike: nothing to report
            raise ReportError(f"{p} holds no run directory (no run.json in it or its subfolders)")
        runs += found
        for s in sweep.get("specs", []):
            if isinstance(s, dict) and s.get("status") == "invalid":
                skipped.append(Skipped(str(s.get("name")), str(s.get("spec", "")), str(s.get("errors", ""))))
    return runs, skipped, problems


def _check_network(source: str, input_shape: Any, classes: int | None) -> CheckedSpec | None:
    """The run's spec checked again against its data's input shape and class count (``None`` if it fails)."""
    from cnnspec.network.checker import check
    from cnnspec.notation.parser import parse

    try:
        spec = parse(source)
        checked = check(spec, tuple(input_shape) if not spec.input else None, classes)
    except Exception:
        return None
    return checked if checked.ok else None


def load_run(run_dir: str | Path, window: int = WINDOW) -> Row:
    """One run directory -> a :class:`Row` (marks unset).

    Raises :class:`RunFileError`, naming the file, for a damaged ``run.json``,
    ``metrics.json`` or ``history.csv``; missing metrics or history only
    leave their cells empty (a run that has not finished an epoch).
    """
    d = Path(run_dir)
    run = _load_object(d / "run.json")
    metrics_path = d / "metrics.json"
    metrics = _load_object(metrics_path) if metrics_path.exists() else {}
    history = _read_history(d / "history.csv")
    name = run.get("name") or d.name
    spec = run.get("canonical") or (run.get("spec") or "").strip()
    row = Row(name=str(name), run_dir=d, spec=str(spec), status=str(run.get("status", "unknown")), history=history)
    row.source = str(run.get("spec") or run.get("canonical") or "")
    shape, names = run.get("input_shape"), run.get("class_names")
    if isinstance(shape, list) and all(isinstance(n, int) for n in shape):
        row.input_shape = tuple(shape)
    row.classes = len(names) if isinstance(names, list) else None
    row.params = _number(metrics, "total_params", metrics_path, integer=True)
    row.macs = _number(metrics, "macs", metrics_path, integer=True)
    if row.params is None and row.source:
        checked = _check_network(row.source, row.input_shape, row.classes)
        if checked is not None:
            row.params, row.macs = checked.total_params, checked.macs
    best = _section(metrics, "best", metrics_path)
    final = _section(metrics, "final", metrics_path)
    epochs = _number(metrics, "epochs_completed", metrics_path, integer=True)
    row.epochs = len(history) if epochs is None else epochs
    row.best_train_accuracy = _number(best, "train_accuracy", metrics_path, "best.")
    row.best_train_epoch = _number(best, "train_accuracy_epoch", metrics_path, "best.", integer=True)
    row.best_val_accuracy = _number(best, "val_accuracy", metrics_path, "best.")
    row.best_val_epoch = _number(best, "val_accuracy_epoch", metrics_path, "best.", integer=True)
    row.final_val_accuracy = _number(final, "val_accuracy", metrics_path, "final.")
    row.seconds_per_epoch = _number(metrics, "seconds_per_epoch", metrics_path)
    vals = [r["val_accuracy"] for r in history if r.get("val_accuracy") is not None][-window:]
    if len(vals) >= 2:
        row.spread = max(vals) - min(vals)
        row.largest_drop = max(max(vals[:i]) - v for i, v in enumerate(vals) if i > 0)
        row.largest_drop = max(0.0, row.largest_drop)
    return row


def network(row: Row) -> CheckedSpec | None:
    """The run's network, checked again from ``run.json`` (its spec, input shape and
    class count) so that :mod:`cnnspec.display.picture` can draw it; ``None`` when it does not check."""
    if not row.source or row.input_shape is None:
        return None
    return _check_network(row.source, row.input_shape, row.classes)


def pareto_front(rows: list[Row]) -> list[Row]:
    """Rows no other row beats on both params (fewer or equal) and accuracy (higher or equal)."""
    scored = sorted((r for r in rows if r.scored), key=lambda r: (r.params, -r.best_val_accuracy))  # type: ignore[operator]
    front: list[Row] = []
    for r in scored:
        if not front or r.best_val_accuracy > front[-1].best_val_accuracy:  # type: ignore[operator]
            front.append(r)
    return front


def build_report(
    paths: Sequence[str | Path], margin: float = MARGIN, window: int = WINDOW, unstable: float = UNSTABLE
) -> Report:
    """Read every run and mark the best, the smallest within ``margin``, the Pareto front and unstable runs."""
    run_dirs, skipped, problems = find_runs(paths)
    rows: list[Row] = []
    for d in run_dirs:
        try:
            rows.append(load_run(d, window))
        except RunFileError as exc:  # one damaged run does not end a report of thirty
            problems.append(Problem(exc.path, exc.reason + "; the run is left out"))
    scored = [r for r in rows if r.scored]
    if scored:
        best = max(scored, key=lambda r: (r.best_val_accuracy, -r.params))  # type: ignore[operator]
        best.best = True
        near = [r for r in scored if r.best_val_accuracy >= best.best_val_accuracy - margin - 1e-12]  # type: ignore[operator]
        min(near, key=lambda r: (r.params, -r.best_val_accuracy)).smallest = True  # type: ignore[operator]
    for r in pareto_front(rows):
        r.pareto = True
    for r in rows:
        r.unstable = r.largest_drop is not None and r.largest_drop > unstable
    return Report(rows, skipped, problems, margin, window, unstable)


# --------------------------------------------------------------------------
# Cells


def _acc(v: float | None, epoch: int | None = None) -> str:
    if v is None:
        return "–"
    return f"{v:.4f}" + (f" ({epoch})" if epoch is not None else "")


def _int(v: int | None) -> str:
    return "–" if v is None else f"{v:,}"


def _num(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def marks(r: Row) -> str:
    return "".join(m for m, on in (("★", r.best), ("◆", r.smallest), ("⚠", r.unstable)) if on)


HEADERS = (
    "", "name", "spec", "params", "MACs", "best train acc (epoch)", "best val acc (epoch)",
    "final val acc", "spread", "s/epoch", "status",
)  # fmt: skip


def cells(r: Row) -> list[str]:
    """The row's cells as plain text (not yet escaped), in :data:`HEADERS` order."""
    status = r.status + (", unstable" if r.unstable else "")
    return [
        marks(r), r.name, r.spec, _int(r.params), _int(r.macs),
        _acc(r.best_train_accuracy, r.best_train_epoch), _acc(r.best_val_accuracy, r.best_val_epoch),
        _acc(r.final_val_accuracy), _acc(r.spread), _num(r.seconds_per_epoch), status,
    ]  # fmt: skip


def legend(report: Report) -> list[str]:
    out = []
    if report.best:
        out.append(f"★ best: {report.best.name}, best validation accuracy {_acc(report.best.best_val_accuracy)}")
    if report.smallest:
        s = report.smallest
        out.append(
            f"◆ smallest within {report.margin:g} of the best: {s.name}, {_int(s.params)} params, "
            f"best validation accuracy {_acc(s.best_val_accuracy)}"
        )
    out.append(
        f"spread: max − min of validation accuracy over the last {report.window} epochs; "
        f"⚠ unstable: it fell by more than {report.unstable:g} within them"
    )
    return out
