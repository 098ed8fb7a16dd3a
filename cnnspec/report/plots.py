"""The report's pictures: accuracy against parameters, every run's curves (PNG, matplotlib)
and each run's network (SVG, :mod:`cnnspec.display.picture`, pure Python).

matplotlib is imported only inside the functions that draw with it.
"""

from __future__ import annotations

import math
import re
from typing import Any

from cnnspec.report.table import Report, Row, marks, network, pareto_front


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

    fig = Figure(figsize=(8.5, 4.5), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    xs, ys = xy(scored)
    ax.scatter(xs, ys, color="#888", zorder=2, clip_on=False)
    fx, fy = xy(pareto_front(report.rows))
    ax.step(fx, fy, where="post", color="C0", label="Pareto front", zorder=1)
    ax.scatter(fx, fy, color="C0", zorder=3, clip_on=False)
    # Runs at the same point share one label (they were printed on top of each other).
    at: dict[tuple[int, float], list[str]] = {}
    for r, x, y in zip(scored, xs, ys, strict=True):
        label = marks(r).replace("⚠", "") + " " + r.name if (r.best or r.smallest) else r.name
        at.setdefault((x, y), []).append(label.strip())
    for (x, y), labels in at.items():
        text = ", ".join(labels) if len(labels) <= 3 else f"{', '.join(labels[:2])} +{len(labels) - 2} more"
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7, annotation_clip=False)
    best = report.best
    if best is not None and best.best_val_accuracy is not None:
        ax.axhline(best.best_val_accuracy - report.margin, color="C1", ls=":", lw=1, label=f"best − {report.margin:g}")
    if max(xs) > 10 * max(1, min(xs)):
        ax.set_xscale("log")
    ax.margins(x=0.08, y=0.12)  # a point on an edge (accuracy 1.0, the largest model) is not cut
    ax.set_xlabel("parameters")
    ax.set_ylabel("best validation accuracy")
    ax.grid(alpha=0.3)
    # Outside the axes: inside, the dominated runs (lower right) hid under it.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
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
    # Each panel spans its own run's epochs: a shared axis squeezed the short runs.
    axes = fig.subplots(rows, cols, sharex=False, sharey=True, squeeze=False)
    for ax, r in zip(axes.flat, runs, strict=False):
        epochs = [h["epoch"] for h in r.history]
        ax.plot(epochs, [h.get("accuracy") for h in r.history], color="C0", lw=1.2, label="train")
        ax.plot(epochs, [h.get("val_accuracy") for h in r.history], color="C1", lw=1.2, label="validation")
        ax.set_title((marks(r) + " " + r.name).strip(), fontsize=8, color="C3" if r.unstable else "black")
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(runs) :]:
        ax.set_visible(False)
    from matplotlib.ticker import MaxNLocator

    for ax in axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.flat[0].legend(fontsize=7)
    fig.supxlabel("epoch", fontsize=8)
    fig.supylabel("accuracy", fontsize=8)
    fig.tight_layout()
    return _figure_png(fig)


def network_svg(row: Row) -> str | None:
    """The run's network drawn by :func:`cnnspec.display.picture.draw_svg` (every text in it
    escaped), or ``None`` when its spec no longer checks."""
    checked = network(row)
    if checked is None:
        return None
    from cnnspec.display.picture import draw_svg

    try:
        return draw_svg(checked)
    except ValueError:
        return None


def picture_file_name(index: int, name: str) -> str:
    """A file name for a run's picture: numbered (names may repeat), any name made safe."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._-")[:60] or "run"
    return f"{index:02d}-{safe}.svg"


NO_PICTURE = "no picture: the spec in run.json does not check against its input shape and classes"
