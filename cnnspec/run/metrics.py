"""A run's history -> ``metrics.json`` (:func:`summarize`) and ``curves.png`` (:func:`plot_curves`).

Pure arithmetic and one picture; matplotlib is imported inside :func:`plot_curves`.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from cnnspec import atomic


def summarize(
    history: list[dict[str, float]], train_seconds: list[float], n_train: int, total_params: int, macs: int
) -> dict[str, Any]:
    """``metrics.json`` from the history rows.

    ``seconds_per_epoch`` is the median epoch time (validation included) and
    ``images_per_second`` the training images over the median time of the
    training part of an epoch: medians, so the first epoch's tracing and cache
    fill do not count.  ``gflops`` is MACs x 6 (a multiply-add is 2 FLOPs, the
    backward pass about twice the forward) x images/s / 1e9.
    """

    def best(key: str, pick: Any) -> tuple[float, int]:
        rows = [r for r in history if r.get(key) is not None]
        top = pick(rows, key=lambda r: r[key])  # first of equals: max/min keep the earliest
        return top[key], int(top["epoch"])

    last = history[-1] if history else {}
    out: dict[str, Any] = {"epochs_completed": len(history)}
    if history:
        va, vae = best("val_accuracy", max)
        ta, tae = best("accuracy", max)
        vl, vle = best("val_loss", min)
        tl, tle = best("loss", min)
        out["best"] = {
            "val_accuracy": va, "val_accuracy_epoch": vae, "train_accuracy": ta, "train_accuracy_epoch": tae,
            "val_loss": vl, "val_loss_epoch": vle, "train_loss": tl, "train_loss_epoch": tle,
        }  # fmt: skip
        out["final"] = {
            "train_accuracy": last["accuracy"],
            "val_accuracy": last["val_accuracy"],
            "train_loss": last["loss"],
            "val_loss": last["val_loss"],
        }
    else:
        out["best"], out["final"] = {}, {}
    seconds = [r["seconds"] for r in history]
    out["seconds_per_epoch"] = round(statistics.median(seconds), 4) if seconds else None
    ips = n_train / statistics.median(train_seconds) if train_seconds and statistics.median(train_seconds) > 0 else None
    out["images_per_second"] = _sig(ips)
    out["total_params"] = total_params
    out["macs"] = macs
    out["gflops"] = _sig(macs * 6 * ips / 1e9) if ips is not None else None
    return out


def _sig(x: float | None, digits: int = 6) -> float | None:
    """``x`` to ``digits`` significant digits (rounding to decimals would zero a small rate)."""
    return None if x is None else float(f"{x:.{digits}g}")


def plot_curves(history: list[dict[str, float]], path: Path, title: str = "", spec: str = "") -> None:
    """``curves.png``: loss and accuracy per epoch, training against validation; titled with
    the run's name and spec, the best epoch (``metrics.json``'s: the first of the highest
    validation accuracy) marked on both panels.  Each panel's x axis spans the run's own epochs."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in history]
    best = max(history, key=lambda r: r["val_accuracy"])  # first of equals, as summarize()
    fig = Figure(figsize=(9, 4.0), dpi=100)
    for ax, key, label in (
        (fig.add_subplot(1, 2, 1), "loss", "loss"),
        (fig.add_subplot(1, 2, 2), "accuracy", "accuracy"),
    ):
        ax.plot(epochs, [r[key] for r in history], "o-", label=f"training {label}")
        ax.plot(epochs, [r[f"val_{key}"] for r in history], "o-", label=f"validation {label}")
        ax.axvline(best["epoch"], color="tab:green", linestyle="--", linewidth=1, label=f"best epoch ({best['epoch']})")
        if key == "accuracy":
            ax.plot([best["epoch"]], [best["val_accuracy"]], marker="*", markersize=14, color="tab:green")
            ax.annotate(
                f"{best['val_accuracy']:.4f}", (best["epoch"], best["val_accuracy"]), textcoords="offset points",
                xytext=(-9, -16), ha="right", color="tab:green",
            )  # fmt: skip
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    heading = " · ".join(t for t in (title, spec) if t)
    if heading:
        fig.suptitle(heading if len(heading) <= 110 else heading[:109] + "…", fontsize="medium")
    fig.tight_layout()
    atomic.write_with(path, lambda p: fig.savefig(p, format="png"), suffix=".png")


__all__ = ["plot_curves", "summarize"]
