"""Train every spec of a file, one run directory each: a sweep.

:func:`sweep` reads top to bottom:

1. **check everything first**: every spec of the text (variants in braces
   expanded) is checked statically, then against the data (channels, class
   count, input size), with one scan of the image folder.  Invalid specs are
   listed with their errors and skipped; they never cost a training.
2. **plan**: each valid spec gets ``OUT/<name>``.  A run whose ``run.json``
   says ``completed`` is finished and skipped; a run that stopped after at
   least one epoch (interrupted, failed, killed) is resumed from its last
   checkpoint; anything else starts fresh.
3. **train** the rest in order through :func:`cnnspec.run.train.train` /
   :func:`cnnspec.run.train.resume`, writing ``OUT/sweep.json`` after each run.

A signal (Ctrl-C, SIGTERM) stops the current run after its last completed
epoch (the training loop's own handling) and ends the sweep; starting the
same sweep again picks up where it stopped.  ``cnnspec report OUT`` makes
the table.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cnnspec import atomic
from cnnspec.errors import SpecError, UserError, render_all
from cnnspec.network.sources import check_source
from cnnspec.notation.formatter import format_spec
from cnnspec.notation.ir import Spec
from cnnspec.notation.parser import parse
from cnnspec.notation.variants import has_variants
from cnnspec.notation.vocabulary import NAME_RE
from cnnspec.run.budget import over_budget, parse_count
from cnnspec.run.lock import locked
from cnnspec.run.rundir import RunDirError, read_metrics, read_run
from cnnspec.run.sweep_display import Preflight, SweepProgress, preflight  # noqa: F401  (Preflight: public here too)
from cnnspec.run.sweep_worker import RunJob, resume_point, run_job
from cnnspec.run.sweep_worker import clear as _clear  # noqa: F401  (its old place: tests reach it here)

EntryStatus = Literal[
    "invalid", "over-budget", "pending", "resume", "finished", "completed", "stopped", "interrupted", "failed"
]


@dataclass
class Entry:
    """One spec of the sweep and what became of it."""

    name: str
    spec: Spec | None
    text: str  # the canonical form, or the text as written for an invalid spec
    status: EntryStatus
    errors: str = ""
    run_dir: Path | None = None
    seconds: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    #: The checker's numbers against the data (``None`` for an invalid spec), the
    #: training images, and the epochs a resumed run has done.
    params: int | None = None
    macs: int | None = None
    n_train: int = 0
    done: int = 0
    #: Where it ran (Ray engine: host, pid, GPUs seen, the epoch it resumed from, times).
    worker: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": self.name,
            "spec": self.text,
            "status": self.status,
            "run_dir": self.run_dir.name if self.run_dir else None,
            "errors": self.errors,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
        }
        if self.params is not None:
            doc.update(params=self.params, macs=self.macs)
        if self.status == "stopped":
            doc["epochs"] = self.metrics.get("epochs_completed")
        if self.worker is not None:
            doc["worker"] = self.worker
        return doc

    def skip_line(self) -> str:
        """Why the sweep does not train it (an invalid or an over-budget spec)."""
        if self.status == "over-budget":
            return f"skipped {self.name}: over budget ({self.errors})"
        return f"skipped {self.name}: invalid spec\n{self.errors}"


@dataclass
class SweepResult:
    out_dir: Path
    entries: list[Entry]
    status: Literal["completed", "interrupted", "failed"]
    signal: int | None = None

    @property
    def invalid(self) -> list[Entry]:
        return [e for e in self.entries if e.status == "invalid"]

    @property
    def over_budget(self) -> list[Entry]:
        return [e for e in self.entries if e.status == "over-budget"]

    def count(self, status: str) -> int:
        return sum(e.status == status for e in self.entries)


class NoValidSpecError(UserError):
    """A sweep with nothing to train: the text holds no spec, or no valid one.
    Raised before anything is written; ``entries`` are the invalid specs."""

    code = "sweep"

    def __init__(self, origin: str, entries: list[Entry]) -> None:
        # A file of comments alone is one invalid (empty) spec, so entries are never empty from a file.
        super().__init__(
            f"no valid spec in {origin} ({len(entries)} invalid): nothing to train, no sweep folder written",
            "fix the errors above and start the sweep again",
        )
        self.entries = entries


class NothingFitsError(NoValidSpecError):
    """Every valid spec is over the budget: nothing to train, nothing written.
    ``entries`` are the skipped specs (over budget, and invalid)."""

    def __init__(self, origin: str, entries: list[Entry]) -> None:
        over = sum(e.status == "over-budget" for e in entries)
        UserError.__init__(
            self,
            f"every valid spec of {origin} is over budget ({over} over, {len(entries) - over} invalid): "
            "nothing to train, no sweep folder written",
            "raise --max-params / --max-macs, or add smaller variants",
        )
        self.entries = entries


# --------------------------------------------------------------------------
# 1. check


def _run_spec(spec: Spec, name: str) -> Spec:
    """The spec a run records as written: a variant (or an unnamed spec) gets
    its own ``name = ...`` text, so ``spec.cnn`` and ``--resume`` hold exactly
    this network and not the braces it came from."""
    from cnnspec.run.train import spec_text

    written = spec_text(spec)
    if spec.name is None or has_variants(written):
        text = f"{name} = {format_spec(spec)}" if has_variants(written) else f"{name} = {written.strip()}"
        return parse(text, spec.origin)
    return spec


def check_sweep(text: str, origin: str, data_dir: str | Path, options: Any, base: str = "spec") -> list[Entry]:
    """Every spec of ``text``, checked statically and against the data.

    Raises :class:`cnnspec.run.data.DataError` for a folder that cannot be used
    at all; an invalid spec becomes an ``invalid`` entry with its errors.
    """
    from cnnspec.run.data import plan, scan
    from cnnspec.run.train import check_against_data, check_channels

    train_scan = scan(data_dir)
    val_scan = scan(options.val_dir) if options.val_dir else None
    entries: list[Entry] = []
    for res in check_source(text, origin):
        name = res.name or base
        # Without I: the static check misses the input: only the parse counts
        # here, and the data's check below covers the rest.
        if res.parse_errors or res.checked is None:
            where = {d.span.line for d in res.errors if d.span}
            shown = "\n".join(text.splitlines()[min(where) - 1 : max(where)]).strip() if where else ""
            entries.append(Entry(name, None, shown, "invalid", render_all(res.errors, res.source)))
            continue
        spec = res.checked.spec
        try:
            if spec.input is not None and res.checked.errors:
                raise SpecError(list(res.checked.errors), text)
            check_channels(spec, train_scan)
            dplan = plan(
                train_scan, val=val_scan, val_split=options.val_split,
                image_shape=spec.input.shape if spec.input else None, skip_bad=options.skip_bad,
            )  # fmt: skip
            checked = check_against_data(spec, dplan)
        except SpecError as exc:
            entries.append(Entry(name, None, format_spec(spec), "invalid", render_all(exc.diagnostics, text)))
            continue
        entry = Entry(name, _run_spec(spec, name), format_spec(spec), "pending")
        entry.params, entry.macs, entry.n_train = checked.total_params, checked.macs, dplan.n_train
        entries.append(entry)
    return entries


def apply_budget(entries: list[Entry], max_params: int | None, max_macs: int | None) -> None:
    """Mark the valid entries over ``max_params`` or ``max_macs`` ``over-budget``, with why."""
    for e in entries:
        if e.status == "invalid" or e.params is None or e.macs is None:
            continue
        why = over_budget(e.params, e.macs, max_params, max_macs)
        if why:
            e.status, e.errors = "over-budget", why


# --------------------------------------------------------------------------
# 2. plan


def _decide(e: Entry, run_dir: Path) -> None:
    """Finished (``completed``, or ``stopped`` by halving), resume (an epoch done, the same
    network) or fresh; a run directory that cannot be read starts fresh (:func:`_clear`
    refuses foreign files)."""
    try:
        run = read_run(run_dir)
    except RunDirError:
        e.status = "pending"
        return
    if run.status in ("completed", "stopped"):
        e.status = "finished" if run.status == "completed" else "stopped"
        e.metrics = _metrics_of(run_dir)
        return
    e.done = resume_point(run_dir, e.text)
    e.status = "resume" if e.done else "pending"


def _metrics_of(run_dir: Path) -> dict[str, Any]:
    try:
        metrics = read_metrics(run_dir)
    except RunDirError:
        metrics = None
    return metrics.model_dump(mode="json", exclude_unset=True) if metrics is not None else {}


def plan_runs(entries: list[Entry], out_dir: Path) -> None:
    """Give each valid entry its run directory and decide: finished, resume, or fresh."""
    for e in entries:
        if e.status in ("invalid", "over-budget"):
            continue
        e.run_dir = out_dir / e.name
        _decide(e, e.run_dir)


# --------------------------------------------------------------------------
# 3. train (one run: cnnspec.run.sweep_worker; the display: cnnspec.run.sweep_display)


class _Stop(KeyboardInterrupt):
    """A signal that ends the sweep (``signum``: which)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Between runs, SIGTERM ends the sweep as Ctrl-C does (inside a run the
    training loop takes both signals itself)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise _Stop(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _write_sweep(out_dir: Path, meta: dict[str, Any], entries: list[Entry], status: str) -> None:
    doc = {**meta, "status": status, "specs": [e.to_dict() for e in entries]}
    atomic.write_text(out_dir / "sweep.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def _job(e: Entry, data_dir: str | Path, options: Any, halving: Any, kill: str | None = None) -> RunJob:
    """The entry as plain data for whichever process trains it."""
    from cnnspec.run.train import spec_text

    assert e.run_dir is not None and e.spec is not None
    return RunJob(
        name=e.name, spec=spec_text(e.spec), origin=e.spec.origin, canonical=e.text,
        run_dir=str(e.run_dir.resolve()), data_dir=str(Path(data_dir).resolve()),
        options=options.model_dump(), ticket=halving.ticket(e.name) if halving is not None else None,
        kill_after_first_epoch=kill,
    )  # fmt: skip


def _apply(e: Entry, outcome: dict[str, Any]) -> None:
    """A run's outcome into its entry; with no status (a cancelled Ray task), what its run
    directory says."""
    status = outcome.get("status")
    if status is None and e.run_dir is not None:
        try:
            status = read_run(e.run_dir).status
        except RunDirError:
            status = None
        if status not in ("completed", "stopped", "interrupted", "failed"):
            status = "interrupted" if resume_point(e.run_dir, e.text) else "pending"
        outcome = {**outcome, "metrics": _metrics_of(e.run_dir)}
    e.status = status  # type: ignore[assignment]
    e.metrics = outcome.get("metrics") or {}
    e.errors = outcome.get("errors") or ""
    if outcome.get("seconds") is not None:
        e.seconds = outcome["seconds"]
    if outcome.get("worker"):
        e.worker = outcome["worker"]


def _sweep_meta(origin: str, data_dir: str | Path, options: Any) -> dict[str, Any]:
    """``sweep.json``'s head: what was swept, on which data, with which settings."""
    from cnnspec import __version__

    return {
        "cnnspec_version": __version__,
        "source": origin,
        "data": str(data_dir),
        "settings": options.model_dump(mode="json"),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def sweep(
    text: str,
    data_dir: str | Path,
    options: Any = None,
    out_dir: str | Path = "sweep",
    origin: str = "<string>",
    progress: str | SweepProgress = "rich",
    base: str | None = None,
    max_params: int | str | None = None,
    max_macs: int | str | None = None,
    engine: Any = "local",
    halving: tuple[int, int] | None = None,
) -> SweepResult:
    """Train every valid spec of ``text`` on ``data_dir``, one run directory each under ``out_dir``.

    ``options`` is a :class:`cnnspec.run.train.TrainOptions` shared by every run
    (its ``out`` must be unset).  ``base`` names an unnamed spec (default:
    the file's stem when it is a valid name, else ``spec``).  A text with
    no valid spec raises :class:`NoValidSpecError` and writes nothing.
    ``max_params`` and ``max_macs`` (a count, or text such as ``50k``, ``1.5M``, ``2G``)
    skip the specs over them, as ``over-budget``, before anything trains; when no valid
    spec fits, :class:`NothingFitsError` is raised and nothing is written.
    ``engine``: ``"local"`` (one run after another, in this process) or a
    :class:`cnnspec.run.ray_engine.RayEngine` (runs side by side as Ray tasks).
    ``halving=(min_epochs, factor)``: successive halving (:mod:`cnnspec.run.halving`): after
    ``min_epochs`` epochs, then ``× factor``, the runs outside the top ``1/factor`` are stopped.
    """
    from cnnspec.run.options import TrainOptions

    options = options or TrainOptions()
    if options.out is not None:
        raise ValueError("a sweep gives each run its directory: leave TrainOptions.out unset")
    out = Path(out_dir)
    if base is None:
        stem = Path(origin).stem
        base = stem if NAME_RE.fullmatch(stem) else "spec"
    budget_params = None if max_params is None else parse_count(max_params, "--max-params")
    budget_macs = None if max_macs is None else parse_count(max_macs, "--max-macs")
    if engine != "local":
        from cnnspec.run.ray_engine import check_storage

        check_storage(engine, out, data_dir)  # before anything is read or written
    if halving is not None:
        from cnnspec.run.halving import require_optuna

        require_optuna()
    entries = check_sweep(text, origin, data_dir, options, base)
    if all(e.status == "invalid" for e in entries):
        raise NoValidSpecError(origin, entries)  # before anything is written: no empty sweep to report
    apply_budget(entries, budget_params, budget_macs)
    if all(e.status in ("invalid", "over-budget") for e in entries):
        raise NothingFitsError(origin, entries)
    out.mkdir(parents=True, exist_ok=True)
    meta = _sweep_meta(origin, data_dir, options)
    if budget_params is not None or budget_macs is not None:
        meta["budget"] = {"max_params": budget_params, "max_macs": budget_macs}
    meta["engine"] = _engine_meta(engine)
    if halving is not None:
        meta["halving"] = {"min_epochs": halving[0], "factor": halving[1]}
    display = progress if isinstance(progress, SweepProgress) else SweepProgress(progress)
    with locked(out, display.note):  # the only writer of sweep.json; another sweep of OUT is refused
        return _train_all(entries, out, data_dir, options, meta, display, engine, halving)


def _engine_meta(engine: Any) -> dict[str, Any]:
    if engine == "local":
        return {"name": "local"}
    from dataclasses import asdict

    return {"name": "ray", **asdict(engine)}


def _train_all(
    entries: list[Entry],
    out: Path,
    data_dir: str | Path,
    options: Any,
    meta: dict[str, Any],
    display: SweepProgress,
    engine: Any = "local",
    halving_at: tuple[int, int] | None = None,
) -> SweepResult:
    """Plan, pre-flight and train the entries (the sweep folder's lock is held)."""
    plan_runs(entries, out)
    halving = None
    if halving_at is not None:
        from cnnspec.run.halving import Halving

        halving = Halving(out, *halving_at)
        for e in entries:  # trials an earlier start left open although their run has ended
            if e.status in ("finished", "stopped"):
                halving.tell(e.name, e.status, _best(e))
    todo = [e for e in entries if e.status in ("pending", "resume")]
    trainable = [e for e in entries if e.status not in ("invalid", "over-budget")]
    ended = ("completed", "finished", "stopped")
    plan = preflight(todo, len(trainable) - len(todo), options) if todo and display.mode != "quiet" else None
    invalid = [e for e in entries if e.status == "invalid"]
    over = [e for e in entries if e.status == "over-budget"]
    display.start(len(trainable), len(trainable) - len(todo), invalid, over, plan)
    status: Literal["completed", "interrupted", "failed"] = "completed"
    stop_signal: int | None = None
    _write_sweep(out, meta, entries, "running")

    def record(e: Entry, outcome: dict[str, Any]) -> None:
        """The driver's bookkeeping when a run ends: the entry, halving's verdict, the display, sweep.json."""
        _apply(e, outcome)
        if halving is not None:
            halving.tell(e.name, e.status, _best(e))
        display.run_end(e, sum(x.status in ended for x in trainable), len(trainable))
        _write_sweep(out, meta, entries, "running")

    try:
        with _sigterm_as_interrupt():
            if engine == "local":
                stop_signal = _train_local(todo, data_dir, options, display, halving, record)
            else:
                stop_signal = _train_ray(todo, data_dir, options, display, halving, record, engine)
    except _Stop as exc:
        stop_signal = exc.signum
    except KeyboardInterrupt:
        stop_signal = int(signal.SIGINT)
    if stop_signal is not None:
        status = "interrupted"
    elif any(e.status == "failed" for e in entries):
        status = "failed"
    final = SweepResult(out, entries, status, stop_signal)
    _write_sweep(out, meta, entries, status)
    display.finish(final)
    return final


def _best(e: Entry) -> float | None:
    return (e.metrics.get("best") or {}).get("val_accuracy")


def _train_local(
    todo: list[Entry], data_dir: str | Path, options: Any, display: SweepProgress, halving: Any, record: Any
) -> int | None:
    """One run after another in this process; a signal ends the current run after its last
    completed epoch (the training loop's own handling) and the sweep with it."""
    for i, e in enumerate(todo):
        display.run_start(e, i, len(todo))
        try:
            outcome = run_job(_job(e, data_dir, options, halving), display.reporter(e.name))
        except KeyboardInterrupt:
            record(e, {"status": None})
            raise
        record(e, outcome)
        if e.status == "interrupted":
            return int(outcome.get("signal") or signal.SIGINT)
    return None


def _train_ray(
    todo: list[Entry],
    data_dir: str | Path,
    options: Any,
    display: SweepProgress,
    halving: Any,
    record: Any,
    engine: Any,
) -> int | None:
    """The runs side by side as Ray tasks (:mod:`cnnspec.run.ray_engine`)."""
    import os

    from cnnspec.run.ray_engine import train_all
    from cnnspec.run.sweep_worker import KILL_AFTER_FIRST_EPOCH_ENV

    hook = os.environ.get(KILL_AFTER_FIRST_EPOCH_ENV, "")
    kill_name, _, marker = hook.partition("=")
    by_name = {e.name: e for e in todo}
    jobs = [_job(e, data_dir, options, halving, marker if e.name == kill_name else None) for e in todo]
    display.queued([e.name for e in todo])
    return train_all(jobs, engine, display.worker_event, lambda outcome: record(by_name[outcome["name"]], outcome))
