"""One run of a sweep, in whichever process trains it: the sweep's own (``--engine local``)
or a Ray worker (``--engine ray``, :mod:`cnnspec.run.ray_engine`).

A :class:`RunJob` is plain data (picklable, no Keras object), and :func:`run_job` decides
from the run directory itself whether to resume or start fresh, so a task that Ray retries
after its worker died resumes from the last completed epoch, as a rerun of the sweep does.
It returns an outcome (a dict) and never writes ``sweep.json``: the driver does.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnspec.errors import UserError
from cnnspec.run.lock import locked
from cnnspec.run.options import TrainError
from cnnspec.run.progress import Reporter
from cnnspec.run.rundir import LOCK_JSON, RUN_FILES, RunDirError, read_run, read_state

#: Test hook (Ray engine): ``NAME=MARKER`` kills the worker training run ``NAME`` with
#: SIGKILL right after its first recorded epoch, once (the marker file says it was done).
KILL_AFTER_FIRST_EPOCH_ENV = "CNNSPEC_TEST_KILL_AFTER_FIRST_EPOCH"


@dataclass(frozen=True)
class RunJob:
    """What a worker needs to train one run of a sweep."""

    name: str
    spec: str  # the spec as its run records it (a variant as its own ``name = ...`` line)
    origin: str
    canonical: str  # the canonical form, to tell a resumable run of the same network
    run_dir: str
    data_dir: str
    options: dict[str, Any]
    ticket: Any = None  # a cnnspec.run.halving.Ticket with --halving
    kill_after_first_epoch: str | None = field(default=None, repr=False)  # the test hook's marker


def resume_point(run_dir: Path, canonical: str) -> int:
    """The epochs a run directory holds of this network (0: start fresh)."""
    try:
        run = read_run(run_dir)
        done = read_state(run_dir).epoch
    except RunDirError:
        return 0
    return done if done >= 1 and run.canonical == canonical else 0


def clear(run_dir: Path) -> None:
    """Empty a run directory that holds nothing but an unfinished run's files (its lock,
    which the caller holds, stays)."""
    if not run_dir.exists():
        return
    names = {p.name for p in run_dir.iterdir()}
    leftovers = {n for n in names if not (n in RUN_FILES or n.startswith("."))}
    if leftovers:
        raise TrainError(
            f"{run_dir} holds files a run does not write ({', '.join(sorted(leftovers))})",
            "move them away, or give the sweep another --out",
        )
    for p in run_dir.iterdir():
        if p.name == LOCK_JSON:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def failure(exc: BaseException) -> str:
    """A failed run's error as ``sweep.json`` keeps it: the type, message and hint."""
    if isinstance(exc, UserError):
        return f"{type(exc).__name__}: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else "")
    return f"{type(exc).__name__}: {exc}"


def _on_epoch(job: RunJob) -> Any:
    """The run's per-epoch hook: halving's report-and-ask, and the test hook."""
    ask = job.ticket.on_epoch() if job.ticket is not None else None
    marker = Path(job.kill_after_first_epoch) if job.kill_after_first_epoch else None
    if ask is None and marker is None:
        return None

    def on_epoch(epoch: int, row: dict[str, Any]) -> bool:
        if marker is not None and epoch == 1 and not marker.exists():
            marker.write_text(str(os.getpid()), encoding="utf-8")
            os.kill(os.getpid(), signal.SIGKILL)  # a worker dying mid-run: state.json holds epoch 1
        return bool(ask(epoch, row)) if ask is not None else False

    return on_epoch


def run_job(job: RunJob, reporter: Reporter) -> dict[str, Any]:
    """Train or resume ``job``'s run; the outcome: ``status`` (completed, stopped, interrupted,
    failed), ``metrics``, ``errors``, ``signal``, ``seconds`` and ``worker`` (where it ran).

    ``KeyboardInterrupt`` outside the training loop is raised on (the sweep ends)."""
    from cnnspec.notation.parser import parse
    from cnnspec.run.options import TrainOptions
    from cnnspec.run.train import resume, train

    t0, started = time.perf_counter(), time.time()
    run_dir = Path(job.run_dir)
    worker = {"host": socket.gethostname(), "pid": os.getpid(), "resumed_from": 0, "started": started}
    outcome: dict[str, Any] = {"name": job.name, "status": "failed", "metrics": {}, "errors": "", "signal": None}
    try:
        options = TrainOptions(**job.options)
        on_epoch = _on_epoch(job)
        done = resume_point(run_dir, job.canonical)
        worker["resumed_from"] = done
        if done:
            result = resume(run_dir, epochs=options.epochs, progress=reporter, on_epoch=on_epoch)
        else:
            run_dir.mkdir(parents=True, exist_ok=True)
            with locked(run_dir, reporter.note):  # not cleared under another writer; train takes it again
                clear(run_dir)
                spec = parse(job.spec, job.origin)
                result = train(spec, job.data_dir, options, out_dir=run_dir, progress=reporter, on_epoch=on_epoch)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # one failed run does not end the sweep
        outcome["errors"] = failure(exc)
    else:
        outcome.update(status=result.status, metrics=result.metrics, signal=result.signal)
    worker["ended"] = time.time()
    outcome.update(seconds=time.perf_counter() - t0, worker=worker)
    return outcome


__all__ = ["KILL_AFTER_FIRST_EPOCH_ENV", "RunJob", "clear", "failure", "resume_point", "run_job"]
