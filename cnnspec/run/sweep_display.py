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
    """The sweep-level display: runs done and left, and the current run's epochs.

    Also a :class:`~cnnspec.run.progress.Reporter` for the run in progress.
    """

    def __init__(self, mode: str = "rich") -> None:
        self.mode = mode
        self.progress: Any = None
        self.sweep_task: Any = None
        self.run_task: Any = None
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
        self.sweep_task = self.progress.add_task("sweep", total=total, completed=done, left=f"{total - done} left")
        self.run_task = self.progress.add_task("", total=1, visible=False, left="")
        self.progress.start()

    def note(self, text: str) -> None:
        """A note outside a run (a stale lock taken over): stderr, or a ``note`` event; none with -q."""
        if self.mode == "json":
            self._json("note", text=text)
        elif self.mode == "rich":
            self._stderr(text)

    def run_start(self, entry: Entry, index: int, total: int) -> None:
        if self.mode == "json":
            self._json("run_start", name=entry.name, run_dir=str(entry.run_dir), resume=entry.status == "resume")
        elif self.progress is not None:
            self.progress.update(self.run_task, description=f"  {entry.name}", visible=True, completed=0, left="")

    def run_end(self, entry: Entry, done: int, total: int) -> None:
        failed = entry.status == "failed"
        if self.mode == "json":
            best = (entry.metrics.get("best") or {}).get("val_accuracy")
            error = {"error": entry.errors} if failed else {}
            self._json(
                "run_end", name=entry.name, status=entry.status, val_accuracy=best, seconds=entry.seconds, **error
            )
        if failed and self.progress is None:
            self._stderr(f"failed {entry.name}: {entry.errors}")
        elif self.progress is not None:
            best = (entry.metrics.get("best") or {}).get("val_accuracy")
            acc = f"best val acc {best:.4f}" if best is not None else ""
            mark = {"completed": "[green]done[/]", "failed": "[red]failed[/]"}.get(entry.status, entry.status)
            self.progress.console.print(f"{mark} {entry.name} {acc} ({entry.seconds or 0:.1f} s)", markup=True)
            if failed:
                self.progress.console.print(f"  {entry.errors}", markup=False)
            self.progress.update(self.sweep_task, completed=done, left=f"{total - done} left")
            self.progress.update(self.run_task, visible=False)

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

    def reporter(self) -> Reporter:
        outer = self

        class RunReporter(Reporter):
            def epoch_start(self, epoch: int, epochs: int, steps: int) -> None:
                if outer.progress is not None:
                    outer.progress.update(outer.run_task, total=epochs, completed=epoch - 1, left=f"epoch {epoch}")

            def epoch_end(self, row: dict[str, float], best: bool) -> None:
                if outer.progress is not None:
                    outer.progress.update(outer.run_task, completed=row["epoch"])

            def note(self, text: str) -> None:
                if outer.progress is not None:
                    outer.progress.console.print(f"[yellow]{text}[/]", markup=True)
                elif outer.mode == "json":
                    outer._json("note", text=text)

        return RunReporter()


__all__ = ["Preflight", "SweepProgress", "preflight"]
