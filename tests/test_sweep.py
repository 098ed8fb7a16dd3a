"""A real sweep: small specs (one invalid) on a real image folder, interrupted
by a real signal and started again."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from sweep_support import make_images

from cnnspec.report.table import build_report

SPECS = """\
# a tiny sweep: 2 variants, one plain spec, one invalid spec
small = C: {4,8} D: 8R
flat = D: 6R
broken = C: 8q D: 4R
"""
EPOCHS = 3
VALID = ["small-4", "small-8", "flat"]


def cnnspec(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-m", "cnnspec", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


@pytest.mark.slow
def test_sweep_interrupted_by_a_signal_and_started_again(tmp_path):
    data = make_images(tmp_path / "data", classes=3, per_class=16)
    specs = tmp_path / "specs.cnn"
    specs.write_text(SPECS, encoding="utf-8")
    out = tmp_path / "sweep"
    args = ["sweep", str(specs), "--data", str(data), "--epochs", str(EPOCHS), "--batch-size", "8", "--out", str(out)]

    # 1. Start, wait for the first run to finish, then Ctrl-C.
    proc = cnnspec(*args, "--json")
    events = []
    deadline = time.monotonic() + 180
    for line in proc.stdout:  # type: ignore[union-attr]
        events.append(json.loads(line))
        if events[-1]["event"] == "run_end":
            proc.send_signal(signal.SIGINT)
            break
        assert time.monotonic() < deadline
    rest, err = proc.communicate(timeout=120)
    events += [json.loads(x) for x in rest.splitlines() if x.strip()]
    assert proc.returncode == 128 + signal.SIGINT, err
    start = events[0]
    assert start["event"] == "sweep_start" and start["runs"] == 3 and start["invalid"] == ["broken"]
    first = next(e for e in events if e["event"] == "run_end")
    assert (first["name"], first["status"]) == ("small-4", "completed")
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["status"] == "interrupted"
    by_name = {s["name"]: s for s in doc["specs"]}
    assert by_name["broken"]["status"] == "invalid" and "8q" in by_name["broken"]["errors"]
    assert by_name["small-4"]["status"] == "completed"
    assert by_name["flat"]["status"] == "pending"  # never started
    assert not (out / "broken").exists()
    first_metrics = out / "small-4" / "metrics.json"
    stamp = first_metrics.stat().st_mtime_ns

    # 2. Start again: the finished run is skipped, the rest trained.
    proc = cnnspec(*args)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 1, err  # an invalid spec was skipped: exit 1, but every valid run is done
    assert "skipped broken: invalid spec" in err and "3/3" in err
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["status"] == "completed"
    assert [s["status"] for s in doc["specs"]] == ["finished", "completed", "completed", "invalid"]
    assert first_metrics.stat().st_mtime_ns == stamp  # not trained again
    for name in VALID:
        run = json.loads((out / name / "run.json").read_text())
        metrics = json.loads((out / name / "metrics.json").read_text())
        assert run["status"] == "completed" and metrics["epochs_completed"] == EPOCHS
    assert (out / "small-8" / "spec.cnn").read_text().strip() == "small-8 = C: 8 p D: 8R"

    # 3. A third start has nothing left to do; the report reads the sweep folder.
    proc = cnnspec(*args, "-q")
    proc.communicate(timeout=120)
    assert first_metrics.stat().st_mtime_ns == stamp
    report = build_report([out])
    assert [r.name for r in report.rows] == VALID
    assert [s.name for s in report.skipped] == ["broken"]


def test_sweep_help_shows_its_defaults():
    """Square brackets in a help string are rich markup: a default in them vanished ("Batch size .")."""
    from typer.testing import CliRunner

    from cnnspec.cli import app

    r = CliRunner().invoke(app, ["sweep", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert r.exit_code == 0, r.output
    for shown in ("Epochs of every run (default: 10).", "Batch size (default: 32).", "XLA (default: Keras' choice)."):
        assert shown in r.output
    assert not re.search(r"\w \.\s", r.output)  # "A .cnn file" is fine; "Batch size ." is not


@pytest.mark.parametrize("mode", ["-q", "--json"])
def test_errors_reach_stderr_also_when_quiet(tmp_path, mode):
    """-q prints "nothing but errors": an invalid spec and a failed run are errors.

    The run fails before any training: its folder holds a file a run does not
    write, which the sweep refuses to clear.
    """
    from typer.testing import CliRunner

    from cnnspec.cli import app

    data = make_images(tmp_path / "data", classes=3, per_class=2)
    specs = tmp_path / "specs.cnn"
    specs.write_text("flat = D: 6R\nbroken = C: 8q D: 4R\n", encoding="utf-8")
    out = tmp_path / "sweep"
    (out / "flat").mkdir(parents=True)
    (out / "flat" / "notes.txt").write_text("mine\n")
    args = ["sweep", str(specs), "--data", str(data), "--epochs", "1", "--out", str(out), mode]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 1
    assert "skipped broken: invalid spec" in r.stderr and "8q" in r.stderr
    assert "failed flat: TrainError" in r.stderr and "notes.txt" in r.stderr
    if mode == "-q":
        assert r.stdout == ""
    else:
        (end,) = [e for e in map(json.loads, r.stdout.splitlines()) if e["event"] == "run_end"]
        assert end["status"] == "failed" and "notes.txt" in end["error"]
    assert (out / "flat" / "notes.txt").exists()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("# nothing but a comment\n", "zero.cnn (1 invalid): nothing to train, no sweep folder written"),
        ("broken = C: 8q D: 4R\nodd = C: 8 D:\n", "zero.cnn (2 invalid): nothing to train, no sweep folder written"),
    ],
)
def test_a_file_with_no_valid_spec_creates_nothing(tmp_path, text, reason):
    """Everything is checked first: with nothing to train no folder is made, and no report is suggested."""
    from typer.testing import CliRunner

    from cnnspec.cli import app

    data = make_images(tmp_path / "data", classes=3, per_class=2)
    specs = tmp_path / "zero.cnn"
    specs.write_text(text, encoding="utf-8")
    out = tmp_path / "sw0"
    r = CliRunner().invoke(app, ["sweep", str(specs), "--data", str(data), "--out", str(out)], env={"COLUMNS": "300"})
    assert r.exit_code == 1, r.output
    assert reason in r.stderr and "cnnspec report" not in r.output and "0/0" not in r.output
    assert not out.exists()
    assert ("skipped broken: invalid spec" in r.stderr and "8q" in r.stderr) == ("broken" in text)
    assert ("empty spec" in r.stderr) == ("comment" in text)


def test_sweep_takes_the_training_options_of_train(tmp_path, monkeypatch):
    """Every option of cnnspec train but --name and --resume, and --distribute reaches TrainOptions."""
    import typer.main
    from typer.testing import CliRunner

    import cnnspec.run.train
    from cnnspec.cli import app

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    options = {name: {p.name for p in commands[name].params} for name in ("train", "sweep")}
    # and the sweep's own: budgets (tests/test_sweep_budget.py), engine and halving (tests/test_sweep_ray.py)
    own = {"max_params", "max_macs", "engine", "address", "cpus_per_run", "gpus_per_run"}
    own |= {"halving", "halving_min_epochs", "halving_factor"}
    assert options["sweep"] == (options["train"] - {"name", "resume"}) | own

    seen = []

    def fake_train(spec, data_dir, opts, **kw):
        seen.append(opts)
        raise RuntimeError("not trained in this test")

    monkeypatch.setattr(cnnspec.run.train, "train", fake_train)
    data = make_images(tmp_path / "data", classes=3, per_class=2)
    args = ["sweep", "--spec", "flat = D: 6R", "--data", str(data), "--out", str(tmp_path / "sw"), "-q"]
    r = CliRunner().invoke(app, [*args, "--distribute", "mirrored"])
    assert r.exit_code == 1 and "failed flat: RuntimeError" in r.stderr
    assert [o.distribute for o in seen] == ["mirrored"]
    r = CliRunner().invoke(app, [*args, "--distribute", "bogus"])
    assert r.exit_code == 2 and "--distribute" in r.stderr
