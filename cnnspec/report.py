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

matplotlib is imported only to draw the pictures.
"""

from __future__ import annotations

import base64
import csv
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

#: Defaults of ``cnnspec report``.
MARGIN = 0.01
WINDOW = 5
UNSTABLE = 0.05


class ReportError(ValueError):
    """A path that is neither a run directory nor a folder of them."""


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


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _read_history(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for raw in csv.DictReader(fh):
            row: dict[str, Any] = {}
            for k, v in raw.items():
                if k == "epoch":
                    row[k] = int(v)
                else:
                    row[k] = float(v) if v not in ("", None) else None
            rows.append(row)
    return rows


def find_runs(paths: Sequence[str | Path]) -> tuple[list[Path], list[Skipped]]:
    """Run directories (a folder with ``run.json``) given directly or as the
    subfolders of a sweep folder, in the sweep's order (else by name)."""
    runs: list[Path] = []
    skipped: list[Skipped] = []
    for p in map(Path, paths):
        if (p / "run.json").is_file():
            runs.append(p)
            continue
        if not p.is_dir():
            raise ReportError(f"{p} is not a run directory nor a folder of run directories")
        sweep = _read_json(p / "sweep.json") or {}
        order = {s.get("name"): i for i, s in enumerate(sweep.get("specs", [])) if isinstance(s, dict)}
        found = sorted(
            (d for d in p.iterdir() if (d / "run.json").is_file()), key=lambda d: (order.get(d.name, 1e9), d.name)
        )
        if not found and not sweep:
            raise ReportError(f"{p} holds no run directory (no run.json in it or its subfolders)")
        runs += found
        for s in sweep.get("specs", []):
            if isinstance(s, dict) and s.get("status") == "invalid":
                skipped.append(Skipped(str(s.get("name")), str(s.get("spec", "")), str(s.get("errors", ""))))
    return runs, skipped


def _params_from_checker(run: dict[str, Any]) -> tuple[int | None, int | None]:
    from cnnspec.checker import check
    from cnnspec.parser import parse

    try:
        spec = parse(run["spec"])
        checked = check(spec, tuple(run["input_shape"]) if not spec.input else None, len(run["class_names"]))
    except Exception:
        return None, None
    return (checked.total_params, checked.macs) if checked.ok else (None, None)


def load_run(run_dir: str | Path, window: int = WINDOW) -> Row:
    """One run directory -> a :class:`Row` (marks unset)."""
    d = Path(run_dir)
    run = _read_json(d / "run.json") or {}
    metrics = _read_json(d / "metrics.json") or {}
    history = _read_history(d / "history.csv")
    name = run.get("name") or d.name
    spec = run.get("canonical") or (run.get("spec") or "").strip()
    row = Row(name=str(name), run_dir=d, spec=str(spec), status=str(run.get("status", "unknown")), history=history)
    row.params = metrics.get("total_params")
    row.macs = metrics.get("macs")
    if row.params is None and run:
        row.params, row.macs = _params_from_checker(run)
    best = metrics.get("best") or {}
    final = metrics.get("final") or {}
    row.epochs = int(metrics.get("epochs_completed", len(history)))
    row.best_train_accuracy = best.get("train_accuracy")
    row.best_train_epoch = best.get("train_accuracy_epoch")
    row.best_val_accuracy = best.get("val_accuracy")
    row.best_val_epoch = best.get("val_accuracy_epoch")
    row.final_val_accuracy = final.get("val_accuracy")
    row.seconds_per_epoch = metrics.get("seconds_per_epoch")
    vals = [r["val_accuracy"] for r in history if r.get("val_accuracy") is not None][-window:]
    if len(vals) >= 2:
        row.spread = max(vals) - min(vals)
        row.largest_drop = max(max(vals[:i]) - v for i, v in enumerate(vals) if i > 0)
        row.largest_drop = max(0.0, row.largest_drop)
    return row


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
    run_dirs, skipped = find_runs(paths)
    rows = [load_run(d, window) for d in run_dirs]
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
    return Report(rows, skipped, margin, window, unstable)


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


def _marks(r: Row) -> str:
    return "".join(m for m, on in (("★", r.best), ("◆", r.smallest), ("⚠", r.unstable)) if on)


HEADERS = (
    "", "name", "spec", "params", "MACs", "best train acc (epoch)", "best val acc (epoch)",
    "final val acc", "spread", "s/epoch", "status",
)  # fmt: skip


def cells(r: Row) -> list[str]:
    """The row's cells as plain text (not yet escaped), in :data:`HEADERS` order."""
    status = r.status + (", unstable" if r.unstable else "")
    return [
        _marks(r), r.name, r.spec, _int(r.params), _int(r.macs),
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


# --------------------------------------------------------------------------
# Pictures


def _figure_png(fig: Any) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def pareto_png(report: Report) -> bytes | None:
    """Best validation accuracy against parameters, the Pareto front drawn as a step line."""
    scored = [r for r in report.rows if r.scored]
    if not scored:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    def xy(rows: list[Row]) -> tuple[list[int], list[float]]:
        return [int(r.params or 0) for r in rows], [float(r.best_val_accuracy or 0.0) for r in rows]

    fig = Figure(figsize=(7, 4.5), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    xs, ys = xy(scored)
    ax.scatter(xs, ys, color="#888", zorder=2)
    fx, fy = xy(pareto_front(report.rows))
    ax.step(fx, fy, where="post", color="C0", label="Pareto front", zorder=1)
    ax.scatter(fx, fy, color="C0", zorder=3)
    for r, x, y in zip(scored, xs, ys, strict=True):
        label = _marks(r).replace("⚠", "") + " " + r.name if (r.best or r.smallest) else r.name
        ax.annotate(label.strip(), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    best = report.best
    if best is not None and best.best_val_accuracy is not None:
        ax.axhline(best.best_val_accuracy - report.margin, color="C1", ls=":", lw=1, label=f"best − {report.margin:g}")
    if max(xs) > 10 * max(1, min(xs)):
        ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("best validation accuracy")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return _figure_png(fig)


def curves_png(report: Report) -> bytes | None:
    """Small multiples: training and validation accuracy per epoch, one panel per run."""
    runs = [r for r in report.rows if r.history]
    if not runs:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    cols = min(4, len(runs))
    rows = math.ceil(len(runs) / cols)
    fig = Figure(figsize=(2.6 * cols, 2.1 * rows + 0.4), dpi=100)
    axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)
    for ax, r in zip(axes.flat, runs, strict=False):
        epochs = [h["epoch"] for h in r.history]
        ax.plot(epochs, [h.get("accuracy") for h in r.history], color="C0", lw=1.2, label="train")
        ax.plot(epochs, [h.get("val_accuracy") for h in r.history], color="C1", lw=1.2, label="validation")
        ax.set_title((_marks(r) + " " + r.name).strip(), fontsize=8, color="C3" if r.unstable else "black")
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(runs) :]:
        ax.set_visible(False)
    from matplotlib.ticker import MaxNLocator

    axes.flat[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.flat[0].legend(fontsize=7)
    fig.supxlabel("epoch", fontsize=8)
    fig.supylabel("accuracy", fontsize=8)
    fig.tight_layout()
    return _figure_png(fig)


# --------------------------------------------------------------------------
# Markdown


def _md_text(s: str) -> str:
    """Plain text in a Markdown table cell: no markup, no raw HTML, no cell break."""
    s = escape(s, quote=False).replace("\n", " ")
    return re.sub(r"([\\`*_\[\]|#!])", r"\\\1", s)


def _md_code(s: str) -> str:
    """A code span that holds any text (raw HTML inside a code span is never markup)."""
    s = s.replace("\n", " ").replace("|", "\\|")
    if not s:
        return ""
    ticks = "`" * (max((len(x) for x in re.findall(r"`+", s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{ticks}{pad}{s}{pad}{ticks}"


def markdown(report: Report, images: dict[str, str] | None = None) -> str:
    """The report as Markdown; ``images`` maps ``pareto``/``curves`` to relative PNG paths."""
    lines = ["# Experiment report", ""]
    lines.append("| " + " | ".join(HEADERS) + " |")
    lines.append("|" + "|".join([":-:", "---", "---"] + ["--:"] * 7 + ["---"]) + "|")
    for r in report.rows:
        c = cells(r)
        c[1] = _md_text(c[1])
        c[2] = _md_code(c[2])
        c[10] = _md_text(c[10])
        lines.append("| " + " | ".join(c) + " |")
    lines.append("")
    lines += [f"- {_md_text(x)}" for x in legend(report)]
    if report.skipped:
        lines += ["", "## Not trained (invalid specs)", ""]
        for s in report.skipped:
            lines.append(f"- {_md_text(s.name)}: {_md_code(s.spec)}")
    for key, title in (("pareto", "Validation accuracy against parameters"), ("curves", "Training curves")):
        if images and key in images:
            lines += ["", f"## {title}", "", f"![{title}]({images[key]})"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# HTML

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:13px}
th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right;vertical-align:top}
td.t,th.t{text-align:left}
tr.best td{background:#eef7ee} tr.unstable td.status{color:#b00}
code{font-size:12px}
img{max-width:100%}
"""


def html(report: Report, images: dict[str, bytes] | None = None) -> str:
    """A self-contained HTML page: every string from a spec or a path escaped, PNGs inline."""
    text_cols = {1, 2, 10}
    head = "".join(f'<th class="{"t" if i in text_cols else ""}">{escape(h)}</th>' for i, h in enumerate(HEADERS))
    body = []
    for r in report.rows:
        c = [escape(x, quote=True) for x in cells(r)]
        c[2] = f"<code>{c[2]}</code>"
        classes = " ".join(k for k, on in (("best", r.best), ("smallest", r.smallest), ("unstable", r.unstable)) if on)
        tds = "".join(
            f'<td class="{"t" if i in text_cols else ""}{" status" if i == 10 else ""}">{x}</td>'
            for i, x in enumerate(c)
        )
        body.append(f'<tr class="{classes}" title="{escape(str(r.run_dir), quote=True)}">{tds}</tr>')
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Experiment report</title>',
        f"<style>{_CSS}</style></head><body>",
        "<h1>Experiment report</h1>",
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>",
        "<ul>" + "".join(f"<li>{escape(x)}</li>" for x in legend(report)) + "</ul>",
    ]
    if report.skipped:
        parts.append("<h2>Not trained (invalid specs)</h2><ul>")
        for s in report.skipped:
            parts.append(f"<li>{escape(s.name)}: <code>{escape(s.spec)}</code><pre>{escape(s.errors)}</pre></li>")
        parts.append("</ul>")
    for key, title in (("pareto", "Validation accuracy against parameters"), ("curves", "Training curves")):
        if images and images.get(key):
            data = base64.b64encode(images[key]).decode("ascii")
            parts.append(f'<h2>{title}</h2><img alt="{title}" src="data:image/png;base64,{data}">')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------
# Entry point


def write_report(
    paths: Sequence[str | Path],
    out: str | Path,
    margin: float = MARGIN,
    window: int = WINDOW,
    unstable: float = UNSTABLE,
    plots: bool = True,
) -> tuple[Report, list[Path]]:
    """Write ``out`` (``.md`` with PNGs beside it, or ``.html`` with PNGs inline).

    Returns the report and every file written.
    """
    from cnnspec import atomic

    out = Path(out)
    if out.suffix.lower() not in (".md", ".html", ".htm"):
        raise ReportError(f"{out}: the report is written as .md or .html")
    report = build_report(paths, margin, window, unstable)
    pngs = {"pareto": pareto_png(report), "curves": curves_png(report)} if plots else {}
    out.parent.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if out.suffix.lower() == ".md":
        rel: dict[str, str] = {}
        for key, data in pngs.items():
            if data:
                png = out.with_name(f"{out.stem}-{key}.png")
                atomic.write_bytes(png, data)
                rel[key] = png.name
                written.append(png)
        atomic.write_text(out, markdown(report, rel))
    else:
        atomic.write_text(out, html(report, {k: v for k, v in pngs.items() if v}))
    written.insert(0, out)
    return report, written
