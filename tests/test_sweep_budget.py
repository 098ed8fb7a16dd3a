"""Budgets checked before anything trains (``--max-params``, ``--max-macs``) and the
sweep's pre-flight: what will train, on what, and about how long."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sweep_support import make_images
from typer.testing import CliRunner

from cnnspec.cli import app
from cnnspec.network.checker import check
from cnnspec.notation.parser import parse
from cnnspec.run.budget import BudgetError, Device, describe_estimate, estimate_seconds, parse_count
from cnnspec.run.options import TrainOptions
from cnnspec.run.sweep import NothingFitsError, sweep

# On 8x8 grayscale images of 3 classes: small-4 has 587 params, small-8 more, big far more.
SPECS = "small = C: {4,8} D: 8R\nbig = C: 64 64 D: 64R\nbroken = C: 8q D: 4R\n"


def numbers(text: str, shape=(8, 8, 1), classes=3) -> tuple[int, int]:
    checked = check(parse(text), shape, classes)
    return checked.total_params, checked.macs


@pytest.mark.parametrize(
    ("given", "count"),
    [("50k", 50_000), ("1.5M", 1_500_000), ("2G", 2_000_000_000), ("1000", 1000), ("0", 0), (12, 12), ("2.5k", 2500)],
)
def test_a_budget_is_a_count_with_a_suffix(given, count):
    assert parse_count(given) == count


@pytest.mark.parametrize("given", ["5x", "", "k", "-3", "1.5", "1e6", "0.0001k", "12 M", True, -1])
def test_a_malformed_budget_names_the_accepted_forms(given):
    with pytest.raises(BudgetError) as info:
        parse_count(given, "--max-params")
    assert info.value.exit_code == 2
    assert "--max-params" in info.value.message and "50k, 1.5M, 2G" in (info.value.hint or "")


def test_a_malformed_budget_is_a_usage_error_before_anything(tmp_path):
    data = make_images(tmp_path / "data", classes=3, per_class=2)
    out = tmp_path / "sw"
    args = ["sweep", "--spec", "D: 6R", "--data", str(data), "--out", str(out), "--max-macs", "2Q"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2, r.output
    assert "--max-macs: '2Q' is not a count" in r.stderr and "1.5M" in r.stderr and "Traceback" not in r.output
    assert not out.exists()


def test_every_variant_over_budget_lists_their_numbers_and_writes_nothing(tmp_path):
    """The pre-flight without training: nothing fits, so each skipped variant is listed with the checker's numbers."""
    data = make_images(tmp_path / "data", classes=3, per_class=2)
    specs = tmp_path / "exp.cnn"
    specs.write_text(SPECS, encoding="utf-8")
    out = tmp_path / "sw"
    args = ["sweep", str(specs), "--data", str(data), "--out", str(out), "--max-params", "0.5k"]
    r = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    assert r.exit_code == 1, r.output
    for name, text in (("small-4", "C: 4 D: 8R"), ("small-8", "C: 8 D: 8R"), ("big", "C: 64 64 D: 64R")):
        params, _ = numbers(text)
        assert f"skipped {name}: over budget (params {params:,} > --max-params 500)" in r.stderr
    assert "skipped broken: invalid spec" in r.stderr
    assert "every valid spec of" in r.stderr and "(3 over, 1 invalid)" in r.stderr
    assert not out.exists()


def test_the_python_api_takes_the_budgets(tmp_path):
    data = make_images(tmp_path / "data", classes=3, per_class=2)
    _, macs = numbers("C: 4 D: 8R")
    with pytest.raises(NothingFitsError) as info:
        sweep(SPECS, data, TrainOptions(epochs=1), tmp_path / "sw", progress="quiet", max_macs=macs - 1)
    over = {e.name: e for e in info.value.entries if e.status == "over-budget"}
    assert set(over) == {"small-4", "small-8", "big"}
    assert over["small-4"].errors == f"MACs {macs:,} > --max-macs {macs - 1:,}"
    assert not (tmp_path / "sw").exists()
    with pytest.raises(BudgetError):
        sweep(SPECS, data, TrainOptions(epochs=1), tmp_path / "sw", progress="quiet", max_params="lots")


def test_over_budget_runs_are_in_sweep_json_and_the_preflight_says_what_trains(tmp_path):
    """small-4 fits and would train: its folder holds a foreign file, so it fails before any
    training (fast) after the pre-flight; the others are over budget, recorded as such."""
    data = make_images(tmp_path / "data", classes=3, per_class=2)
    out = tmp_path / "sw"
    (out / "small-4").mkdir(parents=True)
    (out / "small-4" / "notes.txt").write_text("mine\n")
    params4, macs4 = numbers("C: 4 D: 8R")
    args = ["sweep", "--spec", SPECS, "--data", str(data), "--out", str(out), "--epochs", "2", "--json"]
    r = CliRunner().invoke(app, [*args, "--max-params", str(params4)])
    assert r.exit_code == 1, r.output  # broken is invalid, small-4 failed
    start = json.loads(r.stdout.splitlines()[0])
    assert start["event"] == "sweep_start" and start["runs"] == 1
    assert [b["name"] for b in start["over_budget"]] == ["small-8", "big"]
    assert start["over_budget"][0]["params"] == numbers("C: 8 D: 8R")[0]
    assert start["device"] in ("CPU", "GPU") and start["backend"] == "tensorflow"
    low, high = start["estimate_seconds"]
    assert 0 < low < high
    doc = json.loads((out / "sweep.json").read_text())
    status = {s["name"]: s["status"] for s in doc["specs"]}
    assert status == {"small-4": "failed", "small-8": "over-budget", "big": "over-budget", "broken": "invalid"}
    (s4,) = [s for s in doc["specs"] if s["name"] == "small-4"]
    assert (s4["params"], s4["macs"]) == (params4, macs4)
    assert doc["budget"] == {"max_params": params4, "max_macs": None}
    assert not (out / "small-8").exists() and not (out / "big").exists()


def test_the_estimate_is_a_range_that_says_how_it_is_made():
    cpu = Device("CPU", 1, "tensorflow")
    low, high = estimate_seconds([(10_000, 1000, 10), (20_000, 1000, 10)], 32, cpu)
    assert 0 < low < high
    more_low, more_high = estimate_seconds([(10_000, 1000, 20), (20_000, 1000, 20)], 32, cpu)
    assert more_low > low and more_high > high
    text = describe_estimate(low, high, cpu)
    assert text.startswith("about ") and " to " in text and "not measured" in text and "MACs" in text


@pytest.mark.slow
def test_a_budgeted_sweep_trains_what_fits_and_the_report_marks_the_rest(tmp_path):
    """One epoch on the example digits: the rich pre-flight, then a report that lists the over-budget spec."""
    digits = Path(__file__).parent.parent / "examples" / "data" / "digits"
    out = tmp_path / "sw"
    args = ["sweep", "--spec", "small = C: {4,32} D: 8R", "--data", str(digits), "--out", str(out), "--epochs", "1"]
    r = CliRunner().invoke(app, [*args, "--max-params", "2k"], env={"COLUMNS": "400"})
    assert r.exit_code == 0, r.output
    assert "skipped small-32: over budget (params" in r.stderr
    assert "1 run(s) to train on CPU (tensorflow backend); about" in r.stderr or "GPU" in r.stderr
    assert "1 of 1 runs done, 0 invalid spec(s) skipped, 1 over budget" in r.stderr
    assert not list(out.rglob("lock.json"))  # every writer's lock given back: the finished runs look as before
    report = tmp_path / "report.md"
    r = CliRunner().invoke(app, ["report", str(out), "-o", str(report), "--no-plots", "--no-pictures"])
    assert r.exit_code == 0, r.output
    text = report.read_text()
    assert "## Not trained (over budget)" in text and "small-32" in text.split("## Not trained (over budget)")[1]
    assert "| small-4 |" in text.replace("**", "") or "small-4" in text.split("## Not trained")[0]
