"""``cnnspec sweep --halving``: Optuna's successive halving stops the losing variants of a
real sweep on the example digits; the best variant is the full sweep's, for fewer epochs."""

from __future__ import annotations

import json

import pytest
from sweep_support import digits_subset, history
from typer.testing import CliRunner

from cnnspec.cli import app

pytest.importorskip("optuna")

# Eight variants of examples/digits.cnn's network, from its size down to much too small.  The
# local engine's halving is sequential: a run is compared with the runs trained before it, so
# the order matters (docs/sweeps.md); here the likely winner comes first, as a user would order
# a sweep around a known-good network.
SPECS = "h = I: 8x8x1 C: {16,8,4,2} D: {16R,4R} O: 10\n"
EPOCHS = 3


def best(entries) -> tuple[str, float]:
    """The report's ★: the highest best validation accuracy, fewer parameters breaking a tie."""
    e = max(entries, key=lambda e: (e.metrics["best"]["val_accuracy"], -(e.params or 0)))
    return e.name, e.metrics["best"]["val_accuracy"]


@pytest.mark.slow
def test_halving_trains_fewer_epochs_and_picks_the_full_sweeps_best(tmp_path):
    from cnnspec.report.table import build_report
    from cnnspec.run.options import TrainOptions
    from cnnspec.run.sweep import sweep

    data = digits_subset(tmp_path / "digits", per_class=20)
    options = TrainOptions(epochs=EPOCHS, batch_size=32, lr=0.01)
    full = sweep(SPECS, data, options, tmp_path / "full", progress="quiet")
    halved = sweep(SPECS, data, options, tmp_path / "halved", progress="quiet", halving=(1, 2))
    assert full.status == halved.status == "completed"

    epochs = {r: sum(e.metrics["epochs_completed"] for e in s.entries) for r, s in (("full", full), ("h", halved))}
    assert epochs["full"] == 8 * EPOCHS and epochs["h"] < epochs["full"]
    assert best(halved.entries) == best(full.entries)

    stopped = [e for e in halved.entries if e.status == "stopped"]
    assert stopped
    for e in stopped:  # its directory and history kept, as far as it went; the same epochs as the full run's
        run = json.loads((e.run_dir / "run.json").read_text())
        assert run["status"] == "stopped"
        rows = history(e.run_dir)
        assert 1 <= len(rows) < EPOCHS and len(rows) == e.metrics["epochs_completed"]
        full_rows = history(tmp_path / "full" / e.name)[: len(rows)]
        assert all(abs(a[k] - b[k]) < 1e-5 for a, b in zip(rows, full_rows, strict=True) for k in a)
    doc = json.loads((tmp_path / "halved" / "sweep.json").read_text())
    assert doc["halving"] == {"min_epochs": 1, "factor": 2}
    assert {s["name"]: s.get("epochs") for s in doc["specs"] if s["status"] == "stopped"} == {
        e.name: e.metrics["epochs_completed"] for e in stopped
    }

    # The report marks them stopped, with their epochs.
    report = build_report([tmp_path / "halved"])
    shown = {r.name: r.shown_status for r in report.rows}
    for e in stopped:
        assert shown[e.name] == f"stopped after {e.metrics['epochs_completed']} of {EPOCHS} epochs"

    # Started again, the sweep trains nothing: completed and stopped runs are done.
    again = CliRunner().invoke(
        app, ["sweep", "--spec", SPECS, "--data", str(data), "--epochs", str(EPOCHS), "--batch-size", "32",
              "--lr", "0.01", "--out", str(tmp_path / "halved"), "--halving", "--halving-min-epochs", "1",
              "--halving-factor", "2", "--json"],
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert '"run_start"' not in again.stdout
    assert {s["status"] for s in json.loads((tmp_path / "halved" / "sweep.json").read_text())["specs"]} <= {
        "finished", "stopped",
    }  # fmt: skip
