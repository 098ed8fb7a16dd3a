"""``cnnspec sweep --halving``: Optuna's successive halving stops the losing variants of a
real sweep on the example digits; the best variant is the full sweep's, for fewer epochs."""

from __future__ import annotations

import json
import os

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


WORKER = """
import json, pickle, sys
ticket = pickle.loads(bytes.fromhex(sys.argv[1]))
ask = ticket.on_epoch()
print(json.dumps([ask(epoch, {"val_accuracy": v}) for epoch, v in json.loads(sys.argv[2])]))
"""


def test_runs_report_to_their_trials_from_other_processes_and_the_pruner_stops_the_losers(tmp_path):
    """What a Ray worker does, in a plain subprocess: a pickled Ticket opens the journal in the
    sweep folder, reports each epoch and asks; the driver's study sees it all and ends the trials."""
    import pickle
    import subprocess
    import sys
    from pathlib import Path

    import optuna

    from cnnspec.run.halving import JOURNAL, Halving

    halving = Halving(tmp_path, min_epochs=1, factor=2)
    env_path = str(Path(__file__).resolve().parent.parent)

    def run(name: str, values: list[float]) -> list[bool]:
        ticket = halving.ticket(name)
        epochs = json.dumps(list(enumerate(values, start=1)))
        out = subprocess.run(
            [sys.executable, "-c", WORKER, pickle.dumps(ticket).hex(), epochs],
            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": env_path}, check=True,
        )  # fmt: skip
        return json.loads(out.stdout)

    assert run("a", [0.5, 0.6, 0.7]) == [False, False, False]  # the first run at each rung goes on
    assert run("b", [0.3]) == [True]  # below the top half at epoch 1: stopped at once
    assert run("c", [0.6, 0.7]) == [False, False]  # above: goes on
    halving.tell("a", "completed", 0.7)
    halving.tell("b", "stopped", 0.3)
    assert (tmp_path / JOURNAL).exists()
    again = Halving(tmp_path, min_epochs=1, factor=2)  # a later start of the sweep: the same study
    assert again.ticket("c").trial_id == halving.ticket("c").trial_id  # c, interrupted, keeps its trial
    states = {t.user_attrs["run"]: t.state for t in again.study.get_trials()}
    state = optuna.trial.TrialState
    assert states == {"a": state.COMPLETE, "b": state.PRUNED, "c": state.RUNNING}
