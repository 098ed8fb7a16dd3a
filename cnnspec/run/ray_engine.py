"""``cnnspec sweep --engine ray``: the runs of a sweep as Ray tasks, side by side.

With no address, a Ray of this machine is started inside the command and shut down at its
end (no dashboard, bound to 127.0.0.1, no set-up); with ``address`` the sweep joins a running
Ray cluster, whose every node must see the sweep folder and the data at the same absolute
paths (:func:`check_storage` refuses what is obviously not shared).

Each run is one task of ``cpus_per_run`` CPUs and ``gpus_per_run`` GPUs (fractions share a
GPU; Ray sets ``CUDA_VISIBLE_DEVICES`` so a task sees only its own, and TensorFlow grows its
memory instead of taking the card).  A task whose worker dies (killed, out of memory, node
lost) is retried by Ray (``max_retries``); the retry finds the run's last completed epoch in
its directory and resumes (:func:`cnnspec.run.sweep_worker.run_job`); the run's lock refuses a
second writer while the first attempt still lives.  Ctrl-C or SIGTERM on the driver cancels
the tasks: each ends its run as ``interrupted`` after its last completed epoch.  Workers send
their progress through a Ray queue; the driver shows it and is the only writer of
``sweep.json`` (through ``record``).

Ray is imported here only (a heavy import), inside the functions: ``cnnspec[ray]``.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cnnspec.errors import UserError
from cnnspec.run.progress import Reporter
from cnnspec.run.sweep_worker import RunJob, failure, run_job

#: Folders that are this machine's own on any usual system: never shared with a cluster.
LOCAL_ROOTS = ("/tmp", "/var/tmp", "/dev/shm", "/run", "/private/tmp")
#: How long cancelled runs get to save their last epoch before the driver stops waiting.
CANCEL_WAIT_SECONDS = 120.0


class EngineError(UserError):
    """A Ray engine that cannot run this sweep (no Ray installed, an output path a cluster
    cannot share, a cluster that cannot be reached)."""

    code = "engine"
    exit_code = 2  # a usage error: nothing was started


@dataclass(frozen=True)
class RayEngine:
    """How the runs are spread: the cluster (``address``; None: a Ray of this machine) and each
    run's share.  ``num_cpus`` / ``num_gpus`` size the local Ray (default: the machine's;
    ``num_gpus`` may name logical GPUs, as tests do on a CPU machine)."""

    address: str | None = None
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0
    num_cpus: int | None = None
    num_gpus: int | None = None
    max_retries: int = 3


def check_storage(engine: RayEngine, out_dir: str | Path, data_dir: str | Path) -> None:
    """On a cluster the sweep folder and the data must be paths every node sees: refuse a
    relative path or one under a folder that is each machine's own (``/tmp`` ...)."""
    if engine.address is None:
        return
    for flag, path in (("--out", out_dir), ("--data", data_dir)):
        p = PurePosixPath(str(path))
        if not p.is_absolute():
            raise EngineError(
                f"{flag} {path} is a relative path: on a Ray cluster every node must find it at the same place",
                f"give an absolute path on storage every node mounts (NFS, a shared disk): {flag} /shared/...",
            )
        if any(p == PurePosixPath(root) or PurePosixPath(root) in p.parents for root in LOCAL_ROOTS):
            raise EngineError(
                f"{flag} {path} is on this machine's own storage: the nodes of a Ray cluster cannot see it",
                f"give a path on storage every node mounts (NFS, a shared disk), not under {', '.join(LOCAL_ROOTS)}",
            )


def _env(engine: RayEngine) -> dict[str, str]:
    """Every worker's environment: TensorFlow grows its GPU memory and JAX does not take 75 % of
    it up front (runs share a card), both use the threads of the run's CPUs, not the machine's;
    the driver's Keras backend, when it names one, is every worker's."""
    threads = str(max(1, math.ceil(engine.cpus_per_run)))
    backend = {"KERAS_BACKEND": os.environ["KERAS_BACKEND"]} if os.environ.get("KERAS_BACKEND") else {}
    return {
        **backend,
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",
        "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
        "TF_NUM_INTRAOP_THREADS": threads,
        "TF_NUM_INTEROP_THREADS": threads,
        "OMP_NUM_THREADS": threads,
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
    }


def _start(engine: RayEngine) -> Any:
    try:
        import ray
    except ImportError:
        raise EngineError("--engine ray needs Ray", "pip install 'cnnspec[ray]'") from None
    # No runtime_env: the environment is set by each task itself (:func:`_task`), so Ray's
    # prestarted workers serve the runs instead of new ones being started for a runtime_env.
    common: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if engine.address is None:
            ray.init(
                address="local", num_cpus=engine.num_cpus, num_gpus=engine.num_gpus, include_dashboard=False,
                _node_ip_address="127.0.0.1", **common,
            )  # fmt: skip
        else:
            ray.init(address=engine.address, **common)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise EngineError(f"could not start or join Ray ({exc})", "check --address and that the cluster runs") from None
    return ray


class QueueReporter(Reporter):
    """A worker's reporter: its run's start and epochs, sent to the driver through a Ray queue."""

    def __init__(self, queue: Any, name: str) -> None:
        self.queue, self.name = queue, name
        self.epochs = 0
        self.best: float | None = None

    def _put(self, event: str, **fields: Any) -> None:
        try:
            self.queue.put_nowait({"event": event, "name": self.name, **fields})
        except Exception:  # progress is a display: a full or lost queue never fails the run
            pass

    def start(self, info: dict[str, Any]) -> None:
        self.epochs = int(info.get("epochs") or 0)
        self._put("start", initial_epoch=info.get("initial_epoch", 0), epochs=self.epochs)

    def epoch_end(self, row: dict[str, float], best: bool) -> None:
        val = row.get("val_accuracy")
        if val is not None and (self.best is None or val > self.best):
            self.best = val
        self._put("epoch", epoch=int(row["epoch"]), epochs=self.epochs, val_accuracy=val, best=self.best)

    def note(self, text: str) -> None:
        self._put("note", text=text)


def _task(job: RunJob, queue: Any, env: dict[str, str]) -> dict[str, Any]:
    """The Ray task: one run, and which GPU it saw.  ``env`` (:func:`_env`) is set before the
    run imports TensorFlow or JAX, which read it when they start in this worker."""
    import ray

    os.environ.update(env)
    outcome = run_job(job, QueueReporter(queue, job.name))
    outcome["worker"]["gpus"] = [str(g) for g in ray.get_gpu_ids()]
    outcome["worker"]["cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
    return outcome


class _Stop(KeyboardInterrupt):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _signals() -> Iterator[None]:
    """Ctrl-C and SIGTERM raise :class:`_Stop` in the driver (``ray.init`` put its own SIGTERM
    handler, which would exit at once, without cancelling the runs)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise _Stop(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def train_all(
    jobs: list[RunJob],
    engine: RayEngine,
    show: Callable[[dict[str, Any]], None],
    record: Callable[[dict[str, Any]], None],
) -> int | None:
    """Run ``jobs`` as Ray tasks; ``show`` gets each worker event (``start``, ``epoch``,
    ``note``), ``record`` each run's outcome as it ends (in the driver: the only writer of
    ``sweep.json``).  Returns the signal that stopped the sweep, or None."""
    ray = _start(engine)
    from ray.util.queue import Queue

    stop: int | None = None
    try:
        queue = Queue(actor_options={"num_cpus": 0})
        task = ray.remote(_task).options(
            num_cpus=engine.cpus_per_run, num_gpus=engine.gpus_per_run, max_retries=engine.max_retries,
            retry_exceptions=False,
        )  # fmt: skip
        env = _env(engine)
        refs = {task.remote(job, queue, env): job for job in jobs}
        with _signals():
            try:
                _wait(ray, refs, queue, show, record)
            except _Stop as exc:
                stop = exc.signum
            except KeyboardInterrupt:
                stop = int(signal.SIGINT)
            if stop is not None:
                _cancel(ray, refs, queue, show, record)
    finally:
        ray.shutdown()
    return stop


def _drain(queue: Any, show: Callable[[dict[str, Any]], None]) -> None:
    while True:
        try:
            items = queue.get_nowait_batch(max(1, queue.qsize()))
        except Exception:
            return
        if not items:
            return
        for item in items:
            show(item)


def _outcome(ray: Any, ref: Any, job: RunJob) -> dict[str, Any]:
    """A finished task's outcome; a task that failed in Ray itself (retries spent, cancelled)
    is failed with Ray's reason, or whatever its run directory says (interrupted)."""
    try:
        return dict(ray.get(ref))
    except Exception as exc:
        cause = getattr(exc, "cause", None) or exc
        return {"name": job.name, "status": "failed", "metrics": {}, "errors": failure(cause), "signal": None}


def _wait(ray: Any, refs: dict[Any, RunJob], queue: Any, show: Any, record: Any) -> None:
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1, timeout=0.25)
        _drain(queue, show)
        for ref in ready:
            record(_outcome(ray, ref, refs[ref]))
            refs.pop(ref)


def _cancel(ray: Any, refs: dict[Any, RunJob], queue: Any, show: Any, record: Any) -> None:
    """Cancel the tasks left (a KeyboardInterrupt in each running one: its run saves its last
    completed epoch and ends ``interrupted``), wait for them, record what their runs say."""
    for ref in refs:
        ray.cancel(ref, force=False)
    deadline = time.monotonic() + CANCEL_WAIT_SECONDS
    pending = list(refs)
    while pending and time.monotonic() < deadline:
        try:
            _, pending = ray.wait(pending, num_returns=len(pending), timeout=0.5)
        except KeyboardInterrupt:  # a second signal: stop waiting
            break
        _drain(queue, show)
    for job in refs.values():
        record({"name": job.name, "status": None, "metrics": {}, "errors": "", "signal": None})


__all__ = ["EngineError", "RayEngine", "check_storage", "train_all"]
