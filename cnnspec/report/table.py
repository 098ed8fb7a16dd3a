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
object of the right types, a ``history.csv`` that is not UTF-8 CSV with numbers) is left out
with a :class:`Problem` that names the file; the report fails only when no
run is usable (:class:`NoUsableRunError`).

This module reads the runs and marks the rows; :mod:`cnnspec.report.plots` draws the
pictures and :mod:`cnnspec.report.writers` writes the Markdown or HTML page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnspec.errors import UserError
from cnnspec.run.rundir import (
    HISTORY_CSV,
    RUN_JSON,
    Metrics,
    RunDirError,
    read_history,
    read_json_object,
    read_metrics,
    read_run,
)

if TYPE_CHECKING:
    from cnnspec.network.checker import CheckedSpec

#: Defaults of ``cnnspec report``.
MARGIN = 0.01
WINDOW = 5
UNSTABLE = 0.05


class ReportError(UserError):
    """A path that is neither a run directory nor a folder of them (a usage error: exit 2)."""

    code = "report"
    exit_code = 2


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

    exit_code = 1  # the paths were runs: the job, not the command line, failed


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
    #: The epochs the run was to train (``run.json`` settings): a stopped run shows both.
    target_epochs: int | None = None
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
    def shown_status(self) -> str:
        """The status cell: a run stopped by successive halving says after how many epochs."""
        if self.status == "stopped":
            of = f" of {self.target_epochs}" if self.target_epochs else ""
            return f"stopped after {self.epochs}{of} epochs"
        return self.status

    @property
    def scored(self) -> bool:
        return self.best_val_accuracy is not None and self.params is not None


@dataclass
class Skipped:
    """A spec a sweep did not train (invalid, or over its budget), with its errors (or why
    it is over budget) as plain text."""

    name: str
    spec: str
    errors: str
    status: str = "invalid"


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


def find_runs(paths: Sequence[str | Path]) -> tuple[list[Path], list[Skipped], list[Problem]]:
    """Run directories (a folder with ``run.json``) given directly or as the
    subfolders of a sweep folder, in the sweep's order (else by name); the
    invalid specs a sweep skipped; a damaged ``sweep.json``."""
    runs: list[Path] = []
    skipped: list[Skipped] = []
    problems: list[Problem] = []
    for p in map(Path, paths):
        if (p / RUN_JSON).is_file():
            runs.append(p)
            continue
        if not p.is_dir():
            raise ReportError(f"{p} is not a run directory nor a folder of run directories")
        sweep: dict[str, Any] = {}
        ignored = "; runs in name order, invalid specs not listed"
        if (p / "sweep.json").exists():
            try:
                sweep = read_json_object(p / "sweep.json")
            except RunDirError as exc:
                problems.append(Problem(exc.path or p / "sweep.json", exc.reason + ignored))
        if not isinstance(sweep.get("specs", []), list):
            problems.append(Problem(p / "sweep.json", "specs is not a list" + ignored))
            sweep = {}
        specs = [s for s in sweep.get("specs", []) if isinstance(s, dict)]
        order = {s.get("name"): i for i, s in enumerate(specs)}
        # A run left from an earlier start of a spec now over budget is not this sweep's.
        over = {s.get("name") for s in specs if s.get("status") == "over-budget"}
        found = sorted(
            (d for d in p.iterdir() if (d / RUN_JSON).is_file() and d.name not in over),
            key=lambda d: (order.get(d.name, 1e9), d.name),
        )
        if not found:  # an empty folder and a sweep that trained nothing alike: nothing to report
            raise ReportError(f"{p} holds no run directory (no run.json in it or its subfolders)")
        runs += found
        for s in specs:
            if s.get("status") in ("invalid", "over-budget"):
                fields = (str(s.get("name")), str(s.get("spec", "")), str(s.get("errors", "")))
                skipped.append(Skipped(*fields, status=str(s["status"])))
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

    Reads ``run.json``, ``metrics.json`` and ``history.csv`` through
    :mod:`cnnspec.run.rundir`, which raises :class:`~cnnspec.run.rundir.RunDirError`,
    naming the file, for a damaged one; missing metrics or history only leave their
    cells empty (a run that has not finished an epoch).
    """
    d = Path(run_dir)
    run = read_run(d)
    metrics = read_metrics(d) or Metrics()
    history = read_history(d / HISTORY_CSV)
    name = run.name or d.name
    # The complete form (I: and O: as the data decided them): the network that was trained.
    spec = run.canonical_complete or run.canonical or (run.spec or "").strip()
    row = Row(name=str(name), run_dir=d, spec=str(spec), status=str(run.status or "unknown"), history=history)
    row.source = str(run.spec or run.canonical or "")
    row.input_shape = tuple(run.input_shape) if run.input_shape is not None else None
    row.classes = len(run.class_names) if run.class_names is not None else None
    row.params, row.macs = metrics.total_params, metrics.macs
    if row.params is None and row.source:
        checked = _check_network(row.source, row.input_shape, row.classes)
        if checked is not None:
            row.params, row.macs = checked.total_params, checked.macs
    best, final = metrics.best, metrics.final
    row.epochs = len(history) if metrics.epochs_completed is None else metrics.epochs_completed
    target = (run.settings or {}).get("epochs")
    row.target_epochs = target if isinstance(target, int) and not isinstance(target, bool) else None
    row.best_train_accuracy, row.best_train_epoch = best.train_accuracy, best.train_accuracy_epoch
    row.best_val_accuracy, row.best_val_epoch = best.val_accuracy, best.val_accuracy_epoch
    row.final_val_accuracy = final.val_accuracy
    row.seconds_per_epoch = metrics.seconds_per_epoch
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
        except RunDirError as exc:  # one damaged run does not end a report of thirty
            problems.append(Problem(exc.path or d, exc.reason + "; the run is left out"))
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
    status = r.shown_status + (", unstable" if r.unstable else "")
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
