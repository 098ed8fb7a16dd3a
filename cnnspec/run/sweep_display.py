"""A sweep's display (runs done and left, the current run's epochs) and its pre-flight.

Split from :mod:`cnnspec.run.sweep` to keep each module short; an entry here is a
:class:`cnnspec.run.sweep.Entry` (typed ``Any``: this module does not import that one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cnnspec.run.budget import describe_estimate, detect_device, estimate_seconds
from cnnspec.run.progress import Reporter

Entry = Any


@dataclass
class Preflight:
    """What a sweep is about to train: how many runs, on what, and about how long."""

    runs: int
    finished: int
    device: Any  # cnnspec.run.budget.Device
    seconds: tuple[float, float]

    def describe(self) -> str:
        earlier = f" ({self.finished} finished earlier)" if self.finished else ""
        estimate = describe_estimate(*self.seconds, self.device)
        return f"{self.runs} run(s) to train{earlier} on {self.device.describe()}; {estimate}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device.kind,
            "devices": self.device.count,
            "backend": self.device.backend,
            "estimate_seconds": [round(self.seconds[0], 1), round(self.seconds[1], 1)],
        }


def preflight(todo: list[Entry], finished: int, options: Any) -> Preflight:
    """The plan of the runs ``todo``: device, backend, and the estimate of :mod:`cnnspec.run.budget`."""
    device = detect_device(options.distribute)
    runs = [(e.macs or 0, e.n_train, max(0, options.epochs - e.done)) for e in todo]
    return Preflight(len(todo), finished, device, estimate_seconds(runs, options.batch_size, device))


class SweepProgress:
    """The sweep-level display: runs queued, running (epoch, best validation accuracy so
    far), done, failed and stopped, one row per running run (several side by side with
    ``--engine ray``), and ``--json``'s events.

    Its :meth:`reporter` is the :class:`~cnnspec.run.progress.Reporter` of a run trained in
    this process; runs trained by Ray workers come in as :meth:`worker_event`.
    """

    def __init__(self, mode: str = "rich") -> None:
        self.mode = mode
        self.progress: Any = None
        self.sweep_task: Any = None
        self.rows: dict[str, Any] = {}  # the running runs' rows
        self.best: dict[str, float] = {}
        self.waiting: set[str] = set()  # queued, not started
        self.started: set[str] = set()  # running
        self.total = self.done = 0
        self.console: Any = None
        if mode == "rich":
            from rich.console import Console

            self.console = Console(stderr=True, highlight=False)

    # sweep events
    def start(
        self,
        total: int,
        done: int,
        invalid: list[Entry],
        over: list[Entry] | None = None,
        plan: Preflight | None = None,
    ) -> None:
        """The pre-flight: the specs skipped (invalid, over budget), then what will train, on what, how long."""
        over = over or []
        self.total, self.done = total, done
        if self.mode != "rich":
            # Errors reach stderr in every mode: -q means "nothing but errors",
            # and --json keeps stdout for the events.
            for e in invalid:
                self._stderr(e.skip_line())
            if self.mode == "json":
                budget = [{"name": e.name, "params": e.params, "macs": e.macs, "reason": e.errors} for e in over]
                self._json(
                    "sweep_start", runs=total, finished=done, invalid=[e.name for e in invalid], over_budget=budget,
                    **(plan.to_dict() if plan else {}),
                )  # fmt: skip
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        for e in invalid:
            self.console.print(f"[bold red]skipped[/] {e.name}: invalid spec", markup=True)
            self.console.print(e.errors, markup=False)
        for e in over:
            self.console.print(e.skip_line(), markup=False)
        if plan is not None:
            self.console.print(plan.describe(), markup=False)
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[left]}"),
            TimeElapsedColumn(), console=self.console, transient=False,
        )  # fmt: skip
        self.sweep_task = self.progress.add_task("sweep", total=total, completed=done, left="")
        self._counts()
        self.progress.start()

    def _counts(self) -> None:
        """The sweep row's words: queued, running and left."""
        if self.progress is None:
            return
        parts = [f"{len(self.waiting)} queued"] if self.waiting else []
        parts.append(f"{len(self.rows)} running" if self.rows else "")
        parts.append(f"{self.total - self.done} left")
        self.progress.update(self.sweep_task, completed=self.done, left=", ".join(p for p in parts if p))

    def note(self, text: str) -> None:
        """A note outside a run (a stale lock taken over): stderr, or a ``note`` event; none with -q."""
        if self.mode == "json":
            self._json("note", text=text)
        elif self.mode == "rich":
            self._stderr(text)

    def queued(self, names: list[str]) -> None:
        """Runs handed to an engine that starts them when it has room (Ray): ``run_queued`` events."""
        self.waiting.update(names)
        if self.mode == "json":
            for name in names:
                self._json("run_queued", name=name)
        self._counts()

    def run_start(self, entry: Entry, index: int = 0, total: int = 0) -> None:
        self._started(entry.name, run_dir=str(entry.run_dir), resume=entry.status == "resume")

    def _started(self, name: str, **fields: Any) -> None:
        if name in self.started:
            return
        self.started.add(name)
        self.waiting.discard(name)
        if self.mode == "json":
            self._json("run_start", name=name, **fields)
        elif self.progress is not None and name not in self.rows:
            self.rows[name] = self.progress.add_task(f"  {name}", total=1, completed=0, left="")
            self._counts()

    def run_epoch(self, name: str, epoch: int, epochs: int, val_accuracy: float | None) -> None:
        """A run finished an epoch: its row (epoch, best validation accuracy so far), a ``run_epoch`` event."""
        if val_accuracy is not None and val_accuracy > self.best.get(name, -1.0):
            self.best[name] = val_accuracy
        best = self.best.get(name)
        if self.mode == "json":
            self._json("run_epoch", name=name, epoch=epoch, epochs=epochs, val_accuracy=val_accuracy, best=best)
        elif self.progress is not None and name in self.rows:
            acc = f", best val acc {best:.4f}" if best is not None else ""
            self.progress.update(self.rows[name], total=epochs, completed=epoch, left=f"epoch {epoch}/{epochs}{acc}")

    def worker_event(self, event: dict[str, Any]) -> None:
        """An event of a run trained elsewhere (a Ray worker): ``start``, ``epoch``, ``note``."""
        name = str(event.get("name"))
        kind = event.get("event")
        if kind == "start":
            self._started(name, resume=bool(event.get("initial_epoch")), initial_epoch=event.get("initial_epoch"))
        elif kind == "epoch":
            self._started(name)  # a start event lost (a retried worker's): the row anyway
            self.run_epoch(name, int(event.get("epoch") or 0), int(event.get("epochs") or 0), event.get("val_accuracy"))
        elif kind == "note":
            self._run_note(f"{name}: {event.get('text')}")

    def _run_note(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(f"[yellow]{text}[/]", markup=True)
        elif self.mode == "json":
            self._json("note", text=text)

    def run_end(self, entry: Entry, done: int, total: int) -> None:
        failed = entry.status == "failed"
        self.done = done
        self.waiting.discard(entry.name)
        self.started.discard(entry.name)
        epochs = entry.metrics.get("epochs_completed")
        if self.mode == "json":
            best = (entry.metrics.get("best") or {}).get("val_accuracy")
            error = {"error": entry.errors} if failed else {}
            self._json(
                "run_end", name=entry.name, status=entry.status, val_accuracy=best, epochs=epochs,
                seconds=entry.seconds, **error,
            )  # fmt: skip
        if failed and self.progress is None:
            self._stderr(f"failed {entry.name}: {entry.errors}")
        elif self.progress is not None:
            best = (entry.metrics.get("best") or {}).get("val_accuracy")
            acc = f"best val acc {best:.4f}" if best is not None else ""
            stopped = f" after {epochs} epoch{'' if epochs == 1 else 's'}" if entry.status == "stopped" else ""
            mark = {"completed": "[green]done[/]", "failed": "[red]failed[/]", "stopped": "[yellow]stopped[/]"}.get(
                entry.status, entry.status
            )
            self.progress.console.print(f"{mark} {entry.name}{stopped} {acc} ({entry.seconds or 0:.1f} s)", markup=True)
            if failed:
                self.progress.console.print(f"  {entry.errors}", markup=False)
            row = self.rows.pop(entry.name, None)
            if row is not None:
                self.progress.remove_task(row)
            self._counts()

    def finish(self, result: Any) -> None:
        if self.progress is not None:
            self.progress.stop()
        if self.mode == "json":
            self._json("sweep_end", status=result.status, out_dir=str(result.out_dir))

    def _stderr(self, text: str) -> None:
        import sys

        sys.stderr.write(text.rstrip("\n") + "\n")
        sys.stderr.flush()

    def _json(self, event: str, **fields: Any) -> None:
        import sys

        sys.stdout.write(json.dumps({"event": event, **fields}, default=str) + "\n")
        sys.stdout.flush()

    def reporter(self, name: str = "") -> Reporter:
        """The reporter of run ``name``, trained in this process."""
        outer = self

        class RunReporter(Reporter):
            epochs = 0

            def start(self, info: dict[str, Any]) -> None:
                self.epochs = int(info.get("epochs") or 0)

            def epoch_start(self, epoch: int, epochs: int, steps: int) -> None:
                row = outer.rows.get(name)
                if outer.progress is not None and row is not None:
                    outer.progress.update(row, total=epochs, completed=epoch - 1)

            def epoch_end(self, row: dict[str, float], best: bool) -> None:
                outer.run_epoch(name, int(row["epoch"]), self.epochs, row.get("val_accuracy"))

            def note(self, text: str) -> None:
                outer._run_note(text)

        return RunReporter()


__all__ = ["Preflight", "SweepProgress", "preflight"]
