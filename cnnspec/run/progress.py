"""What a training run shows while it runs: rich, JSON lines, or nothing.

A :class:`Reporter` receives plain Python events from :mod:`cnnspec.run.train`
(no Keras objects), so the display can be swapped, tested and reused by a
sweep.  ``make_reporter("rich" | "json" | "quiet")`` picks one.
"""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Any, Literal

ProgressMode = Literal["rich", "json", "quiet"]

#: Columns of the per-epoch history, as in ``history.csv``.
COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds", "lr")


class Reporter:
    """Receives training events; this base class shows nothing (quiet mode)."""

    def start(self, info: dict[str, Any]) -> None:
        """Before the first epoch: ``name``, ``run_dir``, ``data`` (a line),
        ``n_train``, ``n_val``, ``classes``, ``counts`` (class -> image
        files), ``val_counts`` (the same for ``--val DIR``, else None),
        ``input_shape``, ``params``, ``macs``, ``epochs``,
        ``initial_epoch``, ``steps``, ``settings``, ``backend`` (a line: ``jax 0.10.2 on cpu``)."""

    def epoch_start(self, epoch: int, epochs: int, steps: int) -> None:
        """Epoch ``epoch`` (1-based) of ``epochs`` begins, with ``steps`` batches."""

    def step(self, step: int, logs: dict[str, float] | None) -> None:
        """Batch ``step`` (1-based) is done; ``logs`` (running loss/accuracy) may be None."""

    def wants_logs(self) -> bool:
        """Whether the next :meth:`step` should get ``logs`` (reading them waits for the step)."""
        return False

    def epoch_end(self, row: dict[str, float], best: bool) -> None:
        """A history row (see :data:`COLUMNS`); ``best`` when val accuracy improved."""

    def note(self, text: str) -> None:
        """A message for the user (a warning, a stop request)."""

    def finish(self, summary: dict[str, Any]) -> None:
        """After training: ``status``, ``run_dir``, ``metrics``, ``history``."""

    def close(self) -> None:
        """Stop any live display (also called after an error)."""


class JsonReporter(Reporter):
    """One JSON object per line: ``start``, ``epoch``, ``note``, ``end`` events."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream

    def _emit(self, event: str, **fields: Any) -> None:
        stream = self.stream or sys.stdout
        stream.write(json.dumps({"event": event, **fields}, default=str) + "\n")
        stream.flush()

    def start(self, info: dict[str, Any]) -> None:
        self._emit("start", **info)

    def epoch_end(self, row: dict[str, float], best: bool) -> None:
        self._emit("epoch", **row, best=best)

    def note(self, text: str) -> None:
        self._emit("note", message=text)

    def finish(self, summary: dict[str, Any]) -> None:
        self._emit("end", status=summary["status"], run_dir=summary["run_dir"], metrics=summary["metrics"])


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


class RichReporter(Reporter):
    """A step bar with loss, accuracy and ETA per epoch; one line per finished
    epoch; a closing table with the best and final figures."""

    #: Running loss/accuracy are refreshed at most this often (seconds):
    #: reading them waits for the step to finish.
    REFRESH = 0.25

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console or Console(highlight=False, soft_wrap=True)
        self._progress: Any = None
        self._task: Any = None
        self._last = 0.0

    def _field(self, label: str, text: str) -> None:
        """``  label   text``, wrapped at words under the text (a terminal breaks words, mid-path too)."""
        import textwrap

        width = max(40, self.console.width)
        lead = f"  {label:<8}"
        lines = textwrap.wrap(
            text, width, initial_indent=lead, subsequent_indent=" " * len(lead), break_long_words=False,
            break_on_hyphens=False,
        )  # fmt: skip
        for line in lines or [lead.rstrip()]:
            self.console.print(line, markup=False, highlight=False)

    def start(self, info: dict[str, Any]) -> None:
        from rich.markup import escape

        c = self.console
        shape = "x".join(str(d) for d in info["input_shape"])
        c.print(f"[bold]train[/] {escape(info['name'])}  [dim]→ {escape(info['run_dir'])}[/]")
        self._field("data", info["data"])
        if info.get("counts"):
            from cnnspec.run.data import count_line

            self._field("classes", count_line(info["counts"]))
            if info.get("val_counts"):
                self._field("", f"validation: {count_line(info['val_counts'])}")
        self._field("split", f"{info['n_train']} training, {info['n_val']} validation images")
        if info.get("converted"):
            self._field("load", "; ".join(info["converted"]))
        self._field(
            "model", f"input {shape}, {info['classes']} classes, {info['params']:,} params, {info['macs']:,} MACs"
        )
        s = info["settings"]
        extra = "".join(f", {k.replace('_', ' ')}" for k in ("mixed_precision", "jit") if s.get(k)) + (
            f", {s['distribute']}" if s.get("distribute") else ""
        )
        self._field(
            "fit",
            f"{s['optimizer']} lr {s['lr']:g}, batch {s['batch_size']}, epochs {info['epochs']}"
            + (f" (from {info['initial_epoch']})" if info["initial_epoch"] else "")
            + (f", patience {s['patience']}" if s.get("patience") else "")
            + extra,
        )
        if info.get("backend"):
            self._field("backend", str(info["backend"]))

    def epoch_start(self, epoch: int, epochs: int, steps: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.close()
        if not self.console.is_terminal:
            return  # a live bar in a log file is noise: one line per epoch is enough
        self._progress = Progress(
            TextColumn(f"epoch {epoch}/{epochs}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[metrics]}"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("fit", total=steps, metrics="")
        self._last = 0.0

    def step(self, step: int, logs: dict[str, float] | None) -> None:
        if self._progress is None:
            return
        now = time.monotonic()
        fields: dict[str, Any] = {}
        if logs is not None and now - self._last >= self.REFRESH:
            self._last = now
            fields["metrics"] = f"loss {_fmt(logs.get('loss'))}  acc {_fmt(logs.get('accuracy'))}"
        self._progress.update(self._task, completed=step, **fields)

    def wants_logs(self) -> bool:
        return time.monotonic() - self._last >= self.REFRESH

    def epoch_end(self, row: dict[str, float], best: bool) -> None:
        self.close()
        self.console.print(
            f"epoch {row['epoch']:>3}  loss {_fmt(row['loss'])}  acc {_fmt(row['accuracy'])}  "
            f"val_loss {_fmt(row['val_loss'])}  val_acc {_fmt(row['val_accuracy'])}  "
            f"{row['seconds']:.1f}s" + ("  [green]best[/]" if best else "")
        )

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]{text}[/]")

    def finish(self, summary: dict[str, Any]) -> None:
        from rich.table import Table

        self.close()
        m = summary["metrics"]
        history = summary["history"]
        if history:
            n = m["epochs_completed"]
            table = Table(title=f"{summary['status']}: {n} epoch{'' if n == 1 else 's'}", title_justify="left")
            table.add_column("")
            for col in COLUMNS[:-1]:
                table.add_column(col, justify="right")
            # Every epoch was printed as it ended: the table keeps the best and the final one.
            best_epoch = m["best"]["val_accuracy_epoch"]
            by_epoch = {row["epoch"]: row for row in history}
            picked = [("best", by_epoch.get(best_epoch)), ("final", history[-1])]
            for label, row in picked:
                if row is None or (label == "final" and row["epoch"] == best_epoch):
                    continue
                cells = (_fmt(row[c], 1 if c == "seconds" else 4) for c in COLUMNS[:-1])
                table.add_row(label, *cells, style="green" if label == "best" else None)
            self.console.print(table)
            b = m["best"]
            self.console.print(
                f"best val accuracy {b['val_accuracy']:.4f} (epoch {b['val_accuracy_epoch']}) · "
                f"{m['seconds_per_epoch']:.2f} s/epoch · {m['images_per_second']:,.0f} images/s · "
                f"{m['gflops']:.2f} GFLOP/s"
            )
        else:
            self.console.print(f"{summary['status']}: no epoch completed")
        self.console.print(f"run directory: {summary['run_dir']}")

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def make_reporter(progress: ProgressMode | Reporter = "rich") -> Reporter:
    """The reporter for a mode name, or ``progress`` itself if it is one."""
    if isinstance(progress, Reporter):
        return progress
    if progress == "rich":
        return RichReporter()
    if progress == "json":
        return JsonReporter()
    if progress == "quiet":
        return Reporter()
    raise ValueError(f"progress must be 'rich', 'json', 'quiet' or a Reporter, not {progress!r}")


__all__ = ["COLUMNS", "JsonReporter", "ProgressMode", "Reporter", "RichReporter", "make_reporter"]
